#!/usr/bin/env python3
"""The row bootstrap of OLS (1,000 resamples, n = 1M, 10 covariates) against one OLS fit with HC1.

    python bench/bench_bootstrap.py                      # n = 1M, 1,000 resamples
    python bench/bench_bootstrap.py --n 200k --boot 200  # quicker

Prints wall and process-CPU seconds (the CPU time adds up every thread's time) of: one ``dc.ols(...,
cov_type="HC1")`` fit from the DataFrame, statsmodels' OLS with HC1 from the same columns (for context),
``dc.bootstrap(dc.ols, ...)`` (which builds the design and runs the original fit too), the same bootstrap
on two threads and with the numpy kernels, the resample-by-resample loop the bootstrap used before (timed
on 20 resamples and scaled to the full count), and the fast path's floor: drawing the counts alone, and the
matrix products alone (resamples x rows x (k(k+1)/2 + k) multiply-adds, k = 12 with the constant and the
treatment).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd


def _data(n: int, k: int = 10, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, k))
    df = pd.DataFrame(x, columns=[f"x{i}" for i in range(k)])
    df["d"] = (rng.normal(size=n) + x[:, 0] > 0).astype(float)
    df["y"] = 0.5 * df["d"] + x @ rng.normal(size=k) + rng.standard_exponential(n)
    return df


def _timed(fn, *args, **kwargs):
    wall, cpu = time.perf_counter(), time.process_time()
    value = fn(*args, **kwargs)
    return time.perf_counter() - wall, time.process_time() - cpu, value


def _old_loop(x: np.ndarray, y: np.ndarray, reps: int, seed: int) -> np.ndarray:
    """The per-resample path of the previous release: one bincount and one weighted pass per resample."""
    rng = np.random.default_rng(seed)
    n = len(y)
    out = np.empty(reps)
    for b in range(reps):
        counts = np.bincount(rng.integers(0, n, n), minlength=n).astype(float)
        xc = x * counts[:, None]
        out[b] = np.linalg.solve(xc.T @ x, xc.T @ y)[1]
    return out


def _counts_only(n: int, boot: int, seed: int) -> None:
    from deconfound._core import resample as rs

    totals = rs._block_totals(n, boot, seed)
    for j, lo in enumerate(range(0, n, rs.DRAW_BLOCK)):
        size = min(lo + rs.DRAW_BLOCK, n) - lo
        step = max(1, rs.CHUNK_BYTES // (8 * size))
        part = np.empty((step, size))
        for b0 in range(0, boot, step):
            b1 = min(b0 + step, boot)
            rs._block_counts(rs._starts(seed, np.arange(b0, b1), j), totals[b0:b1, j], size, part[: b1 - b0])


def _products_only(x: np.ndarray, y: np.ndarray, boot: int) -> None:
    from deconfound._core import resample as rs

    n, k = x.shape
    iu, ju = np.triu_indices(k)
    counts = np.ones((min(boot, max(1, rs.CHUNK_BYTES // (8 * rs.DRAW_BLOCK))), rs.DRAW_BLOCK))
    for lo in range(0, n, rs.DRAW_BLOCK):
        xb = x[lo : lo + rs.DRAW_BLOCK]
        products = np.concatenate([xb[:, iu] * xb[:, ju], xb * y[lo : lo + len(xb), None]], axis=1)
        for b0 in range(0, boot, len(counts)):
            counts[: min(len(counts), boot - b0), : len(xb)] @ products


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", default="1M")
    parser.add_argument("--boot", type=int, default=1000)
    args = parser.parse_args()
    n = int(float(args.n.lower().replace("k", "e3").replace("m", "e6")))
    import statsmodels.api as sm

    import deconfound as dc
    from deconfound._core import kernels

    df = _data(n)
    covs = [f"x{i}" for i in range(10)]
    x = sm.add_constant(df[["d", *covs]]).to_numpy()
    y = df["y"].to_numpy()
    opts = {"outcome": "y", "treatment": "d", "covariates": covs, "cov_type": "HC1"}
    dc.bootstrap(dc.ols, df.head(5000), n_boot=20, random_state=1, **opts)  # numba's compilation / cache load
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = min(_timed(dc.ols, df, **opts)[:2] for _ in range(3))
        sm_fit = min(_timed(lambda: sm.OLS(y, x).fit(cov_type="HC1"))[:2] for _ in range(3))
        boot = _timed(dc.bootstrap, dc.ols, df, n_boot=args.boot, random_state=1, **opts)
        boot2 = _timed(dc.bootstrap, dc.ols, df, n_boot=args.boot, random_state=1, n_jobs=2, **opts)
        with kernels.using("numpy"):
            boot_np = _timed(dc.bootstrap, dc.ols, df, n_boot=args.boot, random_state=1, **opts)
    old = _timed(_old_loop, x, y, 20, 1)
    old_scaled = (old[0] * args.boot / 20, old[1] * args.boot / 20)
    counts = _timed(_counts_only, n, args.boot, 1)
    products = _timed(_products_only, x, y, args.boot)
    k = x.shape[1]
    flops = 2.0 * args.boot * n * (k * (k + 1) // 2 + k)
    same = np.array_equal(boot[2].diagnostics["bootstrap_draws"], boot_np[2].diagnostics["bootstrap_draws"])
    print(f"n = {n:,}, {args.boot:,} resamples, k = {k} columns")
    print("| what | wall (s) | CPU (s) | wall / one fit | CPU / one fit |")
    print("| --- | ---: | ---: | ---: | ---: |")
    rows = [
        ("one `dc.ols(..., cov_type='HC1')` fit", fit),
        ("statsmodels OLS HC1 fit (arrays given)", sm_fit),
        ("`dc.bootstrap(dc.ols, ...)`, numba kernel", boot[:2]),
        ("the same, `n_jobs=2` (threads over blocks)", boot2[:2]),
        ("the same, numpy kernel", boot_np[:2]),
        ("previous per-resample loop (20 timed, scaled)", old_scaled),
        ("floor: drawing the counts alone", counts[:2]),
        (f"floor: the matrix products alone ({flops / 1e9:.0f} GFLOP)", products[:2]),
    ]
    for name, (wall, cpu) in rows:
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {wall / fit[0]:.1f}x | {cpu / fit[1]:.1f}x |")
    print(f"products: {flops / products[0] / 1e9:.1f} GFLOP/s wall; numba and numpy draws identical: {same}")
    se = boot[2].std_error
    print(f"bootstrap SE {se:.6f}; HC1 SE {dc.ols(df, **opts).std_error:.6f}")


if __name__ == "__main__":
    main()
