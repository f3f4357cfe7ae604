"""Panel regression against linearmodels (PanelOLS, FirstDifferenceOLS, RandomEffects), live.

Coefficients agree to 1e-6 relative (1e-8 in practice). For standard errors the two libraries make
different small-sample choices (linearmodels: n / (n - K) with ``debiased``, G / (G - 1) with
``group_debias``; fixest, whom we follow: (n - 1) / (n - K) and G / (G - 1)). The clustered
comparisons therefore switch the corrections off on both sides (``ssc(adj=False, cluster_adj=False)``
here, ``debiased=False`` and no effect counting there), which compares the sandwich itself; the
homoskedastic within comparison keeps linearmodels' debiased variance, which equals ours.
"""

import warnings

import linearmodels as lm
import numpy as np
import pytest

import deconfound as dc

REL = 1e-6
RAW = dc.ssc(adj=False, cluster_adj=False)


@pytest.fixture(scope="module")
def panel():
    rng = np.random.default_rng(99)
    df = dc.datasets.simulate_panel(n_units=250, n_periods=8, random_state=5)
    df["dose"] = df["treated"] * rng.uniform(0.5, 2.0, len(df)) + 0.3 * rng.normal(size=len(df))
    df["z"] = rng.normal(size=len(df)) + 0.2 * df["unit"] / 250
    df["y"] = df["y"] + 0.8 * df["dose"] - 0.5 * df["z"]
    df["w"] = rng.uniform(0.5, 2.0, len(df))
    df = df.drop(df.sample(frac=0.08, random_state=2).index).reset_index(drop=True)  # unbalanced, with gaps
    return df


def _indexed(df):
    return df.set_index(["unit", "time"])


def _lm_fit(model, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(**kw)


def _ours(df, **kw):
    return dc.panel_regression(df, outcome="y", treatment="dose", covariates=["z"], unit="unit", time="time", **kw)


@pytest.mark.parametrize("time_effects", [False, True])
@pytest.mark.parametrize("weights", [None, "w"])
def test_within_matches_panelols(panel, time_effects, weights):
    d = _indexed(panel)
    mod = lm.PanelOLS(
        d["y"],
        d[["dose", "z"]],
        entity_effects=True,
        time_effects=time_effects,
        weights=None if weights is None else d["w"],
    )
    ref = _lm_fit(mod, cov_type="clustered", cluster_entity=True, debiased=False, auto_df=False, count_effects=False)
    r = _ours(panel, time_effects=time_effects, weights=weights, ssc=RAW)
    np.testing.assert_allclose(r.coefficients.coef, ref.params.to_numpy(), rtol=REL)
    np.testing.assert_allclose(r.coefficients.std_err, ref.std_errors.to_numpy(), rtol=REL)


def test_within_homoskedastic_matches_debiased_panelols(panel):
    d = _indexed(panel)
    ref = _lm_fit(lm.PanelOLS(d["y"], d[["dose", "z"]], entity_effects=True), cov_type="unadjusted", debiased=True)
    r = _ours(panel, cov_type="nonrobust")
    np.testing.assert_allclose(r.coefficients.std_err, ref.std_errors.to_numpy(), rtol=REL)


def test_first_difference_matches_linearmodels(panel):
    d = _indexed(panel)
    ref = _lm_fit(
        lm.FirstDifferenceOLS(d["y"], d[["dose", "z"]]), cov_type="clustered", cluster_entity=True, debiased=False
    )
    r = _ours(panel, model="first-difference", ssc=RAW)
    assert r.n == ref.nobs
    np.testing.assert_allclose(r.coefficients.coef, ref.params.to_numpy(), rtol=REL)
    np.testing.assert_allclose(r.coefficients.std_err, ref.std_errors.to_numpy(), rtol=REL)


@pytest.mark.parametrize("balanced", [True, False])
def test_random_effects_matches_linearmodels(panel, balanced):
    df = dc.datasets.simulate_panel(n_units=200, n_periods=6, cohorts=(3, 5), random_state=8) if balanced else panel
    if balanced:
        df = df.assign(
            dose=df["treated"] * 1.0 + np.random.default_rng(1).normal(size=len(df)),
            z=np.random.default_rng(2).normal(size=len(df)),
        )
    d = _indexed(df)
    exog = d[["dose", "z"]].assign(const=1.0)[["const", "dose", "z"]]
    ref = _lm_fit(lm.RandomEffects(d["y"], exog), cov_type="clustered", cluster_entity=True, debiased=False)
    r = _ours(df, model="random-effects", ssc=RAW)
    np.testing.assert_allclose(r.coefficients.coef, ref.params.to_numpy(), rtol=REL)
    np.testing.assert_allclose(r.coefficients.std_err, ref.std_errors.to_numpy(), rtol=REL)
    decomposition = ref.variance_decomposition
    assert r.diagnostics["sigma2_e"] == pytest.approx(decomposition["Residual"], rel=REL)
    assert r.diagnostics["sigma2_u"] == pytest.approx(decomposition["Effects"], rel=REL)


def _time_dummies(d):
    periods = sorted(d.index.get_level_values(1).unique())
    level = d.index.get_level_values(1)
    return d.assign(**{f"t{p}": (level == p).astype(float) for p in periods[1:]}), [f"t{p}" for p in periods[1:]]


def test_first_difference_with_period_effects_matches_linearmodels(panel):
    d, dummies = _time_dummies(_indexed(panel))
    mod = lm.FirstDifferenceOLS(d["y"], d[["dose", "z", *dummies]])
    ref = _lm_fit(mod, cov_type="clustered", cluster_entity=True, debiased=False)
    r = _ours(panel, model="first-difference", time_effects=True, ssc=RAW)
    assert r.n == ref.nobs and r.diagnostics["period_effects"] == "time"
    np.testing.assert_allclose(r.coefficients.coef, ref.params.to_numpy(), rtol=REL)
    np.testing.assert_allclose(r.coefficients.std_err, ref.std_errors.to_numpy(), rtol=REL)


def test_random_effects_with_period_effects_matches_linearmodels(panel):
    d, dummies = _time_dummies(_indexed(panel))
    exog = d[["dose", "z", *dummies]].assign(const=1.0)[["const", "dose", "z", *dummies]]
    ref = _lm_fit(lm.RandomEffects(d["y"], exog), cov_type="clustered", cluster_entity=True, debiased=False)
    r = _ours(panel, model="random-effects", time_effects=True, ssc=RAW)
    np.testing.assert_allclose(r.coefficients.coef, ref.params.to_numpy(), rtol=REL)
    np.testing.assert_allclose(r.coefficients.std_err, ref.std_errors.to_numpy(), rtol=REL)


def test_mundlak_test_matches_a_by_hand_random_effects_regression(panel):
    """The test is random effects with the unit means added (Wooldridge 2010, 10.7.3), fitted here by
    linearmodels; the Wald statistic of the means uses the same clustered covariance."""
    d, dummies = _time_dummies(_indexed(panel))
    means = d[["dose", "z"]].groupby(level=0).transform("mean").add_prefix("mean_")
    exog = d[["dose", "z", *dummies]].join(means).assign(const=1.0)
    exog = exog[["const", "dose", "z", *dummies, "mean_dose", "mean_z"]]
    ref = _lm_fit(lm.RandomEffects(d["y"], exog), cov_type="clustered", cluster_entity=True, debiased=False)
    b = ref.params[["mean_dose", "mean_z"]].to_numpy()
    v = ref.cov.loc[["mean_dose", "mean_z"], ["mean_dose", "mean_z"]].to_numpy()
    test = _ours(panel, model="random-effects", time_effects=True, ssc=RAW).diagnostics["mundlak_test"]
    assert test["df"] == 2 and test["statistic"] == pytest.approx(float(b @ np.linalg.solve(v, b)), rel=1e-5)
