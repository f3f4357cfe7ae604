#!/usr/bin/env python3
"""TWFE (unit and year effects absorbed, clustered by unit) on a Parquet panel through the DuckDB engine,
against deconfound's in-memory path and pyfixest, each in a fresh interpreter with its file read.

    python bench/bench_engines_twfe.py --n 20M                 # DuckDB and in-memory
    python bench/bench_engines_twfe.py --n 2M --peer           # also pyfixest (holds every row as pandas)

The panel: ``n / 0.9 / 40`` units over 40 years with 10% of the rows left out at random (unbalanced, so
the alternating projections iterate), a staggered 0/1 treatment ``t`` (int8), two covariates ``x0``,
``x1`` (float32), ``unit`` (int32) and ``year`` (int16), generated and streamed to the file by DuckDB.
Printed per run: wall seconds, CPU seconds of the process (``time.process_time``: the machine is shared, so
compare these), peak resident set (``VmHWM``), the estimate and SE; and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = str(Path(__file__).resolve().parent.parent / "src")
YEARS = 40


def parse_size(text: str) -> int:
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}
    return int(float(text[:-1]) * scale[text[-1]]) if text[-1] in scale else int(text)


def write_panel(n: int, path: str) -> None:
    import duckdb

    units = max(2, int(n / 0.9 / YEARS))
    con = duckdb.connect()
    con.execute("SET memory_limit='2GB'")
    con.execute("SELECT setseed(0.25)")
    normal = "sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())"
    query = f"""
        WITH cells AS (
            SELECT CAST(i // {YEARS} AS INTEGER) AS unit, CAST(2000 + i % {YEARS} AS SMALLINT) AS year
            FROM range({units * YEARS}) r(i) WHERE random() > 0.1
        ),
        adopt AS (SELECT unit, CASE WHEN hash(CAST(unit AS BIGINT) * 7919) % 3 = 0 THEN 9999
                                    ELSE 2005 + hash(unit) % 30 END AS first FROM (SELECT DISTINCT unit FROM cells)),
        rows AS (
            SELECT c.unit, c.year, CAST(c.year >= a.first AS TINYINT) AS t,
                   CAST({normal} AS FLOAT) AS x0, CAST({normal} AS FLOAT) AS x1
            FROM cells c JOIN adopt a USING (unit)
        )
        SELECT 0.001 * (unit % 997) + 0.05 * (year - 2000) + 1.5 * t + 0.5 * x0 - 0.2 * x1 + {normal} AS y,
               t, x0, x1, unit, year
        FROM rows ORDER BY unit, year
    """
    con.execute(f"COPY ({query}) TO '{path}' (FORMAT PARQUET, ROW_GROUP_SIZE 1048576)")


RUN = r"""
import json, sys, time, warnings
sys.path.insert(0, {src!r})
warnings.simplefilter("ignore")
kind, path, limit = {kind!r}, {path!r}, {limit!r}
t0, c0 = time.perf_counter(), time.process_time()
notes = ""
if kind == "pyfixest":
    import pandas as pd, pyfixest as pf
    df = pd.read_parquet(path)
    fit = pf.feols("y ~ t + x0 + x1 | unit + year", data=df, vcov={{"CRV1": "unit"}})
    est, se = float(fit.coef()["t"]), float(fit.se()["t"])
else:
    import deconfound as dc
    from deconfound.engines.duckdb import DuckDBEngine
    if kind == "memory":
        import pandas as pd
        data = pd.read_parquet(path)
    else:
        data = DuckDBEngine(path, memory_limit=limit)
    r = dc.twfe(data, outcome="y", treatment="t", unit="unit", time="year", covariates=["x0", "x1"])
    est, se = r.estimate, r.std_error
    notes = next((n for n in r.notes if "passes" in n), "") + f"; sweeps {{r.coefficients.stats['demean_iterations']}}"
elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
peak = 0
for line in open("/proc/self/status"):
    if line.startswith("VmHWM"):
        peak = int(line.split()[1]) // 1024
print(json.dumps({{"kind": kind, "seconds": elapsed, "cpu": cpu, "peak_mb": peak, "estimate": est, "se": se,
                  "notes": notes}}))
"""


def run(kind: str, path: str, limit: str) -> dict:
    code = RUN.format(src=SRC, kind=kind, path=path, limit=limit)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", default="2M")
    parser.add_argument("--memory-limit", default="2GB")
    parser.add_argument("--path", default=None, help="reuse (or write) the Parquet file here")
    parser.add_argument("--peer", action="store_true", help="also pyfixest")
    args = parser.parse_args()
    n = parse_size(args.n)
    path = args.path or os.path.join(tempfile.gettempdir(), f"deconfound_twfe_{n}.parquet")
    if not os.path.exists(path):
        t0 = time.perf_counter()
        write_panel(n, path)
        print(f"wrote {path} ({os.path.getsize(path) / 2**20:.0f} MiB) in {time.perf_counter() - t0:.0f} s")
    print("uptime:", os.popen("uptime").read().strip())
    kinds = ["duckdb", "memory"] + (["pyfixest"] if args.peer else [])
    results = {}
    for kind in kinds:
        results[kind] = r = run(kind, path, args.memory_limit)
        print(
            f"{kind:9s} {r['seconds']:8.1f} s wall {r['cpu']:8.1f} s cpu  peak {r['peak_mb']:6d} MB  "
            f"estimate {r['estimate']:.9f}  se {r['se']:.6g}  {r['notes']}"
        )
    base = results["memory"]
    for kind in kinds:
        if kind != "memory":
            r = results[kind]
            print(f"{kind} / in-memory: wall {r['seconds'] / base['seconds']:.2f}x, cpu {r['cpu'] / base['cpu']:.2f}x")
    print("uptime:", os.popen("uptime").read().strip())


if __name__ == "__main__":
    main()
