#!/usr/bin/env python3
"""Benchmark: all minimal backdoor adjustment sets on random DAGs, deconfound vs pgmpy.

    python bench/bench_identify.py            # graphs of 8, 10, 12 and 14 nodes
    python bench/bench_identify.py --quick    # 8 and 10 nodes only

deconfound: ``identify()`` (every minimal set by branching on networkx's minimal d-separators, plus
the backdoor paths, instruments and front-door sets). pgmpy: ``CausalInference.
get_all_backdoor_adjustment_sets`` (a search over subsets). Both answers are checked to agree.
Each row is the median over the graphs of one size; peak memory is tracemalloc's peak for one call.
"""

from __future__ import annotations

import argparse
import random
import statistics
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small graphs only")
    parser.add_argument("--graphs", type=int, default=5, help="graphs per size (default 5)")
    args = parser.parse_args()
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
