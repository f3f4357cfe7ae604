"""Linear-time d-separation on a fixed DAG, for the searches of :mod:`.identification`.

networkx's ``is_d_separator`` and ``find_minimal_d_separator`` check that the graph is acyclic and
recompute ancestor sets on every call, and its ``_reachable`` keeps the visited states in a deque
(a linear membership test): called once per candidate on a graph of n nodes, they made the searches
quadratic or worse. Here the graph is read once into parent and child lists (:class:`Dag`); every
function below visits each (node, direction) state at most once, so one call costs O(nodes + edges)
of the part of the graph it touches. The results are the same as networkx's (the tests compare them).

A :class:`Budget` counts the states visited across a whole search so that a search over exponentially
many candidates stops (and says so) instead of running for minutes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import networkx as nx

__all__ = ["Budget", "Dag"]


@dataclass
class Budget:
    """How many graph states a search may still visit; ``exhausted`` once it went over."""

    limit: int
    spent: int = 0
    exhausted: bool = field(default=False)

    def spend(self, steps: int) -> bool:
        """Record ``steps``; False when the budget is now used up."""
        self.spent += steps
        if self.spent > self.limit:
            self.exhausted = True
        return not self.exhausted


class Dag:
    """Parent and child lists of a DAG (read once), with the d-separation primitives."""

    __slots__ = ("children", "parents")

    def __init__(self, parents: dict[str, tuple[str, ...]], children: dict[str, tuple[str, ...]]) -> None:
        self.parents = parents
        self.children = children

    @classmethod
    def of(cls, graph: nx.DiGraph) -> Dag:
        pred, succ = graph.pred, graph.succ
        return cls({n: tuple(pred[n]) for n in graph}, {n: tuple(succ[n]) for n in graph})

    def without_out_edges(self, nodes: Iterable[str]) -> Dag:
        """The graph with every edge out of ``nodes`` removed (the graph itself is unchanged)."""
        parents, children = dict(self.parents), dict(self.children)
        for n in set(nodes):
            for c in children[n]:
                parents[c] = tuple(p for p in parents[c] if p != n)
            children[n] = ()
        return Dag(parents, children)

    # reachability -----------------------------------------------------------------------------------
    def ancestors(
        self, nodes: Iterable[str], budget: Budget | None = None, cut: frozenset[str] = frozenset()
    ) -> set[str]:
        """``nodes`` and their ancestors (not through the outgoing edges of ``cut``)."""
        seen = set(nodes)
        stack = list(seen)
        parents = self.parents
        while stack:
            for p in parents[stack.pop()]:
                if p not in seen and p not in cut:
                    seen.add(p)
                    stack.append(p)
        if budget is not None:
            budget.spend(len(seen))
        return seen

    def descendants(self, nodes: Iterable[str], within: set[str] | None = None, avoid: Iterable[str] = ()) -> set[str]:
        """Nodes reached from ``nodes`` by directed paths (the nodes included), through ``within`` only
        (when given) and never through ``avoid``."""
        blocked = set(avoid)
        seen = set(nodes) - blocked
        stack = list(seen)
        children = self.children
        while stack:
            for c in children[stack.pop()]:
                if c not in seen and c not in blocked and (within is None or c in within):
                    seen.add(c)
                    stack.append(c)
        return seen

    def connected(
        self,
        sources: Iterable[str],
        given: Iterable[str] = (),
        budget: Budget | None = None,
        cut: frozenset[str] = frozenset(),
    ) -> set[str]:
        """Every node d-connected to some node of ``sources`` given ``given`` (Bayes-ball), the sources
        included; in the graph without the outgoing edges of ``cut`` when given."""
        z = set(given)
        an_z = self.ancestors(z, cut=cut)  # a collider is open when it or one of its descendants is given
        parents, children = self.parents, self.children
        up: set[str] = set()  # reached from a child (or a start): the ball moves on to parents and children
        down: set[str] = set()  # reached from a parent
        stack: list[tuple[str, bool]] = []
        for s in sources:
            up.add(s)
            stack.append((s, True))
        while stack:
            v, from_child = stack.pop()
            if from_child:
                if v in z:
                    continue
                targets_up, targets_down = parents[v], children[v]
            else:
                targets_up = parents[v] if v in an_z else ()
                targets_down = () if v in z else children[v]
            if v in cut:
                targets_down = ()
            for p in targets_up:
                if p not in up and p not in cut:
                    up.add(p)
                    stack.append((p, True))
            for c in targets_down:
                if c not in down:
                    down.add(c)
                    stack.append((c, False))
        if budget is not None:
            budget.spend(len(up) + len(down) + len(an_z))
        return (up | down) - z

    def separated(self, x: Iterable[str], y: Iterable[str], given: Iterable[str] = ()) -> bool:
        """True when ``given`` d-separates every node of ``x`` from every node of ``y``."""
        return not (self.connected(x, given) & set(y))

    def closure(self, start: Iterable[str], within: set[str], z: set[str], budget: Budget | None = None) -> set[str]:
        """The nodes reachable from ``start`` in the moral graph of ``within`` (an ancestral set) without
        passing through ``z``; the members of ``z`` met on the way are included (networkx's
        ``_reachable``: van der Zander & Liskiewicz's REACHABLE restricted to DAGs)."""
        parents, children = self.parents, self.children
        states: set[tuple[bool, str]] = set()
        stack: list[tuple[bool, str]] = []
        for x in start:
            if parents[x]:
                stack.append((True, x))
            if children[x]:
                stack.append((False, x))
        states.update(stack)
        while stack:
            into, v = stack.pop()
            if v not in z:
                for p in parents[v]:
                    if p in within and (False, p) not in states:
                        states.add((False, p))
                        stack.append((False, p))
                for c in children[v]:
                    if c in within and (True, c) not in states:
                        states.add((True, c))
                        stack.append((True, c))
            elif into:  # a conditioned collider: the ball passes to its other parents
                for p in parents[v]:
                    if p in within and (False, p) not in states:
                        states.add((False, p))
                        stack.append((False, p))
        if budget is not None:
            budget.spend(len(states))
        return {v for _, v in states}

    def minimal_separator(
        self,
        x: str,
        y: str,
        restricted: Iterable[str],
        within: set[str] | None = None,
        budget: Budget | None = None,
    ) -> frozenset[str] | None:
        """A minimal d-separator of ``x`` and ``y`` made of ``restricted`` nodes, or None if there is none
        (the set networkx's ``find_minimal_d_separator`` returns). ``within``: the ancestors of x and y,
        when the caller already has them."""
        if within is None:
            within = self.ancestors((x, y))
        z_init = (set(restricted) & within) - {x, y}
        x_closure = self.closure((x,), within, z_init, budget)
        if y in x_closure:
            return None
        z_near_x = z_init & x_closure
        return frozenset(z_near_x & self.closure((y,), within, z_near_x, budget))

    def necessary(self, x: str, y: str, z: set[str], within: set[str], budget: Budget | None = None) -> set[str]:
        """The members of ``z`` (a separator of x and y inside ``within``) that every separator made of
        ``z``'s nodes contains: those next to both x's and y's side in the moral graph. Removing any
        other member leaves a set that still contains a separator."""
        return z & self.closure((x,), within, z, budget) & self.closure((y,), within, z, budget)
