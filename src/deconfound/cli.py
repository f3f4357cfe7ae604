"""The ``deconfound`` command.

    deconfound estimate FILE --outcome Y --treatment T [--covariates a,b] [--formula F]
                             [--method naive|ols|lin] [--cov-type HC1] [--cluster C] [--json]
                             [--graph "Z -> T; Z -> Y; T -> Y"]   (adjust for the identified set)
    deconfound identify [FILE] --graph G --treatment T --outcome Y [--observed a,b] [--adjust a,b] [--json]
    deconfound plot dag --graph G [--treatment T --outcome Y] -o dag.png
    deconfound plot forest FILE --treatment T --outcome Y [--graph G | --covariates a,b] -o forest.png
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
    p.add_argument("--quiet", "-q", action="store_true", help="no progress output")


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
    with warnings.catch_warnings(record=True):
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
