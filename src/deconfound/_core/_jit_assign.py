"""Compiled greedy matching without replacement (numba). Imported only when the compiled kernels run.

Closest pair first, exactly the numpy path's rule (pairs taken in the order of (distance, pool position,
target position) in the sorted arrays; a target's nearest free unit is the one on its left when the two
sides are equally far). On a line the closest remaining (target, pool) pair is always *adjacent* in the
merged order of the remaining units, so the search keeps a doubly linked list of the merged order and a
heap of adjacent candidate pairs only: making a pair removes at most two list nodes and creates at most a
few new adjacencies, so the matching costs O(n log n) after the sort, however the units are tied.

Ties: units of one side with equal (group, value) are one list node (a *run*): a target run hands out its
members in increasing position, a pool run hands out its lowest free member to a target on its left and
its highest free member to a target on its right -- what the sequential rule's insertion point and
"next free unit" pointers pick. At equal values a target run is placed before the pool run (its nearest
free unit is then the pool run's first). Without runs, k tied targets wanting one unit would re-search
k times per pair made.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _runs(xt, gt, xs, gs):  # pragma: no cover - compiled
    """Merge the two sorted sides into runs: (kind 0 target / 1 pool, group, value, first, end) per node."""
    n_t, n_p = xt.shape[0], xs.shape[0]
    kind = np.empty(n_t + n_p, np.int8)
    grp = np.empty(n_t + n_p, np.int64)
    val = np.empty(n_t + n_p)
    first = np.empty(n_t + n_p, np.int64)
    end = np.empty(n_t + n_p, np.int64)
    i = 0
    j = 0
    m = 0
    while i < n_t or j < n_p:
        take_t = j >= n_p or (i < n_t and (gt[i] < gs[j] or (gt[i] == gs[j] and xt[i] <= xs[j])))
        if take_t:
            a = i
            while i < n_t and gt[i] == gt[a] and xt[i] == xt[a]:
                i += 1
            kind[m], grp[m], val[m], first[m], end[m] = 0, gt[a], xt[a], a, i
        else:
            a = j
            while j < n_p and gs[j] == gs[a] and xs[j] == xs[a]:
                j += 1
            kind[m], grp[m], val[m], first[m], end[m] = 1, gs[a], xs[a], a, j
        m += 1
    return kind[:m], grp[:m], val[:m], first[:m], end[:m]


# The (4-ary) heap holds rows (distance bits, pool position * 2^32 + target position, left node) of one int64
# array, so an entry is one small record compared on its first two fields (a non-negative float64's bits
# order as an int64). An entry is stale when its left node's right neighbour would now make another pair.


@njit(cache=True, inline="always")
def _less(h, a, b):  # pragma: no cover - compiled
    if h[a, 0] != h[b, 0]:
        return h[a, 0] < h[b, 0]
    return h[a, 1] < h[b, 1]


@njit(cache=True, inline="always")
def _swap(h, a, b):  # pragma: no cover - compiled
    for r in range(3):
        h[a, r], h[b, r] = h[b, r], h[a, r]


@njit(cache=True)
def _push(h, size, dbits, pair, left):  # pragma: no cover - compiled
    pos = size
    h[pos, 0], h[pos, 1], h[pos, 2] = dbits, pair, left
    while pos > 0:
        parent = (pos - 1) // 4
        if not _less(h, pos, parent):
            break
        _swap(h, pos, parent)
        pos = parent
    return size + 1


@njit(cache=True)
def _pop(h, size):  # pragma: no cover - compiled
    size -= 1
    _swap(h, 0, size)
    pos = 0
    while True:
        first = 4 * pos + 1  # a 4-ary heap: half the depth, the children in one or two cache lines
        if first >= size:
            break
        child = first
        for c in range(first + 1, min(first + 4, size)):
            if _less(h, c, child):
                child = c
        if not _less(h, child, pos):
            break
        _swap(h, pos, child)
        pos = child
    return size


@njit(cache=True)
def greedy_sorted(xt, gt, xs, gs, cal):  # pragma: no cover - compiled
    """Closest pairs first between targets ``xt`` and pool ``xs``, both sorted by (group, value, position)
    (``gt``/``gs`` the groups; pairs never cross groups). Returns (target position, pool position,
    distance) of the pairs made within ``cal``."""
    kind, grp, val, lo, hi = _runs(xt, gt, xs, gs)
    m = kind.shape[0]
    prev = np.arange(-1, m - 1)
    nxt = np.arange(1, m + 1)
    nxt[m - 1] = -1
    n_pairs = min(xt.shape[0], xs.shape[0])
    out_t = np.empty(n_pairs, np.int64)
    out_p = np.empty(n_pairs, np.int64)
    out_d = np.empty(n_pairs)
    made = _heap_finish(kind, grp, val, lo, hi, prev, nxt, cal, out_t, out_p, out_d, 0)
    return out_t[:made], out_p[:made], out_d[:made]


@njit(cache=True)
def _heap_finish(kind, grp, val, lo, hi, prev, nxt, cal, out_t, out_p, out_d, made):  # pragma: no cover
    """Closest pair first over the alive nodes of the linked list (prev/nxt; a node is alive while
    lo < hi): a heap of adjacent candidate pairs. Appends the pairs to out_* from ``made``; returns the
    new count."""
    m = kind.shape[0]
    first = 0  # the first live node (a node is dead once lo >= hi)
    while first < m and lo[first] >= hi[first]:
        first += 1
    if first == m:
        first = -1
    cap = m + 4 * out_t.shape[0] + 4  # pages past the pushes made are never touched
    h = np.empty((cap, 3), np.int64)
    bits = np.empty(1)
    ibits = bits.view(np.int64)
    size = 0
    a = first
    while a >= 0 and nxt[a] >= 0:
        b = nxt[a]
        if kind[a] != kind[b] and grp[a] == grp[b]:  # (the common case, same side, without a call)
            size = _candidate(a, b, kind, grp, val, lo, hi, cal, h, size, bits, ibits)
        a = b
    chain = np.empty(4, np.int64)
    while size > 0:
        ibits[0] = h[0, 0]
        d, pair, a = bits[0], h[0, 1], h[0, 2]
        size = _pop(h, size)
        b = nxt[a]
        if lo[a] >= hi[a] or b < 0 or kind[a] == kind[b] or _pair(a, b, kind, lo, hi) != pair:
            continue  # stale: a node changed or left since the candidate was made
        j, ti = pair >> 32, pair & 0xFFFFFFFF
        out_t[made], out_p[made], out_d[made] = ti, j, d
        made += 1
        t_node, p_node = (a, b) if kind[a] == 0 else (b, a)
        lo[t_node] += 1  # the target run's next member
        if kind[a] == 0:
            lo[p_node] += 1  # pool run on the right: its lowest free member was taken
        else:
            hi[p_node] -= 1  # pool run on the left: its highest free member was taken
        left, right = prev[a], nxt[b]
        for node in (a, b):
            if lo[node] >= hi[node]:  # empty: unlink
                p, q = prev[node], nxt[node]
                if p >= 0:
                    nxt[p] = q
                if q >= 0:
                    prev[q] = p
        # the adjacencies between left .. right changed: candidates for each consecutive alive pair
        c = 0
        for node in (left, a, b, right):
            if node >= 0 and lo[node] < hi[node]:
                chain[c] = node
                c += 1
        for r in range(c - 1):
            size = _candidate(chain[r], chain[r + 1], kind, grp, val, lo, hi, cal, h, size, bits, ibits)
    return made


@njit(cache=True, inline="always")
def _pair(a, b, kind, lo, hi):  # pragma: no cover - compiled
    """pool position * 2^32 + target position of the pair adjacent nodes a (left), b would make."""
    if kind[a] == 0:  # target run, then pool run on its right: the pool run's lowest free member
        return (lo[b] << 32) | lo[a]
    return ((hi[a] - 1) << 32) | lo[b]  # pool run, then target run: the pool run's highest free member


@njit(cache=True)
def _candidate(a, b, kind, grp, val, lo, hi, cal, h, size, bits, ibits):  # pragma: no cover - compiled
    """Push the pair that adjacent nodes a (left) and b (right) would make, if any, within the caliper."""
    if kind[a] == kind[b] or grp[a] != grp[b]:
        return size
    d = val[b] - val[a]
    if not (d <= cal and d < np.inf):
        return size
    if size >= h.shape[0]:  # pragma: no cover - the capacity bounds the pushes
        return size
    bits[0] = d + 0.0  # -0.0 -> +0.0: equal distances get equal bits
    return _push(h, size, ibits[0], _pair(a, b, kind, lo, hi), a)


#: how many same-side nodes the sweep looks past for a unit's nearest unit of the other side (beyond them
#: the pair is left to the heap; 32 measured fastest at 1M rows)
SCAN = 32


@njit(cache=True)
def greedy_sorted_linear(xt, gt, xs, gs, cal):  # pragma: no cover - compiled
    """The pairs of :func:`greedy_sorted` (same arguments, same pairs, in another order), most of them in
    one linear sweep (:func:`sweep`) over the merged runs. Returns the pairs and the runs' state (kind,
    group, value, lo, hi, prev, nxt) for :func:`_heap_finish`."""
    kind, grp, val, lo, hi = _runs(xt, gt, xs, gs)
    m = kind.shape[0]
    prev = np.arange(-1, m - 1)
    nxt = np.arange(1, m + 1)
    nxt[m - 1] = -1
    n_pairs = min(xt.shape[0], xs.shape[0])
    out_t = np.empty(n_pairs, np.int64)
    out_p = np.empty(n_pairs, np.int64)
    out_d = np.empty(n_pairs)
    made = sweep(kind, grp, val, lo, hi, prev, nxt, 0, m, True, True, cal, out_t, out_p, out_d)
    return out_t[:made], out_p[:made], out_d[:made], kind, grp, val, lo, hi, prev, nxt


@njit(cache=True, nogil=True)
def sweep(kind, grp, val, lo, hi, prev, nxt, start, stop, closed_left, closed_right, cal, out_t, out_p, out_d):
    """The linear sweep over the nodes ``start .. stop - 1`` of the merged runs (linked by prev/nxt, with
    -1 at both ends of the range): the pairs go to out_* (returns their number).

    A candidate pair of adjacent nodes (a, c) is one the closest-pair-first rule makes as it stands when
    its distance is strictly below every distance a or c can ever have to another partner: below the
    distance from a to the nearest unit of the other side on its left, and from c to the nearest on its
    right (units only leave, so later partners are farther). The sweep from the left makes every such pair
    it meets and steps back to the candidates before it (whose bounds the pair can raise); ties of distance
    and long stretches of one side are left to the heap of :func:`greedy_sorted`, which finishes the
    remaining units. On continuous scores the sweep makes almost every pair.

    A range that is a part of the nodes (``closed_left``/``closed_right`` False on a side where other
    nodes continue) knows no bound beyond its end: a candidate whose bound lies there is left to the heap.
    Pairs made are thus certain whatever the other part holds, so parts swept separately (in threads) and
    then finished by the heap give the pairs of one sweep."""
    made = 0
    c = start + 1 if stop - start > 1 else -1  # the candidate looked at is (prev[c], c)
    open_left = np.inf if closed_left else -1.0  # a bound past the range's end: none there, or unknown
    open_right = np.inf if closed_right else -1.0
    while c >= 0:
        a = prev[c]
        if a < 0 or kind[a] == kind[c] or grp[a] != grp[c]:
            c = nxt[c]
            continue
        d = val[c] - val[a] + 0.0
        if not (d <= cal and d < np.inf):
            c = nxt[c]
            continue
        # the distance from a to the nearest unit of the other side on its left (inf: none; -1: not within
        # SCAN nodes or past the range, no bound), written out here: a call per candidate costs more
        left = -1.0
        q = prev[a]
        for _ in range(SCAN):
            if q < 0:
                left = open_left
                break
            if grp[q] != grp[a]:
                left = np.inf
                break
            if kind[q] != kind[a]:
                left = val[a] - val[q]
                break
            q = prev[q]
        if not d < left:
            c = nxt[c]
            continue
        right = -1.0
        q = nxt[c]
        for _ in range(SCAN):
            if q < 0:
                right = open_right
                break
            if grp[q] != grp[c]:
                right = np.inf
                break
            if kind[q] != kind[c]:
                right = val[q] - val[c]
                break
            q = nxt[q]
        if not d < right:
            c = nxt[c]
            continue
        pair = _pair(a, c, kind, lo, hi)
        out_t[made], out_p[made], out_d[made] = pair & 0xFFFFFFFF, pair >> 32, d
        made += 1
        lo[c] += 1  # c: the target run's next member, or a pool run on the right: its lowest free member
        if kind[a] == 0:
            lo[a] += 1  # target run a: its next member
        else:
            hi[a] -= 1  # pool run a, target run c on its right: the pool run's highest free member
        nxt_c = nxt[c]
        for node in (a, c):
            if lo[node] >= hi[node]:  # empty: unlink
                p, q = prev[node], nxt[node]
                if p >= 0:
                    nxt[p] = q
                if q >= 0:
                    prev[q] = p
        # look again from the candidate before a's stretch of its own side (its bound may have grown)
        back = a if lo[a] < hi[a] else prev[a]
        if back < 0:
            c = nxt_c if lo[c] >= hi[c] else c
            continue
        for _ in range(SCAN + 1):
            p = prev[back]
            if p < 0 or kind[p] != kind[back]:
                break
            back = p
        c = back
    return made


@njit(cache=True)
def link_parts(lo, hi, prev, nxt, cut):  # pragma: no cover - compiled
    """Join the linked lists of the nodes before ``cut`` and from ``cut`` on (swept apart): the last live
    node of the first part and the first live node of the second become neighbours."""
    left = cut - 1
    while left >= 0 and lo[left] >= hi[left]:
        left -= 1
    right = cut
    m = lo.shape[0]
    while right < m and lo[right] >= hi[right]:
        right += 1
    if left >= 0:
        nxt[left] = right if right < m else -1
    if right < m:
        prev[right] = left


@njit(cache=True)
def runs_and_links(xt, gt, xs, gs):  # pragma: no cover - compiled
    """The merged runs (:func:`_runs`) and their linked list (prev, nxt)."""
    kind, grp, val, lo, hi = _runs(xt, gt, xs, gs)
    m = kind.shape[0]
    prev = np.arange(-1, m - 1)
    nxt = np.arange(1, m + 1)
    nxt[m - 1] = -1
    return kind, grp, val, lo, hi, prev, nxt


@njit(cache=True)
def finish_parts(kind, grp, val, lo, hi, prev, nxt, cal, n_pairs, t1, p1, d1, t2, p2, d2):  # pragma: no cover
    """The pairs of two swept parts (already linked, :func:`link_parts`) followed by the heap's pairs on
    the units they left: (target position, pool position, distance), as :func:`greedy_sorted_fast`
    (``n_pairs``: the smaller side's number of units)."""
    all_t = np.empty(n_pairs, np.int64)
    all_p = np.empty(n_pairs, np.int64)
    all_d = np.empty(n_pairs)
    k = t1.shape[0]
    made = k + t2.shape[0]
    all_t[:k], all_p[:k], all_d[:k] = t1, p1, d1
    all_t[k:made], all_p[k:made], all_d[k:made] = t2, p2, d2
    made = _heap_finish(kind, grp, val, lo, hi, prev, nxt, cal, all_t, all_p, all_d, made)
    return all_t[:made], all_p[:made], all_d[:made]


@njit(cache=True)
def greedy_sorted_fast(xt, gt, xs, gs, cal):  # pragma: no cover - compiled
    """:func:`greedy_sorted_linear`'s sweep, then the heap on the units it left."""
    out_t, out_p, out_d, kind, grp, val, lo, hi, prev, nxt = greedy_sorted_linear(xt, gt, xs, gs, cal)
    made = out_t.shape[0]
    n_pairs = min(xt.shape[0], xs.shape[0])
    all_t = np.empty(n_pairs, np.int64)
    all_p = np.empty(n_pairs, np.int64)
    all_d = np.empty(n_pairs)
    all_t[:made], all_p[:made], all_d[:made] = out_t, out_p, out_d
    made = _heap_finish(kind, grp, val, lo, hi, prev, nxt, cal, all_t, all_p, all_d, made)
    return all_t[:made], all_p[:made], all_d[:made]
