"""Double ML: reproducibility for a seed (also in parallel), bad input, nuisance quality, diagnostics,
the registry, the CLI and the model."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LinearRegression

import deconfound as dc
from deconfound._core.progress import Progress, reporting
from deconfound.errors import DataError, DiagnosticWarning, NuisanceWarning, SpecificationError
from deconfound.estimators.dml import dml, dml_irm, dml_iv

COV = ["x0", "x1", "x2"]


def _frame(n=800, seed=0, effect=1.0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    d = rng.binomial(1, 1 / (1 + np.exp(-(0.8 * x[:, 0] - 0.4 * x[:, 1]))))
    y = effect * d + x[:, 0] + 0.5 * np.sin(2 * x[:, 1]) + rng.normal(size=n)
    frame = pd.DataFrame(x, columns=COV)
    frame["d"], frame["y"] = d, y
    frame["z"] = rng.binomial(1, 0.5, size=n)
    frame["dose"] = 0.5 * x[:, 0] + rng.normal(size=n)
    frame["g"] = np.arange(n) % 40
    return frame


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DiagnosticWarning)
        return fn(*args, **kwargs)


# --------------------------------------------------------------------------------------------------
# reproducibility
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("learner", ["auto", "rf"])
def test_same_seed_same_numbers_serial_and_parallel(learner):
    frame = _frame(n=500)
    kw = dict(outcome="y", treatment="d", covariates=COV, learner=learner, folds=3, repeats=2, random_state=11)
    first = _quiet(dml_irm, frame, **kw)
    again = _quiet(dml_irm, frame, **kw)
    parallel = _quiet(dml_irm, frame, **kw, n_jobs=2)
    for other in (again, parallel):
        assert other.estimate == first.estimate and other.std_error == first.std_error
        assert other.diagnostics["fold_estimates"].equals(first.diagnostics["fold_estimates"])
    other_seed = _quiet(dml_irm, frame, **{**kw, "random_state": 12})
    assert other_seed.estimate != first.estimate


def test_boosted_folds_in_threads_give_the_serial_numbers():
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    from deconfound.estimators.learners import batch, make_learner

    frame = _frame(n=1500)
    reg = HistGradientBoostingRegressor(max_iter=30, early_stopping=True, validation_fraction=0.2)
    clf = HistGradientBoostingClassifier(max_iter=30, early_stopping=True, validation_fraction=0.2)
    assert batch._native(make_learner(reg, kind="regressor")) and batch._native(make_learner(clf, kind="classifier"))
    kw = dict(outcome="y", treatment="d", covariates=COV, ml_g=reg, ml_m=clf, folds=4, random_state=3)
    serial = _quiet(dml_irm, frame, **kw, n_jobs=1)
    threads = _quiet(dml_irm, frame, **kw, n_jobs=2)
    assert (threads.estimate, threads.std_error) == (serial.estimate, serial.std_error)
    assert threads.diagnostics["fold_estimates"].equals(serial.diagnostics["fold_estimates"])


def test_an_unseeded_learner_gets_the_estimates_seed():
    frame = _frame(n=400)
    kw = dict(
        outcome="y",
        treatment="dose",
        covariates=COV,
        ml_l=RandomForestRegressor(n_estimators=10),
        ml_m=RandomForestRegressor(n_estimators=10),
        folds=3,
    )
    a = _quiet(dml, frame, **kw, random_state=np.random.default_rng(4))
    b = _quiet(dml, frame, **kw, random_state=np.random.default_rng(4))
    assert a.estimate == b.estimate and a.std_error == b.std_error


def test_progress_counts_every_fit_of_every_repetition(monkeypatch):
    import deconfound._core.progress as progress_module

    monkeypatch.setattr(progress_module, "LARGE_ROWS", 0)  # progress is shown from this many rows on

    class Recorder(Progress):
        def __init__(self):
            self.steps, self.done = [], []

        def step(self, message):
            self.steps.append(message)

        def advance(self, done, total):
            self.done.append((done, total))

    frame = _frame(n=300)
    with reporting(Recorder()) as rec:
        _quiet(
            dml_irm,
            frame,
            outcome="y",
            treatment="d",
            covariates=COV,
            learner="linear",
            folds=4,
            repeats=2,
            random_state=1,
        )
    assert rec.steps == ["cross-fitting 3 nuisances: 4 folds x 2 repetitions"]
    assert rec.done[-1] == (24, 24) and len(rec.done) == 24


# --------------------------------------------------------------------------------------------------
# results and diagnostics
# --------------------------------------------------------------------------------------------------


def test_the_estimates_recover_a_known_effect_and_carry_their_diagnostics():
    frame = _frame(n=3000, seed=2, effect=2.0)
    irm = _quiet(dml_irm, frame, outcome="y", treatment="d", covariates=COV, random_state=0)
    plr = _quiet(dml, frame, outcome="y", treatment="d", covariates=COV, random_state=0)
    for est in (irm, plr):
        assert abs(est.estimate - 2.0) < 4 * est.std_error
        assert est.estimand == "ATE"
    quality = irm.diagnostics["nuisance_quality"]
    assert list(quality.index) == ["ml_g0", "ml_g1", "ml_m"]
    assert quality.loc["ml_m", "log_loss"] < quality.loc["ml_m", "log_loss_constant"]
    assert quality.loc["ml_g0", "n"] == int((frame["d"] == 0).sum())
    assert 0 < quality.loc["ml_g1", "r_squared"] < 1
    assert irm.diagnostics["repetitions"].shape == (1, 2)
    assert irm.diagnostics["fold_estimates"].shape == (5, 3)
    import importlib.util

    default = "LGBMClassifier" if importlib.util.find_spec("lightgbm") else "HistGradientBoostingClassifier"
    assert irm.diagnostics["dml"]["learners"]["ml_m"] == default
    att = _quiet(dml_irm, frame, outcome="y", treatment="d", covariates=COV, estimand="ATTE", random_state=0)
    assert att.estimand == "ATT" and "ml_g1" not in att.diagnostics["nuisance_quality"].index


def test_a_dose_gives_a_per_unit_effect_and_clusters_a_cluster_robust_error():
    frame = _frame(n=800, seed=3)
    frame["y"] = frame["y"] + 0.5 * frame["dose"]
    est = _quiet(dml, frame, outcome="y", treatment="dose", covariates=COV, learner="linear", random_state=0)
    assert est.estimand == "ATE (per unit)" and est.n_treated is None
    assert abs(est.estimate - 0.5) < 4 * est.std_error
    clustered = _quiet(
        dml, frame, outcome="y", treatment="dose", covariates=COV, learner="linear", cluster="g", random_state=0
    )
    assert clustered.diagnostics["dml"]["n_clusters"] == 40
    assert "cluster-robust" in clustered.notes[-2]


def test_a_useless_nuisance_warns():
    frame = _frame(n=600)
    frame["y"] = np.random.default_rng(9).normal(size=len(frame))  # the outcome is noise: ml_l cannot learn it
    with pytest.warns(NuisanceWarning, match=r"ml_l \(outcome \| covariates, learner rf\) predicts no better"):
        est = dml(frame, outcome="y", treatment="d", covariates=COV, learner="rf", folds=3, random_state=0)
    assert any("ml_l" in w for w in est.warnings)


def test_iv_models_run_and_label_their_estimand():
    frame = _frame(n=1000, seed=5)
    frame["d"] = ((frame["x0"] + 1.5 * frame["z"] + np.random.default_rng(1).normal(size=1000)) > 0.7).astype(int)
    frame["y"] = frame["d"] + frame["x0"] + np.random.default_rng(2).normal(size=1000)
    late = _quiet(
        dml_iv,
        frame,
        outcome="y",
        treatment="d",
        instrument="z",
        covariates=COV,
        model="iivm",
        learner="linear",
        random_state=0,
    )
    pliv = _quiet(
        dml_iv, frame, outcome="y", treatment="d", instrument="z", covariates=COV, learner="linear", random_state=0
    )
    assert late.estimand == "LATE" and pliv.method == "dml-iv"
    for est in (late, pliv):
        assert abs(est.estimate - 1.0) < 4 * est.std_error


# --------------------------------------------------------------------------------------------------
# bad input: clear errors or warnings, never a NaN estimate
# --------------------------------------------------------------------------------------------------


class FailsWithoutRowZero(BaseEstimator, RegressorMixin):
    """Fails to fit in the one fold that holds row 0 (marked by x2 = 1234.5) as its test row."""

    def __init__(self, error=ValueError):
        self.error = error

    def fit(self, X, y):
        if not np.any(X[:, 2] == 1234.5):
            raise self.error("the marked row is missing")
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X):
        return np.full(len(X), self.mean_)


def test_a_classifier_without_predict_proba_is_refused_where_a_probability_is_needed():
    frame = _frame(n=200)
    with pytest.raises(SpecificationError, match=r"ml_m must be one of .*predict_proba"):
        dml_irm(frame, outcome="y", treatment="d", covariates=COV, ml_m=LinearRegression(), random_state=0)
    with pytest.raises(SpecificationError, match=r"ml_l must be a regressor"):
        from sklearn.linear_model import LogisticRegression

        dml(frame, outcome="y", treatment="d", covariates=COV, ml_l=LogisticRegression(), random_state=0)


@pytest.mark.parametrize(("error", "words"), [(ValueError, "could not be fitted"), (RuntimeError, "failed")])
def test_a_nuisance_that_fails_in_one_fold_names_the_fold(error, words):
    frame = _frame(n=300)
    frame.loc[0, "x2"] = 1234.5
    where = r"in fold \d of 3 \(repetition \d\)"
    with pytest.raises(SpecificationError, match=rf"ml_l 'FailsWithoutRowZero' {words} {where}"):
        dml(
            frame,
            outcome="y",
            treatment="d",
            covariates=COV,
            ml_l=FailsWithoutRowZero(error),
            ml_m="logistic",
            folds=3,
            repeats=2,
            random_state=0,
        )


def test_a_treatment_constant_in_a_fold_is_refused():
    frame = _frame(n=200)
    few = frame.assign(d=(np.arange(200) < 3).astype(int))
    with pytest.raises(DataError, match=r"folds=5 folds need at least 5 treated and 5 control rows"):
        dml_irm(few, outcome="y", treatment="d", covariates=COV, learner="linear", random_state=0)
    folds = [np.where(frame["d"].to_numpy() == 1, 0, 1 + np.arange(200) % 2)]  # every treated row in fold 0
    with pytest.raises(DataError, match=r"ml_g 'linear' has no rows to be fitted on in fold 1 of 3"):
        dml_irm(frame, outcome="y", treatment="d", covariates=COV, learner="linear", folds=folds)
    constant = frame.assign(dose=1.0)
    with pytest.raises(DataError, match=r"(treatment|constant|one value)"):
        dml(constant, outcome="y", treatment="dose", covariates=COV, learner="linear", random_state=0)


def test_perfect_propensities_are_refused_and_extreme_ones_clipped_with_a_warning():
    frame = _frame(n=400)
    frame["copy"] = 2.0 * frame["d"]
    with pytest.raises(DataError, match=r"predict the treatment perfectly out of fold"):
        dml_irm(frame, outcome="y", treatment="d", covariates=[*COV, "copy"], learner="rf", random_state=0)
    with pytest.raises(DataError, match=r"predict the treatment perfectly out of fold"):
        dml(frame, outcome="y", treatment="d", covariates=[*COV, "copy"], learner="rf", random_state=0)
    strong = frame.assign(x0=frame["x0"] + 1.8 * frame["d"])
    with pytest.warns(DiagnosticWarning, match=r"propensity scores .* were clipped"):
        est = dml_irm(strong, outcome="y", treatment="d", covariates=COV, learner="linear", random_state=0)
    assert np.isfinite(est.estimate) and np.isfinite(est.std_error)
    with pytest.raises(DataError, match=r"probabilities of exactly 0 or 1"):
        _quiet(
            dml_irm,
            frame.assign(x0=frame["x0"] + 3 * frame["d"]),
            outcome="y",
            treatment="d",
            covariates=COV,
            ml_m=RandomForestClassifier(n_estimators=5, random_state=0),
            trimming_threshold=0,
            random_state=0,
        )
    with pytest.raises(SpecificationError, match=r"ml_m 'logistic' could not be fitted in fold 1 of 5: .*separate"):
        dml_irm(
            frame.assign(x0=frame["x0"] + 6 * frame["d"]),
            outcome="y",
            treatment="d",
            covariates=COV,
            learner="linear",
            random_state=0,
        )


def test_bad_settings_name_the_argument():
    frame = _frame(n=200)
    base = dict(outcome="y", treatment="d", covariates=COV, learner="linear")
    with pytest.raises(SpecificationError, match=r"needs covariates="):
        dml(frame, outcome="y", treatment="d", covariates=[])
    with pytest.raises(SpecificationError, match=r"trimming_threshold must lie in \[0, 0.5\)"):
        dml_irm(frame, **base, trimming_threshold=0.7)
    with pytest.raises(SpecificationError, match=r"score='bad' is not allowed"):
        dml(frame, **base, score="bad")
    with pytest.raises(SpecificationError, match=r"clusters one or two ways"):
        dml(frame.assign(h=frame["g"] % 7, k=frame["g"] % 3), **base, cluster=["g", "h", "k"])
    with pytest.raises(SpecificationError, match=r"splits a cluster across folds"):
        dml(frame, **base, cluster="g", folds=[np.arange(200) % 3])
    with pytest.raises(SpecificationError, match=r"folds\[0\] must hold one fold number"):
        dml(frame, **base, folds=[np.arange(10)])
    with pytest.raises(DataError, match=r"needs a binary instrument"):
        dml_iv(frame, **base, instrument="dose", model="iivm")
    with pytest.raises(SpecificationError, match=r"ml_l='boosting' is not allowed"):
        dml(frame, outcome="y", treatment="d", covariates=COV, learner="boosting")


# --------------------------------------------------------------------------------------------------
# registry, CLI, model
# --------------------------------------------------------------------------------------------------


def test_cli_runs_each_dml_method_with_the_common_json_keys(tmp_path, capsys):
    from deconfound.cli import main
    from deconfound.results import JSON_KEYS

    path = tmp_path / "d.csv"
    _frame(n=400).to_csv(path, index=False)
    common = [
        str(path),
        "-y",
        "y",
        "-t",
        "d",
        "-x",
        "x0,x1,x2",
        "--learner",
        "linear",
        "--folds",
        "3",
        "--repeats",
        "2",
        "--random-state",
        "4",
        "--json",
    ]
    for method, extra in (
        ("dml", ["--score", "IV-type"]),
        ("dml-irm", ["--normalize-ipw"]),
        ("dml-iv", ["--instrument", "z", "--iv-model", "iivm"]),
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DiagnosticWarning)
            assert main(["estimate", "--method", method, *common, *extra]) in (0, None)
        out = json.loads(capsys.readouterr().out)
        assert set(JSON_KEYS) <= set(out) and out["method"] == method
        assert out["diagnostics"]["dml"]["repeats"] == 2
        assert {row["nuisance"] for row in out["diagnostics"]["nuisance_quality"]} >= {"ml_m"}


def test_compare_includes_dml_for_a_cross_section_with_covariates():
    frame = _frame(n=2000)
    model = dc.CausalModel(frame, "d", "y", covariates=COV)
    assert {"dml", "dml-irm"} <= set(model.applicable_methods())
    assert "dml-iv" not in model.applicable_methods()
    small = dc.CausalModel(frame.iloc[:1999], "d", "y", covariates=COV)  # below the comparison's size: named only
    assert not {"dml", "dml-irm"} & set(small.applicable_methods())
    assert "from 2,000 rows on, and the data have 1,999" in small.not_applicable()["dml-irm"]
    named = _quiet(small.estimate, "dml", learner="linear", random_state=0)
    assert np.isfinite(named.estimate)
    est = _quiet(model.estimate, "dml-irm", learner="linear", random_state=0)
    ref = _quiet(dml_irm, frame, outcome="y", treatment="d", covariates=COV, learner="linear", random_state=0)
    assert est.estimate == ref.estimate
    assert dc.dml_irm is dml_irm and issubclass(dc.NuisanceWarning, dc.DiagnosticWarning)
