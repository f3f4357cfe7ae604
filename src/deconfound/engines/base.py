"""The engine protocol: where the rows live and how a kernel reaches them.

An engine holds a table (a DuckDB relation or files, a Dask or Spark DataFrame, an in-memory frame) and
runs a function over pieces of its rows, returning the small per-piece results to the driver. The core's
passes are written as kernels over partitions with exact merges (:mod:`deconfound._core.rows`), so every
pass that reduces rows to sums runs unchanged on any engine: :mod:`deconfound.engines.source` turns each
Arrow piece into a partition of the core and folds the kernel's results.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["Engine", "T"]

T = TypeVar("T")


class Engine(Protocol):
    """A table of rows that can run a function over pieces of it."""

    name: str  # "memory" | "duckdb" | "dask" | "spark"

    def columns(self) -> list[str]:
        """The source's column names, in order."""
        ...

    def map_partitions(self, columns: Sequence[str], fn: Callable[[pa.Table], T]) -> list[T]:
        """Apply ``fn`` to pieces of the rows whose union is every row exactly once (each piece a pyarrow
        Table of the selected ``columns``, possibly with 0 rows, schema = the source's types for them) and
        return the results on the driver, in any order. ``fn`` is pickled with cloudpickle and may run in
        another process or machine; it must not rely on global state of the driver. Results are pickled back:
        they must be small (sums, cross-products, per-group sums)."""
        ...
