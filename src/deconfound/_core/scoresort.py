"""One sort of a one-dimensional matching variable that serves every search of a matching estimate.

Matching on a score with replacement needs, for both groups, the units in score order: to find each
target's nearest units of the other group, the same-group neighbours of the conditional variances and
the windows of the local covariances of the Abadie-Imbens (2016) adjustment. :class:`ScoreSort` sorts
all units once (:func:`sorting.stable_argsort`) and derives everything else in linear time: the sorted units of
each group, and for every unit how many units of a group have a smaller value -- the insertion point a
binary search would return, here read off a running count.

On a line a unit's k nearest units of a group, with every unit tied with the farthest of them, are a run
of that group's sorted list; so are its same-group neighbours (with itself). :meth:`ScoreSort.match_ranges`
and :meth:`ScoreSort.same_arm_ranges` return those runs (lo..hi): they expand to exactly the pairs of
:func:`nearest.nearest_1d` and :func:`nearest.nearest_same_group_1d` (tests), but cost the same however
large the tied groups are (a score with a few distinct values, from discrete covariates). Window starts
equal :func:`nearest.window_1d`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from . import kernels, threads
from .nearest import TIE_ATOL, TIE_RTOL, with_sentinels
from .sorting import stable_argsort

#: windows placed per batch: small enough that temporaries stay in the CPU cache and
#: are recycled by the allocator instead of being mapped afresh (page faults cost more than the work)
BATCH = 1 << 15


@dataclass(frozen=True)
class ScoreSort:
    """All units sorted once by a matching variable, seen from both groups (arm 0 and arm 1)."""

    order: np.ndarray  # row positions of all units in value order (stable)
    values: np.ndarray  # the values in that order
    positions: tuple[np.ndarray, np.ndarray]  # per arm: positions in ``order`` of the arm's units
    smaller: tuple[np.ndarray, np.ndarray]  # per arm: for each position in ``order``, the arm's units below
    arm_rows: tuple[np.ndarray, np.ndarray]  # per arm: row positions of the arm's units in value order
    arm_sorted: tuple[np.ndarray, np.ndarray]  # per arm: their values (sorted)
    arm1_rows: np.ndarray  # per row: in arm 1

    @classmethod
    def build(cls, values: np.ndarray, treated: np.ndarray, order: np.ndarray | None = None) -> ScoreSort:
        """``treated`` is boolean (arm 1); ``order`` the stable sorting permutation when already known."""
        order = _argsort(values) if order is None else order
        if kernels.compiled() and len(order) and values.dtype == np.float64:
            return cls._build_compiled(values, treated, order)
        sorted_values = values[order]
        arm1 = treated[order]
        starts = _run_starts(sorted_values)
        positions, smaller, rows, arm_values = [], [], [], []
        for mask in (~arm1, arm1):
            at = np.flatnonzero(mask)
            positions.append(at)
            below = np.cumsum(mask) - mask  # arm units strictly before each position
            smaller.append(below if starts is None else below[starts])
            rows.append(order.take(at))  # taking by index is several times faster than a boolean mask
            arm_values.append(sorted_values.take(at))
        return cls(
            order,
            sorted_values,
            (positions[0], positions[1]),
            (smaller[0], smaller[1]),
            (rows[0], rows[1]),
            (arm_values[0], arm_values[1]),
            treated,
        )

    @classmethod
    def _build_compiled(cls, values: np.ndarray, treated: np.ndarray, order: np.ndarray) -> ScoreSort:
        """:meth:`build` by the compiled kernels (the same arrays): each unit's value and arm gathered in
        value order (two threads share the positions when allowed), then one sequential pass splits them."""
        from . import _jit_sort

        n = len(order)
        n1 = int(np.count_nonzero(treated))
        n0 = n - n1
        order = np.ascontiguousarray(order, dtype=np.intp)
        sorted_values = np.empty(n)
        smaller = (np.empty(n, np.intp), np.empty(n, np.intp))
        pos, rows_all, vals = np.empty(n, np.intp), np.empty(n, np.intp), np.empty(n)
        arm1 = np.empty(n, np.int64)
        values = np.ascontiguousarray(values)
        treated = np.ascontiguousarray(treated, dtype=np.bool_)

        def gather(bounds: tuple[int, int]) -> None:
            _jit_sort.gather_sorted(values, treated, order, bounds[0], bounds[1], sorted_values, arm1)

        halves = 2 if n >= PARALLEL_SORT and threads.parallel() else 1  # each writes its own positions
        bounds = [(n * i // halves, n * (i + 1) // halves) for i in range(halves)]
        threads.map_ordered(gather, bounds, workers=halves)
        _jit_sort.split_gathered(order, sorted_values, arm1, n0, *smaller, pos, rows_all, vals)
        # each arm's arrays are views of one buffer: the controls' first
        positions = (pos[:n0], pos[n0:])
        rows = (rows_all[:n0], rows_all[n0:])
        arm_values = (vals[:n0], vals[n0:])
        return cls(order, sorted_values, positions, smaller, rows, arm_values, treated)

    def rows(self, arm: int) -> np.ndarray:
        """Row positions of the arm's units in value order."""
        return self.arm_rows[arm]

    def arm_values(self, arm: int) -> np.ndarray:
        """The arm's values, sorted."""
        return self.arm_sorted[arm]

    def match_ranges(self, arm: int, k: int, caliper: float | None, ties: bool) -> tuple[np.ndarray, np.ndarray]:
        """The matches of every unit of ``arm`` (in the arm's sorted order) as runs ``lo..hi`` (inclusive) of
        the other arm's sorted list: the pairs of :meth:`nearest` without listing them. On a line the k
        nearest units form a window (ties to the left, as the walk takes them), every unit within the tie
        limit of its farthest member extends it on either side (``ties``), and a caliper cuts it from both
        ends (``lo > hi``: no match). Tied groups of any size cost nothing extra."""
        other = 1 - arm
        pool, x = self.arm_values(other), self.arm_values(arm)
        size = min(k, len(pool))
        if len(pool) and len(x) and kernels.compiled():
            from . import _jit_windows

            lo, hi = np.empty(len(x), np.int64), np.empty(len(x), np.int64)
            below = np.ascontiguousarray(self.smaller[other][self.positions[arm]], dtype=np.int64)
            cut, cal = caliper is not None, 0.0 if caliper is None else float(caliper)
            _jit_windows.match_runs(x, below, pool, size, bool(ties), cut, cal, TIE_RTOL, TIE_ATOL, lo, hi)
            return lo, hi
        lo = self.window_starts(other, size, at=self.positions[arm])
        hi = lo + (size - 1)
        if ties:
            lo, hi = self._widened(pool, x, lo, hi)
        if caliper is not None:
            lo, hi = _cut(pool, x, lo, hi, caliper)
        return lo, hi

    def same_arm_ranges(self, arm: int, j: int, units: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """For every unit of ``arm`` (in the arm's sorted order; ``units``: only those indices of it), the
        run ``lo..hi`` of the arm's sorted list holding the unit, its ``j`` nearest other units and every unit
        tied with the farthest of them: its same-group neighbours (ties kept) plus the unit itself."""
        pool = self.arm_values(arm)
        size = min(j + 1, len(pool))
        at = self.positions[arm] if units is None else self.positions[arm][units]
        lo = self.window_starts(arm, size, at=at)
        x = pool if units is None else pool[units]
        return self._widened(pool, x, lo, lo + (size - 1))

    @staticmethod
    def _widened(pool: np.ndarray, x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Windows ``lo..hi`` of ``pool`` around each x extended to every unit within the tie limit of the
        window's farthest member (the walk's rule: distance <= kth (1 + TIE_RTOL) + TIE_ATOL scale)."""
        if not len(pool):
            return lo, hi
        scale = float(max(abs(pool[0]), abs(pool[-1]), 1.0))
        limit = np.maximum(x - pool[lo], pool[hi] - x)
        limit *= 1.0 + TIE_RTOL
        limit += TIE_ATOL * scale
        padded = with_sentinels(pool)
        left = x - padded[lo] <= limit
        right = padded[hi + 2] - x <= limit
        if left.any():
            lo = widen(pool, x, lo, limit, -1, left)
        if right.any():
            hi = widen(pool, x, hi, limit, 1, right)
        return lo, hi

    def arm_order(self, arm: int) -> np.ndarray:
        """The stable sorting permutation of the arm's values in row order (positions among its rows)."""
        rank = np.cumsum(self.arm1_rows if arm == 1 else ~self.arm1_rows) - 1
        return rank[self.arm_rows[arm]]

    def window_starts(
        self, arm: int, size: int, values: np.ndarray | None = None, at: np.ndarray | None = None
    ) -> np.ndarray:
        """For every unit (in value order), the start of the ``size`` units of ``arm`` nearest to it: a
        contiguous run of the arm's sorted list, ties broken to the left (as :func:`nearest.window_1d`).

        ``values`` are the units' values in ``order`` when the windows are on another (monotone) variable
        than the one sorted, e.g. the score when matching on its logit; ``at`` restricts the units to
        those positions of ``order`` (the result is then one start per position in ``at``).
        """
        out = np.empty(len(self.order) if at is None else len(at), np.int64)
        for first, last, start in self.window_batches(arm, size, values, at):
            out[first:last] = start
        return out

    def window_batches(
        self, arm: int, size: int, values: np.ndarray | None = None, at: np.ndarray | None = None
    ) -> Iterator[tuple]:
        """:meth:`window_starts` in batches of units: (first, last, starts of units first..last - 1)."""
        if values is None:
            x, below = self.values, self.smaller[arm]
        else:
            x = values
            mask = np.zeros(len(x), bool)
            mask[self.positions[arm]] = True
            below = np.cumsum(mask) - mask
            starts = _run_starts(x)
            if starts is not None:
                below = below[starts]
        pool = self.arm_sorted[arm] if values is None else x[self.positions[arm]]
        if at is not None:
            x, below = x[at], below[at]
        size = min(size, len(pool))
        # the greedy walk outwards (left first on ties) ends at the window [L, L + size) with L the first
        # start whose next point to the right is not strictly nearer than its leftmost point; that test is
        # true then false as L grows, so L = below - size + (number of trues for L = below - size, ...,
        # below - 1). Infinite sentinels stand for starts before the first or windows past the last point.
        padded = np.concatenate([np.full(size, -np.inf), pool, np.full(size, np.inf)])
        for first in range(0, len(x), BATCH):  # batches keep every temporary array small
            last = min(first + BATCH, len(x))
            b, xb = below[first:last], x[first:last]
            start = b - size
            for shift in range(size):
                # candidate L = below - size + shift: its leftmost point is padded[L + size], the next one to
                # its right padded[L + 2 size]
                start += padded[shift + size :][b] - xb < xb - padded[shift:][b]
            yield first, last, start


#: from this many values on the sort runs in two threads (two halves radix-sorted side by side, merged)
PARALLEL_SORT = 1 << 17


def _argsort(values: np.ndarray) -> np.ndarray:
    """:func:`sorting.stable_argsort`, with the compiled kernels and two threads allowed as two halves
    radix-sorted side by side and merged: the keys hold the row numbers, so merging the sorted halves gives
    the keys' order of all values and the same stable order (which is unique) as one thread."""
    n = len(values)
    if (
        n < PARALLEL_SORT
        or not kernels.compiled()
        or not threads.parallel()
        or values.dtype != np.float64
        or values.ndim != 1
        or (n - 1).bit_length() > 40
    ):
        return stable_argsort(values)
    from . import _jit_sort

    bits = np.ascontiguousarray(values).view(np.uint64)
    shift = max(1, (n - 1).bit_length())
    keys, other = np.empty(n, np.uint64), np.empty(n, np.uint64)
    middle = n // 2

    def half(bounds: tuple[int, int]) -> bool:
        return bool(_jit_sort.radix_keys(bits, bounds[0], bounds[1], shift, keys, other))

    if not all(threads.map_ordered(half, [(0, middle), (middle, n)], workers=2)):
        return stable_argsort(values)  # NaN: numpy's order
    out = np.empty(n, np.intp)
    _jit_sort.merge_rows(keys, middle, shift, bits, out)
    return out


def _cut(
    pool: np.ndarray, x: np.ndarray, lo: np.ndarray, hi: np.ndarray, caliper: float
) -> tuple[np.ndarray, np.ndarray]:
    """Windows ``lo..hi`` of the sorted ``pool`` around each x without the units farther than ``caliper``
    (|x - value|, the walk's distance). Distances fall towards x and rise away from it, so the units
    kept are a run: each end moves inwards, a run of equal values at a time."""
    lo, hi = lo.copy(), hi.copy()
    n = len(pool)
    for end, step in ((lo, 1), (hi, -1)):
        while True:
            live = np.flatnonzero(lo <= hi)
            at = end[live]
            far = np.abs(x[live] - pool[np.clip(at, 0, n - 1)]) > caliper
            if not far.any():
                break
            move = live[far]
            # past the run of equal values at that end
            if step > 0:
                end[move] = np.searchsorted(pool, pool[end[move]], side="right")
            else:
                end[move] = np.searchsorted(pool, pool[end[move]], side="left") - 1
    return lo, hi


def _run_starts(sorted_values: np.ndarray) -> np.ndarray | None:
    """For each position, the first position holding an equal value (None when all values differ)."""
    n = len(sorted_values)
    if n < 2:
        return None
    new = np.empty(n, bool)
    new[0] = True
    np.not_equal(sorted_values[1:], sorted_values[:-1], out=new[1:])
    if new.all():
        return None
    return np.maximum.accumulate(np.where(new, np.arange(n), 0))


def widen(
    pool: np.ndarray, x: np.ndarray, edge: np.ndarray, limit: np.ndarray, step: int, hit: np.ndarray
) -> np.ndarray:
    """Move each window edge outwards (``step`` -1: left, 1: right) over every unit within ``limit`` of its x,
    the distance computed as the nearest-neighbour walk computes it (x - value on the left, value - x on the
    right), for the units flagged in ``hit`` (those whose next unit outwards is within the limit). That
    test is monotone along the sorted pool and equal within a run of equal values, so the new edge is found
    by binary search, corrected run by run for the last bits of x -+ limit."""
    n = len(pool)
    edge = edge.copy()
    active = np.flatnonzero(hit)
    xa, la, ea = x[active], limit[active], edge[active]
    if step < 0:
        p = np.minimum(np.searchsorted(pool, xa - la, side="left"), ea)

        def outside(q: np.ndarray, i: np.ndarray | slice) -> np.ndarray:
            return xa[i] - pool[q] > la[i]

        more = np.maximum(p - 1, 0)
    else:
        p = np.maximum(np.searchsorted(pool, xa + la, side="right") - 1, ea)

        def outside(q: np.ndarray, i: np.ndarray | slice) -> np.ndarray:
            return pool[q] - xa[i] > la[i]

        more = np.minimum(p + 1, n - 1)
    while True:  # the unit beyond p is within the limit: take its whole run of equal values
        grow = (more != p) & ~outside(more, slice(None))
        if not grow.any():
            break
        idx = np.flatnonzero(grow)
        run_end = np.searchsorted(pool, pool[more[idx]], side="left" if step < 0 else "right")
        p[idx] = run_end if step < 0 else run_end - 1
        more = np.maximum(p - 1, 0) if step < 0 else np.minimum(p + 1, n - 1)
    while True:  # p itself is outside: step back over its run of equal values (towards the window)
        bad = np.flatnonzero(outside(p, slice(None)))
        if not len(bad):
            break
        run_end = np.searchsorted(pool, pool[p[bad]], side="right" if step < 0 else "left")
        p[bad] = run_end if step < 0 else run_end - 1
    edge[active] = p
    return edge
