#!/usr/bin/env python3
"""Two-way fixed effects with unit-clustered standard errors: deconfound vs pyfixest vs linearmodels.

    python bench/bench_twfe.py                      # 10k x 20, 100k x 20, 200k x 25 unit-periods
    python bench/bench_twfe.py --sizes 10k --repeat 1   # a quick run
    python bench/bench_twfe.py --record             # also append the table to bench/RESULTS.md

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


def make_data(units: int, periods: int) -> Path:
    import numpy as np
    import pandas as pd

    path = DATA / f"twfe_{units}x{periods}.parquet"
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
    pd.DataFrame({"unit": unit, "time": t, "d": d, "x": x, "y": y}).to_parquet(path, index=False)
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
    _fit(library, df)  # warm-up: imports and JIT compilation are not part of the measurement
    gc.collect()
    base = _status("VmRSS")
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset the peak resident set
        reset = True
    except OSError:
        reset = False
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        coef, se = _fit(library, df)
        times.append(time.perf_counter() - start)
    peak = (_status("VmHWM") - base) / 2**20 if reset else float("nan")
    print(json.dumps({"times": times, "peak_mb": peak, "coef": coef, "se": se}))


def run(library: str, path: Path, repeat: int) -> dict:
    cmd = [sys.executable, __file__, "--child", library, "--path", str(path), "--repeat", str(repeat)]
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{library} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10k,100k,200k", help="comma-separated among 10k, 100k, 200k")
    parser.add_argument("--repeat", type=int, default=3, help="timed fits per library and size (median)")
    parser.add_argument("--record", action="store_true", help="append the table to bench/RESULTS.md")
    parser.add_argument("--child")
    parser.add_argument("--path")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.path, args.repeat)
        return
    header = (
        "| units x periods | rows | deconfound (s) | pyfixest (s) | linearmodels (s) | pyfixest / ours | "
        "linearmodels / ours | ours peak MB | pyfixest peak MB | linearmodels peak MB |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    )
    lines = [header]
    print(header, flush=True)
    for name in args.sizes.split(","):
        units, periods = SIZES[name.strip()]
        path = make_data(units, periods)
        res = {lib: run(lib, path, args.repeat) for lib in LIBRARIES}
        coefs = [res[lib]["coef"] for lib in LIBRARIES]
        if max(coefs) - min(coefs) > 1e-6 * max(1.0, abs(coefs[0])):
            raise SystemExit(f"coefficients disagree: {dict(zip(LIBRARIES, coefs))}")
        med = {lib: statistics.median(res[lib]["times"]) for lib in LIBRARIES}
        line = (
            f"| {units:,} x {periods} | {units * periods:,} | {med['deconfound']:.3f} | {med['pyfixest']:.3f} | "
            f"{med['linearmodels']:.3f} | {med['pyfixest'] / med['deconfound']:.1f} | "
            f"{med['linearmodels'] / med['deconfound']:.1f} | {res['deconfound']['peak_mb']:.0f} | "
            f"{res['pyfixest']['peak_mb']:.0f} | {res['linearmodels']['peak_mb']:.0f} |"
        )
        lines.append(line)
        print(line, flush=True)
    if args.record:
        with open(HERE / "RESULTS.md", "a") as fh:
            fh.write("\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
