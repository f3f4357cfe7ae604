"""The article's published numbers (sections 3 and 6), reproduced by the library."""

import warnings

import pytest

import deconfound as dc
from deconfound.cli.demo import collect


def test_generator_matches_article_preview(heart):
    assert heart.shape == (1000, 3)
    assert heart.loc[0, "I.H"] == pytest.approx(57.450712, abs=1e-6)
    assert heart.loc[0, "Severity"] == pytest.approx(50.159596, abs=1e-6)
    assert heart.loc[262, "I.H"] == pytest.approx(1.380990, abs=1e-6)
    assert heart.loc[668, "Severity"] == pytest.approx(22.622168, abs=1e-6)


def test_naive_difference_matches_article(heart):
    with pytest.warns(dc.DiagnosticWarning, match="randomly assigned"):
        r = dc.difference_in_means(heart, outcome="Severity", treatment="Drug")
    assert round(r.diagnostics["mean_control"], 2) == 48.67
    assert round(r.diagnostics["mean_treated"], 2) == 52.14
    assert round(r.estimate, 2) == 3.47


def test_ols_matches_article_table(heart):
    r = dc.ols(heart, outcome="Severity", treatment="Drug", covariates=["I.H"])
    c = r.coefficients
    assert round(c.coef[c.index("const")], 4) == 9.1574
    assert round(r.estimate, 4) == -9.8877
    assert round(r.std_error, 3) == 0.353
    assert round(c.coef[c.index("I.H")], 4) == 0.9171
    assert round(c.stats["r_squared"], 3) == 0.856
    assert round(c.stats["f_statistic"]) == 2965
    assert round(c.stats["cond_no"]) == 195
    assert round(c.stats["log_likelihood"], 1) == -2994.6
    assert r.warnings == ()


def test_formula_and_columns_agree(heart):
    a = dc.ols(heart, outcome="Severity", treatment="Drug", covariates=["I.H"])
    b = dc.ols(heart, "Severity ~ Drug + Q('I.H')", treatment="Drug")
    c = dc.ols(heart, "Severity ~ Drug + `I.H`")
    assert a.estimate == pytest.approx(b.estimate, rel=1e-12)
    assert a.std_error == pytest.approx(c.std_error, rel=1e-12)
    assert b.coefficients.names == ("Intercept", "Drug", "I.H")


def test_demo_rows_all_match():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rows = collect()
    assert rows, "the demo produced no rows"
    assert [r.quantity for r in rows if r.matches is False] == []
