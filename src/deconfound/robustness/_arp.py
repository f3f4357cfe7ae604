"""The conditional and hybrid tests of Andrews, Roth and Pakes (2023) for moment inequalities with linear
nuisance parameters, as Rambachan and Roth (2023) invert them for honest difference-in-differences.

The null is that some nuisance vector ``delta`` satisfies ``y - X delta <= 0`` with ``y ~ N(mu, Sigma)``.
The statistic is the linear program

    eta(y) = min_{eta, delta} eta  subject to  y - X delta <= eta * sd,   sd = sqrt(diag(Sigma)),

whose dual is ``max_g g'y`` over ``g >= 0, g'sd = 1, g'X = 0``. The dual's feasible set has finitely many
vertices, so eta(y) is the largest of finitely many linear functions of y: the vertices are enumerated
once (every basis of k + 1 moments, k the nuisance dimension), and eta of any number of y's is one matrix
product. This replaces the per-draw and per-grid-point linear programs of the reference code by exact
arithmetic (the least-favourable simulation and the grid of candidate values then cost nothing).

The conditional test conditions on the optimal vertex g: eta = g'y is normal with variance g'Sigma g,
truncated to the values for which g stays optimal when y moves along Sigma g / (g'Sigma g) with the
part of y orthogonal to it held fixed (``[v_lo, v_up]``, from every other vertex in closed form: the
same interval the reference code finds by bisection over linear programs). It rejects when eta / sigma_g
exceeds the 1 - alpha quantile of that truncated normal. The least-favourable hybrid first rejects when
eta exceeds the 1 - kappa quantile of eta under mu = 0 (simulated), then runs the conditional test at size
(alpha - kappa) / (1 - kappa), with the truncation capped at that critical value when there are nuisance
parameters (without them the reference code leaves it uncapped, and so do we).
"""

from __future__ import annotations

from itertools import combinations
from math import comb

import numpy as np

from ..errors import SpecificationError

__all__ = ["MomentTest", "dual_vertices"]

MAX_BASES = 250_000  # bases examined when enumerating the dual's vertices
_TOL = 1e-10


def dual_vertices(sd: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Every vertex g of {g >= 0, g'sd = 1, g'X = 0} (rows of the returned V x m matrix)."""
    m, k = x.shape
    w = np.column_stack([sd, x])  # m x (k + 1)
    size = k + 1
    if size > m:
        return np.zeros((0, m))
    n_bases = comb(m, size)
    if n_bases > MAX_BASES:
        raise SpecificationError(
            f"honest_did: {m} moments with {k} nuisance parameters give {n_bases:,} candidate vertices; use fewer "
            "post-treatment periods (a shorter window) for the relative-magnitudes restriction."
        )
    rhs = np.zeros(size)
    rhs[0] = 1.0
    out = []
    subsets = np.array(list(combinations(range(m), size)), dtype=np.intp)
    for start in range(0, len(subsets), 20_000):
        chunk = subsets[start : start + 20_000]
        mats = np.transpose(w[chunk], (0, 2, 1))  # (B, k+1, k+1): W_S'
        det = np.linalg.det(mats)
        ok = np.abs(det) > 1e-12 * np.maximum(1.0, np.abs(mats).max(axis=(1, 2)) ** size)
        if not ok.any():
            continue
        sol = np.linalg.solve(mats[ok], np.broadcast_to(rhs, (int(ok.sum()), size))[..., None])[..., 0]
        feasible = (sol >= -1e-12).all(axis=1)
        for rows, g in zip(chunk[ok][feasible], sol[feasible]):
            v = np.zeros(m)
            v[rows] = np.clip(g, 0.0, None)
            out.append(v)
    if not out:
        return np.zeros((0, m))
    return np.unique(np.round(np.array(out), 14), axis=0)


class MomentTest:
    """The ARP tests of ``y - X delta <= 0`` for one covariance ``sigma`` of y (m x m) and one X (m x k)."""

    def __init__(self, x: np.ndarray, sigma: np.ndarray) -> None:
        self.x = x
        self.sigma = sigma
        self.sd = np.sqrt(np.clip(np.diag(sigma), 0.0, None))
        if np.any(self.sd <= 0):
            raise SpecificationError("honest_did: a moment has zero variance; check sigma (the covariance).")
        self.vertices = dual_vertices(self.sd, x)

    def eta(self, y: np.ndarray) -> np.ndarray:
        """eta for each row of y (n x m); -inf when the linear program is unbounded (no vertex)."""
        if len(self.vertices) == 0:
            return np.full(y.shape[0], -np.inf)
        return (y @ self.vertices.T).max(axis=1)

    def least_favorable_cv(self, kappa: float, sims: int, seed: int) -> float:
        """The 1 - kappa quantile of eta(xi), xi ~ N(0, sigma) (``sims`` draws, numpy's generator)."""
        rng = np.random.default_rng(seed)
        draws = rng.multivariate_normal(np.zeros(len(self.sd)), self.sigma, size=sims, method="svd")
        values = self.eta(draws)
        values = values[np.isfinite(values)]
        return float(np.quantile(values, 1.0 - kappa))

    def accept(
        self, y: np.ndarray, alpha: float, hybrid: str, lf_cv: float | None = None, kappa: float = 0.0
    ) -> np.ndarray:
        """Whether each row of y (n x m) is accepted at level alpha (conditional or least-favourable hybrid)."""
        from scipy.stats import truncnorm

        n = y.shape[0]
        if len(self.vertices) == 0:  # unbounded program: eta = -inf, never rejected
            return np.ones(n, dtype=bool)
        values = y @ self.vertices.T  # n x V
        best = values.argmax(axis=1)
        eta = values[np.arange(n), best]
        size = alpha
        if hybrid == "LF":
            assert lf_cv is not None
            size = (alpha - kappa) / (1.0 - kappa)
        out = np.ones(n, dtype=bool)
        if hybrid == "LF":
            out[eta > lf_cv] = False
        sv = self.vertices @ self.sigma  # V x m
        cap = hybrid == "LF" and self.x.shape[1] > 0  # the reference code caps v_up with nuisance parameters only
        for v in np.unique(best[out]):
            rows = np.flatnonzero(out & (best == v))
            g = self.vertices[v]
            var = float(sv[v] @ g)
            if var <= np.finfo(float).eps:
                out[rows] = ~(eta[rows] > 0)
                continue
            b = sv[v] / var
            num = values[rows] - np.outer(eta[rows], self.vertices @ b)  # every vertex at s = y - b eta
            den = 1.0 - sv @ g / var
            lo_mask, up_mask = den > _TOL, den < -_TOL
            vlo = (num[:, lo_mask] / den[lo_mask]).max(axis=1) if lo_mask.any() else np.full(len(rows), -np.inf)
            vup = (num[:, up_mask] / den[up_mask]).min(axis=1) if up_mask.any() else np.full(len(rows), np.inf)
            if cap:
                vup = np.minimum(vup, float(lf_cv))  # type: ignore[arg-type]
            sigma_b = np.sqrt(var)
            stat, zlo, zup = eta[rows] / sigma_b, vlo / sigma_b, vup / sigma_b
            slack = 1e-9 * np.maximum(1.0, np.abs(stat))
            inside = (zlo - slack <= stat) & (stat <= zup + slack) & (zup - zlo >= 1e-12)
            crit = np.zeros(len(rows))
            if inside.any():
                crit[inside] = np.maximum(0.0, truncnorm.ppf(1.0 - size, zlo[inside], zup[inside]))
            out[rows] = ~(inside & (stat > crit))  # outside the truncation: accepted (the reference's convention)
        return out
