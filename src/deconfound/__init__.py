"""deconfound: what would have happened had we treated everyone, no one, or only some?

The public surface is listed in ``__all__``; everything else is private and may change.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import datasets
from .errors import (
    BadControlWarning,
    CollinearityError,
    ConvergenceError,
    ConvergenceWarning,
    DataError,
    DataWarning,
    DeconfoundError,
    DeconfoundWarning,
    DiagnosticWarning,
    IdentificationError,
    NotFittedError,
    SpecificationError,
)
from .estimators.means import difference_in_means
from .estimators.regression import lin, ols
from .results import CoefTable, Comparison, Estimate, Summary, compare

if TYPE_CHECKING:  # pragma: no cover
    from .graph import CausalGraph
    from .identification import check_adjustment, identify
    from .model import CausalModel

# imported on first use, so that `import deconfound` does not load networkx
_LAZY = {
    "CausalGraph": "graph",
    "CausalModel": "model",
    "check_adjustment": "identification",
    "identify": "identification",
}

__version__ = "0.1.0"

__all__ = [
    "BadControlWarning",
    "CausalGraph",
    "CausalModel",
    "CoefTable",
    "CollinearityError",
    "Comparison",
    "ConvergenceError",
    "ConvergenceWarning",
    "DataError",
    "DataWarning",
    "DeconfoundError",
    "DeconfoundWarning",
    "DiagnosticWarning",
    "Estimate",
    "IdentificationError",
    "NotFittedError",
    "SpecificationError",
    "Summary",
    "__version__",
    "check_adjustment",
    "compare",
    "datasets",
    "difference_in_means",
    "identify",
    "lin",
    "ols",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'deconfound' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
