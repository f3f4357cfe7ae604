"""The in-memory engine: a pandas frame or Arrow table cut into pieces of rows, run in this process.

Estimates on an in-memory frame take the core's own path (no engine); this engine exists so that the
engine path can be checked against it on the same rows, cut as unevenly as a test likes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .base import T
from .errors import run_piece

__all__ = ["MemoryEngine"]


class MemoryEngine:
    """Rows held in memory (a pandas DataFrame or a pyarrow Table), handed out in pieces.

    ``pieces`` is the number of rows of each piece (an int: pieces of that many rows; a sequence: the
    sizes of the pieces in order, which must add up to the number of rows; zeros give empty pieces).
    """

    name = "memory"

    def __init__(self, data: Any, pieces: int | Sequence[int] = 1 << 16) -> None:
        import pyarrow as pa

        if isinstance(data, pa.Table):
            self.table = data
        else:
            self.table = pa.Table.from_pandas(data, preserve_index=False)
        n = self.table.num_rows
        if isinstance(pieces, int):
            step = max(1, int(pieces))
            sizes = [min(step, n - start) for start in range(0, n, step)] or [0]
        else:
            sizes = [int(s) for s in pieces]
            if sum(sizes) != n or min(sizes, default=0) < 0:
                from ..errors import SpecificationError

                raise SpecificationError(
                    f"pieces={list(pieces)!r} must be non-negative sizes adding up to the {n} rows of the data."
                )
        self.sizes = sizes

    def columns(self) -> list[str]:
        return list(self.table.column_names)

    def map_partitions(self, columns: Sequence[str], fn: Callable[[Any], T]) -> list[T]:
        table = self.table.select(list(columns))
        out: list[T] = []
        start = 0
        for size in self.sizes:
            out.append(run_piece(self.name, fn, table.slice(start, size)))
            start += size
        return out
