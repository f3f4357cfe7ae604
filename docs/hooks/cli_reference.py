"""MkDocs hook: the command-line reference is written from ``deconfound ... --help`` at build time.

A page that holds the line ``<!-- deconfound-cli-reference -->`` gets, in its place, one section per
command listed by ``deconfound --help`` (in that order): the command's one-line description and its full
``--help`` text. The text comes from the checkout being documented (``src/`` goes first on the import
path, as for mkdocstrings), so the reference can never drift from the parser. A command list that
cannot be read is a build warning, which ``mkdocs build --strict`` turns into a failure.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mkdocs.plugins import get_plugin_logger

log = get_plugin_logger(__name__)

MARKER = "<!-- deconfound-cli-reference -->"
WIDTH = "100"  # columns of the help text (argparse reads $COLUMNS)


def on_config(config: Any) -> Any:
    src = Path(config.config_file_path).resolve().parent / "src"
    if src.is_dir() and str(src) not in sys.path:
        sys.path.insert(0, str(src))
    return config


@contextlib.contextmanager
def _columns(width: str) -> Iterator[None]:
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = width
    try:
        yield
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old


def help_text(argv: list[str]) -> str:
    """What ``deconfound <argv> --help`` prints."""
    from deconfound.cli import main

    out = io.StringIO()
    with _columns(WIDTH), contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main([*argv, "--help"])
    return out.getvalue().rstrip()


def commands(top: str) -> list[tuple[str, str]]:
    """(command, one-line description) for every subcommand in the top-level help, in its order."""
    listed = re.search(r"\{([\w,-]+)\}", top)
    if listed is None:
        return []
    names = listed.group(1).split(",")
    found: dict[str, list[str]] = {}
    current = None
    for line in top.splitlines():
        first = re.match(r"^ {4}([\w-]+)(?: {2,}(.*))?$", line)
        if first and first.group(1) in names:
            current = first.group(1)
            found[current] = [first.group(2) or ""]
        elif current and re.match(r"^ {8,}\S", line):
            found[current].append(line.strip())
        else:
            current = None
    return [(name, " ".join(w for w in found.get(name, []) if w)) for name in names]


def reference() -> str:
    top = help_text([])
    listed = commands(top)
    if not listed:
        log.warning("could not read the list of commands from `deconfound --help`:\n%s", top)
    parts = ["## `deconfound`", "", "```text", top, "```", ""]
    for name, summary in listed:
        parts += [f"## `deconfound {name}`", ""]
        if summary:
            parts += [summary[:1].upper() + summary[1:] + ".", ""]
        parts += ["```text", help_text([name]), "```", ""]
    return "\n".join(parts)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, reference())
