"""The searches behind :func:`.identification.identify`: minimal adjustment sets, the smallest one,
instruments and front-door sets.

Each search runs on a :class:`.dsep.Dag` (parent and child lists read once) with linear-time
d-separation, and stops when it has found enough or visited ``SEARCH_STEPS`` graph states; it then
reports that it stopped (``truncated``) so that the caller can say so. Without a stop the answers are
exact: every minimal set, every instrument, every minimal front-door set.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import combinations, pairwise

import networkx as nx

from .dsep import Budget, Dag

__all__ = [
    "MAX_FRONT_DOOR_CHECKS",
    "MAX_SETS",
    "SEARCH_STEPS",
    "Found",
    "front_door_sets",
    "instruments",
    "minimal_separators",
    "smallest_separator",
]

MAX_SETS = 500  # minimal adjustment sets listed at most
SEARCH_STEPS = 2_000_000  # graph states one search may visit (about a second)
MAX_FRONT_DOOR_CHECKS = 20_000  # candidate mediator sets the front-door search may test


@dataclass(frozen=True)
class Found:
    """What a search found, whether it stopped early, and why (a sentence for the notes)."""

    items: tuple
    truncated: bool = False
    reason: str = ""


# --------------------------------------------------------------------------------------------------
# adjustment sets
# --------------------------------------------------------------------------------------------------


def minimal_separators(dag: Dag, x: str, y: str, allowed: Iterable[str], limit: int = MAX_SETS) -> Found:
    """Every minimal d-separator of x and y made of ``allowed`` nodes.

    Branching: a separator S is found within a restricted set R; every other minimal separator inside R
    misses some member v of S, so R - {v} is searched for each v, except the members every separator
    inside R needs (``Dag.necessary``: R - {v} has no separator at all). On a chain or a star each
    branch ends at once, so the search is linear there."""
    within = dag.ancestors((x, y))
    start = frozenset(allowed) & within  # minimal separators are ancestors of x or y
    budget = Budget(SEARCH_STEPS)
    found: dict[frozenset[str], None] = {}
    visited: set[frozenset[str]] = set()
    stack = [start]
    while stack:
        restricted = stack.pop()
        if restricted in visited:
            continue
        visited.add(restricted)
        if len(visited) > 50 * limit or len(found) >= limit or budget.exhausted:
            return Found(tuple(found), True, _stopped("adjustment-set", len(found), "minimal sets", budget))
        sep = dag.minimal_separator(x, y, restricted, within, budget)
        if sep is None:
            continue
        found.setdefault(sep, None)
        needed = dag.necessary(x, y, set(restricted - {x, y}), within, budget)
        stack.extend(restricted - {v} for v in sep if v not in needed)
    return Found(tuple(found))


def _stopped(what: str, n: int, items: str, budget: Budget) -> str:
    why = "its step limit" if budget.exhausted else "its size limit"
    return f"The {what} search stopped at {why} after {n} {items}: the lists may be incomplete."


def smallest_separator(dag: Dag, x: str, y: str, allowed: frozenset[str]) -> frozenset[str] | None:
    """A minimum-size d-separator made of ``allowed`` nodes: a minimum vertex cut in the moral graph of
    the ancestors of x and y. The moral edges between the parents of a node go through one uncuttable
    hub per node, so the flow network stays linear in the graph."""
    keep = dag.ancestors((x, y))
    flow = nx.DiGraph()
    for v in keep:
        if v in allowed and v not in (x, y):
            flow.add_edge((v, 0), (v, 1), capacity=1)
        else:
            flow.add_edge((v, 0), (v, 1))  # no capacity attribute: cannot be cut
        parents = [p for p in dag.parents[v] if p in keep]
        for p in parents:
            flow.add_edge((p, 1), (v, 0))
            flow.add_edge((v, 1), (p, 0))
        if len(parents) > 1:
            hub = ("hub", v)
            for p in parents:
                flow.add_edge((p, 1), hub)
                flow.add_edge(hub, (p, 0))
    try:
        _, (reach, _) = nx.minimum_cut(flow, (x, 1), (y, 0))
    except nx.NetworkXUnbounded:
        return None
    return frozenset(v for v in keep if (v, 0) in reach and (v, 1) not in reach)


# --------------------------------------------------------------------------------------------------
# instruments
# --------------------------------------------------------------------------------------------------


def instruments(dag: Dag, g_bd: Dag, t: str, y: str, pool: frozenset[str]) -> Found:
    """(variable, given) for every node of ``pool`` that is d-connected to t and d-separated from y in
    the graph without t's outgoing edges, given nothing or a minimal set of other ``pool`` nodes."""
    budget = Budget(SEARCH_STEPS)
    linked_to_y = g_bd.connected((y,), budget=budget)  # given nothing
    linked_to_t = dag.connected((t,), budget=budget)
    out: list[tuple[str, tuple[str, ...]]] = []
    for v in sorted(pool):
        if budget.exhausted:
            return Found(tuple(out), True, _stopped("instrument", len(out), "instruments", budget))
        if v not in linked_to_y:
            if v in linked_to_t:
                out.append((v, ()))
            continue
        if y in g_bd.children[v]:
            continue  # next to the outcome: nothing separates them
        given = g_bd.minimal_separator(v, y, pool, budget=budget)  # v itself is never in its separator
        if given is not None and t in dag.connected((v,), given, budget):
            out.append((v, tuple(sorted(given))))
    return Found(tuple(out))


# --------------------------------------------------------------------------------------------------
# front door
# --------------------------------------------------------------------------------------------------


def _topological(dag: Dag, region: set[str]) -> list[str]:
    indegree = {v: sum(p in region for p in dag.parents[v]) for v in region}
    ready = [v for v, d in indegree.items() if d == 0]
    order = []
    while ready:
        v = ready.pop()
        order.append(v)
        for c in dag.children[v]:
            if c in region:
                indegree[c] -= 1
                if indegree[c] == 0:
                    ready.append(c)
    return order


def _dominators(dag: Dag, t: str, y: str, region: set[str]) -> set[str]:
    """The nodes on every directed path from t to y (t and y excluded), from the dominator tree of the
    paths (each node's immediate dominator is the nearest common dominator of its parents)."""
    idom: dict[str, str] = {t: t}
    depth = {t: 0}
    for v in _topological(dag, region):
        if v == t:
            continue
        parents = [p for p in dag.parents[v] if p in idom]
        if not parents:
            continue
        d = parents[0]
        for p in parents[1:]:
            a, b = d, p
            while a != b:
                if depth[a] >= depth[b]:
                    a = idom[a]
                else:
                    b = idom[b]
            d = a
        idom[v], depth[v] = d, depth[d] + 1
    out, v = set(), idom.get(y, t)
    while v != t:
        out.add(v)
        v = idom[v]
    return out


def _is_front_door(dag: Dag, t: str, y: str, region: set[str], m: tuple[str, ...], budget: Budget) -> bool:
    """Conditions (i) and (iii) of the front-door criterion ((ii) is checked on each mediator first)."""
    if len(m) > 1 and y in dag.descendants((t,), within=region, avoid=m):  # (i) m intercepts every t -> y
        return False  # (a single mediator is checked against the dominators first)
    return y not in dag.connected(m, (t,), budget, cut=frozenset(m))  # (iii) t blocks m's backdoor paths


def _min_cut_size(dag: Dag, t: str, y: str, region: set[str], cuttable: set[str], budget: Budget) -> int:
    """The fewest ``cuttable`` nodes meeting every directed path from t to y inside ``region`` (Menger:
    the most such paths sharing no cuttable node), by augmenting paths on nodes split in two. Each round
    finds as many paths as one depth-first sweep can (all of them at once for a star), so the count
    costs a few sweeps of the graph. Every path from t to y must cross a cuttable node (checked by the
    caller)."""
    big = len(region) + 1
    residual: dict[tuple, int] = {}
    adjacent: dict[tuple, list[tuple]] = {}

    def arc(a: tuple, b: tuple, capacity: int) -> None:
        residual[(a, b)] = residual.get((a, b), 0) + capacity
        residual.setdefault((b, a), 0)
        adjacent.setdefault(a, []).append(b)
        adjacent.setdefault(b, []).append(a)

    for v in region:
        arc((v, 0), (v, 1), 1 if v in cuttable else big)
        for c in dag.children[v]:
            if c in region:
                arc((v, 1), (c, 0), big)
    source, sink = (t, 1), (y, 0)
    count = 0
    while budget.spend(len(adjacent)):
        visited = {source}
        stack = [(source, iter(adjacent[source]))]
        before = count
        while stack:
            a, arcs = stack[-1]
            b = next((b for b in arcs if b not in visited and residual[(a, b)] > 0), None)
            if b is None:
                stack.pop()
            elif b == sink:
                route = [node for node, _ in stack] + [sink]
                for u, w in pairwise(route):
                    residual[(u, w)] -= 1
                    residual[(w, u)] += 1
                count += 1
                del stack[1:]  # go on from the source; the nodes of this path are used for this round
            else:
                visited.add(b)
                stack.append((b, iter(adjacent[b])))
        if count == before:
            break
    return count


def _separated_by_removal(dag: Dag, t: str, y: str, candidates: Iterable[str]) -> set[str]:
    """The candidates m whose parents (other than t) have no path to y avoiding m that could be open
    given t: a path given t passes t only as a collider, so this is connectivity in the skeleton without
    t, where t's parents are joined through one hub. All m at once from one depth-first search rooted
    at y (m cuts a parent off when the parent lies under a child of m whose subtree has no edge climbing
    above m), so the search is linear. A sufficient condition for front-door condition (iii) of {m}."""
    hub = ("hub",)
    t_parents = set(dag.parents[t])

    def neighbours(v: object) -> list[object]:
        if v == hub:
            return list(t_parents)
        assert isinstance(v, str)
        out: list[object] = [n for n in (*dag.parents[v], *dag.children[v]) if n != t]
        return [*out, hub] if v in t_parents else out

    disc: dict[object, int] = {y: 0}
    low: dict[object, int] = {y: 0}
    finish: dict[object, int] = {}
    kids: dict[object, list[object]] = {y: []}
    stack: list[tuple[object, Iterator[object], object]] = [(y, iter(neighbours(y)), None)]
    while stack:
        v, rest, up = stack[-1]
        w = next(rest, None)
        if w is None:
            stack.pop()
            finish[v] = len(disc) - 1
            if up is not None:
                low[up] = min(low[up], low[v])
        elif w not in disc:
            disc[w] = low[w] = len(disc)
            kids[w] = []
            kids[v].append(w)
            stack.append((w, iter(neighbours(w)), v))
        elif w != up:
            low[v] = min(low[v], disc[w])
    out = set()
    for m in candidates:
        cut_off = True
        starts = [disc[c] for c in kids.get(m, ())]  # increasing: children are found in order
        for a in dag.parents[m]:
            if a == t or a not in disc:
                continue
            if m not in disc or not disc[m] < disc[a] <= finish[m]:
                cut_off = False  # a reaches y along the search tree without passing m
                break
            child = kids[m][bisect_right(starts, disc[a]) - 1]  # the child whose subtree holds a
            if low[child] < disc[m]:
                cut_off = False
                break
        if cut_off:
            out.add(m)
    return out


def _front_door_note(checked: int, size: int, left: int) -> str:
    return (
        f"The front-door search stopped after checking {checked} candidate sets, at sets of {size} mediator(s) "
        f"({left} candidate mediators left): the front-door list may be incomplete."
    )


def front_door_sets(dag: Dag, g_bd: Dag, t: str, y: str, mediators: list[str]) -> Found:
    """Minimal sets of ``mediators`` (observed, sorted) satisfying the front-door criterion, by size.

    Pruned exactly: a mediator with an open backdoor path from t (condition ii) is in no front-door set;
    when even all the others leave a directed path from t to y, there is none; a set of one mediator
    must lie on every directed path (a dominator of y). The search is linear for a star (no single
    mediator works and all of them together are the only set) and stops after ``MAX_FRONT_DOOR_CHECKS``
    candidate sets or ``SEARCH_STEPS`` states, saying so."""
    budget = Budget(SEARCH_STEPS)
    confounded = g_bd.connected((t,), budget=budget)
    pool = [m for m in mediators if m not in confounded]  # (ii)
    region = dag.descendants((t,)) & dag.ancestors((y,))
    if not pool or y in dag.descendants((t,), within=region, avoid=pool):
        return Found(())
    on_every_path = _dominators(dag, t, y, region)
    certified = _separated_by_removal(dag, t, y, (m for m in pool if m in on_every_path))
    found: list[tuple[str, ...]] = []
    for i, m in enumerate(pool):
        if budget.exhausted:
            return Found(tuple(found), True, _front_door_note(i, 1, len(pool) - i))
        if m in certified or (m in on_every_path and _is_front_door(dag, t, y, region, (m,), budget)):
            found.append((m,))
    singles = {f[0] for f in found}
    pool = [m for m in pool if m not in singles]  # a set holding a found mediator is not minimal
    checks = len(pool)
    if len(pool) < 2 or y in dag.descendants((t,), within=region, avoid=pool):
        return Found(tuple(found))
    smallest = _min_cut_size(dag, t, y, region, set(pool), budget)  # no smaller set intercepts every path
    for size in range(max(2, smallest), len(pool) + 1):
        if y in dag.descendants((t,), within=region, avoid=pool):
            break  # the remaining mediators no longer intercept every directed path
        candidates = [tuple(pool)] if size == len(pool) else combinations(pool, size)
        for combo in candidates:
            checks += 1
            if checks > MAX_FRONT_DOOR_CHECKS or budget.exhausted:
                return Found(tuple(found), True, _front_door_note(checks - 1, size, len(pool)))
            chosen = set(combo)
            if any(chosen.issuperset(f) for f in found):
                continue
            budget.spend(len(region))
            if _is_front_door(dag, t, y, region, combo, budget):
                found.append(combo)
    return Found(tuple(found))
