"""Progress on the terminal for long steps (report building, bootstrap, cross-fitting, big files).

Library code never prints. Long loops report to the *current* progress object (:func:`current`),
which is :data:`SILENT` unless a caller installed another with :func:`reporting`; the command line
installs a :class:`TerminalProgress` (rich, on stderr) unless ``--quiet``. Functions that run several
stages (the report) also accept a ``progress`` object directly.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any


class Progress:
    """The interface: ``step(message)`` for a stage, ``advance(done, total)`` inside a long stage."""

    def step(self, message: str) -> None:  # pragma: no cover - trivial
        pass

    def advance(self, done: int, total: int) -> None:  # pragma: no cover - trivial
        pass

    def close(self) -> None:  # pragma: no cover - trivial
        pass

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


SILENT = Progress()

#: estimators announce their stages to the current progress object from this many rows on (smaller
#: problems finish before a progress line would be worth reading)
LARGE_ROWS = 500_000


def stage(n_rows: int, message: str) -> None:
    """Announce a stage of work on ``n_rows`` rows to the current progress object, when that is large."""
    if n_rows >= LARGE_ROWS:
        current().step(message)


class TerminalProgress(Progress):
    """A rich progress bar on stderr: one line per stage, a bar for stages that report ``advance``.

    Nothing is drawn (and rich is not imported) until the first stage is announced, so a command
    whose work is quick prints nothing extra."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._console: Any = None
        self._task: Any = None

    def _start(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as RichProgress

        self._console = Console(stderr=True)
        self._bar = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self._console,
            transient=True,
        )
        self._bar.start()

    def step(self, message: str) -> None:
        if self._bar is None:
            self._start()
        if self._task is not None:
            self._bar.remove_task(self._task)
        self._task = self._bar.add_task(message, total=None)
        self._console.print("• " + message, highlight=False, markup=False)

    def advance(self, done: int, total: int) -> None:
        if self._task is not None:
            self._bar.update(self._task, completed=done, total=total)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def progress_for(quiet: bool) -> Progress:
    return SILENT if quiet else TerminalProgress()


_CURRENT: contextvars.ContextVar[Progress] = contextvars.ContextVar("deconfound_progress", default=SILENT)


def current() -> Progress:
    """The progress object long loops should report to (silent unless someone installed one)."""
    return _CURRENT.get()


@contextlib.contextmanager
def reporting(progress: Progress) -> Iterator[Progress]:
    """Make ``progress`` the current one for the duration of the block."""
    token = _CURRENT.set(progress)
    try:
        yield progress
    finally:
        _CURRENT.reset(token)
