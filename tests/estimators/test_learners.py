"""The learner layer: presets, seeding, shared folds, out-of-fold predictions and errors."""

import numpy as np
import pytest
import statsmodels.api as sm
from scipy.special import expit

import deconfound as dc
from deconfound.estimators.learners import (
    CLASSIFIER_PRESETS,
    REGRESSOR_PRESETS,
    LeastSquaresRegressor,
    LogisticClassifier,
    cross_fit_predict,
    derive_seed,
    make_folds,
    make_learner,
    repeated_folds,
    seed_from,
)


def _data(rng, n=300):
    x = rng.normal(size=(n, 3))
    t = rng.binomial(1, expit(0.4 * x[:, 0] - 0.5 * x[:, 1])).astype(float)
    y = x @ [1.0, -2.0, 0.5] + np.sin(3 * x[:, 2]) + t + rng.normal(size=n)
    return x, t, y


# --------------------------------------------------------------------------------------------------
# presets
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CLASSIFIER_PRESETS)
def test_every_classifier_preset_gives_probabilities(rng, name):
    x, t, _ = _data(rng, 200)
    learner = make_learner(name, kind="classifier", random_state=0)
    p = cross_fit_predict(learner, x, t, None)
    assert learner.name == name and p.shape == (200,)
    assert np.all((p > 0) & (p < 1))


@pytest.mark.parametrize("name", REGRESSOR_PRESETS)
def test_every_regressor_preset_predicts_better_than_the_mean(rng, name):
    x, _, y = _data(rng, 400)
    learner = make_learner(name, kind="regressor", random_state=0)
    pred = cross_fit_predict(learner, x, y, make_folds(len(y), folds=3, random_state=1))
    assert np.mean((y - pred) ** 2) < 0.7 * np.var(y)


def test_linear_preset_is_least_squares_with_an_intercept(rng):
    x, _, y = _data(rng)
    w = rng.uniform(0.5, 2.0, len(y))
    fitted = make_learner("ols", kind="regressor").fit(x, y, w)
    design = np.column_stack([np.ones(len(y)), x])
    beta = np.linalg.lstsq(design * np.sqrt(w)[:, None], y * np.sqrt(w), rcond=None)[0]
    np.testing.assert_allclose(fitted.intercept_, beta[0], rtol=1e-10)
    np.testing.assert_allclose(fitted.coef_, beta[1:], rtol=1e-10)
    np.testing.assert_allclose(fitted.predict(x[:5]), design[:5] @ beta, rtol=1e-10)


def test_logistic_preset_is_maximum_likelihood(rng):
    x, t, _ = _data(rng)
    fitted = make_learner("logistic", kind="classifier").fit(x, t)
    ref = sm.Logit(t, sm.add_constant(x)).fit(disp=0, method="newton", tol=1e-14)
    np.testing.assert_allclose(fitted.predict_proba(x)[:, 1], ref.predict(), rtol=1e-9)
    np.testing.assert_allclose(fitted.coef_, ref.params[1:], rtol=1e-7)
    np.testing.assert_array_equal(fitted.predict(x[:20]), (ref.predict()[:20] > 0.5).astype(float))


def test_lasso_preset_is_a_standardized_lasso_that_takes_weights(rng):
    from sklearn.linear_model import LassoCV
    from sklearn.preprocessing import StandardScaler

    x, _, y = _data(rng)
    w = rng.uniform(0.5, 2.0, len(y))
    ours = make_learner("lasso", kind="regressor", random_state=1).fit(x, y, w).predict(x)
    scaler = StandardScaler().fit(x)
    ref = LassoCV(cv=5, random_state=1).fit(scaler.transform(x), y, sample_weight=w).predict(scaler.transform(x))
    np.testing.assert_allclose(ours, ref, rtol=1e-12)


def test_sklearn_presets_are_the_documented_estimators(rng):
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.linear_model import LogisticRegression

    x, t, y = _data(rng)
    ours = cross_fit_predict(make_learner("sklearn-logistic", kind="classifier"), x, t, None)
    np.testing.assert_array_equal(ours, LogisticRegression().fit(x, t).predict_proba(x)[:, 1])
    gbm = cross_fit_predict(make_learner("gbm", kind="regressor", random_state=4), x, y, None)
    np.testing.assert_array_equal(gbm, HistGradientBoostingRegressor(random_state=4).fit(x, y).predict(x))


def test_our_learners_clone_like_scikit_learn_estimators(rng):
    from sklearn.base import clone

    x, _, y = _data(rng, 50)
    model = LeastSquaresRegressor(fit_intercept=False).fit(x, y)
    copy = clone(model)
    assert copy.get_params() == {"fit_intercept": False} and not hasattr(copy, "coef_")
    assert repr(copy) == "LeastSquaresRegressor(fit_intercept=False)"
    with pytest.raises(dc.NotFittedError, match=r"LogisticClassifier is not fitted yet"):
        LogisticClassifier().predict_proba(x)
    with pytest.raises(dc.SpecificationError, match=r"X has shape \(50, 2\) but LeastSquaresRegressor was fitted"):
        model.predict(x[:, :2])
    with pytest.raises(dc.SpecificationError, match=r"has no parameter 'alpha'"):
        LeastSquaresRegressor().set_params(alpha=1.0)


# --------------------------------------------------------------------------------------------------
# seeding
# --------------------------------------------------------------------------------------------------


def _forest_oof(x, t, random_state):
    seed = seed_from(random_state)
    learner = make_learner("rf", kind="classifier", random_state=seed)
    return cross_fit_predict(learner, x, t, make_folds(len(t), folds=4, target=t, random_state=seed))


def test_the_same_call_twice_is_bit_identical_and_seeds_matter(rng):
    x, t, _ = _data(rng, 200)
    a, b = _forest_oof(x, t, 7), _forest_oof(x, t, 7)
    np.testing.assert_array_equal(a, b)
    gen = _forest_oof(x, t, np.random.default_rng(3))
    np.testing.assert_array_equal(gen, _forest_oof(x, t, np.random.default_rng(3)))
    assert not np.array_equal(a, _forest_oof(x, t, 8))
    assert not np.array_equal(a, gen)


def test_parallel_folds_give_the_serial_numbers(rng):
    x, _, y = _data(rng, 200)
    learner = make_learner("gbm", kind="regressor", random_state=2)
    folds = make_folds(len(y), folds=3, random_state=2)
    serial = cross_fit_predict(learner, x, y, folds)
    np.testing.assert_array_equal(cross_fit_predict(learner, x, y, folds, n_jobs=2), serial)


def test_derived_seeds_are_deterministic_and_distinct():
    assert derive_seed(5) == 5
    assert derive_seed(5, "repeat", 1) == derive_seed(5, "repeat", 1)
    seeds = {derive_seed(5, "repeat", r) for r in range(20)} | {derive_seed(5, "outcome"), derive_seed(6, "outcome")}
    assert len(seeds) == 22 and all(0 <= s < 2**31 for s in seeds)
    with pytest.raises(dc.SpecificationError, match=r"seed keys must be non-negative integers or strings"):
        derive_seed(5, -1)
    with pytest.raises(dc.SpecificationError, match=r"random_state must be a non-negative integer seed, got -3"):
        seed_from(-3)


def test_the_users_estimator_is_cloned_and_seeded_only_when_unseeded(rng):
    from sklearn.ensemble import RandomForestRegressor

    mine = RandomForestRegressor(n_estimators=5)
    fixed = RandomForestRegressor(n_estimators=5, random_state=1)
    assert make_learner(mine, kind="regressor", random_state=9).template.random_state == 9
    assert make_learner(fixed, kind="regressor", random_state=9).template.random_state == 1
    x, _, y = _data(rng, 60)
    make_learner(mine, kind="regressor", random_state=9).fit(x, y)
    assert mine.random_state is None and not hasattr(mine, "estimators_")


# --------------------------------------------------------------------------------------------------
# folds and out-of-fold predictions
# --------------------------------------------------------------------------------------------------


def test_folds_are_sklearns_stratified_folds_and_keep_the_treated_share(rng):
    from sklearn.model_selection import StratifiedKFold

    _, t, _ = _data(rng, 301)
    folds = make_folds(len(t), folds=5, target=t, random_state=11)
    assert folds.stratified and len(folds) == 5 and folds.sizes().sum() == 301
    ref = StratifiedKFold(5, shuffle=True, random_state=11).split(np.zeros(len(t)), t)
    for (train, test), (ref_train, ref_test) in zip(folds.split(), ref):
        np.testing.assert_array_equal(train, ref_train)
        np.testing.assert_array_equal(test, ref_test)
        assert abs(t[test].sum() - t.sum() / 5) <= 1


def test_one_split_serves_every_nuisance(rng):
    """Propensity and outcome models leave out the same rows: each equals a hand loop on the shared folds."""
    from sklearn.linear_model import LinearRegression, LogisticRegression

    x, t, y = _data(rng)
    folds = make_folds(len(t), folds=4, target=t, random_state=0)
    e = cross_fit_predict(make_learner(LogisticRegression(), kind="classifier"), x, t, folds)
    m1 = cross_fit_predict(make_learner(LinearRegression(), kind="regressor"), x, y, folds, train_mask=t == 1)
    ref_e, ref_m1 = np.empty(len(t)), np.empty(len(t))
    for k in range(4):
        test, train = folds.assignment == k, folds.assignment != k
        ref_e[test] = LogisticRegression().fit(x[train], t[train]).predict_proba(x[test])[:, 1]
        treated = train & (t == 1)
        ref_m1[test] = LinearRegression().fit(x[treated], y[treated]).predict(x[test])
    np.testing.assert_array_equal(e, ref_e)
    np.testing.assert_array_equal(m1, ref_m1)


def test_regressor_out_of_fold_predictions_equal_a_kfold_loop(rng):
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.model_selection import KFold

    x, _, y = _data(rng, 250)
    w = rng.uniform(0.5, 2.0, len(y))
    forest = RandomForestRegressor(n_estimators=20, min_samples_leaf=3)
    learner = make_learner(forest, kind="regressor", random_state=21)
    ours = cross_fit_predict(learner, x, y, make_folds(len(y), folds=5, random_state=21), sample_weight=w)
    ref = np.empty(len(y))
    for train, test in KFold(5, shuffle=True, random_state=21).split(x):
        model = RandomForestRegressor(n_estimators=20, min_samples_leaf=3, random_state=21)
        ref[test] = model.fit(x[train], y[train], sample_weight=w[train]).predict(x[test])
    np.testing.assert_array_equal(ours, ref)


def test_grouped_folds_keep_each_cluster_on_one_side(rng):
    groups = rng.integers(0, 30, 500)
    t = rng.binomial(1, 0.5, 500)
    folds = make_folds(500, folds=5, target=t, groups=groups, random_state=3)
    assert folds.grouped and not folds.stratified
    for train, test in folds.split():
        assert not set(groups[train]) & set(groups[test])
    again = make_folds(500, folds=5, groups=groups, random_state=3)
    np.testing.assert_array_equal(folds.assignment, again.assignment)


def test_repeated_splits_start_from_the_root_seed_and_differ(rng):
    t = rng.binomial(1, 0.4, 200)
    splits = repeated_folds(200, folds=4, repeats=3, target=t, random_state=6)
    np.testing.assert_array_equal(splits[0].assignment, make_folds(200, folds=4, target=t, random_state=6).assignment)
    assert all(s.stratified for s in splits)
    assert not np.array_equal(splits[1].assignment, splits[0].assignment)
    assert not np.array_equal(splits[2].assignment, splits[1].assignment)
    again = repeated_folds(200, folds=4, repeats=3, target=t, random_state=6)
    assert all(np.array_equal(a.assignment, b.assignment) for a, b in zip(splits, again))


# --------------------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------------------


def test_a_classifier_without_predict_proba_is_refused():
    from sklearn.svm import SVC

    message = r"propensity_model must be .* got 'SVC', which has no predict_proba"
    with pytest.raises(dc.SpecificationError, match=message):
        make_learner(SVC(), kind="classifier", argument="propensity_model")


def test_an_unknown_preset_lists_the_presets():
    message = r"outcome_model='xgboost' is not allowed; choose one of 'linear', 'ols', 'lasso', 'gbm', 'rf'"
    with pytest.raises(dc.SpecificationError, match=message):
        make_learner("xgboost", kind="regressor", argument="outcome_model")
    with pytest.raises(dc.SpecificationError, match=r"learner='ols' is not allowed; choose one of 'logistic'"):
        make_learner("ols", kind="classifier")


def test_an_object_that_is_not_sklearn_like_is_refused():
    class Fits:
        def fit(self, x, y):
            return self

        def predict(self, x):
            return x[:, 0]

    with pytest.raises(dc.SpecificationError, match=r"outcome_model must be .* got 'Fits', which has no get_params"):
        make_learner(Fits(), kind="regressor", argument="outcome_model")
    with pytest.raises(dc.SpecificationError, match=r"scikit-learn regressor .* got 'int', which has no fit, predict"):
        make_learner(3, kind="regressor")


def test_failures_name_the_argument_and_the_fold(rng):
    x, t, y = _data(rng, 100)
    with pytest.raises(dc.DataError, match=r"cross_fit=5 folds need at least 5 treated and 5 control rows; .* has 3"):
        target = np.r_[np.ones(3), np.zeros(97)]
        make_folds(100, folds=5, target=target, argument="cross_fit", labels=("treated", "control"))
    with pytest.raises(dc.DataError, match=r"folds=4 folds of whole clusters need at least 4 clusters; there are 3"):
        make_folds(100, folds=4, groups=np.arange(100) % 3)
    with pytest.raises(dc.SpecificationError, match=r"folds must be an integer >= 2, got 1"):
        make_folds(100, folds=1)
    learner = make_learner("sklearn-logistic", kind="classifier", argument="propensity_model")
    mask = np.arange(100) < 50
    treated_first = np.where(mask, 1.0, 0.0)
    folds = make_folds(100, folds=2, random_state=0)
    with pytest.raises(dc.DataError, match=r"propensity_model 'sklearn-logistic' would be fitted in fold 1 of 2 on"):
        cross_fit_predict(learner, x, treated_first, folds, train_mask=mask)
    nan_y = y.copy()
    nan_y[0] = np.nan
    with pytest.raises(dc.SpecificationError, match=r"outcome_model 'gbm' could not be fitted in fold 1 of 2: .*NaN"):
        cross_fit_predict(make_learner("gbm", kind="regressor", argument="outcome_model"), x, nan_y, folds)
    with pytest.raises(dc.SpecificationError, match=r"the folds were made for 100 rows but the data have 99"):
        cross_fit_predict(learner, x[:99], t[:99], folds)


def test_scikit_learn_is_imported_only_when_used():
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from deconfound.estimators import learners, propensity\n"
        "assert 'sklearn' not in sys.modules\n"
        "x = np.random.default_rng(0).normal(size=(40, 2))\n"
        "learners.make_learner('ols', kind='regressor').fit(x, x[:, 0] + x[:, 1])\n"
        "assert 'sklearn' not in sys.modules\n"
        "learners.make_learner('gbm', kind='regressor')\n"
        "assert 'sklearn' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_our_linear_learners_cross_fit_from_shared_cross_products_as_fold_by_fold_fits(rng):
    """The batch's fast path for our least squares and logistic learners (one pass of cross-products;
    logistic folds started from the previous fold) gives statsmodels' fold-by-fold fits, with a training
    mask, and a fold it cannot solve (a column constant outside it) gets the ordinary fit's error."""
    from deconfound.estimators.learners.batch import Job, cross_fit_many

    x, t, y = _data(rng, 600)
    folds = make_folds(600, folds=4, target=t, random_state=3)
    ols = make_learner("linear", kind="regressor", argument="ml_g")
    logit = make_learner("logistic", kind="classifier", argument="ml_m")
    treated = t == 1.0
    got = cross_fit_many([Job(ols, x, y, folds), Job(ols, x, y, folds, treated), Job(logit, x, t, folds)], n_jobs=None)
    design = sm.add_constant(x)
    for train, test in folds.split():
        keep = train[treated[train]]
        expected = [
            sm.OLS(y[train], design[train]).fit().predict(design[test]),
            sm.OLS(y[keep], design[keep]).fit().predict(design[test]),
            sm.Logit(t[train], design[train]).fit(disp=0, tol=1e-12).predict(design[test]),
        ]
        for values, ref in zip(got, expected):
            np.testing.assert_allclose(values[test], ref, rtol=1e-8, atol=1e-10)
    bad = x.copy()
    bad[folds.assignment != 0, 2] = 1.0  # constant outside fold 0: fold 0's training rows are collinear
    with pytest.raises(dc.DeconfoundError, match=r"fold 1 of 4"):
        cross_fit_many([Job(ols, bad, y, folds)])
