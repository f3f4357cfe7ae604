"""Meta-learners with sample weights (issue 14): the weighted nuisances, final stages, ATE and standard
errors against statsmodels WLS / weighted GLM and hand computations, frequency weights against repeated
rows, and the refusal of a learner whose fit() takes no weights."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import deconfound as dc
from deconfound.errors import SpecificationError
from deconfound.estimators.metalearners import DRLearner, RLearner, SLearner, TLearner, XLearner

sm = pytest.importorskip("statsmodels.api")


def simulate(seed: int, n: int = 600):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, 3))
    t = rng.binomial(1, 1 / (1 + np.exp(-0.8 * x[:, 0])))
    y = x @ np.array([1.0, -0.5, 0.3]) + t * (1 + x[:, 1]) + rng.normal(size=n)
    w = rng.uniform(0.2, 3.0, size=n)
    return x, y, t, w


def _const(x):
    return sm.add_constant(x, has_constant="add")


def hand_nuisances(x, y, t, w, labels):
    """Cross-fitted mu0, mu1, e and the marginal outcome m with statsmodels: WLS per arm, weighted logit."""
    n = len(y)
    mu0, mu1, e, m = (np.empty(n) for _ in range(4))
    for k in np.unique(labels):
        train, test = labels != k, labels == k
        for arm, out in ((0, mu0), (1, mu1)):
            rows = train & (t == arm)
            out[test] = sm.WLS(y[rows], _const(x[rows]), weights=w[rows]).fit().predict(_const(x[test]))
        logit = sm.GLM(t[train], _const(x[train]), family=sm.families.Binomial(), var_weights=w[train]).fit(tol=1e-12)
        e[test] = logit.predict(_const(x[test]))
        m[test] = sm.WLS(y[train], _const(x[train]), weights=w[train]).fit().predict(_const(x[test]))
    return mu0, mu1, e, m


def test_dr_learner_weighted_ate_and_se_equal_wls_of_the_hand_pseudo_outcome():
    x, y, t, w = simulate(0)
    labels = np.arange(len(y)) % 4
    fitted = DRLearner(learner="linear", propensity_learner="logistic", folds=labels, propensity_clip=1e-6).fit(
        x, y, t, sample_weight=w
    )
    mu0, mu1, e, _ = hand_nuisances(x, y, t, w, labels)
    phi = mu1 - mu0 + t * (y - mu1) / e - (1 - t) * (y - mu0) / (1 - e)
    ref = sm.WLS(phi, np.ones(len(y)), weights=w).fit(cov_type="HC0")
    ate = fitted.ate()
    np.testing.assert_allclose(ate.estimate, ref.params[0], rtol=1e-7)
    np.testing.assert_allclose(ate.std_error, ref.bse[0], rtol=1e-6)
    # the final stage is the WLS of the pseudo-outcome on the features
    final = sm.WLS(phi, _const(x), weights=w).fit()
    np.testing.assert_allclose(fitted.effect(x[:9]), final.predict(_const(x[:9])), rtol=1e-6, atol=1e-8)
    # the weights matter: the unweighted fit differs
    plain = DRLearner(learner="linear", propensity_learner="logistic", folds=labels, propensity_clip=1e-6).fit(x, y, t)
    assert abs(plain.ate().estimate - ate.estimate) > 1e-4


def test_r_learner_linear_final_stage_is_weighted_least_squares_with_its_sandwich_se():
    x, y, t, w = simulate(1)
    labels = np.arange(len(y)) % 3
    fitted = RLearner(learner="linear", propensity_learner="logistic", folds=labels, propensity_clip=1e-6).fit(
        x, y, t, sample_weight=w
    )
    _, _, e, m = hand_nuisances(x, y, t, w, labels)
    ytil, ttil = y - m, t - e
    xbar = (w[:, None] * x).sum(axis=0) / w.sum()
    z = ttil[:, None] * _const(x - xbar)
    ref = sm.WLS(ytil, z, weights=w).fit()
    np.testing.assert_allclose(fitted.effect(x[:9]), _const(x[:9] - xbar) @ ref.params, rtol=1e-6, atol=1e-8)
    ate = fitted.ate()
    np.testing.assert_allclose(ate.estimate, ref.params[0], rtol=1e-6)
    # by hand: b0's sandwich influence plus the spread of the weighted mean of tau(x)
    s = w / w.mean()
    a_inv = np.linalg.inv((z * s[:, None]).T @ z / len(y))
    psi = (z * (s * ref.resid)[:, None]) @ a_inv[0] + s * ((x - xbar) @ ref.params[1:])
    np.testing.assert_allclose(ate.std_error, np.sqrt(psi @ psi) / len(y), rtol=1e-6)


@pytest.mark.parametrize("cls", [SLearner, TLearner, XLearner])
def test_whole_number_weights_equal_repeated_rows(cls):
    x, y, t, _ = simulate(2, n=300)
    count = np.random.default_rng(3).integers(1, 4, size=len(y))
    kw = {"learner": "linear", "final_learner": "linear", "folds": None, "propensity_clip": 1e-6}
    weighted = cls(**kw).fit(x, y, t, sample_weight=count.astype(float))
    rows = np.repeat(np.arange(len(y)), count)
    repeated = cls(**kw).fit(x[rows], y[rows], t[rows])
    np.testing.assert_allclose(weighted.effect(x), repeated.effect(x), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(weighted.ate().estimate, repeated.ate().estimate, rtol=1e-8)


def test_a_learner_without_sample_weight_is_refused_by_name():
    from sklearn.neighbors import KNeighborsRegressor

    x, y, t, w = simulate(4, n=200)
    with pytest.raises(SpecificationError, match=r"learner 'KNeighborsRegressor' does not accept sample weights"):
        TLearner(learner=KNeighborsRegressor()).fit(x, y, t, sample_weight=w)
    with pytest.raises(SpecificationError, match=r"final_learner 'KNeighborsRegressor'"):
        DRLearner(final_learner=KNeighborsRegressor()).fit(x, y, t, sample_weight=w)
    TLearner(learner=KNeighborsRegressor()).fit(x, y, t)  # fine without weights
    with pytest.raises(SpecificationError, match=r"one weight per row"):
        TLearner().fit(x, y, t, sample_weight=w[:-1])


def test_function_form_takes_a_weights_column_and_leaves_the_unweighted_tests_out():
    x, y, t, w = simulate(5)
    data = pd.DataFrame(x, columns=["a", "b", "c"]).assign(y=y, d=t, w=w)
    labels = np.arange(len(y)) % 4
    est = dc.dr_learner(
        data, outcome="y", treatment="d", covariates=["a", "b", "c"], weights="w", folds=labels, propensity_clip=1e-6
    )
    obj = DRLearner(folds=labels, propensity_clip=1e-6).fit(data[["a", "b", "c"]], y, t, sample_weight=w)
    assert (est.estimate, est.std_error) == (obj.ate().estimate, obj.ate().std_error)
    assert "blp" not in est.diagnostics and "gates" not in est.diagnostics
    assert any("weighted by 'w'" in note for note in est.notes)
    with pytest.raises(SpecificationError, match=r"not weighted"):
        obj.heterogeneity()
    with pytest.raises(dc.errors.DataError, match=r"negative"):
        dc.t_learner(data.assign(w=-w), outcome="y", treatment="d", covariates=["a"], weights="w")
