"""The logistic passes read a design in place or block by block, with the same sums; the exact formulas
take over where exp overflows. Designs copy adjacent columns of one matrix in one step."""

import numpy as np
import pandas as pd
import pytest

from deconfound._core.design import Design, Part, constant_part
from deconfound._core.logistic import fit_logistic, logistic_pass, predict
from deconfound.data import prepare


def _separate_columns(x):
    """The same columns, each in its own array (never adjacent): the block-by-block path."""
    return Design([Part(f"x{j}", np.array(x[:, j], copy=True)) for j in range(x.shape[1])], len(x))


def _direct(x, y, w, beta):
    """Information, score and log-likelihood straight from the formulas."""
    xx = np.column_stack([np.ones(len(x)), x])
    eta = xx @ beta
    p = np.where(eta >= 0, 1.0 / (1.0 + np.exp(-np.abs(eta))), np.exp(-np.abs(eta)) / (1.0 + np.exp(-np.abs(eta))))
    ll = y * eta - np.logaddexp(0.0, eta)
    return xx.T @ (xx * (w * p * (1 - p))[:, None]), xx.T @ (w * (y - p)), float(w @ ll)


@pytest.mark.parametrize("weighted", [False, True])
def test_in_place_and_blockwise_passes_agree_with_the_formulas(rng, weighted):
    n = 20_000
    x = rng.normal(size=(n, 4))
    y = (rng.random(n) < 0.4).astype(float)
    w = rng.integers(1, 4, n).astype(float) if weighted else None
    beta = np.array([0.2, 0.5, -0.3, 0.1, 0.05])
    in_place = Design.from_matrix(x, [f"x{j}" for j in range(4)]).with_parts([constant_part()], front=True)
    blockwise = _separate_columns(x).with_parts([constant_part()], front=True)
    assert in_place.leading_constant_view() is not None and blockwise.leading_constant_view() is None
    info, score, llf = _direct(x, y, np.ones(n) if w is None else w, beta)
    for design in (in_place, blockwise):
        p = logistic_pass(design, y, w, beta, chunk_rows=777)
        np.testing.assert_allclose(p.information, info, rtol=1e-12)
        np.testing.assert_allclose(p.score, score, rtol=1e-10, atol=1e-9)
        assert p.llf == pytest.approx(llf, rel=1e-13)
        index, prob = predict(design, beta, chunk_rows=777)
        np.testing.assert_allclose(index, np.column_stack([np.ones(n), x]) @ beta, rtol=1e-13, atol=1e-13)
        np.testing.assert_allclose(prob, 1 / (1 + np.exp(-index)), rtol=1e-14)
    a = fit_logistic(in_place, y, w)
    b = fit_logistic(blockwise, y, w)
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(a.cov, b.cov, rtol=1e-9)


def test_overflowing_linear_index_uses_the_exact_formulas(rng):
    n = 3000
    x = rng.normal(size=(n, 2))
    y = (rng.random(n) < 0.5).astype(float)
    beta = np.array([0.0, 400.0, -300.0])  # |eta| far beyond 700 for many rows
    design = Design.from_matrix(x, ["a", "b"]).with_parts([constant_part()], front=True)
    p = logistic_pass(design, y, None, beta)
    info, score, llf = _direct(x, y, np.ones(n), beta)
    assert np.isfinite(p.llf) and p.llf == pytest.approx(llf, rel=1e-13)
    np.testing.assert_allclose(p.score, score, rtol=1e-12)
    np.testing.assert_allclose(p.information, info, rtol=1e-9, atol=1e-300)
    assert p.max_abs_eta > 700


def test_large_n_fit_converges_to_the_optimum(rng):
    """Warm start on a subsample, then full Newton steps: the score at the result is zero to rounding."""
    n = 400_000
    x = rng.normal(size=(n, 3))
    y = (rng.random(n) < 1 / (1 + np.exp(-(0.3 + x @ [0.8, -0.5, 0.2])))).astype(float)
    design = Design.from_matrix(x, ["a", "b", "c"]).with_parts([constant_part()], front=True)
    fit = fit_logistic(design, y)
    p = logistic_pass(design, y, None, fit.coef)
    step = np.linalg.solve(p.information, p.score)
    assert np.max(np.abs(step) / np.sqrt(np.diag(fit.cov))) < 1e-6  # within a millionth of a standard error
    np.testing.assert_allclose(fit.information, p.information, rtol=1e-8)


def test_adjacent_columns_of_a_frame_are_read_as_one_view(rng):
    x = rng.normal(size=(50, 5))
    df = pd.DataFrame(x, columns=list("abcde"))
    df["t"] = np.arange(50) % 2
    df["y"] = rng.normal(size=50)
    for cols in (list("abcde"), list("edcba"), ["a", "c", "e", "b"], ["b", "c"]):
        design = prepare(df, outcome="y", treatment="t", covariates=cols).covariates
        np.testing.assert_array_equal(design.to_array(), df[cols].to_numpy())
        full = design.with_parts([constant_part()], front=True)
        np.testing.assert_array_equal(full.block(7, 31), np.column_stack([np.ones(50), df[cols].to_numpy()])[7:31])
        v = rng.normal(size=(50, 3))
        np.testing.assert_allclose(full.tdot(v), np.column_stack([np.ones(50), df[cols].to_numpy()]).T @ v, rtol=1e-13)
    assert len(prepare(df, outcome="y", treatment="t", covariates=list("abcde")).covariates._runs()) == 1


def test_the_warm_start_subsample_of_a_compiled_fit_is_compiled_too():
    """The subsample holds at least WARM_START_ROWS // 2 rows: at or above the compiled pass's threshold."""
    from deconfound._core import logistic

    assert logistic.WARM_START_ROWS // 2 >= logistic.COMPILED_MIN_ROWS
    for n in (logistic.WARM_START_ROWS + 1, 299_999, 300_000, 10_000_001):
        every = max(2, n // (logistic.WARM_START_ROWS // 2))
        assert len(range(0, n, every)) >= logistic.COMPILED_MIN_ROWS
