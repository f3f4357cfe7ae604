"""Collinearity: exact dependence is refused with the columns named; near dependence warns in plain words;
VIF and condition number agree with statsmodels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.stats.outliers_influence import variance_inflation_factor

import deconfound as dc
from _helpers import assert_close

# Few clusters draw a warning (tests/estimators/test_few_clusters.py checks it); here only the numbers matter.
pytestmark = pytest.mark.filterwarnings(r"ignore:Only \d+ clusters:deconfound.errors.DiagnosticWarning")


@pytest.fixture
def df():
    rng = np.random.default_rng(41)
    n = 300
    x = rng.normal(size=n)
    z = rng.normal(size=n)
    t = rng.binomial(1, 1 / (1 + np.exp(-x)), n)
    y = 1 + 2 * t + x - z + rng.normal(size=n)
    return pd.DataFrame({"y": y, "t": t, "x": x, "z": z, "s": rng.choice(["a", "b", "c"], n)})


@pytest.mark.parametrize("treatment", ["Drug:Post", None])
def test_article_panel_trap_names_quality_of_care(treatment):
    """Quality_of_Care improves only for the treated after treatment: it is 5*Post + 3*Drug:Post exactly."""
    panel = dc.datasets.heart_attack_panel()
    with pytest.raises(dc.CollinearityError, match=r"'Quality_of_Care' = 3\*Drug:Post \+ 5\*Post\. Remove") as info:
        dc.ols(panel, "Severity ~ Drug * Post + Quality_of_Care", treatment=treatment)
    assert info.value.dependent == ("Quality_of_Care",)
    assert "cannot be told apart" in str(info.value)


def test_linear_combination_with_the_constant(df):
    df["x2"] = 2 * df["x"] + 1
    with pytest.raises(dc.CollinearityError, match=r"'x2' = 1\*const \+ 2\*x\.") as info:
        dc.ols(df, outcome="y", treatment="t", covariates=["x", "x2"])
    assert info.value.dependent == ("x2",)


def test_copy_of_the_treatment_blames_the_covariate(df):
    df["dose_given"] = df["t"]
    with pytest.raises(dc.CollinearityError, match=r"'dose_given' = 1\*t\.") as info:
        dc.ols(df, outcome="y", treatment="t", covariates=["dose_given", "x"])
    assert info.value.dependent == ("dose_given",)


def test_constant_and_zero_covariates(df):
    df["three"] = 3.0
    df["zero"] = 0.0
    with pytest.raises(dc.CollinearityError, match=r"'three' = 3\*const; 'zero' is zero in every row"):
        dc.ols(df, outcome="y", treatment="t", covariates=["x", "three", "zero"])
    with pytest.raises(dc.CollinearityError, match=r"'three \(centered\)' is zero in every row"):
        dc.lin(df, outcome="y", treatment="t", covariates=["x", "three"])


def test_duplicated_categorical_information(df):
    df["s2"] = df["s"].map({"a": "x", "b": "y", "c": "z"})
    with pytest.raises(dc.CollinearityError, match=r"'s2\[y\]' = 1\*s\[b\]; 's2\[z\]' = 1\*s\[c\]"):
        dc.ols(df, outcome="y", treatment="t", covariates=["s", "s2"])


def test_large_mean_covariate_is_not_mistaken_for_the_constant(df):
    """A covariate with mean 1e6 and sd 1 has 1 - R^2 = 1e-12 against the constant in raw terms."""
    df["calendar"] = 1e6 + df["z"]
    r = dc.ols(df, outcome="y", treatment="t", covariates=["x", "calendar"])
    ref = dc.ols(df, outcome="y", treatment="t", covariates=["x", "z"])
    assert r.estimate == pytest.approx(ref.estimate, rel=1e-8)
    assert r.std_error == pytest.approx(ref.std_error, rel=1e-8)


def test_near_copy_of_the_treatment_warns_in_plain_words(df):
    rng = np.random.default_rng(42)
    df["got_drug"] = df["t"] + rng.normal(scale=0.05, size=len(df))
    with pytest.warns(
        dc.DiagnosticWarning,
        match=r"Covariate 'got_drug' is almost a copy of the treatment 't' \(correlation 0\.99\d\), so the model "
        r"cannot tell whose effect is whose",
    ):
        r = dc.ols(df, outcome="y", treatment="t", covariates=["x", "got_drug"])
    assert len(r.warnings) == 1 and "almost a copy" in r.warnings[0]


def test_near_trap_in_the_panel_warns_about_the_treatment():
    panel = dc.datasets.heart_attack_panel(quality_noise=0.01)
    trap = r"treatment 'Drug:Post' is almost a linear combination|moves almost in step with the treatment"
    with pytest.warns(dc.DiagnosticWarning, match=trap) as record:
        r = dc.ols(panel, "Severity ~ Drug * Post + Quality_of_Care", treatment="Drug:Post")
    messages = [str(w.message) for w in record]
    assert messages == list(r.warnings)
    assert any("treatment 'Drug:Post' is almost a linear combination of the covariates" in m for m in messages)
    quality = [m for m in messages if "'Quality_of_Care' moves almost in step with the treatment" in m]
    assert quality and "bad control" in quality[0]


def test_interactions_with_the_treatment_do_not_warn(df):
    """t:x is related to t by construction; no 'copy of the treatment' warning for the user's own model."""
    r = dc.ols(df.assign(x=df["x"] + 3), "y ~ t * x", treatment="t")
    assert r.warnings == ()


@pytest.mark.parametrize("covariates", [["x", "z"], ["x", "z", "s"], ["x", "x_near", "z"]])
def test_vif_matches_statsmodels(df, covariates):
    rng = np.random.default_rng(43)
    df["x_near"] = df["x"] + rng.normal(scale=0.5, size=len(df))  # VIF about 5: no warning
    r = dc.ols(df, outcome="y", treatment="t", covariates=covariates)
    exog = pd.get_dummies(df[["t", *covariates]], drop_first=True, dtype=float)
    exog = sm.add_constant(exog)
    ours = r.diagnostics["vif"]["vif"]
    assert len(ours) == exog.shape[1] - 1
    theirs = [variance_inflation_factor(exog.to_numpy(), i) for i in range(1, exog.shape[1])]
    assert_close(ours.to_numpy(), theirs, rtol=1e-8)


def test_condition_number_matches_statsmodels(df):
    r = dc.ols(df, outcome="y", treatment="t", covariates=["x", "z", "s"])
    exog = sm.add_constant(pd.get_dummies(df[["t", "x", "z", "s"]], drop_first=True, dtype=float))
    ref = sm.OLS(df["y"], exog).fit()
    assert_close(r.diagnostics["condition_number"], ref.condition_number, rtol=1e-8)
    assert_close(r.coefficients.stats["cond_no"], ref.condition_number, rtol=1e-8)
    art = dc.ols(dc.datasets.heart_attack(), outcome="Severity", treatment="Drug", covariates=["I.H"])
    assert round(art.diagnostics["condition_number"]) == 195  # the article's "Cond. No. 195."


def test_fewer_clusters_than_restrictions_gives_no_robust_f(df):
    """With 3 clusters the CR1 covariance has rank 2 and cannot support a joint test of 5 coefficients:
    statsmodels warns and inverts it anyway; we report NaN."""
    df["g"] = np.arange(len(df)) % 3
    r = dc.ols(df, outcome="y", treatment="t", covariates=["x", "z", "s"], cluster="g")
    assert np.isnan(r.coefficients.stats["f_statistic"])
    assert np.isfinite(r.std_error)
