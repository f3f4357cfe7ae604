"""The typed test result: fields, the unchanged dict form of every test that returns one, rendering."""

import dataclasses
import json
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import deconfound as dc
from deconfound._core.design import Design
from deconfound.diagnostics.balance import joint_balance_test
from deconfound.diagnostics.hypotheses import TestResult
from deconfound.diagnostics.pretrends import pretrend_test, wald_test
from deconfound.robustness import placebo_treatment, sensitivity

WALD_KEYS = ["chi2", "df_num", "p_value_chi2", "statistic", "distribution", "df_den", "p_value"]


def _coef_cov(rng, k=4):
    a = rng.normal(size=(k, k))
    return rng.normal(size=k), a @ a.T + np.eye(k)


def test_pretrend_test_keeps_its_dict_and_adds_typed_fields(rng):
    coef, cov = _coef_cov(rng)
    times = [-3.0, -2.0, 0.0, 1.0]
    test = pretrend_test(coef, cov, times, df=29.0)
    b, v = coef[:2], cov[:2, :2]
    chi2 = float(b @ np.linalg.inv(v) @ b)
    assert list(test.to_dict()) == [*WALD_KEYS, "applicable", "event_times"]
    record = test.to_dict()
    assert record.pop("event_times") == [-3.0, -2.0]
    assert (record.pop("distribution"), record.pop("applicable")) == ("F", True)
    assert record == pytest.approx(
        {
            "chi2": chi2,
            "df_num": 2,
            "p_value_chi2": stats.chi2.sf(chi2, 2),
            "statistic": chi2 / 2,
            "df_den": 29.0,
            "p_value": stats.f.sf(chi2 / 2, 2, 29),
        },
        rel=1e-10,
    )
    assert (test.statistic, test.distribution, test.df, test.df_denom) == (test["statistic"], "F", 2, 29.0)
    assert test.p_value == test["p_value"] and test.applicable and test.degrees_of_freedom == (2, 29.0)
    assert "pre-treatment coefficient is zero" in test.null


def test_wald_test_without_finite_df_is_chi_squared(rng):
    coef, cov = _coef_cov(rng, 3)
    test = wald_test(coef, cov, [0, 1, 2], None)
    chi2 = float(coef @ np.linalg.solve(cov, coef))
    assert list(test) == WALD_KEYS
    assert test["df_den"] is None and test.df_denom is None and test.distribution == "chi2"
    assert test.statistic == pytest.approx(chi2, rel=1e-12) == test["chi2"]
    assert test.p_value == pytest.approx(stats.chi2.sf(chi2, 3), rel=1e-10)


def test_a_test_that_does_not_apply_says_why(rng):
    coef, cov = _coef_cov(rng)
    test = pretrend_test(coef, cov, [0.0, 1.0, 2.0, 3.0], df=None)
    assert test == {"applicable": False, "reason": test.reason}
    assert not test.applicable and test.statistic is None and test.p_value is None
    assert "widen the window" in test.reason
    assert str(test).startswith("joint pre-trend test: not applicable (no pre-treatment coefficients")
    assert repr(test).startswith("TestResult(name='joint pre-trend test', applicable=False, reason='no pre-")
    assert "not applicable" in test._repr_html_()


def test_balance_test_dict_is_statistic_df_p_value(rng):
    x = rng.normal(size=(200, 2))
    t = rng.binomial(1, 0.5, 200).astype(float)
    test = joint_balance_test(Design.from_matrix(x, ["a", "b"]), t)
    assert list(test.to_dict()) == ["statistic", "df", "p_value"]
    assert isinstance(test["df"], float) and test["df"] == 2.0
    assert test.distribution == "chi2" and test.p_value == pytest.approx(stats.chi2.sf(test.statistic, 2), rel=1e-10)


def test_sensitivity_and_placebo_dicts_keep_their_keys(heart):
    fit = dc.ols(heart, outcome="Severity", treatment="Drug", covariates=["I.H"])
    s = sensitivity(fit)
    assert list(s) == ["applicable", "partial_r2", "rv", "rv_alpha", "q", "alpha", "df", "exact", "text"]
    assert s.statistic == s["rv"] and s.df == s["df"] and s.distribution is None and s.p_value is None
    assert str(s).startswith(f"omitted-variable sensitivity: robustness value = {s['rv']:.4g} (df = ")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=80), "t": rng.binomial(1, 0.5, 80), "y": rng.normal(size=80)})

    def ols(data, treatment):
        return dc.ols(data, outcome="y", treatment=treatment, covariates=["x"])

    placebo = placebo_treatment(ols, frame, treatment="t", n_simulations=5, random_state=1)
    keys = ["estimate", "placebo_mean", "placebo_sd", "p_value", "n_simulations", "n_failed", "failures", "passed"]
    keys.append("seed")  # issue 11: the seed that reruns the permutations (added, nothing renamed)
    assert list(placebo) == keys
    assert placebo.statistic == placebo["estimate"] and placebo.distribution == "permutation"
    assert placebo.applicable and placebo.p_value == placebo["p_value"]


def test_the_result_is_immutable_and_reads_as_a_mapping(rng):
    coef, cov = _coef_cov(rng)
    test = pretrend_test(coef, cov, [-2.0, -1.5, 0.0, 1.0], df=None)
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field"):
        test.p_value = 0.5
    with pytest.raises(TypeError, match="does not support item assignment"):
        test["p_value"] = 0.5
    copy = test.to_dict()
    copy["p_value"] = -1.0
    assert test["p_value"] != -1.0 and test.get("missing", "none") == "none" and len(test) == 9
    assert json.loads(json.dumps(dc.results._jsonable(test))) == json.loads(json.dumps(test.to_dict()))


def test_words_repr_and_html():
    test = TestResult("joint test", 2.5, "F", 3, 40.0, 0.0734, "the <b> coefficients are zero")
    assert str(test) == (
        "joint test: F(3, 40) = 2.5, p = 0.0734; no evidence against the null at the 5% level "
        "(the <b> coefficients are zero)"
    )
    assert repr(test) == "TestResult(name='joint test', statistic=2.5, distribution='F', df=3, 40, p_value=0.0734)"
    html = test._repr_html_()
    assert "&lt;b&gt;" in html and "<b>" not in html and "F(3, 40)" in html
    low = dataclasses.replace(test, p_value=0.001, distribution="chi2", df_denom=None)
    assert "chi2(3) = 2.5, p = 0.001; evidence against the null" in str(low)
    assert list(test.to_dict()) == ["applicable", "statistic", "distribution", "df", "df_denom", "p_value", "null"]


def test_estimate_diagnostics_serialise_the_test_as_before():
    df = dc.datasets.simulate_panel(n_units=300, random_state=8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dc.DeconfoundWarning)
        r = dc.event_study(df, outcome="y", unit="unit", time="time", treatment="treated", window=(-2, 2))
    test = r.diagnostics["pretrend_test"]
    assert isinstance(test, TestResult)
    out = json.loads(json.dumps(r.to_dict()))["diagnostics"]["pretrend_test"]
    assert list(out) == [*WALD_KEYS, "applicable", "event_times"] and out["event_times"] == [-2.0]
    assert out["p_value"] == pytest.approx(test.p_value, rel=1e-15)
