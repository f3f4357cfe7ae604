"""Reference distributions for tests and intervals (t when degrees of freedom are known, else normal).

``scipy.stats`` costs half a second to import, so it is imported on first use.
"""

from __future__ import annotations

import numpy as np


def _stats():
    from scipy import stats

    return stats


def two_sided_p(stat: np.ndarray | float, df: float | None) -> np.ndarray | float:
    """Two-sided p-value of a t (``df`` given) or standard normal statistic."""
    stat = np.abs(stat)
    if df is None or not np.isfinite(df):
        return 2.0 * _stats().norm.sf(stat)
    return 2.0 * _stats().t.sf(stat, df)


def critical_value(level: float, df: float | None) -> float:
    """The two-sided critical value for a confidence ``level``."""
    q = 0.5 + level / 2.0
    if df is None or not np.isfinite(df):
        return float(_stats().norm.ppf(q))
    return float(_stats().t.ppf(q, df))


def chi2_sf(stat: float, df: float) -> float:
    return float(_stats().chi2.sf(stat, df))


def f_sf(stat: float, df_num: float, df_den: float) -> float:
    return float(_stats().f.sf(stat, df_num, df_den))
