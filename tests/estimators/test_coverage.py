"""Simulation coverage (slow): 95% intervals of ols and lin cover the true effect in 93-97% of 600 data sets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import deconfound as dc

REPS = 600


def _heteroskedastic(rng: np.random.Generator, n: int) -> pd.DataFrame:
    x = rng.normal(size=(n, 2))
    t = rng.binomial(1, 1 / (1 + np.exp(-x[:, 0])))
    y = 1 + 2.0 * t + x @ [1.0, -0.5] + rng.normal(size=n) * (0.5 + np.abs(x[:, 0]) + t)
    return pd.DataFrame({"y": y, "t": t, "a": x[:, 0], "b": x[:, 1]})


def _coverage(make, estimate, truth) -> float:
    rng = np.random.default_rng(99)
    hits = 0
    for _ in range(REPS):
        r = estimate(make(rng))
        hits += r.ci_low <= truth <= r.ci_high
    return hits / REPS


@pytest.mark.slow
@pytest.mark.parametrize("cov_type", ["HC1", "HC3"])
def test_ols_robust_intervals_cover_under_heteroskedasticity(cov_type):
    share = _coverage(
        lambda rng: _heteroskedastic(rng, 200),
        lambda df: dc.ols(df, outcome="y", treatment="t", covariates=["a", "b"], cov_type=cov_type),
        2.0,
    )
    assert 0.93 <= share <= 0.97, share


@pytest.mark.slow
def test_cluster_intervals_cover_with_correlated_errors():
    def make(rng):
        g = np.repeat(np.arange(40), 10)
        shock = rng.normal(size=40)[g]
        t = rng.binomial(1, 0.5, 40)[g]  # assigned by cluster
        x = rng.normal(size=400) + shock
        y = 1.0 * t + x + 2 * shock + rng.normal(size=400)
        return pd.DataFrame({"y": y, "t": t, "x": x, "g": g})

    share = _coverage(make, lambda df: dc.ols(df, outcome="y", treatment="t", covariates=["x"], cluster="g"), 1.0)
    assert 0.93 <= share <= 0.97, share


@pytest.mark.slow
def test_lin_intervals_cover_the_sample_ate_in_a_trial():
    """Fixed covariates and effects (the design-based setting of Lin 2013): re-randomize the treatment."""
    rng0 = np.random.default_rng(5)
    n = 200
    x = rng0.normal(size=n)
    y0 = x + rng0.normal(size=n)
    y1 = y0 + 1.0 + 1.5 * x
    truth = float(np.mean(y1 - y0))

    def make(rng):
        t = rng.permutation(np.r_[np.ones(n // 2), np.zeros(n - n // 2)])
        return pd.DataFrame({"y": np.where(t == 1, y1, y0), "t": t, "x": x})

    share = _coverage(make, lambda df: dc.lin(df, outcome="y", treatment="t", covariates=["x"]), truth)
    assert 0.93 <= share <= 0.99, share  # HC2 is conservative for the sample ATE (Lin 2013)
