"""The command line's method and plot runners: ``--method X`` and ``plot KIND`` look up these registries.

Each runner turns parsed arguments into one library call. Method families add their runners here;
imports of the library happen inside the runners, so building the parser stays cheap.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

# method name -> runner(args) -> Estimate. Method families add their runners here.
METHODS: dict[str, Callable[[argparse.Namespace], Any]] = {}
# plot kind -> runner(args) -> matplotlib Figure. Plot families add theirs here.
PLOTS: dict[str, Callable[[argparse.Namespace], Any]] = {}


def _method(name: str) -> Callable[[Callable[[argparse.Namespace], Any]], Callable[[argparse.Namespace], Any]]:
    def register(fn: Callable[[argparse.Namespace], Any]) -> Callable[[argparse.Namespace], Any]:
        METHODS[name] = fn
        return fn

    return register


def _common(args: argparse.Namespace) -> dict[str, Any]:
    return {"level": args.level, "missing": args.missing}


@_method("naive")
def _run_naive(args: argparse.Namespace) -> Any:
    from ..estimators.means import difference_in_means

    return difference_in_means(
        args.data,
        outcome=_need(args, "outcome"),
        treatment=_need(args, "treatment"),
        covariates=args.covariates,
        weights=args.weights,
        randomized=args.randomized,
        treated_level=args.treated_level,
        **_common(args),
    )


@_method("ols")
def _run_ols(args: argparse.Namespace) -> Any:
    from ..estimators.regression import ols

    return ols(
        args.data,
        args.formula,
        outcome=args.outcome,
        treatment=args.treatment,
        covariates=args.covariates,
        weights=args.weights,
        cov_type=args.cov_type,
        cluster=args.cluster,
        treated_level=args.treated_level,
        **_common(args),
    )


@_method("lin")
def _run_lin(args: argparse.Namespace) -> Any:
    from ..estimators.regression import lin

    return lin(
        args.data,
        outcome=_need(args, "outcome"),
        treatment=_need(args, "treatment"),
        covariates=args.covariates,
        weights=args.weights,
        cov_type=args.cov_type or ("HC2" if not args.cluster else None),
        cluster=args.cluster,
        treated_level=args.treated_level,
        **_common(args),
    )


def _plot(name: str) -> Callable[[Callable[[argparse.Namespace], Any]], Callable[[argparse.Namespace], Any]]:
    def register(fn: Callable[[argparse.Namespace], Any]) -> Callable[[argparse.Namespace], Any]:
        PLOTS[name] = fn
        return fn

    return register


def _graph_arg(args: argparse.Namespace, what: str) -> Any:
    """The --graph value: the graph text itself, or a path to a file holding it (compact form or DOT)."""
    import os

    value = getattr(args, "graph", None)
    if value is None:
        from ..errors import SpecificationError

        raise SpecificationError(f'{what} needs --graph, e.g. --graph "Z -> T; Z -> Y; T -> Y" (or a .dot file).')
    if os.path.isfile(value):
        with open(value, encoding="utf-8") as handle:
            return handle.read()
    return value


def _observed(args: argparse.Namespace) -> list[str] | None:
    """Observed variables: --observed if given, else the data file's columns, else None (every node)."""
    from .._core.options import as_name_list

    if getattr(args, "observed", None):
        return as_name_list(args.observed, "--observed")
    if getattr(args, "data", None):
        from ..data import available_columns, load_table

        listed = available_columns(args.data)
        return listed if listed is not None else [str(c) for c in load_table(args.data).columns]
    return None


def _require(args: argparse.Namespace, name: str, what: str) -> str:
    value = getattr(args, name)
    if value is None:
        from ..errors import SpecificationError

        wanted = "a data file (CSV or Parquet)" if name == "data" else f"--{name.replace('_', '-')}"
        raise SpecificationError(f"{what} needs {wanted}.")
    return value


@_plot("dag")
def _plot_dag(args: argparse.Namespace) -> Any:
    from .._core.options import as_name_list
    from ..graph.causal_graph import as_graph
    from ..plots.dag import dag_plot

    graph = as_graph(_graph_arg(args, "plot dag"))
    observed = _observed(args)
    covariates: Sequence[str] | None = as_name_list(args.covariates, "--covariates") if args.covariates else None
    if covariates is None and args.treatment and args.outcome:
        covariates = graph.identify(args.treatment, args.outcome, observed=observed).adjustment_set
    return dag_plot(graph, treatment=args.treatment, outcome=args.outcome, observed=observed, covariates=covariates)


@_plot("forest")
def _plot_forest(args: argparse.Namespace) -> Any:
    from ..model import CausalModel

    model = CausalModel(
        _require(args, "data", "plot forest"),
        _require(args, "treatment", "plot forest"),
        _require(args, "outcome", "plot forest"),
        graph=None if args.graph is None else _graph_arg(args, "plot forest"),
        covariates=args.covariates,
        design="rct" if args.randomized else "cross-section",
        weights=args.weights,
        cluster=args.cluster,
        level=args.level,
        missing=args.missing,
        treated_level=args.treated_level,
    )
    return model.compare().plot()


@_method("did")
def _run_did(args: argparse.Namespace) -> Any:
    from ..estimators.did import did

    return did(
        args.data,
        outcome=_need(args, "outcome"),
        treated=_need(args, "treated"),
        post=_need(args, "post"),
        covariates=args.covariates,
        unit=args.unit,
        weights=args.weights,
        cluster=args.cluster,
        cov_type=args.cov_type,
        **_common(args),
    )


@_method("twfe")
def _run_twfe(args: argparse.Namespace) -> Any:
    from ..estimators.twfe import twfe

    return twfe(
        args.data,
        outcome=_need(args, "outcome"),
        treatment=_need(args, "treatment"),
        unit=_need(args, "unit"),
        time=_need(args, "time"),
        covariates=args.covariates,
        fixed_effects=args.fixed_effects,
        weights=args.weights,
        cluster=args.cluster,
        cov_type=args.cov_type,
        **_common(args),
    )


def _timing(args: argparse.Namespace) -> dict[str, Any]:
    if args.first_treated is None and args.treatment is None:
        from ..errors import SpecificationError

        raise SpecificationError(f"--method {args.method} needs --first-treated G or --treatment D.")
    return {"first_treated": args.first_treated, "treatment": args.treatment}


@_method("event-study")
def _run_event_study(args: argparse.Namespace) -> Any:
    from ..estimators.event_study import event_study

    return event_study(
        args.data,
        outcome=_need(args, "outcome"),
        unit=_need(args, "unit"),
        time=_need(args, "time"),
        **_timing(args),
        window=args.window or (-5, 5),
        ref_period=args.ref_period,
        bin_endpoints=not args.no_bin_endpoints,
        estimator=args.estimator or "twfe",
        control_group=args.control_group or "never",
        covariates=args.covariates,
        fixed_effects=args.fixed_effects,
        weights=args.weights,
        cluster=args.cluster,
        cov_type=args.cov_type,
        **_common(args),
    )


@_method("staggered")
def _run_staggered(args: argparse.Namespace) -> Any:
    from ..estimators.staggered import staggered

    return staggered(
        args.data,
        outcome=_need(args, "outcome"),
        unit=_need(args, "unit"),
        time=_need(args, "time"),
        **_timing(args),
        covariates=args.covariates,
        weights=args.weights,
        control_group=args.control_group or "never",
        aggregate=args.aggregate or "simple",
        base_period=args.base_period,
        anticipation=args.anticipation,
        window=args.window,
        cluster=args.cluster,
        n_boot=args.n_boot,
        random_state=args.random_state,
        **_common(args),
    )


@_method("panel")
def _run_panel(args: argparse.Namespace) -> Any:
    from ..estimators.panel import panel_regression

    return panel_regression(
        args.data,
        outcome=_need(args, "outcome"),
        treatment=_need(args, "treatment"),
        unit=_need(args, "unit"),
        time=_need(args, "time"),
        covariates=args.covariates,
        model=args.panel_model,
        time_effects=args.time_effects,
        weights=args.weights,
        cluster=args.cluster,
        cov_type=args.cov_type,
        **_common(args),
    )


def _plot_event_study(args: argparse.Namespace) -> Any:
    from ..plots.event_study import plot_event_study

    if args.method not in ("event-study", "staggered"):
        args.method = "event-study"
    if args.method == "staggered" and args.aggregate is None:
        args.aggregate = "event"
    return plot_event_study(METHODS[args.method](args))


PLOTS["event-study"] = _plot_event_study


def _propensity_options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "propensity_covariates": args.propensity_covariates,
        "propensity_model": args.propensity_model,
        "cross_fit": _cross_fit(args.cross_fit),
        "trim": _trim(args.trim),
        "random_state": args.random_state,
    }


def _cross_fit(value: str | None) -> Any:
    if value is None or value == "auto":
        return "auto"
    if value.lower() in ("none", "0", "no"):
        return None
    try:
        return int(value)
    except ValueError:
        from ..errors import SpecificationError

        raise SpecificationError(f"--cross-fit must be 'auto', 'none' or a number of folds, got {value!r}.") from None


def _trim(value: str | None) -> Any:
    if value is None or value.lower() == "crump":
        return value
    try:
        return float(value)
    except ValueError:
        from ..errors import SpecificationError

        raise SpecificationError(f"--trim must be a number in (0, 0.5) or 'crump', got {value!r}.") from None


@_method("psm")
def _run_psm(args: argparse.Namespace) -> Any:
    from ..estimators.matching import matching

    return matching(
        args.data,
        outcome=_need(args, "outcome"),
        treatment=_need(args, "treatment"),
        covariates=args.covariates,
        estimand=args.estimand or "ATT",
        distance=args.distance,
        method=args.match_method,
        neighbors=args.neighbors,
        replace=args.replace,
        caliper=args.caliper,
        caliper_scale=args.caliper_scale,
        exact=args.exact,
        bias_adjust=args.bias_adjust,
        vce_neighbors=args.vce_neighbors,
        vce_convention=args.vce_convention,
        se_adjust=args.se_adjust,
        se_imputation=args.se_imputation,
        treated_level=args.treated_level,
        **_propensity_options(args),
        **_common(args),
    )


@_method("cem")
def _run_cem(args: argparse.Namespace) -> Any:
    from ..estimators.cem import cem

    return cem(
        args.data,
        outcome=_need(args, "outcome"),
        treatment=_need(args, "treatment"),
        covariates=_need(args, "covariates"),
        bins=args.bins,
        estimand=args.estimand or "ATT",
        treated_level=args.treated_level,
        **_common(args),
    )


def _weighting_runner(name: str) -> Callable[[argparse.Namespace], Any]:
    def run(args: argparse.Namespace) -> Any:
        from ..estimators import weighting

        kwargs: dict[str, Any] = {
            "outcome": _need(args, "outcome"),
            "treatment": _need(args, "treatment"),
            "covariates": _need(args, "covariates"),
            "weights": args.weights,
            "treated_level": args.treated_level,
            **_propensity_options(args),
            **_common(args),
        }
        if name in ("ipw", "aipw", "ra"):
            kwargs["estimand"] = args.estimand or "ATE"
        if name == "ipw":
            kwargs["weighting"] = args.weighting
        if name == "ra":
            for key in ("cross_fit", "random_state"):
                kwargs.pop(key)
        fn: dict[str, Callable[..., Any]] = {
            "ipw": weighting.ipw,
            "aipw": weighting.aipw,
            "ra": weighting.ra,
            "overlap": weighting.overlap_weights,
        }
        return fn[name](args.data, **kwargs)

    return run


for _name in ("ipw", "aipw", "ra", "overlap"):
    METHODS[_name] = _weighting_runner(_name)

PROPENSITY_METHODS = ("psm", "ipw", "aipw", "overlap")
BALANCE_METHODS = ("psm", "cem", "ipw", "aipw", "overlap")


def _plot_runner(kind: str) -> Callable[[argparse.Namespace], Any]:
    def run(args: argparse.Namespace) -> Any:
        from .._core.options import check_option

        usable = PROPENSITY_METHODS if kind == "overlap" else BALANCE_METHODS
        method = args.method if args.method in usable else "psm"
        check_option("--method", method, usable)
        result = METHODS[method](args)
        if kind == "overlap":
            from ..plots.overlap import overlap_plot

            return overlap_plot(result)
        from ..plots.balance import love_plot

        return love_plot(result)

    return run


PLOTS["overlap"] = _plot_runner("overlap")
PLOTS["balance"] = _plot_runner("balance")


def _need(args: argparse.Namespace, name: str) -> str:
    value = getattr(args, name)
    if value is None:
        from ..errors import SpecificationError

        raise SpecificationError(f"--{name.replace('_', '-')} is required for --method {args.method}.")
    return value
