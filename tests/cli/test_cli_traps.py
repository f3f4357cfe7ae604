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
        ("ipw", ["--cluster", "I.H"], "--cluster"),
        ("cem", ["--weights", "I.H"], "--weights"),
        ("psm", ["--formula", "Severity ~ Drug"], "--formula (it is for --method ols)"),
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
