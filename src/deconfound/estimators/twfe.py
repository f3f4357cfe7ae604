"""Two-way fixed effects: the outcome on the treatment (and covariates) with unit and period effects
(and any further fixed effects) absorbed by the within transformation, never by dummy columns.

Standard errors are clustered by unit unless told otherwise; small-sample corrections follow fixest
(see :func:`deconfound.ssc`). Observations alone in a fixed-effect group (singletons) are dropped and
reported, as fixest does. When a binary treatment starts at different times, the estimate is a
weighted average of 2x2 comparisons some of which use already-treated units as controls: the result
warns and carries the Goodman-Bacon decomposition.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._core.demean import DEMEAN_MAX_ITER, DEMEAN_TOL
from .._core.design import Design, Part, array_part
from .._core.fixed_effects import SmallSample
from .._core.options import as_name_list, check_level
from .._core.pages import entry
from ..data import Prepared, prepare
from ..diagnostics.bacon import bacon_table, summarize
from ..engines import is_engine_input
from ..errors import DataError
from ..results import Estimate
from ._base import make_estimate
from ._fe import Rows, check_tolerance, coef_table_absorbed, fit_fixed_effects, removal_messages, resolve_cluster
from ._panel import Panel, first_treated_from_treatment, panel_index


def _staggered_check(
    prep: Prepared, panel: Panel | None, d: np.ndarray, treatment: str, plain: bool
) -> tuple[list[str], list[str], dict[str, Any]]:
    """Warn when a binary treatment starts at several times; attach the Goodman-Bacon decomposition."""
    if panel is None or prep.treatment_kind != "binary":
        return [], [], {}
    g, problems = first_treated_from_treatment(panel, d, treatment)
    if problems:
        return [], [f"{problems[0]}: the staggered-timing check was skipped"], {}
    starts = np.unique(g[np.isfinite(g)])
    if len(starts) < 2:
        return [], [], {}
    text, advice = _staggered_text(starts, treatment)
    if not (plain and panel.balanced):
        why = "an unbalanced panel" if not panel.balanced else "covariates, weights or extra fixed effects"
        return [text + advice], [f"Goodman-Bacon decomposition not computed: it needs {why} to be absent"], {}
    index = np.searchsorted(panel.periods, np.where(np.isfinite(g), g, np.inf))
    table = bacon_table(prep.outcome, panel.unit, panel.period, index, panel.n_periods)
    table["treated"] = [_period(panel.periods[int(i)]) if i < panel.n_periods else np.inf for i in table["treated"]]
    table["control"] = [
        "never" if i >= panel.n_periods else _period(panel.periods[int(i)]) for i in table["control"].astype(int)
    ]
    by_kind = summarize(table)
    bad = float(by_kind["weight"].filter(like="earlier treated (already").sum())
    bad += float(by_kind["weight"].filter(like="always").sum())
    text += f": {bad:.0%} of the weight is on comparisons with already-treated controls (Goodman-Bacon)"
    return [text + advice], [], {"bacon": table, "bacon_summary": by_kind}


def _staggered_text(starts: np.ndarray, treatment: str) -> tuple[str, str]:
    shown = ", ".join(f"{s:g}" for s in starts[:6]) + (", ..." if len(starts) > 6 else "")
    text = (
        f"Treatment {treatment!r} starts at {len(starts)} different times ({shown}). Two-way fixed effects then "
        "averages every 2x2 comparison, including later-treated units compared with already-treated ones"
    )
    advice = (
        ". If effects grow or fade over time those comparisons are biased (they can even flip the sign); "
        "use staggered() (Callaway-Sant'Anna) or event_study(estimator='sun-abraham') instead."
    )
    return text, advice


def _period(value: Any) -> Any:
    """A period as read (4.0 from a float column) shown as the whole number it is (4)."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    return value.item() if isinstance(value, np.generic) else value


@entry
def twfe(
    data: Any,
    *,
    outcome: str,
    treatment: str,
    unit: str,
    time: str,
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
    """Two-way fixed effects: ``outcome ~ treatment + covariates | unit + time (+ fixed_effects)``.

    Standard errors are clustered by ``unit`` by default (``cluster`` takes one or two columns;
    ``cov_type`` "nonrobust" or "HC1" without clusters). ``weights`` are analytic (precision)
    weights. ``ssc`` sets fixest's small-sample corrections (default ``ssc()``). ``tol``/``max_iter``
    control the alternating projections. A binary treatment adopted at different times triggers a
    warning with the Goodman-Bacon decomposition (``diagnostics["bacon"]``).
    """
    level = check_level(level)
    tol, max_iter = check_tolerance(tol, max_iter)
    extra_fe = as_name_list(fixed_effects, "fixed_effects")
    cluster_names, cov = resolve_cluster(cluster, cov_type, unit, method="twfe")
    if is_engine_input(data):
        return _twfe_engine(
            data,
            outcome,
            treatment,
            unit,
            time,
            covariates,
            extra_fe,
            weights,
            cluster_names,
            cov,
            ssc,
            level,
            missing,
            tol,
            max_iter,
        )
    prep = prepare(
        data,
        outcome=outcome,
        treatment=treatment,
        covariates=covariates,
        weights=weights,
        cluster=cluster_names,
        extra={"unit": unit, "time": time, **{f"fe:{f}": f for f in extra_fe}},
        missing=missing,
        treatment_kind="auto",
    )
    assert prep.treatment is not None
    design = Design([array_part(treatment, prep.treatment)], prep.n).with_parts(prep.covariates.parts)
    panel = _maybe_panel(prep, unit, time)
    if panel is not None:  # reuse the panel's codes instead of hashing the columns again
        fe_columns = [(unit, panel.unit), (time, panel.period)]
    else:
        fe_columns = [(unit, prep.extra["unit"]), (time, prep.extra["time"])]
    fe_columns += [(f, prep.extra[f"fe:{f}"]) for f in extra_fe]
    model = fit_fixed_effects(
        Rows.build(prep, design.to_array(), design.names, fe_columns),
        cov_type=cov,
        small_sample=ssc,
        tol=tol,
        max_iter=max_iter,
        protect=[treatment],
        overwrite_x=True,  # the design's array is built here for this fit only
    )
    data_w, conv_w = removal_messages(model, [name for name, _ in fe_columns])
    plain = prep.covariates.k == 0 and prep.weights is None and not extra_fe and model.n_singletons == 0
    warn_s, notes, diagnostics = _staggered_check(prep, panel, prep.treatment, treatment, plain)
    fit = model.absorbed.fit
    diagnostics.update(
        {
            "fixed_effects": dict(zip(model.absorbed.fe_names, model.absorbed.fe_sizes)),
            "n_singletons": model.n_singletons,
            "condition_number": fit.cond_no,
        }
    )
    notes.append(_cov_note(cov, prep.cluster_names, unit))
    continuous = prep.treatment_kind == "continuous"
    n_used = fit.n
    d_used = prep.treatment if model.keep is None else prep.treatment[model.keep]
    return make_estimate(
        prep,
        method="twfe",
        label="Two-way fixed effects",
        estimand="ATE (per unit)" if continuous else "ATT",
        estimate=float(fit.coef[0]),
        std_error=float(np.sqrt(fit.cov[0, 0])),
        df=fit.df_inference,
        level=level,
        warnings=warn_s,
        notes=notes,
        diagnostics=diagnostics,
        coefficients=coef_table_absorbed(model),
        fit=fit,
        data_warnings=data_w,
        convergence_warnings=conv_w,
        n_treated=None if continuous else int((d_used == 1).sum()),
        n_control=None if continuous else int(n_used - (d_used == 1).sum()),
        n=n_used,
    )


def _twfe_engine(
    data: Any,
    outcome: str,
    treatment: str,
    unit: str,
    time: str,
    covariates: str | Iterable[str] | None,
    extra_fe: list[str],
    weights: str | None,
    cluster_names: list[str],
    cov: str,
    ssc: SmallSample | None,
    level: float,
    missing: str,
    tol: float,
    max_iter: int,
) -> Estimate:
    """:func:`twfe` on rows that stay on an engine (DuckDB, Dask, Spark): the same singleton removal, the
    alternating projections as grouped sums over passes, then the cross-products and the residual pass of
    the demeaned columns (``_engine_panel``). The staggered-timing warning comes from two passes (each unit's
    first treated period; rows untreated after it); the Goodman-Bacon decomposition needs the panel in memory."""
    from ..data import prepare_engine
    from ._engine_panel import fit_fixed_effects_engine

    fe_cols = [(unit, "unit"), (time, "time"), *[(f, "fixed_effects") for f in extra_fe]]
    prep = prepare_engine(
        data,
        outcome=outcome,
        treatment=treatment,
        covariates=covariates,
        weights=weights,
        cluster=cluster_names,
        missing=missing,
        treatment_kind="auto",
        factors=[(role, col) for col, role in fe_cols],
    )
    design = Design([Part(treatment, prep.templates["t"], source=treatment)], prep.n).with_parts(prep.covariates.parts)
    fe_names = [col for col, _ in fe_cols]
    done = fit_fixed_effects_engine(
        prep, design, fe_names=fe_names, cov_type=cov, small_sample=ssc, tol=tol, max_iter=max_iter, protect=[treatment]
    )
    model = done.model
    data_w, conv_w = removal_messages(model, fe_names)
    fit = model.absorbed.fit
    diagnostics: dict[str, Any] = {
        "fixed_effects": dict(zip(model.absorbed.fe_names, model.absorbed.fe_sizes)),
        "n_singletons": model.n_singletons,
        "condition_number": fit.cond_no,
    }
    from ._engine_panel import staggered_starts

    warn_s, notes = [], []
    found = staggered_starts(prep, treatment)
    if isinstance(found, str):
        notes.append(f"{found}: the staggered-timing check was skipped")
    elif found is not None and len(found) >= 2:
        text, advice = _staggered_text(found, treatment)
        warn_s.append(text + advice)
        notes.append("Goodman-Bacon decomposition not computed: it needs the panel in memory")
    notes += [
        _cov_note(cov, prep.cluster_names, unit),
        f"on the {prep.engine.name} engine: {done.passes + (found is not None) * 2} passes over the rows after the "
        "schema pass, of which "
        f"the fixed effects took {done.sweeps} sweep(s) of alternating projections (one pass per factor per sweep)",
    ]
    continuous = prep.treatment_kind == "continuous"
    return make_estimate(
        prep,  # type: ignore[arg-type]
        method="twfe",
        label="Two-way fixed effects",
        estimand="ATE (per unit)" if continuous else "ATT",
        estimate=float(fit.coef[0]),
        std_error=float(np.sqrt(fit.cov[0, 0])),
        df=fit.df_inference,
        level=level,
        warnings=warn_s,
        notes=notes,
        diagnostics=diagnostics,
        coefficients=coef_table_absorbed(model),
        fit=fit,
        data_warnings=data_w,
        convergence_warnings=conv_w,
        n_treated=None if continuous else done.n_treated,
        n_control=None if continuous else done.n - done.n_treated,
        n=done.n,
    )


def _maybe_panel(prep: Prepared, unit: str, time: str) -> Panel | None:
    """The panel index when time is numeric and (unit, time) pairs are unique; else None."""
    t = pd.Series(prep.extra["time"])
    if not pd.api.types.is_numeric_dtype(t.dtype) or pd.api.types.is_bool_dtype(t.dtype):
        return None
    try:
        return panel_index(prep.extra["unit"], prep.extra["time"], unit, time)
    except DataError:
        return None


def _cov_note(cov: str, clusters: Sequence[str], unit: str) -> str:
    if cov == "cluster":
        default = " (the default)" if list(clusters) == [unit] else ""
        return f"standard errors clustered by {' and '.join(repr(c) for c in clusters)}{default}"
    return f"standard errors: {cov}"
