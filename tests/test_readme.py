"""Every command of the README runs as written (issue 11, item 7): its Python blocks, shell commands and
analysis file, in the README's order, in one empty folder, as a reader would paste them.

Shell commands that start with ``deconfound`` run through the command's own entry point in this process
(``deconfound.cli.app.main``, the function the installed script calls) and must exit 0. The two
development commands (``python3 scripts/run.py main|test``) are the repository's, not the library's: they
build a virtual environment and run this very test suite, so they are the only lines not run here (and
the test checks that nothing else is left out). A ``toml`` block is written to the file its title names
(```toml title="analysis.toml"```, as in the user guide). No block may hold a placeholder (``[...]``,
``"..."``) that looks like an argument."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import warnings
from pathlib import Path

import matplotlib

README = Path(__file__).resolve().parent.parent / "README.md"
FENCES = re.findall(r"```(python|bash|toml)([^\n]*)\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
BLOCKS = [(kind, body) for kind, _, body in FENCES]
TITLES = [re.search(r'title="([^"]+)"', info) for _, info, _ in FENCES]
DEVELOPMENT = ("python3 scripts/run.py main", "python3 scripts/run.py test")
PLACEHOLDERS = re.compile(r"\[\.\.\.\]|\"\.\.\.\"|'\.\.\.'|=\.\.\.|\(\.\.\.\)")


def _commands(block: str) -> list[str]:
    """The shell lines of a block: continuation lines joined, blank and comment-only lines left out."""
    joined = re.sub(r"\\\n\s*", " ", block)
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")]


def test_readme_has_no_placeholders():
    for _, block in BLOCKS:
        for line in block.splitlines():
            code = line.split("#", 1)[0] if not line.lstrip().startswith("#") else ""
            assert not PLACEHOLDERS.search(code), f"a placeholder in the README: {line!r}"


def test_readme_runs_in_order_in_an_empty_folder(tmp_path, monkeypatch):
    from deconfound.cli.app import main

    assert {kind for kind, _ in BLOCKS} == {"python", "bash", "toml"}
    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    skipped: list[str] = []
    ran: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for index, (kind, block) in enumerate(BLOCKS):
            if kind == "python":
                exec(compile(block, f"README.md python block {index}", "exec"), namespace)
            elif kind == "toml":
                title = TITLES[index]
                assert title is not None, 'a toml block names its file: ```toml title="analysis.toml"'
                (tmp_path / title.group(1)).write_text(block, encoding="utf-8")
            else:
                for command in _commands(block):
                    if command.startswith(DEVELOPMENT):
                        skipped.append(command)
                        continue
                    argv = shlex.split(command, comments=True)
                    assert argv[0] == "deconfound", f"a README shell command that is not deconfound's: {command}"
                    out, err = io.StringIO(), io.StringIO()
                    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                        code = main(argv[1:])
                    assert code == 0, f"`{command}` exited {code}: {err.getvalue()}"
                    ran.append(command)
    assert [c.split("#")[0].strip() for c in skipped] == list(DEVELOPMENT)
    assert round(namespace["fit"].estimate, 2) == -9.89  # type: ignore[attr-defined]
    assert len(ran) >= 15 and ran[0].startswith("deconfound datasets heart-attack -o heart.csv")
    for written in ("heart.csv", "panel.csv", "dag.png", "forest.png", "es.png", "overlap.png", "report.html"):
        assert (tmp_path / written).stat().st_size > 0, written
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Does the drug lower heart-attack severity?" in html  # the analysis file's report (run last)
