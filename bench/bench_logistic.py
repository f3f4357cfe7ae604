#!/usr/bin/env python3
"""The logistic fit alone (``_core.logistic.fit_logistic`` + ``predict``): numpy/BLAS against the compiled
(numba) pass, one thread against two, same data, interleaved runs.

    python bench/bench_logistic.py                 # n = 1M, 10 covariates + constant, 7 rounds
    python bench/bench_logistic.py --n 200k --rounds 5
    python bench/bench_logistic.py --fresh         # also the first call in fresh processes (each variant)

Data: 10 float64 normal covariates in a pandas frame (as bench_matching's), a treatment logistic in them;
the design is the constant followed by the frame's columns read in place. Each round runs every variant
once (numpy 1 thread, compiled 1 thread, compiled 2 threads) and the best round is kept, in wall and CPU
time; also the parts (subsample warm start, one full pass, predict). BLAS runs single-threaded. ``--fresh``
starts one interpreter per variant and times its first fit + predict (imports apart), with the compiled
kernels' numba cache filled beforehand.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

SRC = str(Path(__file__).resolve().parent.parent / "src")
if SRC not in sys.path:
    sys.path.insert(0, SRC)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

P = 10
COLS = [f"x{j}" for j in range(P)]
VARIANTS = (("numpy", 1), ("numba", 1), ("numba", 2))


def parse_size(text: str) -> int:
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}
    return int(float(text[:-1]) * scale[text[-1]]) if text[-1] in scale else int(text)


def make(n: int, seed: int = 0):
    from deconfound._core.design import Design, constant_part

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, P))
    index = -0.3 + x @ np.linspace(0.5, 0.05, P)
    t = (rng.random(n) < 1 / (1 + np.exp(-index))).astype(np.float64)
    frame = pd.DataFrame(x, columns=COLS)
    design = Design.from_matrix(frame[COLS].to_numpy(), COLS).with_parts([constant_part()], front=True)
    return design, t


def fit_and_predict(design, t):
    from deconfound._core.logistic import fit_logistic, predict

    fit = fit_logistic(design, t)
    return fit, predict(design, fit.coef)


def timed(fn) -> tuple[float, float]:
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def in_process(n: int, rounds: int) -> None:
    from deconfound._core import kernels, logistic, threads

    design, t = make(n)
    beta0 = logistic._intercept_start(design, t, None, {0})
    parts = {
        "fit + predict": lambda: fit_and_predict(design, t),
        "subsample warm start": lambda: logistic._warm_start(design, t, None, beta0, logistic.LOGISTIC_CHUNK_ROWS),
        "one full pass": lambda: logistic.logistic_pass(design, t, None, beta0),
        "predict": lambda: logistic.predict(design, beta0),
    }
    best: dict[tuple[str, str, int], tuple[float, float]] = {}
    fits = {}
    for backend, count in VARIANTS:  # warm-up (compiles or loads the kernels)
        with kernels.using(backend), threads.using(count):
            fits[backend, count] = fit_and_predict(design, t)
    for _ in range(rounds):
        for backend, count in VARIANTS:
            with kernels.using(backend), threads.using(count):
                for label, fn in parts.items():
                    w, c = timed(fn)
                    old = best.get((label, backend, count), (np.inf, np.inf))
                    best[label, backend, count] = (min(old[0], w), min(old[1], c))
    load = os.getloadavg()[0]
    print(f"n = {n:,} x {P} covariates + constant, best of {rounds} rounds, load {load:.2f}, BLAS 1 thread")
    print("| part | numpy 1 thread | compiled 1 thread | compiled 2 threads |")
    print("|---|---:|---:|---:|")
    for label in parts:
        cells = [f"{best[label, b, c][0]:.4f} wall / {best[label, b, c][1]:.4f} cpu" for b, c in VARIANTS]
        print(f"| {label} | " + " | ".join(cells) + " |")
    ref = fits["numpy", 1][0]
    for key in (("numba", 1), ("numba", 2)):
        fit = fits[key][0]
        rel = max(
            float(np.max(np.abs(fit.coef - ref.coef) / np.abs(ref.coef))),
            float(np.max(np.abs(fit.cov - ref.cov) / np.abs(ref.cov))),
            abs(fit.llf / ref.llf - 1.0),
        )
        print(f"{key[0]} {key[1]} thread(s) vs numpy: worst relative difference (coef, cov, llf) {rel:.2e}")
    a, b = fits["numba", 1], fits["numba", 2]
    same = (
        np.array_equal(a[0].coef, b[0].coef) and np.array_equal(a[0].cov, b[0].cov) and np.array_equal(a[1][1], b[1][1])
    )
    print(f"compiled, 1 vs 2 threads bit-identical: {same}")


def worker(n: int, backend: str, count: int) -> None:
    start = time.perf_counter()
    from deconfound._core import kernels, threads

    if backend != "numba":  # numba (the default) is imported by the first call, inside its time
        kernels.use(backend)
    threads.use(count)
    design, t = make(n)
    prepared = time.perf_counter() - start
    w, c = timed(lambda: fit_and_predict(design, t))
    w2, c2 = timed(lambda: fit_and_predict(design, t))
    print(f"| {backend} | {count} | {prepared:.3f} | {w:.3f} / {c:.3f} | {w2:.3f} / {c2:.3f} |")


def fresh(n: int) -> None:
    subprocess.run([sys.executable, __file__, "--worker", "numba:2", "--n", str(n)], check=True, capture_output=True)
    print("| kernels | threads | imports + data s | first fit + predict s (wall / cpu) | second (wall / cpu) |")
    print("|---|---:|---:|---:|---:|")
    for backend, count in VARIANTS:
        out = subprocess.run(
            [sys.executable, __file__, "--worker", f"{backend}:{count}", "--n", str(n)],
            check=True,
            capture_output=True,
            text=True,
        )
        print(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", default="1M")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--fresh", action="store_true", help="also the first call in fresh processes")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    n = parse_size(args.n)
    if args.worker:
        backend, count = args.worker.split(":")
        worker(n, backend, int(count))
        return
    in_process(n, args.rounds)
    if args.fresh:
        fresh(n)


if __name__ == "__main__":
    main()
