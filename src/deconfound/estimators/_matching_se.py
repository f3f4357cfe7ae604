"""The matching estimator's pieces after the search: unit-level effects (optionally bias-adjusted) and
the Abadie-Imbens standard error -- conditional variances from same-group neighbours (2006) and the
adjustment for an estimated logistic score (2016).

The search results arrive as :class:`Direction` objects (matches of one group's units to the other's);
one-dimensional metrics without exact-matching cells carry a :class:`ScoreSort` shared by every search.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

import numpy as np

from .._core import kernels
from .._core import rows as row_source
from .._core.design import Design, constant_part
from .._core.least_squares import fit_ols
from .._core.nearest import (
    KD_TIE_RTOL,
    TIE_ATOL,
    TIE_RTOL,
    Pairs,
    nearest_kd,
    nearest_same_group_1d,
    with_sentinels,
)
from .._core.scoresort import ScoreSort, widen


@dataclass(frozen=True)
class Direction:
    """Matches of one group's units (targets) to the other group (pool), in row positions."""

    arm: float  # treatment value of the targets
    targets: np.ndarray  # row positions of all targets
    target: np.ndarray  # per pair: row position of the target
    match: np.ndarray  # per pair: row position of the match
    distance: np.ndarray
    weight: np.ndarray  # per pair: 1 / number of matches of that target
    matched: np.ndarray  # row positions of the targets that found a match (sorted)
    grouped: bool = True  # pairs ordered by target row (else in search order; each target's nearest first)

    def by_target(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(target, match, distance, weight) per pair, ordered by target row, each target's nearest first."""
        fields = (self.target, self.match, self.distance, self.weight)
        if self.grouped:
            return fields
        order = np.argsort(self.target, kind="stable")
        return fields[0][order], fields[1][order], fields[2][order], fields[3][order]


#: from this many targets on, the compiled search of :meth:`RangeDirection.from_sort` runs in two threads
PARALLEL_SEARCH = 100_000


def _found_runs(
    sort: ScoreSort, arm: int, k: int, caliper: float | None, ties: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The compiled search of :meth:`RangeDirection.from_sort`: (lo, hi, rows, values) of the targets with
    a match, in the group's sorted order. Each target's run depends on it alone, so with two threads each
    searches one half of the targets and packs its found ones; the halves are joined in order (the same
    arrays as one thread)."""
    from .._core import _jit_windows, threads

    pool, x = sort.arm_values(1 - arm), sort.arm_values(arm)
    m = len(x)
    lo, hi, rows, values = np.empty(m, np.int64), np.empty(m, np.int64), np.empty(m, np.int64), np.empty(m)
    cut, cal = caliper is not None, 0.0 if caliper is None else float(caliper)
    smaller = np.ascontiguousarray(sort.smaller[1 - arm], dtype=np.int64)
    positions = np.ascontiguousarray(sort.positions[arm], dtype=np.int64)
    own_rows = np.ascontiguousarray(sort.rows(arm), dtype=np.int64)
    size = min(k, len(pool))

    def search(bounds: tuple[int, int]) -> int:
        a, b = bounds
        return int(
            _jit_windows.found_runs(
                x[a:b],
                smaller,
                positions[a:b],
                pool,
                own_rows[a:b],
                size,
                bool(ties),
                cut,
                cal,
                TIE_RTOL,
                TIE_ATOL,
                lo[a:b],
                hi[a:b],
                rows[a:b],
                values[a:b],
            )
        )

    halves = 2 if m >= PARALLEL_SEARCH and threads.parallel() else 1
    bounds = [(m * i // halves, m * (i + 1) // halves) for i in range(halves)]
    counts = threads.map_ordered(search, bounds, workers=halves)
    if halves == 1:
        q = counts[0]
        return lo[:q], hi[:q], rows[:q], values[:q]
    parts = [(a, a + q) for (a, _), q in zip(bounds, counts, strict=True)]
    return tuple(np.concatenate([arr[a:b] for a, b in parts]) for arr in (lo, hi, rows, values))  # type: ignore[return-value]


@dataclass(frozen=True)
class RangeDirection:
    """Matches of one group's units to the other group as runs of the other group's units sorted by score
    (on a line a target's matches, tied ones included, are always a run): matched target ``rows[i]`` has
    the pool units at sorted positions ``lo[i]..hi[i]``, each with weight 1 / (hi[i] - lo[i] + 1). Nothing
    grows with the size of tied groups; the pairs are listed only when asked for (:meth:`by_target`)."""

    arm: float  # treatment value of the targets
    targets: np.ndarray  # row positions of all targets
    rows: np.ndarray  # row positions of the matched targets (in score order)
    lo: np.ndarray  # first matched position in the pool's sorted list
    hi: np.ndarray  # last matched position (inclusive)
    x: np.ndarray  # the matched targets' values
    pool_rows: np.ndarray  # row positions of the pool in sorted order
    pool_values: np.ndarray  # the pool's sorted values

    @classmethod
    def from_sort(cls, sort: ScoreSort, arm: int, k: int, caliper: float | None, ties: bool) -> RangeDirection:
        targets = np.flatnonzero(sort.arm1_rows == bool(arm))
        pool, x = sort.arm_values(1 - arm), sort.arm_values(arm)
        if kernels.compiled() and len(pool) and len(x):  # the runs and the packing of the found in one pass
            lo, hi, rows, values = _found_runs(sort, arm, k, caliper, ties)
            return cls(float(arm), targets, rows, lo, hi, values, sort.rows(1 - arm), pool)
        lo, hi = sort.match_ranges(arm, k, caliper, ties)
        found = np.flatnonzero(lo <= hi)
        return cls(
            float(arm),
            targets,
            sort.rows(arm)[found],
            lo[found],
            hi[found],
            sort.arm_values(arm)[found],
            sort.rows(1 - arm),
            sort.arm_values(1 - arm),
        )

    @classmethod
    def from_cells(
        cls, values: np.ndarray, t: np.ndarray, groups: np.ndarray, arm: int, k: int, caliper: float | None, ties: bool
    ) -> RangeDirection:
        """Matches within exact-matching cells: one sort per cell, the cells' sorted pools laid end to end
        (a run never crosses a cell). A target whose cell has no unit of the other group has no match."""
        parts: list[list[np.ndarray]] = [[], [], [], [], [], []]  # rows, lo, hi, x, pool rows, pool values
        offset = 0
        for units in _cells(groups):
            treated = t[units] == 1.0
            n_target = int(np.count_nonzero(treated if arm == 1 else ~treated))
            if n_target == 0 or n_target == len(units):
                continue
            sort = ScoreSort.build(values[units], treated)
            lo, hi = sort.match_ranges(arm, k, caliper, ties)
            found = np.flatnonzero(lo <= hi)
            for part, value in zip(
                parts,
                (
                    units[sort.rows(arm)][found],
                    lo[found] + offset,
                    hi[found] + offset,
                    sort.arm_values(arm)[found],
                    units[sort.rows(1 - arm)],
                    sort.arm_values(1 - arm),
                ),
            ):
                part.append(value)
            offset += len(sort.rows(1 - arm))
        if not parts[0]:  # no cell holds both groups
            empty = np.zeros(0, np.int64)
            return cls(float(arm), np.flatnonzero(t == arm), empty, empty, empty, np.zeros(0), empty, np.zeros(0))
        rows, lo, hi, x, pool_rows, pool_values = (np.concatenate(part) for part in parts)
        return cls(float(arm), np.flatnonzero(t == arm), rows, lo, hi, x, pool_rows, pool_values)

    @property
    def matched(self) -> np.ndarray:
        return self.rows

    @property
    def counts(self) -> np.ndarray:
        return self.hi - self.lo + 1

    def pool_means(self, values: np.ndarray) -> np.ndarray:
        """Mean of ``values`` (one per row) over each matched target's matches."""
        cum = np.zeros(len(self.pool_rows) + 1)
        np.cumsum(values[self.pool_rows], out=cum[1:])
        return (cum[self.hi + 1] - cum[self.lo]) / self.counts

    def use(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(K, K2) per row: the summed weights (and squared weights) with which each serves as a match."""
        m = len(self.pool_rows)
        out = []
        for weight in (1.0 / self.counts, 1.0 / self.counts**2):
            diff = np.bincount(self.lo, weight, m + 1) - np.bincount(self.hi + 1, weight, m + 1)
            per_row = np.zeros(n)
            per_row[self.pool_rows] = np.cumsum(diff[:m])
            out.append(per_row)
        return out[0], out[1]

    def by_target(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(target, match, distance, weight) per pair, ordered by target row, each target's nearest first."""
        counts = self.counts
        first = np.repeat(self.lo - (np.cumsum(counts) - counts), counts)
        pos = first + np.arange(int(counts.sum()))
        target = np.repeat(self.rows, counts)
        distance = np.abs(np.repeat(self.x, counts) - self.pool_values[pos])
        order = np.lexsort((distance, target))
        weight = np.repeat(1.0 / counts, counts)
        return target[order], self.pool_rows[pos][order], distance[order], weight[order]


def _cells(groups: np.ndarray) -> list[np.ndarray]:
    """Row positions of each exact-matching cell (ascending within a cell)."""
    order = np.argsort(groups, kind="stable")
    codes = groups[order]
    cuts = np.flatnonzero(codes[1:] != codes[:-1]) + 1
    return np.split(order, cuts)


@dataclass(frozen=True)
class Metric:
    kind: str  # "1d" or "kd"
    values: np.ndarray  # 1-D score or whitened covariates
    caliper: float | None
    groups: np.ndarray | None
    sort: ScoreSort | None = None  # 1-D without exact groups: every unit sorted once, seen from both groups


def bias_models(design: Design, y: np.ndarray, t: np.ndarray, used: np.ndarray) -> dict[float, np.ndarray]:
    """Fitted values mu_w(X) of a per-group linear regression of the outcome (Abadie-Imbens 2011).

    As in Abadie and Imbens (2011) and Stata's ``teffects nnmatch, biasadj()``, each group's regression is
    fitted on the units used as matches, weighted by ``used`` (K_i: how often each serves as a match); a
    group whose units are never matches (the treated for the ATT) needs no model and gets none.
    """
    full = design.with_parts([constant_part()], front=True)
    out = {}
    for arm in (0.0, 1.0):
        rows = (t == arm) & (used > 0)
        if not np.any(rows):
            continue
        fit = fit_ols(full.take(rows), y[rows], used[rows])
        out[arm] = full.to_array() @ fit.coef
    return out


def unit_effects(
    d: Direction | RangeDirection, y: np.ndarray, mu: dict[float, np.ndarray] | None
) -> tuple[np.ndarray, np.ndarray]:
    """(matched target rows, observed-minus-imputed effect of each) for one direction."""
    if isinstance(d, RangeDirection):
        if mu is None and kernels.compiled() and len(d.pool_rows):
            from .._core import _jit_windows

            out = np.empty(len(d.rows))
            yc = np.ascontiguousarray(y, dtype=np.float64)
            _jit_windows.run_effects(d.lo, d.hi, d.pool_rows, d.rows, yc, d.arm == 1.0, out)
            return d.rows, out
        if mu is None:
            imputed = d.pool_means(y)
        else:  # matches' outcomes moved to the target's covariates: mean of (y - mu) plus the target's mu
            fitted = mu[1.0 - d.arm]
            imputed = d.pool_means(y - fitted) + fitted[d.rows]
        return d.rows, (y[d.rows] - imputed if d.arm == 1.0 else imputed - y[d.rows])
    contrib = y[d.match]
    if mu is not None:
        other = 1.0 - d.arm
        contrib = contrib + mu[other][d.target] - mu[other][d.match]
    rows = d.matched
    where = np.empty(int(rows.max()) + 1 if len(rows) else 0, np.int64)
    where[rows] = np.arange(len(rows))
    imputed = np.bincount(where[d.target], weights=d.weight * contrib, minlength=len(rows))
    effect = y[rows] - imputed if d.arm == 1.0 else imputed - y[rows]
    return rows, effect


def conditional_variance(
    metric: Metric, y: np.ndarray, t: np.ndarray, need: np.ndarray, j: int, pooled: bool = False
) -> np.ndarray:
    """sigma^2(X_i, W_i) for the rows flagged in ``need`` from the J nearest same-group neighbours (and ties).

    ``pooled=False``: Abadie and Imbens (2006), J/(J+1) (Y_i - mean of the neighbours)^2. ``pooled=True``:
    Stata's ``teffects``, the sample variance of Y over the unit and its neighbours (see
    :func:`neighbour_variance`)."""
    if metric.sort is not None:
        return conditional_variance_sorted(metric.sort, y, need, j, pooled)
    if metric.kind == "1d" and metric.groups is not None:
        return conditional_variance_cells(metric.values, metric.groups, y, t, need, j, pooled)
    sigma2 = np.zeros(len(y))
    for arm in (0.0, 1.0):
        members = np.flatnonzero(t == arm)
        if not np.any(need[members]):
            continue
        g = None if metric.groups is None else metric.groups[members]
        if metric.kind == "1d":
            pr = nearest_same_group_1d(metric.values[members], j, g, targets=np.flatnonzero(need[members]))
        else:
            pr = _kd_same_arm(metric.values[members], j, g)
        counts = np.bincount(pr.target, minlength=len(members)).astype(np.float64)
        if g is not None and np.any((counts == 0) & need[members]):
            # a unit alone in its exact-matching cell: use neighbours from any cell
            alone = np.flatnonzero(counts == 0)
            pr2 = (nearest_same_group_1d if metric.kind == "1d" else _kd_same_arm)(metric.values[members], j, None)
            take = np.isin(pr2.target, alone)
            pr = Pairs(
                *(
                    np.concatenate([a, b[take]])
                    for a, b in zip((pr.target, pr.pool, pr.distance), (pr2.target, pr2.pool, pr2.distance))
                )
            )
        sigma2[members] = neighbour_variance(y[members], pr.target, y[members][pr.pool], pooled)
    return sigma2


def conditional_variance_sorted(
    sort: ScoreSort, y: np.ndarray, need: np.ndarray, j: int, pooled: bool = False
) -> np.ndarray:
    """:func:`conditional_variance` on the shared sort (no exact-matching cells), for the rows flagged in
    ``need``. A unit's neighbours and the units tied with them are a run of its group sorted by score,
    around the unit (:meth:`ScoreSort.same_arm_ranges`), so the means and sums of squares come from running
    sums (outcomes centred on the group's mean first), whatever the size of tied groups."""
    return _run_variance(sort, y, need, j, pooled)[0]


def _run_variance(
    sort: ScoreSort, y: np.ndarray, need: np.ndarray, j: int, pooled: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(sigma^2, alone) per row for the rows flagged in ``need``: alone marks those without any neighbour."""
    sigma2 = np.zeros(len(y))
    alone = np.zeros(len(y), bool)
    for arm in (0, 1):
        rows = sort.rows(arm)
        units = np.flatnonzero(need[rows])
        if not len(units):
            continue
        ys = y[rows]
        ys -= ys.mean()
        if kernels.compiled():
            s2 = _run_variance_compiled(sort, arm, units, ys, j, pooled)
            sigma2[rows[units]] = np.where(np.isnan(s2), 0.0, s2)
            alone[rows[units]] = np.isnan(s2)
            continue
        lo, hi = sort.same_arm_ranges(arm, j, units)
        cum = np.zeros(len(ys) + 1)
        np.cumsum(ys, out=cum[1:])
        own = ys[units]
        count = (hi - lo).astype(np.float64)  # neighbours besides the unit
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = (cum[hi + 1] - cum[lo] - own) / count
            s2 = count / (count + 1.0) * (own - mean) ** 2
            if pooled:  # sample variance over the unit and its neighbours
                cum2 = np.zeros(len(ys) + 1)
                np.cumsum(ys * ys, out=cum2[1:])
                spread = cum2[hi + 1] - cum2[lo] - own * own - count * mean * mean  # neighbours about their mean
                s2 = (np.maximum(spread, 0.0) + s2) / count
        sigma2[rows[units]] = np.where(count > 0, s2, 0.0)
        alone[rows[units]] = count == 0
    return sigma2, alone


def _run_variance_compiled(
    sort: ScoreSort, arm: int, units: np.ndarray, ys: np.ndarray, j: int, pooled: bool
) -> np.ndarray:
    """:func:`_run_variance` of one arm in one compiled sweep (NaN: a unit without any neighbour)."""
    from .._core import _jit_windows

    pool = sort.arm_sorted[arm]
    below = np.ascontiguousarray(sort.smaller[arm][sort.positions[arm]], dtype=np.int64)
    out = np.empty(len(units))
    size = min(j + 1, len(pool))
    units = np.ascontiguousarray(units, dtype=np.int64)
    _jit_windows.run_variance(pool, below, units, np.ascontiguousarray(ys), size, TIE_RTOL, TIE_ATOL, pooled, out)
    return out


def conditional_variance_cells(
    values: np.ndarray, groups: np.ndarray, y: np.ndarray, t: np.ndarray, need: np.ndarray, j: int, pooled: bool
) -> np.ndarray:
    """:func:`conditional_variance` on a score with exact-matching cells: neighbours within the unit's cell
    (one sort per cell, runs as in :func:`conditional_variance_sorted`); a unit alone in its cell and group
    takes its neighbours from every cell."""
    sigma2 = np.zeros(len(y))
    alone = np.zeros(len(y), bool)
    for units in _cells(groups):
        if not need[units].any():
            continue
        s2, lonely = _run_variance(ScoreSort.build(values[units], t[units] == 1.0), y[units], need[units], j, pooled)
        sigma2[units] = s2
        alone[units] = lonely
    if alone.any():
        s2, _ = _run_variance(ScoreSort.build(values, t == 1.0), y, alone, j, pooled)
        sigma2[alone] = s2[alone]
    return sigma2


def neighbour_variance(y_unit: np.ndarray, unit: np.ndarray, y_neighbour: np.ndarray, pooled: bool) -> np.ndarray:
    """Each unit's conditional variance from its same-group neighbours (0 for a unit without any).

    ``unit`` (index into ``y_unit``) and ``y_neighbour`` list the (unit, neighbour outcome) pairs; with m
    neighbours of mean ybar, Abadie-Imbens (2006) is m/(m+1) (Y_i - ybar)^2; ``pooled`` is the sample
    variance of the m + 1 outcomes of the unit and its neighbours, [sum_l (Y_l - ybar)^2 + m/(m+1)
    (Y_i - ybar)^2] / m (Stata's ``teffects``). Both are unbiased for sigma^2 when the neighbours share the
    unit's conditional mean and variance."""
    n_units = len(y_unit)
    counts = np.bincount(unit, minlength=n_units).astype(np.float64)
    sums = np.bincount(unit, weights=y_neighbour, minlength=n_units)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums / counts
        s2 = counts / (counts + 1.0) * (y_unit - mean) ** 2
        if pooled:
            spread = np.bincount(unit, weights=(y_neighbour - mean[unit]) ** 2, minlength=n_units)
            s2 = (spread + s2) / counts
    return np.where(counts > 0, s2, 0.0)


def _kd_same_arm(z: np.ndarray, j: int, groups: np.ndarray | None) -> Pairs:
    if groups is None:
        return nearest_kd(z, z, j, exclude_self=True)
    parts = []
    for code in np.unique(groups):
        idx = np.flatnonzero(groups == code)
        pr = nearest_kd(z[idx], z[idx], j, exclude_self=True)
        parts.append(Pairs(idx[pr.target], idx[pr.pool], pr.distance))
    return Pairs(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("target", "pool", "distance")))


def match_counts(directions: list[Direction | RangeDirection], n: int) -> tuple[np.ndarray, np.ndarray]:
    """K_i (the summed weight with which each row serves as a match) and K2_i (the sum of squared weights)."""
    k1 = np.zeros(n)
    k2 = np.zeros(n)
    for d in directions:
        if isinstance(d, RangeDirection):
            if kernels.compiled() and len(d.lo):
                from .._core import _jit_windows

                _jit_windows.run_use(d.lo, d.hi, d.pool_rows, k1, k2)
                continue
            used, used2 = d.use(n)
            k1 += used
            k2 += used2
            continue
        k1 += np.bincount(d.match, weights=d.weight, minlength=n)
        k2 += np.bincount(d.match, weights=d.weight * d.weight, minlength=n)
    return k1, k2


def ai_variance(
    effects: np.ndarray, target_rows: np.ndarray, sigma2: np.ndarray, k1: np.ndarray, k2: np.ndarray
) -> float:
    """Abadie-Imbens (2006) variance with tie weights: first the spread of the unit-level effects, then
    sum_i [2 1{i target} K_i + K_i^2 - K2_i] sigma_i^2 for matches reused across targets (only rows used
    as matches have K_i > 0)."""
    n_targets = len(effects)
    tau = float(effects.mean())
    is_target = np.zeros(len(k1), bool)
    is_target[target_rows] = True
    used = np.flatnonzero(k1)
    a, a2 = k1[used], k2[used]
    correction = float(np.sum((2.0 * is_target[used] * a + a * a - a2) * sigma2[used]))
    spread = float(np.sum((effects - tau) ** 2))
    return (spread + correction) / n_targets**2


def range_ai_variance(
    directions: list[RangeDirection],
    sort: ScoreSort,
    y: np.ndarray,
    effects: np.ndarray,
    target_rows: np.ndarray,
    j: int,
    pooled: bool,
) -> tuple[float, np.ndarray]:
    """:func:`ai_variance` with :func:`match_counts` and :func:`conditional_variance_sorted` for matches read
    off the shared sort, in one compiled pass over each direction's pool in sorted order (no per-row K2 or
    sigma^2). Returns the variance and K (per row, as :func:`match_counts`). The reuse term is summed in
    the pools' order instead of the rows' (same terms; the last bits may differ)."""
    from .._core import _jit_windows, threads

    n = len(y)
    k1 = np.zeros(n)
    arms = {int(d.arm) for d in directions}
    is_target = np.zeros(n, np.bool_)
    if len(arms) > 1:  # the pools' units are targets of the other direction (the ATE)
        is_target[target_rows] = True

    def one(d: RangeDirection) -> float:
        """One direction's share (each pool writes only its own rows of k1)."""
        pool_arm = 1 - int(d.arm)
        rows = sort.rows(pool_arm)
        if not len(d.lo) or not len(rows):
            return 0.0
        ys = y[rows]
        ys -= ys.mean()
        flags = is_target[rows] if pool_arm in arms else np.zeros(0, np.bool_)
        below = np.ascontiguousarray(sort.smaller[pool_arm][sort.positions[pool_arm]], dtype=np.int64)
        return float(
            _jit_windows.range_correction(
                np.ascontiguousarray(d.lo, dtype=np.int64),
                np.ascontiguousarray(d.hi, dtype=np.int64),
                sort.arm_sorted[pool_arm],
                below,
                ys,
                flags,
                min(j + 1, len(rows)),
                TIE_RTOL,
                TIE_ATOL,
                pooled,
                np.ascontiguousarray(rows, dtype=np.int64),
                k1,
            )
        )

    correction = 0.0
    for share in threads.map_ordered(one, directions, workers=2 if threads.parallel() else 1):
        correction += share  # in the directions' order, whatever the thread count
    tau = float(effects.mean())
    spread = float(np.sum((effects - tau) ** 2))
    return (spread + correction) / len(effects) ** 2, k1


def local_covariance_sum(
    design: Design,
    y: np.ndarray,
    t: np.ndarray,
    size: int,
    weight: Callable[[float, np.ndarray], np.ndarray],
    sort: ScoreSort,
    score: np.ndarray,
    extra: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """sum_i w_g(i) cov(X, Y | score_i, group g) over units i and both groups g, one entry per column of X
    (and X' ``extra`` for a per-row vector, from the same pass over the design).

    cov(X, Y | score, g) around unit i comes from the ``size`` units of group g nearest to it in score: a
    contiguous window of the group sorted by score. The sum is linear in X: unit p of group g enters it with
    the coefficient (y_p a_p - b_p) / (size - 1), where a_p adds the weights w_g(i) of the windows that
    contain p and b_p the same weights times each window's mean outcome. So one product of the design with
    a few vectors gives every column (centred per group, so large means lose no precision). ``score`` are
    the units' scores in ``sort.order`` and ``weight(g, scores)`` gives w_g for a batch of them.
    """
    # the sum is X' coef - sum_g mean_g(X) sum(coef_g), with coef each row's coefficient in its own group
    coef_rows = np.empty(len(y))
    sums = np.zeros(2)
    own = score is sort.values
    for arm in (0, 1):
        rows = sort.rows(arm)
        ys = y[rows]
        ys -= ys.mean()
        m = len(ys)
        size_w = min(size, m)
        cy = np.zeros(m + 1)
        np.cumsum(ys, out=cy[1:])
        a = np.zeros(m)  # summed weights of the windows starting at each unit of the group
        b = np.zeros(m)  # ... times the windows' mean outcomes
        for first, last, start in sort.window_batches(arm, size_w, None if own else score):
            w = weight(float(arm), score[first:last])
            mean_y = cy[start + size_w]
            mean_y -= cy[start]
            mean_y *= w / size_w
            lo, hi = int(start.min()), int(start.max()) + 1
            start -= lo
            a[lo:hi] += np.bincount(start, weights=w, minlength=hi - lo)
            b[lo:hi] += np.bincount(start, weights=mean_y, minlength=hi - lo)
        cover_a, cover_b = a.copy(), b.copy()
        for shift in range(1, size_w):  # windows starting up to size - 1 places before p contain p
            cover_a[shift:] += a[:-shift]
            cover_b[shift:] += b[:-shift]
        coef = ys * cover_a
        coef -= cover_b
        coef /= max(size_w - 1.0, 1.0)
        coef_rows[rows] = coef
        sums[arm] = float(coef.sum())
    return _covariance_product(design, t, coef_rows, sums, extra)


def _covariance_product(
    design: Design, t: np.ndarray, coef_rows: np.ndarray, sums: np.ndarray, extra: Any
) -> tuple[np.ndarray, Any]:
    """sum_p coef_p (X_p - mean of X in p's group), one entry per design column (and X' ``extra``: one
    per-row vector, or a list of them, giving one column of products each), from one product of the
    design with a few per-row vectors; ``sums`` are the groups' sums of ``coef_rows``."""
    more = [] if extra is None else list(extra) if isinstance(extra, list) else [extra]
    columns: list[np.ndarray | float] = [coef_rows, t, 1.0, *more]  # t is 0/1
    prod = design_products(design, columns)
    n1 = float(t.sum())
    n0 = len(t) - n1
    mean1 = prod[:, 1] / n1
    mean0 = (prod[:, 2] - prod[:, 1]) / n0
    total = prod[:, 0] - mean0 * sums[0] - mean1 * sums[1]
    for j, part in enumerate(design.parts):
        if part.values is None:
            total[j] = 0.0  # the constant does not covary
    if extra is None:
        return total, None
    return total, (prod[:, 3:] if isinstance(extra, list) else prod[:, 3])


def design_products(design: Design, columns: list[np.ndarray | float], chunk_rows: int = 6144) -> np.ndarray:
    """X' V for V given as columns (arrays of n, or numbers for constant columns): :meth:`Design.tdot`'s
    pass (the same partitions, products and merge order, so the same bits) with the partitions shared by
    the threads of :mod:`._core.threads` (BLAS runs without the GIL)."""
    return design.tdot(columns, chunk_rows, parallel=True)


class Neighbourhoods(Protocol):
    """Every unit's neighbourhood in each group as a run of that group's sorted list."""

    def arm_rows(self, arm: int) -> np.ndarray:
        """The group's rows in sorted order."""

    def batches(self, arm: int) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(scores, first, last) for consecutive batches of units (first..last inclusive, in the list)."""


@dataclass(frozen=True)
class SortedTieWindows:
    """Every unit's neighbourhood in each group on the score, with ties (Stata's ``teffects psmatch``), read
    off the matching's sort of every unit by score, in batches of units (in ``sort.order``) so that no
    million-row temporary is made. For a unit of group g: itself and its ``size - 1`` nearest other units of
    g; for a unit outside g: its ``size`` nearest units of g; in both cases every unit tied with the farthest
    (ties as in :mod:`deconfound._core.nearest`). Each is a run of g's sorted list: the ``size`` nearest
    units of g form a window of it (:meth:`ScoreSort.window_batches`; for a unit of g the window holds the
    unit itself, at distance 0), widened on both sides to every unit within the tie limit of its farthest
    member."""

    sort: ScoreSort
    size: int

    def arm_rows(self, arm: int) -> np.ndarray:
        return self.sort.rows(arm)

    def batches(self, arm: int) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(scores, first, last) for consecutive batches of units."""
        x_all, pool = self.sort.values, self.sort.arm_values(arm)
        size_w = min(self.size, len(pool))
        scale = float(max(abs(pool[0]), abs(pool[-1]), 1.0))
        own = None
        if self.size == 1:  # a unit of g alone: no neighbours, so no ties to widen to
            own = np.full(len(x_all), -1, np.int64)
            own[self.sort.positions[arm]] = np.arange(len(pool))
        padded = with_sentinels(pool)  # padded[i + 1] is pool[i]; infinite beyond both ends
        for begin, end, start in self.sort.window_batches(arm, size_w):
            x = x_all[begin:end]
            stop = start + (size_w - 1)
            limit = np.maximum(x - pool[start], pool[stop] - x)
            limit *= 1.0 + TIE_RTOL
            limit += TIE_ATOL * scale
            # usually no unit just outside a window is tied with its farthest member: one test each side
            left = x - padded[start] <= limit
            right = padded[stop + 2] - x <= limit
            lo = widen(pool, x, start, limit, -1, left) if left.any() else start
            hi = widen(pool, x, stop, limit, 1, right) if right.any() else stop
            if own is not None:
                mine = own[begin:end]
                lo, hi = np.where(mine >= 0, mine, lo), np.where(mine >= 0, mine, hi)
            yield x, lo, hi


def window_covariance_sum(
    design: Design,
    y: np.ndarray,
    t: np.ndarray,
    windows: Neighbourhoods,
    weight: Callable[[float, np.ndarray], np.ndarray],
    extra: np.ndarray | None = None,
    means: np.ndarray | None = None,
    own: int | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`local_covariance_sum` over the neighbourhoods of ``windows``.

    Unit i's covariance in group g is the sample covariance over its neighbourhood W (divisor |W| - 1);
    unit p of g enters the sum with sum over the neighbourhoods W containing p of w_g(i) (y_p - mean_W y)
    / (|W| - 1), accumulated with difference arrays over the runs of positions. ``means`` (2 x units, in
    the windows' order of units), when given, receives each unit's mean outcome over its neighbourhood in
    each group; with ``own`` (:class:`SortedTieWindows` only) a unit's entry for its own group is instead
    its mean over its ``own`` nearest other units of the group (:func:`_own_group_means`).
    """
    coef_rows, sums, _ = window_coefficients(y, windows, weight, means, own)
    return _covariance_product(design, t, coef_rows, sums, extra)


def window_coefficients(
    y: np.ndarray,
    windows: Neighbourhoods,
    weight: Callable[[float, np.ndarray], np.ndarray],
    means: np.ndarray | None = None,
    own: int | None = None,
    also: Callable[[], Any] | None = None,
) -> tuple[np.ndarray, np.ndarray, Any]:
    """The sweeps of :func:`window_covariance_sum` without the product with the design: (each row's
    coefficient, each group's sum of them, the result of ``also()``: independent work run beside the
    compiled sweeps, in a thread of its own when allowed)."""
    coef_rows = np.empty(len(y))
    sums = np.zeros(2)
    if isinstance(windows, SortedTieWindows) and kernels.compiled() and isinstance(weight, AdjustmentWeight):
        # weights, own means and the scatter to rows in one sweep per group, the two groups side by side
        sums, beside = _adjustment_compiled(windows, y, weight, means, coef_rows, own, also)
        return coef_rows, sums, beside
    for arm in (0, 1):
        order = windows.arm_rows(arm)
        m = len(order)
        ys = y[order]
        centre = float(ys.mean()) if m else 0.0
        ys -= centre
        if m and isinstance(windows, SortedTieWindows) and kernels.compiled():
            coef = _tie_windows_compiled(windows, arm, ys, centre, weight, means)
            coef_rows[order] = coef
            sums[arm] = float(coef.sum())
            continue
        cy = np.zeros(m + 1)
        np.cumsum(ys, out=cy[1:])
        a = np.zeros(m + 2)  # difference arrays: a unit's weight enters at its first and leaves after its last
        b = np.zeros(m + 2)
        offset = 0
        for score, lo, hi in windows.batches(arm):
            size = hi - lo
            size += 1
            base = int(lo.min())
            w = weight(float(arm), score)
            width = int(size[0])
            if width > 1 and bool(np.all(size == width)):  # no widened window: each leaves ``width`` later
                w *= 1.0 / (width - 1.0)
                b_w = cy[lo + width]
                b_w -= cy[lo]
                if means is not None:
                    means[arm, offset : offset + len(lo)] = b_w / width + centre
                    offset += len(lo)
                b_w *= w
                b_w *= 1.0 / width
                span = int(lo.max()) + 1 - base
                lo_b = lo - base
                for acc, vals in ((a, w), (b, b_w)):
                    enter = np.bincount(lo_b, vals, span)
                    acc[base : base + span] += enter
                    acc[base + width : base + width + span] -= enter
                continue
            with np.errstate(invalid="ignore", divide="ignore"):
                a_w = np.where(size > 1, w / (size - 1.0), 0.0)
            b_w = cy[hi + 1]
            b_w -= cy[lo]
            b_w /= size
            if means is not None:
                means[arm, offset : offset + len(lo)] = b_w + centre
                offset += len(lo)
            b_w *= a_w
            top = int(hi.max()) + 2
            lo_b, hi_b = lo - base, hi + (1 - base)
            a[base:top] += np.bincount(lo_b, a_w, top - base) - np.bincount(hi_b, a_w, top - base)
            b[base:top] += np.bincount(lo_b, b_w, top - base) - np.bincount(hi_b, b_w, top - base)
        coef = ys * np.cumsum(a[:m])
        coef -= np.cumsum(b[:m])
        coef_rows[order] = coef
        sums[arm] = float(coef.sum())
    if own is not None and means is not None:
        assert isinstance(windows, SortedTieWindows)
        _own_group_means(windows.sort, y, own, means)
    return coef_rows, sums, (None if also is None else also())


def _tie_windows_compiled(
    windows: SortedTieWindows,
    arm: int,
    ys: np.ndarray,
    centre: float,
    weight: Callable[[float, np.ndarray], np.ndarray],
    means: np.ndarray | None,
) -> np.ndarray:
    """One arm of :func:`window_covariance_sum` over :class:`SortedTieWindows` in one compiled sweep over
    the units (window, tie widening by binary search, means and difference arrays together); each unit's
    coefficient in the arm's sorted order."""
    from .._core import _jit_windows

    sort = windows.sort
    pool = sort.arm_sorted[arm]
    m = len(pool)
    size_w = min(windows.size, m)
    alone = np.zeros(0, np.int64)
    if windows.size == 1:  # a unit of g alone: no neighbours, so no ties to widen to
        alone = np.full(len(sort.values), -1, np.int64)
        alone[sort.positions[arm]] = np.arange(m)
    mean_out = np.empty(len(sort.values)) if means is None else means[arm]
    w_all = np.ascontiguousarray(weight(float(arm), sort.values), dtype=np.float64)
    below = np.ascontiguousarray(sort.smaller[arm], dtype=np.int64)
    coef = np.empty(m)
    ys = np.ascontiguousarray(ys)
    tol = (TIE_RTOL, TIE_ATOL)
    _jit_windows.tie_window_sweep(sort.values, below, pool, ys, size_w, alone, w_all, *tol, centre, mean_out, coef)
    return coef


@dataclass(frozen=True)
class AdjustmentWeight:
    """w_g(p) of the Abadie-Imbens (2016) adjustment for a batch of scores p of group g: ``mode`` 0 for the
    ATE (``n`` all units), 1 for the ATT and ATC (``target`` the estimand's group, ``n`` its units). The
    compiled sweep computes the same per unit (``_jit_windows._adjustment_weight``)."""

    mode: int
    target: float
    n: float

    def __call__(self, arm: float, q: np.ndarray) -> np.ndarray:
        f = q * (1.0 - q)
        if self.mode == 0:
            return f / q / self.n if arm == 1.0 else f / (1.0 - q) / self.n
        if arm == self.target:
            return f / self.n
        odds = q / (1.0 - q) if self.target == 1.0 else (1.0 - q) / q
        return odds * f / self.n


def _adjustment_compiled(
    windows: SortedTieWindows,
    y: np.ndarray,
    weight: AdjustmentWeight,
    means: np.ndarray | None,
    coef_rows: np.ndarray,
    own: int | None,
    also: Callable[[], Any] | None = None,
) -> tuple[np.ndarray, Any]:
    """:func:`window_covariance_sum`'s sweeps with the weights computed in them, each coefficient written
    to its row (``coef_rows``) and with ``own`` the own-group means of :func:`_own_group_means` in the same
    pass: one nogil compiled sweep per group, the two groups in two threads when allowed (each writes only
    its own rows and its own row of ``means``, so the thread count changes no bit). Returns each group's
    sum of coefficients (summed in the group's sorted order) and the result of ``also()``, independent work
    run first in the same map (its passes serial inside a pool thread: the same bits)."""
    from .._core import _jit_windows, threads

    sort = windows.sort
    n = len(sort.values)
    mean_rows = np.empty((2, n)) if means is None else means

    def sweep(arm: int) -> float:
        rows = sort.rows(arm)
        m = len(rows)
        if not m:
            return 0.0
        y_raw = np.ascontiguousarray(y[rows], dtype=np.float64)
        centre = float(y_raw.mean())
        ys = y_raw - centre
        coef = np.empty(m)
        _jit_windows.adjustment_sweep(
            sort.values,
            np.ascontiguousarray(sort.smaller[arm], dtype=np.int64),
            sort.arm_sorted[arm],
            ys,
            y_raw if own is not None else ys,
            np.ascontiguousarray(rows, dtype=np.int64),
            np.ascontiguousarray(sort.positions[arm], dtype=np.int64),
            min(windows.size, m),
            windows.size == 1,
            0 if own is None else min(own + 1, m),
            float(arm),
            weight.mode,
            float(weight.target),
            float(weight.n),
            TIE_RTOL,
            TIE_ATOL,
            centre,
            mean_rows[arm],
            coef,
            coef_rows,
        )
        return float(coef.sum())

    tasks: list[Callable[[], Any]] = [partial(sweep, 0), partial(sweep, 1)]
    if also is not None:
        tasks.insert(0, also)  # the longest first: the two sweeps share the other thread
    done = threads.map_ordered(lambda task: task(), tasks, workers=2 if threads.parallel() else 1)
    return np.array(done[-2:]), (done[0] if also is not None else None)


@dataclass(frozen=True)
class _Spans:
    """Every unit's ``size`` nearest units of each group on the sort, as runs of that group's sorted list
    (``score``: the units' scores in ``sort.order``, when the sort is on another variable)."""

    sort: ScoreSort
    score: np.ndarray | None
    size: int

    def arm_rows(self, arm: int) -> np.ndarray:
        return self.sort.rows(arm)

    def batches(self, arm: int) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(unit rows, first, last) for batches of units: positions first..last (inclusive) of the arm's list."""
        sort = self.sort
        size = min(self.size, len(sort.rows(arm)))
        own = self.score is None or self.score is sort.values
        for first, last, start in sort.window_batches(arm, size, None if own else self.score):
            yield sort.order[first:last], start, start + (size - 1)


def local_outcome_means(y: np.ndarray, t: np.ndarray, near: _Spans, own: _Spans) -> np.ndarray:
    """mu_g(p_i), column g: the mean outcome of unit i's neighbours in group g on the score -- the units of
    ``near`` for i outside g, those of ``own`` (one larger: the unit and its nearest others) without i
    itself for i in g (as Stata's ``teffects psmatch``)."""
    out = np.empty((len(y), 2))
    for arm in (0, 1):
        order = near.arm_rows(arm)
        ys = y[order]
        cy = np.zeros(len(ys) + 1)
        np.cumsum(ys, out=cy[1:])
        for rows, lo, hi in near.batches(arm):
            keep = t[rows] != arm
            lo, hi = lo[keep], hi[keep]
            out[rows[keep], arm] = (cy[hi + 1] - cy[lo]) / (hi - lo + 1)
        rank = np.empty(len(y), np.int64)
        rank[order] = np.arange(len(order))
        for rows, lo, hi in own.batches(arm):
            keep = t[rows] == arm
            rows, lo, hi = rows[keep], lo[keep], hi[keep]
            # without ties a run of equal scores can crowd the unit out of its window: then drop the last
            inside = (lo <= rank[rows]) & (rank[rows] <= hi)
            dropped = np.where(inside, y[rows], ys[hi])
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = (cy[hi + 1] - cy[lo] - dropped) / (hi - lo)
            out[rows, arm] = np.where(hi > lo, mean, y[rows])  # a unit alone in its group: its own outcome
    return out


def _own_group_means(sort: ScoreSort, y: np.ndarray, size: int, means: np.ndarray) -> None:
    """For each unit, its mean outcome over its ``size`` nearest *other* units of its own group on the
    score, ties included (the neighbourhood of :func:`local_outcome_means` for a unit of g, which is the
    tie-widened window of ``size + 1`` around it without itself; its own outcome when alone in its group),
    written into ``means`` (row = group, units in ``sort.order``). The neighbours are a run around the
    unit (:meth:`ScoreSort.same_arm_ranges`): running sums give the means."""
    for arm in (0, 1):
        ys = y[sort.rows(arm)]
        if not len(ys):
            continue
        if kernels.compiled():
            from .._core import _jit_windows

            below = np.ascontiguousarray(sort.smaller[arm][sort.positions[arm]], dtype=np.int64)
            own = np.empty(len(ys))
            pool = sort.arm_sorted[arm]
            _jit_windows.own_window_means(pool, below, ys, min(size + 1, len(ys)), TIE_RTOL, TIE_ATOL, own)
            means[arm, sort.positions[arm]] = own
            continue
        lo, hi = sort.same_arm_ranges(arm, size)
        cum = np.zeros(len(ys) + 1)
        np.cumsum(ys, out=cum[1:])
        count = hi - lo
        with np.errstate(invalid="ignore", divide="ignore"):
            own = np.where(count > 0, (cum[hi + 1] - cum[lo] - ys) / count, ys)
        means[arm, sort.positions[arm]] = own


def covariate_match_means(z: np.ndarray, y: np.ndarray, t: np.ndarray, k: int) -> np.ndarray:
    """For every unit, the mean outcome of its ``k`` nearest units of the other group by Euclidean distance
    on the columns of ``z``, with every unit tied with the k-th (Stata's estimate of mu_w(X) in the ATT's
    derivative term of ``teffects psmatch``).

    Units with equal covariates are searched once: the k nearest distinct covariate profiles of the other
    group (and ties) hold at least k units, so the k-th nearest unit is among them; its distance, read off
    the profiles' counts, sets the tie limit. Discrete covariates thus cost one search per profile.
    """
    out = np.empty(len(y))
    for arm in (0.0, 1.0):
        targets, pool = np.flatnonzero(t == arm), np.flatnonzero(t != arm)
        tz, t_inv = _profiles(z[targets])
        pz, p_inv = _profiles(z[pool])
        count = np.bincount(p_inv, minlength=len(pz)).astype(np.float64)
        ysum = np.bincount(p_inv, weights=y[pool], minlength=len(pz))
        pr = nearest_kd(tz, pz, min(k, len(pz)), ties=True)  # ordered by target, nearest first
        c = count[pr.pool]
        starts = np.searchsorted(pr.target, np.arange(len(tz)))
        within = np.cumsum(c)
        within -= (within - c)[starts][pr.target]  # units up to each profile, per target
        reach = np.where(within >= min(k, len(pool)), np.arange(len(pr)), len(pr) - 1)
        kth = pr.distance[np.minimum.reduceat(reach, starts)]
        keep = pr.distance <= (kth * (1.0 + KD_TIE_RTOL) + TIE_ATOL)[pr.target]
        total = np.bincount(pr.target[keep], weights=ysum[pr.pool[keep]], minlength=len(tz))
        units = np.bincount(pr.target[keep], weights=c[keep], minlength=len(tz))
        out[targets] = (total / units)[t_inv]
    return out


#: "auto" imputes the ATT's derivative term by matching on the covariates (as Stata) when the search is
#: small -- up to this many rows, or rows x 2^covariates up to MATCHING_IMPUTATION_WORK -- and by least
#: squares within each group otherwise. The k-d tree search grows with rows and, steeply, with covariates
#: (measured: 0.15 s at 4,900 rows x 10 covariates, 0.8 s at 20,000 x 10, 1.1 s at 150,000 x 5, 11 s at
#: 100,000 x 10), against a few milliseconds for the regression at any of these sizes.
MATCHING_IMPUTATION_ROWS = 5_000
MATCHING_IMPUTATION_WORK = 1_000_000
IMPUTATIONS = ("auto", "matching", "regression")


def resolve_imputation(how: str, n: int, covariates: int) -> str:
    """The imputation "auto" stands for with ``n`` rows and ``covariates`` non-constant columns."""
    if how != "auto":
        return how
    small = n <= MATCHING_IMPUTATION_ROWS or n * 2.0 ** min(covariates, 60) <= MATCHING_IMPUTATION_WORK
    return "matching" if small else "regression"


def other_outcome(design: Design, y: np.ndarray, t: np.ndarray, neighbors: int, how: str) -> np.ndarray:
    """Every unit's imputed outcome under the other treatment, mu_{1-W_i}(X_i), for the ATT's derivative
    term: by Euclidean matching on the design's covariates (``how="matching"``, Stata's
    :func:`covariate_match_means`) or by least squares of the outcome on the design within the other
    group (``"regression"``, :func:`regression_other_outcome`)."""
    if how == "matching":
        z = design.to_array()[:, [j for j, part in enumerate(design.parts) if part.values is not None]]
        return covariate_match_means(z, y, t, neighbors)
    return regression_other_outcome(design, y, t)


def regression_other_outcome(design: Design, y: np.ndarray, t: np.ndarray) -> np.ndarray:
    """mu_{1-W_i}(X_i) from a linear regression of the outcome on the design within each group.

    One pass over the rows gives both groups' cross-products (columns shifted by the first block's means,
    so large means lose no precision), a least-squares solve per group in the group's own centred
    coordinates (:func:`_centred_solve`: a column constant within a group gets no coefficient there, as R's
    ``lm`` drops it), and a second pass each unit's fitted value under the other group's regression."""
    fit = _GroupRegressions(design, y, t)
    out = np.empty(len(y))

    def fitted(run: list[row_source.Partition]) -> list[None]:
        scratch = fit.scratch()
        for part in run:  # per-row outputs: each partition writes the rows it carries
            out[part.rows] = fit.other(part, scratch)
        return [None] * len(run)

    _partition_map(fit.src, fitted)
    return out


def _partition_map(src: row_source.RowSource, fn: Callable[[list[Any]], list[Any]]) -> list[Any]:
    """``fn`` over runs of the source's non-empty partitions, in two threads when allowed: the results in
    the partitions' order (a caller that merges them in that order gets the bits of one thread). ``fn``
    gets a list of partitions (a contiguous run of them, with its own scratch) and returns one result
    for each."""
    from .._core import threads

    parts = [part for part in src.partitions() if part.n]
    return threads.map_chunked(fn, parts, workers=2 if threads.parallel() and len(parts) > 1 else 1)


class _GroupRegressions:
    """Least squares of the outcome on the design within each group (:func:`regression_other_outcome`): the
    cross-products of both groups from one pass over the rows' partitions (two threads, merged in the
    partitions' order), the coefficients, and each partition's fitted values under the other group."""

    def __init__(self, design: Design, y: np.ndarray, t: np.ndarray, extra: dict[str, np.ndarray] | None = None):
        self.whole = whole = design.leading_constant_view()  # a constant and one matrix's columns: read in place
        self.k = k = design.k if whole is None else design.k - 1  # columns besides the explicit intercept
        treated = (t == 1.0).astype(np.float64)
        self.src = src = row_source.source(design, 1 << 13, y=y, t=treated, extra=extra)
        self.shift: np.ndarray | None = None
        first = next((part for part in src.partitions() if part.n), None)
        if first is not None:  # one shift for every partition (the first one's means): the sums stay additive
            self.shift = self._columns(first, self.scratch()).mean(axis=0)
        fold = getattr(src, "fold", None)
        zero = np.zeros((k + 1, 2 * (k + 1) + 2))
        if fold is not None:  # an engine's source folds itself
            scratch = self.scratch()
            sums = fold(lambda part: self._products(part, scratch), zero, None)
        else:
            sums = zero
            for partial_sum in _partition_map(src, self._product_run):
                sums = sums + partial_sum
        gram_all, gram_treated, rhs = sums[:, : k + 1], sums[:, k + 1 : 2 * (k + 1)], sums[:, 2 * (k + 1) :]
        grams = (gram_all - gram_treated, gram_treated)
        self.coef = np.column_stack([_centred_solve(grams[g], rhs[:, g]) for g in (0, 1)])

    def scratch(self) -> dict[str, np.ndarray | None]:
        return {"buf": None, "ext": None, "wy": None}

    def _columns(self, part: row_source.Partition, scratch: dict[str, np.ndarray | None]) -> np.ndarray:
        matrix = part.matrix() if self.whole is not None else None
        if matrix is not None:
            return matrix
        # (without the leading constant when the other partitions are read in place)
        blk = scratch["buf"] = part.block(scratch["buf"])
        return blk if self.whole is None else blk[:, 1:]

    def shifted(self, part: row_source.Partition, scratch: dict[str, np.ndarray | None]) -> np.ndarray:
        """[X - shift, 1] of the partition's rows (in the scratch)."""
        blk = self._columns(part, scratch)
        k = self.k
        ext = scratch["ext"] = row_source.scratch(scratch["ext"], part.n, k + 1)
        out = ext[: part.n]
        assert self.shift is not None
        np.subtract(blk, self.shift, out=out[:, :k])
        out[:, k] = 1.0
        return out

    def _products(self, part: row_source.Partition, scratch: dict[str, np.ndarray | None]) -> np.ndarray:
        """[X - shift, 1]' [X - shift, 1] over all rows and the treated rows, and its products with y for
        the controls and the treated, side by side."""
        x = self.shifted(part, scratch)
        tb, yb = part["t"], part["y"]
        wy = scratch["wy"] = row_source.scratch(scratch["wy"], part.n, 2)
        both = wy[: part.n]
        np.multiply(yb, tb, out=both[:, 1])
        np.subtract(yb, both[:, 1], out=both[:, 0])
        return np.hstack([x.T @ x, x.T @ (x * tb[:, None]), x.T @ both])

    def _product_run(self, run: list[row_source.Partition]) -> list[np.ndarray]:
        scratch = self.scratch()
        return [self._products(part, scratch) for part in run]

    def other(self, part: row_source.Partition, scratch: dict[str, np.ndarray | None]) -> np.ndarray:
        """The partition's fitted values under the other group's regression."""
        fitted = self.shifted(part, scratch) @ self.coef  # under the controls' and the treated's regression
        return np.where(part["t"] == 1.0, fitted[:, 0], fitted[:, 1])


def _centred_solve(gram: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Least squares from the raw products of [X, 1] and [X, 1]'y of one group: the slopes solve the
    group's centred normal equations by minimum norm (a column without variance in the group gets 0,
    other collinear columns share their effect), the intercept puts the fit through the group's means.
    Returns the coefficients of [X, 1]."""
    k = len(rhs) - 1
    n = gram[k, k]
    if not n > 0:
        return np.zeros(k + 1)
    mean_x = gram[:k, k] / n
    mean_y = rhs[k] / n
    cxx = gram[:k, :k] - n * np.outer(mean_x, mean_x)
    cxy = rhs[:k] - n * mean_x * mean_y
    scale = np.sqrt(np.maximum(np.diag(cxx), 0.0))
    tiny = scale <= 1e-12 * max(float(scale.max(initial=0.0)), 1e-300)  # no variance left after centring
    slope = np.zeros(k)
    if not tiny.all():
        keep = ~tiny
        slope[keep] = np.linalg.lstsq(cxx[np.ix_(keep, keep)], cxy[keep], rcond=None)[0]
    return np.append(slope, mean_y - float(mean_x @ slope))


def _profiles(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct rows of z, each row's index among them). Rows are first told apart by a hash of their
    bits: when no two hashes collide, the rows are distinct and the sort of :func:`numpy.unique` is saved."""
    bits = np.ascontiguousarray(z, dtype=np.float64).view(np.uint64)
    h = np.zeros(len(z), np.uint64)
    for j in range(bits.shape[1]):
        h *= np.uint64(0x9E3779B97F4A7C15)
        h ^= bits[:, j]
    h.sort()
    if not np.any(h[1:] == h[:-1]):
        return z, np.arange(len(z))
    rows, inverse = np.unique(z, axis=0, return_inverse=True)
    return rows, inverse.ravel()


def ps_adjustment(
    fit: Any,
    y,
    t,
    neighbors: int,
    tau: float,
    estimand: str,
    size: int,
    sort: ScoreSort | None,
    on_score: bool,
    ties: bool = False,
    imputation: str = "matching",
) -> float:
    """Abadie and Imbens (2016): the change in the matching variance from estimating the logistic score.

    ATE: - c' V c, with V the logit coefficients' covariance, c = mean[(cov(X, Y(1)|p)/p + cov(X, Y(0)|p)/(1-p))
    f] and f = p(1-p) the logistic density. ATT: - c_t' V c_t + d' V d over all N units, N1 treated, with
    c_t = sum[X f (mu_1(p) - mu_0(p) - tau)] / N1 + sum[(cov1 + p/(1-p) cov0) f] / N1 and d = sum[X f
    (mu_1(X) - mu_0(X) - tau)] / N1 (the derivative of the ATT in the logit coefficients). The ATC is the
    ATT with the groups swapped. As in Stata's ``teffects psmatch, atet``: the conditional means mu_w(p)
    are means over the ``size`` nearest units of group w in score (for a unit of w its ``size`` nearest
    other units of w, see :func:`local_outcome_means`), and mu_1(X) - mu_0(X) of unit i is its
    observed-minus-imputed effect from matching on the score's covariates with the Euclidean distance,
    ``neighbors`` matches (and ties; :func:`covariate_match_means`). Conditional covariances come from the
    ``size`` nearest units of each group (a unit counting itself in its own group): a contiguous window of
    the group sorted by score, or with ``ties`` (Stata's ``teffects psmatch``) that window widened to
    every unit as near as its farthest member (:class:`SortedTieWindows`). ``sort`` is the matching's sort of
    every unit (on the score itself when ``on_score``, else on its logit).
    """
    design = fit.design
    v = fit.logistic.cov
    p: np.ndarray | None = None
    windows: SortedTieWindows | None = None
    if ties:
        if sort is None or not on_score:  # the neighbourhoods are on the score itself: sort on it
            sort, on_score = ScoreSort.build(fit.score, t == 1.0), True
        windows = SortedTieWindows(sort, size)
        cov_sum = partial(window_covariance_sum, design, y, t, windows)
    else:
        if sort is None:
            sort, on_score = ScoreSort.build(fit.score, t == 1.0), True
        p = sort.values if on_score else fit.score[sort.order]
        cov_sum = partial(local_covariance_sum, design, y, t, size, sort=sort, score=p)
    if estimand == "ATE":
        c, _ = cov_sum(weight=AdjustmentWeight(0, 1.0, float(len(y))))
        return -float(c @ v @ c)
    target = 1.0 if estimand == "ATT" else 0.0
    n_arm = float(np.count_nonzero(t == target))
    weight_att = AdjustmentWeight(1, target, n_arm)
    coef_rows: np.ndarray | None = None
    other = partial(other_outcome, design, y, t, neighbors, imputation)
    if isinstance(windows, SortedTieWindows):  # the local means come out of the covariance sweep
        mu_sorted = np.empty((2, len(y)))  # in the sort's order of units
        # the imputation needs no window: it runs beside the compiled sweeps
        coef_rows, sums, imputed = window_coefficients(y, windows, weight_att, means=mu_sorted, own=size, also=other)
    else:
        assert sort is not None
        near, own = _Spans(sort, p, size), _Spans(sort, p, size + 1)
        mu = local_outcome_means(y, t, near, own)
        gap = mu[:, 1] - mu[:, 0]  # mu_1(p) - mu_0(p) of every unit, in row order
        c, _ = cov_sum(weight=weight_att)
        imputed = other()
    if isinstance(windows, SortedTieWindows) and kernels.compiled():  # the lines below in one kernel
        gap, effect = _derivative_terms(windows.sort.order, mu_sorted, fit.score, t, y, imputed, tau, target)
    else:
        if isinstance(windows, SortedTieWindows):
            gap = np.empty(len(y))
            gap[windows.sort.order] = mu_sorted[1] - mu_sorted[0]
        f = fit.score * (1.0 - fit.score)
        sign = 1.0 if target == 1.0 else -1.0  # the ATC is minus the ATT of the swapped groups
        effect = (2.0 * t - 1.0) * (y - imputed)  # Y(1) - Y(0) of every unit
        gap -= tau
        gap *= sign * f
        effect -= tau
        effect *= f
    if coef_rows is not None:  # the covariances and these two terms from one product with the design
        c, both = _covariance_product(design, t, coef_rows, sums, [gap, effect])
        both = both / n_arm
    else:
        both = design_products(design, [gap, effect]) / n_arm
    c = c + both[:, 0]
    d = both[:, 1]
    return -float(c @ v @ c) + float(d @ v @ d)


def _derivative_terms(
    order: np.ndarray,
    mu_sorted: np.ndarray,
    score: np.ndarray,
    t: np.ndarray,
    y: np.ndarray,
    imputed: np.ndarray,
    tau: float,
    target: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The per-row vectors of :func:`ps_adjustment`'s ATT/ATC terms in compiled passes (the numpy lines'
    operations in the same order, so the same bits): sign f (mu_1(p) - mu_0(p) - tau), the local means'
    gap scattered from ``order``, and f (Y(1) - Y(0) - tau), with f = p (1 - p)."""
    from .._core import _jit_windows

    n = len(y)
    gap, effect = np.empty(n), np.empty(n)
    sign = 1.0 if target == 1.0 else -1.0  # the ATC is minus the ATT of the swapped groups
    _jit_windows.derivative_terms(
        np.ascontiguousarray(order, dtype=np.int64),
        mu_sorted[0],
        mu_sorted[1],
        np.ascontiguousarray(score, dtype=np.float64),
        np.ascontiguousarray(t, dtype=np.float64),
        np.ascontiguousarray(y, dtype=np.float64),
        np.ascontiguousarray(imputed, dtype=np.float64),
        float(tau),
        sign,
        gap,
        effect,
    )
    return gap, effect


# --------------------------------------------------------------------------------------------------
