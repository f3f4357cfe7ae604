"""Compiled residual pass (numba). Imported only by ``fixed_effects.py`` when the compiled kernels run.

The clustered sandwich needs, per cluster, the sum of the scores x_i w_i e_i, and the residual sum of
squares. ``passes.residual_pass`` forms them block by block with numpy temporaries (the fitted values, the
residuals, one product column per regressor and a ``bincount`` each); here one pass over the rows reads each
row once and adds into the cluster sums directly (in the rows' order, so a panel sorted by unit adds into
one cluster's row at a time).
"""

from __future__ import annotations

from numba import njit


@njit(cache=True)
def cluster_scores(x, y, w, has_w, beta, codes, scores):  # pragma: no cover - compiled
    """Add sum over rows of x_i w_i e_i into ``scores[c][codes[c][i]]`` for every clustering c, with
    e = y - x beta; returns sum w e^2."""
    n, k = x.shape
    m = len(codes)
    ssr = 0.0
    for i in range(n):
        f = 0.0
        for j in range(k):
            f += x[i, j] * beta[j]
        e = y[i] - f
        we = w[i] * e if has_w else e
        ssr += we * e
        for c in range(m):
            row = scores[c][codes[c][i]]
            for j in range(k):
                row[j] += x[i, j] * we
    return ssr


@njit(cache=True)
def centered_ss(x, mean, w, has_w):  # pragma: no cover - compiled
    """sum w (x - mean)^2 over the rows of one column, without a centred copy."""
    out = 0.0
    if has_w:
        for i in range(x.shape[0]):
            c = x[i] - mean
            out += w[i] * c * c
    else:
        for i in range(x.shape[0]):
            c = x[i] - mean
            out += c * c
    return out
