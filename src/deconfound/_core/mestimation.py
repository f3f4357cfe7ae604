"""M-estimation: effects written as ratios of sums, with the influence of estimated first steps.

Stacked estimating equations (the convention of Stata's ``teffects`` and statsmodels'
``TreatmentEffect``): a first-step model (a logistic propensity model, an outcome regression) is
stacked with the effect's own equation, and the sandwich comes from per-row influence functions. A
potential-outcome mean written as mu = sum s h / sum s c (s: sampling weights) has influence

    IF_i = [ s_i (h_i - mu c_i) + G_theta' IF_theta,i + G_beta' IF_beta,i ] / sum_j s_j c_j

where G_theta = sum s (dh/dtheta - mu dc/dtheta) = X' s (gh - mu gc) is the derivative of the equation
with respect to the propensity model's parameters (X its regressors) and G_beta = X_out' s hb the one
with respect to an outcome model's. A first step whose estimation is ignored (a classifier treated as
known) is simply left out.

:func:`effect` computes mu1 - mu0 and its standard error sqrt(sum IF^2) in three passes over a row
source (:mod:`._core.rows`), each a kernel per partition merged by sums: (1) sum s h and sum s c,
(2) the derivatives G, (3) the sum of squared influences. The in-memory source reads all rows as one
partition, so the arithmetic is that of whole-array expressions. Any family (weighting, double machine
learning) can use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import rows

__all__ = ["Ratio", "effect", "ratio_influence"]


@dataclass(frozen=True)
class Ratio:
    """mu = sum s h / sum s c, with dh/dtheta = gh x, dc/dtheta = gc x and dh/dbeta = hb x_out."""

    h: np.ndarray
    c: np.ndarray
    gh: np.ndarray | None = None  # derivative factors w.r.t. the propensity index
    gc: np.ndarray | None = None
    beta_arm: float | None = None  # which outcome model h depends on
    hb: np.ndarray | None = None  # dh/dbeta = hb * x_out (row factor)


#: a first-step model: {"x": its per-row regressors (n x p), "influence": its parameters' per-row influence}
FirstStep = Mapping[str, Any]


def ratio_influence(
    r: Ratio, s: np.ndarray, ps: FirstStep | None, outcome: Mapping[float, FirstStep] | None
) -> tuple[float, np.ndarray]:
    """mu and every row's influence on it (for an estimator that needs the rows themselves)."""
    den = float(np.sum(s * r.c))
    mu = float(np.sum(s * r.h)) / den
    infl = s * (r.h - mu * r.c)
    if ps is not None and (r.gh is not None or r.gc is not None):
        infl = infl + ps["influence"] @ (ps["x"].T @ (s * _factor(r.gh, r.gc, mu)))
    if r.beta_arm is not None and outcome is not None:
        model = outcome[r.beta_arm]
        infl = infl + model["influence"] @ (model["x"].T @ (s * r.hb))
    return mu, infl / den


def _factor(gh: np.ndarray | None, gc: np.ndarray | None, mu: float) -> Any:
    return (gh if gh is not None else 0.0) - mu * (gc if gc is not None else 0.0)


def _arrays(
    pair: tuple[Ratio, Ratio], s: np.ndarray, ps: FirstStep | None, outcome: Mapping[float, FirstStep] | None
) -> dict[str, np.ndarray | None]:
    """The per-row arrays the passes read, by name (absent derivatives are None)."""
    arrays: dict[str, np.ndarray | None] = {"s": s}
    if ps is not None:
        arrays["ps_x"], arrays["ps_if"] = ps["x"], ps["influence"]
    for i, r in enumerate(pair):
        arrays.update({f"h{i}": r.h, f"c{i}": r.c, f"gh{i}": r.gh, f"gc{i}": r.gc, f"hb{i}": r.hb})
        if r.beta_arm is not None and outcome is not None:
            arrays[f"x{i}"], arrays[f"if{i}"] = outcome[r.beta_arm]["x"], outcome[r.beta_arm]["influence"]
    return arrays


def effect(
    pair: tuple[Ratio, Ratio],
    s: np.ndarray,
    ps: FirstStep | None,
    outcome: Mapping[float, FirstStep] | None,
    sign: float,
    clusters: np.ndarray | None = None,
) -> tuple[float, float, tuple[float, float]]:
    """sign * (mu1 - mu0), its standard error and (mu1, mu0), from passes over the rows.

    With ``clusters`` (integer codes 0..G-1, G >= 2) the meat sums the influence within each cluster
    before squaring, times G / (G - 1) (the small-sample factor of Stata's ``vce(cluster)`` for
    M-estimators; statsmodels' cluster covariance has it too, with (N-1)/(N-K) on top for linear models)."""
    n = len(s)
    extra = _arrays(pair, s, ps, outcome)
    n_clusters = 0
    if clusters is not None:
        extra["cl"] = clusters
        n_clusters = int(clusters.max()) + 1 if len(clusters) else 0
    src = rows.source(None, max(n, 1), n=n, extra=extra)
    uses_ps = [ps is not None and (r.gh is not None or r.gc is not None) for r in pair]
    uses_out = [r.beta_arm is not None and outcome is not None for r in pair]

    def sums(part: rows.Partition) -> np.ndarray:
        sp = part["s"]
        return np.array([float(np.sum(sp * part[f"{a}{i}"])) for i in (0, 1) for a in ("c", "h")])

    tot = rows.fold(src, sums, np.zeros(4))
    den, mu = tot[0::2], tot[1::2] / tot[0::2]

    def derivatives(part: rows.Partition) -> _Gradients:
        sp, out = part["s"], _Gradients()
        for i in (0, 1):
            if uses_ps[i]:
                out.g[f"theta{i}"] = part["ps_x"].T @ (sp * _factor(part.get(f"gh{i}"), part.get(f"gc{i}"), mu[i]))
            if uses_out[i]:
                out.g[f"beta{i}"] = part[f"x{i}"].T @ (sp * part[f"hb{i}"])
        return out

    grads = rows.fold(src, derivatives, _Gradients()).g

    def squares(part: rows.Partition) -> Any:
        sp, infl = part["s"], []
        for i in (0, 1):
            row = sp * (part[f"h{i}"] - mu[i] * part[f"c{i}"])
            if uses_ps[i]:
                row = row + part["ps_if"] @ grads[f"theta{i}"]
            if uses_out[i]:
                row = row + part[f"if{i}"] @ grads[f"beta{i}"]
            infl.append(row / den[i])
        both = sign * (infl[0] - infl[1])
        if clusters is not None:  # the clustered meat: influence summed within clusters
            return np.bincount(part["cl"], weights=both, minlength=n_clusters)
        return float(np.sum(both * both))

    if clusters is None:
        total = rows.fold(src, squares, 0.0)
    else:
        by_cluster = rows.fold(src, squares, np.zeros(n_clusters))
        total = n_clusters / (n_clusters - 1) * float(by_cluster @ by_cluster)
    return float(sign * (mu[0] - mu[1])), float(np.sqrt(total)), (float(mu[0]), float(mu[1]))


class _Gradients:
    """Named derivative vectors of one partition, merged by adding them name by name."""

    def __init__(self, g: dict[str, np.ndarray] | None = None) -> None:
        self.g = g if g is not None else {}

    def __add__(self, other: _Gradients) -> _Gradients:
        merged = dict(self.g)
        for name, value in other.g.items():
            merged[name] = merged[name] + value if name in merged else value
        return _Gradients(merged)
