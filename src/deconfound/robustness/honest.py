"""Honest difference-in-differences (Rambachan and Roth 2023, Review of Economic Studies 90(5)).

How wrong can parallel trends be before an event study's effect is no longer distinguishable from zero?
Write the event-study coefficients as beta = (beta_pre, beta_post) = (delta_pre, tau + delta_post), delta the
difference in trends (zero at the reference period -1) and tau the effects. The parameter is a linear
combination theta = l'tau (the first post-period effect by default, or the average). Two restrictions on
delta are offered, each indexed by its size:

* **relative magnitudes** Delta^RM(Mbar): every post-treatment change |delta_t - delta_{t-1}| is at most
  Mbar times the largest pre-treatment change. Confidence sets invert the conditional test of Andrews, Roth
  and Pakes (``method="conditional"``) or its least-favourable hybrid (``"C-LF"``, the default, as the R
  package HonestDiD), on the union over which pre-period change is the largest and its sign, over a grid
  of candidate values (1,000 points on +-20 standard errors of l'beta_post around 0, as HonestDiD);
* **smoothness** Delta^SD(M): the slope of delta changes by at most M between consecutive periods
  (M = 0: a linear trend). Confidence sets are the optimal fixed-length intervals (FLCI): the affine
  estimator l'beta_post + w'beta_pre whose worst-case bias over Delta^SD(M) and standard error give the
  shortest interval estimate +- cv_alpha(bias / sd) sd, cv the folded-normal quantile.

The breakdown value is the smallest size at which the robust interval includes zero (found on the grid,
then refined by bisection). Inputs: an event-study result (:func:`~deconfound.event_study`, two-way fixed
effects or Sun-Abraham; :func:`~deconfound.staggered` with ``base_period="universal"``) or ``betahat`` and
``sigma`` directly (pre-periods first, earliest first, the reference period left out).

Differences from HonestDiD, by design: the least-favourable critical value is simulated with numpy's
generator (HonestDiD uses R's with ``set.seed(0)``), so C-LF intervals agree to Monte Carlo precision
(about one grid step); the folded-normal quantile of the FLCI is computed exactly (HonestDiD simulates a
million draws); the ARP statistic's linear programs are solved exactly through the dual's vertices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError, SpecificationError

__all__ = ["HonestDiD", "honest_did"]

RESTRICTIONS = {"rm": "relative magnitudes", "sd": "smoothness"}
RM_METHODS = ("C-LF", "conditional")


@dataclass(frozen=True)
class HonestDiD:
    """Robust confidence intervals for theta = l'tau under a restriction of each size, and the breakdown value."""

    restriction: str  # "rm" or "sd"
    method: str  # "C-LF", "conditional" or "FLCI"
    parameter: str  # what theta is, in words
    l_vec: tuple[float, ...]
    estimate: float  # l'beta_post
    original: tuple[float, float]  # the usual interval l'beta_post -+ z se
    table: pd.DataFrame  # one row per size: size, lb, ub, includes_zero
    breakdown: float | None  # smallest size whose interval includes 0 (None: none on the grid does)
    level: float
    num_pre: int
    num_post: int
    notes: tuple[str, ...] = field(default=())

    @property
    def size_name(self) -> str:
        return "Mbar" if self.restriction == "rm" else "M"

    @property
    def verdict(self) -> str:
        """One sentence: how large a violation of parallel trends the conclusion survives."""
        name, what = self.size_name, RESTRICTIONS[self.restriction]
        lo, hi = self.original
        if lo <= 0.0 <= hi:
            return (
                f"The {self.parameter} is not significant even under exact parallel trends ({self.level:.0%} interval)."
            )
        if self.breakdown is None:
            top = float(self.table["size"].max())
            return (
                f"The {self.parameter} stays significant for every {what} bound tried ({name} up to {top:g}): "
                "robust to violations of parallel trends of that size."
            )
        if self.restriction == "rm":
            return (
                f"The {self.parameter} stays significant while post-treatment violations of parallel trends are "
                f"less than {self.breakdown:.3g} times the largest pre-treatment one (breakdown Mbar = "
                f"{self.breakdown:.3g})."
            )
        return (
            f"The {self.parameter} stays significant while the slope of the difference in trends changes by less "
            f"than {self.breakdown:.3g} per period (breakdown M = {self.breakdown:.3g})."
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "restriction": self.restriction,
            "restriction_label": RESTRICTIONS[self.restriction],
            "method": self.method,
            "parameter": self.parameter,
            "l_vec": list(self.l_vec),
            "estimate": self.estimate,
            "original_ci": list(self.original),
            "intervals": [
                {"size": float(r.size), "lb": _num(r.lb), "ub": _num(r.ub), "includes_zero": bool(r.includes_zero)}
                for r in self.table.itertuples()
            ],
            "breakdown": self.breakdown,
            "level": self.level,
            "num_pre": self.num_pre,
            "num_post": self.num_post,
            "verdict": self.verdict,
            "notes": list(self.notes),
        }

    def plot(self, ax: Any = None) -> Any:
        """Robust intervals against the restriction's size, beside the original interval."""
        from ..plots.honest import honest_plot

        return honest_plot(self, ax=ax)

    def __str__(self) -> str:
        lines = [
            f"Honest DiD ({RESTRICTIONS[self.restriction]}, {self.method}): {self.parameter}",
            f"  estimate {self.estimate:.4g}; original {self.level:.0%} CI "
            f"[{self.original[0]:.4g}, {self.original[1]:.4g}]",
        ]
        for r in self.table.itertuples():
            lines.append(f"  {self.size_name} = {r.size:<8.4g} [{r.lb:.4g}, {r.ub:.4g}]")
        lines.append("  " + self.verdict)
        return "\n".join(lines)


def _num(x: float) -> float | None:
    return None if not np.isfinite(x) else float(x)


# --------------------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------------------


def _from_result(result: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """(event times, betahat, sigma, source) of an event-study result, reference period left out."""
    method = getattr(result, "method", None)
    diagnostics = getattr(result, "diagnostics", {})
    if method == "event-study":
        table = result.coefficients
        times = table.keys.get("event_time") if table is not None else None
        if times is None:
            raise DataError("honest_did: the event-study result carries no event-time coefficients.")
        idx = [i for i, k in enumerate(times) if k is not None]
        ref = diagnostics.get("reference_period", -1)
        if ref != -1:
            raise SpecificationError(
                f"honest_did needs the reference period -1 (this event study used {ref:g}); rerun with ref_period=-1."
            )
        e = np.array([float(times[i]) for i in idx])
        return e, np.asarray(table.coef)[idx], np.asarray(table.cov)[np.ix_(idx, idx)], "event study"
    if method == "staggered":
        frame = diagnostics.get("event_study")
        base = getattr(result.coefficients, "stats", {}).get("base_period") if result.coefficients else None
        if base != "universal":
            raise SpecificationError(
                "honest_did needs a Callaway-Sant'Anna event study with base_period='universal' (every effect "
                "measured against event time -1); rerun staggered(..., base_period='universal')."
            )
        if frame is None or "cov" not in frame.attrs:
            raise DataError("honest_did: the staggered result carries no event-study covariance.")
        cov = np.asarray(frame.attrs["cov"])
        keep = ~frame["reference"].to_numpy(dtype=bool)
        e = frame["event_time"].to_numpy(dtype=float)
        return e[keep], frame["estimate"].to_numpy(dtype=float)[keep], cov[np.ix_(keep, keep)], "Callaway-Sant'Anna"
    raise SpecificationError(
        f"honest_did takes an event-study result (event_study or staggered) or betahat= and sigma=, got "
        f"{type(result).__name__}{'' if method is None else f' of method {method!r}'}."
    )


def _layout(e: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Order by event time and check pre-periods ..., -3, -2 and post-periods 0, 1, ... are consecutive."""
    order = np.argsort(e)
    e = e[order]
    pre, post = e[e < -1], e[e >= 0]
    if len(pre) + len(post) != len(e):
        raise DataError("honest_did: the event study holds the reference period -1 as a coefficient.")
    if len(pre) == 0 or len(post) == 0:
        raise DataError(
            "honest_did needs at least one pre-treatment coefficient (event time <= -2) and one post-treatment "
            "coefficient (event time >= 0); widen the event study's window."
        )
    expected_pre = np.arange(-1 - len(pre), -1, dtype=float)
    if not (np.array_equal(pre, expected_pre) and np.array_equal(post, np.arange(len(post), dtype=float))):
        raise DataError(
            f"honest_did needs consecutive event times around the reference -1, got {e.tolist()}; re-code the "
            "event study so that periods are consecutive."
        )
    return order, len(pre), len(post)


def _l_vector(l_vec: Any, event_time: Any, num_post: int) -> tuple[np.ndarray, str]:
    if l_vec is not None and event_time is not None:
        raise SpecificationError("honest_did: give l_vec= or event_time=, not both.")
    if isinstance(l_vec, str):
        if l_vec != "average":
            raise SpecificationError(f"l_vec must be 'average' or a vector of {num_post} weights, got {l_vec!r}.")
        return np.full(num_post, 1.0 / num_post), f"average effect over event times 0..{num_post - 1}"
    if l_vec is not None:
        lv = np.asarray(l_vec, dtype=float).ravel()
        if lv.shape != (num_post,) or not np.all(np.isfinite(lv)) or not np.any(lv != 0):
            raise SpecificationError(
                f"l_vec must hold {num_post} finite weights (one per post-treatment period), not all zero; "
                f"got {l_vec!r}."
            )
        return lv, "combination l'tau of the post-treatment effects"
    k = 0 if event_time is None else event_time
    if isinstance(k, bool) or not isinstance(k, (int, np.integer, float)) or k != int(k) or not 0 <= k < num_post:
        raise SpecificationError(f"event_time must be a whole number from 0 to {num_post - 1}, got {event_time!r}.")
    lv = np.zeros(num_post)
    lv[int(k)] = 1.0
    return lv, f"effect at event time {int(k)}"


def _check_sigma(beta: np.ndarray, sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    beta = np.asarray(beta, dtype=float).ravel()
    sigma = np.asarray(sigma, dtype=float)
    if sigma.shape != (len(beta), len(beta)):
        raise SpecificationError(f"sigma must be {len(beta)} x {len(beta)} (as betahat), got {sigma.shape}.")
    if not (np.all(np.isfinite(beta)) and np.all(np.isfinite(sigma))):
        raise DataError("honest_did: betahat and sigma must be finite.")
    if not np.allclose(sigma, sigma.T, rtol=1e-8, atol=1e-14):
        raise DataError("honest_did: sigma is not symmetric; pass the covariance matrix of betahat.")
    sigma = 0.5 * (sigma + sigma.T)
    if np.linalg.eigvalsh(sigma).min() < -1e-10 * max(1.0, np.abs(sigma).max()):
        raise DataError("honest_did: sigma is not positive semi-definite.")
    return beta, sigma


# --------------------------------------------------------------------------------------------------
# relative magnitudes
# --------------------------------------------------------------------------------------------------


def _rm_matrix(num_pre: int, num_post: int, mbar: float, s: int, positive: bool) -> np.ndarray:
    """Constraints A delta <= 0 of Delta^RM with the largest pre-period change the one ending at period s
    (s = -(num_pre - 1) .. 0; positive or negative); columns: the periods without the reference."""
    n = num_pre + num_post
    atilde = np.zeros((n, n + 1))
    for r in range(n):
        atilde[r, r], atilde[r, r + 1] = -1.0, 1.0
    v = np.zeros(n + 1)
    v[num_pre + s - 1], v[num_pre + s] = -1.0, 1.0
    if not positive:
        v = -v
    bound = np.vstack([np.tile(v, (num_pre, 1)), np.tile(mbar * v, (num_post, 1))])
    a = np.vstack([atilde - bound, -atilde - bound])
    a = a[np.einsum("ij,ij->i", a, a) > 1e-10]
    return np.delete(a, num_pre, axis=1)


def _gamma(l_vec: np.ndarray) -> np.ndarray:
    """An invertible matrix whose first row is l' (then unit vectors, in order, as HonestDiD's RREF picks)."""
    rows = [l_vec]
    for j in range(len(l_vec)):
        e = np.zeros(len(l_vec))
        e[j] = 1.0
        if np.linalg.matrix_rank(np.vstack([*rows, e])) > len(rows):
            rows.append(e)
    return np.vstack(rows)


def _rm_accept(beta, sigma, num_pre, num_post, l_vec, mbar, grid, alpha, method, seed, sims) -> np.ndarray:
    from ._arp import MomentTest

    kappa = alpha / 10.0
    hybrid = "LF" if method == "C-LF" else "ARP"
    accept = np.zeros(len(grid), dtype=bool)
    gamma_inv = np.linalg.inv(_gamma(l_vec))
    for s in range(-(num_pre - 1), 1):
        for positive in (True, False):
            a = _rm_matrix(num_pre, num_post, mbar, s, positive)
            a = a[np.any(a[:, num_pre:] != 0, axis=1)]  # moments with post-period coefficients only
            ag = a[:, num_pre:] @ gamma_inv
            test = MomentTest(ag[:, 1:], a @ sigma @ a.T)
            y = (a @ beta)[None, :] - np.outer(grid, ag[:, 0])
            cv = test.least_favorable_cv(kappa, sims, seed) if hybrid == "LF" else None
            accept |= test.accept(y, alpha, hybrid, cv, kappa)
    return accept


def _rm_interval(beta, sigma, num_pre, num_post, l_vec, mbar, grid, alpha, method, seed, sims) -> tuple[float, float]:
    ok = _rm_accept(beta, sigma, num_pre, num_post, l_vec, mbar, grid, alpha, method, seed, sims)
    if not ok.any():
        return np.nan, np.nan
    return float(grid[ok].min()), float(grid[ok].max())


# --------------------------------------------------------------------------------------------------
# smoothness: the optimal fixed-length confidence interval
# --------------------------------------------------------------------------------------------------


def _folded_normal_quantile(p: float, mu: float) -> float:
    """c with P(|Z + mu| <= c) = p, Z standard normal."""
    from scipy.optimize import brentq
    from scipy.stats import norm

    mu = abs(mu)

    def f(c: float) -> float:
        return float(norm.cdf(c - mu) - norm.cdf(-c - mu)) - p

    return float(brentq(f, 0.0, mu + 10.0, xtol=1e-14))


class _Flci:
    """The FLCI's pieces for one (sigma, num_pre, l_vec); the pre-period weights w are as HonestDiD's
    (l_pre = D w, D the first-difference map; sum w = sum_t t l_t keeps the estimator unbiased for trends)."""

    def __init__(self, sigma: np.ndarray, num_pre: int, num_post: int, l_vec: np.ndarray) -> None:
        k = num_pre
        self.k, self.l_vec = k, l_vec
        d = np.eye(k)
        for c in range(k - 1):
            d[c + 1, c] = -1.0
        self.d = d
        s_pre, s_pp = sigma[:k, :k], sigma[:k, k:]
        self.quad = d.T @ s_pre @ d
        self.lin = 2.0 * d.T @ s_pp @ l_vec
        self.const = float(l_vec @ sigma[k:, k:] @ l_vec)
        t = np.arange(1, num_post + 1, dtype=float)
        self.total = float(t @ l_vec)
        self.bias_const = (
            sum(abs(float(np.arange(1, s + 1) @ l_vec[num_post - s :])) for s in range(1, num_post + 1)) - self.total
        )
        self.lower = np.tril(np.ones((k, k)))

    def var(self, w: np.ndarray) -> float:
        return float(w @ self.quad @ w + self.lin @ w + self.const)

    def h_min(self) -> tuple[float, np.ndarray]:
        """The smallest standard error an unbiased-for-trends estimator can have (equality-constrained QP)."""
        k = self.k
        kkt = np.zeros((k + 1, k + 1))
        kkt[:k, :k] = 2.0 * self.quad
        kkt[:k, k] = 1.0
        kkt[k, :k] = 1.0
        rhs = np.r_[-self.lin, self.total]
        sol = np.linalg.lstsq(kkt, rhs, rcond=None)[0]
        w = sol[:k]
        return float(np.sqrt(max(self.var(w), 0.0))), w

    def h0(self) -> float:
        w = np.zeros(self.k)
        w[-1] = self.total
        return float(np.sqrt(max(self.var(w), 0.0)))

    def bias(self, w: np.ndarray) -> float:
        """The worst-case bias over Delta^SD(1) of the estimator with pre-weights D w."""
        return self.bias_const + float(np.abs(self.lower @ w).sum())

    def min_bias(self, h: float, start: np.ndarray) -> tuple[float, np.ndarray]:
        """min bias(w) subject to sd(w) <= h and sum w = total (variables w and U >= |cumsum w|)."""
        from scipy.optimize import minimize

        k = self.k
        x0 = np.r_[np.abs(self.lower @ start) + 1e-9, start]
        cons = [
            {
                "type": "eq",
                "fun": lambda x: np.array([x[k:].sum() - self.total]),
                "jac": lambda x: np.r_[np.zeros(k), np.ones(k)][None, :],
            },
            {
                "type": "ineq",
                "fun": lambda x: np.r_[x[:k] - self.lower @ x[k:], x[:k] + self.lower @ x[k:]],
                "jac": lambda x: np.block([[np.eye(k), -self.lower], [np.eye(k), self.lower]]),
            },
            {
                "type": "ineq",
                "fun": lambda x: np.array([(h * h - self.var(x[k:])) / max(h * h, 1e-300)]),
                "jac": lambda x: (
                    np.r_[np.zeros(k), -(2.0 * self.quad @ x[k:] + self.lin)][None, :] / max(h * h, 1e-300)
                ),
            },
        ]
        res = minimize(
            lambda x: float(x[:k].sum()),
            x0,
            jac=lambda x: np.r_[np.ones(k), np.zeros(k)],
            constraints=cons,
            method="SLSQP",
            options={"ftol": 1e-13, "maxiter": 500},
        )
        w = res.x[k:]
        return self.bias(w), w

    def interval(self, beta: np.ndarray, m: float, alpha: float) -> tuple[float, float, np.ndarray]:
        """(estimate's pre-weights applied) the FLCI lb, ub and the optimal pre-period vector."""
        from scipy.optimize import minimize_scalar

        h_lo, w_lo = self.h_min()
        h_hi = self.h0()
        if m == 0.0 or h_hi <= h_lo * (1 + 1e-9):
            w = w_lo
            half = _folded_normal_quantile(1 - alpha, m * self.bias(w) / max(h_lo, 1e-300)) * h_lo
        else:
            cache: dict[float, tuple[float, np.ndarray]] = {}
            state = {"w": w_lo}

            def half_length(h: float) -> float:
                b, w = self.min_bias(h, state["w"])
                state["w"] = w
                sd = np.sqrt(max(self.var(w), 1e-300))
                out = _folded_normal_quantile(1 - alpha, m * b / sd) * sd
                cache[h] = (out, w)
                return out

            res = minimize_scalar(half_length, bounds=(h_lo, h_hi), method="bounded", options={"xatol": 1e-10 * h_hi})
            half, w = cache[res.x] if res.x in cache else (half_length(res.x), state["w"])
            end = half_length(h_lo)  # the bounded search never evaluates its endpoints
            if end < half:
                half, w = end, cache[h_lo][1]
        l_pre = self.d @ w
        center = float(l_pre @ beta[: self.k] + self.l_vec @ beta[self.k :])
        return center - half, center + half, l_pre


# --------------------------------------------------------------------------------------------------
# the public function
# --------------------------------------------------------------------------------------------------


def honest_did(
    result: Any = None,
    *,
    betahat: Sequence[float] | np.ndarray | None = None,
    sigma: np.ndarray | None = None,
    num_pre: int | None = None,
    restriction: str = "rm",
    sizes: Sequence[float] | None = None,
    event_time: int | None = None,
    l_vec: Any = None,
    level: float = 0.95,
    method: str | None = None,
    grid_points: int = 1000,
    breakdown: bool = True,
    random_state: int = 0,
    simulations: int = 1000,
) -> HonestDiD:
    """Rambachan-Roth sensitivity of an event-study effect to violations of parallel trends.

    ``result`` is an event-study result (``event_study``, or ``staggered`` with ``base_period="universal"``);
    or pass ``betahat`` and ``sigma`` (pre-period coefficients first, earliest first, then post-periods from
    event time 0; the reference period -1 left out) with ``num_pre``. ``restriction`` is ``"rm"`` (relative
    magnitudes, sizes Mbar, default 0, 0.5, ..., 2) or ``"sd"`` (smoothness, sizes M, default ten values
    from 0 to the post-period standard error). The parameter is the effect at ``event_time`` (default 0),
    or ``l_vec``: weights on the post-period effects, or ``"average"``. ``method`` for "rm" is "C-LF"
    (default) or "conditional"; "sd" uses the FLCI. ``breakdown`` refines the smallest size whose interval
    includes 0 by bisection. ``random_state`` seeds the least-favourable simulation (``simulations`` draws).
    """
    from .._core.options import check_level, check_option

    level = check_level(level)
    alpha = 1.0 - level
    restriction = check_option("restriction", restriction, tuple(RESTRICTIONS))
    notes: list[str] = []
    if result is not None:
        if betahat is not None or sigma is not None:
            raise SpecificationError("honest_did: give a result or betahat= and sigma=, not both.")
        e, beta, cov, source = _from_result(result)
        order, n_pre, n_post = _layout(e)
        beta, cov = beta[order], cov[np.ix_(order, order)]
        if num_pre is not None and num_pre != n_pre:
            raise SpecificationError(f"num_pre={num_pre} but the event study has {n_pre} pre-treatment coefficients.")
        notes.append(
            f"coefficients and covariance from the {source} (event times {int(e.min())}..{int(e.max())}, reference -1)"
        )
    else:
        if betahat is None or sigma is None or num_pre is None:
            raise SpecificationError("honest_did needs an event-study result, or betahat=, sigma= and num_pre=.")
        beta, cov = np.asarray(betahat, dtype=float).ravel(), np.asarray(sigma, dtype=float)
        if isinstance(num_pre, bool) or not isinstance(num_pre, (int, np.integer)) or not 1 <= num_pre < len(beta):
            raise SpecificationError(f"num_pre must be a whole number from 1 to {len(beta) - 1}, got {num_pre!r}.")
        n_pre, n_post = int(num_pre), len(beta) - int(num_pre)
    beta, cov = _check_sigma(beta, cov)
    lv, parameter = _l_vector(l_vec, event_time, n_post)
    post_sd = float(np.sqrt(lv @ cov[n_pre:, n_pre:] @ lv))
    estimate = float(lv @ beta[n_pre:])
    from scipy.stats import norm

    z = float(norm.ppf(1 - alpha / 2))
    original = (estimate - z * post_sd, estimate + z * post_sd)
    if isinstance(grid_points, bool) or not isinstance(grid_points, (int, np.integer)) or grid_points < 10:
        raise SpecificationError(f"grid_points must be a whole number >= 10, got {grid_points!r}.")
    if restriction == "rm":
        method = check_option("method", method or "C-LF", RM_METHODS)
        if n_pre < 1:
            raise DataError("honest_did: relative magnitudes need a pre-treatment coefficient.")
        values = np.asarray(sizes if sizes is not None else np.arange(0, 2.01, 0.5), dtype=float)
        grid = np.linspace(-20 * post_sd, 20 * post_sd, int(grid_points))
        args = (beta, cov, n_pre, n_post, lv, grid, alpha, method, int(random_state), int(simulations))

        def interval(size: float) -> tuple[float, float]:
            b, c, npre, npost, lvec, g, a, meth, seed, sims = args
            return _rm_interval(b, c, npre, npost, lvec, size, g, a, meth, seed, sims)

        notes.append(
            f"confidence sets by test inversion on {grid_points} points in [-20, 20] standard errors of the estimate"
        )
    else:
        if method not in (None, "FLCI"):
            raise SpecificationError(f"method={method!r}: the smoothness restriction uses method='FLCI'.")
        method = "FLCI"
        flci = _Flci(cov, n_pre, n_post, lv)
        values = np.asarray(sizes if sizes is not None else np.linspace(0, post_sd, 10), dtype=float)

        def interval(size: float) -> tuple[float, float]:
            lo, hi, _ = flci.interval(beta, float(size), alpha)
            return lo, hi

    if values.ndim != 1 or len(values) == 0 or np.any(~np.isfinite(values)) or np.any(values < 0):
        raise SpecificationError(f"sizes must be non-negative numbers, got {sizes!r}.")
    values = np.sort(values)
    rows = []
    for size in values:
        lo, hi = interval(float(size))
        rows.append({"size": float(size), "lb": lo, "ub": hi, "includes_zero": bool(lo <= 0.0 <= hi)})
    table = pd.DataFrame(rows)
    if restriction == "rm":
        open_ends = table[(table["lb"] <= grid[0]) | (table["ub"] >= grid[-1])]
        if len(open_ends):
            notes.append(
                "the interval reaches the end of the grid for "
                + ", ".join(f"Mbar={v:g}" for v in open_ends["size"])
                + ": its true extent is wider than shown"
            )
    point = _breakdown(table, interval, refine=breakdown, original=original)
    return HonestDiD(
        restriction=restriction,
        method=method,
        parameter=parameter,
        l_vec=tuple(float(v) for v in lv),
        estimate=estimate,
        original=original,
        table=table,
        breakdown=point,
        level=level,
        num_pre=n_pre,
        num_post=n_post,
        notes=tuple(notes),
    )


def _breakdown(table: pd.DataFrame, interval: Any, *, refine: bool, original: tuple[float, float]) -> float | None:
    if original[0] <= 0.0 <= original[1]:
        return 0.0
    hit = np.flatnonzero(table["includes_zero"].to_numpy())
    if hit.size == 0:
        return None
    j = int(hit[0])
    hi = float(table["size"].iloc[j])
    if j == 0 or not refine:
        return hi
    lo = float(table["size"].iloc[j - 1])
    for _ in range(12):
        mid = 0.5 * (lo + hi)
        a, b = interval(mid)
        if a <= 0.0 <= b:
            hi = mid
        else:
            lo = mid
    return hi
