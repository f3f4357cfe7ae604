"""Exceptions and warnings raised by deconfound.

Every error a user can trigger is one of these; every diagnostic is a warning from the second tree.

    DeconfoundError
    ├── DataError(ValueError)            the data cannot be used as given (missing column, NaN, inf, ...)
    ├── SpecificationError(ValueError)   the question or options are inconsistent (bad option, formula)
    │   └── CollinearityError            the design matrix is rank deficient; names the dependent columns
    ├── IdentificationError              the causal effect is not identified by what was given
    ├── NotFittedError(AttributeError)   a fitted attribute was read before ``fit``
    ├── EngineError(RuntimeError)        an engine (DuckDB, Dask, Spark) failed to run a pass; names the engine
    └── ConvergenceError(RuntimeError)   an iterative solver did not converge

    DeconfoundWarning(UserWarning)
    ├── DiagnosticWarning                a diagnostic found a problem (collinearity, imbalance, overlap)
    │   ├── BadControlWarning            the adjustment set holds a bad control or leaves a backdoor path open
    │   ├── WeakInstrumentWarning        the instruments are weak (names the statistic and its critical value)
    │   └── NuisanceWarning              a DML nuisance learner predicts no better than a constant
    ├── DataWarning                      something about the data the user should know (rows dropped, encoding)
    └── ConvergenceWarning               a solver stopped early but produced an answer
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterable

__all__ = [
    "BadControlWarning",
    "CollinearityError",
    "ConvergenceError",
    "ConvergenceWarning",
    "DataError",
    "DataWarning",
    "DeconfoundError",
    "DeconfoundWarning",
    "DiagnosticWarning",
    "EngineError",
    "IdentificationError",
    "NotFittedError",
    "NuisanceWarning",
    "SpecificationError",
    "WeakInstrumentWarning",
]


class DeconfoundError(Exception):
    """Base class of every exception raised by deconfound."""


class DataError(DeconfoundError, ValueError):
    """The data cannot be used as given."""


class SpecificationError(DeconfoundError, ValueError):
    """The question, formula or options are inconsistent or not allowed."""


class CollinearityError(SpecificationError):
    """The design matrix is rank deficient.

    ``dependent`` holds the names of the columns that are linear combinations of the others.
    """

    def __init__(self, message: str, dependent: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.dependent = tuple(dependent)


class IdentificationError(DeconfoundError):
    """The causal effect is not identified by the graph or design given."""


class NotFittedError(DeconfoundError, AttributeError):
    """A fitted attribute was requested before ``fit`` was called."""


class ConvergenceError(DeconfoundError, RuntimeError):
    """An iterative solver failed to converge."""


class EngineError(DeconfoundError, RuntimeError):
    """An engine (DuckDB, Dask, Spark) failed to run a pass over its rows; the message names the engine.

    An error raised by deconfound itself inside a pass on a worker is re-raised as it was, not wrapped.
    """


class DeconfoundWarning(UserWarning):
    """Base class of every warning issued by deconfound."""


class DiagnosticWarning(DeconfoundWarning):
    """A diagnostic found a problem with the estimate (collinearity, imbalance, poor overlap...)."""


class BadControlWarning(DiagnosticWarning):
    """The causal graph says an adjustment set is wrong: it holds a mediator, a collider, a consequence of
    the treatment or a pure cause of it, or it leaves a backdoor path open. The message names the variable."""


class DataWarning(DeconfoundWarning):
    """Something about the data the user should know (rows dropped, columns encoded...)."""


class ConvergenceWarning(DeconfoundWarning):
    """An iterative solver stopped before meeting its tolerance."""


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _user_stacklevel() -> int:
    """The stack level of the first frame outside this package (the user's call)."""
    frame = sys._getframe(1)
    level = 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def warn(message: str, category: type[DeconfoundWarning] = DiagnosticWarning) -> None:
    """Issue ``message`` as a deconfound warning pointing at the user's line of code."""
    warnings.warn(message, category, stacklevel=_user_stacklevel())


class WeakInstrumentWarning(DiagnosticWarning):
    """The excluded instruments are weak: the message names the statistic (effective F, Kleibergen-Paap or
    Cragg-Donald F), its value and the critical value it fell below."""


class NuisanceWarning(DiagnosticWarning):
    """A cross-fitted nuisance model of a double machine learning estimate predicts its target no better
    than a constant (out-of-fold R-squared at most 0, or a log loss no better than the base rate's)."""
