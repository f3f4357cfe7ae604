"""The ``deconfound`` command.

    deconfound estimate FILE --outcome Y --treatment T [--covariates a,b] [--formula F]
                             [--method naive|ols|lin|psm|cem|ipw|aipw|ra|overlap] [--cov-type HC1] [--json]
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
    g.add_argument("--random-state", type=int, help="seed for randomised propensity models (gbm, rf, cross-fitting)")


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
    _plot_parser(sub)
    _demo_parser(sub)
    return parser


def _cmd_estimate(args: argparse.Namespace) -> int:
    from ._options import check_option

    method = check_option("--method", args.method, tuple(METHODS))
    args.method = method
    if args.treated_level is not None:
        args.treated_level = _coerce_level(args.treated_level)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        result = METHODS[method](args)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, allow_nan=False))
    else:
        print(result.summary().as_text())
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
        handler = {"estimate": _cmd_estimate, "plot": _cmd_plot, "demo": _cmd_demo}[args.command]
        return handler(args)
    except DeconfoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
