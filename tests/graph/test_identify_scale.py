"""identify() on large graphs (chains, stars, many confounders), searches that stop and say so, and the
front-door sets against a brute-force reference built from path enumeration."""

import itertools
import json
import random

import networkx as nx

from deconfound.cli import main
from deconfound.graph import CausalGraph
from deconfound.graph import paths as paths_module
from deconfound.graph import search as search_module
from deconfound.graph.dsep import Dag
from deconfound.graph.identification import identify


def chain(n, confounded=False):
    names = ["T"] + [f"m{i:04d}" for i in range(n)] + ["Y"]
    return CausalGraph(list(itertools.pairwise(names)), bidirected=[("T", "Y")] if confounded else []), names[1:-1]


def confounders(k):
    names = [f"c{i:04d}" for i in range(k)]
    return CausalGraph([(c, "T") for c in names] + [(c, "Y") for c in names] + [("T", "Y")]), names


def star(k):
    names = [f"m{i:04d}" for i in range(k)]
    return CausalGraph([("T", m) for m in names] + [(m, "Y") for m in names], bidirected=[("T", "Y")]), names


# --------------------------------------------------------------------------------------------------
# the cases of the issue: large graphs identified by adjustment need no other search
# --------------------------------------------------------------------------------------------------


def test_long_chain_is_identified_without_adjustment_and_without_other_searches():
    g, _ = chain(3000)
    ident = identify(g, treatment="T", outcome="Y")
    assert ident.identifiable and ident.adjustment_set == ()
    assert ident.minimal_adjustment_sets == ((),)
    assert ident.backdoor_paths == () and ident.causal_path
    assert ident.instruments is None and ident.front_door is None  # not searched: adjustment works
    assert not ident.truncated and ident.notes == ()
    out = ident.to_dict()
    assert out["front_door"] is None and out["instruments"] is None
    assert "No backdoor path between T and Y" in ident.explanation


def test_thousand_confounders_give_one_adjustment_set_of_all_of_them():
    g, names = confounders(1000)
    ident = identify(g, treatment="T", outcome="Y")
    assert ident.adjustment_set == tuple(names)
    assert ident.minimal_adjustment_sets == (tuple(names),)
    assert len(ident.backdoor_paths) == 1000 and not ident.truncated
    assert {p.text for p in ident.backdoor_paths[:2]} == {"T <- c0000 -> Y", "T <- c0001 -> Y"}
    assert ident.front_door is None and ident.instruments is None
    asked = identify(g, treatment="T", outcome="Y", alternatives=True)
    assert asked.front_door == () and asked.instruments == ()  # searched: none exists
    never = identify(g, treatment="T", outcome="Y", alternatives=False)
    assert never.front_door is None


def test_confounded_long_chain_lists_every_single_mediator_as_a_front_door():
    g, mediators = chain(2000, confounded=True)
    ident = identify(g, treatment="T", outcome="Y")
    assert not ident.identifiable
    assert ident.front_door == tuple((m,) for m in mediators)
    assert ident.instruments == () and not ident.truncated
    assert "front-door criterion identifies it through {m0000}" in ident.explanation


def test_star_of_mediators_needs_all_of_them_together():
    g, mediators = star(600)
    ident = identify(g, treatment="T", outcome="Y")
    assert ident.front_door == (tuple(mediators),)
    assert not ident.truncated


def test_front_door_search_covers_five_mediators():
    """The search used to stop silently at three mediators (and report truncated: false)."""
    g, _ = star(5)
    ident = identify(g, treatment="T", outcome="Y")
    assert ident.front_door == (("m0000", "m0001", "m0002", "m0003", "m0004"),)
    assert not ident.truncated
    # a confounded mediator never belongs to a front-door set: with one, there is none
    spoiled = identify(
        "T -> A -> Y; T -> B -> Y; T -> C -> Y; T -> D -> Y; T -> E -> Y; T <-> Y; T <-> E", treatment="T", outcome="Y"
    )
    assert spoiled.front_door == ()
    # a set of 5 next to a smaller one: both are minimal
    both = identify(
        "T -> A -> Y; T -> B -> Y; T -> C -> Y; T -> D -> Y; T -> E -> Y; A -> F; B -> F; C -> F; D -> F; E -> F; "
        "T <-> Y",
        treatment="T",
        outcome="Y",
    )
    assert both.front_door == (("A", "B", "C", "D", "E"),)


def test_identify_json_prints_null_for_searches_that_did_not_run(capsys):
    assert main(["identify", "--graph", "Z -> T; Z -> Y; T -> Y", "-t", "T", "-y", "Y", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["front_door"] is None and out["instruments"] is None and out["truncated"] is False
    assert main(["identify", "--graph", "T <-> Y; T -> M -> Y; Z -> T", "-t", "T", "-y", "Y", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["front_door"] == [["M"]] and out["instruments"] == [{"instrument": "Z", "given": []}]


# --------------------------------------------------------------------------------------------------
# searches that stop early say so
# --------------------------------------------------------------------------------------------------


def test_too_many_adjustment_sets_is_truncated_with_a_note():
    # 10 backdoor paths T <- a_i <- b_i -> Y, each blocked by a_i or b_i: 1024 minimal sets
    edges = [e for i in range(10) for e in ((f"a{i}", "T"), (f"b{i}", f"a{i}"), (f"b{i}", "Y"))]
    ident = identify(CausalGraph([*edges, ("T", "Y")]), treatment="T", outcome="Y")
    assert ident.truncated
    assert len(ident.minimal_adjustment_sets) == search_module.MAX_SETS
    assert all(len(s) == 10 for s in ident.minimal_adjustment_sets)
    assert any(note.startswith("The adjustment-set search stopped") for note in ident.notes)
    assert ident.identifiable and len(ident.adjustment_set) == 10


def test_too_many_backdoor_paths_is_truncated_with_a_note():
    g, _ = confounders(1001)
    ident = identify(g, treatment="T", outcome="Y")
    assert ident.truncated and len(ident.backdoor_paths) == 1000
    assert any("backdoor-path listing stopped after 1000 paths" in note for note in ident.notes)
    assert len(ident.adjustment_set) == 1001  # the adjustment search itself was complete


def test_path_search_that_runs_out_of_steps_is_truncated(monkeypatch):
    monkeypatch.setattr(paths_module, "PATH_STEPS", 20)
    g, _ = confounders(30)
    ident = identify(g, treatment="T", outcome="Y")
    assert ident.truncated and 0 < len(ident.backdoor_paths) < 30
    assert any("backdoor-path listing stopped" in note for note in ident.notes)


def test_front_door_search_that_stops_is_truncated_with_a_note(monkeypatch):
    # two mediators per route, so the sets to try grow combinatorially
    monkeypatch.setattr(search_module, "MAX_FRONT_DOOR_CHECKS", 30)
    edges = [e for i in range(8) for e in (("T", f"a{i}"), (f"a{i}", f"b{i}"), (f"b{i}", "Y"))]
    ident = identify(CausalGraph(edges, bidirected=[("T", "Y")]), treatment="T", outcome="Y")
    assert ident.truncated and len(ident.front_door) < 2**8
    (note,) = ident.notes
    assert note.startswith("The front-door search stopped after checking 30 candidate sets, at sets of 8")
    monkeypatch.setattr(search_module, "MAX_FRONT_DOOR_CHECKS", 10**6)
    full = identify(CausalGraph(edges, bidirected=[("T", "Y")]), treatment="T", outcome="Y")
    assert not full.truncated and len(full.front_door) == 2**8  # one of a_i, b_i on each route
    assert all(len(s) == 8 and {s[0][0], s[-1][0]} <= {"a", "b"} for s in full.front_door)
    assert set(ident.front_door) < set(full.front_door)


def test_instrument_search_that_runs_out_of_steps_is_truncated(monkeypatch):
    monkeypatch.setattr(search_module, "SEARCH_STEPS", 5)
    ident = identify("Z -> T -> Y; T <-> Y; W -> T", treatment="T", outcome="Y")
    assert ident.truncated
    assert any(note.startswith("The instrument search stopped") for note in ident.notes)


# --------------------------------------------------------------------------------------------------
# references: the fast d-separation against networkx, front-door sets against path enumeration
# --------------------------------------------------------------------------------------------------


def _random_graph(rng, n, p_edge=0.35, p_bi=0.08):
    names = [f"v{i}" for i in range(n)]
    rng.shuffle(names)
    edges = [(names[i], names[j]) for i in range(n) for j in range(i + 1, n) if rng.random() < p_edge]
    pairs = [(names[i], names[j]) for i in range(n) for j in range(i + 1, n) if rng.random() < p_bi]
    return CausalGraph(edges, bidirected=pairs, nodes=names)


def test_linear_d_separation_agrees_with_networkx():
    rng = random.Random(5)
    for _ in range(300):
        g = _random_graph(rng, rng.randint(3, 9))
        dag, nodes = Dag.of(g.dag), list(g.dag.nodes)
        x, y = rng.sample(nodes, 2)
        rest = [n for n in nodes if n not in (x, y)]
        z = {n for n in rest if rng.random() < 0.4}
        assert dag.separated([x], [y], z) == nx.is_d_separator(g.dag, {x}, {y}, z)
        restricted = {n for n in rest if rng.random() < 0.7}
        expected = nx.find_minimal_d_separator(g.dag, x, y, restricted=restricted)
        assert dag.minimal_separator(x, y, restricted) == (None if expected is None else frozenset(expected))


def _open(dag, path, given):
    """d-connection along one path given ``given`` (colliders need themselves or a descendant given)."""
    for i in range(1, len(path) - 1):
        a, v, b = path[i - 1], path[i], path[i + 1]
        if dag.has_edge(a, v) and dag.has_edge(b, v):
            if v not in given and not (nx.descendants(dag, v) & given):
                return False
        elif v in given:
            return False
    return True


def _front_door_by_paths(g, t, y, m):
    """Pearl's front-door criterion for the set m, by enumerating paths in the skeleton."""
    dag = g.dag
    skeleton = dag.to_undirected()
    if any(not set(p[1:-1]) & m for p in nx.all_simple_paths(dag, t, y)):
        return False  # (i) a directed path from t to y avoids m
    for z in m:
        for p in nx.all_simple_paths(skeleton, t, z):
            if dag.has_edge(p[1], t) and _open(dag, p, set()):
                return False  # (ii) an open backdoor path from t to z
    cut = nx.DiGraph(dag)
    cut.remove_edges_from([e for z in m for e in dag.out_edges(z)])
    for z in m:
        for p in nx.all_simple_paths(skeleton, z, y):
            if dag.has_edge(p[1], z) and not set(p[1:-1]) & m and _open(cut, p, {t}):
                return False  # (iii) a backdoor path from z to y that t leaves open
    return True


def test_front_door_sets_are_exactly_the_minimal_ones_of_the_path_reference():
    rng = random.Random(17)
    checked = tried = 0
    sizes = set()
    while tried < 300:
        g = _random_graph(rng, rng.randint(3, 8))
        t, y = rng.sample(list(g.nodes), 2)
        if y not in g.descendants(t):
            continue
        tried += 1
        if rng.random() < 0.5:  # confound treatment and outcome: front doors matter then
            g = CausalGraph(g.edges, bidirected=[*g.bidirected, (t, y)], nodes=g.nodes)
        observed = {v for v in g.nodes if rng.random() < 0.85} | {t, y}
        ident = identify(g, treatment=t, outcome=y, observed=observed, alternatives=True)
        mediators = sorted((g.descendants(t) & g.ancestors(y)) & observed - {t, y})
        valid = [
            frozenset(s)
            for k in range(1, len(mediators) + 1)
            for s in itertools.combinations(mediators, k)
            if _front_door_by_paths(g, t, y, set(s))
        ]
        minimal = {s for s in valid if not any(v < s for v in valid)}
        assert {frozenset(s) for s in ident.front_door} == minimal, (g, t, y, observed)
        assert all(_front_door_by_paths(g, t, y, set(s)) for s in ident.front_door)
        assert not ident.truncated
        checked += bool(minimal)
        sizes |= {len(m) for m in minimal}
    assert checked > 20 and max(sizes) >= 2  # the graphs did exercise the criterion, with sets of several


def test_smallest_separator_has_the_brute_force_minimum_size():
    rng = random.Random(23)
    for _ in range(150):
        g = _random_graph(rng, rng.randint(3, 8))
        t, y = rng.sample(list(g.nodes), 2)
        dag = Dag.of(g.dag).without_out_edges([t])
        g_bd = nx.DiGraph(g.dag)
        g_bd.remove_edges_from(list(g.dag.out_edges(t)))
        allowed = frozenset(n for n in g.nodes if n not in (t, y) and n not in g.descendants(t) and rng.random() < 0.8)
        valid = [
            set(s)
            for k in range(len(allowed) + 1)
            for s in itertools.combinations(sorted(allowed), k)
            if nx.is_d_separator(g_bd, {t}, {y}, set(s))
        ]
        found = search_module.smallest_separator(dag, t, y, allowed)
        if not valid:
            assert found is None
        else:
            assert found is not None and found <= allowed and nx.is_d_separator(g_bd, {t}, {y}, set(found))
            assert len(found) == min(len(s) for s in valid)


def test_linear_articulation_test_only_certifies_mediators_that_pass_condition_iii():
    rng = random.Random(29)
    certified_any = 0
    for _ in range(300):
        g = _random_graph(rng, rng.randint(3, 9), p_bi=0.12)
        t, y = rng.sample(list(g.nodes), 2)
        mediators = sorted(g.descendants(t) & g.ancestors(y) - {y})
        if not mediators:
            continue
        certified = search_module._separated_by_removal(Dag.of(g.dag), t, y, mediators)
        for m in mediators:
            cut = nx.DiGraph(g.dag)
            cut.remove_edges_from(list(g.dag.out_edges(m)))
            passes_iii = nx.is_d_separator(cut, {m}, {y}, {t})
            assert passes_iii or m not in certified, (g, t, y, m)
        certified_any += len(certified)
    assert certified_any > 10
