"""Matching says why targets went without (enough) matches: the caliper or exact cells only when they were
the reason, the control pool running out (without replacement) when that was, and a ratio cut short."""

import warnings

import numpy as np
import pandas as pd
import pytest

import deconfound as dc


def _outnumbered(n_treated: int, n_control: int) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = n_treated + n_control
    x = rng.normal(size=n)
    t = (np.arange(n) < n_treated).astype(int)
    return pd.DataFrame({"x": x, "t": t, "y": x + t + rng.normal(size=n)})


def _messages(r: dc.Estimate, needle: str) -> list[str]:
    return [w for w in r.warnings if needle in w]


@pytest.mark.parametrize("distance", ["propensity", "mahalanobis"])
def test_pool_running_out_is_not_blamed_on_a_caliper(distance):
    df = _outnumbered(40, 20)  # 40 treated, 20 controls, no caliper, no exact cells
    with pytest.warns(dc.DiagnosticWarning):
        r = dc.matching(df, outcome="y", treatment="t", covariates=["x"], replace=False, distance=distance)
    (msg,) = _messages(r, "found no match")
    assert "20 of 40 treated rows" in msg
    assert "all 20 control rows already taken" in msg and "pool ran out" in msg
    assert "caliper" not in msg and "exact" not in msg
    assert "replace=True" in msg
    assert r.diagnostics["n_unmatched_by_reason"] == {"treated": {"out_of_reach": 0, "pool_used_up": 20}}


def _blocks() -> pd.DataFrame:
    # per block: treated a, b within 0.001 of one control c; a treated row far from every control; a far control.
    x = np.concatenate([1000.0 * i + np.array([0.0, 0.001, 400.0, 0.0005, 700.0]) for i in range(10)])
    df = pd.DataFrame({"x": x, "t": np.tile([1, 1, 1, 0, 0], 10)})
    df["y"] = df.x / 1000 + df.t + np.tile([0.1, -0.2, 0.3, 0.05, -0.1], 10)
    return df


# Mahalanobis on one covariate: distances in standard deviations of x (about 2,900 here), so a caliper of 0.01
# reaches about 29 units of x: c is in reach of a and b, nothing is in reach of the far treated row.


def test_caliper_and_pool_are_counted_apart():
    with pytest.warns(dc.DiagnosticWarning):
        r = dc.matching(
            _blocks(), outcome="y", treatment="t", covariates=["x"], distance="mahalanobis", replace=False, caliper=0.01
        )
    (msg,) = _messages(r, "found no match")
    assert msg.startswith("20 of 30 treated rows found no match and were left out: 10 had no control row within")
    assert "10 had control rows within the caliper, but all of those were already taken" in msg
    assert "widen the caliper or match with replacement" in msg
    assert r.diagnostics["n_unmatched_by_reason"] == {"treated": {"out_of_reach": 10, "pool_used_up": 10}}


def test_caliper_alone_keeps_its_reason():
    with pytest.warns(dc.DiagnosticWarning):
        r = dc.matching(_blocks(), outcome="y", treatment="t", covariates=["x"], distance="mahalanobis", caliper=0.01)
    (msg,) = _messages(r, "found no match")
    assert msg.startswith("10 of 30 treated rows found no match within the caliper and were left out.")
    assert "taken" not in msg and "replace" not in msg
    assert r.diagnostics["n_unmatched_by_reason"] == {"treated": {"out_of_reach": 10, "pool_used_up": 0}}


def test_nobody_matched_because_everything_was_taken_is_not_a_caliper_error():
    df = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "t": [1, 1, 0, 0], "y": [1.0, 2.0, 0.5, 0.7]})
    # a caliper nobody can meet: the error names the caliper, not the pool
    with pytest.raises(dc.DataError, match=r"No treated row found a match within the caliper: every one"):
        dc.matching(df, outcome="y", treatment="t", covariates=["x"], distance="mahalanobis", caliper=1e-9)


def test_neighbors_cut_short_without_replacement_is_said_and_recorded():
    df = _outnumbered(8, 20)  # 8 x 5 = 40 matches asked of 20 controls: rounds give 8, 8, then 4
    with pytest.warns(dc.DiagnosticWarning):
        r = dc.matching(df, outcome="y", treatment="t", covariates=["x"], replace=False, neighbors=5)
    (msg,) = _messages(r, "neighbors=5 without replacement")
    assert "8 of 8 matched treated rows got fewer than 5 matches (as few as 2; 2.50 on average)" in msg
    assert "all 20 control rows were used" in msg
    assert r.diagnostics["neighbors_shortfall"] == {"treated": {"requested": 5, "short": 8, "fewest": 2, "mean": 2.5}}
    assert r.diagnostics["n_unmatched"] == 0
    per_target = r.diagnostics["matches"].groupby("unit").size()
    assert sorted(per_target.value_counts().items()) == [(2, 4), (3, 4)]


def test_neighbors_met_without_replacement_says_nothing():
    df = _outnumbered(8, 60)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dc.DiagnosticWarning)  # balance may warn; only the ratio matters here
        r = dc.matching(df, outcome="y", treatment="t", covariates=["x"], replace=False, neighbors=5)
    assert not _messages(r, "neighbors=5") and "neighbors_shortfall" not in r.diagnostics
    assert set(r.diagnostics["matches"].groupby("unit").size()) == {5}


def test_optimal_pairs_running_out_of_controls_say_so_and_are_labelled_without_replacement():
    df = _outnumbered(40, 20)  # optimal pair matching uses each control once, whatever replace= says
    with pytest.warns(dc.DiagnosticWarning):
        r = dc.matching(df, outcome="y", treatment="t", covariates=["x"], method="optimal")
    (msg,) = _messages(r, "found no match")
    assert "20 of 40 treated rows" in msg and "all 20 control rows already taken" in msg
    assert r.diagnostics["n_unmatched_by_reason"] == {"treated": {"out_of_reach": 0, "pool_used_up": 20}}
    assert r.label == "Optimal pair matching on propensity (1:1, without replacement)"
