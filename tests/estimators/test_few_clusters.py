"""No false precision (issue 12, item 1): too few clusters, a standard error that underflows, an outcome
that copies the treatment. Each case reproduces what used to come back (a standard error near 1e-16 with
a p-value near 0, or exactly 0) and checks the warning or error that replaces it."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import deconfound as dc


def _two_states(n_periods: int = 8, seed: int = 0) -> pd.DataFrame:
    """One treated state and one control state: the classic design that clusters cannot support."""
    rng = np.random.default_rng(seed)
    rows = []
    for unit in (0, 1):
        for t in range(n_periods):
            treated = int(unit == 1 and t >= n_periods // 2)
            rows.append((unit, t, treated, unit == 1, int(t >= n_periods // 2), 1.0 * treated + rng.normal()))
    return pd.DataFrame(rows, columns=["unit", "time", "d", "g", "post", "y"])


def _panel(n_units: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame([(u, t) for u in range(n_units) for t in range(6)], columns=["unit", "time"])
    frame["d"] = ((frame["unit"] % 2 == 1) & (frame["time"] >= 3)).astype(int)
    frame["y"] = frame["d"] + rng.normal(size=len(frame)) + 0.3 * frame["unit"]
    return frame


CANCELLED = "cannot be estimated: the clusters' score sums cancel"


def test_twfe_with_two_units_reports_no_standard_error():
    with pytest.warns(dc.DiagnosticWarning, match=CANCELLED):
        fit = dc.twfe(_two_states(), outcome="y", treatment="d", unit="unit", time="time")
    assert math.isfinite(fit.estimate)
    assert math.isnan(fit.std_error) and math.isnan(fit.p_value)
    assert any(CANCELLED in w for w in fit.warnings)


def test_did_clustered_by_unit_with_two_units():
    with pytest.warns(dc.DiagnosticWarning, match=CANCELLED):
        fit = dc.did(_two_states(), outcome="y", treated="g", post="post", unit="unit")
    assert math.isnan(fit.std_error)


def test_panel_within_with_two_units():
    with pytest.warns(dc.DiagnosticWarning, match=CANCELLED):
        fit = dc.panel_regression(
            _two_states(), outcome="y", treatment="d", unit="unit", time="time", time_effects=True
        )
    assert math.isnan(fit.std_error)


@pytest.mark.parametrize("estimator", ["twfe", "sun-abraham"])
def test_event_study_with_two_units(estimator):
    frame = _two_states()
    frame["first_treated"] = np.where(frame["unit"] == 1, 4, 0)
    with pytest.warns(dc.DeconfoundWarning, match="clusters"):
        fit = dc.event_study(
            frame,
            outcome="y",
            unit="unit",
            time="time",
            first_treated="first_treated",
            estimator=estimator,
            window=(-2, 2),
        )
    assert not (math.isfinite(fit.std_error) and fit.std_error < 1e-8)  # never a rounding error as a SE


def test_few_clusters_warn_but_keep_the_standard_error():
    with pytest.warns(dc.DiagnosticWarning, match="Only 8 clusters"):
        fit = dc.twfe(_panel(8), outcome="y", treatment="d", unit="unit", time="time")
    assert math.isfinite(fit.std_error) and fit.std_error > 0


def test_enough_clusters_say_nothing(recwarn):
    fit = dc.twfe(_panel(40), outcome="y", treatment="d", unit="unit", time="time")
    assert not any("clusters" in w for w in fit.warnings)


def test_ols_clustered_with_few_clusters_warns():
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"g": np.repeat(np.arange(5), 40), "t": rng.integers(0, 2, 200), "x": rng.normal(size=200)})
    frame["y"] = frame["t"] + frame["x"] + rng.normal(size=200)
    with pytest.warns(dc.DiagnosticWarning, match="Only 5 clusters"):
        dc.ols(frame, outcome="y", treatment="t", covariates=["x"], cov_type="cluster", cluster="g")


def test_an_outcome_that_copies_the_treatment_is_refused(heart):
    frame = heart.assign(copy=heart["Drug"] * 2.0)
    with pytest.raises(
        dc.DataError, match="standard error is 0 up to rounding: the outcome 'copy' is an exact function"
    ):
        dc.ols(frame, outcome="copy", treatment="Drug")


def test_an_outcome_too_small_for_its_variance_is_refused(heart):
    frame = heart.assign(tiny=heart["Severity"] * 1e-200)
    with pytest.raises(dc.DataError, match="underflows to 0: the outcome 'tiny' is about"):
        dc.ols(frame, outcome="tiny", treatment="Drug", covariates=["I.H"])
