"""Propensity scores (row identity, models, cross-fitting), overlap statistics, trimming rules, balance."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.special import expit

import deconfound as dc
from deconfound._core.design import Design
from deconfound.diagnostics import balance_before_after, balance_table, crump_alpha, overlap_table, trim_mask


def _frame(rng, n=400):
    x = rng.normal(size=(n, 2))
    t = rng.binomial(1, expit(0.3 + x @ [0.9, -0.6]))
    return pd.DataFrame({"x0": x[:, 0], "x1": x[:, 1], "t": t, "y": x[:, 0] + t + rng.normal(size=n)})


def test_scores_keep_row_labels_and_skip_dropped_rows(rng):
    df = _frame(rng)
    df.index = pd.Index([f"id{i}" for i in range(len(df))], name="patient")
    df.loc["id5", "x1"] = np.nan
    with pytest.raises(dc.DataError, match=r"Missing values in 'x1' \(1 rows\)"):
        dc.propensity_scores(df, treatment="t", covariates=["x0", "x1"])
    out = dc.propensity_scores(df, treatment="t", covariates=["x0", "x1"], missing="drop")
    assert "id5" not in out.index and len(out) == len(df) - 1
    assert list(out.columns) == ["treatment", "propensity_score", "logit"]
    kept = df.drop(index="id5")
    ref = sm.Logit(kept["t"], sm.add_constant(kept[["x0", "x1"]])).fit(disp=0, method="newton", tol=1e-14)
    np.testing.assert_allclose(out["propensity_score"], ref.predict(), rtol=1e-10)
    np.testing.assert_allclose(out["logit"], np.log(ref.predict() / (1 - ref.predict())), rtol=1e-9)


def test_string_treatment_is_recoded(rng):
    df = _frame(rng)
    df["arm"] = np.where(df.t == 1, "treated", "control")
    a = dc.propensity_scores(df, treatment="arm", covariates=["x0", "x1"])
    b = dc.propensity_scores(df, treatment="t", covariates=["x0", "x1"])
    np.testing.assert_allclose(a["propensity_score"], b["propensity_score"])


def test_sklearn_logistic_preset_is_sklearns_default(rng):
    from sklearn.linear_model import LogisticRegression

    df = _frame(rng)
    ours = dc.propensity_scores(df, treatment="t", covariates=["x0", "x1"], propensity_model="sklearn-logistic")
    ref = LogisticRegression().fit(df[["x0", "x1"]].to_numpy(), df.t).predict_proba(df[["x0", "x1"]].to_numpy())
    np.testing.assert_allclose(ours["propensity_score"], ref[:, 1], rtol=1e-12)


def test_cross_fitting_predicts_out_of_fold(rng):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import StratifiedKFold

    df = _frame(rng, 300)
    rf = RandomForestClassifier(n_estimators=20, random_state=3)
    out = dc.propensity_scores(
        df, treatment="t", covariates=["x0", "x1"], propensity_model=rf, cross_fit=3, random_state=11
    )
    x, t = df[["x0", "x1"]].to_numpy(), df.t.to_numpy()
    ref = np.empty(len(df))
    for train, test in StratifiedKFold(3, shuffle=True, random_state=11).split(x, t):
        ref[test] = (
            RandomForestClassifier(n_estimators=20, random_state=3).fit(x[train], t[train]).predict_proba(x[test])[:, 1]
        )
    np.testing.assert_allclose(out["propensity_score"], ref)
    assert not hasattr(rf, "estimators_")  # the user's classifier is cloned, never fitted


@pytest.mark.parametrize("preset", ["gbm", "rf"])
def test_presets_are_reproducible_with_random_state(rng, preset):
    df = _frame(rng, 300)
    a = dc.propensity_scores(df, treatment="t", covariates=["x0", "x1"], propensity_model=preset, random_state=5)
    b = dc.propensity_scores(df, treatment="t", covariates=["x0", "x1"], propensity_model=preset, random_state=5)
    pd.testing.assert_frame_equal(a, b)
    assert a["propensity_score"].between(0, 1).all()


def test_classifier_without_sample_weight_support(rng):
    from sklearn.neighbors import KNeighborsClassifier

    df = _frame(rng, 100)
    df["w"] = 1.0
    with pytest.raises(dc.SpecificationError, match=r"'KNeighborsClassifier' does not accept sample weights"):
        dc.propensity_scores(
            df,
            treatment="t",
            covariates=["x0", "x1"],
            weights="w",
            propensity_model=KNeighborsClassifier(),
            cross_fit=None,
        )


def test_classifier_without_predict_proba(rng):
    from sklearn.linear_model import RidgeClassifier

    with pytest.raises(dc.SpecificationError, match=r"'RidgeClassifier', which has no predict_proba"):
        dc.propensity_scores(_frame(rng, 50), treatment="t", covariates=["x0"], propensity_model=RidgeClassifier())


def test_no_covariates(rng):
    with pytest.raises(dc.SpecificationError, match=r"A propensity model needs covariates"):
        dc.propensity_scores(_frame(rng, 50), treatment="t", covariates=[])


# --------------------------------------------------------------------------------------------------
# overlap and trimming
# --------------------------------------------------------------------------------------------------


def test_overlap_table(rng):
    score = rng.uniform(0.005, 0.995, 500)
    t = (rng.uniform(size=500) < score).astype(float)
    table = overlap_table(score, t)
    s1, s0 = score[t == 1], score[t == 0]
    assert table.loc["treated", "share_outside_other"] == pytest.approx(np.mean((s1 < s0.min()) | (s1 > s0.max())))
    assert table.loc["control", "n_below_0.01"] == np.sum(s0 < 0.01)
    assert table.loc["treated", "median"] == pytest.approx(np.median(s1))


def test_overlap_table_from_sorted_groups_equals_the_unsorted_table(rng):
    """The shared sort's table reads quantiles and extremes off the sorted groups: the same bits as
    np.quantile, min and max, on ties, tiny groups and a wide range of magnitudes."""
    from deconfound.diagnostics.overlap import sorted_quantiles

    for n in (1, 2, 3, 7, 500):
        for score in (rng.uniform(0.005, 0.995, n), np.round(rng.uniform(0.1, 0.9, n), 1), 0.3 + 1e-12 * rng.random(n)):
            t = np.zeros(n)
            t[: max(1, n // 2)] = 1.0
            if n > 1:
                t[-1] = 0.0
            rng.shuffle(t)
            groups = (np.sort(score[t == 1.0]), np.sort(score[t == 0.0]))
            pd.testing.assert_frame_equal(overlap_table(score, t, groups), overlap_table(score, t), check_exact=True)
            for values in groups:
                qs = (*rng.random(5).tolist(), 0.0, 1.0)
                if len(values):
                    assert sorted_quantiles(values, qs) == np.quantile(values, qs).tolist()


def _crump_brute(score):
    """Solve gamma = 2 E[lambda | lambda <= gamma] by scanning a fine grid (independent of the library)."""
    lam = 1 / (score * (1 - score))
    if lam.max() <= 2 * lam.mean():
        return 0.0
    grid = np.linspace(lam.min(), lam.max(), 2_000_001)
    srt = np.sort(lam)
    csum = np.concatenate([[0.0], np.cumsum(srt)])
    k = np.searchsorted(srt, grid, side="right")
    f = grid - 2 * csum[k] / np.maximum(k, 1)
    gamma = grid[np.flatnonzero(f >= 0)[0]]
    return 0.5 - np.sqrt(0.25 - 1 / gamma)


@pytest.mark.parametrize("shape", [(0.5, 0.5), (1.0, 3.0), (0.3, 0.3)])
def test_crump_rule_matches_a_brute_force_solution(rng, shape):
    score = np.clip(rng.beta(*shape, size=3000), 1e-4, 1 - 1e-4)
    alpha = crump_alpha(score)
    assert alpha == pytest.approx(_crump_brute(score), abs=1e-4)
    keep, a, rule = trim_mask(score, "crump")
    assert rule == "crump" and a == alpha
    np.testing.assert_array_equal(keep, (score >= alpha) & (score <= 1 - alpha))


def test_crump_keeps_everything_with_good_overlap(rng):
    assert crump_alpha(rng.uniform(0.3, 0.7, 1000)) == 0.0


def test_fixed_trim_rule(rng):
    score = rng.uniform(size=100)
    keep, alpha, rule = trim_mask(score, 0.1)
    np.testing.assert_array_equal(keep, (score >= 0.1) & (score <= 0.9))
    assert (alpha, rule) == (0.1, "fixed")


def test_trimming_is_reported_on_the_result(rng):
    df = _frame(rng, 600)
    r = dc.ipw(df, outcome="y", treatment="t", covariates=["x0", "x1"], trim="crump")
    trim = r.diagnostics["trimming"]
    table = r.diagnostics["propensity"]
    assert trim["rule"] == "crump" and trim["n_trimmed"] == int(table["trimmed"].sum())
    assert r.n == len(df) - trim["n_trimmed"]
    assert any("trimmed" in n for n in r.notes)


# --------------------------------------------------------------------------------------------------
# balance
# --------------------------------------------------------------------------------------------------


def test_balance_before_after_agrees_with_balance_table(rng):
    x = rng.normal(size=(500, 3)) * [1, 50, 0.01] + [0, 1e4, 3]
    t = rng.binomial(1, 0.4, 500).astype(float)
    w = rng.uniform(0.2, 3, 500)
    design = Design.from_matrix(x, ["a", "b", "c"])
    both = balance_before_after(design, t, w)
    after, before = balance_table(design, t, w), balance_table(design, t)
    np.testing.assert_allclose(both["smd_after"], after["smd"], rtol=1e-9)
    np.testing.assert_allclose(both["variance_ratio_after"], after["variance_ratio"], rtol=1e-9)
    np.testing.assert_allclose(both["smd_before"], before["smd"], rtol=1e-9)
    np.testing.assert_allclose(both["mean_control_after"], after["mean_control"], rtol=1e-12)


def test_a_drawn_seed_is_recorded_and_reproduces_the_estimate(heart):
    # issue 11, item 3: random_state=None gave a different number each call and no way back to it
    import re
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = dc.ipw(heart, outcome="Severity", treatment="Drug", covariates=["I.H"], propensity_model="gbm")
        note = next(n for n in first.notes if "drew the seed" in n)
        seed = int(re.search(r"random_state=(\d+)", note).group(1))
        again = dc.ipw(
            heart, outcome="Severity", treatment="Drug", covariates=["I.H"], propensity_model="gbm", random_state=seed
        )
    assert again.estimate == first.estimate and again.std_error == first.std_error
    assert not any("drew the seed" in n for n in again.notes)
