"""Integer codes of a column without hashing it when its values allow: ``pd.factorize(values, sort=False)``'s
exact result (codes in order of first appearance, the distinct values in that order).

Panels are mostly keyed by integers, sorted by unit, with a few dozen periods. Hashing 5 million keys
costs about 0.1 s per column, and a panel's unit column is hashed several times (clusters, the panel
index, the fixed effects). Two cases need no hash table:

* integers sorted in non-decreasing order: the code steps up by one wherever the value changes (one compiled
  pass that gives up at the first decrease, or numpy's comparison and cumulative sum);
* integers within a range no wider than a few times the number of rows: a table indexed by value gives
  each value the next code the first time it is met (one compiled pass; numpy's without the compiled
  kernels would need a sort, so that case falls back to pandas there).

Anything else (text, floats, missing values, wide ranges) goes to ``pandas.factorize``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import kernels

#: a value table at most this many times the number of rows (and at most 2^26 entries) is used
RANGE_FACTOR = 4
RANGE_MAX = 1 << 26


def factorize(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """(codes as intp, distinct values in order of first appearance), as ``pd.factorize(values, sort=False)``."""
    arr = np.asarray(values)
    if arr.dtype.kind in "iu" and arr.ndim == 1 and arr.size:
        if kernels.compiled():  # sorted: one compiled pass writes the codes (stops at the first decrease)
            from . import _jit_codes

            codes, first = _jit_codes.sorted_runs(arr)
            if len(codes):
                return codes, arr[first]
        elif arr.size == 1 or bool((arr[1:] >= arr[:-1]).all()):
            change = np.empty(arr.size, dtype=bool)
            change[0] = True
            np.not_equal(arr[1:], arr[:-1], out=change[1:])
            codes = np.cumsum(change, dtype=np.intp)
            codes -= 1
            return codes, arr[change]
        lo, hi = int(arr.min()), int(arr.max())
        span = hi - lo + 1
        if kernels.compiled() and span <= min(RANGE_FACTOR * arr.size, RANGE_MAX):
            from . import _jit_codes

            codes, first = _jit_codes.first_appearance(arr.astype(np.int64, copy=False), lo, span)
            return codes, arr[first]
    import pandas as pd

    codes, uniques = pd.factorize(arr, sort=False)
    return codes.astype(np.intp, copy=False), np.asarray(uniques)


def range_indexer(levels: Any, values: Any) -> np.ndarray | None:
    """Positions of ``values`` in ``levels`` when the levels are the integers lo, lo + 1, ..., in order (then a
    subtraction does what a hash lookup would); None otherwise. Values outside the levels are not checked:
    the caller's values come from the rows the levels were taken from."""
    lv = np.asarray(levels)
    v = np.asarray(values)
    if lv.dtype.kind not in "iu" or v.dtype.kind not in "iu" or lv.ndim != 1 or not lv.size:
        return None
    lo = int(lv[0])
    if int(lv[-1]) - lo != lv.size - 1 or not bool((lv[1:] > lv[:-1]).all()):
        return None
    return (v.astype(np.int64, copy=False) - lo).astype(np.intp, copy=False)
