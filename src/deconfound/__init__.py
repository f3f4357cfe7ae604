"""deconfound: what would have happened had we treated everyone, no one, or only some?

The public surface is listed in ``__all__``; everything else is private and may change.

Only the exception tree is imported eagerly. Everything else (and with it numpy, pandas and scipy) is
imported on first use through ``__getattr__``, so that ``import deconfound`` and the command line start
fast. To add a public name, add it to ``_LAZY`` (name -> module) and to ``__all__``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from . import datasets
    from ._core.covariance import ssc
    from .estimators.cem import cem
    from .estimators.did import did
    from .estimators.event_study import event_study
    from .estimators.matching import matching
    from .estimators.means import difference_in_means
    from .estimators.panel import panel_regression
    from .estimators.propensity import propensity_scores
    from .estimators.regression import lin, ols
    from .estimators.staggered import staggered
    from .estimators.twfe import twfe
    from .estimators.weighting import aipw, ipw, overlap_weights, ra
    from .graph.causal_graph import CausalGraph
    from .graph.identification import check_adjustment, identify
    from .model import CausalModel
    from .plots.event_study import plot_event_study
    from .results import CoefTable, Comparison, Estimate, Summary, compare
    from .robustness import placebo_treatment, robustness_value, sensitivity

__version__ = "0.1.0"

#: public name -> the module that defines it (see _MODULES for names that are modules)
#: public names that are modules themselves (the rest are attributes of their module)
_MODULES = frozenset({"datasets"})

_LAZY = {
    "aipw": ".estimators.weighting",
    "cem": ".estimators.cem",
    "ipw": ".estimators.weighting",
    "matching": ".estimators.matching",
    "overlap_weights": ".estimators.weighting",
    "propensity_scores": ".estimators.propensity",
    "ra": ".estimators.weighting",
    "placebo_treatment": ".robustness",
    "robustness_value": ".robustness",
    "sensitivity": ".robustness",
    "did": ".estimators.did",
    "event_study": ".estimators.event_study",
    "panel_regression": ".estimators.panel",
    "plot_event_study": ".plots.event_study",
    "ssc": "._core.covariance",
    "staggered": ".estimators.staggered",
    "twfe": ".estimators.twfe",
    "CausalGraph": ".graph.causal_graph",
    "CausalModel": ".model",
    "check_adjustment": ".graph.identification",
    "identify": ".graph.identification",
    "CoefTable": ".results",
    "Comparison": ".results",
    "Estimate": ".results",
    "Summary": ".results",
    "compare": ".results",
    "datasets": ".datasets",
    "difference_in_means": ".estimators.means",
    "lin": ".estimators.regression",
    "ols": ".estimators.regression",
}

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
    "aipw",
    "cem",
    "check_adjustment",
    "compare",
    "datasets",
    "did",
    "difference_in_means",
    "event_study",
    "identify",
    "ipw",
    "lin",
    "matching",
    "ols",
    "overlap_weights",
    "panel_regression",
    "placebo_treatment",
    "plot_event_study",
    "propensity_scores",
    "ra",
    "robustness_value",
    "sensitivity",
    "ssc",
    "staggered",
    "twfe",
]


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'deconfound' has no attribute {name!r}")
    module = importlib.import_module(module_name, __name__)
    value = module if name in _MODULES else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
