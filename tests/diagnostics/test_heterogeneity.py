"""Heterogeneity diagnostics: BLP, GATES, CLAN, subgroups, policy value against statsmodels/scipy, and the
BLP test's power and size by simulation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from deconfound.diagnostics.heterogeneity import (
    blp_test,
    clan,
    gates,
    group_labels,
    heterogeneity,
    policy_value,
    subgroup_effects,
)
from deconfound.errors import DataError
from deconfound.estimators.metalearners import DRLearner


def _inputs(seed=0, n=500):
    rng = np.random.default_rng(seed)
    proxy = rng.normal(size=n)
    s1 = 1 + 0.5 * proxy + rng.normal(size=n)
    s0 = rng.normal(size=n)
    return proxy, s1, s0


def test_blp_equals_statsmodels_ols_with_hc1():
    import statsmodels.api as sm

    proxy, s1, s0 = _inputs()
    result = blp_test(proxy, s1 - s0)
    fit = sm.OLS(s1 - s0, sm.add_constant(proxy - proxy.mean())).fit(cov_type="HC1")
    assert result.details["ate"] == pytest.approx(fit.params[0], rel=1e-10)
    assert result.details["loading"] == pytest.approx(fit.params[1], rel=1e-10)
    assert result.details["ate_std_error"] == pytest.approx(fit.bse[0], rel=1e-10)
    assert result.details["loading_std_error"] == pytest.approx(fit.bse[1], rel=1e-10)
    assert result.statistic == pytest.approx(fit.tvalues[1], rel=1e-10)


def test_gates_are_group_means_of_the_scores():
    proxy, s1, s0 = _inputs(1)
    table = gates(proxy, s1 - s0, groups=4)
    order = np.argsort(proxy)
    for g, rows in enumerate(np.array_split(order, 4), start=1):
        phi = (s1 - s0)[rows]
        assert table.loc[str(g), "estimate"] == pytest.approx(phi.mean(), rel=1e-12)
        assert table.loc[str(g), "std_error"] == pytest.approx(phi.std(ddof=1) / np.sqrt(len(rows)), rel=1e-12)
    top_minus_bottom = table.loc["4", "estimate"] - table.loc["1", "estimate"]
    assert table.loc["most - least", "estimate"] == pytest.approx(top_minus_bottom)


def test_clan_is_welchs_test():
    from scipy import stats

    proxy, _, _ = _inputs(2)
    covs = pd.DataFrame({"a": proxy + np.random.default_rng(3).normal(size=len(proxy)), "b": np.arange(len(proxy))})
    table = clan(proxy, covs, groups=5)
    labels = group_labels(proxy, 5)
    a_top, a_bottom = covs["a"][labels == 5], covs["a"][labels == 1]
    welch = stats.ttest_ind(a_top, a_bottom, equal_var=False)
    diff = table.loc["a", "difference"]
    assert diff == pytest.approx(a_top.mean() - a_bottom.mean())
    assert diff / table.loc["a", "std_error"] == pytest.approx(welch.statistic, rel=1e-10)


def test_subgroups_and_policy_value():
    proxy, s1, s0 = _inputs(4)
    labels = np.where(proxy > 0.5, "high", "low")
    table = subgroup_effects(s1 - s0, labels, name="tier")
    assert table.loc["high", "estimate"] == pytest.approx((s1 - s0)[labels == "high"].mean())
    policy = policy_value(proxy, s1, s0)
    treat = proxy > 0
    assert policy.loc["treat where CATE > 0", "value"] == pytest.approx(np.where(treat, s1, s0).mean())
    assert policy.loc["treat all", "value"] == pytest.approx(s1.mean())
    assert policy.loc["gain over treating none", "value"] == pytest.approx(np.where(treat, s1 - s0, 0).mean())
    assert policy.loc["treat where CATE > 0", "share_treated"] == pytest.approx(treat.mean())


def test_constant_proxy_and_bad_input():
    _, s1, s0 = _inputs(5)
    result = heterogeneity(np.ones(len(s1)), s1, s0)
    assert not result.blp.applicable and result.gates is None
    assert "same for every row" in result.verdict
    with pytest.raises(DataError, match="missing or infinite"):
        blp_test(np.r_[np.nan, np.ones(9)], np.ones(10))
    with pytest.raises(DataError, match="groups=5 needs at least 10 rows"):
        group_labels(np.arange(8.0), 5)


def _data(seed, n, varies):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    t = rng.binomial(1, 1 / (1 + np.exp(-0.5 * x[:, 0])))
    tau = 1 + (x[:, 1] if varies else 0)
    y = x @ [1.0, 0.5, -0.5] + t * tau + rng.normal(size=n)
    return x, y, t


def test_blp_with_folds_combines_per_fold_tests():
    proxy, s1, s0 = _inputs(6, n=600)
    folds = np.arange(600) % 3
    result = blp_test(proxy, s1 - s0, folds=folds)
    singles = [blp_test(proxy[folds == k], (s1 - s0)[folds == k]).p_value for k in range(3)]
    np.testing.assert_allclose(result.details["fold_p_values"], singles, rtol=1e-12)
    assert result.p_value == pytest.approx(min(1.0, 3 * min(singles)))


def test_blp_rejects_when_the_effect_varies():
    x, y, t = _data(0, 1000, varies=True)
    het = DRLearner(random_state=0).fit(x, y, t).heterogeneity()
    assert het.varies and het.blp.p_value < 1e-6
    assert het.blp.details["loading"] == pytest.approx(1.0, abs=0.25)  # a calibrated linear CATE
    assert het.verdict.startswith("The effect varies:")


@pytest.mark.slow
def test_blp_keeps_its_size_without_heterogeneity():
    """Constant effect: the BLP test at 5% rejects in about 5% of 300 draws (binomial 99% band: 1.6-8.7%).
    (Pooling the folds into one t test rejected 12-14%: hence the per-fold tests with Bonferroni.)"""
    reps = 300
    rejections = 0
    for seed in range(reps):
        x, y, t = _data(1000 + seed, 600, varies=False)
        het = DRLearner(folds=5, random_state=seed).fit(x, y, t).heterogeneity()
        rejections += het.blp.p_value < 0.05
        if seed == 0:
            assert het.verdict.startswith("No evidence the effect varies") or het.blp.p_value < 0.05
    assert 0.016 <= rejections / reps <= 0.087, rejections
