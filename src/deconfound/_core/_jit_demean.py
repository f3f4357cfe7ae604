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
