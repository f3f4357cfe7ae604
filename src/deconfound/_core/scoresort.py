"""One sort of a one-dimensional matching variable that serves every search of a matching estimate.

Matching on a score with replacement needs, for both groups, the units in score order: to find each
target's nearest units of the other group, the same-group neighbours of the conditional variances and
the windows of the local covariances of the Abadie-Imbens (2016) adjustment. :class:`ScoreSort` sorts
all units once (:func:`sorting.stable_argsort`) and derives everything else in linear time: the sorted units of
each group, and for every unit how many units of a group have a smaller value -- the insertion point a
binary search would return, here read off a running count.

Searches give the same pairs as :func:`nearest.nearest_1d` (in its order, or cheaper, in search order)
and :func:`nearest.nearest_same_group_1d`; window starts equal :func:`nearest.window_1d`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .nearest import TIE_ATOL, TIE_RTOL, _group_by_target, _walk, with_sentinels
from .sorting import stable_argsort

#: targets walked (or windows placed) per batch: small enough that temporaries stay in the CPU cache and
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
        order = stable_argsort(values) if order is None else order
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

    def rows(self, arm: int) -> np.ndarray:
        """Row positions of the arm's units in value order."""
        return self.arm_rows[arm]

    def arm_values(self, arm: int) -> np.ndarray:
        """The arm's values, sorted."""
        return self.arm_sorted[arm]

    def nearest(
        self, arm: int, k: int, caliper: float | None, ties: bool, grouped: bool = True
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The k nearest units of the other arm (and ties) for every unit of ``arm``, as rows: (target row,
        match row, distance) -- the pairs of :func:`nearest.nearest_1d` with replacement. Ordered by target
        row when ``grouped``, else in search order; either way each target's matches come nearest first."""
        other = 1 - arm
        pool_values = self.arm_values(other)
        sentinels = with_sentinels(pool_values)
        x = self.arm_values(arm)
        below = self.smaller[other]
        positions = self.positions[arm]
        target_rows, pool_rows = self.rows(arm), self.rows(other)
        size = np.int64(len(pool_values))
        one = k == 1 and len(pool_values) > 0 and bool(np.isfinite(pool_values[[0, -1]]).all())
        scale = float(max(abs(pool_values[0]), abs(pool_values[-1]), 1.0)) if one else 1.0
        chunks = []
        for first in range(0, len(x), BATCH):  # batches keep every temporary array small
            last = min(first + BATCH, len(x))
            start = below[positions[first:last]]
            if one:
                picked = _nearest_one(sentinels, x[first:last], start - 1, start, ties, scale)
                if picked is not None:
                    p, d = picked
                    t = target_rows[first:last]
                    if caliper is not None:
                        keep = d <= caliper
                        t, p, d = t[keep], p[keep], d[keep]
                    chunks.append((t, pool_rows[p], d))
                    continue
            walked = _walk(pool_values, x[first:last], start - 1, start, np.int64(0), size, k, ties, sentinels)
            for t, p, d in zip(*walked):
                if caliper is not None:
                    keep = d <= caliper
                    t, p, d = t[keep], p[keep], d[keep]
                chunks.append((target_rows[first + t], pool_rows[p], d))
        if grouped:
            return _group_by_target(chunks, len(self.order))
        if not chunks:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
        return (
            np.concatenate([c[0] for c in chunks]),
            np.concatenate([c[1] for c in chunks]),
            np.concatenate([c[2] for c in chunks]),
        )

    def tie_load(self, arm: int, matches: bool = True) -> int:
        """About how many (unit, neighbour) pairs tied scores make for the units of ``arm``: the run of equal
        values of the other arm nearest to each unit (its matches with ties kept; with ``matches``) plus the
        run of its own value in its own arm (its same-arm neighbours at distance 0). Linear time; for a score
        with few distinct values (discrete covariates) this grows with the square of the rows."""
        x = self.arm_values(arm)
        if not len(x):
            return 0
        if not np.any(self.values[1:] == self.values[:-1]):  # every value distinct: one match, no ties
            return len(x) * (2 if matches else 1)
        total = 0
        sources = ((self.arm_values(1 - arm), False),) if matches else ()
        for pool, own in (*sources, (x, True)):
            if not len(pool):
                continue
            new = np.empty(len(pool), bool)
            new[0] = True
            np.not_equal(pool[1:], pool[:-1], out=new[1:])
            starts = np.flatnonzero(new)
            lengths = np.diff(np.append(starts, len(pool)))
            run = np.cumsum(new) - 1  # run index of every sorted position
            if own:
                total += int(np.sum(lengths.astype(np.float64) ** 2))
                continue
            at = np.minimum(self.smaller[1 - arm][self.positions[arm]], len(pool) - 1)  # next pool value up
            below = np.maximum(at - 1, 0)
            nearer = np.where(np.abs(pool[below] - x) <= np.abs(pool[at] - x), below, at)
            total += int(np.sum(lengths[run[nearer]], dtype=np.float64))
        return total

    def arm_order(self, arm: int) -> np.ndarray:
        """The stable sorting permutation of the arm's values in row order (positions among its rows)."""
        rank = np.cumsum(self.arm1_rows if arm == 1 else ~self.arm1_rows) - 1
        return rank[self.arm_rows[arm]]

    def same_arm(self, arm: int, j: int, need: np.ndarray, ties: bool = True) -> tuple[np.ndarray, np.ndarray, list]:
        """The ``j`` nearest other units of the same arm for the arm's units whose row is flagged in ``need``.

        Returns (rows of those units in value order, their positions in the arm's sorted list, and the
        walk's chunks (unit index into those rows, neighbour position in the arm's sorted list)).
        """
        values = self.arm_values(arm)
        sentinels = with_sentinels(values)
        rows = self.rows(arm)
        at = np.flatnonzero(need[rows])
        size = np.int64(len(values))
        one = j == 1 and len(values) > 1 and bool(np.isfinite(values[[0, -1]]).all())
        scale = float(max(abs(values[0]), abs(values[-1]), 1.0)) if one else 1.0
        chunks = []
        for first in range(0, len(at), BATCH):
            a = at[first : first + BATCH]
            if one:
                picked = _nearest_one(sentinels, values[a], a - 1, a + 1, ties, scale)
                if picked is not None:
                    chunks.append((np.arange(first, first + len(a)), picked[0]))
                    continue
            tgt, pos, _ = _walk(values, values[a], a - 1, a + 1, np.int64(0), size, j, ties, sentinels)
            chunks += [(first + t, p) for t, p in zip(tgt, pos)]
        return rows[at], at, chunks

    def window_starts(self, arm: int, size: int, values: np.ndarray | None = None) -> np.ndarray:
        """For every unit (in value order), the start of the ``size`` units of ``arm`` nearest to it: a
        contiguous run of the arm's sorted list, ties broken to the left (as :func:`nearest.window_1d`).

        ``values`` are the units' values in ``order`` when the windows are on another (monotone) variable
        than the one sorted, e.g. the score when matching on its logit.
        """
        out = np.empty(len(self.order), np.int64)
        for first, last, start in self.window_batches(arm, size, values):
            out[first:last] = start
        return out

    def window_batches(self, arm: int, size: int, values: np.ndarray | None = None) -> Iterator[tuple]:
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


def _nearest_one(
    sentinels: np.ndarray, x: np.ndarray, left: np.ndarray, right: np.ndarray, ties: bool, scale: float
) -> tuple[np.ndarray, np.ndarray] | None:
    """The nearest pool unit of each target (k = 1) from its nearest candidates on either side, ``left`` and
    ``right`` (pool positions; -1 or the pool size where there is none): (pool position, distance), the
    walk's pick (left on equal distances). None when some target has a tie to keep (ties=True: the other
    candidate, or the next unit on the chosen side, within the tie limit), which the general walk then
    handles. ``sentinels`` is the pool with infinite ends (``sentinels[i + 1]`` is unit i)."""
    dl = x - sentinels[left + 1]
    dr = sentinels[right + 1] - x
    take_left = dl <= dr
    d = np.where(take_left, dl, dr)
    if ties:
        limit = d * (1.0 + TIE_RTOL)
        limit += TIE_ATOL * scale
        other = np.where(take_left, dr, dl)
        beyond = np.where(
            take_left,
            x - sentinels[np.maximum(left, 0)],
            sentinels[np.minimum(right + 2, len(sentinels) - 1)] - x,
        )
        if np.any(other <= limit) or np.any(beyond <= limit):
            return None
    return np.where(take_left, left, right), d


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
