"""``iv(..., absorb=...)`` on rows that stay on an engine, for fixed effects with few levels.

In memory the fixed effects are absorbed by demeaning every column within its levels. On an engine, when
the factors have at most :data:`MAX_DUMMIES` levels together, they enter the design as dummy columns
instead: by Frisch-Waugh-Lovell the coefficients of the other regressors, their covariances (every type the
absorbed path offers) and every partialled statistic are those of the demeaned regression, so only the
bookkeeping must follow the in-memory path:

* singletons (rows alone in their level of some factor) are dropped, repeatedly, as fixest and the
  in-memory path do: a counting pass per round, the rows then filtered in each piece by their level;
* the small-sample count of absorbed parameters follows fixest's "nested" rule (a factor nested in a
  cluster is not counted): one more pass collects the (level, cluster) pairs when clustering;
* the constant and the dummies are left out of the reported coefficients.

More levels are refused with the memory the in-memory path would need.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .._core import rows
from .._core.demean import fixed_effect_count
from .._core.design import Part
from ..errors import DataError

if TYPE_CHECKING:
    from ..data import EnginePrepared

#: at most this many dummy columns (levels less one per factor) are added to the design on an engine
MAX_DUMMIES = 400
#: rounds of singleton dropping before giving up
MAX_ROUNDS = 100


class _DropLevels:
    """An encoder keeping the rows whose value of each factor (encoded key) is not among ``excluded``."""

    def __init__(self, encoder: Any, keys: Sequence[str], excluded: Sequence[np.ndarray]) -> None:
        self.encoder, self.keys, self.excluded = encoder, list(keys), [np.asarray(e, dtype=float) for e in excluded]

    def __call__(self, table: Any) -> tuple[dict[str, np.ndarray], int]:
        local, n = self.encoder(table)
        if n == 0:
            return local, n
        keep = np.ones(n, dtype=bool)
        for key, bad in zip(self.keys, self.excluded, strict=True):
            if len(bad):
                keep &= ~np.isin(local[key], bad)
        if keep.all():
            return local, n
        return {k: v[keep] for k, v in local.items()}, int(np.count_nonzero(keep))


class _LevelCodes:
    """A factor's position among its sorted levels (a derived column, computed in each piece)."""

    def __init__(self, key: str, levels: np.ndarray) -> None:
        self.key, self.levels = key, np.asarray(levels, dtype=float)

    def __call__(self, local: dict[str, np.ndarray]) -> np.ndarray:
        return np.searchsorted(self.levels, np.asarray(local[self.key], dtype=float)).astype(np.int64)


class _Counts:
    """Per factor: the values present and how many rows hold each; merged by adding."""

    def __init__(self, parts: list[dict[float, int]] | None = None) -> None:
        self.parts = parts

    def __add__(self, other: _Counts) -> _Counts:
        if self.parts is None:
            return other
        if other.parts is None:
            return self
        out = []
        for a, b in zip(self.parts, other.parts, strict=True):
            merged = dict(a)
            for k, v in b.items():
                merged[k] = merged.get(k, 0) + v
            out.append(merged)
        return _Counts(out)


class _Pairs:
    """Per (factor, clustering): the distinct (level, cluster) pairs; merged by union."""

    def __init__(self, parts: list[set[tuple[float, int]]] | None = None) -> None:
        self.parts = parts

    def __add__(self, other: _Pairs) -> _Pairs:
        if self.parts is None:
            return other
        if other.parts is None:
            return self
        return _Pairs([a | b for a, b in zip(self.parts, other.parts, strict=True)])


def _count(prep: EnginePrepared, keys: Sequence[str], cluster_keys: Sequence[str]) -> tuple[_Counts, list[int]]:
    """The levels and their counts of each factor, and the clusters with a row, in one pass."""
    tpl = prep.templates
    extra = {f"fe{j}": tpl[k] for j, k in enumerate(keys)}
    extra.update({f"cl{g}": tpl[k] for g, k in enumerate(cluster_keys)})
    sizes = [int(tpl[k].max()) + 1 for k in cluster_keys]

    def kernel(part: rows.Partition) -> tuple[_Counts, list[np.ndarray]]:
        parts = []
        for j in range(len(keys)):
            values, counts = np.unique(part[f"fe{j}"], return_counts=True)
            parts.append(dict(zip(values.tolist(), counts.tolist(), strict=True)))
        seen = [np.bincount(part[f"cl{g}"], minlength=sizes[g]) for g in range(len(cluster_keys))]
        return _Counts(parts), seen

    total: Any = _Both(_Counts(), [np.zeros(s) for s in sizes])
    with prep.rows():
        total = rows.fold(rows.source(None, 1 << 16, n=prep.n, extra=extra), lambda p: _Both(*kernel(p)), total)
    return total.counts, [int(np.count_nonzero(s)) for s in total.seen]


class _Both:
    def __init__(self, counts: _Counts, seen: list[np.ndarray]) -> None:
        self.counts, self.seen = counts, seen

    def __add__(self, other: _Both) -> _Both:
        return _Both(self.counts + other.counts, [a + b for a, b in zip(self.seen, other.seen, strict=True)])


def _nested(prep: EnginePrepared, code_keys: Sequence[np.ndarray], cluster_keys: Sequence[str]) -> list[bool]:
    """Whether each factor is nested in one of the clusterings (every level within one cluster), one pass."""
    tpl = prep.templates
    extra = {f"fe{j}": c for j, c in enumerate(code_keys)}
    extra.update({f"cl{g}": tpl[k] for g, k in enumerate(cluster_keys)})
    n_f, n_c = len(code_keys), len(cluster_keys)

    def kernel(part: rows.Partition) -> _Pairs:
        out = []
        for j in range(n_f):
            for g in range(n_c):
                pairs = np.unique(np.column_stack([part[f"fe{j}"], part[f"cl{g}"]]), axis=0)
                out.append({(float(a), int(b)) for a, b in pairs})
        return _Pairs(out)

    with prep.rows():
        pairs = rows.fold(rows.source(None, 1 << 16, n=prep.n, extra=extra), kernel, _Pairs())
    assert pairs.parts is not None
    nested = []
    for j in range(n_f):
        found = False
        for g in range(n_c):
            seen = pairs.parts[j * n_c + g]
            levels = {a for a, _ in seen}
            found = found or len(levels) == len(seen)
        nested.append(found)
    return nested


@dataclasses.dataclass(frozen=True)
class AbsorbedDesign:
    """What the engine's IV problem needs of the absorbed factors."""

    prep: Any  # the rows kept (singletons dropped), with their counts
    dummies: list[Part]
    sizes: list[int]
    n_singletons: int
    k_absorbed: int  # the absorbed parameters fixest counts, less those the dummies already count
    n_fe: int
    cluster_sizes: tuple[int, ...]


def absorb_on_engine(
    prep: EnginePrepared, absorb: Sequence[str], k: int, cluster_names: Sequence[str], clustered: bool,
    refuse: Any,
) -> AbsorbedDesign:  # fmt: skip
    """Drop singletons, find each factor's levels and build its dummies (``refuse()`` the error when the
    levels are too many); ``k`` the regressors other than the constant and dummies (fixest's k)."""
    keys = [f"x:{a}" for a in absorb]
    cluster_keys = [f"cluster{g}" for g in range(len(cluster_names))] if clustered else []
    current = prep
    excluded: list[np.ndarray] = [np.empty(0) for _ in keys]
    for _ in range(MAX_ROUNDS):
        counts, seen = _count(current, keys, cluster_keys)
        assert counts.parts is not None
        n_kept = sum(counts.parts[0].values()) if counts.parts[0] else 0
        single = [np.array([v for v, c in part.items() if c == 1]) for part in counts.parts]
        if n_kept == 0:
            raise DataError("Every row is alone in its group of some fixed effect (singletons): nothing is left.")
        if n_kept != current.n:
            current = dataclasses.replace(current, n=n_kept)
        if not any(len(s) for s in single):
            break
        excluded = [np.union1d(e, s) for e, s in zip(excluded, single, strict=True)]
        current = dataclasses.replace(prep, encoder=_DropLevels(prep.encoder, keys, excluded))  # type: ignore[arg-type]
    else:
        raise refuse()
    levels = [np.array(sorted(part)) for part in counts.parts]
    sizes = [len(lv) for lv in levels]
    if sum(sizes) - len(sizes) > MAX_DUMMIES:
        raise refuse()
    if current is not prep:
        n1 = _treated(current)
        current = dataclasses.replace(current, n_treated=n1)
    tpl = prep.templates
    dummies: list[Part] = []
    code_arrays = []
    for a, key, lv in zip(absorb, keys, levels, strict=True):
        codes = tpl.derive(f"absorb:{a}", _LevelCodes(key, lv))
        code_arrays.append(codes)
        labels = _labels(prep, a, lv)
        dummies += [Part(f"{a}[{labels[i]}]", codes, i, None) for i in range(1, len(lv))]
    n_fe = fixed_effect_count(sizes)
    counted = n_fe
    if clustered:
        nested = [a in cluster_names or found for a, found in
                  zip(absorb, _nested(current, code_arrays, cluster_keys), strict=True)]  # fmt: skip
        if any(nested):
            counted = n_fe - sum(s for s, flag in zip(sizes, nested, strict=True) if flag) + sum(nested)
    return AbsorbedDesign(
        current, dummies, sizes, prep.n - current.n, counted - n_fe, n_fe,
        tuple(seen) if clustered else prep.cluster_sizes,
    )  # fmt: skip


def _treated(prep: EnginePrepared) -> int | None:
    if prep.n_treated is None or "t" not in prep.templates.arrays:
        return prep.n_treated
    src = rows.source(None, 1 << 16, n=prep.n, extra={"t": prep.templates["t"]})
    with prep.rows():
        return int(rows.fold(src, lambda part: float(part["t"].sum()), 0.0))


def _labels(prep: EnginePrepared, column: str, values: np.ndarray) -> list[Any]:
    """The user's labels of a factor's levels (a categorical column's codes mapped back)."""
    levels = prep.schema.covariates.get(column)
    if levels is None:
        return [int(v) if float(v).is_integer() else float(v) for v in values]
    return [levels[int(v)] for v in values]
