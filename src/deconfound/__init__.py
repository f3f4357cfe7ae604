"""deconfound: what would have happened had we treated everyone, no one, or only some?

The public surface is listed in ``__all__``; everything else is private and may change.
"""

from __future__ import annotations

from . import datasets
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
from .estimators.cem import cem
from .estimators.matching import matching
from .estimators.means import difference_in_means
from .estimators.regression import lin, ols
from .estimators.weighting import aipw, ipw, overlap_weights, ra
from .propensity import propensity_scores
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
    "aipw",
    "cem",
    "compare",
    "datasets",
    "difference_in_means",
    "ipw",
    "lin",
    "matching",
    "ols",
    "overlap_weights",
    "propensity_scores",
    "ra",
]
