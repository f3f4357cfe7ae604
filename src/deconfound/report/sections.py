"""The sections of a report, each built from a model and the results it produced.

Nothing here estimates an effect: the estimates come in as a :class:`~deconfound.results.Comparison`
(possibly empty, with the reasons why); figures come from ``deconfound.plots``. Diagnostics that
estimators leave on their results are rendered by small functions registered in
:data:`DIAGNOSTIC_RENDERERS` (diagnostics key -> renderer), so each method family adds its own views.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .._core.progress import Progress
from ..errors import DeconfoundError, IdentificationError
from ..results import Comparison, Estimate
from ..verdict import round_by_se
from .content import ReportFigure, ReportSection, ReportTable, figure, frame_table

Renderer = Callable[[Estimate, Any], "list[ReportTable | ReportFigure]"]

#: diagnostics key -> function(estimate, value) returning tables and figures for the Diagnostics section.
DIAGNOSTIC_RENDERERS: dict[str, Renderer] = {}

PLACEBO_SIMULATIONS = 20


Notice = Callable[[Estimate, Any], "list[str]"]

#: diagnostics key -> function(estimate, value) returning warnings to box at the top of the Diagnostics
#: section (e.g. a DML nuisance that predicts no better than a constant).
DIAGNOSTIC_NOTICES: dict[str, Notice] = {}


def notices(key: str) -> Callable[[Notice], Notice]:
    def register(fn: Notice) -> Notice:
        DIAGNOSTIC_NOTICES[key] = fn
        return fn

    return register


#: diagnostics keys drawn once per analysis (the first estimate that has them), e.g. the overlap of the
#: propensity scores, which every propensity method reports alike.
RENDER_ONCE: set[str] = set()


def renders(key: str, *, once: bool = False) -> Callable[[Renderer], Renderer]:
    def register(fn: Renderer) -> Renderer:
        DIAGNOSTIC_RENDERERS[key] = fn
        if once:
            RENDER_ONCE.add(key)
        return fn

    return register


@renders("overlap", once=True)
def _overlap(estimate: Estimate, value: Any) -> list[ReportTable | ReportFigure]:
    from ..plots.overlap import overlap_plot

    caption = (
        "Common support: densities of the propensity score by group. Where one group has scores the other "
        "lacks, estimates there rest on extrapolation."
    )
    return [
        figure(f"overlap-{id(estimate)}", "Overlap of propensity scores", overlap_plot(estimate), caption),
        frame_table(f"overlap-{id(estimate)}", "Overlap of propensity scores", value),
    ]


@renders("balance")
def _balance(estimate: Estimate, value: Any) -> list[ReportTable | ReportFigure]:
    if not isinstance(value, pd.DataFrame) or not any(str(c).endswith("_after") for c in value.columns):
        return []  # the naive estimate's table (no adjustment) is the data section's covariate summary
    from ..plots.balance import love_plot

    caption = "Standardized mean differences before and after adjustment; |SMD| above 0.1 signals imbalance."
    return [figure(f"balance-{id(estimate)}", f"Balance: {estimate.name}", love_plot(estimate), caption)]


@renders("weight_summary")
def _weights(estimate: Estimate, value: Any) -> list[ReportTable | ReportFigure]:
    caption = "Effective sample size and the largest weights: a few dominant weights make the estimate fragile."
    return [frame_table(f"weights-{id(estimate)}", f"Weights: {estimate.name}", value, caption)]


@renders("vif")
def _vif(estimate: Estimate, value: Any) -> list[ReportTable | ReportFigure]:
    cond = estimate.diagnostics.get("condition_number")
    caption = "Variance inflation factors: above 10, a column is nearly a combination of the others."
    if cond is not None:
        caption += f" Condition number of the design: {cond:.4g}."
    return [frame_table(f"vif-{estimate.method}", f"Collinearity: {estimate.name}", value, caption)]


@renders("event_study")
def _event_study(estimate: Estimate, value: Any) -> list[ReportTable | ReportFigure]:
    from ..plots.event_study import plot_event_study

    items: list[ReportTable | ReportFigure] = [
        figure(f"event-{estimate.method}-{id(estimate)}", f"Event study: {estimate.name}", plot_event_study(estimate))
    ]
    test = estimate.diagnostics.get("pretrend_test")
    if isinstance(test, Mapping) and test.get("applicable"):
        verdict = "no evidence against" if test["p_value"] >= 0.05 else "evidence AGAINST"
        caption = (
            f"Joint test that every pre-treatment coefficient is zero: {test['distribution']} = "
            f"{test['statistic']:.3f}, p = {test['p_value']:.3g} ({verdict} parallel pre-trends)."
        )
        table = pd.DataFrame(
            {"statistic": [test["statistic"]], "p_value": [test["p_value"]], "df": [test.get("df_num")]},
            index=pd.Index([estimate.name], name="pre-trend test"),
        )
        items.append(frame_table(f"pretrend-{id(estimate)}", f"Parallel pre-trends: {estimate.name}", table, caption))
    return items


@renders("bacon_summary")
def _bacon(estimate: Estimate, value: Any) -> list[ReportTable | ReportFigure]:
    caption = (
        "Goodman-Bacon decomposition of the two-way fixed-effects estimate: comparisons that use already-treated "
        "units as controls can bias it when effects change over time."
    )
    return [frame_table(f"bacon-{id(estimate)}", f"Staggered timing: {estimate.name}", value, caption)]


@renders("group_means")
def _group_means(estimate: Estimate, value: Any) -> list[ReportTable | ReportFigure]:
    caption = "Mean outcome by group and period; the difference of the two changes is the DiD estimate."
    return [frame_table(f"means-{id(estimate)}", f"Four means: {estimate.name}", value, caption)]


@renders("balance_test")
def _balance_test(estimate: Estimate, value: Any) -> list[ReportTable | ReportFigure]:
    rows = [
        ("statistic (chi-squared)", f"{value['statistic']:.4g}"),
        ("df", f"{value['df']:g}"),
        ("p-value", f"{value['p_value']:.3g}"),
    ]
    table = pd.DataFrame(rows, columns=["joint test", "value"]).set_index("joint test")
    caption = "Wald test that the covariates do not predict the arm (a check of the randomization)."
    return [frame_table(f"balance-test-{estimate.method}", f"Randomization check: {estimate.name}", table, caption)]


@renders("mediator_model")
def _mediator_model(estimate: Estimate, value: Any) -> list[ReportTable | ReportFigure]:
    caption = (
        "Front door, first stage: each mediator on the treatment. A weak link (a robust F below 10) makes the "
        "product of the two stages unreliable."
    )
    return [frame_table(f"fd-first-{id(estimate)}", f"Treatment -> mediators: {estimate.name}", value, caption)]


@renders("outcome_model")
def _outcome_model(estimate: Estimate, value: Any) -> list[ReportTable | ReportFigure]:
    caption = "Front door, second stage: the outcome on the mediators given the treatment (linear models)."
    return [frame_table(f"fd-second-{id(estimate)}", f"Mediators -> outcome: {estimate.name}", value, caption)]


@dataclass
class Outcome:
    """What running one analysis produced: the estimates (naive first), the methods that failed (method
    id, message), and, when nothing could be estimated, why."""

    comparison: Comparison
    method_ids: tuple[str, ...] = ()  # the registry id each estimate was run under, in the same order
    failures: list[tuple[str, str]] = field(default_factory=list)
    reason: str = ""


def question(model: Any) -> str:
    design = {
        "rct": "in a randomized trial",
        "panel": "in a panel of units observed over time",
        "cross-section": "from observational data",
    }.get(model.design, "")
    if not model.binary_treatment:
        return (
            f"How much would the average {model.outcome!r} change if {model.treatment!r} were one unit higher "
            f"for every unit? Estimated {design}."
        )
    return (
        f"What would the average {model.outcome!r} have been had every unit received {model.treatment!r}, "
        f"compared with had none received it? Estimated {design}."
    )


def _overview(model: Any, comparison: Comparison) -> pd.DataFrame:
    frame = model.frame_
    rows: list[tuple[str, Any]] = [("rows in the data", len(frame)), ("columns in the data", frame.shape[1])]
    for role in ("unit", "time"):
        column = getattr(model, role, None)
        if column is not None and column in frame.columns:
            rows.append((f"distinct values of {role} {column!r}", frame[column].nunique()))
    for e in comparison:
        rows.append((f"rows used by {e.name}", e.n))
        if e.n_dropped:
            detail = ", ".join(f"{c}: {k}" for c, k in e.dropped_by.items())
            zero = any(str(c).endswith("== 0") for c in e.dropped_by)
            why = "missing values or weight 0" if zero else "missing values"
            rows.append((f"rows dropped by {e.name} ({why})", f"{e.n_dropped} ({detail})"))
    first = comparison.estimates[0] if len(comparison) else None
    if first is not None and first.n_treated is not None:
        rows += [("treated rows", first.n_treated), ("control rows", first.n_control)]
    return pd.DataFrame({"value": [str(v) for _, v in rows]}, index=[name for name, _ in rows])


def _covariate_summary(model: Any, comparison: Comparison) -> pd.DataFrame | None:
    """The naive estimate's balance table, or the same table computed for the adjustment set."""
    balance = next((e.diagnostics["balance"] for e in comparison if "balance" in e.diagnostics), None)
    if isinstance(balance, pd.DataFrame):
        return balance
    try:
        covariates = list(model.adjustment_set)
    except DeconfoundError:
        return None
    if not covariates or not model.binary_treatment:
        return None
    from ..diagnostics.balance import covariate_balance

    try:
        return covariate_balance(
            model.frame_,
            outcome=model.outcome,
            treatment=model.treatment,
            covariates=covariates,
            weights=model.weights,
            missing=model.missing,
            treated_level=model.treated_level,
        )
    except DeconfoundError:
        return None


def data_section(model: Any, comparison: Comparison, key: str) -> ReportSection:
    section = ReportSection(id=f"{key}-data", title="Data")
    section.tables.append(frame_table(f"{key}-overview", "Overview", _overview(model, comparison)))
    balance = _covariate_summary(model, comparison)
    if balance is not None:
        section.tables.append(
            frame_table(
                f"{key}-covariates",
                "Covariates by group",
                balance,
                "Means of treated and control, standardized mean difference (|SMD| above 0.1 signals imbalance) "
                "and variance ratio.",
            )
        )
    return section


def graph_section(model: Any, key: str) -> ReportSection | None:
    """The graph with its adjustment set; None when there is no graph to show (no graph was given and
    no covariate either, so the implied graph is the single arrow treatment -> outcome)."""
    try:
        ident = model.identify()
    except DeconfoundError:
        return None
    if model.graph is None and not model.covariates:
        return None
    if model.graph is None:
        section = ReportSection(id=f"{key}-graph", title="Assumed causal graph and adjustment set")
        section.paragraphs.extend(_assumed_graph_words(model))
    else:
        section = ReportSection(id=f"{key}-graph", title="Causal graph and adjustment set")
        section.paragraphs.append(ident.explanation)
    try:
        chosen = ", ".join(model.adjustment_set) or "nothing"
        section.paragraphs.append(f"Adjusted for: {chosen}.")
    except IdentificationError:
        section.paragraphs.append("No adjustment set: see above.")
    if ident.backdoor_paths:
        paths = pd.DataFrame({"backdoor path": [p.text for p in ident.backdoor_paths]})
        section.tables.append(frame_table(f"{key}-paths", "Backdoor paths", paths, index=False))
    fig = model.draw()
    caption = "treatment and outcome highlighted, the adjustment set outlined"
    section.figures.append(figure(f"{key}-dag", "Causal graph", fig, caption))
    return section


def _assumed_graph_words(model: Any) -> list[str]:
    """No graph was given: the covariates are assumed (not identified) to be the confounders; a covariate
    that changes within units over time is not assumed to be one."""
    changing = model.changing_covariates()
    assumed = [c for c in model.adjustment_set if c not in changing]
    words = [
        "No causal graph was given, so nothing was identified: the covariates "
        + ("{" + ", ".join(assumed) + "}" if assumed else "(none)")
        + " are assumed to be the confounders (causes of both treatment and outcome), and the graph below only "
        "draws that assumption. The estimates are causal effects if the assumption holds; give a graph to check it."
    ]
    if changing:
        listed = ", ".join(repr(c) for c in changing)
        words.append(
            f"{listed} change(s) over time within units, so the treatment (or time) may move them: they are drawn "
            "as possible consequences of the treatment, not as confounders. Adjusting for a consequence of the "
            "treatment removes part of its effect (a bad control); leave it out unless it is fixed before treatment."
        )
    return words


def estimates_section(outcome: Outcome, truth: float | None, key: str) -> ReportSection:
    from ..plots.forest import forest_plot

    section = ReportSection(id=f"{key}-estimates", title="Estimates")
    comparison = outcome.comparison
    if not len(comparison):
        section.paragraphs.append(f"No estimate: {outcome.reason}")
    else:
        caption = ""
        if comparison.estimates[0].method == "naive" and len(comparison) > 1:
            caption = (
                "The naive difference comes first: the gap between it and the adjusted estimates is the bias "
                "that adjustment removes."
            )
        table = frame_table(f"{key}-estimates", "Every estimate, side by side", _rounded(comparison), caption)
        section.tables.append(table)
        if comparison.verdict is not None:
            section.tables.append(_status_table(comparison, key))
        fig = forest_plot(comparison, truth=truth)
        caption = "each estimate with its confidence interval"
        section.figures.append(figure(f"{key}-forest", "Forest plot", fig, caption))
    for method, message in outcome.failures:
        section.paragraphs.append(f"{method} could not be estimated: {message}")
    return section


def _rounded(comparison: Comparison) -> pd.DataFrame:
    """The comparison's table with estimates and intervals rounded by the recommended standard error
    (one more digit for standard errors), the same precision as the headline (docs/verdict.md)."""
    frame = comparison.to_frame()
    if comparison.verdict is None:
        return frame
    digits = int(comparison.verdict.digits)
    for col in ("estimate", "ci_low", "ci_high"):
        frame[col] = frame[col].map(lambda v: round_by_se(v, digits))
    frame["std_error"] = frame["std_error"].map(lambda v: round_by_se(v, digits + 1))
    return frame


def _status_table(comparison: Comparison, key: str) -> ReportTable:
    verdict = comparison.verdict
    recommended = getattr(verdict.recommended, "name", None)
    rows = [
        {
            "estimate": a.name,
            "status": "recommended" if a.name == recommended else a.status,
            "why": "; ".join(a.reasons) if a.reasons else "every check passed",
        }
        for a in verdict.assessments
    ]
    caption = "the rule that gives each status and picks the recommended estimate is in docs/verdict.md"
    frame = pd.DataFrame(rows).set_index("estimate")
    return frame_table(f"{key}-status", "Status of each estimate", frame, caption)


def diagnostics_section(comparison: Comparison, key: str) -> ReportSection | None:
    section = ReportSection(id=f"{key}-diagnostics", title="Diagnostics")
    drawn: set[str] = set()
    for e in comparison:
        for name, value in e.diagnostics.items():
            notice = DIAGNOSTIC_NOTICES.get(name)
            if notice is not None:
                section.notices.extend(notice(e, value))
            renderer = DIAGNOSTIC_RENDERERS.get(name)
            if renderer is None or name in drawn:
                continue
            if name in RENDER_ONCE:
                drawn.add(name)
            for item in renderer(e, value):
                if isinstance(item, ReportTable):
                    section.tables.append(item)
                else:
                    section.figures.append(item)
    return section if section.tables or section.figures else None


def _regression(outcome: Outcome) -> tuple[str, Estimate] | None:
    """The first regression estimate (a coefficient with a t statistic) and its method id."""
    pairs = zip(outcome.method_ids, outcome.comparison)
    return next(((m, e) for m, e in pairs if e.coefficients is not None and e.df is not None), None)


def _placebo(model: Any, method: str, seed: Any, progress: Progress) -> Mapping[str, Any]:
    from ..robustness import placebo_treatment

    def run(frame: pd.DataFrame, treatment: str) -> Estimate:
        return model._derived(frame, graph=None, covariates=list(model.adjustment_set)).estimate(method)

    progress.step("placebo: re-estimating with randomly permuted treatments")
    return placebo_treatment(
        run,
        model.frame_,
        treatment=model.treatment,
        n_simulations=PLACEBO_SIMULATIONS,
        random_state=seed,
        progress=progress.advance,
    )


def _placebo_text(name: str, result: Mapping[str, Any]) -> str:
    ran = result["n_simulations"] - result["n_failed"]
    failed = ""
    if result["n_failed"]:
        failed = (
            f" {result['n_failed']} of {result['n_simulations']} permutations could not be estimated "
            f"({'; '.join(result['failures'][:2])})."
        )
    if ran < 2:
        return f"Placebo test (not run): fewer than two permuted treatments could be estimated.{failed}"
    verdict = "passed" if result["passed"] else "FAILED"
    floor = " (the smallest possible with this many permutations)" if result["p_value"] <= 1 / (ran + 1) else ""
    return (
        f"Placebo test ({verdict}): with the treatment randomly permuted {ran} times, {name} averages "
        f"{result['placebo_mean']:.4g} (sd {result['placebo_sd']:.4g}) against {result['estimate']:.4g} with the "
        f"real treatment; permutation p-value {result['p_value']:.3g}{floor}.{failed}"
    )


def robustness_section(
    model: Any,
    outcome: Outcome,
    seed: Any,
    progress: Progress,
    key: str,
    options_for: Callable[[str], dict[str, Any]] | None = None,
    enabled: bool = True,
) -> tuple[ReportSection, list[str]]:
    """The section, and warnings for the top of the page (a failed placebo or refuter). The main
    (recommended) estimate gets the refuters, the sensitivity sentence and its plot
    (:mod:`deconfound.report.robustness_main`); the first regression its robustness value and placebo test.
    ``enabled=False`` (``--no-robustness``) runs nothing and says so."""
    from ..robustness import sensitivity
    from .robustness_main import main_checks

    section = ReportSection(id=f"{key}-robustness", title="Robustness")
    rows: list[tuple[str, str]] = []
    warnings: list[str] = []
    if not enabled:
        section.paragraphs.append("Robustness checks were not run (turned off for this report).")
        return section, warnings
    checks = main_checks(model, outcome, options_for or (lambda method: {}), seed, progress, key)
    section.paragraphs.extend(checks.paragraphs)
    section.tables.extend(checks.tables)
    section.figures.extend(checks.figures)
    warnings.extend(checks.warnings)
    found = _regression(outcome)
    method, regression = found if found is not None else ("", None)
    if regression is not None:
        s = sensitivity(regression)
        if s.get("applicable"):
            section.paragraphs.append(f"Sensitivity of {regression.name} to an unobserved confounder: {s['text']}")
            rows.append(("robustness value (estimate to zero)", f"{s['rv']:.1%}"))
            rows.append(("robustness value (to insignificance at 5%)", f"{s['rv_alpha']:.1%}"))
            rows.append(("partial R-squared of the treatment", f"{s['partial_r2']:.1%}"))
    if regression is not None and model.binary_treatment and model.design != "panel":
        try:
            result = _placebo(model, method, seed, progress)
        except DeconfoundError as exc:
            section.paragraphs.append(f"Placebo test (not run): {exc}")
        else:
            section.paragraphs.append(_placebo_text(regression.name, result))
            if result["n_simulations"] - result["n_failed"] >= 2:
                rows.append(("placebo mean estimate", f"{result['placebo_mean']:.4g}"))
                rows.append(("placebo permutation p-value", f"{result['p_value']:.3g}"))
                if not result["passed"]:
                    warnings.append(
                        f"The placebo test failed: with randomly permuted treatments {regression.name} still "
                        f"finds an average effect of {result['placebo_mean']:.4g}, so it picks up something other "
                        "than the treatment."
                    )
            if result["n_failed"]:
                warnings.append(
                    f"{result['n_failed']} of {result['n_simulations']} placebo permutations could not be "
                    f"estimated: {result['failures'][0]}"
                )
    if rows:
        table = pd.DataFrame(rows, columns=["check", "value"]).set_index("check")
        section.tables.append(frame_table(f"{key}-robustness", "Robustness checks", table))
    elif not section.paragraphs and not section.tables:
        section.paragraphs.append("No robustness check applies to these estimates.")
    return section, warnings


def headline(model: Any, comparison: Comparison, reason: str) -> str:
    """The answer in words: the verdict's headline (docs/verdict.md)."""
    if not len(comparison):
        return f"No estimate of the effect of {model.treatment!r} on {model.outcome!r}: the warnings below say why."
    if comparison.verdict is not None:
        return str(comparison.verdict.headline)
    e = comparison.estimates[0]
    return f"{e.name}: {e.estimate:.4g} ({e.level:.0%} CI {e.ci_low:.4g} to {e.ci_high:.4g})."


def naive_first(
    estimates: Sequence[tuple[str, Estimate]], judge: Callable[[list[Estimate]], Comparison] | None = None
) -> tuple[Comparison, tuple[str, ...]]:
    """The estimates (given as (method id, estimate) pairs) with the naive difference first, and their ids;
    ``judge`` (the model's) attaches the verdict."""
    ordered = sorted(estimates, key=lambda pair: pair[0] != "naive")
    listed = [e for _, e in ordered]
    comparison = judge(listed) if judge is not None and listed else Comparison(tuple(listed))
    return comparison, tuple(m for m, _ in ordered)


from . import heterogeneity as _heterogeneity  # noqa: E402,F401  (registers the meta-learners' views)
