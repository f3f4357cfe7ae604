"""Event studies: effects by time relative to treatment (leads and lags), with unit and period effects.

Event time is the period minus the unit's first treated period. Each event time in the window gets
its own coefficient except the reference period (default -1, the period just before treatment),
which is the baseline every other coefficient is measured against; event times beyond the window are
pooled into the two endpoints (``bin_endpoints=True``) or dropped. Leads (negative event times) test
parallel pre-trends jointly (``diagnostics["pretrend_test"]``).

Two estimators:

* ``"twfe"``: one coefficient per event time in a two-way fixed-effects regression (the classic
  dynamic specification). With staggered timing and effects that differ across cohorts its
  coefficients mix in other periods' effects (Sun and Abraham 2021).
* ``"sun-abraham"``: the interaction-weighted estimator. One coefficient per cohort and event time,
  relative to never-treated units (``control_group="never"``) or to the last cohort to be treated
  (``"last"``, whose periods from its treatment on are dropped), then averaged per event time with
  each cohort's share of the observations at that event time. Standard errors treat the shares as
  fixed (as fixest's ``aggregate`` does).

The headline estimate is the average of the post-treatment event-time coefficients (0 .. window end).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._core.demean import DEMEAN_MAX_ITER, DEMEAN_TOL
from .._core.fixed_effects import SmallSample
from .._core.options import as_name_list, check_level, check_option
from .._core.pages import entry
from ..data import name_list, prepare
from ..diagnostics.pretrends import pretrend_test, pretrend_warning
from ..errors import DataError, SpecificationError
from ..results import CoefTable, Estimate
from ._base import make_estimate
from ._fe import AbsorbedModel, Rows, check_tolerance, fit_fixed_effects, removal_messages, resolve_cluster
from ._panel import event_time, panel_index, read_timing_frame, unit_timing

ESTIMATORS = ("twfe", "sun-abraham")
SA_CONTROLS = ("never", "last")


def parse_window(window: Any) -> tuple[float, float]:
    """A window (first, last) of event times, from a pair or a string such as "-5,5"."""
    if isinstance(window, str):
        parts = [p.strip() for p in window.split(",")]
        try:
            window = tuple(float(p) for p in parts)
        except ValueError:
            raise SpecificationError(f"window must be two numbers such as '-5,5', got {window!r}.") from None
    try:
        lo, hi = (float(v) for v in window)
    except (TypeError, ValueError):
        raise SpecificationError(f"window must be a pair (first, last) of event times, got {window!r}.") from None
    if not lo < 0 <= hi:
        raise SpecificationError(
            f"window={window!r} must start before 0 and end at 0 or later (e.g. (-5, 5)): it needs pre-treatment "
            "periods for the reference and post-treatment periods for the effects."
        )
    return lo, hi


def _label(k: float, lo: float, hi: float, binned: bool) -> str:
    if binned and k == lo:
        return f"event_time<={k:g}"
    if binned and k == hi:
        return f"event_time>={k:g}"
    return f"event_time={k:g}"


def _dummies(cells: Sequence[tuple[Any, float]], cohort: np.ndarray | None, e: np.ndarray) -> np.ndarray:
    x = np.zeros((len(e), len(cells)), order="F")
    for j, (c, k) in enumerate(cells):
        x[:, j] = (e == k) if c is None else ((e == k) & (cohort == c))
    return x


def _aggregate(model: AbsorbedModel, cells: list[tuple[Any, float]], e: np.ndarray, cohort: np.ndarray) -> tuple:
    """Sun-Abraham: average cohort x event-time coefficients with cohort shares at each event time."""
    fit = model.absorbed.fit
    keep = np.ones(len(e), dtype=bool) if model.keep is None else model.keep
    w = model.weights if model.weights is not None else np.ones(int(keep.sum()))
    e_k, c_k = e[keep], cohort[keep]
    times = sorted({k for _, k in cells})
    agg = np.zeros((len(times), len(fit.coef)))
    rows = []
    for j, (c, k) in enumerate(cells):
        mass = float(w[(e_k == k) & (c_k == c)].sum())
        agg[times.index(k), j] = mass
        rows.append({"cohort": c, "event_time": k, "estimate": fit.coef[j], "std_error": np.sqrt(fit.cov[j, j])})
    totals = agg.sum(axis=1, keepdims=True)
    agg = agg / totals
    shares = [agg[times.index(k), j] for j, (_, k) in enumerate(cells)]
    cohort_table = pd.DataFrame(rows).assign(weight=shares)
    return times, agg, cohort_table


def _overall(coef: np.ndarray, cov: np.ndarray, times: Sequence[float | None]) -> tuple[float, float, list[float]]:
    post = [i for i, k in enumerate(times) if k is not None and k >= 0]
    a = np.zeros(len(coef))
    a[post] = 1.0 / len(post)
    return float(a @ coef), float(np.sqrt(a @ cov @ a)), [times[i] for i in post]  # type: ignore[misc]


def _event_frame(table: CoefTable, times: Sequence[float | None], ref: float, level: float) -> pd.DataFrame:
    idx = [i for i, k in enumerate(times) if k is not None]
    ci = table.conf_int(level)
    frame = pd.DataFrame(
        {
            "event_time": [times[i] for i in idx],
            "term": [table.names[i] for i in idx],
            "estimate": table.coef[idx],
            "std_error": table.std_err[idx],
            "ci_low": ci[idx, 0],
            "ci_high": ci[idx, 1],
            "p_value": table.pvalues[idx],
            "reference": False,
        }
    )
    ref_row = {"event_time": ref, "term": "reference", "estimate": 0.0, "std_error": 0.0, "ci_low": 0.0}
    ref_row.update({"ci_high": 0.0, "p_value": np.nan, "reference": True})
    frame = pd.concat([frame, pd.DataFrame([ref_row])], ignore_index=True)
    return frame.sort_values("event_time").reset_index(drop=True)


def _timing_column(treatment: str | None, first_treated: str | None) -> tuple[str, bool]:
    if (treatment is None) == (first_treated is None):
        raise SpecificationError(
            "Give exactly one of treatment= (a 0/1 column that switches on and stays on) or first_treated= "
            "(the period each unit's treatment starts; 0 or missing for never treated)."
        )
    return (treatment, True) if treatment is not None else (first_treated, False)  # type: ignore[return-value]


def _select_units(panel, g: np.ndarray, estimator: str, control: str) -> tuple[np.ndarray, np.ndarray, list, list]:
    """Rows to keep, the timing used, data warnings and notes (always-treated units, late cohorts)."""
    g = g.copy()
    warnings, notes = [], []
    late = np.isfinite(g) & (g > panel.periods[-1])
    if late.any():
        notes.append(f"{int(late.sum())} unit(s) first treated after the last period are never treated here")
        g[late] = np.inf
    always = np.isfinite(g) & (g <= panel.periods[0])
    keep = ~always[panel.unit]
    if always.any():
        warnings.append(
            f"{int(always.sum())} unit(s) treated from the first period on were dropped ({int((~keep).sum())} rows): "
            "with no period before treatment they cannot be compared with themselves."
        )
    cohorts = np.unique(g[np.isfinite(g) & ~always])
    has_never = bool(np.isinf(g).any())
    if cohorts.size == 0:
        raise DataError(
            f"No unit starts treatment within the panel ({panel.time_name!r}); there is no effect to study."
        )
    if estimator == "sun-abraham" and control == "never" and not has_never:
        raise DataError(
            "No never-treated units: the Sun-Abraham estimator needs a control cohort. Use control_group='last' "
            "(the last cohort to be treated serves as control until it is treated)."
        )
    if estimator == "sun-abraham" and control == "last":
        if cohorts.size < 2 and not has_never:
            raise DataError("control_group='last' needs at least two cohorts (the last one is the control).")
        last = cohorts[-1]
        keep &= panel.time < last
        notes.append(f"cohort {last:g} (the last treated) is the control; periods from {last:g} on are dropped")
    elif cohorts.size == 1 and not has_never:
        raise DataError(
            f"Every treated unit starts at {cohorts[0]:g} and no unit is never treated: event time is then the "
            "calendar period, so its effects cannot be told apart from the period effects. Add never-treated "
            "units, or compare periods with a before/after design instead."
        )
    return keep, g, warnings, notes


def _cells(e: np.ndarray, cohort: np.ndarray, ref: float, estimator: str, control_cohort: float | None) -> list:
    treated = np.isfinite(e)
    if estimator == "twfe":
        ks = np.unique(e[treated])
        if ref not in ks:
            raise DataError(f"The reference period {ref:g} is not observed for any treated unit; choose another.")
        return [(None, float(k)) for k in ks if k != ref]
    cells = []
    for c in np.unique(cohort[treated]):
        if control_cohort is not None and c == control_cohort:
            continue
        ks = np.unique(e[treated & (cohort == c)])
        if ref not in ks:
            raise DataError(
                f"Cohort {c:g} is never observed at the reference event time {ref:g}; choose another reference "
                "period or balance the panel."
            )
        cells += [(float(c), float(k)) for k in ks if k != ref]
    return cells


@entry
def event_study(
    data: Any,
    *,
    outcome: str,
    unit: str,
    time: str,
    treatment: str | None = None,
    first_treated: str | None = None,
    window: Any = (-5, 5),
    ref_period: float = -1,
    bin_endpoints: bool = True,
    estimator: str = "twfe",
    control_group: str = "never",
    covariates: str | Iterable[str] | None = None,
    fixed_effects: str | Iterable[str] | None = None,
    weights: str | None = None,
    cluster: str | Iterable[str] | None = None,
    cov_type: str | None = None,
    ssc: SmallSample | None = None,
    level: float = 0.95,
    missing: str = "raise",
    tol: float = DEMEAN_TOL,
    max_iter: int = DEMEAN_MAX_ITER,
) -> Estimate:
    """Leads and lags of treatment with unit and period fixed effects (see the module docstring).

    Timing comes from ``treatment`` (0/1 that stays on) or ``first_treated`` (first treated period per
    unit; 0 or missing = never). ``window`` = (first, last) event time; ``ref_period`` is the omitted
    baseline; ``estimator`` is "twfe" or "sun-abraham" (``control_group`` "never" or "last").
    Standard errors are clustered by unit by default. The coefficients (``result.coefficients``, keyed
    by ``event_time``), a plot-ready table (``diagnostics["event_study"]``) and the joint pre-trend
    test (``diagnostics["pretrend_test"]``) are on the result.
    """
    level = check_level(level)
    estimator = check_option("estimator", estimator, ESTIMATORS)
    control_group = check_option("control_group", control_group, SA_CONTROLS)
    tol, max_iter = check_tolerance(tol, max_iter)
    lo, hi = parse_window(window)
    ref = _check_ref(ref_period, lo)
    timing, from_treatment = _timing_column(treatment, first_treated)
    extra_fe = as_name_list(fixed_effects, "fixed_effects")
    cluster_names, cov = resolve_cluster(cluster, cov_type, unit, method="event_study")
    cov_names = name_list(data, covariates, "covariates")
    used = [c for c in [outcome, unit, time, timing, weights, *cov_names, *extra_fe, *cluster_names] if c]
    roles = [("outcome", outcome), ("unit", unit), ("time", time), ("first_treated", first_treated)]
    roles += [("treatment", treatment), ("weights", weights), *[("covariates", c) for c in cov_names]]
    roles += [*[("cluster", c) for c in cluster_names], *[("fixed_effects", f) for f in extra_fe]]
    frame, notes = read_timing_frame(data, first_treated, used, roles)
    prep = prepare(
        frame,
        outcome=outcome,
        covariates=cov_names,
        weights=weights,
        cluster=cluster_names,
        missing=missing,
        extra={"unit": unit, "time": time, "timing": timing, **{f"fe:{f}": f for f in extra_fe}},
    )
    prep = dataclasses.replace(prep, treatment_name=timing)
    panel = panel_index(prep.extra["unit"], prep.extra["time"], unit, time)
    g = unit_timing(panel, prep.extra["timing"], from_treatment=from_treatment, name=timing)
    keep, g, data_w, more_notes = _select_units(panel, g, estimator, control_group)
    notes += more_notes
    e = event_time(panel, g)
    if bin_endpoints:
        e = np.clip(e, lo, hi)
    else:
        outside = np.isfinite(e) & ((e < lo) | (e > hi))
        if (outside & keep).any():
            data_w.append(
                f"{int((outside & keep).sum())} treated row(s) outside the window {lo:g}..{hi:g} were dropped."
            )
        keep &= ~outside
    cohort = g[panel.unit]
    control_cohort = float(np.max(cohort[np.isfinite(cohort)])) if control_group == "last" else None
    if estimator == "sun-abraham" and control_group == "last":
        e = np.where(cohort == control_cohort, np.nan, e)
    cells = _cells(e[keep], cohort[keep], ref, estimator, control_cohort)
    x_cov = prep.covariates.to_array()
    x = np.column_stack([_dummies(cells, cohort if estimator != "twfe" else None, e), x_cov])
    names = [_cell_name(c, k, lo, hi, bin_endpoints) for c, k in cells] + list(prep.covariates.names)
    factors = [(unit, prep.extra["unit"]), (time, prep.extra["time"])] + [(f, prep.extra[f"fe:{f}"]) for f in extra_fe]
    rows = Rows.build(prep, x, names, factors).take(keep)
    model = fit_fixed_effects(
        rows, cov_type=cov, small_sample=ssc, tol=tol, max_iter=max_iter, protect=names[: len(cells)]
    )
    table, times, extra = _result_table(model, cells, e[keep], cohort[keep], estimator, lo, hi, bin_endpoints)
    return _finish(prep, model, table, times, extra, ref, level, estimator, notes, data_w, factors, cov, keep, e)


def _check_ref(ref_period: Any, lo: float) -> float:
    try:
        ref = float(ref_period)
    except (TypeError, ValueError):
        raise SpecificationError(f"ref_period must be a number (e.g. -1), got {ref_period!r}.") from None
    if not lo <= ref < 0:
        raise SpecificationError(
            f"ref_period={ref_period!r} must be a pre-treatment event time inside the window (between {lo:g} and -1)."
        )
    return ref


def _cell_name(c: float | None, k: float, lo: float, hi: float, binned: bool) -> str:
    label = _label(k, lo, hi, binned)
    return label if c is None else f"cohort={c:g}:{label}"


def _result_table(
    model: AbsorbedModel,
    cells: list,
    e: np.ndarray,
    cohort: np.ndarray,
    estimator: str,
    lo: float,
    hi: float,
    binned: bool,
) -> tuple[CoefTable, list, dict[str, Any]]:
    fit = model.absorbed.fit
    stats = model.absorbed.stats()
    stats["n_singletons"] = model.n_singletons
    if estimator == "twfe":
        times = [k for _, k in cells] + [None] * (len(fit.names) - len(cells))
        table = CoefTable(tuple(fit.names), fit.coef, fit.cov, fit.df_inference, stats, {"event_time": tuple(times)})
        return table, times, {}
    times, agg, cohort_table = _aggregate(model, cells, e, cohort)
    coef = agg @ fit.coef
    cov = agg @ fit.cov @ agg.T
    names = tuple(_label(k, lo, hi, binned) for k in times)
    table = CoefTable(names, coef, 0.5 * (cov + cov.T), fit.df_inference, stats, {"event_time": tuple(times)})
    return table, list(times), {"cohort_effects": cohort_table}


def _finish(prep, model, table, times, extra, ref, level, estimator, notes, data_w, factors, cov, keep, e):
    test = pretrend_test(table.coef, table.cov, times, table.df)
    warnings = [w for w in [pretrend_warning(test)] if w]
    estimate, se, post = _overall(table.coef, table.cov, times)
    more_data, conv = removal_messages(model, [name for name, _ in factors])
    frame = _event_frame(table, times, ref, level)
    diagnostics = {
        "event_study": frame,
        "pretrend_test": test,
        "reference_period": ref,
        "n_singletons": model.n_singletons,
        **extra,
    }
    how = "clustered by " + " and ".join(map(repr, prep.cluster_names)) if cov == "cluster" else cov
    notes = [
        *notes,
        f"estimate: average of the post-treatment event-time effects ({', '.join(f'{k:g}' for k in post)})",
        f"standard errors: {how}",
    ]
    rows_used = model.absorbed.fit.n
    e_used = e[keep] if model.keep is None else e[keep][model.keep]
    n_post = int((np.isfinite(e_used) & (e_used >= 0)).sum())
    label = "Event study (Sun-Abraham)" if estimator == "sun-abraham" else "Event study (two-way fixed effects)"
    return make_estimate(
        prep,
        method="event-study",
        label=label,
        estimand="ATT (average over event times >= 0)",
        estimate=estimate,
        std_error=se,
        df=table.df,
        level=level,
        warnings=warnings,
        notes=notes,
        diagnostics=diagnostics,
        coefficients=table,
        fit=model.absorbed.fit,
        data_warnings=data_w + more_data,
        convergence_warnings=conv,
        n=rows_used,
        n_treated=n_post,
        n_control=rows_used - n_post,
    )
