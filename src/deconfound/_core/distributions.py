"""Reference distributions for tests and intervals (t when degrees of freedom are known, else normal).

Two implementations of the same functions:

* ``scipy.special`` (``stdtr``, ``stdtrit``, ``ndtr``, ``ndtri``, ``chdtrc``, ``fdtrc``), what ``scipy.stats``'
  t, normal, chi-squared and F distributions evaluate, imported when first needed;
* for a small job, the t, normal and F tails of a few statistics in plain Python (``math.erfc`` and the
  regularized incomplete beta function by its continued fraction, with a log-beta that keeps its digits
  for large arguments). Importing ``scipy.special`` costs about a sixth of a second (it loads SciPy's array
  API layer, which touches most of NumPy), a third of what an OLS on the command line may take in all.

The plain path is used where it agrees with ``scipy.special`` to 1e-13 relative
(``tests/core/test_distributions.py`` checks it against SciPy over a grid of statistics and degrees of
freedom): at most :data:`PURE_MAX_VALUES` statistics, and beta parameters with ``min(a, b) <=``
:data:`PURE_MIN_PARAMETER` (t: any ``df`` up to :data:`PURE_MAX_DF`; F: a numerator of up to 60 degrees
of freedom). Anything else (and the chi-squared tail) goes to ``scipy.special``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

PURE_MAX_VALUES = 64  # statistics per call evaluated in plain Python (a coefficient table, a few tests)
PURE_MAX_DF = 1e4  # larger degrees of freedom go to scipy.special (a large job: its import is cheap next to it)
PURE_MIN_PARAMETER = 30.0  # the smaller beta parameter must be at most this (its log-gamma keeps 1e-15)
_MAX_ITER = 20_000
_EPS = 1e-16
_TINY = 1e-300


def _special() -> Any:
    from scipy import special

    return special


# --------------------------------------------------------------------------------------------------
# plain-Python pieces
# --------------------------------------------------------------------------------------------------


def _stirling_tail(x: float) -> float:
    """lgamma(x) - [(x - 1/2) log x - x + log(2 pi) / 2] for x >= 15 (the Stirling series, 6 terms)."""
    x2 = 1.0 / (x * x)
    inner = 1.0 / 1188.0 - x2 * 691.0 / 360360.0
    inner = 1.0 / 1680.0 - x2 * inner
    inner = 1.0 / 1260.0 - x2 * inner
    inner = 1.0 / 360.0 - x2 * inner
    return (1.0 / 12.0 - x2 * inner) / x


def _log_beta(a: float, b: float) -> float:
    """log B(a, b) for a, b > 0, b the smaller. For a large, lgamma(a) - lgamma(a + b) is written as
    -(a - 1/2) log1p(b / a) - b log(a + b) + b plus Stirling tails, which loses no digits to the size of
    lgamma(a) (plain lgamma differences would lose log10(lgamma(a)) of them)."""
    if a < b:
        a, b = b, a
    if a < 15.0:
        return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    diff = -(a - 0.5) * math.log1p(b / a) - b * math.log(a + b) + b + _stirling_tail(a) - _stirling_tail(a + b)
    return math.lgamma(b) + diff


def _beta_cf(a: float, b: float, x: float) -> float | None:
    """The continued fraction of the incomplete beta function (modified Lentz); None if it does not settle."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, _MAX_ITER):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        step = d * c
        h *= step
        if abs(step - 1.0) < _EPS:
            return h
    return None


def _betainc_ratio(a: float, b: float, r: float) -> float | None:
    """The regularized incomplete beta I_x(a, b) at x = 1 / (1 + r), r = (1 - x) / x >= 0: both x and
    1 - x and their logarithms follow from r without cancellation (a times log x keeps its digits for a
    large a, where log of a rounded x would not). None when the continued fraction does not settle."""
    if math.isinf(r):
        return 0.0
    if r <= 0.0:
        return 1.0
    x, y = 1.0 / (1.0 + r), r / (1.0 + r)
    log_x, log_y = -math.log1p(r), -math.log1p(1.0 / r)
    front = math.exp(a * log_x + b * log_y - _log_beta(a, b))
    if x < (a + 1.0) / (a + b + 2.0):
        cf = _beta_cf(a, b, x)
        return None if cf is None else front * cf / a
    cf = _beta_cf(b, a, y)
    return None if cf is None else 1.0 - front * cf / b


def _pure_ok(values: np.ndarray, *params: float) -> bool:
    return (
        values.size <= PURE_MAX_VALUES
        and bool(np.all(np.isfinite(values)))
        and all(math.isfinite(p) and 0.0 < p <= PURE_MAX_DF for p in params)
        and min(params) / 2.0 <= PURE_MIN_PARAMETER
    )


def _t_two_sided(stat: float, df: float) -> float | None:
    """P(|T| > |stat|) = I_x(df/2, 1/2) with x = df / (df + stat^2)."""
    return _betainc_ratio(df / 2.0, 0.5, stat * stat / df)


def _normal_two_sided(stat: float) -> float:
    return math.erfc(abs(stat) / math.sqrt(2.0))


def _normal_lower(x: float) -> float:
    """P(Z <= x)."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _normal_quantile(q: float) -> float:
    """Phi^{-1}(q): a rational start (Abramowitz-Stegun 26.2.23) refined by Halley steps on erfc."""
    if q <= 0.0:
        return -math.inf
    if q >= 1.0:
        return math.inf
    if q > 0.5:
        return -_normal_quantile(1.0 - q)
    u = math.sqrt(-2.0 * math.log(q))
    x = -(u - (2.515517 + u * (0.802853 + u * 0.010328)) / (1.0 + u * (1.432788 + u * (0.189269 + u * 0.001308))))
    for _ in range(8):
        f = _normal_lower(x) - q
        dens = math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)
        step = f / (dens * (1.0 + x * f / (2.0 * dens)))
        x -= step
        if abs(step) <= 1e-16 * max(1.0, abs(x)):
            break
    return x


def _t_quantile(q: float, df: float) -> float | None:
    """The t quantile by Newton steps on the two-sided tail, from the normal quantile."""
    if q == 0.5:
        return 0.0
    upper = q > 0.5
    alpha = 2.0 * ((1.0 - q) if upper else q)  # the two-sided tail at the answer's |t|
    t = abs(_normal_quantile(q))
    log_norm = math.lgamma((df + 1.0) / 2.0) - math.lgamma(df / 2.0) - 0.5 * math.log(df * math.pi)
    settled = False
    for _ in range(100):
        p = _t_two_sided(t, df)
        if p is None:
            return None
        dens = math.exp(log_norm - (df + 1.0) / 2.0 * math.log1p(t * t / df))
        new = max(t + (p - alpha) / (2.0 * dens), t / 2.0)  # a larger tail than alpha: a larger t
        close = abs(new - t) <= 1e-13 * new
        t = new
        if settled:  # one Newton step after the steps fell below 1e-13 of t: at the rounding floor
            return t if upper else -t
        settled = close
    return None


def _map(fn: Any, values: np.ndarray) -> np.ndarray | None:
    out = np.empty(values.shape)
    flat = out.reshape(-1)
    for i, v in enumerate(values.reshape(-1).tolist()):
        r = fn(v)
        if r is None:
            return None
        flat[i] = r
    return out


def _shaped(out: np.ndarray, like: Any) -> np.ndarray | float:
    return float(out) if np.ndim(like) == 0 else out


# --------------------------------------------------------------------------------------------------
# the public functions
# --------------------------------------------------------------------------------------------------


def two_sided_p(stat: np.ndarray | float, df: float | None) -> np.ndarray | float:
    """Two-sided p-value of a t (``df`` given) or standard normal statistic."""
    stat = np.abs(stat)
    normal = df is None or not np.isfinite(df)
    if isinstance(stat, np.ndarray) or np.ndim(stat) == 0:  # (a frame's column keeps its index: SciPy)
        values = np.asarray(stat, dtype=float)
        dfs = (1.0,) if normal else (float(df), 1.0)  # type: ignore[arg-type]
        if _pure_ok(values, *dfs):
            out = _map(_normal_two_sided if normal else (lambda v: _t_two_sided(v, float(df))), values)  # type: ignore[arg-type]
            if out is not None:
                return _shaped(out, stat)
    special = _special()
    if normal:
        return 2.0 * special.ndtr(-stat)
    return 2.0 * special.stdtr(df, -stat)


def normal_quantile(q: float) -> float:
    """The standard normal quantile function."""
    return _normal_quantile(float(q))


def t_quantile(q: float, df: float) -> float:
    """The quantile function of Student's t with ``df`` degrees of freedom."""
    if 0.0 < q < 1.0 and _pure_ok(np.zeros(1), float(df), 1.0):
        t = _t_quantile(float(q), float(df))
        if t is not None:
            return t
    return float(_special().stdtrit(df, q))


def critical_value(level: float, df: float | None) -> float:
    """The two-sided critical value for a confidence ``level``."""
    q = 0.5 + level / 2.0
    if df is None or not np.isfinite(df):
        return normal_quantile(q)
    return t_quantile(q, df)


def chi2_sf(stat: float, df: float) -> float:
    return float(_special().chdtrc(df, stat))


def f_sf(stat: float, df_num: float, df_den: float) -> float:
    """P(F > stat) = I_x(df_den / 2, df_num / 2), x = df_den / (df_den + df_num stat)."""
    stat, df_num, df_den = float(stat), float(df_num), float(df_den)
    if stat >= 0.0 and _pure_ok(np.array([stat]), df_num, df_den):
        p = _betainc_ratio(df_den / 2.0, df_num / 2.0, df_num * stat / df_den)
        if p is not None:
            return p
    return float(_special().fdtrc(df_num, df_den, stat))


def normal_sf(stat: float) -> float:
    """The standard normal's upper tail, P(Z > stat)."""
    return 0.5 * math.erfc(float(stat) / math.sqrt(2.0))
