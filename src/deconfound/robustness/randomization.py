"""Randomization inference for a randomized experiment: Fisher's exact test of the sharp null.

Under the sharp null hypothesis that the treatment changed nobody's outcome, every outcome is known under
every assignment, so the distribution of any statistic over re-randomizations is known exactly: the
p-value is the share of assignments whose statistic is at least as extreme as the one observed. No model,
no large-sample approximation; the inference is as valid as the randomization was. Assignments are
re-drawn the way the experiment drew them: the same number treated (complete randomization), within
``strata`` (block randomization), or whole ``cluster``s at a time (cluster randomization). When the
number of possible assignments is at most ``n_permutations`` they are all enumerated (an exact p-value).

The statistic is the difference in means (computed for every assignment at once), or any of our
estimators (``estimator=dc.ols, covariates=[...]``: re-estimated under each assignment).
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from .._core.options import check_positive_int
from ..diagnostics.hypotheses import TestResult
from ..errors import DataError, DeconfoundError, SpecificationError

__all__ = ["randomization_test"]

RI_LAYOUT = ("statistic", "p_value", "n_permutations", "exact", "design", "null", "seed", "text")


def _binary(series: pd.Series, name: str) -> np.ndarray:
    values = pd.unique(series.dropna())
    if len(values) != 2 or series.isna().any():
        raise DataError(
            f"treatment {name!r} must have exactly two values and no missing ones for randomization inference."
        )
    if set(values.tolist()) <= {0, 1}:
        return series.astype(float).to_numpy()
    raise SpecificationError(
        f"treatment {name!r} has levels {sorted(map(str, values))}: code it 0/1 (1 = treated) for randomization "
        "inference."
    )


def _groups(data: pd.DataFrame, column: str | None, role: str) -> np.ndarray | None:
    if column is None:
        return None
    if column not in data.columns:
        raise SpecificationError(f"{role}={column!r} is not a column of the data.")
    codes, _ = pd.factorize(data[column])
    if (codes < 0).any():
        raise DataError(f"{role} column {column!r} has missing values.")
    return codes


def _assignments(
    t: np.ndarray, strata: np.ndarray | None, clusters: np.ndarray | None, n_perm: int, rng: np.random.Generator
) -> tuple[np.ndarray, bool]:
    """(A, n) re-randomized treatment vectors and whether they are every possible assignment."""
    if clusters is not None:
        per_cluster = pd.Series(t).groupby(clusters).agg(["min", "max"])
        if (per_cluster["min"] != per_cluster["max"]).any():
            raise DataError("treatment varies within a cluster: cluster randomization assigns whole clusters.")
        unit_t = per_cluster["min"].to_numpy()
        unit_strata = None
        if strata is not None:
            unit_strata = pd.Series(strata).groupby(clusters).first().to_numpy()
        drawn, exact = _assignments(unit_t, unit_strata, None, n_perm, rng)
        return drawn[:, clusters], exact
    blocks = [np.arange(len(t))] if strata is None else [np.flatnonzero(strata == s) for s in np.unique(strata)]
    sizes = [math.comb(len(b), int(t[b].sum())) for b in blocks]
    total = math.prod(sizes)
    if total <= n_perm:
        per_block = [list(itertools.combinations(b.tolist(), int(t[b].sum()))) for b in blocks]
        out = np.zeros((total, len(t)))
        for a, choice in enumerate(itertools.product(*per_block)):
            for treated in choice:
                out[a, list(treated)] = 1.0
        return out, True
    out = np.empty((n_perm, len(t)))
    for a in range(n_perm):
        shuffled = t.copy()
        for b in blocks:
            shuffled[b] = rng.permutation(t[b])
        out[a] = shuffled
    return out, False


def randomization_test(
    data: Any,
    *,
    outcome: str,
    treatment: str,
    strata: str | None = None,
    cluster: str | None = None,
    estimator: Callable[..., Any] | None = None,
    n_permutations: int = 9999,
    alternative: str = "two-sided",
    random_state: Any = None,
    **options: Any,
) -> TestResult:
    """Fisher randomization test of "the treatment changed no one's outcome" in a randomized experiment.

    The statistic is the difference in means, or ``estimator(data, outcome=..., treatment=..., **options)``'s
    estimate re-computed under each re-randomization. ``alternative`` is "two-sided" (|statistic| at least as
    large), "greater" or "less". Returns a :class:`~deconfound.diagnostics.hypotheses.TestResult` with the
    p-value (including the observed assignment, so never 0), the number of assignments and whether they
    were all enumerated.
    """
    from ..data import load_table

    n_permutations = check_positive_int(n_permutations, "n_permutations")
    if alternative not in ("two-sided", "greater", "less"):
        raise SpecificationError(f"alternative={alternative!r}: choose 'two-sided', 'greater' or 'less'.")
    frame = load_table(data)
    for column, role in ((outcome, "outcome"), (treatment, "treatment")):
        if column not in frame.columns:
            raise SpecificationError(f"{role}={column!r} is not a column of the data.")
    t = _binary(frame[treatment], treatment)
    y = pd.to_numeric(frame[outcome], errors="coerce").to_numpy(float)
    if not np.isfinite(y).all():
        raise DataError(f"outcome {outcome!r} has missing or non-numeric values: drop those rows first.")
    from ..estimators.learners.seeds import seed_from

    seed = seed_from(random_state)  # an integer as given; None draws one (kept: random_state=seed reruns it)
    draws, exact = _assignments(
        t,
        _groups(frame, strata, "strata"),
        _groups(frame, cluster, "cluster"),
        n_permutations,
        np.random.default_rng(seed),
    )
    if estimator is None:
        observed = _mean_difference(t[None, :], y)[0]
        null = _mean_difference(draws, y)
        name = "difference in means"
    else:
        observed, null = _refits(estimator, frame, outcome, treatment, draws, options)
        name = "estimate"
    p = _p_value(observed, null, alternative, exact)
    design = "cluster" if cluster else "stratified" if strata else "complete"
    text = (
        f"Had the treatment changed no one's outcome, {p:.1%} of the {len(null):,} {'possible' if exact else 'random'} "
        f"re-randomizations ({design} randomization) would give a {name} at least as extreme as the observed "
        f"{observed:.4g}."
    )
    details = {"n_permutations": len(null), "exact": exact, "design": design, "seed": seed, "text": text}
    return TestResult(
        f"randomization test ({name})",
        observed,
        "permutation",
        p_value=p,
        null="the treatment changed no one's outcome (the sharp null)",
        details=details,
        layout=RI_LAYOUT,
        statistic_name=name,
    )


def _mean_difference(assign: np.ndarray, y: np.ndarray) -> np.ndarray:
    n1 = assign.sum(axis=1)
    if (n1 == 0).any() or (n1 == assign.shape[1]).any():
        raise DataError("a re-randomization left one arm empty: randomization inference needs both arms.")
    treated = assign @ y / n1
    control = (1.0 - assign) @ y / (assign.shape[1] - n1)
    return treated - control


def _refits(estimator, frame, outcome, treatment, draws, options) -> tuple[float, np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        observed = float(estimator(frame, outcome=outcome, treatment=treatment, **options).estimate)
        values = []
        for row in draws:
            shuffled = frame.assign(**{treatment: row.astype(int)})
            try:
                values.append(float(estimator(shuffled, outcome=outcome, treatment=treatment, **options).estimate))
            except DeconfoundError:
                values.append(math.nan)
    null = np.asarray(values)
    if np.isnan(null).mean() > 0.5:
        raise DataError("the estimator failed on most re-randomizations; use the difference in means (estimator=None).")
    return observed, null[np.isfinite(null)]


def _p_value(observed: float, null: np.ndarray, alternative: str, exact: bool) -> float:
    tol = 1e-12 * max(1.0, abs(observed))
    if alternative == "two-sided":
        extreme = int(np.sum(np.abs(null) >= abs(observed) - tol))
    elif alternative == "greater":
        extreme = int(np.sum(null >= observed - tol))
    else:
        extreme = int(np.sum(null <= observed + tol))
    if exact:  # the observed assignment is one of the enumerated ones
        return extreme / len(null)
    return (extreme + 1) / (len(null) + 1)
