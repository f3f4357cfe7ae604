"""Callaway-Sant'Anna on unbalanced panels (every unit kept) and on repeated cross-sections, against the csdid
package (a port of R's `did`) with allow_unbalanced_panel=True / panel=False, live: ATT(g, t), their analytic
standard errors and every aggregation agree to 1e-8 relative, for never-treated and not-yet-treated controls,
varying and universal base periods, with weights and clustering, and with a time-varying covariate by the
repeated-cross-section estimators (csdid's est_method "reg", "ipw" and "dr": DRDID's reg_did_rc,
std_ipw_did_rc and drdid_rc)."""

import warnings

import csdid.att_gt as csdid
import numpy as np
import pandas as pd
import pytest

import deconfound as dc

REL = 1e-8


@pytest.fixture(scope="module")
def balanced():
    df = dc.datasets.simulate_panel(
        n_units=300, n_periods=7, cohorts=(3, 5, 6), dynamic=0.3, heterogeneity=0.5, random_state=4
    )
    rng = np.random.default_rng(1)
    df["w"] = rng.uniform(0.5, 2.0, 300)[df["unit"]]
    df["state"] = df["unit"] // 10
    df["x"] = df["x"] + rng.normal(scale=0.5, size=len(df))  # varies within units: each row's own period counts
    return df


@pytest.fixture(scope="module")
def unbalanced(balanced):
    rng = np.random.default_rng(0)
    return balanced[rng.random(len(balanced)) > 0.15].reset_index(drop=True)


@pytest.fixture(scope="module")
def cross_sections(balanced):
    """Every row its own observation (a new id per row), as repeated cross-sections would be."""
    rng = np.random.default_rng(2)
    out = balanced[rng.random(len(balanced)) > 0.3].reset_index(drop=True)
    return out.assign(unit=np.arange(len(out)), w=rng.uniform(0.5, 2.0, len(out)))


def _pair(data, kind, control, base, aggregate=None, covariate=False, est_method="dr", **kw):
    flags = {"unbalanced": {"allow_unbalanced_panel": True}, "rc": {"panel": False}}[kind]
    theirs_kw = {k: v for k, v in kw.items() if k in ("weights_name", "clustervar")}
    ours_kw = {"weights": kw.get("weights_name"), "cluster": kw.get("clustervar")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = csdid.ATTgt(
            yname="y",
            gname="first_treated",
            idname="unit",
            tname="time",
            xformla="y~x" if covariate else "y~1",
            data=data,
            control_group=control[0],
            **flags,
            **theirs_kw,
        ).fit(est_method=est_method, base_period=base, bstrap=False)
        ours = dc.staggered(
            data,
            outcome="y",
            unit=None if kind == "rc" else "unit",
            time="time",
            first_treated="first_treated",
            control_group=control[1],
            base_period=base,
            aggregate=aggregate or "simple",
            covariates=["x"] if covariate else None,
            est_method=est_method,
            **flags,
            **ours_kw,
        )
    return ref, ours


CONTROLS = [("nevertreated", "never"), ("notyettreated", "not-yet")]


@pytest.mark.parametrize("kind", ["unbalanced", "rc"])
@pytest.mark.parametrize("control", CONTROLS)
@pytest.mark.parametrize("base", ["varying", "universal"])
def test_group_time_effects_match_csdid(request, kind, control, base):
    data = request.getfixturevalue("unbalanced" if kind == "unbalanced" else "cross_sections")
    ref, r = _pair(data, kind, control, base)
    theirs = pd.DataFrame(
        {"group": ref.results["group"], "time": ref.results["year"], "att": ref.results["att"], "se": ref.results["se"]}
    )
    merged = theirs.merge(r.diagnostics["group_time"], on=["group", "time"], validate="one_to_one")
    assert len(merged) == len(theirs) == len(r.diagnostics["group_time"])
    np.testing.assert_allclose(merged["estimate"], merged["att"], rtol=REL, atol=1e-12)
    np.testing.assert_allclose(merged["std_error"], merged["se"].fillna(0.0), rtol=REL, atol=1e-12)
    assert r.n == len(data)  # no row dropped
    assert any(("unbalanced panel" if kind == "unbalanced" else "repeated cross-sections") in n for n in r.notes)


@pytest.mark.parametrize("kind", ["unbalanced", "rc"])
@pytest.mark.parametrize(
    ("theirs", "ours"), [("simple", "simple"), ("dynamic", "event"), ("group", "group"), ("calendar", "calendar")]
)
def test_aggregations_match_csdid(request, kind, theirs, ours):
    data = request.getfixturevalue("unbalanced" if kind == "unbalanced" else "cross_sections")
    ref, r = _pair(data, kind, CONTROLS[1], "varying", aggregate=ours)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        agg = ref.aggte(typec=theirs, bstrap=False)
    assert r.estimate == pytest.approx(agg.atte["overall_att"], rel=REL)
    assert r.std_error == pytest.approx(agg.atte["overall_se"], rel=REL)
    if ours != "simple":
        table = r.diagnostics["aggregation"]
        np.testing.assert_allclose(table["estimate"], np.asarray(agg.atte["att_egt"], dtype=float), rtol=REL)
        se = np.nan_to_num(np.asarray(agg.atte["se_egt"], dtype=float).ravel())
        np.testing.assert_allclose(table["std_error"], se, rtol=REL, atol=1e-12)


@pytest.mark.parametrize("kind", ["unbalanced", "rc"])
def test_weights_and_clusters_match_csdid(request, kind):
    data = request.getfixturevalue("unbalanced" if kind == "unbalanced" else "cross_sections")
    ref, r = _pair(data, kind, CONTROLS[0], "varying", aggregate="event", weights_name="w", clustervar="state")
    np.testing.assert_allclose(r.diagnostics["group_time"]["estimate"], ref.results["att"], rtol=REL)
    np.testing.assert_allclose(r.diagnostics["group_time"]["std_error"], ref.results["se"], rtol=REL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        agg = ref.aggte(typec="dynamic", bstrap=False)
    assert r.std_error == pytest.approx(agg.atte["overall_se"], rel=REL)


@pytest.mark.parametrize("kind", ["unbalanced", "rc"])
@pytest.mark.parametrize("est_method", ["reg", "ipw", "dr"])
def test_covariates_match_csdid(request, kind, est_method):
    data = request.getfixturevalue("unbalanced" if kind == "unbalanced" else "cross_sections")
    ref, r = _pair(data, kind, CONTROLS[1], "varying", aggregate="event", covariate=True, est_method=est_method,
                   weights_name="w")  # fmt: skip
    np.testing.assert_allclose(r.diagnostics["group_time"]["estimate"], ref.results["att"], rtol=REL)
    np.testing.assert_allclose(r.diagnostics["group_time"]["std_error"], ref.results["se"], rtol=REL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        agg = ref.aggte(typec="dynamic", bstrap=False)
    assert r.estimate == pytest.approx(agg.atte["overall_att"], rel=REL)
    assert r.std_error == pytest.approx(agg.atte["overall_se"], rel=REL)


def test_unbalanced_flag_on_a_balanced_panel_is_the_panel_estimator(balanced):
    a = dc.staggered(balanced, outcome="y", unit="unit", time="time", first_treated="first_treated")
    b = dc.staggered(
        balanced, outcome="y", unit="unit", time="time", first_treated="first_treated", allow_unbalanced_panel=True
    )
    assert (a.estimate, a.std_error) == (b.estimate, b.std_error)


def test_unsupported_combinations_are_refused(unbalanced):
    base = dict(outcome="y", unit="unit", time="time", first_treated="first_treated")
    constant = unbalanced.assign(c=1.0)
    with pytest.raises(dc.DataError, match="collinear"):
        dc.staggered(constant, **base, covariates=["c"], allow_unbalanced_panel=True, est_method="reg")
    with pytest.raises(dc.SpecificationError, match="needs first_treated="):
        dc.staggered(unbalanced, outcome="y", time="time", treatment="treated", panel=False)
    with pytest.raises(dc.SpecificationError, match="panel must be True or False"):
        dc.staggered(unbalanced, **base, panel="no")
    with pytest.warns(dc.DataWarning, match="not observed in every period were dropped"):
        dc.staggered(unbalanced, **base)  # the default still balances, and says so
