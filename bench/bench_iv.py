#!/usr/bin/env python3
"""Instrumental variables (2SLS) with robust and with clustered standard errors: deconfound.iv against
linearmodels' IV2SLS and pyfixest's feols IV, same data, same run.

    python bench/bench_iv.py                        # n = 1M and 5M
    python bench/bench_iv.py --sizes 100k --repeat 1 # a quick check
    python bench/bench_iv.py --markdown             # rows for bench/RESULTS.md

Data: a pandas DataFrame of float64 columns: outcome y, one endogenous regressor d, one instrument z, 5
covariates and an integer cluster column g (1000 clusters): 9 columns, 72 bytes a row. Every library starts
from that frame (linearmodels from frame slices with a constant column added, pyfixest from its formula
``y ~ x0 + ... + x4 | d ~ z``). Times are the best of ``--repeat`` runs; peak memory is the largest extra
memory tracemalloc saw during one call (numpy reports its buffers to tracemalloc). The three answers are
checked to agree (estimate and standard error to 1e-8 relative). BLAS single-threaded (``--blas-threads``).
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
P = 5


def parse_size(text: str) -> int:
    text = text.strip().lower()
    return int(float(text[:-1]) * SUFFIX[text[-1]]) if text[-1] in SUFFIX else int(text)


def simulate(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    columns = {f"x{j}": rng.normal(size=n) for j in range(P)}
    z = rng.normal(size=n)
    u = rng.normal(size=n)
    d = z + 0.3 * columns["x0"] + u + rng.normal(size=n)
    y = 1.0 + 0.5 * d + sum(0.1 * (j + 1) * columns[f"x{j}"] for j in range(P)) + u + rng.normal(size=n)
    g = rng.integers(0, 1000, n).astype(np.float64)
    return pd.DataFrame({"y": y, "d": d, "z": z, **columns, "g": g})


COVS = [f"x{j}" for j in range(P)]


def ours(df: pd.DataFrame, clustered: bool):
    if clustered:
        return dc.iv(df, outcome="y", treatment="d", instruments="z", covariates=COVS, cov_type="cluster", cluster="g")
    return dc.iv(df, outcome="y", treatment="d", instruments="z", covariates=COVS, cov_type="HC1")


def linearmodels_fit(df: pd.DataFrame, clustered: bool):
    from linearmodels.iv import IV2SLS

    exog = df[COVS].assign(const=1.0)
    model = IV2SLS(df["y"], exog, df["d"], df["z"])
    if clustered:
        return model.fit(cov_type="clustered", clusters=df["g"], debiased=True)
    return model.fit(cov_type="robust", debiased=True)


def pyfixest_fit(df: pd.DataFrame, clustered: bool):
    import pyfixest as pf

    vcov = {"CRV1": "g"} if clustered else "hetero"
    return pf.feols(f"y ~ {' + '.join(COVS)} | d ~ z", data=df, vcov=vcov)


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


def run(df: pd.DataFrame, clustered: bool, repeat: int) -> dict[str, float]:
    row: dict[str, float] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        row["ours_s"], r = best_time(lambda: ours(df, clustered), repeat)
        row["ours_peak_mb"] = peak_memory(lambda: ours(df, clustered)) / 1e6
        row["lm_s"], lm = best_time(lambda: linearmodels_fit(df, clustered), min(repeat, 2))
        row["lm_peak_mb"] = peak_memory(lambda: linearmodels_fit(df, clustered)) / 1e6
        row["pf_s"], pf = best_time(lambda: pyfixest_fit(df, clustered), min(repeat, 2))
        row["pf_peak_mb"] = peak_memory(lambda: pyfixest_fit(df, clustered)) / 1e6
    for name, est, se in (
        ("linearmodels", lm.params["d"], lm.std_errors["d"]),
        ("pyfixest", pf.coef()["d"], pf.se()["d"]),
    ):
        assert abs(r.estimate / est - 1) <= 1e-8, f"{name}: estimates disagree"
        assert abs(r.std_error / se - 1) <= 1e-8, f"{name}: standard errors disagree ({r.std_error} vs {se})"
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1M,5M", help="comma-separated row counts (k and M suffixes)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of ours per size (peers: at most 2)")
    parser.add_argument("--markdown", action="store_true", help="print rows for bench/RESULTS.md")
    parser.add_argument("--blas-threads", default="1", help="BLAS threads for every library (0: leave the default)")
    args = parser.parse_args()
    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    import linearmodels
    import pyfixest

    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    print(
        f"# {platform.machine()}, {os.cpu_count()} cores, BLAS threads: {threads}, numpy {np.__version__}, "
        f"linearmodels {linearmodels.__version__}, pyfixest {pyfixest.__version__}, deconfound {dc.__version__}"
    )
    header = ("n", "SE", "data MB", "ours s", "lm s", "pf s", "ratio", "peak MB", "peak/data", "lm MB", "pf MB")
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
    else:
        print("".join(f"{h:>11}" for h in header))
    for n in sizes:
        df = simulate(n)
        data_mb = float(df.memory_usage(index=False).sum()) / 1e6
        for clustered in (False, True):
            row = run(df, clustered, args.repeat)
            faster = min(row["lm_s"], row["pf_s"])
            cells = (
                f"{n:,}",
                "cluster" if clustered else "HC1",
                f"{data_mb:.0f}",
                f"{row['ours_s']:.3f}",
                f"{row['lm_s']:.3f}",
                f"{row['pf_s']:.3f}",
                f"{faster / row['ours_s']:.1f}x",
                f"{row['ours_peak_mb']:.0f}",
                f"{row['ours_peak_mb'] / data_mb:.2f}",
                f"{row['lm_peak_mb']:.0f}",
                f"{row['pf_peak_mb']:.0f}",
            )
            print("| " + " | ".join(cells) + " |" if args.markdown else "".join(f"{c:>11}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
