"""Compiled sweep over tie-widened score windows (numba): the local covariances and local outcome means of
the Abadie-Imbens (2016) adjustment in one pass over the units sorted by score. Imported only when the
compiled kernels run; the numpy path is ``SortedTieWindows`` with ``window_covariance_sum``."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def _padded(pool, i, size):  # pragma: no cover - compiled
    """pool with ``size`` infinite sentinels on each side: -inf before the first value, +inf after the last."""
    j = i - size
    if j < 0:
        return -np.inf
    if j >= pool.shape[0]:
        return np.inf
    return pool[j]


@njit(cache=True, inline="always")
def _tie_window(x, bb, pool, size, rtol, atol, scale):  # pragma: no cover - compiled
    """The run lo..hi of the sorted ``pool`` holding the ``size`` units nearest to ``x`` (``bb``: the pool
    units strictly below x; ties to the left) and every unit within the tie limit of the farthest of them
    (:meth:`ScoreSort.window_starts` and :meth:`ScoreSort._widened` for one unit)."""
    m = pool.shape[0]
    start = bb - size
    for shift in range(size):
        if _padded(pool, bb + shift + size, size) - x < x - _padded(pool, bb + shift, size):
            start += 1
    stop = start + (size - 1)
    limit = max(x - pool[start], pool[stop] - x)
    limit *= 1.0 + rtol
    limit += atol * scale
    lo, hi = start, stop
    if start > 0 and x - pool[start - 1] <= limit:  # the smallest q with x - pool[q] <= limit
        left, right = 0, start - 1
        while left < right:
            mid = (left + right) // 2
            if x - pool[mid] <= limit:
                right = mid
            else:
                left = mid + 1
        lo = left
    if stop < m - 1 and pool[stop + 1] - x <= limit:  # the largest q with pool[q] - x <= limit
        left, right = stop + 1, m - 1
        while left < right:
            mid = (left + right + 1) // 2
            if pool[mid] - x <= limit:
                left = mid
            else:
                right = mid - 1
        hi = left
    return lo, hi


@njit(cache=True, inline="always")
def _spread(a, b, lo, hi, weight, mean):  # pragma: no cover - compiled
    """Difference arrays of a window's weight and weighted mean over pool positions lo..hi (their running
    sums give, per position, the total weight and weighted mean of the windows that contain it)."""
    a[lo] += weight
    a[hi + 1] -= weight
    b[lo] += mean * weight
    b[hi + 1] -= mean * weight


@njit(cache=True)
def tie_window_sweep(x_all, below, pool, ys, size, alone, w_all, rtol, atol, centre, means, coef):  # pragma: no cover
    """For every unit (scores ``x_all`` in sort order; ``below`` the pool units strictly below each), its
    window of the ``size`` nearest pool units (ties to the left), widened to every pool unit within the tie
    limit of its farthest member (its own position ``alone[u]`` when ``alone`` is not empty and that is
    >= 0); adds the window's weight ``w_all / (|W| - 1)`` and that times the window's mean of ``ys`` to
    difference arrays (entering at the window's first unit, leaving after its last) and writes the mean
    plus ``centre`` to ``means``. Then each pool unit's coefficient ``ys * A - B`` (A, B the running sums
    of the difference arrays) goes to ``coef``."""
    m = pool.shape[0]
    scale = max(abs(pool[0]), abs(pool[m - 1]), 1.0)
    cy = np.empty(m + 1)
    cy[0] = 0.0
    for i in range(m):
        cy[i + 1] = cy[i] + ys[i]
    a = np.zeros(m + 2)
    b = np.zeros(m + 2)
    check = alone.shape[0] > 0
    for u in range(x_all.shape[0]):
        lo, hi = _tie_window(x_all[u], below[u], pool, size, rtol, atol, scale)
        if check and alone[u] >= 0:
            lo = alone[u]
            hi = alone[u]
        count = hi - lo + 1
        mean = (cy[hi + 1] - cy[lo]) / count
        means[u] = mean + centre
        weight = w_all[u] / (count - 1.0) if count > 1 else 0.0
        _spread(a, b, lo, hi, weight, mean)
    run_a = 0.0
    run_b = 0.0
    for p in range(m):
        run_a += a[p]
        run_b += b[p]
        coef[p] = ys[p] * run_a - run_b


@njit(cache=True)
def own_window_means(pool, below, ys, size, rtol, atol, out):  # pragma: no cover - compiled
    """For every unit of one group (``pool``: the group's sorted values; ``below``: the group's units
    strictly below each, ties counted from their run's start), the mean of ``ys`` over its tie-widened
    window of the ``size`` nearest units of the group, the unit itself left out (its own value when the
    window holds nothing else): the numpy path of ``_own_group_means``, with the same running sums."""
    m = pool.shape[0]
    scale = max(abs(pool[0]), abs(pool[m - 1]), 1.0)
    cy = np.empty(m + 1)
    cy[0] = 0.0
    for i in range(m):
        cy[i + 1] = cy[i] + ys[i]
    for u in range(m):
        lo, hi = _tie_window(pool[u], below[u], pool, size, rtol, atol, scale)
        count = hi - lo
        out[u] = (cy[hi + 1] - cy[lo] - ys[u]) / count if count > 0 else ys[u]


@njit(cache=True)
def run_variance(pool, below, units, ys, size, rtol, atol, pooled, out):  # pragma: no cover - compiled
    """For the units ``units`` of one group (indices of its sorted list; ``ys`` its outcomes in that order,
    centred), the conditional variance from the tie-widened window of the ``size`` nearest units of the
    group (the unit included): the numpy path of ``_run_variance``, the same running sums and formulas;
    NaN marks a unit without any neighbour."""
    m = pool.shape[0]
    scale = max(abs(pool[0]), abs(pool[m - 1]), 1.0)
    cy = np.empty(m + 1)
    cy2 = np.empty(m + 1)
    cy[0] = 0.0
    cy2[0] = 0.0
    for i in range(m):
        cy[i + 1] = cy[i] + ys[i]
        cy2[i + 1] = cy2[i] + ys[i] * ys[i]
    for i in range(units.shape[0]):
        u = units[i]
        lo, hi = _tie_window(pool[u], below[u], pool, size, rtol, atol, scale)
        own = ys[u]
        count = float(hi - lo)
        if count == 0.0:
            out[i] = np.nan
            continue
        mean = (cy[hi + 1] - cy[lo] - own) / count
        s2 = count / (count + 1.0) * (own - mean) ** 2
        if pooled:
            spread = cy2[hi + 1] - cy2[lo] - own * own - count * mean * mean
            s2 = (max(spread, 0.0) + s2) / count
        out[i] = s2


@njit(cache=True, inline="always")
def _use_sums(lo, hi, m):  # pragma: no cover - compiled
    """K and K2 of each of the pool's m sorted units (the summed and squared weights 1 / (hi - lo + 1) with
    which the targets' runs lo..hi use it), by difference arrays and running sums: returned in the first
    two arrays (the last two, the leaving weights, are free scratch afterwards)."""
    enter1 = np.zeros(m + 1)
    leave1 = np.zeros(m + 1)
    enter2 = np.zeros(m + 1)
    leave2 = np.zeros(m + 1)
    for i in range(lo.shape[0]):
        c = hi[i] - lo[i] + 1
        w1 = 1.0 / c
        w2 = 1.0 / (c * c)
        enter1[lo[i]] += w1
        leave1[hi[i] + 1] += w1
        enter2[lo[i]] += w2
        leave2[hi[i] + 1] += w2
    run1 = 0.0
    run2 = 0.0
    for p in range(m):
        run1 += enter1[p] - leave1[p]
        run2 += enter2[p] - leave2[p]
        enter1[p] = run1
        enter2[p] = run2
    return enter1, enter2, leave1, leave2


@njit(cache=True)
def run_use(lo, hi, pool_rows, k1, k2):  # pragma: no cover - compiled
    """Adds to ``k1`` (``k2``) the summed (squared) weights with which each row serves as a match, target i
    holding the pool's sorted units ``lo[i]..hi[i]`` with weight 1 / (hi[i] - lo[i] + 1): the numpy path
    of ``RangeDirection.use`` (difference arrays summed in the same order, then running sums)."""
    m = pool_rows.shape[0]
    enter1, enter2, _, _ = _use_sums(lo, hi, m)
    for p in range(m):
        k1[pool_rows[p]] += enter1[p]
        k2[pool_rows[p]] += enter2[p]


@njit(cache=True)
def match_runs(x, below, pool, size, ties, cut, caliper, rtol, atol, lo, hi):  # pragma: no cover - compiled
    """:func:`_match_runs` with ``below`` given (see there)."""
    _match_runs(x, below, np.zeros(0, np.int64), pool, size, ties, cut, caliper, rtol, atol, lo, hi)


@njit(cache=True, nogil=True)
def found_runs(
    x, smaller, positions, pool, rows, size, ties, cut, caliper, rtol, atol, lo, hi, found_rows, found_x
):  # pragma: no cover - compiled
    """:func:`match_runs` for every unit of one group (values ``x``, rows ``rows``, positions ``positions``
    among all units; ``smaller`` the pool's units below each position), the targets with a match packed
    to the front of ``lo``, ``hi``, ``found_rows`` and ``found_x`` in the group's sorted order: returns
    their number (``RangeDirection.from_sort`` without the gathers)."""
    m = x.shape[0]
    _match_runs(x, smaller, positions, pool, size, ties, cut, caliper, rtol, atol, lo, hi)
    q = 0
    for u in range(m):
        if lo[u] <= hi[u]:
            lo[q] = lo[u]
            hi[q] = hi[u]
            found_rows[q] = rows[u]
            found_x[q] = x[u]
            q += 1
    return q


@njit(cache=True, inline="always")
def _match_runs(x, below, positions, pool, size, ties, cut, caliper, rtol, atol, lo, hi):  # pragma: no cover
    """For every target (values ``x``; ``below`` the pool units strictly below each), the run lo..hi of the
    sorted ``pool`` holding its ``size`` nearest units, widened to the tied ones (``ties``) and cut to the
    ``caliper`` (``cut``) from both ends a run of equal values at a time (lo > hi: no match): the numpy
    path of :meth:`ScoreSort.match_ranges`."""
    m = pool.shape[0]
    scale = max(abs(pool[0]), abs(pool[m - 1]), 1.0)
    indirect = positions.shape[0] > 0  # below[positions[u]] instead of below[u]
    for u in range(x.shape[0]):
        xu = x[u]
        bu = below[positions[u]] if indirect else below[u]
        if ties:
            a, b = _tie_window(xu, bu, pool, size, rtol, atol, scale)
        else:
            bb = bu
            a = bb - size
            for shift in range(size):
                if _padded(pool, bb + shift + size, size) - xu < xu - _padded(pool, bb + shift, size):
                    a += 1
            b = a + (size - 1)
        if cut:
            while a <= b and abs(xu - pool[a]) > caliper:  # past the run of equal values at the left end
                value = pool[a]
                while a < m and pool[a] == value:
                    a += 1
            while a <= b and abs(xu - pool[b]) > caliper:
                value = pool[b]
                while b >= 0 and pool[b] == value:
                    b -= 1
        lo[u] = a
        hi[u] = b


@njit(cache=True, inline="always")
def _adjustment_weight(q, arm, mode, target, n):  # pragma: no cover - compiled
    """w_g(q) of the Abadie-Imbens (2016) adjustment, as ``ps_adjustment``'s weight functions compute it:
    mode 0 the ATE (``n`` all units), mode 1 the ATT/ATC (``target`` the group, ``n`` its units)."""
    f = q * (1.0 - q)
    if mode == 0:
        return f / q / n if arm == 1.0 else f / (1.0 - q) / n
    if arm == target:
        return f / n
    odds = q / (1.0 - q) if target == 1.0 else (1.0 - q) / q
    return odds * f / n


@njit(cache=True, nogil=True)
def adjustment_sweep(
    x_all,
    below,
    pool,
    ys,
    y_raw,
    rows,
    positions,
    size,
    alone,
    own_size,
    arm,
    mode,
    target,
    n_w,
    rtol,
    atol,
    centre,
    means,
    coef,
    coef_rows,
):  # pragma: no cover - compiled
    """:func:`tie_window_sweep` for one group with the weights computed per unit (``_adjustment_weight``)
    and the pool's coefficients written both in the pool's order (``coef``) and to their rows
    (``coef_rows[rows[p]]``). ``positions`` are the group's positions among all units (ascending): unit u
    belongs to the group when it is the next of them, and its index in the pool is their count so far.
    With ``own_size`` > 0, a unit of the group gets in ``means`` the mean of the raw outcomes ``y_raw``
    over its tie-widened window of the ``own_size`` nearest units of the group without itself (its own
    outcome when alone: ``own_window_means``) instead of its window mean; with ``alone`` a unit of the
    group is alone in its window (the ``alone`` of :func:`tie_window_sweep`). Runs without the GIL (the
    two groups' sweeps in two threads write disjoint rows)."""
    m = pool.shape[0]
    scale = max(abs(pool[0]), abs(pool[m - 1]), 1.0)
    cy = np.empty(m + 1)
    cr = np.empty(m + 1)
    cy[0] = 0.0
    cr[0] = 0.0
    for i in range(m):
        cy[i + 1] = cy[i] + ys[i]
        cr[i + 1] = cr[i] + y_raw[i]
    a = np.zeros(m + 2)
    b = np.zeros(m + 2)
    seen = 0
    for u in range(x_all.shape[0]):
        x = x_all[u]
        mine = -1
        if seen < m and positions[seen] == u:
            mine = seen
            seen += 1
        if alone and mine >= 0:
            lo = mine
            hi = mine
        else:
            lo, hi = _tie_window(x, below[u], pool, size, rtol, atol, scale)
        count = hi - lo + 1
        mean = (cy[hi + 1] - cy[lo]) / count
        if own_size > 0 and mine >= 0:
            olo, ohi = _tie_window(x, below[u], pool, own_size, rtol, atol, scale)
            ocount = ohi - olo
            means[u] = (cr[ohi + 1] - cr[olo] - y_raw[mine]) / ocount if ocount > 0 else y_raw[mine]
        else:
            means[u] = mean + centre
        weight = _adjustment_weight(x, arm, mode, target, n_w) / (count - 1.0) if count > 1 else 0.0
        _spread(a, b, lo, hi, weight, mean)
    run_a = 0.0
    run_b = 0.0
    for p in range(m):
        run_a += a[p]
        run_b += b[p]
        c = ys[p] * run_a - run_b
        coef[p] = c
        coef_rows[rows[p]] = c


@njit(cache=True, nogil=True)
def range_correction(lo, hi, pool, below, ys, is_target, size, rtol, atol, pooled, pool_rows, k1):  # pragma: no cover
    """One direction's share of the Abadie-Imbens (2006) reuse term: sum over the pool units used as
    matches of (2 1{target} K + K^2 - K2) sigma^2, in the pool's sorted order (``run_use``'s K and K2 --
    the same difference arrays and running sums -- and ``run_variance``'s sigma^2 of each unit with K > 0,
    0 for a unit without neighbours), summed in blocks of 256 units. Adds each pool unit's K to its row
    of ``k1``. ``is_target`` (empty: none is) flags the pool units that are targets themselves (the ATE)."""
    m = pool_rows.shape[0]
    enter1, enter2, leave1, leave2 = _use_sums(lo, hi, m)
    for p in range(m):
        k1[pool_rows[p]] += enter1[p]
    scale = max(abs(pool[0]), abs(pool[m - 1]), 1.0)
    cy = leave1  # the difference arrays' space is free again: running sums of the outcomes
    cy2 = leave2
    cy[0] = 0.0
    cy2[0] = 0.0
    for i in range(m):
        cy[i + 1] = cy[i] + ys[i]
        cy2[i + 1] = cy2[i] + ys[i] * ys[i]
    flagged = is_target.shape[0] > 0
    total = 0.0
    block = 0.0
    for p in range(m):
        r1 = enter1[p]
        if r1 > 0.0:
            r2 = enter2[p]
            lo_p, hi_p = _tie_window(pool[p], below[p], pool, size, rtol, atol, scale)
            own = ys[p]
            count = float(hi_p - lo_p)
            if count > 0.0:
                mean = (cy[hi_p + 1] - cy[lo_p] - own) / count
                s2 = count / (count + 1.0) * (own - mean) ** 2
                if pooled:
                    spread = cy2[hi_p + 1] - cy2[lo_p] - own * own - count * mean * mean
                    s2 = (max(spread, 0.0) + s2) / count
                target = 1.0 if flagged and is_target[p] else 0.0
                block += (2.0 * target * r1 + r1 * r1 - r2) * s2
        if (p & 255) == 255:
            total += block
            block = 0.0
    return total + block


@njit(cache=True, nogil=True)
def derivative_terms(order, mu0, mu1, score, t, y, imputed, tau, sign, gap, effect):  # pragma: no cover
    """``gap[order[u]] = mu1[u] - mu0[u]``, then per row ``gap = (gap - tau) * (sign * f)`` and
    ``effect = ((2 t - 1) (y - imputed) - tau) * f`` with ``f = score (1 - score)``: the numpy lines of
    ``ps_adjustment`` (the same operations in the same order) in two passes."""
    n = order.shape[0]
    for u in range(n):
        gap[order[u]] = mu1[u] - mu0[u]
    for i in range(n):
        f = score[i] * (1.0 - score[i])
        gap[i] = (gap[i] - tau) * (sign * f)
        effect[i] = ((2.0 * t[i] - 1.0) * (y[i] - imputed[i]) - tau) * f


@njit(cache=True, nogil=True)
def run_effects(lo, hi, pool_rows, rows, y, treated, out):  # pragma: no cover - compiled
    """Each matched target's observed-minus-imputed effect (``treated``: y - mean, else mean - y), the mean
    of ``y`` over its matches (pool units ``lo..hi`` in sorted order) from running sums: the numpy path
    of ``RangeDirection.pool_means`` and ``unit_effects`` (the same operations in the same order)."""
    m = pool_rows.shape[0]
    cum = np.empty(m + 1)
    cum[0] = 0.0
    for p in range(m):
        cum[p + 1] = cum[p] + y[pool_rows[p]]
    for i in range(lo.shape[0]):
        imputed = (cum[hi[i] + 1] - cum[lo[i]]) / float(hi[i] - lo[i] + 1)
        own = y[rows[i]]
        out[i] = own - imputed if treated else imputed - own
