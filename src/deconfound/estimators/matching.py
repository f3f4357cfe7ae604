"""Matching: nearest-neighbour (on the propensity score, its logit, or Mahalanobis distance on the
covariates) and optimal pair matching, for the ATT, ATC and ATE, with Abadie-Imbens standard errors.

Conventions (Stata ``teffects nnmatch`` / Abadie and Imbens 2006, 2011):

* each target unit is matched to its ``neighbors`` closest units of the other group; with ``ties=True``
  every unit at the k-th distance is kept too and all matches of a target share its weight (distances
  equal up to floating-point rounding -- relative 1e-9, absolute 1e-12 of the variable's scale -- are
  ties, so that the matches do not depend on the last bits of the fitted score);
* with replacement a unit can be the match of several targets; ``K_i`` counts how many (as weights);
* a caliper refuses matches farther than it; targets left without a match are dropped from the
  estimand and counted (``diagnostics["n_unmatched"]``), by reason: no unit in reach (caliper, exact
  cell) or, without replacement, every unit in reach already taken (``n_unmatched_by_reason``);
* without replacement ``neighbors=k`` is filled in rounds (one more match per target per round) until no
  unused unit is in reach: targets left with fewer than k are warned about and counted
  (``diagnostics["neighbors_shortfall"]``) rather than refused, since the matches they got are valid;
  with replacement ``neighbors`` above the size of the other group is refused;
* the estimate averages each target's observed-minus-imputed outcome; with ``bias_adjust=True`` the
  imputed outcomes are corrected by a linear regression within each group, fitted on the units used as
  matches and weighted by how often each is used (Abadie and Imbens 2011; Stata's ``biasadj()``);
* the standard error is Abadie and Imbens' (2006): the variance of the unit-level effects plus a term
  for reused matches, with conditional variances estimated from same-group neighbours (and ties).
  ``vce_convention="stata"`` (default) follows ``teffects``: the conditional variance of a unit is the
  sample variance of the outcomes of the unit and its neighbours, and on a score (``psmatch``) the
  ``vce_neighbors`` count the unit itself (nn(2): the unit and its nearest same-group unit), while on
  covariates (``nnmatch``) they do not; the local covariances of the Abadie-Imbens (2016) adjustment use
  the same neighbourhoods, ties included. ``"ai2006"`` is the paper's J/(J+1) (Y_i - mean of the J
  neighbours)^2 with J = ``vce_neighbors``. Both are unbiased for the conditional variance. Matching on an
  estimated score without ``se_adjust``, the score is treated as known (Abadie and Imbens 2016 show this
  is conservative for the ATE; for the ATT it can err either way) -- this is reported in the notes.

The 2016 adjustment of the ATT (ATC: groups swapped) follows ``teffects psmatch, atet``: its c term adds
to the local covariances the term X f (mu_1(p) - mu_0(p) - ATT) with the conditional means from the
``vce_neighbors`` nearest units of each group on the score, and the derivative term imputes every unit's
missing outcome by matching on the score's covariates (Euclidean distance, ``neighbors`` matches, ties).

Stata's printed standard errors are reproduced (tests/test_matching.py, cattaneo2): ``teffects nnmatch``
(ATE and ATT, with exact matching and bias adjustment) and ``teffects psmatch`` (ATE and ATT).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from .._core import assignment, kernels
from .._core.nearest import Pairs, nearest_1d, nearest_kd, whiten
from .._core.options import as_name_list, check_level, check_option, check_positive_int
from .._core.pages import entry
from .._core.progress import stage
from .._core.scoresort import ScoreSort
from ..diagnostics.balance import balance_before_after, balance_warnings
from ..errors import DataError, SpecificationError
from ..results import Estimate, LazyValue
from . import _matching_weights as sampling
from ._base import make_estimate
from ._fweights import expand_frequency
from ._matching_se import (
    IMPUTATIONS,
    Direction,
    Metric,
    RangeDirection,
    ai_variance,
    bias_models,
    conditional_variance,
    match_counts,
    ps_adjustment,
    range_ai_variance,
    resolve_imputation,
    unit_effects,
)
from ._matching_shortfall import shortfall, unmatched
from .bundles import MatchingSE, PropensityOptions
from .propensity import Setup, propensity_setup

ESTIMANDS = ("ATT", "ATC", "ATE")
DISTANCES = ("propensity", "logit", "mahalanobis")
MATCH_METHODS = ("nearest", "optimal")
CALIPER_SCALES = ("absolute", "sd")
VCE_CONVENTIONS = ("stata", "ai2006")


def _pairs_to_direction(arm: float, targets: np.ndarray, pool: np.ndarray, pairs: Pairs) -> Direction:
    target = targets[pairs.target]
    counts = np.bincount(pairs.target, minlength=len(targets)).astype(np.float64)
    weight = 1.0 / counts[pairs.target]
    matched = targets[counts > 0]  # ascending, as ``targets``
    return Direction(arm, targets, target, pool[pairs.pool], pairs.distance, weight, matched)


def _greedy_on_sort(sort: ScoreSort, arm: int, caliper: float | None) -> RangeDirection:
    """1:1 greedy matching without replacement on the shared sort: the groups' sorted scores go to the
    compiled kernel as they are (the arrays :func:`assignment.greedy_1d` would gather), and its pairs of
    sorted positions become runs of one pool unit each, the matched targets in the group's sorted order: the
    form of matching with replacement on the score, so the standard error takes its compiled pass."""
    pairs = assignment.greedy_sorted_1d(sort.arm_values(arm), sort.arm_values(1 - arm), caliper)
    at = np.full(len(sort.arm_values(arm)), -1, np.int64)  # each target is paired at most once: a scatter orders them
    at[pairs.target] = np.arange(len(pairs.target))
    order = at[at >= 0]
    position = pairs.target[order]
    match = np.ascontiguousarray(pairs.pool[order], dtype=np.int64)
    return RangeDirection(
        float(arm),
        np.flatnonzero(sort.arm1_rows == bool(arm)),
        sort.rows(arm)[position],
        match,
        match.copy(),
        sort.arm_values(arm)[position],
        sort.rows(1 - arm),
        sort.arm_values(1 - arm),
    )


def _search(metric: Metric, targets: np.ndarray, pool: np.ndarray, k: int, replace: bool, method: str, ties: bool):
    v, g = metric.values, metric.groups
    gt = None if g is None else g[targets]
    gp = None if g is None else g[pool]
    if method == "optimal":
        return _optimal(metric, targets, pool)
    if metric.kind == "1d":
        if replace:
            return nearest_1d(v[targets], v[pool], k, caliper=metric.caliper, groups=gt, pool_groups=gp, ties=ties)
        return assignment.greedy_1d_ratio(v[targets], v[pool], k, caliper=metric.caliper, groups=gt, pool_groups=gp)
    if g is None:
        if replace:
            return nearest_kd(v[targets], v[pool], k, caliper=metric.caliper, ties=ties)
        if k != 1:
            raise SpecificationError("Mahalanobis matching without replacement supports neighbors=1 only.")
        return assignment.greedy_kd(v[targets], v[pool], caliper=metric.caliper)
    assert gt is not None and gp is not None
    parts = []
    for code in np.unique(gt):
        ti, pi = np.flatnonzero(gt == code), np.flatnonzero(gp == code)
        if not len(pi):
            continue
        sub = Metric("kd", v, metric.caliper, None)
        pr = _search(sub, targets[ti], pool[pi], k, replace, method, ties)
        parts.append(Pairs(ti[pr.target], pi[pr.pool], pr.distance))
    if not parts:
        return Pairs.empty()
    return Pairs(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("target", "pool", "distance")))


def _optimal(metric: Metric, targets: np.ndarray, pool: np.ndarray) -> Pairs:
    """Optimal pair matching, ties settled as documented in :mod:`deconfound._core.assignment`: the solver
    sees the snapped matching variable; on a score the pairs are then uncrossed; distances are the true ones."""
    v, g = metric.values, metric.groups
    snapped = assignment.snap(v)
    pairs = _optimal_solve(Metric(metric.kind, snapped, metric.caliper, g), targets, pool, v)
    if metric.kind == "1d":  # ordered on the snapped values too, so that last bits cannot reorder units
        pairs = assignment.uncross_1d(pairs, snapped[targets], snapped[pool], None if g is None else g[targets])
        return Pairs(pairs.target, pairs.pool, np.abs(v[targets][pairs.target] - v[pool][pairs.pool]))
    diff = v[targets][pairs.target] - v[pool][pairs.pool]
    return Pairs(pairs.target, pairs.pool, np.sqrt(np.einsum("ij,ij->i", diff, diff)))


def _optimal_solve(snapped: Metric, targets: np.ndarray, pool: np.ndarray, true_values: np.ndarray) -> Pairs:
    """Optimal pairs on the snapped values; the caliper applies to the true distances."""
    v, g, cal = snapped.values, snapped.groups, snapped.caliper
    if assignment.check_dense_size(len(targets), len(pool)):
        cost = _cost(snapped.kind, v[targets], v[pool])
        if cal is not None:
            cost[_cost(snapped.kind, true_values[targets], true_values[pool]) > cal] = np.inf
        if g is not None:
            cost[g[targets][:, None] != g[pool][None, :]] = np.inf
        return assignment.optimal_pairs(cost_dense=cost)
    if cal is None:
        raise SpecificationError(
            f"Optimal matching of {len(targets)} targets to {len(pool)} candidates needs a caliper (the dense "
            "problem is too large): pass caliper=, or use greedy matching (method='nearest')."
        )
    tv, pv = true_values[targets], true_values[pool]
    if snapped.kind == "1d":
        cand = assignment.candidates_1d(tv, pv, cal)
        dist = np.abs(v[targets][cand.target] - v[pool][cand.pool])
    else:
        cand = assignment.candidates_kd(tv, pv, cal)
        diff = v[targets][cand.target] - v[pool][cand.pool]
        dist = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    keep = np.ones(len(cand), bool) if g is None else g[targets][cand.target] == g[pool][cand.pool]
    cand = Pairs(cand.target[keep], cand.pool[keep], dist[keep])
    return assignment.optimal_pairs(candidates=cand, n_target=len(targets), n_pool=len(pool))


def _cost(kind: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if kind == "1d":
        return np.abs(a[:, None] - b[None, :])
    from scipy.spatial.distance import cdist

    return cdist(a, b)


# --------------------------------------------------------------------------------------------------
# public function
# --------------------------------------------------------------------------------------------------


def _metric(setup: Setup, distance: str, caliper: Any, scale: str, groups: np.ndarray | None) -> Metric:
    if distance == "mahalanobis":
        if setup.outcome_design.k == 0:
            raise SpecificationError("distance='mahalanobis' matches on covariates=; name at least one.")
        x = setup.outcome_design.to_array()
        cov = np.atleast_2d(np.cov(x, rowvar=False))
        try:
            values = whiten(x, cov)
        except np.linalg.LinAlgError:
            raise SpecificationError(
                "The covariates' covariance matrix is singular (a covariate is constant or a combination of "
                "others), so Mahalanobis distance is undefined; drop the redundant covariate."
            ) from None
        kind = "kd"
    else:
        assert setup.fit is not None
        values = setup.fit.score if distance == "propensity" else setup.fit.index
        if not np.all(np.isfinite(values)):
            raise DataError(
                "Some propensity scores are exactly 0 or 1, so their logit is infinite; match on "
                "distance='propensity', trim them (trim=0.01) or use a smoother propensity model."
            )
        kind = "1d"
    cal = None
    if caliper is not None:
        try:
            cal = float(caliper)
        except (TypeError, ValueError):
            raise SpecificationError(f"caliper must be a positive number, got {caliper!r}.") from None
        if not cal > 0:
            raise SpecificationError(f"caliper must be a positive number, got {caliper!r}.")
        if scale == "sd":
            if kind == "kd":
                raise SpecificationError("caliper_scale='sd' applies to score matching; Mahalanobis is already in SDs.")
            cal *= float(np.std(values, ddof=1))
    sort = None
    if kind == "1d" and groups is None:
        t = setup.prep.treatment
        assert t is not None
        sort = setup.score_sort if distance == "propensity" and setup.score_sort is not None else None
        sort = ScoreSort.build(values, t == 1.0) if sort is None else sort
    return Metric(kind, values, cal, groups, sort)


def _exact_groups(setup: Setup, exact: list[str]) -> np.ndarray | None:
    if not exact:
        return None
    cols = [pd.factorize(setup.prep.extra[f"exact:{c}"], sort=True)[0] for c in exact]
    if len(cols) == 1:  # the codes a one-level MultiIndex would give (order of first appearance)
        return pd.factorize(cols[0])[0].astype(np.int64)
    return pd.MultiIndex.from_arrays(cols).factorize()[0].astype(np.int64)


def _check_options(estimand: str, method: str, replace: bool, neighbors: int) -> None:
    if estimand == "ATE" and (not replace or method == "optimal"):
        raise SpecificationError(
            "The ATE matches every unit in both directions, which needs matching with replacement "
            "(replace=True, method='nearest'); without replacement estimate the ATT or ATC."
        )
    if method == "optimal" and neighbors != 1:
        raise SpecificationError("Optimal matching pairs one control with each treated unit; use neighbors=1.")


def _check_vce(vce: str, distance: str, j: int) -> None:
    if vce == "stata" and distance != "mahalanobis" and j < 2:
        raise SpecificationError(
            "vce_neighbors=1 with vce_convention='stata' leaves no neighbour for the conditional variances: on a "
            "score, Stata's nn(#) counts the unit itself among its # neighbours. Use vce_neighbors=2 or more, or "
            "vce_convention='ai2006'."
        )


def _variance_neighbors(vce: str, metric: Metric, j: int) -> int:
    """Same-group neighbours (besides the unit) behind the conditional variances: ``vce_neighbors``, except
    on a score under Stata's convention, where ``teffects psmatch``'s nn(#) counts the unit itself."""
    return j - 1 if vce == "stata" and metric.kind == "1d" else j


@dataclass(frozen=True)
class _Plan:
    """The checked options of one matching estimate."""

    estimand: str
    distance: str
    method: str
    scale: str
    k: int
    replace: bool
    caliper: Any
    exact: list[str]
    ties: bool
    bias_adjust: bool
    j: int  # vce_neighbors
    vce: str
    imputation: str
    level: float

    @property
    def nearest_with_replacement(self) -> bool:
        return self.replace and self.method == "nearest"


def _validate(options: dict[str, Any], se: MatchingSE, ps: PropensityOptions, covariates: Any) -> _Plan:
    level = check_level(options["level"])
    estimand = check_option("estimand", options["estimand"], ESTIMANDS)
    distance = check_option("distance", options["distance"], DISTANCES)
    method = check_option("method", options["method"], MATCH_METHODS)
    scale = check_option("caliper_scale", options["caliper_scale"], CALIPER_SCALES)
    k = check_positive_int(options["neighbors"], "neighbors")
    j = check_positive_int(se.neighbors, "vce_neighbors")
    vce = check_option("vce_convention", se.convention, VCE_CONVENTIONS)
    imputation = check_option("se_imputation", se.imputation, IMPUTATIONS)
    replace = bool(options["replace"])
    _check_options(estimand, method, replace, k)
    _check_vce(vce, distance, j)
    exact = as_name_list(options["exact"], "exact")
    if not as_name_list(covariates, "covariates") and not as_name_list(ps.covariates, "propensity_covariates"):
        raise SpecificationError("matching needs covariates= (the confounders to match on).")
    caliper, ties, bias_adjust = options["caliper"], options["ties"], options["bias_adjust"]
    return _Plan(
        estimand, distance, method, scale, k, replace, caliper, exact, ties, bias_adjust, j, vce, imputation, level
    )


def _prepare(data: Any, plan: _Plan, ps: PropensityOptions, roles: dict[str, Any]) -> Setup:
    """The rows, the propensity score (unless matching on covariates) and its diagnostics."""
    covariates = roles.pop("covariates")
    return propensity_setup(
        data,
        **roles,
        covariates=covariates if covariates is not None else ps.covariates,
        **ps.keywords(),
        extra={f"exact:{c}": c for c in plan.exact},
        need_scores=plan.distance != "mahalanobis",
        weighting=False,
        sort_scores=plan.distance == "propensity" and not plan.exact,
    )


def _match(setup: Setup, metric: Metric, plan: _Plan) -> list[Direction | RangeDirection]:
    """The matches of each arm the estimand averages over (treated for the ATT, controls for the ATC)."""
    t = setup.prep.treatment
    assert t is not None
    k, ties, nearest = plan.k, plan.ties, plan.nearest_with_replacement
    directions: list[Direction | RangeDirection] = []
    for arm in {"ATT": (1.0,), "ATC": (0.0,), "ATE": (1.0, 0.0)}[plan.estimand]:
        n_pool = len(metric.sort.rows(1 - int(arm))) if metric.sort is not None else int(np.count_nonzero(t != arm))
        if nearest and k > n_pool:
            raise DataError(f"neighbors={k} exceeds the {n_pool} rows of the group matched to.")
        if metric.sort is not None and nearest:  # matches as runs of the sorted pool
            directions.append(RangeDirection.from_sort(metric.sort, int(arm), k, metric.caliper, ties))
            continue
        if metric.kind == "1d" and metric.groups is not None and nearest:
            cells = RangeDirection.from_cells(metric.values, t, metric.groups, int(arm), k, metric.caliper, ties)
            directions.append(cells)
            continue
        if metric.sort is not None and plan.method == "nearest" and k == 1 and kernels.compiled():
            directions.append(_greedy_on_sort(metric.sort, int(arm), metric.caliper))
            continue
        targets, pool = np.flatnonzero(t == arm), np.flatnonzero(t != arm)
        if metric.sort is not None and plan.method == "nearest":
            orders = (metric.sort.arm_order(int(arm)), metric.sort.arm_order(1 - int(arm)))
            v = metric.values
            pairs = assignment.greedy_1d_ratio(v[targets], v[pool], k, caliper=metric.caliper, orders=orders)
            directions.append(_pairs_to_direction(arm, targets, pool, pairs))
        else:
            pairs = _search(metric, targets, pool, k, plan.replace, plan.method, ties)
            directions.append(_pairs_to_direction(arm, targets, pool, pairs))
    return directions


@entry
def matching(
    data: Any,
    *,
    outcome: str,
    treatment: str,
    covariates: str | Iterable[str] | None = None,
    propensity_covariates: str | Iterable[str] | None = None,
    estimand: str = "ATT",
    distance: str = "propensity",
    method: str = "nearest",
    neighbors: int = 1,
    replace: bool = True,
    caliper: float | None = None,
    caliper_scale: str = "absolute",
    exact: str | Iterable[str] | None = None,
    ties: bool = True,
    bias_adjust: bool = False,
    vce_neighbors: int = 2,
    vce_convention: str = "stata",
    se_adjust: bool = True,
    se_imputation: str = "auto",
    propensity_model: Any = "logistic",
    cross_fit: Any = "auto",
    trim: Any = None,
    trim_refit: bool = True,
    level: float = 0.95,
    missing: str = "raise",
    treated_level: Any = None,
    random_state: Any = None,
    n_jobs: int | None = None,
    propensity: PropensityOptions | None = None,
    se: MatchingSE | None = None,
    fweights: str | None = None,
    weights: str | None = None,
) -> Estimate:
    """Matching estimator of the ATT (default), ATC or ATE with Abadie-Imbens standard errors.

    ``distance``: "propensity" (the score, the article's choice), "logit" (its log-odds) or
    "mahalanobis" (on ``covariates``). ``method``: "nearest" (greedy, closest pairs first when
    ``replace=False``) or "optimal" (minimum total distance pair matching; pairings of equal total are
    settled deterministically, independent of the scores' last bits: the solver works on the distance
    variable snapped to a 2^-32 grid and, on a score, tied crossing pairs are uncrossed -- the k-th smallest
    matched treated unit gets the k-th smallest chosen control; see :mod:`deconfound._core.assignment`).
    ``caliper`` is in units of
    the distance, or of its standard deviation with ``caliper_scale="sd"`` (0.2 SD of the logit is a
    common choice). ``exact`` names categorical columns that must agree within a pair. The propensity
    model uses ``propensity_covariates`` (default: ``covariates``). The matched pairs are in
    ``result.diagnostics["matches"]``; covariate balance before and after in ``diagnostics["balance"]``.
    ``bias_adjust`` applies the Abadie-Imbens (2011) regression correction on ``covariates``;
    ``vce_neighbors`` same-group neighbours estimate the conditional variances, with Stata's conventions
    (``vce_convention="stata"``, default) or Abadie and Imbens' (2006) formula (``"ai2006"``; see the
    module docstring for the difference); ``se_adjust`` (default)
    adjusts the standard error for the estimated logistic score (Abadie-Imbens 2016; matching with
    replacement on our own logistic model). For the ATT and ATC that adjustment needs each unit's missing
    potential outcome given its covariates: ``se_imputation="matching"`` imputes it by Euclidean matching
    on the covariates (Stata's ``teffects psmatch``), ``"regression"`` by a linear regression within each
    group, and ``"auto"`` (default) uses matching when that search is small (up to 5,000 rows, or rows x
    2^covariates up to a million) and regression above, where it would take seconds to minutes; a note
    on the result says which was used. ``fweights`` names a column of
    frequency weights (whole numbers: each row stands for that many identical units, as Stata's ``teffects``
    ``fweight``; the estimate and standard error are those of the rows repeated). ``weights`` names a column
    of sampling weights (Stata's matching takes none): the matching is unweighted, the estimate is the
    weighted mean of the targets' matched effects and the Abadie-Imbens standard error carries the weights
    (formulas in :mod:`deconfound.estimators._matching_weights`; the 2016 adjustment for the estimated score
    is not applied with them). With ``trim``, ``trim_refit=False`` matches on the scores of the model fitted
    on every row instead of refitting it on the rows kept (the default);
    the Abadie-Imbens adjustment then uses that full-sample fit's coefficient covariance.

    The propensity settings can come as one :class:`~deconfound.PropensityOptions` (``propensity=``) and the
    standard-error settings as one :class:`~deconfound.MatchingSE` (``se=``) instead of their keywords.
    """
    ps = PropensityOptions.resolve(
        propensity,
        "propensity",
        propensity_covariates=propensity_covariates,
        propensity_model=propensity_model,
        cross_fit=cross_fit,
        trim=trim,
        random_state=random_state,
        n_jobs=n_jobs,
        trim_refit=trim_refit,
    )
    vce = MatchingSE.resolve(
        se,
        "se",
        vce_neighbors=vce_neighbors,
        vce_convention=vce_convention,
        se_adjust=se_adjust,
        se_imputation=se_imputation,
    )
    options = dict(estimand=estimand, distance=distance, method=method, neighbors=neighbors, replace=replace)
    options.update(caliper=caliper, caliper_scale=caliper_scale, exact=exact, ties=ties, bias_adjust=bias_adjust)
    plan = _validate({**options, "level": level}, vce, ps, covariates)
    roles = dict(outcome=outcome, treatment=treatment, covariates=covariates, missing=missing)
    weight_note = None
    sampling.check_weight_options(weights, fweights)
    if weights is not None:
        roles["weights"] = weights
    if fweights is not None:
        data, weight_note = expand_frequency(data, fweights)
    setup = _prepare(data, plan, ps, {**roles, "treated_level": treated_level})
    if weight_note:
        setup.notes.append(weight_note)
    if weights is not None:
        setup.notes.append(sampling.SAMPLING_NOTE.format(name=weights))
    stage(setup.prep.n, f"matching {setup.prep.n:,} rows")
    metric = _metric(setup, plan.distance, plan.caliper, plan.scale, _exact_groups(setup, plan.exact))
    directions = _match(setup, metric, plan)
    adjust = bool(vce.adjust) and setup.fit is not None and setup.fit.parametric and plan.nearest_with_replacement
    if adjust and setup.prep.weights is not None:  # derived for unweighted samples (see _matching_weights)
        adjust = False
        setup.notes.append(sampling.KNOWN_SCORE_NOTE)
    return _finish(setup, directions, metric, plan, adjust)


def _reach_search(metric: Metric) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The targets (positions in ``left``) with a match in ``pool`` when pool units may be reused."""

    def search(left: np.ndarray, pool: np.ndarray) -> np.ndarray:
        sort = metric.sort
        arm = int(sort.arm1_rows[left[0]]) if sort is not None and len(left) else -1
        if sort is not None and arm >= 0 and len(pool) == len(sort.rows(1 - arm)):
            # the whole other group is the pool: every target's nearest unit is read off the shared sort
            lo, hi = sort.match_ranges(arm, 1, metric.caliper, False)
            reached = np.zeros(len(sort.order), bool)
            reached[sort.rows(arm)[lo <= hi]] = True
            return np.flatnonzero(reached[left])
        return np.unique(_search(metric, left, pool, 1, True, "nearest", False).target)

    return search


def _finish(setup: Setup, directions: list, metric: Metric, plan: _Plan, adjust: bool) -> Estimate:
    distance, estimand, k = plan.distance, plan.estimand, plan.k
    stata = plan.vce == "stata"
    prep = setup.prep
    y, t, s = prep.outcome, prep.treatment, prep.weights
    assert t is not None
    notes = list(setup.notes)
    reuse = plan.nearest_with_replacement  # optimal pair matching uses each unit once, whatever replace= says
    n_unmatched, unmatched_warnings, reasons = unmatched(
        directions, metric.caliper, metric.groups is not None, reuse, estimand, _reach_search(metric), t
    )
    short_warnings, short = (
        ([], {}) if reuse else shortfall(directions, k, metric.caliper, metric.groups is not None, t)
    )
    warnings = list(setup.warnings) + unmatched_warnings + short_warnings
    mu = None
    if plan.bias_adjust:
        counts = match_counts if s is None else partial(sampling.weighted_match_counts, s=s)
        used, _ = counts(directions, len(y))
        mu = bias_models(setup.outcome_design if setup.outcome_design.k else setup.ps_design, y, t, used)
        notes.append(
            "bias-adjusted (Abadie-Imbens 2011): imputed outcomes corrected by per-group linear regressions "
            "fitted on the matches, weighted by how often each is used"
        )
    rows, effects = zip(*(unit_effects(d, y, mu) for d in directions))
    target_rows = np.concatenate(rows)
    effects_all = np.concatenate(effects)
    estimate = float(effects_all.mean()) if s is None else sampling.weighted_estimate(effects_all, target_rows, s)
    stage(len(y), "matching standard errors (Abadie-Imbens)")
    j = _variance_neighbors(plan.vce, metric, plan.j)
    sort = metric.sort if all(isinstance(d, RangeDirection) for d in directions) else None
    if s is None and sort is not None and kernels.compiled():  # counts, variances and the sum in one pass per pool
        variance, k1 = range_ai_variance(directions, sort, y, effects_all, target_rows, j, stata)
    elif s is None:
        k1, k2 = match_counts(directions, len(y))  # every pair belongs to a matched target
        sigma2 = conditional_variance(metric, y, t, k1 > 0, j, pooled=stata)
        variance = ai_variance(effects_all, target_rows, sigma2, k1, k2)
    else:
        k1, _ = match_counts(directions, len(y))
        sigma2 = conditional_variance(metric, y, t, k1 > 0, j, pooled=stata)
        big_l, big_q = sampling.weighted_match_counts(directions, len(y), s)
        variance = sampling.weighted_ai_variance(effects_all, target_rows, sigma2, big_l, big_q, s)
    if adjust:
        assert setup.fit is not None
        on_score = distance == "propensity"
        dims = sum(part.values is not None for part in setup.fit.design.parts)
        imputation = resolve_imputation(plan.imputation, len(y), dims)
        variance += ps_adjustment(
            setup.fit, y, t, k, estimate, estimand, plan.j, metric.sort, on_score, ties=stata, imputation=imputation
        )
        notes.append("standard error adjusted for the estimated propensity score (Abadie and Imbens 2016)")
        if estimand != "ATE":
            how = {
                "matching": "matching on the covariates (as Stata's teffects psmatch)",
                "regression": "a linear regression on the covariates within each group",
            }[imputation]
            notes.append(f"the adjustment's derivative term imputes the missing potential outcomes by {how}")
    elif distance != "mahalanobis":
        notes.append(
            "Abadie-Imbens standard error treats the propensity score as known (for the ATE this is conservative; "
            "Abadie and Imbens 2016)"
        )
    if not variance > 0:
        raise DataError(
            "The matching variance estimate is not positive (too few distinct outcomes among the matched units); "
            "no standard error can be given. Use more data or fewer exact-matching columns."
        )
    se = float(np.sqrt(variance))
    diagnostics, bal_warn = _match_diagnostics(setup, directions, target_rows, metric, n_unmatched, k1)
    warnings += bal_warn
    if reasons:
        diagnostics["n_unmatched_by_reason"] = reasons
    if short:
        diagnostics["neighbors_shortfall"] = short
    how = {"nearest": "nearest-neighbour", "optimal": "optimal pair"}[plan.method]
    return make_estimate(
        prep,
        method="psm" if distance != "mahalanobis" else "matching",
        label=f"{how.capitalize()} matching on {distance} (1:{k}, {'with' if reuse else 'without'} replacement)",
        estimand=estimand,
        estimate=estimate,
        std_error=se,
        df=None,
        level=plan.level,
        warnings=warnings,
        notes=notes,
        diagnostics=diagnostics,
    )


def _matches_frame(directions: list[Direction], t: np.ndarray, index: pd.Index | None) -> pd.DataFrame:
    """The matched pairs (row labels, distance, weight), by target row, each target's nearest first."""
    labels = index if index is not None else pd.RangeIndex(len(t))
    frames = []
    for d in directions:
        target, match, distance, weight = d.by_target()
        frames.append(
            pd.DataFrame(
                {
                    "unit": labels[target],
                    "match": labels[match],
                    "unit_treated": t[target].astype(np.int64),
                    "distance": distance,
                    "weight": weight,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _match_diagnostics(setup, directions, target_rows, metric, n_unmatched, used):
    prep = setup.prep
    t = prep.treatment
    n = prep.n
    is_target = np.zeros(n, bool)
    is_target[target_rows] = True
    matches = LazyValue(partial(_matches_frame, directions, t, prep.index))  # built when read
    after = is_target + used  # each row's weight in the matched sample
    s = prep.weights
    if s is not None:  # the weighted estimator's weights: s_i for a target, L_k for a match
        after = s * is_target + sampling.weighted_match_counts(directions, n, s)[0]
    balance = balance_before_after(setup.balance_design(), t, after, before=s)
    warnings = balance_warnings(balance.drop(index="propensity score", errors="ignore"))
    diagnostics = dict(setup.diagnostics)
    diagnostics.update(
        {
            "matches": matches,
            "n_unmatched": sum(n_unmatched.values()),
            "n_unmatched_by_group": n_unmatched,
            "n_matched_targets": len(target_rows),
            "n_distinct_matches": int(np.count_nonzero(used)),
            "max_times_used": float(used.max()) if n else 0.0,
            "caliper": metric.caliper,
            "balance": balance,
        }
    )
    return diagnostics, warnings
