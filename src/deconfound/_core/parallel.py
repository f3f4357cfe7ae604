"""Threads for a few large independent steps.

numpy releases the interpreter lock inside some long loops (sorting, searching sorted arrays), so such
steps on different arrays run on several cores from plain Python threads. Not everything gains: numpy's
matrix products and many small operations hold the lock, so passes over blocks of rows stay on one thread
(measured: no gain on this project's two-core machine). The number of threads is the number of cores
this process may use, or ``DECONFOUND_NUM_THREADS`` when set (1 turns threading off). Work started from
inside a worker runs serially (no nested pools).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

ENV = "DECONFOUND_NUM_THREADS"
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_lock = threading.Lock()
_local = threading.local()


def threads() -> int:
    """Threads a pass may use: ``DECONFOUND_NUM_THREADS`` if set, else the cores available to us."""
    text = os.environ.get(ENV, "").strip()
    if text:
        try:
            return max(1, int(text))
        except ValueError:
            return 1
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _executor(size: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size < size:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="deconfound", initializer=_mark)
            _pool_size = size
        return _pool


def _mark() -> None:
    _local.worker = True


def ranges(n: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous ranges covering 0..n, as equal as possible."""
    bounds = [n * i // parts for i in range(parts + 1)]
    return [(bounds[i], bounds[i + 1]) for i in range(parts) if bounds[i + 1] > bounds[i]]


def run(tasks: list[Callable[[], Any]]) -> list[Any]:
    """Run independent tasks, in threads when there is more than one core; results in task order.

    The first task runs on the calling thread; an exception in any task is raised here."""
    if len(tasks) <= 1 or threads() <= 1 or getattr(_local, "worker", False):
        return [task() for task in tasks]
    pool = _executor(max(1, min(threads(), len(tasks)) - 1))
    futures = [pool.submit(task) for task in tasks[1:]]
    first = tasks[0]()
    return [first] + [f.result() for f in futures]
