"""The compiled (numba) and numpy kernels compute the same numbers, on the same data."""

import functools

import numpy as np
import pandas as pd
import pytest

import deconfound as dc
from deconfound._core import kernels
from deconfound._core.demean import Demeaner
from deconfound.errors import SpecificationError

RTOL = 1e-12


def _both(fn):
    """fn() under numpy, then under numba."""
    with kernels.using("numpy"):
        a = fn()
    with kernels.using("numba"):
        b = fn()
    return a, b


def _close(a, b, rtol=RTOL, atol=0.0):
    np.testing.assert_allclose(np.asarray(b, dtype=float), np.asarray(a, dtype=float), rtol=rtol, atol=atol)


def test_use_refuses_an_unknown_backend_and_using_restores():
    with pytest.raises(SpecificationError, match=r"kernels\.use.*numba, numpy"):
        kernels.use("cython")
    before = kernels.backend()
    with kernels.using("numpy"):
        assert kernels.backend() == "numpy" and not kernels.compiled()
    assert kernels.backend() == before


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("layout", ["balanced", "unbalanced", "three"])
def test_demeaning_is_the_same_compiled_and_in_numpy(layout, weighted, rng):
    units, periods = 400, 9
    unit = np.repeat(np.arange(units), periods)
    time = np.tile(np.arange(periods), units)
    codes = [unit, time]
    if layout != "balanced":
        keep = rng.uniform(size=unit.size) < 0.7
        codes = [c[keep] for c in codes]
    if layout == "three":
        codes.append(rng.integers(0, 13, len(codes[0])))
    n = len(codes[0])
    x = rng.normal(size=n) + 0.1 * codes[0]
    w = rng.uniform(0.2, 3.0, n) if weighted else None
    a, b = _both(lambda: Demeaner(codes, w, tol=1e-12).demean(x))
    assert a[1:] == b[1:] and a[2]  # same number of sweeps, converged
    _close(a[0], b[0], atol=1e-13 * np.abs(x).max())


@pytest.mark.parametrize("balanced", [True, False])
def test_twfe_estimate_and_clustered_se_are_the_same_compiled_and_in_numpy(balanced, rng):
    units, periods = 300, 8
    unit = np.repeat(np.arange(units), periods)
    time = np.tile(np.arange(periods), units)
    start = rng.choice([5, 100], units)[unit]  # one adoption date: no staggered-timing warning
    d = (time >= start).astype(float)
    x = rng.normal(size=unit.size)
    y = rng.normal(size=units)[unit] + 0.1 * time + 1.5 * d + 0.5 * x + rng.normal(size=unit.size)
    import pandas as pd

    df = pd.DataFrame({"unit": unit, "time": time, "d": d, "x": x, "y": y})
    if not balanced:
        drop = (rng.uniform(size=len(df)) < 0.3) & ~df["time"].isin([4, 5])  # adoption stays at period 5
        df = df[~drop].sample(frac=1.0, random_state=3)
    fit = lambda: dc.twfe(df, outcome="y", treatment="d", covariates=["x"], unit="unit", time="time")  # noqa: E731
    a, b = _both(fit)
    _close(a.coefficients.coef, b.coefficients.coef)
    _close(a.coefficients.std_err, b.coefficients.std_err)


@pytest.mark.parametrize("k", [1, 2])
@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("grouped", [False, True])
def test_greedy_without_replacement_is_the_same_compiled_and_in_numpy(k, tied, grouped, rng):
    from deconfound._core.assignment import greedy_1d_ratio

    x = rng.beta(3, 2, 700)
    pool = rng.beta(2, 3, 1100)
    if tied:  # a score with a few distinct values: long runs of equal values on both sides
        x, pool = np.round(x, 1), np.round(pool, 1)
    groups = rng.integers(0, 3, 700) if grouped else None
    pool_groups = rng.integers(0, 3, 1100) if grouped else None
    run = lambda: greedy_1d_ratio(x, pool, k, caliper=0.05, groups=groups, pool_groups=pool_groups)  # noqa: E731
    a, b = _both(run)
    assert len(a) > 100 and len(a) < k * 700  # the caliper drops some targets
    np.testing.assert_array_equal(a.target, b.target)
    np.testing.assert_array_equal(a.pool, b.pool)
    np.testing.assert_array_equal(a.distance, b.distance)


def test_greedy_ties_on_both_sides_follow_the_sequential_rule():
    from deconfound._core.assignment import greedy_1d

    # targets 0.5, 0.5 and pool 0.4, 0.6, 0.6: the first target (by position) takes the left unit at equal
    # distance; the second the first of the tied right units
    x = np.array([0.5, 0.5])
    pool = np.array([0.6, 0.4, 0.6])
    for name in kernels.BACKENDS:
        with kernels.using(name):
            pairs = greedy_1d(x, pool)
        np.testing.assert_array_equal(pairs.target, [0, 1])
        np.testing.assert_array_equal(pairs.pool, [1, 0])


def test_greedy_rounds_in_numpy_follow_the_sequential_rule_on_grids(rng):
    """numpy's vectorised rounds pair only strictly mutual nearest units and leave ties of distance to the
    sequential rule: on scores on coarse grids (equal values and equal distances everywhere), with and
    without groups and calipers, numpy, the compiled kernel and the sequential rule make the same pairs."""
    from deconfound._core.assignment import _greedy_sequential, _order, greedy_1d

    for trial in range(150):
        nt, ns = int(rng.integers(1, 300)), int(rng.integers(1, 400))
        grid = [3, 7, 20, 1000][trial % 4]
        x = np.round(rng.random(nt) * grid) / grid
        pool = np.round(rng.random(ns) * grid) / grid
        caliper = [None, 0.05, 0.2][trial % 3]
        groups = rng.integers(0, 3, nt) if trial % 5 == 0 else None
        pool_groups = rng.integers(0, 3, ns) if trial % 5 == 0 else None
        args = dict(caliper=caliper, groups=groups, pool_groups=pool_groups)
        a, b = _both(functools.partial(greedy_1d, x, pool, **args))
        np.testing.assert_array_equal(a.target, b.target)
        np.testing.assert_array_equal(a.pool, b.pool)
        cal = np.inf if caliper is None else caliper
        ref = _greedy_sequential(x, pool, _order(x, groups), _order(pool, pool_groups), cal, groups, pool_groups)
        order = np.argsort(ref.target)
        np.testing.assert_array_equal(a.target, ref.target[order])
        np.testing.assert_array_equal(a.pool, ref.pool[order])


def _canonical_pairs(result):
    """(target, pool, distance) of a greedy kernel's pairs, ordered by target then pool position."""
    t, p, d = result[:3]
    order = np.lexsort((p, t))
    return t[order], p[order], d[order]


def test_greedy_sweep_makes_the_pairs_of_the_heap_on_tied_and_grouped_data(rng):
    """The linear sweep (with the heap finishing what it leaves) against the heap alone, on many small
    problems full of equal values, equal distances, exact-matching groups and calipers."""
    from deconfound._core import _jit_assign

    swept = 0
    for trial in range(600):
        nt, ns = int(rng.integers(1, 40)), int(rng.integers(1, 40))
        digits = int(rng.integers(0, 3))
        groups = int(rng.integers(1, 3))
        xt, xs = np.round(rng.uniform(0, 3, nt), digits), np.round(rng.uniform(0, 3, ns), digits)
        gt, gs = rng.integers(0, groups, nt), rng.integers(0, groups, ns)
        ot, os_ = np.lexsort((xt, gt)), np.lexsort((xs, gs))
        args = (xt[ot], gt[ot].astype(np.int64), xs[os_], gs[os_].astype(np.int64), [np.inf, 0.5, 0.0][trial % 3])
        heap = _canonical_pairs(_jit_assign.greedy_sorted(*args))
        fast = _canonical_pairs(_jit_assign.greedy_sorted_fast(*args))
        for a, b in zip(heap, fast):
            np.testing.assert_array_equal(a, b)
        swept += len(_jit_assign.greedy_sorted_linear(*args)[0])
    assert swept > 1000  # the sweep itself makes most pairs, the heap only finishes


def test_greedy_sweep_in_two_parts_makes_the_pairs_of_one_sweep(rng, monkeypatch):
    """The merged runs cut in two and swept in two threads (then linked and finished by the heap) give the
    pairs of the heap alone: many small problems full of ties, groups and calipers, and one large one."""
    from deconfound._core import _jit_assign, assignment, threads

    monkeypatch.setattr(assignment, "PARALLEL_GREEDY", 0)
    problems = []
    for trial in range(400):
        nt, ns = int(rng.integers(1, 60)), int(rng.integers(1, 60))
        digits = int(rng.integers(0, 3))
        groups = int(rng.integers(1, 3))
        xt, xs = np.round(rng.uniform(0, 3, nt), digits), np.round(rng.uniform(0, 3, ns), digits)
        gt, gs = rng.integers(0, groups, nt), rng.integers(0, groups, ns)
        problems.append((xt, gt, xs, gs, [np.inf, 0.5, 0.0, 0.05][trial % 4]))
    xt, xs = rng.beta(2, 5, 30_000), rng.beta(2, 3, 50_000)
    problems.append((xt, np.zeros(len(xt), np.int64), xs, np.zeros(len(xs), np.int64), 0.01))
    for xt, gt, xs, gs, cal in problems:
        ot, os_ = np.lexsort((xt, gt)), np.lexsort((xs, gs))
        args = (xt[ot], gt[ot].astype(np.int64), xs[os_], gs[os_].astype(np.int64), cal)
        want = _canonical_pairs(_jit_assign.greedy_sorted(*args))
        with threads.using(2):
            got = _canonical_pairs(assignment.greedy_sorted_pairs(*args))
        for a, b in zip(want, got, strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("estimand", ["ATT", "ATE", "ATC"])
@pytest.mark.parametrize("data", ["continuous", "tied", "exact"])
def test_matching_estimate_and_se_are_the_same_compiled_and_in_numpy(estimand, data, rng):
    """Propensity-score matching with the Abadie-Imbens (2016) adjustment (tie-widened score windows swept
    in one compiled pass): continuous scores, heavily tied scores (rounded covariates: a few dozen distinct
    scores), exact-matching cells, and a caliper that drops units."""
    import pandas as pd

    n = 3000
    x = rng.normal(size=(n, 3))
    if data == "tied":
        x = np.round(x)
    t = (rng.uniform(size=n) < 1 / (1 + np.exp(-(0.8 * x[:, 0] - 0.5 * x[:, 1])))).astype(int)
    y = x @ np.array([1.0, 0.5, -0.3]) + t * (1.5 + 0.5 * x[:, 0]) + rng.normal(size=n)
    df = pd.DataFrame(x, columns=["a", "b", "c"]).assign(t=t, y=y, cell=rng.integers(0, 3, n))
    options = dict(exact="cell") if data == "exact" else {}
    fit = lambda: dc.matching(  # noqa: E731
        df, outcome="y", treatment="t", covariates=["a", "b", "c"], estimand=estimand, caliper=0.01, **options
    )
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a, b = _both(fit)
    assert a.diagnostics["n_unmatched"] > 0  # the caliper drops units
    _close(a.estimate, b.estimate)
    _close(a.std_error, b.std_error)


def _sort_cases(rng):
    n = 20_000  # above the size from which the radix sort runs
    near = 0.5 + rng.integers(0, 3, n) * 1e-13  # equal in the sort's high bits, different in the low ones
    mixed = np.concatenate([rng.normal(size=n), np.full(3000, 0.3), 0.3 + rng.integers(0, 2, 3000) * 1e-15])
    return {
        "continuous": rng.uniform(size=n),
        "tied": rng.integers(0, 5, n) * 0.1,
        "near ties": near,
        "signed zeros": np.where(rng.uniform(size=n) < 0.5, 0.0, -0.0),
        "mixed": np.concatenate([mixed, [np.inf, -np.inf, -1e300, 1e-310, -1e-310] * 4]),
        "nan": np.where(rng.uniform(size=n) < 0.01, np.nan, rng.normal(size=n)),
    }


def test_stable_argsort_is_numpys_compiled_and_in_numpy(rng):
    from deconfound._core.sorting import stable_argsort

    for name, values in _sort_cases(rng).items():
        expected = np.argsort(values, kind="stable")
        a, b = _both(lambda v=values: stable_argsort(v))
        np.testing.assert_array_equal(a, expected, err_msg=name)
        np.testing.assert_array_equal(b, expected, err_msg=name)


def test_score_sort_is_the_same_compiled_and_in_numpy(rng):
    from deconfound._core.scoresort import ScoreSort

    for name, values in _sort_cases(rng).items():
        if name == "nan":
            continue
        treated = rng.uniform(size=len(values)) < 0.4
        a, b = _both(lambda v=values, t=treated: ScoreSort.build(v, t))
        np.testing.assert_array_equal(a.order, b.order, err_msg=name)
        np.testing.assert_array_equal(a.values.view(np.uint64), b.values.view(np.uint64), err_msg=name)
        for field in ("positions", "smaller", "arm_rows", "arm_sorted"):
            for left, right in zip(getattr(a, field), getattr(b, field)):
                assert left.dtype == right.dtype, (name, field)
                np.testing.assert_array_equal(left, right, err_msg=f"{name}: {field}")


@pytest.mark.parametrize("kind", ["continuous", "tied"])
@pytest.mark.parametrize("size", [1, 2, 4])
@pytest.mark.parametrize("mode", [(0, 1.0), (1, 1.0), (1, 0.0)])
def test_adjustment_sweep_is_the_same_compiled_and_in_numpy(kind, size, mode, rng):
    """The 2016 adjustment's covariance sum with its weights, local means and own-group means computed in
    one compiled sweep per group, against the numpy windows, weights and ``_own_group_means``."""
    from deconfound._core.design import Design, constant_part
    from deconfound._core.scoresort import ScoreSort
    from deconfound.estimators._matching_se import AdjustmentWeight, SortedTieWindows, window_covariance_sum

    n = 5000
    p = rng.uniform(0.05, 0.95, n)
    if kind == "tied":
        p = np.round(p, 2)
    t = (rng.random(n) < p).astype(float)
    x = rng.normal(size=(n, 3))
    y = x @ [1.0, -0.5, 2.0] + 3 * t + rng.normal(size=n)
    design = Design.from_matrix(x, ["a", "b", "c"]).with_parts([constant_part()], front=True)
    weight = AdjustmentWeight(mode[0], mode[1], float(n))
    sort = ScoreSort.build(p, t == 1.0)

    def run():
        means = np.empty((2, n))
        c, _ = window_covariance_sum(design, y, t, SortedTieWindows(sort, size), weight, means=means, own=size)
        return c, means

    (c0, m0), (c1, m1) = _both(run)
    _close(c0, c1, atol=1e-13 * np.abs(c0).max())
    _close(m0, m1, atol=1e-13)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("layout", ["balanced", "unbalanced", "three", "one"])
def test_demeaning_over_runs_of_the_first_factor_is_bit_identical(layout, weighted, rng):
    """Rows sorted by the first factor take the one-pass-per-factor sweep; it adds in the same order as the
    general sweep, so the result is the same to the last bit (and the same number of sweeps)."""
    from deconfound._core import _jit_demean

    units, periods = 500, 9
    codes = [np.repeat(np.arange(units), periods), np.tile(np.arange(periods), units)]
    if layout != "balanced":
        keep = rng.uniform(size=codes[0].size) < 0.7
        codes = [c[keep] for c in codes]
        codes[0] = np.unique(codes[0], return_inverse=True)[1]
    if layout == "three":
        codes.append(rng.integers(0, 13, len(codes[0])))
    if layout == "one":
        codes = codes[:1]
    n = len(codes[0])
    x = rng.normal(size=n) + 0.1 * codes[0]
    w = rng.uniform(0.2, 3.0, n) if weighted else None
    with kernels.using("numba"):
        dm = Demeaner(codes, w, tol=1e-12)
        out, sweeps, ok = dm.demean(x)
    assert dm._starts is not None and len(dm._starts) == dm.sizes[0] + 1  # the runs were found
    general = np.array(x, copy=True)
    args = (dm._small_codes, tuple(dm._inv), np.empty(0) if w is None else w, w is not None)
    sums = tuple(np.empty(g) for g in dm.sizes)
    no_runs = np.empty(0, dtype=np.int64)
    if len(codes) == 1:
        _jit_demean.sweep(general, general, *args, sums, no_runs)
        ref = (general, 1, True)
    else:
        limit = 1e-12 * np.abs(x).max()
        ref = _jit_demean.demean(general, *args, sums, limit, 10_000, no_runs)
        if len(codes) == 2:  # Demeaner takes the two-factor kernel (below): the runs sweep called directly
            out, sweeps, ok = _jit_demean.demean(np.array(x, copy=True), *args, sums, limit, 10_000, dm._starts)
    assert (sweeps, ok) == (ref[1], ref[2])
    np.testing.assert_array_equal(out, ref[0])


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("layout", ["balanced", "unbalanced", "shuffled", "offset", "chain"])
def test_two_factor_demeaning_over_the_coefficients_equals_the_sweeps_over_the_rows(layout, weighted, rng):
    """Two factors: the alternating projections run on the unit and time coefficients (the column is read
    once and written once); the iterates are the row sweeps' to rounding, with the same number of sweeps."""
    from deconfound._core import _jit_demean

    units, periods = 700, 11
    codes = [np.repeat(np.arange(units), periods), np.tile(np.arange(periods), units)]
    if layout in ("unbalanced", "shuffled", "offset"):
        keep = rng.uniform(size=codes[0].size) < 0.7
        codes = [c[keep] for c in codes]
        codes[0] = np.unique(codes[0], return_inverse=True)[1]
    if layout == "shuffled":
        order = rng.permutation(len(codes[0]))
        codes = [c[order] for c in codes]
    if layout == "chain":  # units linked by few shared groups: slow convergence, stopped after 6 sweeps
        a = rng.integers(0, 1500, 4000)
        codes = [np.unique(a, return_inverse=True)[1], np.unique((a // 3 + rng.integers(0, 2, 4000)) % 600,
                                                                 return_inverse=True)[1]]  # fmt: skip
    n = len(codes[0])
    x = rng.normal(size=n) + 0.1 * codes[0] + (1e5 if layout == "offset" else 0.0)
    w = rng.uniform(0.2, 3.0, n) if weighted else None
    # a chain takes thousands of sweeps, along which rounding differences grow (as between the numpy and
    # numba row sweeps): it is compared where it stops early, after max_iter sweeps
    max_iter = 6 if layout == "chain" else 10_000
    with kernels.using("numba"):
        dm = Demeaner(codes, w, tol=1e-12, max_iter=max_iter)
        out, sweeps, ok = dm.demean(x)
    assert dm._two_way[1] is (layout in ("balanced", "unbalanced", "offset"))  # rows in runs of the unit
    args = (dm._small_codes, tuple(dm._inv), np.empty(0) if w is None else w, w is not None)
    sums = tuple(np.empty(g) for g in dm.sizes)
    limit = 1e-12 * np.abs(x).max()
    ref = _jit_demean.demean(np.array(x, copy=True), *args, sums, limit, max_iter, np.empty(0, dtype=np.int64))
    assert (sweeps, ok) == (ref[1], ref[2]) and ok is (layout != "chain")
    scale = np.abs(ref[0]).max()
    np.testing.assert_allclose(out, ref[0], rtol=0, atol=1e-12 * scale)
    # not converged: the same sweeps, and the iterate where the row sweeps stop
    with kernels.using("numba"):
        cut = Demeaner(codes, w, tol=1e-15, max_iter=4).demean(x)
    ref = _jit_demean.demean(np.array(x, copy=True), *args, sums, 1e-15 * np.abs(x).max(), 4, np.empty(0, np.int64))
    assert cut[1:] == (ref[1], ref[2])
    np.testing.assert_allclose(cut[0], ref[0], rtol=0, atol=1e-12 * scale)


def test_unit_order_is_a_stable_counting_sort(rng):
    from deconfound._core import _jit_demean

    c = rng.integers(0, 9, 300).astype(np.int32)
    order, starts = _jit_demean.unit_order(c, 10)
    np.testing.assert_array_equal(order, np.argsort(c, kind="stable"))
    np.testing.assert_array_equal(starts, np.concatenate(([0], np.cumsum(np.bincount(c, minlength=10)))))


def test_run_starts_finds_runs_only_when_groups_come_in_order():
    from deconfound._core import _jit_demean

    np.testing.assert_array_equal(_jit_demean.run_starts(np.array([0, 0, 1, 2, 2, 2]), 3), [0, 2, 3, 6])
    assert len(_jit_demean.run_starts(np.array([0, 1, 0]), 2)) == 0  # group 0 in two runs
    assert len(_jit_demean.run_starts(np.array([1, 1, 0]), 2)) == 0  # not in order
    assert len(_jit_demean.run_starts(np.array([0, 0, 2]), 3)) == 0  # group 1 missing
    assert len(_jit_demean.run_starts(np.array([0, 0, 1]), 3)) == 0  # group 2 missing


def test_demeaner_takes_the_counts_it_is_given(rng):
    codes = [np.repeat(np.arange(50), 4), np.tile(np.arange(4), 50)]
    x = rng.normal(size=200)
    counts = [np.bincount(c) for c in codes]
    for name in ("numpy", "numba"):
        with kernels.using(name):
            a = Demeaner(codes).demean(x)
            b = Demeaner(codes, counts=counts).demean(x)
        np.testing.assert_array_equal(a[0], b[0])


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("two_way", [False, True])
def test_clustered_residual_pass_is_the_same_compiled_and_in_numpy(weighted, two_way, rng):
    from deconfound._core.fixed_effects import fit_absorbed

    n = 3000
    unit = np.sort(rng.integers(0, 300, n))
    time = rng.integers(0, 10, n)
    x = rng.normal(size=(n, 2))
    y = x @ [1.0, -0.5] + rng.normal(size=n) + 0.1 * unit
    w = rng.uniform(0.3, 2.0, n) if weighted else None
    clusters = [unit, time] if two_way else [unit]
    names = ["a", "b"][: len(clusters)]

    def fit():
        return fit_absorbed(
            x, ["x1", "x2"], y, w, [unit, time], ["u", "t"], cov_type="cluster", clusters=clusters, cluster_names=names
        ).fit

    a, b = _both(fit)
    _close(a.coef, b.coef)
    _close(a.cov, b.cov)
    _close(a.ssr, b.ssr)


@pytest.mark.parametrize("shuffled", [False, True])
def test_two_factor_demeaning_and_twfe_are_the_same_with_one_thread_and_three(shuffled, rng):
    """The columns (outcome and regressors) are shared between threads whole, each with its own sums: the
    thread count changes no bit of the demeaned columns, the estimates or the standard errors."""
    from deconfound._core import threads

    units, periods = 400, 9
    frame = pd.DataFrame({"unit": np.repeat(np.arange(units), periods), "time": np.tile(np.arange(periods), units)})
    frame = frame[rng.uniform(size=len(frame)) < 0.8].reset_index(drop=True)
    if shuffled:
        frame = frame.sample(frac=1.0, random_state=3).reset_index(drop=True)
    n = len(frame)
    frame["d"] = rng.normal(size=n)  # continuous: no staggered-timing warning
    frame["x"] = rng.normal(size=n)
    frame["z"] = rng.normal(size=n)
    frame["y"] = frame["d"] + 0.5 * frame["x"] + rng.normal(size=n) + 0.1 * frame["unit"]
    frame["w"] = rng.uniform(0.5, 2.0, n)
    codes = [frame["unit"].to_numpy(), frame["time"].to_numpy()]
    m = np.asfortranarray(frame[["d", "x", "z"]].to_numpy())
    got = []
    for count in (1, 2, 3):
        with kernels.using("numba"), threads.using(count):
            yd, y_its, _, xd, info = Demeaner(codes, frame["w"].to_numpy()).demean_with(frame["y"].to_numpy(), m)
            est = dc.twfe(frame, outcome="y", treatment="d", unit="unit", time="time", covariates=["x", "z"],
                          weights="w")  # fmt: skip
        got.append((yd, xd, y_its, info.iterations, est.coefficients.coef, est.coefficients.std_err))
    for other in got[1:]:
        for a, b in zip(got[0], other):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("weighted", [False, True])
def test_compiled_cross_products_of_demeaned_columns_equal_the_blocked_numpy_ones(weighted, rng, monkeypatch):
    """fit_absorbed's cross-products: the compiled pass over the columns where they are gives the numpy
    blocks' means and centered products (same blocks, merged in the same order) to rounding."""
    from deconfound._core import fixed_effects
    from deconfound._core.design import Design
    from deconfound._core.passes import accumulate

    monkeypatch.setattr(fixed_effects, "FE_CHUNK_ROWS", 1000)
    n = 4500
    x = np.asfortranarray(rng.normal(size=(n, 3)) * [1.0, 5.0, 0.01] + [0.0, 2.0, -1.0])
    y = x @ [0.5, -0.2, 3.0] + rng.normal(size=n)
    w = rng.uniform(0.2, 3.0, n) if weighted else None
    if weighted:
        w[:1000] = 0.0  # a block with no weight
    ref = accumulate(Design.from_matrix(x, ["a", "b", "c"]), y, w, 1000)
    got = fixed_effects._accumulate_compiled(x, y, w, ["a", "b", "c"])
    assert got.n == ref.n and got.sum_w == pytest.approx(ref.sum_w, rel=1e-14)
    for a, b in ((ref.xtx, got.xtx), (ref.xty, got.xty), (ref.yty, got.yty), (ref.mean, got.mean)):
        _close(a, b, rtol=1e-12, atol=1e-13 * np.abs(ref.xtx).max())


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "int16"])
def test_panel_periods_ranked_in_one_pass_equal_the_sorted_factorization(dtype, rng):
    """Integer periods in a small range are coded by rank in one compiled pass: the same codes, periods and
    row times as factorizing and sorting them (with gaps, negative or unordered periods)."""
    from deconfound.estimators._panel import panel_index

    base = {"int64": 1990, "int32": -7, "uint8": 3, "int16": -300}[dtype]
    unit = np.repeat(np.arange(300), 6)
    time = (base + np.array([rng.permutation([0, 2, 3, 9, 11, 40]) for _ in range(300)]).ravel()).astype(dtype)
    keep = rng.uniform(size=unit.size) < 0.8
    unit, time = unit[keep], time[keep]
    order = rng.permutation(unit.size)
    a, b = _both(lambda: panel_index(unit[order], time[order], "unit", "time"))
    for field in ("unit", "time", "period", "periods"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
        assert getattr(a, field).dtype == getattr(b, field).dtype


@pytest.mark.parametrize("arms", [(1,), (0,), (1, 0)])
@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("pooled", [False, True])
@pytest.mark.parametrize("j", [1, 3])
def test_range_ai_variance_is_the_three_separate_steps(arms, tied, pooled, j, rng):
    """The compiled one-pass reuse term (K, K2, sigma^2 and their sum per pool in sorted order) against
    match_counts, conditional_variance and ai_variance: the same K per row bit for bit, the same variance."""
    from deconfound._core.scoresort import ScoreSort
    from deconfound.estimators._matching_se import (
        Metric,
        RangeDirection,
        ai_variance,
        conditional_variance,
        match_counts,
        range_ai_variance,
        unit_effects,
    )

    n = 6000
    p = rng.uniform(0.05, 0.95, n)
    if tied:
        p = np.round(p, 2)
    t = (rng.random(n) < p).astype(float)
    y = 2 * p + t + rng.normal(size=n)
    sort = ScoreSort.build(p, t == 1.0)
    with kernels.using("numba"):
        directions = [RangeDirection.from_sort(sort, arm, 2, 0.002, True) for arm in arms]
        rows, effects = zip(*(unit_effects(d, y, None) for d in directions))
        target_rows, effects_all = np.concatenate(rows), np.concatenate(effects)
        k1, k2 = match_counts(directions, n)
        sigma2 = conditional_variance(Metric("1d", p, 0.002, None, sort), y, t, k1 > 0, j, pooled=pooled)
        want = ai_variance(effects_all, target_rows, sigma2, k1, k2)
        got, got_k1 = range_ai_variance(directions, sort, y, effects_all, target_rows, j, pooled)
    np.testing.assert_array_equal(got_k1, k1)
    _close(got, want)


@pytest.mark.parametrize("target", [1.0, 0.0])
def test_derivative_terms_are_the_numpy_lines_bit_for_bit(target, rng):
    """The ATT/ATC derivative term's per-row vectors, compiled, against ps_adjustment's numpy lines."""
    from deconfound.estimators._matching_se import _derivative_terms

    n = 5000
    order = rng.permutation(n)
    mu = rng.normal(size=(2, n))
    score, t = rng.uniform(0.01, 0.99, n), (rng.random(n) < 0.4).astype(float)
    y, imputed, tau = rng.normal(size=n), rng.normal(size=n), 0.37
    gap = np.empty(n)
    gap[order] = mu[1] - mu[0]
    f = score * (1.0 - score)
    effect = (2.0 * t - 1.0) * (y - imputed)
    gap -= tau
    gap *= (1.0 if target == 1.0 else -1.0) * f
    effect -= tau
    effect *= f
    got_gap, got_effect = _derivative_terms(order, mu, score, t, y, imputed, tau, target)
    np.testing.assert_array_equal(got_gap, gap)
    np.testing.assert_array_equal(got_effect, effect)


@pytest.mark.parametrize("arm", [0, 1])
@pytest.mark.parametrize("caliper", [None, 0.003])
@pytest.mark.parametrize("tied", [False, True])
def test_runs_and_effects_from_the_sort_are_the_numpy_ones_bit_for_bit(arm, caliper, tied, rng):
    """RangeDirection.from_sort (runs and the packing of the targets with a match) and the unit effects
    over the runs, compiled in one pass each, against the numpy path."""
    from deconfound._core.scoresort import ScoreSort
    from deconfound.estimators._matching_se import RangeDirection, unit_effects

    n = 6000
    p = rng.uniform(0.05, 0.95, n)
    if tied:
        p = np.round(p, 2)
    t = (rng.random(n) < p).astype(float)
    y = p + t + rng.normal(size=n)
    sort = ScoreSort.build(p, t == 1.0)

    def run():
        d = RangeDirection.from_sort(sort, arm, 2, caliper, True)
        return d, unit_effects(d, y, None)

    (a, (rows_a, eff_a)), (b, (rows_b, eff_b)) = _both(run)
    for field in ("targets", "rows", "lo", "hi", "x", "pool_rows", "pool_values"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
    np.testing.assert_array_equal(rows_a, rows_b)
    np.testing.assert_array_equal(eff_a, eff_b)
