"""Callaway-Sant'Anna on simulated panels with known heterogeneous, dynamic and staggered effects."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import deconfound as dc


def _truth_simple(df):
    gt = pd.DataFrame(df.attrs["att_gt"])
    sizes = df.groupby("first_treated")["unit"].nunique()
    return float(np.average(gt["effect"], weights=gt["group"].map(sizes)))


def _cs(df, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dc.DiagnosticWarning)
        return dc.staggered(df, outcome="y", unit="unit", time="time", first_treated="first_treated", **kw)


@pytest.fixture(scope="module")
def dynamic():
    return dc.datasets.simulate_panel(
        n_units=2000, n_periods=8, cohorts=(3, 5, 6), dynamic=0.3, heterogeneity=0.5, random_state=12
    )


def test_recovers_heterogeneous_dynamic_effects_where_twfe_does_not(dynamic):
    r = _cs(dynamic)
    truth = _truth_simple(dynamic)
    assert abs(r.estimate - truth) < 4 * r.std_error
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dc.DiagnosticWarning)
        t = dc.twfe(dynamic, outcome="y", treatment="treated", unit="unit", time="time")
    assert abs(t.estimate - truth) > 5 * t.std_error
    cells = r.diagnostics["group_time"]
    gt = pd.DataFrame(dynamic.attrs["att_gt"]).merge(cells, on=["group", "time"])
    z = (gt["estimate"] - gt["effect"]) / gt["std_error"]
    assert (np.abs(z) < 4.5).all()


def test_event_time_aggregation_tracks_the_dynamic_path(dynamic):
    r = _cs(dynamic, aggregate="event", control_group="not-yet")
    table = r.diagnostics["aggregation"].set_index("event_time")
    truth = dynamic.attrs["event"]
    for e in (0, 1, 2):
        assert abs(table.loc[e, "estimate"] - truth[e]) < 4 * table.loc[e, "std_error"]
    pre = table[table.index < 0]
    assert (np.abs(pre["estimate"]) < 4 * pre["std_error"]).all()
    assert r.estimand == "ATT (average over event times >= 0)"
    assert r.diagnostics["event_study"]["event_time"].tolist() == table.index.tolist()


def test_covariates_restore_conditional_parallel_trends():
    df = dc.datasets.simulate_panel(n_units=3000, cohorts=(3, 5, 6), confounding=1.5, dynamic=0.2, random_state=2)
    plain = _cs(df)
    adjusted = _cs(df, covariates="x")
    truth = _truth_simple(df)
    assert abs(adjusted.estimate - truth) < 4 * adjusted.std_error
    assert abs(plain.estimate - truth) > 5 * plain.std_error
    assert plain.diagnostics["pretrend_test"]["p_value"] < 0.01
    assert adjusted.coefficients.stats["estimator"] == "Callaway-Sant'Anna (outcome regression)"


def test_multiplier_bootstrap_is_reproducible_and_close_to_analytic(dynamic):
    a = _cs(dynamic, aggregate="event", n_boot=999, random_state=5)
    b = _cs(dynamic, aggregate="event", n_boot=999, random_state=5)
    analytic = _cs(dynamic, aggregate="event")
    assert a.std_error == b.std_error
    assert a.std_error == pytest.approx(analytic.std_error, rel=0.15)
    boot = a.diagnostics["bootstrap"]
    assert boot["n_boot"] == 999 and boot["uniform_critical_value"] > 1.96
    band = a.diagnostics["aggregation"]
    pointwise = analytic.diagnostics["aggregation"]
    assert ((band["ci_high"] - band["ci_low"]) > (pointwise["ci_high"] - pointwise["ci_low"]) * 0.9).all()


def test_json_lists_group_time_effects():
    df = dc.datasets.simulate_panel(n_units=300, random_state=1)
    out = json.loads(json.dumps(_cs(df).to_dict()))
    first = out["coefficients"][0]
    assert {"group", "time", "event_time", "estimate", "std_error"} <= set(first)
    assert out["method"] == "staggered"


def test_unbalanced_units_are_dropped_with_a_warning():
    df = dc.datasets.simulate_panel(n_units=300, random_state=1)
    df = df.drop(df[(df["unit"] < 7) & (df["time"] == 4)].index)
    with pytest.warns(dc.DataWarning, match="7 unit\\(s\\) not observed in every period were dropped"):
        r = dc.staggered(df, outcome="y", unit="unit", time="time", first_treated="first_treated")
    assert r.diagnostics["n_units"] == 293


def test_always_treated_and_late_units():
    df = dc.datasets.simulate_panel(n_units=300, random_state=1)
    df.loc[df["unit"] < 4, "first_treated"] = 1
    df.loc[df["unit"].between(4, 6), "first_treated"] = 99
    with pytest.warns(dc.DataWarning, match="4 unit\\(s\\) treated from the first period on"):
        r = dc.staggered(df, outcome="y", unit="unit", time="time", first_treated="first_treated")
    assert any("after the last period count as never treated" in n for n in r.notes)


def test_refusals_name_the_problem():
    df = dc.datasets.simulate_panel(n_units=200, cohorts=(4, 6), never_share=0.0, random_state=1)
    with pytest.raises(dc.DataError, match=r"No never-treated units .* control_group='not-yet'"):
        dc.staggered(df, outcome="y", unit="unit", time="time", first_treated="first_treated")
    once = dc.datasets.simulate_panel(n_units=200, cohorts=(5,), never_share=0.0, random_state=1)
    with pytest.raises(dc.DataError, match="all units are treated at once"):
        dc.staggered(
            once, outcome="y", unit="unit", time="time", first_treated="first_treated", control_group="not-yet"
        )
    with pytest.raises(dc.SpecificationError, match="aggregate='dynamic' is not allowed"):
        dc.staggered(df, outcome="y", unit="unit", time="time", first_treated="first_treated", aggregate="dynamic")
    varying = df.assign(w=np.arange(len(df)) % 3 + 1.0)
    with pytest.raises(dc.DataError, match="weights 'w' varies within units"):
        dc.staggered(
            varying,
            outcome="y",
            unit="unit",
            time="time",
            first_treated="first_treated",
            control_group="not-yet",
            weights="w",
        )
    text = df.assign(time=df["time"].astype(str))
    with pytest.raises(dc.DataError, match="time 'time' must be numeric periods"):
        dc.staggered(text, outcome="y", unit="unit", time="time", first_treated="first_treated")
    with pytest.raises(dc.SpecificationError, match="n_boot must be an integer >= 50"):
        dc.staggered(df, outcome="y", unit="unit", time="time", first_treated="first_treated", n_boot=10)


def test_not_yet_controls_run_out_for_the_last_cohort():
    df = dc.datasets.simulate_panel(n_units=400, cohorts=(4, 6, 8), never_share=0.0, random_state=3)
    r = _cs(df, control_group="not-yet")
    assert any("no comparison units left" in n for n in r.notes)
    cells = r.diagnostics["group_time"]
    assert cells["time"].max() < 8
    assert abs(r.estimate - 1.0) < 4 * r.std_error


def test_treatment_column_and_window():
    df = dc.datasets.simulate_panel(n_units=400, random_state=3)
    a = _cs(df, aggregate="event")
    b = dc.staggered(df, outcome="y", unit="unit", time="time", treatment="treated", aggregate="event", window=(-2, 2))
    assert b.diagnostics["aggregation"]["event_time"].tolist() == [-2.0, -1.0, 0.0, 1.0, 2.0]
    full = a.diagnostics["aggregation"].set_index("event_time")
    assert b.diagnostics["aggregation"].set_index("event_time").loc[1.0, "estimate"] == pytest.approx(
        full.loc[1.0, "estimate"]
    )


def _small_cohorts(never_share: float) -> pd.DataFrame:
    """Shaped like the Medicaid-expansion (ehec) panel: 46 units, 12 years, five cohorts of a few units each."""
    return dc.datasets.simulate_panel(
        n_units=46, n_periods=12, cohorts=(7, 8, 9, 10, 12), never_share=never_share, random_state=0
    )


def test_pretrend_test_with_a_singular_covariance_says_why_instead_of_nan():
    # cohort 10 has 2 units but 8 pre-treatment cells: the 36 cells' covariance has rank 34 and the cells do not
    # obey the same identities, so no Wald statistic exists (it was +-1e16 or NaN before, with a warning)
    df = _small_cohorts(0.25)
    with warnings.catch_warnings():
        warnings.simplefilter("error", dc.DeconfoundWarning)  # no pre-trend warning built on a meaningless number
        res = dc.staggered(df, outcome="y", unit="unit", time="time", first_treated="first_treated",
                           base_period="universal")  # fmt: skip
    test = res.diagnostics["pretrend_test"]
    assert not test.applicable and test.statistic is None and test.p_value is None
    assert "singular (rank 34 of 36)" in test.reason
    assert (test.details["rank"], test.details["n_tested"]) == (34, 36)
    assert any("pre-trend test not computed" in n for n in res.notes)
    gt = res.diagnostics["group_time"]
    pre = np.flatnonzero(((gt["time"] < gt["group"]) & (gt["std_error"] > 0)).to_numpy())
    v = np.asarray(res.coefficients.cov)[np.ix_(pre, pre)]
    assert len(pre) == 36 and np.linalg.matrix_rank(v, tol=1e-8 * np.abs(v).max()) == 34


def test_pretrend_test_on_exact_identities_uses_the_free_coefficients():
    # with no never-treated units and not-yet controls the last cohort's cells mirror earlier cohorts' (the same
    # two groups compared the other way round): the identities hold for the estimates too, so the test uses the
    # 32 free cells (b'V^+b on 32 degrees of freedom), which equals the Wald test on a maximal free subset
    df = _small_cohorts(0.0)
    res = _cs(df, control_group="not-yet")
    test = res.diagnostics["pretrend_test"]
    assert test.applicable and test.df == test.details["rank"] < test.details["n_tested"]
    gt = res.diagnostics["group_time"]
    cells = [(g, t) for g, t in test.details["cells"]]
    cov = np.asarray(res.coefficients.cov)
    index = [int(np.flatnonzero((gt["group"] == g) & (gt["time"] == t))[0]) for g, t in cells]
    b, v = gt["estimate"].to_numpy()[index], cov[np.ix_(index, index)]
    free: list[int] = []  # a maximal set of linearly independent cells, greedily
    for i in range(len(index)):
        trial = [*free, i]
        if np.linalg.matrix_rank(v[np.ix_(trial, trial)], tol=1e-8 * np.abs(v).max()) == len(trial):
            free.append(i)
    assert len(free) == test.df
    stat = float(b[free] @ np.linalg.solve(v[np.ix_(free, free)], b[free]))
    assert test.statistic == pytest.approx(stat, rel=1e-6)
