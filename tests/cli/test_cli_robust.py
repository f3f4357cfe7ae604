"""The command line questions an estimate: estimate --bootstrap, refute and sensitivity, their JSON keys
(docs/cli-json.md) and exit statuses."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import deconfound as dc
from deconfound.cli import main


@pytest.fixture
def heart(tmp_path):
    path = tmp_path / "heart.csv"
    dc.datasets.heart_attack().to_csv(path, index=False)
    return str(path)


def _json(capsys, argv):
    code = main(argv)
    return code, json.loads(capsys.readouterr().out)


def test_estimate_with_the_bootstrap(heart, capsys):
    argv = [
        "estimate",
        heart,
        "-y",
        "Severity",
        "-t",
        "Drug",
        "--covariates",
        "I.H",
        "--method",
        "ols",
        "--bootstrap",
        "199",
        "--bootstrap-interval",
        "basic",
        "--json",
        "-q",
    ]
    code, out = _json(capsys, argv)
    assert code == 0
    info = out["diagnostics"]["bootstrap"]
    assert info["n_boot"] == 199 and info["interval"] == "basic" and info["seed"] == 0
    assert out["per_row_tables"]["bootstrap_draws"] == 199
    lib = dc.bootstrap(
        dc.ols,
        dc.datasets.heart_attack(),
        outcome="Severity",
        treatment="Drug",
        covariates=["I.H"],
        n_boot=199,
        interval="basic",
        random_state=0,
    )
    assert out["ci_low"] == pytest.approx(lib.ci()[0], rel=1e-12) and out["std_error"] == pytest.approx(lib.std_error)
    code, again = _json(capsys, [*argv, "--random-state", "5"])
    assert again["diagnostics"]["bootstrap"]["seed"] == 5 and again["ci_low"] != out["ci_low"]


def test_refute_json_and_exit_status(heart, capsys, tmp_path):
    code, out = _json(
        capsys,
        [
            "refute",
            heart,
            "-y",
            "Severity",
            "-t",
            "Drug",
            "--covariates",
            "I.H",
            "--n-simulations",
            "5",
            "--json",
            "-q",
        ],
    )
    assert code == 0 and out["passed"] is True and out["method"] == "ols"
    assert [r["refuter"] for r in out["refuters"]] == [
        "placebo_treatment",
        "random_common_cause",
        "data_subsets",
        "dummy_outcome",
    ]
    assert out["skipped"] == [
        {
            "refuter": "leave_one_cluster_out",
            "reason": "no cluster column given (leave_out= or the estimator's cluster=)",
        }
    ]
    # an effect carried by one cluster: leaving that cluster out fails, and the command says so by its status
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"g": np.repeat(np.arange(8), 50), "t": rng.integers(0, 2, 400), "x": rng.normal(size=400)})
    df["y"] = df["x"] + rng.normal(size=400) + 10.0 * df["t"] * (df["g"] == 3)
    path = tmp_path / "one.csv"
    df.to_csv(path, index=False)
    code = main(
        [
            "refute",
            str(path),
            "-y",
            "y",
            "-t",
            "t",
            "--covariates",
            "x",
            "--cluster",
            "g",
            "--cov-type",
            "cluster",
            "--refuters",
            "leave_one_cluster_out",
            "-q",
        ]
    )
    text = capsys.readouterr()
    assert code == 1 and "failed 1 of 1" in text.out


def test_sensitivity_json(heart, capsys):
    code, out = _json(
        capsys,
        [
            "sensitivity",
            heart,
            "-y",
            "Severity",
            "-t",
            "Drug",
            "--covariates",
            "I.H",
            "--benchmark",
            "I.H",
            "--kd",
            "0.05,0.1",
            "--json",
            "-q",
        ],
    )
    assert code == 0
    assert set(out) == {
        "method",
        "estimate",
        "std_error",
        "e_value",
        "robustness_value",
        "oster",
        "bounds",
        "honest_did",
        "dml_bounds",
    }
    assert out["honest_did"] is None
    assert out["dml_bounds"] is None
    assert out["robustness_value"]["rv"] == pytest.approx(
        dc.sensitivity(dc.ols(dc.datasets.heart_attack(), outcome="Severity", treatment="Drug", covariates=["I.H"]))[
            "rv"
        ]
    )
    assert [b["kd"] for b in out["bounds"]["bounds"]] == [0.05, 0.1]
    assert out["e_value"]["e_value"] > 1 and out["oster"]["delta_star"] < 0


def test_sensitivity_benchmark_needs_a_regression(heart, capsys):
    code = main(
        [
            "sensitivity",
            heart,
            "-y",
            "Severity",
            "-t",
            "Drug",
            "--covariates",
            "I.H",
            "--method",
            "ipw",
            "--benchmark",
            "I.H",
            "-q",
        ]
    )
    assert code == 2 and "--benchmark needs --method ols" in capsys.readouterr().err


def test_sensitivity_of_dml_gives_the_ovb_bounds_and_a_benchmark(tmp_path, capsys):
    from deconfound.robustness.dml_bounds import dml_ovb

    rng = np.random.default_rng(4)
    n = 800
    x = rng.normal(size=(n, 3))
    d = x[:, 0] + rng.normal(size=n)
    frame = pd.DataFrame({"x0": x[:, 0], "x1": x[:, 1], "x2": x[:, 2], "d": d})
    frame["y"] = 0.5 * d + x[:, 0] + x[:, 1] + rng.normal(size=n)
    path = tmp_path / "sim.csv"
    frame.to_csv(path, index=False)
    argv = [
        "sensitivity",
        str(path),
        "-y",
        "y",
        "-t",
        "d",
        "--covariates",
        "x0,x1,x2",
        "--method",
        "dml",
        "--learner",
        "linear",
        "--benchmark",
        "x1",
        "--cf-y",
        "0.05",
        "--rho",
        "0.9",
        "--json",
        "-q",
    ]
    code, out = _json(capsys, argv)
    assert code == 0
    bounds = out["dml_bounds"]
    assert bounds["applicable"] and bounds["model"] == "plr" and bounds["cf_y"] == 0.05 and bounds["rho"] == 0.9
    # the same numbers as the Python function with the command's default seed (0)
    py = dml_ovb(
        frame,
        outcome="y",
        treatment="d",
        covariates=["x0", "x1", "x2"],
        benchmark="x1",
        learner="linear",
        random_state=0,
        cf_y=0.05,
        rho=0.9,
    )
    assert bounds["theta_lower"] == pytest.approx(py.theta_lower, rel=1e-12)
    assert bounds["rv"] == pytest.approx(py.rv, rel=1e-9)
    assert [b["benchmark"] for b in bounds["benchmarks"]] == ["x1"]
    assert bounds["benchmarks"][0]["cf_y"] == pytest.approx(py.benchmarks[0]["cf_y"], rel=1e-12)
    assert bounds["theta_lower"] < out["estimate"] < bounds["theta_upper"]


def test_sensitivity_of_the_dml_att_and_the_refusal_for_dml_iv(tmp_path, capsys):
    """The ATT's bounds (the command fits E[Y | X, D = 1] for them) equal dml_ovb's; dml-iv says why not."""
    from deconfound.robustness.dml_bounds import dml_ovb

    rng = np.random.default_rng(9)
    n = 900
    x = rng.normal(size=(n, 3))
    z = rng.binomial(1, 0.5, size=n).astype(float)
    d = (0.8 * x[:, 0] + z - 0.5 + rng.normal(size=n) > 0).astype(float)
    frame = pd.DataFrame({"x0": x[:, 0], "x1": x[:, 1], "x2": x[:, 2], "d": d, "z": z})
    frame["y"] = 0.5 * d + x[:, 0] + x[:, 1] + rng.normal(size=n)
    path = tmp_path / "sim.csv"
    frame.to_csv(path, index=False)
    base = ["sensitivity", str(path), "-y", "y", "-t", "d", "--covariates", "x0,x1,x2", "--learner", "linear"]
    code, out = _json(capsys, [*base, "--method", "dml-irm", "--estimand", "ATT", "--benchmark", "x1", "--json", "-q"])
    assert code == 0
    bounds = out["dml_bounds"]
    assert bounds["applicable"] and bounds["model"] == "irm" and bounds["estimand"] == "ATT"
    py = dml_ovb(
        frame,
        outcome="y",
        treatment="d",
        covariates=["x0", "x1", "x2"],
        method="dml-irm",
        estimand="ATT",
        benchmark="x1",
        learner="linear",
        random_state=0,
    )
    for key in ("estimate", "theta_lower", "ci_upper", "rv", "sigma2", "nu2"):
        assert bounds[key] == pytest.approx(getattr(py, key), rel=1e-9), key
    assert bounds["benchmarks"][0]["cf_d"] == pytest.approx(py.benchmarks[0]["cf_d"], rel=1e-12)
    for model in ("pliv", "iivm"):
        code, out = _json(
            capsys, [*base, "--method", "dml-iv", "--instrument", "z", "--iv-model", model, "--json", "-q"]
        )
        assert code == 0 and out["dml_bounds"]["applicable"] is False
        assert (
            f"model='{model}'" in out["dml_bounds"]["reason"] and "--method dml-irm -t" in out["dml_bounds"]["reason"]
        )


def test_the_help_lists_every_refuter():
    from deconfound.cli.robust import REFUTER_NAMES
    from deconfound.robustness.refuters import REFUTERS

    assert REFUTER_NAMES == REFUTERS


@pytest.fixture
def panel_csv(tmp_path):
    panel = dc.datasets.simulate_panel(n_units=200, n_periods=7, cohorts=(4,), never_share=0.4, random_state=2)
    path = tmp_path / "panel.csv"
    panel.to_csv(path, index=False)
    return str(path)


def test_sensitivity_honest_json_and_plot(panel_csv, tmp_path, capsys):
    base = ["sensitivity", panel_csv, "-y", "y", "--unit", "unit", "--time", "time", "--first-treated", "first_treated"]
    plot = tmp_path / "honest.png"
    args = [*base, "--method", "event-study", "--honest", "sd", "--honest-sizes", "0,0.1", "--honest-average"]
    code, out = _json(capsys, [*args, "--honest-plot", str(plot), "--json", "-q"])
    assert code == 0 and plot.stat().st_size > 1000
    honest = out["honest_did"]
    assert honest["restriction"] == "sd" and honest["method"] == "FLCI" and honest["plot"] == str(plot)
    assert [r["size"] for r in honest["intervals"]] == [0.0, 0.1]
    assert honest["parameter"].startswith("average effect") and out["e_value"] is None
    direct = dc.honest_did(
        dc.event_study(pd.read_csv(panel_csv), outcome="y", unit="unit", time="time", first_treated="first_treated"),
        restriction="sd",
        sizes=[0, 0.1],
        l_vec="average",
    )
    assert honest["intervals"][1]["lb"] == pytest.approx(direct.table["lb"].iloc[1], rel=1e-12)


def test_sensitivity_honest_needs_an_event_study(heart, panel_csv, capsys):
    assert main(["sensitivity", heart, "-y", "Severity", "-t", "Drug", "--honest", "rm", "-q"]) != 0
    assert "--honest needs an event study" in capsys.readouterr().err
    base = ["sensitivity", panel_csv, "-y", "y", "--unit", "unit", "--time", "time", "--first-treated", "first_treated"]
    assert main([*base, "--method", "staggered", "--honest", "rm", "-q"]) != 0
    assert "--base-period universal" in capsys.readouterr().err
