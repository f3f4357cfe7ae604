"""The command line's method and plot runners: ``--method X`` and ``plot KIND``.

One runner serves every method: it reads the method's entry in the registry
(:mod:`deconfound.estimators.registry`), imports its function and passes each parsed flag to the
keyword parameter of the same name (the registry says which flag that is and how its text is read).
Plot kinds register their runners in :data:`PLOTS`. Imports of the library happen inside the runners,
so building the parser stays cheap.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

from ..estimators.registry import OPTIONS, REGISTRY, Method
from .args import convert, graph_arg, observed, require

# plot kind -> runner(args) -> matplotlib Figure. Plot families add theirs here.
PLOTS: dict[str, Callable[[argparse.Namespace], Any]] = {}


def method_arguments(name: str, method: Method, function: Callable[..., Any], args: argparse.Namespace) -> dict:
    """The keyword arguments of ``function`` read from the parsed flags: each parameter that has a flag
    gets its value; a parameter without a default must have been given."""
    import inspect

    from ..errors import SpecificationError

    kwargs: dict[str, Any] = dict(method.options)
    for parameter in list(inspect.signature(function).parameters.values())[1:]:  # the first is the data
        option = method.option(parameter.name)
        if option is None or not hasattr(args, option.dest):
            continue  # not offered on the command line (e.g. ties=, n_jobs=): the function's default
        value = getattr(args, option.dest)
        if value is None:
            if parameter.default is inspect.Parameter.empty:
                raise SpecificationError(f"{option.flag_name} is required for --method {name}.")
            continue
        kwargs[parameter.name] = convert(option, value)
    if method.one_of and not any(kwargs.get(p) is not None for p in method.one_of):
        wanted = [method.option(p) for p in method.one_of]
        listed = " or ".join(f"{o.flag_name} {o.example or o.dest.upper()}" for o in wanted if o is not None)
        raise SpecificationError(f"--method {name} needs {listed}.")
    return kwargs


def unused_flags(name: str, function: Callable[..., Any], args: argparse.Namespace) -> None:
    """Refuse a flag that was given but that ``--method name`` does not take: running without it would
    silently answer another question (e.g. ``--cluster`` with a method whose standard error ignores it)."""
    import inspect

    from ..errors import SpecificationError

    params = set(inspect.signature(function).parameters)
    seen: dict[str, Any] = {}
    for method in REGISTRY.values():
        for option in method.cli_options:
            seen.setdefault(option.dest, option)
    for option in OPTIONS:
        seen.setdefault(option.dest, option)
    unused = []
    for dest, option in seen.items():
        value = getattr(args, dest, None)
        if value is None or value == option.default or (option.kind == "bool" and value is False):
            continue
        if option.name not in params:
            users = [
                m
                for m, entry in REGISTRY.items()
                if entry.cli and option.name in inspect.signature(entry.load()).parameters
            ]
            takers = f" (it is for --method {', '.join(users)})" if users else ""
            if option.name == "weights" and "fweights" in params:
                takers += "; this method takes frequency weights (whole numbers of copies) as --fweights"
            unused.append(f"{option.flag_name}{takers}")
    if unused:
        raise SpecificationError(
            f"--method {name} does not use {'; '.join(unused)}. Remove the flag, or choose a method that takes it: "
            "running without it would silently answer a different question."
        )


def run_method(args: argparse.Namespace) -> Any:
    """Run ``--method`` (a registry id) on the data file with the parsed flags; returns its Estimate."""
    method = REGISTRY[args.method]
    function = method.load()
    seed = None
    if getattr(args, "bootstrap", None):
        from .robust import take_seed

        seed = take_seed(function, args)
    unused_flags(args.method, function, args)
    kwargs = method_arguments(args.method, method, function, args)
    if seed is not None:
        from .robust import bootstrapped

        return bootstrapped(function, args, kwargs, seed)
    return function(engine_data(args), **kwargs)


def engine_data(args: argparse.Namespace) -> Any:
    """The data argument for ``--engine``/``--memory-limit``: the path itself (read in memory, or through
    DuckDB by itself when it is a glob or a large file) or the engine named."""
    engine, limit = getattr(args, "engine", None), getattr(args, "memory_limit", None)
    options = _cluster_options(args)
    if options:
        engine = next(iter(options.values()))[0]
    if engine is None and limit is None:
        return args.data
    if engine == "memory":
        if limit is not None:
            from ..errors import SpecificationError

            raise SpecificationError("--memory-limit applies to the duckdb engine; leave it out with --engine memory.")
        from ..data import load_table

        return load_table(args.data)  # in memory even when large (the path itself would go to DuckDB)
    from ..engines import wrap

    return wrap(args.data, engine or "duckdb", memory_limit=limit, **{k: v for k, (_, v) in options.items()})


def _cluster_options(args: argparse.Namespace) -> dict[str, tuple[str, str]]:
    """``--dask-scheduler ADDRESS`` / ``--spark-master URL``: the engine's option, by name, with the engine it
    implies; an error when it contradicts ``--engine`` or the other flag."""
    from ..errors import SpecificationError

    given = {
        flag: (engine, option, value)
        for flag, engine, option, value in (
            ("--dask-scheduler", "dask", "scheduler", getattr(args, "dask_scheduler", None)),
            ("--spark-master", "spark", "master", getattr(args, "spark_master", None)),
        )
        if value is not None
    }
    if len(given) > 1:
        raise SpecificationError("--dask-scheduler and --spark-master choose different engines; give one of them.")
    for flag, (engine, _, _) in given.items():
        chosen = getattr(args, "engine", None)
        if chosen not in (None, engine):
            raise SpecificationError(f"{flag} runs on the {engine} engine, not --engine {chosen}; drop one of them.")
        if getattr(args, "memory_limit", None) is not None:
            raise SpecificationError(f"--memory-limit applies to the duckdb engine; leave it out with {flag}.")
    return {option: (engine, value) for engine, option, value in given.values()}


def _plot(name: str) -> Callable[[Callable[[argparse.Namespace], Any]], Callable[[argparse.Namespace], Any]]:
    def register(fn: Callable[[argparse.Namespace], Any]) -> Callable[[argparse.Namespace], Any]:
        PLOTS[name] = fn
        return fn

    return register


@_plot("dag")
def _plot_dag(args: argparse.Namespace) -> Any:
    from .._core.options import as_name_list
    from ..graph.causal_graph import as_graph
    from ..plots.dag import dag_plot

    graph = as_graph(graph_arg(args, "plot dag"))
    seen = observed(args)
    covariates: Sequence[str] | None = as_name_list(args.covariates, "--covariates") if args.covariates else None
    if covariates is None and args.treatment and args.outcome:
        covariates = graph.identify(args.treatment, args.outcome, observed=seen).adjustment_set
    return dag_plot(graph, treatment=args.treatment, outcome=args.outcome, observed=seen, covariates=covariates)


@_plot("forest")
def _plot_forest(args: argparse.Namespace) -> Any:
    from ..model import CausalModel

    model = CausalModel(
        require(args, "data", "plot forest"),
        require(args, "treatment", "plot forest"),
        require(args, "outcome", "plot forest"),
        graph=None if args.graph is None else graph_arg(args, "plot forest"),
        covariates=args.covariates,
        design="rct" if args.randomized else "cross-section",
        weights=args.weights,
        cluster=args.cluster,
        level=args.level,
        missing=args.missing,
        treated_level=args.treated_level,
    )
    return model.compare().plot()


def _plot_event_study(args: argparse.Namespace) -> Any:
    from ..plots.event_study import plot_event_study

    if args.method not in ("event-study", "staggered"):
        args.method = "event-study"
    if args.method == "staggered" and args.aggregate is None:
        args.aggregate = "event"
    return plot_event_study(run_method(args))


PLOTS["event-study"] = _plot_event_study


def _plot_runner(kind: str) -> Callable[[argparse.Namespace], Any]:
    def run(args: argparse.Namespace) -> Any:
        from .._core.options import check_option

        usable = tuple(m for m, spec in REGISTRY.items() if spec.cli and kind in spec.plots)
        method = args.method if args.method in usable else "psm"
        check_option("--method", method, usable)
        args.method = method
        result = run_method(args)
        if kind == "overlap":
            from ..plots.overlap import overlap_plot

            return overlap_plot(result)
        from ..plots.balance import love_plot

        return love_plot(result)

    return run


PLOTS["overlap"] = _plot_runner("overlap")
PLOTS["balance"] = _plot_runner("balance")


def _plot_heterogeneity(kind: str) -> Callable[[argparse.Namespace], Any]:
    def run(args: argparse.Namespace) -> Any:
        from .._core.options import check_option
        from ..plots.heterogeneity import cate_plot, gates_plot

        usable = tuple(m for m, spec in REGISTRY.items() if spec.cli and kind in spec.plots)
        args.method = args.method if args.method in usable else "dr-learner"
        check_option("--method", args.method, usable)
        return (cate_plot if kind == "cate" else gates_plot)(run_method(args))

    return run


PLOTS["cate"] = _plot_heterogeneity("cate")
PLOTS["gates"] = _plot_heterogeneity("gates")
