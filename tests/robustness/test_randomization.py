"""Randomization inference: exact enumeration against scipy's permutation test, the randomization designs
(complete, stratified, clustered) respected, an estimator as the statistic, and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import deconfound as dc
from deconfound.robustness import randomization_test
from deconfound.robustness.randomization import _assignments


def _trial(n: int, seed: int, effect: float = 1.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = rng.permutation(np.r_[np.ones(n // 2), np.zeros(n - n // 2)]).astype(int)
    return pd.DataFrame({"t": t, "x": rng.normal(size=n), "y": effect * t + rng.normal(size=n)})


@pytest.mark.parametrize("alternative", ["greater", "less"])
def test_exact_p_value_equals_scipy(alternative):
    df = _trial(12, 1, effect=0.8)
    ours = randomization_test(df, outcome="y", treatment="t", alternative=alternative)
    treated, control = df.loc[df.t == 1, "y"], df.loc[df.t == 0, "y"]
    ref = stats.permutation_test(
        (treated, control),
        lambda a, b: np.mean(a) - np.mean(b),
        permutation_type="independent",
        alternative=alternative,
        n_resamples=10**6,
    )
    assert ours["exact"] and ours["n_permutations"] == 924  # C(12, 6)
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-12)
    assert ours.statistic == pytest.approx(treated.mean() - control.mean(), rel=1e-12)


def test_monte_carlo_p_value_agrees_with_scipy():
    df = _trial(200, 2, effect=0.25)
    ours = randomization_test(df, outcome="y", treatment="t", n_permutations=4999, random_state=0)
    ref = stats.permutation_test(
        (df.loc[df.t == 1, "y"], df.loc[df.t == 0, "y"]),
        lambda a, b: np.mean(a) - np.mean(b),
        permutation_type="independent",
        n_resamples=4999,
        random_state=0,
    )
    assert not ours["exact"]
    assert abs(ours.p_value - ref.pvalue) < 4 * np.sqrt(ref.pvalue * (1 - ref.pvalue) / 4999) + 2e-3


def test_designs_are_respected():
    rng = np.random.default_rng(0)
    t = np.array([1, 0, 0, 1, 1, 0, 0, 0], float)
    strata = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    drawn, exact = _assignments(t, strata, None, 10_000, rng)
    assert exact and len(drawn) == 6 * 4  # C(4, 2) x C(4, 1)
    assert (drawn[:, strata == 0].sum(axis=1) == 2).all() and (drawn[:, strata == 1].sum(axis=1) == 1).all()
    clusters = np.repeat(np.arange(6), 3)
    tc = np.repeat([1.0, 0, 1, 0, 0, 1], 3)
    drawn, _ = _assignments(tc, None, clusters, 100, rng)
    for row in drawn:
        assert (row.reshape(6, 3).std(axis=1) == 0).all()


def test_an_estimator_as_the_statistic_and_the_sentence():
    df = _trial(60, 3, effect=1.5)
    res = randomization_test(
        df, outcome="y", treatment="t", estimator=dc.ols, covariates=["x"], n_permutations=199, random_state=1
    )
    assert res.statistic == pytest.approx(dc.ols(df, outcome="y", treatment="t", covariates=["x"]).estimate)
    assert res.p_value == pytest.approx(1 / 200)  # nothing as extreme as a large real effect
    assert "re-randomizations (complete randomization)" in res["text"]


def test_size_under_the_sharp_null():
    rejections = sum(
        randomization_test(
            _trial(40, 100 + s, effect=0.0), outcome="y", treatment="t", n_permutations=499, random_state=s
        ).p_value
        <= 0.05
        for s in range(200)
    )
    assert 0.02 <= rejections / 200 <= 0.09


def test_bad_input():
    df = _trial(20, 0)
    with pytest.raises(dc.SpecificationError, match=r"alternative='both': choose"):
        randomization_test(df, outcome="y", treatment="t", alternative="both")
    with pytest.raises(dc.SpecificationError, match=r"strata='s' is not a column"):
        randomization_test(df, outcome="y", treatment="t", strata="s")
    with pytest.raises(dc.DataError, match=r"treatment varies within a cluster"):
        randomization_test(df.assign(c=np.arange(20) // 5), outcome="y", treatment="t", cluster="c")
    with pytest.raises(dc.SpecificationError, match=r"code it 0/1"):
        randomization_test(df.assign(t=df.t.map({1: "a", 0: "b"})), outcome="y", treatment="t")
