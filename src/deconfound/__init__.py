"""deconfound: what would have happened had we treated everyone, no one, or only some?

The public surface is listed in ``__all__``; everything else is private and may change.
"""

from __future__ import annotations

from . import datasets
from ._core.fefit import ssc
from .errors import (
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
from .estimators.did import did
from .estimators.event_study import event_study
from .estimators.means import difference_in_means
from .estimators.panel import panel_regression
from .estimators.regression import lin, ols
from .estimators.staggered import staggered
from .estimators.twfe import twfe
from .plots.event_study import plot_event_study
from .results import CoefTable, Comparison, Estimate, Summary, compare

__version__ = "0.1.0"

__all__ = [
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
    "compare",
    "datasets",
    "did",
    "difference_in_means",
    "event_study",
    "lin",
    "ols",
    "panel_regression",
    "plot_event_study",
    "ssc",
    "staggered",
    "twfe",
]
