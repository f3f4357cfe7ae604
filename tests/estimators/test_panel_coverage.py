"""Simulation: confidence intervals of the panel estimators cover the true effect ~95% of the time.

Each replication draws a fresh panel with unit effects and serially correlated errors (so clustering
by unit matters), estimates, and checks whether the 95% interval covers the truth.
"""

import warnings

import numpy as np
import pandas as pd
import pytest

import deconfound as dc

REPS = 600


def _panel(rng, n_units=60, n_periods=6, effect=1.0, dynamic=0.0, cohorts=(3, 5), never=0.4):
    g = np.where(rng.random(n_units) < never, 0, rng.choice(cohorts, n_units))
    unit = np.repeat(np.arange(n_units), n_periods)
    time = np.tile(np.arange(1, n_periods + 1), n_units)
    gi = g[unit]
    on = (gi > 0) & (time >= gi)
    # AR(1) errors within unit: clustering by unit is needed
    shocks = rng.normal(size=(n_units, n_periods))
    err = np.empty_like(shocks)
    err[:, 0] = shocks[:, 0]
    for t in range(1, n_periods):
        err[:, t] = 0.6 * err[:, t - 1] + shocks[:, t]
    y = rng.normal(size=n_units)[unit] + 0.2 * time + on * (effect + dynamic * (time - gi)) + err.ravel()
    return pd.DataFrame({"unit": unit, "time": time, "first_treated": gi, "treated": on.astype(float), "y": y})


def _simple_truth(df, effect=1.0, dynamic=0.5, last=6):
    """The simple (cohort-size weighted) ATT over post-treatment cells of this draw's cohorts."""
    units = df.drop_duplicates("unit")
    sizes = units[units["first_treated"] > 0]["first_treated"].value_counts()
    cells = [(g, t) for g in sizes.index for t in range(int(g), last + 1)]
    return float(np.average([effect + dynamic * (t - g) for g, t in cells], weights=[sizes[g] for g, _ in cells]))


@pytest.mark.slow
def test_twfe_clustered_interval_coverage():
    rng = np.random.default_rng(0)
    hits = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dc.DiagnosticWarning)  # staggered timing (constant effect here)
        for _ in range(REPS):
            r = dc.twfe(_panel(rng), outcome="y", treatment="treated", unit="unit", time="time")
            hits += r.ci_low <= 1.0 <= r.ci_high
    assert 0.93 <= hits / REPS <= 0.97, hits / REPS


@pytest.mark.slow
def test_callaway_santanna_interval_coverage_with_dynamic_effects():
    rng = np.random.default_rng(1)
    hits = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dc.DiagnosticWarning)  # an occasional pre-trend false alarm
        for _ in range(REPS):
            df = _panel(rng, n_units=120, dynamic=0.5)
            r = dc.staggered(df, outcome="y", unit="unit", time="time", first_treated="first_treated")
            hits += r.ci_low <= _simple_truth(df) <= r.ci_high
    assert 0.93 <= hits / REPS <= 0.97, hits / REPS


@pytest.mark.slow
def test_did_2x2_clustered_interval_coverage():
    rng = np.random.default_rng(2)
    hits = 0
    n = 80
    for _ in range(REPS):
        d = rng.binomial(1, 0.5, n)
        a = rng.normal(size=n) + d
        e0, e1 = rng.normal(size=n), rng.normal(size=n)
        frame = pd.DataFrame(
            {
                "id": np.r_[np.arange(n), np.arange(n)],
                "D": np.r_[d, d],
                "P": np.r_[np.zeros(n), np.ones(n)],
                "y": np.r_[a + e0, a + 0.5 + 2.0 * d + 0.5 * e0 + e1 * (1 + d)],
            }
        )
        r = dc.did(frame, outcome="y", treated="D", post="P", unit="id")
        hits += r.ci_low <= 2.0 <= r.ci_high
    assert 0.93 <= hits / REPS <= 0.97, hits / REPS
