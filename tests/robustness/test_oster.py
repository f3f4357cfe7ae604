"""Oster (2019): on data built to satisfy her proportional-selection model (Y = beta X + W1 + W2 + e, the
treatment loading lambda1 on the observed index W1 and lambda2 on the unobserved W2, so delta = lambda2 /
lambda1 and R2max is the R-squared of the full regression), beta* recovers the true beta and delta* the true
delta; the textbook approximation does only at delta = 1."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import deconfound as dc
from deconfound.robustness import oster


def _world(lam1: float, lam2: float, n: int = 300_000, seed: int = 0):
    rng = np.random.default_rng(seed)
    wa, wb, w2 = rng.normal(size=(3, n))
    w1 = wa + 0.5 * wb
    x = lam1 * w1 + lam2 * w2 + rng.normal(size=n)
    y = 1.0 * x + w1 + w2 + rng.normal(size=n)
    r2max = sm.OLS(y, sm.add_constant(np.column_stack([x, wa, wb, w2]))).fit().rsquared
    return pd.DataFrame({"y": y, "x": x, "wa": wa, "wb": wb}), r2max


@pytest.mark.parametrize(("lam1", "lam2"), [(0.5, 0.5), (0.5, 0.25), (0.4, 0.8)])
def test_beta_star_and_delta_star_recover_the_truth(lam1, lam2):
    df, r2max = _world(lam1, lam2)
    delta = lam2 / lam1
    result = oster(df, outcome="y", treatment="x", covariates=["wa", "wb"], r2max=r2max, delta=delta, beta=1.0)
    assert result.beta_controlled > 1.2  # the controlled regression is still biased
    assert result.beta_star == pytest.approx(1.0, abs=0.02)
    assert result.delta_star == pytest.approx(delta, rel=0.03)
    if delta != 1.0:
        assert abs(result.beta_star_approx - 1.0) > 0.01  # the approximation holds only at delta = 1


def test_defaults_and_the_sentence():
    df = dc.datasets.heart_attack()
    result = oster(df, outcome="Severity", treatment="Drug", covariates=["I.H"])
    assert result.r2max == pytest.approx(min(1.3 * result.r2_controlled, 1.0))
    assert result.delta == 1.0 and result.beta == 0.0
    assert result.delta_star < 0  # adding I.H flipped the sign: only opposite selection could reach zero
    assert "working against the observed covariates" in result.text
    assert result.to_dict()["beta_star"] == result.beta_star


def test_oster_bad_input():
    df = dc.datasets.heart_attack()
    with pytest.raises(dc.SpecificationError, match=r"r2max=0\.1 must lie above the controlled regression's R-squared"):
        oster(df, outcome="Severity", treatment="Drug", covariates=["I.H"], r2max=0.1)
    with pytest.raises(dc.SpecificationError, match=r"delta must be a finite number"):
        oster(df, outcome="Severity", treatment="Drug", covariates=["I.H"], delta=float("nan"))


@pytest.mark.parametrize("delta", [0.5, 1.0, 2.0])
def test_delta_star_inverts_beta_star(delta):
    """delta*(beta*(delta)) = delta: the closed form and the polynomial roots describe the same curve."""
    df, r2max = _world(0.5, 0.4, n=20_000, seed=5)
    first = oster(df, outcome="y", treatment="x", covariates=["wa", "wb"], r2max=r2max, delta=delta)
    back = oster(df, outcome="y", treatment="x", covariates=["wa", "wb"], r2max=r2max, beta=first.beta_star)
    assert back.delta_star == pytest.approx(delta, rel=1e-9)
