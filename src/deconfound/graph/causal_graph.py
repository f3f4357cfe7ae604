"""Causal graphs: declare a DAG, ask what it implies.

A :class:`CausalGraph` is built from the compact text form (``"I.H -> Drug; I.H -> Severity;
Drug -> Severity"``, chains ``a -> b -> c``, ``a <-> b`` for an unobserved common cause, ``#``
comments), from DOT or dagitty text, from a list of ``(cause, effect)`` pairs, or from a networkx
``DiGraph``. Cycles are refused with the cycle spelled out.

Which nodes are observed is decided by the data: a node that is not a column is unobserved. Without
data every node is observed except those declared ``latent`` (DOT/dagitty) and the hidden common
cause behind each ``<->``, which is stored as an explicit node named ``U(a,b)`` so that networkx's
d-separation algorithms apply unchanged.

Identification (backdoor paths, adjustment sets, bad controls, instruments, front door) lives in
:mod:`deconfound.graph.identification`; the methods here are shortcuts to it.
"""

from __future__ import annotations

import difflib
import io
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import networkx as nx

from ..errors import SpecificationError
from .parse import ParsedGraph, looks_like_dot, parse_compact, parse_dot

if TYPE_CHECKING:  # pragma: no cover
    from .identification import AdjustmentCheck, Identification, Path

__all__ = ["CausalGraph", "as_graph"]

_PLAIN_NAME = re.compile(r"^[^\s;,#\"'<>=→←↔-](?:[^;,#\"'<>=→←↔]*[^\s;,#\"'<>=→←↔-])?$")


def _check_name(name: Any, where: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise SpecificationError(f"node names must be non-empty strings; {where} has {name!r}.")
    return name


def _cycle_text(cycle: list[tuple[Any, ...]]) -> str:
    nodes = [str(edge[0]) for edge in cycle] + [str(cycle[0][0])]
    return " -> ".join(nodes)


class CausalGraph:
    """A directed acyclic graph of causes, with optional unobserved common causes.

    Parameters
    ----------
    edges
        ``(cause, effect)`` pairs.
    bidirected
        ``(a, b)`` pairs, each meaning "a and b share an unobserved common cause".
    nodes
        extra nodes without edges (isolated variables).
    latent
        nodes that are never observed, whatever the data holds.

    Build one from text with :meth:`parse` (compact form or DOT) or use :func:`as_graph`, which
    accepts any of the forms.
    """

    def __init__(
        self,
        edges: Iterable[tuple[str, str]] = (),
        *,
        bidirected: Iterable[tuple[str, str]] = (),
        nodes: Iterable[str] = (),
        latent: Iterable[str] = (),
    ) -> None:
        dag = nx.DiGraph()
        for node in nodes:
            dag.add_node(_check_name(node, "nodes"))
        edge_list = []
        for edge in edges:
            if not isinstance(edge, (tuple, list)) or len(edge) != 2:
                raise SpecificationError(f"each edge must be a (cause, effect) pair, got {edge!r}.")
            a, b = (_check_name(x, f"edge {tuple(edge)!r}") for x in edge)
            edge_list.append((a, b))
        dag.add_edges_from(edge_list)
        pairs: list[tuple[str, str]] = []
        for pair in bidirected:
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise SpecificationError(f"each bidirected edge must be a pair (a, b), got {pair!r}.")
            a, b = (_check_name(x, f"bidirected edge {tuple(pair)!r}") for x in pair)
            if a == b:
                raise SpecificationError(f"bidirected edge {a} <-> {b} joins a node to itself; remove it.")
            if not any({a, b} == set(p) for p in pairs):
                pairs.append((a, b))
        dag.add_nodes_from(n for p in pairs for n in p)
        self._latent = frozenset(_check_name(x, "latent") for x in latent)
        unknown = sorted(self._latent - set(dag.nodes))
        if unknown:
            raise SpecificationError(f"latent names {unknown} that are not nodes of the graph.")
        self._nodes = tuple(dag.nodes)
        self._edges = tuple(dict.fromkeys(edge_list))
        self._pairs = tuple(pairs)
        self._hidden: dict[str, tuple[str, str]] = {}
        for a, b in pairs:
            name = f"U({a},{b})"
            while name in dag:
                name += "'"
            self._hidden[name] = (a, b)
            dag.add_edge(name, a)
            dag.add_edge(name, b)
        try:
            cycle = nx.find_cycle(dag)
        except nx.NetworkXNoCycle:
            cycle = None
        if cycle is not None:
            raise SpecificationError(
                f"The graph has a cycle: {_cycle_text(cycle)}. A causal graph must be acyclic (nothing can cause "
                "itself, even through others); remove or reverse one of these arrows."
            )
        self._dag = nx.freeze(dag)
        self._desc: dict[str, frozenset[str]] = {}  # descendants by node, filled on demand (the graph is immutable)

    # construction ---------------------------------------------------------------------------------
    @classmethod
    def _from_parsed(cls, parsed: ParsedGraph) -> CausalGraph:
        return cls(parsed.edges, bidirected=parsed.bidirected, nodes=parsed.nodes, latent=parsed.latent)

    @classmethod
    def parse(cls, text: str) -> CausalGraph:
        """Read the compact arrow form or DOT/dagitty text (recognised by its ``digraph``/``dag`` keyword)."""
        if not isinstance(text, str):
            raise SpecificationError(f"graph text must be a string, got {type(text).__name__}.")
        if not text.strip():
            raise SpecificationError("the graph text is empty; write edges such as 'Z -> T; Z -> Y; T -> Y'.")
        parsed = parse_dot(text) if looks_like_dot(text) else parse_compact(text)
        if not parsed.nodes:
            raise SpecificationError(
                f"the graph text {text.strip()[:60]!r} declares no node; write edges such as 'Z -> T; Z -> Y; T -> Y'."
            )
        return cls._from_parsed(parsed)

    @classmethod
    def from_dot(cls, text: str) -> CausalGraph:
        """Read DOT (``digraph { a -> b }``) or dagitty (``dag { a -> b }``) text."""
        return cls._from_parsed(parse_dot(text))

    @classmethod
    def from_edges(cls, edges: Iterable[tuple[str, str]], *, bidirected: Iterable[tuple[str, str]] = ()) -> CausalGraph:
        return cls(edges, bidirected=bidirected)

    @classmethod
    def from_networkx(cls, graph: Any) -> CausalGraph:
        """From a networkx ``DiGraph``; nodes with attribute ``latent=True`` are declared unobserved and
        edges with ``bidirected=True`` mean an unobserved common cause."""
        if not isinstance(graph, nx.DiGraph) and not isinstance(graph, nx.MultiDiGraph):
            kind = "an undirected graph" if isinstance(graph, nx.Graph) else type(graph).__name__
            raise SpecificationError(f"a causal graph must be a directed networkx graph (DiGraph), got {kind}.")
        for node in graph.nodes:
            _check_name(node, "the networkx graph")
        edges: list[tuple[str, str]] = []
        pairs: list[tuple[str, str]] = []
        for a, b, attrs in graph.edges(data=True):
            (pairs if attrs.get("bidirected") else edges).append((a, b))
        latent = [n for n, attrs in graph.nodes(data=True) if attrs.get("latent")]
        return cls(edges, bidirected=pairs, nodes=list(graph.nodes), latent=latent)

    # what the graph holds -------------------------------------------------------------------------
    @property
    def nodes(self) -> tuple[str, ...]:
        """The declared nodes (not the hidden ``U(a,b)`` nodes behind ``<->``)."""
        return self._nodes

    @property
    def edges(self) -> tuple[tuple[str, str], ...]:
        return self._edges

    @property
    def bidirected(self) -> tuple[tuple[str, str], ...]:
        return self._pairs

    @property
    def latent(self) -> frozenset[str]:
        """Nodes declared unobserved (DOT ``[latent]``); the hidden ``U(a,b)`` nodes are not listed."""
        return self._latent

    @property
    def hidden(self) -> Mapping[str, tuple[str, str]]:
        """The node standing for each ``a <-> b``: ``{"U(a,b)": ("a", "b")}``."""
        return dict(self._hidden)

    @property
    def dag(self) -> nx.DiGraph:
        """The graph as a frozen networkx ``DiGraph``, ``U(a,b)`` nodes included (copy it to modify)."""
        return self._dag

    def __contains__(self, node: object) -> bool:
        return node in self._dag

    def __len__(self) -> int:
        return len(self._nodes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CausalGraph):
            return NotImplemented
        return (
            set(self._nodes) == set(other._nodes)
            and set(self._edges) == set(other._edges)
            and {frozenset(p) for p in self._pairs} == {frozenset(p) for p in other._pairs}
            and self._latent == other._latent
        )

    __hash__ = None  # type: ignore[assignment]

    def check_node(self, name: Any, role: str) -> str:
        """Return ``name`` if it is a node, else raise naming the closest node."""
        if isinstance(name, str) and name in self._dag and name not in self._hidden:
            return name
        if not self._nodes:
            raise SpecificationError(
                f"{role} {name!r} is not a node of the graph: the graph is empty. Declare its edges, e.g. "
                "'Z -> T; Z -> Y; T -> Y'."
            )
        close = difflib.get_close_matches(str(name), list(self._nodes), n=1, cutoff=0.6)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        shown = ", ".join(repr(n) for n in self._nodes[:15]) + (", ..." if len(self._nodes) > 15 else "")
        raise SpecificationError(f"{role} {name!r} is not a node of the graph.{hint} Nodes: {shown}.")

    def unobserved(self, observed: Iterable[str] | None = None) -> frozenset[str]:
        """Nodes that cannot be adjusted for: declared latent, hidden ``U(a,b)``, and (when ``observed``
        is given, e.g. the data's columns) every node not in it."""
        out = set(self._latent) | set(self._hidden)
        if observed is not None:
            seen = set(observed)
            out |= {n for n in self._nodes if n not in seen}
        return frozenset(out)

    def parents(self, node: str) -> frozenset[str]:
        return frozenset(self._dag.predecessors(self.check_node(node, "node")))

    def children(self, node: str) -> frozenset[str]:
        return frozenset(self._dag.successors(self.check_node(node, "node")))

    def ancestors(self, node: str) -> frozenset[str]:
        return frozenset(nx.ancestors(self._dag, self.check_node(node, "node")))

    def descendants(self, node: str) -> frozenset[str]:
        return self.descendants_of(self.check_node(node, "node"))

    def descendants_of(self, node: str) -> frozenset[str]:
        """Descendants of any node, hidden ``U(a,b)`` ones included (cached; no name check)."""
        if node not in self._desc:
            self._desc[node] = frozenset(nx.descendants(self._dag, node))
        return self._desc[node]

    def d_separated(self, x: str | Iterable[str], y: str | Iterable[str], given: Iterable[str] = ()) -> bool:
        """True when ``given`` d-separates ``x`` from ``y`` (networkx's ``is_d_separator``)."""

        def as_set(v: str | Iterable[str], role: str) -> set[str]:
            items = [v] if isinstance(v, str) else list(v)
            return {n if n in self._hidden else self.check_node(n, role) for n in items}

        xs, ys, zs = as_set(x, "x"), as_set(y, "y"), as_set(given, "given")
        if (xs & ys) or (xs & zs) or (ys & zs):
            raise SpecificationError("x, y and given must not share nodes.")
        return bool(nx.is_d_separator(self._dag, xs, ys, zs))

    # identification shortcuts ---------------------------------------------------------------------
    def identify(
        self,
        treatment: str,
        outcome: str,
        *,
        observed: Iterable[str] | None = None,
        alternatives: bool | None = None,
    ) -> Identification:
        """Backdoor paths, adjustment sets, and (if adjustment fails, or ``alternatives=True``) instruments
        and front-door sets."""
        from .identification import identify

        return identify(self, treatment=treatment, outcome=outcome, observed=observed, alternatives=alternatives)

    def check_adjustment(
        self, treatment: str, outcome: str, covariates: Iterable[str], *, observed: Iterable[str] | None = None
    ) -> AdjustmentCheck:
        """Does ``covariates`` satisfy the backdoor criterion? Which path stays open, which variable is a bad
        control (mediator, collider, descendant of the treatment, pure cause of the treatment)?"""
        from .identification import check_adjustment

        return check_adjustment(self, treatment=treatment, outcome=outcome, covariates=covariates, observed=observed)

    def backdoor_paths(self, treatment: str, outcome: str) -> tuple[Path, ...]:
        """Every path from ``treatment`` to ``outcome`` that starts with an arrow into the treatment."""
        from .identification import backdoor_paths

        return backdoor_paths(self, treatment, outcome)

    # output ---------------------------------------------------------------------------------------
    def to_networkx(self) -> nx.DiGraph:
        """A mutable copy; ``U(a,b)`` nodes and declared latent nodes carry ``latent=True``."""
        out = nx.DiGraph(self._dag)
        for node in out.nodes:
            out.nodes[node]["latent"] = node in self._latent or node in self._hidden
        return out

    @staticmethod
    def _quote(name: str) -> str:
        if _PLAIN_NAME.match(name) and not re.search(r"\s\s|->|<-|--|//", name):
            return name
        return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'

    def to_text(self) -> str:
        """The compact form, one statement per edge (``;``-separated); parses back to an equal graph."""
        linked = {n for e in self._edges for n in e} | {n for p in self._pairs for n in p}
        parts = [f"{self._quote(a)} -> {self._quote(b)}" for a, b in self._edges]
        parts += [f"{self._quote(a)} <-> {self._quote(b)}" for a, b in self._pairs]
        parts += [self._quote(n) for n in self._nodes if n not in linked]
        return "; ".join(parts)

    def to_dot(self, name: str = "G") -> str:
        """DOT text (left to right); latent nodes dashed, ``a <-> b`` as a dashed two-headed edge."""

        def q(s: str) -> str:
            return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

        lines = [f"digraph {q(name)} {{", "  rankdir=LR;"]
        for node in self._nodes:
            attrs = " [latent=true, style=dashed]" if node in self._latent else ""
            lines.append(f"  {q(node)}{attrs};")
        lines += [f"  {q(a)} -> {q(b)};" for a, b in self._edges]
        lines += [f"  {q(a)} -> {q(b)} [dir=both, style=dashed];" for a, b in self._pairs]
        lines.append("}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return f"CausalGraph({self.to_text()!r})"

    def draw(
        self,
        *,
        treatment: str | None = None,
        outcome: str | None = None,
        observed: Iterable[str] | None = None,
        covariates: Iterable[str] | None = None,
        ax: Any = None,
        title: str | None = None,
    ) -> Any:
        """Draw the graph left to right (see :func:`deconfound.plots.dag.dag_plot`); returns the Figure."""
        from ..plots.dag import dag_plot

        return dag_plot(
            self, treatment=treatment, outcome=outcome, observed=observed, covariates=covariates, ax=ax, title=title
        )

    def _render(self, fmt: str) -> bytes:
        import matplotlib.pyplot as plt

        fig = self.draw()
        buffer = io.BytesIO()
        fig.savefig(buffer, format=fmt, bbox_inches="tight", dpi=100)
        plt.close(fig)
        return buffer.getvalue()

    def _repr_png_(self) -> bytes:
        return self._render("png")

    def _repr_svg_(self) -> str:
        return self._render("svg").decode("utf-8")


def as_graph(graph: Any) -> CausalGraph:
    """A :class:`CausalGraph` from any accepted form: a CausalGraph, compact or DOT text, a list of
    ``(cause, effect)`` pairs (or of text statements), a ``{node: [children]}`` dict, or a networkx DiGraph."""
    if isinstance(graph, CausalGraph):
        return graph
    if isinstance(graph, str):
        return CausalGraph.parse(graph)
    if isinstance(graph, nx.Graph):
        return CausalGraph.from_networkx(graph)
    if isinstance(graph, Mapping):
        edges = []
        for parent, kids in graph.items():
            if not isinstance(kids, (str, Iterable)):
                raise SpecificationError(
                    f"in a {{node: [children]}} graph each value lists children; {parent!r} maps to {kids!r}."
                )
            kids = [kids] if isinstance(kids, str) else list(kids)
            edges += [(parent, kid) for kid in kids]
        return CausalGraph(edges, nodes=list(graph))
    if isinstance(graph, Iterable):
        items = list(graph)
        if items and all(isinstance(item, str) for item in items):
            return CausalGraph.parse("\n".join(items))
        return CausalGraph(items)
    raise SpecificationError(
        f"graph must be text (e.g. 'Z -> T; Z -> Y; T -> Y'), DOT, a list of (cause, effect) pairs or a networkx "
        f"DiGraph; got {type(graph).__name__}."
    )
