"""The engine's rows as the core's row source: every pass of the core runs on an engine unchanged.

The data layer describes one estimate's rows by an *encoder* (a function from an Arrow piece to the
arrays of its kept rows, by key: outcome, treatment, weights, cluster codes, covariate columns, all
encoded against the global schema) and by *template* arrays, one stand-in per key. An estimator builds
its :class:`~deconfound._core.design.Design` and per-row arguments from the templates as it would from
real arrays; inside ``with engine_rows(...)`` every pass of the core (:func:`deconfound._core.rows.source`)
gets an :class:`EngineSource`, whose ``fold`` sends the pass's kernel to the engine: each piece is
encoded, becomes a partition of the core (its own design block and arrays), the kernel runs on it where
the piece lives, and only the kernel's small result comes back to be merged.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np

from .._core import rows
from .._core.design import Design, Part
from .base import Engine

__all__ = ["EngineSource", "Templates", "engine_rows"]

T = TypeVar("T")
#: piece -> (arrays of its kept rows by key, number of kept rows)
Encoder = Callable[[Any], tuple[dict[str, np.ndarray], int]]


class Templates:
    """Stand-in arrays for the keys of an encoder: the passes see them where real arrays would be, and the
    engine source maps each back to its key (by identity, on the driver, before anything is pickled)."""

    def __init__(self, keys: Sequence[str], fills: Mapping[str, np.ndarray] | None = None) -> None:
        fills = fills or {}
        self.arrays: dict[str, np.ndarray] = {k: np.array(fills[k]) if k in fills else np.empty(0) for k in keys}
        self._keys = {id(a): k for k, a in self.arrays.items()}
        self.derived: dict[str, Callable[[Mapping[str, np.ndarray]], np.ndarray]] = {}

    def derive(self, key: str, fn: Callable[[Mapping[str, np.ndarray]], np.ndarray]) -> np.ndarray:
        """A stand-in for a column computed in each piece from the encoded ones (``fn(arrays by key)``),
        e.g. a centered covariate or an interaction."""
        values = np.empty(0)
        self.arrays[key] = values
        self._keys[id(values)] = key
        self.derived[key] = fn
        return values

    def __getitem__(self, key: str) -> np.ndarray:
        return self.arrays[key]

    def key(self, values: np.ndarray | None) -> str | None:
        if values is None:
            return None
        try:
            return self._keys[id(values)]
        except KeyError:
            raise ValueError("an array reached an engine pass that is not one of the engine's columns") from None


def _local(
    spec: Sequence[tuple[str, str | None, int | None, str | None]],
    array_keys: Mapping[str, str | None],
    local: Mapping[str, np.ndarray],
    n: int,
) -> rows.Partition:
    parts = [Part(name, None if key is None else local[key], level, src) for name, key, level, src in spec]
    arrays = {name: (None if key is None else local[key]) for name, key in array_keys.items()}
    return rows._Rows(Design(parts, n) if spec else None, arrays, slice(0, n), n)


class EngineSource:
    """The rows of one pass on an engine; :func:`deconfound._core.rows.fold` calls :meth:`fold`."""

    def __init__(
        self,
        engine: Engine,
        columns: Sequence[str],
        encode: Encoder,
        templates: Templates,
        design: Design | None,
        n: int,
        arrays: Mapping[str, np.ndarray | None],
    ) -> None:
        self.engine, self.columns, self.encode, self._n = engine, list(columns), encode, int(n)
        self.derived = dict(templates.derived)
        self.has_design = design is not None
        self.spec = (
            [] if design is None else [(p.name, templates.key(p.values), p.level, p.source) for p in design.parts]
        )
        self.array_keys = {name: templates.key(a) for name, a in arrays.items()}

    @property
    def n(self) -> int:
        return self._n

    def partitions(self) -> Iterator[rows.Partition]:  # pragma: no cover - fold is always used
        raise NotImplementedError("an engine's rows are folded where they live (EngineSource.fold)")

    def fold(self, kernel: Callable[[rows.Partition], T], total: T, stop: Callable[[T], bool] | None = None) -> T:
        encode, spec, array_keys, has_design = self.encode, self.spec, self.array_keys, self.has_design
        derived = self.derived

        def run(piece: Any) -> T | None:
            if piece.num_rows == 0:
                return None
            local, n = encode(piece)
            if n == 0:
                return None
            for key, fn in derived.items():
                local[key] = fn(local)
            return kernel(_local(spec if has_design else [], array_keys, local, n))

        for result in self.engine.map_partitions(self.columns, run):
            if result is not None:
                total = total + result  # type: ignore[operator]
        return total


@contextlib.contextmanager
def engine_rows(engine: Engine, columns: Sequence[str], encode: Encoder, templates: Templates) -> Iterator[None]:
    """Inside the block every pass of the core reads the engine's rows (see the module's docstring)."""

    def factory(design: Design | None, n: int, arrays: Mapping[str, np.ndarray | None], chunk_rows: int) -> Any:
        return EngineSource(engine, columns, encode, templates, design, n, arrays)

    with rows.using(factory):
        yield
