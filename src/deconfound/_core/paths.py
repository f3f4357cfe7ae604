"""Output paths: the one place every writer (report, figures, the demo's folder) checks where it writes.

A missing parent folder of an output file is **created** (``report/out.html`` makes ``report/``), as
``write_report`` always did: asking for a file in a new folder is a clear wish, and refusing it would only
make the user run ``mkdir``. Everything else that cannot work is refused before any work is done, with a
:class:`~deconfound.errors.SpecificationError` naming the argument (or flag) and the fix: a path that is an
existing directory, a parent that is a regular file, a place the operating system will not let us write,
and, for a figure, an extension matplotlib cannot write (the message lists the ones it can).

Nothing here imports a numeric or plotting library; a figure is handled through its own ``savefig``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..errors import SpecificationError


def _explain(exc: OSError) -> str:
    return exc.strerror or exc.__class__.__name__


def _blocking_file(path: Path) -> Path | None:
    """The first ancestor of ``path`` that exists and is not a directory, if any."""
    for parent in reversed(path.parents):
        if parent.exists() and not parent.is_dir():
            return parent
    return None


def output_file(path: Any, name: str, example: str = "report.html") -> Path:
    """``path`` as a Path to a file that can be written, its missing parent folders created.

    ``name`` is the argument or flag the path came from (``"path"``, ``"--output"``); every refusal names it.
    """
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
        raise SpecificationError(f"{name} must be a file path (a string), got {path!r}.")
    out = Path(path)
    if str(path) == "" or out.is_dir():
        raise SpecificationError(
            f"{name}={str(path)!r} is a directory, not a file; give a file name inside it, e.g. {str(out / example)!r}."
        )
    blocker = _blocking_file(out)
    if blocker is not None:
        raise SpecificationError(
            f"{name}={str(path)!r} cannot be written: {str(blocker)!r} is a file, not a folder; "
            "choose a path in an existing folder (or a new one)."
        )
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SpecificationError(
            f"{name}={str(path)!r} cannot be written: could not create the folder {str(out.parent)!r} "
            f"({_explain(exc)}); choose a folder you can write to."
        ) from None
    return out


def output_dir(path: Any, name: str) -> Path:
    """``path`` as a folder to write files into, created (with its parents) if missing."""
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)) or str(path) == "":
        raise SpecificationError(f"{name} must be a folder path (a string), got {path!r}.")
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise SpecificationError(f"{name}={str(path)!r} is a file, not a folder; give a folder to write into.")
    blocker = _blocking_file(out)
    if blocker is not None:
        raise SpecificationError(
            f"{name}={str(path)!r} cannot be created: {str(blocker)!r} is a file, not a folder; choose another place."
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SpecificationError(
            f"{name}={str(path)!r} cannot be created ({_explain(exc)}); choose a folder you can write to."
        ) from None
    return out


def _written(path: Path, name: str, write: Callable[[], Any]) -> Path:
    try:
        write()
    except OSError as exc:
        raise SpecificationError(
            f"{name}={str(path)!r} cannot be written ({_explain(exc)}); choose a place you can write to."
        ) from None
    return path


def write_text(path: Any, text: str, name: str) -> Path:
    """Write ``text`` (UTF-8) to the checked path ``path`` and return it."""
    out = output_file(path, name)
    return _written(out, name, lambda: out.write_text(text, encoding="utf-8"))


def image_formats(fig: Any) -> list[str]:
    """The file extensions ``fig.savefig`` can write (from its canvas), sorted."""
    return sorted(fig.canvas.get_supported_filetypes())


def check_image_path(path: Any, name: str, formats: Iterable[str]) -> Path:
    """``path`` checked as an output file whose extension is one of ``formats`` (e.g. ``png``, ``svg``)."""
    out = output_file(path, name, example="figure.png")
    allowed = sorted(formats)
    suffix = out.suffix.lower().lstrip(".")
    if suffix not in allowed:
        got = f"has the extension {out.suffix!r}" if suffix else "has no extension"
        raise SpecificationError(
            f"{name}={str(path)!r} {got}, which is not an image format matplotlib can write; "
            f"end it in one of: {', '.join('.' + f for f in allowed)} (e.g. 'figure.png')."
        )
    return out


def save_figure(fig: Any, path: Any, name: str, **savefig: Any) -> Path:
    """Save a matplotlib figure to ``path`` after checking it (folder created, extension known)."""
    out = check_image_path(path, name, image_formats(fig))
    return _written(out, name, lambda: fig.savefig(out, **savefig))
