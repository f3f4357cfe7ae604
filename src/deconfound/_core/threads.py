"""How many threads the hot passes use, and an ordered map over a shared pool.

Work is shared between threads only where the numbers cannot depend on it: each piece (a block of rows,
a column, a group) is computed whole by one thread, and the pieces' results are combined in a fixed
order, the same whatever the thread count. One thread and eight give the same digits; only the time
changes.

The count is the machine's cores (at most ``MAX_DEFAULT``) unless ``DECONFOUND_THREADS`` says otherwise
at start; ``threads.use(n)`` changes it for the process and ``threads.using(n)`` for a block::

    from deconfound._core import threads
    with threads.using(1):   # serial, e.g. inside a process pool of its own
        ...
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

from ..errors import SpecificationError

T = TypeVar("T")
R = TypeVar("R")

MAX_DEFAULT = 8  # beyond this the passes are bound by memory bandwidth, not by cores
_state: dict[str, int | None] = {"count": None}
_pool: dict[str, ThreadPoolExecutor | None] = {"pool": None}
_pool_lock = threading.Lock()
_local = threading.local()  # set inside the pool's threads: nested maps run serially there


def _default() -> int:
    raw = os.environ.get("DECONFOUND_THREADS", "").strip()
    if raw:
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if value >= 1:
            return value
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT))


def count() -> int:
    """The number of threads a pass may use (1: serial)."""
    if _state["count"] is None:
        _state["count"] = _default()
    return int(_state["count"])  # type: ignore[arg-type]


def use(n: int) -> None:
    """Let the hot passes use ``n`` threads (1: serial) from now on."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise SpecificationError(f"threads.use(n={n!r}): n must be an integer >= 1.")
    _state["count"] = n


@contextmanager
def using(n: int) -> Iterator[None]:
    """Run a block with ``n`` threads, then restore the previous count."""
    before = count()
    use(n)
    try:
        yield
    finally:
        _state["count"] = before


def _executor(workers: int) -> ThreadPoolExecutor:
    with _pool_lock:
        pool = _pool["pool"]
        if pool is None or pool._max_workers < workers:  # grown when the count is raised
            if pool is not None:
                pool.shutdown(wait=False)
            pool = _pool["pool"] = ThreadPoolExecutor(workers, thread_name_prefix="deconfound", initializer=_mark)
        return pool


def _mark() -> None:
    _local.inside = True


def parallel() -> bool:
    """True when a map here would use more than one thread (not inside a pool thread, count > 1)."""
    return count() > 1 and not getattr(_local, "inside", False)


def map_ordered(fn: Callable[[T], R], items: Iterable[T], workers: int | None = None) -> list[R]:
    """``[fn(x) for x in items]``, the calls shared by up to ``workers`` threads (default: :func:`count`).

    The results come back in the items' order, so a caller that combines them in that order gets the same
    numbers with any thread count. ``fn`` must be safe to call from several threads at once (no shared
    scratch). Inside a pool thread the map runs serially (no nested pools)."""
    todo = list(items)
    jobs = min(count() if workers is None else workers, len(todo))
    if jobs <= 1 or getattr(_local, "inside", False):
        return [fn(x) for x in todo]
    return list(_executor(jobs).map(fn, todo))


def map_chunked(fn: Callable[[list[T]], list[R]], items: Iterable[T], workers: int | None = None) -> list[R]:
    """Like :func:`map_ordered`, but each thread gets one contiguous run of the items (for callers with
    per-thread scratch: ``fn`` is called once per run and returns that run's results in order)."""
    todo = list(items)
    jobs = min(count() if workers is None else workers, len(todo))
    if jobs <= 1 or getattr(_local, "inside", False):
        return fn(todo) if todo else []
    bounds = [len(todo) * i // jobs for i in range(jobs + 1)]
    runs = [todo[bounds[i] : bounds[i + 1]] for i in range(jobs)]
    out: list[R] = []
    for part in _executor(jobs).map(fn, runs):
        out.extend(part)
    return out
