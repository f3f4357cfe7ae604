"""What every estimator family shares: turning warnings, notes and a fit into an Estimate."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._core.fit import OLSFit
from ..data import Prepared
from ..errors import DataWarning, DiagnosticWarning, warn
from ..results import CoefTable, Estimate


def coef_table(fit: OLSFit, names: Sequence[str] | None = None) -> CoefTable:
    return CoefTable(
        names=tuple(names if names is not None else fit.names),
        coef=fit.coef,
        cov=fit.cov,
        df=fit.df_inference,
        stats=fit.stats(),
    )


def emit(warnings: Sequence[str], category: type = DiagnosticWarning) -> None:
    for message in warnings:
        warn(message, category)


def make_estimate(
    prepared: Prepared,
    *,
    method: str,
    label: str,
    estimand: str,
    estimate: float,
    std_error: float,
    df: float | None,
    level: float,
    warnings: Sequence[str] = (),
    notes: Sequence[str] = (),
    diagnostics: Mapping[str, Any] | None = None,
    coefficients: CoefTable | None = None,
) -> Estimate:
    """Build the result and issue its warnings (diagnostic ones, plus a data warning for dropped rows)."""
    all_warnings = list(warnings)
    data_warnings = []
    if prepared.n_dropped:
        detail = ", ".join(f"{c!r}: {k}" for c, k in prepared.dropped_by.items())
        data_warnings.append(
            f"{prepared.n_dropped} of {prepared.n_input} rows were dropped for missing values ({detail})."
        )
    emit(data_warnings, DataWarning)
    emit(all_warnings, DiagnosticWarning)
    return Estimate(
        method=method,
        label=label,
        estimand=estimand,
        estimate=float(estimate),
        std_error=float(std_error),
        df=df,
        level=level,
        n=prepared.n,
        n_treated=prepared.n_treated,
        n_control=prepared.n_control,
        outcome=prepared.outcome_name,
        treatment=prepared.treatment_name,
        warnings=tuple(data_warnings + all_warnings),
        notes=tuple(prepared.notes) + tuple(notes),
        diagnostics=diagnostics or {},
        n_dropped=prepared.n_dropped,
        dropped_by=prepared.dropped_by,
        treatment_mapping=prepared.treatment_mapping,
        coefficients=coefficients,
    )
