"""The robustness checks of the report's main estimate (the recommended one): the refuters' table with
pass/fail, the sensitivity to hidden confounding in one sentence, and its contour plot.

Nothing here estimates an effect of its own: the refuters re-run the main estimate's registered method
on changed data (:func:`deconfound.robustness.refute`, few simulations, seeded by the report's seed), and
the sensitivity reads Cinelli and Hazlett's bounds of the regression adjustment benchmarked on the
adjustment set's covariates (:func:`deconfound.ovb_bounds`), the DML bounds of Chernozhukov et al. for a
DML main estimate (:func:`deconfound.robustness.dml_sensitivity`) and the E-value of the estimate. For a
panel (DiD) main estimate the threat is a violation of parallel trends, so the sensitivity is Rambachan
and Roth's honest DiD (:func:`deconfound.honest_did`, relative magnitudes) on an event study with every
effect measured against event time -1: the main estimate itself when it is one, else the event study
re-run for it (Callaway-Sant'Anna with ``base_period="universal"``; for two-way fixed effects and the
other panel estimators, the TWFE event study of the same treatment), which the page says.
"""

from __future__ import annotations

import functools
import math
import warnings as _warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .._core.progress import Progress, reporting
from ..errors import DeconfoundError
from ..results import Estimate
from .content import ReportFigure, ReportTable, figure, frame_table

#: simulations of each random refuter in the report (few: a quick check, seeded; `deconfound refute`
#: runs more), and for methods that fit learners (DML, meta-learners), fewer still
REFUTER_SIMULATIONS = 10
LEARNER_SIMULATIONS = 3
LEARNER_FAMILIES = ("dml", "metalearners")
#: at most this many covariates of the adjustment set serve as benchmarks
MAX_BENCHMARKS = 3
#: honest DiD in the report: the relative-magnitude bounds Mbar tried (HonestDiD's grid of 1,000 candidates)
HONEST_SIZES = (0.0, 0.5, 1.0, 1.5, 2.0)


@dataclass
class MainChecks:
    """What the section shows for the main estimate, and the warnings for the top of the page."""

    paragraphs: list[str] = field(default_factory=list)
    tables: list[ReportTable] = field(default_factory=list)
    figures: list[ReportFigure] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def main_estimate(outcome: Any) -> tuple[str, Estimate] | None:
    """The recommended estimate and its method id (else the first estimate that is not the naive one)."""
    pairs = list(zip(outcome.method_ids, outcome.comparison))
    verdict = outcome.comparison.verdict
    recommended = getattr(verdict, "recommended", None) if verdict is not None else None
    if recommended is not None:
        for method, e in pairs:
            if e is recommended or e.name == getattr(recommended, "name", None):
                return method, e
    return next(((m, e) for m, e in pairs if m != "naive"), None)


def _refuter_table(result: Any, key: str, name: str, n: int) -> ReportTable:
    frame = result.to_frame()
    frame["passed"] = frame["passed"].map({True: "pass", False: "FAIL"})
    frame["refuter"] = frame["refuter"].str.replace("_", " ")
    for col in ("new_estimate", "spread"):
        frame[col] = frame[col].map(lambda v: "-" if v is None or not math.isfinite(v) else f"{v:.4g}")
    frame = frame[["refuter", "new_estimate", "spread", "passed", "rule", "detail"]].set_index("refuter")
    frame = frame.rename(columns={"passed": "result"})
    caption = (
        f"Each refuter re-runs {name} under a change that should (or should not) move it: {n} seeded simulations "
        f"of each random refuter (seed {result.seed}); a quick check, not a proof. {result.text}"
    )
    return frame_table(f"{key}-refuters", f"Refuters: {name}", frame, caption)


def _refute(
    model: Any, method: str, estimate: Estimate, options: dict[str, Any], seed: Any, progress: Progress
) -> tuple[Any, int] | str:
    """The refutation of the main estimate, or why it was not run."""
    from ..model import ESTIMATORS, identifies_by
    from ..robustness.refuters import REFUTERS, refute

    spec = ESTIMATORS[method]
    if identifies_by(method, spec) != "backdoor":
        return "the refuters re-run adjustment estimators; this estimate identifies the effect otherwise"
    function = spec.load()
    kwargs = model._arguments(method, spec, function, tuple(model.adjustment_set), options)
    if "random_state" in kwargs:  # the method's own seed; refute's random_state seeds the refuters
        function = functools.partial(function, random_state=kwargs.pop("random_state"))
    chosen = [r for r in REFUTERS if not (r == "placebo_treatment" and model.design == "panel")]
    n = LEARNER_SIMULATIONS if spec.family in LEARNER_FAMILIES else REFUTER_SIMULATIONS
    progress.step(f"refuting {estimate.name} ({n} simulations per refuter)")
    with reporting(progress), _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        result = refute(function, model.frame_, refuters=chosen, n_simulations=n, random_state=seed, **kwargs)
    return result, n


def _ch_sentence(bounds: Any, marks: list[str], prefix: str) -> str:
    """One sentence: how many times as strong as each benchmark a hidden confounder would have to be (with
    both the treatment and the outcome, kd = ky = k) to erase the effect."""
    parts = []
    for mark in marks:
        k = bounds.multiple_to_erase(mark)
        if k is None:
            top = bounds.max_multiple(mark)
            if math.isinf(top):  # the covariate explains none of the treatment: no multiple of it is anything
                parts.append(f"unlike any multiple of {mark!r} (which explains none of the treatment) to erase it")
            else:
                parts.append(f"more than {top:.2g} times as strong as {mark!r} (stronger than possible) to erase it")
            continue
        k_sig = bounds.multiple_to_erase(mark, significance=True)
        tail = ""
        if k_sig is not None and k_sig < k - 1e-9:
            tail = f", {k_sig:.2g} times to make it insignificant at {bounds.alpha:.0%}"
        parts.append(f"{k:.2g} times as strong as {mark!r} to erase it{tail}")
    return (
        f"{prefix}a hidden confounder would have to be " + "; ".join(parts) + " (as strong: explaining k times as "
        "much of both the treatment and the outcome as the covariate does; Cinelli and Hazlett 2020)."
    )


def _regression_sensitivity(model: Any, main: Estimate, method: str) -> tuple[list[str], list[ReportFigure]]:
    """Cinelli-Hazlett: the OLS of the outcome on the treatment and the adjustment set, benchmarked on its
    covariates (at most MAX_BENCHMARKS), one sentence, and the contour plot."""
    from ..robustness import ovb_bounds

    covariates = list(model.adjustment_set)
    if not covariates or model.design == "panel":
        return [], []
    marks = covariates[:MAX_BENCHMARKS]
    common = {"outcome": model.outcome, "treatment": model.treatment, "covariates": covariates}
    if model.weights is not None:
        common["weights"] = model.weights
    frame = model.frame_
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        first = ovb_bounds(frame, benchmark=marks, kd=[1e-6], **common)
        top = min(first.max_multiple(m) for m in marks)
        kd = [k for k in (1.0, 2.0, 3.0) if k < top] or [0.5 * top]
        bounds = ovb_bounds(frame, benchmark=marks, kd=kd, **common)
    prefix = "" if method == "ols" else f"For the regression adjustment (the linear outcome model behind {main.name}), "
    sentence = _ch_sentence(bounds, marks, prefix)
    sentence = sentence[0].upper() + sentence[1:]
    caption = (
        "Cinelli-Hazlett contours: the estimate adjusted for a hidden confounder of the given partial R-squared "
        "with the treatment (x) and the outcome (y); the dashed red line is where it reaches zero, the red "
        "points are confounders k times as strong as each observed covariate."
    )
    fig = bounds.plot(title=f"Sensitivity of the effect of {model.treatment!r} on {model.outcome!r}")
    return [sentence], [figure(f"sensitivity-{id(main)}", "Sensitivity to a hidden confounder", fig, caption)]


def _dml_sensitivity(main: Estimate) -> tuple[list[str], list[ReportFigure]]:
    from ..robustness.dml_bounds import dml_sensitivity

    s = dml_sensitivity(main)
    first = s.text.split(". With")[0]
    sentence = f"{first} (omitted-variable-bias bounds of Chernozhukov et al. 2022)."
    caption = (
        "DML sensitivity contours: the bound on the effect nearest zero for a hidden confounder that explains cf_y "
        "of the outcome's residual variance and adds cf_d to the Riesz representer's variation (rho = 1, the worst "
        "case); the dashed red line is where it reaches zero."
    )
    return [sentence], [
        figure(f"dml-sensitivity-{id(main)}", "Sensitivity to a hidden confounder (DML)", s.plot(), caption)
    ]


def _event_study_for(model: Any, main: Estimate, method: str, options: dict[str, Any]) -> tuple[Any, str]:
    """An event-study result with reference period -1 for the main estimate, and what was done to get it."""
    from ..model import ESTIMATORS

    def rerun(target: str, extra: dict[str, Any]) -> Any:
        spec = ESTIMATORS[target]
        function = spec.load()
        kwargs = model._arguments(target, spec, function, tuple(model.adjustment_set), {})
        kwargs.update(extra)
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore")
            return function(model.frame_, **kwargs)

    if main.method == "staggered":
        base = (main.coefficients.stats if main.coefficients is not None else {}).get("base_period")
        if base == "universal":
            return main, "the Callaway-Sant'Anna event-time effects (universal base period)"
        kept = {k: v for k, v in options.items() if k in ("est_method", "control_group", "anticipation")}
        return rerun("staggered", {**kept, "base_period": "universal", "aggregate": "event"}), (
            "the Callaway-Sant'Anna event-time effects re-run with base_period='universal' (every effect against "
            "event time -1, as honest DiD needs; the main estimate keeps its varying base period)"
        )
    if main.method == "event-study":
        if main.diagnostics.get("reference_period", -1) == -1:
            return main, f"the event study's coefficients ({main.name})"
        target = "sun-abraham" if method == "sun-abraham" else "event-study"
        return rerun(target, {"ref_period": -1}), f"{main.name} re-run with reference period -1"
    return rerun("event-study", {}), (
        f"a two-way fixed effects event study of the same treatment (leads and lags against event time -1), "
        f"run for this check since {main.name} gives one effect, not one per event time"
    )


def _honest_sensitivity(
    model: Any, main: Estimate, method: str, options: dict[str, Any]
) -> tuple[list[str], list[ReportFigure]]:
    """Honest DiD (relative magnitudes) of the effect at event time 0: one sentence and the plot."""
    from ..robustness import honest_did

    periods = model.frame_[model.time].nunique() if model.time in model.frame_.columns else None
    if periods is not None and periods < 3:
        return [
            f"Sensitivity to violations of parallel trends (honest DiD) does not apply: the panel has {periods} "
            "periods, so there is one period before treatment and no pre-treatment trend to measure a violation "
            "against (it needs two periods before treatment or more)."
        ], []
    try:
        result, source = _event_study_for(model, main, method, options)
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore")
            honest = honest_did(result, restriction="rm", sizes=HONEST_SIZES, random_state=0)
    except DeconfoundError as exc:
        reason = str(exc).rstrip(".")
        return [f"Sensitivity to violations of parallel trends (honest DiD) could not be computed: {reason}."], []
    verdict = honest.verdict.rstrip(".")
    sentence = (
        f"Sensitivity to violations of parallel trends, on {source}: {verdict[0].lower()}{verdict[1:]} "
        f"(Rambachan and Roth 2023, relative magnitudes; {honest.num_pre} pre-treatment and {honest.num_post} "
        "post-treatment periods)."
    )
    caption = (
        f"Honest DiD: the {honest.level:.0%} robust interval for the {honest.parameter} when post-treatment "
        "violations of parallel trends may be up to Mbar times the largest pre-treatment one, beside the usual "
        f"interval; computed on {source}."
    )
    fig = honest.plot()
    key = f"honest-did-{id(main)}"
    return [sentence], [figure(key, "Sensitivity to violations of parallel trends (honest DiD)", fig, caption)]


def _e_value_sentence(model: Any, main: Estimate) -> str | None:
    from ..robustness import e_value

    if model.design == "panel":  # a DiD's threat is a violation of parallel trends, not a confounder's risk ratio
        return None
    y = pd.to_numeric(model.frame_[model.outcome], errors="coerce")
    sd = float(y.std())
    if not math.isfinite(sd) or sd <= 0 or not math.isfinite(main.std_error or math.nan):
        return None
    try:
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore")
            return str(e_value(main, measure="difference", sd=sd).to_dict()["text"])
    except DeconfoundError:
        return None


def main_checks(
    model: Any, outcome: Any, options_for: Callable[[str], dict[str, Any]], seed: Any, progress: Progress, key: str
) -> MainChecks:
    """Refuters and sensitivity of the main estimate (see the module's docstring)."""
    out = MainChecks()
    found = main_estimate(outcome)
    if found is None:
        return out
    method, main = found
    out.paragraphs.append(f"Checks of the main estimate, {main.name}:")
    sentences: list[str] = []
    figures: list[ReportFigure] = []
    try:
        if "dml_sensitivity" in main.diagnostics:
            sentences, figures = _dml_sensitivity(main)
        elif model.design == "panel":
            sentences, figures = _honest_sensitivity(model, main, method, options_for(method))
        else:
            sentences, figures = _regression_sensitivity(model, main, method)
    except DeconfoundError as exc:
        sentences = [f"The sensitivity analysis could not be computed: {exc}"]
    e_text = _e_value_sentence(model, main)
    if e_text:
        sentences.append(e_text)
    out.paragraphs.extend(sentences)
    out.figures.extend(figures)
    try:
        refuted = _refute(model, method, main, options_for(method), seed, progress)
    except DeconfoundError as exc:
        refuted = str(exc)
    if isinstance(refuted, str):
        out.paragraphs.append(f"Refuters (not run): {refuted}.")
        return out
    result, n = refuted
    if result.rows:
        out.tables.append(_refuter_table(result, key, main.name, n))
    if result.skipped:
        listed = "; ".join(f"{name.replace('_', ' ')} ({why})" for name, why in result.skipped)
        out.paragraphs.append(f"Refuters not run: {listed}.")
    failed = [r["refuter"].replace("_", " ") for r in result.rows if not r["passed"]]
    if failed:
        out.warnings.append(
            f"{main.name} failed {len(failed)} of {len(result.rows)} refuters ({', '.join(failed)}): see the "
            "Robustness section."
        )
    return out
