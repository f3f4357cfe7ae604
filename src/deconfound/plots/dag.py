"""A causal graph drawn like the article's Figure 1: left to right, treatment and outcome highlighted,
confounders coloured, unobserved variables dashed.

The layout is computed here (no Graphviz): each node sits in the column of its longest chain of causes
(causes with no causes of their own move right, next to their first effect); the treatment and the
outcome share the middle row and the other nodes of a column take the free row nearest to the mean row
of their already placed neighbours. An edge that would run through another node is drawn as an arc.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import networkx as nx

from ..graph.causal_graph import CausalGraph, as_graph

COLORS = {
    "treatment": "#4C72B0",
    "outcome": "#DD8452",
    "confounder": "#55A868",
    "mediator": "#B07AA1",
    "other": "#EEEEEE",
    "unobserved": "#FFFFFF",
}
LABELS = {
    "treatment": "treatment",
    "outcome": "outcome",
    "confounder": "confounder",
    "mediator": "mediator",
    "other": "other variable",
    "unobserved": "unobserved",
}


def _columns(dag: nx.DiGraph) -> dict[str, int]:
    column: dict[str, int] = {}
    for node in nx.topological_sort(dag):
        column[node] = max((column[p] + 1 for p in dag.predecessors(node)), default=0)
    for node in reversed(list(nx.topological_sort(dag))):
        kids = list(dag.successors(node))
        if not list(dag.predecessors(node)) and kids:
            column[node] = min(column[k] for k in kids) - 1
    low = min(column.values(), default=0)
    return {n: c - low for n, c in column.items()}


def _free_row(wanted: float, taken: set[int]) -> int:
    candidates = [r for r in range(-len(taken) - 2, len(taken) + 3) if r not in taken]
    return min(candidates, key=lambda r: (abs(r - wanted), abs(r), -r))


def layered_layout(
    graph: Any, *, treatment: str | None = None, outcome: str | None = None
) -> dict[str, tuple[float, float]]:
    """Positions ``{node: (x, y)}``: x is the column (causes left of effects), y the row.

    The hidden nodes of ``a <-> b`` edges are not placed (they are drawn as dashed arcs).
    """
    g = as_graph(graph)
    dag = g.dag.subgraph([n for n in g.dag.nodes if n not in g.hidden])
    column = _columns(dag)
    pinned = {n for n in (treatment, outcome) if n is not None}
    row: dict[str, int] = {}
    by_column: dict[int, list[str]] = {}
    for node in g.nodes:
        by_column.setdefault(column[node], []).append(node)
    for _ in range(2):  # a second sweep sees the rows placed by the first
        placed = dict(row)
        row = {}
        for col in sorted(by_column):
            taken = {0} if pinned else set()  # the middle row belongs to the treatment and the outcome
            for node in by_column[col]:
                if node in pinned:
                    row[node] = 0
            for node in by_column[col]:
                if node in pinned:
                    continue
                seen = [row.get(m, placed.get(m)) for m in nx.all_neighbors(dag, node)]
                near = [r for r in seen if r is not None]
                wanted = sum(near) / len(near) if near else 0.0
                row[node] = _free_row(wanted, taken)
                taken.add(row[node])
    return {n: (float(column[n]), float(row[n])) for n in g.nodes}


def node_roles(
    graph: CausalGraph, treatment: str | None, outcome: str | None, observed: Iterable[str] | None
) -> dict[str, str]:
    """``{node: role}`` with roles treatment, outcome, confounder, mediator, other, unobserved."""
    dag = graph.dag
    hidden = graph.unobserved(observed)
    roles = {n: ("unobserved" if n in hidden else "other") for n in graph.nodes}
    if treatment is None or outcome is None:
        for node, role in ((treatment, "treatment"), (outcome, "outcome")):
            if node is not None:
                roles[node] = role
        return roles
    without_t = nx.restricted_view(dag, [treatment], [])
    causes_y = nx.ancestors(without_t, outcome)
    effects_t = nx.descendants(dag, treatment)
    for node in graph.nodes:
        if node in (treatment, outcome):
            continue
        if node in nx.ancestors(dag, treatment) and node in causes_y and node not in hidden:
            roles[node] = "confounder"
        elif node in effects_t and node in nx.ancestors(dag, outcome) and node not in hidden:
            roles[node] = "mediator"
    roles[treatment], roles[outcome] = "treatment", "outcome"
    return roles


def _passes_near(a: tuple[float, float], b: tuple[float, float], points: Iterable[tuple[float, float]]) -> bool:
    (x1, y1), (x2, y2) = a, b
    dx, dy = x2 - x1, y2 - y1
    length2 = dx * dx + dy * dy or 1.0
    for px, py in points:
        u = ((px - x1) * dx + (py - y1) * dy) / length2
        if 0.05 < u < 0.95:
            cx, cy = x1 + u * dx, y1 + u * dy
            if (px - cx) ** 2 + ((py - cy) * 1.6) ** 2 < 0.3**2:
                return True
    return False


def dag_plot(
    graph: Any,
    *,
    treatment: str | None = None,
    outcome: str | None = None,
    observed: Iterable[str] | None = None,
    covariates: Iterable[str] | None = None,
    ax: Any = None,
    title: str | None = None,
) -> Any:
    """Draw ``graph`` left to right and return the matplotlib Figure.

    ``treatment`` and ``outcome`` are highlighted, confounders (common causes of both) coloured,
    mediators too; nodes not in ``observed`` (e.g. the data's columns) and declared latent ones are
    dashed, and so are arrows leaving them; ``a <-> b`` is a dashed two-headed arc. Members of
    ``covariates`` (the adjustment set) get a thick black border.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, Patch

    g = as_graph(graph)
    for node in (treatment, outcome):
        if node is not None:
            g.check_node(node, "node")
    pos = layered_layout(g, treatment=treatment, outcome=outcome)
    roles = node_roles(g, treatment, outcome, observed)
    adjusted = set(covariates or ())
    width = max(xy[0] for xy in pos.values()) + 1 if pos else 1
    rows = {xy[1] for xy in pos.values()} or {0.0}
    if ax is None:
        fig, ax = plt.subplots(figsize=(max(4.0, 2.3 * width + 1.0), max(2.4, 1.2 * (max(rows) - min(rows)) + 2.0)))
    else:
        fig = ax.figure
    boxes = {}
    for node, (x, y) in pos.items():
        role = roles[node]
        dark = role in ("treatment", "outcome", "confounder", "mediator")
        boxes[node] = ax.text(
            x,
            y,
            node,
            ha="center",
            va="center",
            zorder=3,
            fontsize=11,
            color="white" if dark else "#222222",
            fontweight="bold" if role in ("treatment", "outcome") else "normal",
            bbox={
                "boxstyle": "round,pad=0.5",
                "facecolor": COLORS[role],
                "edgecolor": "#111111" if node in adjusted else "#555555",
                "linewidth": 2.6 if node in adjusted else 1.0,
                "linestyle": "--" if role == "unobserved" else "-",
            },
        )
    hidden = g.unobserved(observed)

    def arrow(a: str, b: str, **style: Any) -> None:
        patches = {"patchA": boxes[a].get_bbox_patch(), "patchB": boxes[b].get_bbox_patch()}
        ax.add_patch(FancyArrowPatch(pos[a], pos[b], zorder=4, **patches, **style))

    for a, b in g.edges:
        rad = 0.3 if _passes_near(pos[a], pos[b], [p for n, p in pos.items() if n not in (a, b)]) else 0.0
        style = "--" if a in hidden else "-"
        arrow(
            a,
            b,
            arrowstyle="-|>",
            mutation_scale=16,
            linewidth=1.4,
            linestyle=style,
            color="#333333",
            connectionstyle=f"arc3,rad={rad}",
        )
    for a, b in g.bidirected:
        arrow(
            a,
            b,
            arrowstyle="<|-|>",
            mutation_scale=14,
            linewidth=1.2,
            linestyle="--",
            color="#777777",
            connectionstyle="arc3,rad=-0.45",
        )
    present = [r for r in COLORS if r in roles.values()]
    handles = [
        Patch(facecolor=COLORS[r], edgecolor="#555555", linestyle="--" if r == "unobserved" else "-", label=LABELS[r])
        for r in present
    ]
    if adjusted:
        handles.append(Patch(facecolor="white", edgecolor="#111111", linewidth=2.6, label="adjusted for"))
    if g.bidirected:
        handles.append(
            Patch(facecolor="white", edgecolor="#777777", linestyle="--", label="<-> unobserved common cause")
        )
    if len(handles) > 1 or treatment is not None:
        ax.legend(
            handles=handles,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.02),
            ncol=min(len(handles), 4),
            frameon=False,
            fontsize=9,
        )
    xs = [p[0] for p in pos.values()] or [0.0]
    ax.set_xlim(min(xs) - 0.7, max(xs) + 0.7)
    ax.set_ylim(min(rows) - 0.9, max(rows) + 0.9)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return fig
