"""The report's views of a double machine learning estimate: how good the cross-fitted nuisances are
out of fold, and how much the estimate moves from fold to fold and from one sample split to another.

Registered with :func:`deconfound.report.sections.renders` for the diagnostics keys
``nuisance_quality`` and ``spread`` (the DML entries of the registry leave them on their results); a
nuisance that predicts no better than a constant also puts a warning box at the top of the section
(:func:`deconfound.report.sections.notices`). Everything is read from the Estimate's diagnostics.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from ..results import Estimate
from .content import ReportFigure, ReportTable, figure, frame_table
from .sections import notices, renders

Items = list[ReportTable | ReportFigure]

QUALITY_COLUMNS = {
    "learner": "learner",
    "target": "predicts",
    "n": "rows",
    "rmse": "RMSE",
    "r_squared": "R2 (out of fold)",
    "log_loss": "log loss",
    "log_loss_constant": "log loss of the base rate",
    "brier": "Brier score",
    "calibration_error": "calibration error",
}


def _fmt(x: Any, digits: int = 4) -> str:
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return "-" if math.isnan(float(x)) else f"{float(x):.{digits}g}"
    return str(x)


def constant_nuisances(quality: pd.DataFrame) -> list[str]:
    """The nuisances that predict no better than a constant: out-of-fold R2 at most 0, or a probability's
    log loss no better than the base rate's (the rule of the NuisanceWarning)."""
    out = []
    for name, row in quality.iterrows():
        r2 = float(row["r_squared"])
        worse = not math.isnan(float(row["log_loss"])) and float(row["log_loss"]) >= float(row["log_loss_constant"])
        if r2 <= 0.0 or worse:
            out.append(str(name))
    return out


@renders("nuisance_quality")
def nuisance_quality_table(estimate: Estimate, value: Any) -> Items:
    if not isinstance(value, pd.DataFrame):
        return []
    frame = value[[c for c in QUALITY_COLUMNS if c in value.columns]].copy()
    probability = frame["log_loss"].notna() if "log_loss" in frame else pd.Series(False, index=frame.index)
    if not probability.any():
        frame = frame.drop(
            columns=[c for c in ("log_loss", "log_loss_constant", "brier", "calibration_error") if c in frame.columns]
        )
    for column in frame.columns:
        if column not in ("learner", "target", "n"):
            frame[column] = frame[column].map(_fmt)
    frame = frame.rename(columns=QUALITY_COLUMNS)
    dml = estimate.diagnostics.get("dml", {})
    caption = (
        f"Each nuisance is fitted on all folds but one and predicts the held-out fold ({dml.get('folds', 'K')} folds, "
        f"{dml.get('repeats', 1)} repetition(s), averaged). An R2 at or below 0 (or, for a probability, a log loss "
        "no better than predicting the base rate) means the learner predicts no better than a constant. The "
        "calibration error is the mean gap between predicted and observed rates over ten bins of the prediction."
    )
    return [frame_table(f"dml-quality-{id(estimate)}", f"Nuisance quality: {estimate.name}", frame, caption)]


@notices("nuisance_quality")
def nuisance_warnings(estimate: Estimate, value: Any) -> list[str]:
    if not isinstance(value, pd.DataFrame):
        return []
    bad = constant_nuisances(value)
    if not bad:
        return []
    words = ", ".join(f"{n} ({value.loc[n, 'target']})" for n in bad)
    return [
        f"{estimate.name}: the nuisance(s) {words} predict no better than a constant out of fold. If that target "
        "is truly unrelated to the covariates (a randomized treatment) this is expected; otherwise the learner "
        "is not learning and the estimate leans on a poor adjustment: tune the learner or choose another."
    ]


@renders("spread")
def spread_items(estimate: Estimate, value: Any) -> Items:
    from ..plots.dml import dml_spread_plot

    reps = estimate.diagnostics.get("repetitions")
    summary = dict(value) if isinstance(value, dict) else {}
    rows = [
        ("estimate (aggregated)", _fmt(estimate.estimate)),
        ("standard error", _fmt(estimate.std_error)),
        ("repetitions", str(0 if reps is None else len(reps))),
        (
            "repetition estimates, min to max",
            f"{_fmt(summary.get('repetition_min'))} to {_fmt(summary.get('repetition_max'))}",
        ),
        ("sd across repetitions", _fmt(summary.get("repetition_sd"))),
        ("sd across folds", _fmt(summary.get("fold_sd"))),
    ]
    table = pd.DataFrame(rows, columns=["", "value"]).set_index("")
    sd_rep = summary.get("repetition_sd") or 0.0
    caption = (
        "How much the estimate depends on the random sample split. A spread across repetitions that is large "
        "against the standard error means the split matters: use more repetitions."
    )
    if reps is not None and len(reps) > 1 and estimate.std_error and sd_rep > 0.5 * estimate.std_error:
        caption += f" Here it is {sd_rep / estimate.std_error:.2f} standard errors."
    key = f"dml-spread-{id(estimate)}"
    items: Items = [frame_table(key, f"Fold and repetition spread: {estimate.name}", table, caption)]
    items.append(
        figure(
            f"{key}-plot",
            f"Fold and repetition estimates: {estimate.name}",
            dml_spread_plot(estimate),
            "dots: each fold's estimate; squares and bars: each repetition's estimate and 95% interval",
        )
    )
    return items
