"""Our IRLS logistic regression against statsmodels, and its separation diagnostics."""

import numpy as np
import pytest
import statsmodels.api as sm

import deconfound as dc
from deconfound._core.design import Design, constant_part
from deconfound._core.logistic import fit_logistic


def _design(x, names=None):
    names = names or [f"x{j}" for j in range(x.shape[1])]
    return Design.from_matrix(x, names).with_parts([constant_part()], front=True)


def _data(rng, n, k=4):
    x = rng.normal(size=(n, k))
    x[:, -1] = rng.integers(0, 3, n)
    index = 0.3 + x @ np.linspace(1.0, -0.4, k)
    t = rng.binomial(1, 1 / (1 + np.exp(-index))).astype(float)
    return x, t


@pytest.mark.parametrize("n", [300, 5000])
def test_matches_statsmodels_logit(rng, n):
    x, t = _data(rng, n)
    ours = fit_logistic(_design(x), t)
    ref = sm.Logit(t, sm.add_constant(x)).fit(disp=0, method="newton", tol=1e-14, maxiter=100)
    np.testing.assert_allclose(ours.coef, ref.params, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(np.sqrt(np.diag(ours.cov)), ref.bse, rtol=1e-8)
    assert ours.llf == pytest.approx(ref.llf, rel=1e-10)
    assert ours.llnull == pytest.approx(ref.llnull, rel=1e-8)  # statsmodels iterates; ours is closed form


def test_frequency_weights_match_statsmodels_glm(rng):
    x, t = _data(rng, 2000, 3)
    w = rng.integers(1, 4, len(t)).astype(float)
    ours = fit_logistic(_design(x), t, w)
    ref = sm.GLM(t, sm.add_constant(x), family=sm.families.Binomial(), freq_weights=w).fit(tol=1e-14)
    np.testing.assert_allclose(ours.coef, ref.params, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(np.sqrt(np.diag(ours.cov)), ref.bse, rtol=1e-8)


def test_frequency_weights_equal_duplicated_rows(rng):
    x, t = _data(rng, 500, 2)
    w = rng.integers(1, 3, len(t))
    a = fit_logistic(_design(x), t, w.astype(float))
    b = fit_logistic(_design(np.repeat(x, w, axis=0)), np.repeat(t, w))
    np.testing.assert_allclose(a.coef, b.coef, rtol=1e-9)
    np.testing.assert_allclose(a.cov, b.cov, rtol=1e-8)


def test_large_n_warm_start_and_small_chunks_agree(rng):
    x, t = _data(rng, 250_000, 3)
    big = fit_logistic(_design(x), t)
    ref = sm.Logit(t, sm.add_constant(x)).fit(disp=0, method="newton", tol=1e-14)
    np.testing.assert_allclose(big.coef, ref.params, rtol=1e-8, atol=1e-10)
    small = fit_logistic(_design(x[:3000]), t[:3000], chunk_rows=257)
    whole = fit_logistic(_design(x[:3000]), t[:3000])
    np.testing.assert_allclose(small.coef, whole.coef, rtol=1e-11)


def test_complete_separation_by_one_covariate_is_named(rng):
    x = rng.normal(size=(200, 2))
    t = (x[:, 0] > 0).astype(float)
    with pytest.raises(dc.DataError, match=r"covariate 'x0' separates treated from control completely"):
        fit_logistic(_design(x), t)


def test_quasi_separation_by_a_dummy_level_is_named(rng):
    x = rng.normal(size=(300, 2))
    x[:, 1] = 0.0
    x[:12, 1] = 1.0
    t = rng.binomial(1, 0.5, 300).astype(float)
    t[:12] = 1.0
    with pytest.raises(dc.DataError, match=r"'x1' separates .* quasi-completely: the 12 row\(s\) with x1 > 0 are all"):
        fit_logistic(_design(x), t)


def test_separation_by_a_combination_names_the_covariates(rng):
    x = rng.normal(size=(300, 3))
    t = (x[:, 0] - x[:, 1] > 0).astype(float)
    with pytest.raises(dc.DataError, match=r"combination of ('x0', 'x1'|'x1', 'x0') predicts the treatment"):
        fit_logistic(_design(x), t)


def test_rank_deficient_design_is_refused(rng):
    x, t = _data(rng, 200, 2)
    x = np.column_stack([x, 2 * x[:, 0]])
    with pytest.raises(dc.CollinearityError, match=r"'x2' = 2\*x0"):
        fit_logistic(_design(x), t)


def test_too_few_rows(rng):
    with pytest.raises(dc.DataError, match="more rows than coefficients"):
        fit_logistic(_design(rng.normal(size=(3, 3))), np.array([0.0, 1.0, 0.0]))
