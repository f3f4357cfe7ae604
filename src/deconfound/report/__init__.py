"""The analysis report: one self-contained HTML page from a causal model.

    from deconfound import CausalModel
    model = CausalModel(df, "Drug", "Severity", graph="I.H -> Drug; I.H -> Severity; Drug -> Severity")
    model.report("report.html")

:func:`write_report` takes one model (or several :class:`Analysis` items, e.g. a cross-section and a
panel question on the same page) and writes the page; :func:`render_report` returns the HTML string.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .._core.progress import SILENT, Progress
from . import dml_section as _dml_section  # noqa: F401  (registers the DML diagnostics renderers)
from . import iv_section as _iv_section  # noqa: F401  (registers the IV diagnostics renderers)
from .build import DIAGNOSTIC_RENDERERS, Analysis, build_report
from .content import ReportContent, render_html

__all__ = ["DIAGNOSTIC_RENDERERS", "Analysis", "ReportContent", "build_report", "render_report", "write_report"]


def _analyses(target: Any, methods: Sequence[str] | None, truth: float | None) -> list[Analysis]:
    if isinstance(target, Analysis):
        return [target]
    if isinstance(target, Iterable) and not hasattr(target, "estimate"):
        return [t if isinstance(t, Analysis) else Analysis(t, methods=methods) for t in target]
    return [Analysis(target, methods=methods, truth=truth)]


def render_report(
    target: Any,
    *,
    title: str | None = None,
    methods: Sequence[str] | None = None,
    truth: float | None = None,
    seed: Any = None,
    command: str | None = None,
    spec: str | None = None,
    data: Any = None,
    progress: Progress = SILENT,
    robustness: bool = True,
) -> str:
    """The report for ``target`` (a CausalModel, an Analysis, or a list of them) as an HTML string.
    ``robustness=False`` leaves out the robustness checks (refuters, sensitivity, placebo): faster."""
    return render_html(
        report_content(
            target,
            title=title,
            methods=methods,
            truth=truth,
            seed=seed,
            command=command,
            spec=spec,
            data=data,
            progress=progress,
            robustness=robustness,
        )
    )


def report_content(
    target: Any,
    *,
    title: str | None = None,
    methods: Sequence[str] | None = None,
    truth: float | None = None,
    seed: Any = None,
    command: str | None = None,
    spec: str | None = None,
    data: Any = None,
    progress: Progress = SILENT,
    robustness: bool = True,
) -> ReportContent:
    """The report's content (plain data: headline, warnings, sections, the methods that failed)."""
    analyses = _analyses(target, methods, truth)
    if not robustness:
        analyses = [dataclasses.replace(a, robustness=False) for a in analyses]
    return build_report(
        analyses,
        title=title,
        seed=seed,
        command=command,
        spec=spec,
        data=data,
        progress=progress,
    )


def write_report(target: Any, path: str | os.PathLike[str], *, argument: str = "path", **options: Any) -> Path:
    """Write the report for ``target`` to ``path`` and return the path.

    The path is checked before any work (:func:`deconfound._core.paths.output_file`): a missing folder is
    created; a directory, a path under a regular file or an unwritable place is refused with an error naming
    ``argument`` (the parameter or command-line flag the path came from)."""
    return write_report_content(target, path, argument=argument, **options)[0]


def write_report_content(
    target: Any, path: str | os.PathLike[str], *, argument: str = "path", **options: Any
) -> tuple[Path, ReportContent]:
    """:func:`write_report`, also returning the content (e.g. to see which methods failed)."""
    from .._core.paths import output_file, write_text

    output_file(path, argument)
    content = report_content(target, **options)
    return write_text(path, render_html(content), argument), content
