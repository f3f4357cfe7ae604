"""``deconfound estimate FILE ...`` without ``--method``: every method that applies, led by the verdict.

The command builds the question as :class:`deconfound.CausalModel` does (graph or covariates, design from
``--randomized`` or ``--unit``/``--time``), runs every method that applies with its defaults, and prints
the recommended estimate, its interval and why, then each method's status and reason (docs/verdict.md).
``--json`` prints the comparison (keys in docs/cli-json.md). A flag that belongs to one method
(``--caliper``, ``--cov-type``...) needs ``--method``: it is refused here rather than silently applied to
some methods and not to others. Random steps get ``--random-state``, else :data:`DEFAULT_SEED`, and the
seed is printed.
"""

from __future__ import annotations

import argparse
import textwrap
from typing import Any

from ..estimators.registry import OPTIONS, REGISTRY

#: the seed of every random step when ``--random-state`` is not given (printed with the output)
DEFAULT_SEED = 42

#: flags that describe the question itself: the comparison takes them (every other flag needs --method)
QUESTION_FLAGS = frozenset(
    {
        "outcome",
        "treatment",
        "covariates",
        "cluster",
        "weights",
        "level",
        "missing",
        "treated_level",
        "random_state",
        "unit",
        "time",
        "randomized",
    }
)


def check_flags(args: argparse.Namespace) -> None:
    """Refuse a method's own flag given without ``--method`` (it would apply to some methods only)."""
    from ..errors import SpecificationError

    seen: dict[str, Any] = {}
    for option in OPTIONS:
        seen.setdefault(option.dest, option)
    for method in REGISTRY.values():
        for option in method.cli_options:
            seen.setdefault(option.dest, option)
    given = []
    for dest, option in seen.items():
        value = getattr(args, dest, None)
        if option.name in QUESTION_FLAGS or value is None or value == option.default:
            continue
        if option.kind == "bool" and value is False:
            continue
        users = [name for name, m in REGISTRY.items() if m.cli and _takes(m, option.name)]
        given.append(f"{option.flag_name} (for --method {', '.join(users)})" if users else option.flag_name)
    if given:
        raise SpecificationError(
            f"{'; '.join(given)} need(s) --method: without --method the command compares every method that "
            "applies, each with its defaults. Add --method NAME to use the flag, or remove it."
        )


def _takes(method: Any, parameter: str) -> bool:
    import inspect

    return parameter in inspect.signature(method.load()).parameters


def _design(args: argparse.Namespace) -> str:
    from ..errors import SpecificationError

    if args.unit is not None or args.time is not None:
        if args.unit is None or args.time is None:
            raise SpecificationError("a panel comparison needs both --unit and --time.")
        return "panel"
    return "rct" if args.randomized else "cross-section"


def build_model(args: argparse.Namespace, graph: Any) -> Any:
    """The causal question of the command line, as the Python API states it."""
    from ..errors import SpecificationError
    from ..model import CausalModel

    for flag in ("outcome", "treatment"):
        if getattr(args, flag) is None:
            raise SpecificationError(
                f"--{flag} is required: the comparison (no --method) asks for the effect of --treatment on --outcome."
            )
    return CausalModel(
        args.data,
        args.treatment,
        args.outcome,
        graph=graph,
        covariates=args.covariates,
        design=_design(args),
        unit=args.unit,
        time=args.time,
        weights=args.weights,
        cluster=args.cluster,
        level=args.level,
        missing=args.missing,
        treated_level=args.treated_level,
    )


def run_comparison(model: Any, seed: int) -> tuple[Any, dict[str, str], dict[str, str]]:
    """Every applicable method (random ones seeded with ``seed``), judged; failures kept with their message."""
    import inspect

    from ..errors import DeconfoundError
    from ..model import ESTIMATORS

    methods = model.applicable_methods()
    skipped = model.not_applicable()
    if not methods:
        return model.compare(), skipped, {}  # raises the error that says why nothing applies
    estimates, failed, errors = [], {}, []
    for method in methods:
        options = (
            {"random_state": seed} if "random_state" in inspect.signature(ESTIMATORS[method].load()).parameters else {}
        )
        try:
            estimates.append(model.estimate(method, **options))
        except DeconfoundError as exc:  # one method failing must not hide the others: say why instead
            failed[method] = str(exc)
            errors.append(exc)
    if not estimates:
        raise errors[0]
    return model.judge(estimates), skipped, failed


def to_dict(model: Any, comparison: Any, seed: int, skipped: dict, failed: dict, rows: bool) -> dict[str, Any]:
    """The comparison's JSON object (docs/cli-json.md, "Comparisons"): the recommended estimate under the
    keys every ``--json`` output has (null when no estimate can be recommended), then the comparison."""
    from .. import __version__
    from ..results import JSON_KEYS, _jsonable

    verdict = comparison.verdict
    rec = verdict.recommended
    out: dict[str, Any] = {key: None for key in JSON_KEYS}
    out.update({"diagnostics": {}, "warnings": [], "notes": [], "dropped_by": {}, "per_row_tables": {}})
    if rec is not None:
        out.update(rec.to_dict(rows=rows))
    status = {a.name: a.status for a in verdict.assessments}
    estimates = []
    for e in comparison.estimates:
        entry = e.to_dict(rows=rows)
        entry["status"] = "recommended" if e is rec else status.get(e.name)
        estimates.append(entry)
    out.update(
        {
            "command": "compare",
            "design": model.design,
            "adjustment_set": list(model.adjustment_set),
            "identification": "assumed" if model.graph is None else "identified",
            "seed": seed,
            "headline": verdict.headline,
            "verdict": verdict.to_dict(),
            "estimates": estimates,
            "not_applicable": dict(skipped),
            "failed": dict(failed),
            "version": __version__,
        }
    )
    return _jsonable(out)


def as_text(model: Any, comparison: Any, seed: int, skipped: dict, failed: dict) -> str:
    """The answer first (the verdict's headline), then one line per method: status, estimate, interval, why."""
    from ..verdict import round_by_se

    verdict = comparison.verdict
    digits = verdict.digits
    how = "assumed to be the confounders (no graph)" if model.graph is None else "identified by the graph"
    adjust = "{" + ", ".join(model.adjustment_set) + "}"
    lines = [f"deconfound: the effect of {model.treatment!r} on {model.outcome!r}", ""]
    lines += textwrap.wrap(verdict.headline, 100)
    lines += ["", f"Design: {model.design}; adjustment set {adjust}, {how}. Seed: {seed}.", ""]
    status = {a.name: a for a in verdict.assessments}
    recommended = getattr(verdict.recommended, "name", None)
    rows = []
    for e in comparison.estimates:
        found = status.get(e.name)
        word = "recommended" if e.name == recommended else (found.status if found else "")
        interval = f"[{round_by_se(e.ci_low, digits)}, {round_by_se(e.ci_high, digits)}]"
        rows.append((word, e.name, e.estimand, round_by_se(e.estimate, digits), interval, found))
    widths = [max(len(str(r[i])) for r in rows) for i in range(5)]
    for word, name, estimand, value, interval, found in rows:
        cells = (word, name, estimand, value, interval)
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip())
        for reason in found.reasons if found is not None else ():
            lines += textwrap.wrap(reason, 96, initial_indent="    - ", subsequent_indent="      ")
    if failed:
        lines += ["", "Could not be estimated:"] + [f"  {m}: {why}" for m, why in failed.items()]
    if skipped:
        lines += ["", "Not applicable:"] + [f"  {m}: {why}" for m, why in skipped.items()]
    lines += ["", "Run one method with --method NAME for its full output (coefficients, diagnostics)."]
    return "\n".join(lines)
