"""DML PLR and IRM (5 folds) against DoubleML and EconML (LinearDML / LinearDRLearner), same data, same learners.

Learners: "linear" (ours: our least squares and IRLS logistic; peers: scikit-learn's LinearRegression and
unpenalized LogisticRegression) and "gbm" (scikit-learn's HistGradientBoosting with random_state=0 for
everyone). Ours runs its fits in parallel (n_jobs=2; boosted learners in threads
of this process with one OpenMP thread each); DoubleML is timed serial and with n_jobs_cv=2 and the
faster is kept; EconML cross-fits serially. The last column is the CPU time of this process (threads
included; DoubleML's n_jobs_cv=2 workers are other processes, so only its serial run is comparable).
Estimates are printed next to each other (the same model on the same data; folds differ between
libraries, so they agree up to the split's noise).

    python bench/bench_dml.py [--n 100000] [--learners linear,gbm] [--markdown]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")
K = 10


def data(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, K))
    d = rng.binomial(1, 1 / (1 + np.exp(-(0.6 * x[:, 0] - 0.4 * x[:, 1] + 0.2 * x[:, 2]))))
    y = 1.0 * d + x[:, 0] + 0.5 * np.sin(x[:, 1]) + 0.3 * x[:, 3] + rng.normal(size=n)
    frame = pd.DataFrame(x, columns=[f"x{j}" for j in range(K)])
    frame["d"], frame["y"] = d.astype(float), y
    return frame


def learners(kind: str):
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.linear_model import LinearRegression, LogisticRegression

    if kind == "linear":
        return LinearRegression(), LogisticRegression(penalty=None, max_iter=1000)
    return HistGradientBoostingRegressor(random_state=0), HistGradientBoostingClassifier(random_state=0)


CPU: dict[str, float] = {}


def timed(fn, *args):
    start, cpu = time.perf_counter(), time.process_time()
    value = fn(*args)
    CPU[fn.__name__ if args[-1] is not None else fn.__name__ + "-serial"] = time.process_time() - cpu
    return time.perf_counter() - start, value


def ours(frame, model, kind):
    import deconfound as dc

    cov = [f"x{j}" for j in range(K)]
    reg, clf = learners(kind)
    spec = {"learner": "linear"} if kind == "linear" else {"learner": reg, "ml_m": clf}
    if model == "plr":
        fn = dc.dml
        if kind != "linear":
            spec = {"ml_l": reg, "ml_m": clf}
    else:
        fn = dc.dml_irm
        if kind != "linear":
            spec = {"ml_g": reg, "ml_m": clf}
    return fn(frame, outcome="y", treatment="d", covariates=cov, folds=5, random_state=0, n_jobs=2, **spec).estimate


def doubleml(frame, model, kind, n_jobs):
    import doubleml as dml

    reg, clf = learners(kind)
    data_ = dml.DoubleMLData(frame, "y", "d", [f"x{j}" for j in range(K)])
    obj = dml.DoubleMLPLR(data_, reg, clf, n_folds=5) if model == "plr" else dml.DoubleMLIRM(data_, reg, clf, n_folds=5)
    obj.fit(n_jobs_cv=n_jobs)
    return float(obj.coef[0])


def econml(frame, model, kind):
    from econml.dml import LinearDML
    from econml.dr import LinearDRLearner

    reg, clf = learners(kind)
    x = frame[[f"x{j}" for j in range(K)]].to_numpy()
    y, d = frame["y"].to_numpy(), frame["d"].to_numpy().astype(int)
    if model == "plr":
        est = LinearDML(model_y=reg, model_t=clf, discrete_treatment=True, cv=5, random_state=0)
        est.fit(y, d, X=None, W=x)
        return float(est.ate())
    est = LinearDRLearner(model_propensity=clf, model_regression=reg, cv=5, random_state=0)
    est.fit(y, d, X=None, W=x)
    return float(est.ate())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--learners", default="linear,gbm")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    frame = data(args.n)
    small = data(2000, seed=1)
    for model in ("plr", "irm"):  # warm up: imports and the worker pool are not what we time
        ours(small, model, "linear"), doubleml(small, model, "linear", 2), econml(small, model, "linear")
    rows = []
    for kind in args.learners.split(","):
        for model in ("plr", "irm"):
            t_ours, e_ours = timed(ours, frame, model, kind)
            t_d1, e_d = timed(doubleml, frame, model, kind, None)
            t_d2, _ = timed(doubleml, frame, model, kind, 2)
            t_e, e_e = timed(econml, frame, model, kind)
            t_dml = min(t_d1, t_d2)
            fastest = min(t_dml, t_e)
            cpu = (CPU["ours"], CPU["doubleml-serial"], CPU["econml"])
            rows.append((model.upper(), kind, args.n, t_ours, t_dml, t_e, fastest / t_ours, e_ours, e_d, e_e, *cpu))
            print(rows[-1], flush=True)
    print(
        "| model | learners | n | ours s | DoubleML s | EconML s | ratio | ours | DoubleML | EconML "
        "| CPU s: ours / DoubleML serial / EconML |"
    )
    print("|" + "---|" * 11)
    for m, k, n, a, b, c, r, e1, e2, e3, c1, c2, c3 in rows:
        print(
            f"| {m} | {k} | {n:,} | {a:.2f} | {b:.2f} | {c:.2f} | {r:.2f}x | {e1:.4f} | {e2:.4f} | {e3:.4f} "
            f"| {c1:.2f} / {c2:.2f} / {c3:.2f} |"
        )


if __name__ == "__main__":
    main()
