#!/usr/bin/env python3
"""1:1 nearest-neighbour propensity-score matching with replacement and a caliper, against the article's
scikit-learn approach and causalml's NearestNeighborMatch, same data, same run.

    python bench/bench_matching.py                    # n = 100k and 1M (about a minute)
    python bench/bench_matching.py --sizes 20k        # a quick run
    python bench/bench_matching.py --markdown         # rows for bench/RESULTS.md
    python bench/bench_matching.py --blas-threads 0   # leave the BLAS thread count at its default
    python bench/bench_matching.py --sizes 1M --fresh # also the first call in fresh processes
    python bench/bench_matching.py --clock cpu        # CPU time instead of wall time (an overloaded machine)

Data: a pandas DataFrame with an outcome, a binary treatment (logistic in the covariates) and 10 float64
covariates. Every contender starts from that frame and includes its propensity fit:

* ours: ``deconfound.matching(df, ..., caliper=0.2, caliper_scale="sd")``: unpenalized logistic (IRLS),
  matching, the ATT, its Abadie-Imbens standard error (Stata's ``teffects`` conventions, the default) with
  the Abadie-Imbens (2016) adjustment for the estimated score, balance before/after and the per-row
  tables. "ours, no 2016 adjustment" is the call with ``se_adjust=False``;
* article: scikit-learn ``LogisticRegression().fit`` + ``NearestNeighbors(n_neighbors=1)`` on the score,
  the caliper applied to the returned distances, treated mean minus matched-control mean (no SE);
* causalml: the same LogisticRegression score, then ``NearestNeighborMatch(caliper=0.2, replace=True)``
  (its caliper is in standard deviations of the score, as ours here) and the difference of means (no SE).

Also timed: our matching *without* replacement (greedy, closest pairs first) at every size, causalml's
without replacement at ``--no-replace-peer-size`` only (its loop is quadratic), and the two components
on their own at the largest size (propensity fit; the matching search on a given score), and the stages
of our default call at the largest size (each stage's functions wrapped with a timer). Per-row tables
(scores, matched pairs) are built when first read, so they are not in "ours"; "ours + tables" reads both
once. Times are the best of ``--repeat`` runs; peak memory is the largest extra memory tracemalloc saw in
one separate call. The ATT estimates are checked to agree (the article's and causalml's penalized score
differs slightly from our unpenalized one, so within 2%).
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
P = 10
CALIPER_SD = 0.2
COLS = [f"x{j}" for j in range(P)]


def parse_size(text: str) -> int:
    text = text.strip().lower()
    return int(float(text[:-1]) * SUFFIX[text[-1]]) if text[-1] in SUFFIX else int(text)


def simulate(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, P))
    index = -0.3 + x @ np.linspace(0.5, 0.05, P)
    t = (rng.random(n) < 1 / (1 + np.exp(-index))).astype(np.int64)
    y = 1.0 + x @ np.linspace(1.0, 0.1, P) + t * (2.0 + 0.5 * x[:, 0]) + rng.normal(size=n)
    frame = pd.DataFrame(x, columns=COLS)
    frame["t"] = t
    frame["y"] = y
    return frame


# --------------------------------------------------------------------------------------------------
# the contenders
# --------------------------------------------------------------------------------------------------


def ours(df: pd.DataFrame, adjust: bool = True, replace: bool = True, tables: bool = False) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = dc.matching(
            df,
            outcome="y",
            treatment="t",
            covariates=COLS,
            caliper=CALIPER_SD,
            caliper_scale="sd",
            replace=replace,
            se_adjust=adjust,
        )
    if tables:  # the per-row tables are built on first read
        assert len(r.diagnostics["matches"]) and len(r.diagnostics["propensity"])
    return r.estimate


def ours_effect_only(df: pd.DataFrame, replace: bool = True) -> float:
    """What the peers compute with our pieces: the checks and data preparation, the propensity fit, the matches
    and the ATT -- no standard error, balance or overlap tables (``matching()`` has no such switch; this runs
    its own steps up to the estimate)."""
    from deconfound.estimators import matching as m
    from deconfound.estimators.bundles import MatchingSE, PropensityOptions

    ps = PropensityOptions.resolve(None, "propensity")
    vce = MatchingSE.resolve(None, "se")
    options = dict(estimand="ATT", distance="propensity", method="nearest", neighbors=1, replace=replace)
    options.update(caliper=CALIPER_SD, caliper_scale="sd", exact=None, ties=True, bias_adjust=False, level=0.95)
    plan = m._validate(options, vce, ps, COLS)
    roles = dict(outcome="y", treatment="t", covariates=COLS, missing="raise", treated_level=None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        setup = m._prepare(df, plan, ps, roles)
        metric = m._metric(setup, plan.distance, plan.caliper, plan.scale, None)
        directions = m._match(setup, metric, plan)
    effects = [m.unit_effects(d, setup.prep.outcome, None)[1] for d in directions]
    return float(np.concatenate(effects).mean())


def _sklearn_score(df: pd.DataFrame) -> pd.DataFrame:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit(df[COLS], df["t"])
    return df.assign(propensity_score=model.predict_proba(df[COLS])[:, 1])


def article(df: pd.DataFrame) -> float:
    from sklearn.neighbors import NearestNeighbors

    scored = _sklearn_score(df)
    treated = scored[scored["t"] == 1]
    control = scored[scored["t"] == 0]
    nn = NearestNeighbors(n_neighbors=1).fit(control[["propensity_score"]])
    distances, indices = nn.kneighbors(treated[["propensity_score"]])
    ok = distances[:, 0] <= CALIPER_SD * scored["propensity_score"].std()
    matched_control = control.iloc[indices[ok, 0]]
    return float(treated["y"][ok].mean() - matched_control["y"].mean())


def causalml(df: pd.DataFrame, replace: bool = True) -> float:
    from causalml.match import NearestNeighborMatch

    scored = _sklearn_score(df)
    matcher = NearestNeighborMatch(caliper=CALIPER_SD, replace=replace, ratio=1, random_state=0, n_jobs=1)
    matched = matcher.match(data=scored, treatment_col="t", score_cols=["propensity_score"])
    return float(matched.loc[matched["t"] == 1, "y"].mean() - matched.loc[matched["t"] == 0, "y"].mean())


# --------------------------------------------------------------------------------------------------
# timing
# --------------------------------------------------------------------------------------------------


#: the clock of every timing: wall time (default) or, with --clock cpu, the process's CPU time (on a shared,
#: overloaded machine wall times measure the other jobs; every contender here runs on one thread)
CLOCK: dict = {"clock": time.perf_counter, "name": "wall"}


def best_time(fn, repeat: int) -> tuple[float, float]:
    times, value = [], float("nan")
    clock = CLOCK["clock"]
    for _ in range(repeat):
        gc.collect()
        start = clock()
        value = fn()
        times.append(clock() - start)
    return min(times), value


def peak_mb(fn) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 1e6


def components(df: pd.DataFrame, repeat: int) -> list[tuple[str, float, float]]:
    """The propensity fit and the matching search on their own (ours vs scikit-learn)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import NearestNeighbors

    from deconfound._core.design import Design, constant_part
    from deconfound._core.logistic import fit_logistic
    from deconfound._core.scoresort import ScoreSort

    design = Design.from_matrix(df[COLS].to_numpy(), COLS).with_parts([constant_part()], front=True)
    t = df["t"].to_numpy(dtype=np.float64)
    fit_ours, _ = best_time(lambda: fit_logistic(design, t), repeat)
    fit_sk, _ = best_time(lambda: LogisticRegression().fit(df[COLS], df["t"]), repeat)
    score = _sklearn_score(df)["propensity_score"].to_numpy()
    treated, control = score[t == 1], score[t == 0]
    cal = CALIPER_SD * score.std()
    is_treated = t == 1
    # what matching() does: one sort of every unit, then each treated unit's run of matches (ties kept)
    search_ours, _ = best_time(lambda: ScoreSort.build(score, is_treated).match_ranges(1, 1, cal, True), repeat)
    search_sk, _ = best_time(
        lambda: NearestNeighbors(n_neighbors=1).fit(control[:, None]).kneighbors(treated[:, None]), repeat
    )
    return [
        ("propensity fit (IRLS vs lbfgs)", fit_ours, fit_sk),
        ("matching search on a score (one sort + runs of matches vs k-d tree)", search_ours, search_sk),
    ]


#: stages of our call, as (label, [(module, attribute)]): the functions each stage runs
STAGES = [
    ("data preparation (validation, missing values)", [("deconfound.estimators.propensity", "prepare")]),
    (
        "propensity fit (logistic IRLS) and scores",
        [("deconfound.estimators.propensity", "fit_logistic"), ("deconfound.estimators.propensity", "predict")],
    ),
    ("one sort of every unit by score", [("deconfound.estimators.propensity", "ScoreSort.build")]),
    ("overlap statistics", [("deconfound.diagnostics.overlap", "overlap_table")]),
    (
        "nearest-neighbour searches (both directions)",
        [("deconfound.estimators.matching", "RangeDirection.from_sort")],
    ),
    (
        "ATT and its matching variance (AI 2006, Stata conventions)",
        [
            ("deconfound.estimators.matching", "unit_effects"),
            ("deconfound.estimators.matching", "match_counts"),
            ("deconfound.estimators.matching", "conditional_variance"),
            ("deconfound.estimators.matching", "ai_variance"),
            ("deconfound.estimators.matching", "range_ai_variance"),
        ],
    ),
    ("AI 2016 adjustment for the estimated score", [("deconfound.estimators.matching", "ps_adjustment")]),
    ("balance before/after", [("deconfound.estimators.matching", "balance_before_after")]),
]


def stage_times(df: pd.DataFrame, repeat: int) -> list[tuple[str, float]]:
    """Where our default call spends its time: each stage's functions wrapped with a timer (best run)."""
    import functools
    import importlib

    spent: dict[str, float] = {}
    saved = []
    for label, targets in STAGES:
        for module, attr in targets:
            owner = importlib.import_module(module)
            *path, name = attr.split(".")
            for part in path:
                owner = getattr(owner, part)
            if not hasattr(owner, name):  # a stage function of another version of the code
                continue
            raw = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
            fn = raw.__func__ if isinstance(raw, classmethod) else raw

            def timed(*args, _fn=fn, _label=label, **kwargs):
                start = CLOCK["clock"]()
                try:
                    return _fn(*args, **kwargs)
                finally:
                    spent[_label] = spent.get(_label, 0.0) + CLOCK["clock"]() - start

            wrapped = functools.wraps(fn)(timed)
            saved.append((owner, name, raw))
            setattr(owner, name, classmethod(wrapped) if isinstance(raw, classmethod) else wrapped)
    try:
        best: tuple[float, dict[str, float]] | None = None
        for _ in range(repeat):
            spent.clear()
            start = CLOCK["clock"]()
            ours(df)
            total = CLOCK["clock"]() - start
            if best is None or total < best[0]:
                best = (total, dict(spent))
    finally:
        for owner, name, raw in reversed(saved):
            setattr(owner, name, raw)
    assert best is not None
    total, parts = best
    rows = [(label, parts.get(label, 0.0)) for label, _ in STAGES]
    rows.append(("other (checks, tables, warnings, result)", total - sum(v for _, v in rows)))
    rows.append(("total", total))
    return rows


def run(n: int, repeat: int, peer_no_replace: int) -> dict:
    df = simulate(n)
    rep_peer = repeat if n < 2_000_000 else min(repeat, 2)
    t_ours, est_ours = best_time(lambda: ours(df), repeat)
    t_plain, _ = best_time(lambda: ours(df, adjust=False), repeat)
    t_tables, _ = best_time(lambda: ours(df, tables=True), repeat)
    t_article, est_article = best_time(lambda: article(df), rep_peer)
    t_causalml, est_causalml = best_time(lambda: causalml(df), rep_peer)
    t_noreplace, est_noreplace = best_time(lambda: ours(df, replace=False), repeat)
    t_effect, est_effect = best_time(lambda: ours_effect_only(df), repeat)
    t_effect_nr, _ = best_time(lambda: ours_effect_only(df, replace=False), repeat)
    if abs(est_effect - est_ours) > 1e-12 * abs(est_ours):
        raise SystemExit(f"the effect-only steps give {est_effect!r}, the call {est_ours!r}")
    from deconfound._core import kernels

    with kernels.using("numpy"):
        t_numpy, est_numpy = best_time(lambda: ours(df), repeat)
        t_numpy_nr, _ = best_time(lambda: ours(df, replace=False), repeat)
    if abs(est_numpy - est_ours) > 1e-12 * abs(est_ours):
        raise SystemExit(f"numpy kernels give {est_numpy!r}, compiled {est_ours!r}")
    for name, value in (("article", est_article), ("causalml", est_causalml)):
        if abs(value - est_ours) > 0.02 * abs(est_ours):
            raise SystemExit(f"estimates disagree at n={n}: ours {est_ours:.4f}, {name} {value:.4f}")
    row = {
        "n": n,
        "ours": t_ours,
        "ours_plain": t_plain,
        "ours_tables": t_tables,
        "article": t_article,
        "causalml": t_causalml,
        "ratio": min(t_article, t_causalml) / t_ours,
        "ratio_plain": min(t_article, t_causalml) / t_plain,
        "ours_no_replace": t_noreplace,
        "ours_effect": t_effect,
        "ours_effect_no_replace": t_effect_nr,
        "ours_numpy": t_numpy,
        "ours_numpy_no_replace": t_numpy_nr,
        "peak_ours": peak_mb(lambda: ours(df)),
        "peak_article": peak_mb(lambda: article(df)),
        "peak_causalml": peak_mb(lambda: causalml(df)),
        "estimates": (est_ours, est_article, est_causalml, est_noreplace),
    }
    if peer_no_replace and n == peer_no_replace:
        row["causalml_no_replace"], _ = best_time(lambda: causalml(df, replace=False), 1)
    return row


FRESH = {
    "ours": lambda df: ours(df),
    "ours, without replacement": lambda df: ours(df, replace=False),
    "article (sklearn)": article,
    "causalml": causalml,
}


def fresh_child(name: str, n: int) -> None:
    """In a new interpreter: simulate (untimed), then time the first call of one contender (its imports,
    numba loading its compiled functions or compiling them) and a second, warm one."""
    df = simulate(n)
    clock = CLOCK["clock"]
    start = clock()
    FRESH[name](df)
    first = clock() - start
    start = clock()
    FRESH[name](df)
    print(f"{first:.6f} {clock() - start:.6f}")


def fresh_runs(n: int, cold: bool) -> list[tuple[str, float, float]]:
    """First and second call of every contender, each in its own fresh process."""
    import subprocess
    import tempfile

    out = []
    for name in FRESH:
        env = dict(os.environ)
        if cold:
            env["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="numba-cold-")
        cmd = [sys.executable, __file__, "--fresh-child", name, "--sizes", str(n), "--clock", CLOCK["name"]]
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
        first, warm = map(float, done.stdout.split()[-2:])
        out.append((name, first, warm))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100k,1M", help="comma-separated row counts (default 100k,1M)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing; the best is kept (default 3)")
    parser.add_argument(
        "--no-replace-peer-size",
        default="20k",
        help="also time causalml without replacement at this size (its loop is quadratic)",
    )
    parser.add_argument("--blas-threads", default="1", help="BLAS threads (default 1; 0 leaves the default)")
    parser.add_argument("--markdown", action="store_true", help="print markdown rows for bench/RESULTS.md")
    parser.add_argument("--fresh", action="store_true", help="also time the first call in fresh processes")
    parser.add_argument("--fresh-only", action="store_true", help="only the fresh-process first calls")
    parser.add_argument("--fresh-child", help=argparse.SUPPRESS)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall", help="wall (default) or CPU time")
    args = parser.parse_args()
    CLOCK.update(clock=time.process_time if args.clock == "cpu" else time.perf_counter, name=args.clock)
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    if args.fresh_child:
        fresh_child(args.fresh_child, sizes[-1])
        return
    if args.fresh or args.fresh_only:
        print(f"| first call in a fresh process, n={sizes[-1]:,} | numba cache | first s | second s |")
        print("|---|---|---|---|")
        for cold in (False, True):
            for name, first, warm in fresh_runs(sizes[-1], cold):
                if cold and not name.startswith("ours"):
                    continue  # the peers compile nothing of ours
                print(f"| {name} | {'empty' if cold else 'filled'} | {first:.3f} | {warm:.3f} |", flush=True)
        print()
        if args.fresh_only:
            return
    peer_nr = parse_size(args.no_replace_peer_size) if args.no_replace_peer_size else 0
    if peer_nr and peer_nr not in sizes:
        sizes = [peer_nr, *sizes]
    print(f"# {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, numpy {np.__version__}")
    rows = [run(n, args.repeat, peer_nr) for n in sizes]
    print(
        "| n | ours s | ours, no 2016 adjustment s | ours + tables s | article (sklearn) s | causalml s | ratio "
        "| ratio, no 2016 adjustment | ours without replacement s | peak MB ours / article / causalml |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['n']:,} | {r['ours']:.3f} | {r['ours_plain']:.3f} | {r['ours_tables']:.3f} | {r['article']:.3f} | "
            f"{r['causalml']:.3f} | {r['ratio']:.1f}x | {r['ratio_plain']:.1f}x | {r['ours_no_replace']:.3f} | "
            f"{r['peak_ours']:.0f} / {r['peak_article']:.0f} / {r['peak_causalml']:.0f} |"
        )
    print()
    print(
        "| n | fastest peer s | ours effect only s | ratio | ours with AI SEs s | ratio | ours without replacement s "
        "| ratio | effect only, without replacement s | ours, numpy kernels s | numpy, without replacement s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        peer = min(r["article"], r["causalml"])
        print(
            f"| {r['n']:,} | {peer:.3f} | {r['ours_effect']:.3f} | {peer / r['ours_effect']:.1f}x | {r['ours']:.3f} | "
            f"{peer / r['ours']:.1f}x | {r['ours_no_replace']:.3f} | {peer / r['ours_no_replace']:.1f}x | "
            f"{r['ours_effect_no_replace']:.3f} | {r['ours_numpy']:.3f} | {r['ours_numpy_no_replace']:.3f} |"
        )
    print()
    for r in rows:
        if "causalml_no_replace" in r:
            print(
                f"causalml without replacement at n={r['n']:,}: {r['causalml_no_replace']:.2f} s "
                f"(ours {r['ours_no_replace']:.3f} s)"
            )
        est = ", ".join(f"{v:.4f}" for v in r["estimates"])
        print(f"n={r['n']:,}: ATT ours, article, causalml, ours without replacement = {est}")
    print()
    print(f"| component at n={sizes[-1]:,} | ours s | scikit-learn s | ratio |")
    print("|---|---|---|---|")
    big = simulate(sizes[-1])
    for name, a, b in components(big, args.repeat):
        print(f"| {name} | {a:.3f} | {b:.3f} | {b / a:.1f}x |")
    print()
    print(f"| stage of our call at n={sizes[-1]:,} | s | share |")
    print("|---|---|---|")
    rows = stage_times(big, args.repeat)
    for name, sec in rows:
        print(f"| {name} | {sec:.3f} | {sec / rows[-1][1]:.0%} |")


if __name__ == "__main__":
    main()
