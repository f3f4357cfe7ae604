"""DML against DoubleML, live: with the same folds and the same learners, the point estimates and standard
errors agree to 1e-6 relative (PLR with both scores, IRM ATE and ATT, PLIV, IIVM, one-way clusters,
several repetitions). Our folds are handed to DoubleML with ``set_sample_splitting``."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

doubleml = pytest.importorskip("doubleml")
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor  # noqa: E402
from sklearn.linear_model import LinearRegression, LogisticRegression  # noqa: E402

from deconfound import errors as dc_errors  # noqa: E402
from deconfound.estimators.dml import dml, dml_irm, dml_iv  # noqa: E402

COV = [f"x{j}" for j in range(4)]
RTOL = 1e-6


def _data(n=600, seed=3, binary=True):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    z = rng.binomial(1, 1 / (1 + np.exp(-0.5 * x[:, 2])))
    latent = 0.8 * x[:, 0] - 0.5 * x[:, 1] + 1.2 * z - 0.6 + rng.normal(size=n)
    d = (latent > 0).astype(float) if binary else latent
    y = 0.7 * d + x[:, 0] + 0.5 * x[:, 1] ** 2 + 0.3 * x[:, 3] + rng.normal(size=n)
    frame = pd.DataFrame(x, columns=COV)
    frame["d"], frame["y"], frame["z"] = d, y, z.astype(float)
    frame["g"] = rng.integers(0, 40, size=n)
    return frame


def _folds(n, k, reps, seed, strata=None):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(reps):
        a = np.empty(n, dtype=np.int64)
        a[rng.permutation(n)] = np.arange(n) % k
        out.append(a)
    return out


def _smpls(folds):
    return [[(np.flatnonzero(a != f), np.flatnonzero(a == f)) for f in range(a.max() + 1)] for a in folds]


def _theirs(obj, folds, cluster_folds=None):
    if cluster_folds is None:
        obj.set_sample_splitting(_smpls(folds))
    else:
        obj.set_sample_splitting(_smpls(folds), cluster_folds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        obj.fit()
    return float(obj.coef[0]), float(obj.se[0])


def _same(ours, theirs):
    assert ours.estimate == pytest.approx(theirs[0], rel=RTOL)
    assert ours.std_error == pytest.approx(theirs[1], rel=RTOL)


def _dml_data(frame, **kw):
    return doubleml.DoubleMLData(frame, "y", "d", COV, **kw)


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # clipping / nuisance warnings are tested elsewhere
        return fn(*args, **kwargs)


@pytest.mark.parametrize("score", ["partialling out", "IV-type"])
@pytest.mark.parametrize("reps", [1, 3])
def test_plr_linear_equals_doubleml(score, reps):
    frame = _data(binary=False)
    folds = _folds(len(frame), 5, reps, seed=reps)
    ours = _quiet(
        dml, frame, outcome="y", treatment="d", covariates=COV, score=score, learner=LinearRegression(), folds=folds
    )
    theirs = doubleml.DoubleMLPLR(
        _dml_data(frame),
        LinearRegression(),
        LinearRegression(),
        LinearRegression() if score == "IV-type" else None,
        n_folds=5,
        n_rep=reps,
        score=score,
        draw_sample_splitting=False,
    )
    _same(ours, _theirs(theirs, folds))


def test_plr_binary_treatment_with_a_forest_and_a_classifier():
    frame = _data()
    folds = _folds(len(frame), 4, 2, seed=7)
    rf = RandomForestRegressor(n_estimators=25, min_samples_leaf=5, random_state=11)
    clf = RandomForestClassifier(n_estimators=25, min_samples_leaf=5, random_state=12)
    ours = _quiet(dml, frame, outcome="y", treatment="d", covariates=COV, ml_l=rf, ml_m=clf, folds=folds)
    theirs = doubleml.DoubleMLPLR(_dml_data(frame), rf, clf, n_folds=4, n_rep=2, draw_sample_splitting=False)
    _same(ours, _theirs(theirs, folds))


@pytest.mark.parametrize("estimand", ["ATE", "ATT"])
@pytest.mark.parametrize("normalize", [False, True])
def test_irm_equals_doubleml(estimand, normalize):
    frame = _data()
    folds = _folds(len(frame), 5, 2, seed=5)
    ours = _quiet(
        dml_irm,
        frame,
        outcome="y",
        treatment="d",
        covariates=COV,
        estimand=estimand,
        ml_g=LinearRegression(),
        ml_m=LogisticRegression(),
        folds=folds,
        normalize_ipw=normalize,
    )
    theirs = doubleml.DoubleMLIRM(
        _dml_data(frame),
        LinearRegression(),
        LogisticRegression(),
        n_folds=5,
        n_rep=2,
        score="ATTE" if estimand == "ATT" else "ATE",
        normalize_ipw=normalize,
        draw_sample_splitting=False,
    )
    _same(ours, _theirs(theirs, folds))


def test_irm_with_forests_and_heavy_clipping_equals_doubleml():
    frame = _data(n=500, seed=9)
    folds = _folds(len(frame), 3, 1, seed=2)
    rf = RandomForestRegressor(n_estimators=20, random_state=1)
    clf = RandomForestClassifier(n_estimators=20, random_state=2)
    ours = _quiet(
        dml_irm,
        frame,
        outcome="y",
        treatment="d",
        covariates=COV,
        ml_g=rf,
        ml_m=clf,
        folds=folds,
        trimming_threshold=0.1,
    )
    from doubleml.utils.propensity_score_processing import PSProcessorConfig

    theirs = doubleml.DoubleMLIRM(
        _dml_data(frame),
        rf,
        clf,
        n_folds=3,
        draw_sample_splitting=False,
        ps_processor_config=PSProcessorConfig(clipping_threshold=0.1),
    )
    _same(ours, _theirs(theirs, folds))


@pytest.mark.parametrize("score", ["partialling out", "IV-type"])
def test_pliv_equals_doubleml(score):
    frame = _data(binary=False)
    folds = _folds(len(frame), 5, 2, seed=4)
    ours = _quiet(
        dml_iv,
        frame,
        outcome="y",
        treatment="d",
        instrument="z",
        covariates=COV,
        score=score,
        learner=LinearRegression(),
        folds=folds,
    )
    theirs = doubleml.DoubleMLPLIV(
        _dml_data(frame, z_cols="z"),
        LinearRegression(),
        LinearRegression(),
        LinearRegression(),
        LinearRegression() if score == "IV-type" else None,
        n_folds=5,
        n_rep=2,
        score=score,
        draw_sample_splitting=False,
    )
    _same(ours, _theirs(theirs, folds))


@pytest.mark.parametrize("subgroups", [(True, True), (False, True)])
def test_iivm_equals_doubleml(subgroups):
    frame = _data()
    if not subgroups[0]:  # one-sided noncompliance: nobody with z = 0 is treated
        frame.loc[frame["z"] == 0, "d"] = 0.0
    folds = _folds(len(frame), 5, 2, seed=8)
    ours = _quiet(
        dml_iv,
        frame,
        outcome="y",
        treatment="d",
        instrument="z",
        covariates=COV,
        model="iivm",
        ml_g=LinearRegression(),
        ml_m=LogisticRegression(),
        ml_r=LogisticRegression(),
        folds=folds,
        always_takers=subgroups[0],
        never_takers=subgroups[1],
    )
    theirs = doubleml.DoubleMLIIVM(
        _dml_data(frame, z_cols="z"),
        LinearRegression(),
        LogisticRegression(),
        LogisticRegression(),
        n_folds=5,
        n_rep=2,
        draw_sample_splitting=False,
        subgroups={"always_takers": subgroups[0], "never_takers": subgroups[1]},
    )
    _same(ours, _theirs(theirs, folds))


@pytest.mark.parametrize("model", ["plr", "irm"])
def test_one_way_clusters_equal_doubleml(model):
    frame = _data(n=800, seed=12)
    codes = frame["g"].to_numpy()
    k = 4
    folds, cluster_folds = [], []
    for seed in (1, 2):
        per_cluster = np.random.default_rng(seed).permutation(40) % k
        folds.append(per_cluster[codes].astype(np.int64))
        clusters = np.arange(40)
        cluster_folds.append([([clusters[per_cluster != f]], [clusters[per_cluster == f]]) for f in range(k)])
    data = _dml_data(frame, cluster_cols="g")
    if model == "plr":
        ours = _quiet(
            dml,
            frame,
            outcome="y",
            treatment="d",
            covariates=COV,
            learner=LinearRegression(),
            ml_m=LinearRegression(),
            folds=folds,
            cluster="g",
        )
        theirs = doubleml.DoubleMLPLR(
            data, LinearRegression(), LinearRegression(), n_folds=k, n_rep=2, draw_sample_splitting=False
        )
    else:
        ours = _quiet(
            dml_irm,
            frame,
            outcome="y",
            treatment="d",
            covariates=COV,
            ml_g=LinearRegression(),
            ml_m=LogisticRegression(),
            folds=folds,
            cluster="g",
        )
        theirs = doubleml.DoubleMLIRM(
            data, LinearRegression(), LogisticRegression(), n_folds=k, n_rep=2, draw_sample_splitting=False
        )
    _same(ours, _theirs(theirs, folds, cluster_folds))
    assert ours.diagnostics["dml"]["n_clusters"] == 40


def test_our_linear_presets_agree_with_scikit_learns_models():
    """The "linear" preset (our least squares, logistic where a probability is needed) gives DoubleML's
    numbers with LinearRegression / unpenalized LogisticRegression."""
    frame = _data()
    folds = _folds(len(frame), 5, 1, seed=1)
    ours = _quiet(dml_irm, frame, outcome="y", treatment="d", covariates=COV, learner="linear", folds=folds)
    theirs = doubleml.DoubleMLIRM(
        _dml_data(frame), LinearRegression(), LogisticRegression(penalty=None), n_folds=5, draw_sample_splitting=False
    )
    assert ours.estimate == pytest.approx(_theirs(theirs, folds)[0], rel=1e-5)


@pytest.mark.parametrize("model", ["plr", "irm"])
def test_two_way_clusters_equal_doubleml(model):
    """Two-way clusters (DoubleML's multiway cluster data): folds are the K x K cells of the product of a
    split of each cluster variable, training rows share no cluster with the cell, and the standard error
    is the two-way formula; the same cell splits give DoubleML's estimate and standard error."""
    frame = _data(n=900, seed=21)
    rng = np.random.default_rng(5)
    frame["h"] = rng.integers(0, 30, size=len(frame))
    g, h = frame["g"].to_numpy(), frame["h"].to_numpy()
    k = 3
    folds, smpls, cluster_folds = [], [], []
    for seed in (1, 2):
        fold_g = np.random.default_rng(seed).permutation(40) % k
        fold_h = np.random.default_rng(seed + 10).permutation(30) % k
        folds.append((fold_g[g] * k + fold_h[h]).astype(np.int64))
        rep, rep_clusters = [], []
        for k1 in range(k):  # DoubleML's order of the cells: the first variable's fold, then the second's
            for k2 in range(k):
                train = np.flatnonzero((fold_g[g] != k1) & (fold_h[h] != k2))
                test = np.flatnonzero((fold_g[g] == k1) & (fold_h[h] == k2))
                rep.append((train, test))
                ig, ih = np.arange(40), np.arange(30)
                rep_clusters.append(([ig[fold_g != k1], ih[fold_h != k2]], [ig[fold_g == k1], ih[fold_h == k2]]))
        smpls.append(rep)
        cluster_folds.append(rep_clusters)
    data = _dml_data(frame, cluster_cols=["g", "h"])
    kw = dict(outcome="y", treatment="d", covariates=COV, folds=folds, cluster=["g", "h"])
    if model == "plr":
        ours = _quiet(dml, frame, learner=LinearRegression(), ml_m=LinearRegression(), **kw)
        theirs = doubleml.DoubleMLPLR(
            data, LinearRegression(), LinearRegression(), n_folds=k, n_rep=2, draw_sample_splitting=False
        )
    else:
        ours = _quiet(dml_irm, frame, ml_g=LinearRegression(), ml_m=LogisticRegression(), **kw)
        theirs = doubleml.DoubleMLIRM(
            data, LinearRegression(), LogisticRegression(), n_folds=k, n_rep=2, draw_sample_splitting=False
        )
    theirs.set_sample_splitting(smpls, cluster_folds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs.fit()
    _same(ours, (float(theirs.coef[0]), float(theirs.se[0])))
    assert ours.diagnostics["dml"]["n_clusters"] == 30
    assert ours.diagnostics["dml"]["n_clusters_by_variable"] == [40, 30]
    one_way = _quiet(
        dml_irm if model == "irm" else dml,
        frame,
        outcome="y",
        treatment="d",
        covariates=COV,
        learner="linear",
        cluster="g",
        random_state=0,
    )
    assert one_way.std_error != ours.std_error


def test_two_way_folds_of_our_own_keep_training_rows_apart_from_the_cell():
    frame = _data(n=900, seed=21)
    frame["h"] = np.random.default_rng(5).integers(0, 30, size=len(frame))
    est = _quiet(
        dml_irm,
        frame,
        outcome="y",
        treatment="d",
        covariates=COV,
        learner="linear",
        cluster=["g", "h"],
        folds=3,
        random_state=4,
    )
    assert est.diagnostics["dml"]["folds"] == 9 and np.isfinite(est.std_error)
    again = _quiet(
        dml_irm,
        frame,
        outcome="y",
        treatment="d",
        covariates=COV,
        learner="linear",
        cluster=["g", "h"],
        folds=3,
        random_state=4,
        n_jobs=2,
    )
    assert (again.estimate, again.std_error) == (est.estimate, est.std_error)
    from deconfound.estimators.learners.folds import make_folds

    f = make_folds(900, folds=3, groups=frame["g"].to_numpy(), groups2=frame["h"].to_numpy(), random_state=4)
    for fold, (train, test) in enumerate(f.split()):
        assert not set(frame["g"].to_numpy()[train]) & set(frame["g"].to_numpy()[test]), fold
        assert not set(frame["h"].to_numpy()[train]) & set(frame["h"].to_numpy()[test]), fold
    with pytest.raises(dc_errors.SpecificationError, match=r"K x K cells"):
        dml(
            frame,
            outcome="y",
            treatment="d",
            covariates=COV,
            learner="linear",
            cluster=["g", "h"],
            folds=[np.arange(900) % 5],
        )
