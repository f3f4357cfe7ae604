"""Meta-learners (issue 14): reference checks against hand computations, statsmodels and EconML, simulations
with a known CATE, reproducibility for a seed, and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import deconfound as dc
from deconfound.errors import DataError, DiagnosticWarning, NotFittedError, SpecificationError
from deconfound.estimators.metalearners import DRLearner, RLearner, SLearner, TLearner, XLearner

LEARNERS = (SLearner, TLearner, XLearner, RLearner, DRLearner)


def simulate(seed: int, n: int = 1500, share: float | None = None, effect_varies: bool = True):
    """Confounded data with a known CATE tau(x) = 1 + x1 (or 1): nonlinear baseline, propensity in x0."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, 4))
    e = np.full(n, share) if share is not None else 1 / (1 + np.exp(-x[:, 0]))
    t = rng.binomial(1, e)
    mu0 = np.sin(3 * x[:, 0]) + x[:, 1] ** 2 + 2 * (x[:, 2] > 0)
    tau = 1 + x[:, 1] if effect_varies else np.ones(n)
    y = mu0 + t * tau + rng.normal(size=n)
    return x, y, t, tau


def frame(x, y, t) -> pd.DataFrame:
    df = pd.DataFrame(x, columns=[f"x{j}" for j in range(x.shape[1])])
    df["y"], df["d"] = y, t
    return df


def ols(x, y):
    z = np.column_stack([np.ones(len(x)), x])
    return np.linalg.lstsq(z, y, rcond=None)[0]


# -------------------------------------------------------------------------------------------------
# reference checks
# -------------------------------------------------------------------------------------------------


def test_t_learner_with_linear_models_is_two_ols_fits():
    x, y, t, _ = simulate(0, n=400)
    fitted = TLearner(learner="linear", random_state=0).fit(x, y, t)
    b1, b0 = ols(x[t == 1], y[t == 1]), ols(x[t == 0], y[t == 0])
    new = np.random.default_rng(1).normal(size=(7, 4))
    expected = (b1[0] - b0[0]) + new @ (b1[1:] - b0[1:])
    np.testing.assert_allclose(fitted.effect(new), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fitted.predict(new), expected, rtol=1e-10, atol=1e-12)


def test_t_learner_matches_sklearn_linear_regression():
    from sklearn.linear_model import LinearRegression

    x, y, t, _ = simulate(1, n=300)
    ours = TLearner(learner="linear").fit(x, y, t).effect(x)
    theirs = TLearner(learner=LinearRegression()).fit(x, y, t).effect(x)
    np.testing.assert_allclose(ours, theirs, rtol=1e-8, atol=1e-10)


def _aipw_by_hand(x, y, t, labels):
    """AIPW with statsmodels OLS per arm and Logit, fitted on the other folds."""
    import statsmodels.api as sm

    mu0, mu1, e = np.empty(len(y)), np.empty(len(y)), np.empty(len(y))
    z = sm.add_constant(x)
    for k in np.unique(labels):
        test, train = labels == k, labels != k
        e[test] = sm.Logit(t[train], z[train]).fit(disp=0).predict(z[test])
        for arm, out in ((0, mu0), (1, mu1)):
            rows = train & (t == arm)
            out[test] = sm.OLS(y[rows], z[rows]).fit().predict(z[test])
    phi = mu1 - mu0 + t * (y - mu1) / e - (1 - t) * (y - mu0) / (1 - e)
    return phi.mean(), np.sqrt(np.mean((phi - phi.mean()) ** 2) / len(phi))


def test_dr_learner_ate_equals_aipw_by_hand_with_given_folds():
    x, y, t, _ = simulate(2, n=600)
    labels = np.arange(600) % 4
    fitted = DRLearner(learner="linear", propensity_learner="logistic", folds=labels, propensity_clip=0).fit(x, y, t)
    result = fitted.ate()
    value, se = _aipw_by_hand(x, y, t, labels)
    assert result.estimate == pytest.approx(value, rel=1e-7)
    assert result.std_error == pytest.approx(se, rel=1e-7)
    # a linear final stage with an intercept averages to the pseudo-outcome's mean
    assert fitted.effect(x).mean() == pytest.approx(value, rel=1e-8)


class _PerArm:
    """A regressor on [X, T] that fits one least-squares model per arm (EconML's DRLearner fits its outcome
    model on the features with the treatment appended; this makes it the two per-arm models we use)."""

    def __init__(self) -> None:
        pass

    def get_params(self, deep=True):
        return {}

    def set_params(self, **params):
        return self

    def fit(self, xt, y, sample_weight=None):
        x, t = xt[:, :-1], xt[:, -1]
        self.coef_ = {arm: ols(x[t == arm], y[t == arm]) for arm in (0, 1)}
        return self

    def predict(self, xt):
        x, t = xt[:, :-1], xt[:, -1]
        out = np.empty(len(x))
        for arm in (0, 1):
            rows = t == arm
            out[rows] = self.coef_[arm][0] + x[rows] @ self.coef_[arm][1:]
        return out


def test_dr_learner_matches_econml_with_the_same_models_and_folds():
    pytest.importorskip("econml")
    from econml.dr import DRLearner as EconDR
    from sklearn.linear_model import LinearRegression, LogisticRegression

    x, y, t, _ = simulate(3, n=800)
    labels = np.arange(800) % 3
    splits = [(np.flatnonzero(labels != k), np.flatnonzero(labels == k)) for k in range(3)]
    logit = LogisticRegression(C=np.inf, max_iter=1000, tol=1e-10)
    theirs = EconDR(
        model_propensity=logit,
        model_regression=_PerArm(),
        model_final=LinearRegression(),
        cv=splits,
        min_propensity=1e-6,
    ).fit(y, t, X=x)
    ours = DRLearner(
        learner="linear", propensity_learner=logit, final_learner="linear", folds=labels, propensity_clip=1e-6
    ).fit(x, y, t)
    np.testing.assert_allclose(ours.effect(x), theirs.effect(x), rtol=1e-6, atol=1e-8)
    assert ours.ate().estimate == pytest.approx(float(theirs.ate(x)), rel=1e-6)


def test_x_learner_matches_econml_in_sample():
    pytest.importorskip("econml")
    from econml.metalearners import XLearner as EconX
    from sklearn.linear_model import LinearRegression, LogisticRegression

    x, y, t, _ = simulate(4, n=600)
    logit = LogisticRegression(C=np.inf, max_iter=1000, tol=1e-10)
    theirs = EconX(models=LinearRegression(), cate_models=LinearRegression(), propensity_model=logit).fit(y, t, X=x)
    ours = XLearner(
        learner=LinearRegression(), final_learner="linear", propensity_learner=logit, folds=None, propensity_clip=0
    ).fit(x, y, t)
    np.testing.assert_allclose(ours.effect(x), theirs.effect(x), rtol=1e-6, atol=1e-8)


def test_r_learner_linear_final_stage_is_the_weighted_regression():
    import statsmodels.api as sm

    x, y, t, _ = simulate(5, n=500)
    fitted = RLearner(folds=5, random_state=3).fit(x, y, t)
    ytil, ttil = fitted._residuals()
    z = ttil[:, None] * sm.add_constant(x - x.mean(axis=0))
    coef = sm.OLS(ytil, z).fit().params
    assert fitted.ate().estimate == pytest.approx(coef[0], rel=1e-9)
    np.testing.assert_allclose(fitted.effect(x[:5]), coef[0] + (x[:5] - x.mean(axis=0)) @ coef[1:], rtol=1e-9)


# -------------------------------------------------------------------------------------------------
# simulations with a known CATE
# -------------------------------------------------------------------------------------------------


def test_dr_and_r_learners_beat_the_t_learner_with_unbalanced_arms(capsys):
    from sklearn.neighbors import KNeighborsRegressor

    knn = KNeighborsRegressor(n_neighbors=15)
    report, mse = [], {}
    for cls in (TLearner, XLearner, RLearner, DRLearner):
        errors = []
        for seed in range(3):
            x, y, t, tau = simulate(seed, n=3000, share=0.1)
            fitted = cls(learner=knn, propensity_learner="logistic", random_state=seed).fit(x, y, t)
            cate = fitted.effect(x)
            errors.append(np.mean((cate - tau) ** 2))
            r2 = 1 - errors[-1] / np.var(tau)
            report.append(
                f"{cls.__name__} seed {seed}: CATE R2 {r2:.3f}, ATE bias {fitted.ate().estimate - tau.mean():+.3f}"
            )
        mse[cls.__name__] = float(np.mean(errors))
    with capsys.disabled():
        print("\n" + "\n".join(report))
    assert mse["DRLearner"] < 0.5 * mse["TLearner"]
    assert mse["RLearner"] < 0.5 * mse["TLearner"]


@pytest.mark.slow
def test_ate_intervals_of_dr_and_r_learners_cover():
    """95% intervals of the DR (AIPW) and R (sandwich) ATEs cover the truth in 93-97% of 200 draws."""
    hits = {"dr": 0, "r": 0}
    reps = 200
    for seed in range(reps):
        x, y, t, _ = simulate(100 + seed, n=500)
        for name, cls in (("dr", DRLearner), ("r", RLearner)):
            result = cls(folds=3, random_state=seed).fit(x, y, t).ate()
            hits[name] += result.ci_low <= 1.0 <= result.ci_high  # E[tau] = 1 + E[x1] = 1
    for name, count in hits.items():
        assert 0.92 <= count / reps <= 0.98, (name, count)


# -------------------------------------------------------------------------------------------------
# reproducibility
# -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", LEARNERS)
def test_same_seed_same_numbers_also_in_parallel(cls):
    x, y, t, _ = simulate(6, n=300)
    kwargs = {"learner": "rf", "final_learner": "rf", "random_state": 11}
    from sklearn.ensemble import RandomForestRegressor

    kwargs["learner"] = kwargs["final_learner"] = RandomForestRegressor(n_estimators=10, min_samples_leaf=5)
    first = cls(**kwargs).fit(x, y, t)
    again = cls(**kwargs).fit(x, y, t)
    parallel = cls(**kwargs, n_jobs=2).fit(x, y, t)
    for other in (again, parallel):
        assert np.array_equal(first.effect(x), other.effect(x))
        assert np.array_equal(first.cate_oof_, other.cate_oof_)
        assert first.ate().estimate == other.ate().estimate


def test_function_form_is_reproducible_and_has_the_json_keys():
    x, y, t, _ = simulate(7, n=400)
    data = frame(x, y, t)
    data["region"] = np.where(x[:, 3] > 0, "north", "south")
    kwargs = {"outcome": "y", "treatment": "d", "covariates": ["x0", "x1", "x2"], "random_state": 5}
    a = dc.dr_learner(data, **kwargs, subgroups="region", folds=3)
    b = dc.dr_learner(data, **kwargs, subgroups="region", folds=3)
    assert a.to_dict() == b.to_dict()
    out = a.to_dict(rows=False)
    assert {"cate_summary", "blp", "gates", "clan", "policy", "subgroups", "heterogeneity", "learners"} <= set(
        out["diagnostics"]
    )
    assert out["per_row_tables"] == {"cate": 400}
    assert list(a.diagnostics["subgroups"].index) == ["north", "south"]
    assert a.diagnostics["cate"].shape == (400, 3)


# -------------------------------------------------------------------------------------------------
# bad input
# -------------------------------------------------------------------------------------------------


def test_classifier_without_predict_proba_is_refused():
    from sklearn.svm import SVC

    x, y, t, _ = simulate(8, n=200)
    with pytest.raises(SpecificationError, match=r"propensity_learner .*predict_proba"):
        DRLearner(propensity_learner=SVC()).fit(x, y, t)


def test_treatment_constant_in_a_fold_is_named():
    x, y, t, _ = simulate(9, n=200)
    labels = np.where(t == 1, 0, 1 + np.arange(200) % 2)  # every treated row in fold 0
    with pytest.raises(DataError, match="fold 1 of 3"):
        DRLearner(folds=labels).fit(x, y, t)


def test_perfect_propensities_warn_and_give_a_finite_estimate():
    from sklearn.tree import DecisionTreeClassifier

    x, y, t, _ = simulate(10, n=300)
    x = np.column_stack([x, t + np.random.default_rng(0).normal(scale=0.01, size=300)])
    with pytest.warns(DiagnosticWarning, match="exactly 0 or 1"):
        fitted = DRLearner(propensity_learner=DecisionTreeClassifier(max_depth=2), random_state=0).fit(x, y, t)
    with pytest.warns(DiagnosticWarning, match="exactly 0 or 1"):
        result = fitted.ate()
    assert np.isfinite(result.estimate) and np.isfinite(result.std_error)


def test_unfitted_and_wrong_shapes():
    with pytest.raises(NotFittedError, match="not fitted"):
        TLearner().effect(np.zeros((2, 2)))
    x, y, t, _ = simulate(11, n=200)
    fitted = TLearner().fit(x, y, t)
    with pytest.raises(SpecificationError, match="fitted on 4 feature"):
        fitted.effect(np.zeros((2, 3)))
    with pytest.raises(SpecificationError, match="X must be numeric"):
        TLearner().fit(pd.DataFrame({"a": ["u", "v"] * 100}), y, t)
    with pytest.raises(SpecificationError, match=r"two-dimensional.*shape \(200,\).*reshape\(-1, 1\)"):
        TLearner().fit(x[:, 0], y, t)
    with pytest.raises(SpecificationError, match="propensity_clip"):
        DRLearner(propensity_clip=0.7).fit(x, y, t)


def test_s_learner_with_a_linear_model_says_the_test_does_not_apply():
    x, y, t, _ = simulate(12, n=300)
    het = SLearner(random_state=0).fit(x, y, t).heterogeneity()
    assert not het.blp.applicable
    assert het.verdict.startswith("The heterogeneity test does not apply")
    result = SLearner(random_state=0).fit(x, y, t).ate()
    assert np.isnan(result.std_error) and "no standard error" in result.notes[-1]


def test_clusters_keep_folds_whole_and_give_cluster_robust_ate_errors():
    """With cluster=, the folds hold whole clusters, and the DR-learner's standard error is the
    cluster-robust one of the mean AIPW score (statsmodels' clustered variance of a mean, without its
    small-sample factor); the R-learner's linear final stage clusters its influence values the same way,
    so one cluster per row gives its unclustered standard error."""
    import statsmodels.api as sm

    x, y, t, _ = simulate(6, n=800)
    g = np.arange(800) // 8  # 100 clusters of 8 neighbouring rows
    labels = g % 4  # folds of whole clusters
    fitted = DRLearner(learner="linear", propensity_learner="logistic", folds=labels, propensity_clip=0).fit(
        x, y, t, cluster=g
    )
    result = fitted.ate()
    value, _ = _aipw_by_hand(x, y, t, labels)
    s1, s0 = fitted._scores()
    ref = sm.OLS(s1 - s0, np.ones(800)).fit(cov_type="cluster", cov_kwds={"groups": g, "use_correction": False})
    assert result.estimate == pytest.approx(value, rel=1e-7)
    assert result.std_error == pytest.approx(float(ref.bse[0]), rel=1e-9)
    assert any("cluster-robust standard error (100 clusters" in note for note in result.notes)
    assert DRLearner(folds=labels, propensity_clip=0).fit(x, y, t).ate().std_error != result.std_error
    own = DRLearner(folds=4, random_state=2).fit(x, y, t, cluster=g)
    fold_of = own.folds_.assignment
    assert all(len(set(fold_of[g == c])) == 1 for c in range(100))
    r_plain = RLearner(folds=labels).fit(x, y, t).ate()
    r_single = RLearner(folds=labels).fit(x, y, t, cluster=np.arange(800)).ate()
    r_clustered = RLearner(folds=labels).fit(x, y, t, cluster=g).ate()
    assert r_single.std_error == pytest.approx(r_plain.std_error, rel=1e-12)
    assert r_clustered.estimate == r_plain.estimate and r_clustered.std_error != r_plain.std_error
    frame = pd.DataFrame(x, columns=[f"x{j}" for j in range(4)]).assign(y=y, t=t, g=g)
    by_function = dc.dr_learner(
        frame,
        outcome="y",
        treatment="t",
        covariates=[f"x{j}" for j in range(4)],
        folds=labels,
        propensity_clip=0,
        cluster="g",
    )
    assert by_function.std_error == pytest.approx(result.std_error, rel=1e-12)
