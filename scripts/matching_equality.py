#!/usr/bin/env python3
"""Matching estimates, standard errors and a few diagnostics on 1,740 configurations, for comparing two
versions of the code (or two kernel backends, or thread counts) number by number.

    PYTHONPATH=src python scripts/matching_equality.py run new.json            # this checkout
    PYTHONPATH=/path/to/main/src python scripts/matching_equality.py run old.json
    python scripts/matching_equality.py compare old.json new.json              # worst relative difference

Configurations: ATT/ATC/ATE; continuous, rounded (tied) and discrete covariates; calipers none/0.05/0.2 SD;
1 and 3 neighbours; with and without replacement; exact-matching cells, sampling weights, ai2006, logit
distance, no 2016 adjustment, regression imputation, bias adjustment, vce_neighbors=4; n from 400 to
120,000. Set DECONFOUND_KERNELS / DECONFOUND_THREADS in the environment to compare backends or threads.
"""

from __future__ import annotations

import itertools
import json
import sys
import warnings

import numpy as np
import pandas as pd

DATASETS = [
    (400, 1, "cont"),
    (3000, 2, "cont"),
    (3000, 3, "tied"),
    (2000, 4, "discrete"),
    (20000, 5, "cont"),
    (20000, 6, "tied"),
    (120000, 7, "cont"),
]
EXTRAS = [
    {},
    {"exact": "g"},
    {"weights": "w"},
    {"vce_convention": "ai2006"},
    {"distance": "logit"},
    {"se_adjust": False},
    {"se_imputation": "regression"},
    {"bias_adjust": True},
    {"vce_neighbors": 4},
]


def data(n: int, seed: int, kind: str) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    if kind == "tied":
        x = np.round(x, 0)
    elif kind == "discrete":
        x = rng.integers(0, 3, size=(n, 4)).astype(float)
    index = -0.2 + x @ np.array([0.6, -0.4, 0.3, 0.1])
    t = (rng.random(n) < 1 / (1 + np.exp(-index))).astype(int)
    y = 1 + x @ np.array([1.0, 0.5, -0.3, 0.2]) + t * (1.5 + 0.5 * x[:, 0]) + rng.normal(size=n)
    df = pd.DataFrame(x, columns=["a", "b", "c", "d"])
    df["t"], df["y"] = t, y
    df["g"] = rng.integers(0, 3, n)
    df["w"] = rng.uniform(0.5, 2.0, n)
    return df


def run(path: str) -> None:
    import deconfound as dc

    out: dict[str, object] = {}
    for n, seed, kind in DATASETS:
        df = data(n, seed, kind)
        grid = itertools.product(["ATT", "ATC", "ATE"], [None, 0.05, 0.2], [1, 3], [True, False], EXTRAS)
        for estimand, caliper, k, replace, extra in grid:
            if n > 20000 and (extra.get("exact") or k == 3):
                continue
            if estimand == "ATE" and not replace:
                continue
            key = f"{n}/{seed}/{kind}/{estimand}/{caliper}/{k}/{replace}/{json.dumps(extra)}"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    r = dc.matching(
                        df,
                        outcome="y",
                        treatment="t",
                        covariates=["a", "b", "c", "d"],
                        estimand=estimand,
                        caliper=caliper,
                        caliper_scale="sd",
                        neighbors=k,
                        replace=replace,
                        **extra,
                    )
                except Exception as exc:  # an error is a result too: both versions must raise it
                    out[key] = repr(exc)[:200]
                    continue
            d = r.diagnostics
            balance = float(np.nansum(np.abs(d["balance"].select_dtypes("number").to_numpy())))
            out[key] = [
                r.estimate,
                r.std_error,
                d["n_unmatched"],
                d["n_distinct_matches"],
                d["max_times_used"],
                balance,
            ]
    with open(path, "w") as fh:
        json.dump(out, fh)
    print(f"{len(out)} configurations -> {path}")


def compare(old_path: str, new_path: str, rtol: float = 1e-12) -> int:
    with open(old_path) as fh:
        old = json.load(fh)
    with open(new_path) as fh:
        new = json.load(fh)
    worst: tuple[float, object] = (0.0, None)
    bad = 0
    for key, a in old.items():
        b = new.get(key)
        if isinstance(a, str) or isinstance(b, str) or b is None:
            if a != b:
                print("DIFFERENT", key, a, b)
                bad += 1
            continue
        for i, (u, v) in enumerate(zip(a, b)):
            rel = 0.0 if u == v else abs(u - v) / max(abs(u), 1e-300)
            if rel > worst[0]:
                worst = (rel, (key, i, u, v))
            if rel > rtol:
                print("DIFFERENT", key, i, u, v, rel)
                bad += 1
    print(f"{len(old)} configurations, {bad} differences above {rtol:g}, worst relative difference {worst}")
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "run":
        run(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        sys.exit(compare(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(__doc__)
