"""Rosenbaum bounds for matched pairs: Wilcoxon's signed-rank test and the Hodges-Lehmann estimate under
hidden bias of size Gamma (Rosenbaum 2002, Observational Studies, sections 4.3.2-4.3.5).

Within a matched pair, an unobserved covariate may make one unit up to Gamma times as likely as the other
to be the treated one. At Gamma = 1 (no hidden bias) each pair's sign is a fair coin and the signed-rank
statistic T (the sum of the ranks of |d| over pairs with d > 0) has its usual null distribution. For
Gamma > 1 the p-value is not known but lies between two bounds, obtained by giving every pair the sign
probability p+ = Gamma / (1 + Gamma) (the upper bound on the p-value) or p- = 1 / (1 + Gamma) (the lower
bound). With ranks q_i (average ranks for ties, zero differences dropped), T has expectation p sum q_i
and variance p (1 - p) sum q_i^2; we use that normal approximation (as Rosenbaum does and as the R
packages rbounds and DOS2's senWilcox do), or the exact distribution by convolution when the ranks are
integers and there are at most ``EXACT_MAX`` pairs.

The Hodges-Lehmann point estimate becomes an interval: the constant effects tau at which T(d - tau)
equals its expectation under p- and under p+.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError, SpecificationError

__all__ = ["RosenbaumBounds", "rosenbaum_bounds"]

EXACT_MAX = 50
COLUMNS = ("gamma", "p_upper", "p_lower", "hl_low", "hl_high")


@dataclass(frozen=True)
class RosenbaumBounds:
    """Bounds on the one-sided p-value and the Hodges-Lehmann estimate for each Gamma."""

    n_pairs: int
    n_zero: int
    direction: str  # "greater" (a positive effect is tested) or "less"
    method: str  # "normal" or "exact"
    alpha: float
    rows: tuple[dict[str, float], ...]
    gamma_breakdown: float  # the Gamma at which the upper p-value bound reaches alpha (inf: never, up to 1e3)
    text: str

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(list(self.rows), columns=list(COLUMNS))

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_pairs": self.n_pairs,
            "n_zero": self.n_zero,
            "direction": self.direction,
            "method": self.method,
            "alpha": self.alpha,
            "bounds": [dict(r) for r in self.rows],
            "gamma_breakdown": self.gamma_breakdown,
            "text": self.text,
        }

    def __str__(self) -> str:
        return self.text


def _ranks(abs_d: np.ndarray) -> np.ndarray:
    """Average ranks (1-based) of |d|, ties sharing the mean of their ranks."""
    order = np.argsort(abs_d, kind="stable")
    sorted_d = abs_d[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_d)) + 1]
    ends = np.r_[starts[1:], len(sorted_d)]
    ranks = np.empty(len(abs_d))
    for s, e in zip(starts, ends):
        ranks[order[s:e]] = (s + 1 + e) / 2.0
    return ranks


def _statistic(d: np.ndarray) -> tuple[float, np.ndarray]:
    nonzero = d[d != 0]
    q = _ranks(np.abs(nonzero))
    return float(q[nonzero > 0].sum()), q


def _normal_upper_tail(t: float, q: np.ndarray, p: float) -> float:
    from .._core.distributions import normal_sf

    mean = p * q.sum()
    sd = math.sqrt(p * (1.0 - p) * float((q * q).sum()))
    return float(normal_sf((t - mean) / sd)) if sd > 0 else float(t < mean)


def _exact_upper_tail(t: float, q: np.ndarray, p: float) -> float:
    """P(T >= t) when each rank q_i enters with probability p, by convolution over integer rank sums."""
    ranks = np.rint(q).astype(np.int64)
    dist = np.zeros(int(ranks.sum()) + 1)
    dist[0] = 1.0
    for r in ranks:
        shifted = np.zeros_like(dist)
        shifted[r:] = dist[: len(dist) - r]
        dist = (1.0 - p) * dist + p * shifted
    return float(dist[math.ceil(t - 1e-9) :].sum())


def _hl(d: np.ndarray, p: float) -> float:
    """The tau at which T(d - tau) crosses its expectation under sign probability p (midpoint of the step)."""
    lo, hi = float(d.min()) - 1.0, float(d.max()) + 1.0
    # T(d - tau) decreases from sum q (tau low) to 0 (tau high); bisect for both ends of the crossing
    n = len(d)
    target = p * n * (n + 1) / 2.0

    def above(tau: float, strict: bool) -> bool:
        stat, _ = _statistic(d - tau)
        return stat > target if strict else stat >= target

    def bisect(strict: bool) -> float:
        a, b = lo, hi
        for _ in range(200):
            mid = 0.5 * (a + b)
            if above(mid, strict):
                a = mid
            else:
                b = mid
            if b - a <= 1e-12 * max(1.0, abs(a)):
                break
        return 0.5 * (a + b)

    return 0.5 * (bisect(True) + bisect(False))


def _differences(source: Any, data: Any, outcome: str | None) -> np.ndarray:
    if hasattr(source, "diagnostics"):
        return _from_matching(source, data, outcome)
    try:
        d = np.asarray(source, dtype=float).ravel()
    except (TypeError, ValueError):
        raise SpecificationError(
            "rosenbaum_bounds takes treated-minus-control pair differences (an array) or a matching result with data=."
        ) from None
    if not np.isfinite(d).all():
        raise DataError("the pair differences contain NaN or infinite values: drop those pairs first.")
    return d


def _from_matching(result: Any, data: Any, outcome: str | None) -> np.ndarray:
    matches = result.diagnostics.get("matches") if hasattr(result.diagnostics, "get") else None
    if matches is None:
        raise SpecificationError(
            "rosenbaum_bounds needs matched pairs: pass a result of deconfound.matching (its diagnostics['matches']) "
            "or the pair differences themselves."
        )
    if not isinstance(data, pd.DataFrame):
        raise SpecificationError("pass data= (the DataFrame the matching ran on) to read the outcomes of the pairs.")
    name = outcome or result.outcome
    if name not in data.columns:
        raise SpecificationError(f"outcome {name!r} is not a column of data; pass outcome=.")
    treated = matches[matches["unit_treated"] == 1]
    if treated.empty:
        raise SpecificationError("the matching has no treated units matched to controls (estimand ATT or ATE needed).")
    y = data[name]
    control = y.loc[treated["match"]].to_numpy(float) * treated["weight"].to_numpy(float)
    frame = pd.DataFrame({"unit": treated["unit"].to_numpy(), "c": control, "w": treated["weight"].to_numpy(float)})
    grouped = frame.groupby("unit", sort=False).sum()
    return y.loc[grouped.index].to_numpy(float) - (grouped["c"] / grouped["w"]).to_numpy()


def rosenbaum_bounds(
    pairs: Any,
    data: Any = None,
    *,
    outcome: str | None = None,
    gamma: float | Iterable[float] = (1.0, 1.5, 2.0, 2.5, 3.0),
    alpha: float = 0.05,
    direction: str = "auto",
    method: str = "auto",
) -> RosenbaumBounds:
    """Sensitivity of a matched-pairs comparison to hidden bias (Rosenbaum bounds).

    ``pairs`` is an array of treated-minus-control differences, or a :func:`deconfound.matching` result
    together with ``data`` (each treated unit's outcome minus the weighted mean of its matched controls).
    For each ``gamma`` the result gives the upper and lower bounds on the one-sided p-value of Wilcoxon's
    signed-rank test and the interval of Hodges-Lehmann estimates, plus ``gamma_breakdown``: the amount of
    hidden bias at which the effect stops being significant at ``alpha``. ``direction`` is the alternative
    ("greater", "less", or "auto": the side of the Hodges-Lehmann estimate); ``method`` "normal", "exact"
    (integer ranks, at most 50 pairs) or "auto" (exact when it can).
    """
    d = _differences(pairs, data, outcome)
    try:
        gammas = [float(g) for g in (list(gamma) if isinstance(gamma, Iterable) else [gamma])]
    except (TypeError, ValueError):
        gammas = []
    if not gammas or any(not math.isfinite(g) or g < 1 for g in gammas):
        raise SpecificationError(f"gamma must be numbers of at least 1 (1 = no hidden bias), got {gamma!r}.")
    if not 0 < alpha < 1:
        raise SpecificationError(f"alpha must be between 0 and 1, got {alpha!r}.")
    if direction not in ("auto", "greater", "less"):
        raise SpecificationError(f"direction={direction!r}: choose 'auto', 'greater' or 'less'.")
    n_zero = int((d == 0).sum())
    if len(d) - n_zero < 2:
        raise DataError(f"rosenbaum_bounds needs at least two pairs with a nonzero difference, got {len(d) - n_zero}.")
    if direction == "auto":
        direction = "less" if _hl(d, 0.5) < 0 else "greater"
    signed = d if direction == "greater" else -d
    stat, q = _statistic(signed)
    exact_ok = len(q) <= EXACT_MAX and np.allclose(q, np.rint(q))
    if method == "auto":
        method = "exact" if exact_ok else "normal"
    elif method == "exact" and not exact_ok:
        raise SpecificationError(f"method='exact' needs integer ranks (no ties) and at most {EXACT_MAX} pairs.")
    elif method != "normal" and method != "exact":
        raise SpecificationError(f"method={method!r}: choose 'auto', 'normal' or 'exact'.")
    tail = _exact_upper_tail if method == "exact" else _normal_upper_tail
    rows = []
    nonzero = signed[signed != 0]
    for g in sorted(gammas):
        p_plus, p_minus = g / (1.0 + g), 1.0 / (1.0 + g)
        low, high = _hl(nonzero, p_plus), _hl(nonzero, p_minus)
        if direction == "less":
            low, high = -high, -low
        rows.append(
            {
                "gamma": g,
                "p_upper": tail(stat, q, p_plus),
                "p_lower": tail(stat, q, p_minus),
                "hl_low": low,
                "hl_high": high,
            }
        )
    breakdown = _breakdown(stat, q, alpha, tail)
    return RosenbaumBounds(
        n_pairs=len(d),
        n_zero=n_zero,
        direction=direction,
        method=method,
        alpha=alpha,
        rows=tuple(rows),
        gamma_breakdown=breakdown,
        text=_sentence(rows, breakdown, alpha, direction),
    )


def _breakdown(stat: float, q: np.ndarray, alpha: float, tail: Any) -> float:
    def p_upper(g: float) -> float:
        return tail(stat, q, g / (1.0 + g))

    if p_upper(1.0) > alpha:
        return 1.0
    if p_upper(1e3) <= alpha:
        return math.inf
    a, b = 1.0, 1e3
    for _ in range(100):
        mid = math.sqrt(a * b)
        a, b = (mid, b) if p_upper(mid) <= alpha else (a, mid)
        if b / a < 1 + 1e-6:
            break
    return b


def _sentence(rows: list[dict[str, float]], breakdown: float, alpha: float, direction: str) -> str:
    sign = "positive" if direction == "greater" else "negative"
    if breakdown == 1.0:
        return f"Even with no hidden bias the {sign} effect is not significant at {alpha:.0%} (signed-rank test)."
    if math.isinf(breakdown):
        return f"The {sign} effect stays significant at {alpha:.0%} for any hidden bias up to Gamma = 1000."
    return (
        f"The {sign} effect stays significant at {alpha:.0%} unless a hidden covariate makes one unit of a "
        f"matched pair {breakdown:.2f} times as likely as the other to be treated (Rosenbaum's Gamma); "
        "larger hidden bias could explain it."
    )
