"""The love plot: standardized mean differences of every covariate before and after adjustment.

Reads a result's ``diagnostics["balance"]`` (from matching, weighting or CEM); it computes nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import SpecificationError


def love_plot(source: Any, *, threshold: float = 0.1, absolute: bool = True, title: str | None = None, ax: Any = None):
    """Dots for each covariate's standardized mean difference before (open) and after (filled) adjustment.

    ``source`` is an :class:`~deconfound.Estimate` with a before/after balance table, or that table.
    Dashed lines mark +-``threshold``. Returns the Figure.
    """
    import matplotlib.pyplot as plt

    table = source if isinstance(source, pd.DataFrame) else getattr(source, "diagnostics", {}).get("balance")
    if table is None or not {"smd_before", "smd_after"} <= set(table.columns):
        raise SpecificationError(
            "love_plot needs a balance table before and after adjustment: pass the result of matching, cem, "
            "ipw, aipw or overlap_weights."
        )
    before = table["smd_before"].to_numpy(dtype=np.float64)
    after = table["smd_after"].to_numpy(dtype=np.float64)
    if absolute:
        before, after = np.abs(before), np.abs(after)
    order = np.argsort(np.abs(before))
    names = [str(n) for n in table.index[order]]
    y = np.arange(len(names))
    if ax is None:
        fig, ax = plt.subplots(figsize=(7.0, 1.2 + 0.35 * len(names)))
    else:
        fig = ax.figure
    for yi, b, a in zip(y, before[order], after[order]):
        ax.plot([b, a], [yi, yi], color="0.75", lw=1, zorder=1)
    ax.scatter(before[order], y, facecolors="none", edgecolors="#d95f02", s=45, label="before", zorder=2)
    ax.scatter(after[order], y, color="#1b9e77", s=45, label="after", zorder=3)
    for x in (threshold, -threshold) if not absolute else (threshold,):
        ax.axvline(x, color="0.4", ls="--", lw=1)
    ax.axvline(0.0, color="0.2", lw=0.8)
    ax.set_yticks(y, names)
    ax.set_xlabel("|standardized mean difference|" if absolute else "standardized mean difference")
    ax.set_title(title or "Covariate balance before and after adjustment")
    ax.legend(frameon=False, loc="lower right")
    fig.tight_layout()
    return fig
