"""Regression adjustment against statsmodels (and pyfixest / numpy for weighted clustering), live.

Conventions (documented in docs/inference.md):
- Robust and cluster inference use Student t with df_resid (cluster: G - 1 where G is the smaller
  number of clusters), which is statsmodels' ``use_t=True``; statsmodels defaults to the normal there.
- The overall F for robust covariances is statsmodels' Wald form: b' V^-1 b / q with F(q, df) p-value.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import deconfound as dc
from _helpers import DATASETS, assert_close

# Few clusters draw a warning (tests/estimators/test_few_clusters.py checks it); here only the numbers matter.
pytestmark = pytest.mark.filterwarnings(r"ignore:Only \d+ clusters:deconfound.errors.DiagnosticWarning")


COV_TYPES = ["nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster1", "cluster2"]


def _ours(df, covs, cov_type, weighted):
    cluster = {"cluster1": ["g1"], "cluster2": ["g1", "g2"]}.get(cov_type)
    return dc.ols(
        df,
        outcome="y",
        treatment="t",
        covariates=covs,
        weights="w" if weighted else None,
        cov_type="cluster" if cluster else cov_type,
        cluster=cluster,
    )


def _statsmodels(df, covs, cov_type, weighted):
    exog = sm.add_constant(df[["t", *covs]].astype(float), prepend=True)
    model = sm.WLS(df["y"], exog, weights=df["w"]) if weighted else sm.OLS(df["y"], exog)
    if cov_type == "nonrobust":
        return model.fit()
    if cov_type.startswith("cluster"):
        groups = df["g1"].to_numpy() if cov_type == "cluster1" else df[["g1", "g2"]].to_numpy()
        return model.fit(cov_type="cluster", cov_kwds={"groups": groups}, use_t=True)
    return model.fit(cov_type=cov_type, use_t=True)


def _compare(r, ref, rtol=1e-8):
    c = r.coefficients
    assert list(c.names) == list(ref.params.index)
    assert_close(c.coef, ref.params, rtol, "coef")
    assert_close(c.std_err, ref.bse, rtol, "std err")
    assert_close(c.tvalues, ref.tvalues, rtol, "t")
    assert_close(c.pvalues, ref.pvalues, rtol, "p")
    for level in (0.95, 0.9):
        assert_close(c.conf_int(level), ref.conf_int(alpha=1 - level), rtol, f"CI {level}")
    s = c.stats
    assert_close(s["r_squared"], ref.rsquared, rtol, "R2")
    assert_close(s["adj_r_squared"], ref.rsquared_adj, rtol, "adj R2")
    assert_close(s["f_statistic"], ref.fvalue, rtol, "F")
    assert_close(s["f_pvalue"], ref.f_pvalue, rtol, "F p")
    assert_close(s["log_likelihood"], ref.llf, rtol, "llf")
    assert_close(s["aic"], ref.aic, rtol, "aic")
    assert_close(s["bic"], ref.bic, rtol, "bic")
    assert_close(s["cond_no"], ref.condition_number, 1e-6, "condition number")
    assert s["df_resid"] == ref.df_resid
    j = c.index("t")
    assert r.estimate == c.coef[j]
    assert_close(r.std_error, ref.bse["t"], rtol)
    assert_close(r.p_value, ref.pvalues["t"], rtol)
    assert_close([r.ci_low, r.ci_high], ref.conf_int().loc["t"], rtol)


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_ols_matches_statsmodels(dataset, cov_type):
    make, covs = DATASETS[dataset]
    df = make()
    r = _ours(df, covs, cov_type, weighted=False)
    ref = _statsmodels(df, covs, cov_type, weighted=False)
    _compare(r, ref)
    if cov_type.startswith("cluster"):
        assert r.df == ref.df_resid_inference
        assert r.coefficients.stats["n_clusters"] == (
            [df["g1"].nunique()] if cov_type == "cluster1" else [df["g1"].nunique(), df["g2"].nunique()]
        )


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0", "HC1", "HC2", "HC3"])
@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_wls_with_wild_weights_matches_statsmodels(dataset, cov_type):
    """Weights from 1e-6 to 1e6: coefficients, every HC covariance, R2, F, llf to 1e-8."""
    make, covs = DATASETS[dataset]
    df = make()
    assert df["w"].max() / df["w"].min() > 1e9
    r = _ours(df, covs, cov_type, weighted=True)
    _compare(r, _statsmodels(df, covs, cov_type, weighted=True))


def _numpy_cluster_cov(x, y, w, groups):
    """Weighted CR1 by hand: B (sum_g s_g s_g') B * G/(G-1) * (n-1)/(n-k), s_g = sum_g w e x."""
    n, k = x.shape
    bread = np.linalg.inv(x.T @ (w[:, None] * x))
    beta = bread @ (x.T @ (w * y))
    score = x * (w * (y - x @ beta))[:, None]
    _, codes = np.unique(groups, return_inverse=True)
    sums = np.zeros((codes.max() + 1, k))
    np.add.at(sums, codes, score)
    g = sums.shape[0]
    return bread @ sums.T @ sums @ bread * g / (g - 1) * (n - 1) / (n - k)


@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_weighted_cluster_matches_numpy_and_pyfixest(dataset):
    import pyfixest as pf  # a test dependency: missing, the test fails instead of skipping

    make, covs = DATASETS[dataset]
    df = make()
    x = np.column_stack([np.ones(len(df)), df[["t", *covs]].to_numpy(float)])
    y, w = df["y"].to_numpy(), df["w"].to_numpy()
    g1, g2 = df["g1"].to_numpy(), df["g2"].to_numpy()
    one = _ours(df, covs, "cluster1", weighted=True)
    two = _ours(df, covs, "cluster2", weighted=True)
    v1 = _numpy_cluster_cov(x, y, w, g1)
    v2 = v1 + _numpy_cluster_cov(x, y, w, g2) - _numpy_cluster_cov(x, y, w, g1 * 1000 + g2)
    assert_close(one.coefficients.cov, v1, what="one-way weighted CR1 vs numpy")
    assert_close(two.coefficients.cov, v2, what="two-way weighted CR1 vs numpy")
    formula = "y ~ t + " + " + ".join(covs)
    # (n-1)/(n-k), and G/(G-1) with each two-way term's own G; pyfixest renamed these options after 0.30
    if "G_df" in inspect.signature(pf.ssc).parameters:
        ssc = pf.ssc(k_adj=True, k_fixef="none", G_adj=True, G_df="conventional")
    else:  # pragma: no cover - older pyfixest
        ssc = pf.ssc(adj=True, fixef_k="none", cluster_adj=True, cluster_df="conventional")
    for ours, cl in ((one, "g1"), (two, "g1+g2")):
        with warnings.catch_warnings():  # pyfixest 0.60 uses a pandas keyword that pandas 3.1 deprecates
            warnings.filterwarnings("ignore", message="The inplace keyword")
            fx = pf.feols(formula, df, weights="w", vcov={"CRV1": cl}, ssc=ssc)
        names = ["Intercept", "t", *covs]
        assert_close(ours.coefficients.coef, fx.coef()[names].to_numpy(), what=f"coef {cl}")
        assert_close(ours.coefficients.std_err, fx.se()[names].to_numpy(), what=f"se {cl}")
        assert_close(ours.coefficients.tvalues, fx.tstat()[names].to_numpy(), what=f"t {cl}")
        assert ours.df == min(df[c].nunique() for c in cl.split("+")) - 1


# --------------------------------------------------------------------------------------------------
# formulas: categoricals, Q(), backticks, interactions, transformations
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mixed():
    rng = np.random.default_rng(11)
    n = 500
    x = rng.uniform(1, 3, n)
    s = rng.choice(["north", "south", "east", "west"], n)
    g = rng.integers(0, 3, n)
    t = rng.binomial(1, 0.4 + 0.1 * (s == "north"), n)
    y = 1 + 2 * t + x + (s == "south") * 1.5 - g + t * x * 0.5 + rng.normal(size=n) * (1 + x)
    cl = rng.integers(0, 30, n)
    return pd.DataFrame({"y": y, "t": t, "x": x, "s": s, "g": g, "I.H": rng.normal(50, 15, n), "cl": cl})


FORMULAS = [
    ("y ~ t + x + C(s)", None),
    ("y ~ t + x + s", None),
    ("y ~ t + np.log(x) + C(g)", None),
    ("y ~ t + x + I(x ** 2) + C(s)", None),
    ("y ~ t + Q('I.H') + C(s)", None),
    ("y ~ t + `I.H` + x:C(s)", "y ~ t + Q('I.H') + x:C(s)"),
    ("y ~ C(s) + t + x + t:x", None),
]


@pytest.mark.filterwarnings("ignore::deconfound.DiagnosticWarning")  # x and x**2 are correlated by design
@pytest.mark.parametrize("cov_type", ["nonrobust", "HC1", "HC3"])
@pytest.mark.parametrize("formula,sm_formula", FORMULAS)
def test_formulas_match_statsmodels_formula(mixed, formula, sm_formula, cov_type):
    import statsmodels.formula.api as smf

    r = dc.ols(mixed, formula, treatment="t", cov_type=cov_type)
    model = smf.ols(sm_formula or formula, mixed)
    ref = model.fit() if cov_type == "nonrobust" else model.fit(cov_type=cov_type, use_t=True)
    ours = r.coefficients.to_frame().rename(index=lambda s: s.replace("I(x ** 2)", "I(x**2)"))
    theirs = ref.params.rename(index=lambda s: s.replace("Q('I.H')", "I.H").replace("I(x ** 2)", "I(x**2)"))
    assert sorted(ours.index) == sorted(theirs.index)
    order = list(theirs.index)
    assert_close(ours.loc[order, "coef"], theirs[order], what="coef")
    bse = ref.bse.rename(index=dict(zip(ref.params.index, theirs.index)))
    assert_close(ours.loc[order, "std err"], bse[order], what="se")
    assert_close(r.coefficients.stats["r_squared"], ref.rsquared)
    assert_close(r.coefficients.stats["f_statistic"], ref.fvalue)
    assert_close(r.coefficients.stats["f_pvalue"], ref.f_pvalue)


def test_formula_cluster_matches_statsmodels(mixed):
    import statsmodels.formula.api as smf

    r = dc.ols(mixed, "y ~ t + x + C(s)", treatment="t", cluster="cl")
    ref = smf.ols("y ~ t + x + C(s)", mixed).fit(cov_type="cluster", cov_kwds={"groups": mixed["cl"]}, use_t=True)
    assert_close(r.coefficients.coef, ref.params[list(r.coefficients.names)])
    assert_close(r.coefficients.std_err, ref.bse[list(r.coefficients.names)])
    assert_close(r.coefficients.stats["f_statistic"], ref.fvalue)
    assert r.df == ref.df_resid_inference == mixed["cl"].nunique() - 1


def test_categorical_covariate_columns_equal_formula_c(mixed):
    """A string column given in covariates= is one-hot encoded like C() with the first level as reference."""
    import statsmodels.formula.api as smf

    r = dc.ols(mixed, outcome="y", treatment="t", covariates=["x", "s"], cov_type="HC2")
    ref = smf.ols("y ~ t + x + C(s)", mixed).fit(cov_type="HC2", use_t=True)
    assert_close(r.estimate, ref.params["t"])
    assert_close(r.std_error, ref.bse["t"])
    assert r.coefficients.names[-3:] == ("s[north]", "s[south]", "s[west]")
    assert_close(r.coefficients.coef[-3:], ref.params[["C(s)[T.north]", "C(s)[T.south]", "C(s)[T.west]"]])
    assert any("'east' is the reference" in note for note in r.notes)


def test_implicit_constant_matches_statsmodels(mixed):
    """No intercept but a full set of dummies: R2 and F are centered, as statsmodels does; robust F is NaN."""
    import statsmodels.formula.api as smf

    r = dc.ols(mixed, "y ~ 0 + C(s) + t + x", treatment="t")
    ref = smf.ols("y ~ 0 + C(s) + t + x", mixed).fit()
    assert_close(r.coefficients.stats["r_squared"], ref.rsquared)
    assert_close(r.coefficients.stats["f_statistic"], ref.fvalue)
    assert_close(r.std_error, ref.bse["t"])
    robust = dc.ols(mixed, "y ~ 0 + C(s) + t + x", treatment="t", cov_type="HC1")
    assert np.isnan(robust.coefficients.stats["f_statistic"])
    assert np.isnan(smf.ols("y ~ 0 + C(s) + t + x", mixed).fit(cov_type="HC1").fvalue)


# --------------------------------------------------------------------------------------------------
# numerically hard cases
# --------------------------------------------------------------------------------------------------


def test_large_means_keep_full_precision():
    """Outcome and a covariate far from zero (mean 1e6, sd 1): raw X'X would lose about 12 digits.

    Reference: statsmodels on the same data shifted to mean zero (the slopes, their standard errors,
    R2 and F are invariant to the shift), which is well conditioned.
    """
    rng = np.random.default_rng(12)
    n = 2000
    x = rng.normal(size=n)
    t = rng.binomial(1, 0.5, n)
    y = x + t + rng.normal(size=n)
    df = pd.DataFrame({"y": y + 1e6, "t": t, "x": x + 1e6})
    r = dc.ols(df, outcome="y", treatment="t", covariates=["x"], cov_type="HC3")
    ref = sm.OLS(y, sm.add_constant(np.column_stack([t, x]))).fit(cov_type="HC3", use_t=True)
    assert_close(r.coefficients.coef[1:], ref.params[1:], rtol=1e-7)
    assert_close(r.coefficients.std_err[1:], ref.bse[1:], rtol=1e-7)
    assert_close(r.coefficients.stats["r_squared"], ref.rsquared, rtol=1e-8)
    assert_close(r.coefficients.stats["f_statistic"], ref.fvalue, rtol=1e-7)
    # the intercept moves with the shift: 1e6 - 1e6 * b_x, known to about 1e-16 * 1e6 * cond
    assert r.coefficients.coef[0] == pytest.approx(1e6 - 1e6 * r.coefficients.coef[2] + ref.params[0], abs=1e-4)


@pytest.mark.parametrize("noise", [1e-2, 1e-3, 1e-4])
def test_nearly_collinear_columns(noise):
    """x2 = x1 + tiny noise. Both normal-equation solvers lose digits in proportion to the square of the
    condition number kappa of the standardized design; the tolerance is 1e3 * eps * kappa^2 (and at
    least 1e-8), which is what the error analysis of Cholesky on X'X guarantees (Higham, ch. 20)."""
    rng = np.random.default_rng(13)
    n = 1000
    x1 = rng.normal(size=n)
    x2 = x1 + noise * rng.normal(size=n)
    t = rng.binomial(1, 0.5, n)
    y = 1 + t + x1 + x2 + rng.normal(size=n)
    df = pd.DataFrame({"y": y, "t": t, "x1": x1, "x2": x2})
    with pytest.warns(dc.DiagnosticWarning, match="'x1' is nearly collinear with 'x2' \\(VIF"):
        r = dc.ols(df, outcome="y", treatment="t", covariates=["x1", "x2"], cov_type="HC1")
    exog = sm.add_constant(df[["t", "x1", "x2"]])
    ref = sm.OLS(df["y"], exog).fit(cov_type="HC1", use_t=True)
    z = (exog.iloc[:, 1:] - exog.iloc[:, 1:].mean()) / exog.iloc[:, 1:].std()
    kappa = np.linalg.cond(z.to_numpy())
    rtol = max(1e-8, 1e3 * np.finfo(float).eps * kappa**2)
    assert rtol < 1e-3
    assert_close(r.coefficients.coef, ref.params, rtol, "coef")
    assert_close(r.coefficients.std_err, ref.bse, rtol, "se")
    assert_close(r.coefficients.stats["r_squared"], ref.rsquared, 1e-8)
    assert_close(r.coefficients.stats["cond_no"], ref.condition_number, 1e-6)


def test_continuous_treatment_is_a_dose():
    rng = np.random.default_rng(14)
    n = 300
    x = rng.normal(size=n)
    dose = rng.gamma(2.0, 1.0, n) + x
    y = 0.7 * dose + x + rng.normal(size=n)
    df = pd.DataFrame({"y": y, "dose": dose, "x": x})
    r = dc.ols(df, outcome="y", treatment="dose", covariates=["x"], cov_type="HC1")
    ref = sm.OLS(y, sm.add_constant(np.column_stack([dose, x]))).fit(cov_type="HC1", use_t=True)
    assert_close(r.estimate, ref.params[1])
    assert_close(r.std_error, ref.bse[1])
    assert r.estimand == "ATE (per unit)"
    assert r.n_treated is None and r.n_control is None
    assert any("one more unit" in note for note in r.notes)


# --------------------------------------------------------------------------------------------------
# Lin's interacted estimator
# --------------------------------------------------------------------------------------------------


def _lin_design(df, covs, weights=None):
    x = df[covs].to_numpy(float)
    t = df["t"].to_numpy(float)
    xc = x - np.average(x, axis=0, weights=weights)
    return np.column_stack([np.ones(len(df)), t, xc, t[:, None] * xc])


@pytest.mark.parametrize("dataset", sorted(DATASETS))
@pytest.mark.parametrize("cov_type", ["HC2", "HC1", "nonrobust"])
def test_lin_matches_statsmodels_interacted_design(dataset, cov_type):
    make, covs = DATASETS[dataset]
    df = make()
    r = dc.lin(df, outcome="y", treatment="t", covariates=covs, cov_type=cov_type)
    model = sm.OLS(df["y"].to_numpy(), _lin_design(df, covs))
    ref = model.fit() if cov_type == "nonrobust" else model.fit(cov_type=cov_type, use_t=True)
    assert_close(r.coefficients.coef, ref.params)
    assert_close(r.coefficients.std_err, ref.bse)
    assert_close(r.estimate, ref.params[1])
    assert_close(r.std_error, ref.bse[1])
    assert_close(r.p_value, ref.pvalues[1])
    assert r.method == "lin" and r.estimand == "ATE"


def test_lin_weighted_and_default_hc2():
    make, covs = DATASETS["observational"]
    df = make()
    w = df["w"].to_numpy()
    r = dc.lin(df, outcome="y", treatment="t", covariates=covs, weights="w")
    ref = sm.WLS(df["y"].to_numpy(), _lin_design(df, covs, w), weights=w).fit(cov_type="HC2", use_t=True)
    assert_close(r.estimate, ref.params[1])
    assert_close(r.std_error, ref.bse[1])
    assert r.coefficients.stats["cov_type"] == "HC2"


def test_lin_recovers_ate_under_heterogeneity():
    df = dc.datasets.simulate_heterogeneous(n=4000, heterogeneity=2.0, random_state=5)
    covs = ["x0", "x1", "x2"]
    r = dc.lin(df, outcome="outcome", treatment="treatment", covariates=covs)
    assert abs(r.estimate - df.attrs["sample_ate"]) < 3 * r.std_error
