"""The within transformation: alternating projections against dummy-variable least squares."""

import numpy as np
import pytest

import deconfound as dc
from deconfound._core.demean import Demeaner, compact, drop_singletons, fixed_effect_count, is_nested


def _dummy_residual(x, codes, w=None):
    dummies = np.column_stack([np.eye(int(c.max()) + 1)[c] for c in codes])
    root = np.ones(len(x)) if w is None else np.sqrt(w)
    coef = np.linalg.lstsq(dummies * root[:, None], x * root, rcond=None)[0]
    return x - dummies @ coef


@pytest.mark.parametrize("n_fe", [1, 2, 3])
@pytest.mark.parametrize("weighted", [False, True])
def test_alternating_projections_equal_dummy_regression(n_fe, weighted, rng):
    n = 1500
    codes = [rng.integers(0, g, n) for g in (80, 15, 25)[:n_fe]]
    x = rng.normal(size=n) + 0.05 * codes[0]
    w = rng.uniform(0.2, 3.0, n) if weighted else None
    out, sweeps, ok = Demeaner(codes, w, tol=1e-13).demean(x)
    assert ok
    np.testing.assert_allclose(out, _dummy_residual(x, codes, w), atol=1e-9)
    assert sweeps >= 1


def test_balanced_two_way_panel_needs_two_sweeps(rng):
    units, periods = 300, 12
    codes = [np.repeat(np.arange(units), periods), np.tile(np.arange(periods), units)]
    x = rng.normal(size=units * periods)
    out, sweeps, ok = Demeaner(codes).demean(x)
    assert ok and sweeps == 2
    np.testing.assert_allclose(out, _dummy_residual(x, codes), atol=1e-10)


def test_input_is_not_modified_and_columns_are_independent(rng):
    codes = [rng.integers(0, 30, 500), rng.integers(0, 7, 500)]
    m = rng.normal(size=(500, 3))
    before = m.copy()
    out, info = Demeaner(codes).demean_columns(m)
    np.testing.assert_array_equal(m, before)
    assert len(info.iterations) == 3 and info.converged
    for j in range(3):
        np.testing.assert_allclose(out[:, j], Demeaner(codes).demean(m[:, j])[0])


def test_stops_at_max_iter_without_converging(rng):
    # a long chain of units linked by few shared periods converges slowly
    n = 4000
    a = rng.integers(0, 1500, n)
    b = (a // 3 + rng.integers(0, 2, n)) % 600
    _out, sweeps, ok = Demeaner([a, b], tol=1e-15, max_iter=3).demean(rng.normal(size=n))
    assert not ok and sweeps >= 3


def test_singletons_are_removed_repeatedly():
    # unit 3 has one row; removing it leaves time 2 with a single row, which goes next
    unit = np.array([0, 0, 1, 1, 2, 2, 3, 4, 4])
    time = np.array([0, 1, 0, 1, 0, 1, 2, 2, 3])
    keep = drop_singletons([unit, time])
    assert keep.tolist() == [True] * 6 + [False] * 3
    assert drop_singletons([np.array([0, 0, 1])]).tolist() == [True, True, False]


def test_compact_nested_and_counts():
    codes, g = compact(np.array([4, 4, 1, 7]))
    assert codes.tolist() == [1, 1, 0, 2] and g == 3
    assert is_nested(np.array([0, 0, 1, 2]), np.array([5, 5, 5, 6]))
    assert not is_nested(np.array([0, 0, 1]), np.array([0, 1, 1]))
    assert fixed_effect_count([10, 5, 3]) == 16
    assert fixed_effect_count([]) == 0


def test_ssc_validation():
    s = dc.ssc(fixef_k="full", cluster_df="conventional")
    assert s.fixef_k == "full" and s.cluster_df == "conventional"
    with pytest.raises(dc.SpecificationError, match="fixef_k='nestd' is not allowed"):
        dc.ssc(fixef_k="nestd")
    with pytest.raises(dc.SpecificationError, match="must be True or False"):
        dc.ssc(adj="yes")
