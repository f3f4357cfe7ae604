"""Event studies against pyfixest on the same data: the dynamic TWFE specification (binned endpoints),
and the Sun-Abraham interaction-weighted estimator rebuilt here from a pyfixest regression on
cohort x event-time dummies, averaged with each cohort's share of the rows at each event time."""

import warnings

import numpy as np
import pyfixest as pf
import pytest

import deconfound as dc

REL = 1e-6


@pytest.fixture(scope="module")
def panel():
    df = dc.datasets.simulate_panel(
        n_units=400, n_periods=9, cohorts=(3, 5, 7), dynamic=0.3, heterogeneity=0.4, random_state=11
    )
    df["unit_cl"] = df["unit"]  # see test_ref_twfe_pyfixest: pyfixest's cluster-name quirk
    df["w"] = np.random.default_rng(0).uniform(0.5, 2.0, len(df))
    df = df.drop(df.sample(frac=0.05, random_state=3).index)  # unbalanced
    return df.reset_index(drop=True)


def _fit(df, rhs, weights=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pf.feols(
            f"y ~ {rhs} | unit + time",
            data=df,
            vcov={"CRV1": "unit_cl"},
            weights=weights,
            demeaner=pf.MapDemeaner(fixef_tol=1e-13),
        )


def _ours(df, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dc.DeconfoundWarning)
        return dc.event_study(
            df,
            outcome="y",
            unit="unit",
            time="time",
            first_treated="first_treated",
            cluster="unit_cl",
            tol=1e-13,
            **kw,
        )


@pytest.mark.parametrize("weights", [None, "w"])
def test_twfe_event_study_matches_pyfixest(panel, weights):
    df = panel.copy()
    e = np.where(df["first_treated"] > 0, df["time"] - df["first_treated"], np.nan)
    e = np.clip(e, -3, 3)
    cols = []
    for k in (-3, -2, 0, 1, 2, 3):
        name = f"e{k + 10}"
        df[name] = (e == k).astype(float)
        cols.append(name)
    ref = _fit(df, " + ".join(cols), weights)
    r = _ours(panel, window=(-3, 3), weights=weights)
    c = r.coefficients
    assert c.keys["event_time"] == (-3.0, -2.0, 0.0, 1.0, 2.0, 3.0)
    np.testing.assert_allclose(c.coef, ref.coef().to_numpy(), rtol=REL)
    np.testing.assert_allclose(c.std_err, ref.se().to_numpy(), rtol=REL)
    # the joint pre-trend test, computed from pyfixest's coefficients and covariance
    b, v = ref.coef().to_numpy()[:2], ref._vcov[:2, :2]
    f_stat = float(b @ np.linalg.solve(v, b)) / 2
    assert r.diagnostics["pretrend_test"]["statistic"] == pytest.approx(f_stat, rel=REL)
    post = ref.coef().to_numpy()[2:]
    assert r.estimate == pytest.approx(post.mean(), rel=REL)
    a = np.r_[0, 0, np.full(4, 0.25)]
    assert r.std_error == pytest.approx(float(np.sqrt(a @ ref._vcov @ a)), rel=REL)


def test_sun_abraham_matches_interacted_pyfixest_regression(panel):
    df = panel.copy()
    e = np.where(df["first_treated"] > 0, df["time"] - df["first_treated"], np.nan)
    e = np.clip(e, -4, 4)
    cells, cols = [], []
    for c in (3, 5, 7):
        for k in sorted(set(e[(df["first_treated"] == c).to_numpy()])):
            if k == -1:
                continue
            name = f"c{c}_e{int(k) + 10}"
            df[name] = ((df["first_treated"] == c) & (e == k)).astype(float)
            cells.append((c, k))
            cols.append(name)
    ref = _fit(df, " + ".join(cols))
    coef, vcov = ref.coef().to_numpy(), ref._vcov
    times = sorted({k for _, k in cells})
    agg = np.zeros((len(times), len(cells)))
    for j, (c, k) in enumerate(cells):
        agg[times.index(k), j] = ((df["first_treated"] == c) & (e == k)).sum()
    agg /= agg.sum(axis=1, keepdims=True)
    r = _ours(panel, window=(-4, 4), estimator="sun-abraham")
    np.testing.assert_allclose(r.coefficients.coef, agg @ coef, rtol=REL)
    np.testing.assert_allclose(r.coefficients.std_err, np.sqrt(np.diag(agg @ vcov @ agg.T)), rtol=REL)
    cohort = r.diagnostics["cohort_effects"]
    np.testing.assert_allclose(cohort["estimate"].to_numpy(), coef, rtol=REL)
