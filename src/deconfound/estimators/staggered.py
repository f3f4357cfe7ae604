"""Staggered adoption: Callaway and Sant'Anna's (2021) group-time average treatment effects.

Units are grouped into cohorts by the period their treatment starts. For every cohort g and period t
the effect ATT(g, t) is a clean 2x2 difference-in-differences: the cohort's change from a base
period (the last period before treatment for post-treatment cells; the previous period, or the same
last pre-treatment period with ``base_period="universal"``, for pre-treatment cells) minus the
change of a comparison group that is untreated in both periods: the never-treated units
(``control_group="never"``) or the units not yet treated by then (``"not-yet"``). Already-treated
units are never used as controls, which is what biases plain two-way fixed effects.

With covariates, the control change is predicted by an outcome regression of the change on the
covariates (at the earlier of the two periods) among the controls (parallel trends conditional on
covariates; the "reg" estimator of Sant'Anna and Zhao 2020).

Every ATT(g, t) comes with its influence function, so standard errors of the cells and of any
aggregation are analytic (or from the multiplier bootstrap with ``n_boot``); aggregations are in
``_staggered_agg``. By default the panel must be balanced: units missing a period are dropped and
reported. ``allow_unbalanced_panel=True`` keeps them and ``panel=False`` reads repeated cross-sections: each
ATT(g, t) is then a difference of weighted means over the rows observed in its two periods (with
covariates: the repeated-cross-section estimators of ``_drdid_rc``), with its influence function per row
(scaled by ids over rows, summed by unit), as R's `did` computes it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._core.influence import if_covariance
from .._core.options import as_name_list, check_level, check_option, check_positive_int
from .._core.pages import entry
from ..data import Prepared, name_list, prepare
from ..diagnostics.hypotheses import TestResult
from ..diagnostics.pretrends import pretrend_warning, wald_test
from ..errors import DataError, SpecificationError
from ..results import CoefTable, Estimate
from ._base import make_estimate
from ._drdid import EST_METHODS, Singular, dr_did, ipw_did
from ._panel import Panel, panel_index, read_timing_frame, unit_timing
from ._staggered_agg import AGGREGATIONS, aggregate_all, apply_bootstrap

CONTROL_GROUPS = ("never", "not-yet")
BASE_PERIODS = ("varying", "universal")


@dataclass(frozen=True)
class UnitPanel:
    """A balanced panel in wide form: one row per unit."""

    y: np.ndarray  # units x periods
    x: np.ndarray | None  # units x periods x covariates
    w: np.ndarray  # unit weights, mean 1
    g: np.ndarray  # first treated period per unit (inf = never)
    periods: np.ndarray
    clusters: np.ndarray | None  # cluster code per unit (beyond the unit itself)
    covariate_names: tuple[str, ...]


@dataclass(frozen=True)
class LongPanel:
    """Repeated cross-sections or an unbalanced panel kept whole: one entry per row, influence functions per
    id (a row of a repeated cross-section, a unit of an unbalanced panel). The attributes the aggregation and
    the result read (``w``, ``g``, ``clusters`` per id; ``y``, ``x``, ``periods``) mirror :class:`UnitPanel`."""

    y: np.ndarray  # outcome per row
    x: np.ndarray | None  # covariates per row (each row's own period), rows x covariates
    w: np.ndarray  # weight per id (mean of its rows' weights)
    g: np.ndarray  # first treated period per id (inf = never)
    periods: np.ndarray
    clusters: np.ndarray | None  # cluster code per id
    covariate_names: tuple[str, ...]
    row_id: np.ndarray  # id code of each row
    row_period: np.ndarray  # period index of each row
    row_w: np.ndarray  # weight of each row, mean 1
    kind: str  # "repeated cross-sections" or "unbalanced panel"


@dataclass(frozen=True)
class Cells:
    """Group-time effects and their influence functions (units x cells)."""

    group: np.ndarray
    time: np.ndarray
    att: np.ndarray
    psi: np.ndarray
    base: np.ndarray  # the base period of each cell
    fixed_zero: np.ndarray  # universal base: the base cell itself (0 by construction)

    @property
    def event_time(self) -> np.ndarray:
        return self.time - self.group


# --------------------------------------------------------------------------------------------------
# the 2x2 building block
# --------------------------------------------------------------------------------------------------


def _or_did(dy: np.ndarray, d: np.ndarray, z: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray]:
    """Outcome-regression DiD on one 2x2 (panel): ATT and its influence function on these units.

    ``z`` holds an intercept and the covariates; the regression of the change ``dy`` on ``z`` among
    the controls (``d == 0``) predicts the treated units' untreated change. Weights ``w`` have mean 1.
    """
    n1 = len(dy)
    ctrl = d == 0
    wc = w * ctrl
    xtx = (z * wc[:, None]).T @ z / n1
    try:
        xtx_inv = np.linalg.inv(xtx)
    except np.linalg.LinAlgError:
        xtx_inv = None
    if xtx_inv is None or not np.all(np.isfinite(xtx_inv)) or np.linalg.cond(xtx) > 1e12:
        raise _Singular()
    beta = xtx_inv @ ((z * wc[:, None]).T @ dy / n1)
    pred = z @ beta
    wt = w * d
    p_treat = wt.mean()
    eta_t = float((wt * dy).mean() / p_treat)
    eta_c = float((wt * pred).mean() / p_treat)
    resid = dy - pred
    linear = (z * (wc * resid)[:, None]) @ xtx_inv
    moment = (z * wt[:, None]).mean(axis=0)
    inf_t = wt * (dy - eta_t) / p_treat
    inf_c = (wt * (pred - eta_c) + linear @ moment) / p_treat
    return eta_t - eta_c, inf_t - inf_c


class _Singular(Exception):
    pass


def _base_index(periods: np.ndarray, j: int, g: float, anticipation: float, base: str) -> int | None:
    """Index of the base period for cell (g, periods[j]); None if the cohort has no pre-treatment period."""
    pre = np.flatnonzero(periods + anticipation < g)
    last_pre = int(pre[-1]) if pre.size else None
    if base == "universal" or periods[j] >= g - anticipation:
        return last_pre
    return j - 1


def _controls(g_units: np.ndarray, g: float, t: float, b: float, control: str, anticipation: float) -> np.ndarray:
    never = np.isinf(g_units)
    if control == "never":
        return never
    return never | ((g_units > max(t, b) + anticipation) & (g_units != g))


def group_time_effects(
    panel: UnitPanel | LongPanel, control: str, base: str, anticipation: float, est_method: str = "reg"
) -> tuple[Cells, list[str]]:
    """Every ATT(g, t) with its influence function; cells without controls are skipped (noted)."""
    n, n_t = len(panel.g), len(panel.periods)
    cohorts = np.unique(panel.g[np.isfinite(panel.g)])
    out: dict[str, list] = {k: [] for k in ("group", "time", "att", "psi", "base", "zero")}
    skipped: list[str] = []
    empty: list[str] = []
    start = 0 if base == "universal" else 1
    for g in cohorts:
        treat = panel.g == g
        for j in range(start, n_t):
            b = _base_index(panel.periods, j, g, anticipation, base)
            if b is None:
                break
            t, tb = panel.periods[j], panel.periods[b]
            if b == j:
                _append(out, g, t, tb, 0.0, np.zeros(n), True)
                continue
            ctrl = _controls(panel.g, g, t, tb, control, anticipation)
            if not ctrl.any():
                skipped.append(f"({g:g}, {t:g})")
                continue
            if isinstance(panel, LongPanel):
                found = _cell_long(panel, treat, ctrl, j, b, g, t, est_method)
                if found is None:
                    empty.append(f"({g:g}, {t:g})")
                    continue
                att, psi = found
            else:
                att, psi = _cell(panel, treat, ctrl, j, b, g, t, est_method)
            _append(out, g, t, tb, att, psi, False)
    notes = []
    if skipped:
        notes.append(
            f"no comparison units left for {len(skipped)} group-time cell(s) {', '.join(skipped[:6])}"
            f"{', ...' if len(skipped) > 6 else ''} (every unit is treated by then): those effects are not estimated"
        )
    if empty:
        notes.append(
            f"{len(empty)} group-time cell(s) {', '.join(empty[:6])}{', ...' if len(empty) > 6 else ''} have no "
            "observation of the cohort or of its comparison group in one of their two periods: not estimated"
        )
    if not out["att"]:
        raise DataError("No group-time effect could be estimated: no cohort has untreated comparison units.")
    cells = Cells(
        np.array(out["group"], dtype=float),
        np.array(out["time"], dtype=float),
        np.array(out["att"], dtype=float),
        np.column_stack(out["psi"]),
        np.array(out["base"], dtype=float),
        np.array(out["zero"], dtype=bool),
    )
    return cells, notes


def _append(out: dict, g: float, t: float, b: float, att: float, psi: np.ndarray, zero: bool) -> None:
    for key, value in (("group", g), ("time", t), ("base", b), ("att", att), ("psi", psi), ("zero", zero)):
        out[key].append(value)


def _cell(panel: UnitPanel, treat: np.ndarray, ctrl: np.ndarray, j: int, b: int, g: float, t: float, est: str):
    sub = treat | ctrl
    n, n1 = len(treat), int(sub.sum())
    dy = panel.y[sub, j] - panel.y[sub, b]
    w = panel.w[sub] / panel.w[sub].mean()
    ones = np.ones((n1, 1))
    z = ones if panel.x is None else np.column_stack([ones, panel.x[sub, min(j, b), :]])
    # without covariates the three estimators are the same difference of mean changes: one code path
    block = _or_did if panel.x is None or est == "reg" else (dr_did if est == "dr" else ipw_did)
    try:
        att, inf = block(dy, treat[sub].astype(float), z, w)
    except (_Singular, Singular):
        raise DataError(
            f"The covariates {list(panel.covariate_names)} are collinear (or constant) among the comparison units "
            f"of cohort {g:g} at period {t:g}, so the outcome regression cannot be fitted. Remove or recode them."
        ) from None
    psi = np.zeros(n)
    psi[sub] = inf * (n / n1)
    return att, psi


def _cell_long(
    panel: LongPanel, treat: np.ndarray, ctrl: np.ndarray, j: int, b: int, g: float, t: float, est: str
) -> tuple[float, np.ndarray] | None:
    """ATT(g, t) from the rows of periods t and b (repeated cross-sections): without covariates the cohort's
    change in mean minus the comparison group's; with them the repeated-cross-section estimator ``est``
    (:mod:`._drdid_rc`). The influence function per row is scaled by ids / rows and summed by id, as R's
    `did` with panel = FALSE. None if the cohort or its comparison group is missing from a period."""
    from ._drdid_rc import dr_did_rc, ipw_did_rc, reg_did_rc

    sel = treat | ctrl
    rows = np.flatnonzero(((panel.row_period == j) | (panel.row_period == b)) & sel[panel.row_id])
    n, n1 = len(panel.g), len(rows)
    ids = panel.row_id[rows]
    d = treat[ids]
    post = panel.row_period[rows] == j
    if not all(np.any((d == a) & (post == p)) for a in (True, False) for p in (True, False)):
        return None
    y = panel.y[rows]
    w = panel.row_w[rows] / panel.row_w[rows].mean()
    if panel.x is None:
        att, inf = 0.0, np.zeros(n1)
        signs = ((True, True, 1.0), (True, False, -1.0), (False, True, -1.0), (False, False, 1.0))
        for in_group, in_post, sign in signs:
            wm = w * ((d == in_group) & (post == in_post))
            share = wm.mean()
            mu = float((wm * y).mean() / share)
            att += sign * mu
            inf += sign * wm * (y - mu) / share
    else:
        z = np.column_stack([np.ones(n1), panel.x[rows]])
        block = {"reg": reg_did_rc, "ipw": ipw_did_rc, "dr": dr_did_rc}[est]
        try:
            att, inf = block(y, post.astype(float), d.astype(float), z, w)
        except Singular:
            raise DataError(
                f"The covariates {list(panel.covariate_names)} are collinear (or constant) within a group of cohort "
                f"{g:g} at period {t:g} or its base period, so its models cannot be fitted. Remove or recode them."
            ) from None
    psi = np.bincount(ids, weights=inf * (n / n1), minlength=n)
    return float(att), psi


def _long(
    prep: Prepared, panel: Panel, g: np.ndarray, names: tuple[str | None, str | None], drop: np.ndarray, kind: str
) -> tuple[LongPanel, list[str]]:
    """Every row kept (but those of ``drop``, always-treated units), ids and their weights, clusters and timing."""
    rows = ~drop[panel.unit]
    if not rows.any():
        raise DataError("No rows left after dropping the units treated from the first period on.")
    keep_units = np.flatnonzero(~drop)
    remap = np.full(panel.n_units, -1)
    remap[keep_units] = np.arange(keep_units.size)
    ids = remap[panel.unit[rows]]
    n = keep_units.size
    row_w = np.ones(int(rows.sum())) if prep.weights is None else prep.weights[rows].astype(float)
    row_w = row_w / row_w.mean()
    w = np.bincount(ids, weights=row_w, minlength=n) / np.bincount(ids, minlength=n)
    clusters = None
    if names[1] is not None:
        sub = dataclasses.replace(panel, unit=ids, unit_labels=np.arange(n), period=panel.period[rows])
        clusters = pd.factorize(_per_unit(sub, prep.clusters[0][rows], names[1], "cluster"))[0]
    x = prep.covariates.to_array()[rows] if prep.covariates.k else None
    names_x = tuple(prep.covariates.names)
    long = LongPanel(
        prep.outcome[rows], x, w, g[keep_units], panel.periods, clusters, names_x, ids, panel.period[rows], row_w, kind
    )
    return long, []


# --------------------------------------------------------------------------------------------------
# from rows to a balanced wide panel
# --------------------------------------------------------------------------------------------------


def _per_unit(panel: Panel, values: np.ndarray, name: str, role: str) -> np.ndarray:
    """A column that must be constant within unit, as one value per unit."""
    first = np.empty(panel.n_units, dtype=values.dtype)
    first[panel.unit] = values
    if not np.array_equal(first[panel.unit], values):
        raise DataError(
            f"{role} {name!r} varies within units; the group-time estimator needs one value per unit "
            "(use each unit's value from its first period, for example)."
        )
    return first


def _wide(
    prep: Prepared, panel: Panel, g: np.ndarray, names: tuple[str | None, str | None], drop: np.ndarray
) -> tuple[UnitPanel, list[str]]:
    """Balance the panel (dropping incomplete units and ``drop``), then reshape to units x periods."""
    warnings: list[str] = []
    complete = panel.unit_counts() == panel.n_periods
    incomplete = ~complete & ~drop
    if incomplete.any():
        warnings.append(
            f"{int(incomplete.sum())} unit(s) not observed in every period were dropped "
            f"({int(incomplete[panel.unit].sum())} rows): the group-time estimator compares each unit with itself "
            "across periods and needs a balanced panel."
        )
    keep = complete & ~drop
    if not keep.all():
        rows = keep[panel.unit]
        if not rows.any():
            raise DataError("No unit is observed in every period (after dropping always-treated units).")
        keep_units = np.flatnonzero(keep)
        remap = np.full(panel.n_units, -1)
        remap[keep_units] = np.arange(keep_units.size)
        unit = remap[panel.unit[rows]]
        period, g = panel.period[rows], g[keep_units]
    else:
        rows = np.ones(len(panel.unit), dtype=bool)
        unit, period = panel.unit, panel.period
    n_units = int(unit.max()) + 1
    y = np.empty((n_units, panel.n_periods))
    y[unit, period] = prep.outcome[rows]
    x = None
    if prep.covariates.k:
        cov = prep.covariates.to_array()[rows]
        x = np.empty((n_units, panel.n_periods, cov.shape[1]))
        x[unit, period, :] = cov
    sub = dataclasses.replace(panel, unit=unit, period=period, unit_labels=np.arange(n_units), time=panel.time[rows])
    w = np.ones(n_units)
    if prep.weights is not None:
        w = _per_unit(sub, prep.weights[rows], str(names[0]), "weights")
        w = w / w.mean()
    clusters = None
    if names[1] is not None:
        clusters = pd.factorize(_per_unit(sub, prep.clusters[0][rows], names[1], "cluster"))[0]
    return UnitPanel(y, x, w, g, panel.periods, clusters, tuple(prep.covariates.names)), warnings


def _timing_sample(g: np.ndarray, periods: np.ndarray, anticipation: float) -> tuple[np.ndarray, list[str], list[str]]:
    """Drop cohorts without a pre-treatment period; late cohorts become never treated."""
    g = g.copy()
    notes, warnings = [], []
    late = np.isfinite(g) & (g > periods[-1])
    if late.any():
        notes.append(f"{int(late.sum())} unit(s) first treated after the last period count as never treated")
        g[late] = np.inf
    early = np.isfinite(g) & (g - anticipation <= periods[0])
    if early.any():
        warnings.append(
            f"{int(early.sum())} unit(s) treated from the first period on (or within the anticipation window) were "
            "dropped: with no untreated period they cannot be compared with themselves."
        )
    return g, notes, warnings


# --------------------------------------------------------------------------------------------------
# public
# --------------------------------------------------------------------------------------------------


@entry
def staggered(
    data: Any,
    *,
    outcome: str,
    unit: str | None = None,
    time: str,
    first_treated: str | None = None,
    treatment: str | None = None,
    covariates: str | Iterable[str] | None = None,
    weights: str | None = None,
    control_group: str = "never",
    est_method: str = "dr",
    aggregate: str = "simple",
    base_period: str = "varying",
    anticipation: int = 0,
    window: Any = None,
    cluster: str | None = None,
    n_boot: int | None = None,
    random_state: Any = None,
    level: float = 0.95,
    missing: str = "raise",
    panel: bool = True,
    allow_unbalanced_panel: bool = False,
) -> Estimate:
    """Callaway-Sant'Anna group-time effects ATT(g, t), aggregated (see the module docstring).

    Timing comes from ``first_treated`` (first treated period per unit; 0 or missing = never) or
    ``treatment`` (0/1 that stays on). ``control_group``: "never" or "not-yet" treated units.
    ``aggregate``: "simple" (overall ATT), "event", "group" or "calendar"; the headline estimate is
    that aggregation's overall effect. ``covariates`` make parallel trends conditional on them, through
    ``est_method``: "dr" (default, as R's `did`: doubly robust, Sant'Anna and Zhao 2020), "ipw" (inverse
    probability weighting, Abadie 2005) or "reg" (outcome regression). Standard
    errors are analytic from influence functions (clustered by unit, or by ``cluster`` if it is fixed
    within units) or, with ``n_boot`` draws, from the multiplier bootstrap with uniform bands.
    ``result.coefficients`` holds every ATT(g, t) (keys group, time, event_time); the aggregation is
    ``diagnostics["aggregation"]``, the event-time aggregation ``diagnostics["event_study"]``.

    ``panel=False`` reads the rows as repeated cross-sections (``unit`` optional; each row is its own
    observation and ``first_treated`` gives its cohort); ``allow_unbalanced_panel=True`` keeps every unit of
    an unbalanced panel instead of dropping those missing a period, estimating each ATT(g, t) from the rows
    observed in its two periods with the influence function summed by unit (R's `did` with panel = FALSE /
    allow_unbalanced_panel = TRUE). Both compare means of the cohort and of its comparison group across the
    two periods; with ``covariates`` by the repeated-cross-section estimators of Sant'Anna and Zhao (2020)
    chosen by ``est_method`` (each row's covariates from its own period).
    """
    level = check_level(level)
    control_group = check_option("control_group", control_group, CONTROL_GROUPS)
    est_method = check_option("est_method", est_method, EST_METHODS)
    kind = check_option("aggregate", aggregate, AGGREGATIONS)
    base_period = check_option("base_period", base_period, BASE_PERIODS)
    anticipation = check_positive_int(anticipation, "anticipation", 0)
    n_boot = None if n_boot is None else check_positive_int(n_boot, "n_boot", 50)
    win = _parse_window(window)
    timing, from_treatment = _timing(treatment, first_treated)
    cov_names = name_list(data, covariates, "covariates")
    long_kind = _long_kind(panel, allow_unbalanced_panel, from_treatment)
    if not panel:
        data, unit = _with_row_ids(data)
    if unit is None:
        raise SpecificationError("staggered needs unit= (the panel's unit column), or panel=False for cross-sections.")
    cluster_names = [c for c in as_name_list(cluster, "cluster") if c != unit]
    if len(cluster_names) > 1:
        raise SpecificationError("cluster= takes one column (fixed within units) for the group-time estimator.")
    used = [c for c in [outcome, unit, time, timing, weights, *cov_names, *cluster_names] if c]
    roles = [("outcome", outcome), ("unit", unit), ("time", time), ("first_treated", first_treated)]
    roles += [("treatment", treatment), ("weights", weights), *[("covariates", c) for c in cov_names]]
    roles += [*[("cluster", c) for c in cluster_names]]
    frame, notes = read_timing_frame(data, first_treated, used, roles)
    prep = prepare(
        frame,
        outcome=outcome,
        covariates=cov_names,
        weights=weights,
        cluster=cluster_names,
        missing=missing,
        extra={"unit": unit, "time": time, "timing": timing},
    )
    prep = dataclasses.replace(prep, treatment_name=timing)
    panel_rows = panel_index(prep.extra["unit"], prep.extra["time"], unit, time)
    g = unit_timing(panel_rows, prep.extra["timing"], from_treatment=from_treatment, name=timing)
    g, more_notes, data_w = _timing_sample(g, panel_rows.periods, anticipation)
    early = np.isfinite(g) & (g - anticipation <= panel_rows.periods[0])
    names = (weights, cluster_names[0] if cluster_names else None)
    wide: UnitPanel | LongPanel
    if long_kind == "repeated cross-sections" or (long_kind and not panel_rows.balanced):
        wide, balance_w = _long(prep, panel_rows, g, names, early, long_kind)
        notes.append(
            f"{long_kind}: each ATT(g, t) compares the means of the rows observed in its two periods "
            f"({len(prep.outcome):,} rows, {len(wide.g):,} "
            f"{'units' if long_kind == 'unbalanced panel' else 'observations'}; no unit dropped)"
        )
    else:
        wide, balance_w = _wide(prep, panel_rows, g, names, early)
    _check_design(wide, control_group)
    cells, cell_notes = group_time_effects(wide, control_group, base_period, anticipation, est_method)
    if cov_names:
        label = {"dr": "doubly robust", "ipw": "inverse probability weighting", "reg": "outcome regression"}
        cell_notes.append(
            f"covariates enter each group-time comparison by {label[est_method]} (est_method={est_method!r})"
        )
    kinds = [kind] if kind == "event" else [kind, "event"]
    aggs = aggregate_all(cells, wide.w, wide.g, kinds, win, wide.clusters, level)
    cov_cells = if_covariance(cells.psi, wide.clusters)
    boot_info = None
    if n_boot is not None:
        cov_cells, boot_info = _bootstrap(cells, aggs, wide, n_boot, random_state, level, cov_cells)
    return _result(
        prep,
        wide,
        cells,
        aggs,
        kind,
        cov_cells,
        boot_info,
        level,
        anticipation,
        notes + more_notes + cell_notes,
        data_w + balance_w,
        control_group,
        base_period,
    )


def _long_kind(panel: Any, unbalanced: Any, from_treatment: bool) -> str:
    """ "" (the balanced-panel estimator), "repeated cross-sections" or "unbalanced panel"."""
    for name, value in (("panel", panel), ("allow_unbalanced_panel", unbalanced)):
        if not isinstance(value, (bool, np.bool_)):
            raise SpecificationError(f"{name} must be True or False, got {value!r}.")
    if panel and not unbalanced:
        return ""
    kind = "unbalanced panel" if panel else "repeated cross-sections"
    if not panel and from_treatment:
        raise SpecificationError(
            "panel=False (repeated cross-sections) needs first_treated= (each row's cohort): a 0/1 treatment= "
            "column cannot tell when a row's group started treatment."
        )
    return kind


def _with_row_ids(data: Any) -> tuple[Any, str]:
    """Repeated cross-sections: every row is its own observation (a row-number column as the unit)."""
    from ..data import load_table

    frame = load_table(data)
    name = "__deconfound_row__"
    return frame.assign(**{name: np.arange(len(frame))}), name


def _parse_window(window: Any) -> tuple[float, float] | None:
    if window is None:
        return None
    if isinstance(window, str):
        try:
            window = tuple(float(p) for p in window.split(","))
        except ValueError:
            raise SpecificationError(f"window must be two numbers such as '-5,5', got {window!r}.") from None
    try:
        lo, hi = (float(v) for v in window)
    except (TypeError, ValueError):
        raise SpecificationError(f"window must be a pair (first, last) of event times, got {window!r}.") from None
    if lo > hi:
        raise SpecificationError(f"window={window!r}: the first event time must not exceed the last.")
    return lo, hi


def _timing(treatment: str | None, first_treated: str | None) -> tuple[str, bool]:
    if (treatment is None) == (first_treated is None):
        raise SpecificationError(
            "Give exactly one of first_treated= (the period each unit's treatment starts; 0 or missing for never "
            "treated) or treatment= (a 0/1 column that switches on and stays on)."
        )
    return (treatment, True) if treatment is not None else (first_treated, False)  # type: ignore[return-value]


def _check_design(wide: UnitPanel | LongPanel, control: str) -> None:
    cohorts = np.unique(wide.g[np.isfinite(wide.g)])
    if cohorts.size == 0:
        raise DataError("No unit starts treatment within the panel: there is no effect to estimate.")
    has_never = bool(np.isinf(wide.g).any())
    if control == "never" and not has_never:
        raise DataError(
            "No never-treated units to compare with. Use control_group='not-yet' (units not yet treated serve as "
            "controls), or add never-treated units."
        )
    if cohorts.size == 1 and not has_never:
        raise DataError(
            f"Every treated unit starts at {cohorts[0]:g} and none is never treated: there is no comparison group "
            "(all units are treated at once). Add never-treated units."
        )


def _bootstrap(
    cells: Cells, aggs: dict, wide: UnitPanel | LongPanel, n_boot: int, random_state: Any, level: float, cov: np.ndarray
):
    """Multiplier-bootstrap standard errors for the cells and every aggregation (one set of draws)."""
    from .._core.influence import multiplier_bootstrap

    blocks, offsets, start = [cells.psi], {}, cells.psi.shape[1]
    for kind, agg in aggs.items():
        offsets[kind] = start
        blocks += [agg.psi, agg.overall_psi[:, None]]
        start += agg.psi.shape[1] + 1
    from .learners.seeds import seed_from

    seed = seed_from(random_state)  # an integer as given; None draws one, kept so random_state=seed reruns it
    boot = multiplier_bootstrap(np.column_stack(blocks), n_boot, np.random.default_rng(seed), wide.clusters, level)
    apply_bootstrap(aggs, boot, offsets, level)
    k = cells.psi.shape[1]
    se = np.where(cells.fixed_zero, 0.0, boot.std_error[:k])
    sd = np.sqrt(np.clip(np.diag(cov), 0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = np.where(np.outer(sd, sd) > 0, cov / np.outer(sd, sd), 0.0)
    info = {
        "n_boot": n_boot,
        "weights": "Rademacher",
        "uniform_critical_value": boot.uniform_critical_value(np.flatnonzero(~cells.fixed_zero), level),
        "seed": seed,
    }
    return corr * np.outer(se, se), info


ESTIMANDS = {
    "simple": "ATT",
    "event": "ATT (average over event times >= 0)",
    "group": "ATT (average over cohorts)",
    "calendar": "ATT (average over periods)",
}


def _cohort_counts(g: np.ndarray) -> pd.DataFrame:
    """Units per cohort, cohorts in time order (whole periods as integers), the never-treated last."""
    finite = g[np.isfinite(g)]
    periods, counts = np.unique(finite, return_counts=True)
    labels: list[Any] = [int(p) if float(p).is_integer() else float(p) for p in periods]
    values = [int(c) for c in counts]
    n_never = int(np.isinf(g).sum())
    if n_never:
        labels.append("never")
        values.append(n_never)
    return pd.DataFrame({"units": values}, index=pd.Index(labels, dtype=object, name="first_treated"))


def _cell_frame(cells: Cells, cov: np.ndarray, level: float) -> pd.DataFrame:
    from .._core.distributions import critical_value, two_sided_p

    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    crit = critical_value(level, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(se > 0, two_sided_p(cells.att / np.where(se > 0, se, 1.0), None), np.nan)
    return pd.DataFrame(
        {
            "group": cells.group,
            "time": cells.time,
            "event_time": cells.event_time,
            "base_period": cells.base,
            "estimate": cells.att,
            "std_error": se,
            "ci_low": cells.att - crit * se,
            "ci_high": cells.att + crit * se,
            "p_value": p,
        }
    )


def _event_frame(agg, level: float, cov: np.ndarray) -> pd.DataFrame:
    """The event-time aggregation; ``frame.attrs["cov"]`` holds the full analytic covariance of its estimates
    (rows and columns in the frame's order, as nested tuples), for :func:`deconfound.honest_did`."""
    from .._core.distributions import two_sided_p
    from ._staggered_agg import aggregate_frame

    frame = aggregate_frame(agg, level)
    frame.attrs["cov"] = tuple(tuple(float(v) for v in row) for row in np.asarray(cov))
    frame.insert(1, "term", [f"event_time={k:g}" for k in agg.keys])
    se = frame["std_error"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["p_value"] = np.where(se > 0, two_sided_p(frame["estimate"] / np.where(se > 0, se, 1.0), None), np.nan)
    frame["reference"] = (se == 0) & (frame["estimate"] == 0)
    return frame


def _pretrend(cells: Cells, cov: np.ndarray, anticipation: float) -> TestResult:
    pre = np.flatnonzero((cells.time < cells.group - anticipation) & ~cells.fixed_zero & (np.diag(cov) > 0))
    if pre.size == 0:
        reason = "no pre-treatment group-time effects (every cohort starts too early)"
        return TestResult.not_applicable("joint pre-trend test", reason)
    out = wald_test(cells.att, cov, pre.tolist(), None, null="every pre-treatment group-time effect is zero")
    return out.with_keys("applicable", "cells", cells=[(float(cells.group[i]), float(cells.time[i])) for i in pre])


def _result(prep, wide, cells, aggs, kind, cov, boot, level, anticipation, notes, data_w, control, base) -> Estimate:
    from ._staggered_agg import aggregate_frame

    head = aggs[kind]
    analytic_cov = if_covariance(cells.psi, wide.clusters)
    test = _pretrend(cells, analytic_cov, anticipation)
    warnings = [w for w in [pretrend_warning(test)] if w]
    names = tuple(f"ATT(g={g:g}, t={t:g})" for g, t in zip(cells.group, cells.time))
    stats = {
        "estimator": "Callaway-Sant'Anna (outcome regression)" if wide.x is not None else "Callaway-Sant'Anna",
        "control_group": control,
        "base_period": base,
        "std_errors": "multiplier bootstrap" if boot else "influence function (analytic)",
    }
    keys = {"group": tuple(cells.group), "time": tuple(cells.time), "event_time": tuple(cells.event_time)}
    table = CoefTable(names, cells.att, cov, None, stats, keys)
    cohorts = _cohort_counts(wide.g)
    diagnostics: dict[str, Any] = {
        "group_time": _cell_frame(cells, cov, level),
        "event_study": _event_frame(aggs["event"], level, if_covariance(aggs["event"].psi, wide.clusters)),
        "pretrend_test": test,
        "cohorts": cohorts,
        "n_units": len(wide.g),
        "aggregate": kind,
    }
    if kind != "simple":
        diagnostics["aggregation"] = aggregate_frame(head, level)
    if boot:
        diagnostics["bootstrap"] = boot
    if isinstance(wide, LongPanel):  # the rows of treated ids in their treated periods
        treated_cells = wide.periods[wide.row_period] >= wide.g[wide.row_id]
    else:
        treated_cells = np.isfinite(wide.g)[:, None] & (wide.periods[None, :] >= wide.g[:, None])
    n_rows = int(wide.y.size)
    notes = [
        *notes,
        f"comparison group: {'never-treated' if control == 'never' else 'not-yet-treated'} units; base period: {base}",
        "standard errors: "
        + ("multiplier bootstrap" if boot else "analytic, from influence functions")
        + (" clustered by " + repr(prep.cluster_names[0]) if wide.clusters is not None else " (clustered by unit)"),
    ]
    if not test.applicable and "rank" in test.details:  # a singular covariance: said, not a NaN p-value
        notes.append(f"joint pre-trend test not computed: {test.reason}")
    return make_estimate(
        prep,
        method="staggered",
        label="Staggered adoption (Callaway-Sant'Anna)",
        estimand=ESTIMANDS[kind],
        estimate=head.overall,
        std_error=head.overall_se,
        df=None,
        level=level,
        warnings=warnings,
        notes=notes,
        diagnostics=diagnostics,
        coefficients=table,
        data_warnings=data_w,
        n=n_rows,
        n_treated=int(treated_cells.sum()),
        n_control=n_rows - int(treated_cells.sum()),
        n_clusters=_n_clusters(wide),
    )


def _n_clusters(wide: Any) -> int:
    """The clusters of the influence-function variance: the cluster column's, else the units."""
    if wide.clusters is not None:
        return len(np.unique(wide.clusters))
    return len(wide.g)
