"""Compiled sweep over tie-widened score windows (numba): the local covariances and local outcome means of
the Abadie-Imbens (2016) adjustment in one pass over the units sorted by score. Imported only when the
compiled kernels run; the numpy path is ``SortedTieWindows`` with ``window_covariance_sum``."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def _padded(pool, i, size):  # pragma: no cover - compiled
    """pool with ``size`` infinite sentinels on each side: -inf before the first value, +inf after the last."""
    j = i - size
    if j < 0:
        return -np.inf
    if j >= pool.shape[0]:
        return np.inf
    return pool[j]


@njit(cache=True)
def tie_window_sweep(x_all, below, pool, ys, size, own, w_all, rtol, atol, means, a, b):  # pragma: no cover
    """For every unit (scores ``x_all`` in sort order; ``below`` the pool units strictly below each), its
    window of the ``size`` nearest pool units (ties to the left), widened to every pool unit within the tie
    limit of its farthest member (its own position when ``own`` >= 0); adds the window's weight
    ``w_all / (|W| - 1)`` and that times the window's mean of ``ys`` to the difference arrays ``a``, ``b``
    (entering at the window's first unit, leaving after its last), and writes the mean to ``means``."""
    m = pool.shape[0]
    scale = max(abs(pool[0]), abs(pool[m - 1]), 1.0)
    cy = np.empty(m + 1)
    cy[0] = 0.0
    for i in range(m):
        cy[i + 1] = cy[i] + ys[i]
    for u in range(x_all.shape[0]):
        x = x_all[u]
        bb = below[u]
        start = bb - size
        for shift in range(size):
            if _padded(pool, bb + shift + size, size) - x < x - _padded(pool, bb + shift, size):
                start += 1
        stop = start + (size - 1)
        limit = max(x - pool[start], pool[stop] - x)
        limit *= 1.0 + rtol
        limit += atol * scale
        lo, hi = start, stop
        if start > 0 and x - pool[start - 1] <= limit:  # the smallest q with x - pool[q] <= limit
            left, right = 0, start - 1
            while left < right:
                mid = (left + right) // 2
                if x - pool[mid] <= limit:
                    right = mid
                else:
                    left = mid + 1
            lo = left
        if stop < m - 1 and pool[stop + 1] - x <= limit:  # the largest q with pool[q] - x <= limit
            left, right = stop + 1, m - 1
            while left < right:
                mid = (left + right + 1) // 2
                if pool[mid] - x <= limit:
                    left = mid
                else:
                    right = mid - 1
            hi = left
        if own[u] >= 0:
            lo = own[u]
            hi = own[u]
        count = hi - lo + 1
        mean = (cy[hi + 1] - cy[lo]) / count
        means[u] = mean
        weight = w_all[u] / (count - 1.0) if count > 1 else 0.0
        a[lo] += weight
        a[hi + 1] -= weight
        b[lo] += mean * weight
        b[hi + 1] -= mean * weight
