"""Compiled integer coding (numba). Imported only by ``codes.py`` when the compiled kernels run."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def first_appearance(values, lo, span):  # pragma: no cover - compiled
    """(codes, row of each code's first appearance) of integers in lo .. lo + span - 1, codes numbered in
    order of first appearance."""
    table = np.full(span, -1, np.int64)
    n = values.shape[0]
    codes = np.empty(n, np.intp)
    first = np.empty(min(n, span), np.int64)
    g = 0
    for i in range(n):
        k = values[i] - lo
        c = table[k]
        if c < 0:
            c = g
            table[k] = g
            first[g] = i
            g += 1
        codes[i] = c
    return codes, first[:g]


@njit(cache=True)
def sorted_runs(values):  # pragma: no cover - compiled
    """(codes, row where each code starts) of integers in non-decreasing order, the code stepping up by one
    where the value changes (one pass); (empty, empty) as soon as a value decreases."""
    n = values.shape[0]
    codes = np.empty(n, np.intp)
    first = np.empty(n, np.int64)
    g = 0
    first[0] = 0
    codes[0] = 0
    for i in range(1, n):
        a = values[i - 1]
        b = values[i]
        if b != a:
            if b < a:
                return codes[:0], first[:0]
            g += 1
            first[g] = i
        codes[i] = g
    return codes, first[: g + 1]


@njit(cache=True)
def increasing_within(unit, period):  # pragma: no cover - compiled
    """True when ``unit`` never decreases and ``period`` strictly increases within each unit (one pass)."""
    for i in range(1, unit.shape[0]):
        if unit[i] < unit[i - 1]:
            return False
        if unit[i] == unit[i - 1] and period[i] <= period[i - 1]:
            return False
    return True


@njit(cache=True)
def ranked(values, lo, span):  # pragma: no cover - compiled
    """(codes, distinct values, values as floats) of integers in lo .. lo + span - 1, the codes numbered in
    increasing order of value (two passes: which values occur, then each row's rank)."""
    seen = np.zeros(span, np.bool_)
    n = values.shape[0]
    for i in range(n):
        seen[values[i] - lo] = True
    rank = np.empty(span, np.int64)
    distinct = np.empty(span, np.int64)
    g = 0
    for v in range(span):
        if seen[v]:
            rank[v] = g
            distinct[g] = lo + v
            g += 1
    codes = np.empty(n, np.intp)
    as_float = np.empty(n, np.float64)
    for i in range(n):
        codes[i] = rank[values[i] - lo]
        as_float[i] = np.float64(values[i])
    return codes, distinct[:g], as_float
