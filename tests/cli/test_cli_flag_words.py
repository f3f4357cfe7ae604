"""Errors from the command line name the flag the user typed (issue 11, item 5): a misspelt method of
``report --methods`` was reported as ``--match-method`` (matching's own option), and only after the data
was read."""

from __future__ import annotations

import pytest

from deconfound.cli.app import as_flags, main


def test_report_checks_its_methods_first_and_calls_them_methods(tmp_path, capsys):
    missing_file = tmp_path / "nothing-here.csv"  # not read: the request is refused before the data
    argv = ["report", str(missing_file), "-y", "Y", "-t", "T", "--methods", "olss", "-o", str(tmp_path / "r.html")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--methods='olss' is not allowed" in err and "Did you mean 'ols'?" in err
    assert "--match-method" not in err and not (tmp_path / "r.html").exists()


def test_method_keyword_becomes_the_method_flag_unless_it_is_a_matching_method():
    assert as_flags("method='olss' is not allowed") == "--method olss is not allowed"
    assert as_flags("method='optimal' needs more controls").startswith("--match-method optimal")


def test_weights_with_matching_are_sampling_weights(tmp_path, capsys):
    """--weights is the sampling-weight column for psm as for every method (issue 16, item 5): the JSON is
    that of matching(weights=), with the usual keys."""
    import json

    import numpy as np

    import deconfound as dc

    path = tmp_path / "heart.csv"
    frame = dc.datasets.heart_attack(n=200)
    frame = frame.assign(w=np.random.default_rng(3).uniform(0.5, 2.0, len(frame)))
    frame.to_csv(path, index=False)
    base = ["estimate", str(path), "-y", "Severity", "-t", "Drug", "-x", "I.H", "--method", "psm", "--json", "-q"]
    assert main([*base, "--weights", "w"]) == 0
    out = json.loads(capsys.readouterr().out)
    with pytest.warns(dc.DeconfoundWarning):  # the heart data's weak overlap, as on the command line
        ours = dc.matching(str(path), outcome="Severity", treatment="Drug", covariates=["I.H"], weights="w")
    assert out["estimate"] == ours.estimate and out["std_error"] == ours.std_error
    assert any("sampling weights 'w'" in note for note in out["notes"])


def test_run_refuses_a_bad_option_value_before_estimating_anything(tmp_path, capsys):
    """Issue 11, item 5: the whole request is checked first; a cov_type the method refuses used to let the
    other methods run, write the page and only then exit 1."""
    import deconfound as dc

    dc.datasets.heart_attack(n=100).to_csv(tmp_path / "heart.csv", index=False)
    (tmp_path / "a.toml").write_text(
        'output = "page.html"\n[data]\npath = "heart.csv"\n[question]\noutcome = "Severity"\ntreatment = "Drug"\n'
        'covariates = ["I.H"]\n[methods]\ninclude = ["naive", "ols"]\n[methods.options.ols]\ncov_type = "HC9"\n',
        encoding="utf-8",
    )
    assert main(["run", str(tmp_path / "a.toml"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "HC9 is not allowed" in err and "Did you mean 'HC3'?" in err
    assert not (tmp_path / "page.html").exists()
