"""Inference from influence functions: analytic standard errors and the multiplier bootstrap.

An estimator that is asymptotically an average, theta_hat - theta = (1/n) sum_i psi_i, has standard
error sqrt(sum_i psi_i^2) / n; with clusters the psi are first summed within each cluster.

The multiplier bootstrap perturbs those sums with independent Rademacher weights (+1/-1) instead of
re-estimating: draw b gives T_b = (1/n) sum_c U_bc S_c for every parameter at once. Its standard
error is the interquartile range of T_b over the normal one (robust to a few extreme draws), and the
quantile of max_k |T_bk / se_k| is the critical value of a uniform (simultaneous) confidence band.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .distributions import normal_quantile

BOOT_CHUNK_CELLS = 4_000_000  # draws x units held in memory at once


def cluster_sums(psi: np.ndarray, clusters: np.ndarray | None) -> np.ndarray:
    """Influence functions summed within clusters (rows unchanged without clusters)."""
    psi = np.asarray(psi, dtype=np.float64)
    if psi.ndim == 1:
        psi = psi[:, None]
    if clusters is None:
        return psi
    g = int(clusters.max()) + 1
    return np.column_stack([np.bincount(clusters, weights=psi[:, j], minlength=g) for j in range(psi.shape[1])])


def if_covariance(psi: np.ndarray, clusters: np.ndarray | None = None) -> np.ndarray:
    """Covariance of the estimates: S'S / n^2 with S the (cluster-summed) influence functions."""
    n = np.asarray(psi).shape[0]
    s = cluster_sums(psi, clusters)
    cov = s.T @ s / float(n) ** 2
    return 0.5 * (cov + cov.T)


@dataclass(frozen=True)
class BootstrapResult:
    std_error: np.ndarray
    critical_value: float  # for a uniform band over every column, at the requested level
    n_boot: int
    draws: np.ndarray  # n_boot x k perturbations T_b

    def uniform_critical_value(self, columns: np.ndarray | list[int], level: float) -> float:
        """Critical value of a uniform band over a subset of the columns (at least the pointwise one)."""
        return _sup_t(self.draws[:, columns], self.std_error[columns], level)


def _sup_t(draws: np.ndarray, se: np.ndarray, level: float) -> float:
    pointwise = normal_quantile(0.5 + level / 2)
    ok = np.isfinite(se) & (se > 0)
    if not ok.any():
        return float("nan")
    t_max = np.max(np.abs(draws[:, ok] / se[ok]), axis=1)
    return max(float(np.quantile(t_max, level)), pointwise)


def multiplier_bootstrap(
    psi: np.ndarray,
    n_boot: int,
    rng: np.random.Generator,
    clusters: np.ndarray | None = None,
    level: float = 0.95,
) -> BootstrapResult:
    """Rademacher multiplier bootstrap of the estimates whose influence functions are ``psi`` (n x k)."""
    psi = np.asarray(psi, dtype=np.float64)
    if psi.ndim == 1:
        psi = psi[:, None]
    n = psi.shape[0]
    s = cluster_sums(psi, clusters)
    m = s.shape[0]
    draws = np.empty((n_boot, s.shape[1]))
    chunk = max(1, min(n_boot, BOOT_CHUNK_CELLS // max(m, 1)))
    from .progress import current

    progress = current()
    progress.step(f"multiplier bootstrap ({n_boot} draws)")
    for start in range(0, n_boot, chunk):
        stop = min(start + chunk, n_boot)
        signs = rng.integers(0, 2, size=(stop - start, m)).astype(np.float64)
        signs *= 2.0
        signs -= 1.0
        draws[start:stop] = signs @ s / n
        progress.advance(stop, n_boot)
    q75, q25 = np.quantile(draws, [0.75, 0.25], axis=0)
    se = (q75 - q25) / (normal_quantile(0.75) - normal_quantile(0.25))
    se = np.where(np.isfinite(se) & (se > 0), se, np.nan)
    return BootstrapResult(se, _sup_t(draws, se, level), n_boot, draws)
