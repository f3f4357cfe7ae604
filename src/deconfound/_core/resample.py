"""Resampling a least-squares fit without refitting: each bootstrap resample is a reweighting of the rows
(how many times each row, or each cluster, was drawn), so its coefficients solve (X'CX) b = X'Cy with the
cross-products reweighted. With clusters the per-cluster cross-products are summed once and a resample
costs O(G k^2); with rows each resample is one weighted pass over the design."""

from __future__ import annotations

import numpy as np

from ..errors import DataError


def _solve(xtx: np.ndarray, xty: np.ndarray, j: int) -> float:
    try:
        return float(np.linalg.solve(xtx, xty)[j])
    except np.linalg.LinAlgError:
        return float("nan")  # a resample whose design is singular (e.g. no treated row drawn)


def ols_bootstrap(
    x: np.ndarray, y: np.ndarray, j: int, n_boot: int, seed: int, codes: np.ndarray | None = None
) -> np.ndarray:
    """Coefficient ``j`` of the OLS of ``y`` on ``x`` in ``n_boot`` resamples of rows (or of the clusters
    ``codes``, 0..G-1), drawn from ``numpy.random.default_rng(seed)``; NaN where a resample is singular."""
    rng = np.random.default_rng(seed)
    n = len(y)
    out = np.empty(n_boot)
    if codes is None:
        for b in range(n_boot):
            counts = np.bincount(rng.integers(0, n, n), minlength=n).astype(float)
            xc = x * counts[:, None]
            out[b] = _solve(xc.T @ x, xc.T @ y, j)
        return out
    g = int(codes.max()) + 1
    if g < 2:
        raise DataError("a clustered bootstrap needs at least two clusters.")
    k = x.shape[1]
    xtx = np.zeros((g, k, k))
    xty = np.zeros((g, k))
    for c in range(g):
        rows = codes == c
        xtx[c] = x[rows].T @ x[rows]
        xty[c] = x[rows].T @ y[rows]
    for b in range(n_boot):
        counts = np.bincount(rng.integers(0, g, g), minlength=g).astype(float)
        out[b] = _solve(np.tensordot(counts, xtx, axes=1), counts @ xty, j)
    return out


def ols_jackknife(x: np.ndarray, y: np.ndarray, j: int, codes: np.ndarray | None = None) -> np.ndarray:
    """Coefficient ``j`` with each row (or each cluster of ``codes``) left out, without refitting:
    b_(-i) = b - (X'X)^-1 x_i e_i / (1 - h_i) for rows; for a cluster, the fit on X'X - X_g'X_g."""
    xtx = x.T @ x
    bread = np.linalg.inv(xtx)
    beta = bread @ (x.T @ y)
    resid = y - x @ beta
    if codes is None:
        leverage = np.einsum("ik,kl,il->i", x, bread, x)
        with np.errstate(divide="ignore", invalid="ignore"):
            shift = (x @ bread[:, j]) * resid / (1.0 - leverage)
        return beta[j] - shift
    g = int(codes.max()) + 1
    out = np.empty(g)
    xty = x.T @ y
    for c in range(g):
        rows = codes == c
        xg = x[rows]
        out[c] = _solve(xtx - xg.T @ xg, xty - xg.T @ y[rows], j)
    return out
