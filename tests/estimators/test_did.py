"""2x2 difference-in-differences: the article's ice cream, the regression form, and the Quality_of_Care trap."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import deconfound as dc


@pytest.fixture
def panel():
    rng = np.random.default_rng(7)
    n = 400
    d = rng.binomial(1, 0.4, n)
    x = rng.normal(size=n)
    a = rng.normal(size=n) + d
    rows = []
    for post in (0, 1):
        y = 1 + a + 2 * post - 3 * d * post + 0.5 * x + rng.normal(size=n) * (1 + d)
        rows.append(pd.DataFrame({"id": np.arange(n), "D": d, "P": post, "x": x, "y": y, "w": rng.uniform(0.5, 2, n)}))
    return pd.concat(rows, ignore_index=True)


def test_ice_cream_from_means():
    with pytest.warns(dc.DiagnosticWarning, match="a table of four means has no standard error: pass unit-level rows"):
        r = dc.did(dc.datasets.ice_cream(), outcome="sales", treated="treated", post="post")
    assert r.estimate == 200.0
    assert r.diagnostics["treated_change"] == 300.0
    assert r.diagnostics["control_change"] == 100.0
    table = r.diagnostics["group_means"]
    assert table.loc["treated", "before"] == 200.0 and table.loc["control", "after"] == 400.0
    assert table.loc["difference", "change"] == 200.0
    assert np.isnan(r.std_error)
    assert any("table of four group means" in n for n in r.notes)
    assert r.to_dict()["std_error"] is None
    assert "Group means" in str(r.summary())
    assert "Warning: a table of four means has no standard error: pass unit-level rows" in str(r.summary())
    assert r.warnings == ("a table of four means has no standard error: pass unit-level rows",)


def test_means_equal_regression_and_statsmodels_cluster(panel):
    r = dc.did(panel, outcome="y", treated="D", post="P", unit="id")
    t = r.diagnostics["group_means"]
    assert r.estimate == pytest.approx(t.loc["difference", "change"], rel=1e-12)
    X = sm.add_constant(np.column_stack([panel.D, panel.P, panel.D * panel.P]))
    ref = sm.OLS(panel.y, X).fit(cov_type="cluster", cov_kwds={"groups": panel.id})
    assert r.estimate == pytest.approx(ref.params.iloc[3], rel=1e-10)
    assert r.std_error == pytest.approx(ref.bse.iloc[3], rel=1e-8)
    assert any("clustered by 'id'" in n for n in r.notes)


def test_covariates_weights_hc1_against_statsmodels(panel):
    r = dc.did(panel, outcome="y", treated="D", post="P", covariates=["x"], weights="w")
    X = sm.add_constant(np.column_stack([panel.D, panel.P, panel.D * panel.P, panel.x]))
    ref = sm.WLS(panel.y, X, weights=panel.w).fit(cov_type="HC1")
    assert r.estimate == pytest.approx(ref.params.iloc[3], rel=1e-10)
    assert r.std_error == pytest.approx(ref.bse.iloc[3], rel=1e-8)
    assert r.coefficients.names == ("const", "D", "P", "D:P", "x")


def test_article_trap_exact_collinearity_warns_and_shows_condition_number():
    df = dc.datasets.heart_attack_panel()
    with pytest.warns(dc.DiagnosticWarning, match="not separately identified from covariate 'Quality_of_Care'"):
        r = dc.did(df, outcome="Severity", treated="Drug", post="Post", covariates=["Quality_of_Care"], unit="patient")
    assert r.diagnostics["dropped_collinear"] == ["Quality_of_Care"]
    assert not np.isfinite(r.diagnostics["condition_number"]) or r.diagnostics["condition_number"] > 1e12
    assert "Cond no" in str(r.summary())
    plain = dc.did(df, outcome="Severity", treated="Drug", post="Post", unit="patient")
    assert r.estimate == pytest.approx(plain.estimate, rel=1e-10)


@pytest.mark.parametrize("noise", [0.05, 0.2])
def test_article_trap_near_collinearity_warns(noise):
    df = dc.datasets.heart_attack_panel(quality_noise=noise)
    with pytest.warns(dc.DiagnosticWarning, match="not separately identified from covariate 'Quality_of_Care'"):
        r = dc.did(df, outcome="Severity", treated="Drug", post="Post", covariates=["Quality_of_Care"], unit="patient")
    cond = r.coefficients.stats["cond_no"]
    assert cond == r.diagnostics["condition_number"] > 100
    assert f"{cond:.4f}" in str(r.summary())


def test_covariate_that_shifts_with_treatment_is_flagged():
    df = dc.datasets.heart_attack_panel(quality_noise=2.0)
    with pytest.warns(dc.DiagnosticWarning, match="'Quality_of_Care' changed differently for the treated"):
        r = dc.did(df, outcome="Severity", treated="Drug", post="Post", covariates=["Quality_of_Care"], unit="patient")
    assert r.diagnostics["covariate_shifts"].loc["Quality_of_Care", "did_shift"] == pytest.approx(3.0, abs=0.3)


def test_pre_treatment_covariate_is_not_flagged(panel):
    r = dc.did(panel, outcome="y", treated="D", post="P", covariates=["x"], unit="id")
    assert r.warnings == ()
    assert r.estimate == pytest.approx(-3.0, abs=0.5)


def test_post_with_no_treated_units_is_refused(panel):
    bad = panel[~((panel.D == 1) & (panel.P == 1))]
    with pytest.raises(dc.DataError, match="No treated rows after"):
        dc.did(bad, outcome="y", treated="D", post="P")


def test_treated_must_be_fixed_within_unit(panel):
    bad = panel.assign(D=np.where(panel.P == 1, 1, panel.D))
    with pytest.raises(dc.DataError, match="changes within unit"):
        dc.did(bad, outcome="y", treated="D", post="P", unit="id")


def test_post_needs_two_values(panel):
    with pytest.raises(dc.DataError, match="post 'P' must take exactly two values"):
        dc.did(panel.assign(P=panel.P + (panel.id % 3 == 0)), outcome="y", treated="D", post="P")


def test_label_coded_post_and_table_with_covariates(panel):
    r = dc.did(panel.assign(P=np.where(panel.P == 1, "after", "before")), outcome="y", treated="D", post="P")
    assert r.estimate == pytest.approx(dc.did(panel, outcome="y", treated="D", post="P").estimate, rel=1e-12)
    assert any("'after' coded 1" in n for n in r.notes)
    ice = dc.datasets.ice_cream().assign(x=[1.0, 2.0, 3.0, 5.0])
    with pytest.raises(dc.DataError, match="table of four means"):
        dc.did(ice, outcome="sales", treated="treated", post="post", covariates=["x"])


def test_cov_type_options(panel):
    with pytest.raises(dc.SpecificationError, match="needs cluster= or unit="):
        dc.did(panel, outcome="y", treated="D", post="P", cov_type="cluster")
    r = dc.did(panel, outcome="y", treated="D", post="P", cov_type="nonrobust")
    X = sm.add_constant(np.column_stack([panel.D, panel.P, panel.D * panel.P]))
    assert r.std_error == pytest.approx(sm.OLS(panel.y, X).fit().bse.iloc[3], rel=1e-9)


def test_all_units_treated_leaves_no_control_group(panel):
    with pytest.raises(dc.DataError, match="treatment 'D' is constant"):
        dc.did(panel.assign(D=1), outcome="y", treated="D", post="P", unit="id")


@pytest.mark.parametrize(
    ("column", "dependency"),
    [
        (lambda df: 1.0, r"'z' = 1\*const"),  # a constant
        (lambda df: 2 * df.x, r"'z' = 2\*x"),  # a copy of another covariate
        (lambda df: df.D.astype(float), r"'z' = 1\*D"),  # the group itself: fixed over time
        (lambda df: 3 * df.P - 1, r"'z' = -1\*const \+ 3\*P"),  # time only: the same change for both groups
    ],
)
def test_collinear_covariate_that_is_no_bad_control_is_refused_with_its_real_dependency(panel, column, dependency):
    df = panel.assign(z=column)
    with pytest.raises(dc.CollinearityError, match=dependency) as info:
        dc.did(df, outcome="y", treated="D", post="P", covariates=["x", "z"], unit="id")
    assert "D:P" not in str(info.value)
    assert info.value.dependent == ("z",)


def test_covariate_that_moved_with_treatment_names_its_combination(panel):
    df = panel.assign(q=2 * panel.P + 3 * panel.D * panel.P + panel.x)
    with pytest.warns(dc.DiagnosticWarning, match=r"'q' = 2\*P \+ 3\*D:P \+ 1\*x, which moves with 'D:P'"):
        r = dc.did(df, outcome="y", treated="D", post="P", covariates=["x", "q"], unit="id")
    assert r.diagnostics["dropped_collinear"] == ["q"]
    without = dc.did(df, outcome="y", treated="D", post="P", covariates=["x"], unit="id")
    assert r.estimate == pytest.approx(without.estimate, rel=1e-10)
