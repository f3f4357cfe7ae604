"""Without a graph the report says the confounders are assumed, never identified; a panel covariate that
changes over time within units is not drawn as a confounder (issue 11, item 2: the article's
Quality_of_Care improves only for the treated after treatment)."""

from __future__ import annotations

import html as htmllib
import re
import warnings

import deconfound as dc
from deconfound.model import CausalModel, _implied_graph


def _text(model: CausalModel, **kw) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        page = model.report(seed=1, **kw)
    return " ".join(htmllib.unescape(re.sub("<[^>]+>", " ", page)).split())


def test_no_graph_says_assumed_never_identified():
    text = _text(CausalModel(dc.datasets.heart_attack(), "Drug", "Severity", covariates=["I.H"]), methods=["ols"])
    assert "identifies the effect" not in text  # the implied graph's own explanation used to be printed
    assert "No causal graph was given, so nothing was identified" in text
    assert "the covariates {I.H} are assumed to be the confounders" in text


def test_with_a_graph_the_report_still_says_identified():
    graph = "I.H -> Drug; I.H -> Severity; Drug -> Severity"
    text = _text(CausalModel(dc.datasets.heart_attack(), "Drug", "Severity", graph=graph), methods=["ols"])
    assert "identifies the effect" in text and "assumed to be the confounders" not in text


def _did(**kw):
    panel = dc.datasets.heart_attack_panel(quality_noise=0.5)
    panel["D"] = panel["Drug"] * panel["Post"]
    return CausalModel(panel, "D", "Severity", design="panel", unit="patient", time="Post", **kw)


def test_a_covariate_that_changes_over_time_is_not_drawn_as_a_confounder():
    model = _did(covariates=["Quality_of_Care", "I.H"])
    assert model.changing_covariates() == ["Quality_of_Care"]  # I.H is fixed within each patient
    drawn = _implied_graph("D", "Severity", ["Quality_of_Care", "I.H"], "panel", model.changing_covariates())
    assert ("D", "Quality_of_Care") in drawn.edges and ("Quality_of_Care", "D") not in drawn.edges
    assert ("I.H", "D") in drawn.edges
    text = _text(model, methods=["random-effects"])
    assert "'Quality_of_Care' change(s) over time within units" in text
    assert "the covariates {I.H} are assumed to be the confounders" in text


def test_with_a_graph_no_covariate_is_second_guessed():
    graph = "Quality_of_Care -> D; Quality_of_Care -> Severity; D -> Severity"
    assert _did(graph=graph).changing_covariates() == []
