"""Solving normal equations with an explicit rank check.

Columns are processed in the order given. A column whose part not explained by the earlier kept
columns is negligible (1 - R^2 below ``tol``) is declared dependent, exactly as R's ``lm`` or fixest
drop the later of two collinear columns; we then also report the combination that reproduces it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

RANK_TOL = 1e-10
#: The triangular solves run in NumPy (no scipy.linalg import, a sixth of a second) for at most SMALL_K
#: columns when every column keeps at least WELL_POSED of its variance after the earlier ones (the squared
#: diagonal of the equilibrated Cholesky factor): there the two agree to rounding (1e-13 relative on the
#: standard errors); a nearly collinear design, where rounding is amplified, is solved by LAPACK as before.
SMALL_K = 64
WELL_POSED = 1e-6


def _sla() -> Any:
    from scipy import linalg

    return linalg


def _cholesky(c: np.ndarray) -> np.ndarray:
    """The lower Cholesky factor (LAPACK potrf; raises LinAlgError when ``c`` is not positive definite)."""
    if c.shape[0] <= SMALL_K:
        low = np.linalg.cholesky(c)
        if _plain(low):
            return low
    return np.tril(_sla().cho_factor(c, lower=True, check_finite=False)[0])


def _plain(low: np.ndarray) -> bool:
    """Whether solves with this equilibrated Cholesky factor run in NumPy (see WELL_POSED)."""
    k = low.shape[0]
    return k <= SMALL_K and (k == 0 or float(np.min(np.diag(low))) ** 2 >= WELL_POSED)


def _solve_lower(low: np.ndarray, b: np.ndarray) -> np.ndarray:
    """low @ x = b for a lower-triangular ``low`` (b a vector or a matrix of right-hand sides)."""
    k = low.shape[0]
    if not _plain(low):
        return _sla().solve_triangular(low, b, lower=True, check_finite=False)
    x = np.array(b, dtype=np.float64)
    for i in range(k):
        if i:
            x[i] -= low[i, :i] @ x[:i]
        x[i] /= low[i, i]
    return x


def _solve_upper_t(low: np.ndarray, b: np.ndarray) -> np.ndarray:
    """low' @ x = b for a lower-triangular ``low``."""
    k = low.shape[0]
    if not _plain(low):
        return _sla().solve_triangular(low, b, lower=True, trans="T", check_finite=False)
    x = np.array(b, dtype=np.float64)
    for i in range(k - 1, -1, -1):
        if i < k - 1:
            x[i] -= low[i + 1 :, i] @ x[i + 1 :]
        x[i] /= low[i, i]
    return x


def _cho_solve(low: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(low low') x = b."""
    if not _plain(low):
        return _sla().cho_solve((low, True), b, check_finite=False)
    return _solve_upper_t(low, _solve_lower(low, b))


@dataclass(frozen=True)
class Dependency:
    """Column ``column`` equals ``sum(coef * other)`` over the earlier kept columns, in the data."""

    column: int
    combination: tuple[tuple[int, float], ...]


def _scaled(xtx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    diag = np.diag(xtx).copy()
    scale = np.where(diag > 0, 1.0 / np.sqrt(np.where(diag > 0, diag, 1.0)), 0.0)
    return xtx * scale[:, None] * scale[None, :], scale


def equilibrate(xtx: np.ndarray) -> np.ndarray:
    """``xtx`` scaled to unit diagonal (the correlation-like matrix whose conditioning matters)."""
    return _scaled(xtx)[0]


def find_dependent(xtx: np.ndarray, tol: float = RANK_TOL) -> list[Dependency]:
    """Columns of a cross-product matrix that are (numerically) combinations of earlier ones."""
    k = xtx.shape[0]
    c, _ = _scaled(xtx)
    kept: list[int] = []
    deps: list[Dependency] = []
    chol = np.zeros((0, 0))
    for j in range(k):
        if c[j, j] <= 0:
            deps.append(Dependency(j, ()))
            continue
        if kept:
            b = c[np.ix_(kept, [j])][:, 0]
            z = _solve_lower(chol, b)
            resid = c[j, j] - float(z @ z)
        else:
            z = np.zeros(0)
            resid = c[j, j]
        if resid <= tol * c[j, j]:
            coefs = _cho_solve(chol, c[np.ix_(kept, [j])][:, 0])
            deps.append(Dependency(j, tuple((kept[i], float(coefs[i])) for i in range(len(kept)))))
            continue
        d = np.sqrt(resid)
        new = np.zeros((len(kept) + 1, len(kept) + 1))
        new[:-1, :-1] = chol
        new[-1, :-1] = z
        new[-1, -1] = d
        chol = new
        kept.append(j)
    # express combinations in original units: x_j = sum a_i x_i with a_i = coef_i * s_j / s_i
    diag = np.diag(xtx)
    out = []
    for dep in deps:
        sj = np.sqrt(diag[dep.column]) if diag[dep.column] > 0 else 0.0
        comb = tuple((i, a * sj / np.sqrt(diag[i])) for i, a in dep.combination if abs(a) > 1e-8)
        out.append(Dependency(dep.column, comb))
    return out


def solve_spd(xtx: np.ndarray, xty: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``xtx @ b = xty`` for a full-rank symmetric positive definite ``xtx``.

    Returns (b, inverse of xtx). Uses a Cholesky factorisation of the equilibrated matrix and falls
    back to an eigen-decomposition when Cholesky fails for rounding reasons.
    """
    c, s = _scaled(xtx)
    rhs = np.asarray(xty, dtype=np.float64) * (s[:, None] if np.ndim(xty) == 2 else s)
    try:
        low = _cholesky(c)
        b = _cho_solve(low, rhs)
        cinv = _cho_solve(low, np.eye(c.shape[0]))
    except np.linalg.LinAlgError:
        vals, vecs = np.linalg.eigh(c)
        vals = np.where(vals > vals.max() * 1e-15, vals, np.inf)
        cinv = (vecs / vals) @ vecs.T
        b = cinv @ rhs
    b = b * (s[:, None] if np.ndim(b) == 2 else s)
    inv = cinv * s[:, None] * s[None, :]
    return b, 0.5 * (inv + inv.T)


def condition_number(xtx: np.ndarray) -> float:
    """Condition number of the design matrix, sqrt(max/min eigenvalue of X'X) (statsmodels' Cond. No.)."""
    vals = np.linalg.eigvalsh(xtx)
    lo = vals[0]
    if lo <= 0:
        return float("inf") if vals[-1] > 0 else float("nan")
    return float(np.sqrt(vals[-1] / lo))
