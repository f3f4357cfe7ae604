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
    e = y - x beta; returns sum w e^2. With at most four regressors the first clustering's sums are carried
    in registers along each run of rows of one cluster (loaded at its start, stored at its end: the same
    additions in the same order, without waiting on memory from one row to the next)."""
    n, k = x.shape
    m = len(codes)
    if m >= 1 and k <= 4 and n > 0:
        return _cluster_scores_runs(x, y, w, has_w, beta, codes, scores)
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
def _cluster_scores_runs(x, y, w, has_w, beta, codes, scores):  # pragma: no cover - compiled
    n, k = x.shape
    m = len(codes)
    first = codes[0]
    s0 = scores[0]
    ssr = 0.0
    cur = first[0]
    a0 = s0[cur, 0]
    a1 = s0[cur, 1] if k > 1 else 0.0
    a2 = s0[cur, 2] if k > 2 else 0.0
    a3 = s0[cur, 3] if k > 3 else 0.0
    for i in range(n):
        f = 0.0
        for j in range(k):
            f += x[i, j] * beta[j]
        e = y[i] - f
        we = w[i] * e if has_w else e
        ssr += we * e
        g = first[i]
        if g != cur:
            s0[cur, 0] = a0
            if k > 1:
                s0[cur, 1] = a1
            if k > 2:
                s0[cur, 2] = a2
            if k > 3:
                s0[cur, 3] = a3
            cur = g
            a0 = s0[cur, 0]
            a1 = s0[cur, 1] if k > 1 else 0.0
            a2 = s0[cur, 2] if k > 2 else 0.0
            a3 = s0[cur, 3] if k > 3 else 0.0
        a0 += x[i, 0] * we
        if k > 1:
            a1 += x[i, 1] * we
        if k > 2:
            a2 += x[i, 2] * we
        if k > 3:
            a3 += x[i, 3] * we
        for c in range(1, m):
            row = scores[c][codes[c][i]]
            for j in range(k):
                row[j] += x[i, j] * we
    s0[cur, 0] = a0
    if k > 1:
        s0[cur, 1] = a1
    if k > 2:
        s0[cur, 2] = a2
    if k > 3:
        s0[cur, 3] = a3
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
def _term(a, b, w, has_w, ma, mb, i, prod):  # pragma: no cover - compiled
    v = (a[i] - ma) * (b[i] - mb) if prod else a[i]
    return w[i] * v if has_w else v


@njit(cache=True, nogil=True)
def _compensated_sum(a, b, w, has_w, ma, mb, lo, hi, prod):  # pragma: no cover - compiled
    """sum of w (a - ma)(b - mb) over rows lo:hi (without ``prod``: of w a): 128 rows at a time in four
    interleaved sums, the partial sums added with compensation (Kahan)."""
    acc = 0.0
    lost = 0.0
    for s0 in range(lo, hi, 128):
        s1 = min(hi, s0 + 128)
        p0 = 0.0
        p1 = 0.0
        p2 = 0.0
        p3 = 0.0
        i = s0
        while i + 4 <= s1:
            p0 += _term(a, b, w, has_w, ma, mb, i, prod)
            p1 += _term(a, b, w, has_w, ma, mb, i + 1, prod)
            p2 += _term(a, b, w, has_w, ma, mb, i + 2, prod)
            p3 += _term(a, b, w, has_w, ma, mb, i + 3, prod)
            i += 4
        while i < s1:
            p0 += _term(a, b, w, has_w, ma, mb, i, prod)
            i += 1
        part = (p0 + p1) + (p2 + p3)
        part -= lost
        t = acc + part
        lost = (t - acc) - part
        acc = t
    return acc


@njit(cache=True, nogil=True)
def centered_block(x, y, w, has_w, lo, hi, mean, g):  # pragma: no cover - compiled
    """``passes._products`` of rows lo:hi of [x | y] without the scratch copy: the weighted means of the
    columns into ``mean`` and their centered (weighted) cross-products into ``g``; returns the sum of weights.
    ``x`` holds the columns as its rows (a column-major array's transpose), ``y`` the outcome. Every sum adds
    128 rows at a time, then the partial sums with compensation (Kahan): its rounding error is about that of
    128 additions, whatever the number of rows."""
    k = x.shape[0]
    if has_w:
        sum_w = 0.0
        lost = 0.0
        for s0 in range(lo, hi, 128):
            part = 0.0
            for i in range(s0, min(hi, s0 + 128)):
                part += w[i]
            part -= lost
            t = sum_w + part
            lost = (t - sum_w) - part
            sum_w = t
    else:
        sum_w = float(hi - lo)
    if sum_w == 0.0:
        return sum_w
    for a in range(k + 1):
        col = x[a] if a < k else y
        mean[a] = _compensated_sum(col, col, w, has_w, 0.0, 0.0, lo, hi, False) / sum_w
    for a in range(k + 1):
        ca = x[a] if a < k else y
        for b in range(a, k + 1):
            cb = x[b] if b < k else y
            acc = _compensated_sum(ca, cb, w, has_w, mean[a], mean[b], lo, hi, True)
            g[a, b] = acc
            g[b, a] = acc
    return sum_w
