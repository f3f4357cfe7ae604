"""Compiled bootstrap counts (numba). Imported only by ``resample.py`` when the compiled kernels run.

The same draws as ``resample._block_counts_numpy``: replicate ``b``'s ``total`` rows of one block are
drawn from its own SplitMix64 stream, each 64-bit output cut into ``bits``-bit indices (those at or
above ``size`` are rejected), and counted into ``out[b]``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


@njit(cache=True, inline="always")
def _mix(z):  # pragma: no cover - compiled
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@njit(cache=True, nogil=True)
def block_counts(starts, totals, size, bits, out):  # pragma: no cover - compiled
    """Serial and without the GIL (the caller runs blocks in threads). ``out[b]`` (zeroed here) = the
    counts of ``totals[b]`` indices in [0, size) from the stream ``starts[b]``."""
    per = 64 // bits
    mask = np.uint64((1 << bits) - 1)
    ubits = np.uint64(bits)
    for b in range(out.shape[0]):
        row = out[b]
        row[:] = 0.0
        state = starts[b]
        need = totals[b]
        while need > 0:
            state += _GOLDEN
            z = _mix(state)
            for _ in range(per):
                idx = np.int64(z & mask)
                z = z >> ubits
                if idx < size:
                    row[idx] += 1.0
                    need -= 1
                    if need == 0:
                        break
