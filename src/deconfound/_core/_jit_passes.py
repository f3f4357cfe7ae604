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


@njit(cache=True, nogil=True, inline="always")
def _z(x, y, i, a, k):  # pragma: no cover - compiled
    return x[i, a] if a < k else y[i]


@njit(cache=True, nogil=True)
def centered_block(x, y, w, has_w, lo, hi, mean, g):  # pragma: no cover - compiled
    """``passes._products`` of rows lo:hi of [x | y] without the scratch copy: the weighted means of the
    columns into ``mean`` and their centered (weighted) cross-products into ``g``; returns the sum of weights.
    One short pass per column and per pair of columns (the columns of ``x`` are contiguous). Each sum adds
    128 rows at a time, then the partial sums: its rounding error grows with the number of
    partial sums, not of rows (BLAS's blocked products are about as accurate)."""
    k = x.shape[1]
    step = 128
    sum_w = 0.0
    if has_w:
        for s0 in range(lo, hi, step):
            part = 0.0
            for i in range(s0, min(hi, s0 + step)):
                part += w[i]
            sum_w += part
    else:
        sum_w = float(hi - lo)
    if sum_w == 0.0:
        return sum_w
    for a in range(k + 1):
        s = 0.0
        lost = 0.0
        for s0 in range(lo, hi, step):
            part = 0.0
            if has_w:
                for i in range(s0, min(hi, s0 + step)):
                    part += w[i] * _z(x, y, i, a, k)
            else:
                for i in range(s0, min(hi, s0 + step)):
                    part += _z(x, y, i, a, k)
            part -= lost
            t = s + part
            lost = (t - s) - part
            s = t
        mean[a] = s / sum_w
    for a in range(k + 1):
        ma = mean[a]
        for b in range(a, k + 1):
            mb = mean[b]
            acc = 0.0
            lost = 0.0  # compensated sum of the partial sums (Kahan)
            for s0 in range(lo, hi, step):
                part = 0.0
                for i in range(s0, min(hi, s0 + step)):
                    za = _z(x, y, i, a, k) - ma
                    zb = _z(x, y, i, b, k) - mb
                    if has_w:
                        part += w[i] * za * zb
                    else:
                        part += za * zb
                part -= lost
                t = acc + part
                lost = (t - acc) - part
                acc = t
            g[a, b] = acc
            g[b, a] = acc
    return sum_w
