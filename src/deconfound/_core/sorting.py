"""An exact stable argsort of float64 values, faster than numpy's own on large arrays."""

from __future__ import annotations

import numpy as np

from . import kernels

#: below this many values numpy's own stable sort is as fast
_SMALL = 4096
#: from this many keys on, polars sorts the packed integer keys (about 4x faster than numpy's sort of
#: 64-bit integers on our machines; exact: the keys are distinct integers)
_POLARS_KEYS = 1 << 16


def sort_keys(key: np.ndarray) -> np.ndarray:
    """Sorted copy of distinct unsigned 64-bit keys (polars' sort for large arrays, else numpy's)."""
    if len(key) >= _POLARS_KEYS:
        try:
            import polars as pl
        except ImportError:  # pragma: no cover - polars is a dependency
            pass
        else:
            out = pl.Series(key, dtype=pl.UInt64).sort().to_numpy()
            if out.dtype == np.uint64 and out.shape == key.shape:
                return out
    return np.sort(key)


def stable_argsort(values: np.ndarray) -> np.ndarray:
    """``np.argsort(values, kind="stable")`` for float64 values, about twice as fast on large arrays.

    Each value's bits are mapped to an unsigned integer with the same order, and the low bits are replaced
    by the row number, so that one plain sort of distinct integers (:func:`sort_keys`) orders by value and
    breaks ties by row. Values whose kept high bits agree (equal to about 1e-10 relative, rare unless
    values repeat) are then put in exact order by a second sort of just those. NaN falls back to numpy.
    """
    values = np.asarray(values)
    n = len(values)
    bits = max(1, (n - 1).bit_length())
    if n < _SMALL or values.dtype != np.float64 or values.ndim != 1 or bits > 40:
        return np.argsort(values, kind="stable")
    if kernels.compiled():  # a radix sort of the same keys, compiled
        from . import _jit_sort

        out = np.empty(n, np.intp)
        if _jit_sort.radix_argsort(np.ascontiguousarray(values).view(np.uint64), out):
            return out
        return np.argsort(values, kind="stable")  # NaN
    u = (values + 0.0).view(np.uint64)  # + 0.0 turns -0.0 into 0.0, which compares equal to it
    # negative numbers (sign bit set): flip every bit; positive ones: set the sign bit
    mono = u ^ ((u >> np.uint64(63)) * np.uint64(0x7FFF_FFFF_FFFF_FFFF) + np.uint64(0x8000_0000_0000_0000))
    shift = np.uint64(bits)
    key = (mono >> shift) << shift
    key |= np.arange(n, dtype=np.uint64)
    key = sort_keys(key)
    order = (key & np.uint64((1 << bits) - 1)).astype(np.intp)
    if np.isnan(values[order[0]]) or np.isnan(values[order[-1]]):  # NaNs sort to either end
        return np.argsort(values, kind="stable")
    high = key >> shift
    same = high[1:] == high[:-1]
    if same.any():
        member = np.zeros(n, bool)
        member[:-1] = same
        member[1:] |= same
        idx = np.flatnonzero(member)
        new_run = np.ones(len(idx), bool)
        new_run[1:] = ~same[idx[1:] - 1]
        run = np.cumsum(new_run)
        sub = order[idx]
        order[idx] = sub[np.lexsort((sub, mono[sub], run))]
    return order


def stable_lexsort(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """``np.lexsort((values, groups))``: by integer group code, then value, ties by position.

    A stable sort by value followed by a stable sort of the group codes (a radix sort when the codes fit
    in 16 bits)."""
    groups = np.asarray(groups)
    order = stable_argsort(values)
    codes = groups[order]
    if len(codes) and codes.dtype.kind in "iu" and codes.min() >= 0 and codes.max() < 1 << 16:
        codes = codes.astype(np.uint16)
    return order[np.argsort(codes, kind="stable")]
