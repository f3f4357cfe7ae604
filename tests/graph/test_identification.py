"""Identification on textbook graphs, against hand-derived answers, networkx d-separation and pgmpy."""

import itertools
import random
import warnings

import networkx as nx
import pytest

import deconfound as dc
from deconfound.graph import CausalGraph
from deconfound.graph.identification import check_adjustment, identify

ARTICLE = "I.H -> Drug; I.H -> Severity; Drug -> Severity"
M_BIAS = "A -> T; A -> C; B -> C; B -> Y; T -> Y"
MEDIATOR = "X -> T; X -> Y; T -> M -> Y"
FRONT_DOOR = "T <-> Y; T -> M -> Y"
INSTRUMENT = "Z -> T -> Y; T <-> Y"
UNOBSERVED = "U -> T; U -> Y; X -> T; X -> Y; T -> Y"
# Pearl, Glymour & Jewell (2016), Causal Inference in Statistics: A Primer, figure 3.8 / study question 3.3.1
PRIMER = "Z1 -> Z3; Z2 -> Z3; Z1 -> X; Z3 -> X; Z3 -> Y; Z2 -> Y; X -> W -> Y"


def sets(ident):
    return [list(s) for s in ident.minimal_adjustment_sets]


def test_article_graph():
    ident = identify(ARTICLE, treatment="Drug", outcome="Severity")
    assert ident.identifiable
    assert ident.adjustment_set == ("I.H",)
    assert sets(ident) == [["I.H"]]
    assert [list(p.nodes) for p in ident.backdoor_paths] == [["Drug", "I.H", "Severity"]]
    assert ident.backdoor_paths[0].text == "Drug <- I.H -> Severity"
    assert "Adjusting for {I.H} identifies the effect of Drug on Severity" in ident.explanation
    assert ident.require() == ("I.H",)


def test_primer_graph_hand_derived():
    ident = identify(PRIMER, treatment="X", outcome="Y")
    assert sets(ident) == [["Z1", "Z3"], ["Z2", "Z3"]]
    assert sorted(p.text for p in ident.backdoor_paths) == sorted(
        ["X <- Z3 -> Y", "X <- Z1 -> Z3 -> Y", "X <- Z3 <- Z2 -> Y", "X <- Z1 -> Z3 <- Z2 -> Y"]
    )
    check = check_adjustment(PRIMER, treatment="X", outcome="Y", covariates=["Z3"])
    assert not check.valid
    assert [p.text for p in check.open_paths] == ["X <- Z1 -> Z3 <- Z2 -> Y"]
    assert [(b.variable, b.role) for b in check.bad_controls] == [("Z3", "collider")]


def test_m_bias():
    ident = identify(M_BIAS, treatment="T", outcome="Y")
    assert ident.adjustment_set == ()
    assert sets(ident) == [[]]
    (path,) = ident.backdoor_paths
    assert path.text == "T <- A -> C <- B -> Y"
    assert path.colliders == ("C",)
    assert path.open_given(set()) is False and path.open_given({"C"}) is True
    assert path.blocker({"C", "A"}) == "A (adjusted)"
    assert "already blocked by a collider" in ident.explanation
    bad = check_adjustment(M_BIAS, treatment="T", outcome="Y", covariates=["C"])
    assert not bad.valid
    assert [(b.variable, b.role, b.biasing) for b in bad.bad_controls] == [("C", "collider", True)]
    assert "'C' is a collider on the path T <- A -> C <- B -> Y" in bad.messages[0]
    fixed = check_adjustment(M_BIAS, treatment="T", outcome="Y", covariates=["C", "A"])
    assert fixed.valid and fixed.bad_controls == () and fixed.messages == ()


def test_mediator_chain():
    ident = identify(MEDIATOR, treatment="T", outcome="Y")
    assert sets(ident) == [["X"]]
    check = check_adjustment(MEDIATOR, treatment="T", outcome="Y", covariates=["X", "M"])
    assert not check.valid
    (bad,) = check.bad_controls
    assert (bad.variable, bad.role) == ("M", "mediator")
    assert "on the causal path T -> M -> Y" in bad.message


def test_front_door_graph():
    ident = identify(FRONT_DOOR, treatment="T", outcome="Y")
    assert not ident.identifiable and ident.adjustment_set is None
    assert ident.front_door == (("M",),)
    assert [p.text for p in ident.open_paths] == ["T <-> Y"]
    assert "front-door criterion identifies it through {M}" in ident.explanation
    with pytest.raises(dc.IdentificationError, match=r"not identifiable by adjustment.*front-door"):
        ident.require()
    declared = identify("U -> T; U -> Y; T -> M -> Y", treatment="T", outcome="Y", observed=["T", "M", "Y"])
    assert declared.unobserved == ("U",)
    assert declared.unobserved_adjustment_sets == (("U",),)
    assert declared.front_door == (("M",),)
    assert "Adjusting for {U} would identify it, but the data lacks {U}" in declared.explanation


def test_instrument_graph():
    ident = identify(INSTRUMENT, treatment="T", outcome="Y")
    assert not ident.identifiable
    assert [(i.variable, i.given) for i in ident.instruments] == [("Z", ())]
    assert "instrumental-variable analysis would identify it with Z" in ident.explanation
    conditional = identify("W -> Z -> T -> Y; W -> Y; T <-> Y", treatment="T", outcome="Y")
    assert [(i.variable, i.given) for i in conditional.instruments] == [("Z", ("W",))]
    assert "Z (given W)" in conditional.explanation


def test_unobserved_confounder_blocks_identification():
    ident = identify(UNOBSERVED, treatment="T", outcome="Y", observed=["T", "Y", "X"])
    assert not ident.identifiable
    assert ident.minimal_adjustment_sets == ()
    assert ident.unobserved_adjustment_sets == (("U", "X"),)
    assert [p.text for p in ident.open_paths] == ["T <- U -> Y"]
    assert ident.instruments == () and ident.front_door == ()
    assert "leaves open: T <- U -> Y" in ident.explanation
    assert identify(UNOBSERVED, treatment="T", outcome="Y").adjustment_set == ("U", "X")


def test_no_causal_path_is_said():
    ident = identify("Z -> T; Z -> Y", treatment="T", outcome="Y")
    assert not ident.causal_path
    assert "no directed path from T to Y" in ident.explanation


@pytest.mark.parametrize(
    ("graph", "covariates", "expected"),
    [
        (ARTICLE + "; Z -> Drug", ["I.H", "Z"], [("Z", "pure cause of treatment", False)]),
        (ARTICLE + "; Drug -> D", ["I.H", "D"], [("D", "descendant of treatment", True)]),
        (ARTICLE + "; Severity -> V", ["I.H", "V"], [("V", "descendant of outcome", True)]),
        (ARTICLE + "; Drug -> C; Severity -> C", ["I.H", "C"], [("C", "collider", True)]),
        (ARTICLE + "; Drug -> C; Severity -> C; C -> K", ["I.H", "K"], [("K", "descendant of a collider", True)]),
        (ARTICLE, ["I.H", "Age"], [("Age", "not in graph", False)]),
    ],
)
def test_bad_control_roles(graph, covariates, expected):
    check = check_adjustment(graph, treatment="Drug", outcome="Severity", covariates=covariates)
    assert [(b.variable, b.role, b.biasing) for b in check.bad_controls] == expected
    assert all(b.variable in b.message for b in check.bad_controls)


def test_missing_confounder_message_names_path_and_fix():
    check = check_adjustment(ARTICLE, treatment="Drug", outcome="Severity", covariates=[])
    assert not check.valid
    assert check.messages == (
        "The adjustment set {} leaves the backdoor path Drug <- I.H -> Severity open, so the estimate is confounded; "
        "a valid set is {I.H}.",
    )
    with pytest.raises(dc.SpecificationError, match="treatment 'Drug' cannot be in the adjustment set"):
        check_adjustment(ARTICLE, treatment="Drug", outcome="Severity", covariates=["Drug"])


def _random_graph(rng, n, p_edge=0.35, p_bi=0.07):
    names = [f"v{i}" for i in range(n)]
    rng.shuffle(names)
    edges = [(names[i], names[j]) for i in range(n) for j in range(i + 1, n) if rng.random() < p_edge]
    pairs = [(names[i], names[j]) for i in range(n) for j in range(i + 1, n) if rng.random() < p_bi]
    return CausalGraph(edges, bidirected=pairs, nodes=names)


def _brute_force_sets(g, t, y, observed):
    dag = g.dag
    g_bd = nx.DiGraph(dag)
    g_bd.remove_edges_from(list(dag.out_edges(t)))
    banned = nx.descendants(dag, t) | {t, y}
    pool = [n for n in g.nodes if n not in banned and n in observed]
    valid = [
        frozenset(s)
        for k in range(len(pool) + 1)
        for s in itertools.combinations(pool, k)
        if nx.is_d_separator(g_bd, {t}, {y}, set(s))
    ]
    return {s for s in valid if not any(v < s for v in valid)}


def test_minimal_sets_equal_brute_force_over_networkx_d_separation():
    rng = random.Random(7)
    for _ in range(150):
        g = _random_graph(rng, rng.randint(3, 8))
        t, y = rng.sample(list(g.nodes), 2)
        observed = {v for v in g.nodes if rng.random() < 0.8} | {t, y}
        ident = identify(g, treatment=t, outcome=y, observed=observed)
        expected = _brute_force_sets(g, t, y, observed)
        assert {frozenset(s) for s in ident.minimal_adjustment_sets} == expected
        everything = {frozenset(s) for s in ident.minimal_adjustment_sets + ident.unobserved_adjustment_sets}
        assert everything == _brute_force_sets(g, t, y, set(g.nodes))
        assert ident.identifiable == bool(expected)
        if expected:
            assert len(ident.adjustment_set) == min(len(s) for s in expected)


def test_open_paths_agree_with_d_separation():
    rng = random.Random(11)
    for _ in range(150):
        g = _random_graph(rng, rng.randint(3, 8))
        t, y = rng.sample(list(g.nodes), 2)
        de_t = g.descendants(t)
        pool = [n for n in g.nodes if n not in (t, y)]
        z = {n for n in pool if rng.random() < 0.4}
        check = check_adjustment(g, treatment=t, outcome=y, covariates=sorted(z))
        g_bd = nx.DiGraph(g.dag)
        g_bd.remove_edges_from(list(g.dag.out_edges(t)))
        assert check.valid == (not (z & de_t) and nx.is_d_separator(g_bd, {t}, {y}, z))
        if not z & de_t:
            backdoor_open = [p for p in check.open_paths if p.arrows[0] == "<-"]
            assert bool(backdoor_open) == (not nx.is_d_separator(g_bd, {t}, {y}, z))


@pytest.fixture(scope="module")
def pgmpy_causal():
    with warnings.catch_warnings():  # pgmpy is a test dependency: missing, the tests fail
        warnings.simplefilter("ignore")
        from pgmpy.base import DAG
        from pgmpy.inference import CausalInference
    return DAG, CausalInference


def _pgmpy(DAG, CausalInference, g):
    latents = set(g.hidden) | set(g.latent)
    dag = DAG(list(g.dag.edges), latents=latents)
    dag.add_nodes_from(g.dag.nodes)
    return CausalInference(dag)


@pytest.mark.parametrize("graph", [ARTICLE, M_BIAS, MEDIATOR, UNOBSERVED, PRIMER, "A -> T -> Y; B -> Y; A -> Y"])
def test_backdoor_sets_match_pgmpy(pgmpy_causal, graph):
    g = CausalGraph.parse(graph)
    t, y = ("Drug", "Severity") if "Drug" in g else ("X", "Y") if "X" in g and "Z1" in g else ("T", "Y")
    observed = [n for n in g.nodes if n != "U"]
    inference = _pgmpy(*pgmpy_causal, CausalGraph(g.edges, latent=["U"] if "U" in g else [], nodes=g.nodes))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            reference = inference.get_all_backdoor_adjustment_sets(t, y)
        except ValueError:
            reference = None  # pgmpy raises when no observed set exists
    ours = identify(g, treatment=t, outcome=y, observed=observed)
    if reference is None:
        assert not ours.identifiable
    elif reference == frozenset():  # pgmpy's way of saying "the empty set is valid"
        assert ours.minimal_adjustment_sets == ((),)
    else:
        assert {frozenset(s) for s in ours.minimal_adjustment_sets} == set(reference)


def test_random_graphs_match_pgmpy(pgmpy_causal):
    rng = random.Random(3)
    for _ in range(40):
        g = _random_graph(rng, rng.randint(3, 7), p_bi=0.0)
        t, y = rng.sample(list(g.nodes), 2)
        inference = _pgmpy(*pgmpy_causal, g)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                reference = inference.get_all_backdoor_adjustment_sets(t, y)
            except ValueError:
                reference = None
        ours = identify(g, treatment=t, outcome=y)
        if reference is None:
            assert not ours.identifiable
        elif reference == frozenset():
            assert () in ours.minimal_adjustment_sets
        else:
            assert {frozenset(s) for s in ours.minimal_adjustment_sets} == set(reference)


@pytest.mark.parametrize(
    "graph", [FRONT_DOOR, "U -> T; U -> Y; T -> M1 -> Y; T -> M2 -> Y", "T -> M -> Y; U -> M; U -> Y; T <-> Y"]
)
def test_front_door_sets_valid_per_pgmpy(pgmpy_causal, graph):
    g = CausalGraph.parse(graph)
    declared = CausalGraph(g.edges, bidirected=g.bidirected, nodes=g.nodes, latent=["U"] if "U" in g else [])
    inference = _pgmpy(*pgmpy_causal, declared)
    ours = identify(g, treatment="T", outcome="Y", observed=[n for n in g.nodes if n != "U"])
    mediators = sorted(g.descendants("T") & g.ancestors("Y"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        valid = [
            frozenset(s)
            for k in range(1, len(mediators) + 1)
            for s in itertools.combinations(mediators, k)
            if inference.is_valid_frontdoor_adjustment_set("T", "Y", set(s))
        ]
    minimal = {s for s in valid if not any(v < s for v in valid)}
    assert {frozenset(s) for s in ours.front_door} == minimal


def test_observed_and_covariates_as_one_name_or_text():
    """A single name is one name, not its characters; a non-list is refused with our error."""
    graph = "I.H -> Drug; I.H -> Severity; Drug -> Severity; U -> I.H"
    one = identify(graph, treatment="Drug", outcome="Severity", observed="I.H")
    assert one.adjustment_set == ("I.H",) and one.unobserved == ("U",)
    listed = identify(graph, treatment="Drug", outcome="Severity", observed="I.H, Drug")
    assert listed.adjustment_set == ("I.H",)
    assert check_adjustment(graph, treatment="Drug", outcome="Severity", covariates="I.H").valid
    with pytest.raises(dc.SpecificationError, match=r"covariates must be a column name or a list of names, got 5"):
        check_adjustment(graph, treatment="Drug", outcome="Severity", covariates=5)
    with pytest.raises(dc.SpecificationError, match=r"observed must contain column names \(strings\), got 3"):
        identify(graph, treatment="Drug", outcome="Severity", observed=["I.H", 3])
    with pytest.raises(dc.SpecificationError, match=r"the treatment 'Drug' cannot be in the adjustment set"):
        check_adjustment(graph, treatment="Drug", outcome="Severity", covariates=["I.H", "Drug"])
    with pytest.raises(dc.SpecificationError, match=r"treatment and outcome are the same node 'Drug'"):
        identify(graph, treatment="Drug", outcome="Drug")
