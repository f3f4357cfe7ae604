#!/usr/bin/env python3
"""Benchmark: all minimal backdoor adjustment sets on random DAGs, deconfound vs pgmpy; and identify()
on large graphs (chains, many confounders, stars of mediators).

    python bench/bench_identify.py            # graphs of 8, 10, 12 and 14 nodes, then the large graphs
    python bench/bench_identify.py --quick    # 8 and 10 nodes only, large graphs at reduced size
    python bench/bench_identify.py --large-only --before /tmp/old/src   # also time an older copy

Large graphs: ``identify()`` on a chain ``T -> m1 -> ... -> Y`` (identified without adjustment), on
1,000 confounders ``c -> T, c -> Y`` (one adjustment set of all of them), and on graphs where the
front-door search must run (the chain with ``T <-> Y``; a star ``T -> m_i -> Y`` with ``T <-> Y``).
``--before DIR`` times the same calls with the package found in DIR (e.g. an older ``src`` tree
extracted with ``git archive``), in a subprocess stopped after ``--timeout`` seconds.

deconfound: ``identify()`` (every minimal set by branching on networkx's minimal d-separators, plus
the backdoor paths, instruments and front-door sets). pgmpy: ``CausalInference.
get_all_backdoor_adjustment_sets`` (a search over subsets). Both answers are checked to agree.
Each row is the median over the graphs of one size; peak memory is tracemalloc's peak for one call.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import statistics
import subprocess
import sys
import time
import tracemalloc
import warnings

from deconfound.graph import CausalGraph
from deconfound.graph.identification import identify


def random_dag(rng: random.Random, n: int, p: float) -> CausalGraph:
    names = [f"v{i}" for i in range(n)]
    edges = [(names[i], names[j]) for i in range(n) for j in range(i + 1, n) if rng.random() < p]
    return CausalGraph(edges, nodes=names)


def timed(fn):
    tracemalloc.start()
    start = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return out, seconds, peak


def large_graph(kind: str, n: int) -> CausalGraph:
    """The large graphs: ``chain``, ``confounded-chain``, ``confounders`` and ``star`` of size n."""
    if kind in ("chain", "confounded-chain"):
        names = ["T", *(f"m{i}" for i in range(n - 2)), "Y"]
        hidden = [("T", "Y")] if kind == "confounded-chain" else []
        return CausalGraph(list(itertools.pairwise(names)), bidirected=hidden)
    if kind == "confounders":
        causes = [f"c{i}" for i in range(n)]
        return CausalGraph([(c, "T") for c in causes] + [(c, "Y") for c in causes] + [("T", "Y")])
    if kind == "star":
        mediators = [f"m{i}" for i in range(n)]
        return CausalGraph([("T", m) for m in mediators] + [(m, "Y") for m in mediators], bidirected=[("T", "Y")])
    raise ValueError(kind)


def time_large(kind: str, n: int, alternatives: bool | None = None) -> tuple[float, str]:
    """Seconds for one identify() call (graph built beforehand), and what it found."""
    g = large_graph(kind, n)
    options = {} if alternatives is None else {"alternatives": alternatives}
    start = time.perf_counter()
    ident = identify(g, treatment="T", outcome="Y", **options)
    seconds = time.perf_counter() - start
    front = getattr(ident, "front_door", None)
    sizes = "not searched" if front is None else f"{len(front)} set(s) of size {sorted({len(s) for s in front}) or [0]}"
    found = f"set of {len(ident.adjustment_set)}" if ident.adjustment_set is not None else "none"
    return seconds, f"adjustment: {found}; front door: {sizes}; truncated: {ident.truncated}"


def time_before(src: str, kind: str, n: int, timeout: float) -> tuple[str, str]:
    """The same call with the package in ``src``, in a fresh interpreter (``>timeout`` if stopped)."""
    code = f"import sys; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r}); "
    code += f"import bench_identify as b; s, what = b.time_large({kind!r}, {n}); print(f'{{s:.3f}}|{{what}}')"
    env = {**os.environ, "PYTHONPATH": src}
    try:
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f">{timeout:.0f}", "(stopped)"
    if out.returncode != 0:
        return "error", out.stderr.strip().splitlines()[-1]
    seconds, what = out.stdout.strip().split("|")
    return seconds, what


def large(args: argparse.Namespace) -> None:
    scale = 4 if args.quick else 1
    cases = [
        ("chain", 800, None),
        ("chain", 3000 // scale, None),
        ("confounders", 1000 // scale, None),
        ("confounded-chain", 3000 // scale, None),
        ("star", 1000 // scale, None),
        ("chain", 3000 // scale, True),
        ("confounders", 1000 // scale, True),
    ]
    print("\n| graph | nodes | alternatives | before (s) | after (s) | found before | found after |")
    print("| --- | ---: | --- | ---: | ---: | --- | --- |")
    for kind, n, alternatives in cases:
        g = large_graph(kind, n)
        after = min(time_large(kind, n, alternatives)[0] for _ in range(args.repeat))
        what = time_large(kind, n, alternatives)[1]
        before, found = "-", "-"
        if args.before and alternatives is None:
            before, found = time_before(args.before, kind, n, args.timeout)
        shown = "default" if alternatives is None else f"{alternatives}"
        print(f"| {kind} | {len(g.dag)} | {shown} | {before} | {after:.3f} | {found} | {what} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small graphs only")
    parser.add_argument("--graphs", type=int, default=5, help="graphs per size (default 5)")
    parser.add_argument("--large-only", action="store_true", help="only the large graphs")
    parser.add_argument("--random-only", action="store_true", help="only the random graphs (with pgmpy)")
    parser.add_argument("--before", metavar="DIR", help="also time the package found in DIR (an older src tree)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds allowed to --before per call")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many calls for 'after' (default 3)")
    args = parser.parse_args()
    if not args.large_only:
        random_graphs(args)
    if not args.random_only:
        large(args)


def random_graphs(args: argparse.Namespace) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgmpy.base import DAG
        from pgmpy.inference import CausalInference
    sizes = (8, 10) if args.quick else (8, 10, 12, 14)
    rng = random.Random(2024)
    header = ("nodes", "sets", "ours (ms)", "pgmpy (ms)", "ratio", "ours peak MB", "pgmpy peak MB")
    widths = (5, 5, 10, 11, 7, 13, 14)
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, widths)))
    for n in sizes:
        rows = []
        while len(rows) < args.graphs:
            g = random_dag(rng, n, 0.35)
            t, y = f"v{n // 2}", f"v{n - 1}"
            if y not in g.descendants(t) or g.d_separated(t, y, g.parents(t)):
                continue  # keep graphs where the treatment affects the outcome
            if identify(g, treatment=t, outcome=y).adjustment_set == ():
                continue  # and is confounded: the empty set is not enough
            ours, t_ours, m_ours = timed(lambda g=g, t=t, y=y: identify(g, treatment=t, outcome=y))
            inference = CausalInference(DAG(list(g.dag.edges)))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    ref, t_ref, m_ref = timed(lambda i=inference, t=t, y=y: i.get_all_backdoor_adjustment_sets(t, y))
                except ValueError:
                    continue
            expected = {frozenset()} if ref == frozenset() else set(ref)
            assert {frozenset(s) for s in ours.minimal_adjustment_sets} == expected, (g, t, y)
            rows.append((len(expected), t_ours, t_ref, m_ours, m_ref))
        sets, a, b, ma, mb = (statistics.median(col) for col in zip(*rows))
        cells = (f"{n}", f"{sets:.0f}", f"{a * 1e3:.2f}", f"{b * 1e3:.2f}", f"{b / a:.1f}")
        cells += (f"{ma / 2**20:.2f}", f"{mb / 2**20:.2f}")
        print(" ".join(f"{c:>{w}}" for c, w in zip(cells, widths)))


if __name__ == "__main__":
    main()
