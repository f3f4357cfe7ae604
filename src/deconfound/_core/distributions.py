"""Reference distributions for tests and intervals (t when degrees of freedom are known, else normal)."""

from __future__ import annotations

import numpy as np
from scipy import stats


def two_sided_p(stat: np.ndarray | float, df: float | None) -> np.ndarray | float:
    """Two-sided p-value of a t (``df`` given) or standard normal statistic."""
    stat = np.abs(stat)
    if df is None or not np.isfinite(df):
        return 2.0 * stats.norm.sf(stat)
    return 2.0 * stats.t.sf(stat, df)


def critical_value(level: float, df: float | None) -> float:
    """The two-sided critical value for a confidence ``level``."""
    q = 0.5 + level / 2.0
    if df is None or not np.isfinite(df):
        return float(stats.norm.ppf(q))
    return float(stats.t.ppf(q, df))


def chi2_sf(stat: float, df: float) -> float:
    return float(stats.chi2.sf(stat, df))


def f_sf(stat: float, df_num: float, df_den: float) -> float:
    return float(stats.f.sf(stat, df_num, df_den))
