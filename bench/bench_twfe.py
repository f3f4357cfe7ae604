#!/usr/bin/env python3
"""Two-way fixed effects with unit-clustered standard errors: deconfound vs pyfixest vs linearmodels.

    python bench/bench_twfe.py                      # 10k x 20, 100k x 20, 200k x 25 unit-periods
    python bench/bench_twfe.py --sizes 10k --repeat 1   # a quick run
    python bench/bench_twfe.py --record             # also append the table to bench/RESULTS.md
    python bench/bench_twfe.py --sizes 200k --layouts balanced,unbalanced --cold-cache
    python bench/bench_twfe.py --clock cpu          # CPU time (all threads) instead of wall time

``--layouts``: "balanced" and/or "unbalanced" (a fifth of the unit-periods dropped at random, so units
have 1-25 periods and the within transformation needs many alternating sweeps). "first s" is the first
fit in a fresh process (after reading the data: lazy imports, loading numba's compiled functions from its
cache, pyfixest's own JIT); ``--cold-cache`` gives each process an empty numba cache, so "first s" also
includes compiling. ``--kernels numba,numpy`` runs deconfound once per kernel implementation.

Model: y ~ d + x | unit + time, standard errors clustered by unit, on a balanced panel with staggered
adoption (deconfound also runs its staggered-timing check and Goodman-Bacon decomposition, which the
peers do not). Each library runs in its own process on the same Parquet file: one warm-up fit (imports,
JIT compilation), then ``--repeat`` timed fits (median reported). Peak memory is the growth of the
process's peak resident set (VmHWM, reset after the warm-up) over its size before the timed fits, so
compiled (Rust, C) allocations count too. The coefficients of all three are checked to agree.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"
SIZES = {"10k": (10_000, 20), "100k": (100_000, 20), "200k": (200_000, 25)}
LIBRARIES = ("deconfound", "pyfixest", "linearmodels")


def make_data(units: int, periods: int, layout: str = "balanced") -> Path:
    import numpy as np
    import pandas as pd

    suffix = "" if layout == "balanced" else "_unbalanced"
    path = DATA / f"twfe_{units}x{periods}{suffix}.parquet"
    if path.exists():
        return path
    DATA.mkdir(exist_ok=True)
    rng = np.random.default_rng(20240611)
    unit = np.repeat(np.arange(units), periods)
    t = np.tile(np.arange(periods), units)
    start = rng.choice([periods // 3, periods // 2, 2 * periods // 3, 10 * periods], units)[unit]
    d = (t >= start).astype(float)
    x = rng.normal(size=unit.size)
    y = rng.normal(size=units)[unit] + 0.05 * t + 1.5 * d + 0.5 * x + rng.normal(size=unit.size)
    frame = pd.DataFrame({"unit": unit, "time": t, "d": d, "x": x, "y": y})
    if layout == "unbalanced":
        frame = frame[rng.uniform(size=len(frame)) >= 0.2].reset_index(drop=True)
    frame.to_parquet(path, index=False)
    return path


def _status(field: str) -> int:
    text = Path("/proc/self/status").read_text()
    return int(re.search(rf"{field}:\s+(\d+)", text).group(1)) * 1024  # type: ignore[union-attr]


def _fit(library: str, df):
    if library == "deconfound":
        import deconfound as dc

        r = dc.twfe(df, outcome="y", treatment="d", covariates=["x"], unit="unit", time="time")
        return float(r.coefficients.coef[0]), float(r.coefficients.std_err[0])
    if library == "pyfixest":
        import pyfixest as pf

        m = pf.feols("y ~ d + x | unit + time", data=df, vcov={"CRV1": "unit"})
        return float(m.coef().iloc[0]), float(m.se().iloc[0])
    from linearmodels import PanelOLS

    panel = df.set_index(["unit", "time"])
    res = PanelOLS(panel["y"], panel[["d", "x"]], entity_effects=True, time_effects=True).fit(
        cov_type="clustered", cluster_entity=True
    )
    return float(res.params.iloc[0]), float(res.std_errors.iloc[0])


def child(library: str, path: str, repeat: int) -> None:
    import pandas as pd

    df = pd.read_parquet(path)
    warnings.simplefilter("ignore")
    clock = time.process_time if os.environ.get("BENCH_CLOCK") == "cpu" else time.perf_counter
    start = clock()
    _fit(library, df)  # the first call: imports and JIT compilation (or loading it from the cache)
    first = clock() - start
    gc.collect()
    base = _status("VmRSS")
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset the peak resident set
        reset = True
    except OSError:
        reset = False
    times = []
    for _ in range(repeat):
        start = clock()
        coef, se = _fit(library, df)
        times.append(clock() - start)
    peak = (_status("VmHWM") - base) / 2**20 if reset else float("nan")
    print(json.dumps({"times": times, "first": first, "peak_mb": peak, "coef": coef, "se": se}))


def run(library: str, path: Path, repeat: int, kernels: str = "", cold: bool = False) -> dict:
    import tempfile

    cmd = [sys.executable, __file__, "--child", library, "--path", str(path), "--repeat", str(repeat)]
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    if kernels:
        env["DECONFOUND_KERNELS"] = kernels
    if cold:
        env["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="numba-cold-")
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{library} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10k,100k,200k", help="comma-separated among 10k, 100k, 200k")
    parser.add_argument("--layouts", default="balanced", help="comma-separated: balanced, unbalanced")
    parser.add_argument("--kernels", default="numba", help="deconfound's kernels, comma-separated: numba, numpy")
    parser.add_argument("--peers", default=",".join(LIBRARIES[1:]), help="peers to run (default: both)")
    parser.add_argument("--cold-cache", action="store_true", help="an empty numba cache for every process")
    parser.add_argument(
        "--clock", choices=("wall", "cpu"), default="wall", help="wall time (default) or the process's CPU time"
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed fits per library and size (median)")
    parser.add_argument("--record", action="store_true", help="append the table to bench/RESULTS.md")
    parser.add_argument("--child")
    parser.add_argument("--path")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.path, args.repeat)
        return
    os.environ["BENCH_CLOCK"] = args.clock  # read by the child processes
    peers = [p for p in args.peers.split(",") if p]
    header = (
        "| units x periods | layout | rows | ours kernels | ours s | ours first s | "
        + " | ".join(f"{p} s | {p} first s | {p} / ours" for p in peers)
        + " | ours peak MB | "
        + " | ".join(f"{p} peak MB" for p in peers)
        + " |\n|"
        + " --- |" * 2
        + " ---: |" * (4 + 3 * len(peers) + 1 + len(peers))
    )
    lines = [header]
    print(header, flush=True)
    for name in args.sizes.split(","):
        units, periods = SIZES[name.strip()]
        for layout in args.layouts.split(","):
            path = make_data(units, periods, layout)
            res = {lib: run(lib, path, args.repeat, cold=args.cold_cache) for lib in peers}
            for kern in args.kernels.split(","):
                ours = run("deconfound", path, args.repeat, kernels=kern, cold=args.cold_cache)
                coefs = [ours["coef"]] + [res[lib]["coef"] for lib in peers]
                if max(coefs) - min(coefs) > 1e-6 * max(1.0, abs(coefs[0])):
                    raise SystemExit(f"coefficients disagree: {dict(zip(['deconfound', *peers], coefs))}")
                t_ours = statistics.median(ours["times"])
                cells = []
                for lib in peers:
                    t = statistics.median(res[lib]["times"])
                    cells.append(f"{t:.3f} | {res[lib]['first']:.3f} | {t / t_ours:.1f}")
                rows = pd_rows(path)
                line = (
                    f"| {units:,} x {periods} | {layout} | {rows:,} | {kern} | {t_ours:.3f} | {ours['first']:.3f} | "
                    + " | ".join(cells)
                    + f" | {ours['peak_mb']:.0f} | "
                    + " | ".join(f"{res[lib]['peak_mb']:.0f}" for lib in peers)
                    + " |"
                )
                lines.append(line)
                print(line, flush=True)
    if args.record:
        with open(HERE / "RESULTS.md", "a") as fh:
            fh.write("\n" + "\n".join(lines) + "\n")


def pd_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


if __name__ == "__main__":
    main()
