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
from collections.abc import Sequence
from typing import Any

from .methods import METHODS, PLOTS, _graph_arg, _need, _observed

EXIT_ERROR = 2


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
    g.add_argument("--vce-neighbors", type=int, default=2, help="psm: neighbours behind the variance (default 2)")
    g.add_argument(
        "--vce-convention", default="stata", help="psm: standard-error convention, stata (default) or ai2006"
    )
    g.add_argument(
        "--se-imputation",
        default="auto",
        help="psm ATT/ATC: missing outcomes of the score adjustment by matching, regression or auto (default)",
    )
    g.add_argument(
        "--se-adjust",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="psm: adjust the standard error for the estimated score (Abadie-Imbens 2016; default on)",
    )
    g.add_argument("--bins", type=int, help="cem: number of bins per numeric covariate (default Sturges)")


def _estimate_parser(sub: Any) -> None:
    p = sub.add_parser("estimate", help="estimate a causal effect from a CSV or Parquet file")
    p.add_argument("data", help="path to a CSV or Parquet file")
    _add_design_options(p)
    p.add_argument("--json", action="store_true", help="print one JSON object (stable keys)")
    p.add_argument(
        "--rows",
        action="store_true",
        help="with --json, also print the per-row tables (propensity scores, weights, matched pairs)",
    )


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
    from . import report as _cli_report

    _cli_report.add_parsers(sub)
    return parser


def _cmd_estimate(args: argparse.Namespace) -> int:
    from .._core.options import check_option

    method = check_option("--method", args.method, tuple(METHODS))
    args.method = method
    if args.treated_level is not None:
        args.treated_level = _coerce_level(args.treated_level)
    from .._core.progress import progress_for, reporting

    with warnings.catch_warnings(record=True), progress_for(args.quiet) as progress, reporting(progress):
        warnings.simplefilter("always")
        plan = _graph_plan(args) if args.graph is not None else None
        result = METHODS[method](args)
        if plan is not None:
            from ..model import ESTIMATORS

            spec = ESTIMATORS.get(method)
            result = plan.attach(result, adjusted=spec is None or spec.adjustment == "covariates")
    if args.json:
        print(json.dumps(result.to_dict(rows=args.rows), indent=2, allow_nan=False))
    else:
        print(result.summary().as_text())
    return 0


def _graph_plan(args: argparse.Namespace) -> Any:
    """Choose (or check) the covariates with the graph; the runner then adjusts for ``args.covariates``."""
    from ..errors import SpecificationError
    from ..model import plan_adjustment

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
    from ..graph.identification import check_adjustment, identify

    graph = _graph_arg(args, "identify")
    observed = _observed(args)
    ident = identify(graph, treatment=args.treatment, outcome=args.outcome, observed=observed)
    payload = ident.to_dict()
    check = None
    if args.adjust is not None:
        from .._core.options import as_name_list

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
    from .._core.options import check_option

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
    from .demo import run_demo

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
        from .. import __version__

        print(f"deconfound {__version__}")
        return 0
    if args.command is None:
        parser.print_help()
        return EXIT_ERROR
    from ..errors import DeconfoundError

    try:
        if args.command in ("report", "run"):
            from . import report as _cli_report

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
