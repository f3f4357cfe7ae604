"""Compiled alternating projections (numba). Imported only by ``demean.py`` when the compiled kernels run.

The same arithmetic as ``Demeaner``'s numpy path, fused: subtracting one factor's group means and summing
the next factor's groups happen in the same pass over the rows, so a sweep over k factors reads the rows
k + 1 times and allocates nothing.

When the rows come in runs of the first factor (a panel sorted by unit: ``starts`` holds where each group's
run begins, and its end), that factor's group sums need no pass of their own: each run is summed, its mean
subtracted and the next factor's sums accumulated while the run is in cache, so a sweep reads the rows k
times. The sums are taken in the same (row) order, so the result is the same to the last bit.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _group_sums(x, c, w, has_w, s):  # pragma: no cover - compiled
    s[:] = 0.0
    if has_w:
        for i in range(x.shape[0]):
            s[c[i]] += w[i] * x[i]
    else:
        for i in range(x.shape[0]):
            s[c[i]] += x[i]


@njit(cache=True)
def run_starts(c, size):  # pragma: no cover - compiled
    """Where each group's run begins (and, last, the number of rows) when the rows hold groups 0, 1, ...,
    size - 1 in that order, each one contiguous run; an empty array otherwise."""
    n = c.shape[0]
    starts = np.empty(size + 1, np.int64)
    if n == 0 or size < 1 or c[0] != 0:
        return starts[:0]
    starts[0] = 0
    g = 0
    for i in range(1, n):
        d = c[i] - c[i - 1]
        if d != 0:
            if d != 1:
                return starts[:0]
            g += 1
            starts[g] = i
    if g != size - 1:
        return starts[:0]
    starts[size] = n
    return starts


@njit(cache=True)
def _first_runs(src, dst, starts, s, iv, c2, nxt, has_next, w, has_w):  # pragma: no cover - compiled
    """The first factor's projection over its runs: each run's (weighted) sum, times ``iv``, subtracted from
    the run's rows while they are in cache, the next factor's sums accumulated from the result (when
    ``has_next``). ``s`` gets the means (as ``_group_sums`` then the scaling would leave it); returns the
    largest absolute mean."""
    if has_next:
        nxt[:] = 0.0
    top = 0.0
    for g in range(starts.shape[0] - 1):
        a = starts[g]
        b = starts[g + 1]
        acc = 0.0
        if has_w:
            for i in range(a, b):
                acc += w[i] * src[i]
        else:
            for i in range(a, b):
                acc += src[i]
        m = acc * iv[g]
        s[g] = m
        if abs(m) > top:
            top = abs(m)
        if has_next:
            for i in range(a, b):
                v = src[i] - m
                dst[i] = v
                if has_w:
                    nxt[c2[i]] += w[i] * v
                else:
                    nxt[c2[i]] += v
        else:
            for i in range(a, b):
                dst[i] = src[i] - m
    return top


@njit(cache=True)
def sweep(src, dst, codes, inv, w, has_w, sums, starts):  # pragma: no cover - compiled
    """``dst`` = ``src`` with the group means of every factor subtracted in turn (``dst`` may be ``src``);
    returns the sum over factors of the largest absolute group mean subtracted. A non-empty ``starts``
    (from :func:`run_starts`) says the rows are in runs of the first factor."""
    k = len(codes)
    n = src.shape[0]
    total = 0.0
    first = 0
    if starts.shape[0] > 0:
        nxt = sums[1] if k > 1 else sums[0]
        c2 = codes[1] if k > 1 else codes[0]
        total += _first_runs(src, dst, starts, sums[0], inv[0], c2, nxt, k > 1, w, has_w)
        first = 1
    else:
        _group_sums(src, codes[0], w, has_w, sums[0])
    for j in range(first, k):
        s = sums[j]
        iv = inv[j]
        top = 0.0
        for g in range(s.shape[0]):
            s[g] *= iv[g]
            a = abs(s[g])
            if a > top:
                top = a
        total += top
        c = codes[j]
        read = src if j == 0 else dst
        if j + 1 < k:
            nxt = sums[j + 1]
            nxt[:] = 0.0
            c2 = codes[j + 1]
            for i in range(n):
                v = read[i] - s[c[i]]
                dst[i] = v
                if has_w:
                    nxt[c2[i]] += w[i] * v
                else:
                    nxt[c2[i]] += v
        else:
            for i in range(n):
                dst[i] = read[i] - s[c[i]]
    return total


@njit(cache=True)
def _irons_tuck(x, px, ppx):  # pragma: no cover - compiled
    """x <- the Irons-Tuck extrapolation from x, P(x), P(P(x)) (in place)."""
    n = x.shape[0]
    ssq = 0.0
    cross = 0.0
    for i in range(n):
        a = ppx[i] - px[i]
        b = a - px[i] + x[i]
        ssq += b * b
        cross += a * b
    if ssq <= 0.0 or not np.isfinite(ssq):
        x[:] = ppx
        return
    coef = cross / ssq
    for i in range(n):
        x[i] = ppx[i] - coef * (ppx[i] - px[i])


@njit(cache=True)
def demean(x, codes, inv, w, has_w, sums, limit, max_iter, starts):  # pragma: no cover - compiled
    """Alternating projections with Irons-Tuck acceleration on ``x`` (overwritten); (result, sweeps,
    converged). The same iterates as the numpy path, without a copy per sweep."""
    return demean_into(x, codes, inv, w, has_w, sums, limit, max_iter, np.empty_like(x), np.empty_like(x), starts)


@njit(cache=True)
def demean_in_place(x, codes, inv, w, has_w, sums, limit, max_iter, px, ppx, starts):  # pragma: no cover - compiled
    """:func:`demean` with the result written into ``x`` and the scratch columns ``px``, ``ppx`` given (one
    pair reused for every column); (sweeps, converged)."""
    out, sweeps, ok = demean_into(x, codes, inv, w, has_w, sums, limit, max_iter, px, ppx, starts)
    if out is not x:
        x[:] = out
    return sweeps, ok


@njit(cache=True)
def demean_into(x, codes, inv, w, has_w, sums, limit, max_iter, px, ppx, starts):  # pragma: no cover - compiled
    """:func:`demean` with the scratch columns given; the result is x, px or ppx."""
    if sweep(x, x, codes, inv, w, has_w, sums, starts) <= limit:
        return x, 1, True
    sweeps = 1
    while sweeps < max_iter:
        sweeps += 1
        if sweep(x, px, codes, inv, w, has_w, sums, starts) <= limit:
            return px, sweeps, True
        sweeps += 1
        if sweep(px, ppx, codes, inv, w, has_w, sums, starts) <= limit:
            return ppx, sweeps, True
        _irons_tuck(x, px, ppx)
    return x, sweeps, False


# Two factors: the alternating projections over the coefficients ------------------------------------------------
#
# With two factors (unit u and time t) every iterate of the alternating projections is
#     x_i = c_i - da[u_i] - b[t_i],   c_i = x0_i - a1[u_i],
# where a1 are the unit means of the original column (the first sweep's unit step), da the unit effects
# found after it and b the time effects. A sweep then needs only the group codes, not the column:
#     da'[u] = (rho[u] - sum over u's rows of w b[t]) / W[u]      (rho[u]: u's sum of w c, a rounding residue)
#     b'[t]  = (r[t] - sum over t's rows of w da'[u]) / W[t]      (r[t]: t's sum of w c)
# and the means it subtracts (which decide convergence) are da' - da and b' - b. Irons-Tuck's sums over the
# rows are sums of (unit term + time term) products, so it works on the coefficients too. The column is read
# twice (the first sweep, and at the end to write c - da - b) instead of about twice per sweep.


@njit(cache=True, nogil=True)
def unit_order(c, size):  # pragma: no cover - compiled
    """(rows in order of their code, stable; where each code's rows begin, and last the number of rows)."""
    n = c.shape[0]
    starts = np.zeros(size + 1, np.int64)
    for i in range(n):
        starts[c[i] + 1] += 1
    for g in range(size):
        starts[g + 1] += starts[g]
    fill = starts[:-1].copy()
    order = np.empty(n, np.int64)
    for i in range(n):
        g = c[i]
        order[fill[g]] = i
        fill[g] += 1
    return order, starts


@njit(cache=True, nogil=True)
def _two_way_first(x, cu, ct, starts, in_runs, w, has_w, inv0, inv1, a1, rho, r):  # pragma: no cover - compiled
    """The first sweep from the column ``x``: unit means ``a1``, then the time sums ``r`` of c = x - a1 (in the
    rows' order, as :func:`sweep` adds them) and each unit's sum ``rho`` of c; returns (the sweep's total, the
    largest absolute value of ``x``)."""
    r[:] = 0.0
    top0 = 0.0
    big = 0.0
    if in_runs:
        for g in range(starts.shape[0] - 1):
            lo = starts[g]
            hi = starts[g + 1]
            acc = 0.0
            if has_w:
                for i in range(lo, hi):
                    acc += w[i] * x[i]
            else:
                for i in range(lo, hi):
                    acc += x[i]
            for i in range(lo, hi):
                if abs(x[i]) > big:
                    big = abs(x[i])
            m = acc * inv0[g]
            a1[g] = m
            if abs(m) > top0:
                top0 = abs(m)
            own = 0.0
            if has_w:
                for i in range(lo, hi):
                    v = w[i] * (x[i] - m)
                    r[ct[i]] += v
                    own += v
            else:
                for i in range(lo, hi):
                    v = x[i] - m
                    r[ct[i]] += v
                    own += v
            rho[g] = own
    else:
        a1[:] = 0.0
        rho[:] = 0.0
        for i in range(x.shape[0]):
            if abs(x[i]) > big:
                big = abs(x[i])
        if has_w:
            for i in range(x.shape[0]):
                a1[cu[i]] += w[i] * x[i]
        else:
            for i in range(x.shape[0]):
                a1[cu[i]] += x[i]
        for g in range(a1.shape[0]):
            a1[g] *= inv0[g]
            if abs(a1[g]) > top0:
                top0 = abs(a1[g])
        for i in range(x.shape[0]):
            v = x[i] - a1[cu[i]]
            if has_w:
                v = w[i] * v
            r[ct[i]] += v
            rho[cu[i]] += v
    top1 = 0.0
    for t in range(r.shape[0]):
        m = r[t] * inv1[t]
        if abs(m) > top1:
            top1 = abs(m)
    return top0 + top1, big


@njit(cache=True, nogil=True)
def _two_way_sweep(starts, tc, w, has_w, inv0, inv1, rho, r, da, b, da2, b2, tsum):  # pragma: no cover - compiled
    """One sweep from the coefficients (da, b) to (da2, b2) over the rows in unit order (``tc``: their time
    codes, ``w`` their weights); returns the sum over both factors of the largest absolute mean subtracted."""
    tsum[:] = 0.0
    top0 = 0.0
    for g in range(starts.shape[0] - 1):
        lo = starts[g]
        hi = starts[g + 1]
        acc = 0.0
        odd = 0.0  # two sums (even and odd rows of the run): half the wait on each addition
        mid = lo + (hi - lo) // 2 * 2
        if has_w:
            for i in range(lo, mid, 2):
                acc += w[i] * b[tc[i]]
                odd += w[i + 1] * b[tc[i + 1]]
            if mid < hi:
                acc += w[mid] * b[tc[mid]]
        else:
            for i in range(lo, mid, 2):
                acc += b[tc[i]]
                odd += b[tc[i + 1]]
            if mid < hi:
                acc += b[tc[mid]]
        v = (rho[g] - (acc + odd)) * inv0[g]
        m = abs(v - da[g])
        if m > top0:
            top0 = m
        da2[g] = v
        if has_w:
            for i in range(lo, hi):
                tsum[tc[i]] += w[i] * v
        else:
            for i in range(lo, hi):
                tsum[tc[i]] += v
    top1 = 0.0
    for t in range(b.shape[0]):
        v = (r[t] - tsum[t]) * inv1[t]
        m = abs(v - b[t])
        if m > top1:
            top1 = m
        b2[t] = v
    return top0 + top1


@njit(cache=True, nogil=True)
def _two_way_irons_tuck(starts, tc, da, b, pda, pb, ppda, ppb, dt, bt):  # pragma: no cover - compiled
    """(da, b) <- the Irons-Tuck extrapolation from the iterates x, P(x), P(P(x)) given by their coefficients:
    the sums over the rows of :func:`_irons_tuck` with each row's difference a unit term plus a time term."""
    for t in range(b.shape[0]):
        a = ppb[t] - pb[t]
        dt[t] = a
        bt[t] = a - pb[t] + b[t]
    ssq = 0.0
    cross = 0.0
    ssq2 = 0.0  # the odd rows of each run: two sums each, half the wait on each addition
    cross2 = 0.0
    for g in range(starts.shape[0] - 1):
        au = ppda[g] - pda[g]
        bu = au - pda[g] + da[g]
        lo = starts[g]
        hi = starts[g + 1]
        mid = lo + (hi - lo) // 2 * 2
        for i in range(lo, mid, 2):
            a = au + dt[tc[i]]
            d = bu + bt[tc[i]]
            ssq += d * d
            cross += a * d
            a = au + dt[tc[i + 1]]
            d = bu + bt[tc[i + 1]]
            ssq2 += d * d
            cross2 += a * d
        if mid < hi:
            a = au + dt[tc[mid]]
            d = bu + bt[tc[mid]]
            ssq += d * d
            cross += a * d
    ssq += ssq2
    cross += cross2
    if ssq <= 0.0 or not np.isfinite(ssq):
        da[:] = ppda
        b[:] = ppb
        return
    coef = cross / ssq
    for g in range(da.shape[0]):
        da[g] = ppda[g] - coef * (ppda[g] - pda[g])
    for t in range(b.shape[0]):
        b[t] = ppb[t] - coef * (ppb[t] - pb[t])


@njit(cache=True, nogil=True)
def _two_way_write(x, cu, ct, starts, in_runs, a1, da, b):  # pragma: no cover - compiled
    """x <- x - a1[u] - da[u] - b[t] (subtracted in that order)."""
    if in_runs:
        for g in range(starts.shape[0] - 1):
            m = a1[g]
            d = da[g]
            for i in range(starts[g], starts[g + 1]):
                x[i] = ((x[i] - m) - d) - b[ct[i]]
    else:
        for i in range(x.shape[0]):
            u = cu[i]
            x[i] = ((x[i] - a1[u]) - da[u]) - b[ct[i]]


@njit(cache=True, nogil=True)
def demean_two_way(x, cu, ct, starts, in_runs, tc, wr, w, has_w, inv0, inv1, tol, max_iter):  # pragma: no cover
    """:func:`demean_into` for two factors over the coefficients, the result written into ``x``; (sweeps,
    converged). It stops when a sweep subtracts at most ``tol`` times the largest absolute value of ``x``.
    ``starts``: where each unit's rows begin in unit order (``in_runs``: the rows are in that order); ``tc``,
    ``wr``: the time codes and weights in unit order; ``w``: the weights in the rows' order."""
    g0 = inv0.shape[0]
    g1 = inv1.shape[0]
    a1 = np.empty(g0)
    rho = np.empty(g0)
    r = np.empty(g1)
    da = np.zeros(g0)
    b = np.empty(g1)
    pda = np.empty(g0)
    pb = np.empty(g1)
    ppda = np.empty(g0)
    ppb = np.empty(g1)
    tsum = np.empty(g1)
    dt = np.empty(g1)
    bt = np.empty(g1)
    total, big = _two_way_first(x, cu, ct, starts, in_runs, w, has_w, inv0, inv1, a1, rho, r)
    limit = tol * max(big, 1e-300)  # the row sweeps' limit: tol times the largest absolute value
    for t in range(g1):
        b[t] = r[t] * inv1[t]
    if total <= limit:
        _two_way_write(x, cu, ct, starts, in_runs, a1, da, b)
        return 1, True
    sweeps = 1
    while sweeps < max_iter:
        sweeps += 1
        if _two_way_sweep(starts, tc, wr, has_w, inv0, inv1, rho, r, da, b, pda, pb, tsum) <= limit:
            _two_way_write(x, cu, ct, starts, in_runs, a1, pda, pb)
            return sweeps, True
        sweeps += 1
        if _two_way_sweep(starts, tc, wr, has_w, inv0, inv1, rho, r, pda, pb, ppda, ppb, tsum) <= limit:
            _two_way_write(x, cu, ct, starts, in_runs, a1, ppda, ppb)
            return sweeps, True
        _two_way_irons_tuck(starts, tc, da, b, pda, pb, ppda, ppb, dt, bt)
    _two_way_write(x, cu, ct, starts, in_runs, a1, da, b)
    return sweeps, False
