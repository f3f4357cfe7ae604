"""The verdict: a status for every estimate and one recommended estimate, by the documented rule."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

import deconfound as dc
from deconfound.results import Estimate
from deconfound.verdict import assess, decimals_for, round_by_se, verdict


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _estimate(method="ipw", estimate=-1.0, se=0.5, **kw):
    return Estimate(
        method=method,
        estimand=kw.pop("estimand", "ATE"),
        estimate=estimate,
        std_error=se,
        n=kw.pop("n", 100),
        n_treated=kw.pop("n_treated", 50),
        n_control=50,
        treatment="T",
        outcome="Y",
        **kw,
    )


def _balance(smd_after: float) -> pd.DataFrame:
    return pd.DataFrame({"smd_before": [0.9], "smd_after": [smd_after]}, index=pd.Index(["x"], name="covariate"))


# --------------------------------------------------------------------------------------------------
# the three designs of the issue
# --------------------------------------------------------------------------------------------------


def test_article_headline_recommends_regression_and_sets_ipw_aside(heart):
    model = dc.CausalModel(heart, "Drug", "Severity", graph="I.H -> Drug; I.H -> Severity; Drug -> Severity")
    result = verdict(_quiet(model.compare), design="cross-section", confounders=["I.H"], estimand="ATE")
    rec = result.recommended
    assert rec.method == "lin" and rec.ci_low <= -9.9 <= rec.ci_high
    assert "lowers 'Severity' by about 9.9" in result.headline
    assert "range from" not in result.headline
    ipw = result.status_of("ipw")
    assert ipw.status == "set aside" and "balance on 'I.H' was not reached" in ipw.reasons[0]
    naive = result.status_of("naive")
    assert naive.status == "set aside" and "'I.H'" in naive.reasons[0]
    assert "Difference in means (3.5)" in result.headline  # rounded by the recommended standard error
    for name in ("Regression adjustment (OLS)", "Augmented inverse probability weighting (doubly robust)"):
        assert name in result.agree
    assert result.status_of("aipw").status == "caution"  # doubly robust: the outcome model corrects


def test_randomized_trial_recommends_the_difference_in_means():
    rng = np.random.default_rng(7)
    n = 2_000
    x = rng.normal(size=n)
    t = rng.integers(0, 2, size=n)
    df = pd.DataFrame({"x": x, "t": t, "y": 2.0 * t + x + rng.normal(size=n)})
    model = dc.CausalModel(df, "t", "y", covariates=["x"], design="rct")
    result = verdict(_quiet(model.compare), design="rct", confounders=["x"], estimand="ATE")
    assert result.recommended.method == "naive"
    assert result.status_of("naive").status == "supported"
    assert abs(result.recommended.estimate - 2.0) < 4 * result.recommended.std_error


def test_staggered_panel_recommends_callaway_santanna_over_twfe():
    panel = dc.datasets.simulate_panel(dynamic=0.3, random_state=1)
    model = dc.CausalModel(panel, "treated", "y", design="panel", unit="unit", time="time")
    result = verdict(_quiet(model.compare), design="panel")
    assert result.recommended.method == "staggered"
    twfe = result.status_of("twfe")
    assert twfe.status == "set aside" and "Goodman-Bacon" in twfe.reasons[0]
    assert "Set aside: Two-way fixed effects" in result.headline


# --------------------------------------------------------------------------------------------------
# each check, on its own
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("smd", "status"), [(0.05, "supported"), (0.15, "caution"), (-0.3, "set aside")])
def test_balance_thresholds(smd, status):
    assert assess(_estimate(diagnostics={"balance": _balance(smd)})).status == status


def test_balance_only_cautions_a_doubly_robust_estimate():
    found = assess(_estimate("aipw", diagnostics={"balance": _balance(0.6)}))
    assert found.status == "caution" and "outcome model" in found.reasons[0]


@pytest.mark.parametrize(("p", "status"), [(0.5, "supported"), (0.07, "caution"), (0.01, "set aside")])
def test_pretrend_thresholds_read_dicts(p, status):
    test = {"statistic": 1.0, "p_value": p, "applicable": True}
    assert assess(_estimate("event-study", diagnostics={"pretrend_test": test})).status == status


def test_a_pretrend_test_that_does_not_apply_is_ignored():
    test = {"applicable": False, "reason": "no pre-periods"}
    assert assess(_estimate("event-study", diagnostics={"pretrend_test": test})).status == "supported"


def test_dropped_rows_unmatched_units_and_missing_standard_errors():
    assert "rows were dropped" in assess(_estimate(n=80, n_dropped=20)).reasons[0]
    few = assess(_estimate("psm", diagnostics={"n_unmatched_by_group": {"treated": 5}}))
    assert few.status == "caution" and "5 treated units" in few.reasons[0]
    most = assess(_estimate("cem", n_treated=10, diagnostics={"n_unmatched_treated": 40}))  # CEM: n_treated = kept
    assert most.status == "set aside"
    assert "no standard error" in assess(_estimate(se=float("nan"))).reasons[0]


def test_effective_sample_size_and_overlap():
    weights = pd.DataFrame({"ess_share": [0.05, 0.5]}, index=pd.Index(["treated", "control"], name="group"))
    assert "effective sample of 5%" in assess(_estimate(diagnostics={"weight_summary": weights})).reasons[0]
    overlap = pd.DataFrame({"share_outside_other": [0.3, 0.0]}, index=pd.Index(["treated", "control"], name="group"))
    assert "30% of the treated units" in assess(_estimate(diagnostics={"overlap": overlap})).reasons[0]


def test_no_usable_estimate_says_so():
    result = verdict([_estimate(diagnostics={"balance": _balance(0.9)})])
    assert result.recommended is None and result.headline.startswith("No estimate can be recommended")


def test_caution_only_is_said_in_the_headline():
    result = verdict([_estimate("ols", n=80, n_dropped=20)])
    assert result.recommended is not None and "No estimate passed every check" in result.headline


def test_assumed_identification_is_said():
    result = verdict([_estimate("ols")], identification="assumed")
    assert "assumes the covariates are the only confounders" in result.headline


def test_to_dict_is_plain():
    import json

    result = verdict([_estimate("ols"), _estimate("ipw", diagnostics={"balance": _balance(0.9)})])
    out = json.loads(json.dumps(result.to_dict()))
    assert out["recommended_method"] == "ols"
    assert [a["status"] for a in out["assessments"]] == ["supported", "set aside"]


@pytest.mark.parametrize(("se", "digits"), [(0.35, 1), (3.0, 0), (0.0042, 3), (12.0, 0), (float("nan"), 2)])
def test_decimals_follow_the_standard_error(se, digits):
    assert decimals_for(se) == digits


def test_rounding_never_prints_minus_zero():
    assert round_by_se(-0.04, 1) == "0.0"
    assert round_by_se(-9.8851, 1) == "-9.9"
    assert round_by_se(math.inf, 1) == "n/a"


def test_a_warning_no_check_covers_is_a_caution():
    found = assess(_estimate("ols", warnings=("The outcome has few distinct values. Consider a count model.",)))
    assert found.status == "caution" and found.reasons == ("The outcome has few distinct values",)


def test_model_summary_leads_with_the_verdict(heart):
    model = dc.CausalModel(heart, "Drug", "Severity", graph="I.H -> Drug; I.H -> Severity; Drug -> Severity")
    text = str(_quiet(model.summary))
    lead = " ".join(text.split("=" * 78, 2)[1].split())  # the lead is wrapped at 78 columns
    assert "lowers 'Severity' by about 9.9" in lead and "Set aside:" in lead
    assert "Identified by:" in text and "graph" in text
    assumed = str(_quiet(dc.CausalModel(heart, "Drug", "Severity", covariates=["I.H"]).summary, methods=["ols"]))
    assumed = " ".join(assumed.split())
    assert "assumes the covariates are the only confounders" in assumed
