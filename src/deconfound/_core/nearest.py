"""Nearest-neighbour search for matching: one-dimensional (a score) by sorting, several dimensions by k-d tree.

Everything returns *pairs*: ``(target position, pool position, distance)`` arrays, where positions
index the arrays passed in. A target's neighbours are its ``k`` closest pool units; with ``ties=True``
every pool unit at exactly the k-th distance is kept too (Stata's ``teffects nnmatch`` convention), so
a target can have more than ``k`` neighbours. Units farther than ``caliper`` are never neighbours.
``groups`` (integer codes, one per unit) restrict neighbours to the same group: exact matching.

The one-dimensional search sorts the pool once and walks outwards from each target's insertion point
with two pointers, all targets at once (vectorised), so it costs O((n_pool + n_target) log n_pool + k n).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .sorting import stable_argsort, stable_lexsort

#: distances within this relative tolerance of the k-th are ties. Distances that are equal in exact
#: arithmetic (mirror-image covariate values, scores of units with equal covariates seen from either side)
#: come out of floating-point arithmetic a few ulps apart; without a tolerance the set of matches would
#: depend on the last bits of the propensity model's coefficients
TIE_RTOL = 1e-9
#: ... and so are distances within this absolute tolerance, relative to the scale of the matching variable
#: (two covariate profiles whose scores are equal in exact arithmetic can differ by one ulp, ~1e-17)
TIE_ATOL = 1e-12
KD_TIE_RTOL = TIE_RTOL


@dataclass(frozen=True)
class Pairs:
    """Matched pairs: target position, pool position, distance (positions in the arrays passed in)."""

    target: np.ndarray
    pool: np.ndarray
    distance: np.ndarray

    @classmethod
    def empty(cls) -> Pairs:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))

    def __len__(self) -> int:
        return len(self.target)


@dataclass(frozen=True)
class SortedPool:
    """A pool sorted by (group, value): the structure every one-dimensional search walks on."""

    values: np.ndarray  # sorted values
    order: np.ndarray  # pool positions in sorted order
    groups: np.ndarray | None  # sorted group codes
    keys: np.ndarray | None  # int64 (group, rank) keys for exact searchsorted within groups

    @classmethod
    def build(cls, values: np.ndarray, groups: np.ndarray | None = None) -> SortedPool:
        if groups is None:
            order = stable_argsort(values)
            return cls(values[order], order, None, None)
        order = stable_lexsort(values, groups)
        return cls(values[order], order, groups[order], None)

    def segments(self, x: np.ndarray, groups: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For each target: insertion position and the [lo, hi) slice of its group in the sorted pool."""
        n = len(self.values)
        if self.groups is None:
            pos = np.searchsorted(self.values, x, side="left")
            return pos, np.zeros(len(x), np.int64), np.full(len(x), n, np.int64)
        assert groups is not None
        lo = np.searchsorted(self.groups, groups, side="left")
        hi = np.searchsorted(self.groups, groups, side="right")
        # insertion point inside the group's slice: searchsorted on the slice, done for all targets at
        # once by ranking values jointly (exact, no floating-point offsets)
        allv = np.concatenate([self.values, x])
        _, rank = np.unique(allv, return_inverse=True)
        width = np.int64(rank.max() + 2)
        pool_key = self.groups.astype(np.int64) * width + rank[:n]
        tgt_key = groups.astype(np.int64) * width + rank[n:]
        pos = np.searchsorted(pool_key, tgt_key, side="left")
        return pos, lo.astype(np.int64), hi.astype(np.int64)


def with_sentinels(xs: np.ndarray) -> np.ndarray:
    """Sorted values with -inf before and +inf after (index i + 1 holds ``xs[i]``)."""
    return np.concatenate([[-np.inf], xs, [np.inf]])


def _walk(
    xs: np.ndarray,
    x: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    lo: np.ndarray | np.integer,
    hi: np.ndarray | np.integer,
    k: int,
    ties: bool,
    sentinels: np.ndarray | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Take the k nearest by walking two pointers outwards (plus ties at the k-th distance).

    Returns lists of (target, sorted position, distance) chunks. ``sentinels`` is :func:`with_sentinels`
    of ``xs`` when already made (callers walking many batches of targets over one pool).
    """
    m = len(x)
    rows = np.arange(m)
    tgt: list[np.ndarray] = []
    pos: list[np.ndarray] = []
    dst: list[np.ndarray] = []
    left = left.copy()
    right = right.copy()
    kth = None  # the k-th distance of every target (inf: fewer than k found)

    # one set of bounds [0, n) with finite ends: infinite sentinels on both sides make every distance to a
    # pointer outside the bounds infinite, with no masks
    flat = np.ndim(lo) == 0 and np.ndim(hi) == 0 and int(lo) == 0 and int(hi) == len(xs)
    padded = flat and len(xs) > 0 and bool(np.isfinite(xs[0]) and np.isfinite(xs[-1]))
    if padded:
        xp = with_sentinels(xs) if sentinels is None else sentinels
    else:
        xp = xs

    def dist_left() -> np.ndarray:
        if padded:
            return x - xp[left + 1]
        ok = left >= lo
        return np.where(ok, x - xs[np.where(ok, left, 0)], np.inf)

    def dist_right() -> np.ndarray:
        if padded:
            return xp[right + 1] - x
        ok = right < hi
        return np.where(ok, xs[np.where(ok, right, 0)] - x, np.inf)

    for _ in range(k):
        dl, dr = dist_left(), dist_right()
        take_left = dl <= dr
        d = np.where(take_left, dl, dr)
        found = np.isfinite(d)
        chosen = np.where(take_left, left, right)
        if found.all():
            tgt.append(rows)
            pos.append(chosen)
            dst.append(d)
            kth = d
        else:
            tgt.append(rows[found])
            pos.append(chosen[found])
            dst.append(d[found])
            kth = d if kth is None else np.where(found, d, kth)
            take_left &= found
        left -= take_left
        right += found & ~take_left
    if not ties:
        return tgt, pos, dst
    # ties at the k-th distance: the next unit on either side of every target is checked once; only the
    # targets with a tie there are walked further
    scale = float(max(abs(xs[0]), abs(xs[-1]), 1.0)) if len(xs) else 1.0
    if kth is None:
        return tgt, pos, dst
    limit = kth * (1.0 + TIE_RTOL) + TIE_ATOL * scale
    if not np.isfinite(limit).all():
        limit[~np.isfinite(limit)] = -np.inf
    cand, x_c, left_c, right_c, lo_c, hi_c = rows, x, left, right, lo, hi
    while True:
        if padded:
            dl = x_c - xp[left_c + 1]
        else:
            ok = left_c >= lo_c
            dl = np.where(ok, x_c - xs[np.where(ok, left_c, 0)], np.inf)
        hit = dl <= limit
        if np.any(hit):
            tgt.append(cand[hit])
            pos.append(left_c[hit])
            dst.append(dl[hit])
            left_c = left_c - hit
        if padded:
            dr = xp[right_c + 1] - x_c
        else:
            ok = right_c < hi_c
            dr = np.where(ok, xs[np.where(ok, right_c, 0)] - x_c, np.inf)
        hit_r = dr <= limit
        if np.any(hit_r):
            tgt.append(cand[hit_r])
            pos.append(right_c[hit_r])
            dst.append(dr[hit_r])
            right_c = right_c + hit_r
        active = hit | hit_r
        if not active.any():
            break
        cand, x_c, left_c, right_c, limit = cand[active], x_c[active], left_c[active], right_c[active], limit[active]
        lo_c = lo_c[active] if isinstance(lo_c, np.ndarray) and lo_c.ndim else lo_c
        hi_c = hi_c[active] if isinstance(hi_c, np.ndarray) and hi_c.ndim else hi_c
    return tgt, pos, dst


def _finish(pool: SortedPool, tgt: list, pos: list, dst: list, caliper: float | None, target_order=None) -> Pairs:
    """Concatenate the walk's picks into pairs grouped by target (each target's in distance order)."""
    if not tgt:
        return Pairs.empty()
    chunks = []
    for t, p, d in zip(tgt, pos, dst):
        if caliper is not None:
            keep = d <= caliper
            t, p, d = t[keep], p[keep], d[keep]
        chunks.append((t if target_order is None else target_order[t], pool.order[p], d))
    if len(chunks) == 1 and target_order is None:
        t, p, d = chunks[0]
    else:
        # the walk emits picks in nondecreasing distance per target, each target at most once per chunk:
        # a counting sort by target keeps that order (a stable sort in linear time)
        t, p, d = _group_by_target(chunks)
    return Pairs(t.astype(np.int64, copy=False), p.astype(np.int64, copy=False), d)


def _group_by_target(
    chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray]], size: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Concatenate (target, pool, distance) chunks ordered by target, stably (a counting sort); a target
    occurs at most once per chunk. ``size`` bounds the target ids (default: the largest plus one)."""
    total = sum(len(c[0]) for c in chunks)
    if size is None:
        size = max((int(c[0].max()) + 1 for c in chunks if len(c[0])), default=0)
    count = np.zeros(size, np.int64)
    for t, _, _ in chunks:
        count += np.bincount(t, minlength=size)
    start = np.cumsum(count) - count
    out_t = np.empty(total, np.int64)
    out_p = np.empty(total, np.int64)
    out_d = np.empty(total)
    for t, p, d in chunks:
        dest = start[t]
        out_t[dest], out_p[dest], out_d[dest] = t, p, d
        start[t] = dest + 1
    return out_t, out_p, out_d


def _sort_targets(x: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
    return stable_argsort(x) if groups is None else stable_lexsort(x, groups)


def nearest_1d(
    x: np.ndarray,
    pool_values: np.ndarray,
    k: int = 1,
    *,
    caliper: float | None = None,
    groups: np.ndarray | None = None,
    pool_groups: np.ndarray | None = None,
    ties: bool = True,
    pool: SortedPool | None = None,
    target_order: np.ndarray | None = None,
) -> Pairs:
    """The k nearest pool units of every target on one dimension (with replacement).

    Targets are processed in sorted order, so that the binary searches and the walk read the sorted pool
    sequentially (several times faster than random order on large inputs). ``pool`` (the sorted pool) and
    ``target_order`` (the permutation sorting the targets) can be passed when already known.
    """
    pool = pool if pool is not None else SortedPool.build(pool_values, pool_groups)
    order = target_order if target_order is not None else _sort_targets(x, groups)
    xs = x[order]
    gs = None if groups is None else groups[order]
    start, lo, hi = pool.segments(xs, gs)
    tgt, pos, dst = _walk(pool.values, xs, start - 1, start, lo, hi, k, ties)
    return _finish(pool, tgt, pos, dst, caliper, order)


def nearest_same_group_1d(
    values: np.ndarray,
    k: int,
    groups: np.ndarray | None = None,
    ties: bool = True,
    targets: np.ndarray | None = None,
    pool: SortedPool | None = None,
) -> Pairs:
    """The k nearest *other* units of the same set (for the matching variance estimator).

    ``targets`` (positions) restricts the units whose neighbours are wanted; all units can be neighbours.
    ``pool`` is the set already sorted, when known.
    """
    pool = pool if pool is not None else SortedPool.build(values, groups)
    n = len(values)
    at = np.empty(n, np.int64)
    at[pool.order] = np.arange(n)
    # walk in sorted order: sorted position s holds unit pool.order[s]
    sorted_pos = np.arange(n) if targets is None else np.sort(at[targets])
    if groups is None:
        lo, hi = np.zeros(len(sorted_pos), np.int64), np.full(len(sorted_pos), n, np.int64)
    else:
        assert pool.groups is not None
        g = pool.groups[sorted_pos]
        lo = np.searchsorted(pool.groups, g, side="left").astype(np.int64)
        hi = np.searchsorted(pool.groups, g, side="right").astype(np.int64)
    xs = pool.values[sorted_pos]
    tgt, pos, dst = _walk(pool.values, xs, sorted_pos - 1, sorted_pos + 1, lo, hi, k, ties)
    return _finish(pool, tgt, pos, dst, None, pool.order[sorted_pos])


def window_1d(sorted_values: np.ndarray, x: np.ndarray, size: int) -> np.ndarray:
    """Start of the ``size`` consecutive sorted values nearest to each x (ties broken to the left).

    The ``size`` nearest points on a line always form a contiguous run of the sorted values.
    """
    n = len(sorted_values)
    size = min(size, n)
    right = np.searchsorted(sorted_values, x, side="left")
    left = right - 1
    for _ in range(size):
        okl, okr = left >= 0, right < n
        dl = np.where(okl, x - sorted_values[np.where(okl, left, 0)], np.inf)
        dr = np.where(okr, sorted_values[np.where(okr, right, 0)] - x, np.inf)
        take_left = dl <= dr
        left = np.where(take_left, left - 1, left)
        right = np.where(take_left, right, right + 1)
    return left + 1


# --------------------------------------------------------------------------------------------------
# several dimensions: k-d tree on whitened covariates
# --------------------------------------------------------------------------------------------------


def nearest_kd(
    z: np.ndarray,
    pool_z: np.ndarray,
    k: int = 1,
    *,
    caliper: float | None = None,
    ties: bool = True,
    exclude_self: bool = False,
    profiles: bool = True,
) -> Pairs:
    """k nearest pool rows by Euclidean distance (pass whitened covariates for Mahalanobis distance).

    ``exclude_self`` treats ``z`` and ``pool_z`` as the same set and skips each row itself. With ties and
    many repeated rows (discrete covariates) the search runs over the distinct rows (``profiles=False``
    forces the search row by row; both give the same pairs, in another order among equal distances).
    """
    from scipy.spatial import cKDTree

    n_pool = len(pool_z)
    if n_pool == 0 or len(z) == 0:
        return Pairs.empty()
    if ties and profiles:
        by_profile = _nearest_kd_profiles(z, pool_z, k, caliper, exclude_self)
        if by_profile is not None:
            return by_profile
    tree = cKDTree(pool_z)
    extra = 1 if exclude_self else 0
    bound = np.inf if caliper is None else caliper * (1 + 1e-12)
    want = min(n_pool, k + extra + (4 if ties else 0))
    rows = np.arange(len(z))
    tgt, pos, dst = [], [], []
    pending = rows
    while len(pending):
        d, j = tree.query(z[pending], k=want, distance_upper_bound=bound)
        d = d.reshape(len(pending), -1)
        j = j.reshape(len(pending), -1)
        farthest = d[:, -1].copy()  # the tree's farthest answer, before the unit itself is masked out
        if exclude_self:
            is_self = j == pending[:, None]
            d = np.where(is_self, np.inf, d)
        d_sorted_idx = np.argsort(d, axis=1, kind="stable")
        d = np.take_along_axis(d, d_sorted_idx, axis=1)
        j = np.take_along_axis(j, d_sorted_idx, axis=1)
        kth = d[:, min(k, d.shape[1]) - 1]
        limit = kth * (1.0 + KD_TIE_RTOL) + TIE_ATOL
        keep = np.zeros_like(d, dtype=bool)
        keep[:, : min(k, d.shape[1])] = True
        if ties:
            keep |= d <= limit[:, None]
        keep &= np.isfinite(d)
        more = ties & (want < n_pool) & np.isfinite(kth) & (farthest <= limit)
        done = ~more
        r, c = np.nonzero(keep & done[:, None])
        tgt.append(pending[r])
        pos.append(j[r, c])
        dst.append(d[r, c])
        pending = pending[more]
        want = min(n_pool, want * 2)
    t = np.concatenate(tgt)
    p = np.concatenate(pos)
    dd = np.concatenate(dst)
    order = np.lexsort((dd, t))
    return Pairs(t[order].astype(np.int64), p[order].astype(np.int64), dd[order])


#: search over distinct rows when the pool has at most 1/PROFILE_REPEAT as many distinct rows as rows and
#: the distance table between distinct rows has at most PROFILE_CELLS cells
PROFILE_REPEAT = 4
PROFILE_CELLS = 4_000_000


def _distinct_rows(z: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(distinct rows, each row's index among them), or None when fewer than a 1/PROFILE_REPEAT share of
    the rows repeat (told from a hash of the rows' bits first, without sorting the rows)."""
    bits = np.ascontiguousarray(z, dtype=np.float64).view(np.uint64).reshape(len(z), -1)
    h = np.zeros(len(z), np.uint64)
    for j in range(bits.shape[1]):
        h *= np.uint64(0x9E3779B97F4A7C15)
        h ^= bits[:, j]
    if len(np.unique(h)) * PROFILE_REPEAT > len(z):
        return None
    rows, inverse = np.unique(np.ascontiguousarray(z, dtype=np.float64), axis=0, return_inverse=True)
    return rows, inverse.ravel().astype(np.int64)


def _nearest_kd_profiles(
    z: np.ndarray, pool_z: np.ndarray, k: int, caliper: float | None, exclude_self: bool
) -> Pairs | None:
    """:func:`nearest_kd` with ties over distinct rows: every row of a profile (distinct row) has the same
    neighbours, so the k-th distance and the ties are found once per profile, from each pool profile's
    distance and count, and the pairs are then listed unit by unit. None when the rows repeat too little."""
    pool = _distinct_rows(pool_z)
    if pool is None:
        return None
    pz, p_inv = pool
    if exclude_self:
        tz, t_inv = pz, p_inv
    else:
        found = _distinct_rows(z) if len(z) > 1 else (np.asarray(z, dtype=np.float64), np.zeros(1, np.int64))
        if found is None:
            return None
        tz, t_inv = found
    if len(tz) * len(pz) > PROFILE_CELLS:
        return None
    d2 = np.zeros((len(tz), len(pz)))
    for j in range(pz.shape[1]):  # coordinate by coordinate, as the tree sums them
        diff = tz[:, j, None] - pz[None, :, j]
        d2 += diff * diff
    dist = np.sqrt(d2)
    count = np.bincount(p_inv, minlength=len(pz)).astype(np.int64)
    avail = np.broadcast_to(count, dist.shape).copy()
    if exclude_self:
        avail[np.arange(len(tz)), np.arange(len(tz))] -= 1  # a unit is not its own neighbour
    reach = dist <= (np.inf if caliper is None else caliper * (1 + 1e-12))
    reach &= avail > 0
    order = np.argsort(np.where(reach, dist, np.inf), axis=1, kind="stable")
    d_sorted = np.take_along_axis(dist, order, axis=1)
    ok_sorted = np.take_along_axis(reach, order, axis=1)
    cum = np.cumsum(np.where(ok_sorted, np.take_along_axis(avail, order, axis=1), 0), axis=1)
    crossing = np.argmax(cum >= k, axis=1)
    enough = cum[:, -1] >= k
    kth = np.where(enough, d_sorted[np.arange(len(tz)), crossing], np.inf)
    limit = kth * (1.0 + KD_TIE_RTOL) + TIE_ATOL
    keep = ok_sorted & (d_sorted <= limit[:, None])
    tp, col = np.nonzero(keep)  # row-major: by target profile, nearest first
    qp = order[tp, col]
    dd = d_sorted[tp, col]
    # each kept (target profile, pool profile) contributes every pool unit of that profile
    p_order = np.argsort(p_inv, kind="stable")
    p_start = np.zeros(len(pz) + 1, np.int64)
    np.cumsum(count, out=p_start[1:])
    size = count[qp]
    tmpl_pool = p_order[_ranges(p_start[qp], size)]
    tmpl_d = np.repeat(dd, size)
    per_profile = np.bincount(tp, weights=size, minlength=len(tz)).astype(np.int64)
    tmpl_start = np.zeros(len(tz) + 1, np.int64)
    np.cumsum(per_profile, out=tmpl_start[1:])
    m = per_profile[t_inv]
    idx = _ranges(tmpl_start[t_inv], m)
    target = np.repeat(np.arange(len(z), dtype=np.int64), m)
    pool_pos = tmpl_pool[idx]
    distance = tmpl_d[idx]
    if exclude_self:
        other = pool_pos != target
        target, pool_pos, distance = target[other], pool_pos[other], distance[other]
    return Pairs(target, pool_pos.astype(np.int64), distance)


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The concatenation of arange(s, s + n) for each (s, n)."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    ends = np.cumsum(lengths)
    step = np.ones(total, np.int64)
    nonzero = lengths > 0
    first = (ends - lengths)[nonzero]
    step[0] = starts[nonzero][0]
    jump = starts[nonzero][1:] - (starts[nonzero][:-1] + lengths[nonzero][:-1] - 1)
    step[first[1:]] = jump
    return np.cumsum(step)


def whiten(x: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Rows of ``x`` transformed so that Euclidean distance equals Mahalanobis distance under ``cov``."""
    from scipy import linalg as sla

    chol = sla.cholesky(cov, lower=True)
    return sla.solve_triangular(chol, x.T, lower=True).T
