"""Figures that read results (never compute estimates). Each module draws one kind of figure and
returns a matplotlib Figure; matplotlib is imported only when a figure is drawn.

    overlap_plot(result)   common support: propensity-score densities by group (the article's Figure 6)
    love_plot(result)      standardized mean differences before and after matching or weighting
"""

from .balance import love_plot
from .overlap import overlap_plot

__all__ = ["love_plot", "overlap_plot"]
