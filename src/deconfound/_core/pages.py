"""Ordinary memory pages for the arrays a call allocates (no transparent huge pages).

NumPy asks Linux for transparent huge pages (``madvise(MADV_HUGEPAGE)``) on every array of 4 MiB or more.
Where the kernel compacts memory to serve such a request (``defrag`` set to ``madvise``, the default of
many distributions), the first touch of each 2 MiB page can stall: on the machine of ``bench/RESULTS.md``
the first IPW call at 1M rows spent 0.26 s of system time on it and the first matching call 1.4 s, while
later calls, which reuse memory the allocator kept, spent a few milliseconds. Our passes read their
arrays in order, so huge pages buy them nothing measurable (warm calls took the same time either way).

:func:`small_pages` turns NumPy's request off for the duration of a call and restores the previous
setting after it (NumPy's own switch, also set by ``NUMPY_MADVISE_HUGEPAGE=0`` at start); every public
estimator runs inside it (:func:`entry`). Outside our calls the process keeps NumPy's setting.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np

F = TypeVar("F", bound=Callable[..., Any])


def _switch() -> Callable[[bool], bool] | None:
    for module in ("_core", "core"):  # NumPy 2 keeps it in numpy._core, NumPy 1 in numpy.core
        multiarray = getattr(getattr(np, module, None), "multiarray", None)
        setter = getattr(multiarray, "_set_madvise_hugepage", None)
        if setter is not None:
            return setter  # type: ignore[no-any-return]
    return None


_SET = _switch()
_lock = threading.Lock()
_state = {"depth": 0, "before": True}  # calls inside (any thread), and the setting found by the first


@contextmanager
def small_pages() -> Iterator[None]:
    """Within the block, NumPy does not ask for transparent huge pages. Nested and concurrent blocks share
    one switch: the first to enter turns it off, the last to leave restores what the first found."""
    if _SET is None:
        yield
        return
    with _lock:
        if _state["depth"] == 0:
            _state["before"] = bool(_SET(False))
        _state["depth"] += 1
    try:
        yield
    finally:
        with _lock:
            _state["depth"] -= 1
            if _state["depth"] == 0:
                _SET(bool(_state["before"]))


def entry(fn: F) -> F:
    """Run ``fn`` (a public estimator) inside :func:`small_pages`."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with small_pages():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
