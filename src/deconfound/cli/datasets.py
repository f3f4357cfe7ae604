"""``deconfound datasets [NAME] [-o FILE]``: the library's example data as a file.

Without NAME it lists the data sets; ``NAME -o heart.csv`` writes one as CSV (or Parquet for ``.parquet``),
``NAME`` alone prints it as CSV. The generators live in :mod:`deconfound.datasets`; the simulated ones are
drawn with ``--seed`` (default 42), so a command always writes the same file.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

#: name -> (function in deconfound.datasets, takes a seed (its keyword), fixed keywords, what it is)
DATASETS: dict[str, tuple[str, str | None, dict[str, Any], str]] = {
    "heart-attack": (
        "heart_attack",
        None,
        {},
        "the article's patients: I.H (initial health) confounds Drug and Severity; true effect -10",
    ),
    "heart-attack-panel": (
        "heart_attack_panel",
        None,
        {},
        "the article's two-period panel: patient, Post, Drug, Quality_of_Care, Severity; true effect -10",
    ),
    "ice-cream": ("ice_cream", None, {}, "the article's two ice-cream shops before and after a heat wave (DiD +200)"),
    "staggered-panel": (
        "simulate_panel",
        "random_state",
        {"dynamic": 0.3},
        "a panel with staggered adoption: unit, time, first_treated (0 = never), treated, x, y",
    ),
    "rct": ("simulate_rct", "random_state", {}, "a simulated randomized trial (treatment, outcome, x0..)"),
    "observational": (
        "simulate_observational",
        "random_state",
        {},
        "simulated confounded data: x0.. drive treatment and outcome",
    ),
    "heterogeneous": (
        "simulate_heterogeneous",
        "random_state",
        {},
        "simulated effects that vary with x0 (for the meta-learners)",
    ),
    "collider": ("simulate_collider", "random_state", {}, "a confounder X and a collider C (adjusting for C biases)"),
    "m-bias": ("simulate_m_bias", "random_state", {}, "M-bias: C is a common effect of two causes A and B"),
}

DEFAULT_SEED = 42


def add_parser(sub: Any) -> None:
    p = sub.add_parser("datasets", help="list the example data sets, or write one to a file (-o heart.csv)")
    p.add_argument("name", nargs="?", help="the data set (without it: the list), e.g. heart-attack")
    p.add_argument("--output", "-o", help="file to write: .csv or .parquet (without it: CSV on standard output)")
    p.add_argument("--seed", type=int, help=f"seed of a simulated data set (default {DEFAULT_SEED})")


def cmd_datasets(args: argparse.Namespace) -> int:
    from ..errors import SpecificationError

    if args.name is None:
        if args.output is not None:
            raise SpecificationError(
                "--output needs a data set name, e.g. deconfound datasets heart-attack -o heart.csv"
            )
        width = max(len(n) for n in DATASETS)
        for name, (_, _, _, about) in DATASETS.items():
            print(f"{name:<{width}}  {about}")
        print("\nWrite one with: deconfound datasets NAME -o FILE.csv")
        return 0
    name = args.name
    if name not in DATASETS:
        import difflib

        close = difflib.get_close_matches(name, DATASETS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise SpecificationError(
            f"No data set {name!r}; the data sets are {', '.join(DATASETS)} (deconfound datasets lists them).{hint}"
        )
    function, seed_keyword, fixed, _ = DATASETS[name]
    if args.seed is not None and seed_keyword is None:
        raise SpecificationError(f"{name} is fixed data (the article's): it takes no --seed.")
    frame = _make(function, seed_keyword, fixed, DEFAULT_SEED if args.seed is None else args.seed)
    if args.output is None:
        try:
            frame.to_csv(sys.stdout, index=False)
        except BrokenPipeError:  # `deconfound datasets rct | head`: the reader has what it wanted
            sys.stderr.close()
        return 0
    _write(frame, args.output)
    print(f"wrote {args.output} ({len(frame)} rows: {', '.join(map(str, frame.columns))})", file=sys.stderr)
    return 0


def _make(function: str, seed_keyword: str | None, fixed: dict[str, Any], seed: int) -> Any:
    from .. import datasets

    kwargs = dict(fixed)
    if seed_keyword is not None:
        kwargs[seed_keyword] = seed
    frame = getattr(datasets, function)(**kwargs)
    frame.attrs = {}  # the true effect is the library's to know, not a column of the file
    return frame


def _write(frame: Any, path: str) -> None:
    from .._core.paths import output_file
    from ..errors import SpecificationError

    suffix = str(path).lower().rsplit(".", 1)[-1] if "." in str(path) else ""
    if suffix not in ("csv", "parquet", "pq"):
        raise SpecificationError(f"--output {path}: write a .csv or .parquet file, e.g. -o heart.csv.")
    out = output_file(path, "--output", example="heart.csv")
    if suffix == "csv":
        frame.to_csv(out, index=False)
    else:
        frame.to_parquet(out, index=False)
