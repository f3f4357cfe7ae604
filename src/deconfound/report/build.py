"""Assemble a report from a :class:`~deconfound.model.CausalModel`: it runs the model's workflow
(identify, estimate every method that applies, robustness checks) and turns the *results* into sections
(:mod:`deconfound.report.sections`). Nothing here estimates an effect by itself.

A report always renders: when the effect is not identifiable, when no estimator applies to the design,
or when a method fails on the data, the page says so (in the Estimates section and among the warnings
at the top) instead of raising. Only when every method fails on the data is the first error raised,
since then the question or the data need fixing.
"""

from __future__ import annotations

import warnings as _warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._core.progress import SILENT, Progress
from ..errors import DeconfoundError, DeconfoundWarning, IdentificationError, SpecificationError
from ..results import Estimate
from .content import ReportContent, ReportSection, default_footer
from .sections import (
    DIAGNOSTIC_RENDERERS,
    Outcome,
    data_section,
    diagnostics_section,
    estimates_section,
    graph_section,
    headline,
    naive_first,
    question,
    renders,
    robustness_section,
)

__all__ = ["DIAGNOSTIC_RENDERERS", "Analysis", "analysis_sections", "build_report", "renders"]


@dataclass
class Analysis:
    """One question to report on: a model, a title, and options for its estimators."""

    model: Any
    title: str = ""
    methods: Sequence[str] | None = None
    truth: float | None = None
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    robustness: bool = True  # refuters, sensitivity and placebo checks (False: --no-robustness)


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


def _not_applicable(model: Any) -> str:
    from ..model import ESTIMATORS

    by_reason: dict[str, list[str]] = {}
    for method, spec in ESTIMATORS.items():
        if spec.in_compare:
            by_reason.setdefault(str(spec.why_not(model)), []).append(method)
    reasons = "; ".join(f"{', '.join(methods)}: {reason}" for reason, methods in by_reason.items())
    return f"no registered estimator applies to this model ({reasons})."


def _run(analysis: Analysis, seed: Any, progress: Progress, label: str, strict: bool = True) -> Outcome:
    """Estimate every method of the analysis; failures are kept with their messages. When every method
    fails, the first error is raised if ``strict`` (a report of one analysis), else the analysis says so
    (a page of several analyses keeps the others)."""
    from .._core.options import check_option
    from ..model import ESTIMATORS

    model = analysis.model
    try:
        model.adjustment_set  # noqa: B018 - identification first: without a set, no method can run
    except IdentificationError as exc:
        return Outcome(*naive_first([]), reason=str(exc))
    unknown = sorted(set(analysis.options) - set(ESTIMATORS))
    if unknown:
        raise SpecificationError(f"options given for unknown method(s) {unknown}; registered: {sorted(ESTIMATORS)}.")
    for method, options in analysis.options.items():  # a misspelt option fails the run before any estimate
        model.check_options(method, options)
    methods = [check_option("method", m, tuple(ESTIMATORS)) for m in analysis.methods or model.applicable_methods()]
    if not methods:
        return Outcome(*naive_first([]), reason=_not_applicable(model))
    estimates: list[tuple[str, Estimate]] = []
    failures: list[tuple[str, str]] = []
    errors: list[DeconfoundError] = []
    for method in methods:
        progress.step(f"{label}: {method}")
        options = _with_seed(method, analysis.options.get(method, {}), seed)
        try:
            estimates.append((method, model.estimate(method, **options)))
        except DeconfoundError as exc:  # one method failing must not sink the report: say why instead
            failures.append((method, str(exc)))
            errors.append(exc)
    if not estimates and errors:
        if strict:
            raise errors[0]
        return Outcome(*naive_first([]), failures=failures, reason="no method could be estimated on this data")
    return Outcome(*naive_first(estimates, model.judge), failures=failures)


def _add_warnings(
    content: ReportContent, label: str, outcome: Outcome, caught: Iterable[Any], extra: list[str]
) -> None:
    if outcome.reason:
        content.add_warning(label, f"No estimate: {outcome.reason}")
    for name, message in outcome.failures:
        content.add_warning(f"{label} / {name}", f"could not be estimated: {message}")
        content.failures.append(f"{label} / {name}: {message}")
    shown = set()
    for e in outcome.comparison:
        for w in e.warnings:
            content.add_warning(f"{label} / {e.name}", w)
            shown.add(w)
    for record in caught:  # e.g. a graph node that looks like a misspelt column
        message = str(record.message)
        if issubclass(record.category, DeconfoundWarning) and message not in shown:
            content.add_warning(label, message)
    for message in extra:
        content.add_warning(f"{label} / robustness", message)


def analysis_sections(
    analysis: Analysis, content: ReportContent, *, seed: Any, progress: Progress, key: str, strict: bool = True
) -> list[ReportSection]:
    """Run one analysis and return its sections; its warnings are added to ``content`` (``strict``: see _run)."""
    model = analysis.model
    label = analysis.title or f"{model.treatment} -> {model.outcome}"
    progress.step(f"{label}: identifying and estimating")
    with _warnings.catch_warnings(record=True) as caught:
        _warnings.simplefilter("always")
        model._setup()
        outcome = _run(analysis, seed, progress, label, strict)
        comparison = outcome.comparison
        sections = [data_section(model, comparison, key)]
        graph = graph_section(model, key)
        if graph is not None:
            sections.append(graph)
        sections.append(estimates_section(outcome, analysis.truth, key))
        diag = diagnostics_section(comparison, key)
        if diag is not None:
            sections.append(diag)
        robustness, extra = robustness_section(
            model,
            outcome,
            seed,
            progress,
            key,
            options_for=lambda method: _with_seed(method, analysis.options.get(method, {}), seed),
            enabled=analysis.robustness,
        )
        sections.append(robustness)
    _add_warnings(content, label, outcome, caught, extra)
    if analysis.title:
        for s in sections:
            s.title = f"{analysis.title}: {s.title}"
    if not content.headline:
        content.headline = headline(model, comparison, outcome.reason)
    return sections


def _resolve_seed(seed: Any) -> tuple[Any, bool]:
    """``seed``, or a fresh one drawn from the operating system's entropy (so the footer can say how to
    rerun the page exactly); the flag says whether it was drawn."""
    if seed is not None:
        from .._core.options import check_seed

        return check_seed(seed, "seed"), False
    import numpy as np

    entropy = np.random.SeedSequence().entropy
    assert isinstance(entropy, int)
    return entropy % (2**31 - 1), True


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
    """Run every analysis and collect the report's content (render it with ``render_html``).

    ``seed`` reaches every random step (placebo permutations, and any estimator with ``random_state``);
    without one, a seed is drawn and printed in the footer so the page can be rebuilt exactly."""
    items = [analyses] if isinstance(analyses, Analysis) else list(analyses)
    if not items:
        raise SpecificationError("a report needs at least one model (or Analysis).")
    seed, drawn = _resolve_seed(seed)
    first = items[0].model
    content = ReportContent(title=title or f"Effect of {first.treatment} on {first.outcome}", question="")
    for i, analysis in enumerate(items):
        sections = analysis_sections(
            analysis, content, seed=seed, progress=progress, key=f"a{i}", strict=len(items) == 1
        )
        content.sections.extend(sections)
    content.question = question(first)
    content.footer = {
        **default_footer(data if data is not None else first.data, first.frame_, command, seed, spec),
        "seed_drawn": drawn,
    }
    return content
