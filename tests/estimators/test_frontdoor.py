"""Front-door adjustment: the truth through the mediators where OLS is confounded, stacked standard errors
against statsmodels and the bootstrap, coverage, the flexible plug-in, and errors for bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import deconfound as dc
from deconfound.cli import main

TRUTH = 0.8 * 1.5  # effect of T on M times effect of M on Y


def _confounded(rng: np.random.Generator, n: int, *, covariate: bool = False, continuous: bool = False):
    """U confounds T and Y; T affects Y only through M; M -> Y is unconfounded given T."""
    u = rng.normal(size=n)
    x = rng.normal(size=n)
    lin = u + (0.5 * x if covariate else 0.0) + rng.normal(size=n)
    t = lin if continuous else (lin > 0).astype(float)
    m = 0.8 * t + (0.7 * x if covariate else 0.0) + rng.normal(size=n) * (1 + 0.5 * np.abs(x) * covariate)
    y = 1.5 * m + 2.0 * u + (1.0 * x if covariate else 0.0) + rng.normal(size=n)
    return pd.DataFrame({"T": t, "M": m, "Y": y, "X": x, "g": rng.integers(0, 60, size=n), "w": rng.uniform(0.5, 2, n)})


@pytest.fixture(scope="module")
def data():
    return _confounded(np.random.default_rng(11), 3000)


def test_front_door_recovers_the_effect_where_ols_is_confounded(data):
    fd = dc.front_door(data, outcome="Y", treatment="T", mediators="M")
    ols = dc.ols(data, outcome="Y", treatment="T")
    assert abs(fd.estimate - TRUTH) < 3 * fd.std_error
    assert fd.ci_low < TRUTH < fd.ci_high
    assert ols.estimate - TRUTH > 10 * ols.std_error  # U pushes the naive regression far up
    assert fd.method == "front-door" and fd.estimand == "ATE"
    assert fd.coefficients is not None and fd.coefficients.names[-1] == "front-door effect"
    table = fd.diagnostics["mediator_model"]
    assert list(table["term"]) == ["const", "T"] and set(table["mediator"]) == {"M"}
    assert list(fd.diagnostics["outcome_model"].index) == ["const", "M", "T"]


def _stacked_reference(df, mediators, covariates, weights=None, cluster=None):
    """The joint sandwich of both stages from statsmodels: the regressions stacked in long form (block-diagonal
    design), clustered by the original row (or cluster), without a small-sample factor; then the delta method."""
    n, k = len(df), len(mediators)
    blocks, targets = [], []
    first = sm.add_constant(df[["T", *covariates]].to_numpy(float), has_constant="add")
    second = sm.add_constant(df[[*mediators, "T", *covariates]].to_numpy(float), has_constant="add")
    widths = [first.shape[1]] * k + [second.shape[1]]
    offsets = np.concatenate([[0], np.cumsum(widths)])
    for j, (design, target) in enumerate([(first, df[m]) for m in mediators] + [(second, df["Y"])]):
        block = np.zeros((n, offsets[-1]))
        block[:, offsets[j] : offsets[j + 1]] = design
        blocks.append(block)
        targets.append(target.to_numpy(float))
    x, y = np.vstack(blocks), np.concatenate(targets)
    groups = np.tile(np.arange(n) if cluster is None else df[cluster].to_numpy(), k + 1)
    w = None if weights is None else np.tile(df[weights].to_numpy(float), k + 1)
    model = sm.OLS(y, x) if w is None else sm.WLS(y, x, weights=w)
    fit = model.fit(cov_type="cluster", cov_kwds={"groups": groups, "use_correction": False})
    a_idx = [offsets[j] + 1 for j in range(k)]
    b_idx = [offsets[k] + 1 + j for j in range(k)]
    a, b = fit.params[a_idx], fit.params[b_idx]
    grad = np.zeros(len(fit.params))
    grad[a_idx], grad[b_idx] = b, a
    var = grad @ fit.cov_params() @ grad
    if cluster is not None:
        g = df[cluster].nunique()
        var *= g / (g - 1)
    return float(a @ b), float(np.sqrt(var))


@pytest.mark.parametrize(
    ("mediators", "covariates", "weights", "cluster"),
    [(["M"], [], None, None), (["M", "M2"], ["X"], None, None), (["M"], ["X"], "w", None), (["M"], ["X"], None, "g")],
)
def test_stacked_standard_error_equals_statsmodels_delta_method(mediators, covariates, weights, cluster):
    rng = np.random.default_rng(3)
    df = _confounded(rng, 800, covariate=True)
    df["M2"] = 0.3 * df["T"] + rng.normal(size=len(df))
    df["Y"] = df["Y"] + 0.9 * df["M2"]
    ref_est, ref_se = _stacked_reference(df, mediators, covariates, weights, cluster)
    fd = dc.front_door(
        df, outcome="Y", treatment="T", mediators=mediators, covariates=covariates or None, weights=weights,
        cluster=cluster,
    )  # fmt: skip
    assert fd.estimate == pytest.approx(ref_est, rel=1e-9)
    assert fd.std_error == pytest.approx(ref_se, rel=1e-8)


def test_stacked_standard_error_agrees_with_the_bootstrap(data):
    stacked = dc.front_door(data, outcome="Y", treatment="T", mediators="M")
    boot = dc.front_door(data, outcome="Y", treatment="T", mediators="M", se="bootstrap", n_bootstrap=1000,
                         random_state=5)  # fmt: skip
    assert boot.estimate == stacked.estimate
    # Monte Carlo error of a bootstrap SD with 1000 draws is about 2.2%; allow 4 of them plus the n = 3000 gap
    assert boot.std_error == pytest.approx(stacked.std_error, rel=0.10)
    info = boot.diagnostics["bootstrap"]
    assert info["n_bootstrap"] == 1000 and info["n_failed"] == 0 and info["seed"] == 5
    lo, hi = info["percentile_ci"]
    assert lo < boot.estimate < hi
    again = dc.front_door(data, outcome="Y", treatment="T", mediators="M", se="bootstrap", n_bootstrap=1000,
                          random_state=5)  # fmt: skip
    assert again.std_error == boot.std_error  # one seed, the same resamples


def test_cluster_bootstrap_resamples_clusters():
    rng = np.random.default_rng(8)
    df = _confounded(rng, 600)
    shock = rng.normal(size=60)
    df["Y"] = df["Y"] + 2 * shock[df["g"]]
    stacked = dc.front_door(df, outcome="Y", treatment="T", mediators="M", cluster="g")
    boot = dc.front_door(df, outcome="Y", treatment="T", mediators="M", cluster="g", se="bootstrap",
                         n_bootstrap=400, random_state=1)  # fmt: skip
    assert boot.std_error == pytest.approx(stacked.std_error, rel=0.2)


@pytest.mark.slow
def test_stacked_intervals_cover_the_truth():
    rng = np.random.default_rng(2024)
    reps, hits, ols_hits = 400, 0, 0
    for _ in range(reps):
        df = _confounded(rng, 500)
        fd = dc.front_door(df, outcome="Y", treatment="T", mediators="M")
        hits += fd.ci_low <= TRUTH <= fd.ci_high
        ols = dc.ols(df, outcome="Y", treatment="T", cov_type="HC1")
        ols_hits += ols.ci_low <= TRUTH <= ols.ci_high
    assert 0.93 <= hits / reps <= 0.97, hits / reps
    assert ols_hits / reps < 0.05  # the confounded regression almost never covers


def test_flexible_plug_in_equals_the_linear_product_on_linear_data(data):
    from sklearn.linear_model import LinearRegression

    linear = dc.front_door(data, outcome="Y", treatment="T", mediators="M")
    flexible = dc.front_door(data, outcome="Y", treatment="T", mediators="M", model=LinearRegression(),
                             n_bootstrap=50, random_state=0)  # fmt: skip
    # without covariates and with a linear outcome model the plug-in is b * (mean M | T=1 - mean M | T=0) = a b
    assert flexible.estimate == pytest.approx(linear.estimate, rel=1e-9)
    assert flexible.diagnostics["model"] == "LinearRegression" and flexible.diagnostics["se"] == "bootstrap"
    means = flexible.diagnostics["potential_outcome_means"]
    assert means["treated"] - means["control"] == pytest.approx(flexible.estimate)


def test_flexible_with_covariates_agrees_with_linear():
    df = _confounded(np.random.default_rng(21), 4000, covariate=True)
    linear = dc.front_door(df, outcome="Y", treatment="T", mediators="M", covariates="X")
    flexible = dc.front_door(df, outcome="Y", treatment="T", mediators="M", covariates="X", model="ols",
                             n_bootstrap=100, random_state=3)  # fmt: skip
    assert abs(flexible.estimate - linear.estimate) < 0.5 * linear.std_error
    assert abs(flexible.estimate - TRUTH) < 3 * flexible.std_error
    assert flexible.std_error == pytest.approx(linear.std_error, rel=0.3)


@pytest.mark.slow
def test_flexible_learner_captures_a_nonlinear_outcome():
    rng = np.random.default_rng(4)
    n = 3000
    u = rng.normal(size=n)
    t = (u + rng.normal(size=n) > 0).astype(float)
    m = 0.8 * t + rng.normal(size=n)
    y = np.where(m > 0.5, 2.0, 0.0) + 2 * u + rng.normal(size=n) * 0.5
    df = pd.DataFrame({"T": t, "M": m, "Y": y})
    # truth: 2 * (P(M > 0.5 | do(T=1)) - P(M > 0.5 | do(T=0))) with M ~ N(0.8 t, 1)
    from scipy.stats import norm

    truth = 2 * (norm.sf(0.5 - 0.8) - norm.sf(0.5))
    fit = dc.front_door(df, outcome="Y", treatment="T", mediators="M", model="gbm", n_bootstrap=20, random_state=1)
    assert abs(fit.estimate - truth) < 0.1


def test_continuous_treatment_is_a_dose():
    df = _confounded(np.random.default_rng(6), 2000, continuous=True)
    fd = dc.front_door(df, outcome="Y", treatment="T", mediators="M")
    assert fd.estimand == "ATE (per unit)" and abs(fd.estimate - TRUTH) < 3 * fd.std_error
    assert any("one more unit" in note for note in fd.notes)


def test_weak_treatment_mediator_link_warns_in_plain_words():
    rng = np.random.default_rng(1)
    df = _confounded(rng, 300)
    df["M"] = 0.02 * df["T"] + rng.normal(size=len(df))
    with pytest.warns(dc.DiagnosticWarning, match=r"barely moves the mediator\(s\) \('M': F = \d+\.\d"):
        fd = dc.front_door(df, outcome="Y", treatment="T", mediators="M")
    assert any("product with a factor near zero" in w for w in fd.warnings)


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"mediators": "T"}, dc.SpecificationError, r"mediator 'T' is the treatment"),
        ({"mediators": "Y"}, dc.SpecificationError, r"mediator 'Y' is the outcome"),
        ({"mediators": []}, dc.SpecificationError, r"needs mediators="),
        ({"mediators": ["M", "M"]}, dc.SpecificationError, r"mediators lists \['M'\] more than once"),
        ({"mediators": "M", "covariates": "M"}, dc.SpecificationError, r"also listed among the covariates"),
        ({"mediators": "Mm"}, dc.DataError, r"mediator 'Mm' is not a column of the data\. Did you mean 'M'\?"),
        ({"mediators": "M", "covariates": "Xx"}, dc.DataError, r"covariate 'Xx' is not a column.*Did you mean 'X'"),
        ({"mediators": "M", "model": "gbm", "se": "stacked"}, dc.SpecificationError, r"se='stacked' needs model="),
        ({"mediators": "M", "se": "jackknife"}, dc.SpecificationError, r"se='jackknife' is not allowed"),
        ({"mediators": "M", "n_bootstrap": 5}, dc.SpecificationError, r"n_bootstrap must be an integer >= 20"),
        ({"mediators": "M", "model": "forest"}, dc.SpecificationError, r"model='forest' is not allowed"),
        ({"mediators": "Const"}, dc.DataError, r"mediator 'Const' takes the single value 3"),
        ({"mediators": "Text"}, dc.DataError, r"mediator 'Text' must be numeric"),
    ],
)
def test_bad_input_is_refused_by_name(kwargs, error, pattern):
    df = _confounded(np.random.default_rng(0), 100).assign(Const=3.0, Text="a")
    with pytest.raises(error, match=pattern):
        dc.front_door(df, outcome="Y", treatment="T", **kwargs)


def test_mediator_collinear_with_the_treatment_is_named():
    df = _confounded(np.random.default_rng(0), 200)
    df["M"] = 2 * df["T"] + 1
    with pytest.raises(dc.CollinearityError, match=r"'M'|'T'"):
        dc.front_door(df, outcome="Y", treatment="T", mediators="M")


def test_flexible_needs_a_two_level_treatment():
    df = _confounded(np.random.default_rng(0), 200, continuous=True)
    with pytest.raises(dc.DataError, match=r"treatment 'T'"):
        dc.front_door(df, outcome="Y", treatment="T", mediators="M", model="ols", n_bootstrap=20)


def test_missing_mediator_values_are_dropped_and_counted(data):
    df = data.copy()
    df.loc[:9, "M"] = np.nan
    with pytest.raises(dc.DataError, match=r"Missing values in 'M' \(10 rows\)"):
        dc.front_door(df, outcome="Y", treatment="T", mediators="M")
    with pytest.warns(dc.DataWarning, match=r"10 of 3000 rows were dropped"):
        fd = dc.front_door(df, outcome="Y", treatment="T", mediators="M", missing="drop")
    assert fd.n == 2990 and fd.dropped_by == {"M": 10}


def test_command_line(tmp_path, capsys, data):
    path = tmp_path / "fd.csv"
    data.to_csv(path, index=False)
    argv = ["estimate", str(path), "-y", "Y", "-t", "T", "--method", "front-door", "--mediators", "M", "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    ref = dc.front_door(data, outcome="Y", treatment="T", mediators="M")
    assert out["method"] == "front-door" and out["estimate"] == pytest.approx(ref.estimate, rel=1e-12)
    assert {"mediator_model", "outcome_model", "mediators", "model", "se"} <= set(out["diagnostics"])
    assert out["coefficients"][-1]["term"] == "front-door effect"
    boot = [*argv, "--front-door-se", "bootstrap", "--n-bootstrap", "40", "--random-state", "2", "-q"]
    assert main(boot) == 0
    assert json.loads(capsys.readouterr().out)["diagnostics"]["bootstrap"]["n_bootstrap"] == 40
    assert main([*argv[:-3], "--json"]) == 2
    assert "--mediators is required for --method front-door" in capsys.readouterr().err


def test_the_joint_table_lists_each_path_with_several_mediators():
    rng = np.random.default_rng(12)
    df = _confounded(rng, 1500)
    df["M2"] = 0.5 * df["T"] + rng.normal(size=len(df))
    df["Y"] = df["Y"] - 1.0 * df["M2"]
    fd = dc.front_door(df, outcome="Y", treatment="T", mediators=["M", "M2"])
    table = fd.coefficients
    assert table.names == (
        "T -> M", "T -> M2", "M -> Y | T", "M2 -> Y | T", "T -> M -> Y", "T -> M2 -> Y", "front-door effect",
    )  # fmt: skip
    coef = dict(zip(table.names, table.coef, strict=True))
    assert coef["T -> M -> Y"] == pytest.approx(coef["T -> M"] * coef["M -> Y | T"])
    assert coef["front-door effect"] == pytest.approx(coef["T -> M -> Y"] + coef["T -> M2 -> Y"])
    assert abs(fd.estimate - (TRUTH - 0.5)) < 3 * fd.std_error
    single = dc.front_door(df, outcome="Y", treatment="T", mediators="M").coefficients
    assert single.names == ("T -> M", "M -> Y | T", "front-door effect")


def test_command_line_takes_the_mediators_from_the_graph(tmp_path, capsys, data):
    path = tmp_path / "fd.csv"
    data.to_csv(path, index=False)
    argv = ["estimate", str(path), "-y", "Y", "-t", "T", "--method", "front-door", "--json"]
    assert main([*argv, "--graph", "U -> T; U -> Y; T -> M -> Y"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["diagnostics"]["mediators"] == ["M"]
    ref = dc.front_door(data, outcome="Y", treatment="T", mediators="M")
    assert out["estimate"] == pytest.approx(ref.estimate, rel=1e-12)
    assert main([*argv, "--graph", "U -> T; U -> Y; T -> Y"]) == 2
    assert "The graph names no front-door set for the effect of T on Y" in capsys.readouterr().err


def test_flexible_treatment_model_that_separates_the_arms_is_refused():
    rng = np.random.default_rng(5)
    df = _confounded(rng, 300, covariate=True)
    df["X"] = (2 * df["T"] - 1) * rng.uniform(1, 3, size=len(df))  # the sign of X is the arm
    with pytest.raises(dc.DeconfoundError, match=r"treatment_model 'logistic' .*covariate 'X' separates treated"):
        dc.front_door(df, outcome="Y", treatment="T", mediators="M", covariates="X", model="ols", n_bootstrap=20)
