"""Who the LATE is about: complier, always-taker and never-taker shares, and complier means (Abadie's kappa).

With a binary instrument z and a binary treatment d, under independence of z and monotonicity (no defiers;
Imbens and Angrist 1994), the population splits into always-takers (d = 1 whatever z), never-takers (d = 0
whatever z) and compliers (d = z):

* always-takers: P(d = 1 | z = 0);  never-takers: P(d = 0 | z = 1);  compliers: P(d = 1 | z = 1) - P(d = 1 | z = 0).

Complier means of covariates use Abadie's (2003) kappa with an unconditional instrument propensity
pi = P(z = 1): kappa = 1 - d (1 - z) / (1 - pi) - (1 - d) z / pi, E[kappa] = the complier share and
E[kappa w] / E[kappa] = E[w | complier]. Every number is a smooth function of sample means, so its standard
error is the delta method's (gradient by central differences on the means, covariance of the per-row terms;
weights, when given, are analytic weights). Shown beside the population and the treated means, so a user
sees how compliers differ from both. If the instrument lowers take-up (P(d=1|z=1) < P(d=1|z=0)) the
instrument is reversed (z -> 1 - z) and the result says so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import DataError

ArrayLike = np.ndarray | Sequence[float]


def _binary(value: ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=float).ravel()
    if not np.all(np.isfinite(arr)) or not np.all((arr == 0) | (arr == 1)):
        raise DataError(f"{name} must be binary (0/1) with no missing values for the complier analysis.")
    if arr.min() == arr.max():
        raise DataError(f"{name} takes one value only; the complier analysis needs both 0 and 1.")
    return arr


def _delta(fn: Callable[[np.ndarray], float], terms: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """(fn(means), delta-method standard error) for the weighted means of the columns of ``terms``."""
    wsum = w.sum()
    mu = (w[:, None] * terms).sum(axis=0) / wsum
    value = fn(mu)
    grad = np.zeros(mu.size)
    for j in range(mu.size):
        h = 1e-6 * max(1.0, abs(mu[j]))
        up, down = mu.copy(), mu.copy()
        up[j] += h
        down[j] -= h
        grad[j] = (fn(up) - fn(down)) / (2 * h)
    psi = (terms - mu) @ grad  # influence of each row (times the weight share)
    var = float(np.sum((w * psi) ** 2)) / wsum**2
    return float(value), float(np.sqrt(var))


@dataclass(frozen=True)
class Compliers:
    """Shares of compliers, always-takers and never-takers (with SEs) and complier means of covariates."""

    shares: Mapping[str, tuple[float, float]]  # group -> (share, SE)
    means: Mapping[str, Mapping[str, float]] = field(default_factory=dict)  # covariate -> column -> value
    n: int = 0
    reversed_instrument: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "shares": {k: {"share": v[0], "std_err": v[1]} for k, v in self.shares.items()},
            "means": {k: dict(v) for k, v in self.means.items()},
            "n": self.n,
            "reversed_instrument": self.reversed_instrument,
        }

    def shares_frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame(
            [(k, v[0], v[1]) for k, v in self.shares.items()], columns=["group", "share", "std_err"]
        ).set_index("group")

    def means_frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame.from_dict(dict(self.means), orient="index").rename_axis("covariate")

    def __str__(self) -> str:
        parts = [f"{k} {v[0]:.1%} (SE {v[1]:.1%})" for k, v in self.shares.items()]
        text = "Compliance types (under monotonicity): " + ", ".join(parts) + "."
        if self.reversed_instrument:
            text += " The instrument lowers take-up, so it was reversed (z -> 1 - z) to define compliers."
        for name, row in self.means.items():
            text += (
                f"\n  {name}: compliers {row['compliers']:.4g} (SE {row['compliers_se']:.2g}), population "
                f"{row['population']:.4g}, treated {row['treated']:.4g}"
            )
        return text


def compliers(
    y: ArrayLike | None,
    d: ArrayLike,
    z: ArrayLike,
    covariates: Mapping[str, ArrayLike] | None = None,
    *,
    weights: ArrayLike | None = None,
) -> Compliers:
    """Compliance shares and complier means for a binary instrument ``z`` and binary treatment ``d``.

    ``covariates`` maps a name to a column (one value per row); ``y``, when given, is described too (its
    complier mean is E[y | complier] under treatment and control mixed, i.e. the mean observed outcome of
    compliers). Weights are analytic (per-row) weights.
    """
    dv, zv = _binary(d, "the treatment"), _binary(z, "the instrument")
    n = dv.size
    if zv.size != n:
        raise DataError(f"the instrument has {zv.size} rows but the treatment has {n}.")
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float).ravel()
    if w.shape != (n,) or not np.all(np.isfinite(w)) or np.any(w < 0):
        raise DataError("weights must be one finite, non-negative number per row.")
    base = np.column_stack([zv, dv * zv, dv * (1 - zv)])
    p1 = (w * dv * zv).sum() / (w * zv).sum()
    p0 = (w * dv * (1 - zv)).sum() / (w * (1 - zv)).sum()
    flipped = bool(p1 < p0)
    if flipped:
        zv = 1.0 - zv
        base = np.column_stack([zv, dv * zv, dv * (1 - zv)])

    def share_of(group: str) -> Callable[[np.ndarray], float]:
        def fn(m: np.ndarray) -> float:
            take1, take0 = m[1] / m[0], m[2] / (1 - m[0])
            return {"compliers": take1 - take0, "always_takers": take0, "never_takers": 1 - take1}[group]

        return fn

    shares = {g: _delta(share_of(g), base, w) for g in ("compliers", "always_takers", "never_takers")}
    columns: dict[str, np.ndarray] = {}
    if y is not None:
        columns["outcome"] = np.asarray(y, dtype=float).ravel()
    for name, col in (covariates or {}).items():
        columns[str(name)] = np.asarray(col, dtype=float).ravel()
    means: dict[str, dict[str, float]] = {}
    for name, col in columns.items():
        if col.shape != (n,) or not np.all(np.isfinite(col)):
            raise DataError(f"covariate {name!r} must be numeric with one finite value per row.")
        means[name] = _complier_mean(col, dv, zv, w)
    return Compliers(shares, means, n, flipped)


def _complier_mean(col: np.ndarray, d: np.ndarray, z: np.ndarray, w: np.ndarray) -> dict[str, float]:
    terms = np.column_stack([z, d * (1 - z), (1 - d) * z, col, d * (1 - z) * col, (1 - d) * z * col])

    def kappa_mean(m: np.ndarray) -> float:
        pi = m[0]
        top = m[3] - m[4] / (1 - pi) - m[5] / pi
        bottom = 1 - m[1] / (1 - pi) - m[2] / pi
        return top / bottom

    value, se = _delta(kappa_mean, terms, w)
    wsum = w.sum()
    population = float((w * col).sum() / wsum)
    treated = float((w * d * col).sum() / (w * d).sum())
    return {
        "compliers": value,
        "compliers_se": se,
        "population": population,
        "treated": treated,
        "ratio_to_population": value / population if population != 0 else float("nan"),
    }
