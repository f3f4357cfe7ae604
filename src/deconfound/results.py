"""One result type for every effect estimate, a coefficient table, a comparison, and a Summary.

Results are immutable. They know how to render themselves (text, HTML, dict, DataFrame) but never
print. Plots, the report and the command line read them; nothing here computes an estimate except
re-deriving intervals and p-values at another confidence level.
"""

from __future__ import annotations

import html
import math
import textwrap
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from ._core.distributions import critical_value, two_sided_p
from ._core.options import check_level, check_option

__all__ = ["CoefTable", "Comparison", "Diagnostics", "Estimate", "LazyValue", "Summary", "compare"]

#: keys of ``Estimate.to_dict()`` (and of the command line's ``--json``), in order. A public contract.
JSON_KEYS = (
    "method",
    "estimand",
    "estimate",
    "std_error",
    "ci_low",
    "ci_high",
    "level",
    "p_value",
    "n",
    "n_treated",
    "n_control",
    "n_dropped",
    "outcome",
    "treatment",
    "warnings",
    "notes",
    "diagnostics",
)


#: diagnostics keys that hold one row per data row (scores, weights, matched pairs). ``to_dict(rows=False)``
#: (the command line's default) leaves them out and says how long they are under ``per_row_tables``.
PER_ROW_KEYS = frozenset({"propensity", "weights", "matches", "bootstrap_draws", "cate"})

#: diagnostics tables longer than this (per-row data such as scores or matched pairs) are listed, not
#: printed, by ``Estimate.summary()``
SUMMARY_MAX_ROWS = 30


class LazyValue:
    """A diagnostics value built on first access (a large per-row table that is often never looked at)."""

    __slots__ = ("factory",)

    def __init__(self, factory: Callable[[], Any]) -> None:
        self.factory = factory


class Diagnostics(Mapping[str, Any]):
    """The read-only diagnostics of an Estimate. Values given as :class:`LazyValue` are built when first
    read (by ``[]``, ``get``, ``items`` ...) and kept; to the reader they are ordinary values."""

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        self._values: dict[str, Any] = dict(values._values if isinstance(values, Diagnostics) else (values or {}))

    def __getitem__(self, key: str) -> Any:
        value = self._values[key]
        if isinstance(value, LazyValue):
            value = self._values[key] = value.factory()
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Diagnostics({dict(self)!r})"


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, pd.DataFrame):
        frame = value.reset_index() if value.index.name is not None else value
        return [_jsonable(r) for r in frame.to_dict(orient="records")]
    if isinstance(value, (np.datetime64, np.timedelta64)):  # numpy counts timedelta64 as an integer
        return _json_scalar(value)
    if isinstance(value, (np.floating, float)):
        f = float(value)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if hasattr(value, "to_dict") and callable(value.to_dict):
        return _jsonable(value.to_dict())
    return _json_scalar(value)


def _json_scalar(value: Any) -> Any:
    """A JSON value for a scalar of any type a user's data may hold (e.g. treatment levels): dates and
    times as ISO 8601 text, decimals as numbers, bytes as text, anything else unknown as its str()."""
    import datetime
    import decimal

    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, (np.datetime64, np.timedelta64)):
        value = pd.Timestamp(value) if isinstance(value, np.datetime64) else pd.Timedelta(value)
        return None if pd.isna(value) else value.isoformat()
    if isinstance(value, (datetime.date, datetime.time, datetime.timedelta)):
        if isinstance(value, datetime.timedelta):
            return pd.Timedelta(value).isoformat()
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return _jsonable(float(value)) if value.is_finite() else None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", errors="backslashreplace")
    if isinstance(value, (set, frozenset)):
        return [_jsonable(v) for v in sorted(value, key=str)]
    return str(value)  # e.g. a complex number or an object a user put in a column


#: columns that hold labels or counts (periods, cohorts, event times, row counts): printed as integers when
#: every value is whole, however they were stored (a period read as 4.0 prints as 4)
KEY_COLUMNS = frozenset(
    {"group", "time", "event_time", "base_period", "first_treated", "cohort", "period", "units", "rows", "fold"}
    | {"repetition", "n", "unit", "match", "row", "match_row", "stratum", "treatment"}
)


def _is_key(name: Any) -> bool:
    return isinstance(name, str) and (name in KEY_COLUMNS or name.startswith("n_"))


def _whole(values: pd.Series | pd.Index) -> bool:
    if not pd.api.types.is_float_dtype(values.dtype):
        return False
    finite = values[np.isfinite(values.to_numpy(dtype=float))]
    return len(finite) > 0 and bool(np.all(np.asarray(finite) == np.round(np.asarray(finite))))


def _whole_keys(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``table`` whose key columns (and index) of whole numbers are integers (missing kept)."""
    shown = table.copy()
    for col in shown.columns:
        if _is_key(col) and _whole(shown[col]):
            shown[col] = shown[col].astype("Int64") if shown[col].isna().any() else shown[col].astype(np.int64)
    if not isinstance(shown.index, pd.MultiIndex) and _whole(shown.index):
        if np.isfinite(shown.index.to_numpy(dtype=float)).all():
            shown.index = pd.Index(shown.index.astype(np.int64), name=shown.index.name)
    return shown


def _same_estimates(table: pd.DataFrame, other: pd.DataFrame) -> bool:
    """Two tables of the same estimates, row for row (an aggregation that repeats the event-study table)."""
    if "estimate" not in table.columns or "estimate" not in other.columns or len(table) != len(other) or not len(table):
        return False
    a = pd.to_numeric(table["estimate"], errors="coerce").to_numpy(dtype=float)
    b = pd.to_numeric(other["estimate"], errors="coerce").to_numpy(dtype=float)
    return bool(np.array_equal(a, b, equal_nan=True))


def _fmt(x: Any, digits: int = 4) -> str:
    if x is None:
        return ""
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    try:
        f = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(f):
        return "nan"
    if f != 0 and (abs(f) >= 1e6 or abs(f) < 1e-4):
        return f"{f:.{digits - 1}e}"
    return f"{f:.{digits}f}"


def frame_html(frame: pd.DataFrame, *, index: bool = True, classes: str | None = None) -> str:
    """``frame`` as a compact, escaped HTML table: numbers formatted like the text summaries, missing
    values blank, and a named index titled in the header row (not in a second header row of its own)."""
    shown = frame
    if index and frame.index.name is not None and not isinstance(frame.columns, pd.MultiIndex):
        shown = frame.rename_axis(index=None, columns=frame.index.name)
    return shown.to_html(float_format=_fmt, escape=True, border=0, na_rep="", index=index, classes=classes)


# --------------------------------------------------------------------------------------------------
# Summary: a renderable bundle of header rows and tables
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """A printable summary. ``str()`` gives text, ``_repr_html_`` HTML, ``to_dict`` data; never prints."""

    title: str
    header: tuple[tuple[str, str], ...]
    tables: tuple[tuple[str, pd.DataFrame], ...] = ()
    messages: tuple[str, ...] = ()
    lead: str = ""  # the answer in words, shown first (a comparison's verdict)

    def as_text(self) -> str:
        width = 78
        lines = [self.title.center(width), "=" * width]
        if self.lead:
            lines += [*textwrap.wrap(self.lead, width), "-" * width]
        half = (len(self.header) + 1) // 2
        left, right = self.header[:half], self.header[half:]
        for i in range(half):
            a = f"{left[i][0] + ':':<18}{left[i][1]:>20}"
            b = f"{right[i][0] + ':':<18}{right[i][1]:>20}" if i < len(right) else ""
            lines.append(f"{a}  {b}".rstrip())
        for name, table in self.tables:
            lines.append("-" * width)
            if name:
                lines.append(name)
            shown = _whole_keys(table)
            for col in shown.columns:
                if pd.api.types.is_float_dtype(shown[col].dtype):
                    shown[col] = shown[col].map(_fmt)
            lines.append(shown.to_string())
        if self.messages:
            lines.append("-" * width)
            lines += [f"[{i}] {m}" for i, m in enumerate(self.messages, 1)]
        lines.append("=" * width)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.as_text()

    def __repr__(self) -> str:
        return self.as_text()

    def as_html(self) -> str:
        esc = html.escape
        rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in self.header)
        parts = [f"<div class='deconfound-summary'><h4>{esc(self.title)}</h4>"]
        if self.lead:
            parts.append(f"<p class='deconfound-lead'><b>{esc(self.lead)}</b></p>")
        parts.append(f"<table>{rows}</table>")
        for name, table in self.tables:
            if name:
                parts.append(f"<p><b>{esc(name)}</b></p>")
            parts.append(frame_html(table))
        if self.messages:
            items = "".join(f"<li>{esc(m)}</li>" for m in self.messages)
            parts.append(f"<ul class='deconfound-messages'>{items}</ul>")
        parts.append("</div>")
        return "".join(parts)

    def _repr_html_(self) -> str:
        return self.as_html()

    def to_dict(self) -> dict[str, Any]:
        out = {
            "title": self.title,
            "header": dict(self.header),
            "tables": {name or f"table{i}": _jsonable(t.reset_index()) for i, (name, t) in enumerate(self.tables)},
            "messages": list(self.messages),
        }
        if self.lead:
            out["lead"] = self.lead
        return out


# --------------------------------------------------------------------------------------------------
# coefficient tables
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CoefTable:
    """Coefficients of a fitted regression with their standard errors and covariance."""

    names: tuple[str, ...]
    coef: np.ndarray
    cov: np.ndarray
    df: float | None  # degrees of freedom of the t reference distribution; None for normal
    stats: Mapping[str, Any] = field(default_factory=dict)  # r2, f, cond_no, cov_type, ...
    #: extra keys identifying each term, e.g. {"event_time": (-2, -1, 0, ...)} for an event study or
    #: {"group": ..., "time": ...} for group-time effects (None where a term has no such key)
    keys: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)

    @property
    def std_err(self) -> np.ndarray:
        """Square roots of the variances; NaN where a two-way cluster variance came out negative."""
        d = np.diag(self.cov)
        return np.where(d >= 0, np.sqrt(np.abs(d)), np.nan)

    @property
    def tvalues(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.coef / self.std_err

    @property
    def pvalues(self) -> np.ndarray:
        return np.asarray(two_sided_p(self.tvalues, self.df))

    def conf_int(self, level: float = 0.95) -> np.ndarray:
        crit = critical_value(check_level(level), self.df)
        se = self.std_err
        return np.column_stack([self.coef - crit * se, self.coef + crit * se])

    def index(self, name: str) -> int:
        return self.names.index(name)

    def to_frame(self, level: float = 0.95) -> pd.DataFrame:
        ci = self.conf_int(level)
        lo, hi = (1 - level) / 2, 1 - (1 - level) / 2
        stat = "t" if self.df is not None else "z"
        return pd.DataFrame(
            {
                **{key: list(values) for key, values in self.keys.items()},
                "coef": self.coef,
                "std err": self.std_err,
                stat: self.tvalues,
                f"P>|{stat}|": self.pvalues,
                f"[{lo:.3g}": ci[:, 0],
                f"{hi:.3g}]": ci[:, 1],
            },
            index=pd.Index(self.names, name="term"),
        )


# --------------------------------------------------------------------------------------------------
# the effect estimate
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    """An estimated causal effect with its uncertainty, sample sizes, warnings and diagnostics."""

    method: str
    estimand: str
    estimate: float
    std_error: float
    n: int
    level: float = 0.95
    df: float | None = None
    n_treated: int | None = None
    n_control: int | None = None
    outcome: str | None = None
    treatment: str | None = None
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    diagnostics: Mapping[str, Any] = field(default_factory=dict)
    n_dropped: int = 0
    dropped_by: Mapping[str, int] = field(default_factory=dict)
    treatment_mapping: Mapping[str, Any] | None = None
    coefficients: CoefTable | None = None
    label: str | None = None
    #: an interval not of the form estimate -+ critical value x standard error (a bootstrap's), at ``level``
    interval: tuple[float, float] | None = None
    #: the row labels of every input row before any drop: ``to_dict()`` turns the labels of the per-row tables
    #: into each row's 0-based position in the input (``row``), to join them back to the file
    input_index: pd.Index | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "diagnostics", Diagnostics(self.diagnostics))
        object.__setattr__(self, "dropped_by", MappingProxyType(dict(self.dropped_by)))
        if self.treatment_mapping is not None:
            object.__setattr__(self, "treatment_mapping", MappingProxyType(dict(self.treatment_mapping)))
        object.__setattr__(self, "warnings", tuple(self.warnings))
        object.__setattr__(self, "notes", tuple(self.notes))
        object.__setattr__(self, "level", check_level(self.level))

    # inference ------------------------------------------------------------------------------------
    @property
    def statistic(self) -> float:
        return self.estimate / self.std_error if self.std_error > 0 else float("nan")

    @property
    def p_value(self) -> float:
        return float(two_sided_p(self.statistic, self.df))

    def ci(self, level: float | None = None) -> tuple[float, float]:
        """Confidence interval at ``level`` (default: the level the estimate was made with).

        A bootstrapped estimate returns its bootstrap interval at its own level; at another level, the
        normal interval from the bootstrap standard error."""
        if self.interval is not None and (level is None or check_level(level) == self.level):
            return (float(self.interval[0]), float(self.interval[1]))
        crit = critical_value(self.level if level is None else check_level(level), self.df)
        return (self.estimate - crit * self.std_error, self.estimate + crit * self.std_error)

    @property
    def ci_low(self) -> float:
        return self.ci()[0]

    @property
    def ci_high(self) -> float:
        return self.ci()[1]

    @property
    def name(self) -> str:
        return self.label or self.method

    # rendering ------------------------------------------------------------------------------------
    def to_dict(self, rows: bool = True) -> dict[str, Any]:
        """Plain Python types only (JSON-ready); keys are :data:`JSON_KEYS` plus ``coefficients``.

        With ``rows=False`` the per-row tables (:data:`PER_ROW_KEYS`: scores, weights, matched pairs) are
        left out of ``diagnostics`` and their lengths listed under ``per_row_tables`` instead."""
        out: dict[str, Any] = {key: getattr(self, key) for key in JSON_KEYS}
        if not rows:
            kept = {k: v for k, v in self.diagnostics.items() if k not in PER_ROW_KEYS}
            out["diagnostics"] = kept
            out["per_row_tables"] = {
                k: len(v) for k, v in self.diagnostics.items() if k in PER_ROW_KEYS and hasattr(v, "__len__")
            }
        else:  # every table is in diagnostics: none left out, but the key is always there (docs/cli-json.md)
            out["per_row_tables"] = {}
            out["diagnostics"] = {
                k: self._with_rows(k, v) if k in PER_ROW_KEYS else v for k, v in self.diagnostics.items()
            }
        out["dropped_by"] = dict(self.dropped_by)
        if self.treatment_mapping is not None:
            out["treatment_mapping"] = dict(self.treatment_mapping)
        if self.coefficients is not None:
            table = self.coefficients
            keys = {k: list(v) for k, v in table.keys.items()}
            out["coefficients"] = [
                {
                    "term": term,
                    **{k: v[i] for k, v in keys.items()},
                    "estimate": table.coef[i],
                    "std_error": table.std_err[i],
                    "p_value": table.pvalues[i],
                }
                for i, term in enumerate(table.names)
            ]
            out["model"] = dict(self.coefficients.stats)
        return _jsonable(out)

    def input_positions(self, labels: Any) -> np.ndarray | None:
        """The 0-based positions in the input (before any row was dropped) of rows given by their labels;
        None when the input's labels are unknown or not unique (then labels cannot name one row)."""
        index = self.input_index
        if index is None:
            return None
        if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1:
            return np.asarray(labels, dtype=np.int64)
        if not index.is_unique:
            return None
        return np.asarray(index.get_indexer(pd.Index(labels)), dtype=np.int64)

    def _with_rows(self, key: str, table: Any) -> Any:
        """A per-row table with ``row`` (and ``match_row`` for matched pairs) first: input positions."""
        if not isinstance(table, pd.DataFrame) or key == "bootstrap_draws":
            return table
        if key == "matches" and {"unit", "match"} <= set(table.columns):
            rows, matches = self.input_positions(table["unit"]), self.input_positions(table["match"])
            if rows is None or matches is None:
                return table
            out = table.copy()
            out.insert(0, "row", rows)
            out.insert(1, "match_row", matches)
            return out
        rows = self.input_positions(table.index)
        if rows is None or "row" in table.columns:
            return table
        out = table.copy()
        out.insert(0, "row", rows)
        return out

    def to_frame(self) -> pd.DataFrame:
        """A one-row DataFrame indexed by the method."""
        row = {
            "estimand": self.estimand,
            "estimate": self.estimate,
            "std_error": self.std_error,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "p_value": self.p_value,
            "n": self.n,
            "n_treated": self.n_treated,
            "n_control": self.n_control,
            "warnings": len(self.warnings),
        }
        return pd.DataFrame([row], index=pd.Index([self.name], name="method"))

    def summary(self) -> Summary:
        header = [
            ("Method", self.method),
            ("Estimand", self.estimand),
            ("Outcome", str(self.outcome)),
            ("Treatment", str(self.treatment)),
            ("Estimate", _fmt(self.estimate)),
            ("Std. error", _fmt(self.std_error)),
            (f"{self.level:.0%} CI", f"[{_fmt(self.ci_low)}, {_fmt(self.ci_high)}]"),
            ("P-value", _fmt(self.p_value)),
            ("Observations", str(self.n)),
        ]
        if self.n_treated is not None:
            header.append(("Treated / control", f"{self.n_treated} / {self.n_control}"))
        if self.n_dropped:
            header.append(("Rows dropped", str(self.n_dropped)))
        tables: list[tuple[str, pd.DataFrame]] = []
        if self.coefficients is not None:
            for key in ("cov_type", "r_squared", "adj_r_squared", "f_statistic", "f_pvalue", "cond_no"):
                if key in self.coefficients.stats:
                    header.append((key.replace("_", " ").capitalize(), _fmt(self.coefficients.stats[key])))
            tables.append(("Coefficients", self.coefficients.to_frame(self.level)))
        per_row = []
        for key, value in self.diagnostics.items():
            if isinstance(value, pd.DataFrame):
                if len(value) > SUMMARY_MAX_ROWS:
                    per_row.append(f"diagnostics[{key!r}]: {len(value)} rows")
                    continue
                if self._repeats_coefficients(value) or any(_same_estimates(value, t) for _, t in tables):
                    continue  # each table once: a table above already holds these estimates
                tables.append((key.replace("_", " ").capitalize(), value))
        messages = tuple(f"Warning: {w}" for w in self.warnings) + tuple(f"Note: {n}" for n in self.notes)
        if per_row:
            messages += (f"Per-row tables not shown: {'; '.join(per_row)}",)
        return Summary(f"deconfound: {self.name}", tuple(header), tuple(tables), messages)

    def _repeats_coefficients(self, table: pd.DataFrame) -> bool:
        """A diagnostics table whose estimates are the coefficients' own, row for row (staggered's cells)."""
        coefs = self.coefficients
        if coefs is None or "estimate" not in table.columns or len(table) != len(coefs.coef) or len(table) == 0:
            return False
        values = pd.to_numeric(table["estimate"], errors="coerce").to_numpy(dtype=float)
        return bool(np.allclose(values, np.asarray(coefs.coef, dtype=float), rtol=0, atol=0, equal_nan=True))

    def __str__(self) -> str:
        return self.summary().as_text()

    def __repr__(self) -> str:
        lo, hi = self.ci()
        return (
            f"Estimate(method={self.method!r}, estimand={self.estimand!r}, estimate={self.estimate:.6g}, "
            f"std_error={self.std_error:.4g}, ci=({lo:.4g}, {hi:.4g}), n={self.n}, warnings={len(self.warnings)})"
        )

    def _repr_html_(self) -> str:
        return self.summary().as_html()


# --------------------------------------------------------------------------------------------------
# several estimates side by side
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """Several estimates of (usually) the same effect, side by side, and the verdict on them.

    ``verdict`` (:class:`deconfound.verdict.Verdict`) gives each estimate a status and recommends one;
    :func:`compare` and :meth:`CausalModel.compare` attach it (docs/verdict.md).
    """

    estimates: tuple[Estimate, ...]
    verdict: Any = None

    def to_frame(self) -> pd.DataFrame:
        frame = pd.concat([e.to_frame() for e in self.estimates])
        if self.verdict is not None:
            found = {a.name: a for a in self.verdict.assessments}
            recommended = getattr(self.verdict.recommended, "name", None)
            frame.insert(0, "status", [_status(found.get(e.name), e.name == recommended) for e in self.estimates])
        return frame

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"estimates": [e.to_dict() for e in self.estimates]}
        if self.verdict is not None:
            out["verdict"] = self.verdict.to_dict()
        return out

    def grouped_warnings(self) -> list[str]:
        """Each distinct warning once, led by the estimates it applies to ("every estimate" when all):
        the same "55 rows were dropped" from eleven methods is one line, not eleven."""
        by_message: dict[str, list[str]] = {}
        for e in self.estimates:
            for w in e.warnings:
                names = by_message.setdefault(w, [])
                if e.name not in names:
                    names.append(e.name)
        total = len(self.estimates)
        return [
            f"{'Every estimate' if len(names) == total > 1 else ', '.join(names)}: {message}"
            for message, names in by_message.items()
        ]

    def summary(self) -> Summary:
        messages = self.grouped_warnings()
        header = (("Estimates", str(len(self.estimates))),)
        lead = self.verdict.headline if self.verdict is not None else ""
        return Summary(
            "deconfound: comparison of estimates", header, (("", self.to_frame()),), tuple(messages), lead=lead
        )

    def __iter__(self):
        return iter(self.estimates)

    def __len__(self) -> int:
        return len(self.estimates)

    def __getitem__(self, key: int | str) -> Estimate:
        """By position, by name (label), or by method id (``comparison["ols"]``)."""
        if isinstance(key, str):
            for attr in ("name", "method"):
                for e in self.estimates:
                    if getattr(e, attr) == key:
                        return e
            raise KeyError(f"No estimate named {key!r}; have {[e.name for e in self.estimates]}.")
        return self.estimates[key]

    def plot(self, *, level: float | None = None, truth: float | None = None, ax: Any = None, title: str | None = None):
        """A forest plot of the estimates and their intervals (:func:`deconfound.plots.forest.forest_plot`)."""
        from .plots.forest import forest_plot

        return forest_plot(self, level=level, truth=truth, ax=ax, title=title)

    def __str__(self) -> str:
        return self.summary().as_text()

    def _repr_html_(self) -> str:
        return self.summary().as_html()


def _status(found: Any, recommended: bool) -> str:
    if found is None:
        return ""
    return "recommended" if recommended else found.status


def compare(
    *estimates: Estimate | Sequence[Estimate],
    design: str = "cross-section",
    confounders: Sequence[str] = (),
    estimand: str | None = None,
    identification: str | None = None,
) -> Comparison:
    """Combine estimates (given one by one or as a list) into a :class:`Comparison` with its verdict.

    The verdict (docs/verdict.md) gives each estimate a status and recommends one; it depends on the
    ``design`` ("cross-section", "rct" or "panel"), the ``confounders`` adjusted for (a difference in
    means that ignores them is set aside), the question's ``estimand`` (preferred when given) and how
    the adjustment was justified (``identification``: "identified" by a graph, or "assumed").
    """
    from .errors import SpecificationError

    flat: list[Estimate] = []
    for item in estimates:
        if isinstance(item, Estimate):
            flat.append(item)
        elif isinstance(item, (str, bytes)) or not isinstance(item, Iterable):
            raise SpecificationError(
                f"compare() takes estimates (results of dc.ols(...), dc.ipw(...), ...) or lists of them, "
                f"got {type(item).__name__}."
            )
        else:
            flat.extend(item)
    for item in flat:
        if not isinstance(item, Estimate):
            raise SpecificationError(f"compare() takes Estimate objects, got {type(item).__name__}.")
    if not flat:
        raise SpecificationError(
            "compare() needs at least one estimate, e.g. dc.compare(dc.naive(df, ...), dc.ols(df, ...))."
        )
    check_option("design", design, ("cross-section", "rct", "panel"))
    found = None
    if flat:
        from .verdict import verdict

        found = verdict(
            flat, design=design, confounders=list(confounders), estimand=estimand, identification=identification
        )
    return Comparison(tuple(flat), found)
