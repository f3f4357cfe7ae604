"""The ``report`` and ``run`` commands: from a data file (or an analysis file) to one HTML page.

    deconfound report FILE --outcome Y --treatment T [--covariates a,b | --graph "..."]
                      [--design cross-section|rct|panel] [--unit U --time T] [--methods a,b]
                      [--seed N] [--title "..."] -o report.html [--quiet]
    deconfound run analysis.toml [--output report.html] [--quiet] [--keep-going]

An analysis file (TOML) holds everything needed to rerun the analysis exactly::

    title = "Does the drug lower heart-attack severity?"
    seed = 42                      # reaches every random step (placebos, learners, bootstrap)
    robustness = true              # refuters, sensitivity, placebo (false: a faster report)
    output = "report.html"         # relative to this file

    [data]
    path = "heart.csv"             # CSV or Parquet, relative to this file
    missing = "raise"              # or "drop"

    [question]
    outcome = "Severity"
    treatment = "Drug"
    graph = "I.H -> Drug; I.H -> Severity; Drug -> Severity"   # or: covariates = ["I.H"]
    design = "cross-section"       # or "rct", "panel" (then unit = "...", time = "...")

    [methods]
    include = ["naive", "ols", "lin"]   # default: every method that applies
    [methods.options.ols]
    cov_type = "HC1"

The report's footer carries the file's text, so the page says how to rebuild itself. Analysis files
are TOML, which the standard library reads (YAML would need a dependency the package does not take).
Unknown keys are refused, so a misspelt option never goes silently unused.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from .args import coerce_level, graph_arg, read_text_file

QUESTION_KEYS = (
    "outcome",
    "treatment",
    "graph",
    "covariates",
    "design",
    "unit",
    "time",
    "weights",
    "cluster",
    "level",
    "treated_level",
)
TOP_KEYS = ("title", "seed", "output", "data", "question", "methods", "robustness")
DATA_KEYS = ("path", "missing")
METHODS_KEYS = ("include", "options")


NO_ROBUSTNESS_HELP = "leave out the robustness checks (refuters, sensitivity, placebo): a faster report"
KEEP_GOING_HELP = "exit 0 even when some method fails (the page says what failed); without it such a run exits 1"
#: the exit status of a report written with methods that failed (errors that stop the run exit 2)
EXIT_FAILED_METHODS = 1


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("report", help="write one self-contained HTML report of every applicable estimate")
    p.add_argument("data", help="path to a CSV or Parquet file")
    p.add_argument("--outcome", "-y", required=True, help="outcome column")
    p.add_argument("--treatment", "-t", required=True, help="treatment column")
    p.add_argument("--covariates", "-x", help="comma-separated covariates (assumed confounders)")
    p.add_argument("--graph", "-g", help='causal graph: "a -> b; b -> c", DOT, or a file holding either')
    p.add_argument("--design", default="cross-section", help="cross-section (default), rct or panel")
    p.add_argument("--unit", help="unit column (panel designs)")
    p.add_argument("--time", help="time column (panel designs)")
    p.add_argument("--weights", help="sample weights column")
    p.add_argument("--cluster", help="cluster column(s), comma-separated")
    p.add_argument("--level", type=float, default=0.95, help="confidence level (default 0.95)")
    p.add_argument("--missing", default="raise", help="raise (default) or drop rows with missing values")
    p.add_argument("--treated-level", help="the level of a two-level treatment that means 'treated'")
    p.add_argument("--methods", help="comma-separated method ids (default: every method that applies)")
    p.add_argument(
        "--seed", type=int, help="seed for every random step (placebos, learners, bootstrap; default 42, printed)"
    )
    p.add_argument("--title", help="title of the page")
    p.add_argument("--output", "-o", required=True, help="HTML file to write")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    p.add_argument("--keep-going", action="store_true", help=KEEP_GOING_HELP)
    p.add_argument("--no-robustness", action="store_true", help=NO_ROBUSTNESS_HELP)

    r = sub.add_parser("run", help="run an analysis file (TOML) and write its report")
    r.add_argument("spec", help="path to the analysis file, e.g. analysis.toml")
    r.add_argument("--output", "-o", help="HTML file to write (default: the file's `output`)")
    r.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    r.add_argument("--keep-going", action="store_true", help=KEEP_GOING_HELP)
    r.add_argument("--no-robustness", action="store_true", help=NO_ROBUSTNESS_HELP)


def _command_line(argv: list[str] | None) -> str:
    words = sys.argv[1:] if argv is None else argv
    return "deconfound " + " ".join(shlex.quote(w) for w in words)


def _write(
    target: Any,
    output: str,
    args: argparse.Namespace,
    argv: list[str] | None,
    argument: str = "--output",
    **options: Any,
) -> int:
    """Write the report (progress on stderr unless --quiet) and say where."""
    from .._core.progress import progress_for
    from ..report import write_report_content

    with progress_for(args.quiet) as progress:
        path, content = write_report_content(
            target, output, argument=argument, command=_command_line(argv), progress=progress, **options
        )
    if not args.quiet:
        seed = options.get("seed")
        print(f"wrote {path}" + ("" if seed is None else f" (seed {seed})"), file=sys.stderr)
    if content.failures and not getattr(args, "keep_going", False):
        listed = "; ".join(content.failures)
        print(
            f"error: {len(content.failures)} method(s) could not be estimated (the page says why): {listed}. "
            "Pass --keep-going to exit 0 anyway.",
            file=sys.stderr,
        )
        return EXIT_FAILED_METHODS
    return 0


def cmd_report(args: argparse.Namespace, argv: list[str] | None = None) -> int:
    from .._core.options import as_name_list
    from ..model import CausalModel

    model = CausalModel(
        args.data,
        args.treatment,
        args.outcome,
        graph=graph_arg(args, "report") if args.graph else None,
        covariates=args.covariates,
        design=args.design,
        unit=args.unit,
        time=args.time,
        weights=args.weights,
        cluster=args.cluster,
        level=args.level,
        missing=args.missing,
        treated_level=None if args.treated_level is None else coerce_level(args.treated_level),
    )
    methods = as_name_list(args.methods, "--methods") or None
    _check_methods(methods, "--methods")
    return _write(
        model,
        args.output,
        args,
        argv,
        title=args.title,
        methods=methods,
        seed=_seed(args.seed),
        data=args.data,
        robustness=not args.no_robustness,
    )


def _check_methods(methods: list[str] | None, where: str) -> None:
    """Every method named is a method id (checked before any data is read), the closest one suggested."""
    from .._core.options import check_option
    from ..estimators.registry import REGISTRY

    known = tuple(m for m, spec in REGISTRY.items() if spec.model)
    for name in methods or ():
        check_option(where, name, known)


def _seed(seed: int | None) -> int:
    """The command line's seed: the one given, else the fixed default (printed, and in the page's footer)."""
    from .compare import DEFAULT_SEED

    return DEFAULT_SEED if seed is None else int(seed)


_TEXT = (str,)
_NAMES = (str, list)
_NUMBER = (int, float)
#: (table or "" for the top level, key) -> the TOML types the key accepts; lists must hold strings
KEY_TYPES: dict[tuple[str, str], tuple[type, ...]] = {
    ("", "title"): _TEXT,
    ("", "output"): _TEXT,
    ("data", "path"): _TEXT,
    ("data", "missing"): _TEXT,
    **{("question", key): _TEXT for key in ("outcome", "treatment", "graph", "design", "unit", "time", "weights")},
    ("question", "covariates"): _NAMES,
    ("question", "cluster"): _NAMES,
    ("question", "level"): _NUMBER,
    ("question", "treated_level"): (str, int, float, bool),
    ("methods", "include"): _NAMES,
    ("", "robustness"): (bool,),
}
_TYPE_WORDS = {str: "a string", list: "a list of strings", int: "an integer", float: "a number", bool: "true/false"}


def _check_types(spec: dict[str, Any], where: str) -> None:
    """Every key of the analysis file holds the kind of value it needs (``path = 5`` is refused here)."""
    from .._core.options import check_seed
    from ..errors import SpecificationError

    for (table, key), types in KEY_TYPES.items():
        holder = spec if not table else spec.get(table, {})
        if key not in holder:
            continue
        value = holder[key]
        ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
        if ok and isinstance(value, list):
            ok = bool(value) and all(isinstance(v, str) for v in value)
        if not ok:
            name = f"{key}" if not table else f"[{table}] {key}"
            wanted = " or ".join(dict.fromkeys(_TYPE_WORDS[t] for t in types))
            raise SpecificationError(f"{name} in {where!r} must be {wanted}, got {value!r}.")
    if "seed" in spec:
        check_seed(spec["seed"], "seed")


def load_spec(path: str | Path) -> dict[str, Any]:
    """Read and check an analysis file; paths in it are resolved relative to the file."""
    from ..errors import SpecificationError

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib

    spec_path = Path(path)
    if not spec_path.is_file():
        raise SpecificationError(f"No such analysis file: {str(spec_path)!r}.")
    text = read_text_file(spec_path, "analysis file", "a TOML file")
    try:
        spec = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecificationError(f"{str(spec_path)!r} is not valid TOML: {exc}") from exc
    unknown = sorted(set(spec) - set(TOP_KEYS))
    if unknown:
        raise SpecificationError(f"Unknown key(s) {unknown} in {str(spec_path)!r}; allowed: {list(TOP_KEYS)}.")
    for table in ("data", "question"):
        if not isinstance(spec.get(table), dict):
            raise SpecificationError(f"{str(spec_path)!r} needs a [{table}] table.")
    if not isinstance(spec.get("methods", {}), dict):
        raise SpecificationError(f"methods in {str(spec_path)!r} must be a table: [methods] include = [...].")
    if "path" not in spec["data"]:
        raise SpecificationError(f"[data] in {str(spec_path)!r} needs path = '...' (a CSV or Parquet file).")
    for table, allowed in (("data", DATA_KEYS), ("question", QUESTION_KEYS), ("methods", METHODS_KEYS)):
        bad = sorted(set(spec.get(table, {})) - set(allowed))
        if bad:
            raise SpecificationError(f"Unknown key(s) {bad} in [{table}]; allowed: {list(allowed)}.")
    _check_types(spec, str(spec_path))
    options = spec.get("methods", {}).get("options", {})
    if not isinstance(options, dict) or not all(isinstance(v, dict) for v in options.values()):
        raise SpecificationError("[methods.options] holds one table per method, e.g. [methods.options.ols].")
    for key in ("outcome", "treatment"):
        if key not in spec["question"]:
            raise SpecificationError(f"[question] in {str(spec_path)!r} needs {key} = '...'.")
    base = spec_path.resolve().parent
    spec["data"]["path"] = str((base / spec["data"]["path"]).resolve())
    spec["_text"] = text
    spec["_base"] = str(base)
    return spec


def cmd_run(args: argparse.Namespace, argv: list[str] | None = None) -> int:
    from .._core.options import as_name_list
    from ..errors import SpecificationError
    from ..model import CausalModel
    from ..report import Analysis

    spec = load_spec(args.spec)
    question = dict(spec["question"])
    data = spec["data"]
    model = CausalModel(
        data["path"],
        question.pop("treatment"),
        question.pop("outcome"),
        missing=data.get("missing", "raise"),
        **question,
    )
    output = args.output or spec.get("output")
    if not output:
        raise SpecificationError("No output file: give output = 'report.html' in the analysis file or --output.")
    if args.output is None:
        output = str(Path(spec["_base"]) / output)
    methods = spec.get("methods", {})
    _check_methods(as_name_list(methods.get("include"), "[methods] include") or None, "[methods] include")
    analysis = Analysis(
        model,
        methods=as_name_list(methods.get("include"), "[methods] include") or None,
        options={k: dict(v) for k, v in methods.get("options", {}).items()},
        robustness=bool(spec.get("robustness", True)) and not args.no_robustness,
    )
    return _write(
        analysis,
        output,
        args,
        argv,
        title=spec.get("title"),
        seed=_seed(spec.get("seed")),
        spec=spec["_text"],
        data=data["path"],
    )
