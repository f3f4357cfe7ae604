"""E-values (VanderWeele and Ding, 2017): how strong would an unmeasured confounder have to be?

The E-value is the minimum strength of association, on the risk-ratio scale, that an unmeasured
confounder would need with both the treatment and the outcome (conditional on the measured covariates)
to fully explain away an observed risk ratio RR. For RR >= 1 it is ``RR + sqrt(RR (RR - 1))``; a
protective RR < 1 is inverted first. The E-value of the confidence interval uses the limit closest to
the null (1 when the interval already contains it).

Other effect measures are first put on the risk-ratio scale, as VanderWeele and Ding do:

* odds ratio: RR = OR when the outcome is rare (under 15% in every arm), RR = sqrt(OR) when it is
  common (VanderWeele 2017);
* hazard ratio: RR = HR when rare, RR = (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR)) when common;
* a difference in means: standardized by the outcome's standard deviation (d = difference / sd), then
  RR = exp(0.91 d) with the interval exp(0.91 d -+ 1.78 se_d) (VanderWeele and Ding 2017, section 6;
  the approximation of Chinn 2000 for a roughly normal outcome).

A ``true`` value other than the null asks how strong a confounder would have to be to move the
estimate to that value instead (the ratio is divided by it first).
"""

from __future__ import annotations

import math
from typing import Any

from ..diagnostics.hypotheses import TestResult
from ..errors import SpecificationError

__all__ = ["e_value"]

MEASURES = ("RR", "OR", "HR", "difference")
#: the dict form of an E-value result (keys in order)
EVALUE_LAYOUT = ("e_value=statistic", "e_value_ci", "risk_ratio", "risk_ratio_ci", "measure", "true", "text")
NAME = "E-value"


def _positive(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SpecificationError(f"{name} must be a number, got {value!r}.") from None
    if not math.isfinite(number) or number <= 0:
        raise SpecificationError(f"{name} must be a positive finite ratio, got {value!r}.")
    return number


def _finite(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SpecificationError(f"{name} must be a number, got {value!r}.") from None
    if not math.isfinite(number):
        raise SpecificationError(f"{name} must be a finite number, got {value!r}.")
    return number


def _to_risk_ratio(value: float, measure: str, rare: bool) -> float:
    """Put an odds or hazard ratio on the risk-ratio scale (ratios only)."""
    if measure == "RR" or rare:
        return value
    if measure == "OR":
        return math.sqrt(value)
    # a common outcome's hazard ratio (VanderWeele 2020, the approximation the E-value papers use)
    return (1.0 - 0.5 ** math.sqrt(value)) / (1.0 - 0.5 ** math.sqrt(1.0 / value))


def _e(ratio: float) -> float:
    """The E-value of one risk ratio (already divided by the true value)."""
    if ratio < 1.0:
        ratio = 1.0 / ratio
    return ratio + math.sqrt(ratio * (ratio - 1.0))


def _ci_e_value(point: float, low: float | None, high: float | None) -> float | None:
    """E-value of the limit closest to the null; 1 when the interval contains it."""
    if point >= 1.0:
        if low is None:
            return None
        return 1.0 if low <= 1.0 else _e(low)
    if high is None:
        return None
    return 1.0 if high >= 1.0 else _e(high)


def _from_estimate(result: Any, sd: Any) -> tuple[float, float, float]:
    if sd is None:
        outcome = getattr(result, "outcome", None) or "the outcome"
        raise SpecificationError(
            "an E-value for a difference needs the outcome's standard deviation to standardize it: pass "
            f"sd= (for example sd=df[{outcome!r}].std())."
        )
    scale = _positive(sd, "sd")
    estimate = _finite(result.estimate, "the estimate")
    se = _finite(result.std_error, "the estimate's standard error")
    return estimate / scale, se / scale, scale


def e_value(
    estimate: Any,
    lower: float | None = None,
    upper: float | None = None,
    *,
    measure: str = "RR",
    rare: bool = False,
    sd: float | None = None,
    se: float | None = None,
    true: float | None = None,
) -> TestResult:
    """The E-value of an estimate and of its confidence interval.

    ``estimate`` is a ratio (``measure`` ``"RR"``, ``"OR"`` or ``"HR"``, with optional ``lower``/``upper``
    confidence limits; ``rare=True`` when the outcome is rare) or a difference in means (``measure=
    "difference"``): a number with its standard error ``se`` and the outcome's standard deviation ``sd``,
    or one of our :class:`~deconfound.Estimate` results with ``sd``. ``true`` is the value to move the
    estimate to (the null by default: 1 for ratios, 0 for differences).

    Returns a :class:`~deconfound.diagnostics.hypotheses.TestResult` whose statistic is the E-value of the
    point estimate; as a mapping it holds ``e_value_ci`` (the interval's E-value, None without limits),
    the estimate and interval on the risk-ratio scale and a sentence that says what they mean.
    """
    if measure not in MEASURES:
        listed = ", ".join(repr(m) for m in MEASURES)
        raise SpecificationError(f"measure={measure!r} is not known; choose one of {listed}.")
    from_result = hasattr(estimate, "estimate") and hasattr(estimate, "std_error")
    if from_result and measure != "difference":
        raise SpecificationError(
            "an estimate from deconfound is a difference: pass measure='difference' with the outcome's sd=, or "
            "pass the ratio as a number."
        )
    if measure == "difference":
        point, low, high, ratio_true, label = _difference(estimate, lower, upper, sd=sd, se=se, true=true)
    else:
        if sd is not None or se is not None:
            raise SpecificationError(f"sd= and se= are for measure='difference', not for measure={measure!r}.")
        point, low, high, ratio_true, label = _ratio(estimate, lower, upper, measure=measure, rare=rare, true=true)
    shifted = point / ratio_true
    e_point = _e(shifted)
    e_ci = _ci_e_value(shifted, None if low is None else low / ratio_true, None if high is None else high / ratio_true)
    text = _sentence(e_point, e_ci, label, ratio_true)
    details = {
        "e_value_ci": e_ci,
        "risk_ratio": point,
        "risk_ratio_ci": (low, high) if low is not None or high is not None else None,
        "measure": measure,
        "true": ratio_true,
        "text": text,
    }
    return TestResult(
        NAME,
        e_point,
        None,
        null="no unmeasured confounder weaker than this (on the risk-ratio scale, with both treatment and outcome) "
        "explains the estimate away",
        details=details,
        layout=EVALUE_LAYOUT,
        statistic_name="E-value",
    )


def _ratio(
    estimate: Any, lower: Any, upper: Any, *, measure: str, rare: bool, true: Any
) -> tuple[float, float | None, float | None, float, str]:
    value = _positive(estimate, "estimate")
    low = None if lower is None else _positive(lower, "lower")
    high = None if upper is None else _positive(upper, "upper")
    if low is not None and high is not None and not low <= value <= high:
        raise SpecificationError(f"the interval ({low:g}, {high:g}) must contain the estimate {value:g}.")
    ratio_true = 1.0 if true is None else _positive(true, "true")
    convert = (lambda v: _to_risk_ratio(v, measure, rare)) if measure != "RR" else (lambda v: v)
    label = {"RR": "risk ratio", "OR": "odds ratio", "HR": "hazard ratio"}[measure]
    return (
        convert(value),
        None if low is None else convert(low),
        None if high is None else convert(high),
        convert(ratio_true),
        label,
    )


def _difference(
    estimate: Any, lower: Any, upper: Any, *, sd: Any, se: Any, true: Any
) -> tuple[float, float | None, float | None, float, str]:
    if lower is not None or upper is not None:
        raise SpecificationError(
            "for a difference the interval comes from its standard error: pass se= (not lower=/upper=)."
        )
    if hasattr(estimate, "estimate"):
        if se is not None:
            raise SpecificationError("se= is read from the estimate; leave it out.")
        d, se_known, scale = _from_estimate(estimate, sd)
        se_d: float | None = se_known
    else:
        if sd is None:
            raise SpecificationError("an E-value for a difference needs the outcome's standard deviation: pass sd=.")
        scale = _positive(sd, "sd")
        d = _finite(estimate, "estimate") / scale
        se_d = None if se is None else _positive(se, "se") / scale
    shift = 0.0 if true is None else _finite(true, "true") / scale
    point = math.exp(0.91 * d)
    low = None if se_d is None else math.exp(0.91 * d - 1.78 * se_d)
    high = None if se_d is None else math.exp(0.91 * d + 1.78 * se_d)
    return point, low, high, math.exp(0.91 * shift), "standardized difference (approximate risk ratio)"


def _sentence(e_point: float, e_ci: float | None, label: str, ratio_true: float) -> str:
    target = "explain away the estimate" if ratio_true == 1.0 else "move the estimate to the value given"
    text = (
        f"To {target}, an unmeasured confounder would need a risk ratio of at least {e_point:.3g} with both the "
        f"treatment and the outcome, beyond the measured covariates (E-value; {label})."
    )
    if e_ci is None:
        return text
    if e_ci <= 1.0:
        return text + " The confidence interval already includes that value: no confounding is needed to reach it."
    return text + f" To move the confidence interval to include it, a risk ratio of {e_ci:.3g} would suffice."
