"""Meta-learners against EconML (and CausalML when installed): T, X and DR learners, same learners.

Simulated data with a known CATE (n rows, 10 covariates, confounded binary treatment). Learners: linear
outcome models and a logistic propensity (ours: our least squares and IRLS; EconML/CausalML: scikit-learn's
LinearRegression and LogisticRegression without penalty). Every timed call includes the learner's propensity
fit where it uses one (CausalML's X-learner is given the score of a LogisticRegression fitted in the
call). The DR-learner uses the same 5 folds for both (EconML's ``cv=`` takes the splits). Prints one row
per learner: seconds, ratio (peer / ours) and the largest difference of the CATEs.

    python bench/bench_metalearners.py --sizes 100k [--markdown]
    python bench/bench_metalearners.py --clock cpu --peer-path DIR   # CPU time; peers installed in DIR

``--clock cpu`` times with ``time.process_time`` (all threads of the process), for a machine shared with
other jobs; BLAS threads follow ``OMP_NUM_THREADS``/``OPENBLAS_NUM_THREADS`` as set by the caller.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def simulate(n: int, p: int = 10, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p))
    t = rng.binomial(1, 1 / (1 + np.exp(-0.5 * x[:, 0])))
    tau = 1 + x[:, 1]
    y = x @ np.linspace(1, 0.1, p) + t * tau + rng.normal(size=n)
    return x, y, t


CLOCK = time.perf_counter


def best(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        start = CLOCK()
        out = fn()
        times.append(CLOCK() - start)
    return min(times), out


class PerArm:
    """EconML's DRLearner fits one outcome model on [X, T]; this one is least squares per arm (as ours)."""

    def get_params(self, deep=True):
        return {}

    def set_params(self, **params):
        return self

    def fit(self, xt, y, sample_weight=None):
        from sklearn.linear_model import LinearRegression

        x, t = xt[:, :-1], xt[:, -1]
        self.models_ = {a: LinearRegression().fit(x[t == a], y[t == a]) for a in (0, 1)}
        return self

    def predict(self, xt):
        x, t = xt[:, :-1], xt[:, -1]
        out = np.empty(len(x))
        for a in (0, 1):
            if np.any(t == a):
                out[t == a] = self.models_[a].predict(x[t == a])
        return out


def run(n: int, repeat: int, n_jobs: int) -> list[tuple]:
    from econml.dr import DRLearner as EconDR
    from econml.metalearners import TLearner as EconT
    from econml.metalearners import XLearner as EconX
    from sklearn.linear_model import LinearRegression, LogisticRegression

    from deconfound.estimators.metalearners import DRLearner, TLearner, XLearner

    x, y, t = simulate(n)
    labels = np.arange(n) % 5
    splits = [(np.flatnonzero(labels != k), np.flatnonzero(labels == k)) for k in range(5)]
    logit = LogisticRegression(C=np.inf, max_iter=1000)
    cases = {
        "T-learner": (
            lambda: TLearner(learner="linear").fit(x, y, t),
            lambda: EconT(models=LinearRegression()).fit(y, t, X=x),
        ),
        "X-learner": (
            lambda: XLearner(learner="linear", final_learner="linear", folds=None, propensity_clip=0).fit(x, y, t),
            lambda: EconX(models=LinearRegression(), cate_models=LinearRegression(), propensity_model=logit).fit(
                y, t, X=x
            ),
        ),
        "DR-learner": (
            lambda: DRLearner(learner="linear", folds=labels, propensity_clip=1e-6, n_jobs=n_jobs).fit(x, y, t),
            lambda: EconDR(
                model_propensity=logit,
                model_regression=PerArm(),
                model_final=LinearRegression(),
                cv=splits,
                min_propensity=1e-6,
            ).fit(y, t, X=x),
        ),
    }
    rows = []
    for name, (ours, theirs) in cases.items():
        t_ours, fitted = best(ours, repeat)
        t_econ, peer = best(theirs, repeat)
        diff = float(np.max(np.abs(fitted.effect(x) - peer.effect(x))))
        rows.append((name, n, t_ours, "EconML", t_econ, diff))
        causal = causalml_case(name, x, y, t, repeat)
        if causal is not None:
            t_cml, cate = causal
            rows.append((name, n, t_ours, "CausalML", t_cml, float(np.max(np.abs(fitted.effect(x) - cate)))))
    return rows


def causalml_case(name: str, x, y, t, repeat: int):
    try:
        from causalml.inference.meta import BaseTRegressor, BaseXRegressor
    except ImportError:
        return None
    from sklearn.linear_model import LinearRegression

    if name == "T-learner":
        model = BaseTRegressor(learner=LinearRegression())
        seconds, _ = best(lambda: model.fit(x, t, y), repeat)
        return seconds, np.asarray(model.predict(x)).reshape(-1)
    if name == "X-learner":
        from sklearn.linear_model import LogisticRegression

        model = BaseXRegressor(learner=LinearRegression())

        def fit_with_score():  # the propensity fit is in the timed call, as in ours and EconML's
            e = LogisticRegression(C=np.inf, max_iter=1000).fit(x, t).predict_proba(x)[:, 1]
            model.fit(x, t, y, p=e)
            return e

        seconds, e = best(fit_with_score, repeat)
        return seconds, np.asarray(model.predict(x, p=e)).reshape(-1)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100k", help="comma-separated row counts, e.g. 10k,100k")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall", help="wall or process CPU time")
    parser.add_argument("--peer-path", help="a folder of peer libraries (e.g. causalml) added to sys.path")
    args = parser.parse_args()
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    if args.peer_path:
        sys.path.append(args.peer_path)
    sizes = [int(float(s.lower().replace("k", "e3").replace("m", "e6"))) for s in args.sizes.split(",")]
    rows = [row for n in sizes for row in run(n, args.repeat, args.n_jobs)]
    if args.markdown:
        print("| learner | n | ours s | peer | peer s | ratio | max CATE diff |")
        print("|---|---|---|---|---|---|---|")
        for name, n, ours, peer, theirs, diff in rows:
            print(f"| {name} | {n:,} | {ours:.3f} | {peer} | {theirs:.3f} | {theirs / ours:.1f}x | {diff:.1e} |")
        return
    for name, n, ours, peer, theirs, diff in rows:
        print(
            f"{name:11s} n={n:>9,} ours {ours:7.3f}s  {peer} {theirs:7.3f}s  "
            f"ratio {theirs / ours:5.1f}x  diff {diff:.1e}"
        )


if __name__ == "__main__":
    main()
