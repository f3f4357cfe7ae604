"""A forest plot: each estimate as a point with its confidence interval, one row per method."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..errors import SpecificationError
from ..results import Estimate


def _estimates(estimates: Any) -> list[Estimate]:
    items = [estimates] if isinstance(estimates, Estimate) else list(estimates)
    for item in items:
        if not isinstance(item, Estimate):
            raise SpecificationError(
                f"forest_plot() takes Estimate objects or a Comparison, got {type(item).__name__}."
            )
    if not items:
        raise SpecificationError("forest_plot() needs at least one estimate.")
    return items


def _check_truth(truth: Any) -> float | None:
    """``truth`` as a finite number (None: no line), else our error naming it."""
    import math

    if truth is None:
        return None
    if (not isinstance(truth, bool) and isinstance(truth, (int, float))) or type(truth).__module__ == "numpy":
        try:
            value = float(truth)
        except (TypeError, ValueError):
            value = math.nan
        if math.isfinite(value):
            return value
    raise SpecificationError(f"truth must be a finite number (the known true effect, e.g. truth=-10), got {truth!r}.")


def forest_plot(
    estimates: Estimate | Iterable[Estimate],
    *,
    level: float | None = None,
    truth: float | None = None,
    ax: Any = None,
    title: str | None = None,
    verdict: Any = None,
) -> Any:
    """Draw the estimates (a Comparison, a list, or one Estimate) with their intervals; return the Figure.

    Rows run top to bottom in the order given, labelled by method, with the number and interval printed
    on the right. ``level`` redraws every interval at that level (default: each estimate's own).
    ``truth`` adds a dashed line at a known true effect (e.g. a simulation's ``attrs["ate"]``).

    With a ``verdict`` (:func:`deconfound.verdict.verdict`; a Comparison that carries one
    passes it on by itself) each row is drawn in its status's style (supported: blue; caution: orange;
    set aside: grey, hollow), the recommended row is marked with a star and "recommended", and the numbers
    are rounded by the recommended standard error. Without one, estimates that carry warnings are drawn
    in orange and marked "(!)".
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    truth = _check_truth(truth)
    items = _estimates(estimates)
    if verdict is None:
        verdict = getattr(estimates, "verdict", None)
    status = {a.name: a.status for a in verdict.assessments} if verdict is not None else {}
    recommended = getattr(getattr(verdict, "recommended", None), "name", None)
    digits = verdict.digits if verdict is not None else 2
    n = len(items)
    if ax is None:
        fig, ax = plt.subplots(figsize=(8.0, 1.0 + 0.55 * n))
    else:
        fig = ax.figure
    labels = []
    for i, est in enumerate(items):
        y = n - 1 - i
        lo, hi = est.ci(level)
        style = _STYLES[status.get(est.name, "caution" if est.warnings else "supported")]
        ax.plot([lo, hi], [y, y], color=style["color"], linewidth=2.2, solid_capstyle="butt")
        marker = "*" if est.name == recommended else "o"
        ax.plot(
            [est.estimate],
            [y],
            marker=marker,
            markersize=12 if marker == "*" else 7,
            color=style["color"],
            markerfacecolor=style["face"] or style["color"],
        )
        ax.annotate(
            f"{est.estimate:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]",
            xy=(1.01, y),
            xycoords=("axes fraction", "data"),
            va="center",
            fontsize=9,
            fontweight="bold" if est.name == recommended else "normal",
        )
        labels.append(_label(est, status.get(est.name), recommended))
    ax.axvline(0.0, color="#999999", linewidth=0.9)
    handles = []
    if truth is not None:
        ax.axvline(float(truth), color="#C44E52", linestyle="--", linewidth=1.2)
        handles.append(Line2D([], [], color="#C44E52", linestyle="--", label=f"true effect {float(truth):g}"))
    if status:
        for name in ("supported", "caution", "set aside"):
            if name in status.values():
                s = _STYLES[name]
                handles.append(
                    Line2D([], [], color=s["color"], marker="o", markerfacecolor=s["face"] or s["color"], label=name)
                )
        if recommended is not None:
            handles.append(
                Line2D([], [], color="#4C72B0", marker="*", markersize=10, linestyle="", label="recommended")
            )
    elif any(e.warnings for e in items):
        handles.append(Line2D([], [], color="#DD8452", marker="o", label="(!) has warnings"))
    if handles:
        ax.legend(handles=handles, loc="best", fontsize=8, frameon=False)
    ax.set_yticks(range(n - 1, -1, -1), labels)
    ax.set_ylim(-0.7, n - 0.3)
    first = items[0]
    shown = level if level is not None else first.level
    effect = f"effect of {first.treatment} on {first.outcome}" if first.treatment else "effect"
    ax.set_xlabel(f"{effect} (point estimate and {shown:.0%} confidence interval)")
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="y", length=0)
    if title:
        ax.set_title(title)
    fig.subplots_adjust(right=0.75)
    return fig


#: how a status is drawn: line and marker colour, marker face (None: filled)
_STYLES: dict[str, dict[str, Any]] = {
    "supported": {"color": "#4C72B0", "face": None},
    "caution": {"color": "#DD8452", "face": None},
    "set aside": {"color": "#9A9A9A", "face": "white"},
}


def _label(est: Estimate, status: str | None, recommended: str | None) -> str:
    if status is None:
        return est.name + (" (!)" if est.warnings else "")
    if est.name == recommended:
        return f"{est.name} (recommended)"
    return est.name if status == "supported" else f"{est.name} ({status})"
