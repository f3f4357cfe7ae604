"""Inference on the effect of one endogenous regressor that survives weak instruments.

:func:`anderson_rubin` - the Anderson-Rubin (1949) test of beta = b and its confidence set by test
inversion. With e(b) = y - x b (partialled arrays, see :mod:`._iv_arrays`), AR(b) is the Wald statistic
that the coefficients of a regression of e(b) on the q excluded instruments are zero, over q, referred to
F(q, df): with the nonrobust covariance the classical AR F = [e'P_Z e / q] / [e'M_Z e / (n - q - k_exog)];
with HC or cluster covariances the same Wald statistic with that covariance (df: n - q - k_exog, or G - 1).

The set {b : AR(b) <= F quantile} is:

* nonrobust: a quadratic inequality A b^2 + B b + C <= 0 solved exactly: an interval (A > 0, real roots),
  two rays (A < 0, real roots), the whole line (A < 0, no real roots) or empty (A > 0, no real roots);
* robust or clustered: the covariance of the coefficients is a quadratic form in the residuals, so
  Cov(b) = C_yy - 2 b C_xy + b^2 C_xx (three covariance evaluations, by polarisation) and AR(b) is cheap on
  a fine grid b = b_2sls + s tan(theta) that covers the whole line; every sign change is refined by
  Brent's method. As b -> +-inf, AR(b) tends to the first-stage Wald F, so the set is unbounded exactly when
  the instruments' first-stage F is below the critical value.

:func:`tf_interval` - Lee, McCrary, Moreira and Porter (2022): with one instrument and one endogenous
regressor, the 2SLS t-ratio with the critical value c_0.05(F) of their Table 3 (a function of the first-stage
F computed with the same covariance as the 2SLS standard error) has correct 5% size. The interval is
beta +- c(F) se; its standard-error factor is c(F)/1.96. F below 4 (below the table; the interval is
unbounded for F <= 3.84): the whole line.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._core.distributions import f_sf
from .._core.options import check_level
from ..errors import SpecificationError
from . import weak_iv_tables as tables
from ._iv_arrays import ArrayLike, IVArrays, Projection, coef_cov, prepare

GRID_POINTS = 4001

Piece = tuple[float, float]


def _bound(x: float) -> float | None:
    return None if math.isinf(x) else float(x)


def _describe(pieces: Sequence[Piece]) -> str:
    if not pieces:
        return "empty"
    if len(pieces) == 1:
        lo, hi = pieces[0]
        if math.isinf(lo) and math.isinf(hi):
            return "whole line"
        if math.isinf(lo) or math.isinf(hi):
            return "half line"
        return "interval"
    if len(pieces) == 2 and math.isinf(pieces[0][0]) and math.isinf(pieces[1][1]):
        return "two rays"
    return "union of intervals"


def _fmt(x: float) -> str:
    return ("-inf" if x < 0 else "inf") if math.isinf(x) else f"{x:.4g}"


@dataclass(frozen=True)
class AndersonRubin:
    """The Anderson-Rubin test of ``beta0`` and the confidence set for the coefficient."""

    statistic: float  # AR F at beta0
    df_num: int
    df_denom: float
    p_value: float
    beta0: float
    level: float
    critical_value: float
    pieces: tuple[Piece, ...]  # the set, as closed pieces; +-inf for unbounded ends
    cov_type: str
    method: str  # "exact quadratic" or "grid + Brent"

    @property
    def kind(self) -> str:
        """ "interval", "two rays" (the union of two half-lines), "whole line", "empty" (or, with several
        instruments and a robust covariance, "union of intervals")."""
        return _describe(self.pieces)

    @property
    def bounded(self) -> bool:
        return all(not math.isinf(v) for piece in self.pieces for v in piece)

    def interval(self) -> tuple[float, float]:
        """(lower, upper) of the smallest interval holding the set (+-inf when unbounded, NaN when empty)."""
        if not self.pieces:
            return (math.nan, math.nan)
        if self.kind == "two rays":
            return (-math.inf, math.inf)
        return (self.pieces[0][0], self.pieces[-1][1])

    def to_dict(self) -> dict[str, Any]:
        return {
            "statistic": self.statistic,
            "df_num": self.df_num,
            "df_denom": self.df_denom,
            "p_value": self.p_value,
            "beta0": self.beta0,
            "level": self.level,
            "critical_value": self.critical_value,
            "kind": self.kind,
            "pieces": [[_bound(lo), _bound(hi)] for lo, hi in self.pieces],  # null = unbounded
            "cov_type": self.cov_type,
            "method": self.method,
        }

    def set_text(self) -> str:
        if not self.pieces:
            return "the empty set"
        return " U ".join(
            f"{'(' if math.isinf(lo) else '['}{_fmt(lo)}, {_fmt(hi)}{')' if math.isinf(hi) else ']'}"
            for lo, hi in self.pieces
        )

    def __str__(self) -> str:
        words = {
            "interval": "an interval",
            "two rays": (
                "two rays: the union of two half-lines, so the instruments cannot rule out large effects of either sign"
            ),
            "whole line": "the whole line: the data are compatible with any effect",
            "empty": (
                "empty: no coefficient is compatible with the instruments' exclusion at this level "
                "(overidentification fails)"
            ),
            "half line": "a half-line",
            "union of intervals": "a union of intervals",
        }[self.kind]
        return (
            f"Anderson-Rubin test of beta = {self.beta0:g}: F({self.df_num}, {self.df_denom:g}) = "
            f"{self.statistic:.4g}, "
            f"p = {self.p_value:.3g}. {self.level:.0%} confidence set: {self.set_text()} ({words})."
        )


def _quadratic_set(a: float, b: float, c: float) -> tuple[Piece, ...]:
    """{t : a t^2 + b t + c <= 0}."""
    scale = max(abs(a), abs(b), abs(c), 1e-300)
    a, b, c = a / scale, b / scale, c / scale
    if abs(a) < 1e-12:
        if abs(b) < 1e-12:
            return ((-math.inf, math.inf),) if c <= 0 else ()
        root = -c / b
        return ((-math.inf, root),) if b > 0 else ((root, math.inf),)
    disc = b * b - 4 * a * c
    if disc < 0:
        return () if a > 0 else ((-math.inf, math.inf),)
    sq = math.sqrt(disc)
    q = -0.5 * (b + math.copysign(sq, b))  # stable roots
    r1, r2 = sorted((q / a, c / q if q != 0 else q / a))
    return ((r1, r2),) if a > 0 else ((-math.inf, r1), (r2, math.inf))


class _RobustAR:
    """AR(b) - critical value for robust/clustered covariances, from three covariance evaluations."""

    def __init__(self, st: IVArrays, proj: Projection, crit: float) -> None:
        fx, fy = proj.regress(st, ("x", 0), st.X[:, 0]), proj.regress(st, "y", st.y)
        self.gy, self.gx = fy.coef, fx.coef
        cyy, cxx, df = fy.cov, fx.cov, fy.df
        csum, _ = coef_cov(st, st.Z, fy.resid + fx.resid, proj.zz_inv)
        self.cyy, self.cxx, self.cxy = cyy, cxx, 0.5 * (csum - cyy - cxx)
        self.q, self.df, self.crit = st.q, df, crit

    def stat(self, b: np.ndarray) -> np.ndarray:
        b = np.atleast_1d(np.asarray(b, dtype=float))
        g = self.gy[None, :] - b[:, None] * self.gx[None, :]
        cov = self.cyy[None] - 2.0 * b[:, None, None] * self.cxy[None] + (b**2)[:, None, None] * self.cxx[None]
        sol = np.linalg.solve(cov, g[:, :, None])[:, :, 0]
        return np.einsum("ij,ij->i", g, sol) / self.q

    def at_infinity(self) -> float:
        return float(self.gx @ np.linalg.solve(self.cxx, self.gx)) / self.q

    def __call__(self, b: float) -> float:
        return float(self.stat(np.array([b]))[0]) - self.crit


def _grid_set(fn: _RobustAR, center: float, scale: float) -> tuple[Piece, ...]:
    from scipy.optimize import brentq

    theta = np.linspace(-np.pi / 2, np.pi / 2, GRID_POINTS + 2)[1:-1]
    grid = center + scale * np.tan(theta)
    vals = fn.stat(grid) - fn.crit
    inside_inf = fn.at_infinity() - fn.crit <= 0
    inside = vals <= 0
    points = [-math.inf, *grid.tolist(), math.inf]
    flags = [inside_inf, *inside.tolist(), inside_inf]
    pieces: list[Piece] = []
    start: float | None = points[0] if flags[0] else None
    for i in range(1, len(points)):
        if flags[i] == flags[i - 1]:
            continue
        root = brentq(fn, points[i - 1], points[i], xtol=1e-12 * (1 + abs(points[i])), maxiter=200)
        if flags[i]:
            start = root
        else:
            pieces.append((float(start), float(root)))  # type: ignore[arg-type]
            start = None
    if start is not None:
        pieces.append((float(start), math.inf))
    return tuple(pieces)


def anderson_rubin(
    y: ArrayLike,
    x: ArrayLike,
    Z: ArrayLike,
    *,
    k_exog: int,
    weights: ArrayLike | None = None,
    clusters: object = None,
    cov_type: str = "nonrobust",
    beta0: float = 0.0,
    level: float = 0.95,
    exog_leverage: ArrayLike | None = None,
    instrument_names: Sequence[str] | None = None,
) -> AndersonRubin:
    """The Anderson-Rubin test of beta = ``beta0`` and the ``level`` confidence set for the coefficient of the
    one endogenous regressor ``x`` (partialled arrays; see the module docstring)."""

    level = check_level(level)
    st = prepare(
        y,
        x,
        Z,
        weights=weights,
        clusters=clusters,
        cov_type=cov_type,
        k_exog=k_exog,
        exog_leverage=exog_leverage,
        instrument_names=instrument_names,
        method="anderson_rubin",
    )
    if st.p != 1:
        raise SpecificationError(
            f"anderson_rubin takes one endogenous regressor, got {st.p}; the confidence set is for one coefficient."
        )
    return ar_set(st, Projection.of(st.Z), beta0=beta0, level=level)


def ar_set(st: IVArrays, proj: Projection, *, beta0: float = 0.0, level: float = 0.95) -> AndersonRubin:
    """:func:`anderson_rubin` on prepared arrays (an estimator that has them already)."""
    from scipy import special

    robust = _RobustAR(st, proj, 0.0)
    df = robust.df
    crit = float(special.fdtri(st.q, df, level))
    robust.crit = crit
    stat = float(robust.stat(np.array([beta0]))[0])
    xv, yv = st.X[:, 0], st.y
    gx, gy = robust.gx, robust.gy  # x'P_Z y = gx' Z'Z gy
    xpx, xpy = float(gx @ proj.zz @ gx), float(gx @ proj.zz @ gy)
    center = xpy / xpx
    if st.cov_type == "nonrobust":
        ypy = float(gy @ proj.zz @ gy)
        kappa = crit * st.q / st.df_resid
        a = xpx - kappa * (float(xv @ xv) - xpx)
        b = -2.0 * (xpy - kappa * (float(xv @ yv) - xpy))
        c = ypy - kappa * (float(yv @ yv) - ypy)
        pieces, method = _quadratic_set(a, b, c), "exact quadratic"
    else:
        resid = yv - center * xv
        scale = math.sqrt(max(float(resid @ resid) / st.df_resid / xpx, 1e-300)) or 1.0
        pieces, method = _grid_set(robust, center, scale), "grid + Brent"
    return AndersonRubin(
        statistic=stat,
        df_num=st.q,
        df_denom=float(df),
        p_value=f_sf(stat, st.q, df),
        beta0=float(beta0),
        level=level,
        critical_value=crit,
        pieces=pieces,
        cov_type=st.cov_type,
        method=method,
    )


# --------------------------------------------------------------------------------------------------
# tF
# --------------------------------------------------------------------------------------------------


def tf_critical_value(first_stage_f: float) -> float:
    """LMMP (2022) Table 3: the 5% tF critical value at first-stage F (linear in sqrt(F) between the grid
    points; 1.96 above the table, inf below F = 4)."""
    if not first_stage_f >= 0:
        raise SpecificationError(f"first_stage_f must be a non-negative number, got {first_stage_f!r}.")
    root = math.sqrt(first_stage_f)
    pos = (root - tables.TF_SQRT_F_START) / tables.TF_SQRT_F_STEP
    last = len(tables.TF_CRITICAL) - 1
    if pos < -1e-9:
        return math.inf
    if pos >= last:
        return 1.96
    i = min(math.floor(pos + 1e-9), last - 1)
    t = max(pos - i, 0.0)
    return (1.0 - t) * tables.TF_CRITICAL[i] + t * tables.TF_CRITICAL[i + 1]


@dataclass(frozen=True)
class TFInterval:
    """The tF interval of Lee, McCrary, Moreira and Porter (2022)."""

    estimate: float
    std_err: float
    first_stage_f: float
    critical_value: float
    lower: float
    upper: float
    level: float = 0.95

    @property
    def se_factor(self) -> float:
        """How much the standard error is inflated: c(F) / 1.96."""
        return self.critical_value / 1.96

    @property
    def bounded(self) -> bool:
        return math.isfinite(self.critical_value)

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimate": self.estimate,
            "std_err": self.std_err,
            "first_stage_f": self.first_stage_f,
            "critical_value": _bound(self.critical_value),
            "se_factor": _bound(self.se_factor),
            "lower": _bound(self.lower),
            "upper": _bound(self.upper),
            "level": self.level,
        }

    def __str__(self) -> str:
        if not self.bounded:
            return (
                f"tF interval: the whole line (first-stage F = {self.first_stage_f:.3g} is below 4, where the 95% tF "
                "interval of Lee et al. 2022 is unbounded)."
            )
        return (
            f"tF interval (Lee et al. 2022): [{self.lower:.4g}, {self.upper:.4g}], critical value "
            f"{self.critical_value:.3g} "
            f"for first-stage F = {self.first_stage_f:.3g} (standard error inflated {self.se_factor:.3g} times)."
        )


def tf_interval(estimate: float, std_err: float, first_stage_f: float, *, level: float = 0.95) -> TFInterval:
    """The 95% tF interval: estimate +- c(F) std_err, c from LMMP (2022) Table 3. ``first_stage_f`` must use
    the same covariance as ``std_err`` (robust or clustered as the model is); one instrument only."""
    if abs(float(level) - 0.95) > 1e-12:
        raise SpecificationError(
            "tf_interval supports level=0.95 only (Lee et al. 2022 tabulate the 5% critical values), "
            f"got level={level!r}."
        )
    if not (std_err >= 0 and math.isfinite(std_err)):
        raise SpecificationError(f"std_err must be a finite non-negative number, got {std_err!r}.")
    c = tf_critical_value(float(first_stage_f))
    lo, hi = (estimate - c * std_err, estimate + c * std_err) if math.isfinite(c) else (-math.inf, math.inf)
    return TFInterval(float(estimate), float(std_err), float(first_stage_f), c, lo, hi)
