"""The numeric core's contracts: chunking does not change results, cross-products add up, coordinates."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

from _helpers import assert_close, wild_weights
from deconfound._core.design import Design, array_part, constant_part
from deconfound._core.least_squares import fit_ols
from deconfound._core.passes import CHUNK_ROWS, CrossProducts, accumulate, block_products


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(21)
    n = 1003  # not a multiple of any chunk size used
    x = rng.normal(size=(n, 4)) * np.array([1.0, 10.0, 0.1, 1.0]) + np.array([0.0, 100.0, 0.0, -5.0])
    y = x @ [1.0, 0.1, 3.0, -1.0] + rng.normal(size=n) * (1 + np.abs(x[:, 0]))
    design = Design([constant_part(), *(array_part(f"x{j}", x[:, j]) for j in range(4))], n)
    return design, y, wild_weights(rng, n), rng.integers(0, 37, n), rng.integers(0, 11, n)


FIELDS = ("coef", "cov", "ssr", "tss", "r_squared", "f_statistic", "f_pvalue", "llf", "cond_no", "xtx")


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster1", "cluster2"])
def test_chunk_size_does_not_change_results(problem, cov_type, weighted):
    design, y, w, g1, g2 = problem
    clusters = {"cluster1": (g1,), "cluster2": (g1, g2)}.get(cov_type, ())
    kind = "cluster" if clusters else cov_type
    weights = w if weighted else None
    assert CHUNK_ROWS > design.n > 7 * 100  # the default reads one chunk, 7-row chunks more than a hundred
    tiny = fit_ols(design, y, weights, cov_type=kind, clusters=clusters, chunk_rows=7)
    whole = fit_ols(design, y, weights, cov_type=kind, clusters=clusters)
    for name in FIELDS:
        assert_close(getattr(tiny, name), getattr(whole, name), rtol=1e-10, what=name)


@pytest.mark.parametrize("weighted", [False, True])
def test_cross_products_of_two_halves_add_up_to_the_whole(problem, weighted):
    design, y, w, *_ = problem
    weights = w if weighted else None
    whole = accumulate(design, y, weights)
    cut = 457
    halves = []
    for rows in (slice(0, cut), slice(cut, design.n)):
        parts = [p if p.values is None else array_part(p.name, p.values[rows]) for p in design.parts]
        part = Design(parts, rows.stop - rows.start)
        halves.append(accumulate(part, y[rows], None if weights is None else weights[rows], chunk_rows=100))
    added = halves[0] + halves[1]
    assert added.n == whole.n and added.names == whole.names
    for name in ("sum_w", "mean", "mean_y", "cxx", "cxy", "cyy", "xtx", "xty", "yty", "sum_y"):
        assert_close(getattr(added, name), getattr(whole, name), rtol=1e-12, what=name)
    # and the raw sums agree with a direct computation
    x = design.to_array()
    ww = np.ones(design.n) if weights is None else weights
    assert_close(whole.xtx, x.T @ (ww[:, None] * x), rtol=1e-10)
    assert_close(whole.xty, x.T @ (ww * y), rtol=1e-10)
    # fitting from externally produced cross-products gives the same answer
    assert_close(fit_ols(design, y, weights, cross_products=added).coef, fit_ols(design, y, weights).coef, 1e-12)


def test_raw_sums_constructor_for_other_engines(problem):
    design, y, w, *_ = problem
    x = design.to_array()
    cp = CrossProducts.from_sums(
        design.names, design.n, w.sum(), w @ x, w @ y, x.T @ (w[:, None] * x), x.T @ (w * y), (w * y) @ y
    )
    direct = accumulate(design, y, w)
    assert_close(cp.xtx, direct.xtx, rtol=1e-10)
    assert_close(fit_ols(design, y, w, cross_products=cp).coef, fit_ols(design, y, w).coef, rtol=1e-8)


def test_block_with_zero_total_weight_merges_as_nothing(problem):
    design, y, *_ = problem
    blk = design.block(0, 10)
    empty = block_products(blk.copy(), y[:10], np.zeros(10), design.names)
    full = accumulate(design, y)
    merged = empty + full
    assert merged.n == full.n + 10
    assert_close(merged.cxx, full.cxx, rtol=1e-15)
    assert_close((full + empty).mean, full.mean, rtol=1e-15)


def test_constant_column_other_than_one_matches_statsmodels():
    """The centered solve maps back to the user's coordinates for any constant value (here 2)."""
    rng = np.random.default_rng(22)
    n = 200
    x = rng.normal(size=(n, 2)) + np.array([1e3, -3.0])
    y = 5 + x @ [0.5, 2.0] + rng.normal(size=n)
    design = Design([array_part("two", np.full(n, 2.0)), array_part("a", x[:, 0]), array_part("b", x[:, 1])], n)
    fit = fit_ols(design, y, cov_type="HC2")
    ref = sm.OLS(y, np.column_stack([np.full(n, 2.0), x])).fit(cov_type="HC2")
    assert_close(fit.coef, ref.params, rtol=1e-9)
    assert_close(np.sqrt(np.diag(fit.cov)), ref.bse, rtol=1e-9)
    assert fit.const_index == 0 and fit.has_const


def test_no_constant_matches_statsmodels():
    rng = np.random.default_rng(23)
    n = 150
    x = rng.normal(size=(n, 2)) + 1.0
    y = x @ [1.0, -1.0] + rng.normal(size=n)
    fit = fit_ols(Design.from_matrix(x, ["a", "b"]), y, cov_type="HC1")
    ref = sm.OLS(y, x).fit(cov_type="HC1", use_t=True)
    assert_close(fit.coef, ref.params)
    assert_close(np.sqrt(np.diag(fit.cov)), ref.bse)
    assert_close(fit.r_squared, ref.rsquared)  # uncentered, as statsmodels without a constant
    assert_close(fit.f_statistic, ref.fvalue)
    assert not fit.has_const
