"""Failures at the edge of the program are ours (issue 12, item 4): output paths, analysis files, graph files,
seeds, and the CLI's top level turning operating-system errors into one ``error:`` line."""

from __future__ import annotations

import re

import pytest

import deconfound as dc
from deconfound._core.paths import check_image_path, output_dir, output_file, write_text
from deconfound.cli.app import main
from deconfound.cli.report import load_spec
from deconfound.errors import SpecificationError


@pytest.fixture(scope="module")
def heart_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("edges") / "heart.csv"
    dc.datasets.heart_attack(n=200)[["Severity", "Drug", "I.H"]].to_csv(path, index=False)
    return path


def one_error(capsys, code: int) -> str:
    out = capsys.readouterr()
    assert code == 2
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out.err
    assert "Traceback" not in out.err
    return lines[0]


BASE = ("-y", "Severity", "-t", "Drug", "-x", "I.H")


def test_output_file_creates_a_missing_folder_and_refuses_the_rest(tmp_path):
    made = output_file(tmp_path / "new" / "deeper" / "out.html", "path")
    assert made.parent.is_dir()
    blocker = tmp_path / "somefile.txt"
    blocker.write_text("x")
    with pytest.raises(SpecificationError, match=r"path=.*somefile.txt' is a file, not a folder"):
        output_file(blocker / "out.html", "path")
    with pytest.raises(SpecificationError, match=r"--output=.* is a directory, not a file"):
        output_file(tmp_path, "--output")
    with pytest.raises(SpecificationError, match="path must be a file path"):
        output_file(5, "path")
    with pytest.raises(SpecificationError, match=r"--output=.* is a file, not a folder"):
        output_dir(blocker, "--output")
    assert write_text(tmp_path / "a" / "b.txt", "hé", "path").read_text(encoding="utf-8") == "hé"


def test_image_extension_lists_what_matplotlib_writes(tmp_path):
    with pytest.raises(SpecificationError, match=r"extension '\.xyz'.*\.pdf.*\.png.*\.svg"):
        check_image_path(tmp_path / "f.xyz", "-o", ["png", "pdf", "svg"])
    with pytest.raises(SpecificationError, match="has no extension"):
        check_image_path(tmp_path / "f", "-o", ["png"])
    assert check_image_path(tmp_path / "f.PNG", "-o", ["png"]).name == "f.PNG"


@pytest.mark.parametrize(
    "target, message",
    [
        ("somefile.txt/out.html", "somefile.txt' is a file, not a folder"),
        (".", "is a directory, not a file"),
    ],
)
def test_report_output_paths(capsys, heart_csv, tmp_path, monkeypatch, target, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "somefile.txt").write_text("x")
    line = one_error(capsys, main(["report", str(heart_csv), *BASE, "--methods", "ols", "-q", "-o", target]))
    assert "--output=" in line and message in line, line


def test_report_output_names_the_flag(capsys, heart_csv, tmp_path):
    (tmp_path / "somefile.txt").write_text("x")
    code = main(
        ["report", str(heart_csv), *BASE, "--methods", "ols", "-q", "-o", str(tmp_path / "somefile.txt/o.html")]
    )
    assert "--output=" in one_error(capsys, code)


def test_report_creates_a_missing_folder(capsys, heart_csv, tmp_path):
    out = tmp_path / "new" / "report.html"
    assert main(["report", str(heart_csv), *BASE, "--methods", "ols", "-q", "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")


@pytest.mark.parametrize(
    "name, message",
    [("f.xyz", r"extension '\.xyz'.*\.png"), ("somefile.txt/f.png", "is a file, not a folder"), (".", "directory")],
)
def test_plot_output_paths(capsys, heart_csv, tmp_path, monkeypatch, name, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "somefile.txt").write_text("x")
    code = main(["plot", "forest", str(heart_csv), *BASE, "-q", "-o", name])
    line = one_error(capsys, code)
    assert "--output=" in line
    assert re.search(message, line), line


def test_demo_output_under_a_file(capsys, tmp_path):
    (tmp_path / "somefile.txt").write_text("x")
    code = main(["demo", "-q", "--output", str(tmp_path / "somefile.txt" / "demo")])
    assert "is a file, not a folder" in one_error(capsys, code)


def test_model_report_path(tmp_path):
    model = dc.CausalModel(dc.datasets.heart_attack(n=200), "Drug", "Severity", covariates=["I.H"])
    with pytest.raises(SpecificationError, match=r"path=.* is a directory, not a file"):
        model.report(tmp_path, methods=["ols"])
    (tmp_path / "somefile.txt").write_text("x")
    with pytest.raises(SpecificationError, match=r"path=.*is a file, not a folder"):
        model.report(tmp_path / "somefile.txt" / "out.html", methods=["ols"])
    with pytest.raises(SpecificationError, match="seed must be a non-negative integer"):
        model.report(seed=-1, methods=["ols"])


def _spec(tmp_path, text: str, raw: bytes | None = None):
    path = tmp_path / "analysis.toml"
    if raw is not None:
        path.write_bytes(raw)
    else:
        path.write_text(text, encoding="utf-8")
    return path


GOOD = '[data]\npath = "heart.csv"\n[question]\noutcome = "Severity"\ntreatment = "Drug"\n'


@pytest.mark.parametrize(
    "text, message",
    [
        (
            '[data]\npath = 5\n[question]\noutcome = "Severity"\ntreatment = "Drug"\n',
            r"\[data\] path .* must be a string, got 5",
        ),
        ("output = 5\n" + GOOD, "output .* must be a string, got 5"),
        ('[data]\npath = ["a.csv"]\n[question]\noutcome = "S"\ntreatment = "D"\n', r"\[data\] path .* got \['a.csv'\]"),
        ('[data]\npath = "a.csv"\n[question]\noutcome = ["S"]\ntreatment = "D"\n', r"\[question\] outcome .* a string"),
        (
            "[data]\npath = 'a.csv'\n[question]\noutcome='S'\ntreatment='D'\ncovariates=[1]\n",
            "covariates .* list of strings",
        ),
        ("seed = 1.5\n" + GOOD, "seed must be a non-negative integer .*got 1.5"),
        ("seed = -1\n" + GOOD, "seed must be a non-negative integer"),
        ("seed = true\n" + GOOD, "seed must be a non-negative integer .*got True"),
        ("methods = 5\n" + GOOD, "methods .* must be a table"),
    ],
)
def test_analysis_file_types(tmp_path, text, message):
    with pytest.raises(SpecificationError, match=message):
        load_spec(_spec(tmp_path, text))


def test_analysis_file_not_utf8(capsys, tmp_path):
    path = _spec(tmp_path, "", raw=('title = "caf\xe9"\n' + GOOD).encode("latin-1"))
    with pytest.raises(SpecificationError, match="is not a UTF-8 text file"):
        load_spec(path)
    assert "not a UTF-8 text file" in one_error(capsys, main(["run", str(path), "-q", "-o", str(tmp_path / "o.html")]))


def test_graph_files(capsys, tmp_path):
    binary = tmp_path / "g.dot"
    binary.write_bytes(bytes(range(256)))
    nul = tmp_path / "nul.txt"
    nul.write_bytes(b"a -> b\x00")
    for graph, message in (
        (str(binary), "not a UTF-8 text file"),
        (str(nul), "is a binary file"),
        (str(tmp_path / "missing.dot"), "looks like a file name, but there is no such file"),
        ("graphs/dag", "looks like a file name"),
        (str(tmp_path), "is a directory"),
    ):
        line = one_error(capsys, main(["identify", "--graph", graph, "-t", "Drug", "-y", "Severity"]))
        assert "--graph" in line and message in line, line
    assert (
        main(["identify", "--graph", "Z -> Drug; Z -> Severity; Drug -> Severity", "-t", "Drug", "-y", "Severity"]) == 0
    )


@pytest.mark.parametrize(
    "args, flag",
    [
        (("report", "--methods", "ols", "-q", "-o", "x.html", "--seed", "-1"), "--seed"),
        (("estimate", "--method", "psm", "--random-state", "-3"), "--random-state"),
    ],
)
def test_negative_seeds_on_the_command_line(capsys, heart_csv, tmp_path, monkeypatch, args, flag):
    monkeypatch.chdir(tmp_path)
    command, *rest = args
    line = one_error(capsys, main([command, str(heart_csv), *BASE, *rest]))
    assert f"{flag} must be a non-negative integer" in line


def test_os_errors_become_one_line(capsys, monkeypatch, heart_csv):
    import deconfound.cli.app as app

    def boom(args):
        raise PermissionError(13, "Permission denied", "/nowhere/file.csv")

    monkeypatch.setattr(app, "_cmd_identify", boom)
    line = one_error(capsys, main(["identify", "--graph", "a -> b", "-t", "a", "-y", "b"]))
    assert "'/nowhere/file.csv'" in line and "Permission denied" in line


def test_bugs_keep_their_traceback(monkeypatch):
    import deconfound.cli.app as app

    def bug(args):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(app, "_cmd_identify", bug)
    with pytest.raises(ZeroDivisionError, match="a bug"):
        main(["identify", "--graph", "a -> b", "-t", "a", "-y", "b"])


def test_multi_line_messages_become_one_line(capsys, monkeypatch):
    import deconfound.cli.app as app

    def multi(args):
        raise SpecificationError("first line\n  second line")

    monkeypatch.setattr(app, "_cmd_identify", multi)
    assert (
        one_error(capsys, main(["identify", "--graph", "a -> b", "-t", "a", "-y", "b"]))
        == "error: first line second line"
    )
