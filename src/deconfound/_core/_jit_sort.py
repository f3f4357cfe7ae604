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
    value and keeps rows in order within equal high bits. Runs of equal high bits whose full keys are not
    already in order (values equal to about 1e-10 relative) are then sorted exactly by a stable merge sort,
    which keeps the row order of equal values."""
    n = bits.shape[0]
    shift = 1
    while (1 << shift) < n:
        shift += 1
    low = np.uint64((1 << shift) - 1)
    sign = np.uint64(0x8000000000000000)
    keys = np.empty(n, np.uint64)
    mono = np.empty(n, np.uint64)
    passes = (64 - shift + _DIGIT - 1) // _DIGIT
    buckets = 1 << _DIGIT
    mask = np.uint64(buckets - 1)
    counts = np.zeros((passes, buckets), np.int64)
    for i in range(n):
        u = bits[i]
        if u == sign:  # -0.0 sorts with 0.0
            u = np.uint64(0)
        if (u & np.uint64(0x7FF0000000000000)) == np.uint64(0x7FF0000000000000) and (
            u & np.uint64(0x000FFFFFFFFFFFFF)
        ) != np.uint64(0):
            return False  # NaN
        if u & sign:
            m = ~u
        else:
            m = u | sign
        mono[i] = m
        k = ((m >> np.uint64(shift)) << np.uint64(shift)) | np.uint64(i)
        keys[i] = k
        for d in range(passes):
            counts[d, (k >> np.uint64(shift + d * _DIGIT)) & mask] += 1
    other = np.empty(n, np.uint64)
    src, dst = keys, other
    offsets = np.empty(buckets, np.int64)
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
    for i in range(n):
        out[i] = np.int64(src[i] & low)
    # exact order within runs of equal high bits
    i = 0
    while i < n:
        j = i + 1
        high = src[i] >> np.uint64(shift)
        while j < n and (src[j] >> np.uint64(shift)) == high:
            j += 1
        if j - i > 1:
            ordered = True
            for q in range(i + 1, j):
                if mono[out[q]] < mono[out[q - 1]]:
                    ordered = False
                    break
            if not ordered:
                sub = out[i:j].copy()  # increasing rows: a stable sort by key keeps equal values in row order
                sub_keys = np.empty(j - i, np.uint64)
                for q in range(j - i):
                    sub_keys[q] = mono[sub[q]]
                perm = np.argsort(sub_keys, kind="mergesort")
                for q in range(j - i):
                    out[i + q] = sub[perm[q]]
        i = j
    return True


@njit(cache=True)
def split_sorted(
    values, treated, order, sorted_values, smaller0, smaller1, pos0, pos1, rows0, rows1, vals0, vals1
):  # pragma: no cover
    """One pass over the units in value order (``order``): the sorted values, per arm the positions in
    ``order`` of its units, their rows and values, and for every position the arm's units strictly before
    the first position holding an equal value (:meth:`ScoreSort.build`). Returns True when some values
    are equal (the numpy path's ``smaller`` then reads the counts at each run's start)."""
    n = order.shape[0]
    c0 = 0
    c1 = 0
    run0 = 0
    run1 = 0
    tied = False
    prev = 0.0
    for p in range(n):
        r = order[p]
        v = values[r]
        sorted_values[p] = v
        if p == 0 or v != prev:
            run0 = c0
            run1 = c1
        else:
            tied = True
        prev = v
        smaller0[p] = run0
        smaller1[p] = run1
        if treated[r]:
            pos1[c1] = p
            rows1[c1] = r
            vals1[c1] = v
            c1 += 1
        else:
            pos0[c0] = p
            rows0[c0] = r
            vals0[c0] = v
            c0 += 1
    return tied
