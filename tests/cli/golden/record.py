"""Record the ``--json`` output of the article's commands (run from the repository root).

    python tests/cli/golden/record.py        # rewrites tests/cli/golden/*.json

The files were recorded from the code before the seams refactor (issue 10); ``test_json_golden.py``
checks that every method still prints the same keys and values (the version string aside). Re-record
only when a change of output is intended, and say so in the commit.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent

HEART = ["-y", "Severity", "-t", "Drug", "-x", "I.H"]
PANEL = ["--outcome", "y", "--unit", "unit", "--time", "time"]

#: name -> (data file key, argv after the data file)
COMMANDS: dict[str, tuple[str, list[str]]] = {
    "naive": ("heart", [*HEART, "--method", "naive"]),
    "ols": ("heart", [*HEART, "--method", "ols", "--cov-type", "HC1"]),
    "ols_formula": ("heart", ["--formula", "Severity ~ Drug + Q('I.H')", "-t", "Drug"]),
    "lin": ("heart", [*HEART, "--method", "lin"]),
    "psm": ("heart", [*HEART, "--method", "psm", "--caliper", "0.2", "--caliper-scale", "sd"]),
    "ipw": ("heart", [*HEART, "--method", "ipw"]),
    "aipw": ("heart", [*HEART, "--method", "aipw", "--estimand", "ATT"]),
    "did": ("ice", ["--method", "did", "--outcome", "sales", "--treated", "treated", "--post", "post"]),
    "twfe": ("panel", ["--method", "twfe", *PANEL, "--treatment", "treated"]),
    "event_study": (
        "panel",
        ["--method", "event-study", *PANEL, "--first-treated", "first_treated", "--window", "-4,4"],
    ),
    "staggered": (
        "panel",
        ["--method", "staggered", *PANEL, "--first-treated", "first_treated", "--aggregate", "event"],
    ),
    "panel": ("panel", ["--method", "panel", *PANEL, "--treatment", "treated"]),
}


def write_data(root: Path) -> dict[str, Path]:
    import deconfound as dc

    paths = {"heart": root / "heart.csv", "ice": root / "ice.csv", "panel": root / "panel.csv"}
    dc.datasets.heart_attack().to_csv(paths["heart"], index=False)
    dc.datasets.ice_cream().to_csv(paths["ice"], index=False)
    dc.datasets.simulate_panel(n_units=200, dynamic=0.2, random_state=1).to_csv(paths["panel"], index=False)
    return paths


def run(name: str, paths: dict[str, Path]) -> dict:
    """The parsed ``--json`` output of one command, with the version string removed."""
    from deconfound.cli import main

    key, argv = COMMANDS[name]
    out = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        code = main(["estimate", str(paths[key]), *argv, "--json", "--quiet"])
    if code != 0:
        raise RuntimeError(f"{name}: exit {code}")
    return scrub(json.loads(out.getvalue()))


def scrub(value):
    """Drop what legitimately differs between runs: the version string."""
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items() if k != "version"}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_data(Path(tmp))
        for name in COMMANDS:
            (HERE / f"{name}.json").write_text(json.dumps(run(name, paths), indent=1, sort_keys=True) + "\n")
            print("recorded", name)


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main()
