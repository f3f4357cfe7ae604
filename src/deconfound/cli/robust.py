"""``deconfound refute`` and ``deconfound sensitivity``, and ``estimate --bootstrap N``.

Both commands take the arguments of ``estimate`` (a file, ``--method`` and its flags), run the estimate
and then question it: ``refute`` runs the refuters that apply (one table, pass/fail), ``sensitivity``
says how strong a hidden confounder would have to be (the E-value for every method; for the regression
adjustment also the robustness value, Oster's delta and, with ``--benchmark``, bounds benchmarked on an
observed covariate). ``--json`` prints one object (keys in docs/cli-json.md).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from ..estimators.registry import REGISTRY, cli_methods
from .methods import method_arguments, unused_flags

#: the bootstrap intervals ``estimate --bootstrap-interval`` offers
INTERVALS = ("percentile", "basic", "normal", "bca")


def add_bootstrap_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bootstrap", type=int, metavar="N", help="bootstrap the estimate with N resamples")
    p.add_argument(
        "--bootstrap-interval",
        choices=INTERVALS,
        default="percentile",
        help="the bootstrap interval: percentile (default), basic, normal or bca",
    )
    p.add_argument("--bootstrap-cluster", help="resample whole clusters of this column")


def add_parsers(sub: Any, design_options: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser("refute", help="re-run an estimate under changes that should (not) move it: pass/fail")
    p.add_argument("data", help="path to a CSV or Parquet file")
    design_options(p)
    p.add_argument("--refuters", help="comma-separated subset of: " + ", ".join(_refuter_names()))
    p.add_argument("--n-simulations", type=int, default=20, help="repetitions of each random refuter (default 20)")
    p.add_argument("--json", action="store_true", help="print one JSON object (stable keys)")
    q = sub.add_parser("sensitivity", help="how strong would a hidden confounder have to be to change the answer?")
    q.add_argument("data", help="path to a CSV or Parquet file")
    design_options(q)
    q.add_argument(
        "--benchmark", help="covariate(s) to benchmark a hidden confounder on (regression adjustment, dml, dml-irm)"
    )
    q.add_argument("--kd", default="1,2,3", help="multiples of the benchmark's strength (default 1,2,3)")
    q.add_argument("--cf-y", type=float, default=0.03, help="DML bounds: share of the outcome's residual variance")
    q.add_argument("--cf-d", type=float, default=0.03, help="DML bounds: gain in the Riesz representer's variation")
    q.add_argument("--rho", type=float, default=1.0, help="DML bounds: correlation of the two gains (default 1)")
    h = q.add_argument_group("honest DiD (event-study and staggered methods; Rambachan-Roth)")
    h.add_argument(
        "--honest",
        choices=("rm", "sd"),
        help="sensitivity of the event-study effect to violations of parallel trends: rm (relative magnitudes, "
        "Mbar) or sd (smoothness, M)",
    )
    h.add_argument("--honest-sizes", help="the restriction's sizes, comma-separated (default rm: 0,0.5,1,1.5,2)")
    h.add_argument(
        "--honest-event-time", type=int, help="the post-treatment event time whose effect is studied (default 0)"
    )
    h.add_argument("--honest-average", action="store_true", help="study the average of the post-treatment effects")
    h.add_argument("--honest-plot", metavar="PATH", help="write the plot of robust intervals against the size to PATH")
    q.add_argument("--json", action="store_true", help="print one JSON object (stable keys)")


#: the methods with the DML omitted-variable-bias bounds (Chernozhukov et al. 2022)
DML_BOUNDS = ("dml", "dml-irm")
#: DML methods without them: dml_bounds says why (applicable false)
DML_NO_BOUNDS = ("dml-iv",)


def _dml_bounds(
    function: Callable[..., Any], frame: Any, result: Any, kwargs: dict[str, Any], args: argparse.Namespace
) -> dict[str, Any]:
    """The DML bounds at --cf-y/--cf-d/--rho, with a benchmark row per --benchmark covariate (refitted
    without it on the same folds and learners)."""
    from .._core.options import as_name_list
    from ..errors import SpecificationError
    from ..robustness.dml_bounds import dml_sensitivity, gain_statistics

    if "dml_sensitivity" not in result.diagnostics:
        try:
            dml_sensitivity(result)
        except SpecificationError as exc:
            return {"applicable": False, "reason": str(exc)}
    rows = []
    covariates = as_name_list(kwargs["covariates"], "--covariates")
    for mark in as_name_list(args.benchmark, "--benchmark") if args.benchmark else []:
        if mark not in covariates:
            raise SpecificationError(f"--benchmark {mark!r} must be one of --covariates ({', '.join(covariates)}).")
        short = function(frame, **{**kwargs, "covariates": [c for c in covariates if c != mark]})
        rows.append(gain_statistics(result, short, mark))
    bounds = dml_sensitivity(result, cf_y=args.cf_y, cf_d=args.cf_d, rho=args.rho, benchmarks=rows)
    return {"applicable": True, **bounds.to_dict()}


#: the refuters' names (deconfound.robustness.refuters.REFUTERS; spelled out so that --help imports no numpy)
REFUTER_NAMES = ("placebo_treatment", "random_common_cause", "data_subsets", "dummy_outcome", "leave_one_cluster_out")


def _refuter_names() -> tuple[str, ...]:
    return REFUTER_NAMES


def take_seed(function: Callable[..., Any], args: argparse.Namespace) -> int:
    """The seed of the resampling (``--random-state``, default 0 so that a run can be repeated). A method
    that is not random itself does not take the flag: it is the resampling's alone."""
    import inspect

    seed = getattr(args, "random_state", None)
    if "random_state" not in inspect.signature(function).parameters:
        args.random_state = None
    return 0 if seed is None else int(seed)


def _function_and_kwargs(args: argparse.Namespace) -> tuple[str, Callable[..., Any], dict[str, Any], int]:
    from .._core.options import check_option

    name = check_option("--method", args.method or "ols", cli_methods())
    method = REGISTRY[name]
    function = method.load()
    seed = take_seed(function, args)
    unused_flags(name, function, args)
    return name, function, method_arguments(name, method, function, args), seed


def bootstrapped(function: Callable[..., Any], args: argparse.Namespace, kwargs: dict[str, Any], seed: int) -> Any:
    """``estimate --bootstrap N``: the method's estimate with the bootstrap standard error and interval."""
    from ..data import load_table
    from ..robustness.bootstrap import bootstrap

    return bootstrap(
        function,
        load_table(args.data),
        n_boot=args.bootstrap,
        interval=args.bootstrap_interval,
        cluster=args.bootstrap_cluster,
        random_state=seed,
        **kwargs,
    )


def _quietly(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """The estimate's warnings are its own business here (``estimate`` shows them); progress on stderr."""

    def command(args: argparse.Namespace) -> int:
        import warnings

        from .._core.progress import progress_for, reporting

        with warnings.catch_warnings(record=True), progress_for(args.quiet) as progress, reporting(progress):
            warnings.simplefilter("always")
            return run(args)

    return command


@_quietly
def cmd_refute(args: argparse.Namespace) -> int:
    from .._core.options import as_name_list
    from ..data import load_table
    from ..robustness.refuters import refute

    name, function, kwargs, seed = _function_and_kwargs(args)
    chosen = as_name_list(args.refuters, "--refuters") if args.refuters else None
    result = refute(
        function,
        load_table(args.data),
        refuters=chosen,
        n_simulations=args.n_simulations,
        random_state=seed,
        **kwargs,
    )
    if args.json:
        print(json.dumps({"method": name, **result.to_dict()}, indent=2, allow_nan=False, default=str))
        return 0
    table = result.to_frame()[["refuter", "new_estimate", "passed", "rule", "detail"]]
    print(f"Refuting --method {name}: estimate {result.estimate:.4g} (SE {result.std_error:.3g}), seed {result.seed}")
    print(table.to_string(index=False))
    for refuter, why in result.skipped:
        print(f"not run: {refuter} ({why})")
    print(result.text)
    return 0 if result.passed else 1


@_quietly
def cmd_sensitivity(args: argparse.Namespace) -> int:
    import warnings

    from .._core.options import as_name_list
    from ..data import load_table
    from ..errors import DeconfoundError, SpecificationError
    from ..robustness import e_value, oster, ovb_bounds, sensitivity

    name, function, kwargs, seed = _function_and_kwargs(args)
    if args.benchmark and (name not in ("ols", *DML_BOUNDS) or not kwargs.get("covariates")):
        raise SpecificationError(
            "--benchmark needs --method ols, dml or dml-irm with --covariates (the bounds are for a regression or "
            "a DML model)."
        )
    if name in DML_BOUNDS:  # the benchmark's refit must use the same folds and learners
        kwargs["random_state"] = seed
    if name == "dml-irm" and str(kwargs.get("estimand", "ATE")).upper() in ("ATT", "ATTE"):
        kwargs["fit_g1"] = True  # the ATT's bounds need E[Y | X, D = 1] (the estimate is the same)
    honest = getattr(args, "honest", None)
    if honest and name not in ("event-study", "staggered"):
        raise SpecificationError(
            f"--honest needs an event study: --method event-study or --method staggered (got --method {name})."
        )
    if honest and name == "staggered" and kwargs.get("base_period") != "universal":
        raise SpecificationError(
            "--honest with --method staggered needs --base-period universal (every event-time effect measured "
            "against event time -1)."
        )
    frame = load_table(args.data)
    result = function(frame, **kwargs)
    out: dict[str, Any] = {"method": name, "estimate": result.estimate, "std_error": result.std_error}
    out["honest_did"] = _honest(result, args) if honest else None
    if honest:  # the hidden-confounder measures are for cross-sections; an event study answers with honest DiD
        out.update(e_value=None, robustness_value=None, oster=None, bounds=None, dml_bounds=None)
        return _print_honest(out, args)
    outcome = kwargs.get("outcome") or result.outcome
    sd = float(frame[outcome].std()) if outcome in frame.columns else None
    out["e_value"] = e_value(result, measure="difference", sd=sd).to_dict() if sd else None
    out["robustness_value"] = sensitivity(result).to_dict()
    out["oster"] = None
    out["bounds"] = None
    covariates = kwargs.get("covariates")
    if name == "ols" and covariates:
        common = {"outcome": kwargs["outcome"], "treatment": kwargs["treatment"], "covariates": covariates}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                out["oster"] = oster(frame, **common).to_dict()
            except DeconfoundError as exc:
                out["oster"] = {"applicable": False, "reason": str(exc)}
        if args.benchmark:
            kd = [float(v) for v in as_name_list(args.kd, "--kd")]
            marks = as_name_list(args.benchmark, "--benchmark")
            out["bounds"] = ovb_bounds(frame, benchmark=marks, kd=kd, **common).to_dict()
    out["dml_bounds"] = (
        _dml_bounds(function, frame, result, kwargs, args) if name in (*DML_BOUNDS, *DML_NO_BOUNDS) else None
    )
    if args.json:
        print(json.dumps(out, indent=2, allow_nan=False, default=str))
        return 0
    print(f"Sensitivity of --method {name}: estimate {result.estimate:.4g} (SE {result.std_error:.3g})")
    for key in ("e_value", "robustness_value", "oster", "bounds", "dml_bounds"):
        part = out[key]
        if part and part.get("text"):
            print(f"- {part['text']}")
        elif part and part.get("reason"):
            print(f"- {key.replace('_', ' ')}: not applicable ({part['reason']})")
    return 0


def _honest(result: Any, args: argparse.Namespace) -> dict[str, Any]:
    """``sensitivity --honest rm|sd``: the Rambachan-Roth intervals of the event-study effect (and the plot)."""
    from .._core.options import as_name_list
    from .._core.paths import save_figure
    from ..robustness.honest import honest_did

    sizes = [float(v) for v in as_name_list(args.honest_sizes, "--honest-sizes")] if args.honest_sizes else None
    found = honest_did(
        result,
        restriction=args.honest,
        sizes=sizes,
        event_time=args.honest_event_time,
        l_vec="average" if args.honest_average else None,
    )
    out = found.to_dict()
    out["plot"] = None
    if args.honest_plot:
        path = save_figure(found.plot(), args.honest_plot, "--honest-plot", dpi=120, bbox_inches="tight")
        out["plot"] = str(path)
    args._honest_text = str(found)
    return out


def _print_honest(out: dict[str, Any], args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps(out, indent=2, allow_nan=False, default=str))
        return 0
    print(f"Sensitivity of --method {out['method']}: estimate {out['estimate']:.4g} (SE {out['std_error']:.3g})")
    print(args._honest_text)
    if out["honest_did"]["plot"]:
        print(f"plot written to {out['honest_did']['plot']}")
    return 0
