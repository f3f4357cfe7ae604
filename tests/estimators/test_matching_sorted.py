"""The shared sort of matching on a score (ScoreSort) against the direct searches it replaces."""

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest

from deconfound._core.nearest import SortedPool, nearest_1d, nearest_same_group_1d, window_1d
from deconfound._core.scoresort import ScoreSort
from deconfound._core.sorting import stable_argsort


def _values(rng, kind, n):
    if kind == "continuous":
        return rng.random(n)
    if kind == "rounded":  # many exact duplicates
        return np.round(rng.random(n), 3)
    if kind == "ulps":  # values a few ulps apart: equal in the packed key's kept bits
        return 0.3 + rng.integers(0, 40, n) * np.spacing(0.3)
    if kind == "signed":
        v = rng.normal(size=n)
        v[:50], v[50:100], v[100:110], v[110:120] = -0.0, 0.0, np.inf, -np.inf
        return v
    return rng.integers(0, 30, n) * 1e-3 + rng.integers(0, 2, n) * 1e-14  # near-ties at 1e-14


@pytest.mark.parametrize("kind", ["continuous", "rounded", "ulps", "signed", "near"])
@pytest.mark.parametrize("n", [1000, 9000, 70_000])  # the largest sorts its keys with polars
def test_stable_argsort_is_numpys_stable_argsort(rng, kind, n):
    v = _values(rng, kind, n)
    np.testing.assert_array_equal(stable_argsort(v), np.argsort(v, kind="stable"))


def test_large_key_sort_is_numpys_sort(rng):
    from deconfound._core.sorting import _POLARS_KEYS, sort_keys

    keys = rng.integers(0, 2**64 - 1, _POLARS_KEYS + 5, dtype=np.uint64, endpoint=True)
    keys[:3] = [0, 2**64 - 1, 2**63]  # the extremes and the sign bit of a signed view
    np.testing.assert_array_equal(sort_keys(keys), np.sort(keys))


def test_stable_argsort_with_nan_falls_back_to_numpy(rng):
    v = rng.random(10_000)
    v[[5, 77, 9000]] = np.nan
    v[12] = -np.nan
    np.testing.assert_array_equal(stable_argsort(v), np.argsort(v, kind="stable"))


def _finite(rng, kind, n):
    v = _values(rng, kind, n)
    return np.where(np.isfinite(v), v, 0.5)


def _expand(lo, hi):
    """(index of the unit, position) for every position of every run lo..hi (empty when lo > hi)."""
    counts = np.maximum(hi - lo + 1, 0)
    unit = np.repeat(np.arange(len(lo)), counts)
    return unit, np.repeat(lo - (np.cumsum(counts) - counts), counts) + np.arange(int(counts.sum()))


@pytest.mark.parametrize("kind", ["continuous", "rounded", "near", "ulps", "batches"])
def test_match_ranges_equal_nearest_1d(rng, kind):
    """A target's matches (k nearest, ties kept or not, within a caliper) are a run of the sorted pool: the
    runs expand to exactly the pairs of the walk in nearest_1d."""
    n = {"batches": 70_000, "ulps": 600}.get(kind, 6000)  # ulps: 40 values, the walk's ties are slow
    v = _finite(rng, "continuous" if kind == "batches" else kind, n)
    t = rng.random(n) < 0.4
    if kind == "batches":  # several batches of window starts, ties in some
        v[np.flatnonzero(t)[:5]] = v[np.flatnonzero(~t)[:5]]
        v[np.flatnonzero(t)[-3:]] = 2 * v[np.flatnonzero(~t)[-3:]] - v[np.flatnonzero(~t)[-4:-1]]
    sort = ScoreSort.build(v, t)
    for arm in (0, 1):
        targets, pool = np.flatnonzero(t == arm), np.flatnonzero(t != arm)
        for k in (1, 3):
            for ties in (True, False):
                for caliper in (None, 0.002, 1e-12):
                    ref = nearest_1d(v[targets], v[pool], k, caliper=caliper, ties=ties)
                    lo, hi = sort.match_ranges(arm, k, caliper, ties)
                    unit, pos = _expand(lo, hi)
                    got = sorted(zip(sort.rows(arm)[unit].tolist(), sort.rows(1 - arm)[pos].tolist()))
                    assert got == sorted(zip(targets[ref.target].tolist(), pool[ref.pool].tolist()))


@pytest.mark.parametrize("kind", ["continuous", "rounded", "ulps"])
def test_same_arm_ranges_equal_nearest_same_group_1d(rng, kind):
    """A unit's j nearest same-group units and those tied with them, with the unit itself, are a run."""
    n = 600 if kind == "ulps" else 5000
    v = _finite(rng, kind, n)
    t = rng.random(n) < 0.5
    sort = ScoreSort.build(v, t)
    for arm in (0, 1):
        members = np.flatnonzero(t == arm)
        rows = sort.rows(arm)
        for j in (1, 2, 4):
            lo, hi = sort.same_arm_ranges(arm, j)
            unit, pos = _expand(lo, hi)
            keep = pos != unit
            got = sorted(zip(rows[unit[keep]].tolist(), rows[pos[keep]].tolist()))
            ref = nearest_same_group_1d(v[members], j)
            assert got == sorted(zip(members[ref.target].tolist(), members[ref.pool].tolist()))


@pytest.mark.parametrize("kind", ["continuous", "rounded", "near"])
@pytest.mark.parametrize("share", [0.02, 0.5])
def test_window_starts_equal_window_1d(rng, kind, share):
    n = 3000
    v = _finite(rng, kind, n)
    t = rng.random(n) < share
    sort = ScoreSort.build(v, t)
    for arm in (0, 1):
        for size in (1, 2, 3, 8, 200):
            want = window_1d(sort.arm_values(arm), sort.values, size)
            np.testing.assert_array_equal(sort.window_starts(arm, size), want)
            # windows on a monotone transform of the sorted variable (the score when matching on the logit)
            w = 1.0 / (1.0 + np.exp(-30.0 * sort.values))
            np.testing.assert_array_equal(sort.window_starts(arm, size, w), window_1d(w[sort.positions[arm]], w, size))


def test_per_row_tables_are_built_when_read_and_serialised_like_the_others(rng):
    import dataclasses
    import warnings

    import pandas as pd

    import deconfound as dc
    from deconfound.results import Diagnostics, LazyValue

    n = 400
    x = rng.normal(size=(n, 2))
    t = (rng.random(n) < 1 / (1 + np.exp(-x[:, 0]))).astype(int)
    df = pd.DataFrame({"x0": x[:, 0], "x1": x[:, 1], "t": t, "y": x @ [1.0, 0.5] + t + rng.normal(size=n)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dc.DiagnosticWarning)
        r = dc.matching(df, outcome="y", treatment="t", covariates=["x0", "x1"], caliper=0.2, caliper_scale="sd")
    assert isinstance(r.diagnostics, Diagnostics)
    raw = r.diagnostics._values
    assert isinstance(raw["matches"], LazyValue) and isinstance(raw["propensity"], LazyValue)
    copy = dataclasses.replace(r, label="copy")  # a new Estimate shares the unbuilt values
    matches = r.diagnostics["matches"]
    assert r.diagnostics["matches"] is matches  # built once
    assert list(matches.columns) == ["unit", "match", "unit_treated", "distance", "weight"]
    assert matches["unit"].is_monotonic_increasing
    assert (matches.groupby("unit")["distance"].apply(lambda d: d.is_monotonic_increasing)).all()
    assert isinstance(copy.diagnostics["propensity"], pd.DataFrame)
    assert len(r.to_dict()["diagnostics"]["matches"]) == len(matches)
    assert "diagnostics['matches']" in str(r.summary())
    with pytest.raises(TypeError, match="does not support item assignment"):
        r.diagnostics["matches"] = None  # type: ignore[index]


@pytest.mark.parametrize("kind", ["continuous", "rounded", "signed"])
def test_stable_lexsort_is_numpys_lexsort(rng, kind):
    from deconfound._core.sorting import stable_lexsort

    v = _values(rng, kind, 9000)
    for groups in (rng.integers(0, 7, 9000), rng.integers(0, 100_000, 9000), rng.integers(-3, 3, 9000)):
        np.testing.assert_array_equal(stable_lexsort(v, groups), np.lexsort((v, groups)))


@dataclass(frozen=True)
class TieWindows:
    """Every unit's neighbourhood in each group, on the score, with ties (Stata's ``teffects psmatch``).

    For group g: ``rows[g]`` are g's rows in score order, and unit i's neighbourhood in g is the positions
    ``first[g][i]`` .. ``last[g][i]`` (inclusive) of that list: for i in g, i itself and its ``size - 1``
    nearest other units of g; for i outside g, its ``size`` nearest units of g; in both cases every unit at
    the farthest of those distances is included (ties as in :mod:`deconfound._core.nearest`; a neighbourhood
    on a line is a contiguous run). Units are in row order. The reference for ``SortedTieWindows``, which
    reads the same neighbourhoods off the matching's sort: built here by the searches of
    :mod:`deconfound._core.nearest`.
    """

    rows: dict[int, np.ndarray]
    first: dict[int, np.ndarray]
    last: dict[int, np.ndarray]
    score: np.ndarray  # every unit's score, in the order of ``first`` and ``last``

    @classmethod
    def build(cls, score: np.ndarray, t: np.ndarray, size: int) -> "TieWindows":
        """From the scores alone, by the searches of :mod:`deconfound._core.nearest` (units in row order)."""
        rows, first, last = {}, {}, {}
        for arm in (0, 1):
            members = np.flatnonzero(t == arm)
            order = members[stable_argsort(score[members])]
            values = score[order]
            pool = SortedPool(values, np.arange(len(values)), None, None)
            lo = np.full(len(t), len(values), np.int64)
            hi = np.full(len(t), -1, np.int64)
            own = np.arange(len(values))
            lo[order], hi[order] = own, own  # a unit of g is in its own neighbourhood
            if size > 1:
                pr = nearest_same_group_1d(values, size - 1, pool=pool)
                np.minimum.at(lo, order[pr.target], pr.pool)
                np.maximum.at(hi, order[pr.target], pr.pool)
            others = np.flatnonzero(t != arm)
            pr = nearest_1d(score[others], values, size, pool=pool)
            np.minimum.at(lo, others[pr.target], pr.pool)
            np.maximum.at(hi, others[pr.target], pr.pool)
            rows[arm], first[arm], last[arm] = order, lo, hi
        return cls(rows, first, last, score)

    def arm_rows(self, arm: int) -> np.ndarray:
        return self.rows[arm]

    def batches(self, arm: int) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(scores, first, last) of every unit, in one batch."""
        yield self.score, self.first[arm], self.last[arm]


@pytest.mark.parametrize("kind", ["continuous", "rounded", "ulps", "near"])
@pytest.mark.parametrize("size", [1, 2, 4])
def test_tie_windows_from_the_shared_sort_equal_the_direct_searches(rng, kind, size):
    """Stata-convention neighbourhoods (ties widened) read off the matching's sort equal those built by
    the nearest-neighbour searches, including a group smaller than the window."""
    from deconfound.estimators._matching_se import SortedTieWindows

    sizes = ((3000, 0.4), (400, 0.005)) + (((80_000, 0.3),) if kind in ("continuous", "rounded") else ())
    for n, share in sizes:  # the largest spans several batches (the direct searches are slow on long ties)
        v = _values(rng, kind, n)
        treated = rng.random(n) < share
        treated[:2] = True
        sort = ScoreSort.build(v, treated)
        direct = TieWindows.build(v, treated.astype(float), size)
        shared = SortedTieWindows(sort, size)
        for arm in (0, 1):
            score, first, last = (np.concatenate(parts) for parts in zip(*shared.batches(arm)))
            np.testing.assert_array_equal(score, v[sort.order])
            np.testing.assert_array_equal(shared.arm_rows(arm), direct.rows[arm])
            np.testing.assert_array_equal(first, direct.first[arm][sort.order])
            np.testing.assert_array_equal(last, direct.last[arm][sort.order])


@pytest.mark.parametrize("kind", ["continuous", "rounded"])
def test_window_covariance_sum_from_the_shared_sort_equals_the_direct_one(rng, kind):
    """The 2016 adjustment's sum of local covariances: windows read off the shared sort in batches (one
    bincount per quantity where no window is widened) against the directly built windows."""
    from deconfound._core.design import Design, constant_part
    from deconfound.estimators._matching_se import SortedTieWindows, window_covariance_sum

    n = 70_000
    p = np.clip(_values(rng, kind, n), 0.01, 0.99)
    t = (rng.random(n) < p).astype(float)
    x = rng.normal(size=(n, 3))
    y = x @ [1.0, -0.5, 2.0] + 3 * t + rng.normal(size=n)
    design = Design.from_matrix(x, ["a", "b", "c"]).with_parts([constant_part()], front=True)
    sort = ScoreSort.build(p, t == 1.0)

    def weight(arm, q):
        return q * (1 - q) * (1.5 if arm else 0.5)

    extra = rng.normal(size=n)
    for size in (2, 3):
        want, want_x = window_covariance_sum(design, y, t, TieWindows.build(p, t, size), weight, extra)
        got, got_x = window_covariance_sum(design, y, t, SortedTieWindows(sort, size), weight, extra)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9 * np.abs(want).max())
        np.testing.assert_allclose(got_x, want_x, rtol=1e-12)


@pytest.mark.parametrize("kind", ["continuous", "rounded"])
def test_matches_within_cells_equal_nearest_1d_with_groups(rng, kind):
    """Exact-matching cells: one sort per cell, the runs laid end to end, expand to the pairs of the
    grouped walk (a cell without the other group leaves its targets unmatched)."""
    from deconfound.estimators._matching_se import RangeDirection

    n = 4000
    v = _finite(rng, kind, n)
    t = (rng.random(n) < 0.4).astype(float)
    groups = rng.integers(0, 5, n)
    groups[t == 0] = np.where(groups[t == 0] == 4, 3, groups[t == 0])  # cell 4 has no controls
    for arm in (0, 1):
        targets, pool = np.flatnonzero(t == arm), np.flatnonzero(t != arm)
        for k, ties, caliper in ((1, True, None), (2, True, 0.01), (1, False, None), (3, False, 0.001)):
            ref = nearest_1d(
                v[targets], v[pool], k, caliper=caliper, groups=groups[targets], pool_groups=groups[pool], ties=ties
            )
            d = RangeDirection.from_cells(v, t, groups, arm, k, caliper, ties)
            target, match, _, _ = d.by_target()
            assert sorted(zip(target.tolist(), match.tolist())) == sorted(
                zip(targets[ref.target].tolist(), pool[ref.pool].tolist())
            )
            assert np.all(groups[target] == groups[match])


@pytest.mark.parametrize("pooled", [True, False])
def test_variance_within_cells_equals_brute_force(rng, pooled):
    """Conditional variances with exact-matching cells: j nearest same-group units of the same cell (and
    ties); a unit alone in its cell takes them from every cell (loops here)."""
    from deconfound.estimators._matching_se import conditional_variance_cells

    n = 600
    v = np.round(rng.random(n), 2)
    t = (rng.random(n) < 0.5).astype(float)
    groups = rng.integers(0, 6, n)
    groups[:3], t[:3] = 9, 1.0  # a cell of treated only: each has one same-group unit in the cell
    groups[3], t[3] = 10, 0.0  # a control alone in its cell
    y = rng.normal(size=n)
    need = rng.random(n) < 0.5
    need[:4] = True
    j = 2
    got = conditional_variance_cells(v, groups, y, t, need, j, pooled)
    for i in np.flatnonzero(need):
        same = np.flatnonzero((t == t[i]) & (groups == groups[i]) & (np.arange(n) != i))
        if not len(same):
            same = np.flatnonzero((t == t[i]) & (np.arange(n) != i))
        d = np.abs(v[same] - v[i])
        kth = np.sort(d)[min(j, len(d)) - 1]
        members = v[(t == t[i]) & ((groups == groups[i]) if len(same) and groups[same[0]] == groups[i] else True)]
        scale = max(abs(members.min()), abs(members.max()), 1.0)
        nb = y[same[d <= kth * (1 + 1e-9) + 1e-12 * scale]]
        m = len(nb)
        s2 = m / (m + 1) * (y[i] - nb.mean()) ** 2
        if pooled:
            s2 = (np.sum((nb - nb.mean()) ** 2) + s2) / m
        assert got[i] == pytest.approx(s2, rel=1e-9, abs=1e-12), i


@pytest.mark.parametrize("kind", ["continuous", "rounded", "ulps", "near"])
@pytest.mark.parametrize("caliper", [None, 0.002])
def test_greedy_on_the_shared_sort_equals_the_general_greedy(rng, kind, caliper):
    """1:1 greedy matching without replacement straight from the sorted groups (as runs of one pool unit)
    gives the pairs of the general path (values gathered by row, sorted by their permutations, pairs mapped
    back): the same targets, matches, distances and weights by target row."""
    from deconfound._core import assignment, kernels
    from deconfound.estimators.matching import _greedy_on_sort, _pairs_to_direction

    n = 4_000
    score = _values(rng, kind, n)
    treated = rng.random(n) < 0.4
    sort = ScoreSort.build(score, treated)
    for arm in (1, 0):
        targets, pool = np.flatnonzero(treated == bool(arm)), np.flatnonzero(treated != bool(arm))
        with kernels.using("numba"):
            got = _greedy_on_sort(sort, arm, caliper)
            orders = (sort.arm_order(arm), sort.arm_order(1 - arm))
            pairs = assignment.greedy_1d_ratio(score[targets], score[pool], 1, caliper=caliper, orders=orders)
        want = _pairs_to_direction(float(arm), targets, pool, pairs)
        assert got.arm == want.arm
        np.testing.assert_array_equal(got.targets, want.targets)
        np.testing.assert_array_equal(np.sort(got.matched), want.matched)
        assert np.all(np.diff(got.x) >= 0)  # the matched targets in the group's sorted order
        for a, b in zip(got.by_target(), want.by_target(), strict=True):
            np.testing.assert_array_equal(a, b)
