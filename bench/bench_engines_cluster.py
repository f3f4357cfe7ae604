#!/usr/bin/env python3
"""OLS (HC1) and IPW on a Parquet file through the Dask and Spark engines on local clusters.

    python bench/bench_engines_cluster.py --n 20M            # the issue's run (file shared with bench_engines.py)
    python bench/bench_engines_cluster.py --n 2M --only dask-ols,memory-ols

The file is bench_engines.py's (y, a 0/1 treatment t, 10 float32 covariates, 10,000 clusters; written in
chunks, reused from the temp folder when present). Each run is a fresh interpreter that starts its cluster
(Dask: LocalCluster of 2 worker processes x 1 thread; Spark: local[2], driver memory 2 GB), reads the path
lazily (dask.dataframe.read_parquet / spark.read.parquet), runs the estimate and reports the time of the
estimate alone (cluster start-up is printed apart) and the driver's peak resident memory. The reference is
deconfound's in-memory path on the same file (pandas.read_parquet + dc.ols / dc.ipw, file read included);
the estimates must agree to 1e-9 relative, and the ratio of times is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = str(HERE.parent / "src")
sys.path.insert(0, str(HERE))
from bench_engines import COLS, parse_size, write_data_duckdb  # noqa: E402

RUN = r"""
import json, sys, time, warnings
sys.path.insert(0, {src!r})
warnings.simplefilter("ignore")
engine, method, path, cols = {engine!r}, {method!r}, {path!r}, {cols!r}
if __name__ == "__main__":
    import deconfound as dc
    t0 = time.perf_counter()
    if engine == "dask":
        import dask.dataframe as dd
        from distributed import Client, LocalCluster
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
        client = Client(cluster)
    elif engine == "spark":
        from deconfound.engines.spark import local_session
        spark = local_session("local[2]", **{{"spark.driver.memory": "2g"}})
        spark.range(1).count()  # the JVM and a first job: start-up, not the estimate
    start = time.perf_counter() - t0
    t0 = time.perf_counter()
    if engine == "memory":
        import pandas as pd
        data = pd.read_parquet(path, columns=["y", "t", *cols])
    elif engine == "dask":
        data = dd.read_parquet(path, columns=["y", "t", *cols])
    else:
        data = spark.read.parquet(path).select("y", "t", *cols)
    fn = dc.ipw if method == "ipw" else dc.ols
    kw = {{}} if method == "ipw" else {{"cov_type": "HC1"}}
    r = fn(data, outcome="y", treatment="t", covariates=cols, **kw)
    elapsed = time.perf_counter() - t0
    peak = 0
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            peak = int(line.split()[1]) // 1024
    print(json.dumps({{"run": engine + "-" + method, "start": start, "seconds": elapsed, "peak_mb": peak,
                      "estimate": r.estimate, "se": r.std_error, "notes": list(r.notes)}}))
    if engine == "dask":
        client.close(); cluster.close()
    elif engine == "spark":
        spark.stop()
"""


def run(engine: str, method: str, path: str) -> dict:
    code = RUN.format(src=SRC, engine=engine, method=method, path=path, cols=COLS)
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
        fh.write(code)  # a file, not -c: Dask's worker processes re-import the main module
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, fh.name], capture_output=True, text=True, check=False, env=env)
    os.unlink(fh.name)
    if out.returncode != 0:
        raise SystemExit(f"{engine}-{method} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", default="20M")
    parser.add_argument("--path", default=None, help="reuse (or write) the Parquet file here")
    parser.add_argument("--only", default=None, help="comma-separated runs, e.g. memory-ols,dask-ols")
    args = parser.parse_args()
    n = parse_size(args.n)
    path = args.path or os.path.join(tempfile.gettempdir(), f"deconfound_engines_{n}.parquet")
    if not os.path.exists(path):
        print(f"writing {n:,} rows to {path}", flush=True)
        write_data_duckdb(n, path)
    runs = [f"{e}-{m}" for m in ("ols", "ipw") for e in ("memory", "dask", "spark")]
    if args.only:
        runs = [r for r in runs if r in args.only.split(",")]
    load = os.getloadavg()[0]
    print(f"{n:,} rows, {os.cpu_count()} cores, load {load:.1f} at start", flush=True)
    results: dict[str, dict] = {}
    for name in runs:
        engine, method = name.split("-")
        res = run(engine, method, path)
        results[name] = res
        ref = results.get(f"memory-{method}")
        line = f"{name:12s} {res['seconds']:8.1f} s  peak {res['peak_mb']:6d} MB  start {res['start']:5.1f} s"
        if ref is not None and engine != "memory":
            for key in ("estimate", "se"):
                rel = abs(res[key] - ref[key]) / abs(ref[key])
                assert rel < 1e-9, (name, key, res[key], ref[key])
            line += f"  {res['seconds'] / ref['seconds']:.2f}x in-memory, same estimate and SE (1e-9)"
        print(line, flush=True)
    print(f"load {os.getloadavg()[0]:.1f} at end", flush=True)


if __name__ == "__main__":
    main()
