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


def forest_plot(
    estimates: Estimate | Iterable[Estimate],
    *,
    level: float | None = None,
    truth: float | None = None,
    ax: Any = None,
    title: str | None = None,
) -> Any:
    """Draw the estimates (a Comparison, a list, or one Estimate) with their intervals; return the Figure.

    Rows run top to bottom in the order given, labelled by method, with the number and interval printed
    on the right. ``level`` redraws every interval at that level (default: each estimate's own).
    Estimates that carry warnings are drawn in orange and marked "(!)". ``truth`` adds a dashed line at
    a known true effect (e.g. a simulation's ``attrs["ate"]``).
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    items = _estimates(estimates)
    n = len(items)
    if ax is None:
        fig, ax = plt.subplots(figsize=(8.0, 1.0 + 0.55 * n))
    else:
        fig = ax.figure
    labels = []
    for i, est in enumerate(items):
        y = n - 1 - i
        lo, hi = est.ci(level)
        color = "#DD8452" if est.warnings else "#4C72B0"
        ax.plot([lo, hi], [y, y], color=color, linewidth=2.2, solid_capstyle="butt")
        ax.plot([est.estimate], [y], marker="o", markersize=7, color=color)
        ax.annotate(
            f"{est.estimate:.2f} [{lo:.2f}, {hi:.2f}]",
            xy=(1.01, y),
            xycoords=("axes fraction", "data"),
            va="center",
            fontsize=9,
        )
        labels.append(est.name + (" (!)" if est.warnings else ""))
    ax.axvline(0.0, color="#999999", linewidth=0.9)
    handles = []
    if truth is not None:
        ax.axvline(float(truth), color="#C44E52", linestyle="--", linewidth=1.2)
        handles.append(Line2D([], [], color="#C44E52", linestyle="--", label=f"true effect {float(truth):g}"))
    if any(e.warnings for e in items):
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
