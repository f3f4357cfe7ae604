"""The compiled logistic pass and prediction (numba) against the numpy path, and thread counts.

The compiled path runs on in-memory designs read in place, in fixed chunks of rows whose sums are added in
chunk order: one thread and two give the same bits, and the numpy path (``kernels.using("numpy")``) the
same numbers to 1e-12 relative (exp and log by vectorised polynomials within 2 ulps of libm's, sums in
another order). The thresholds are lowered here so that small problems take the compiled path, over
several chunks and through the subsample warm start.
"""

import numpy as np
import pandas as pd
import pytest

import deconfound as dc
from deconfound._core import kernels, logistic, rows, threads
from deconfound._core.design import Design, Part, constant_part
from deconfound._core.logistic import fit_logistic, logistic_pass, predict

pytest.importorskip("numba")


@pytest.fixture(autouse=True)
def small_thresholds(monkeypatch):
    monkeypatch.setattr(logistic, "COMPILED_MIN_ROWS", 1000)
    monkeypatch.setattr(logistic, "COMPILED_CHUNK_ROWS", 3000)
    monkeypatch.setattr(logistic, "WARM_START_ROWS", 8000)


def _data(rng, n=20_011, p=6, scale=1.0):
    x = rng.normal(size=(n, p)) * scale
    index = -0.3 + x @ np.linspace(0.5, 0.05, p)
    y = (rng.random(n) < 1 / (1 + np.exp(-index))).astype(float)
    return x, y


def _with_constant(x):
    names = [f"x{j}" for j in range(x.shape[1])]
    return Design.from_matrix(pd.DataFrame(x, columns=names).to_numpy(), names).with_parts(
        [constant_part()], front=True
    )


def _designs(x):
    """A constant and one matrix's columns; one matrix holding a column of ones (no constant part)."""
    names = [f"x{j}" for j in range(x.shape[1])]
    whole = np.asfortranarray(np.column_stack([np.ones(len(x)), x]))
    return {"constant + matrix": _with_constant(x), "one matrix": Design.from_matrix(whole, ["one", *names])}


def _fit(design, y, w, backend, n_threads):
    with kernels.using(backend), threads.using(n_threads):
        fit = fit_logistic(design, y, w)
        index, prob = predict(design, fit.coef)
    return fit, index, prob


def _close(a, b, rtol=1e-12):
    np.testing.assert_allclose(a, b, rtol=rtol, atol=0)


def test_the_compiled_path_is_taken_only_on_in_memory_designs_read_in_place(rng):
    x, _ = _data(rng, n=5000)
    for design in _designs(x).values():
        with kernels.using("numba"):
            assert logistic._compiled_layout(design) is not None
            with rows.using(lambda d, n, a, c: rows.ShuffledSource(d, n, a)):
                assert logistic._compiled_layout(design) is None
        with kernels.using("numpy"):
            assert logistic._compiled_layout(design) is None
    separate = Design([Part(f"x{j}", np.array(x[:, j])) for j in range(x.shape[1])], len(x))
    row_major = Design.from_matrix(np.ascontiguousarray(x), [f"x{j}" for j in range(x.shape[1])])
    with kernels.using("numba"):
        assert logistic._compiled_layout(separate.with_parts([constant_part()], front=True)) is None
        assert logistic._compiled_layout(row_major.with_parts([constant_part()], front=True)) is None


def test_a_call_site_can_raise_the_size_of_the_compiled_path(rng):
    """The weighting estimators keep the numpy pass below COLD_MIN_ROWS (numba's first use would cost
    their call more than it saves); the rule is the call site's, not the process's history."""
    x, _ = _data(rng, n=5000)
    design = next(iter(_designs(x).values()))
    with kernels.using("numba"):
        assert logistic._compiled_layout(design) is not None
        with logistic.compiled_from(len(x) + 1):
            assert logistic._compiled_layout(design) is None
            with logistic.compiled_from(len(x)):
                assert logistic._compiled_layout(design) is not None
            assert logistic._compiled_layout(design) is None
        assert logistic._compiled_layout(design) is not None
    assert logistic.COLD_MIN_ROWS > logistic.COMPILED_MIN_ROWS


@pytest.mark.parametrize("weighted", [False, True])
def test_one_and_two_threads_give_the_same_bits(rng, weighted):
    x, y = _data(rng)
    w = rng.integers(0, 4, len(y)).astype(float) if weighted else None
    for design in _designs(x).values():
        one = _fit(design, y, w, "numba", 1)
        two = _fit(design, y, w, "numba", 2)
        for a, b in zip(one[1:], two[1:], strict=True):
            np.testing.assert_array_equal(a, b)
        for name in ("coef", "cov", "information", "llf", "iterations"):
            np.testing.assert_array_equal(getattr(one[0], name), getattr(two[0], name))


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_compiled_and_numpy_agree_to_1e12(seed, weighted):
    rng = np.random.default_rng(seed)
    x, y = _data(rng, n=20_011 + 997 * seed, p=3 + 2 * seed, scale=0.5 + seed)
    w = rng.integers(0, 5, len(y)).astype(float) if weighted else None
    for design in _designs(x).values():
        a, index_a, prob_a = _fit(design, y, w, "numba", 2)
        b, index_b, prob_b = _fit(design, y, w, "numpy", 1)
        assert a.iterations == b.iterations
        _close(a.coef, b.coef)
        _close(a.cov, b.cov)
        _close(a.information, b.information)
        assert a.llf == pytest.approx(b.llf, rel=1e-12)
        # an index near zero is a difference of terms: its error is relative to the terms' size
        np.testing.assert_allclose(index_a, index_b, rtol=1e-12, atol=1e-14 * np.max(np.abs(index_b)))
        _close(prob_a, prob_b)


def test_a_subsample_start_and_a_given_start_agree(rng):
    """Above WARM_START_ROWS both paths start from the subsample fit (copied by the compiled kernel)."""
    x, y = _data(rng, n=30_000)
    design = _with_constant(x)
    beta0 = logistic._intercept_start(design, y, None, {0})
    with kernels.using("numba"):
        start_a = logistic._warm_start(design, y, None, beta0, 6144)
    with kernels.using("numpy"):
        start_b = logistic._warm_start(design, y, None, beta0, 6144)
    assert not np.array_equal(start_a, beta0)
    _close(start_a, start_b, 1e-12)


def test_overflowing_linear_index_matches_the_numpy_exact_branch(rng):
    n = 9000
    x = rng.normal(size=(n, 2))
    y = (rng.random(n) < 0.5).astype(float)
    w = rng.integers(1, 3, n).astype(float)
    design = _with_constant(x)
    for beta in (np.array([0.0, 400.0, -300.0]), np.array([1.0, 1e6, 0.0]), np.array([0.0, 2.0, -1.0])):
        with kernels.using("numba"):
            a = logistic_pass(design, y, w, beta)
            index_a, prob_a = predict(design, beta)
        with kernels.using("numpy"):
            b = logistic_pass(design, y, w, beta)
            index_b, prob_b = predict(design, beta)
        assert np.isfinite(a.llf) and a.llf == pytest.approx(b.llf, rel=1e-12)
        assert a.max_abs_eta == pytest.approx(b.max_abs_eta, rel=1e-15)
        assert a.sum_v == pytest.approx(b.sum_v, rel=1e-12, abs=1e-300)
        np.testing.assert_allclose(a.score, b.score, rtol=1e-12, atol=1e-12 * np.max(np.abs(b.score)))
        np.testing.assert_allclose(a.information, b.information, rtol=1e-9, atol=1e-300)
        _close(index_a, index_b, 1e-13)
        # a probability of exp(-500) carries the index's absolute rounding (500 ulps of 1) as relative error
        np.testing.assert_allclose(prob_a, prob_b, rtol=1e-12, atol=0)


def test_a_not_a_number_index_gives_a_not_a_number_log_likelihood(rng):
    x, y = _data(rng, n=4000, p=2)
    x[17, 1] = np.nan
    design = _with_constant(x)
    for backend in ("numba", "numpy"):
        with kernels.using(backend):
            assert np.isnan(logistic_pass(design, y, None, np.array([0.1, 0.2, 0.3])).llf)


def test_near_separation_fits_alike(rng):
    """Large coefficients (probabilities near 0 and 1, |eta| far above 25) but a finite optimum."""
    x, _ = _data(rng, n=12_000, p=3)
    index = 0.5 + x @ np.array([3.0, -2.0, 1.5])
    y = (rng.random(len(x)) < 1 / (1 + np.exp(-index))).astype(float)
    design = _with_constant(x)
    a, _, prob_a = _fit(design, y, None, "numba", 2)
    b, _, prob_b = _fit(design, y, None, "numpy", 1)
    assert np.max(np.abs(a.coef)) > 2 and a.iterations > 3 and a.iterations == b.iterations
    _close(a.coef, b.coef)
    _close(a.cov, b.cov, 1e-11)
    _close(prob_a, prob_b, 1e-11)


def test_separation_is_reported_alike(rng):
    x, _ = _data(rng, n=6000, p=3)
    quasi = (x[:, 0] + x[:, 1] > 0).astype(float)  # a combination separates
    messages = []
    for backend in ("numba", "numpy"):
        with kernels.using(backend), pytest.raises(dc.DataError, match="separate") as err:
            fit_logistic(_with_constant(x), quasi)
        messages.append(str(err.value))
    assert messages[0] == messages[1]
    y = (x[:, 2] > 0).astype(float)
    x_dummy = x.copy()
    x_dummy[:, 0] = (x[:, 2] > 1).astype(float)  # the level 1 holds only treated rows
    messages = []
    for backend in ("numba", "numpy"):
        with kernels.using(backend), pytest.raises(dc.DataError, match=r"quasi-completely|separate") as err:
            fit_logistic(_with_constant(x_dummy), y)
        messages.append(str(err.value))
    assert messages[0] == messages[1]
