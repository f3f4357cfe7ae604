"""Covariate balance between treated and control: standardized differences and a joint test."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._core import rows
from .._core.design import Design, constant_part
from .._core.distributions import chi2_sf
from .hypotheses import TestResult


def _arm_mean_var(column: Design, treatment: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    """Weighted mean and (n_eff-corrected) variance of one column in four groups: treated and control
    rows, weighted by ``w`` and unweighted. Returns a 4 x 2 array (mean, variance).

    Two passes over the column's partitions, each a kernel merged by sums: sum w and sum w x, then
    sum w (x - mean)^2 and sum w^2 (unbiased for frequency-like weights: the usual n - 1 variance when
    w is all ones). The in-memory source reads all rows as one partition; the arms (treatment == 1) and
    the unit weights (``w`` None) are formed per partition, so the passes also run on an engine's rows."""
    groups = ((True, False), (False, False), (True, True), (False, True))  # (treated?, unweighted?)
    src = rows.source(column, max(column.n, 1), extra={"t": treatment, "w": w})

    def pieces(part: rows.Partition) -> list[tuple[np.ndarray, np.ndarray]]:
        x, tp = part.block()[:, 0], part["t"] == 1.0
        wp = part.get("w")
        wp = np.ones(part.n) if wp is None else wp
        out = []
        for treated, unweighted in groups:
            mask = tp if treated else ~tp
            out.append((x[mask], np.ones(part.n)[mask] if unweighted else wp[mask]))
        return out

    def first(part: rows.Partition) -> np.ndarray:
        return np.array([[wg.sum(), wg @ xg] for xg, wg in pieces(part)])

    sums = rows.fold(src, first, np.zeros((4, 2)))
    means = np.array([float(s[1] / s[0]) for s in sums])

    def second(part: rows.Partition) -> np.ndarray:
        return np.array([[wg @ (xg - m) ** 2, wg @ wg] for (xg, wg), m in zip(pieces(part), means, strict=True)])

    spread = rows.fold(src, second, np.zeros((4, 2)))
    out = np.empty((4, 2))
    for g in range(4):
        sw = sums[g, 0]
        v = float(spread[g, 0] / sw)
        n_eff = sw**2 / float(spread[g, 1])
        if n_eff > 1:
            v *= n_eff / (n_eff - 1.0)
        out[g] = means[g], v
    return out


def balance_table(
    covariates: Design,
    treatment: np.ndarray,
    weights: np.ndarray | None = None,
) -> pd.DataFrame:
    """Means by arm, standardized mean difference and variance ratio for every covariate column.

    The standardized difference divides by sqrt((var_treated + var_control) / 2) of the *unweighted*
    sample when ``weights`` are given, so that before and after weighting share one yardstick.
    """
    out = []
    for name in covariates.names:
        (m1, v1), (m0, v0), (_, u1), (_, u0) = _arm_mean_var(covariates.select([name]), treatment, weights)
        pooled = np.sqrt((u1 + u0) / 2.0)
        smd = (m1 - m0) / pooled if pooled > 0 else (0.0 if m1 == m0 else np.inf)
        ratio = v1 / v0 if v0 > 0 else np.inf
        out.append({"mean_treated": m1, "mean_control": m0, "smd": smd, "variance_ratio": ratio})
    return pd.DataFrame(out, index=pd.Index(covariates.names, name="covariate"))


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


class _Moments:
    """Per-weight sums of one partition: sum w, sum w^2, sum w x and sum w x^2 (x shifted); merged by +."""

    def __init__(self, s0: np.ndarray, w2: np.ndarray, s1: np.ndarray, s2: np.ndarray) -> None:
        self.s0, self.w2, self.s1, self.s2 = s0, w2, s1, s2

    def __add__(self, other: _Moments) -> _Moments:
        return _Moments(self.s0 + other.s0, self.w2 + other.w2, self.s1 + other.s1, self.s2 + other.s2)


def _arm_moments(covariates: Design, weights: Sequence[Any], chunk_rows: int = 1 << 13) -> tuple[np.ndarray, ...]:
    """Weighted means and (n_eff-corrected) variances of every column for each weight vector.

    Returns (means, variances), each (len(weights), k). One pass over the design's partitions (a kernel
    per partition merged by sums, the weights assembled partition by partition); columns are shifted by
    the means of the first partition read, so that raw moments do not lose precision.
    """
    k, m = covariates.k, len(weights)
    shift: np.ndarray | None = None
    buf: np.ndarray | None = None
    wbuf: np.ndarray | None = None

    def kernel(part: rows.Partition) -> _Moments:
        nonlocal shift, buf, wbuf
        blk = buf = part.block(buf)
        if shift is None:  # one shift for every partition: the sums stay additive
            shift = blk.mean(axis=0)
        blk -= shift  # the block is our own buffer
        wbuf = rows.scratch(wbuf, part.n, m)
        wc = wbuf[: part.n]
        for j in range(m):
            wc[:, j] = part[f"w{j}"]
        s1 = wc.T @ blk
        np.multiply(blk, blk, out=blk)
        return _Moments(wc.sum(axis=0), np.einsum("ij,ij->j", wc, wc), s1, wc.T @ blk)

    src = rows.source(covariates, chunk_rows, extra={f"w{j}": w for j, w in enumerate(weights)})
    zero = _Moments(np.zeros(m), np.zeros(m), np.zeros((m, k)), np.zeros((m, k)))
    tot = rows.fold(src, kernel, zero)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_c = tot.s1 / tot.s0[:, None]
        var = tot.s2 / tot.s0[:, None] - mean_c**2
        n_eff = tot.s0**2 / tot.w2
        corr = np.where(n_eff > 1, n_eff / (n_eff - 1.0), 1.0)
    var = np.maximum(var, 0.0) * corr[:, None]
    return mean_c + (0.0 if shift is None else shift), var


def _treated(treatment: np.ndarray) -> np.ndarray:
    return (treatment == 1.0).astype(np.float64)


def _control(treatment: np.ndarray) -> np.ndarray:
    return 1.0 - _treated(treatment)


def _in_treated(w: np.ndarray, treatment: np.ndarray) -> np.ndarray:
    return w * _treated(treatment)


def _in_control(w: np.ndarray, treatment: np.ndarray) -> np.ndarray:
    return w * _control(treatment)


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
    from .._core.mestimation import RowExpr

    # the arms' weights as row expressions: each partition makes its own rows (the bits of whole arrays), so
    # no weight vector of every row is allocated (fresh pages are a sixth of a first IPW call at 1M rows)
    t, c = RowExpr(_treated, treatment), RowExpr(_control, treatment)
    if before is None:  # the unweighted sample is the sample before adjustment
        means, var = _arm_moments(
            covariates, [t, c, RowExpr(_in_treated, after, treatment), RowExpr(_in_control, after, treatment)]
        )
        means, var = means[[0, 1, 0, 1, 2, 3]], var[[0, 1, 0, 1, 2, 3]]
    else:
        weights = [t, c] + [RowExpr(f, w, treatment) for w in (before, after) for f in (_in_treated, _in_control)]
        means, var = _arm_moments(covariates, weights)
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


#: what to try next, by family: (what it is, the advice); advice about something already ``done`` is left out
BALANCE_HINTS = {
    "matching": (
        ("", "model them more flexibly in the propensity model (squares, interactions)"),
        ("caliper", "use a caliper"),
        ("bias_adjust", "adjust for them in an outcome model (bias_adjust=True, or method 'aipw')"),
    ),
    "weighting": (
        ("", "model them more flexibly in the propensity model (squares, interactions)"),
        ("trim", "trim extreme scores (trim='crump')"),
        ("aipw", "also model the outcome (method 'aipw')"),
    ),
    "cem": (("", "use finer bins for them (bins=)"), ("", "adjust for them in an outcome model")),
}


def _advice(kind: str, done: Collection[str]) -> str:
    steps = [text for key, text in BALANCE_HINTS[kind] if not key or key not in done]
    return steps[0] if len(steps) == 1 else ", ".join(steps[:-1]) + ", or " + steps[-1]


def balance_warnings(
    table: pd.DataFrame, threshold: float = 0.1, kind: str = "matching", done: Collection[str] = ()
) -> list[str]:
    """Plain-words warning for covariates still imbalanced after adjustment (|SMD| above ``threshold``).

    ``done`` names what the user already did ("trim", "caliper", "bias_adjust", "aipw"): the advice then
    suggests only what is left to try."""
    bad = table.index[np.abs(table["smd_after"].to_numpy()) > threshold]
    if not len(bad):
        return []
    worst = table.loc[bad, "smd_after"].abs().idxmax()
    listed = ", ".join(repr(b) for b in list(bad)[:6]) + (", ..." if len(bad) > 6 else "")
    return [
        f"After adjustment {len(bad)} covariate(s) remain imbalanced (|standardized difference| > {threshold}): "
        f"{listed}; the worst is {worst!r} at {table.loc[worst, 'smd_after']:.2f}. The estimate may still be "
        f"confounded by them: {_advice(kind, done)}."
    ]
