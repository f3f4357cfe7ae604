"""Covariate balance between treated and control: standardized differences and a joint test."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._core.design import Design, constant_part
from .._core.distributions import chi2_sf
from .hypotheses import TestResult


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


#: the dict form of the joint balance test (the --json contract)
BALANCE_LAYOUT = ("statistic", "df", "p_value")
BALANCE_NULL = "the covariates do not predict the treatment (the arms are balanced)"


def joint_balance_test(covariates: Design, treatment: np.ndarray) -> TestResult:
    """Wald test (HC1) that no covariate predicts the treatment, from a linear probability model."""
    from .._core.least_squares import fit_ols

    design = covariates.with_parts([constant_part()], front=True)
    fit = fit_ols(design, treatment, cov_type="HC1")
    b = fit.coef[1:]
    v = fit.cov[1:, 1:]
    df = len(b)
    name = "joint balance test"
    try:
        stat = float(b @ np.linalg.solve(v, b))
    except np.linalg.LinAlgError:
        # a singular covariance here means residuals without variance: the covariates predict the treatment
        # exactly, the strongest evidence of imbalance there is
        return TestResult(name, float("inf"), "chi2", float(df), None, 0.0, BALANCE_NULL, layout=BALANCE_LAYOUT)
    return TestResult(name, stat, "chi2", float(df), None, chi2_sf(stat, df), BALANCE_NULL, layout=BALANCE_LAYOUT)


def _arm_moments(
    covariates: Design, weights: Sequence[np.ndarray], chunk_rows: int = 1 << 13
) -> tuple[np.ndarray, ...]:
    """Weighted means and (n_eff-corrected) variances of every column for each weight vector.

    Returns (means, variances), each (len(weights), k). One pass over the design in cache-sized blocks
    (the weights assembled block by block); columns are shifted by the first block's means so that raw
    moments do not lose precision.
    """
    k, m = covariates.k, len(weights)
    s0 = np.zeros(m)
    w2 = np.zeros(m)
    s1 = np.zeros((m, k))
    s2 = np.zeros((m, k))
    rows = max(1, min(chunk_rows, covariates.n))
    wbuf = np.empty((rows, m), order="F")
    shift = None
    buf = None
    for start in range(0, covariates.n, rows):
        stop = min(start + rows, covariates.n)
        blk = covariates.block(start, stop, buf)
        buf = blk
        if shift is None:
            shift = blk.mean(axis=0)
        blk -= shift  # the block is our own buffer
        wc = wbuf[: stop - start]
        for j, w in enumerate(weights):
            wc[:, j] = w[start:stop]
        s0 += wc.sum(axis=0)
        w2 += np.einsum("ij,ij->j", wc, wc)
        s1 += wc.T @ blk
        np.multiply(blk, blk, out=blk)
        s2 += wc.T @ blk
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_c = s1 / s0[:, None]
        var = s2 / s0[:, None] - mean_c**2
        n_eff = s0**2 / w2
        corr = np.where(n_eff > 1, n_eff / (n_eff - 1.0), 1.0)
    var = np.maximum(var, 0.0) * corr[:, None]
    return mean_c + (0.0 if shift is None else shift), var


def balance_before_after(
    covariates: Design,
    treatment: np.ndarray,
    after: np.ndarray,
    before: np.ndarray | None = None,
) -> pd.DataFrame:
    """Balance of every covariate column before and after matching or weighting.

    ``after`` holds each row's weight in the adjusted sample (matching: how often a control is used;
    weighting: the inverse-probability weight), ``before`` optional sampling weights. Standardized mean
    differences divide by the *unweighted* pooled standard deviation of the original sample, so both
    columns share one yardstick (as in :func:`balance_table`).
    """
    t = (treatment == 1.0).astype(np.float64)
    c = 1.0 - t
    if before is None:  # the unweighted sample is the sample before adjustment
        means, var = _arm_moments(covariates, [t, c, after * t, after * c])
        means, var = means[[0, 1, 0, 1, 2, 3]], var[[0, 1, 0, 1, 2, 3]]
    else:
        means, var = _arm_moments(covariates, [t, c, before * t, before * c, after * t, after * c])
    pooled = np.sqrt((var[0] + var[1]) / 2.0)

    def smd(m1: np.ndarray, m0: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            out = (m1 - m0) / pooled
        return np.where(pooled > 0, out, np.where(m1 == m0, 0.0, np.inf))

    def ratio(v1: np.ndarray, v0: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(v0 > 0, v1 / v0, np.inf)

    return pd.DataFrame(
        {
            "mean_treated": means[2],
            "mean_control": means[3],
            "smd_before": smd(means[2], means[3]),
            "variance_ratio_before": ratio(var[2], var[3]),
            "mean_treated_after": means[4],
            "mean_control_after": means[5],
            "smd_after": smd(means[4], means[5]),
            "variance_ratio_after": ratio(var[4], var[5]),
        },
        index=pd.Index(covariates.names, name="covariate"),
    )


BALANCE_HINTS = {
    "matching": "add them to the propensity model (or interactions/squares), use a caliper, or adjust for them "
    "in an outcome model (bias_adjust=True, or method 'aipw')",
    "weighting": "add them to the propensity model (or interactions/squares), trim extreme scores "
    "(trim='crump'), or also model the outcome (method 'aipw')",
    "cem": "use finer bins for them (bins=), or adjust for them in an outcome model",
}


def balance_warnings(table: pd.DataFrame, threshold: float = 0.1, kind: str = "matching") -> list[str]:
    """Plain-words warning for covariates still imbalanced after adjustment (|SMD| above ``threshold``)."""
    bad = table.index[np.abs(table["smd_after"].to_numpy()) > threshold]
    if not len(bad):
        return []
    worst = table.loc[bad, "smd_after"].abs().idxmax()
    listed = ", ".join(repr(b) for b in list(bad)[:6]) + (", ..." if len(bad) > 6 else "")
    return [
        f"After adjustment {len(bad)} covariate(s) remain imbalanced (|standardized difference| > {threshold}): "
        f"{listed}; the worst is {worst!r} at {table.loc[worst, 'smd_after']:.2f}. The estimate may still be "
        f"confounded by them: {BALANCE_HINTS[kind]}."
    ]
