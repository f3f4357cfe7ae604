#!/usr/bin/env python3
"""Estimates on a Parquet file through the DuckDB engine: time and whole-process peak memory.

    python bench/bench_engines.py --n 200M --memory-limit 2GB            # the issue's scale run
    python bench/bench_engines.py --n 20M --compare                      # against statsmodels and in-memory

The file holds an outcome ``y`` (float64), a 0/1 treatment ``t`` (int8), 10 covariates ``x0..x9``
(float32, to halve the disk and read volume) and a cluster column ``g`` (int32, 10,000 clusters). It is
written in chunks of 2M rows with pyarrow's ParquetWriter, so the writer never holds it whole.

Each estimate runs in a fresh interpreter (so its peak resident set, ``VmHWM``, is its own) and reads
the *path* through ``deconfound.engines.DuckDBEngine(path, memory_limit=...)``: OLS with HC1, OLS
clustered by ``g``, IPW (ATE, logistic propensity, M-estimation SE). With ``--compare``: the same OLS
HC1 with statsmodels (pandas.read_parquet + sm.OLS(...).fit(cov_type="HC1")) and with deconfound's
in-memory path (pandas.read_parquet + dc.ols(frame)), each including its file read; ratios printed.
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

P = 10
COLS = [f"x{j}" for j in range(P)]
SRC = str(Path(__file__).resolve().parent.parent / "src")
CHUNK = 2_000_000


def parse_size(text: str) -> int:
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}
    return int(float(text[:-1]) * scale[text[-1]]) if text[-1] in scale else int(text)


def write_data(n: int, path: str, seed: int = 0) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    beta = np.linspace(0.5, -0.5, P)
    writer = None
    for start in range(0, n, CHUNK):
        m = min(CHUNK, n - start)
        x = rng.standard_normal((m, P), dtype=np.float32)
        index = 0.4 * x[:, 0] - 0.3 * x[:, 1]
        t = (rng.random(m) < 1.0 / (1.0 + np.exp(-index))).astype(np.int8)
        g = rng.integers(0, 10_000, m, dtype=np.int32)
        y = 1.0 + 2.0 * t + x @ beta + rng.standard_normal(m) + 0.01 * (g % 7)
        cols = {"y": y, "t": t, **{c: x[:, j] for j, c in enumerate(COLS)}, "g": g}
        table = pa.table(cols)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=1 << 20)
    assert writer is not None
    writer.close()


RUN = r"""
import json, sys, time, warnings
sys.path.insert(0, {src!r})
warnings.simplefilter("ignore")
kind, path, limit = {kind!r}, {path!r}, {limit!r}
cols = {cols!r}
t0 = time.perf_counter()
if kind == "statsmodels":
    import pandas as pd, statsmodels.api as sm
    df = pd.read_parquet(path, columns=["y", "t", *cols])
    X = sm.add_constant(df[["t", *cols]].astype("float64"))
    res = sm.OLS(df["y"], X).fit(cov_type="HC1")
    est, se = float(res.params["t"]), float(res.bse["t"])
else:
    import deconfound as dc
    from deconfound.engines.duckdb import DuckDBEngine
    if kind == "memory":
        import pandas as pd
        data = pd.read_parquet(path, columns=["y", "t", *cols])
    else:
        data = DuckDBEngine(path, memory_limit=limit)
    if kind.endswith("ipw"):
        r = dc.ipw(data, outcome="y", treatment="t", covariates=cols)
    elif kind.endswith("cluster"):
        r = dc.ols(data, outcome="y", treatment="t", covariates=cols, cluster="g")
    else:
        r = dc.ols(data, outcome="y", treatment="t", covariates=cols, cov_type="HC1")
    est, se = r.estimate, r.std_error
elapsed = time.perf_counter() - t0
peak = 0
for line in open("/proc/self/status"):
    if line.startswith("VmHWM"):
        peak = int(line.split()[1]) // 1024
print(json.dumps({{"kind": kind, "seconds": elapsed, "peak_mb": peak, "estimate": est, "se": se}}))
"""


def run(kind: str, path: str, limit: str) -> dict:
    code = RUN.format(src=SRC, kind=kind, path=path, limit=limit, cols=COLS)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", default="2M")
    parser.add_argument("--memory-limit", default="2GB")
    parser.add_argument("--path", default=None, help="reuse (or write) the Parquet file here")
    parser.add_argument("--compare", action="store_true", help="also statsmodels and the in-memory path")
    parser.add_argument("--only", default=None, help="comma-separated kinds to run")
    args = parser.parse_args()
    n = parse_size(args.n)
    path = args.path or os.path.join(tempfile.gettempdir(), f"deconfound_engines_{n}.parquet")
    if not os.path.exists(path):
        t0 = time.perf_counter()
        write_data(n, path)
        print(
            f"wrote {n:,} rows to {path} ({os.path.getsize(path) / 2**30:.2f} GiB) in {time.perf_counter() - t0:.0f} s"
        )
    kinds = ["duckdb-ols-hc1", "duckdb-ols-cluster", "duckdb-ipw"]
    if args.compare:
        kinds += ["memory", "statsmodels"]
    if args.only:
        kinds = args.only.split(",")
    results = {}
    for kind in kinds:
        results[kind] = r = run(kind, path, args.memory_limit)
        print(
            f"{kind:20s} {r['seconds']:9.1f} s  peak {r['peak_mb']:6d} MB  "
            f"estimate {r['estimate']:.6f}  se {r['se']:.3g}"
        )
    if "memory" in results and "duckdb-ols-hc1" in results:
        print(f"duckdb / in-memory time: {results['duckdb-ols-hc1']['seconds'] / results['memory']['seconds']:.2f}x")
    if "statsmodels" in results and "duckdb-ols-hc1" in results:
        print(
            "statsmodels / duckdb time: "
            f"{results['statsmodels']['seconds'] / results['duckdb-ols-hc1']['seconds']:.2f}x"
        )
    print("uptime:", os.popen("uptime").read().strip())


if __name__ == "__main__":
    main()
