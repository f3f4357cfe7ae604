"""The wild cluster bootstrap for a regression coefficient when there are few clusters.

With few clusters (or a few treated ones) the cluster-robust t test over-rejects: its standard error is
too small and the t reference too thin-tailed. The wild cluster bootstrap-t (Cameron, Gelbach and Miller
2008) fixes the size by resampling whole clusters' residuals with random signs; imposing the null in the
bootstrap world (WCR) is the variant that works best (MacKinnon and Webb 2017). The interval is the set of
null values the test does not reject (found by bisection with the same draws), as Stata's boottest reports.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from .._core import wild
from .._core.options import check_level, check_positive_int
from ..diagnostics.hypotheses import TestResult
from ..errors import DataError, SpecificationError
from ._fits import regression_design

__all__ = ["wild_cluster_bootstrap"]

WILD_LAYOUT = (
    "statistic",
    "p_value",
    "estimate",
    "std_error",
    "term",
    "null_value",
    "ci_low",
    "ci_high",
    "level",
    "n_boot",
    "n_clusters",
    "weights_type",
    "impose_null",
    "full_enumeration",
    "seed",
)


def wild_cluster_bootstrap(
    data: Any,
    *,
    outcome: str,
    treatment: str,
    cluster: str,
    covariates: str | Iterable[str] | None = None,
    term: str | None = None,
    null: float = 0.0,
    n_boot: int = 9999,
    weights_type: str = "rademacher",
    impose_null: bool = True,
    p_value: str = "two-tailed",
    level: float = 0.95,
    ci: bool = True,
    random_state: Any = None,
    missing: str = "raise",
    treated_level: Any = None,
) -> TestResult:
    """Wild cluster bootstrap-t test (and interval) for a coefficient of the OLS regression adjustment.

    The regression is :func:`deconfound.ols`'s (``outcome`` on a constant, ``treatment`` and ``covariates``)
    with one ``cluster`` column; ``term`` is the coefficient tested (the treatment by default) against
    ``null``. ``weights_type`` is "rademacher" (enumerated when 2^G <= n_boot), "webb" (better with fewer
    than about 12 clusters), "mammen" or "normal"; ``impose_null=False`` is the unrestricted WCU variant.
    Returns a :class:`~deconfound.diagnostics.hypotheses.TestResult`: the CRV1 t statistic, its bootstrap
    p-value, and the interval at ``level`` (WCR: by inverting the test; WCU: the symmetric percentile-t).
    """
    n_boot = check_positive_int(n_boot, "n_boot")
    level = check_level(level)
    if not isinstance(cluster, str):
        raise SpecificationError("cluster= must name one column (the wild cluster bootstrap clusters one way).")
    x, y, codes, names, _prep = regression_design(data, outcome, treatment, covariates, cluster, missing, treated_level)
    term = treatment if term is None else term
    if term not in names:
        raise SpecificationError(f"term={term!r} is not a coefficient of the regression; its terms are {names}.")
    j = names.index(term)
    stats = wild.cluster_stats(x, y, codes)
    if stats.n_clusters < 2:
        raise DataError(f"cluster column {cluster!r} has a single cluster: the bootstrap needs at least two.")
    from ..estimators.learners.seeds import seed_from

    seed = seed_from(random_state)  # an integer as given; None draws one (kept: random_state=seed reruns it)
    weights, full = wild.draw_weights(weights_type, stats.n_clusters, n_boot, np.random.default_rng(seed))
    estimate, se, t = wild.t_statistic(stats, j, null)
    t_boot = wild.bootstrap_t(stats, j, null, weights, impose_null)
    p = wild.p_value(t, t_boot, p_value)
    low = high = math.nan
    if ci:
        low, high = _interval(stats, j, estimate, se, weights, impose_null, level, t_boot)
    details = {
        "estimate": estimate,
        "std_error": se,
        "term": term,
        "null_value": null,
        "ci_low": low,
        "ci_high": high,
        "level": level,
        "n_boot": int(weights.shape[1]),
        "n_clusters": stats.n_clusters,
        "weights_type": weights_type,
        "impose_null": impose_null,
        "full_enumeration": full,
        "seed": seed,
    }
    variant = "WCR" if impose_null else "WCU"
    return TestResult(
        f"wild cluster bootstrap-t ({variant}, {weights_type} weights)",
        t,
        "wild bootstrap",
        p_value=p,
        null=f"the coefficient of {term!r} is {null:g}",
        details=details,
        layout=WILD_LAYOUT,
    )


def _interval(
    stats: wild.ClusterStats,
    j: int,
    estimate: float,
    se: float,
    weights: np.ndarray,
    restricted: bool,
    level: float,
    t_boot: np.ndarray,
) -> tuple[float, float]:
    alpha = 1.0 - level
    if not restricted:
        q = float(np.quantile(np.abs(t_boot[np.isfinite(t_boot)]), level))
        return estimate - q * se, estimate + q * se

    def p_at(r: float) -> float:
        t_r = (estimate - r) / se
        return wild.p_value(t_r, wild.bootstrap_t(stats, j, r, weights, True), "two-tailed")

    def edge(direction: float) -> float:
        inside = estimate
        step = 2.0 * se
        outside = estimate + direction * step
        for _ in range(60):  # widen until the test rejects
            if p_at(outside) <= alpha:
                break
            inside, step = outside, step * 2.0
            outside = estimate + direction * step
        else:
            return direction * math.inf
        for _ in range(80):
            mid = 0.5 * (inside + outside)
            if p_at(mid) <= alpha:
                outside = mid
            else:
                inside = mid
            if abs(outside - inside) <= 1e-7 * se:
                break
        return 0.5 * (inside + outside)

    return edge(-1.0), edge(1.0)
