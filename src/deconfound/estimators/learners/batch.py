"""Many cross-fitted nuisances at once: every (nuisance, repetition, fold) fit as one flat list of tasks.

:func:`cross_fit_many` is :func:`~deconfound.estimators.learners.crossfit.cross_fit_predict` for a whole
estimate: each :class:`Job` is one nuisance on one repetition's folds, and all their folds run in one
serial loop or one joblib pool (so two cores stay busy across nuisances and repetitions, not only within
one). Workers receive the full feature matrix once (joblib memory-maps large arrays) and the row indices
of their fold, and write only their own rows, so the numbers are bit-identical whatever ``n_jobs`` is.
A learner that fails in a fold raises a :class:`~deconfound.errors.SpecificationError` naming the
user's argument, the fold and the repetition.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ...errors import DeconfoundError, SpecificationError
from .crossfit import _check_training_rows, _rows
from .folds import Folds
from .presets import Learner


@dataclass(frozen=True, eq=False)
class Job:
    """One nuisance to cross-fit: ``learner`` fitted on ``(x, y)`` of the training rows of ``folds``
    (those where ``train_mask`` holds), predicting the test rows. ``label`` (e.g. "repetition 2") is
    added to the place of a failure."""

    learner: Learner
    x: np.ndarray
    y: np.ndarray
    folds: Folds
    train_mask: np.ndarray | None = None
    label: str = ""


def _task(learner: Learner, x: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray, where: str):
    try:
        return learner.fit_predict(x[train], y[train], None, x[test], where=where)
    except DeconfoundError:
        raise
    except Exception as exc:  # a learner's own failure, mapped to ours at the boundary
        raise SpecificationError(
            f"{learner.argument} {learner.name!r} failed{where}: {type(exc).__name__}: {exc}. Check the learner's "
            "settings, or choose another learner."
        ) from exc


#: learners whose fit runs in compiled code without the GIL and threads itself with OpenMP: folds of these
#: run in threads of this process, each fit limited to one OpenMP thread (no copies of the data to worker
#: processes, no pool to start, and no more threads than cores; their numbers do not depend on the thread
#: count, so serial and parallel runs stay bit-identical)
NATIVE = frozenset(
    {"HistGradientBoostingRegressor", "HistGradientBoostingClassifier", "LGBMRegressor", "LGBMClassifier"}
)


def _native(learner: Learner) -> bool:
    return type(learner.template).__name__ in NATIVE


def _task_one_thread(*args):
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="openmp"):
        return _task(*args)


def cross_fit_many(jobs: Sequence[Job], *, n_jobs: int | None = None, message: str | None = None) -> list[np.ndarray]:
    """Out-of-fold predictions of every job (P(y = 1) for a classifier), in the order of ``jobs``.

    ``message`` announces the stage to the current progress object, which then advances task by task.
    """
    from .fast import cross_fit_fast, kind_of

    planned = []
    for job in jobs:
        y = np.asarray(job.y)
        if job.folds.n != len(y) or job.x.shape[0] != len(y):
            raise SpecificationError(f"the folds, features and target of {job.learner.argument} differ in length.")
        mask = None if job.train_mask is None else np.asarray(job.train_mask, dtype=bool)
        places = []
        for fold in range(job.folds.k):
            train, test = _rows(job.folds, fold, mask)
            where = f" in fold {fold + 1} of {job.folds.k}" + (f" ({job.label})" if job.label else "")
            _check_training_rows(job.learner, y[train], where)
            places.append((test, (job.learner, job.x, y, train, test, where)))
        planned.append((y, mask, places))
    from ..._core.progress import LARGE_ROWS, SILENT, current

    # a small problem finishes before a progress line would be worth reading (as _core.progress.stage)
    rows_used = max((len(job.y) for job in jobs), default=0)
    progress = current() if rows_used >= LARGE_ROWS else SILENT
    if message:
        progress.step(message)
    total = sum(len(places) for _, _, places in planned)
    done = 0
    out = [np.empty(len(job.y)) for job in jobs]
    tasks = []
    for j, (job, (y, mask, places)) in enumerate(zip(jobs, planned)):
        # our own least squares / logistic: all folds in this process from shared cross-products (.fast);
        # a fold it declines is fitted the ordinary way below
        fast = (
            cross_fit_fast(job.learner, job.x, y, job.folds.assignment, job.folds.k, mask)
            if kind_of(job.learner) and job.folds.blocks is None  # two-way: training rows are not the other folds
            else [None] * job.folds.k
        )
        for (test, args), values in zip(places, fast):
            if values is None:
                tasks.append((j, test, args))
            else:
                out[j][test] = values
                done += 1
                progress.advance(done, total)
    if n_jobs is None or n_jobs == 1 or len(tasks) <= 1:
        for j, test, args in tasks:
            out[j][test] = _task(*args)
            done += 1
            progress.advance(done, total)
        return out
    from joblib import Parallel, delayed

    # the largest training sets first, so the last round of the pool is short (the results go by place)
    tasks.sort(key=lambda task: -len(task[2][3]))
    if all(_native(args[0]) for _, _, args in tasks):
        runner, kwargs = _task_one_thread, {"prefer": "threads"}
    else:
        runner, kwargs = _task, {}
    results = Parallel(n_jobs=n_jobs, return_as="generator", **kwargs)(delayed(runner)(*args) for _, _, args in tasks)
    for (j, test, _), values in zip(tasks, results):
        out[j][test] = values
        done += 1
        progress.advance(done, total)
    return out
