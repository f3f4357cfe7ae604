"""Compiled logistic pass and prediction (numba). Imported only by ``logistic.py`` when the compiled kernels
run on an in-memory design.

One call reads a fixed range of rows (a *chunk*) in blocks that stay in the L1/L2 cache and forms, per
block, the linear index, the probabilities of the observed outcomes, the log-likelihood, the information
weights v = w p (1 - p) and residuals w (y - p), then X'[v X | r] (upper triangle only). Each chunk's sums
go to its own row of ``partials``; the caller adds the rows in chunk order, so the numbers do not depend on
how many threads ran the chunks.

Vectorisation: exp and log are evaluated by the polynomials below (the loops over a block compile to SIMD
code; libm's scalar exp and log cost more than the whole rest of the pass). Both are within 2 ulps of
libm's in the range used: exp on [-700, 700] (2^k times a degree-13 Taylor polynomial on |r| <= ln 2 / 2,
Cody-Waite reduction), log on normal positive numbers (exponent times ln 2 plus the atanh series of the
mantissa in [sqrt(1/2), sqrt(2))). Rows with |index| > 700 (or not finite) are redone afterwards with the
exact scalar formulas of the numpy pass's overflow branch. Only the dot products are compiled with
``reassoc`` (they are then summed in SIMD lanes, in an order fixed by the compiled code); everything else
keeps IEEE order (``contract`` lets a * b + c be one fused, more accurate operation).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

BLOCK = 256  # rows per block (cache-resident columns and temporaries; at most 1000, see _log_sum)
EXP_SAFE = 700.0
SAFE_BITS = 0x4085E00000000000  # the bits of EXP_SAFE = 700.0
INV_LN2 = 1.4426950408889634
LN2_HI = 6.93147180369123816490e-01  # ln 2 with 21 trailing zero bits: k * LN2_HI is exact for |k| < 2^21
LN2_LO = 1.90821492927058770002e-10
SQRT2 = 1.4142135623730951
_EXACT = {"contract"}
_SUMS = {"reassoc", "contract"}


@njit(cache=True, nogil=True, fastmath=_SUMS, error_model="numpy")
def _dot(a, b, m):  # pragma: no cover - compiled
    s = 0.0
    for i in range(m):
        s += a[i] * b[i]
    return s


@njit(cache=True, nogil=True, fastmath=_SUMS, error_model="numpy")
def _sum(a, m):  # pragma: no cover - compiled
    s = 0.0
    for i in range(m):
        s += a[i]
    return s


@njit(cache=True, nogil=True, fastmath=_SUMS, error_model="numpy")
def _dot4(u, a, b, c, d, m):  # pragma: no cover - compiled
    """Four dot products with ``u`` in one sweep (``u`` read once)."""
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    for i in range(m):
        ui = u[i]
        s0 += ui * a[i]
        s1 += ui * b[i]
        s2 += ui * c[i]
        s3 += ui * d[i]
    return s0, s1, s2, s3


@njit(cache=True, nogil=True, fastmath=_EXACT, error_model="numpy")
def _exp_block(x, out, bits, scale, m):  # pragma: no cover - compiled
    """out[i] = exp(x[i]) for x clamped to [-EXP_SAFE, EXP_SAFE] (``bits``/``scale``: one int64 scratch and
    its float64 view, where 2^k is assembled)."""
    for i in range(m):
        xi = x[i]
        xi = xi if xi > -EXP_SAFE else -EXP_SAFE
        xi = xi if xi < EXP_SAFE else EXP_SAFE
        k = math.floor(xi * INV_LN2 + 0.5)
        r = (xi - k * LN2_HI) - k * LN2_LO
        p = 1.0 / 6227020800.0
        p = p * r + 1.0 / 479001600.0
        p = p * r + 1.0 / 39916800.0
        p = p * r + 1.0 / 3628800.0
        p = p * r + 1.0 / 362880.0
        p = p * r + 1.0 / 40320.0
        p = p * r + 1.0 / 5040.0
        p = p * r + 1.0 / 720.0
        p = p * r + 1.0 / 120.0
        p = p * r + 1.0 / 24.0
        p = p * r + 1.0 / 6.0
        p = p * r + 0.5
        p = p * r + 1.0
        p = p * r + 1.0
        out[i] = p
        bits[i] = (np.int64(k) + 1023) << 52
    for i in range(m):
        out[i] *= scale[i]


@njit(cache=True, nogil=True, fastmath=_EXACT, error_model="numpy")
def _log_block(s, sbits, mbits, mant, out, m):  # pragma: no cover - compiled
    """out[i] = log(s[i]) for normal positive s (``sbits``: the int64 view of ``s``; ``mbits``/``mant``: an
    int64 scratch and its float64 view, where the mantissa is assembled)."""
    for i in range(m):
        b = sbits[i]
        out[i] = float((b >> 52) - 1023)
        mbits[i] = (b & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000  # the mantissa, in [1, 2)
    for i in range(m):
        f = mant[i]
        e = out[i]
        if f > SQRT2:
            f *= 0.5
            e += 1.0
        u = (f - 1.0) / (f + 1.0)
        u2 = u * u
        t = 2.0 / 23.0
        t = t * u2 + 2.0 / 21.0
        t = t * u2 + 2.0 / 19.0
        t = t * u2 + 2.0 / 17.0
        t = t * u2 + 2.0 / 15.0
        t = t * u2 + 2.0 / 13.0
        t = t * u2 + 2.0 / 11.0
        t = t * u2 + 2.0 / 9.0
        t = t * u2 + 2.0 / 7.0
        t = t * u2 + 2.0 / 5.0
        t = t * u2 + 2.0 / 3.0
        out[i] = e * LN2_HI + (2.0 * u + (u * u2 * t + e * LN2_LO))


@njit(cache=True, nogil=True, fastmath=_SUMS, error_model="numpy")
def _log_sum(s_bits, mbits, mant, m):  # pragma: no cover - compiled
    """sum log s[i] over i < m for normal positive s (``s_bits``: its int64 view; ``mbits``/``mant``: an int64
    scratch and its float64 view): with s = 2^E M (M in [1, 2)), the exponents' sum times ln 2 plus the log
    of the mantissas' product (below 2^m: no overflow for m <= BLOCK <= 1000). The product's rounding
    (at most m ulps) moves the log by at most m ulps of 1, as m per-row logs would."""
    ex = 0
    for i in range(m):
        b = s_bits[i]
        ex += (b >> 52) - 1023
        mbits[i] = (b & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000
    prod = 1.0
    for i in range(m):
        prod *= mant[i]
    e = float(ex)
    return e * LN2_HI + (math.log(prod) + e * LN2_LO)


@njit(cache=True, nogil=True, error_model="numpy")
def _top_bits(bits, m):  # pragma: no cover - compiled
    """The largest |a[i]| as its bit pattern (``bits``: the int64 view of ``a``). The bits of non-negative
    floats order like the floats, and a NaN's lie above infinity's, so that integer maximum (which runs on
    vectors, as a float maximum with NaN rules does not) says both the largest |a| and whether any is too
    large or not a number."""
    top = 0
    for i in range(m):
        b = bits[i] & 0x7FFFFFFFFFFFFFFF
        top = b if b > top else top
    return top


@njit(cache=True, nogil=True, fastmath=_EXACT, error_model="numpy")
def _index(x, cs, p, const, beta, b0, m, eta):  # pragma: no cover - compiled
    """eta = rows b0..b0+m-1 of X beta (column j of X is x[j * cs:], after the constant if ``const``).
    Loops index slices from 0 (an index plus an offset would be checked for wrapping around)."""
    off = 1 if const else 0
    b = beta[0] if const else 0.0
    for i in range(m):
        eta[i] = b
    for j in range(p):
        bj = beta[j + off]
        o = j * cs + b0
        xj = x[o : o + m]
        for i in range(m):
            eta[i] += xj[i] * bj


@njit(cache=True, nogil=True, fastmath=_EXACT, error_model="numpy")
def _probabilities(e, sign, s, v, r, m):  # pragma: no cover - compiled
    """From e = exp(-q): s = 1 / (1 + e) (the probability of the observed outcome), 1 - s = e s (without
    cancellation), v = s (1 - s) and r = sign (1 - s) = y - p."""
    for i in range(m):
        si = 1.0 / (1.0 + e[i])
        ti = e[i] * si
        s[i] = si
        v[i] = si * ti
        r[i] = ti * sign[i]


@njit(cache=True, nogil=True, error_model="numpy")
def _exact_row(q):  # pragma: no cover - compiled
    """(s, 1 - s, log s) of one row by the overflow-safe formulas (those of ``scipy.special.expit`` and
    ``-numpy.logaddexp(0, -q)``)."""
    if q < 0.0:
        e = math.exp(q)
        return e / (1.0 + e), 1.0 / (1.0 + e), q - math.log1p(e)
    e = math.exp(-q)
    return 1.0 / (1.0 + e), e / (1.0 + e), -math.log1p(e)


@njit(cache=True, nogil=True, fastmath=_SUMS, error_model="numpy")
def _dot2x4(a, b, c0, c1, c2, c3, m):  # pragma: no cover - compiled
    """The dot products of ``a`` and ``b`` with four columns in one sweep (each value read once)."""
    s0 = s1 = s2 = s3 = t0 = t1 = t2 = t3 = 0.0
    for i in range(m):
        ai = a[i]
        bi = b[i]
        s0 += ai * c0[i]
        s1 += ai * c1[i]
        s2 += ai * c2[i]
        s3 += ai * c3[i]
        t0 += bi * c0[i]
        t1 += bi * c1[i]
        t2 += bi * c2[i]
        t3 += bi * c3[i]
    return s0, s1, s2, s3, t0, t1, t2, t3


@njit(cache=True, nogil=True, fastmath=_SUMS, error_model="numpy")
def _dot2(a, b, c, m):  # pragma: no cover - compiled
    s = 0.0
    t = 0.0
    for i in range(m):
        s += a[i] * c[i]
        t += b[i] * c[i]
    return s, t


@njit(cache=True, nogil=True, error_model="numpy")
def _add4(acc, at, step, s0, s1, s2, s3):  # pragma: no cover - compiled
    acc[at] += s0
    acc[at + step] += s1
    acc[at + 2 * step] += s2
    acc[at + 3 * step] += s3


@njit(cache=True, nogil=True, error_model="numpy")
def _products(x, cs, p, off, b0, m, v, r, ua, ub, acc, width):  # pragma: no cover - compiled
    """Add one block's X'[v X | r] into ``acc`` (row-major k x width, upper triangle): the columns are
    taken two at a time (u = v x_j, v x_j+1) against four columns x_l at a time, so that each value read
    from the cache feeds several products."""
    k = width - 1
    # the constant's row (sum v x_l, when there is a constant) and the score (sum r x_l)
    h = 0
    while h < p:
        o = h * cs + b0
        if h + 4 <= p:
            s0, s1, s2, s3, t0, t1, t2, t3 = _dot2x4(v, r, x[o:], x[o + cs :], x[o + 2 * cs :], x[o + 3 * cs :], m)
            if off:
                _add4(acc, h + 1, 1, s0, s1, s2, s3)
            _add4(acc, (h + off) * width + k, width, t0, t1, t2, t3)
            h += 4
        else:
            s0, t0 = _dot2(v, r, x[o:], m)
            if off:
                acc[h + 1] += s0
            acc[(h + off) * width + k] += t0
            h += 1
    j = 0
    while j < p:
        oa = j * cs + b0
        xa = x[oa : oa + m]
        ca = j + off
        if j + 1 < p:
            xb = x[oa + cs : oa + cs + m]
            for i in range(m):
                ua[i] = v[i] * xa[i]
                ub[i] = v[i] * xb[i]
            l0 = 0
            while l0 + 4 <= j + 1:
                o = l0 * cs + b0
                s0, s1, s2, s3, t0, t1, t2, t3 = _dot2x4(
                    ua, ub, x[o:], x[o + cs :], x[o + 2 * cs :], x[o + 3 * cs :], m
                )
                _add4(acc, (l0 + off) * width + ca, width, s0, s1, s2, s3)
                _add4(acc, (l0 + off) * width + ca + 1, width, t0, t1, t2, t3)
                l0 += 4
            for h in range(l0, j + 1):
                s0, t0 = _dot2(ua, ub, x[h * cs + b0 :], m)
                acc[(h + off) * width + ca] += s0
                acc[(h + off) * width + ca + 1] += t0
            acc[(ca + 1) * width + ca + 1] += _dot(ub, xb, m)
            j += 2
        else:
            for i in range(m):
                ua[i] = v[i] * xa[i]
            l0 = 0
            while l0 + 4 <= j + 1:
                o = l0 * cs + b0
                s0, s1, s2, s3 = _dot4(ua, x[o:], x[o + cs :], x[o + 2 * cs :], x[o + 3 * cs :], m)
                _add4(acc, (l0 + off) * width + ca, width, s0, s1, s2, s3)
                l0 += 4
            for h in range(l0, j + 1):
                acc[(h + off) * width + ca] += _dot(ua, x[h * cs + b0 :], m)
            j += 1


@njit(cache=True, nogil=True, error_model="numpy")
def pass_chunks(x, n, cs, p, const, beta, y, w, has_w, chunk, c0, c1, partials):  # pragma: no cover - compiled
    """The logistic pass over chunks c0..c1-1 (rows c * chunk .. (c + 1) * chunk - 1 of n): row c of
    ``partials`` gets chunk c's X'[v X | r] (k x (k + 1), row-major, upper triangle and last column), then
    its log-likelihood, sum v and max |eta|. The p columns of the matrix are x[j * cs : j * cs + n]
    (column-major, read in place); ``const``: the design is a constant 1 followed by them, else they are
    every column."""
    off = 1 if const else 0
    k = p + off
    width = k + 1
    q = np.empty(BLOCK)
    q_bits = q.view(np.int64)
    top_bits = np.empty(1, np.int64)
    top = top_bits.view(np.float64)
    sign = np.empty(BLOCK)
    nq = np.empty(BLOCK)
    e = np.empty(BLOCK)
    s = np.empty(BLOCK)
    s_bits = s.view(np.int64)
    bits = np.empty(BLOCK, np.int64)
    scale = bits.view(np.float64)
    v = np.empty(BLOCK)
    r = np.empty(BLOCK)
    ua = np.empty(BLOCK)
    ub = np.empty(BLOCK)
    ll = np.empty(BLOCK)
    for c in range(c0, c1):
        acc = partials[c]
        acc[:] = 0.0
        llf = 0.0
        sum_v = 0.0
        max_eta = 0.0
        stop = min((c + 1) * chunk, n)
        for b0 in range(c * chunk, stop, BLOCK):
            m = min(BLOCK, stop - b0)
            _index(x, cs, p, const, beta, b0, m, q)
            yb = y[b0 : b0 + m]
            for i in range(m):
                sign[i] = 2.0 * yb[i] - 1.0  # +1 for y = 1, -1 for y = 0
                q[i] *= sign[i]  # the log-odds of the observed outcome
                nq[i] = -q[i]
            top_bits[0] = _top_bits(q_bits, m)
            bad = top_bits[0] > SAFE_BITS
            _exp_block(nq, e, bits, scale, m)  # (not in place: the loop would not run on vectors)
            _probabilities(e, sign, s, v, r, m)
            if not (bad or has_w):  # the block's log-likelihood from one log of a product
                llf += _log_sum(s_bits, bits, scale, m)
            else:
                _log_block(s, s_bits, bits, scale, ll, m)
            if not bad:
                if top[0] > max_eta:
                    max_eta = top[0]
            else:  # rows where exp(-q) over- or underflows (or q is not a number): the exact formulas
                for i in range(m):
                    qi = q[i]
                    a = abs(qi)
                    if a != a or a > max_eta:
                        max_eta = a
                    if not a <= EXP_SAFE:
                        si, ti, li = _exact_row(qi)
                        v[i] = si * ti
                        r[i] = ti * sign[i]
                        ll[i] = li
            if has_w:
                wb = w[b0 : b0 + m]
                for i in range(m):
                    wi = wb[i]
                    v[i] *= wi
                    r[i] *= wi
                    ll[i] *= wi
            if bad or has_w:
                llf += _sum(ll, m)
            sv = _sum(v, m)
            sum_v += sv
            if const:
                acc[0] += sv
                acc[k] += _sum(r, m)
            _products(x, cs, p, off, b0, m, v, r, ua, ub, acc, width)
        tail = k * width
        acc[tail] = llf
        acc[tail + 1] = sum_v
        acc[tail + 2] = max_eta


@njit(cache=True, nogil=True, error_model="numpy")
def predict_chunks(x, n, cs, p, const, beta, chunk, c0, c1, index, prob):  # pragma: no cover - compiled
    """index = X beta and prob = 1 / (1 + exp(-index)) for the rows of chunks c0..c1-1 (the matrix as in
    :func:`pass_chunks`)."""
    nq = np.empty(BLOCK)
    nq_bits = nq.view(np.int64)
    e = np.empty(BLOCK)
    bits = np.empty(BLOCK, np.int64)
    scale = bits.view(np.float64)
    for c in range(c0, c1):
        stop = min((c + 1) * chunk, n)
        for b0 in range(c * chunk, stop, BLOCK):
            m = min(BLOCK, stop - b0)
            eta = index[b0 : b0 + m]
            _index(x, cs, p, const, beta, b0, m, eta)
            for i in range(m):
                nq[i] = -eta[i]
            bad = _top_bits(nq_bits, m) > SAFE_BITS
            _exp_block(nq, e, bits, scale, m)
            out = prob[b0 : b0 + m]
            for i in range(m):
                out[i] = 1.0 / (1.0 + e[i])
            if bad:
                for i in range(m):
                    if not abs(eta[i]) <= EXP_SAFE:
                        out[i] = 1.0 / (1.0 + math.exp(-eta[i]))


@njit(cache=True, nogil=True, error_model="numpy")
def every_kth(x, cs, p, every, r0, r1, out):  # pragma: no cover - compiled
    """Rows r0..r1-1 of ``out`` (column-major) = rows r * every of the matrix (as in :func:`pass_chunks`)."""
    for j in range(p):
        col = x[j * cs :]
        dst = out[:, j]
        for r in range(r0, r1):
            dst[r] = col[r * every]
