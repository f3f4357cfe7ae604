"""The design matrix: named columns that the core reads in row blocks without materialising them whole.

A :class:`Design` is a list of column *parts* (a float array, a constant, or a dummy of categorical
codes). The data layer builds it from the user's roles; the core's passes read blocks of its rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Design", "Part", "array_part", "constant_part"]


@dataclass(frozen=True)
class Part:
    """One column of a design: a float array, a constant, or a dummy of a categorical code array."""

    name: str
    values: np.ndarray | None = None  # numeric column or categorical codes
    level: int | None = None  # for a dummy: values == level
    source: str | None = None  # the user's column this part encodes (None for a constant or derived part)

    def fill(self, out: np.ndarray, start: int, stop: int) -> None:
        if self.values is None:
            out[:] = 1.0
        elif self.level is None:
            out[:] = self.values[start:stop]
        else:
            np.equal(self.values[start:stop], self.level, out=out, casting="unsafe")


class Design:
    """A design matrix that the numeric core reads in row blocks without materialising it whole."""

    def __init__(self, parts: Sequence[Part], n: int) -> None:
        self.parts = list(parts)
        self.n = int(n)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.parts]

    @property
    def k(self) -> int:
        return len(self.parts)

    @classmethod
    def from_matrix(cls, matrix: np.ndarray, names: Sequence[str]) -> Design:
        matrix = np.asarray(matrix, dtype=np.float64)
        return cls([Part(str(n), matrix[:, j]) for j, n in enumerate(names)], matrix.shape[0])

    def block(self, start: int, stop: int, out: np.ndarray | None = None) -> np.ndarray:
        """Rows ``start:stop`` as a float64 array of shape (rows, k) (column-major, reused when ``out`` fits)."""
        rows = stop - start
        if out is None or out.shape[0] < rows:
            out = np.empty((rows, self.k), dtype=np.float64, order="F")
        blk = out[:rows]
        for j0, j1, matrix in self._runs():
            if matrix is not None:
                blk[:, j0:j1] = matrix[start:stop]
            else:
                self.parts[j0].fill(blk[:, j0], start, stop)
        return blk

    def _runs(self) -> list[tuple[int, int, np.ndarray | None]]:
        """Consecutive float columns that are adjacent columns of one 2-D array (a pandas frame built from
        a matrix stores its float columns so) as one strided 2-D view, copied per block in one call."""
        runs = self.__dict__.get("_runs_cache")
        if runs is None:
            runs = []
            j = 0
            while j < self.k:
                stop = j + 1
                while stop < self.k and _adjacent(self.parts[j], self.parts[stop - 1], self.parts[stop], stop - j):
                    stop += 1
                if stop - j > 1:
                    first = self.parts[j].values
                    assert first is not None
                    step = _address(self.parts[j + 1].values) - _address(first)
                    view = np.lib.stride_tricks.as_strided(
                        first, shape=(self.n, stop - j), strides=(first.strides[0], step), writeable=False
                    )
                    runs.append((j, stop, view))
                else:
                    runs.append((j, j + 1, None))
                j = stop
            self.__dict__["_runs_cache"] = runs
        return runs

    def tdot(
        self, columns: np.ndarray | Sequence[np.ndarray | float], chunk_rows: int = 6144, *, parallel: bool = False
    ) -> np.ndarray:
        """X' V for V given as an (n, m) array or as m columns (arrays of n, or numbers for constant
        columns): one pass over the rows' partitions (:mod:`._core.rows`), V assembled partition by
        partition, the products merged by sums. ``parallel`` shares the partitions between threads
        (:func:`rows.fold_threads`: the same bits)."""
        from . import rows

        if isinstance(columns, np.ndarray) and columns.ndim == 2:
            columns = [columns[:, j] for j in range(columns.shape[1])]
        m = len(columns)
        per_row = [not np.isscalar(col) for col in columns]  # arrays, or row expressions read by blocks
        arrays = {f"v{j}": col for j, col in enumerate(columns) if per_row[j]}

        def make_kernel() -> Callable[[rows.Partition], np.ndarray]:
            scratch: dict[str, np.ndarray | None] = {"rhs": None, "buf": None}

            def kernel(part: rows.Partition) -> np.ndarray:
                rhs = scratch["rhs"] = rows.scratch(scratch["rhs"], part.n, m)
                block = rhs[: part.n]
                for j, col in enumerate(columns):
                    block[:, j] = part[f"v{j}"] if per_row[j] else col
                out = np.zeros((self.k, m))
                matrix = part.matrix()
                if matrix is None:
                    blk = scratch["buf"] = part.block(scratch["buf"])
                    out += blk.T @ block
                else:  # a constant 1 and a matrix read in place
                    out[1:] += matrix.T @ block
                    out[0] += block.sum(axis=0)
                return out

            return kernel

        src = rows.source(self, max(1, min(chunk_rows, self.n)), extra=arrays)
        if parallel:
            return rows.fold_threads(src, make_kernel, np.zeros((self.k, m)))
        return rows.fold(src, make_kernel(), np.zeros((self.k, m)))

    def leading_constant_view(self) -> np.ndarray | None:
        """When the design is a constant 1 followed by float columns adjacent in one 2-D array (a pandas
        frame built from a matrix stores its float columns so), a read-only 2-D view of those columns:
        blocks of rows can then be read in place, without a copy. Else None."""
        if self.k < 2 or self.parts[0].values is not None or self.parts[0].level is not None:
            return None
        runs = self._runs()
        if len(runs) == 2 and runs[1][0] == 1 and runs[1][1] == self.k and runs[1][2] is not None:
            return runs[1][2]
        return None

    def matrix_view(self) -> np.ndarray | None:
        """When every column is a float column of one 2-D array (adjacent, as :meth:`leading_constant_view`
        reads them), a read-only 2-D view of them. Else None."""
        runs = self._runs()
        if self.k >= 2 and len(runs) == 1 and runs[0][2] is not None:
            return runs[0][2]
        return None

    def constant_columns(self) -> list[int]:
        """Indices of columns that take one value in every row (an intercept, or a constant covariate)."""
        out = []
        for j, part in enumerate(self.parts):
            if part.values is None:
                out.append(j)
            elif part.level is None and self.n and _constant(part.values):
                out.append(j)
        return out

    def column(self, name: str) -> np.ndarray:
        j = self.names.index(name)
        out = np.empty(self.n)
        self.parts[j].fill(out, 0, self.n)
        return out

    def to_array(self) -> np.ndarray:
        return self.block(0, self.n)

    def for_columns(self, columns: Sequence[str]) -> Design:
        """The parts that encode the user's ``columns`` (a categorical column gives all its dummies)."""
        wanted = set(columns)
        return Design([p for p in self.parts if p.source in wanted], self.n)

    def select(self, names: Sequence[str]) -> Design:
        by_name = {p.name: p for p in self.parts}
        return Design([by_name[n] for n in names], self.n)

    def with_parts(self, parts: Sequence[Part], front: bool = False) -> Design:
        return Design(list(parts) + self.parts if front else self.parts + list(parts), self.n)

    def take(self, rows: np.ndarray | slice) -> Design:
        """The same columns on a subset of rows (a slice gives views, an index array copies)."""
        if isinstance(rows, slice):
            n = len(range(self.n)[rows])
        else:
            rows = np.asarray(rows)
            n = int(np.count_nonzero(rows)) if rows.dtype == bool else len(rows)
        parts = [p if p.values is None else Part(p.name, p.values[rows], p.level, p.source) for p in self.parts]
        return Design(parts, n)


def _constant(values: np.ndarray) -> bool:
    """One nonzero value in every row (min == max != 0). A column that varies mostly does so in its first
    rows: those are compared with the first value before reading the whole column twice."""
    first = values[0]
    if not first != 0 or np.any(values[:256] != first):  # zero, NaN, or a second value
        return False
    return bool(values.min() == values.max() != 0)


def _address(values: np.ndarray | None) -> int:
    return 0 if values is None else int(values.__array_interface__["data"][0])


def _root(values: np.ndarray) -> object:
    base: Any = values
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    return base


def _plain_float(part: Part) -> bool:
    v = part.values
    return v is not None and part.level is None and v.dtype == np.float64 and v.ndim == 1


def _adjacent(first: Part, prev: Part, nxt: Part, offset: int) -> bool:
    """True when ``nxt`` lies where column ``offset`` of a 2-D view starting at ``first`` (with the spacing
    of ``prev`` to ``nxt``) would: then that view reads exactly the parts' values."""
    if not (_plain_float(first) and _plain_float(nxt)):
        return False
    a, b = first.values, nxt.values
    assert a is not None and b is not None
    if a.shape != b.shape or a.strides != b.strides or _root(a) is not _root(b):
        return False
    step = _address(b) - _address(prev.values)
    return step != 0 and _address(b) - _address(a) == offset * step


def constant_part(name: str = "const") -> Part:
    return Part(name)


def array_part(name: str, values: np.ndarray) -> Part:
    return Part(name, np.asarray(values, dtype=np.float64))


def column_major(matrix: np.ndarray, block_rows: int = 512) -> np.ndarray:
    """``matrix`` as a float64 array with contiguous columns (Fortran order), returned as is when it already
    is one. A row-major matrix is transposed in blocks of rows that stay in cache: numpy's own order='F'
    copy walks the whole source once per column (about 4x slower at 100,000 x 10)."""
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2 or matrix.flags.f_contiguous:
        return matrix
    out = np.empty(matrix.shape, order="F")
    for start in range(0, matrix.shape[0], block_rows):
        out[start : start + block_rows] = matrix[start : start + block_rows]
    return out
