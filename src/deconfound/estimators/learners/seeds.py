"""One ``random_state`` for every random step of an estimate: splits and learners.

An estimate turns the user's ``random_state`` into one integer seed with :func:`seed_from` (an int is used
as given, so a single split equals scikit-learn's own splitter with that ``random_state``; a Generator
gives one draw; None gives fresh entropy, so two calls differ). Every further seed is *derived* from that
integer with :func:`derive_seed`: numpy's ``SeedSequence`` with the keys as its spawn key, so the seed of
(say) the second repetition's splits or the outcome model is fixed by the root seed and its name alone -
the same call twice, serial or in parallel, gives bit-identical numbers.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from ..._core.options import check_random_state
from ...errors import SpecificationError

#: seeds handed to scikit-learn lie in [0, 2**31 - 1) (its ``random_state`` accepts up to 2**32 - 1)
SEED_BOUND = 2**31 - 1


def seed_from(random_state: Any, argument: str = "random_state") -> int:
    """The root integer seed of an estimate (never numpy's global generator)."""
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        if random_state < 0:
            raise SpecificationError(f"{argument} must be a non-negative integer seed, got {random_state!r}.")
        return int(random_state)
    if isinstance(random_state, bool):
        raise SpecificationError(f"{argument} must be None, an integer seed or a numpy Generator, got a bool.")
    return int(check_random_state(random_state).integers(0, SEED_BOUND))


def seed_note(random_state: Any, seed: int) -> list[str]:
    """The note an estimate carries when ``random_state=None`` drew its seed: the number that reproduces it."""
    if random_state is not None:
        return []
    return [f"random_state=None drew the seed {seed}: pass random_state={seed} to get these numbers again"]


def _key(key: int | str) -> int:
    if isinstance(key, str):
        return zlib.crc32(key.encode("utf-8"))  # stable across runs and platforms, unlike hash()
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool) and key >= 0:
        return int(key)
    raise SpecificationError(f"seed keys must be non-negative integers or strings, got {key!r}.")


def derive_seed(seed: int, *keys: int | str) -> int:
    """A seed for the step named by ``keys`` (e.g. ``("repeat", 2)`` or ``("outcome",)``) under ``seed``.

    Deterministic, and different keys give statistically independent streams (``SeedSequence`` spawn
    keys). ``derive_seed(seed)`` without keys is ``seed`` itself.
    """
    if not keys:
        return int(seed)
    sequence = np.random.SeedSequence(int(seed), spawn_key=tuple(_key(k) for k in keys))
    return int(sequence.generate_state(1, np.uint32)[0] % SEED_BOUND)
