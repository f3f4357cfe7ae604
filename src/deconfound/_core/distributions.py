"""Reference distributions for tests and intervals (t when degrees of freedom are known, else normal).

The functions of ``scipy.special`` (``stdtr``, ``stdtrit``, ``ndtr``, ``ndtri``, ``chdtrc``, ``fdtrc``)
are what ``scipy.stats``' t, normal, chi-squared and F distributions evaluate, to the last bit; importing
them takes milliseconds where ``scipy.stats`` takes most of a second, which a small job on the command
line would feel.
"""

from __future__ import annotations

import numpy as np
from scipy import special


def two_sided_p(stat: np.ndarray | float, df: float | None) -> np.ndarray | float:
    """Two-sided p-value of a t (``df`` given) or standard normal statistic."""
    stat = np.abs(stat)
    if df is None or not np.isfinite(df):
        return 2.0 * special.ndtr(-stat)
    return 2.0 * special.stdtr(df, -stat)


def normal_quantile(q: float) -> float:
    """The standard normal quantile function."""
    return float(special.ndtri(q))


def t_quantile(q: float, df: float) -> float:
    """The quantile function of Student's t with ``df`` degrees of freedom."""
    return float(special.stdtrit(df, q))


def critical_value(level: float, df: float | None) -> float:
    """The two-sided critical value for a confidence ``level``."""
    q = 0.5 + level / 2.0
    if df is None or not np.isfinite(df):
        return normal_quantile(q)
    return t_quantile(q, df)


def chi2_sf(stat: float, df: float) -> float:
    return float(special.chdtrc(df, stat))


def f_sf(stat: float, df_num: float, df_den: float) -> float:
    return float(special.fdtrc(df_num, df_den, stat))


def normal_sf(stat: float) -> float:
    """The standard normal's upper tail, P(Z > stat)."""
    return float(special.ndtr(-stat))
