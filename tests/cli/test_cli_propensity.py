"""The command line for the propensity-score methods and plots."""

import json

import pytest

from deconfound.cli import main
from deconfound.results import JSON_KEYS


@pytest.fixture
def heart_csv(heart, tmp_path):
    path = tmp_path / "heart.csv"
    heart.to_csv(path, index=False)
    return str(path)


@pytest.mark.parametrize(
    ("method", "estimand"),
    [("psm", "ATT"), ("cem", "ATT"), ("ipw", "ATE"), ("aipw", "ATE"), ("ra", "ATE"), ("overlap", "ATO")],
)
def test_methods_print_the_json_contract(heart_csv, capsys, method, estimand):
    code = main(["estimate", heart_csv, "-y", "Severity", "-t", "Drug", "-x", "I.H", "--method", method, "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert set(JSON_KEYS) <= set(out)
    assert out["method"] == method and out["estimand"] == estimand
    assert out["std_error"] > 0


def test_psm_options(heart_csv, capsys):
    args = [
        "estimate",
        heart_csv,
        "-y",
        "Severity",
        "-t",
        "Drug",
        "-x",
        "I.H",
        "--method",
        "psm",
        "--json",
        "--estimand",
        "ATE",
        "--neighbors",
        "2",
        "--caliper",
        "0.1",
        "--caliper-scale",
        "sd",
        "--distance",
        "logit",
    ]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["estimand"] == "ATE"
    assert out["diagnostics"]["caliper"] > 0
    assert "matches" not in out["diagnostics"]  # per-row tables only with --rows
    assert out["per_row_tables"]["propensity"] == 1000
    no_replace = [
        *args[:10],
        "--json",
        "--rows",
        "--no-replace",
        "--caliper",
        "0.2",
        "--caliper-scale",
        "sd",
        "--distance",
        "logit",
    ]
    assert main(no_replace) == 0
    out = json.loads(capsys.readouterr().out)
    units = [row["match"] for row in out["diagnostics"]["matches"]]
    assert len(units) == len(set(units))  # each control used once
    assert out["diagnostics"]["n_unmatched"] > 0  # controls run out at high scores


def test_psm_variance_options_reach_the_estimator(heart, heart_csv, capsys):
    import deconfound as dc

    base = ["estimate", heart_csv, "-y", "Severity", "-t", "Drug", "-x", "I.H", "--method", "psm", "--json"]
    for extra, kwargs in (
        (["--vce-convention", "ai2006", "--vce-neighbors", "3"], {"vce_convention": "ai2006", "vce_neighbors": 3}),
        (["--no-se-adjust"], {"se_adjust": False}),
        (["--se-imputation", "regression"], {"se_imputation": "regression"}),
    ):
        assert main([*base, *extra]) == 0
        out = json.loads(capsys.readouterr().out)
        direct = dc.matching(heart, outcome="Severity", treatment="Drug", covariates=["I.H"], **kwargs)
        assert out["std_error"] == pytest.approx(direct.std_error, rel=1e-12)
    assert main([*base, "--vce-convention", "iid"]) == 2
    assert "--vce-convention iid is not allowed" in capsys.readouterr().err  # flags, not keywords


def test_article_number_from_the_command_line(heart_csv, capsys):
    code = main(
        [
            "estimate",
            heart_csv,
            "-y",
            "Severity",
            "-t",
            "Drug",
            "-x",
            "I.H",
            "--method",
            "psm",
            "--propensity-model",
            "sklearn-logistic",
            "--json",
        ]
    )
    assert code == 0
    assert round(json.loads(capsys.readouterr().out)["estimate"], 2) == -10.16


def test_weighting_options(heart_csv, capsys):
    code = main(
        [
            "estimate",
            heart_csv,
            "-y",
            "Severity",
            "-t",
            "Drug",
            "-x",
            "I.H",
            "--method",
            "ipw",
            "--weighting",
            "ht",
            "--trim",
            "crump",
            "--estimand",
            "ATT",
            "--json",
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["estimand"] == "ATT" and out["diagnostics"]["trimming"]["rule"] == "crump"
    assert out["diagnostics"]["trimming"]["refit"] is True


def test_no_trim_refit_flag_keeps_the_full_sample_scores(heart_csv, capsys):
    args = ["estimate", heart_csv, "-y", "Severity", "-t", "Drug", "-x", "I.H", "--method", "ipw", "--trim", "0.05"]
    assert main([*args, "--no-trim-refit", "--json"]) == 0
    kept = json.loads(capsys.readouterr().out)
    assert main([*args, "--trim-refit", "--json"]) == 0
    refit = json.loads(capsys.readouterr().out)
    assert kept["diagnostics"]["trimming"]["refit"] is False and refit["diagnostics"]["trimming"]["refit"] is True
    assert kept["n"] == refit["n"] and kept["estimate"] != refit["estimate"]
    assert any("trim_refit=False" in note for note in kept["notes"])


@pytest.mark.parametrize("kind", ["overlap", "balance"])
def test_plot_command(heart_csv, tmp_path, kind):
    target = tmp_path / f"{kind}.png"
    code = main(["plot", kind, heart_csv, "-y", "Severity", "-t", "Drug", "-x", "I.H", "-o", str(target), "-q"])
    assert code == 0 and target.stat().st_size > 1000


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--method", "psm", "--trim", "0.7"], "trim must be strictly between 0 and 0.5"),
        (["--method", "psm", "--trim", "lots"], "--trim must be a number in (0, 0.5) or 'crump'"),
        (["--method", "ipw", "--weighting", "raw"], "--weighting raw is not allowed"),
        (["--method", "psm", "--propensity-model", "xgboost"], "--propensity-model xgboost is not allowed"),
        (["--method", "psm", "--caliper", "1e-12"], "No treated row found a match within the caliper"),
        (["--method", "ipw", "--cross-fit", "many"], "--cross-fit must be 'auto', 'none' or a number of folds"),
    ],
)
def test_errors_exit_2_with_a_message(heart_csv, capsys, extra, message):
    assert main(["estimate", heart_csv, "-y", "Severity", "-t", "Drug", "-x", "I.H", *extra]) == 2
    assert message in capsys.readouterr().err


def test_per_row_tables_is_always_present(capsys, heart_csv):
    """With --rows the key was missing, though docs/cli-json.md lists it for every output (issue 11)."""
    argv = ["estimate", heart_csv, "-y", "Severity", "-t", "Drug", "-x", "I.H", "--method", "ipw", "--json", "-q"]
    assert main([*argv, "--rows"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["per_row_tables"] == {} and len(out["diagnostics"]["propensity"]) == 1000
