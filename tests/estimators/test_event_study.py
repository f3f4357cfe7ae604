"""Event studies: recovering dynamic effects, the pre-trend test, and the refusals."""

import json
import warnings

import numpy as np
import pytest

import deconfound as dc


def _quiet(**kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dc.DeconfoundWarning)
        return dc.event_study(**kw)


@pytest.fixture(scope="module")
def dynamic():
    return dc.datasets.simulate_panel(n_units=1500, n_periods=10, dynamic=0.3, heterogeneity=0.6, random_state=21)


def test_sun_abraham_recovers_heterogeneous_dynamic_effects(dynamic):
    r = _quiet(
        data=dynamic,
        outcome="y",
        unit="unit",
        time="time",
        first_treated="first_treated",
        window=(-3, 2),
        estimator="sun-abraham",
    )
    frame = r.diagnostics["event_study"].set_index("event_time")
    att_gt = __import__("pandas").DataFrame(dynamic.attrs["att_gt"])
    sizes = dynamic.groupby("first_treated")["unit"].nunique()
    for k in (0.0, 1.0):
        cells = att_gt[att_gt["event_time"] == k]
        truth = np.average(cells["effect"], weights=cells["group"].map(sizes))
        est, se = frame.loc[k, "estimate"], frame.loc[k, "std_error"]
        assert abs(est - truth) < 4 * se
    for k in (-3.0, -2.0):
        assert abs(frame.loc[k, "estimate"]) < 4 * frame.loc[k, "std_error"]
    assert frame.loc[-1.0, "reference"] and frame.loc[-1.0, "estimate"] == 0.0


def test_pretrend_violation_is_detected_and_warned():
    df = dc.datasets.simulate_panel(n_units=800, random_state=2)
    df["y"] = df["y"] + 0.4 * (df["first_treated"] > 0) * df["time"]  # treated units trend upward
    with pytest.warns(dc.DiagnosticWarning, match="pre-treatment coefficients are jointly different from zero"):
        r = dc.event_study(df, outcome="y", unit="unit", time="time", treatment="treated", window=(-3, 3))
    assert r.diagnostics["pretrend_test"]["p_value"] < 1e-6


def test_parallel_trends_pass_and_json_lists_event_times():
    df = dc.datasets.simulate_panel(n_units=600, random_state=8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = dc.event_study(df, outcome="y", unit="unit", time="time", treatment="treated", window=(-2, 2))
    test = r.diagnostics["pretrend_test"]
    assert test["applicable"] and test["p_value"] > 0.05 and test["distribution"] == "F"
    out = json.loads(json.dumps(r.to_dict()))
    first = out["coefficients"][0]
    assert set(first) >= {"event_time", "estimate", "std_error"} and first["event_time"] == -2.0
    assert out["treatment"] == "treated"
    assert abs(r.estimate - 1.0) < 4 * r.std_error


def test_window_without_leads_says_why_no_pretrend_test():
    df = dc.datasets.simulate_panel(n_units=300, random_state=8)
    r = _quiet(data=df, outcome="y", unit="unit", time="time", treatment="treated", window=(-1, 3))
    assert r.diagnostics["pretrend_test"]["applicable"] is False
    assert "widen the window" in r.diagnostics["pretrend_test"]["reason"]


def test_trimmed_endpoints_drop_rows_with_a_warning():
    df = dc.datasets.simulate_panel(n_units=300, random_state=8)
    with pytest.warns(dc.DataWarning, match="outside the window -2..2 were dropped"):
        r = dc.event_study(
            df, outcome="y", unit="unit", time="time", treatment="treated", window=(-2, 2), bin_endpoints=False
        )
    assert "event_time=2" in r.coefficients.names


def test_missing_first_treated_means_never_and_always_treated_are_dropped():
    df = dc.datasets.simulate_panel(n_units=300, random_state=8)
    df["g"] = df["first_treated"].where(df["first_treated"] > 0)
    df.loc[df["unit"] < 5, "g"] = 1
    with pytest.warns(dc.DataWarning, match="5 unit\\(s\\) treated from the first period on were dropped"):
        r = dc.event_study(df, outcome="y", unit="unit", time="time", first_treated="g", window=(-2, 2))
    assert any("missing 'g' read as never treated" in n for n in r.notes)
    assert r.n == len(df) - 5 * 10


def test_refusals():
    df = dc.datasets.simulate_panel(n_units=200, cohorts=(5,), never_share=0.0, random_state=1)
    with pytest.raises(dc.DataError, match="no unit is never treated"):
        dc.event_study(df, outcome="y", unit="unit", time="time", treatment="treated")
    with pytest.raises(dc.DataError, match="No never-treated units"):
        dc.event_study(df, outcome="y", unit="unit", time="time", treatment="treated", estimator="sun-abraham")
    with pytest.raises(dc.SpecificationError, match=r"exactly one of treatment= .* or first_treated="):
        dc.event_study(df, outcome="y", unit="unit", time="time", treatment="treated", first_treated="first_treated")
    with pytest.raises(dc.SpecificationError, match="ref_period=0 must be a pre-treatment event time"):
        dc.event_study(df, outcome="y", unit="unit", time="time", treatment="treated", ref_period=0)
    with pytest.raises(dc.SpecificationError, match="window must be two numbers"):
        dc.event_study(df, outcome="y", unit="unit", time="time", treatment="treated", window="a,b")
    with pytest.raises(dc.SpecificationError, match="estimator='sunab' is not allowed"):
        dc.event_study(df, outcome="y", unit="unit", time="time", treatment="treated", estimator="sunab")
    off = df.assign(treated=np.where(df["time"] == 10, 0, df["treated"]))
    with pytest.raises(dc.DataError, match="switches off again"):
        dc.event_study(off, outcome="y", unit="unit", time="time", treatment="treated")
    dup = __import__("pandas").concat([df, df.head(1)])
    with pytest.raises(dc.DataError, match="appears more than once in period"):
        dc.event_study(dup, outcome="y", unit="unit", time="time", treatment="treated")
    never = df.assign(treated=0)
    with pytest.raises(dc.DataError, match="No unit starts treatment"):
        dc.event_study(never, outcome="y", unit="unit", time="time", treatment="treated")


def test_sun_abraham_with_the_last_cohort_as_control():
    df = dc.datasets.simulate_panel(n_units=900, cohorts=(4, 6, 8), never_share=0.0, dynamic=0.2, random_state=3)
    r = _quiet(
        data=df,
        outcome="y",
        unit="unit",
        time="time",
        treatment="treated",
        window=(-3, 3),
        estimator="sun-abraham",
        control_group="last",
    )
    assert any("cohort 8 (the last treated) is the control" in n for n in r.notes)
    frame = r.diagnostics["event_study"].set_index("event_time")
    assert abs(frame.loc[0.0, "estimate"] - 1.0) < 4 * frame.loc[0.0, "std_error"]
    assert set(r.diagnostics["cohort_effects"]["cohort"]) == {4.0, 6.0}
