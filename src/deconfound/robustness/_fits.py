"""The auxiliary regressions the sensitivity analyses need: a column (the treatment) on the covariates."""

from __future__ import annotations

import warnings
from typing import Any

import pandas as pd

from ..errors import SpecificationError


def regress_on_covariates(data: pd.DataFrame, target: str, covariates: list[str], weights: str | None) -> Any:
    """OLS of ``target`` on ``covariates`` (all of them, as terms of the coefficient table).

    :func:`deconfound.ols` estimates a treatment's coefficient, so one numeric covariate takes the
    treatment's place; the fit (coefficients, R-squared, residual df) is the same. The covariates'
    diagnostics (collinearity and the like) were already given by the outcome regression: they are not
    repeated."""
    from ..estimators.regression import ols

    pivot = next((c for c in covariates if pd.api.types.is_numeric_dtype(data[c])), None)
    if pivot is None:
        raise SpecificationError("this sensitivity analysis needs at least one numeric covariate among covariates=.")
    others = [c for c in covariates if c != pivot]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ols(data, outcome=target, treatment=pivot, covariates=others or None, weights=weights)


def regression_design(
    data: Any, outcome: str, treatment: str, covariates: Any, cluster: Any, missing: str, treated_level: Any
) -> tuple[Any, Any, Any, list[str], Any]:
    """The regression adjustment's design as :func:`deconfound.ols` builds it (a constant, the treatment,
    the covariates): (X as an array, y, the first cluster's codes or None, the term names, the prepared data)."""
    import numpy as np

    from .._core.design import array_part, constant_part
    from ..data import prepare

    prep = prepare(
        data,
        outcome=outcome,
        treatment=treatment,
        covariates=covariates,
        cluster=cluster,
        missing=missing,
        treatment_kind="auto",
        treated_level=treated_level,
    )
    assert prep.treatment is not None
    design = prep.covariates.with_parts([constant_part(), array_part(treatment, prep.treatment)], front=True)
    codes = prep.clusters[0] if prep.clusters else None
    return design.to_array(), np.asarray(prep.outcome, dtype=float), codes, list(design.names), prep
