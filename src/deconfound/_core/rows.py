"""Row sources: the core reads its rows as partitions and never loops over row offsets itself.

Every pass that reduces rows to sums (cross-products, the residual/meat pass, the gradient pass, the
logistic IRLS pass, group moments, influence sums) is written as a *kernel*, a function of one
:class:`Partition` that returns a partial result, and an exact, order-independent *merge* (``+`` of the
partial results: sums, cross-products merged by :meth:`CrossProducts.__add__`, minima). :func:`fold`
runs a kernel over a :class:`RowSource` and merges. The source decides how partitions are produced
and in which order, so the same pass runs on an in-memory table, an Arrow record batch or (later) a
partition of a DuckDB / Dask / Spark engine.

A partition is one set of rows. It carries

* ``n``, its number of rows;
* ``block(out)``: its rows of the design (``n`` x ``k`` float64, column-major, written into ``out``
  when it is large enough) and ``matrix()``: a read-only view of the design's float columns after a
  leading constant, when the rows can be read in place (else None);
* ``part[name]`` / ``part.get(name)``: the per-row arrays a pass needs (``"y"``, ``"w"``, cluster codes,
  group codes, propensity scores, ...), already restricted to its rows;
* ``rows``: where its rows sit in the source's row order (a slice or an index array), used only by
  passes that write one output per row (predictions).

Kernels must not assume global row offsets except through ``rows``. Global facts (the number of
clusters, one-hot levels, treatment levels) come from the schema, never from one partition. A
partition with no rows contributes nothing: :func:`fold` does not hand it to the kernel.

Choosing the source (a private hook, not a public API): a pass asks :func:`source` for the rows of
its design and per-row arrays. By default that is :class:`MemorySource`, contiguous row ranges of
``chunk_rows`` in order (each pass keeps its own chunk size, so results are bit for bit those of the
former inline loops). Inside ``with rows.using(factory):`` every pass reads through
``factory(design, n, arrays, chunk_rows)`` instead; the tests use it with :class:`ShuffledSource`
(uneven partitions, one of them empty, in shuffled order) to show that no result depends on how the
rows are cut or ordered.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from typing import Protocol, TypeVar

import numpy as np

from .design import Design

__all__ = [
    "MemorySource",
    "Partition",
    "RowSource",
    "ShuffledSource",
    "SourceFactory",
    "fold",
    "in_memory",
    "scratch",
    "source",
    "using",
]

T = TypeVar("T")
Arrays = Mapping[str, "np.ndarray | None"]


class Partition(Protocol):
    """One set of rows: its design block, its per-row arrays and where its rows sit."""

    @property
    def n(self) -> int: ...

    @property
    def rows(self) -> slice | np.ndarray: ...

    def block(self, out: np.ndarray | None = None) -> np.ndarray: ...

    def matrix(self) -> np.ndarray | None: ...

    def __getitem__(self, name: str) -> np.ndarray: ...

    def get(self, name: str) -> np.ndarray | None: ...


class RowSource(Protocol):
    """Gives a pass its rows as partitions, in an order of its choosing."""

    @property
    def n(self) -> int: ...

    def partitions(self) -> Iterator[Partition]: ...


#: makes the source of one pass: (design or None, number of rows, per-row arrays, the pass's chunk size)
SourceFactory = Callable[[Design | None, int, Arrays, int], RowSource]


class _Rows:
    """A partition of in-memory arrays: the rows ``rows`` (a slice or an index array) of each."""

    def __init__(self, design: Design | None, arrays: Arrays, rows: slice | np.ndarray, n: int) -> None:
        self._design = design
        self._arrays = arrays
        self._rows = rows
        self._n = n
        self._taken: Design | None = None

    @property
    def n(self) -> int:
        return self._n

    @property
    def rows(self) -> slice | np.ndarray:
        return self._rows

    def _local(self) -> tuple[Design, int, int]:
        """The design and the row range to read from it (an index array is taken once, as a copy)."""
        if self._design is None:
            raise ValueError("this row source carries no design")
        if isinstance(self._rows, slice):
            return self._design, self._rows.start, self._rows.stop
        if self._taken is None:
            self._taken = self._design.take(self._rows)
        return self._taken, 0, self._n

    def block(self, out: np.ndarray | None = None) -> np.ndarray:
        design, start, stop = self._local()
        return design.block(start, stop, out)

    def matrix(self) -> np.ndarray | None:
        design, start, stop = self._local()
        view = design.leading_constant_view()
        return None if view is None else view[start:stop]

    def __getitem__(self, name: str) -> np.ndarray:
        values = self._arrays[name]
        if values is None:
            raise KeyError(name)
        return values[self._rows]

    def get(self, name: str) -> np.ndarray | None:
        values = self._arrays.get(name)
        return None if values is None else values[self._rows]


class MemorySource:
    """In-memory arrays read in contiguous row ranges of ``chunk_rows``, first to last."""

    def __init__(self, design: Design | None, n: int, arrays: Arrays, chunk_rows: int) -> None:
        self.design, self._n, self.arrays, self.chunk_rows = design, int(n), arrays, max(1, int(chunk_rows))

    @property
    def n(self) -> int:
        return self._n

    def partitions(self) -> Iterator[Partition]:
        for start in range(0, self._n, self.chunk_rows):
            stop = min(start + self.chunk_rows, self._n)
            yield _Rows(self.design, self.arrays, slice(start, stop), stop - start)


class ShuffledSource:
    """For tests: the rows dealt into uneven partitions (one empty), handed out in shuffled order.

    With ``scatter`` the rows of a partition are not contiguous (a random subset, read by index), as
    the rows of a record batch need not be the rows of a range.
    """

    def __init__(
        self, design: Design | None, n: int, arrays: Arrays, parts: int = 7, seed: int = 0, scatter: bool = True
    ) -> None:
        self.design, self._n, self.arrays = design, int(n), arrays
        self.parts, self.seed, self.scatter = max(2, parts), seed, scatter

    @property
    def n(self) -> int:
        return self._n

    def partitions(self) -> Iterator[Partition]:
        rng = np.random.default_rng(self.seed)
        order = rng.permutation(self._n) if self.scatter else np.arange(self._n)
        # uneven cuts: sizes drawn at random, one partition left empty
        cuts = np.sort(rng.integers(0, self._n + 1, size=self.parts - 2))
        bounds = [0, 0, *cuts.tolist(), self._n]
        pieces = [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]
        for i in rng.permutation(len(pieces)):
            start, stop = pieces[i]
            rows: slice | np.ndarray = np.sort(order[start:stop]) if self.scatter else slice(start, stop)
            yield _Rows(self.design, self.arrays, rows, stop - start)


def memory_source(design: Design | None, n: int, arrays: Arrays, chunk_rows: int) -> RowSource:
    return MemorySource(design, n, arrays, chunk_rows)


_FACTORY: ContextVar[SourceFactory] = ContextVar("deconfound_row_source", default=memory_source)


@contextlib.contextmanager
def using(factory: SourceFactory) -> Iterator[None]:
    """Every pass run inside the block reads its rows from sources made by ``factory``."""
    token = _FACTORY.set(factory)
    try:
        yield
    finally:
        _FACTORY.reset(token)


def in_memory() -> bool:
    """True when the passes read the default source (in-memory arrays in contiguous row ranges): no
    ``using`` block has replaced it (engines, test sources). Compiled whole-array kernels may run then."""
    return _FACTORY.get() is memory_source


def source(
    design: Design | None,
    chunk_rows: int,
    n: int | None = None,
    extra: Arrays | None = None,
    **arrays: np.ndarray | None,
) -> RowSource:
    """The rows of ``design`` (and of the per-row ``arrays`` and ``extra``, None entries absent) for one pass."""
    if n is None:
        if design is None:
            raise ValueError("a source without a design needs n")
        n = design.n
    if extra:
        arrays = {**extra, **arrays}
    return _FACTORY.get()(design, n, arrays, chunk_rows)


def fold(src: RowSource, kernel: Callable[[Partition], T], total: T, stop: Callable[[T], bool] | None = None) -> T:
    """``total + kernel(p1) + kernel(p2) + ...`` over the source's non-empty partitions, in its order
    (``stop``: end early once the running total says so, e.g. when a pass has found an error).

    A source with a ``fold`` method folds itself (an engine runs the kernel where its rows live)."""
    own = getattr(src, "fold", None)
    if own is not None:
        return own(kernel, total, stop)  # type: ignore[no-any-return]
    for part in src.partitions():
        if part.n == 0:
            continue
        total = total + kernel(part)  # type: ignore[operator]
        if stop is not None and stop(total):
            break
    return total


def fold_threads(src: RowSource, make_kernel: Callable[[], Callable[[Partition], T]], total: T) -> T:
    """:func:`fold` with the partitions shared by the threads of :mod:`._core.threads`: each thread takes a
    contiguous run of partitions with its own kernel (``make_kernel()``: its own scratch), and the partial
    results are added in the partitions' order, so the total has the bits of :func:`fold` with one kernel.
    Worth it where a kernel's time is in calls that release the interpreter lock (matrix products)."""
    own = getattr(src, "fold", None)
    if own is not None:
        return own(make_kernel(), total, None)  # type: ignore[no-any-return]
    from . import threads

    def run(parts: list[Partition]) -> list[T]:
        kernel = make_kernel()
        return [kernel(part) for part in parts]

    for partial in threads.map_chunked(run, [part for part in src.partitions() if part.n]):
        total = total + partial  # type: ignore[operator]
    return total


def scratch(buf: np.ndarray | None, rows: int, cols: int) -> np.ndarray:
    """A column-major float64 buffer of at least ``rows`` rows (``buf`` itself when it is large enough)."""
    if buf is None or buf.shape[0] < rows:
        return np.empty((max(rows, 1), cols), order="F")
    return buf
