"""The event-study coefficient plot: effects by time relative to treatment, with confidence intervals.

Reads ``result.diagnostics["event_study"]`` (from :func:`deconfound.event_study` or
:func:`deconfound.staggered`); computes nothing but the intervals at another ``level``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._core.distributions import critical_value
from .._core.options import check_level
from ..errors import SpecificationError


def _table(result: Any):
    frame = getattr(result, "diagnostics", {}).get("event_study") if hasattr(result, "diagnostics") else None
    if frame is None:
        raise SpecificationError(
            "This result has no event-study table to plot; it comes from event_study() or staggered() "
            f"(got method {getattr(result, 'method', type(result).__name__)!r})."
        )
    return frame


def plot_event_study(result: Any, *, level: float | None = None, ax: Any = None, title: str | None = None) -> Any:
    """Draw the event-study coefficients of ``result`` with confidence intervals; returns the Figure.

    ``level`` redraws pointwise intervals at another confidence level (default: the result's own
    intervals, which are uniform bands when a staggered result was bootstrapped). The reference
    period is drawn as a hollow marker at zero; the dashed vertical line marks the start of treatment.
    """
    frame = _table(result).sort_values("event_time")
    if ax is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(7.5, 4.5))
        ax = fig.add_subplot(1, 1, 1)
    else:
        fig = ax.figure
    x = frame["event_time"].to_numpy(dtype=float)
    est = frame["estimate"].to_numpy(dtype=float)
    if level is None:
        lo, hi = frame["ci_low"].to_numpy(dtype=float), frame["ci_high"].to_numpy(dtype=float)
        shown = result.level
    else:
        shown = check_level(level)
        df = result.coefficients.df if getattr(result, "coefficients", None) is not None else None
        crit = critical_value(shown, df)
        se = frame["std_error"].to_numpy(dtype=float)
        lo, hi = est - crit * se, est + crit * se
    ref = frame["reference"].to_numpy(dtype=bool) if "reference" in frame else np.zeros(len(x), dtype=bool)
    pre = (x < 0) & ~ref
    for mask, color, label in ((pre, "tab:gray", "before treatment"), (x >= 0, "tab:blue", "after treatment")):
        if mask.any():
            ax.errorbar(
                x[mask],
                est[mask],
                yerr=[est[mask] - lo[mask], hi[mask] - est[mask]],
                fmt="o",
                color=color,
                capsize=3,
                label=label,
            )
    if ref.any():
        ax.plot(x[ref], est[ref], "o", mfc="white", mec="black", label="reference period")
    if len(x) <= 25:
        terms = frame["term"].astype(str).tolist() if "term" in frame else [""] * len(x)
        ax.set_xticks(x)
        ax.set_xticklabels([_tick(t, v) for t, v in zip(terms, x)])
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.axvline(-0.5, color="tab:red", linestyle="--", linewidth=0.8)
    ax.set_xlabel("Periods since treatment started (event time)")
    ax.set_ylabel(f"Effect on {result.outcome}" if getattr(result, "outcome", None) else "Effect")
    test = result.diagnostics.get("pretrend_test", {})
    subtitle = f"{shown:.0%} confidence intervals"
    if test.get("applicable"):
        subtitle += f"; joint pre-trend test p = {test['p_value']:.3g}"
    ax.set_title(title or f"{result.name}\n{subtitle}", fontsize=10)
    ax.legend(loc="best", fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def _tick(term: str, value: float) -> str:
    """Tick label; binned endpoints read as <= first and >= last."""
    if "<=" in term:
        return f"\u2264{value:g}"
    if ">=" in term:
        return f"\u2265{value:g}"
    return f"{value:g}"
