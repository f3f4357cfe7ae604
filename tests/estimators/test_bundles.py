"""Option bundles: PropensityOptions and MatchingSE are another way to pass the keywords they stand for."""

from __future__ import annotations

import pytest

import deconfound as dc

ROLES = {"outcome": "Severity", "treatment": "Drug", "covariates": ["I.H"]}


def _run(method, data, **options):
    if method is dc.ipw:  # on these data the weighted covariate stays imbalanced, and ipw says so
        with pytest.warns(dc.DiagnosticWarning, match="remain imbalanced"):
            return method(data, **ROLES, **options)
    return method(data, **ROLES, **options)


@pytest.mark.parametrize("method", [dc.matching, dc.ipw, dc.aipw, dc.overlap_weights])
def test_propensity_options_equal_their_keywords(heart, method):
    keywords = {"propensity_model": "logistic", "cross_fit": None, "trim": 0.02, "random_state": 7}
    bundle = dc.PropensityOptions(model="logistic", cross_fit=None, trim=0.02, random_state=7)
    assert bundle.keywords() == {**keywords, "propensity_covariates": None, "n_jobs": None, "trim_refit": True}
    by_keywords = _run(method, heart, **keywords)
    by_bundle = _run(method, heart, propensity=bundle)
    assert by_bundle.estimate == by_keywords.estimate
    assert by_bundle.std_error == by_keywords.std_error
    assert by_bundle.estimate != _run(method, heart).estimate  # the settings did reach the estimator


def test_matching_se_equals_its_keywords(heart):
    keywords = {"vce_neighbors": 3, "vce_convention": "ai2006", "se_adjust": False, "se_imputation": "regression"}
    bundle = dc.MatchingSE(neighbors=3, convention="ai2006", adjust=False, imputation="regression")
    assert bundle.keywords() == keywords
    by_keywords = dc.matching(heart, **ROLES, **keywords)
    by_bundle = dc.matching(heart, **ROLES, se=bundle)
    assert by_bundle.std_error == by_keywords.std_error
    assert by_bundle.std_error != dc.matching(heart, **ROLES).std_error


def test_bundle_and_keyword_together_are_refused(heart):
    with pytest.raises(dc.SpecificationError, match=r"trim= and propensity= were both given; set trim= in propensity="):
        dc.ipw(heart, **ROLES, trim=0.05, propensity=dc.PropensityOptions(model="gbm"))
    with pytest.raises(dc.SpecificationError, match=r"se_adjust= and se= were both given; set adjust= in se="):
        dc.matching(heart, **ROLES, se_adjust=False, se=dc.MatchingSE())
    with pytest.raises(dc.SpecificationError, match=r"propensity= must be a PropensityOptions\(...\), got dict"):
        dc.matching(heart, **ROLES, propensity={"model": "gbm"})


def test_bundle_values_are_checked_like_keywords(heart):
    with pytest.raises(dc.SpecificationError, match="vce_convention='iid' is not allowed"):
        dc.matching(heart, **ROLES, se=dc.MatchingSE(convention="iid"))
    with pytest.raises(dc.SpecificationError, match="propensity_model='xgboost' is not allowed"):
        dc.aipw(heart, **ROLES, propensity=dc.PropensityOptions(model="xgboost"))


def test_model_passes_bundles_on(heart):
    model = dc.CausalModel(heart, "Drug", "Severity", covariates=["I.H"])
    bundle = dc.PropensityOptions(trim=0.05)
    assert model.estimate("aipw", propensity=bundle).estimate == dc.aipw(heart, **ROLES, trim=0.05).estimate
