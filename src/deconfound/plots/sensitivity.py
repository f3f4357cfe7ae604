"""The sensitivity contour plot of Cinelli and Hazlett (2020): the estimate adjusted for a confounder of
given strength, over its partial R-squared with the treatment (x) and with the outcome (y).

Reads a :class:`~deconfound.robustness.bounds.SensitivityBounds` (from :func:`deconfound.ovb_bounds`):
the contours come from its ``adjusted()`` formula, the red points from its benchmark rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import SpecificationError


def plot_sensitivity(result: Any, *, ax: Any = None, lim: float | None = None, title: str | None = None) -> Any:
    """Contours of the bias-adjusted estimate; the dashed red contour is where it reaches zero. Returns the Figure.

    ``lim`` is the largest partial R-squared drawn on both axes (default: a little beyond the benchmarks
    and at most 0.99)."""
    if not hasattr(result, "adjusted") or not hasattr(result, "rows"):
        raise SpecificationError("plot_sensitivity draws the result of deconfound.ovb_bounds(...).")
    rows = list(result.rows)
    if lim is None:
        largest = max([0.4, *[max(r["r2dz_x"], r["r2yz_dx"]) * 1.25 for r in rows]])
        lim = min(largest, 0.99)
    if not 0 < lim < 1:
        raise SpecificationError(f"lim must be between 0 and 1, got {lim!r}.")
    if ax is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6.0, 5.5))
        ax = fig.add_subplot(1, 1, 1)
    else:
        fig = ax.figure
    grid = np.linspace(0.0, lim, 201)
    r2d, r2y = np.meshgrid(grid, grid)
    z = result.adjusted(r2d, r2y)
    contours = ax.contour(r2d, r2y, z, levels=10, colors="0.35", linewidths=0.8)
    ax.clabel(contours, inline=True, fontsize=8, fmt="%.3g")
    if np.nanmin(z) < 0 < np.nanmax(z):
        ax.contour(r2d, r2y, z, levels=[0.0], colors="#c0392b", linestyles="dashed", linewidths=1.6)
    ax.plot([0], [0], marker="^", color="black")
    ax.annotate(f"unadjusted ({result.estimate:.3g})", (0, 0), textcoords="offset points", xytext=(6, 6), fontsize=8)
    edge = False
    for row in rows:  # a point beyond the drawn square (a capped R2 of 1) is drawn on its edge, starred
        x, y = min(row["r2dz_x"], lim), min(row["r2yz_dx"], lim)
        ax.plot([x], [y], marker="D", color="#c0392b", clip_on=False)
        label = f"{row['kd']:g}x {row['benchmark']} ({row['adjusted_estimate']:.3g})"
        if (x, y) != (row["r2dz_x"], row["r2yz_dx"]):
            label += "*"
            edge = True
        ax.annotate(label, (x, y), textcoords="offset points", xytext=(5, -12 if y >= lim else 4), fontsize=8)
    if edge:
        ax.text(
            0.99,
            0.02,
            "* beyond the chart (an R2 of 1 with the outcome: capped)",
            transform=ax.transAxes,
            ha="right",
            fontsize=7,
            color="#c0392b",
        )
    ax.set_xlim(0, lim)
    ax.set_ylim(0, lim)
    ax.set_xlabel("partial R² of the confounder with the treatment")
    ax.set_ylabel("partial R² of the confounder with the outcome")
    ax.set_title(title or f"Sensitivity of the effect of {result.treatment!r} on {result.outcome!r}")
    return fig


def plot_dml_sensitivity(result: Any, *, ax: Any = None, lim: float | None = None, title: str | None = None) -> Any:
    """Contours of the DML bound nearest the null (the lower bound for a positive estimate) over the
    confounder's strength cf_d (x) and cf_y (y), at the result's rho; the dashed red contour is where it
    reaches the null, the red points are the benchmarks. Reads :func:`deconfound.robustness.dml_sensitivity`.
    Returns the Figure."""
    if not hasattr(result, "bounds") or not hasattr(result, "benchmarks"):
        raise SpecificationError("plot_dml_sensitivity draws the result of deconfound.robustness.dml_sensitivity(...).")
    rows = list(result.benchmarks)
    if lim is None:
        largest = max([0.15, 1.25 * result.rv, *[1.25 * max(r["cf_y"], r["cf_d"]) for r in rows]])
        lim = min(largest, 0.99)
    if not 0 < lim < 1:
        raise SpecificationError(f"lim must be between 0 and 1, got {lim!r}.")
    if ax is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6.0, 5.5))
        ax = fig.add_subplot(1, 1, 1)
    else:
        fig = ax.figure
    grid = np.linspace(0.0, lim, 121)
    cf_d, cf_y = np.meshgrid(grid, grid)
    lower, upper = result.bounds(cf_y, cf_d)
    side = "upper" if result.null_hypothesis > result.estimate else "lower"
    z = upper if side == "upper" else lower
    contours = ax.contour(cf_d, cf_y, z, levels=10, colors="0.35", linewidths=0.8)
    ax.clabel(contours, inline=True, fontsize=8, fmt="%.3g")
    null = result.null_hypothesis
    if np.nanmin(z) < null < np.nanmax(z):
        ax.contour(cf_d, cf_y, z, levels=[null], colors="#c0392b", linestyles="dashed", linewidths=1.6)
    ax.plot([0], [0], marker="^", color="black")
    ax.annotate(f"unadjusted ({result.estimate:.3g})", (0, 0), textcoords="offset points", xytext=(6, 6), fontsize=8)
    if result.rv < 1.0:
        ax.plot([result.rv], [result.rv], marker="o", color="black", fillstyle="none")
        ax.annotate(
            f"RV {result.rv:.1%}", (result.rv, result.rv), textcoords="offset points", xytext=(6, -10), fontsize=8
        )
    for row in rows:
        x, y = min(row["cf_d"], lim), min(row["cf_y"], lim)
        ax.plot([x], [y], marker="D", color="#c0392b")
        bound = row[f"theta_{side}"]
        ax.annotate(
            f"like {row['benchmark']} ({bound:.3g})", (x, y), textcoords="offset points", xytext=(6, 4), fontsize=8
        )
    ax.set_xlim(0, lim)
    ax.set_ylim(0, lim)
    ax.set_xlabel("cf_d: gain in the Riesz representer's variation from the confounder")
    ax.set_ylabel("cf_y: share of the outcome's residual variance it explains")
    ax.set_title(title or f"DML sensitivity ({side} bound, rho = {result.rho:.2g})")
    return fig
