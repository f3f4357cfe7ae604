"""The wild cluster bootstrap-t for one regression coefficient, on per-cluster sufficient statistics.

For the test of H0: b_j = r in y = X b + u with G clusters, the bootstrap world is y* = X b0 + u0_g v_g,
with v_g one draw per cluster (Rademacher, Webb, Mammen or normal weights) and (b0, u0) the estimates
with the null imposed (WCR, restricted) or not (WCU). Every bootstrap t statistic follows from G-sized
pieces computed once (Roodman, MacKinnon, Nielsen and Webb 2019, "Fast and wild"):

    s_g = X_g' u0_g,  A = (X'X)^-1,  c_g = e_j' A s_g,  H_gh = e_j' A X_g'X_g A s_h

    numerator*_b   = sum_g c_g v_gb                       (the bootstrap coefficient minus its null value)
    score*_gb      = c_g v_gb - sum_h H_gh v_hb           (cluster g's piece of the bootstrap CRV1 variance)
    t*_b           = numerator*_b / sqrt(ssc sum_g score*_gb^2)

so B draws cost O(G^2 B), whatever the number of rows. ssc = (n - 1) / (n - k) * G / (G - 1) (CRV1).
With Rademacher weights and 2^G <= B the 2^G sign vectors are enumerated instead of drawn.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from ..errors import DataError, SpecificationError

WEIGHT_TYPES = ("rademacher", "webb", "mammen", "normal")
TIE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class ClusterStats:
    """What the bootstrap needs from the data, once: per-cluster cross-products and the bread."""

    xtx_g: np.ndarray  # (G, k, k)
    xty_g: np.ndarray  # (G, k)
    bread: np.ndarray  # (X'X)^-1
    n: int
    k: int

    @property
    def n_clusters(self) -> int:
        return self.xtx_g.shape[0]


def cluster_stats(x: np.ndarray, y: np.ndarray, codes: np.ndarray, chunk_rows: int = 32768) -> ClusterStats:
    """Sum X_g'X_g and X_g'y_g by cluster (``codes`` are 0..G-1), one block of rows at a time.

    Each block is sorted by cluster on its own, so rows are gathered within a cache-sized block rather
    than across the whole data (a global sort-and-gather of a large X is memory-bound and several times
    slower)."""
    n, k = x.shape
    g = int(codes.max()) + 1
    xtx = np.zeros((g, k, k))
    xty = np.zeros((g, k))
    for start in range(0, n, chunk_rows):
        part = codes[start : start + chunk_rows]
        order = np.argsort(part, kind="stable")
        xb, yb = x[start : start + chunk_rows][order], y[start : start + chunk_rows][order]
        counts = np.bincount(part, minlength=g)
        bounds = np.r_[0, np.cumsum(counts)]
        for i in np.flatnonzero(counts):
            block = xb[bounds[i] : bounds[i + 1]]
            xtx[i] += block.T @ block
            xty[i] += block.T @ yb[bounds[i] : bounds[i + 1]]
    total = xtx.sum(axis=0)
    scale = np.sqrt(np.clip(np.diag(total), 1e-300, None))
    if np.linalg.cond(total / np.outer(scale, scale)) > 1e12:
        raise DataError(
            "the regressors are collinear (X'X cannot be inverted): drop a covariate that is a combination of others."
        )
    bread = np.linalg.inv(total)
    return ClusterStats(xtx, xty, bread, n, k)


def draw_weights(kind: str, n_clusters: int, n_boot: int, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    """(G, B) wild weights and whether they are the full enumeration of Rademacher signs."""
    if kind not in WEIGHT_TYPES:
        listed = ", ".join(repr(w) for w in WEIGHT_TYPES)
        raise SpecificationError(f"weights_type={kind!r} is not known; choose one of {listed}.")
    if kind == "rademacher" and 2**n_clusters <= n_boot:
        signs = np.array(list(itertools.product((-1.0, 1.0), repeat=n_clusters))).T
        return signs, True
    if kind == "rademacher":
        return rng.choice(np.array([-1.0, 1.0]), size=(n_clusters, n_boot)), False
    if kind == "webb":
        points = np.sqrt(np.array([3.0, 2.0, 1.0]) / 2.0)
        return rng.choice(np.concatenate([-points, points[::-1]]), size=(n_clusters, n_boot)), False
    if kind == "mammen":
        s5 = np.sqrt(5.0)
        values = np.array([-(s5 - 1.0) / 2.0, (s5 + 1.0) / 2.0])
        probs = np.array([(s5 + 1.0) / (2.0 * s5), (s5 - 1.0) / (2.0 * s5)])
        return rng.choice(values, size=(n_clusters, n_boot), p=probs), False
    return rng.standard_normal(size=(n_clusters, n_boot)), False


def _null_fit(stats: ClusterStats, j: int, null: float, restricted: bool) -> np.ndarray:
    beta = stats.bread @ stats.xty_g.sum(axis=0)
    if not restricted:
        return beta
    a_j = stats.bread[:, j]
    return beta - a_j * (beta[j] - null) / a_j[j]


def _scores(stats: ClusterStats, beta: np.ndarray) -> np.ndarray:
    """s_g = X_g'(y_g - X_g beta) for every cluster, (G, k)."""
    return stats.xty_g - np.einsum("gkl,l->gk", stats.xtx_g, beta)


def ssc(stats: ClusterStats) -> float:
    g = stats.n_clusters
    return (stats.n - 1) / (stats.n - stats.k) * g / (g - 1)


def t_statistic(stats: ClusterStats, j: int, null: float) -> tuple[float, float, float]:
    """(coefficient, CRV1 standard error, t) of coefficient j against ``null``."""
    beta = _null_fit(stats, j, null, restricted=False)
    s = _scores(stats, beta)
    se = float(np.sqrt(ssc(stats) * np.sum((s @ stats.bread[:, j]) ** 2)))
    return float(beta[j]), se, float((beta[j] - null) / se)


def bootstrap_t(stats: ClusterStats, j: int, null: float, weights: np.ndarray, restricted: bool) -> np.ndarray:
    """The B bootstrap t statistics of coefficient j (WCR when ``restricted``, else WCU centred on the estimate)."""
    beta0 = _null_fit(stats, j, null, restricted)
    s = _scores(stats, beta0)  # (G, k)
    a_s = s @ stats.bread  # rows: A s_g (A symmetric)
    c = a_s[:, j]
    a_j = stats.bread[j]  # e_j' A
    # H_gh = (e_j' A X_g'X_g) (A s_h)
    left = np.einsum("l,glm->gm", a_j, stats.xtx_g)  # (G, k)
    h = left @ a_s.T
    numer = c @ weights
    z = c[:, None] * weights - h @ weights
    denom = ssc(stats) * np.einsum("gb,gb->b", z, z)
    with np.errstate(divide="ignore", invalid="ignore"):
        return numer / np.sqrt(denom)


def p_value(t: float, t_boot: np.ndarray, kind: str = "two-tailed") -> float:
    """Share of bootstrap statistics more extreme than ``t`` (symmetric two-tailed, equal-tailed, or one side)."""
    finite = t_boot[np.isfinite(t_boot)]
    # a draw equal to t up to rounding is not "more extreme" (with all signs +1 the WCR draw reproduces the data)
    tol = TIE_TOLERANCE * max(abs(t), 1.0)
    if kind == "two-tailed":
        return float(np.mean(np.abs(finite) > abs(t) + tol))
    if kind == "equal-tailed":
        return float(2.0 * min(np.mean(finite > t + tol), np.mean(finite < t - tol)))
    if kind == "greater":
        return float(np.mean(finite > t + tol))
    if kind == "less":
        return float(np.mean(finite < t - tol))
    raise SpecificationError(f"p_value={kind!r}: choose 'two-tailed', 'equal-tailed', 'greater' or 'less'.")
