"""Compiled stable argsort of float64 values and the one-pass split of a sorted score by arm (numba).
Imported only when the compiled kernels run; the numpy paths are :func:`sorting.stable_argsort` and
:meth:`ScoreSort.build`."""

from __future__ import annotations

import numpy as np
from numba import njit

#: bits of one radix digit (2048 buckets: the counts stay in the CPU's first-level cache)
_DIGIT = 11


@njit(cache=True)
def radix_argsort(bits, out):  # pragma: no cover - compiled
    """``out`` receives ``np.argsort(values, kind="stable")`` of the float64 values whose bits are ``bits``
    (uint64). Returns False (``out`` undefined) when a value is NaN.

    Each value maps to an unsigned key with the same order (-0.0 as 0.0); the row number fills the key's
    low ``shift`` bits, so a stable least-significant-digit radix sort of the remaining high bits orders by
    value and keeps rows in order within equal high bits (:func:`radix_keys`). Runs of equal high bits
    whose values are not already in order (values equal to about 1e-10 relative) are then sorted exactly
    by a stable merge sort, which keeps the row order of equal values (:func:`merge_rows`)."""
    n = bits.shape[0]
    shift = key_shift(n)
    keys = np.empty(n, np.uint64)
    other = np.empty(n, np.uint64)
    if not radix_keys(bits, 0, n, shift, keys, other):
        return False
    merge_rows(keys, n, shift, bits, out)
    return True


@njit(cache=True, inline="always")
def key_shift(n):  # pragma: no cover - compiled
    """The bits of the row numbers of ``n`` values (at least 1)."""
    shift = 1
    while (1 << shift) < n:
        shift += 1
    return shift


@njit(cache=True, inline="always")
def _mono(u):  # pragma: no cover - compiled
    """An unsigned integer with the order of the float64 whose bits are ``u`` (-0.0 as 0.0; not NaN)."""
    sign = np.uint64(0x8000000000000000)
    if u == sign:  # -0.0 sorts with 0.0
        u = np.uint64(0)
    if u & sign:
        return ~u
    return u | sign


@njit(cache=True, nogil=True)
def radix_keys(bits, start, stop, shift, keys, other):  # pragma: no cover - compiled
    """The sorted keys of the values ``start..stop - 1`` into ``keys[start:stop]`` (``other``: scratch of the
    same size): each value's monotone image (:func:`_mono`) with the row number in its low ``shift`` bits,
    sorted by a least-significant-digit radix sort of the high bits. Returns False when a value is NaN.
    Keys are distinct (they hold the rows), so sorted segments merge into the keys' order of all values."""
    n = stop - start
    passes = (64 - shift + _DIGIT - 1) // _DIGIT
    buckets = 1 << _DIGIT
    mask = np.uint64(buckets - 1)
    counts = np.zeros((passes, buckets), np.int64)
    for i in range(start, stop):
        u = bits[i]
        if (u & np.uint64(0x7FF0000000000000)) == np.uint64(0x7FF0000000000000) and (
            u & np.uint64(0x000FFFFFFFFFFFFF)
        ) != np.uint64(0):
            return False  # NaN
        k = ((_mono(u) >> np.uint64(shift)) << np.uint64(shift)) | np.uint64(i)
        keys[i] = k
        for d in range(passes):
            counts[d, (k >> np.uint64(shift + d * _DIGIT)) & mask] += 1
    src, dst = keys[start:stop], other[start:stop]
    offsets = np.empty(buckets, np.int64)
    flips = 0
    for d in range(passes):
        trivial = False
        for c in range(buckets):
            if counts[d, c] == n:
                trivial = True
                break
        if trivial:
            continue
        total = 0
        for c in range(buckets):
            offsets[c] = total
            total += counts[d, c]
        s = np.uint64(shift + d * _DIGIT)
        for i in range(n):
            k = src[i]
            c = (k >> s) & mask
            dst[offsets[c]] = k
            offsets[c] += 1
        src, dst = dst, src
        flips += 1
    if flips % 2 == 1:  # an odd number of passes ended in the scratch
        for i in range(n):
            keys[start + i] = src[i]
    return True


@njit(cache=True, nogil=True)
def merge_rows(keys, middle, shift, bits, out):  # pragma: no cover - compiled
    """The stable order ``out`` from the sorted, distinct keys ``keys[:middle]`` and ``keys[middle:]``
    (:func:`radix_keys`; ``middle`` = n: one sorted run): merged, the rows read off the keys' low ``shift``
    bits, then each run of equal high bits whose values are not in order sorted exactly (a stable merge
    sort of increasing rows keeps the row order of equal values)."""
    n = keys.shape[0]
    low = np.uint64((1 << shift) - 1)
    s = np.uint64(shift)
    runs = np.empty(n // 2 + 1, np.int64)  # starts of runs of equal high bits (pages touched only when used)
    n_runs = 0
    top = np.uint64(0xFFFFFFFFFFFFFFFF)  # above every key (the largest is +inf's image with a row)
    i = 0
    j = middle
    prev = np.uint64(0)
    run_open = False
    for q in range(n):  # without branches on the keys: a past-the-end run reads as the largest key
        a = keys[min(i, middle - 1)] if i < middle else top
        b = keys[min(j, n - 1)] if j < n else top
        take = a < b
        k = a if take else b
        i += take
        j += 1 - take
        out[q] = np.int64(k & low)
        high = k >> s
        if q > 0 and high == prev:
            if not run_open:
                runs[n_runs] = q - 1
                n_runs += 1
                run_open = True
        else:
            run_open = False
        prev = high
    for r in range(n_runs):
        first = runs[r]
        high = _mono(bits[out[first]]) >> s
        last = first + 1
        while last < n and (_mono(bits[out[last]]) >> s) == high:
            last += 1
        ordered = True
        for q in range(first + 1, last):
            if _mono(bits[out[q]]) < _mono(bits[out[q - 1]]):
                ordered = False
                break
        if not ordered:
            sub = out[first:last].copy()  # increasing rows: a stable sort by key keeps equal values in row order
            sub_keys = np.empty(last - first, np.uint64)
            for q in range(last - first):
                sub_keys[q] = _mono(bits[sub[q]])
            perm = np.argsort(sub_keys, kind="mergesort")
            for q in range(last - first):
                out[first + q] = sub[perm[q]]


@njit(cache=True, nogil=True)
def gather_sorted(values, treated, order, start, stop, sorted_values, arm1):  # pragma: no cover - compiled
    """Positions ``start .. stop - 1`` of the units in value order (``order``): each unit's value and arm
    (1 treated), read by row. The loads are independent of each other, so the processor overlaps them
    (and two threads can share the positions)."""
    for p in range(start, stop):
        r = order[p]
        sorted_values[p] = values[r]
        arm1[p] = np.int64(treated[r])


@njit(cache=True)
def split_gathered(order, sorted_values, arm1, n0, smaller0, smaller1, pos, rows, vals):  # pragma: no cover
    """The split by arm of the units in value order, from their gathered values and arms
    (:func:`gather_sorted`): per arm the positions in ``order`` of its units, their rows and values
    (``pos``, ``rows`` and ``vals``: the controls' in the first ``n0`` entries, then the treated's), and for
    every position the arm's units strictly before the first position holding an equal value
    (:meth:`ScoreSort.build`). Returns True when some values are equal (the numpy path's ``smaller`` then
    reads the counts at each run's start).

    One sequential pass without branches on the arm. (In one pass with the gathers, every store waited on
    a load from a random row, since the arm decided where it went: twice as slow.)"""
    n = order.shape[0]
    c0 = 0
    c1 = 0
    run0 = 0
    run1 = 0
    tied = False
    prev = 0.0
    for p in range(n):
        v = sorted_values[p]
        if p == 0 or v != prev:
            run0 = c0
            run1 = c1
        else:
            tied = True
        prev = v
        smaller0[p] = run0
        smaller1[p] = run1
        t = arm1[p]
        at = c0 + (n0 + c1 - c0) * t  # the next free entry of the unit's arm
        pos[at] = p
        rows[at] = order[p]
        vals[at] = v
        c1 += t
        c0 += 1 - t
    return tied
