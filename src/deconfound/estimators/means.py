"""Difference in means: the naive comparison, causal only under random assignment."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .._core import rows
from .._core.options import check_level
from .._core.pages import entry
from ..data import EnginePrepared, prepare, prepare_engine
from ..diagnostics.balance import balance_table, joint_balance_test
from ..engines import is_engine_input
from ..errors import DataError
from ..results import Estimate
from ._base import make_estimate

IMBALANCE_SMD = 0.1
IMBALANCE_P = 0.01


def _group_moments(y: np.ndarray, w: np.ndarray) -> tuple[float, float, int]:
    """Weighted mean, its HC2-type (Neyman) variance, and the group size."""
    sw = w.sum()
    mean = float(w @ y / sw)
    e = y - mean
    h = w / sw
    n = len(y)
    if n < 2:
        return mean, float("nan"), n
    if np.any(1.0 - h <= 1e-12):  # one row carries (nearly) all the group's weight: leverage 1
        return mean, float("nan"), n
    var = float(np.sum(w * w * e * e / (1.0 - h)) / sw**2)
    return mean, var, n


@entry
def difference_in_means(
    data: Any,
    *,
    outcome: str,
    treatment: str,
    covariates: str | Iterable[str] | None = None,
    weights: str | None = None,
    randomized: bool = False,
    level: float = 0.95,
    missing: str = "raise",
    treated_level: Any = None,
) -> Estimate:
    """Mean outcome of the treated minus mean outcome of the controls (Welch / Neyman standard error).

    Causal only when treatment was randomly assigned: without ``randomized=True`` the result warns.
    Given ``covariates``, the result also carries a balance table (standardized mean differences and
    variance ratios) and, for a randomized trial, a joint test that the covariates do not predict the arm.
    Weighted means use ``weights``; the unweighted standard error equals Welch's.
    """
    level = check_level(level)
    if is_engine_input(data):
        return _difference_in_means_engine(
            data, outcome, treatment, covariates, weights, randomized, level, missing, treated_level
        )
    prep = prepare(
        data,
        outcome=outcome,
        treatment=treatment,
        covariates=covariates,
        weights=weights,
        missing=missing,
        treated_level=treated_level,
    )
    y, t = prep.outcome, prep.treatment
    assert t is not None
    w = prep.weights if prep.weights is not None else np.ones_like(y)
    treated = t == 1.0
    # rows with weight zero do not count (a group whose weights are all zero has no mean)
    p1, p0 = int(np.count_nonzero(w[treated] > 0)), int(np.count_nonzero(w[~treated] > 0))
    if p1 < 2 or p0 < 2:
        raise DataError(
            f"A difference in means needs at least two treated and two control rows; got {p1} treated and "
            f"{p0} control in {treatment!r} (rows with weight zero do not count)."
        )
    m1, v1, n1 = _group_moments(y[treated], w[treated])
    m0, v0, n0 = _group_moments(y[~treated], w[~treated])
    for group, v in (("treated", v1), ("control", v0)):
        if np.isnan(v):
            raise DataError(
                f"In the {group} group of {treatment!r} one row carries all the weight (the others' weights are "
                "vanishingly small), so its variance cannot be estimated. Check the weights column."
            )
    se = float(np.sqrt(v1 + v0))
    # Welch-Satterthwaite df, written in shares of the variance so large outcomes cannot overflow v**2
    share = v1 / (v1 + v0) if se > 0 else 0.0
    df = 1.0 / (share**2 / (n1 - 1) + (1.0 - share) ** 2 / (n0 - 1)) if se > 0 else None
    warnings: list[str] = []
    diagnostics: dict[str, Any] = {"mean_treated": m1, "mean_control": m0, "welch_df": df}
    if not randomized:
        warnings.append(
            "A difference in means is a causal effect only if treatment was randomly assigned; this data was "
            "not declared randomized (randomized=True), so confounders can bias it. Adjust for them (ols, lin, "
            "matching) unless assignment really was random."
        )
    if prep.covariates.k:
        table = balance_table(prep.covariates, t, prep.weights)
        diagnostics["balance"] = table
        if randomized:
            test = joint_balance_test(prep.covariates, t)
            diagnostics["balance_test"] = test
            worst = table["smd"].abs().idxmax()
            if test["p_value"] < IMBALANCE_P or abs(table.loc[worst, "smd"]) > 2 * IMBALANCE_SMD:
                warnings.append(
                    f"The arms of this randomized trial are imbalanced (joint test p = {test['p_value']:.3g}; "
                    f"largest standardized difference {table.loc[worst, 'smd']:.2f} in {worst!r}). Check the "
                    "randomization, or adjust for the covariates (method 'lin') to recover precision."
                )
    return make_estimate(
        prep,
        method="naive",
        label="Difference in means",
        estimand="ATE",
        estimate=m1 - m0,
        std_error=se,
        df=df,
        level=level,
        warnings=warnings,
        diagnostics=diagnostics,
    )


def _engine_group_moments(prep: EnginePrepared) -> list[tuple[float, float, int]]:
    """:func:`_group_moments` of the treated and the control rows of an engine, in two passes over its rows:
    sums by arm (rows of positive weight, sum w, sum w y), then sum w^2 e^2 / (1 - h) and the smallest 1 - h."""
    tpl = prep.templates
    src = rows.source(None, 1 << 16, n=prep.n, extra={"y": tpl["y"], "t": tpl["t"], "w": prep.weights})

    def first(part: rows.Partition) -> np.ndarray:
        y, treated, w = part["y"], part["t"] == 1.0, part.get("w")
        w = np.ones(part.n) if w is None else w
        return np.array([[np.count_nonzero(w[m] > 0), m.sum(), w[m].sum(), w[m] @ y[m]] for m in (treated, ~treated)])

    sums = rows.fold(src, first, np.zeros((2, 4)))
    p1, p0 = int(sums[0, 0]), int(sums[1, 0])
    if p1 < 2 or p0 < 2:
        raise DataError(
            f"A difference in means needs at least two treated and two control rows; got {p1} treated and "
            f"{p0} control in {prep.treatment_name!r} (rows with weight zero do not count)."
        )
    means = sums[:, 3] / sums[:, 2]
    sw = sums[:, 2]

    def second(part: rows.Partition) -> np.ndarray:
        y, treated, w = part["y"], part["t"] == 1.0, part.get("w")
        w = np.ones(part.n) if w is None else w
        out = np.empty((2, 2))
        for g, m in enumerate((treated, ~treated)):
            e, wg = y[m] - means[g], w[m]
            omh = 1.0 - wg / sw[g]
            out[g] = float(np.sum(wg * wg * e * e / omh)) if m.any() else 0.0, float(omh.min(initial=1.0))
        return out

    spread = rows.fold(
        src,
        second,
        np.zeros((2, 2)) + np.array([0.0, np.inf]),
    )
    out = []
    for g in range(2):
        n = int(sums[g, 1])
        bad = n < 2 or spread[g, 1] <= 1e-12
        out.append((float(means[g]), float("nan") if bad else float(spread[g, 0] / sw[g] ** 2), n))
    return out


def _difference_in_means_engine(
    data: Any,
    outcome: str,
    treatment: str,
    covariates: str | Iterable[str] | None,
    weights: str | None,
    randomized: bool,
    level: float,
    missing: str,
    treated_level: Any,
) -> Estimate:
    """:func:`difference_in_means` on rows that stay on an engine (the same numbers, from passes of sums)."""
    prep = prepare_engine(
        data,
        outcome=outcome,
        treatment=treatment,
        covariates=covariates,
        weights=weights,
        missing=missing,
        treated_level=treated_level,
    )
    with prep.rows():
        (m1, v1, n1), (m0, v0, n0) = _engine_group_moments(prep)
        for group, v in (("treated", v1), ("control", v0)):
            if np.isnan(v):
                raise DataError(
                    f"In the {group} group of {treatment!r} one row carries all the weight (the others' weights "
                    "are vanishingly small), so its variance cannot be estimated. Check the weights column."
                )
        se = float(np.sqrt(v1 + v0))
        share = v1 / (v1 + v0) if se > 0 else 0.0
        df = 1.0 / (share**2 / (n1 - 1) + (1.0 - share) ** 2 / (n0 - 1)) if se > 0 else None
        warnings: list[str] = []
        diagnostics: dict[str, Any] = {"mean_treated": m1, "mean_control": m0, "welch_df": df}
        if not randomized:
            warnings.append(
                "A difference in means is a causal effect only if treatment was randomly assigned; this data was "
                "not declared randomized (randomized=True), so confounders can bias it. Adjust for them (ols, "
                "lin, matching) unless assignment really was random."
            )
        covs = prep.covariates
        if covs.k:
            t = prep.templates["t"]
            table = balance_table(covs, t, prep.weights)
            diagnostics["balance"] = table
            if randomized:
                test = joint_balance_test(covs, t)
                diagnostics["balance_test"] = test
                worst = table["smd"].abs().idxmax()
                if test["p_value"] < IMBALANCE_P or abs(table.loc[worst, "smd"]) > 2 * IMBALANCE_SMD:
                    warnings.append(
                        f"The arms of this randomized trial are imbalanced (joint test p = {test['p_value']:.3g}; "
                        f"largest standardized difference {table.loc[worst, 'smd']:.2f} in {worst!r}). Check the "
                        "randomization, or adjust for the covariates (method 'lin') to recover precision."
                    )
    return make_estimate(
        prep,  # type: ignore[arg-type]
        method="naive",
        label="Difference in means",
        estimand="ATE",
        estimate=m1 - m0,
        std_error=se,
        df=df,
        level=level,
        warnings=warnings,
        diagnostics=diagnostics,
    )
