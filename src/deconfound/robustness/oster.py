"""Coefficient stability with proportional selection (Oster 2019, Journal of Business & Economic Statistics 37(2)).

How much does the treatment's coefficient move when the observed covariates are added, and how much does
the R-squared rise? If selection on the unobservables is proportional to selection on the observables
(``delta`` times as strong) and the unobservables would raise the R-squared to ``r2max``, the coefficient
adjusted for them is beta*. From the uncontrolled regression (coefficient b0, R-squared R0), the
controlled one (b1, R1), the variances of the outcome and the treatment and the variance of the treatment's
residual on the covariates, Oster's Proposition 2 gives beta* as b1 minus a root of a quadratic (delta = 1)
or of a cubic (otherwise); of the roots, the one nearest b1 among those that move the coefficient on in the
direction adding the covariates moved it (her Assumption 3). The delta that would bring the coefficient
to a value beta (usually 0) has a closed form (the one Stata's psacalc computes). ``r2max`` defaults to Oster's 1.3 R1
(capped at 1): 90% of the randomized results she studied survive it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..data import as_name_list
from ..errors import SpecificationError
from ._fits import regress_on_covariates

__all__ = ["OsterResult", "oster"]


@dataclass(frozen=True)
class OsterResult:
    """Oster's bias-adjusted coefficient beta* and the delta* that would bring the coefficient to ``beta``."""

    treatment: str
    outcome: str
    beta_uncontrolled: float
    beta_controlled: float
    r2_uncontrolled: float
    r2_controlled: float
    r2max: float
    delta: float
    beta_star: float
    beta_star_approx: float
    beta: float
    delta_star: float
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class _Moments:
    b0: float
    b1: float
    r0: float
    r1: float
    s_yy: float
    s_xx: float
    t_x: float


def _beta_star(m: _Moments, r2max: float, delta: float) -> float:
    gap = m.b0 - m.b1
    big_m = (r2max - m.r1) * m.s_yy
    p = (m.r1 - m.r0) * m.s_yy
    if abs(delta - 1.0) < 1e-12:
        theta = big_m * (m.s_xx - m.t_x) - p * m.t_x - m.s_xx * m.t_x * gap**2
        root = math.sqrt(theta**2 + 4.0 * big_m * gap**2 * m.s_xx**2 * m.t_x)
        denom = -2.0 * m.t_x * gap * m.s_xx
        if denom == 0:
            return m.b1
        candidates = [m.b1 - (-theta - root) / denom, m.b1 - (-theta + root) / denom]
    else:
        k = (delta - 1.0) * (m.t_x * m.s_xx - m.t_x**2)
        a = m.t_x * gap * m.s_xx * (delta - 2.0) / k
        b = (delta * big_m * (m.s_xx - m.t_x) - p * m.t_x - m.s_xx * m.t_x * gap**2) / k
        c = delta * big_m * gap * m.s_xx / k
        roots = np.roots([1.0, a, b, c])
        candidates = [m.b1 - float(r.real) for r in roots if abs(r.imag) <= 1e-9 * max(1.0, abs(r.real))]
    return _choose(candidates, m)


def _choose(candidates: list[float], m: _Moments) -> float:
    """The root nearest the controlled coefficient among those that move it on from b0 -> b1 (Oster's
    Assumption 3); the nearest of all when none does."""
    direction = np.sign(m.b1 - m.b0)
    ordered = sorted(candidates, key=lambda beta: (beta - m.b1) ** 2)
    keep = [beta for beta in ordered if np.sign(beta - m.b1) == direction]
    return keep[0] if keep else ordered[0]


def _delta_star(m: _Moments, r2max: float, beta: float) -> float:
    gap = m.b0 - m.b1
    dist = m.b1 - beta
    big_m = (r2max - m.r1) * m.s_yy
    p = (m.r1 - m.r0) * m.s_yy
    cubic = dist**3 * (m.t_x * m.s_xx - m.t_x**2)
    square = dist**2 * (m.t_x * gap * m.s_xx)
    num = dist * p * m.t_x + dist * m.s_xx * m.t_x * gap**2 + 2.0 * square + cubic
    den = big_m * gap * m.s_xx + dist * big_m * (m.s_xx - m.t_x) + square + cubic
    return num / den if den != 0 else math.inf


def _moments(data: pd.DataFrame, outcome: str, treatment: str, covs: list[str], weights: str | None) -> _Moments:
    from ..estimators.regression import ols

    short = ols(data, outcome=outcome, treatment=treatment, weights=weights)
    long = ols(data, outcome=outcome, treatment=treatment, covariates=covs, weights=weights)
    aux = regress_on_covariates(data, treatment, covs, weights)
    if short.n != long.n or aux.n != long.n:
        raise SpecificationError(
            "the uncontrolled and controlled regressions used different rows (missing values in the covariates): "
            "drop those rows first so that both use the same sample."
        )
    used = data[[outcome, treatment]].dropna()
    y = used[outcome].to_numpy(float)
    x = pd.to_numeric(used[treatment], errors="coerce").to_numpy(float)
    if weights is None:
        s_yy, s_xx = float(np.var(y, ddof=1)), float(np.var(x, ddof=1))
    else:
        w = data.loc[used.index, weights].to_numpy(float)
        s_yy, s_xx = _weighted_var(y, w), _weighted_var(x, w)
    r_aux = _r_squared(aux)
    return _Moments(
        b0=float(short.estimate),
        b1=float(long.estimate),
        r0=_r_squared(short),
        r1=_r_squared(long),
        s_yy=s_yy,
        s_xx=s_xx,
        t_x=(1.0 - r_aux) * s_xx,
    )


def _r_squared(fit: Any) -> float:
    assert fit.coefficients is not None  # an OLS result always has its table
    return float(fit.coefficients.stats["r_squared"])


def _weighted_var(v: np.ndarray, w: np.ndarray) -> float:
    mean = float(np.average(v, weights=w))
    return float(np.sum(w * (v - mean) ** 2) / np.sum(w) * len(v) / (len(v) - 1))


def oster(
    data: Any,
    *,
    outcome: str,
    treatment: str,
    covariates: str | Iterable[str],
    r2max: float | None = None,
    delta: float = 1.0,
    beta: float = 0.0,
    weights: str | None = None,
) -> OsterResult:
    """Oster's (2019) bias-adjusted coefficient and the proportional selection needed to explain it away.

    Fits the regression of ``outcome`` on ``treatment`` alone and with ``covariates``, and returns beta*
    (the coefficient adjusted for unobservables ``delta`` times as strongly related to the treatment as the
    observed covariates, which would raise the R-squared to ``r2max``; default 1.3 times the controlled
    R-squared, at most 1) and delta* (the ``delta`` at which the adjusted coefficient would be ``beta``,
    0 by default). A delta* above 1 is Oster's (and Altonji, Elder and Taber's) rule of thumb for a robust
    result. The treatment must be numeric (a 0/1 treatment is fine).
    """
    covs = as_name_list(covariates, "covariates")
    if not isinstance(data, pd.DataFrame):
        raise SpecificationError("oster needs a pandas DataFrame (data=).")
    m = _moments(data, outcome, treatment, covs, weights)
    if r2max is None:
        r2max = min(1.3 * m.r1, 1.0)
    if not m.r1 < r2max <= 1.0:
        raise SpecificationError(
            f"r2max={r2max!r} must lie above the controlled regression's R-squared ({m.r1:.4g}) and at most 1."
        )
    if not math.isfinite(delta):
        raise SpecificationError(f"delta must be a finite number, got {delta!r}.")
    if m.r1 <= m.r0:
        raise SpecificationError(
            "adding the covariates did not raise the R-squared: there is no coefficient movement to scale."
        )
    star = _beta_star(m, r2max, delta)
    approx = m.b1 - delta * (m.b0 - m.b1) * (r2max - m.r1) / (m.r1 - m.r0)
    d_star = _delta_star(m, r2max, beta)
    text = (
        f"Adding the covariates moved the coefficient of {treatment!r} from {m.b0:.4g} to {m.b1:.4g} and the "
        f"R-squared from {m.r0:.3f} to {m.r1:.3f}. If unobservables were {delta:g} times as strongly related to the "
        f"treatment as the covariates and raised the R-squared to {r2max:.3f}, the coefficient would be "
        f"{star:.4g}. " + _delta_sentence(d_star, beta)
    )
    return OsterResult(
        treatment=treatment,
        outcome=outcome,
        beta_uncontrolled=m.b0,
        beta_controlled=m.b1,
        r2_uncontrolled=m.r0,
        r2_controlled=m.r1,
        r2max=float(r2max),
        delta=float(delta),
        beta_star=star,
        beta_star_approx=approx,
        beta=float(beta),
        delta_star=d_star,
        text=text,
    )


def _delta_sentence(d_star: float, beta: float) -> str:
    if not math.isfinite(d_star):
        return f"No degree of proportional selection brings it to {beta:g}."
    if d_star < 0:
        return (
            f"Only unobservables working against the observed covariates (delta* = {d_star:.3g}) could bring it to "
            f"{beta:g}; selection in the same direction moves it further away."
        )
    verdict = "robust" if d_star >= 1 else "fragile"
    side = "above" if d_star >= 1 else "below"
    return (
        f"To bring it to {beta:g} they would have to be {d_star:.3g} times as strong (delta*; {side} 1: {verdict} "
        "by Oster's rule of thumb)."
    )
