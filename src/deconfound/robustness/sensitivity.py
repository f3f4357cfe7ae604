"""Omitted-variable sensitivity of a regression estimate (Cinelli and Hazlett, 2020).

From the treatment's t statistic and the regression's residual degrees of freedom alone:

* the partial R-squared of the treatment with the outcome, t^2 / (t^2 + df);
* the robustness value RV_q: the share of residual variance an unobserved confounder would have to
  explain, of both the treatment and the outcome, to shrink the estimate by 100q% (q=1: to zero);
* RV_{q,alpha}: the same, to make the estimate no longer significant at level alpha.

With f_q = q |t| / sqrt(df), RV_q = (sqrt(f_q^4 + 4 f_q^2) - f_q^2) / 2. For RV_{q,alpha}, f_q is
reduced by f* = |t*_{alpha/2, df-1}| / sqrt(df-1); when f_q exceeds 1/f* the confounder would need to
explain all of the outcome's residual variance, and the value is (f_q^2 - f*^2) / (1 + f_q^2) instead.
The bounds are exact for the classical (non-robust) t statistic.
"""

from __future__ import annotations

import math
from typing import Any

from ..diagnostics.hypotheses import TestResult
from ..errors import SpecificationError


def robustness_value(t_statistic: float, df: float, q: float = 1.0, alpha: float | None = None) -> float:
    """RV_q (or RV_{q,alpha} when ``alpha`` is given) for a coefficient with this t and df."""
    if not df or df <= 1:
        raise SpecificationError(f"df must exceed 1 for a robustness value, got {df!r}.")
    if not math.isfinite(t_statistic):
        raise SpecificationError(f"t_statistic must be a finite number, got {t_statistic!r}.")
    if q <= 0:
        raise SpecificationError(f"q must be positive (the share of the estimate to explain away), got {q!r}.")
    f_q = q * abs(t_statistic) / math.sqrt(df)
    if alpha is None:
        return 0.5 * (math.sqrt(f_q**4 + 4.0 * f_q**2) - f_q**2)
    if not 0 < alpha < 1:
        raise SpecificationError(f"alpha must be between 0 and 1, got {alpha!r}.")
    from .._core.distributions import t_quantile

    f_crit = abs(t_quantile(alpha / 2.0, df - 1)) / math.sqrt(df - 1)
    f_qa = f_q - f_crit
    if f_qa <= 0:
        return 0.0
    if f_q > 1.0 / f_crit:  # the confounder would have to explain all of the outcome's residual variance
        return (f_q**2 - f_crit**2) / (1.0 + f_q**2)
    return 0.5 * (math.sqrt(f_qa**4 + 4.0 * f_qa**2) - f_qa**2)


#: the dict form of a sensitivity result (keys in order)
SENSITIVITY_LAYOUT = ("applicable", "partial_r2", "rv", "rv_alpha", "q", "alpha", "df", "exact", "text")
NAME = "omitted-variable sensitivity"


def sensitivity(result: Any, q: float = 1.0, alpha: float = 0.05) -> TestResult:
    """Sensitivity summary for a regression-based :class:`~deconfound.Estimate`.

    Returns a :class:`~deconfound.diagnostics.hypotheses.TestResult` whose statistic is the robustness
    value RV_q (no distribution: it is not a hypothesis test) and whose ``df`` is the residual degrees of
    freedom; as a mapping it holds ``partial_r2``, ``rv`` (RV_q), ``rv_alpha`` (RV_{q,alpha}), ``df``,
    ``exact`` (False when the t statistic is a robust or clustered one, for which the bounds are an
    approximation) and a sentence that explains them. When the estimate is not a regression coefficient
    with a finite t statistic it does not apply: ``{"applicable": False, "reason": ...}``.
    """
    coefficients = getattr(result, "coefficients", None)
    if coefficients is None or getattr(result, "df", None) is None:
        reason = "the omitted-variable robustness value needs a regression estimate with a t statistic"
        return TestResult.not_applicable(NAME, reason)
    df = float(coefficients.stats.get("df_resid", result.df))
    t = float(result.statistic)
    if not math.isfinite(t) or df <= 1:
        return TestResult.not_applicable(NAME, f"the t statistic ({t:.4g}) or residual df ({df:g}) does not allow it")
    partial = t * t / (t * t + df)
    rv = robustness_value(t, df, q)
    rv_a = robustness_value(t, df, q, alpha)
    cov_type = str(coefficients.stats.get("cov_type", "nonrobust"))
    exact = cov_type == "nonrobust"
    text = (
        f"An unobserved confounder would have to explain {rv:.1%} of the residual variance of both the "
        f"treatment and the outcome to bring the estimate to zero, and {rv_a:.1%} to make it insignificant "
        f"at the {alpha:.0%} level. The treatment alone explains {partial:.1%} of the outcome's residual variance."
    )
    if not exact:
        text += (
            f" (Computed from the {cov_type} t statistic: the bounds are exact for the classical one, so read "
            "them as an approximation.)"
        )
    details = {"partial_r2": partial, "rv": rv, "rv_alpha": rv_a, "q": q, "alpha": alpha, "exact": exact, "text": text}
    null = (
        f"no unobserved confounder explaining less than {rv:.1%} of the residual variance of both treatment and "
        "outcome can bring the estimate to zero"
    )
    return TestResult(
        NAME, rv, None, df, null=null, details=details, layout=SENSITIVITY_LAYOUT, statistic_name="robustness value"
    )
