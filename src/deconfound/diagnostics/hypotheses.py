"""A typed, immutable result for tests and checks: pre-trends, balance, placebo, sensitivity.

:class:`TestResult` holds the statistic, its reference distribution ("chi2", "F", "t", "normal",
"permutation"; None for a check that is not a hypothesis test, such as a robustness value), the degrees
of freedom, the p-value and the null hypothesis in words - or, when the test does not apply, the reason
(as linearmodels' ``WaldTestStatistic`` / ``InvalidTestStatistic``). Values particular to one test (the
event times tested, a placebo's spread) sit in ``details``.

It is also a read-only mapping of its :meth:`TestResult.to_dict`, which gives exactly the dict these
results were before they were typed (their ``layout`` lists its keys in order; ``"key=field"`` writes a
typed field under another key), so ``result["p_value"]``, ``.get("applicable")``, equality with a dict
and the ``--json`` output are unchanged. A result that does not apply gives
``{"applicable": False, "reason": ...}``.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, ClassVar

#: the typed fields a layout entry may name (besides "applicable" and the keys of ``details``)
FIELDS = ("name", "statistic", "distribution", "df", "df_denom", "p_value", "null", "reason")

#: the level at which ``str()`` calls a p-value evidence against the null
ALPHA = 0.05


def _num(x: Any, digits: int = 4) -> str:
    if x is None:
        return "-"
    if isinstance(x, float) and math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.{digits}g}"


@dataclass(frozen=True, eq=False, repr=False)
class TestResult(Mapping[str, Any]):
    """A test statistic with its distribution and p-value, or the reason the test does not apply."""

    __test__: ClassVar[bool] = False  # not a pytest test class

    name: str  # what was tested, e.g. "joint pre-trend test"
    statistic: float | None = None
    distribution: str | None = None  # "chi2", "F", "t", "normal", "permutation"; None: not a hypothesis test
    df: float | None = None  # degrees of freedom (the numerator's for F)
    df_denom: float | None = None  # the denominator's degrees of freedom (F)
    p_value: float | None = None
    null: str = ""  # the null hypothesis in words
    reason: str | None = None  # why the test does not apply (None: it does)
    details: Mapping[str, Any] = field(default_factory=dict)  # values particular to this test
    layout: tuple[str, ...] | None = None  # keys of to_dict() in order ("key" or "key=field")
    statistic_name: str = "statistic"  # how str() names the statistic when there is no distribution

    @classmethod
    def not_applicable(cls, name: str, reason: str, **kwargs: Any) -> TestResult:
        """A test that could not be run, and why (in words the user can act on)."""
        return cls(name=name, reason=reason, **kwargs)

    @property
    def applicable(self) -> bool:
        return self.reason is None

    @property
    def degrees_of_freedom(self) -> tuple[float, ...]:
        """(df,) or (df, df_denom) for an F statistic; () when there are none."""
        return tuple(d for d in (self.df, self.df_denom) if d is not None)

    # ----------------------------------------------------------------------------------------------
    # the dict form
    # ----------------------------------------------------------------------------------------------

    def _value(self, source: str) -> Any:
        if source == "applicable":
            return self.applicable
        if source in FIELDS:
            return getattr(self, source)
        return self.details[source]

    @cached_property
    def _record(self) -> dict[str, Any]:
        if self.layout is not None:
            pairs = (entry.split("=", 1) if "=" in entry else (entry, entry) for entry in self.layout)
            return {key: self._value(source) for key, source in pairs}
        if not self.applicable:
            return {"applicable": False, "reason": self.reason}
        keys = ("applicable", "statistic", "distribution", "df", "df_denom", "p_value", "null")
        return {**{key: self._value(key) for key in keys}, **self.details}

    def to_dict(self) -> dict[str, Any]:
        """The plain dict (the JSON contract): the ``layout``'s keys, or the fields and details in order."""
        return dict(self._record)

    def __getitem__(self, key: str) -> Any:
        return self._record[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._record)

    def __len__(self) -> int:
        return len(self._record)

    def with_keys(self, *keys: str, **details: Any) -> TestResult:
        """A copy with more ``details`` and ``keys`` appended to the layout (when it has one)."""
        layout = None if self.layout is None else self.layout + keys
        return replace(self, details={**self.details, **details}, layout=layout)

    # ----------------------------------------------------------------------------------------------
    # rendering
    # ----------------------------------------------------------------------------------------------

    def _distribution_label(self) -> str:
        dist = str(self.distribution)
        dfs = ", ".join(_num(d) for d in self.degrees_of_freedom)
        return f"{dist}({dfs})" if dfs else dist

    def __str__(self) -> str:
        """One line in words."""
        if not self.applicable:
            return f"{self.name}: not applicable ({self.reason})"
        if self.distribution is None:
            df = f" (df = {_num(self.df)})" if self.df is not None else ""
            return f"{self.name}: {self.statistic_name} = {_num(self.statistic)}{df}"
        text = f"{self.name}: {self._distribution_label()} = {_num(self.statistic)}, p = {_num(self.p_value, 3)}"
        if self.null and self.p_value is not None and not math.isnan(self.p_value):
            verdict = "evidence against" if self.p_value < ALPHA else "no evidence against"
            text += f"; {verdict} the null at the {ALPHA:.0%} level ({self.null})"
        return text

    def __repr__(self) -> str:
        if not self.applicable:
            return f"TestResult(name={self.name!r}, applicable=False, reason={self.reason!r})"
        parts = [f"name={self.name!r}", f"statistic={_num(self.statistic, 6)}"]
        if self.distribution is not None:
            parts.append(f"distribution={self.distribution!r}")
        if self.degrees_of_freedom:
            parts.append(f"df={', '.join(_num(d) for d in self.degrees_of_freedom)}")
        if self.p_value is not None:
            parts.append(f"p_value={_num(self.p_value)}")
        return f"TestResult({', '.join(parts)})"

    def _repr_html_(self) -> str:
        rows: list[tuple[str, str]] = [("test", self.name)]
        if not self.applicable:
            rows.append(("not applicable", str(self.reason)))
        else:
            if self.null:
                rows.append(("null hypothesis", self.null))
            label = self._distribution_label() if self.distribution is not None else self.statistic_name
            rows.append((label, _num(self.statistic)))
            if self.p_value is not None:
                rows.append(("p-value", _num(self.p_value, 3)))
        body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
        return f'<table class="deconfound-test"><tbody>{body}</tbody></table>'
