"""The common-support plot (the article's Figure 6): propensity-score densities of treated and control.

Reads a result's ``diagnostics["propensity"]`` (or the frame returned by ``propensity_scores``); it never
fits anything itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import SpecificationError

TREATED_COLOR = "#d95f02"
CONTROL_COLOR = "#1b9e77"


def _scores(source: Any) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        frame = source
    else:
        diagnostics = getattr(source, "diagnostics", None)
        frame = None if diagnostics is None else diagnostics.get("propensity")
    if frame is None or not {"treatment", "propensity_score"} <= set(frame.columns):
        raise SpecificationError(
            "overlap_plot needs propensity scores: pass the result of a propensity method (matching, ipw, aipw, "
            "overlap_weights) or the frame returned by propensity_scores()."
        )
    return frame


def _density(ax: Any, values: np.ndarray, color: str, label: str, bins: np.ndarray) -> None:
    ax.hist(values, bins=bins, density=True, alpha=0.35, color=color, label=label)
    if len(values) > 1 and np.ptp(values) > 0:
        from scipy.stats import gaussian_kde

        grid = np.linspace(0.0, 1.0, 400)
        kde = gaussian_kde(values)
        # reflect at the bounds so the density does not leak outside [0, 1]
        dens = kde(grid) + kde(-grid) + kde(2.0 - grid)
        ax.plot(grid, dens, color=color, lw=2)


def overlap_plot(source: Any, *, bins: int = 40, title: str | None = None, ax: Any = None) -> Any:
    """Overlaid densities (histogram and kernel estimate) of the propensity score by group.

    ``source`` is an :class:`~deconfound.Estimate` from a propensity method, or the DataFrame of
    :func:`~deconfound.propensity_scores`. Rows removed by trimming are drawn hatched. Returns the Figure.
    """
    import matplotlib.pyplot as plt

    frame = _scores(source)
    t = frame["treatment"].to_numpy() == 1
    score = frame["propensity_score"].to_numpy(dtype=np.float64)
    trimmed = frame["trimmed"].to_numpy(dtype=bool) if "trimmed" in frame.columns else np.zeros(len(frame), bool)
    if ax is None:
        fig, ax = plt.subplots(figsize=(7.5, 4.5))
    else:
        fig = ax.figure
    edges = np.linspace(0.0, 1.0, bins + 1)
    _density(ax, score[t], TREATED_COLOR, f"treated (n={int(t.sum())})", edges)
    _density(ax, score[~t], CONTROL_COLOR, f"control (n={int((~t).sum())})", edges)
    if trimmed.any():
        lo = score[~trimmed].min()
        hi = score[~trimmed].max()
        ax.axvspan(0.0, lo, color="grey", alpha=0.15, hatch="//", label=f"trimmed ({int(trimmed.sum())} rows)")
        ax.axvspan(hi, 1.0, color="grey", alpha=0.15, hatch="//")
    ax.set_xlim(0.0, 1.0)
    ax.set_xlabel("propensity score P(treated | covariates)")
    ax.set_ylabel("density")
    ax.set_title(title or "Common support: propensity scores by group")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig
