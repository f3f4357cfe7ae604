"""Validation helpers for option values shared by every public function."""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable, Sequence
from typing import Any

import numpy as np

from ..errors import SpecificationError


def check_option(name: str, value: Any, allowed: Sequence[str]) -> str:
    """Return ``value`` normalised if it is one of ``allowed`` (case-insensitive), else raise."""
    if isinstance(value, str):
        for option in allowed:
            if value.lower() == option.lower():
                return option
    hint = ""
    if isinstance(value, str):
        close = difflib.get_close_matches(value, list(allowed), n=1)
        if close:
            hint = f" Did you mean {close[0]!r}?"
    listed = ", ".join(repr(a) for a in allowed)
    raise SpecificationError(f"{name}={value!r} is not allowed; choose one of {listed}.{hint}")


def check_level(level: Any, name: str = "level") -> float:
    """A confidence level strictly between 0 and 1."""
    try:
        lvl = float(level)
    except (TypeError, ValueError):
        raise SpecificationError(f"{name} must be a number between 0 and 1, got {level!r}.") from None
    if not 0.0 < lvl < 1.0:
        hint = " (did you mean a fraction, e.g. 0.95?)" if 1.0 < lvl < 100.0 else ""
        raise SpecificationError(f"{name} must be strictly between 0 and 1, got {level!r}{hint}.")
    return lvl


def check_positive_int(value: Any, name: str, minimum: int = 1) -> int:
    """An integer of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise SpecificationError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def as_name_list(value: str | Iterable[str] | None, name: str, columns: Collection[Any] | None = None) -> list[str]:
    """Accept one column name, a comma-separated string, or an iterable of names.

    A string that is itself one of ``columns`` (the data's column names, when known) is that one
    column even if it holds a comma: ``"a,b"`` names the column ``a,b`` when the data has one.
    """
    if value is None:
        return []
    if isinstance(value, str):
        if columns is not None and value in columns:
            return [value]
        parts = [p.strip() for p in value.split(",")] if "," in value else [value]
        return [p for p in parts if p]
    try:
        names = list(value)
    except TypeError:
        raise SpecificationError(f"{name} must be a column name or a list of names, got {value!r}.") from None
    for item in names:
        if not isinstance(item, str):
            raise SpecificationError(f"{name} must contain column names (strings), got {item!r}.")
    return names


def check_seed(seed: Any, name: str = "seed", maximum: int | None = None) -> int | None:
    """A seed: None or a non-negative integer (what numpy's generators accept); ``True``, ``1.5`` or ``-1``
    are refused naming ``name``. A float with an integer value (``42.0``) is refused too: seeds are exact.
    ``maximum`` bounds it where the generator does (``RandomState`` takes at most 2**32 - 1)."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise SpecificationError(f"{name} must be a non-negative integer (e.g. 42), got {seed!r}.")
    if maximum is not None and seed > maximum:
        raise SpecificationError(f"{name} must be an integer between 0 and {maximum}, got {seed!r}.")
    return int(seed)


def check_random_state(random_state: Any, name: str = "random_state") -> np.random.Generator:
    """A numpy Generator from None, a non-negative int seed or an existing Generator (or RandomState)."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1))
    if random_state is None or isinstance(random_state, (int, np.integer, float, str)):
        return np.random.default_rng(check_seed(random_state, name))
    raise SpecificationError(
        f"{name} must be None, a non-negative integer seed or a numpy Generator, got {type(random_state).__name__}."
    )
