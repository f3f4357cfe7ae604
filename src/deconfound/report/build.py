"""Assemble a report from a :class:`~deconfound.model.CausalModel`: it runs the model's workflow
(identify, compare, robustness checks) and turns the *results* into sections. Figures come from
``deconfound.plots``; nothing here estimates an effect by itself.

Diagnostics that estimators leave on their results are rendered by small functions registered in
:data:`DIAGNOSTIC_RENDERERS` (diagnostics key -> renderer), so each method family adds its own views.
"""

from __future__ import annotations

import warnings as _warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .._progress import SILENT, Progress
from ..errors import DeconfoundError
from ..results import Comparison, Estimate
from .content import (
    ReportContent,
    ReportFigure,
    ReportSection,
    ReportTable,
    default_footer,
    figure,
    frame_table,
)

Renderer = Callable[[Estimate, Any], "list[ReportTable | ReportFigure]"]

#: diagnostics key -> function(estimate, value) returning tables and figures for the Diagnostics section.
DIAGNOSTIC_RENDERERS: dict[str, Renderer] = {}


def renders(key: str) -> Callable[[Renderer], Renderer]:
    def register(fn: Renderer) -> Renderer:
        DIAGNOSTIC_RENDERERS[key] = fn
        return fn

    return register


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
    if isinstance(test, dict) and test.get("applicable"):
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


@dataclass
class Analysis:
    """One question to report on: a model, a title, and options for its estimators."""

    model: Any
    title: str = ""
    methods: Sequence[str] | None = None
    truth: float | None = None
    options: dict[str, dict[str, Any]] = field(default_factory=dict)


def _question(model: Any) -> str:
    design = {
        "rct": "in a randomized trial",
        "panel": "in a panel of units observed over time",
        "cross-section": "from observational data",
    }.get(model.design, "")
    return (
        f"What would the average {model.outcome!r} have been had every unit received {model.treatment!r}, "
        f"compared with had none received it? Estimated {design}."
    )


def _data_section(model: Any, comparison: Comparison, key: str) -> ReportSection:
    frame = model.frame_
    section = ReportSection(id=f"{key}-data", title="Data")
    first = comparison.estimates[0]
    rows = [
        ("rows in the data", len(frame)),
        ("columns in the data", frame.shape[1]),
    ]
    for e in comparison:
        rows.append((f"rows used by {e.name}", e.n))
        if e.n_dropped:
            detail = ", ".join(f"{c}: {k}" for c, k in e.dropped_by.items())
            rows.append((f"rows dropped by {e.name} (missing values)", f"{e.n_dropped} ({detail})"))
    if first.n_treated is not None:
        rows += [("treated rows", first.n_treated), ("control rows", first.n_control)]
    overview = pd.DataFrame(rows, columns=["what", "value"]).set_index("what")
    overview["value"] = overview["value"].astype(str)
    section.tables.append(frame_table(f"{key}-overview", "Overview", overview))
    balance = next((e.diagnostics["balance"] for e in comparison if "balance" in e.diagnostics), None)
    if isinstance(balance, pd.DataFrame):
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


def _graph_section(model: Any, key: str) -> ReportSection | None:
    try:
        ident = model.identify()
    except DeconfoundError:
        return None
    section = ReportSection(id=f"{key}-graph", title="Causal graph and adjustment set")
    fig = model.draw()
    section.figures.append(figure(f"{key}-dag", "Causal graph", fig, "treatment and outcome highlighted"))
    section.paragraphs.append(ident.explanation)
    chosen = ", ".join(model.adjustment_set) or "nothing"
    section.paragraphs.append(f"Adjusted for: {chosen}.")
    if ident.backdoor_paths:
        paths = pd.DataFrame({"backdoor path": [p.text for p in ident.backdoor_paths]})
        section.tables.append(frame_table(f"{key}-paths", "Backdoor paths", paths))
    return section


def _estimates_section(comparison: Comparison, truth: float | None, key: str) -> ReportSection:
    from ..plots.forest import forest_plot

    section = ReportSection(id=f"{key}-estimates", title="Estimates")
    table = comparison.to_frame()
    caption = ""
    if comparison.estimates[0].method == "naive" and len(comparison) > 1:
        caption = (
            "The naive difference comes first: the gap between it and the adjusted estimates is the bias "
            "that adjustment removes."
        )
    section.tables.append(frame_table(f"{key}-estimates", "Every estimate, side by side", table, caption))
    fig = forest_plot(comparison, truth=truth)
    section.figures.append(figure(f"{key}-forest", "Forest plot", fig, "each estimate with its confidence interval"))
    return section


def _diagnostics_section(comparison: Comparison, key: str) -> ReportSection | None:
    section = ReportSection(id=f"{key}-diagnostics", title="Diagnostics")
    for e in comparison:
        for name, value in e.diagnostics.items():
            renderer = DIAGNOSTIC_RENDERERS.get(name)
            if renderer is None:
                continue
            for item in renderer(e, value):
                (section.tables if isinstance(item, ReportTable) else section.figures).append(item)
    return section if section.tables or section.figures else None


def _robustness_section(model: Any, comparison: Comparison, seed: Any, progress: Progress, key: str) -> ReportSection:
    from ..robustness import placebo_treatment, sensitivity

    section = ReportSection(id=f"{key}-robustness", title="Robustness")
    rows = []
    regression = next((e for e in comparison if e.coefficients is not None and e.df is not None), None)
    if regression is not None:
        s = sensitivity(regression)
        if s.get("applicable"):
            section.paragraphs.append(f"Sensitivity of {regression.name} to an unobserved confounder: {s['text']}")
            rows.append(("robustness value (estimate to zero)", f"{s['rv']:.1%}"))
            rows.append(("robustness value (to insignificance at 5%)", f"{s['rv_alpha']:.1%}"))
            rows.append(("partial R-squared of the treatment", f"{s['partial_r2']:.1%}"))
    if regression is not None and model.binary_treatment and model.design != "panel":
        progress.step("placebo: re-estimating with randomly permuted treatments")
        method = regression.method

        def run(frame: pd.DataFrame, **kw: Any) -> Estimate:
            from ..model import CausalModel

            placebo = CausalModel(
                frame,
                model.treatment,
                model.outcome,
                covariates=list(model.adjustment_set),
                design=model.design,
                weights=model.weights,
                cluster=model.cluster,
                level=model.level,
                missing=model.missing,
                treated_level=model.treated_level,
            )
            return placebo.estimate(method)

        result = placebo_treatment(
            lambda frame, treatment: run(frame),
            model.frame_,
            treatment=model.treatment,
            n_simulations=20,
            random_state=seed,
            progress=progress.advance,
        )
        verdict = "passed" if result["passed"] else "FAILED"
        section.paragraphs.append(
            f"Placebo test ({verdict}): with the treatment randomly permuted {result['n_simulations']} times, "
            f"{regression.name} averages {result['placebo_mean']:.4g} (sd {result['placebo_sd']:.4g}) against "
            f"{result['estimate']:.4g} with the real treatment; permutation p-value {result['p_value']:.3g}."
        )
        rows.append(("placebo mean estimate", f"{result['placebo_mean']:.4g}"))
        rows.append(("placebo permutation p-value", f"{result['p_value']:.3g}"))
    if rows:
        table = pd.DataFrame(rows, columns=["check", "value"]).set_index("check")
        section.tables.append(frame_table(f"{key}-robustness", "Robustness checks", table))
    else:
        section.paragraphs.append("No robustness check applies to these estimates.")
    return section


def _headline(model: Any, comparison: Comparison) -> str:
    adjusted = [e for e in comparison if e.method != "naive"]
    naive = next((e for e in comparison if e.method == "naive"), None)
    if not adjusted:
        e = comparison.estimates[0]
        return f"{e.name}: {e.estimate:.4g} ({e.level:.0%} CI {e.ci_low:.4g} to {e.ci_high:.4g})."
    lo = min(e.estimate for e in adjusted)
    hi = max(e.estimate for e in adjusted)
    text = (
        f"Adjusted estimates of the effect of {model.treatment!r} on {model.outcome!r} range from {lo:.4g} to "
        f"{hi:.4g} across {len(adjusted)} method(s)."
    )
    if naive is not None:
        text += f" The naive difference in means is {naive.estimate:.4g}."
    return text


def _with_seed(method: str, options: dict[str, Any], seed: Any) -> dict[str, Any]:
    """The method's options, with ``random_state=seed`` when the method is random and none was set."""
    import inspect

    from ..model import ESTIMATORS

    spec = ESTIMATORS.get(method)
    if seed is None or spec is None or "random_state" in options:
        return dict(options)
    if "random_state" in inspect.signature(spec.load()).parameters:
        return {**options, "random_state": seed}
    return dict(options)


def analysis_sections(
    analysis: Analysis, content: ReportContent, *, seed: Any, progress: Progress, key: str
) -> list[ReportSection]:
    """Run one analysis and return its sections; its warnings are added to ``content``."""
    model = analysis.model
    label = analysis.title or f"{model.treatment} -> {model.outcome}"
    progress.step(f"{label}: identifying and estimating")
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        methods = analysis.methods or model.applicable_methods()
        estimates = []
        for method in methods:
            progress.step(f"{label}: {method}")
            try:
                estimates.append(model.estimate(method, **_with_seed(method, analysis.options.get(method, {}), seed)))
            except DeconfoundError as exc:  # one method failing must not sink the report: say why instead
                content.add_warning(f"{label} / {method}", f"could not be estimated: {exc}")
        if not estimates:
            raise DeconfoundError(f"No method could be estimated for {label!r}; see the messages above.")
        comparison = Comparison(tuple(estimates))
        for e in comparison:
            for w in e.warnings:
                content.add_warning(f"{label} / {e.name}", w)
        sections = [_data_section(model, comparison, key)]
        graph = _graph_section(model, key)
        if graph is not None:
            sections.append(graph)
        sections.append(_estimates_section(comparison, analysis.truth, key))
        diag = _diagnostics_section(comparison, key)
        if diag is not None:
            sections.append(diag)
        sections.append(_robustness_section(model, comparison, seed, progress, key))
    if analysis.title:
        for s in sections:
            s.title = f"{analysis.title}: {s.title}"
    if not content.headline:
        content.headline = _headline(model, comparison)
    return sections


def build_report(
    analyses: Analysis | Iterable[Analysis],
    *,
    title: str | None = None,
    data: Any = None,
    command: str | None = None,
    seed: Any = None,
    spec: str | None = None,
    progress: Progress = SILENT,
) -> ReportContent:
    """Run every analysis and collect the report's content (render it with ``render_html``)."""
    items = [analyses] if isinstance(analyses, Analysis) else list(analyses)
    first = items[0].model
    content = ReportContent(
        title=title or f"Effect of {first.treatment} on {first.outcome}",
        question=" ".join(_question(a.model) for a in items[:1]),
    )
    for i, analysis in enumerate(items):
        content.sections.extend(analysis_sections(analysis, content, seed=seed, progress=progress, key=f"a{i}"))
    first._setup()
    content.footer = default_footer(data if data is not None else first.data, first.frame_, command, seed, spec)
    return content
