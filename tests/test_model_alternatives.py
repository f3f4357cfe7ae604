"""CausalModel when adjustment cannot identify the effect: the front door, or an instrument, chosen from the
graph; compare() shows the biased adjusted estimate beside it and the verdict recommends the identified one."""

import re

import numpy as np
import pandas as pd
import pytest

import deconfound as dc
from deconfound.estimators.registry import REGISTRY
from deconfound.model import CausalModel

FRONT_DOOR_GRAPH = "U -> T; U -> Y; T -> M; M -> Y"
IV_GRAPH = "Z -> T; U -> T; U -> Y; T -> Y"
OPEN_PATH = r"leaves the backdoor path T <- U -> Y open"
NEEDS_IV = pytest.mark.skipif(
    "iv" not in REGISTRY, reason="for the lead: needs the 'iv' method of branch iv (deconfound.estimators.iv:iv)"
)


@pytest.fixture(scope="module")
def fd_data():
    rng = np.random.default_rng(7)
    n = 3000
    u = rng.normal(size=n)
    t = (u + rng.normal(size=n) > 0).astype(float)
    m = 0.8 * t + rng.normal(size=n)
    y = 1.5 * m + 2.0 * u + rng.normal(size=n)
    return pd.DataFrame({"T": t, "M": m, "Y": y})


@pytest.fixture(scope="module")
def iv_data():
    rng = np.random.default_rng(8)
    n = 3000
    u, z = rng.normal(size=n), rng.normal(size=n)
    t = 0.8 * z + u + rng.normal(size=n)
    y = 1.0 * t + 2.0 * u + rng.normal(size=n)
    return pd.DataFrame({"Z": z, "T": t, "Y": y})


def test_front_door_graph_is_identified_by_the_front_door(fd_data):
    model = CausalModel(fd_data, "T", "Y", graph=FRONT_DOOR_GRAPH)
    assert model.identified_by == "front-door"
    assert model.mediators == ("M",) and model.instruments is None
    assert model.adjustment_set == ()  # the best available set: U is not observed
    assert model.applicable_methods() == ["front-door"]
    assert "front-door criterion through {M}" in model.not_applicable()["ols"]
    result = model.estimate("front-door")
    direct = dc.front_door(fd_data, outcome="Y", treatment="T", mediators=["M"])
    assert result.estimate == direct.estimate and result.std_error == direct.std_error
    assert any("the graph identifies the effect by the front-door criterion through {M}" in n for n in result.notes)
    assert abs(result.estimate - 1.2) < 3 * result.std_error
    with pytest.raises(
        dc.IdentificationError, match=r"not identifiable by adjustment.*model\.estimate\('front-door'\)"
    ):
        model.estimate("ols")


def test_compare_sets_the_adjusted_estimate_aside_and_recommends_the_front_door(fd_data):
    model = CausalModel(fd_data, "T", "Y", graph=FRONT_DOOR_GRAPH)
    with pytest.warns(dc.BadControlWarning, match=OPEN_PATH):
        comparison = model.compare()
    assert [e.method for e in comparison] == ["front-door", "ols"]
    verdict = comparison.verdict
    assert verdict.recommended.method == "front-door"
    ols = verdict.status_of("ols")
    assert ols.status == "set aside"
    assert ols.reasons[0].startswith("not identified: an unobserved confounder of 'T' and 'Y'")
    assert re.match(r"'T' raises 'Y' by about 1\.\d\d \(95% interval", verdict.headline)
    assert "by Front-door adjustment (ATE)" in verdict.headline
    assert "the graph identifies it by the front-door criterion" in verdict.headline
    assert "Set aside: Regression adjustment (OLS)" in verdict.headline
    with pytest.warns(dc.BadControlWarning, match=OPEN_PATH):
        summary = model.summary()
    assert summary.lead == verdict.headline
    assert dict(summary.header)["Identified by"] == "graph: the front door through {M} (not by adjustment)"


def test_instrument_graph_is_identified_by_iv(iv_data):
    model = CausalModel(iv_data, "T", "Y", graph=IV_GRAPH)
    assert model.identified_by == "iv"
    assert model.instruments == ("Z",) and model.mediators is None
    assert model.adjustment_set == ()  # the instrument is not a control
    assert "the instrument(s) {Z}" in model.not_applicable()["ols"]
    assert "front-door" not in model.applicable_methods()
    assert "not by front-door" in model.not_applicable()["front-door"]
    with pytest.raises(dc.IdentificationError, match=r"instrumental-variable analysis.*model\.estimate\('iv'\)"):
        model.estimate("ols")


@NEEDS_IV
def test_iv_estimate_and_compare_through_the_model(iv_data):
    model = CausalModel(iv_data, "T", "Y", graph=IV_GRAPH)
    assert model.applicable_methods() == ["iv"]
    result = model.estimate("iv")
    direct = dc.iv(iv_data, outcome="Y", treatment="T", instruments=["Z"])
    assert result.estimate == pytest.approx(direct.estimate, rel=1e-12)
    assert abs(result.estimate - 1.0) < 3 * result.std_error
    with pytest.warns(dc.BadControlWarning, match=OPEN_PATH):
        comparison = model.compare()
    assert [e.method for e in comparison] == ["iv", "ols"]
    assert comparison.verdict.recommended.method == "iv"
    assert comparison.verdict.status_of("ols").status == "set aside"
    assert "the graph identifies it by an instrumental variable" in comparison.verdict.headline


def test_backdoor_comes_first_and_the_front_door_is_then_not_compared(heart):
    model = CausalModel(heart, "Drug", "Severity", graph="I.H -> Drug; I.H -> Severity; Drug -> Severity")
    assert model.identified_by == "backdoor" and model.mediators is None
    assert "front-door" not in model.applicable_methods()
    assert "identifies the effect by adjustment" in model.not_applicable()["front-door"]
    with pytest.raises(dc.SpecificationError, match=r"does not apply to this model.*Pass mediators="):
        model.estimate("front-door")
    no_graph = CausalModel(heart, "Drug", "Severity", covariates=["I.H"])
    assert no_graph.identified_by == "backdoor"
    assert "covariates (assumed to be the confounders)" in no_graph.not_applicable()["front-door"]


def test_front_door_with_mediators_given_on_a_backdoor_model(fd_data):
    data = fd_data.assign(X=np.random.default_rng(0).normal(size=len(fd_data)))
    model = CausalModel(data, "T", "Y", covariates=["X"])
    result = model.estimate("front-door", mediators="M")
    direct = dc.front_door(data, outcome="Y", treatment="T", mediators="M")
    assert result.estimate == direct.estimate


def test_unidentified_graph_still_raises(fd_data):
    model = CausalModel(fd_data, "T", "Y", graph="U -> T; U -> Y; T -> Y")
    assert model.identified_by is None
    with pytest.raises(dc.IdentificationError, match=r"not identifiable by adjustment"):
        model.compare()


def test_verdict_rule_for_alternatives(fd_data):
    fd = dc.front_door(fd_data, outcome="Y", treatment="T", mediators="M")
    ols = dc.ols(fd_data, outcome="Y", treatment="T")
    aside = dc.compare(ols, fd, identification="front-door").verdict
    assert aside.recommended.method == "front-door" and aside.status_of("ols").status == "set aside"
    plain = dc.compare(ols, fd, identification="identified").verdict
    assert plain.recommended.method == "ols"  # the front door comes last when adjustment is identified


def test_report_of_a_front_door_model(fd_data):
    model = CausalModel(fd_data, "T", "Y", graph=FRONT_DOOR_GRAPH)
    html = model.report(seed=1)
    assert "Front-door adjustment" in html
    assert "front-door criterion" in html
    assert "Treatment -&gt; mediators: Front-door adjustment" in html
    assert "Mediators -&gt; outcome: Front-door adjustment" in html


@NEEDS_IV
def test_iv_through_the_report_and_the_command_line(iv_data, tmp_path, capsys):
    import json

    from deconfound.cli import main

    model = CausalModel(iv_data, "T", "Y", graph=IV_GRAPH)
    html = model.report(seed=1)
    assert "Instrumental variables" in html and "could not be estimated" not in html
    path = tmp_path / "iv.csv"
    iv_data.to_csv(path, index=False)
    argv = ["estimate", str(path), "-y", "Y", "-t", "T", "--method", "iv", "--graph", IV_GRAPH, "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["estimate"] == pytest.approx(dc.iv(iv_data, outcome="Y", treatment="T", instruments="Z").estimate)
