#!/usr/bin/env python3
"""Wild cluster bootstrap-t (WCR, Rademacher, 9,999 draws, 50 clusters): deconfound against wildboottest.

    python bench/bench_wild.py                 # n = 100k and 1M rows, 10 covariates
    python bench/bench_wild.py --sizes 100k    # quicker

Both start from the same data: ours from the DataFrame's columns (the time includes building the design),
wildboottest from a statsmodels OLS model (its time includes neither building that model nor numba's
first compilation, which a warm-up call pays). Both p-values are printed: they differ only by Monte Carlo
error (the draws differ). Peak memory of our call is Python's tracemalloc peak.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
import warnings

import numpy as np
import pandas as pd


def _data(n: int, g: int = 50, k: int = 10, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cl = rng.integers(0, g, n)
    x = rng.normal(size=(n, k))
    df = pd.DataFrame(x, columns=[f"x{i}" for i in range(k)])
    df["d"] = (rng.normal(size=n) + x[:, 0] > 0).astype(float)
    df["y"] = 0.02 * df["d"] + x @ rng.normal(size=k) + rng.normal(size=n) + rng.normal(size=g)[cl]
    df["g"] = cl
    return df


def _ours(df: pd.DataFrame, covs: list[str]) -> float:
    from deconfound.robustness import wild_cluster_bootstrap

    res = wild_cluster_bootstrap(
        df, outcome="y", treatment="d", covariates=covs, cluster="g", n_boot=9999, random_state=1, ci=False
    )
    return float(res.p_value)


def _theirs(df: pd.DataFrame, covs: list[str]) -> float:
    import statsmodels.api as sm
    from wildboottest.wildboottest import wildboottest

    model = sm.OLS(df["y"], sm.add_constant(df[["d", *covs]]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = wildboottest(model, B=9999, cluster=df["g"].to_numpy(), param="d", seed=1, show=False)
    return float(out["p-value"].iloc[0])


def _timed(fn, *args) -> tuple[float, float]:
    start = time.perf_counter()
    value = fn(*args)
    return time.perf_counter() - start, value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100k,1M")
    args = parser.parse_args()
    sizes = [int(float(s[:-1]) * (1_000 if s.endswith("k") else 1_000_000)) for s in args.sizes.split(",")]
    print("| rows | deconfound (s) | wildboottest (s) | ratio | p ours | p theirs | our peak MB |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    warm = _data(2_000)
    covs = [f"x{i}" for i in range(10)]
    _ours(warm, covs), _theirs(warm, covs)  # imports and numba compilation happen here, not in the timing
    for n in sizes:
        df = _data(n)
        t_ours, p_ours = _timed(_ours, df, covs)
        t_theirs, p_theirs = _timed(_theirs, df, covs)
        tracemalloc.start()
        _ours(df, covs)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        ratio = t_theirs / t_ours
        print(f"| {n:,} | {t_ours:.3f} | {t_theirs:.3f} | {ratio:.1f}x | {p_ours:.4f} | {p_theirs:.4f} | {peak:.0f} |")


if __name__ == "__main__":
    main()
