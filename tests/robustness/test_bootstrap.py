"""The bootstrap: the regression fast path equals refits on the same resamples (statsmodels), intervals from
their definitions, serial = parallel for a seed, clusters resampled whole, failures counted, and coverage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

import deconfound as dc
from deconfound._core.resample import ols_bootstrap
from deconfound.robustness import bootstrap


def _data(n: int = 300, seed: int = 0, g: int | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"x": rng.normal(size=n)})
    df["d"] = (rng.normal(size=n) + df["x"] > 0).astype(int)
    df["y"] = 2.0 * df["d"] + df["x"] + rng.standard_exponential(n)
    if g is not None:
        df["g"] = rng.integers(0, g, n)
    return df


@pytest.fixture
def small_blocks(monkeypatch):
    """Drawing blocks of 64 rows, so that a small sample spans several blocks and a short last one (whose
    indices are drawn with rejection), summed two by two."""
    from deconfound._core import resample

    monkeypatch.setattr(resample, "DRAW_BLOCK", 64)
    monkeypatch.setattr(resample, "SUM_GROUP", 2)  # and several groups of blocks for n_jobs to share


def test_fast_path_equals_refits_on_the_same_resamples(small_blocks):
    from deconfound._core.resample import row_counts

    df = _data(300)
    x = sm.add_constant(df[["d", "x"]]).to_numpy()
    y = df["y"].to_numpy()
    draws = ols_bootstrap(x, y, 1, 20, seed=5)
    counts = row_counts(300, 20, seed=5)
    assert counts.shape == (20, 300) and (counts.sum(axis=1) == 300).all()
    for b in range(20):
        rows = np.repeat(np.arange(len(y)), counts[b].astype(int))
        assert draws[b] == pytest.approx(sm.OLS(y[rows], x[rows]).fit().params[1], rel=1e-10)


@pytest.mark.parametrize("n", [300, 5000])
def test_row_draws_do_not_depend_on_chunks_threads_or_kernel(n, request):
    from deconfound._core import kernels
    from deconfound._core.resample import row_counts

    if n == 300:
        request.getfixturevalue("small_blocks")
    rng = np.random.default_rng(1)
    x = np.column_stack([np.ones(n), rng.normal(size=(n, 3))])
    y = x @ [1.0, 2.0, 0.5, -1.0] + rng.standard_exponential(n)
    base = ols_bootstrap(x, y, 1, 30, seed=11)
    assert np.array_equal(base, ols_bootstrap(x, y, 1, 30, seed=11))
    assert not np.array_equal(base, ols_bootstrap(x, y, 1, 30, seed=12))
    np.testing.assert_allclose(ols_bootstrap(x, y, 1, 30, seed=11, chunk=7), base, rtol=1e-12)
    assert np.array_equal(ols_bootstrap(x, y, 1, 30, seed=11, n_jobs=2), base)
    with kernels.using("numpy"):
        plain = row_counts(n, 30, 11)
    with kernels.using("numba"):
        compiled = row_counts(n, 30, 11)
    assert np.array_equal(plain, compiled)
    assert np.array_equal(compiled[:10], row_counts(n, 10, 11))  # the first resamples do not depend on how many


def test_row_draws_are_multinomial(small_blocks):
    # each resample is n draws with replacement: a row's count is Binomial(n, 1/n), two rows' counts have
    # covariance -1/n (multinomial), whether the rows share a drawing block or not
    from deconfound._core.resample import row_counts

    n, reps = 300, 4000
    counts = row_counts(n, reps, seed=2)
    freq = np.bincount(counts.astype(int).ravel(), minlength=8)[:8]
    expected = stats.binom.pmf(np.arange(8), n, 1 / n) * counts.size
    expected[-1] += stats.binom.sf(7, n, 1 / n) * counts.size
    freq[-1] += int((counts >= 8).sum())
    assert stats.chisquare(freq, expected).pvalue > 1e-3
    assert counts.mean(axis=0).std() < 4 * np.sqrt(1 / reps)  # every row drawn once on average
    cov = np.cov(counts[:, [0, 1, 70, 299]], rowvar=False)  # same block (0, 1), other blocks (70, the short one)
    np.testing.assert_allclose(np.diag(cov), 1 - 1 / n, atol=4 * np.sqrt(3 / reps))  # Var of a variance: 3/reps
    off = cov[np.triu_indices(4, 1)]
    assert np.all(np.abs(off + 1 / n) < 4 * np.sqrt(1 / reps))


def test_cluster_fast_path_equals_refits_on_the_same_clusters():
    df = _data(200, g=15)
    x = sm.add_constant(df[["d", "x"]]).to_numpy()
    y, codes = df["y"].to_numpy(), df["g"].to_numpy()
    draws = ols_bootstrap(x, y, 1, 10, seed=9, codes=codes)
    rng = np.random.default_rng(9)
    for b in range(10):
        picks = rng.integers(0, 15, 15)
        rows = np.concatenate([np.flatnonzero(codes == c) for c in picks])
        assert draws[b] == pytest.approx(sm.OLS(y[rows], x[rows]).fit().params[1], rel=1e-10)


@pytest.mark.parametrize("kind", ["percentile", "basic", "normal"])
def test_intervals_follow_their_definitions(kind):
    df = _data()
    res = bootstrap(dc.ols, df, outcome="y", treatment="d", covariates=["x"], n_boot=499, interval=kind, random_state=3)
    info = res.diagnostics["bootstrap"]
    draws, theta = res.diagnostics["bootstrap_draws"], res.estimate
    lo, hi = np.quantile(draws, [0.025, 0.975])
    expected = {
        "percentile": (lo, hi),
        "basic": (2 * theta - hi, 2 * theta - lo),
        "normal": (theta - 1.959963984540054 * draws.std(ddof=1), theta + 1.959963984540054 * draws.std(ddof=1)),
    }[kind]
    assert res.ci() == pytest.approx(expected, rel=1e-12)
    assert res.std_error == pytest.approx(draws.std(ddof=1), rel=1e-12)
    assert res.estimate == dc.ols(df, outcome="y", treatment="d", covariates=["x"]).estimate
    assert info["seed"] == 3 and info["n_failed"] == 0
    assert res.to_dict()["ci_low"] == res.ci()[0]


def test_the_jackknife_shortcut_equals_leaving_out():
    from deconfound._core.resample import ols_jackknife

    df = _data(60, g=6)
    x = sm.add_constant(df[["d", "x"]]).to_numpy()
    y, codes = df["y"].to_numpy(), df["g"].to_numpy()
    rows = ols_jackknife(x, y, 1)
    for i in (0, 17, 59):
        keep = np.arange(60) != i
        assert rows[i] == pytest.approx(sm.OLS(y[keep], x[keep]).fit().params[1], rel=1e-10)
    clusters = ols_jackknife(x, y, 1, codes)
    for c in range(6):
        keep = codes != c
        assert clusters[c] == pytest.approx(sm.OLS(y[keep], x[keep]).fit().params[1], rel=1e-10)


def test_bca_uses_the_jackknife_acceleration():
    df = _data(80)
    res = bootstrap(
        dc.ols, df, outcome="y", treatment="d", covariates=["x"], n_boot=999, interval="bca", random_state=4
    )
    draws, theta = res.diagnostics["bootstrap_draws"], res.estimate
    jack = np.array(
        [dc.ols(df.drop(index=i), outcome="y", treatment="d", covariates=["x"]).estimate for i in range(len(df))]
    )
    z0 = stats.norm.ppf(np.mean(draws < theta))
    u = jack.mean() - jack
    a = np.sum(u**3) / (6 * np.sum(u**2) ** 1.5)
    ends = [stats.norm.cdf(z0 + (z0 + z) / (1 - a * (z0 + z))) for z in stats.norm.ppf([0.025, 0.975])]
    assert res.ci() == pytest.approx(tuple(np.quantile(draws, ends)), rel=1e-10)


def test_serial_and_parallel_give_the_same_numbers_and_clusters_are_resampled_whole():
    df = _data(150, g=12)
    kwargs = {"outcome": "y", "treatment": "d", "n_boot": 40, "random_state": 8, "cluster": "g", "randomized": True}
    serial = bootstrap(dc.difference_in_means, df, **kwargs)
    parallel = bootstrap(dc.difference_in_means, df, n_jobs=2, **kwargs)
    np.testing.assert_array_equal(serial.diagnostics["bootstrap_draws"], parallel.diagnostics["bootstrap_draws"])
    assert serial.diagnostics["bootstrap"]["unit"] == "clusters"
    ticks = []
    bootstrap(dc.difference_in_means, df, progress=lambda i, n: ticks.append((i, n)), **kwargs)
    assert ticks[-1] == (40, 40)


def test_failed_resamples_are_counted_not_hidden():
    df = pd.DataFrame({"y": np.arange(30.0), "d": [1] * 2 + [0] * 28})  # two treated rows: some resamples have none
    res = bootstrap(dc.difference_in_means, df, outcome="y", treatment="d", n_boot=200, random_state=0, randomized=True)
    info = res.diagnostics["bootstrap"]
    assert info["n_failed"] > 0 and len(res.diagnostics["bootstrap_draws"]) == 200 - info["n_failed"]
    assert info["failures"]


def test_bad_input():
    df = _data(50)
    with pytest.raises(dc.SpecificationError, match=r"interval='studentized' is not known"):
        bootstrap(dc.ols, df, outcome="y", treatment="d", interval="studentized")
    with pytest.raises(dc.SpecificationError, match=r"first argument is the estimator function"):
        bootstrap(df, df)
    with pytest.raises(dc.SpecificationError, match=r"cluster='nope' is not a column"):
        bootstrap(dc.difference_in_means, df, outcome="y", treatment="d", cluster="nope", n_boot=20)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["percentile", "bca"])
def test_coverage(kind):
    """With skewed errors and n = 100, the 95% intervals cover the true effect 2 in 93-97% of 300 samples."""
    hits = 0
    reps = 300
    for rep in range(reps):
        df = _data(100, seed=100 + rep)
        res = bootstrap(
            dc.ols, df, outcome="y", treatment="d", covariates=["x"], n_boot=399, interval=kind, random_state=rep
        )
        lo, hi = res.ci()
        hits += lo <= 2.0 <= hi
    assert 0.92 <= hits / reps <= 0.975
