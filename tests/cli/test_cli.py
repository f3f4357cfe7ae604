"""The command line: JSON contract, errors (exit 2, ``error:``), demo, and a light start-up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import deconfound as dc
from deconfound.cli import main
from deconfound.results import JSON_KEYS

SRC = str(Path(dc.__file__).resolve().parent.parent)
REQUIRED = {
    "method",
    "estimand",
    "estimate",
    "std_error",
    "ci_low",
    "ci_high",
    "p_value",
    "n",
    "n_treated",
    "n_control",
    "warnings",
}


@pytest.fixture(scope="module")
def heart_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "heart.csv"
    df = dc.datasets.heart_attack()
    df["ward"] = np.arange(len(df)) % 17
    df["arm"] = np.where(df["Drug"] == 1, "drug", "placebo")
    df.to_csv(path, index=False)
    return path


def run_json(capsys, *args):
    code = main(["estimate", *map(str, args), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert err == ""
    return json.loads(out)


def test_json_has_the_contract_keys(capsys, heart_csv):
    payload = run_json(
        capsys, heart_csv, "-m", "ols", "--outcome", "Severity", "--treatment", "Drug", "--covariates", "I.H"
    )
    assert REQUIRED <= set(payload)
    assert list(payload)[: len(JSON_KEYS)] == list(JSON_KEYS)
    df = dc.datasets.heart_attack()
    ref = dc.ols(df, outcome="Severity", treatment="Drug", covariates=["I.H"])
    assert payload["method"] == "ols" and payload["estimand"] == "ATE"
    for key in ("estimate", "std_error", "ci_low", "ci_high", "p_value"):
        assert payload[key] == pytest.approx(getattr(ref, key), rel=1e-12)
    assert (payload["n"], payload["n_treated"], payload["n_control"]) == (1000, ref.n_treated, ref.n_control)
    assert payload["warnings"] == []
    assert payload["model"]["r_squared"] == pytest.approx(ref.coefficients.stats["r_squared"])


@pytest.mark.parametrize(
    "args,method,check",
    [
        (["--method", "naive"], "naive", lambda p: p["warnings"] and "randomly assigned" in p["warnings"][0]),
        (["-m", "naive", "--randomized", "-x", "I.H"], "naive", lambda p: "balance" in p["diagnostics"]),
        (["--method", "lin", "--covariates", "I.H"], "lin", lambda p: p["model"]["cov_type"] == "HC2"),
        (["-m", "ols", "-x", "I.H", "--cov-type", "HC3", "--level", "0.9"], "ols", lambda p: p["level"] == 0.9),
        (["-m", "ols", "--covariates", "I.H", "--cluster", "ward"], "ols", lambda p: p["model"]["n_clusters"] == [17]),
    ],
)
def test_methods_and_options(capsys, heart_csv, args, method, check):
    payload = run_json(capsys, heart_csv, "--outcome", "Severity", "--treatment", "Drug", *args)
    assert payload["method"] == method
    assert check(payload)


def test_formula_and_recoded_treatment(capsys, heart_csv):
    formula = run_json(capsys, heart_csv, "--formula", "Severity ~ Drug + Q('I.H')", "--treatment", "Drug")
    columns = run_json(capsys, heart_csv, "-m", "ols", "-y", "Severity", "-t", "Drug", "-x", "I.H")
    assert formula["estimate"] == pytest.approx(columns["estimate"], rel=1e-12)
    arm = run_json(
        capsys, heart_csv, "-m", "ols", "-y", "Severity", "-t", "arm", "-x", "I.H", "--treated-level", "drug"
    )
    assert arm["estimate"] == pytest.approx(columns["estimate"], rel=1e-12)
    assert arm["treatment_mapping"] == {"treated": "drug", "control": "placebo"}


def test_missing_drop_is_reported(capsys, tmp_path):
    df = dc.datasets.heart_attack()
    df.loc[[3, 5, 8], "I.H"] = np.nan
    path = tmp_path / "gaps.parquet"
    df.to_parquet(path)
    payload = run_json(capsys, path, "-y", "Severity", "-t", "Drug", "-x", "I.H", "--missing", "drop")
    assert payload["n"] == 997 and payload["n_dropped"] == 3 and payload["dropped_by"] == {"I.H": 3}
    assert any("3 of 1000 rows were dropped" in w for w in payload["warnings"])


def test_text_output_is_a_summary(capsys, heart_csv):
    assert main(["estimate", str(heart_csv), "-m", "ols", "-y", "Severity", "-t", "Drug", "-x", "I.H"]) == 0
    out = capsys.readouterr().out
    assert "Regression adjustment (OLS)" in out and "Coefficients" in out and "-9.8877" in out


@pytest.mark.parametrize(
    "args,message",
    [
        (["-y", "Severity", "-t", "Drugs"], "error: --treatment 'Drugs' is not a column of the data. Did you mean"),
        (["-y", "Severity", "-t", "Drug", "--method", "matchng"], "error: --method='matchng' is not allowed"),
        (["-y", "Severity", "-t", "Drug", "-m", "ols", "--cov-type", "HC9"], "error: --cov-type HC9 is not allowed"),
        (["-y", "Severity", "-t", "Drug", "--level", "95"], "error: level must be strictly between 0 and 1"),
        (["-t", "Drug", "--method", "naive"], "error: --outcome is required for --method naive"),
        (["-y", "Severity", "-t", "I.H", "--method", "lin"], "error: treatment 'I.H' must be binary"),
    ],
)
def test_errors_exit_2_with_a_message(capsys, heart_csv, args, message):
    assert main(["estimate", str(heart_csv), *args]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(message)


def test_missing_file_and_usage_errors(capsys, tmp_path):
    assert main(["estimate", str(tmp_path / "none.csv"), "-y", "a", "-t", "b"]) == 2
    assert capsys.readouterr().err.startswith("error: No such data file")
    with pytest.raises(SystemExit, match=r"^2$"):  # argparse exits with status 2
        main(["estimate", "--no-such-flag"])
    assert "error:" in capsys.readouterr().err
    assert main([]) == 2


def test_demo_exits_0(capsys, tmp_path):
    assert main(["demo", "--output", str(tmp_path / "article")]) == 0
    out = capsys.readouterr().out
    assert "-9.8877" in out and " NO" not in out
    assert (tmp_path / "article" / "walkthrough.json").exists()
    assert main(["demo", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and all(r["matches"] is not False for r in rows)


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"deconfound {dc.__version__}"


def _run(*args, **kw):
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=120, **kw)


def test_subprocess_entry_point(heart_csv):
    argv = ["estimate", str(heart_csv), "--method", "ols", "-y", "Severity", "-t", "Drug", "-x", "I.H", "--json"]
    ok = _run("-m", "deconfound.cli", *argv)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["estimate"] == pytest.approx(-9.8877, abs=5e-5)
    bad = _run("-m", "deconfound.cli", "estimate", str(heart_csv), "-y", "Severity", "-t", "Drugs")
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and "Traceback" not in bad.stderr


HEAVY = ("pandas", "scipy", "sklearn", "matplotlib", "numpy", "formulaic", "pyarrow")


def test_cli_start_up_imports_nothing_heavy():
    """Importing the CLI and building its parser (all that --help needs) imports no numeric library."""
    code = (
        "import sys, deconfound.cli.app as c; c.build_parser(); "
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    )
    probe = _run("-c", code)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "[]"
    helped = _run("-m", "deconfound.cli", "--help")
    assert helped.returncode == 0 and "estimate" in helped.stdout


def test_long_work_shows_progress_and_quiet_silences_it(tmp_path, capsys):
    panel = tmp_path / "panel.csv"
    dc.datasets.simulate_panel(n_units=200, random_state=1).to_csv(panel, index=False)
    argv = ["estimate", str(panel), "--method", "staggered", "-y", "y", "--unit", "unit", "--time", "time"]
    argv += ["--first-treated", "first_treated", "--n-boot", "200", "--random-state", "1", "--json"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(argv) == 0
        loud = capsys.readouterr()
        assert main([*argv, "--quiet"]) == 0
        quiet = capsys.readouterr()
    assert "multiplier bootstrap (200 draws)" in loud.err
    assert quiet.err == ""
    assert json.loads(loud.out)["estimate"] == json.loads(quiet.out)["estimate"]  # same seed, same answer


def test_library_calls_print_nothing(capsys):
    panel = dc.datasets.simulate_panel(n_units=200, random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dc.staggered(panel, outcome="y", unit="unit", time="time", first_treated="first_treated", n_boot=100)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_large_matching_announces_its_stages(tmp_path, capsys, monkeypatch):
    """From LARGE_ROWS rows on, the command line shows the propensity fit, the matching and the standard
    errors as stages (here the threshold is lowered so that a small file counts as large)."""
    from deconfound._core import progress as _progress

    monkeypatch.setattr(_progress, "LARGE_ROWS", 100)
    data = tmp_path / "heart.csv"
    dc.datasets.heart_attack().to_csv(data, index=False)
    argv = ["estimate", str(data), "-y", "Severity", "-t", "Drug", "-x", "I.H", "--method", "psm", "--json"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    for stage in ("fitting the propensity model on 1,000 rows", "matching 1,000 rows", "matching standard errors"):
        assert stage in err
    assert main([*argv, "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(_progress, "LARGE_ROWS", 500_000)
    assert main(argv) == 0  # small problems show nothing
    assert capsys.readouterr().err == ""
