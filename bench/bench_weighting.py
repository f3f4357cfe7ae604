#!/usr/bin/env python3
"""IPW, AIPW and regression adjustment (ATE) against DoWhy, causalml and DoubleML, each in a fresh process.

    python bench/bench_weighting.py                      # n = 1M, 10 covariates
    python bench/bench_weighting.py --n 100k             # a quick run
    python bench/bench_weighting.py --peer-path DIR      # where the peers are installed (added to sys.path)

The data (outcome, binary treatment logistic in the covariates, 10 float64 covariates) are written once to
a Parquet file; every contender then runs in its own fresh interpreter, reads the file into a pandas frame,
imports its library (timed apart), makes its first call (timed: what a script or the command line pays)
and then ``--warm`` more calls (best kept). BLAS runs single-threaded for everybody. Peak memory is the
worker's peak resident set (``VmHWM``) and its growth over the size after reading the data.

* ours: ``deconfound.ipw`` / ``aipw`` / ``ra`` (ATE): our logistic propensity fit, the effect, its
  M-estimation standard error (stacked estimating equations), overlap statistics, the weight summary and
  the balance table before/after weighting.
* DoWhy: ``CausalModel(...).identify_effect()`` and ``estimate_effect(method_name=
  "backdoor.propensity_score_weighting", weighting_scheme="ips_weight")`` (its default scikit-learn
  logistic propensity model; no standard error).
* causalml: ``BaseDRRegressor(learner=LinearRegression())`` with the score of a scikit-learn
  ``LogisticRegression`` fitted in the timed call; ``estimate_ate`` (its own standard error).
* DoubleML: ``DoubleMLIRM`` with ``LogisticRegression`` / ``LinearRegression`` learners, its default
  5 folds, ``fit()`` (AIPW score with cross-fitting; its own standard error).
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
CONTENDERS = ("ours-ipw", "ours-aipw", "ours-ra", "dowhy-ipw", "causalml-dr", "doubleml-irm")


def parse_size(text: str) -> int:
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}
    return int(float(text[:-1]) * scale[text[-1]]) if text[-1] in scale else int(text)


def write_data(n: int, path: str, seed: int = 0) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, P))
    index = -0.3 + x @ np.linspace(0.5, 0.05, P)
    t = (rng.random(n) < 1 / (1 + np.exp(-index))).astype(np.int64)
    y = 1.0 + 2.0 * t + x @ np.linspace(1.0, 0.1, P) + rng.normal(size=n)
    df = pd.DataFrame(x, columns=COLS)
    df["t"], df["y"] = t, y
    df.to_parquet(path)


def _hwm_mb() -> float:
    """This process's peak resident set (VmHWM; ``ru_maxrss`` would carry over the parent's peak)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


# --------------------------------------------------------------------------------------------------
# the contenders: each returns a function df -> (estimate, standard error or nan)
# --------------------------------------------------------------------------------------------------


def _ours(method: str):
    import deconfound as dc

    fn = getattr(dc, method)

    def run(df):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = fn(df, outcome="y", treatment="t", covariates=COLS)
        return est.estimate, est.std_error

    return run


def _dowhy():
    import logging

    from dowhy import CausalModel

    logging.getLogger("dowhy").setLevel(logging.ERROR)

    def run(df):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = CausalModel(data=df, treatment="t", outcome="y", common_causes=COLS)
            estimand = model.identify_effect(proceed_when_unidentifiable=True)
            est = model.estimate_effect(
                estimand,
                method_name="backdoor.propensity_score_weighting",
                method_params={"weighting_scheme": "ips_weight"},
            )
        return float(est.value), float("nan")

    return run


def _causalml():
    from causalml.inference.meta import BaseDRRegressor
    from sklearn.linear_model import LinearRegression, LogisticRegression

    def run(df):
        x, t, y = df[COLS].to_numpy(), df["t"].to_numpy(), df["y"].to_numpy()
        p = LogisticRegression().fit(x, t).predict_proba(x)[:, 1]
        ate, lower, upper = BaseDRRegressor(learner=LinearRegression()).estimate_ate(x, t, y, p=p)
        return float(ate[0]), float((upper[0] - lower[0]) / (2 * 1.959963984540054))

    return run


def _doubleml():
    import doubleml
    from sklearn.linear_model import LinearRegression, LogisticRegression

    def run(df):
        data = doubleml.DoubleMLData(df, y_col="y", d_cols="t", x_cols=COLS)
        model = doubleml.DoubleMLIRM(data, ml_g=LinearRegression(), ml_m=LogisticRegression(), score="ATE")
        model.fit()
        return float(model.coef[0]), float(model.se[0])

    return run


FACTORIES = {
    "ours-ipw": lambda: _ours("ipw"),
    "ours-aipw": lambda: _ours("aipw"),
    "ours-ra": lambda: _ours("ra"),
    "dowhy-ipw": _dowhy,
    "causalml-dr": _causalml,
    "doubleml-irm": _doubleml,
}


def worker(name: str, data: str, warm: int, clock: str = "wall") -> None:
    import pandas as pd

    now = time.process_time if clock == "cpu" else time.perf_counter

    df = pd.read_parquet(data)
    rss0 = _rss_mb()
    start = now()
    fn = FACTORIES[name]()
    imported = now() - start
    start = now()
    estimate, se = fn(df)
    first = now() - start
    warm_times = []
    for _ in range(warm):
        start = now()
        fn(df)
        warm_times.append(now() - start)
    peak = _hwm_mb()
    print(
        json.dumps(
            {
                "name": name,
                "import_s": imported,
                "first_s": first,
                "warm_s": min(warm_times) if warm_times else float("nan"),
                "estimate": estimate,
                "se": se,
                "peak_mb": peak,
                "growth_mb": peak - rss0,
            }
        )
    )


def run_worker(
    name: str, data: str, warm: int, peer_path: str | None, timeout: float, clock: str = "wall"
) -> dict | None:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    paths = [SRC] + ([peer_path] if peer_path else []) + [env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    cmd = [sys.executable, __file__, "--worker", name, "--data", data, "--warm", str(warm), "--clock", clock]
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"{name}: stopped after {timeout:.0f} s", file=sys.stderr)
        return None
    if done.returncode:
        print(f"{name} failed:\n{done.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", default="1M")
    parser.add_argument("--warm", type=int, default=2, help="warm calls after the first (best kept)")
    parser.add_argument("--only", default=",".join(CONTENDERS), help="comma-separated contenders")
    parser.add_argument("--peer-path", default=None, help="directory with the peer libraries (added to sys.path)")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="wall time, or the worker's CPU time (time.process_time: fair on a loaded machine, every "
        "contender runs single-threaded here)",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.data, args.warm, args.clock)
        return
    n = parse_size(args.n)
    with tempfile.TemporaryDirectory() as tmp:
        data = str(Path(tmp) / "data.parquet")
        write_data(n, data)
        print(f"n = {n:,}, {P} covariates; BLAS single-threaded; a fresh process each; clock {args.clock}\n")
        print("| contender | import s | first call s | warm call s | ATE | SE | peak RSS MB | growth MB |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for name in args.only.split(","):
            res = run_worker(name, data, args.warm, args.peer_path, args.timeout, args.clock)
            if res is None:
                print(f"| {name} | - | - | - | - | - | - | - |", flush=True)
                continue
            print(
                f"| {name} | {res['import_s']:.3f} | {res['first_s']:.3f} | {res['warm_s']:.3f} | "
                f"{res['estimate']:.4f} | {res['se']:.4f} | {res['peak_mb']:.0f} | {res['growth_mb']:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
