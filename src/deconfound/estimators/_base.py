"""What every estimator family shares: turning warnings, notes and a fit into an Estimate."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._core.least_squares import OLSFit
from ..data import Prepared
from ..errors import ConvergenceWarning, DataError, DataWarning, DiagnosticWarning, warn
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
    fit: OLSFit | None = None,
    n_clusters: int | None = None,
) -> Estimate:
    """Build the result and issue its warnings (diagnostic ones, plus a data warning for dropped rows).

    ``data_warnings`` (rows removed for other reasons: singletons, unbalanced units) are issued as
    DataWarning and ``convergence_warnings`` as ConvergenceWarning; all are kept on the result.
    ``n``, ``n_treated`` / ``n_control`` override the counts of the prepared rows (e.g. after singletons
    were removed). ``fit`` (the regression behind the estimate) adds what its covariance cannot support
    (few clusters); ``n_clusters`` does the same for variances clustered outside a regression.

    A standard error of exactly zero is refused (a perfect fit, or an outcome so small that its variance
    underflows): no false precision.
    """
    all_warnings = list(warnings) + list(fit.warnings if fit is not None else ())
    all_warnings += _cluster_warnings(n_clusters, std_error, all_warnings)
    _check_std_error(prepared, std_error, estimate, fit)
    data_warnings = list(data_warnings)
    n_zero = prepared.n_zero_weight
    if n_zero:  # the data layer lists the zero-weight count last in dropped_by
        data_warnings.insert(0, f"{n_zero} of {prepared.n_input} rows with weight 0 were left out (not observations).")
    if prepared.n_dropped > n_zero:
        by_column = list(prepared.dropped_by.items())[: -1 if n_zero else None]
        detail = ", ".join(f"{c!r}: {k}" for c, k in by_column)
        data_warnings.insert(
            0, f"{prepared.n_dropped - n_zero} of {prepared.n_input} rows were dropped for missing values ({detail})."
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
        input_index=prepared.input_index,
    )


def _cluster_warnings(n_clusters: int | None, std_error: float, said: Sequence[str]) -> list[str]:
    """For variances clustered outside a regression (influence functions): the same words as the core's."""
    from .._core.covariance import SMALL_CLUSTERS, cancelled_message, few_clusters_message

    if n_clusters is None or any("clusters" in s for s in said):
        return []
    if n_clusters <= 2 and not (math.isfinite(std_error) and std_error > 0):
        return [cancelled_message(n_clusters, ["the effect"])]
    return [few_clusters_message(n_clusters)] if n_clusters < SMALL_CLUSTERS else []


#: a standard error below this share of the estimate is rounding, not uncertainty
ROUNDING_SE = 1e-12


def _check_std_error(prepared: Prepared, std_error: float, estimate: float, fit: OLSFit | None) -> None:
    exact_fit = fit is not None and fit.tss > 0 and fit.ssr <= 1e-24 * fit.tss
    rounding = math.isfinite(estimate) and 0 <= std_error <= ROUNDING_SE * abs(estimate)
    if (std_error == 0.0 or exact_fit or rounding) and math.isfinite(estimate):
        y = prepared.outcome
        scale = float(np.max(np.abs(y))) if y is not None and len(y) else float("nan")
        if 0 < scale < 1e-150:
            raise DataError(
                f"The standard error underflows to 0: the outcome {prepared.outcome_name!r} is about {scale:.0e} "
                "in size, too small for its variance to be represented. Rescale it (e.g. multiply by 1e150)."
            )
        raise DataError(
            f"The standard error is 0 up to rounding: the outcome {prepared.outcome_name!r} is an exact function "
            "of the treatment and covariates (for instance a copy of the treatment), so the data carry no uncertainty "
            "to estimate. Check that the outcome and treatment columns are the ones you meant."
        )
