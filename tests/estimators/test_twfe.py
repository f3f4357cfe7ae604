"""Two-way fixed effects: staggered-timing warning with the Goodman-Bacon decomposition, edge cases."""

import warnings

import numpy as np
import pandas as pd
import pytest

import deconfound as dc
from deconfound._core.demean import Demeaner


def _quiet_twfe(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dc.DiagnosticWarning)
        warnings.simplefilter("ignore", dc.DataWarning)
        return dc.twfe(*args, **kwargs)


def test_constant_effect_is_recovered_and_staggered_timing_warns():
    df = dc.datasets.simulate_panel(n_units=400, random_state=3)
    with pytest.warns(dc.DiagnosticWarning, match="starts at 3 different times .*Goodman-Bacon"):
        r = dc.twfe(df, outcome="y", treatment="treated", unit="unit", time="time")
    assert r.method == "twfe" and r.estimand == "ATT"
    assert abs(r.estimate - 1.0) < 3 * r.std_error
    assert "bacon" in r.diagnostics and "bacon_summary" in r.diagnostics


def test_bacon_decomposition_reproduces_the_twfe_coefficient():
    df = dc.datasets.simulate_panel(n_units=300, cohorts=(3, 5, 8), dynamic=0.4, random_state=5)
    df.loc[df["unit"] < 20, ["treated", "first_treated"]] = [1, 1]  # some units treated throughout
    r = _quiet_twfe(df, outcome="y", treatment="treated", unit="unit", time="time")
    table = r.diagnostics["bacon"]
    assert table["weight"].sum() == pytest.approx(1.0, abs=1e-12)
    assert float((table["weight"] * table["estimate"]).sum()) == pytest.approx(r.estimate, rel=1e-10)
    assert set(table["kind"]) >= {"treated vs never treated", "later vs always treated"}


def test_dynamic_effects_bias_twfe_downwards():
    df = dc.datasets.simulate_panel(n_units=2000, cohorts=(3, 6), never_share=0.0, dynamic=0.5, random_state=1)
    r = _quiet_twfe(df, outcome="y", treatment="treated", unit="unit", time="time")
    assert r.estimate < df.attrs["att"] - 0.5  # the forbidden comparisons pull it down
    kinds = r.diagnostics["bacon_summary"]
    assert kinds.loc["later vs earlier treated (already treated controls)", "estimate"] < 0.5


def test_single_adoption_time_does_not_warn_and_equals_2x2():
    df = dc.datasets.simulate_panel(n_units=300, cohorts=(5,), random_state=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = dc.twfe(df, outcome="y", treatment="treated", unit="unit", time="time")
    post = (df["time"] >= 5).astype(float)
    d = (df["first_treated"] > 0).astype(float)
    dm = Demeaner([df["unit"].to_numpy(), df["time"].to_numpy()])
    yd, dd = dm.demean(df["y"].to_numpy())[0], dm.demean((d * post).to_numpy())[0]
    assert r.estimate == pytest.approx(float(dd @ yd / (dd @ dd)), rel=1e-10)


def test_all_units_treated_at_once_leaves_nothing_to_compare():
    df = dc.datasets.simulate_panel(n_units=100, cohorts=(5,), never_share=0.0, random_state=2)
    with pytest.raises(dc.CollinearityError, match="'treated' does not vary within the fixed effects"):
        dc.twfe(df, outcome="y", treatment="treated", unit="unit", time="time")


def test_time_invariant_covariate_is_refused_by_name():
    df = dc.datasets.simulate_panel(n_units=100, random_state=2)
    with pytest.raises(dc.CollinearityError, match="'x' does not vary within the fixed effects"):
        _quiet_twfe(df, outcome="y", treatment="treated", unit="unit", time="time", covariates=["x"])


def test_unbalanced_panel_skips_the_decomposition_with_a_note():
    df = dc.datasets.simulate_panel(n_units=300, random_state=4).sample(frac=0.9, random_state=0)
    with pytest.warns(dc.DiagnosticWarning, match="different times"):
        r = dc.twfe(df, outcome="y", treatment="treated", unit="unit", time="time")
    assert "bacon" not in r.diagnostics
    assert any("an unbalanced panel" in n for n in r.notes)


def test_treatment_switching_off_skips_the_timing_check():
    df = dc.datasets.simulate_panel(n_units=200, random_state=4)
    df["treated"] = np.where((df["time"] == 10) & (df["unit"] % 2 == 0), 0, df["treated"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = dc.twfe(df, outcome="y", treatment="treated", unit="unit", time="time")
    assert any("switches off again" in n for n in r.notes)


def test_continuous_treatment_and_options():
    df = dc.datasets.simulate_panel(n_units=200, random_state=4)
    df["dose"] = df["treated"] * (1 + (df["unit"] % 3))
    r = _quiet_twfe(df, outcome="y", treatment="dose", unit="unit", time="time", cov_type="HC1")
    assert r.estimand == "ATE (per unit)" and r.n_treated is None
    assert any("HC1" in n for n in r.notes)
    with pytest.raises(dc.SpecificationError, match="cluster= takes one or two columns"):
        dc.twfe(df, outcome="y", treatment="dose", unit="unit", time="time", cluster=["unit", "time", "x"])
    with pytest.raises(dc.SpecificationError, match="cov_type='HC3' is not allowed"):
        dc.twfe(df, outcome="y", treatment="dose", unit="unit", time="time", cov_type="HC3")
    with pytest.raises(dc.SpecificationError, match="tol must be a number between 0 and 1"):
        dc.twfe(df, outcome="y", treatment="dose", unit="unit", time="time", tol=5)


def test_non_convergence_is_a_convergence_warning():
    rng = np.random.default_rng(0)
    df = dc.datasets.simulate_panel(n_units=300, random_state=4).sample(frac=0.5, random_state=1)
    df["firm"] = rng.integers(0, 30, len(df))
    with pytest.warns(dc.ConvergenceWarning, match="without meeting the tolerance"):
        _quiet_twfe(
            df, outcome="y", treatment="treated", unit="unit", time="time", fixed_effects="firm", max_iter=2, tol=1e-15
        )


def test_invariances_row_order_fixed_shifts_and_duplicated_rows():
    rng = np.random.default_rng(3)
    df = dc.datasets.simulate_panel(n_units=150, cohorts=(5,), random_state=6)
    df["x"] = rng.normal(size=len(df))
    base = _quiet_twfe(df, outcome="y", treatment="treated", unit="unit", time="time", covariates="x")
    shuffled = _quiet_twfe(
        df.sample(frac=1.0, random_state=2), outcome="y", treatment="treated", unit="unit", time="time", covariates="x"
    )
    np.testing.assert_allclose(shuffled.coefficients.coef, base.coefficients.coef, rtol=1e-10)
    np.testing.assert_allclose(shuffled.coefficients.std_err, base.coefficients.std_err, rtol=1e-10)
    shifted = df.assign(y=df["y"] + 5.0 * df["unit"] - 3.0 * df["time"] ** 2)  # absorbed by the fixed effects
    moved = _quiet_twfe(shifted, outcome="y", treatment="treated", unit="unit", time="time", covariates="x")
    np.testing.assert_allclose(moved.coefficients.coef, base.coefficients.coef, rtol=1e-8)
    doubled = pd.concat([df, df[df["unit"] < 40]])  # analytic weight 2 == the row twice, for the coefficients
    weighted = df.assign(w=np.where(df["unit"] < 40, 2.0, 1.0))
    a = _quiet_twfe(doubled, outcome="y", treatment="treated", unit="unit", time="time", covariates="x")
    b = _quiet_twfe(weighted, outcome="y", treatment="treated", unit="unit", time="time", covariates="x", weights="w")
    np.testing.assert_allclose(a.coefficients.coef, b.coefficients.coef, rtol=1e-9)
