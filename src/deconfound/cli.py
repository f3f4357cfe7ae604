"""The ``deconfound`` command.

    deconfound estimate FILE --outcome Y --treatment T [--covariates a,b] [--formula F]
                             [--method naive|ols|lin] [--cov-type HC1] [--cluster C] [--json]
                             [--graph "Z -> T; Z -> Y; T -> Y"]   (adjust for the identified set)
    deconfound identify [FILE] --graph G --treatment T --outcome Y [--observed a,b] [--adjust a,b] [--json]
    deconfound plot dag --graph G [--treatment T --outcome Y] -o dag.png
    deconfound plot forest FILE --treatment T --outcome Y [--graph G | --covariates a,b] -o forest.png
    deconfound estimate FILE --method did|twfe|event-study|staggered|panel --outcome Y --unit U --time T
                             (--treated D --post P | --treatment D | --first-treated G) [--window -5,5] ...
    deconfound plot event-study FILE --outcome Y --unit U --time T --first-treated G -o out.png
    deconfound estimate FILE --method psm|cem|ipw|aipw|ra|overlap --outcome Y --treatment T --covariates a,b
                             [--estimand ATT] [--caliper 0.05] [--neighbors 1] [--replace/--no-replace]
                             [--propensity-model logistic|gbm|rf] [--trim 0.01|crump] [--weighting ht|hajek]
    deconfound plot overlap|balance FILE --outcome Y --treatment T --covariates a,b -o out.png
    deconfound demo [--json] [--output DIR]

Heavy modules are imported only inside the command that needs them, so ``deconfound --help`` is fast.
With ``--json`` the command prints one JSON object whose keys are documented in docs/cli-json.md and
are a stable contract. Errors print ``error: ...`` on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

EXIT_ERROR = 2

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
    from .estimators.means import difference_in_means

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
    from .estimators.regression import ols

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
    from .estimators.regression import lin

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
        from .errors import SpecificationError

        raise SpecificationError(f'{what} needs --graph, e.g. --graph "Z -> T; Z -> Y; T -> Y" (or a .dot file).')
    if os.path.isfile(value):
        with open(value, encoding="utf-8") as handle:
            return handle.read()
    return value


def _observed(args: argparse.Namespace) -> list[str] | None:
    """Observed variables: --observed if given, else the data file's columns, else None (every node)."""
    from ._options import as_name_list

    if getattr(args, "observed", None):
        return as_name_list(args.observed, "--observed")
    if getattr(args, "data", None):
        from .data import available_columns, load_table

        listed = available_columns(args.data)
        return listed if listed is not None else [str(c) for c in load_table(args.data).columns]
    return None


def _require(args: argparse.Namespace, name: str, what: str) -> str:
    value = getattr(args, name)
    if value is None:
        from .errors import SpecificationError

        wanted = "a data file (CSV or Parquet)" if name == "data" else f"--{name.replace('_', '-')}"
        raise SpecificationError(f"{what} needs {wanted}.")
    return value


@_plot("dag")
def _plot_dag(args: argparse.Namespace) -> Any:
    from ._options import as_name_list
    from .graph import as_graph
    from .plots.dag import dag_plot

    graph = as_graph(_graph_arg(args, "plot dag"))
    observed = _observed(args)
    covariates: Sequence[str] | None = as_name_list(args.covariates, "--covariates") if args.covariates else None
    if covariates is None and args.treatment and args.outcome:
        covariates = graph.identify(args.treatment, args.outcome, observed=observed).adjustment_set
    return dag_plot(graph, treatment=args.treatment, outcome=args.outcome, observed=observed, covariates=covariates)


@_plot("forest")
def _plot_forest(args: argparse.Namespace) -> Any:
    from .model import CausalModel

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
    from .estimators.did import did

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
    from .estimators.twfe import twfe

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
        from .errors import SpecificationError

        raise SpecificationError(f"--method {args.method} needs --first-treated G or --treatment D.")
    return {"first_treated": args.first_treated, "treatment": args.treatment}


@_method("event-study")
def _run_event_study(args: argparse.Namespace) -> Any:
    from .estimators.event_study import event_study

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
    from .estimators.staggered import staggered

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
    from .estimators.panel import panel_regression

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
    from .plots.event_study import plot_event_study

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
        from .errors import SpecificationError

        raise SpecificationError(f"--cross-fit must be 'auto', 'none' or a number of folds, got {value!r}.") from None


def _trim(value: str | None) -> Any:
    if value is None or value.lower() == "crump":
        return value
    try:
        return float(value)
    except ValueError:
        from .errors import SpecificationError

        raise SpecificationError(f"--trim must be a number in (0, 0.5) or 'crump', got {value!r}.") from None


@_method("psm")
def _run_psm(args: argparse.Namespace) -> Any:
    from .estimators.matching import matching

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
        treated_level=args.treated_level,
        **_propensity_options(args),
        **_common(args),
    )


@_method("cem")
def _run_cem(args: argparse.Namespace) -> Any:
    from .estimators.cem import cem

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
        from .estimators import weighting

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
        from ._options import check_option

        usable = PROPENSITY_METHODS if kind == "overlap" else BALANCE_METHODS
        method = args.method if args.method in usable else "psm"
        check_option("--method", method, usable)
        result = METHODS[method](args)
        if kind == "overlap":
            from .plots.overlap import overlap_plot

            return overlap_plot(result)
        from .plots.balance import love_plot

        return love_plot(result)

    return run


PLOTS["overlap"] = _plot_runner("overlap")
PLOTS["balance"] = _plot_runner("balance")


def _need(args: argparse.Namespace, name: str) -> str:
    value = getattr(args, name)
    if value is None:
        from .errors import SpecificationError

        raise SpecificationError(f"--{name.replace('_', '-')} is required for --method {args.method}.")
    return value


def _add_design_options(p: argparse.ArgumentParser) -> None:
    """Options that describe the question; shared by estimate and plot. Families add theirs here."""
    p.add_argument("--outcome", "-y", help="outcome column")
    p.add_argument("--treatment", "-t", help="treatment column")
    p.add_argument("--covariates", "-x", help="comma-separated covariate columns")
    p.add_argument("--formula", help="a formula such as \"Severity ~ Drug + Q('I.H')\" (method ols)")
    p.add_argument("--method", "-m", default="ols", help="estimation method (default ols): " + ", ".join(METHODS))
    p.add_argument("--cov-type", help="nonrobust, HC0, HC1, HC2, HC3 or cluster")
    p.add_argument("--cluster", help="cluster column(s), comma-separated (two for two-way clustering)")
    p.add_argument("--weights", help="sample weights column")
    p.add_argument("--level", type=float, default=0.95, help="confidence level (default 0.95)")
    p.add_argument("--missing", default="raise", help="raise (default) or drop rows with missing values")
    p.add_argument("--randomized", action="store_true", help="declare the data a randomized trial")
    p.add_argument("--treated-level", help="the level of a two-level treatment that means 'treated'")
    p.add_argument(
        "--graph",
        "-g",
        help='causal graph, e.g. "Z -> T; Z -> Y; T -> Y" (or DOT, or a file holding either): the covariates '
        "become the adjustment set it identifies; --covariates given too are checked against it instead",
    )
    p.add_argument("--observed", help="comma-separated observed graph nodes (default: the data's columns)")
    panel = p.add_argument_group(
        "panels and difference-in-differences (methods did, twfe, event-study, staggered, panel)"
    )
    panel.add_argument("--unit", help="unit (panel id) column")
    panel.add_argument("--time", help="time period column (numeric)")
    panel.add_argument("--treated", help="did: the treated-group column (0/1)")
    panel.add_argument("--post", help="did: the after-treatment period column (0/1)")
    panel.add_argument("--first-treated", help="the first treated period of each unit (0 or empty = never)")
    panel.add_argument("--fixed-effects", help="further fixed effects to absorb, comma-separated")
    panel.add_argument("--ref-period", type=float, default=-1.0, help="event-study reference period (default -1)")
    panel.add_argument("--window", help="event times first,last, e.g. -5,5")
    panel.add_argument("--no-bin-endpoints", action="store_true", help="drop, not pool, event times beyond the window")
    panel.add_argument("--estimator", help="event-study estimator: twfe (default) or sun-abraham")
    panel.add_argument("--control-group", help="staggered: never (default) or not-yet; sun-abraham: never or last")
    panel.add_argument("--aggregate", help="staggered: simple (default), event, group or calendar")
    panel.add_argument("--base-period", default="varying", help="staggered: varying (default) or universal")
    panel.add_argument("--anticipation", type=int, default=0, help="staggered: periods of anticipation (default 0)")
    panel.add_argument("--n-boot", type=int, help="staggered: multiplier-bootstrap draws (default: analytic SEs)")
    panel.add_argument(
        "--random-state", type=int, help="seed for every random step (bootstrap, gbm/rf propensity, cross-fitting)"
    )
    panel.add_argument("--panel-model", default="within", help="panel: within, first-difference or random-effects")
    panel.add_argument("--time-effects", action="store_true", help="panel within: add period fixed effects")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    g = p.add_argument_group("propensity score, matching and weighting (psm, cem, ipw, aipw, ra, overlap)")
    g.add_argument("--estimand", help="ATE, ATT or ATC (default: ATT for psm/cem, ATE for weighting)")
    g.add_argument("--propensity-covariates", help="covariates of the propensity model, if not --covariates")
    g.add_argument("--propensity-model", default="logistic", help="logistic (default), sklearn-logistic, gbm or rf")
    g.add_argument("--cross-fit", help="cross-fitting folds for gbm/rf: auto (default), none or a number")
    g.add_argument("--trim", help="drop extreme propensity scores: a number a (keep a <= e <= 1-a) or crump")
    g.add_argument("--weighting", default="hajek", help="ipw weights: hajek (normalised, default) or ht")
    g.add_argument("--distance", default="propensity", help="psm distance: propensity (default), logit, mahalanobis")
    g.add_argument("--match-method", default="nearest", help="psm: nearest (default) or optimal pair matching")
    g.add_argument("--neighbors", type=int, default=1, help="psm: matches per unit (default 1)")
    g.add_argument("--replace", action=argparse.BooleanOptionalAction, default=True, help="psm: match with replacement")
    g.add_argument("--caliper", type=float, help="psm: largest allowed distance between matched units")
    g.add_argument("--caliper-scale", default="absolute", help="psm: caliper units, absolute (default) or sd")
    g.add_argument("--exact", help="psm: comma-separated categorical columns to match exactly")
    g.add_argument("--bias-adjust", action="store_true", help="psm: Abadie-Imbens regression bias adjustment")
    g.add_argument("--bins", type=int, help="cem: number of bins per numeric covariate (default Sturges)")


def _estimate_parser(sub: Any) -> None:
    p = sub.add_parser("estimate", help="estimate a causal effect from a CSV or Parquet file")
    p.add_argument("data", help="path to a CSV or Parquet file")
    _add_design_options(p)
    p.add_argument("--json", action="store_true", help="print one JSON object (stable keys)")


def _plot_parser(sub: Any) -> None:
    p = sub.add_parser("plot", help="draw a figure (PNG, SVG or PDF by the extension of -o)")
    p.add_argument("kind", help="what to draw: " + (", ".join(PLOTS) or "(none yet)"))
    p.add_argument("data", nargs="?", help="path to a CSV or Parquet file (not needed for every kind)")
    _add_design_options(p)
    p.add_argument("--output", "-o", required=True, help="file to write, e.g. out.png")


def _identify_parser(sub: Any) -> None:
    p = sub.add_parser("identify", help="what to adjust for: backdoor paths and adjustment sets from a causal graph")
    p.add_argument("data", nargs="?", help="CSV or Parquet file whose columns are the observed variables (optional)")
    p.add_argument("--graph", "-g", required=True, help='the graph: "a -> b; b -> c; a <-> c", DOT, or a file')
    p.add_argument("--treatment", "-t", required=True, help="treatment node")
    p.add_argument("--outcome", "-y", required=True, help="outcome node")
    p.add_argument("--observed", help="comma-separated observed nodes (default: the data's columns, else all)")
    p.add_argument("--adjust", help="comma-separated adjustment set to check (bad controls, open paths)")
    p.add_argument("--json", action="store_true", help="print one JSON object (keys in docs/cli-json.md)")


def _demo_parser(sub: Any) -> None:
    p = sub.add_parser("demo", help="run the article's analysis step by step beside its published numbers")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    p.add_argument("--output", help="directory to write the walk-through (text and JSON) into")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress output")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deconfound", description="Causal effects from data: what if we had treated everyone, or no one?"
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command")
    _estimate_parser(sub)
    _identify_parser(sub)
    _plot_parser(sub)
    _demo_parser(sub)
    from . import _cli_report

    _cli_report.add_parsers(sub)
    return parser


def _cmd_estimate(args: argparse.Namespace) -> int:
    from ._options import check_option

    method = check_option("--method", args.method, tuple(METHODS))
    args.method = method
    if args.treated_level is not None:
        args.treated_level = _coerce_level(args.treated_level)
    from ._progress import progress_for, reporting

    with warnings.catch_warnings(record=True), progress_for(args.quiet) as progress, reporting(progress):
        warnings.simplefilter("always")
        plan = _graph_plan(args) if args.graph is not None else None
        result = METHODS[method](args)
        if plan is not None:
            from .model import ESTIMATORS

            spec = ESTIMATORS.get(method)
            result = plan.attach(result, adjusted=spec is None or spec.adjustment == "covariates")
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, allow_nan=False))
    else:
        print(result.summary().as_text())
    return 0


def _graph_plan(args: argparse.Namespace) -> Any:
    """Choose (or check) the covariates with the graph; the runner then adjusts for ``args.covariates``."""
    from .errors import SpecificationError
    from .model import plan_adjustment

    if args.formula:
        raise SpecificationError(
            "--graph chooses the covariates, so it cannot be combined with --formula; use "
            "--covariates to check your own set against the graph."
        )
    plan = plan_adjustment(
        _graph_arg(args, "estimate"),
        treatment=_need(args, "treatment"),
        outcome=_need(args, "outcome"),
        covariates=args.covariates,
        observed=_observed(args),
    )
    args.covariates = list(plan.covariates)
    return plan


def _cmd_identify(args: argparse.Namespace) -> int:
    from .identification import check_adjustment, identify

    graph = _graph_arg(args, "identify")
    observed = _observed(args)
    ident = identify(graph, treatment=args.treatment, outcome=args.outcome, observed=observed)
    payload = ident.to_dict()
    check = None
    if args.adjust is not None:
        from ._options import as_name_list

        adjust = as_name_list(args.adjust, "--adjust")
        check = check_adjustment(
            graph, treatment=args.treatment, outcome=args.outcome, covariates=adjust, observed=observed
        )
        payload.update(check.to_dict())
    if args.json:
        print(json.dumps(payload, indent=2, allow_nan=False))
        return 0
    print(ident.summary().as_text())
    if check is not None:
        verdict = "satisfies the backdoor criterion" if check.valid else "does NOT satisfy the backdoor criterion"
        print(f"Adjustment set {{{', '.join(check.covariates)}}} {verdict}.")
        for message in check.messages:
            print(f"  - {message}")
    return 0


def _coerce_level(value: str) -> Any:
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            continue
    return value


def _cmd_plot(args: argparse.Namespace) -> int:
    from ._options import check_option

    kind = check_option("plot kind", args.kind, tuple(PLOTS) or ("(none available)",))
    if args.treated_level is not None:
        args.treated_level = _coerce_level(args.treated_level)
    import matplotlib

    matplotlib.use("Agg")
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        fig = PLOTS[kind](args)
    fig.savefig(args.output, bbox_inches="tight", dpi=150)
    if not args.quiet:
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from ._demo import run_demo

    return run_demo(as_json=args.json, output=args.output, quiet=args.quiet)


def _glue_negative_values(argv: Sequence[str]) -> list[str]:
    """``--window -5,5`` -> ``--window=-5,5`` (argparse would read -5,5 as an option)."""
    out: list[str] = []
    it = iter(argv)
    for arg in it:
        if arg == "--window":
            value = next(it, None)
            out.append(arg if value is None else f"--window={value}")
        else:
            out.append(arg)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(_glue_negative_values(sys.argv[1:] if argv is None else argv))
    if args.version:
        from . import __version__

        print(f"deconfound {__version__}")
        return 0
    if args.command is None:
        parser.print_help()
        return EXIT_ERROR
    from .errors import DeconfoundError

    try:
        if args.command in ("report", "run"):
            from . import _cli_report

            runner = _cli_report.cmd_report if args.command == "report" else _cli_report.cmd_run
            return runner(args, None if argv is None else list(argv))
        handlers = {"estimate": _cmd_estimate, "identify": _cmd_identify, "plot": _cmd_plot, "demo": _cmd_demo}
        handler = handlers[args.command]
        return handler(args)
    except DeconfoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
