"""Matching without replacement: greedy (closest pairs first) and optimal (minimum total distance).

Greedy matching here is the "closest pair first" rule: repeatedly pair the closest remaining
(target, pool) pair. On one dimension it runs in vectorised rounds: every pair of *mutual* nearest
remaining neighbours is a pair the sequential rule would make (neither unit has a closer remaining
partner, and units only ever leave), so all of them are matched at once and removed. The result is
identical to the sequential rule when each unit's nearest partner is *strictly* nearest; pairs with ties
of distance are left to the sequential rule, which takes pairs in the order of (distance, pool position,
target position) in the sorted arrays, as the compiled kernel does (a target's nearest free unit is the
one on its left when both sides are equally far). A target whose nearest remaining pool unit lies beyond
the caliper can never be matched and leaves; so does such a pool unit.

Optimal pair matching minimises the total distance over all one-to-one pairings, first maximising the
number of pairs within the caliper (a large cost for "unmatched"). Small problems are solved densely
with ``scipy.optimize.linear_sum_assignment``; larger ones as a sparse minimum-weight full bipartite
matching over the candidate pairs inside the caliper (``scipy.sparse.csgraph``).

Ties in optimal matching. Many pairings can have the same total distance (on a line, pairing a1 < a2 with
b1 < b2, all on one side, costs the same straight or crossed), and in floating point their totals differ
in the last bits, so the solver's pick -- and the standard error -- would follow rounding noise. Instead:

1. the solver sees the matching variable snapped to a power-of-two grid, 2^-32 of its largest magnitude
   (:func:`snap`): distances become exact multiples of the grid step, so pairings whose totals are equal
   in exact arithmetic tie exactly, and a change of the inputs in their last bits leaves the problem -- and
   the answer -- unchanged (unless a value sits within an ulp of a grid boundary, a chance of about 1e-6
   per unit). The pairing minimises the snapped total, within n * 2^-32 of the true minimum; reported
   distances are the true ones. The solver is deterministic, so ties between different *sets* of pool
   units are settled the same way every time (it depends on the row order only).
2. on one dimension, the matched units are then re-paired in order (:func:`uncross_1d`): the k-th smallest
   matched target with the k-th smallest of its group's chosen pool units, rows breaking ties of equal
   values. Uncrossing never increases the total (nor the largest distance), so among the minimum-total
   pairings of those units this order-preserving one is the one returned.
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError, SpecificationError
from . import kernels
from .nearest import Pairs, SortedPool
from .sorting import stable_argsort, stable_lexsort

# switch to the sequential tail when a round pairs fewer than 1/SWITCH_RATIO of the units left and at most
# SEQUENTIAL_MAX targets are left (vectorised rounds are cheap, the tail runs in Python)
SWITCH_RATIO = 1000
SEQUENTIAL_MAX = 5000
DENSE_LIMIT = 16_000_000  # cells of a dense cost matrix
SPARSE_LIMIT = 30_000_000  # candidate pairs of a sparse problem


def _nearest_one(xs_sorted: np.ndarray, gs_sorted: np.ndarray | None, x: np.ndarray, g: np.ndarray | None):
    """Position (in the sorted array) and distance of each x's nearest element (ties go left), and whether
    that element is *strictly* nearest: every other element of x's group is farther."""
    pool = SortedPool(xs_sorted, np.arange(len(xs_sorted)), gs_sorted, None)
    start, lo, hi = pool.segments(x, g)
    left, right = start - 1, start
    okl, okr = left >= lo, right < hi
    dl = np.where(okl, x - xs_sorted[np.where(okl, left, 0)], np.inf)
    dr = np.where(okr, xs_sorted[np.where(okr, right, 0)] - x, np.inf)
    take_left = dl <= dr
    pos = np.where(take_left, left, right)
    # a tie: the other side as near, or the chosen element's value repeated beside it (within the group)
    beside = np.where(take_left, pos - 1, pos + 1)
    in_group = (beside >= lo) & (beside < hi)
    repeated = in_group & (xs_sorted[np.clip(beside, 0, max(len(xs_sorted) - 1, 0))] == xs_sorted[pos])
    strict = (dl != dr) & ~repeated
    return pos, np.where(take_left, dl, dr), strict


def greedy_1d(
    x: np.ndarray,
    pool_values: np.ndarray,
    *,
    caliper: float | None = None,
    groups: np.ndarray | None = None,
    pool_groups: np.ndarray | None = None,
    targets: np.ndarray | None = None,
    available: np.ndarray | None = None,
    orders: tuple[np.ndarray, np.ndarray] | None = None,
) -> Pairs:
    """One pool unit per target, each pool unit used at most once, closest pairs first.

    ``targets`` / ``available`` (boolean masks) restrict which targets and pool units take part.
    ``orders``: the stable sorting permutations of ``x`` and ``pool_values`` when known (no groups).
    """
    cal = np.inf if caliper is None else caliper
    # both sides sorted by (group, value) once; removing units keeps the order
    if orders is not None and groups is None and pool_groups is None:
        t_ord = orders[0] if targets is None else orders[0][targets[orders[0]]]
        p_ord = orders[1] if available is None else orders[1][available[orders[1]]]
    else:
        t_idx = np.flatnonzero(np.ones(len(x), bool) if targets is None else targets)
        p_idx = np.flatnonzero(np.ones(len(pool_values), bool) if available is None else available)
        t_ord = t_idx[_order(x[t_idx], None if groups is None else groups[t_idx])]
        p_ord = p_idx[_order(pool_values[p_idx], None if pool_groups is None else pool_groups[p_idx])]
    if kernels.compiled() and len(t_ord) and len(p_ord):
        return _greedy_compiled(x, pool_values, t_ord, p_ord, cal, groups, pool_groups)
    out_t, out_p, out_d = [], [], []
    # values (and groups) in sorted order, compressed as units leave: no gathers by position per round
    xt, xp = x[t_ord], pool_values[p_ord]
    gt = None if groups is None else groups[t_ord]
    gp = None if pool_groups is None else pool_groups[p_ord]
    while len(t_ord) and len(p_ord):
        near_p, d_t, strict_t = _nearest_one(xp, gp, xt, gt)  # each target's nearest pool unit
        near_t, d_p, strict_p = _nearest_one(xt, gt, xp, gp)  # each pool unit's nearest target
        alive_t = np.isfinite(d_t) & (d_t <= cal)
        alive_p = np.isfinite(d_p) & (d_p <= cal)
        # strictly mutual nearest units: every other pair either unit could make is farther, so the
        # sequential rule makes this pair whatever the ties elsewhere; pairs with ties are left to it
        at_p = np.minimum(near_p, len(p_ord) - 1)
        mutual = alive_t & strict_t & strict_p[at_p] & (near_t[at_p] == np.arange(len(t_ord)))
        if not np.any(mutual) and np.any(alive_t):
            tail = _greedy_sequential(x, pool_values, t_ord[alive_t], p_ord[alive_p], cal, groups, pool_groups)
            out_t.append(tail.target)
            out_p.append(tail.pool)
            out_d.append(tail.distance)
            break
        ti = np.flatnonzero(mutual)
        pi = near_p[ti]
        out_t.append(t_ord[ti])
        out_p.append(p_ord[pi])
        out_d.append(d_t[ti])
        keep_t = alive_t & ~mutual
        keep_p = alive_p.copy()
        keep_p[pi] = False
        t_ord, p_ord, xt, xp = t_ord[keep_t], p_ord[keep_p], xt[keep_t], xp[keep_p]
        gt = None if gt is None else gt[keep_t]
        gp = None if gp is None else gp[keep_p]
        if len(ti) * SWITCH_RATIO < len(t_ord) + len(p_ord) and len(t_ord) <= SEQUENTIAL_MAX:
            # few pairs per round: the rest is faster one pair at a time
            tail = _greedy_sequential(x, pool_values, t_ord, p_ord, cal, groups, pool_groups)
            out_t.append(tail.target)
            out_p.append(tail.pool)
            out_d.append(tail.distance)
            break
    if not out_t:
        return Pairs.empty()
    t = np.concatenate(out_t)
    # each target is paired at most once: ordering by target is a scatter
    at = np.full(len(x), -1, np.int64)
    at[t] = np.arange(len(t))
    order = at[at >= 0]
    return Pairs(t[order], np.concatenate(out_p)[order], np.concatenate(out_d)[order])


def greedy_sorted_1d(xt: np.ndarray, xs: np.ndarray, caliper: float | None = None) -> Pairs:
    """:func:`greedy_1d` of targets and pool already sorted (ascending; equal values in the order of their
    rows), without groups, by the compiled kernel: the pairs as positions in the sorted arrays, in the
    kernel's order. The same pairs :func:`greedy_1d` makes of the unsorted values with their sorting
    permutations (it sorts them into these arrays first)."""
    if not (len(xt) and len(xs)):
        return Pairs.empty()
    cal = np.inf if caliper is None else float(caliper)
    xt = np.ascontiguousarray(xt, dtype=np.float64)
    xs = np.ascontiguousarray(xs, dtype=np.float64)
    ti, pj, d = greedy_sorted_pairs(xt, np.zeros(len(xt), np.int64), xs, np.zeros(len(xs), np.int64), cal)
    return Pairs(ti, pj, d)


#: from this many units on, the compiled greedy sweep runs in two threads (:func:`greedy_sorted_pairs`)
PARALLEL_GREEDY = 200_000


def greedy_sorted_pairs(
    xt: np.ndarray, gt: np.ndarray, xs: np.ndarray, gs: np.ndarray, cal: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``_jit_assign.greedy_sorted_fast`` (targets and pool sorted by (group, value)), with two threads
    when allowed: the merged runs are cut in the middle, each part swept on its own (a pair whose bound
    lies past the cut is left to the heap), then the parts are linked and the heap finishes. Every pair
    a sweep makes is one the closest-pair-first rule makes whatever else remains, so the pairs are those
    of one sweep (their order differs; callers order them by target)."""
    from . import _jit_assign, threads

    if len(xt) + len(xs) < PARALLEL_GREEDY or not threads.parallel():
        return _jit_assign.greedy_sorted_fast(xt, gt, xs, gs, cal)
    kind, grp, val, lo, hi, prev, nxt = _jit_assign.runs_and_links(xt, gt, xs, gs)
    m = len(kind)
    if m < 4:  # a few runs of tied values: nothing to share
        return _jit_assign.greedy_sorted_fast(xt, gt, xs, gs, cal)
    cut = m // 2
    nxt[cut - 1] = -1
    prev[cut] = -1
    n_pairs = min(len(xt), len(xs))

    def part(bounds: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        start, stop = bounds
        out_t, out_p, out_d = np.empty(n_pairs, np.int64), np.empty(n_pairs, np.int64), np.empty(n_pairs)
        made = _jit_assign.sweep(
            kind, grp, val, lo, hi, prev, nxt, start, stop, start == 0, stop == m, cal, out_t, out_p, out_d
        )
        return out_t[:made], out_p[:made], out_d[:made]

    (t1, p1, d1), (t2, p2, d2) = threads.map_ordered(part, [(0, cut), (cut, m)], workers=2)
    _jit_assign.link_parts(lo, hi, prev, nxt, cut)
    return _jit_assign.finish_parts(kind, grp, val, lo, hi, prev, nxt, cal, n_pairs, t1, p1, d1, t2, p2, d2)


def _segments(
    x: np.ndarray,
    pool_values: np.ndarray,
    t_ord: np.ndarray,
    p_ord: np.ndarray,
    groups: np.ndarray | None,
    pool_groups: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each target's insertion point in the sorted pool and the pool positions lo..hi-1 of its group."""
    n = len(p_ord)
    if pool_groups is None:
        start = np.searchsorted(pool_values[p_ord], x[t_ord], side="left")
        return start, np.zeros(len(t_ord), np.int64), np.full(len(t_ord), n, np.int64)
    pool = SortedPool(pool_values[p_ord], np.arange(n), pool_groups[p_ord], None)
    return pool.segments(x[t_ord], groups[t_ord] if groups is not None else None)


def _greedy_compiled(
    x: np.ndarray,
    pool_values: np.ndarray,
    t_ord: np.ndarray,
    p_ord: np.ndarray,
    cal: float,
    groups: np.ndarray | None,
    pool_groups: np.ndarray | None,
) -> Pairs:
    """Closest pair first in one compiled pass (heap + "next free" pointers), pairs ordered by target."""

    xt = np.ascontiguousarray(x[t_ord], dtype=np.float64)
    xs = np.ascontiguousarray(pool_values[p_ord], dtype=np.float64)
    gt = np.zeros(len(xt), np.int64) if groups is None else groups[t_ord].astype(np.int64)
    gs = np.zeros(len(xs), np.int64) if pool_groups is None else pool_groups[p_ord].astype(np.int64)
    ti, pj, d = greedy_sorted_pairs(xt, gt, xs, gs, float(cal))
    if not len(ti):
        return Pairs.empty()
    t = t_ord[ti]
    # each target is paired at most once: ordering by target is a scatter
    at = np.full(len(x), -1, np.int64)
    at[t] = np.arange(len(t))
    order = at[at >= 0]
    return Pairs(t[order].astype(np.int64), p_ord[pj[order]].astype(np.int64), d[order])


def _greedy_sequential(
    x: np.ndarray,
    pool_values: np.ndarray,
    t_ord: np.ndarray,
    p_ord: np.ndarray,
    cal: float,
    groups: np.ndarray | None,
    pool_groups: np.ndarray | None,
) -> Pairs:
    """Closest pair first, one pair at a time, with a heap and "next free" pointers on the sorted pool.

    ``p_ord`` is sorted by (group, value). Each target's nearest free pool unit is found by skipping
    used units with path-compressed pointers; a popped pair whose pool unit was taken meanwhile is
    re-queued with the target's next nearest free unit.
    """
    import heapq

    xs = pool_values[p_ord].tolist()
    n = len(xs)
    start, lo_arr, hi_arr = _segments(x, pool_values, t_ord, p_ord, groups, pool_groups)
    # union-find "next free" pointers; right[i] leads to the smallest free position >= i (n: none);
    # left[s] leads to s' with s' - 1 the largest free position <= s - 1 (s' = 0: none)
    right = list(range(n + 1))
    left = list(range(n + 1))

    def find(ptr: list, i: int) -> int:
        root = i
        while ptr[root] != root:
            root = ptr[root]
        while ptr[i] != root:
            ptr[i], i = root, ptr[i]
        return root

    def nearest(ti: int) -> tuple[float, int]:
        xv = float(x[t_ord[ti]])
        lo, hi = int(lo_arr[ti]), int(hi_arr[ti])
        j = find(left, int(start[ti])) - 1  # largest free position < start (-1: none)
        k = find(right, int(start[ti]))
        dl = xv - xs[j] if j >= lo else np.inf
        dr = xs[k] - xv if k < hi else np.inf
        return (dl, j) if dl <= dr else (dr, k)

    heap = []
    for ti in range(len(t_ord)):
        d, j = nearest(ti)
        if d <= cal and d < np.inf:
            heap.append((d, j, ti))
    heapq.heapify(heap)
    used = bytearray(n)
    out_t, out_p, out_d = [], [], []
    while heap:
        d, j, ti = heapq.heappop(heap)
        if used[j]:
            d, j = nearest(ti)
            if d <= cal and d < np.inf:
                heapq.heappush(heap, (d, j, ti))
            continue
        used[j] = 1
        right[j] = j + 1
        left[j + 1] = j
        out_t.append(int(t_ord[ti]))
        out_p.append(int(p_ord[j]))
        out_d.append(d)
    return Pairs(np.array(out_t, np.int64), np.array(out_p, np.int64), np.array(out_d, np.float64))


def _order(values: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
    if groups is None:
        return stable_argsort(values)
    return stable_lexsort(values, groups)


def greedy_1d_ratio(
    x: np.ndarray,
    pool_values: np.ndarray,
    k: int,
    *,
    caliper: float | None = None,
    groups: np.ndarray | None = None,
    pool_groups: np.ndarray | None = None,
    orders: tuple[np.ndarray, np.ndarray] | None = None,
) -> Pairs:
    """1:k greedy matching without replacement: k passes, each giving every still-matched target one more.

    ``orders``: the stable sorting permutations of ``x`` and ``pool_values`` when known (no groups)."""
    available = np.ones(len(pool_values), bool)
    targets = np.ones(len(x), bool)
    parts = []
    for _ in range(k):
        pairs = greedy_1d(
            x,
            pool_values,
            caliper=caliper,
            groups=groups,
            pool_groups=pool_groups,
            targets=targets,
            available=available,
            orders=orders,
        )
        if not len(pairs):
            break
        parts.append(pairs)
        available[pairs.pool] = False
        matched = np.zeros(len(x), bool)
        matched[pairs.target] = True
        targets &= matched
    if not parts:
        return Pairs.empty()
    if len(parts) == 1:
        return parts[0]
    t = np.concatenate([p.target for p in parts])
    p = np.concatenate([p.pool for p in parts])
    d = np.concatenate([p.distance for p in parts])
    order = np.lexsort((d, t))
    return Pairs(t[order], p[order], d[order])


# --------------------------------------------------------------------------------------------------
# optimal pair matching
# --------------------------------------------------------------------------------------------------


def optimal_pairs(cost_dense=None, candidates: Pairs | None = None, n_target: int = 0, n_pool: int = 0) -> Pairs:
    """Minimum-total-distance one-to-one matching.

    Give either a dense ``cost_dense`` (n_target x n_pool; ``inf`` marks a forbidden pair) or sparse
    ``candidates`` (allowed pairs with their distances). Targets that cannot all be paired stay unmatched;
    the number of pairs is maximised first, then the total distance minimised.
    """
    if cost_dense is not None:
        return _optimal_dense(np.asarray(cost_dense, dtype=np.float64))
    assert candidates is not None
    return _optimal_sparse(candidates, n_target, n_pool)


def _optimal_dense(cost: np.ndarray) -> Pairs:
    from scipy.optimize import linear_sum_assignment

    allowed = np.isfinite(cost)
    if not np.any(allowed):
        return Pairs.empty()
    big = (float(cost[allowed].max()) + 1.0) * (min(cost.shape) + 1.0)
    work = np.where(allowed, cost, big)
    rows, cols = linear_sum_assignment(work)
    ok = allowed[rows, cols]
    rows, cols = rows[ok], cols[ok]
    return Pairs(rows.astype(np.int64), cols.astype(np.int64), cost[rows, cols])


def _optimal_sparse(candidates: Pairs, n_target: int, n_pool: int) -> Pairs:
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import min_weight_full_bipartite_matching

    if not len(candidates):
        return Pairs.empty()
    # each target also gets a private "unmatched" column of prohibitive cost, so a full matching of the
    # targets always exists; costs are shifted by 1 so that no allowed edge has weight zero
    big = (float(candidates.distance.max()) + 1.0) * (n_target + 1.0) + 1.0
    rows = np.concatenate([candidates.target, np.arange(n_target)])
    cols = np.concatenate([candidates.pool, n_pool + np.arange(n_target)])
    vals = np.concatenate([candidates.distance + 1.0, np.full(n_target, big)])
    graph = csr_matrix((vals, (rows, cols)), shape=(n_target, n_pool + n_target))
    try:
        r, c = min_weight_full_bipartite_matching(graph)
    except ValueError as exc:  # pragma: no cover - the dummy columns make a full matching exist
        raise DataError(f"Optimal matching failed: {exc}") from exc
    real = c < n_pool
    r, c = r[real], c[real]
    dist = np.asarray(graph[r, c]).ravel() - 1.0
    order = np.argsort(r, kind="stable")
    return Pairs(r[order].astype(np.int64), c[order].astype(np.int64), dist[order])


SNAP_BITS = 32


def snap(values: np.ndarray) -> np.ndarray:
    """``values`` rounded to multiples of 2^-SNAP_BITS of their largest magnitude, itself rounded up to a power
    of two (so the grid is exact in binary and the same for inputs differing in their last bits)."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.abs(values[np.isfinite(values)])
    top = float(finite.max()) if finite.size else 0.0
    if top == 0.0:
        return values.copy()
    step = 2.0 ** (np.ceil(np.log2(top)) - SNAP_BITS)
    return np.rint(values / step) * step


def uncross_1d(pairs: Pairs, x: np.ndarray, pool_values: np.ndarray, groups: np.ndarray | None = None) -> Pairs:
    """The same matched targets and pool units re-paired in order of value (within each exact-matching group
    ``groups`` of the targets; pairs never cross groups): targets sorted by (group, value, position) take
    the pool units sorted by (group of their target, value, position) in turn. On a line this keeps or
    lowers every total (and the largest distance), so it settles ties between crossing and straight
    pairings; distances are recomputed from ``x`` and ``pool_values``."""
    if len(pairs) < 2:
        return pairs
    t, p = pairs.target, pairs.pool
    g = np.zeros(len(t), np.int64) if groups is None else groups[t]
    t_sorted = t[np.lexsort((t, x[t], g))]
    p_sorted = p[np.lexsort((p, pool_values[p], g))]
    order = np.argsort(t_sorted, kind="stable")
    t_new, p_new = t_sorted[order], p_sorted[order]
    return Pairs(t_new, p_new, np.abs(x[t_new] - pool_values[p_new]))


def check_dense_size(n_target: int, n_pool: int) -> bool:
    return n_target * n_pool <= DENSE_LIMIT


def check_sparse_size(n_pairs: int) -> None:
    if n_pairs > SPARSE_LIMIT:
        raise SpecificationError(
            f"Optimal matching would consider {n_pairs} candidate pairs inside the caliper (limit {SPARSE_LIMIT}); "
            "use a smaller caliper, exact matching on a categorical column, or greedy matching (method='nearest')."
        )


def greedy_kd(z: np.ndarray, pool_z: np.ndarray, *, caliper: float | None = None) -> Pairs:
    """Closest-pair-first matching without replacement in several dimensions (Euclidean on ``z``).

    Mutual nearest remaining neighbours are matched round by round (k-d trees rebuilt on what is left),
    which gives the same pairs as the sequential closest-pair-first rule.
    """
    from scipy.spatial import cKDTree

    cal = np.inf if caliper is None else caliper
    t_left = np.arange(len(z))
    p_left = np.arange(len(pool_z))
    out_t, out_p, out_d = [], [], []
    while len(t_left) and len(p_left):
        d_t, near_p = cKDTree(pool_z[p_left]).query(z[t_left], k=1)
        d_p, near_t = cKDTree(z[t_left]).query(pool_z[p_left], k=1)
        alive_t = d_t <= cal
        alive_p = d_p <= cal
        mutual = alive_t & (near_t[near_p] == np.arange(len(t_left)))
        if not np.any(mutual):
            if not np.any(alive_t):
                break
            best = int(np.argmin(np.where(alive_t, d_t, np.inf)))
            mutual = np.zeros(len(t_left), bool)
            mutual[best] = True
        ti = np.flatnonzero(mutual)
        pi = near_p[ti]
        out_t.append(t_left[ti])
        out_p.append(p_left[pi])
        out_d.append(d_t[ti])
        keep_p = alive_p.copy()
        keep_p[pi] = False
        t_left, p_left = t_left[alive_t & ~mutual], p_left[keep_p]
    if not out_t:
        return Pairs.empty()
    t = np.concatenate(out_t)
    order = np.argsort(t, kind="stable")
    return Pairs(t[order].astype(np.int64), np.concatenate(out_p)[order].astype(np.int64), np.concatenate(out_d)[order])


def candidates_1d(x: np.ndarray, pool_values: np.ndarray, caliper: float) -> Pairs:
    """Every (target, pool) pair within ``caliper`` on one dimension (for sparse optimal matching)."""
    order = np.argsort(pool_values, kind="stable")
    xs = pool_values[order]
    lo = np.searchsorted(xs, x - caliper, side="left")
    hi = np.searchsorted(xs, x + caliper, side="right")
    counts = hi - lo
    total = int(counts.sum())
    check_sparse_size(total)
    tgt = np.repeat(np.arange(len(x)), counts)
    offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    pos = np.repeat(lo, counts) + offsets
    pool = order[pos]
    return Pairs(tgt.astype(np.int64), pool.astype(np.int64), np.abs(x[tgt] - pool_values[pool]))


def candidates_kd(z: np.ndarray, pool_z: np.ndarray, caliper: float) -> Pairs:
    """Every (target, pool) pair within ``caliper`` in several dimensions."""
    from scipy.spatial import cKDTree

    rec = cKDTree(z).sparse_distance_matrix(cKDTree(pool_z), caliper, output_type="ndarray")
    check_sparse_size(len(rec))
    return Pairs(rec["i"].astype(np.int64), rec["j"].astype(np.int64), rec["v"].astype(np.float64))
