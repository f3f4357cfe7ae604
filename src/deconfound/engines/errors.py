"""How an error inside a pass reaches the user: deconfound's own errors as they are, others named."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import DeconfoundError, EngineError
from .base import T

__all__ = ["engine_error", "run_piece"]


def engine_error(engine: str, exc: BaseException) -> EngineError:
    """An EngineError naming ``engine`` and the original failure."""
    return EngineError(
        f"The {engine} engine failed while running a pass over the rows: {type(exc).__name__}: {exc}. "
        "Check that the data source is readable (paths, credentials, memory limit) and try again."
    )


def run_piece(engine: str, fn: Callable[[Any], T], piece: Any) -> T:
    """``fn(piece)``, re-raising deconfound's own errors unchanged and wrapping any other as an EngineError."""
    try:
        return fn(piece)
    except DeconfoundError:
        raise
    except Exception as exc:  # an engine's failure: named, with the original chained
        raise engine_error(engine, exc) from exc
