"""Coarsened exact matching against a pandas reference and statsmodels' weighted fixed-effects regression."""

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

import deconfound as dc


def _frame(rng, n=600):
    x = rng.normal(size=n)
    g = rng.choice(["a", "b", "c"], n)
    t = rng.binomial(1, 1 / (1 + np.exp(-(x + (g == "a")))))
    y = 2 * x + t * 1.5 + (g == "b") + rng.normal(size=n)
    return pd.DataFrame({"x": x, "g": g, "t": t, "y": y})


def _reference(df, bins, estimand):
    edges = np.linspace(df.x.min(), df.x.max(), bins + 1)[1:-1]
    stratum = df.g + ":" + pd.Series(np.searchsorted(edges, df.x, side="right"), index=df.index).astype(str)
    counts = pd.crosstab(stratum, df.t)
    matched = counts.index[(counts[0] > 0) & (counts[1] > 0)]
    keep = stratum.isin(matched)
    n1, n0 = counts.loc[stratum, 1].to_numpy(), counts.loc[stratum, 0].to_numpy()
    t = df.t.to_numpy()
    m1, m0 = int((keep & (df.t == 1)).sum()), int((keep & (df.t == 0)).sum())
    with np.errstate(divide="ignore", invalid="ignore"):  # CEM weights, normalised as in cem / MatchIt
        if estimand == "ATT":
            w = np.where(t == 1, 1.0, n1 / n0 * m0 / m1)
        else:
            w = np.where(t == 1, (n1 + n0) / n1 * m1 / (m1 + m0), (n1 + n0) / n0 * m0 / (m1 + m0))
    w = np.where(keep, w, 0.0)
    sub = df.assign(w=w, s=stratum)[keep]
    est = np.average(sub.y[sub.t == 1], weights=sub.w[sub.t == 1]) - np.average(
        sub.y[sub.t == 0], weights=sub.w[sub.t == 0]
    )
    fit = smf.wls("y ~ t + C(s)", data=sub, weights=sub.w).fit(cov_type="HC1")
    return est, fit.params["t"], fit.bse["t"], int((~keep & (df.t == 1)).sum())


@pytest.mark.parametrize("estimand", ["ATT", "ATE"])
def test_cem_matches_reference(rng, estimand):
    df = _frame(rng)
    est, coef, se, dropped = _reference(df, 8, estimand)
    assert dropped > 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = dc.cem(df, outcome="y", treatment="t", covariates=["x", "g"], bins=8, estimand=estimand)
    assert any(f"{dropped} treated row(s) fell in strata without controls" in str(w.message) for w in caught)
    assert r.estimate == pytest.approx(est, rel=1e-10)
    assert r.estimate == pytest.approx(coef, rel=1e-9)
    assert r.std_error == pytest.approx(se, rel=1e-9)
    assert r.diagnostics["n_unmatched_treated"] == dropped
    assert abs(r.diagnostics["balance"].loc["x", "smd_after"]) < abs(r.diagnostics["balance"].loc["x", "smd_before"])


def test_cem_default_bins_are_sturges(rng):
    df = _frame(rng, 500)
    r = dc.cem(df, outcome="y", treatment="t", covariates=["x"])
    est, *_ = _reference(df.assign(g="z"), int(np.ceil(np.log2(500) + 1)), "ATT")
    assert r.estimate == pytest.approx(est, rel=1e-10)


def test_cem_cut_points_and_per_column_bins(rng):
    df = _frame(rng, 500)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dc.DiagnosticWarning)  # 4 coarse strata leave x imbalanced
        a = dc.cem(df, outcome="y", treatment="t", covariates=["x"], bins={"x": [-1.0, 0.0, 1.0]})
        b = dc.cem(df, outcome="y", treatment="t", covariates=["x"], bins=[-1.0, 0.0, 1.0])
    assert a.estimate == b.estimate
    assert a.diagnostics["n_strata"] == 4


def test_cem_with_too_fine_bins_is_an_error(rng):
    df = _frame(rng, 40)
    with pytest.raises(dc.DataError, match=r"Use fewer or coarser bins"):
        dc.cem(df, outcome="y", treatment="t", covariates=["x"], bins=10_000)


def test_cem_bins_for_unknown_column(rng):
    with pytest.raises(dc.SpecificationError, match=r"bins names \['z'\], which are not among the covariates"):
        dc.cem(_frame(rng, 100), outcome="y", treatment="t", covariates=["x"], bins={"z": 3})


def test_cem_counts_the_kept_units_and_says_the_question_changed(rng):
    # issue 11, item 4: n, n_treated and n_control used to count every row, matched or not
    df = _frame(rng)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = dc.cem(df, outcome="y", treatment="t", covariates=["x", "g"], bins=8)
    kept = r.diagnostics["weights"]["weight"] > 0
    treated = r.diagnostics["weights"]["treatment"] == 1
    assert r.n == int(kept.sum()) and r.n_treated == int((kept & treated).sum())
    assert r.n_control == int((kept & ~treated).sum())
    assert r.n_treated + r.diagnostics["n_unmatched_treated"] == int(treated.sum())
    assert any("so the question changed" in str(w.message) for w in caught)
