"""Covariate balance between treated and control: standardized differences and a joint test."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._core.distributions import chi2_sf
from ..data import Design, constant_part


def _wmean_var(x: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    sw = w.sum()
    m = float(w @ x / sw)
    v = float(w @ (x - m) ** 2 / sw)
    # unbiased for frequency-like weights, matching the usual (n-1) variance when w is all ones
    n_eff = sw**2 / float(w @ w)
    if n_eff > 1:
        v *= n_eff / (n_eff - 1.0)
    return m, v


def balance_table(
    covariates: Design,
    treatment: np.ndarray,
    weights: np.ndarray | None = None,
) -> pd.DataFrame:
    """Means by arm, standardized mean difference and variance ratio for every covariate column.

    The standardized difference divides by sqrt((var_treated + var_control) / 2) of the *unweighted*
    sample when ``weights`` are given, so that before and after weighting share one yardstick.
    """
    t = treatment == 1.0
    ones = np.ones_like(treatment)
    w = ones if weights is None else weights
    rows = []
    for name in covariates.names:
        x = covariates.column(name)
        m1, v1 = _wmean_var(x[t], w[t])
        m0, v0 = _wmean_var(x[~t], w[~t])
        _, u1 = _wmean_var(x[t], ones[t])
        _, u0 = _wmean_var(x[~t], ones[~t])
        pooled = np.sqrt((u1 + u0) / 2.0)
        smd = (m1 - m0) / pooled if pooled > 0 else (0.0 if m1 == m0 else np.inf)
        ratio = v1 / v0 if v0 > 0 else np.inf
        rows.append({"mean_treated": m1, "mean_control": m0, "smd": smd, "variance_ratio": ratio})
    return pd.DataFrame(rows, index=pd.Index(covariates.names, name="covariate"))


def covariate_balance(
    data: Any,
    *,
    outcome: str,
    treatment: str,
    covariates: Sequence[str],
    weights: str | None = None,
    missing: str = "raise",
    treated_level: Any = None,
) -> pd.DataFrame:
    """:func:`balance_table` straight from a table: the covariates (categoricals one-hot encoded) by arm
    of a two-level treatment, over the rows an estimate of ``outcome`` would use."""
    from ..data import prepare

    prep = prepare(
        data,
        outcome=outcome,
        treatment=treatment,
        covariates=list(covariates),
        weights=weights,
        missing=missing,
        treated_level=treated_level,
    )
    assert prep.treatment is not None
    return balance_table(prep.covariates, prep.treatment, prep.weights)


def joint_balance_test(covariates: Design, treatment: np.ndarray) -> dict[str, float]:
    """Wald test (HC1) that no covariate predicts the treatment, from a linear probability model."""
    from .._core.fit import fit_ols

    design = covariates.with_parts([constant_part()], front=True)
    fit = fit_ols(design, treatment, cov_type="HC1")
    b = fit.coef[1:]
    v = fit.cov[1:, 1:]
    stat = float(b @ np.linalg.solve(v, b))
    df = len(b)
    return {"statistic": stat, "df": float(df), "p_value": chi2_sf(stat, df)}
