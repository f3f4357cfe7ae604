"""deconfound: what would have happened had we treated everyone, no one, or only some?

The public surface is listed in ``__all__``; everything else is private and may change.

Only the exception tree and the method registry (plain data) are imported eagerly. Everything else (and
with it numpy, pandas and scipy) is imported on first use through ``__getattr__``, so that
``import deconfound`` and the command line start fast.

The estimators' functions are public by being registered (:mod:`deconfound.estimators.registry`);
other public names are listed in ``_LAZY`` (name -> module). ``__all__`` is derived from both and from
the exception tree; add a name to the ``TYPE_CHECKING`` imports as well so that type checkers see it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import errors as _errors
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
    EngineError,
    IdentificationError,
    NotFittedError,
    NuisanceWarning,
    SpecificationError,
    WeakInstrumentWarning,
)
from .estimators.registry import public_functions as _public_functions

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from . import datasets
    from ._core.covariance import ssc
    from .estimators.bundles import MatchingSE, PropensityOptions
    from .estimators.cem import cem
    from .estimators.did import did
    from .estimators.dml import dml, dml_irm, dml_iv
    from .estimators.event_study import event_study
    from .estimators.frontdoor import front_door
    from .estimators.iv import iv, wald_estimator
    from .estimators.matching import matching
    from .estimators.means import difference_in_means
    from .estimators.metalearners import (
        DRLearner,
        RLearner,
        SLearner,
        TLearner,
        XLearner,
        dr_learner,
        r_learner,
        s_learner,
        t_learner,
        x_learner,
    )
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
    from .plots.honest import honest_plot
    from .plots.sensitivity import plot_sensitivity
    from .results import CoefTable, Comparison, Estimate, Summary, compare
    from .robustness import (
        bootstrap,
        dml_ovb,
        dml_sensitivity,
        e_value,
        honest_did,
        oster,
        ovb_bounds,
        placebo_treatment,
        randomization_test,
        refute,
        robustness_value,
        rosenbaum_bounds,
        sensitivity,
        wild_cluster_bootstrap,
    )

__version__ = "0.1.0"

#: public names that are modules themselves (the rest are attributes of their module)
_MODULES = frozenset({"datasets"})

#: public name -> the module that defines it: every registered method's function, and the names below
_LAZY = {
    **_public_functions(),
    "propensity_scores": ".estimators.propensity",
    "PropensityOptions": ".estimators.bundles",
    "MatchingSE": ".estimators.bundles",
    "placebo_treatment": ".robustness",
    "e_value": ".robustness",
    "ovb_bounds": ".robustness",
    "oster": ".robustness",
    "randomization_test": ".robustness",
    "refute": ".robustness",
    "bootstrap": ".robustness",
    "wild_cluster_bootstrap": ".robustness",
    "dml_ovb": ".robustness",
    "dml_sensitivity": ".robustness",
    "rosenbaum_bounds": ".robustness",
    "plot_sensitivity": ".plots.sensitivity",
    "robustness_value": ".robustness",
    "sensitivity": ".robustness",
    "plot_event_study": ".plots.event_study",
    "honest_did": ".robustness",
    "honest_plot": ".plots.honest",
    "ssc": "._core.covariance",
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
    **{name: ".estimators.metalearners" for name in ("SLearner", "TLearner", "XLearner", "RLearner", "DRLearner")},
}

__all__ = sorted([*_errors.__all__, "__version__", *_LAZY])


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
