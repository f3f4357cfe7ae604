"""The Rambachan-Roth sensitivity plot: robust confidence intervals for an event-study effect against the
size of the allowed violation of parallel trends (Mbar or M), with the original interval at the left.

Reads a :class:`~deconfound.robustness.honest.HonestDiD` (from :func:`deconfound.honest_did`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import SpecificationError


def honest_plot(result: Any, *, ax: Any = None, title: str | None = None) -> Any:
    """Robust intervals (one bar per size) beside the original interval; the dotted line is zero and the
    dashed one the breakdown value when there is one. Returns the Figure."""
    if not hasattr(result, "table") or not hasattr(result, "original") or not hasattr(result, "size_name"):
        raise SpecificationError("honest_plot draws the result of deconfound.honest_did(...).")
    if ax is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6.5, 4.5))
        ax = fig.add_subplot(1, 1, 1)
    else:
        fig = ax.figure
    table = result.table
    sizes = table["size"].to_numpy(dtype=float)
    step = float(np.min(np.diff(sizes))) if len(sizes) > 1 else max(abs(sizes[0]), 1.0)
    x0 = sizes[0] - step  # the original interval sits one step left of the first size
    centers = [x0, *sizes]
    lows = [result.original[0], *table["lb"].to_numpy(dtype=float)]
    highs = [result.original[1], *table["ub"].to_numpy(dtype=float)]
    colors = ["0.2", *(["tab:blue"] * len(sizes))]
    for x, lo, hi, color in zip(centers, lows, highs, colors):
        if np.isfinite(lo) and np.isfinite(hi):
            ax.plot([x, x], [lo, hi], color=color, linewidth=2.2, solid_capstyle="butt")
            ax.plot([x - step * 0.15, x + step * 0.15], [lo, lo], color=color, linewidth=1.2)
            ax.plot([x - step * 0.15, x + step * 0.15], [hi, hi], color=color, linewidth=1.2)
    ax.axhline(0.0, color="0.4", linestyle=":", linewidth=1)
    if result.breakdown is not None and result.breakdown > 0:
        ax.axvline(
            result.breakdown,
            color="tab:red",
            linestyle="--",
            linewidth=1,
            label=f"breakdown {result.size_name} = {result.breakdown:.3g}",
        )
        ax.legend(loc="best", frameon=False)
    ax.set_xticks(centers)
    ax.set_xticklabels(["original", *[f"{v:g}" for v in sizes]])
    ax.set_xlabel(result.size_name)
    ax.set_ylabel(f"{result.level:.0%} confidence interval")
    what = "relative magnitudes" if result.restriction == "rm" else "smoothness"
    ax.set_title(title or f"Honest DiD ({what}, {result.method}): {result.parameter}", fontsize=10)
    return fig
