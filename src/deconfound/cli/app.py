"""The ``deconfound`` command.

    deconfound estimate FILE --outcome Y --treatment T [--covariates a,b | --graph "Z -> T; Z -> Y; T -> Y"]
                             [--json]   (no --method: every method that applies, led by the verdict)
    deconfound estimate FILE --outcome Y --treatment T [--covariates a,b] [--formula F (implies ols)]
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
    deconfound datasets [NAME -o FILE.csv] [--seed N]   (the example data; without NAME: the list)

Heavy modules are imported only inside the command that needs them, so ``deconfound --help`` is fast.
With ``--json`` the command prints one JSON object whose keys are documented in docs/cli-json.md and
are a stable contract. Errors (ours, and any error of the operating system such as an unreadable or
unwritable file) print one line ``error: ...`` on stderr and exit with status 2; anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Sequence
from typing import Any

from ..estimators.registry import DEFAULT_METHOD, REGISTRY, cli_methods
from .args import add_method_options, coerce_level, graph_arg, need, observed
from .methods import PLOTS, run_method

EXIT_ERROR = 2


def _add_design_options(p: argparse.ArgumentParser) -> None:
    """Options that describe the question; shared by estimate and plot. The methods' options (and their
    help groups) come from the method registry; see ``args.add_method_options``."""

    def general(q: argparse.ArgumentParser) -> None:
        q.add_argument(
            "--graph",
            "-g",
            help='causal graph, e.g. "Z -> T; Z -> Y; T -> Y" (or DOT, or a file holding either): the covariates '
            "become the adjustment set it identifies; --covariates given too are checked against it instead",
        )
        q.add_argument("--observed", help="comma-separated observed graph nodes (default: the data's columns)")
        q.add_argument("--quiet", "-q", action="store_true", help="no progress output")

    add_method_options(p, general)


def _estimate_parser(sub: Any) -> None:
    p = sub.add_parser("estimate", help="estimate a causal effect from a CSV or Parquet file")
    p.add_argument("data", help="path to a CSV or Parquet file (or a glob of them, e.g. 'data/*.parquet')")
    _add_design_options(p)
    p.add_argument("--json", action="store_true", help="print one JSON object (stable keys)")
    p.add_argument(
        "--engine",
        choices=("memory", "duckdb", "dask", "spark"),
        help="where the rows are read: memory (load the columns used), duckdb (stream the file; the default for "
        "globs and files of 2 GiB or more), dask or spark (see docs/scaling.md)",
    )
    p.add_argument("--memory-limit", help="DuckDB's memory limit, e.g. 2GB (with --engine duckdb or a large file)")
    p.add_argument(
        "--dask-scheduler",
        metavar="ADDRESS",
        help="run the passes on the Dask cluster whose scheduler is at ADDRESS, e.g. tcp://10.0.0.5:8786 "
        "(implies --engine dask; needs deconfound[dask] here and on the workers)",
    )
    p.add_argument(
        "--spark-master",
        metavar="URL",
        help="run the passes on the Spark cluster at URL, e.g. spark://host:7077, yarn or local[4] "
        "(implies --engine spark; needs deconfound[spark] and Java)",
    )
    p.add_argument(
        "--rows",
        action="store_true",
        help="with --json, also print the per-row tables (propensity scores, weights, matched pairs)",
    )
    from .robust import add_bootstrap_flags

    add_bootstrap_flags(p)


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
    from . import robust as _cli_robust

    _cli_robust.add_parsers(sub, _add_design_options)
    from . import datasets as _cli_datasets

    _cli_datasets.add_parser(sub)
    return parser


def _cmd_estimate(args: argparse.Namespace) -> int:
    from .._core.options import check_option

    if args.method is None and not args.formula:
        return _cmd_compare(args)
    method = check_option("--method", args.method or DEFAULT_METHOD, cli_methods())
    args.method = method
    if args.treated_level is not None:
        args.treated_level = coerce_level(args.treated_level)
    from .._core.progress import progress_for, reporting

    seed = _default_seed(args)
    with warnings.catch_warnings(record=True), progress_for(args.quiet) as progress, reporting(progress):
        warnings.simplefilter("always")
        plan = _graph_plan(args) if args.graph is not None else None
        result = run_method(args)
        if plan is not None:
            result = plan.attach(result, adjusted=REGISTRY[method].adjustment == "covariates")
    if args.json:
        payload = result.to_dict(rows=args.rows)
        if seed is not None:
            payload["seed"] = seed
        print(json.dumps(payload, indent=2, allow_nan=False))
    else:
        print(result.summary().as_text())
        if seed is not None:
            print(f"Seed: {seed} (--random-state {seed} gives these numbers again).")
    return 0


def _default_seed(args: argparse.Namespace) -> int | None:
    """A random method (learners, cross-fitting, a bootstrap) runs with ``--random-state``, else the fixed
    default seed (the comparison's), so that the same command prints the same numbers; None for a method
    that draws nothing."""
    import inspect

    from .compare import DEFAULT_SEED

    params = inspect.signature(REGISTRY[args.method].load()).parameters
    takes = "random_state" in params and _draws(args, params)
    if not (takes or getattr(args, "bootstrap", None)):
        return None
    if args.random_state is None:
        args.random_state = DEFAULT_SEED if takes else 0  # the bootstrap's documented default is 0
    return int(args.random_state)


def _cmd_compare(args: argparse.Namespace) -> int:
    """No --method: every method that applies, led by the verdict (cli/compare.py)."""
    from . import compare

    compare.check_flags(args)
    if args.treated_level is not None:
        args.treated_level = coerce_level(args.treated_level)
    seed = compare.DEFAULT_SEED if args.random_state is None else args.random_state
    from .._core.progress import progress_for, reporting

    with warnings.catch_warnings(record=True), progress_for(args.quiet) as progress, reporting(progress):
        warnings.simplefilter("always")
        graph = graph_arg(args, "estimate") if args.graph is not None else None
        model = compare.build_model(args, graph)
        comparison, skipped, failed = compare.run_comparison(model, seed)
    if args.json:
        payload = compare.to_dict(model, comparison, seed, skipped, failed, rows=args.rows)
        print(json.dumps(payload, indent=2, allow_nan=False))
    else:
        print(compare.as_text(model, comparison, seed, skipped, failed))
    return 0


def _draws(args: argparse.Namespace, params: Any) -> bool:
    """Whether this run draws random numbers: a learner (DML, meta-learners, a gbm/rf propensity), or a
    bootstrap the method runs itself. A logistic propensity or analytic standard errors draw nothing."""
    if "propensity_model" in params:
        return getattr(args, "propensity_model", None) not in (None, "logistic")
    for flag in ("n_boot", "n_bootstrap"):
        if flag in params:
            value = getattr(args, flag, None)
            return bool(params[flag].default if value is None else value)
    return True


def _graph_plan(args: argparse.Namespace) -> Any:
    """Choose (or check) the covariates with the graph; the runner then adjusts for ``args.covariates``."""
    from ..errors import SpecificationError
    from ..model import plan_adjustment

    if args.formula:
        raise SpecificationError(
            "--graph chooses the covariates, so it cannot be combined with --formula; use "
            "--covariates to check your own set against the graph."
        )
    from ..model import ALTERNATIVES, graph_alternative, identifies_by

    strategy = identifies_by(args.method, REGISTRY[args.method])
    if strategy != "backdoor":  # the front door or IV: the graph names the mediators or the instruments
        role = ALTERNATIVES[strategy]
        names, given = graph_alternative(
            graph_arg(args, "estimate"),
            treatment=need(args, "treatment"),
            outcome=need(args, "outcome"),
            strategy=strategy,
            observed=observed(args),
        )
        if getattr(args, role, None) is None:
            setattr(args, role, list(names))
        if args.covariates is None and given:
            args.covariates = list(given)
        return None
    plan = plan_adjustment(
        graph_arg(args, "estimate"),
        treatment=need(args, "treatment"),
        outcome=need(args, "outcome"),
        covariates=args.covariates,
        observed=observed(args),
    )
    args.covariates = list(plan.covariates)
    return plan


def _cmd_identify(args: argparse.Namespace) -> int:
    from ..graph.identification import check_adjustment, identify

    graph = graph_arg(args, "identify")
    seen = observed(args)
    ident = identify(graph, treatment=args.treatment, outcome=args.outcome, observed=seen)
    payload = ident.to_dict()
    check = None
    if args.adjust is not None:
        from .._core.options import as_name_list

        adjust = as_name_list(args.adjust, "--adjust")
        check = check_adjustment(
            graph, treatment=args.treatment, outcome=args.outcome, covariates=adjust, observed=seen
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


def _cmd_plot(args: argparse.Namespace) -> int:
    from .._core.options import check_option

    kind = check_option("plot kind", args.kind, tuple(PLOTS) or ("(none available)",))
    if args.treated_level is not None:
        args.treated_level = coerce_level(args.treated_level)
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backend_bases import FigureCanvasBase

    from .._core.paths import check_image_path, save_figure

    check_image_path(args.output, "--output", FigureCanvasBase.get_supported_filetypes())  # before the work
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        fig = PLOTS[kind](args)
    save_figure(fig, args.output, "--output", bbox_inches="tight", dpi=150)
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
        _check_seeds(args)
        if args.command in ("report", "run"):
            from . import report as _cli_report

            runner = _cli_report.cmd_report if args.command == "report" else _cli_report.cmd_run
            return runner(args, None if argv is None else list(argv))
        from . import datasets as _cli_datasets
        from . import robust as _cli_robust

        handlers = {
            "datasets": _cli_datasets.cmd_datasets,
            "estimate": _cmd_estimate,
            "identify": _cmd_identify,
            "plot": _cmd_plot,
            "demo": _cmd_demo,
            "refute": _cli_robust.cmd_refute,
            "sensitivity": _cli_robust.cmd_sensitivity,
        }
        handler = handlers[args.command]
        return handler(args)
    except DeconfoundError as exc:
        return _fail(as_flags(str(exc)))
    except OSError as exc:  # a file the operating system would not read or write: ours to explain, not a bug
        return _fail(_os_message(exc))


def _check_seeds(args: argparse.Namespace) -> None:
    """--seed and --random-state: non-negative integers, refused before any work (argparse checked the int)."""
    for dest, flag in (("seed", "--seed"), ("random_state", "--random-state")):
        if getattr(args, dest, None) is not None:
            from .._core.options import check_seed

            check_seed(getattr(args, dest), flag)


def as_flags(message: str) -> str:
    """The library speaks Python (``missing='drop'``); the command line speaks flags (``--missing drop``):
    every ``name=value`` whose name is a command-line option is rewritten to its flag."""
    import re

    from ..estimators.registry import OPTIONS, REGISTRY

    flags = {o.name: o.flag_name for o in OPTIONS}
    for method in REGISTRY.values():
        flags.update({o.name: o.flag_name for o in method.cli_options})

    def rewrite(match: re.Match[str]) -> str:
        name, value = match.group(1), match.group(2)
        flag = flags.get(name)
        if name == "method" and (value or "").strip("'\"") not in ("nearest", "optimal"):
            flag = "--method"  # the estimator's name (the model's method=); matching's own method= is --match-method
        if flag is None:
            return match.group(0)
        if value is None:
            return flag
        if value[:1] in "'\"" and value[-1:] == value[:1] and " " not in value:
            value = value[1:-1]  # a value with a space keeps its quotes, as the shell needs them
        return f"{flag} {value}"

    pattern = r"(?<![\w.-])([a-z_]+)=('[^']*'|\"[^\"]*\"|[\w.-][\w.,-]*)?"
    message = re.sub(pattern, rewrite, message)
    # the data layer names a missing column by its role: "first_treated 'g' is not a column" -> --first-treated
    roles = {**flags, "covariate": flags.get("covariates", "--covariates")}

    def rewrite_role(match: re.Match[str]) -> str:
        flag = roles.get(match.group(1))
        return match.group(0) if flag is None else f"{flag} {match.group(2)} is not a column"

    return re.sub(r"(?<![\w.-])([a-z_]+) ('[^']*'|\"[^\"]*\") is not a column", rewrite_role, message)


def _fail(message: str) -> int:
    """One ``error: ...`` line on stderr (the message's lines joined) and the error exit status."""
    print("error: " + " ".join(line.strip() for line in message.splitlines() if line.strip()), file=sys.stderr)
    return EXIT_ERROR


def _os_message(exc: OSError) -> str:
    where = f" {exc.filename!r}" if exc.filename is not None else ""
    reason = exc.strerror or str(exc) or type(exc).__name__
    return f"could not access{where}: {reason}; check that the path exists and that you may read (or write) it."


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
