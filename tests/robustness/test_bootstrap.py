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


def test_fast_path_equals_refits_on_the_same_resamples():
    df = _data(120)
    x = sm.add_constant(df[["d", "x"]]).to_numpy()
    y = df["y"].to_numpy()
    draws = ols_bootstrap(x, y, 1, 20, seed=5)
    rng = np.random.default_rng(5)
    for b in range(20):
        counts = np.bincount(rng.integers(0, len(y), len(y)), minlength=len(y))
        rows = np.repeat(np.arange(len(y)), counts)
        assert draws[b] == pytest.approx(sm.OLS(y[rows], x[rows]).fit().params[1], rel=1e-10)


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
