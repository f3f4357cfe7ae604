"""Panel regression: fixed effects remove unit-level confounding, random effects do not."""

import warnings

import numpy as np
import pandas as pd
import pytest

import deconfound as dc


def _confounded(n_units=400, n_periods=6, corr=1.0, seed=0):
    rng = np.random.default_rng(seed)
    alpha = rng.normal(size=n_units)
    unit = np.repeat(np.arange(n_units), n_periods)
    time = np.tile(np.arange(n_periods), n_units)
    dose = corr * alpha[unit] + rng.normal(size=len(unit))
    y = 2.0 * alpha[unit] + 0.5 * dose + 0.1 * time + rng.normal(size=len(unit))
    return pd.DataFrame({"unit": unit, "time": time, "dose": dose, "y": y})


@pytest.mark.parametrize("model", ["within", "first-difference"])
def test_unit_effects_are_removed(model):
    df = _confounded()
    r = dc.panel_regression(df, outcome="y", treatment="dose", unit="unit", time="time", model=model)
    assert abs(r.estimate - 0.5) < 4 * r.std_error
    assert r.estimand == "ATE (per unit)" and r.method == "panel"


def test_random_effects_is_biased_under_correlated_effects_but_fine_without():
    bad = dc.panel_regression(
        _confounded(), outcome="y", treatment="dose", unit="unit", time="time", model="random-effects"
    )
    assert bad.estimate - 0.5 > 5 * bad.std_error
    good = dc.panel_regression(
        _confounded(corr=0.0, seed=1), outcome="y", treatment="dose", unit="unit", time="time", model="random-effects"
    )
    assert abs(good.estimate - 0.5) < 4 * good.std_error
    assert 0 < good.diagnostics["theta_median"] < 1
    assert good.coefficients.names[0] == "const"


def test_options_and_refusals():
    df = _confounded(n_units=50)
    df["w"] = 1.0
    with pytest.raises(dc.SpecificationError, match="weights is supported by model='within' only"):
        dc.panel_regression(
            df, outcome="y", treatment="dose", unit="unit", time="time", model="first-difference", weights="w"
        )
    with pytest.raises(dc.SpecificationError, match="model='fe' is not allowed"):
        dc.panel_regression(df, outcome="y", treatment="dose", unit="unit", time="time", model="fe")
    df["trait"] = df["unit"] % 2
    with pytest.raises(dc.CollinearityError, match="'trait' does not vary within the fixed effects"):
        dc.panel_regression(df, outcome="y", treatment="trait", unit="unit", time="time")
    r = dc.panel_regression(
        df, outcome="y", treatment="dose", unit="unit", time="time", time_effects=True, cov_type="HC1"
    )
    assert r.coefficients.stats["fixed_effects"] == {"unit": 50, "time": 6}
    assert any("HC1" in n for n in r.notes)
    gaps = df[~((df["time"] == 3) & (df["unit"] < 10))]
    fd = dc.panel_regression(gaps, outcome="y", treatment="dose", unit="unit", time="time", model="first-difference")
    assert fd.n == 50 * 5 - 20


def _article_did():
    df = dc.datasets.heart_attack_panel()
    df["Drug_x_Post"] = df["Drug"] * df["Post"]
    return df


def test_first_differences_without_period_effects_give_the_treated_groups_own_change():
    """The trap (issue 11): without period effects the common trend (+3) is read as an effect."""
    df = _article_did()
    roles = dict(outcome="Severity", treatment="Drug_x_Post", unit="patient", time="Post")
    plain = dc.panel_regression(df, model="first-difference", **roles)
    means = df.groupby(["Drug", "Post"])["Severity"].mean()
    assert plain.estimate == pytest.approx(means[1, 1] - means[1, 0], rel=1e-9)  # the treated change only
    fd = dc.panel_regression(df, model="first-difference", time_effects=True, **roles)
    twfe = dc.twfe(df, **roles)
    assert fd.estimate == pytest.approx(twfe.estimate, rel=1e-9)
    did = (means[1, 1] - means[1, 0]) - (means[0, 1] - means[0, 0])
    assert fd.estimate == pytest.approx(did, rel=1e-9) and fd.diagnostics["period_effects"] == "Post"


def test_did_comparison_keeps_first_differences_and_sets_random_effects_aside_by_the_mundlak_test():
    df = _article_did()
    model = dc.CausalModel(df, "Drug_x_Post", "Severity", design="panel", unit="patient", time="Post")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        comparison = model.compare(["twfe", "first-difference", "random-effects"])
    verdict = comparison.verdict
    fd, re = "Panel regression (first differences, period effects)", "Panel regression (random effects, period effects)"
    assert verdict.status_of(fd).status == "supported"
    assert comparison[fd].estimate == pytest.approx(comparison["twfe"].estimate, rel=1e-9)
    random_effects = verdict.status_of(re)
    assert random_effects.status == "set aside" and "Mundlak test" in random_effects.reasons[0]
