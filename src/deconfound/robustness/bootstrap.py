"""The nonparametric bootstrap of any estimate: rows or whole clusters resampled, four kinds of interval.

``bootstrap(dc.ipw, df, outcome=..., treatment=..., covariates=...)`` re-runs the estimator on ``n_boot``
resamples (rows drawn with replacement, or whole clusters with ``cluster=``) and returns the original
estimate with the bootstrap standard error and interval:

* ``percentile``: the alpha/2 and 1 - alpha/2 quantiles of the bootstrap estimates;
* ``basic``: 2 theta minus those quantiles (the reflected, "pivotal" interval);
* ``normal``: theta -+ z sd(bootstrap estimates);
* ``bca``: Efron's bias-corrected and accelerated percentile interval; the bias correction is the normal
  quantile of the share of bootstrap estimates below theta, the acceleration the skewness of the jackknife
  (leave one row or cluster out; above ``JACKKNIFE_MAX`` units, 200 groups of units are left out in turn).

Every resample's seed is derived from one root seed and its number, so the numbers are the same run
serially or in parallel (``n_jobs``), and the seed is kept on the result. A resample on which the
estimator raises one of our errors (say, no treated unit drawn) is counted and left out; the result says
how many.

The regression adjustment (:func:`deconfound.ols` by columns) has a faster path that needs no refits:
each resample's coefficients come from reweighted cross-products of the design built once; resampled rows
are drawn as :mod:`deconfound._core.resample` describes (counts for all resamples block by block, one
matrix product per block; ``n_jobs`` threads share the blocks, the numbers do not change).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from .._core.options import check_level, check_positive_int
from ..errors import DataError, DeconfoundError, SpecificationError

__all__ = ["INTERVALS", "bootstrap"]

INTERVALS = ("percentile", "basic", "normal", "bca")
JACKKNIFE_MAX = 2000
JACKKNIFE_GROUPS = 200


def _units(data: pd.DataFrame, cluster: str | None) -> tuple[list[np.ndarray], str]:
    """Row positions of each resampling unit (a row, or a cluster's rows)."""
    if cluster is None:
        return [np.array([i]) for i in range(len(data))], "rows"
    if cluster not in data.columns:
        raise SpecificationError(f"cluster={cluster!r} is not a column of the data.")
    codes, _ = pd.factorize(data[cluster], use_na_sentinel=True)
    if (codes < 0).any():
        raise DataError(f"cluster column {cluster!r} has missing values: drop those rows or fill them.")
    order = np.argsort(codes, kind="stable")
    bounds = np.r_[0, np.cumsum(np.bincount(codes))]
    return [order[bounds[g] : bounds[g + 1]] for g in range(len(bounds) - 1)], "clusters"


def _draw(units: list[np.ndarray], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(units), len(units))
    return np.concatenate([units[i] for i in picks])


def _run(estimator: Callable[..., Any], data: pd.DataFrame, rows: np.ndarray, options: dict[str, Any]) -> float:
    sample = data.iloc[rows].reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(estimator(sample, **options).estimate)


def _replicate(args: tuple[Any, ...]) -> tuple[float, str | None]:
    estimator, data, units, seed, options = args
    try:
        return _run(estimator, data, _draw(units, seed), options), None
    except DeconfoundError as exc:
        return math.nan, str(exc)


def bootstrap(
    estimator: Callable[..., Any],
    data: Any,
    *,
    n_boot: int = 999,
    interval: str = "percentile",
    cluster: str | None = None,
    level: float = 0.95,
    random_state: Any = None,
    n_jobs: int = 1,
    progress: Callable[[int, int], None] | None = None,
    **options: Any,
) -> Any:
    """Bootstrap ``estimator(data, **options)``: the same estimate, with the bootstrap standard error and interval.

    ``interval`` is one of "percentile", "basic", "normal" or "bca"; ``cluster`` resamples whole clusters
    (the clustered bootstrap); ``n_jobs`` runs resamples in parallel (the numbers do not change). The
    result is an :class:`~deconfound.Estimate` whose ``ci()`` at ``level`` is the bootstrap interval, whose
    ``diagnostics["bootstrap"]`` holds the kind, the seed and the failures, ``diagnostics["bootstrap_draws"]``
    the bootstrap estimates.
    """
    from ..data import load_table
    from ..estimators.learners.seeds import derive_seed, seed_from

    n_boot = check_positive_int(n_boot, "n_boot")
    level = check_level(level)
    if interval not in INTERVALS:
        listed = ", ".join(repr(k) for k in INTERVALS)
        raise SpecificationError(f"interval={interval!r} is not known; choose one of {listed}.")
    if not callable(estimator):
        raise SpecificationError("bootstrap's first argument is the estimator function, e.g. dc.ols or dc.ipw.")
    frame = load_table(data)
    if cluster is not None and cluster not in frame.columns:
        raise SpecificationError(f"cluster={cluster!r} is not a column of the data.")
    original = estimator(frame, **options)
    root = seed_from(random_state)
    fast = _fast_path(estimator, frame, options, cluster, n_jobs)
    if fast is not None:
        draws, failures = fast[0](n_boot, root), []
    else:
        if progress is None:  # the command line's bar, or nothing
            from .._core.progress import current

            bar = current()
            bar.step(f"bootstrap: re-estimating on {n_boot:,} resamples")
            progress = bar.advance
        units, _ = _units(frame, cluster)
        tasks = [(estimator, frame, units, derive_seed(root, "bootstrap", b), options) for b in range(n_boot)]
        draws, failures = _map(tasks, n_jobs, progress)
    ok = draws[np.isfinite(draws)]
    if len(ok) < max(10, n_boot // 2):
        raise DataError(
            f"only {len(ok)} of {n_boot} bootstrap resamples could be estimated; the first failure: "
            f"{failures[0] if failures else 'non-finite estimates'}. Use cluster= or a larger sample."
        )
    theta = float(original.estimate)
    jackknife = fast[1] if fast is not None else (lambda: _jackknife(estimator, frame, cluster, options))
    low, high = _interval(interval, theta, ok, level, jackknife)
    info = {
        "interval": interval,
        "n_boot": n_boot,
        "n_failed": n_boot - len(ok),
        "failures": tuple(dict.fromkeys(failures))[:5],
        "unit": "clusters" if cluster else "rows",
        "seed": root,
        "std_error": float(np.std(ok, ddof=1)),
        "bias": float(np.mean(ok) - theta),
        "ci_low": low,
        "ci_high": high,
    }
    notes = (*original.notes, f"bootstrap: {len(ok)} resamples of {info['unit']}, {interval} interval, seed {root}")
    return replace(
        original,
        std_error=info["std_error"],
        df=None,
        level=level,
        interval=(low, high),
        notes=notes,
        diagnostics={**original.diagnostics, "bootstrap": info, "bootstrap_draws": ok},
    )


def _map(tasks: list[tuple[Any, ...]], n_jobs: int, progress: Callable[[int, int], None] | None):
    total = len(tasks)
    out: list[tuple[float, str | None]] = []
    if n_jobs == 1:
        for i, task in enumerate(tasks):
            out.append(_replicate(task))
            if progress is not None:
                progress(i + 1, total)
    else:
        from joblib import Parallel, delayed

        runner = Parallel(n_jobs=n_jobs, return_as="generator")
        for i, item in enumerate(runner(delayed(_replicate)(task) for task in tasks)):
            out.append(item)
            if progress is not None:
                progress(i + 1, total)
    draws = np.array([value for value, _ in out])
    return draws, [msg for _, msg in out if msg is not None]


def _interval(kind: str, theta: float, draws: np.ndarray, level: float, jackknife: Callable[[], np.ndarray]):
    from .._core.distributions import normal_quantile

    alpha = 1.0 - level
    if kind == "percentile":
        lo, hi = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
        return float(lo), float(hi)
    if kind == "basic":
        lo, hi = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
        return float(2 * theta - hi), float(2 * theta - lo)
    if kind == "normal":
        half = normal_quantile(1 - alpha / 2) * float(np.std(draws, ddof=1))
        return theta - half, theta + half
    return _bca(theta, draws, alpha, jackknife())


def _bca(theta: float, draws: np.ndarray, alpha: float, jack: np.ndarray) -> tuple[float, float]:
    from scipy.special import ndtr

    from .._core.distributions import normal_quantile

    share = np.mean(draws < theta) + 0.5 * np.mean(draws == theta)
    if not 0 < share < 1:
        raise DataError("every bootstrap estimate lies on one side of the estimate: the BCa interval is undefined.")
    z0 = normal_quantile(float(share))
    centred = jack.mean() - jack
    denom = 6.0 * float(np.sum(centred**2)) ** 1.5
    accel = float(np.sum(centred**3)) / denom if denom > 0 else 0.0
    ends = []
    for q in (alpha / 2, 1 - alpha / 2):
        z = normal_quantile(q)
        ends.append(float(ndtr(z0 + (z0 + z) / (1 - accel * (z0 + z)))))
    lo, hi = np.quantile(draws, ends)
    return float(lo), float(hi)


def _jackknife(estimator: Callable[..., Any], data: pd.DataFrame, cluster: str | None, options: dict[str, Any]):
    units, _ = _units(data, cluster)
    if len(units) > JACKKNIFE_MAX:  # leave out groups of units instead of single ones
        rng = np.random.default_rng(len(units))
        labels = rng.permutation(len(units)) % JACKKNIFE_GROUPS
        units = [np.concatenate([units[i] for i in np.flatnonzero(labels == g)]) for g in range(JACKKNIFE_GROUPS)]
    everything = np.arange(len(data))
    values = []
    for rows in units:
        keep = np.setdiff1d(everything, rows, assume_unique=True)
        try:
            values.append(_run(estimator, data, keep, options))
        except DeconfoundError:
            continue
    return np.asarray(values)


def _fast_path(
    estimator: Callable[..., Any], data: pd.DataFrame, options: dict[str, Any], cluster: str | None, n_jobs: int = 1
):
    """Bootstrap of the regression adjustment on reweighted cross-products (no refits), when it applies."""
    from ..estimators.regression import ols

    plain = {"outcome", "treatment", "covariates", "cov_type", "level", "missing", "treated_level"}
    if estimator is not ols or not set(options) <= plain or "outcome" not in options or "treatment" not in options:
        return None
    from .._core.resample import ols_bootstrap, ols_jackknife
    from ._fits import regression_design

    x, y, codes, _, prep = regression_design(
        data,
        options["outcome"],
        options["treatment"],
        options.get("covariates"),
        cluster,
        options.get("missing", "raise"),
        options.get("treated_level"),
    )
    if prep.n_dropped:
        return None  # rows were dropped: refit on each resample of the kept rows instead
    return (lambda n_boot, seed: ols_bootstrap(x, y, 1, n_boot, seed, codes, n_jobs=n_jobs)), (
        lambda: ols_jackknife(x, y, 1, codes)
    )
