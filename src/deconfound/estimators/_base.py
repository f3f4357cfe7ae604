"""What every estimator family shares: turning warnings, notes and a fit into an Estimate."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._core.least_squares import OLSFit
from ..data import Prepared
from ..errors import ConvergenceWarning, DataWarning, DiagnosticWarning, warn
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
    data_warnings: Sequence[str] = (),
    convergence_warnings: Sequence[str] = (),
    n_treated: int | None = None,
    n_control: int | None = None,
    n: int | None = None,
) -> Estimate:
    """Build the result and issue its warnings (diagnostic ones, plus a data warning for dropped rows).

    ``data_warnings`` (rows removed for other reasons: singletons, unbalanced units) are issued as
    DataWarning and ``convergence_warnings`` as ConvergenceWarning; all are kept on the result.
    ``n``, ``n_treated`` / ``n_control`` override the counts of the prepared rows (e.g. after singletons
    were removed).
    """
    all_warnings = list(warnings)
    data_warnings = list(data_warnings)
    if prepared.n_dropped:
        detail = ", ".join(f"{c!r}: {k}" for c, k in prepared.dropped_by.items())
        data_warnings.insert(
            0, f"{prepared.n_dropped} of {prepared.n_input} rows were dropped for missing values ({detail})."
        )
    emit(data_warnings, DataWarning)
    emit(convergence_warnings, ConvergenceWarning)
    emit(all_warnings, DiagnosticWarning)
    return Estimate(
        method=method,
        label=label,
        estimand=estimand,
        estimate=float(estimate),
        std_error=float(std_error),
        df=df,
        level=level,
        n=prepared.n if n is None else n,
        n_treated=prepared.n_treated if n_treated is None else n_treated,
        n_control=prepared.n_control if n_control is None else n_control,
        outcome=prepared.outcome_name,
        treatment=prepared.treatment_name,
        warnings=tuple(data_warnings + list(convergence_warnings) + all_warnings),
        notes=tuple(prepared.notes) + tuple(notes),
        diagnostics=diagnostics or {},
        n_dropped=prepared.n_dropped,
        dropped_by=prepared.dropped_by,
        treatment_mapping=prepared.treatment_mapping,
        coefficients=coefficients,
    )
