"""Cinelli-Hazlett benchmark bounds on the Darfur data (the paper's Table 3 / sensemakr's printed example) and
Rosenbaum bounds for matched pairs (scipy's signed-rank test at Gamma = 1, brute-force enumeration above it)."""

from __future__ import annotations

import itertools
from importlib import resources

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import deconfound as dc
from deconfound.robustness import ovb_bounds, rosenbaum_bounds

COVARIATES = ["age", "farmer_dar", "herder_dar", "pastvoted", "hhsize_darfur", "female", "village"]


@pytest.fixture(scope="module")
def darfur() -> pd.DataFrame:
    # the data as shipped with PySensemakr (a test dependency; read as a file, its code is not used)
    return pd.read_csv(resources.files("sensemakr") / "data" / "darfur.csv")


@pytest.fixture(scope="module")
def bounds(darfur):
    with pytest.warns(dc.DeconfoundWarning, match="nearly collinear"):  # the 486 village dummies
        return ovb_bounds(
            darfur,
            outcome="peacefactor",
            treatment="directlyharmed",
            covariates=COVARIATES,
            benchmark="female",
            kd=[1, 2, 3],
        )


def test_darfur_bounds_match_the_paper(bounds):
    """Cinelli and Hazlett (2020), section 6 (and sensemakr's summary of the same model): estimate 0.0973,
    se 0.0233, partial R2 2.19%, RV 13.9%, RV_alpha 7.6%; with confounders 1, 2 and 3 times as strong as
    'female': R2_DZ 0.0092 / 0.0183 / 0.0275, R2_YZ 0.1246 / 0.2493 / 0.3741, adjusted estimates 0.0752 /
    0.0529 / 0.0304, se 0.0219 / 0.0204 / 0.0187, t 3.4389 / 2.6002 / 1.6281, intervals (0.0323, 0.1182),
    (0.0130, 0.0929), (-0.0063, 0.0670)."""
    assert bounds.estimate == pytest.approx(0.0973, abs=5e-5)
    assert bounds.std_error == pytest.approx(0.0233, abs=5e-5)
    assert bounds.rv == pytest.approx(0.139, abs=5e-4) and bounds.rv_alpha == pytest.approx(0.076, abs=5e-4)
    table = bounds.to_frame()
    expected = {
        "r2dz_x": [0.0092, 0.0183, 0.0275],
        "r2yz_dx": [0.1246, 0.2493, 0.3741],
        "adjusted_estimate": [0.0752, 0.0529, 0.0304],
        "adjusted_se": [0.0219, 0.0204, 0.0187],
        "adjusted_t": [3.4389, 2.6002, 1.6281],
        "adjusted_ci_low": [0.0323, 0.0130, -0.0063],
        "adjusted_ci_high": [0.1182, 0.0929, 0.0670],
    }
    for column, values in expected.items():
        np.testing.assert_allclose(table[column], values, atol=5e-5, err_msg=column)
    assert (
        "3 times as strong as 'female' would leave an effect of the same sign but no longer significant" in bounds.text
    )
    assert bounds.to_dict()["bounds"][0]["kd"] == 1.0


def test_the_bias_formula_reaches_zero_on_the_robustness_value(bounds):
    # a confounder with R2 = RV with both treatment and outcome brings the estimate exactly to zero
    assert float(bounds.adjusted(bounds.rv, bounds.rv)) == pytest.approx(0.0, abs=1e-12)


def test_the_contour_plot_draws(bounds):
    fig = bounds.plot()
    ax = fig.axes[0]
    assert "partial R² of the confounder with the treatment" in ax.get_xlabel()
    assert any("1x female" in t.get_text() for t in ax.texts)


def test_bounds_bad_input(darfur):
    small = darfur[["peacefactor", "directlyharmed", "age", "female"]]
    with pytest.raises(dc.SpecificationError, match=r"benchmark 'village' must be one of the covariates"):
        ovb_bounds(small, outcome="peacefactor", treatment="directlyharmed", covariates=["age"], benchmark="village")
    with pytest.raises(dc.SpecificationError, match=r"kd must be positive numbers"):
        ovb_bounds(small, outcome="peacefactor", treatment="directlyharmed", covariates=["age"], benchmark="age", kd=-1)
    with pytest.raises(dc.SpecificationError, match=r"kd=1000 is impossible"):
        ovb_bounds(
            small,
            outcome="peacefactor",
            treatment="directlyharmed",
            covariates=["age", "female"],
            benchmark="female",
            kd=1000,
        )


# --- Rosenbaum bounds ------------------------------------------------------------------------------------


def _brute_force_upper_p(d: np.ndarray, gamma: float) -> float:
    """P(T >= t_obs) when every pair is positive with probability Gamma / (1 + Gamma), over all 2^S signs."""
    q = stats.rankdata(np.abs(d))
    t_obs = q[d > 0].sum()
    p = gamma / (1 + gamma)
    total = 0.0
    for signs in itertools.product((0, 1), repeat=len(d)):
        s = np.array(signs, bool)
        if q[s].sum() >= t_obs:
            total += np.prod(np.where(s, p, 1 - p))
    return total


def test_rosenbaum_exact_bounds_equal_enumeration():
    d = np.random.default_rng(3).normal(0.8, 1.0, 11)
    result = rosenbaum_bounds(d, gamma=[1, 1.5, 2, 3])
    assert result.method == "exact"
    for row in result.rows:
        assert row["p_upper"] == pytest.approx(_brute_force_upper_p(d, row["gamma"]), rel=1e-12)
        assert row["p_lower"] == pytest.approx(_brute_force_upper_p(d, 1 / row["gamma"]), rel=1e-12)


def test_rosenbaum_at_gamma_one_is_wilcoxons_test_and_the_hodges_lehmann_estimate():
    d = np.random.default_rng(4).normal(0.5, 1.0, 80)
    result = rosenbaum_bounds(d, gamma=[1, 2], method="normal")
    first = result.rows[0]
    expected = stats.wilcoxon(d, method="approx", correction=False, alternative="greater").pvalue
    assert first["p_upper"] == pytest.approx(expected, rel=1e-10) and first["p_lower"] == first["p_upper"]
    walsh = [(d[i] + d[j]) / 2 for i in range(len(d)) for j in range(i, len(d))]
    assert first["hl_low"] == pytest.approx(np.median(walsh), abs=1e-9)
    second = result.rows[1]
    assert second["p_upper"] > first["p_upper"] > second["p_lower"]
    assert second["hl_low"] < first["hl_low"] < second["hl_high"]
    assert 1 < result.gamma_breakdown
    g = result.gamma_breakdown
    at = rosenbaum_bounds(d, gamma=[g], method="normal").rows[0]["p_upper"]
    assert at == pytest.approx(0.05, abs=1e-5)


def test_rosenbaum_negative_effect_and_matching_result():
    df = dc.datasets.heart_attack()
    fit = dc.matching(df, outcome="Severity", treatment="Drug", covariates=["I.H"], estimand="ATT")
    result = rosenbaum_bounds(fit, df)
    assert result.direction == "less"
    assert result.rows[0]["hl_high"] < 0
    assert result.n_pairs == fit.n_treated
    assert "negative effect" in result.text


def test_rosenbaum_bad_input():
    with pytest.raises(dc.SpecificationError, match=r"gamma must be numbers of at least 1"):
        rosenbaum_bounds([1.0, 2.0, 3.0], gamma=0.5)
    with pytest.raises(dc.DataError, match=r"at least two pairs with a nonzero difference"):
        rosenbaum_bounds([0.0, 0.0, 1.0])
    with pytest.raises(dc.DataError, match=r"NaN"):
        rosenbaum_bounds([1.0, np.nan, 2.0])
    with pytest.raises(dc.SpecificationError, match=r"pass data="):
        rosenbaum_bounds(
            dc.matching(dc.datasets.heart_attack(), outcome="Severity", treatment="Drug", covariates=["I.H"])
        )


def test_a_confounder_that_would_explain_more_than_all_of_the_outcome_is_capped_and_said():
    df = dc.datasets.heart_attack()
    with pytest.warns(dc.DiagnosticWarning, match=r"capped at 1"):
        result = ovb_bounds(df, outcome="Severity", treatment="Drug", covariates=["I.H"], benchmark="I.H", kd=0.25)
    row = result.rows[0]
    assert row["capped"] and row["r2yz_dx"] == 1.0 and row["adjusted_se"] == 0.0
    assert "would have to explain all of the outcome's residual variance" in result.text
    assert result.warnings


def test_the_multiple_of_female_that_erases_the_effect(bounds, darfur):
    """The paper's table brackets them: at 2x 'female' the interval still excludes zero (0.0130, 0.0929),
    at 3x it covers it (-0.0063, 0.0670) while the estimate is still 0.0304 > 0; so the multiple that
    makes the effect insignificant lies in (2, 3) and the one that erases it beyond 3. At those multiples
    the adjusted estimate (interval) reaches zero exactly."""
    k_sig = bounds.multiple_to_erase("female", significance=True)
    k = bounds.multiple_to_erase("female")
    assert 2 < k_sig < 3 < k < bounds.max_multiple("female")
    with pytest.warns(dc.DeconfoundWarning, match="nearly collinear"):
        at = ovb_bounds(
            darfur,
            outcome="peacefactor",
            treatment="directlyharmed",
            covariates=COVARIATES,
            benchmark="female",
            kd=[k_sig, k],
        ).to_frame()
    assert at.loc[0, "adjusted_ci_low"] == pytest.approx(0.0, abs=1e-9)
    assert at.loc[1, "adjusted_estimate"] == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(dc.SpecificationError, match="not a benchmark"):
        bounds.multiple_to_erase("age")
