"""Resampling a least-squares fit without refitting: each bootstrap resample is a reweighting of the rows
(how many times each row, or each cluster, was drawn), so its coefficients solve (X'CX) b = X'Cy with the
cross-products reweighted. With clusters the per-cluster cross-products are summed once and a resample
costs O(G k^2). With rows, the counts of many resamples are built block by block and multiplied with the
block's row products (x_a x_b for a <= b, and x_a y) in one matrix product, so the design is read once for
all resamples instead of once per resample.

How rows are drawn (the row bootstrap's definition; the numbers depend on nothing else): the rows are cut
into blocks of ``DRAW_BLOCK`` (the last one shorter). Resample ``b`` first draws how many of its n rows fall
in each block, a multinomial(n, block sizes / n) from ``numpy.random.default_rng(seed)`` (all resamples in
one call, resample after resample); then, inside block ``j``, its rows are drawn uniformly from the stream
SplitMix64 started at mix(mix(seed) xor mix(b * 2^32 + j)): each 64-bit output gives ``64 // bits`` indices of
``bits`` = ceil(log2(block size)) bits, lowest first, and an index at or above the block size is skipped.
Together these are exactly n draws with replacement (a multinomial count vector per resample), the same
for any chunking of the resamples, any number of threads and either kernel (numba or numpy).
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from typing import Any

import numpy as np

from ..errors import DataError

#: rows per drawing block (part of the draws' definition: changing it changes the resamples)
DRAW_BLOCK = 1 << 12
#: the counts of this many bytes (resamples x block rows x 8) are held at a time
CHUNK_BYTES = 1 << 25
#: blocks summed together (by one thread) before the groups' sums are added in order
SUM_GROUP = 16

_U64 = np.uint64
_GOLDEN = _U64(0x9E3779B97F4A7C15)


def _mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64's output function on uint64 (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = (z ^ (z >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> _U64(27))) * _U64(0x94D049BB133111EB)
        return z ^ (z >> _U64(31))


def _starts(seed: int, reps: np.ndarray, block: int) -> np.ndarray:
    root = _mix(np.array([seed % (1 << 64)], dtype=_U64))[0]
    keys = (reps.astype(_U64) << _U64(32)) | _U64(block)
    return _mix(root ^ _mix(keys))


def _bits(size: int) -> int:
    return max(1, int(size - 1).bit_length())


def _block_counts_numpy(starts: np.ndarray, totals: np.ndarray, size: int, bits: int, out: np.ndarray) -> None:
    per, mask = 64 // bits, _U64((1 << bits) - 1)
    shifts = (np.arange(per, dtype=_U64) * _U64(bits))[None, :]
    for b in range(out.shape[0]):
        out[b] = 0.0
        need, state, taken = int(totals[b]), starts[b], 0
        while taken < need:
            m = (need - taken) // per + 2
            with np.errstate(over="ignore"):
                outputs = _mix(state + _GOLDEN * np.arange(1, m + 1, dtype=_U64))
                state = state + _GOLDEN * _U64(m)
            idx = ((outputs[:, None] >> shifts) & mask).ravel().astype(np.int64)
            idx = idx[idx < size][: need - taken]
            out[b] += np.bincount(idx, minlength=size)
            taken += len(idx)
            # the stream's unused indices of the last output are dropped, as the compiled kernel drops them


def _block_counts(starts: np.ndarray, totals: np.ndarray, size: int, out: np.ndarray) -> None:
    from . import kernels

    bits = _bits(size)
    if kernels.compiled():
        from ._jit_counts import block_counts

        block_counts(starts, totals.astype(np.int64), size, bits, out)
    else:
        _block_counts_numpy(starts, totals, size, bits, out)


def _block_totals(n: int, n_boot: int, seed: int) -> np.ndarray:
    edges = np.r_[np.arange(0, n, DRAW_BLOCK), n]
    sizes = np.diff(edges)
    if len(sizes) == 1:
        return np.full((n_boot, 1), n, dtype=np.int64)
    return np.random.default_rng(seed).multinomial(n, sizes / n, size=n_boot)


def row_counts(n: int, n_boot: int, seed: int) -> np.ndarray:
    """How many times each of ``n`` rows is drawn in each of ``n_boot`` resamples (n_boot x n): the row
    bootstrap's resamples, for tests and for refitting (the fast path never holds this matrix whole)."""
    totals = _block_totals(n, n_boot, seed)
    out = np.empty((n_boot, n))
    reps = np.arange(n_boot)
    for j, lo in enumerate(range(0, n, DRAW_BLOCK)):
        hi = min(lo + DRAW_BLOCK, n)
        block = np.empty((n_boot, hi - lo))
        _block_counts(_starts(seed, reps, j), totals[:, j], hi - lo, block)
        out[:, lo:hi] = block
    return out


def _row_cross_products(
    x: np.ndarray, y: np.ndarray, n_boot: int, seed: int, chunk: int | None, n_jobs: int = 1
) -> np.ndarray:
    """For every resample, the reweighted (X'CX upper triangle, X'Cy) as one row of an n_boot x p array.

    The blocks of rows are summed in groups of ``SUM_GROUP``, the groups shared by ``n_jobs`` threads (the
    counts kernel and the matrix product both release the GIL; the BLAS runs single-threaded inside, since
    its own threads would compete with ours), and the groups' sums are added in order."""
    n, k = x.shape
    iu, ju = np.triu_indices(k)
    totals = _block_totals(n, n_boot, seed)
    starts = list(range(0, n, DRAW_BLOCK))

    def run(blocks: list[int]) -> np.ndarray:
        sums = np.zeros((n_boot, len(iu) + k))
        counts = None
        for j in blocks:
            lo = starts[j]
            hi = min(lo + DRAW_BLOCK, n)
            xb = x[lo:hi]
            products = np.concatenate([xb[:, iu] * xb[:, ju], xb * y[lo:hi, None]], axis=1)
            step = chunk or max(1, CHUNK_BYTES // (8 * DRAW_BLOCK))
            if counts is None:
                counts = np.empty((min(step, n_boot), DRAW_BLOCK))
            for b0 in range(0, n_boot, step):
                b1 = min(b0 + step, n_boot)
                part = counts[: b1 - b0, : hi - lo]
                _block_counts(_starts(seed, np.arange(b0, b1), j), totals[b0:b1, j], hi - lo, part)
                sums[b0:b1] += part @ products
        return sums

    # blocks are summed in fixed groups, and the groups' sums in order, so n_jobs does not change a digit
    groups = [list(range(g, min(g + SUM_GROUP, len(starts)))) for g in range(0, len(starts), SUM_GROUP)]
    jobs = max(1, min(n_jobs if n_jobs > 0 else (os.cpu_count() or 1), len(groups)))
    with _one_blas_thread():
        if jobs == 1:
            parts = [run(group) for group in groups]
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(jobs) as pool:
                parts = list(pool.map(run, groups))
    total = parts[0]
    for part in parts[1:]:
        total += part
    return total


def _one_blas_thread() -> Any:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn brings threadpoolctl
        return nullcontext()
    return threadpool_limits(1, user_api="blas")


def _solve_all(sums: np.ndarray, k: int, j: int) -> np.ndarray:
    iu, ju = np.triu_indices(k)
    a = np.empty((len(sums), k, k))
    a[:, iu, ju] = sums[:, : len(iu)]
    a[:, ju, iu] = sums[:, : len(iu)]
    rhs = sums[:, len(iu) :]
    try:
        return np.linalg.solve(a, rhs[..., None])[:, j, 0]
    except np.linalg.LinAlgError:  # some resample is singular: solve them one by one
        return np.array([_solve(a[b], rhs[b], j) for b in range(len(sums))])


def _solve(xtx: np.ndarray, xty: np.ndarray, j: int) -> float:
    try:
        return float(np.linalg.solve(xtx, xty)[j])
    except np.linalg.LinAlgError:
        return float("nan")  # a resample whose design is singular (e.g. no treated row drawn)


def ols_bootstrap(
    x: np.ndarray,
    y: np.ndarray,
    j: int,
    n_boot: int,
    seed: int,
    codes: np.ndarray | None = None,
    chunk: int | None = None,
    n_jobs: int = 1,
) -> np.ndarray:
    """Coefficient ``j`` of the OLS of ``y`` on ``x`` in ``n_boot`` resamples of rows (drawn as the module
    says; :func:`row_counts` gives them) or of the clusters ``codes``, 0..G-1 (drawn from
    ``numpy.random.default_rng(seed)``); NaN where a resample is singular. ``chunk`` (resamples whose
    counts are held at a time) changes the memory, not the draws (the products' shapes change, so the
    numbers agree to rounding); ``n_jobs`` (threads) changes the time only."""
    if codes is None:
        x = np.ascontiguousarray(x, dtype=float)
        return _solve_all(
            _row_cross_products(x, np.asarray(y, dtype=float), n_boot, seed, chunk, n_jobs), x.shape[1], j
        )
    rng = np.random.default_rng(seed)
    out = np.empty(n_boot)
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
