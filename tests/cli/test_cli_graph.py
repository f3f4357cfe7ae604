"""The command line: identify, estimate --graph, plot dag and plot forest."""

import json

import pytest

import deconfound as dc
from deconfound.cli import main
from deconfound.cli.methods import PLOTS

ARTICLE = "I.H -> Drug; I.H -> Severity; Drug -> Severity"


@pytest.fixture
def heart_csv(tmp_path, heart):
    path = tmp_path / "heart.csv"
    heart.to_csv(path, index=False)
    return str(path)


def run_json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_identify_json_contract(capsys):
    out = run_json(capsys, ["identify", "--graph", ARTICLE, "-t", "Drug", "-y", "Severity", "--json"])
    assert out["identifiable"] is True
    assert out["backdoor_paths"] == [["Drug", "I.H", "Severity"]]
    assert out["minimal_adjustment_sets"] == [["I.H"]]
    assert out["adjustment_set"] == ["I.H"]
    assert "bad_controls" not in out


def test_identify_checks_an_adjustment_set(capsys):
    m_bias = "A -> T; A -> C; B -> C; B -> Y; T -> Y"
    out = run_json(capsys, ["identify", "--graph", m_bias, "-t", "T", "-y", "Y", "--adjust", "C", "--json"])
    assert out["minimal_adjustment_sets"] == [[]]
    assert out["adjustment_valid"] is False
    assert [(b["variable"], b["role"]) for b in out["bad_controls"]] == [("C", "collider")]
    assert out["adjust_open_paths"] == [["T", "A", "C", "B", "Y"]]
    assert main(["identify", "--graph", m_bias, "-t", "T", "-y", "Y", "--adjust", "C"]) == 0
    text = capsys.readouterr().out
    assert "does NOT satisfy the backdoor criterion" in text and "'C' is a collider" in text


def test_identify_observed_front_door_and_sorted_sets(capsys):
    graph = "U -> T; U -> Y; T -> M -> Y; W -> T; W -> Y; V -> T; V -> Y"
    out = run_json(capsys, ["identify", "--graph", graph, "-t", "T", "-y", "Y", "--observed", "T,M,Y,W,V", "--json"])
    assert out["identifiable"] is False
    assert out["unobserved"] == ["U"]
    assert out["unobserved_adjustment_sets"] == [["U", "V", "W"]]
    assert out["front_door"] == [["M"]]
    assert out["open_paths"] == [["T", "U", "Y"]]
    everything = run_json(capsys, ["identify", "--graph", graph, "-t", "T", "-y", "Y", "--json"])
    assert everything["minimal_adjustment_sets"] == [["U", "V", "W"]]


def test_identify_reads_observed_from_data_and_graph_from_file(capsys, tmp_path, heart_csv):
    dot = tmp_path / "g.dot"
    dot.write_text('digraph { "I.H" -> Drug; "I.H" -> Severity; Drug -> Severity; G -> Drug; G -> Severity }')
    out = run_json(capsys, ["identify", heart_csv, "--graph", str(dot), "-t", "Drug", "-y", "Severity", "--json"])
    assert out["identifiable"] is False and out["unobserved"] == ["G"]


def test_estimate_with_graph_adjusts_for_the_identified_set(capsys, heart_csv, heart):
    out = run_json(
        capsys, ["estimate", heart_csv, "-m", "ols", "-t", "Drug", "-y", "Severity", "--graph", ARTICLE, "--json"]
    )
    ref = dc.ols(heart, outcome="Severity", treatment="Drug", covariates=["I.H"])
    assert out["estimate"] == pytest.approx(ref.estimate, rel=1e-12)
    assert out["warnings"] == []
    assert "adjustment set {I.H} identified from the graph (backdoor criterion)" in out["notes"]


def test_estimate_with_graph_warns_about_bad_controls(capsys, tmp_path):
    df = dc.datasets.simulate_collider(random_state=2)
    path = tmp_path / "collider.csv"
    df.to_csv(path, index=False)
    argv = ["estimate", str(path), "-t", "treatment", "-y", "outcome", "--graph", df.attrs["graph"]]
    out = run_json(capsys, [*argv, "--covariates", "X,C", "--method", "lin", "--json"])
    assert any("'C' is a collider" in w for w in out["warnings"])
    assert main([*argv, "--formula", "outcome ~ treatment"]) == 2
    assert "cannot be combined with --formula" in capsys.readouterr().err
    assert (
        main(["estimate", str(path), "-t", "treatment", "-y", "outcome", "--graph", "U -> treatment; U -> outcome"])
        == 2
    )
    assert "not identifiable by adjustment" in capsys.readouterr().err


def test_plot_dag_and_forest(capsys, tmp_path, heart_csv):
    assert {"dag", "forest"} <= set(PLOTS)
    dag = tmp_path / "dag.png"
    assert main(["plot", "dag", "--graph", ARTICLE, "-t", "Drug", "-y", "Severity", "-o", str(dag), "-q"]) == 0
    assert dag.read_bytes()[:4] == b"\x89PNG"
    forest = tmp_path / "forest.svg"
    assert (
        main(["plot", "forest", heart_csv, "-t", "Drug", "-y", "Severity", "--graph", ARTICLE, "-o", str(forest)]) == 0
    )
    assert "<svg" in forest.read_text()
    assert main(["plot", "dag", "-o", str(tmp_path / "x.png")]) == 2
    assert "plot dag needs --graph" in capsys.readouterr().err
    assert main(["plot", "forest", "-t", "Drug", "-y", "Severity", "-o", str(tmp_path / "f.png")]) == 2
    assert "plot forest needs a data file (CSV or Parquet)" in capsys.readouterr().err


def test_identify_errors(capsys):
    assert main(["identify", "--graph", "a -> b -> a", "-t", "a", "-y", "b"]) == 2
    assert "cycle: " in capsys.readouterr().err
    assert main(["identify", "--graph", ARTICLE, "-t", "drug", "-y", "Severity"]) == 2
    assert "Did you mean 'Drug'" in capsys.readouterr().err


def _documented_keys(section: str) -> list[list[str]]:
    """The keys of each table in ``section`` of docs/cli-json.md (a cell may list several: `a`, `b`)."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "cli-json.md").read_text(encoding="utf-8")
    body = text.split(section, 1)[1].split("\n## ", 1)[0]
    tables = []
    for block in re.split(r"\n\s*\n", body):
        rows = [line for line in block.splitlines() if line.startswith("| `")]
        if rows:
            tables.append([key for row in rows for key in re.findall(r"`([a-z_]+)`", row.split("|")[1])])
    return tables


def test_identify_json_keys_are_exactly_the_documented_ones(capsys):
    base, with_adjust = _documented_keys("## `deconfound identify --json`")
    out = run_json(capsys, ["identify", "--graph", ARTICLE, "-t", "Drug", "-y", "Severity", "--json"])
    assert sorted(out) == sorted(base)
    checked = run_json(
        capsys, ["identify", "--graph", ARTICLE, "-t", "Drug", "-y", "Severity", "--adjust", "I.H", "--json"]
    )
    assert sorted(checked) == sorted(base + with_adjust)
    assert checked["adjustment_valid"] is True and checked["bad_controls"] == []
    # types as documented
    assert isinstance(out["backdoor_paths"], list) and all(isinstance(n, str) for n in out["backdoor_paths"][0])
    assert all(s == sorted(s) for s in out["minimal_adjustment_sets"])
    assert isinstance(out["explanation"], str) and isinstance(out["truncated"], bool)


def test_identify_cli_bad_input_is_ours(capsys):
    cases = [
        (["--graph", "", "-t", "a", "-y", "b"], "the graph text is empty"),
        (["--graph", "a -> b", "-t", "a", "-y", "a"], "treatment and outcome are the same node 'a'"),
        (["--graph", "a -> b", "-t", "a", "-y", "b", "--adjust", "a"], "the treatment 'a' cannot be in the adjustment"),
        (["--graph", "digraph { a -> }", "-t", "a", "-y", "b"], "DOT: expected a node name"),
    ]
    for argv, message in cases:
        assert main(["identify", *argv]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err
