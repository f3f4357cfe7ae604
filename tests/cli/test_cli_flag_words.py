"""Errors from the command line name the flag the user typed (issue 11, item 5): a misspelt method of
``report --methods`` was reported as ``--match-method`` (matching's own option), and only after the data
was read."""

from __future__ import annotations

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
