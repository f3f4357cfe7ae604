#!/usr/bin/env python3
"""Regression adjustment with HC1 standard errors: deconfound.ols against statsmodels, same data, same run.

    python bench/bench_ols.py                       # n = 100k, 1M, 5M (a few minutes, 5 GB for statsmodels)
    python bench/bench_ols.py --sizes 100k,1M        # a quicker run
    python bench/bench_ols.py --markdown             # rows for bench/RESULTS.md
    python bench/bench_ols.py --blas-threads 0       # leave the BLAS thread count at its default

Data: a pandas DataFrame of float64 columns: outcome y, binary treatment t and 20 covariates (22 columns,
176 bytes a row). Both libraries start from that frame: ours from column names, statsmodels from
``sm.add_constant(df[cols])`` (building its design matrix is part of its cost; the fit alone is also shown).
Times are the best of ``--repeat`` runs (statsmodels: at most 2 from 2M rows up). Peak memory is the
largest extra memory that Python's tracemalloc saw during one call (numpy reports its buffers to
tracemalloc), measured in a separate call so that tracing does not slow the timed ones. Both answers
are checked to agree (estimate and HC1 standard error to 1e-8).

BLAS runs single-threaded for both libraries by default (``--blas-threads 1``, set before numpy is
imported). On a machine whose cores are busy with other work, OpenBLAS threads that spin between calls
slow every call down several times, and the measurement would mostly time the contention.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import time
import tracemalloc
import warnings


def _blas_threads_from_argv() -> None:
    """Apply --blas-threads before numpy is imported (the thread count is read at load time)."""
    argv = sys.argv[1:]
    value = "1"
    for i, arg in enumerate(argv):
        if arg == "--blas-threads" and i + 1 < len(argv):
            value = argv[i + 1]
        elif arg.startswith("--blas-threads="):
            value = arg.split("=", 1)[1]
    if value != "0":
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = value


_blas_threads_from_argv()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import deconfound as dc  # noqa: E402

SUFFIX = {"k": 1_000, "m": 1_000_000}


def parse_size(text: str) -> int:
    text = text.strip().lower()
    return int(float(text[:-1]) * SUFFIX[text[-1]]) if text[-1] in SUFFIX else int(text)


def simulate(n: int, p: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    columns = {f"x{j}": rng.normal(size=n) for j in range(p)}
    index = sum(columns[f"x{j}"] for j in range(min(p, 3)))
    t = (rng.random(n) < 1 / (1 + np.exp(-index))).astype(np.float64)
    y = 1.0 + 2.0 * t + sum(0.1 * (j + 1) * columns[f"x{j}"] for j in range(p)) + rng.normal(size=n) * (1 + t)
    return pd.DataFrame({"y": y, "t": t, **columns})


def ours(df: pd.DataFrame, covariates: list[str]):
    return dc.ols(df, outcome="y", treatment="t", covariates=covariates, cov_type="HC1")


def statsmodels_fit(df: pd.DataFrame, covariates: list[str], exog=None):
    import statsmodels.api as sm

    if exog is None:
        exog = sm.add_constant(df[["t", *covariates]])
    return sm.OLS(df["y"], exog).fit(cov_type="HC1")


def best_time(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def peak_memory(fn) -> float:
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    fn()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak


def run(n: int, p: int, repeat: int, peer: bool) -> dict[str, float]:
    import statsmodels.api as sm

    df = simulate(n, p)
    covs = [f"x{j}" for j in range(p)]
    data_bytes = float(df.memory_usage(index=False).sum())
    row: dict[str, float] = {"n": n, "data_mb": data_bytes / 1e6}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        row["ours_s"], r = best_time(lambda: ours(df, covs), repeat)
        row["ours_peak_mb"] = peak_memory(lambda: ours(df, covs)) / 1e6
        if peer:
            sm_repeat = min(repeat, 2) if n >= 2_000_000 else repeat
            row["sm_s"], ref = best_time(lambda: statsmodels_fit(df, covs), sm_repeat)
            exog = sm.add_constant(df[["t", *covs]])
            row["sm_fit_s"], _ = best_time(lambda: statsmodels_fit(df, covs, exog), sm_repeat)
            del exog
            row["sm_peak_mb"] = peak_memory(lambda: statsmodels_fit(df, covs)) / 1e6
            rel = abs(r.std_error / ref.bse["t"] - 1)
            assert abs(r.estimate - ref.params["t"]) <= 1e-8 * abs(ref.params["t"]), "estimates disagree"
            assert rel <= 1e-8, f"HC1 standard errors disagree ({rel:.1e})"
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100k,1M,5M", help="comma-separated row counts (k and M suffixes)")
    parser.add_argument("--covariates", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per size (best is kept)")
    parser.add_argument("--no-peer", action="store_true", help="time deconfound only")
    parser.add_argument("--markdown", action="store_true", help="print rows for bench/RESULTS.md")
    parser.add_argument("--blas-threads", default="1", help="BLAS threads for both libraries (0: leave the default)")
    args = parser.parse_args()
    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    import statsmodels

    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    print(
        f"# {platform.machine()}, {os.cpu_count()} cores, BLAS threads: {threads}, numpy {np.__version__}, "
        f"pandas {pd.__version__}, statsmodels {statsmodels.__version__}, deconfound {dc.__version__}"
    )
    header = ("n", "data MB", "ours s", "sm s", "sm fit s", "ratio", "ratio fit", "peak MB", "peak/data", "sm peak MB")
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
    else:
        print("".join(f"{h:>12}" for h in header))
    for n in sizes:
        row = run(n, args.covariates, args.repeat, not args.no_peer)
        sm_s, sm_fit, sm_peak = row.get("sm_s", float("nan")), row.get("sm_fit_s", float("nan")), row.get("sm_peak_mb")
        cells = (
            f"{n:,}",
            f"{row['data_mb']:.0f}",
            f"{row['ours_s']:.3f}",
            f"{sm_s:.3f}",
            f"{sm_fit:.3f}",
            f"{sm_s / row['ours_s']:.1f}x",
            f"{sm_fit / row['ours_s']:.1f}x",
            f"{row['ours_peak_mb']:.0f}",
            f"{row['ours_peak_mb'] / row['data_mb']:.2f}",
            "" if sm_peak is None else f"{sm_peak:.0f}",
        )
        print("| " + " | ".join(cells) + " |" if args.markdown else "".join(f"{c:>12}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
