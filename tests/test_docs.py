"""The user guide (docs/, built by MkDocs): it builds in strict mode, and every example runs as written.

Each page's fenced blocks run in order, in an empty working folder, as a reader would paste them:
```python blocks share one namespace per page; a ```bash block whose first command starts with
`deconfound ` runs each of its commands through ``deconfound.cli.main`` (every one must exit with 0);
a block with a title (```toml title="analysis.toml"```) is a file the page asks the reader to write, and
is written under that name before the next block runs.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md") if "hooks" not in p.relative_to(DOCS).parts)

FENCE = re.compile(r"^(?P<indent>[ ]*)```(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=indent)```[ ]*$", re.M | re.S)
TITLE = re.compile(r"""title=["']([^"']+)["']""")


@dataclass(frozen=True)
class Block:
    lang: str
    title: str | None
    code: str
    line: int


def blocks(text: str) -> list[Block]:
    """The fenced code blocks of a page, in order (indented ones, e.g. inside admonitions, dedented)."""
    found = []
    for m in FENCE.finditer(text):
        info = m.group("info").strip().strip("{}")
        lang = info.split()[0].lstrip(".") if info else ""
        title = TITLE.search(info)
        indent = len(m.group("indent"))
        code = "\n".join(line[indent:] for line in m.group("body").splitlines()) + "\n"
        found.append(Block(lang, title.group(1) if title else None, code, text.count("\n", 0, m.start()) + 1))
    return found


def commands(code: str) -> list[list[str]]:
    """The shell commands of a bash block: continuation lines joined, comments and blank lines left out."""
    joined = re.sub(r"\\\n", " ", code)
    return [words for words in (shlex.split(line, comments=True) for line in joined.splitlines()) if words]


def _run_cli(argv: list[str], where: str) -> None:
    from deconfound.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    assert status == 0, f"{where}: `deconfound {shlex.join(argv)}` exited {status}\n{out.getvalue()}{err.getvalue()}"


def run_page(page: Path) -> dict[str, Any]:
    """Run the page's examples in the current folder; return the Python namespace they built."""
    import matplotlib.pyplot as plt

    namespace: dict[str, Any] = {"__name__": "__docs__"}
    name = page.relative_to(DOCS).as_posix()
    try:
        for block in blocks(page.read_text(encoding="utf-8")):
            where = f"docs/{name}, line {block.line}"
            if block.title is not None:
                Path(block.title).write_text(block.code, encoding="utf-8")
            if block.lang == "python":
                exec(compile(block.code, where, "exec"), namespace)
            elif block.lang == "bash":
                lines = commands(block.code)
                if not lines or lines[0][0] != "deconfound":
                    continue
                for argv in lines:
                    assert argv[0] == "deconfound", f"{where}: a `deconfound` block runs only deconfound: {argv}"
                    _run_cli(argv[1:], where)
    finally:
        plt.close("all")
    return namespace


def _article_numbers(ns: dict[str, Any]) -> None:
    """The walk-through's numbers are the article's (a page edited into other numbers fails here)."""
    assert round(ns["naive"].estimate, 2) == 3.47
    assert round(ns["fit"].estimate, 2) == -9.89
    assert round(ns["matched"].estimate, 2) == -10.16
    assert ns["ice"].estimate == 200.0
    assert "Quality_of_Care" in ns["trapped"].warnings[0]


#: page -> a check of what its examples computed
CHECKS = {"getting-started.md": _article_numbers}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(DOCS).as_posix())
def test_examples_run_as_written(page, tmp_path, monkeypatch):
    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        namespace = run_page(page)
    check = CHECKS.get(page.relative_to(DOCS).as_posix())
    if check is not None:
        check(namespace)


def test_the_pages_have_examples():
    """The walk-through and every how-to guide run code (a page whose fences stopped parsing fails here)."""
    guides = [f"how-to/{p.name}" for p in DOCS.glob("how-to/*.md")]
    for name in ["getting-started.md", "which-method.md", "cli.md", *guides]:
        langs = {b.lang for b in blocks((DOCS / name).read_text(encoding="utf-8"))}
        assert "python" in langs, name
    assert len(list(DOCS.glob("how-to/*.md"))) >= 7


def test_the_site_builds_in_strict_mode(tmp_path):
    """Broken links, missing pages, unresolved API references and hook failures fail the build."""
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    cli = (site / "cli" / "index.html").read_text(encoding="utf-8")
    for command in ("estimate", "identify", "plot", "report", "run"):
        assert f"deconfound {command}" in cli and "--outcome" in cli
    api = (site / "reference" / "estimators" / "index.html").read_text(encoding="utf-8")
    assert "panel_regression" in api and "Abadie-Imbens" in api  # rendered from the docstrings
