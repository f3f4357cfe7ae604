"""DML omitted-variable-bias bounds (Chernozhukov, Cinelli, Newey, Sharma and Syrgkanis 2022) against
DoubleML's ``sensitivity_analysis()`` / ``sensitivity_params`` and ``sensitivity_benchmark()``, live, on the
same folds and learners: bounds, their standard errors and confidence bounds to 1e-8 relative; the
robustness values to 1e-4 absolute (DoubleML finds them with a bounded scalar minimizer of tolerance
1e-5; we solve for the root)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

doubleml = pytest.importorskip("doubleml")
from sklearn.linear_model import LinearRegression, LogisticRegression  # noqa: E402
from tests.estimators.test_dml_reference import COV, _data, _dml_data, _folds, _theirs  # noqa: E402

from deconfound.errors import SpecificationError  # noqa: E402
from deconfound.estimators.dml import dml, dml_irm, dml_iv  # noqa: E402
from deconfound.robustness.dml_bounds import dml_ovb, dml_sensitivity, gain_statistics  # noqa: E402

RTOL = 1e-8
RV_ATOL = 1e-4


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _same_params(ours, theirs, cf_y, cf_d, rho, level=0.95):
    theirs.sensitivity_analysis(cf_y=cf_y, cf_d=cf_d, rho=rho, level=level)
    p = theirs.sensitivity_params
    mine = dml_sensitivity(ours, cf_y=cf_y, cf_d=cf_d, rho=rho, level=level)
    for ours_key, (group, side) in {
        "theta_lower": ("theta", "lower"),
        "theta_upper": ("theta", "upper"),
        "se_lower": ("se", "lower"),
        "se_upper": ("se", "upper"),
        "ci_lower": ("ci", "lower"),
        "ci_upper": ("ci", "upper"),
    }.items():
        assert getattr(mine, ours_key) == pytest.approx(float(p[group][side][0]), rel=RTOL), ours_key
    assert mine.rv == pytest.approx(float(p["rv"][0]), abs=RV_ATOL)
    assert mine.rva == pytest.approx(float(p["rva"][0]), abs=RV_ATOL)
    return mine


@pytest.mark.parametrize("score", ["partialling out", "IV-type"])
def test_plr_bounds_equal_doubleml(score):
    frame = _data(binary=False)
    folds = _folds(len(frame), 5, 3, seed=1)
    ours = _quiet(
        dml, frame, outcome="y", treatment="d", covariates=COV, score=score, learner=LinearRegression(), folds=folds
    )
    theirs = doubleml.DoubleMLPLR(
        _dml_data(frame),
        LinearRegression(),
        LinearRegression(),
        LinearRegression() if score == "IV-type" else None,
        n_folds=5,
        n_rep=3,
        score=score,
        draw_sample_splitting=False,
    )
    _theirs(theirs, folds)
    _same_params(ours, theirs, 0.05, 0.04, 0.8)
    mine = _same_params(ours, theirs, 0.03, 0.03, 1.0, level=0.9)
    assert mine.theta_lower < ours.estimate < mine.theta_upper


@pytest.mark.parametrize("normalize", [False, True])
def test_irm_ate_bounds_equal_doubleml(normalize):
    frame = _data()
    folds = _folds(len(frame), 5, 2, seed=5)
    ours = _quiet(
        dml_irm,
        frame,
        outcome="y",
        treatment="d",
        covariates=COV,
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
        normalize_ipw=normalize,
        draw_sample_splitting=False,
    )
    _theirs(theirs, folds)
    _same_params(ours, theirs, 0.03, 0.03, 1.0)
    _same_params(ours, theirs, 0.1, 0.02, -0.5)


@pytest.mark.parametrize("normalize", [False, True])
def test_irm_att_bounds_equal_doubleml(normalize):
    """The ATT (DoubleML's score='ATTE'): the Riesz representer weighted by m / p, sigma2 from both arms'
    outcome models (fit_g1=True fits E[Y | X, D = 1], which the ATT estimate itself does not need)."""
    frame = _data(seed=8)
    folds = _folds(len(frame), 4, 3, seed=6)
    ours = _quiet(
        dml_irm,
        frame,
        outcome="y",
        treatment="d",
        covariates=COV,
        estimand="ATT",
        fit_g1=True,
        ml_g=LinearRegression(),
        ml_m=LogisticRegression(),
        folds=folds,
        normalize_ipw=normalize,
    )
    theirs = doubleml.DoubleMLIRM(
        _dml_data(frame),
        LinearRegression(),
        LogisticRegression(),
        n_folds=4,
        n_rep=3,
        score="ATTE",
        normalize_ipw=normalize,
        draw_sample_splitting=False,
    )
    _theirs(theirs, folds)
    assert ours.estimate == pytest.approx(float(theirs.coef[0]), rel=RTOL)
    assert "ml_g1" in ours.diagnostics["nuisance_quality"].index
    _same_params(ours, theirs, 0.03, 0.03, 1.0)
    _same_params(ours, theirs, 0.08, 0.05, -0.7, level=0.9)
    without = _quiet(
        dml_irm,
        frame,
        outcome="y",
        treatment="d",
        covariates=COV,
        estimand="ATT",
        ml_g=LinearRegression(),
        ml_m=LogisticRegression(),
        folds=folds,
        normalize_ipw=normalize,
    )
    assert without.estimate == pytest.approx(ours.estimate, rel=1e-12)  # g1 cancels from the ATT's score


def _cluster_splits(frame, k):
    codes = frame["g"].to_numpy()
    folds, cluster_folds = [], []
    for seed in (1, 2):
        per_cluster = np.random.default_rng(seed).permutation(40) % k
        folds.append(per_cluster[codes].astype(np.int64))
        clusters = np.arange(40)
        cluster_folds.append([([clusters[per_cluster != f]], [clusters[per_cluster == f]]) for f in range(k)])
    return folds, cluster_folds


@pytest.mark.parametrize("estimand", ["ATE", "ATT"])
def test_clustered_irm_bounds_equal_doubleml(estimand):
    frame = _data(n=800, seed=12)
    folds, cluster_folds = _cluster_splits(frame, 4)
    ours = _quiet(
        dml_irm,
        frame,
        outcome="y",
        treatment="d",
        covariates=COV,
        estimand=estimand,
        fit_g1=True,
        ml_g=LinearRegression(),
        ml_m=LogisticRegression(),
        folds=folds,
        cluster="g",
    )
    theirs = doubleml.DoubleMLIRM(
        _dml_data(frame, cluster_cols="g"),
        LinearRegression(),
        LogisticRegression(),
        n_folds=4,
        n_rep=2,
        score="ATTE" if estimand == "ATT" else "ATE",
        draw_sample_splitting=False,
    )
    _theirs(theirs, folds, cluster_folds)
    _same_params(ours, theirs, 0.04, 0.05, 1.0)


def _two_way_splits(frame, k):
    g, h = frame["g"].to_numpy(), frame["h"].to_numpy()
    folds, smpls, cluster_folds = [], [], []
    for seed in (1, 2):
        fold_g = np.random.default_rng(seed).permutation(40) % k
        fold_h = np.random.default_rng(seed + 10).permutation(30) % k
        folds.append((fold_g[g] * k + fold_h[h]).astype(np.int64))
        rep, rep_clusters = [], []
        for k1 in range(k):  # DoubleML's order of the cells: the first variable's fold, then the second's
            for k2 in range(k):
                rep.append(
                    (
                        np.flatnonzero((fold_g[g] != k1) & (fold_h[h] != k2)),
                        np.flatnonzero((fold_g[g] == k1) & (fold_h[h] == k2)),
                    )
                )
                ig, ih = np.arange(40), np.arange(30)
                rep_clusters.append(([ig[fold_g != k1], ih[fold_h != k2]], [ig[fold_g == k1], ih[fold_h == k2]]))
        smpls.append(rep)
        cluster_folds.append(rep_clusters)
    return folds, smpls, cluster_folds


@pytest.mark.parametrize("model", ["plr", "att"])
def test_two_way_clustered_bounds_equal_doubleml(model):
    """Two-way clusters: the bounds' standard errors use the two-way variance, as DoubleML's."""
    frame = _data(n=900, seed=21)
    frame["h"] = np.random.default_rng(5).integers(0, 30, size=len(frame))
    k = 3
    folds, smpls, cluster_folds = _two_way_splits(frame, k)
    data = _dml_data(frame, cluster_cols=["g", "h"])
    kw = dict(outcome="y", treatment="d", covariates=COV, folds=folds, cluster=["g", "h"])
    if model == "plr":
        ours = _quiet(dml, frame, learner=LinearRegression(), ml_m=LinearRegression(), **kw)
        theirs = doubleml.DoubleMLPLR(
            data, LinearRegression(), LinearRegression(), n_folds=k, n_rep=2, draw_sample_splitting=False
        )
    else:
        ours = _quiet(
            dml_irm, frame, estimand="ATT", fit_g1=True, ml_g=LinearRegression(), ml_m=LogisticRegression(), **kw
        )
        theirs = doubleml.DoubleMLIRM(
            data,
            LinearRegression(),
            LogisticRegression(),
            n_folds=k,
            n_rep=2,
            score="ATTE",
            draw_sample_splitting=False,
        )
    theirs.set_sample_splitting(smpls, cluster_folds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs.fit()
    _same_params(ours, theirs, 0.04, 0.05, 1.0)


def test_clustered_plr_bounds_equal_doubleml():
    frame = _data(n=800, seed=12)
    codes = frame["g"].to_numpy()
    k = 4
    folds, cluster_folds = [], []
    for seed in (1, 2):
        per_cluster = np.random.default_rng(seed).permutation(40) % k
        folds.append(per_cluster[codes].astype(np.int64))
        clusters = np.arange(40)
        cluster_folds.append([([clusters[per_cluster != f]], [clusters[per_cluster == f]]) for f in range(k)])
    ours = _quiet(
        dml, frame, outcome="y", treatment="d", covariates=COV, learner=LinearRegression(), folds=folds, cluster="g"
    )
    theirs = doubleml.DoubleMLPLR(
        _dml_data(frame, cluster_cols="g"),
        LinearRegression(),
        LinearRegression(),
        n_folds=k,
        n_rep=2,
        draw_sample_splitting=False,
    )
    _theirs(theirs, folds, cluster_folds)
    _same_params(ours, theirs, 0.04, 0.05, 1.0)


@pytest.mark.parametrize("method", ["dml", "dml-iv-type", "dml-irm", "dml-irm-att"])
def test_benchmark_equals_doubleml_gain_statistics(method):
    frame = _data(binary=method.startswith("dml-irm"))
    folds = _folds(len(frame), 5, 2, seed=4)
    if method in ("dml", "dml-iv-type"):
        score = "IV-type" if method == "dml-iv-type" else "partialling out"
        options = {"learner": LinearRegression(), "score": score}
        theirs = doubleml.DoubleMLPLR(
            _dml_data(frame),
            LinearRegression(),
            LinearRegression(),
            LinearRegression() if score == "IV-type" else None,
            n_folds=5,
            n_rep=2,
            score=score,
            draw_sample_splitting=False,
        )
        method = "dml"
    else:
        estimand = "ATT" if method == "dml-irm-att" else "ATE"
        options = {"ml_g": LinearRegression(), "ml_m": LogisticRegression(), "estimand": estimand}
        theirs = doubleml.DoubleMLIRM(
            _dml_data(frame),
            LinearRegression(),
            LogisticRegression(),
            n_folds=5,
            n_rep=2,
            score="ATTE" if estimand == "ATT" else "ATE",
            draw_sample_splitting=False,
        )
        method = "dml-irm"
    _theirs(theirs, folds)
    mark = "x1" if options.get("estimand") == "ATT" else "x0"  # x0 drives the ATT's cf_d to 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bench = theirs.sensitivity_benchmark([mark]).iloc[0]
    mine = _quiet(
        dml_ovb,
        frame,
        outcome="y",
        treatment="d",
        covariates=COV,
        method=method,
        benchmark=mark,
        folds=folds,
        **options,
    )
    row = mine.benchmarks[0]
    for key in ("cf_y", "cf_d", "rho", "delta_theta"):
        assert row[key] == pytest.approx(float(bench[key]), rel=RTOL, abs=1e-12), key
    # the bounds at the benchmark's strength are DoubleML's sensitivity_analysis at those values
    theirs.sensitivity_analysis(cf_y=float(bench["cf_y"]), cf_d=float(bench["cf_d"]), rho=float(bench["rho"]))
    p = theirs.sensitivity_params
    assert row["theta_lower"] == pytest.approx(float(p["theta"]["lower"][0]), rel=RTOL)
    assert row["ci_upper"] == pytest.approx(float(p["ci"]["upper"][0]), rel=RTOL)
    assert f"'{mark}'" in mine.text


def test_gain_statistics_of_a_useless_covariate_are_small():
    """x2 enters neither the outcome nor the treatment: leaving it out barely changes anything."""
    frame = _data(binary=False, n=2000)
    folds = _folds(len(frame), 5, 1, seed=2)
    long = _quiet(dml, frame, outcome="y", treatment="d", covariates=COV, learner="linear", folds=folds)
    short = _quiet(dml, frame, outcome="y", treatment="d", covariates=["x0", "x1", "x3"], learner="linear", folds=folds)
    row = gain_statistics(long, short, "x2")
    assert row["cf_y"] < 0.01 and row["cf_d"] < 0.01


def test_a_strong_hidden_confounder_makes_the_rv_small_and_a_strong_effect_a_large_one():
    rng = np.random.default_rng(0)
    n = 3000
    x = rng.normal(size=(n, 2))
    d = x[:, 0] + rng.normal(size=n)
    frame_data = {"x0": x[:, 0], "x1": x[:, 1], "d": d}
    import pandas as pd

    weak = pd.DataFrame({**frame_data, "y": 0.05 * d + x[:, 1] + rng.normal(size=n)})
    strong = pd.DataFrame({**frame_data, "y": 2.0 * d + x[:, 1] + rng.normal(size=n)})
    rv_weak = dml_sensitivity(
        _quiet(dml, weak, outcome="y", treatment="d", covariates=["x0", "x1"], learner="linear", random_state=1)
    ).rv
    rv_strong = dml_sensitivity(
        _quiet(dml, strong, outcome="y", treatment="d", covariates=["x0", "x1"], learner="linear", random_state=1)
    ).rv
    assert rv_weak < 0.1 < 0.5 < rv_strong


def test_refusals_name_the_argument():
    frame = _data()
    folds = _folds(len(frame), 3, 1, seed=1)
    att = _quiet(
        dml_irm, frame, outcome="y", treatment="d", covariates=COV, estimand="ATT", learner="linear", folds=folds
    )
    with pytest.raises(SpecificationError, match="fit_g1=True"):
        dml_sensitivity(att)
    pliv = _quiet(
        dml_iv, frame, outcome="y", treatment="d", instrument="z", covariates=COV, learner="linear", folds=folds
    )
    with pytest.raises(SpecificationError, match=r"not available for the IV models.*'pliv'"):
        dml_sensitivity(pliv)
    iivm = _quiet(
        dml_iv,
        frame,
        outcome="y",
        treatment="d",
        instrument="z",
        covariates=COV,
        model="iivm",
        learner="linear",
        folds=folds,
    )
    with pytest.raises(SpecificationError, match=r"'iivm'.*dml-irm', treatment=<the instrument>"):
        dml_sensitivity(iivm)
    with pytest.raises(SpecificationError, match="IV models have no such bounds"):
        dml_ovb(frame, outcome="y", treatment="d", covariates=COV, method="dml-iv", instrument="z")
    from deconfound.estimators.regression import ols

    with pytest.raises(SpecificationError, match=r"need a DML estimate.*'ols'"):
        dml_sensitivity(ols(frame, outcome="y", treatment="d", covariates=COV))
    plr = _quiet(dml, frame, outcome="y", treatment="d", covariates=COV, learner="linear", folds=folds)
    with pytest.raises(SpecificationError, match="cf_y"):
        dml_sensitivity(plr, cf_y=1.2)
    with pytest.raises(SpecificationError, match="rho"):
        dml_sensitivity(plr, rho=2.0)
    with pytest.raises(SpecificationError, match="benchmark 'w'"):
        dml_ovb(frame, outcome="y", treatment="d", covariates=COV, benchmark="w", learner="linear", folds=folds)


def test_json_form_keeps_scalars_only():
    frame = _data(binary=False)
    est = _quiet(dml, frame, outcome="y", treatment="d", covariates=COV, learner="linear", random_state=3)
    d = est.to_dict(rows=False)["diagnostics"]["dml_sensitivity"]
    assert set(d) == {"model", "sigma2", "nu2", "var_y"} and len(d["sigma2"]) == 1
    out = dml_sensitivity(est).to_dict()
    assert out["rv"] > 0 and out["benchmarks"] == [] and "erase the effect" in out["text"]


def test_the_contour_plot_marks_the_null_and_the_benchmarks():
    frame = _data(binary=False)
    s = _quiet(
        dml_ovb,
        frame,
        outcome="y",
        treatment="d",
        covariates=COV,
        benchmark=["x0", "x3"],
        learner="linear",
        random_state=2,
    )
    fig = s.plot()
    ax = fig.axes[0]
    assert ax.get_xlabel().startswith("cf_d") and ax.get_ylabel().startswith("cf_y")
    labels = [t.get_text() for t in ax.texts]
    assert any(t.startswith("like x0") for t in labels) and any(t.startswith("like x3") for t in labels)
    assert any(t.startswith("RV ") for t in labels)
    # the lower bound over the grid reaches the null (zero) inside the drawn square: the dashed contour
    lower, _ = s.bounds(np.array([s.rv]), np.array([s.rv]))
    assert float(lower[0]) == pytest.approx(0.0, abs=1e-8)
