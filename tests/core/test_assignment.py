"""Optimal pair matching: ties settled by the documented rule (snapped values, then uncrossed pairs on a
score), stable under last-bit changes of the inputs, and still of minimum total distance (scipy's
linear_sum_assignment on the true distances as the reference)."""

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

from deconfound._core import assignment
from deconfound.estimators._matching_se import Metric
from deconfound.estimators.matching import _optimal


def _solve(values, t, kind="1d", caliper=None, groups=None):
    targets, pool = np.flatnonzero(t == 1), np.flatnonzero(t == 0)
    pairs = _optimal(Metric(kind, values, caliper, groups), targets, pool)
    return {int(targets[i]): int(pool[j]) for i, j in zip(pairs.target, pairs.pool)}, pairs


def _ulp_shift(values, rng):
    """Every value moved by one ulp up or down at random."""
    return np.where(rng.random(values.shape) < 0.5, np.nextafter(values, -np.inf), np.nextafter(values, np.inf))


def test_exact_tie_gives_the_order_preserving_pairing():
    # 0.1 and 0.2 against 0.5 and 0.7: straight and crossed pairings both total 0.9 in exact arithmetic
    for values, t in (
        (np.array([0.1, 0.2, 0.5, 0.7]), np.array([1, 1, 0, 0])),
        (np.array([0.7, 0.2, 0.5, 0.1]), np.array([0, 1, 0, 1])),  # rows in another order
    ):
        pairs, _ = _solve(values, t)
        assert {values[i]: values[j] for i, j in pairs.items()} == {0.1: 0.5, 0.2: 0.7}


def test_crossing_pairs_are_uncrossed_without_changing_the_total():
    pairs = assignment.Pairs(np.array([0, 1]), np.array([1, 0]), np.zeros(2))
    out = assignment.uncross_1d(pairs, np.array([0.1, 0.2]), np.array([0.5, 0.7]))
    assert out.pool.tolist() == [0, 1]
    np.testing.assert_allclose(out.distance, [0.4, 0.5])
    # within exact-matching groups only: group 0 = target 0 + pool 1, group 1 = target 1 + pool 0
    grouped = assignment.uncross_1d(pairs, np.array([0.1, 0.2]), np.array([0.5, 0.7]), np.array([0, 1]))
    assert grouped.pool.tolist() == [1, 0]


@pytest.mark.parametrize("kind", ["1d", "kd"])
@pytest.mark.parametrize("caliper", [None, 0.15])
def test_one_ulp_changes_leave_the_pairing_unchanged(kind, caliper):
    rng = np.random.default_rng(7)
    n = 120
    t = (rng.random(n) < 0.35).astype(int)
    if kind == "1d":
        values = np.round(rng.uniform(0.1, 0.9, n), 2)  # many equal scores and equal distances
    else:
        values = np.round(rng.normal(size=(n, 2)), 1)
    base, _ = _solve(values, t, kind, caliper)
    for _ in range(5):
        shifted, _ = _solve(_ulp_shift(values, rng), t, kind, caliper)
        assert shifted == base


def test_sparse_problem_is_stable_and_matches_the_dense_total(monkeypatch):
    rng = np.random.default_rng(3)
    n = 200
    t = (rng.random(n) < 0.4).astype(int)
    values = np.round(rng.uniform(0.2, 0.8, n), 2)
    dense, dense_pairs = _solve(values, t, caliper=0.05)
    monkeypatch.setattr(assignment, "DENSE_LIMIT", 10)
    sparse, sparse_pairs = _solve(values, t, caliper=0.05)
    assert len(sparse) == len(dense)
    assert sparse_pairs.distance.sum() == pytest.approx(dense_pairs.distance.sum(), rel=1e-9)
    for _ in range(3):
        assert _solve(_ulp_shift(values, rng), t, caliper=0.05)[0] == sparse


@pytest.mark.parametrize("seed", range(12))
def test_still_minimum_total_distance(seed):
    rng = np.random.default_rng(seed)
    n_t, n_p = rng.integers(2, 7), rng.integers(7, 12)
    t = np.r_[np.ones(n_t, int), np.zeros(n_p, int)]
    kind = "1d" if seed % 2 else "kd"
    if kind == "1d":
        values = rng.uniform(size=n_t + n_p)
        if seed % 4 == 1:
            values = np.round(values, 1)  # ties
        cost = np.abs(values[t == 1][:, None] - values[t == 0][None, :])
    else:
        values = rng.normal(size=(n_t + n_p, 2))
        cost = cdist(values[t == 1], values[t == 0])
    rows, cols = linear_sum_assignment(cost)
    pairs, found = _solve(values, t, kind)
    assert len(pairs) == n_t and len(set(pairs.values())) == n_t
    assert found.distance.sum() == pytest.approx(cost[rows, cols].sum(), rel=1e-8)
    # reported distances are the true ones
    tgt, pool = np.flatnonzero(t == 1), np.flatnonzero(t == 0)
    np.testing.assert_allclose(found.distance, cost[found.target, found.pool], rtol=1e-12, atol=0)
    assert tgt.size and pool.size


def test_snap_grid_is_a_power_of_two_and_keeps_zero():
    v = np.array([0.0, 0.3, -0.75, np.inf])
    out = assignment.snap(v)
    step = 2.0**-32
    assert out[0] == 0.0 and np.isinf(out[3])
    assert np.all(np.abs(out[:3] - v[:3]) <= step / 2)
    assert np.all(np.mod(out[:3] / step, 1) == 0)
