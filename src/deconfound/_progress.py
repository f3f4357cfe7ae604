"""Progress on the terminal for long steps (report building, bootstrap, cross-fitting, big files).

Library code never prints: it accepts an optional ``progress`` object and calls it. The command line
passes a :class:`TerminalProgress` (rich, on stderr) unless ``--quiet``; everything else gets
:data:`SILENT`.
"""

from __future__ import annotations

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


class TerminalProgress(Progress):
    """A rich progress bar on stderr: one line per stage, a bar for stages that report ``advance``."""

    def __init__(self) -> None:
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
        self._task: Any = None

    def step(self, message: str) -> None:
        if self._task is not None:
            self._bar.remove_task(self._task)
        self._task = self._bar.add_task(message, total=None)
        self._console.print("• " + message, highlight=False, markup=False)

    def advance(self, done: int, total: int) -> None:
        if self._task is not None:
            self._bar.update(self._task, completed=done, total=total)

    def close(self) -> None:
        self._bar.stop()


def progress_for(quiet: bool) -> Progress:
    return SILENT if quiet else TerminalProgress()
