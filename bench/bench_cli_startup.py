#!/usr/bin/env python3
"""Start-up time of the command line: ``--help`` and an OLS estimate on the article's 1,000 rows (whole
processes), against bare Python and an import of pandas.

    python bench/bench_cli_startup.py [--runs 10]

Each command runs ``--runs`` times in a fresh interpreter; the best wall time is kept.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = str(Path(__file__).resolve().parent.parent / "src")

HEART = str(Path(tempfile.gettempdir()) / "deconfound_bench_heart.csv")

COMMANDS = {
    "python -c pass": ["-c", "pass"],
    "python -m deconfound.cli --help": ["-m", "deconfound.cli", "--help"],
    "python -c 'import pandas'": ["-c", "import pandas"],
    "python -c 'import deconfound; deconfound.ols'": ["-c", "import deconfound; deconfound.ols"],
    "deconfound estimate heart.csv --method ols (1,000 rows)": [
        *("-m", "deconfound.cli", "estimate", HEART, "-y", "Severity", "-t", "Drug", "-x", "I.H"),
        *("--method", "ols", "--quiet"),
    ],
}


def best(args: list[str], runs: int) -> float:
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, *args], env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    env = {**os.environ, "PYTHONPATH": SRC}
    write = f"import deconfound as dc; dc.datasets.heart_attack().to_csv({HEART!r}, index=False)"
    subprocess.run([sys.executable, "-c", write], env=env, check=True)
    print(f"| command | best of {runs} (ms) |")
    print("|---|---|")
    for label, args in COMMANDS.items():
        print(f"| `{label}` | {best(args, runs) * 1e3:.0f} |", flush=True)


if __name__ == "__main__":
    main()
