"""Sample splits shared by every nuisance model of one estimate.

A :class:`Folds` is the fold number of every row, made once per estimate (per repetition) and handed to
each cross-fitted nuisance, so the propensity and the outcome models leave out the same rows. The split
is K-fold with shuffling; stratified (scikit-learn's ``StratifiedKFold``) when the target given is
binary, so every fold keeps the treated share; and grouped when ``groups`` are given (the clusters are
split with ``KFold`` and every row follows its cluster, as DoubleML does), so no cluster is on both
sides of a split. Train and test rows are returned in ascending order, exactly as scikit-learn's
splitters return them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..._core.options import check_positive_int
from ...errors import DataError, SpecificationError
from .seeds import derive_seed, seed_from


@dataclass(frozen=True, eq=False)
class Folds:
    """The fold (0 .. k-1) of every row; ``split()`` yields (train rows, test rows) for each fold."""

    assignment: np.ndarray  # int64, one fold number per row
    k: int
    stratified: bool = False
    grouped: bool = False
    seed: int | None = None
    #: two-way clusters: the fold of each row's first and second cluster (k_side folds each); fold
    #: k1 * k_side + k2 tests the rows in both, and trains on the rows in neither (DoubleML's product of
    #: cluster splits), so a training row shares no cluster with a test row
    blocks: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def k_side(self) -> int:
        return self.k if self.blocks is None else math.isqrt(self.k)

    def train_mask(self, fold: int) -> np.ndarray:
        """The rows fold ``fold``'s models are fitted on."""
        if self.blocks is None:
            return self.assignment != fold
        k1, k2 = divmod(fold, self.k_side)
        return (self.blocks[0] != k1) & (self.blocks[1] != k2)

    @property
    def n(self) -> int:
        return len(self.assignment)

    def __len__(self) -> int:
        return self.k

    def test(self, fold: int) -> np.ndarray:
        return np.flatnonzero(self.assignment == fold)

    def train(self, fold: int) -> np.ndarray:
        return np.flatnonzero(self.train_mask(fold))

    def split(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for fold in range(self.k):
            yield self.train(fold), self.test(fold)

    def sizes(self) -> np.ndarray:
        return np.bincount(self.assignment, minlength=self.k)


def _assignment(n: int, splits: Iterator[tuple[np.ndarray, np.ndarray]], k: int) -> np.ndarray:
    out = np.empty(n, dtype=np.int64)
    for fold, (_, test) in enumerate(splits):
        out[test] = fold
    assert fold == k - 1
    return out


def _binary(target: np.ndarray | None) -> np.ndarray | None:
    """Class codes 0/1 of a two-valued target, else None (a continuous or constant target is not stratified)."""
    if target is None:
        return None
    values, codes = np.unique(np.asarray(target), return_inverse=True)
    return codes.astype(np.int64) if len(values) == 2 else None


def make_folds(
    n: int,
    *,
    folds: int = 5,
    target: np.ndarray | None = None,
    groups: np.ndarray | None = None,
    random_state: Any = None,
    argument: str = "folds",
    labels: tuple[str, str] = ("positive", "negative"),
    groups2: np.ndarray | None = None,
) -> Folds:
    """K shuffled folds of ``n`` rows: stratified on a binary ``target``, or grouped by ``groups``
    (with ``groups2`` as well: two-way, the K x K product of the two cluster splits, see :class:`Folds`).

    ``random_state`` (None, int or Generator) seeds the shuffle; an int gives the folds of scikit-learn's
    ``StratifiedKFold`` / ``KFold(shuffle=True, random_state=...)``. ``argument`` and ``labels`` (the two
    classes of the target, e.g. ("treated", "control")) word the error messages.
    """
    k = check_positive_int(folds, argument, minimum=2)
    seed = seed_from(random_state)
    from sklearn.model_selection import KFold, StratifiedKFold

    if groups is not None:
        groups = np.asarray(groups)
        if len(groups) != n:
            raise SpecificationError(f"groups has {len(groups)} values for {n} rows; give one cluster per row.")
        _, inverse = np.unique(groups, return_inverse=True)
        g = int(inverse.max()) + 1 if n else 0
        if g < k:
            raise DataError(f"{argument}={k} folds of whole clusters need at least {k} clusters; there are {g}.")
        per_group = _assignment(g, KFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(g)), k)
        first = per_group[inverse.ravel()]
        if groups2 is None:
            return Folds(first, k, stratified=False, grouped=True, seed=seed)
        _, inverse2 = np.unique(np.asarray(groups2), return_inverse=True)
        g2 = int(inverse2.max()) + 1 if n else 0
        if g2 < k:
            raise DataError(f"{argument}={k} folds of whole clusters need at least {k} clusters; the second has {g2}.")
        splitter = KFold(n_splits=k, shuffle=True, random_state=derive_seed(seed, "second cluster"))
        second = _assignment(g2, splitter.split(np.zeros(g2)), k)[inverse2.ravel()]
        return two_way_folds(first, second, k, seed)
    if n < k:
        raise DataError(f"{argument}={k} folds need at least {k} rows; there are {n}.")
    codes = _binary(target)
    if codes is not None:
        n_min = int(min(np.count_nonzero(codes == 1), np.count_nonzero(codes == 0)))
        if n_min < k:
            raise DataError(
                f"{argument}={k} folds need at least {k} {labels[0]} and {k} {labels[1]} rows; the smaller group "
                f"has {n_min}. Use fewer folds."
            )
        splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
        return Folds(_assignment(n, splitter.split(np.zeros(n), codes), k), k, stratified=True, seed=seed)
    splitter_kf = KFold(n_splits=k, shuffle=True, random_state=seed)
    return Folds(_assignment(n, splitter_kf.split(np.zeros(n)), k), k, seed=seed)


def two_way_folds(first: np.ndarray, second: np.ndarray, k_side: int, seed: int | None = None) -> Folds:
    """Two-way folds from the fold of each row's first and second cluster (``k_side`` folds each)."""
    first, second = first.astype(np.int64), second.astype(np.int64)
    return Folds(first * k_side + second, k_side * k_side, grouped=True, seed=seed, blocks=(first, second))


def repeated_folds(
    n: int,
    *,
    folds: int = 5,
    repeats: int = 1,
    target: np.ndarray | None = None,
    groups: np.ndarray | None = None,
    random_state: Any = None,
    argument: str = "folds",
    labels: tuple[str, str] = ("positive", "negative"),
    groups2: np.ndarray | None = None,
) -> list[Folds]:
    """``repeats`` independent splits (repeated cross-fitting): the first seeded with the root seed (so it
    equals :func:`make_folds` with the same ``random_state``), repetition r with ``derive_seed(seed,
    "repeat", r)``."""
    check_positive_int(repeats, "repeats")
    seed = seed_from(random_state)
    return [
        make_folds(
            n,
            folds=folds,
            target=target,
            groups=groups,
            random_state=derive_seed(seed, "repeat", r) if r else seed,
            argument=argument,
            labels=labels,
            groups2=groups2,
        )
        for r in range(repeats)
    ]
