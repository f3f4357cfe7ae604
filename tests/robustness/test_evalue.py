"""E-values against the worked examples of VanderWeele and Ding (2017, Annals of Internal Medicine 167(4))
and the EValue R package's documentation, and their defining property."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import deconfound as dc
from deconfound.robustness import e_value


@pytest.mark.parametrize(
    ("rr", "lo", "hi", "point", "ci"),
    [
        # smoking and lung cancer (Hammond and Horn 1958): RR 10.73 (8.02, 14.36) -> E-values 20.9 and 15.5
        (10.73, 8.02, 14.36, 20.9, 15.5),
        # breastfeeding and infant respiratory death (Victora et al. 1987): 3.9 (1.8, 8.7) -> 7.26 and 3.0
        (3.9, 1.8, 8.7, 7.26, 3.0),
        # a protective estimate (the paper's leukemia example): 0.80 (0.71, 0.91) -> 1.81 and 1.43
        (0.80, 0.71, 0.91, 1.81, 1.43),
    ],
)
def test_published_risk_ratio_examples(rr, lo, hi, point, ci):
    result = e_value(rr, lo, hi)
    assert result.statistic == pytest.approx(point, abs=0.05)  # published to one or two decimals
    assert result["e_value_ci"] == pytest.approx(ci, abs=0.05)
    assert "risk ratio of at least" in result["text"]


def test_the_e_value_is_the_smallest_confounding_that_explains_the_estimate_away():
    """Ding and VanderWeele's bounding factor B = RR_UD RR_EU / (RR_UD + RR_EU - 1) with both associations equal
    to E reaches the observed RR exactly at the E-value and stays below it for anything weaker."""
    for rr in (1.3, 2.0, 4.5, 0.6):
        e = e_value(rr).statistic
        bound = e * e / (2 * e - 1)
        assert bound == pytest.approx(max(rr, 1 / rr), rel=1e-12)
        weaker = e * 0.99
        assert weaker * weaker / (2 * weaker - 1) < max(rr, 1 / rr)


def test_odds_and_hazard_ratios_of_a_common_outcome_are_converted():
    # a common outcome's odds ratio goes to the risk-ratio scale by its square root (VanderWeele 2017)
    common = e_value(0.86, 0.75, 0.99, measure="OR")
    assert common["risk_ratio"] == pytest.approx(math.sqrt(0.86), rel=1e-12)
    rare = e_value(3.9, 1.8, 8.7, measure="OR", rare=True)  # EValue's vignette: the same as the RR 3.9
    assert rare.statistic == pytest.approx(e_value(3.9, 1.8, 8.7).statistic, rel=1e-12)
    hazard = e_value(0.56, 0.46, 0.69, measure="HR")
    converted = (1 - 0.5 ** math.sqrt(0.56)) / (1 - 0.5 ** math.sqrt(1 / 0.56))
    assert hazard["risk_ratio"] == pytest.approx(converted, rel=1e-12)
    assert hazard["risk_ratio_ci"][1] < 1 and hazard["e_value_ci"] > 1


def test_an_interval_that_contains_the_null_needs_no_confounding():
    result = e_value(1.4, 0.9, 2.1)
    assert result["e_value_ci"] == 1.0
    assert "already includes" in result["text"]


def test_a_difference_is_standardized_by_the_outcome_sd():
    # VanderWeele and Ding, section 6: RR ~ exp(0.91 d), interval exp(0.91 d -+ 1.78 se_d)
    result = e_value(0.5, measure="difference", sd=1.0, se=0.2)
    assert result["risk_ratio"] == pytest.approx(math.exp(0.455), rel=1e-12)
    assert result["risk_ratio_ci"][0] == pytest.approx(math.exp(0.455 - 0.356), rel=1e-12)
    lower = math.exp(0.455 - 0.356)
    assert result["e_value_ci"] == pytest.approx(lower + math.sqrt(lower * (lower - 1)), rel=1e-12)


def test_an_estimate_from_the_library():
    df = dc.datasets.heart_attack()
    fit = dc.ols(df, outcome="Severity", treatment="Drug", covariates=["I.H"])
    sd = float(df["Severity"].std())
    result = e_value(fit, measure="difference", sd=sd)
    d = fit.estimate / sd
    assert result["risk_ratio"] == pytest.approx(np.exp(0.91 * d), rel=1e-12)
    assert result.statistic > 1
    assert result.to_dict()["e_value"] == result.statistic
    with pytest.raises(dc.SpecificationError, match=r"sd=df\['Severity'\]\.std\(\)"):
        e_value(fit, measure="difference")
    with pytest.raises(dc.SpecificationError, match=r"measure='difference'"):
        e_value(fit)


def test_bad_input_is_named():
    with pytest.raises(dc.SpecificationError, match=r"estimate must be a positive finite ratio"):
        e_value(-2.0)
    with pytest.raises(dc.SpecificationError, match=r"measure='logit' is not known"):
        e_value(2.0, measure="logit")
    with pytest.raises(dc.SpecificationError, match=r"must contain the estimate"):
        e_value(2.0, 2.5, 3.0)
    with pytest.raises(dc.SpecificationError, match=r"sd= and se= are for measure='difference'"):
        e_value(2.0, sd=1.0)
    with pytest.raises(dc.SpecificationError, match=r"pass se= \(not lower=/upper=\)"):
        e_value(0.3, 0.1, 0.5, measure="difference", sd=1.0)
    with pytest.raises(dc.SpecificationError, match=r"lower must be a number"):
        e_value(2.0, pd.Series([1.0, 2.0]), 3.0)
