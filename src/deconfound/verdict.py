"""From several estimates to one answer: a status for each estimate and one recommended estimate.

The rule (docs/verdict.md gives the reasoning and the literature):

1. Each estimate is checked against the diagnostics it carries. A check either passes, raises a
   *caution* (the estimate can be used, with the reason said) or *sets it aside* (the estimate answers
   the question badly on this data, and the reason says why):

   ==========================  ======================================  =====================================
   check                       caution                                 set aside
   ==========================  ======================================  =====================================
   confounding                 --                                      a difference in means outside a
                                                                       randomized design with confounders
   identification              --                                      an adjusted estimate when the graph
                                                                       identifies the effect only by the
                                                                       front door or an instrument
   balance after adjustment    largest |SMD| above 0.1                 largest |SMD| above 0.25
   overlap                     > 10% of a group outside the other's    --
                               score range
   effective sample size       a group's ESS below 10% of its rows     --
   pre-trends                  joint test p below 0.10                 joint test p below 0.05
   staggered timing (TWFE)     --                                      forbidden comparisons carry weight
                                                                       and a heterogeneity-robust
                                                                       estimator is in the comparison
   random effects              Mundlak test p below 0.10               Mundlak test p below 0.05
   collinearity                VIF of the treatment above 10           --
   rows dropped                over 5% of the rows                     --
   units left unmatched        some treated units unmatched            most treated units unmatched
   uncertainty                 no finite standard error                --
   the estimator's warnings    a warning no check above covers         --
   ==========================  ======================================  =====================================

2. The recommended estimate is the first *supported* estimate (else, saying so, the first *caution*
   estimate) in the design's order of preference: for a randomized trial the difference in means; for a
   cross-section Lin's interacted regression, then AIPW, regression per arm, OLS, overlap weights,
   matching, IPW, CEM, then the front door and IV (recommended when adjustment cannot identify the
   effect and the graph names a front-door set or an instrument); for a panel Callaway-Sant'Anna, then
   the 2x2 DiD, TWFE, event studies, panel regressions. Estimates of the question's estimand come before the others.
3. Other usable estimates *agree* when their point estimate lies inside the recommended interval.
4. Numbers are rounded to the decimal place of the first significant digit of the recommended
   estimate's standard error, the same on the whole page.

Plain functions of results (read by attribute, so this module sits below ``results``); nothing here
estimates.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["STATUSES", "Assessment", "Verdict", "assess", "round_by_se", "verdict"]

STATUSES = ("supported", "caution", "set aside")

#: thresholds of the rule (docs/verdict.md)
SMD_CAUTION, SMD_SET_ASIDE = 0.1, 0.25
OUTSIDE_SUPPORT_CAUTION = 0.10
ESS_SHARE_CAUTION = 0.10
PRETREND_CAUTION, PRETREND_SET_ASIDE = 0.10, 0.05
VIF_CAUTION = 10.0
DROPPED_CAUTION = 0.05

PREFERENCE = {
    "rct": ("naive", "lin", "ols", "aipw", "ra", "overlap", "ipw", "psm", "cem"),
    "cross-section": ("lin", "aipw", "ra", "ols", "overlap", "psm", "ipw", "cem", "naive", "front-door", "iv"),
    "panel": (
        "staggered",
        "did",
        "twfe",
        "sun-abraham",
        "event-study",
        "first-difference",
        "random-effects",
        "panel",
    ),
}
#: the heterogeneity-robust panel estimators (their presence sets TWFE aside under staggered timing)
_ROBUST_STAGGERED = ("staggered", "sun-abraham")


@dataclass(frozen=True)
class Assessment:
    """The status of one estimate and the reasons for it (empty when every check passed)."""

    name: str
    method: str
    status: str
    reasons: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "method": self.method, "status": self.status, "reasons": list(self.reasons)}


@dataclass(frozen=True)
class Verdict:
    """One recommended estimate (or none), every estimate's status, and the sentence that says so."""

    recommended: Any  # the Estimate, or None when no estimate is usable
    assessments: tuple[Assessment, ...]
    agree: tuple[str, ...]
    differ: tuple[str, ...]
    headline: str
    digits: int

    def status_of(self, name: str) -> Assessment:
        for a in self.assessments:
            if name in (a.name, a.method):
                return a
        raise KeyError(f"No estimate named {name!r}; have {[a.name for a in self.assessments]}.")

    def to_dict(self) -> dict[str, Any]:
        rec = self.recommended
        return {
            "recommended": None if rec is None else rec.name,
            "recommended_method": None if rec is None else rec.method,
            "headline": self.headline,
            "agree": list(self.agree),
            "differ": list(self.differ),
            "digits": self.digits,
            "assessments": [a.to_dict() for a in self.assessments],
        }

    def __str__(self) -> str:
        return self.headline


# --------------------------------------------------------------------------------------------------
# rounding
# --------------------------------------------------------------------------------------------------


def decimals_for(se: float) -> int:
    """Decimal places that keep the first significant digit of ``se`` (at least 0; 2 when unknown)."""
    if not (isinstance(se, (int, float)) and math.isfinite(se)) or se <= 0:
        return 2
    return max(0, -math.floor(math.log10(se)))


def round_by_se(value: float, digits: int) -> str:
    """``value`` with ``digits`` decimals (a minus sign, never '-0')."""
    if not math.isfinite(value):
        return "n/a"
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


# --------------------------------------------------------------------------------------------------
# reading diagnostics (frames, mappings or typed test results alike)
# --------------------------------------------------------------------------------------------------


def _field(obj: Any, key: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(key)
    return getattr(obj, key, None)


def _rows(table: Any) -> list[dict[str, Any]]:
    """A diagnostics table as a list of row dicts with the index under its name (DataFrame or records)."""
    if table is None:
        return []
    if hasattr(table, "reset_index"):
        return table.reset_index().to_dict("records")
    if isinstance(table, Sequence) and not isinstance(table, str):
        return [dict(r) for r in table if isinstance(r, Mapping)]
    return []


def _number(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


# --------------------------------------------------------------------------------------------------
# the checks
# --------------------------------------------------------------------------------------------------


def _check_confounding(e: Any, design: str, confounders: Sequence[str]) -> tuple[str, str] | None:
    if e.method != "naive" or design == "rct" or not confounders:
        return None
    names = ", ".join(repr(c) for c in confounders)
    return "set aside", f"ignores the confounder(s) {names}, so it is biased unless treatment was randomized"


#: how the model says adjustment cannot identify the effect -> the methods that identify it then
IDENTIFIED_BY = {"front-door": ("front-door",), "iv": ("iv",)}


def _check_identification(e: Any, identification: str | None) -> tuple[str, str] | None:
    """An estimate that adjusts, when the graph identifies the effect only by the front door or an instrument."""
    methods = IDENTIFIED_BY.get(identification or "")
    if methods is None or e.method in methods:
        return None
    t = repr(e.treatment) if e.treatment else "the treatment"
    y = repr(e.outcome) if e.outcome else "the outcome"
    how = "the front door" if identification == "front-door" else "an instrument"
    return "set aside", (
        f"not identified: an unobserved confounder of {t} and {y} leaves a backdoor path open that no adjustment "
        f"closes (the graph identifies the effect by {how})"
    )


#: estimators whose answer rests on the balance they reach (AIPW also models the outcome: a caution only)
_BALANCE_ONLY = ("ipw", "overlap", "psm", "cem")


def _check_balance(e: Any) -> tuple[str, str] | None:
    worst, worst_name = 0.0, ""
    for row in _rows(e.diagnostics.get("balance")):
        name = str(row.get("covariate", row.get("index", "")))
        smd = _number(row.get("smd_after"))
        if smd is None or name == "propensity score":
            continue
        if abs(smd) > abs(worst):
            worst, worst_name = smd, name
    if abs(worst) > SMD_SET_ASIDE and e.method in _BALANCE_ONLY:
        return "set aside", (
            f"balance on {worst_name!r} was not reached (standardized difference {worst:.2f} after adjustment; "
            f"above {SMD_SET_ASIDE})"
        )
    if abs(worst) > SMD_SET_ASIDE:
        return "caution", (
            f"the weights leave {worst_name!r} imbalanced (standardized difference {worst:.2f}); the outcome "
            "model has to correct it"
        )
    if abs(worst) > SMD_CAUTION:
        return "caution", f"{worst_name!r} is still somewhat imbalanced (standardized difference {worst:.2f})"
    return None


def _check_overlap(e: Any) -> tuple[str, str] | None:
    for row in _rows(e.diagnostics.get("overlap")):
        share = _number(row.get("share_outside_other"))
        if share is not None and share > OUTSIDE_SUPPORT_CAUTION:
            group = row.get("group", "a group")
            return "caution", f"{share:.0%} of the {group} units have scores outside the other group's range"
    return None


def _check_ess(e: Any) -> tuple[str, str] | None:
    for row in _rows(e.diagnostics.get("weight_summary")):
        share = _number(row.get("ess_share"))
        if share is not None and share < ESS_SHARE_CAUTION:
            group = row.get("group", "a group")
            return "caution", f"a few large weights leave the {group} group an effective sample of {share:.0%}"
    return None


def _check_pretrends(e: Any) -> tuple[str, str] | None:
    test = e.diagnostics.get("pretrend_test")
    if test is None or _field(test, "applicable") is False:
        return None
    p = _number(_field(test, "p_value"))
    if p is None:
        return None
    if p < PRETREND_SET_ASIDE:
        return "set aside", f"the pre-trend test rejects parallel trends before treatment (p = {p:.3f})"
    if p < PRETREND_CAUTION:
        return "caution", f"the pre-trend test is borderline (p = {p:.3f})"
    return None


def _check_staggered(e: Any, methods: set[str]) -> tuple[str, str] | None:
    if e.method not in ("twfe", "event-study") or not (methods & set(_ROBUST_STAGGERED)):
        return None
    if "cohort_effects" in e.diagnostics:  # Sun-Abraham: robust to staggered timing
        return None
    bacon = e.diagnostics.get("bacon_summary")
    if bacon is None and e.method == "twfe":
        return None
    reason = "staggered adoption: two-way fixed effects compare later-treated units with already-treated ones"
    for row in _rows(bacon):
        kind = str(row.get("kind", row.get("index", ""))).lower()
        weight = _number(row.get("weight"))
        if "already" in kind and weight:
            reason += f" ({weight:.0%} of the weight; Goodman-Bacon)"
            break
    else:
        reason += " (Goodman-Bacon)"
    return ("set aside" if e.method == "twfe" else "caution"), reason


def _check_period_effects(e: Any, methods: set[str]) -> tuple[str, str] | None:
    """A panel regression without period effects in a difference-in-differences comparison."""
    if e.method != "panel" or not (methods & {"did", "twfe", "staggered", "event-study"}):
        return None
    if e.diagnostics.get("period_effects") or "time" in str(e.diagnostics.get("fixed_effects", "")):
        return None
    return "set aside", "it has no period effects, so a trend common to all units is read as an effect of the treatment"


def _check_random_effects(e: Any) -> tuple[str, str] | None:
    """Random effects when the Mundlak test rejects that the unit effects are uncorrelated with the regressors."""
    p = _number(_field(e.diagnostics.get("mundlak_test"), "p_value"))
    if p is None or p >= PRETREND_CAUTION:
        return None
    reason = (
        f"the unit effects are correlated with the regressors (Mundlak test p = {p:.2g}), which random effects "
        "assume away; fixed effects do not need that assumption"
    )
    return ("set aside" if p < PRETREND_SET_ASIDE else "caution"), reason


def _check_collinearity(e: Any) -> tuple[str, str] | None:
    treatment = e.treatment
    for row in _rows(e.diagnostics.get("vif")):
        term = str(row.get("term", row.get("index", "")))
        vif = _number(row.get("vif"))
        if vif is not None and vif > VIF_CAUTION and (treatment is None or term == treatment):
            return "caution", f"the treatment is nearly collinear with the covariates (VIF {vif:.0f})"
    return None


def _check_dropped(e: Any) -> tuple[str, str] | None:
    """Rows lost to missing values (rows of weight 0 were left out on purpose: not counted)."""
    total = e.n + e.n_dropped
    zero_weight = sum(int(k) for key, k in dict(e.dropped_by).items() if str(key).endswith("== 0"))
    lost = e.n_dropped - zero_weight
    if total and lost / total > DROPPED_CAUTION:
        return "caution", f"{lost} of {total} rows were dropped ({lost / total:.0%})"
    return None


def _check_unmatched(e: Any) -> tuple[str, str] | None:
    d = e.diagnostics
    lost = _number(d.get("n_unmatched_treated"))  # CEM: its n_treated counts the kept treated rows only
    treated = (e.n_treated or 0) + (lost or 0)
    if lost is None:
        by_group = d.get("n_unmatched_by_group")
        lost = _number(_field(by_group, "treated")) if by_group is not None else None
        treated = e.n_treated or 0
    if not lost or not treated:
        return None
    if lost / treated > 0.5:
        return "set aside", f"{lost:.0f} treated units found no match, most of them: it no longer answers the question"
    return "caution", f"{lost:.0f} treated units found no match: the estimate is for the matched units only"


def _check_uncertainty(e: Any) -> tuple[str, str] | None:
    se = e.std_error
    if se is None or not math.isfinite(se):
        return "caution", "no standard error, so no interval"
    return None


def assess(
    estimate: Any,
    *,
    design: str = "cross-section",
    confounders: Sequence[str] = (),
    methods: Iterable[str] = (),
    identification: str | None = None,
) -> Assessment:
    """The status of one estimate. ``methods`` are the other methods in the comparison; ``identification``
    as for :func:`verdict`."""
    others = set(methods)
    found = [
        _check_identification(estimate, identification),
        _check_confounding(estimate, design, confounders),
        _check_balance(estimate),
        _check_overlap(estimate),
        _check_ess(estimate),
        _check_pretrends(estimate),
        _check_staggered(estimate, others),
        _check_period_effects(estimate, others),
        _check_random_effects(estimate),
        _check_collinearity(estimate),
        _check_dropped(estimate),
        _check_unmatched(estimate),
        _check_uncertainty(estimate),
    ]
    hits = [h for h in found if h is not None]
    if not hits and estimate.warnings:  # a warning of the estimator's own that no check above covers
        hits.append(("caution", _first_sentence(str(estimate.warnings[0]))))
    status = "supported"
    if any(s == "set aside" for s, _ in hits):
        status = "set aside"
    elif hits:
        status = "caution"
    return Assessment(estimate.name, estimate.method, status, tuple(r for _, r in hits))


def _first_sentence(text: str) -> str:
    head, dot, _ = text.partition(". ")
    return (head + dot).rstrip(". ") if dot else text.rstrip(". ")


# --------------------------------------------------------------------------------------------------
# the verdict
# --------------------------------------------------------------------------------------------------


def _rank(e: Any, order: Sequence[str], estimand: str | None) -> tuple[int, int]:
    pos = order.index(e.method) if e.method in order else len(order)
    return (0 if estimand is None or e.estimand == estimand else 1, pos)


def verdict(
    estimates: Iterable[Any],
    *,
    design: str = "cross-section",
    confounders: Sequence[str] = (),
    estimand: str | None = None,
    identification: str | None = None,
) -> Verdict:
    """Assess every estimate and pick the recommended one (module docstring; docs/verdict.md).

    ``identification`` is ``"identified"`` (a graph identifies the effect by adjustment), ``"assumed"``
    (the covariates are assumed to be the confounders, which the headline says), ``"front-door"`` or
    ``"iv"`` (the graph identifies it only by the front door or an instrument: adjusted estimates are set
    aside and the headline says so) or None (not known).
    """
    ests = list(estimates)
    methods = {e.method for e in ests}
    found = [
        assess(e, design=design, confounders=confounders, methods=methods, identification=identification) for e in ests
    ]
    order = PREFERENCE.get(design, PREFERENCE["cross-section"])
    for wanted in ("supported", "caution"):
        pool = [e for e, a in zip(ests, found) if a.status == wanted]
        if pool:
            rec = min(pool, key=lambda e: _rank(e, order, estimand))
            break
    else:
        rec = None
    if rec is None:  # no answer: round by the most precise estimate
        ses = [e.std_error for e in ests if e.std_error is not None and math.isfinite(e.std_error) and e.std_error > 0]
        return Verdict(None, tuple(found), (), (), _no_answer(found), decimals_for(min(ses)) if ses else 2)
    digits = decimals_for(rec.std_error)
    usable = [(e, a) for e, a in zip(ests, found) if e is not rec and a.status != "set aside"]
    low, high = rec.ci_low, rec.ci_high
    agree = tuple(e.name for e, _ in usable if _inside(e.estimate, low, high))
    differ = tuple(e.name for e, _ in usable if not _inside(e.estimate, low, high))
    text = _headline(rec, found, ests, agree, differ, digits, identification)
    return Verdict(rec, tuple(found), agree, differ, text, digits)


def _inside(x: float, low: float, high: float) -> bool:
    return math.isfinite(low) and math.isfinite(high) and low <= x <= high


def _effect_words(rec: Any, digits: int) -> str:
    what = f"{rec.treatment!r}" if rec.treatment else "The treatment"
    outcome = f"{rec.outcome!r}" if rec.outcome else "the outcome"
    size = round_by_se(abs(rec.estimate), digits)
    verb = "raises" if rec.estimate > 0 else "lowers"
    if float(size) == 0:
        return f"{what} changes {outcome} by about 0"
    return f"{what} {verb} {outcome} by about {size}"


def _headline(
    rec: Any,
    found: Sequence[Assessment],
    ests: Sequence[Any],
    agree: Sequence[str],
    differ: Sequence[str],
    digits: int,
    identification: str | None,
) -> str:
    level = f"{rec.level:.0%}"
    if math.isfinite(rec.ci_low) and math.isfinite(rec.ci_high):
        interval = f" ({level} interval {round_by_se(rec.ci_low, digits)} to {round_by_se(rec.ci_high, digits)})"
    else:
        interval = " (no interval)"
    status = {a.name: a for a in found}
    caution = status[rec.name].status == "caution"
    parts = [f"{_effect_words(rec, digits)}{interval}, by {rec.name} ({rec.estimand})."]
    if caution:
        parts.append(f"No estimate passed every check; this one with caution: {'; '.join(status[rec.name].reasons)}.")
    if identification == "assumed":
        parts.append("This assumes the covariates are the only confounders (no graph was given).")
    if identification in IDENTIFIED_BY:
        how = "the front-door criterion" if identification == "front-door" else "an instrumental variable"
        parts.append(
            f"Adjustment cannot identify this effect (an unobserved confounder); the graph identifies it by {how}."
        )
    if agree:
        parts.append(f"{_join(agree)} agree{'s' if len(agree) == 1 else ''}.")
    if differ:
        parts.append(f"{_join(differ)} differ{'s' if len(differ) == 1 else ''} (outside the interval).")
    aside = [
        f"{e.name} ({round_by_se(e.estimate, digits)}): {status[e.name].reasons[0]}"
        for e in ests
        if status[e.name].status == "set aside"
    ]
    if aside:
        parts.append("Set aside: " + "; ".join(aside) + ".")
    return " ".join(parts)


def _no_answer(found: Sequence[Assessment]) -> str:
    reasons = "; ".join(f"{a.name}: {a.reasons[0]}" for a in found if a.reasons)
    return "No estimate can be recommended: every one was set aside" + (f" ({reasons})." if reasons else ".")


def _join(names: Sequence[str]) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
