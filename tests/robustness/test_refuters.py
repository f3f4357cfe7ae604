"""Refuters: a clean randomized trial passes them all; an estimate driven by one cluster fails leaving it out;
an "estimator" that ignores its data fails the placebo and the dummy outcome; reproducible for a seed."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import deconfound as dc
from deconfound.robustness import refute


def _trial(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"x": rng.normal(size=n), "t": rng.integers(0, 2, n), "g": rng.integers(0, 10, n)})
    df["y"] = 1.0 * df["t"] + df["x"] + rng.normal(size=n)
    return df


def test_a_clean_trial_passes_every_refuter():
    df = _trial()
    result = refute(dc.ols, df, outcome="y", treatment="t", covariates=["x"], leave_out="g", random_state=1)
    table = result.to_frame()
    assert list(table["refuter"]) == [
        "placebo_treatment",
        "random_common_cause",
        "data_subsets",
        "dummy_outcome",
        "leave_one_cluster_out",
    ]
    assert result.passed, table[["refuter", "detail"]].to_string()
    assert "behaved under all 5 refuters" in result.text
    again = refute(dc.ols, df, outcome="y", treatment="t", covariates=["x"], leave_out="g", random_state=1)
    assert again.to_dict() == result.to_dict()


def test_an_effect_carried_by_one_cluster_fails_leave_one_out():
    df = _trial(seed=2)
    df["y"] = df["x"] + np.random.default_rng(3).normal(size=len(df)) + 12.0 * df["t"] * (df["g"] == 0)
    with pytest.warns(dc.DiagnosticWarning, match="Only 10 clusters"):  # the estimate on the data as given
        result = refute(
            dc.ols, df, outcome="y", treatment="t", covariates=["x"], cluster="g", refuters=["leave_one_cluster_out"]
        )
    row = result.rows[0]
    assert not row["passed"] and "without 0" in row["detail"]
    assert not result.passed and "failed 1 of 1" in result.text


def test_an_estimator_that_ignores_the_data_fails_the_placebo_and_the_dummy_outcome():
    def stubborn(data, **kwargs):
        return SimpleNamespace(estimate=5.0, std_error=1.0)

    result = refute(stubborn, _trial(), outcome="y", treatment="t", random_state=0)
    passed = dict(zip(result.to_frame()["refuter"], result.to_frame()["passed"]))
    assert passed == {"placebo_treatment": False, "data_subsets": True, "dummy_outcome": False}
    assert [name for name, _ in result.skipped] == ["random_common_cause", "leave_one_cluster_out"]


def test_bad_input():
    with pytest.raises(dc.SpecificationError, match=r"unknown refuter\(s\) \['bogus'\]"):
        refute(dc.ols, _trial(), outcome="y", treatment="t", refuters=["bogus"])
    with pytest.raises(dc.SpecificationError, match=r"leave_out='h' is not a column"):
        refute(dc.ols, _trial(), outcome="y", treatment="t", leave_out="h")
