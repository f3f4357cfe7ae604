"""What a causal graph says about estimating the effect of a treatment on an outcome.

* :func:`backdoor_paths` lists every path from the treatment to the outcome that starts with an arrow
  into the treatment.
* :func:`identify` finds every minimal set satisfying the backdoor criterion (no descendant of the
  treatment; blocks every backdoor path), the smallest one made of observed variables, and, when no
  observed set works, explains which path cannot be closed and whether an instrument or the front-door
  criterion would identify the effect instead.
* :func:`check_adjustment` checks a set the user chose: is it valid, which path stays open, and which
  variables are bad controls (mediator, collider, descendant of the treatment or of the outcome) or
  only cost precision (a pure cause of the treatment).

The searches live in :mod:`.search`, on the linear-time d-separation of :mod:`.dsep` (the same
answers as networkx's ``is_d_separator`` and ``find_minimal_d_separator``): all minimal sets are
enumerated by branching on the members of each separator found (every other minimal set misses at
least one of them). Instruments and front-door sets are searched only when adjustment fails (or when
asked). Every search stops at a budget and then sets ``truncated`` with a note. Paths are enumerated
only to explain; the criterion itself is always decided by d-separation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import pandas as pd

from .._core.options import as_name_list
from ..errors import IdentificationError, SpecificationError
from ..results import Summary
from .causal_graph import CausalGraph, as_graph
from .dsep import Dag
from .paths import MAX_PATHS, Path, backdoor_path_list, causal_example, noncausal_paths
from .search import MAX_SETS as MAX_SETS
from .search import front_door_sets, instruments, minimal_separators, smallest_separator

__all__ = [
    "AdjustmentCheck",
    "BadControl",
    "Identification",
    "Instrument",
    "Path",
    "backdoor_paths",
    "check_adjustment",
    "identify",
]


def backdoor_paths(graph: Any, treatment: str, outcome: str) -> tuple[Path, ...]:
    """Every path between ``treatment`` and ``outcome`` that starts with an arrow into the treatment."""
    g = as_graph(graph)
    t, y = _roles(g, treatment, outcome)
    return backdoor_path_list(g, t, y)[0]


def _roles(g: CausalGraph, treatment: str, outcome: str) -> tuple[str, str]:
    t = g.check_node(treatment, "treatment")
    y = g.check_node(outcome, "outcome")
    if t == y:
        raise SpecificationError(f"treatment and outcome are the same node {t!r}.")
    return t, y


def _without_out_edges(dag: nx.DiGraph, nodes: Iterable[str]) -> nx.DiGraph:
    out = nx.DiGraph(dag)
    out.remove_edges_from([e for n in nodes for e in dag.out_edges(n)])
    return out


def _names(nodes: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(nodes))


def _show(nodes: Iterable[str]) -> str:
    return "{" + ", ".join(_names(nodes)) + "}"


# --------------------------------------------------------------------------------------------------
# identification
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instrument:
    """``variable`` is an instrument for the treatment, conditionally on ``given`` (often empty)."""

    variable: str
    given: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.variable + (f" (given {', '.join(self.given)})" if self.given else "")


@dataclass(frozen=True)
class Identification:
    """What the graph says about the effect of ``treatment`` on ``outcome``.

    ``identifiable`` is True when some set of observed variables satisfies the backdoor criterion;
    ``adjustment_set`` is then the smallest such set. ``explanation`` says why in plain words.
    ``instruments`` and ``front_door`` are None when they were not searched (by default only when
    adjustment fails; see :func:`identify`'s ``alternatives``). ``truncated`` is True, with a sentence in
    ``notes``, when any search (adjustment sets, backdoor paths, instruments, front door) stopped early.
    """

    treatment: str
    outcome: str
    identifiable: bool
    adjustment_set: tuple[str, ...] | None
    minimal_adjustment_sets: tuple[tuple[str, ...], ...]
    unobserved_adjustment_sets: tuple[tuple[str, ...], ...]
    backdoor_paths: tuple[Path, ...]
    open_paths: tuple[Path, ...]
    unobserved: tuple[str, ...]
    instruments: tuple[Instrument, ...] | None = ()
    front_door: tuple[tuple[str, ...], ...] | None = ()
    causal_path: bool = True
    truncated: bool = False
    notes: tuple[str, ...] = field(default=())

    @property
    def explanation(self) -> str:
        t, y = self.treatment, self.outcome
        lines = []
        if not self.causal_path:
            lines.append(
                f"The graph has no directed path from {t} to {y}: it assumes {t} has no effect on {y} (the true "
                "effect is 0)."
            )
        n = len(self.backdoor_paths)
        if self.identifiable and self.adjustment_set == ():
            if n:
                blocked = "it is" if n == 1 else "each is"
                lines.append(
                    f"{n} backdoor path(s), but {blocked} already blocked by a collider: no adjustment is needed."
                )
            else:
                lines.append(f"No backdoor path between {t} and {y}: the effect is identified without adjustment.")
        elif self.identifiable:
            lines.append(
                f"Adjusting for {_show(self.adjustment_set or ())} identifies the effect of {t} on {y}: it blocks "
                f"every backdoor path ({n} found) and contains no descendant of {t}."
            )
            if len(self.minimal_adjustment_sets) > 1:
                others = "; ".join(_show(s) for s in self.minimal_adjustment_sets)
                lines.append(f"Minimal adjustment sets: {others}.")
        else:
            lines.append(self._not_identified_text())
        return " ".join(lines)

    def _not_identified_text(self) -> str:
        t, y = self.treatment, self.outcome
        paths = "; ".join(p.text for p in self.open_paths[:3]) or "(a backdoor path)"
        text = (
            f"The effect of {t} on {y} is not identifiable by adjustment: no set of observed variables blocks "
            f"every backdoor path. Adjusting for every observed ancestor of {t} and {y} still leaves open: {paths}."
        )
        if self.unobserved_adjustment_sets:
            needs = " or ".join(_show(s) for s in self.unobserved_adjustment_sets[:3])
            text += f" Adjusting for {needs} would identify it, but the data lacks {_show(self.unobserved)}."
        if self.front_door:
            text += (
                f" The front-door criterion identifies it through {_show(self.front_door[0])}: these mediators carry "
                f"all of {t}'s effect, nothing confounds {t} with them, and {t} blocks their backdoor paths to {y}."
            )
        if self.instruments:
            listed = ", ".join(str(i) for i in self.instruments[:3])
            text += (
                f" An instrumental-variable analysis would identify it with {listed}: it moves {t} and reaches {y} "
                "only through it (assuming a constant effect, or monotonicity for a local effect)."
            )
        return text

    @property
    def strategy(self) -> str | None:
        """How to estimate: ``"backdoor"`` (adjust for ``adjustment_set``); when no observed set works,
        ``"front-door"`` (a front-door set was found), else ``"iv"`` (an observed instrument), else None."""
        if self.identifiable and self.adjustment_set is not None:
            return "backdoor"
        if self.front_door:
            return "front-door"
        return "iv" if self.instruments else None

    @property
    def instrument_set(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The instruments to use together and the covariates they need: every instrument valid given the
        smallest conditioning set among them (usually empty), and that set."""
        found = self.instruments or ()
        if not found:
            return (), ()
        given = min((i.given for i in found), key=lambda g: (len(g), g))
        return tuple(i.variable for i in found if i.given == given), given

    def require(self) -> tuple[str, ...]:
        """The adjustment set, or an :class:`IdentificationError` carrying the explanation."""
        if not self.identifiable or self.adjustment_set is None:
            raise IdentificationError(self.explanation)
        return self.adjustment_set

    def to_dict(self) -> dict[str, Any]:
        return {
            "treatment": self.treatment,
            "outcome": self.outcome,
            "identifiable": self.identifiable,
            "adjustment_set": None if self.adjustment_set is None else list(self.adjustment_set),
            "minimal_adjustment_sets": [list(s) for s in self.minimal_adjustment_sets],
            "unobserved_adjustment_sets": [list(s) for s in self.unobserved_adjustment_sets],
            "backdoor_paths": [list(p.nodes) for p in self.backdoor_paths],
            "backdoor_paths_text": [p.text for p in self.backdoor_paths],
            "open_paths": [list(p.nodes) for p in self.open_paths],
            "unobserved": list(self.unobserved),
            "instruments": None
            if self.instruments is None
            else [{"instrument": i.variable, "given": list(i.given)} for i in self.instruments],
            "front_door": None if self.front_door is None else [list(s) for s in self.front_door],
            "causal_path": self.causal_path,
            "truncated": self.truncated,
            "explanation": self.explanation,
            "notes": list(self.notes),
        }

    def summary(self) -> Summary:
        header = (
            ("Treatment", self.treatment),
            ("Outcome", self.outcome),
            ("Identifiable", "yes" if self.identifiable else "no (by adjustment)"),
            ("Adjustment set", "-" if self.adjustment_set is None else _show(self.adjustment_set)),
            ("Backdoor paths", str(len(self.backdoor_paths))),
            ("Unobserved", ", ".join(self.unobserved) or "-"),
        )
        tables = []
        if self.backdoor_paths:
            chosen = set(self.adjustment_set or ())
            rows = [
                {"path": p.text, "open unadjusted": p.open_given(set()), "blocked by": p.blocker(chosen) or "OPEN"}
                for p in self.backdoor_paths
            ]
            tables.append(("Backdoor paths", pd.DataFrame(rows)))
        sets = [(_show(s), "yes") for s in self.minimal_adjustment_sets]
        sets += [(_show(s), "no") for s in self.unobserved_adjustment_sets]
        if sets:
            tables.append(("Minimal adjustment sets", pd.DataFrame(sets, columns=["set", "observed"])))
        messages = (self.explanation, *self.notes)
        title = f"deconfound: identification of the effect of {self.treatment} on {self.outcome}"
        return Summary(title, header, tuple(tables), messages)

    def __str__(self) -> str:
        return self.summary().as_text()

    def _repr_html_(self) -> str:
        return self.summary().as_html()


def _observed_set(observed: Iterable[str] | None, t: str, y: str) -> set[str] | None:
    """The observed names (one name, a comma-separated string or a list), treatment and outcome included."""
    return None if observed is None else set(as_name_list(observed, "observed")) | {t, y}


def _observed_candidates(g: CausalGraph, t: str, y: str, observed: Iterable[str] | None) -> tuple[frozenset, frozenset]:
    """(candidates for adjustment among all declared nodes, those among them that are observed)."""
    de_t = nx.descendants(g.dag, t)
    every = frozenset(n for n in g.nodes if n not in (t, y) and n not in de_t)
    hidden = g.unobserved(observed)
    return every, frozenset(every - hidden)


def identify(
    graph: Any,
    *,
    treatment: str,
    outcome: str,
    observed: Iterable[str] | None = None,
    alternatives: bool | None = None,
) -> Identification:
    """Identify the effect of ``treatment`` on ``outcome`` in ``graph`` by the backdoor criterion.

    ``observed`` (e.g. the data's columns) says which nodes can be adjusted for; by default every node
    except declared latent ones. The treatment and outcome count as observed.

    ``alternatives`` says when to search for instruments and front-door sets: ``None`` (default) only
    when adjustment does not identify the effect, ``True`` always, ``False`` never. A search that did
    not run leaves ``instruments`` and ``front_door`` as None (``null`` in ``to_dict()``).
    """
    g = as_graph(graph)
    t, y = _roles(g, treatment, outcome)
    observed = _observed_set(observed, t, y)
    dag = Dag.of(g.dag)
    g_bd = dag.without_out_edges([t])
    every, usable = _observed_candidates(g, t, y, observed)
    found = minimal_separators(g_bd, t, y, every)
    sets = sorted(found.items, key=lambda s: (len(s), _names(s)))
    observed_sets = [_names(s) for s in sets if s <= usable]
    unobserved_sets = [_names(s) for s in sets if not s <= usable]
    if observed_sets:
        chosen: tuple[str, ...] | None = observed_sets[0]
    else:
        smallest = smallest_separator(g_bd, t, y, usable) if found.truncated else None
        chosen = None if smallest is None else _names(smallest)
    paths, cut = backdoor_path_list(g, t, y)
    open_paths: tuple[Path, ...] = ()
    if chosen is None:
        canonical = usable & g_bd.ancestors((t, y))
        open_paths = tuple(p for p in paths if p.open_given(canonical))
    notes = [found.reason] if found.truncated else []
    if cut:
        notes.append(
            f"The backdoor-path listing stopped after {len(paths)} paths (at most {MAX_PATHS} are listed, and the "
            "search of a large graph is cut short): more paths may exist."
        )
    hidden = g.unobserved(observed)
    searched = alternatives if alternatives is not None else chosen is None
    ivs: tuple[Instrument, ...] | None = None
    front: tuple[tuple[str, ...], ...] | None = None
    truncated = found.truncated or cut
    if searched:
        iv_search = instruments(dag, g_bd, t, y, _instrument_pool(g, dag, t, y, hidden))
        fd_search = front_door_sets(dag, g_bd, t, y, _mediators(g, dag, t, y, hidden))
        ivs = tuple(Instrument(v, given) for v, given in iv_search.items)
        front = fd_search.items
        for search in (iv_search, fd_search):
            if search.truncated:
                truncated = True
                notes.append(search.reason)
    return Identification(
        treatment=t,
        outcome=y,
        identifiable=chosen is not None,
        adjustment_set=chosen,
        minimal_adjustment_sets=tuple(observed_sets),
        unobserved_adjustment_sets=tuple(unobserved_sets),
        backdoor_paths=paths,
        open_paths=open_paths,
        unobserved=_names(n for n in hidden if n in g.nodes),
        instruments=ivs,
        front_door=front,
        causal_path=y in dag.descendants((t,)),
        truncated=truncated,
        notes=tuple(notes),
    )


def _instrument_pool(g: CausalGraph, dag: Dag, t: str, y: str, hidden: frozenset[str]) -> frozenset[str]:
    """Observed nodes that neither the treatment nor the outcome causes: the candidate instruments."""
    banned = dag.descendants((t, y))
    return frozenset(n for n in g.nodes if n not in banned and n not in hidden)


def _mediators(g: CausalGraph, dag: Dag, t: str, y: str, hidden: frozenset[str]) -> list[str]:
    """Observed nodes on a directed path from the treatment to the outcome, sorted."""
    if y not in dag.descendants((t,)):
        return []
    between = dag.descendants((t,)) & dag.ancestors((y,))
    return sorted(n for n in between if n not in (t, y) and n not in hidden and n in g.nodes)


# --------------------------------------------------------------------------------------------------
# checking a chosen adjustment set
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BadControl:
    """A variable in an adjustment set that biases the estimate (``biasing``) or only costs precision."""

    variable: str
    role: str
    message: str
    biasing: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"variable": self.variable, "role": self.role, "message": self.message, "biasing": self.biasing}


@dataclass(frozen=True)
class AdjustmentCheck:
    """The verdict on one adjustment set: ``valid`` (backdoor criterion), the paths it leaves open,
    its bad controls, and ``messages`` (warnings in plain words)."""

    treatment: str
    outcome: str
    covariates: tuple[str, ...]
    valid: bool
    open_paths: tuple[Path, ...]
    bad_controls: tuple[BadControl, ...]
    messages: tuple[str, ...]
    suggestion: tuple[str, ...] | None = None

    @property
    def verdict(self) -> str:
        holds = "satisfies" if self.valid else "does NOT satisfy"
        return f"Adjustment set {_show(self.covariates)} {holds} the backdoor criterion."

    def summary(self) -> Summary:
        header = (
            ("Treatment", self.treatment),
            ("Outcome", self.outcome),
            ("Adjustment set", _show(self.covariates)),
            ("Valid (backdoor)", "yes" if self.valid else "no"),
            ("Bad controls", str(len(self.bad_controls))),
            ("Open paths", str(len(self.open_paths))),
        )
        tables = []
        if self.bad_controls:
            rows = [(b.variable, b.role, "yes" if b.biasing else "no (variance only)") for b in self.bad_controls]
            tables.append(("Bad controls", pd.DataFrame(rows, columns=["variable", "role", "biasing"])))
        title = f"deconfound: adjustment set for the effect of {self.treatment} on {self.outcome}"
        return Summary(title, header, tuple(tables), (self.verdict, *self.messages))

    def __str__(self) -> str:
        return self.summary().as_text()

    def _repr_html_(self) -> str:
        return self.summary().as_html()

    def to_dict(self) -> dict[str, Any]:
        return {
            "adjust": list(self.covariates),
            "adjustment_valid": self.valid,
            "bad_controls": [b.to_dict() for b in self.bad_controls],
            "adjust_open_paths": [list(p.nodes) for p in self.open_paths],
            "adjust_messages": list(self.messages),
        }


def _covariate_list(covariates: Iterable[str], t: str, y: str) -> list[str]:
    out: list[str] = []
    for c in as_name_list(covariates, "covariates"):
        if c in (t, y):
            role = "treatment" if c == t else "outcome"
            raise SpecificationError(f"the {role} {c!r} cannot be in the adjustment set; remove it from covariates.")
        if c not in out:
            out.append(c)
    return out


def _collider_roles(g: CausalGraph, paths: Iterable[Path], z: list[str]) -> list[BadControl]:
    dag = g.dag
    out: dict[tuple[str, str], BadControl] = {}
    for path in paths:
        effect = f"the estimate of the effect of {path.nodes[0]} on {path.nodes[-1]}"
        for c in path.colliders:
            for v in z:
                if v == c:
                    role = "collider"
                    msg = f"{v!r} is a collider on the path {path.text}: adjusting for it opens that path and biases "
                elif v in nx.descendants(dag, c):
                    role = "descendant of a collider"
                    msg = f"{v!r} is a descendant of {c!r}, a collider on the path {path.text}: adjusting for it opens "
                    msg += "that path and biases "
                else:
                    continue
                out.setdefault((v, role), BadControl(v, role, msg + effect + ". Leave it out."))
    return list(out.values())


def _descendant_roles(g: CausalGraph, t: str, y: str, z: list[str], taken: set[str]) -> list[BadControl]:
    dag = g.dag
    de_t, an_y, de_y = nx.descendants(dag, t), nx.ancestors(dag, y), nx.descendants(dag, y)
    out = []
    for v in z:
        if v not in de_t:
            continue
        if v in an_y:
            route = causal_example(dag, t, v, y)
            out.append(
                BadControl(
                    v,
                    "mediator",
                    f"{v!r} is a mediator (on the causal path {route}): adjusting for it removes the part of {t}'s "
                    f"effect that flows through it, so the estimate is not the total effect of {t} on {y}.",
                )
            )
        elif v in taken:
            continue
        elif v in de_y:
            out.append(
                BadControl(
                    v,
                    "descendant of outcome",
                    f"{v!r} is affected by the outcome {y!r}: adjusting for a consequence of the outcome biases the "
                    f"estimate of the effect of {t}. Leave it out.",
                )
            )
        else:
            out.append(
                BadControl(
                    v,
                    "descendant of treatment",
                    f"{v!r} is affected by the treatment {t!r}: the backdoor criterion excludes consequences of the "
                    "treatment, which can bias the estimate. Leave it out.",
                )
            )
    return out


def _pure_causes(g: CausalGraph, t: str, y: str, z: list[str]) -> list[BadControl]:
    dag = g.dag
    g_bd = _without_out_edges(dag, [t])
    an_t = nx.ancestors(dag, t)
    out = []
    for v in z:
        if v not in an_t:
            continue
        rest = set(z) - {v}
        if nx.is_d_separator(g_bd, {v}, {y}, rest) and not nx.is_d_separator(dag, {v}, {t}, rest):
            out.append(
                BadControl(
                    v,
                    "pure cause of treatment",
                    f"{v!r} affects {y!r} only through {t!r} (a pure cause of the treatment, i.e. an instrument): "
                    "adjusting for it removes no bias but inflates the variance of the estimate (and amplifies any "
                    "bias from unobserved confounding). Leave it out.",
                    biasing=False,
                )
            )
    return out


def check_adjustment(
    graph: Any,
    *,
    treatment: str,
    outcome: str,
    covariates: Iterable[str],
    observed: Iterable[str] | None = None,
) -> AdjustmentCheck:
    """Check ``covariates`` against the backdoor criterion and name every bad control with its role."""
    g = as_graph(graph)
    t, y = _roles(g, treatment, outcome)
    chosen = _covariate_list(covariates, t, y)
    observed = _observed_set(observed, t, y)
    hidden = g.unobserved(observed)
    bad: list[BadControl] = []
    in_graph = []
    for v in chosen:
        if v not in g.nodes:
            bad.append(
                BadControl(
                    v,
                    "not in graph",
                    f"{v!r} is not a node of the graph, so its role cannot be checked; add it to the graph.",
                    biasing=False,
                )
            )
        else:
            in_graph.append(v)
            if v in hidden:
                bad.append(BadControl(v, "unobserved", f"{v!r} is unobserved: it cannot be adjusted for."))
    dag = g.dag
    g_bd = _without_out_edges(dag, [t])
    de_t = nx.descendants(dag, t)
    valid = not (set(in_graph) & de_t) and bool(nx.is_d_separator(g_bd, {t}, {y}, set(in_graph)))
    open_paths = tuple(p for p in noncausal_paths(g, t, y) if p.open_given(set(in_graph)))
    colliders = _collider_roles(g, open_paths, in_graph)
    bad += _descendant_roles(g, t, y, in_graph, {b.variable for b in colliders}) + colliders
    bad += _pure_causes(g, t, y, in_graph)
    ident = identify(g, treatment=t, outcome=y, observed=observed, alternatives=False)  # needs the set only
    messages = [b.message for b in bad]
    confounded = [p for p in open_paths if not (set(p.colliders) & set(in_graph)) and not _opened(g, p, in_graph)]
    if confounded:
        fix = (
            f"a valid set is {_show(ident.adjustment_set)}"
            if ident.adjustment_set is not None
            else "no set of observed variables closes it"
        )
        shown = "; ".join(p.text for p in confounded[:3])
        messages.append(
            f"The adjustment set {_show(in_graph)} leaves the backdoor path {shown} open, so the estimate is "
            f"confounded; {fix}."
        )
    order = {v: i for i, v in enumerate(chosen)}
    bad.sort(key=lambda b: order[b.variable])
    return AdjustmentCheck(t, y, tuple(chosen), valid, open_paths, tuple(bad), tuple(messages), ident.adjustment_set)


def _opened(g: CausalGraph, path: Path, z: list[str]) -> bool:
    """True when some collider of ``path`` is open only because a member of ``z`` descends from it."""
    dag = g.dag
    return any(set(z) & nx.descendants(dag, c) for c in path.colliders)
