"""Matching with one thread and with two give the same bits (the groups' sweeps, the design passes and
the sort are shared between threads, their results combined in a fixed order), with the compiled and
the numpy kernels."""

import warnings

import numpy as np
import pandas as pd
import pytest

import deconfound as dc
from deconfound._core import kernels, threads


def _frame(rng, n, tied):
    x = rng.normal(size=(n, 4))
    if tied:
        x = np.round(x)
    index = -0.2 + x @ np.array([0.6, -0.4, 0.3, 0.1])
    t = (rng.random(n) < 1 / (1 + np.exp(-index))).astype(int)
    y = 1 + x @ np.array([1.0, 0.5, -0.3, 0.2]) + t * (1.5 + 0.5 * x[:, 0]) + rng.normal(size=n)
    df = pd.DataFrame(x, columns=["a", "b", "c", "d"])
    df["t"], df["y"] = t, y
    df["w"] = rng.uniform(0.5, 2.0, n)
    return df


CASES = [
    dict(estimand="ATT", caliper=0.2, caliper_scale="sd"),
    dict(estimand="ATC", se_imputation="regression"),
    dict(estimand="ATE", neighbors=2),
    dict(estimand="ATT", replace=False, caliper=0.1, caliper_scale="sd"),
    dict(estimand="ATT", weights="w"),
    dict(estimand="ATT", distance="logit", vce_convention="ai2006"),
]


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_one_and_two_threads_give_the_same_bits(rng, backend, tied, case):
    df = _frame(rng, 60_000, tied)
    results = []
    for count in (1, 2):
        with kernels.using(backend), threads.using(count), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = dc.matching(df, outcome="y", treatment="t", covariates=["a", "b", "c", "d"], **CASES[case])
        balance = r.diagnostics["balance"].select_dtypes("number").to_numpy()
        results.append((r.estimate, r.std_error, balance))
    (e1, s1, b1), (e2, s2, b2) = results
    assert e1 == e2 and s1 == s2
    np.testing.assert_array_equal(b1, b2)


@pytest.mark.parametrize("kind", ["continuous", "tied", "near ties", "signed zeros", "infinite", "nan"])
def test_the_two_thread_sort_is_numpys_stable_argsort(rng, kind):
    """Two halves radix-sorted side by side and merged give numpy's stable order (NaN: numpy's own sort)."""
    from deconfound._core import scoresort

    n = scoresort.PARALLEL_SORT + 12_345
    values = {
        "continuous": rng.uniform(size=n),
        "tied": rng.integers(0, 5, n) * 0.1,
        "near ties": 0.5 + rng.integers(0, 3, n) * 1e-13,  # equal in the keys' high bits
        "signed zeros": np.where(rng.uniform(size=n) < 0.5, 0.0, -0.0),
        "infinite": np.where(rng.uniform(size=n) < 0.01, np.inf, -rng.exponential(size=n)),
        "nan": np.where(rng.uniform(size=n) < 0.01, np.nan, rng.normal(size=n)),
    }[kind]
    want = np.argsort(values, kind="stable")
    for count in (1, 2):
        with kernels.using("numba"), threads.using(count):
            np.testing.assert_array_equal(scoresort._argsort(values), want)
    if kind != "nan":  # the whole shared sort (gathers shared by the threads, then the split): numpy's arrays
        treated = rng.uniform(size=n) < 0.4
        with kernels.using("numpy"):
            ref = scoresort.ScoreSort.build(values, treated)
        for count in (1, 2):
            with kernels.using("numba"), threads.using(count):
                got = scoresort.ScoreSort.build(values, treated)
            for field in ("order", "values", "positions", "smaller", "arm_rows", "arm_sorted"):
                one, two = getattr(ref, field), getattr(got, field)
                for a, b in zip(*((one, two) if isinstance(one, tuple) else ((one,), (two,))), strict=True):
                    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("tied", [False, True])
def test_the_two_thread_search_packs_the_same_matches(rng, tied, monkeypatch):
    """The runs of matches searched in two halves of the targets and joined equal one thread's, with a
    caliper that leaves many targets unmatched (so the packing of each half matters)."""
    from deconfound._core.scoresort import ScoreSort
    from deconfound.estimators import _matching_se

    monkeypatch.setattr(_matching_se, "PARALLEL_SEARCH", 10)
    n = 5_001
    score = rng.beta(2, 5, n)
    if tied:
        score = np.round(score, 2)
    treated = rng.random(n) < score
    sort = ScoreSort.build(score, treated)
    for caliper, ties, k in ((0.001, True, 1), (None, True, 2), (0.0005, False, 3)):
        got = []
        for count in (1, 2):
            with kernels.using("numba"), threads.using(count):
                d = _matching_se.RangeDirection.from_sort(sort, 1, k, caliper, ties)
            got.append((d.lo, d.hi, d.rows, d.x))
        assert len(got[0][0]) < treated.sum() or caliper is None
        for one, two in zip(*got, strict=True):
            np.testing.assert_array_equal(one, two)


@pytest.mark.parametrize("replace", [True, False])
def test_the_parts_shared_by_threads_from_their_thresholds_give_the_same_bits(rng, replace, monkeypatch):
    """With the sort's gathers, the search of matches and the greedy sweep all shared by two threads (their
    size thresholds lowered to this data), the whole call equals one thread's, bit for bit."""
    from deconfound._core import assignment, scoresort
    from deconfound.estimators import _matching_se

    monkeypatch.setattr(scoresort, "PARALLEL_SORT", 1000)
    monkeypatch.setattr(_matching_se, "PARALLEL_SEARCH", 1000)
    monkeypatch.setattr(assignment, "PARALLEL_GREEDY", 1000)
    for tied in (False, True):
        df = _frame(rng, 20_000, tied)
        results = []
        for count in (1, 2):
            with kernels.using("numba"), threads.using(count), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r = dc.matching(
                    df, outcome="y", treatment="t", covariates=["a", "b", "c", "d"], replace=replace, caliper=0.05
                )
            results.append((r.estimate, r.std_error, r.diagnostics["matches"].to_numpy()))
        (e1, s1, m1), (e2, s2, m2) = results
        assert e1 == e2 and s1 == s2
        np.testing.assert_array_equal(m1, m2)
