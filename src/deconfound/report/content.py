"""What a report holds, independent of how it was computed, and how it becomes one HTML page.

Builders elsewhere fill a :class:`ReportContent` from results (never estimating anything here);
:func:`render_html` turns it into a self-contained page: inline CSS, figures embedded as data URIs,
every piece of text escaped (a column named ``<script>`` shows as text).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class ReportTable:
    key: str
    title: str
    html: str  # already escaped by pandas
    caption: str = ""


@dataclass(frozen=True)
class ReportFigure:
    key: str
    title: str
    uri: str
    caption: str = ""


@dataclass(frozen=True)
class ReportWarning:
    source: str
    message: str


@dataclass
class ReportSection:
    id: str
    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[ReportTable] = field(default_factory=list)
    figures: list[ReportFigure] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)  # warnings boxed at the top of the section


@dataclass
class ReportContent:
    title: str
    question: str
    headline: str = ""
    warnings: list[ReportWarning] = field(default_factory=list)
    sections: list[ReportSection] = field(default_factory=list)
    footer: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)  # methods that could not be estimated ("label / method: why")

    def add_warning(self, source: str, message: str) -> None:
        """Add a warning; the same message from another source is shown once, with every source listed
        ("Drug -> Severity / ols, lin: 55 rows were dropped ...")."""
        for i, item in enumerate(self.warnings):
            if item.message == message:
                self.warnings[i] = ReportWarning(_merge_sources(item.source, source), message)
                return
        self.warnings.append(ReportWarning(source, message))


def _merge_sources(first: str, second: str) -> str:
    """'A / x' and 'A / y' -> 'A / x, y'; different prefixes are joined with '; '."""
    if second == first or second in first.split(", "):
        return first
    head, sep, tail = first.rpartition(" / ")
    other_head, other_sep, other_tail = second.rpartition(" / ")
    if sep and other_sep and head == other_head:
        names = tail.split(", ")
        return first if other_tail in names else f"{first}, {other_tail}"
    return f"{first}; {second}"


#: how column names read in the page (others: underscores become spaces)
HEADERS = {
    "std_error": "std. error",
    "ci_low": "CI low",
    "ci_high": "CI high",
    "p_value": "p-value",
    "n_treated": "treated",
    "n_control": "control",
    "mean_treated": "mean (treated)",
    "mean_control": "mean (control)",
    "smd": "SMD",
    "vif": "VIF",
}


def frame_table(key: str, title: str, frame: pd.DataFrame, caption: str = "", *, index: bool = True) -> ReportTable:
    """A DataFrame as an escaped HTML table with readable column names."""
    from ..results import frame_html

    shown = frame.rename(columns=lambda c: HEADERS.get(str(c), str(c).replace("_", " ")))
    if shown.index.name is not None:
        shown = shown.rename_axis(index=HEADERS.get(str(shown.index.name), str(shown.index.name).replace("_", " ")))
    return ReportTable(key=key, title=title, html=frame_html(shown, index=index, classes="data"), caption=caption)


def figure(key: str, title: str, fig: Any, caption: str = "") -> ReportFigure:
    from ._figures import figure_data_uri

    return ReportFigure(key=key, title=title, uri=figure_data_uri(fig), caption=caption)


def data_fingerprint(data: Any, frame: pd.DataFrame | None = None) -> str:
    """SHA-256 of a data file's bytes, or of the frame's values and column names."""
    if isinstance(data, (str, os.PathLike)) and os.path.exists(os.fspath(data)):
        digest = hashlib.sha256()
        with open(os.fspath(data), "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
    if frame is None:
        return "unknown"
    digest = hashlib.sha256("\x1f".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def default_footer(data: Any, frame: pd.DataFrame | None, command: str | None, seed: Any, spec: str | None) -> dict:
    from .. import __version__

    return {
        "version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "seed": seed,
        "seed_drawn": False,
        "fingerprint": data_fingerprint(data, frame),
        "command": command or "",
        "spec": spec or "",
    }


def render_html(content: ReportContent) -> str:
    """The page as one string (self-contained: no network needed to view it)."""
    import jinja2
    from markupsafe import Markup

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("deconfound.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    template = env.get_template("report.html.j2")
    sections = [
        {
            "id": s.id,
            "title": s.title,
            "paragraphs": s.paragraphs,
            "notices": s.notices,
            "tables": [{**t.__dict__, "html": Markup(t.html)} for t in s.tables],
            "figures": [f.__dict__ for f in s.figures],
        }
        for s in content.sections
    ]
    return template.render(
        title=content.title,
        question=content.question,
        headline=content.headline,
        warnings=content.warnings,
        sections=sections,
        footer=content.footer,
    )
