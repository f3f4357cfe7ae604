"""Which implementation runs the hot loops: compiled (numba) or numpy.

Both implementations compute the same numbers (to rounding: the tests hold them to 1e-12 relative) and
stay testable side by side::

    from deconfound._core import kernels
    kernels.use("numpy")          # every kernel in numpy from now on
    with kernels.using("numba"):  # for a block only
        ...

The default is ``"numba"`` when numba can be imported, else ``"numpy"``. numba is imported only when a
compiled kernel first runs (never by ``import deconfound`` or the CLI's ``--help``); its functions are
compiled with ``cache=True``, so a second process loads them from the cache instead of compiling again.
``DECONFOUND_KERNELS=numpy`` in the environment selects numpy at start.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import SpecificationError

BACKENDS = ("numba", "numpy")
_state: dict[str, str | None] = {"backend": None}


def _default() -> str:
    chosen = os.environ.get("DECONFOUND_KERNELS", "").strip().lower()
    if chosen in BACKENDS:
        return chosen
    try:
        import importlib.util

        return "numba" if importlib.util.find_spec("numba") is not None else "numpy"
    except (ImportError, ValueError):  # pragma: no cover - a broken installation
        return "numpy"


def backend() -> str:
    """The implementation in use: ``"numba"`` or ``"numpy"``."""
    if _state["backend"] is None:
        _state["backend"] = _default()
    return str(_state["backend"])


def compiled() -> bool:
    """True when the compiled kernels run."""
    return backend() == "numba"


def use(name: str) -> None:
    """Select the implementation of every kernel: ``"numba"`` (compiled) or ``"numpy"``."""
    if name not in BACKENDS:
        raise SpecificationError(f"kernels.use(name={name!r}): choose one of {', '.join(BACKENDS)}.")
    if name == "numba":
        try:
            import numba  # noqa: F401
        except ImportError as exc:
            raise SpecificationError(
                "kernels.use(name='numba'): numba is not installed; install it (pip install numba) or use 'numpy'."
            ) from exc
    _state["backend"] = name


@contextmanager
def using(name: str) -> Iterator[None]:
    """Run a block with the given implementation, then restore the previous one."""
    before = backend()
    use(name)
    try:
        yield
    finally:
        _state["backend"] = before
