"""Cross-fitting: out-of-fold predictions of a nuisance model on folds shared across the estimate.

For each fold k a fresh clone of the learner is fitted on the rows outside fold k (optionally only on
those where ``train_mask`` holds, e.g. the treated rows for E[Y | X, D = 1]) and predicts the rows of
fold k, so no row's prediction comes from a model that saw it. Without folds the learner is fitted on
all (masked) rows and predicts every row (in-sample).

Folds run one after another, or in parallel with ``n_jobs`` (joblib): every fit is seeded before it is
dispatched and writes only its own rows, so the result is bit-identical whatever ``n_jobs`` is.
"""

from __future__ import annotations

import numpy as np

from ...errors import DataError, SpecificationError
from .folds import Folds
from .presets import Learner


def _rows(folds: Folds, fold: int, train_mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    keep = folds.train_mask(fold)
    if train_mask is not None:
        keep &= train_mask
    return np.flatnonzero(keep), folds.test(fold)


def _check_training_rows(learner: Learner, y: np.ndarray, where: str) -> None:
    if len(y) == 0:
        raise DataError(f"{learner.argument} {learner.name!r} has no rows to be fitted on{where}; use fewer folds.")
    if learner.kind == "classifier" and np.unique(y).size < 2:
        raise DataError(
            f"{learner.argument} {learner.name!r} would be fitted{where} on rows of one class only (the target is "
            f"{np.unique(y)[0]:g} on all of them); use fewer folds or more data."
        )


def _fold_task(learner: Learner, x: np.ndarray, y: np.ndarray, w: np.ndarray | None, x_new: np.ndarray, where: str):
    return learner.fit_predict(x, y, w, x_new, where=where)


def cross_fit_predict(
    learner: Learner,
    x: np.ndarray,
    y: np.ndarray,
    folds: Folds | None,
    *,
    sample_weight: np.ndarray | None = None,
    train_mask: np.ndarray | None = None,
    n_jobs: int | None = None,
    message: str | None = None,
) -> np.ndarray:
    """Out-of-fold predictions of ``learner`` (P(y = 1) for a classifier) for every row of ``x``.

    ``folds=None`` fits once on all rows (those in ``train_mask``) and predicts every row in-sample.
    ``message`` announces the stage to the current progress object, which then advances fold by fold.
    """
    x = np.asarray(x)
    y = np.asarray(y)
    n = len(y)
    if x.shape[0] != n:
        raise SpecificationError(f"the features have {x.shape[0]} rows but the target has {n}.")
    if train_mask is not None:
        train_mask = np.asarray(train_mask, dtype=bool)
    if folds is None:
        rows = slice(None) if train_mask is None else np.flatnonzero(train_mask)
        w = None if sample_weight is None else sample_weight[rows]
        _check_training_rows(learner, y[rows], "")
        return learner.fit_predict(x[rows], y[rows], w, x)
    if folds.n != n:
        raise SpecificationError(f"the folds were made for {folds.n} rows but the data have {n}.")
    tasks = []
    for fold in range(folds.k):
        train, test = _rows(folds, fold, train_mask)
        where = f" in fold {fold + 1} of {folds.k}"
        _check_training_rows(learner, y[train], where)
        w = None if sample_weight is None else sample_weight[train]
        tasks.append((test, (learner, x[train], y[train], w, x[test], where)))
    from ..._core.progress import current

    progress = current()
    if message:
        progress.step(message)
    out = np.empty(n)
    if n_jobs is None or n_jobs == 1:
        for fold, (test, args) in enumerate(tasks, 1):
            out[test] = _fold_task(*args)
            progress.advance(fold, folds.k)
        return out
    from joblib import Parallel, delayed

    results = Parallel(n_jobs=n_jobs)(delayed(_fold_task)(*args) for _, args in tasks)
    for (test, _), values in zip(tasks, results):
        out[test] = values
    progress.advance(folds.k, folds.k)
    return out


def _fold_variants(learner: Learner, x, y, w, variants: list[np.ndarray], where: str) -> list[np.ndarray]:
    fitted = learner.fit(x, y, w, where=where)
    return [learner.predict(fitted, v) for v in variants]


def cross_fit_variants(
    learner: Learner,
    x: np.ndarray,
    y: np.ndarray,
    folds: Folds,
    variants: list[np.ndarray],
    *,
    sample_weight: np.ndarray | None = None,
    train_mask: np.ndarray | None = None,
    n_jobs: int | None = None,
) -> list[np.ndarray]:
    """Out-of-fold predictions of one fit per fold at several feature matrices of the same rows.

    ``variants`` are matrices with the rows of ``x`` (e.g. the features with the treatment set to 1 and
    to 0, for an S-learner); fold k's model, fitted on the (masked) rows outside fold k, predicts fold k's
    rows of each. One fit per fold whatever the number of variants; serial and parallel give equal numbers.
    """
    x, y = np.asarray(x), np.asarray(y)
    n = len(y)
    if folds.n != n or any(len(v) != n for v in variants):
        raise SpecificationError(f"the folds, features and variants must all have the {n} rows of the target.")
    mask = None if train_mask is None else np.asarray(train_mask, dtype=bool)
    tasks = []
    for fold in range(folds.k):
        train, test = _rows(folds, fold, mask)
        where = f" in fold {fold + 1} of {folds.k}"
        _check_training_rows(learner, y[train], where)
        w = None if sample_weight is None else sample_weight[train]
        tasks.append((test, (learner, x[train], y[train], w, [v[test] for v in variants], where)))
    if n_jobs is None or n_jobs == 1:
        results = [_fold_variants(*args) for _, args in tasks]
    else:
        from joblib import Parallel, delayed

        results = Parallel(n_jobs=n_jobs)(delayed(_fold_variants)(*args) for _, args in tasks)
    out = [np.empty(n) for _ in variants]
    for (test, _), values in zip(tasks, results):
        for target, value in zip(out, values):
            target[test] = value
    return out
