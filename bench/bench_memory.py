#!/usr/bin/env python3
"""Whole-process peak memory (and time) of clustered OLS and IPW read from a Parquet file.

    python bench/bench_memory.py --n 20M        # the issue's size (writes a 1.9 GB file in chunks)
    python bench/bench_memory.py --n 2M         # a quick run

The file holds an outcome ``y``, a 0/1 treatment ``t``, 10 float64 covariates and an integer cluster
column ``g`` (1,000 clusters); it is written in chunks of 1M rows, so the writer never holds it whole.
Each estimate then runs in its own fresh interpreter that passes the *path* to deconfound (the library
reads only the columns it uses): ``ols(path, ..., cluster="g")`` and ``ipw(path, ...)`` (ATE, with its
M-estimation standard error and balance table). Reported: the process's peak resident set
(``VmHWM``), the same after only importing the libraries (the baseline), the peak over the
baseline, and that over the size of the selected data (the columns used, as float64).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

P = 10
COLS = [f"x{j}" for j in range(P)]
SRC = str(Path(__file__).resolve().parent.parent / "src")
CHUNK = 1_000_000


def parse_size(text: str) -> int:
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}
    return int(float(text[:-1]) * scale[text[-1]]) if text[-1] in scale else int(text)


def write_data(n: int, path: str, seed: int = 0) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    beta_t, beta_y = np.linspace(0.5, 0.05, P), np.linspace(1.0, 0.1, P)
    writer = None
    for start in range(0, n, CHUNK):
        m = min(CHUNK, n - start)
        x = rng.normal(size=(m, P))
        t = (rng.random(m) < 1 / (1 + np.exp(-(-0.3 + x @ beta_t)))).astype(np.int64)
        g = rng.integers(0, 1000, size=m)
        y = 1.0 + 2.0 * t + x @ beta_y + rng.normal(size=m) + 0.1 * (g % 7)
        table = pa.table({**{c: x[:, j] for j, c in enumerate(COLS)}, "t": t, "y": y, "g": g})
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    assert writer is not None
    writer.close()


def _hwm_mb() -> float:
    """This process's peak resident set (VmHWM; ``ru_maxrss`` would carry over the parent's peak)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024


def worker(method: str, path: str) -> None:
    import warnings

    import numpy  # noqa: F401
    import pandas  # noqa: F401

    import deconfound as dc

    fn = getattr(dc, method)
    base = _hwm_mb()
    kwargs = {"cluster": "g"} if method == "ols" else {}
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = fn(path, outcome="y", treatment="t", covariates=COLS, **kwargs)
    seconds = time.perf_counter() - start
    peak = _hwm_mb()
    out = {"method": method, "seconds": seconds, "base_mb": base, "peak_mb": peak, "estimate": est.estimate}
    print(json.dumps({**out, "se": est.std_error}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", default="20M")
    parser.add_argument("--methods", default="ols,ipw")
    parser.add_argument("--keep", default=None, help="write the file here and keep it (reused when present)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.data)
        return
    n = parse_size(args.n)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or str(Path(tmp) / "data.parquet")
        if not os.path.exists(path):
            write_data(n, path)
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": SRC}
        print(f"n = {n:,}; file {os.path.getsize(path) / 2**20:,.0f} MB; fresh process per method\n")
        print("| method | selected data MB | time s | baseline MB | peak RSS MB | peak - baseline MB | over data |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for method in args.methods.split(","):
            cmd = [sys.executable, __file__, "--worker", method, "--data", path]
            done = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if done.returncode:
                print(f"{method} failed:\n{done.stderr[-2000:]}", file=sys.stderr)
                continue
            res = json.loads(done.stdout.strip().splitlines()[-1])
            columns = P + 2 + (1 if method == "ols" else 0)
            data_mb = n * columns * 8 / 2**20
            extra = res["peak_mb"] - res["base_mb"]
            print(
                f"| {method} | {data_mb:,.0f} | {res['seconds']:.2f} | {res['base_mb']:,.0f} | "
                f"{res['peak_mb']:,.0f} | {extra:,.0f} | {extra / data_mb:.2f}x |",
                flush=True,
            )


if __name__ == "__main__":
    main()
