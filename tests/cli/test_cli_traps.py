"""Silent traps made loud (issue 11, item 4): options the method does not use, a formula at odds with
--outcome. Each reproduces what used to run without a word."""

from __future__ import annotations

import pytest

import deconfound as dc
from deconfound.cli import main


@pytest.fixture(scope="module")
def heart_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("traps") / "heart.csv"
    dc.datasets.heart_attack().to_csv(path, index=False)
    return str(path)


HEART = ["-y", "Severity", "-t", "Drug", "-x", "I.H"]


@pytest.mark.parametrize(
    ("method", "extra", "named"),
    [
        ("ols", ["--propensity-model", "gbm"], "--propensity-model (it is for --method psm, ipw, aipw, ra, overlap)"),
        ("psm", ["--cluster", "I.H"], "--cluster"),
        ("cem", ["--cluster", "I.H"], "--cluster"),  # ipw now honours --cluster (clustered M-estimation)
        ("cem", ["--weights", "I.H"], "--weights"),
        ("psm", ["--formula", "Severity ~ Drug"], "--formula (it is for --method ols, iv)"),
    ],
)
def test_an_option_the_method_does_not_use_is_refused(heart_csv, capsys, method, extra, named):
    assert main(["estimate", heart_csv, *HEART, "--method", method, *extra, "--json"]) == 2
    err = capsys.readouterr().err
    assert f"--method {method} does not use {named}" in err
    assert err.startswith("error: ") and "Traceback" not in err


def test_options_the_method_uses_still_run(heart_csv, capsys):
    assert main(["estimate", heart_csv, *HEART, "--method", "ipw", "--propensity-model", "logistic", "--json"]) == 0
    assert main(["estimate", heart_csv, *HEART, "--method", "ols", "--cluster", "Drug", "--json", "--quiet"]) == 0
    capsys.readouterr()


def test_a_formula_whose_outcome_differs_from_outcome_is_refused(heart):
    with pytest.raises(dc.SpecificationError, match=r"outcome='I.H' but the formula .* models 'Severity'"):
        dc.ols(heart, "Severity ~ Drug + Q('I.H')", outcome="I.H", treatment="Drug")
    with pytest.raises(dc.SpecificationError, match="covariates= is not used with a formula"):
        dc.ols(heart, "Severity ~ Drug", covariates=["I.H"], treatment="Drug")
    fit = dc.ols(heart, "Severity ~ Drug + Q('I.H')", outcome="Severity", treatment="Drug")
    assert fit.outcome == "Severity"


def test_errors_on_the_command_line_name_flags(tmp_path, capsys):
    # issue 11, item 5: "Pass missing='drop'" on the command line, where the option is --missing drop
    frame = dc.datasets.heart_attack()
    frame.loc[3, "I.H"] = float("nan")
    frame["arm"] = frame["Drug"].map({1: "enrolled", 0: "not enrolled"})
    path = tmp_path / "holes.csv"
    frame.to_csv(path, index=False)
    assert main(["estimate", str(path), *HEART]) == 2
    err = capsys.readouterr().err
    assert "Pass --missing drop to drop those 1 rows" in err and "missing=" not in err
    assert main(["estimate", str(path), "-y", "Severity", "-t", "arm", "--missing", "drop"]) == 2
    err = capsys.readouterr().err
    assert "--treated-level enrolled or --treated-level 'not enrolled'" in err and "treated_level=" not in err


def test_the_flag_rewrite_leaves_other_text_alone():
    from deconfound.cli.app import as_flags

    assert as_flags("use cov_type='HC1' or x=2 (a=b)") == "use --cov-type HC1 or x=2 (a=b)"
    assert as_flags("pass covariates=, not weights=w") == "pass --covariates, not --weights w"
