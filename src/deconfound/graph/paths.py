"""Paths between two nodes of a causal graph, to explain identification in words.

Enumerating paths is exponential in the worst case, so it is used only to *explain* (which path is
open, which variable opens it); whether a set is valid is always decided by d-separation.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice, pairwise
from typing import TYPE_CHECKING

import networkx as nx

from .dsep import Budget

if TYPE_CHECKING:  # pragma: no cover
    from .causal_graph import CausalGraph

MAX_PATHS = 1000
PATH_STEPS = 1_000_000  # edges the depth-first path search may follow (a few tenths of a second)


@dataclass(frozen=True)
class Path:
    """A path between two nodes: its nodes, the arrow between each pair (``"->"`` or ``"<-"``) and its
    colliders (nodes both neighbours point into). ``text`` reads like ``Drug <- I.H -> Severity``; the
    hidden node of a bidirected edge is shown as ``a <-> b``."""

    nodes: tuple[str, ...]
    arrows: tuple[str, ...]
    text: str
    colliders: tuple[str, ...]
    collider_descendants: tuple[frozenset[str], ...] = field(default=(), compare=False, repr=False)

    def open_given(self, given: Iterable[str]) -> bool:
        """d-connection along this path given ``given``: every collider is in ``given`` or has a descendant
        there, and no other interior node is in ``given``."""
        return self.blocker(given) is None

    def blocker(self, given: Iterable[str]) -> str | None:
        """What blocks the path given ``given`` (``"I.H (adjusted)"``, ``"collider C"``), or None if open."""
        z = set(given)
        desc = dict(zip(self.colliders, self.collider_descendants))
        for node in self.nodes[1:-1]:
            if node in desc:
                if node not in z and not (desc[node] & z):
                    return f"collider {node}"
            elif node in z:
                return f"{node} (adjusted)"
        return None

    def __str__(self) -> str:
        return self.text


def _text(g: CausalGraph, nodes: tuple[str, ...], arrows: tuple[str, ...]) -> str:
    hidden = g.hidden
    parts = [nodes[0]]
    i = 1
    while i < len(nodes):
        node = nodes[i]
        if node in hidden and i + 1 < len(nodes) and arrows[i - 1] == "<-" and arrows[i] == "->":
            parts += ["<->", nodes[i + 1]]
            i += 2
            continue
        parts += [arrows[i - 1], node]
        i += 1
    return " ".join(parts)


def make_path(g: CausalGraph, nodes: Iterable[str]) -> Path:
    dag = g.dag
    seq = tuple(nodes)
    arrows = tuple("->" if dag.has_edge(a, b) else "<-" for a, b in pairwise(seq))
    colliders = tuple(
        seq[i] for i in range(1, len(seq) - 1) if dag.has_edge(seq[i - 1], seq[i]) and dag.has_edge(seq[i + 1], seq[i])
    )
    descendants = tuple(g.descendants_of(c) for c in colliders)
    return Path(seq, arrows, _text(g, seq, arrows), colliders, descendants)


def _sorted(paths: Iterable[Path]) -> tuple[Path, ...]:
    return tuple(sorted(paths, key=lambda p: (len(p.nodes), p.text)))


def _neighbours(dag: nx.DiGraph) -> dict[str, list[str]]:
    return {n: sorted(set(dag.predecessors(n)) | set(dag.successors(n))) for n in dag.nodes}


def _simple_paths(
    adjacent: dict[str, list[str]], start: list[str], target: str, budget: Budget | None = None
) -> Iterator[list[str]]:
    """Every simple path that begins with the nodes ``start`` and ends at ``target`` (depth first); stops
    when ``budget`` (one step per edge followed) runs out, marking it exhausted."""
    path = list(start)
    on_path = set(path)
    stack = [iter(adjacent[path[-1]])]
    if path[-1] == target:
        yield list(path)
        return
    while stack:
        if budget is not None and not budget.spend(1):
            return
        nxt = next(stack[-1], None)
        if nxt is None:
            stack.pop()
            on_path.discard(path.pop())
        elif nxt == target:
            yield [*path, nxt]
        elif nxt not in on_path:
            path.append(nxt)
            on_path.add(nxt)
            stack.append(iter(adjacent[nxt]))


def _backdoor_node_lists(g: CausalGraph, t: str, y: str, budget: Budget) -> Iterator[list[str]]:
    dag = g.dag
    adjacent = _neighbours(dag)
    for parent in sorted(dag.predecessors(t)):
        yield from _simple_paths(adjacent, [t, parent], y, budget)


def backdoor_path_list(g: CausalGraph, t: str, y: str, limit: int = MAX_PATHS) -> tuple[tuple[Path, ...], bool]:
    """(every path from t to y starting with an arrow into t, whether the list was cut: at ``limit``
    paths, or after ``PATH_STEPS`` steps of the depth-first search)."""
    budget = Budget(PATH_STEPS)
    found = list(islice(_backdoor_node_lists(g, t, y, budget), limit + 1))
    return _sorted(make_path(g, p) for p in found[:limit]), len(found) > limit or budget.exhausted


def noncausal_paths(g: CausalGraph, t: str, y: str, limit: int = MAX_PATHS) -> tuple[Path, ...]:
    """Every path between t and y that is not a directed path from t to y (backdoor paths, and paths
    such as ``t -> C <- y`` that a bad control can open), up to ``limit`` paths or ``PATH_STEPS`` steps."""
    out = []
    for nodes in islice(_simple_paths(_neighbours(g.dag), [t], y, Budget(PATH_STEPS)), limit):
        path = make_path(g, nodes)
        if any(a == "<-" for a in path.arrows):
            out.append(path)
    return _sorted(out)


def causal_example(dag: nx.DiGraph, t: str, v: str, y: str) -> str:
    """A directed path from t through v to y, as text."""
    nodes = nx.shortest_path(dag, t, v) + nx.shortest_path(dag, v, y)[1:]
    return " -> ".join(nodes)
