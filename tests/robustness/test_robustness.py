"""Robustness: Cinelli-Hazlett sensitivity (published Darfur numbers, a first-principles grid search,
statsmodels' t statistic) and the placebo permutation test (reproducible, failures counted)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats

import deconfound as dc
from deconfound.robustness import placebo_treatment, robustness_value, sensitivity


def test_darfur_published_numbers():
    """Cinelli & Hazlett (2020), Table 1: 'directlyharmed' has t = 4.18 on 783 residual df; partial R2 2.2%,
    RV_{q=1} 13.9%, RV_{q=1, alpha=0.05} 7.6% (all printed to one decimal of a percent)."""
    t, df = 4.18, 783
    assert t * t / (t * t + df) == pytest.approx(0.022, abs=5e-4)
    assert robustness_value(t, df) == pytest.approx(0.139, abs=5e-4)
    assert robustness_value(t, df, alpha=0.05) == pytest.approx(0.076, abs=5e-4)
    assert robustness_value(-t, df, alpha=0.05) == robustness_value(t, df, alpha=0.05)


def _grid_robustness_value(t: float, df: float, alpha: float, n: int = 1201) -> float:
    """RV_{1,alpha} from its definition: the smallest max(R2_D, R2_Y) of a confounder that brings the
    adjusted t statistic (omitted-variable bias and adjusted standard error, C&H section 4) to the
    critical value, found by brute force over a grid of partial R-squared values."""
    r = np.linspace(0.0, 0.99999, n)
    r_d, r_y = np.meshgrid(r, r, indexing="ij")
    adjusted = (t - np.sqrt(df) * np.sqrt(r_y * r_d / (1 - r_d))) / (
        np.sqrt((1 - r_y) / (1 - r_d)) * np.sqrt(df / (df - 1))
    )
    lost = adjusted <= abs(stats.t.ppf(alpha / 2, df - 1))
    return float(np.min(np.maximum(r_d, r_y)[lost]))


@pytest.mark.parametrize(
    ("t", "df"),
    [(4.18, 783), (50.0, 100), (20.0, 10), (8.0, 10)],  # the last two: the confounder must explain all of Y
)
def test_robustness_value_matches_its_definition(t, df):
    grid = _grid_robustness_value(t, df, 0.05)
    assert robustness_value(t, df, alpha=0.05) == pytest.approx(grid, abs=1.5e-3)


def test_robustness_value_edges_and_bad_input():
    assert robustness_value(1.0, 500, alpha=0.05) == 0.0  # not significant to begin with
    assert robustness_value(0.0, 500) == 0.0
    with pytest.raises(dc.SpecificationError, match=r"df must exceed 1"):
        robustness_value(3.0, 1)
    with pytest.raises(dc.SpecificationError, match=r"q must be positive"):
        robustness_value(3.0, 100, q=0)
    with pytest.raises(dc.SpecificationError, match=r"alpha must be between 0 and 1"):
        robustness_value(3.0, 100, alpha=5)
    with pytest.raises(dc.SpecificationError, match=r"t_statistic must be a finite number"):
        robustness_value(float("nan"), 100)


def test_sensitivity_of_the_article_regression_uses_the_classical_t(heart):
    fit = dc.ols(heart, outcome="Severity", treatment="Drug", covariates=["I.H"])
    ref = smf.ols("Severity ~ Drug + Q('I.H')", data=heart).fit()
    s = sensitivity(fit)
    t, df = ref.tvalues["Drug"], ref.df_resid
    assert s["exact"] and s["df"] == df
    assert s["partial_r2"] == pytest.approx(t * t / (t * t + df), rel=1e-10)
    assert s["rv"] == pytest.approx(robustness_value(t, df), rel=1e-10)
    assert s["rv_alpha"] == pytest.approx(robustness_value(t, df, alpha=0.05), rel=1e-10)
    assert f"{s['rv']:.1%}" in s["text"]


def test_sensitivity_of_a_clustered_fit_uses_residual_df_and_says_it_is_approximate(heart):
    clustered = heart.assign(g=np.arange(len(heart)) % 25)
    fit = dc.ols(clustered, outcome="Severity", treatment="Drug", covariates=["I.H"], cluster="g")
    s = sensitivity(fit)
    assert fit.df == 24 and s["df"] == len(heart) - 3  # residual df, not the clusters' G - 1
    assert not s["exact"] and "approximation" in s["text"]
    with pytest.warns(dc.DiagnosticWarning, match="randomly assigned"):
        naive = dc.difference_in_means(heart, outcome="Severity", treatment="Drug")
    assert sensitivity(naive) == {
        "applicable": False,
        "reason": "the omitted-variable robustness value needs a regression estimate with a t statistic",
    }


def _ols(frame, treatment):
    return dc.ols(frame, outcome="y", treatment=treatment, covariates=["x"])


def test_placebo_is_reproducible_and_centres_on_zero():
    rng = np.random.default_rng(4)
    n = 400
    x = rng.normal(size=n)
    t = rng.binomial(1, 0.5, n)
    frame = pd.DataFrame({"x": x, "t": t, "y": 2.0 * t + x + rng.normal(size=n)})
    a = placebo_treatment(_ols, frame, treatment="t", n_simulations=30, random_state=5)
    b = placebo_treatment(_ols, frame, treatment="t", n_simulations=30, random_state=5)
    assert a == b
    assert a["estimate"] == pytest.approx(_ols(frame, "t").estimate, rel=1e-12)
    assert a["passed"] and a["n_failed"] == 0 and a["failures"] == ()
    assert a["p_value"] == pytest.approx(1 / 31)  # no permuted estimate comes near a real effect of 2
    assert abs(a["placebo_mean"]) < 0.1


def test_placebo_counts_failures_instead_of_crashing():
    calls = {"n": 0}

    def flaky(frame, treatment):
        calls["n"] += 1
        if calls["n"] > 1 and calls["n"] % 2 == 0:
            raise dc.DataError("no variation in this permutation")
        return _ols(frame, treatment)

    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"x": rng.normal(size=100), "t": rng.binomial(1, 0.5, 100), "y": rng.normal(size=100)})
    out = placebo_treatment(flaky, frame, treatment="t", n_simulations=10, random_state=0)
    assert out["n_failed"] == 5 and out["failures"] == ("no variation in this permutation",)
    assert np.isfinite(out["placebo_mean"])

    def broken(frame, treatment):
        if frame is not original:
            raise dc.DataError("always fails")
        return _ols(frame, treatment)

    original = frame
    out = placebo_treatment(broken, frame, treatment="t", n_simulations=3, random_state=0)
    assert out["n_failed"] == 3 and not out["passed"] and np.isnan(out["placebo_mean"])
    with pytest.raises(dc.SpecificationError, match=r"needs a DataFrame with the treatment column 'T'"):
        placebo_treatment(_ols, frame, treatment="T")
    with pytest.raises(dc.SpecificationError, match=r"n_simulations must be an integer >= 1"):
        placebo_treatment(_ols, frame, treatment="t", n_simulations=0)
