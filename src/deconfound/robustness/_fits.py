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
