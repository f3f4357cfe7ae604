"""Omitted-variable sensitivity of a regression estimate (Cinelli and Hazlett, 2020).

From the treatment's t statistic and residual degrees of freedom alone:

* the partial R-squared of the treatment with the outcome, t^2 / (t^2 + df);
* the robustness value RV_q: the share of residual variance an unobserved confounder would have to
  explain, of both the treatment and the outcome, to shrink the estimate by 100q% (q=1: to zero);
* RV_{q,alpha}: the same, to make the estimate no longer significant at level alpha.
"""

from __future__ import annotations

import math
from typing import Any

from scipy import stats

from ..errors import SpecificationError


def robustness_value(t_statistic: float, df: float, q: float = 1.0, alpha: float | None = None) -> float:
    """RV_q (or RV_{q,alpha} when ``alpha`` is given) for a coefficient with this t and df."""
    if not df or df <= 1:
        raise SpecificationError(f"df must exceed 1 for a robustness value, got {df!r}.")
    if q <= 0:
        raise SpecificationError(f"q must be positive (the share of the estimate to explain away), got {q!r}.")
    f_q = q * abs(t_statistic) / math.sqrt(df)
    if alpha is not None:
        if not 0 < alpha < 1:
            raise SpecificationError(f"alpha must be between 0 and 1, got {alpha!r}.")
        f_crit = abs(stats.t.ppf(alpha / 2.0, df - 1)) / math.sqrt(df - 1)
        f_q = f_q - f_crit
        if f_q <= 0:
            return 0.0
    return 0.5 * (math.sqrt(f_q**4 + 4.0 * f_q**2) - f_q**2)


def sensitivity(result: Any, q: float = 1.0, alpha: float = 0.05) -> dict[str, Any]:
    """Sensitivity summary for a regression-based :class:`~deconfound.Estimate` (needs ``df``).

    Returns a dict with ``partial_r2``, ``rv`` (RV_q) and ``rv_alpha`` (RV_{q,alpha}) and a sentence
    that explains them; or ``{"applicable": False, "reason": ...}`` when the estimate has no t reference.
    """
    df = getattr(result, "df", None)
    if df is None or getattr(result, "coefficients", None) is None:
        return {
            "applicable": False,
            "reason": "the omitted-variable robustness value needs a regression estimate with a t statistic",
        }
    t = result.statistic
    partial = t * t / (t * t + df)
    rv = robustness_value(t, df, q)
    rv_a = robustness_value(t, df, q, alpha)
    text = (
        f"An unobserved confounder would have to explain {rv:.1%} of the residual variance of both the "
        f"treatment and the outcome to bring the estimate to zero, and {rv_a:.1%} to make it insignificant "
        f"at the {alpha:.0%} level. The treatment alone explains {partial:.1%} of the outcome's residual variance."
    )
    return {"applicable": True, "partial_r2": partial, "rv": rv, "rv_alpha": rv_a, "q": q, "alpha": alpha, "text": text}
