"""Callaway-Sant'Anna group-time effects against the csdid package (a port of R's `did`), live.

ATT(g, t), their analytic standard errors, the Wald pre-test, and every aggregation (simple, event
time, cohort, calendar) with its standard error agree to 1e-8 relative, for never-treated and
not-yet-treated controls, varying and universal base periods, without and with a covariate (outcome
regression, inverse probability weighting and the doubly robust estimator: csdid's est_method "reg", "ipw"
and "dr"), with unit weights and clustering beyond the unit.

With a universal base period, the base cell's effect is 0 by construction: csdid reports its standard
error as NaN, we report 0; the comparison maps one to the other.
"""

import warnings

import csdid.att_gt as csdid
import numpy as np
import pandas as pd
import pytest

import deconfound as dc

REL = 1e-8


@pytest.fixture(scope="module")
def panel():
    df = dc.datasets.simulate_panel(
        n_units=300, n_periods=7, cohorts=(3, 5, 6), dynamic=0.3, heterogeneity=0.5, confounding=0.5, random_state=4
    )
    rng = np.random.default_rng(1)
    df["w"] = rng.uniform(0.5, 2.0, 300)[df["unit"]]
    df["state"] = df["unit"] // 10
    return df


def _csdid(df, control, base, xformla, est_method="reg", **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = csdid.ATTgt(
            yname="y",
            gname="first_treated",
            idname="unit",
            tname="time",
            xformla=xformla,
            data=df,
            control_group=control,
            **kw,
        )
        return model.fit(est_method=est_method, base_period=base, bstrap=False)


def _ours(df, control, base, covariates, est_method="reg", **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dc.DiagnosticWarning)
        return dc.staggered(
            df,
            outcome="y",
            unit="unit",
            time="time",
            first_treated="first_treated",
            control_group=control,
            base_period=base,
            covariates=covariates,
            est_method=est_method,
            **kw,
        )


SETTINGS = [
    (control, base, xformla, cov)
    for control in (("nevertreated", "never"), ("notyettreated", "not-yet"))
    for base in ("varying", "universal")
    for xformla, cov in (("y~1", None), ("y~x", ["x"]))
]


@pytest.mark.parametrize(("control", "base", "xformla", "cov"), SETTINGS)
def test_group_time_effects_and_pretest_match_csdid(panel, control, base, xformla, cov):
    ref = _csdid(panel, control[0], base, xformla)
    r = _ours(panel, control[1], base, cov)
    theirs = pd.DataFrame(
        {"group": ref.results["group"], "time": ref.results["year"], "att": ref.results["att"], "se": ref.results["se"]}
    )
    ours = r.diagnostics["group_time"]
    merged = theirs.merge(ours, on=["group", "time"], validate="one_to_one")
    assert len(merged) == len(theirs) == len(ours)
    np.testing.assert_allclose(merged["estimate"], merged["att"], rtol=REL, atol=1e-12)
    np.testing.assert_allclose(merged["std_error"], merged["se"].fillna(0.0), rtol=REL, atol=1e-12)
    assert r.diagnostics["pretrend_test"]["chi2"] == pytest.approx(ref.MP["W"], rel=REL)
    np.testing.assert_allclose(r.coefficients.coef, ours["estimate"])


@pytest.mark.parametrize(("control", "base", "xformla", "cov"), SETTINGS[::3])
@pytest.mark.parametrize(
    ("theirs", "ours"), [("simple", "simple"), ("dynamic", "event"), ("group", "group"), ("calendar", "calendar")]
)
def test_aggregations_match_csdid(panel, control, base, xformla, cov, theirs, ours):
    ref = _csdid(panel, control[0], base, xformla)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        agg = ref.aggte(typec=theirs, bstrap=False)
    r = _ours(panel, control[1], base, cov, aggregate=ours)
    assert r.estimate == pytest.approx(agg.atte["overall_att"], rel=REL)
    assert r.std_error == pytest.approx(agg.atte["overall_se"], rel=REL)
    if ours != "simple":
        table = r.diagnostics["aggregation"]
        np.testing.assert_allclose(
            table["estimate"], np.asarray(agg.atte["att_egt"], dtype=float), rtol=REL, atol=1e-12
        )
        se = np.nan_to_num(np.asarray(agg.atte["se_egt"], dtype=float).ravel())
        np.testing.assert_allclose(table["std_error"], se, rtol=REL, atol=1e-12)
        np.testing.assert_allclose(table.iloc[:, 0], np.asarray(agg.atte["egt"], dtype=float))


def test_weights_and_cluster_match_csdid(panel):
    ref = _csdid(panel, "notyettreated", "varying", "y~x", weights_name="w", clustervar="state")
    r = _ours(panel, "not-yet", "varying", ["x"], weights="w", cluster="state")
    np.testing.assert_allclose(r.diagnostics["group_time"]["estimate"], ref.results["att"], rtol=REL)
    np.testing.assert_allclose(r.diagnostics["group_time"]["std_error"], ref.results["se"], rtol=REL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        agg = ref.aggte(typec="dynamic", bstrap=False)
    e = _ours(panel, "not-yet", "varying", ["x"], weights="w", cluster="state", aggregate="event")
    assert e.std_error == pytest.approx(agg.atte["overall_se"], rel=REL)


@pytest.mark.parametrize("base", ["varying", "universal"])
def test_anticipation_matches_csdid(panel, base):
    ref = _csdid(panel, "nevertreated", base, "y~1", anticipation=1)
    r = _ours(panel, "never", base, None, anticipation=1)
    theirs = pd.DataFrame(
        {"group": ref.results["group"], "time": ref.results["year"], "att": ref.results["att"], "se": ref.results["se"]}
    )
    merged = theirs.merge(r.diagnostics["group_time"], on=["group", "time"], validate="one_to_one")
    assert len(merged) == len(theirs) == len(r.diagnostics["group_time"])
    np.testing.assert_allclose(merged["estimate"], merged["att"], rtol=REL, atol=1e-12)
    np.testing.assert_allclose(merged["std_error"], merged["se"].fillna(0.0), rtol=REL, atol=1e-12)


@pytest.mark.parametrize("est_method", ["dr", "ipw"])
@pytest.mark.parametrize("control", [("nevertreated", "never"), ("notyettreated", "not-yet")])
@pytest.mark.parametrize("base", ["varying", "universal"])
def test_doubly_robust_and_ipw_cells_match_csdid(panel, est_method, control, base):
    ref = _csdid(panel, control[0], base, "y~x", est_method=est_method)
    r = _ours(panel, control[1], base, ["x"], est_method=est_method)
    theirs = pd.DataFrame(
        {"group": ref.results["group"], "time": ref.results["year"], "att": ref.results["att"], "se": ref.results["se"]}
    )
    merged = theirs.merge(r.diagnostics["group_time"], on=["group", "time"], validate="one_to_one")
    assert len(merged) == len(theirs)
    np.testing.assert_allclose(merged["estimate"], merged["att"], rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(merged["std_error"], merged["se"].fillna(0.0), rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("est_method", ["dr", "ipw"])
def test_doubly_robust_and_ipw_with_weights_clusters_and_aggregation_match_csdid(panel, est_method):
    ref = _csdid(panel, "notyettreated", "varying", "y~x", est_method=est_method, weights_name="w", clustervar="state")
    r = _ours(panel, "not-yet", "varying", ["x"], est_method=est_method, weights="w", cluster="state")
    np.testing.assert_allclose(r.diagnostics["group_time"]["estimate"], ref.results["att"], rtol=1e-6)
    np.testing.assert_allclose(r.diagnostics["group_time"]["std_error"], ref.results["se"], rtol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        agg = ref.aggte(typec="dynamic", bstrap=False)
    e = _ours(
        panel, "not-yet", "varying", ["x"], est_method=est_method, weights="w", cluster="state", aggregate="event"
    )
    assert e.estimate == pytest.approx(agg.atte["overall_att"], rel=1e-6)
    assert e.std_error == pytest.approx(agg.atte["overall_se"], rel=1e-6)


def test_without_covariates_the_three_estimators_coincide(panel):
    fits = [_ours(panel, "never", "varying", None, est_method=m) for m in ("dr", "ipw", "reg")]
    assert fits[0].estimate == fits[1].estimate == fits[2].estimate
    assert fits[0].std_error == fits[1].std_error == fits[2].std_error
