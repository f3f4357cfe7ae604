"""The method registry: each entry is true to its function, and one entry is all a method needs."""

from __future__ import annotations

import inspect
import json

import pytest

import deconfound as dc
from deconfound.cli import main
from deconfound.cli.methods import PLOTS
from deconfound.estimators.registry import OPTIONS, REGISTRY, Method, Option, cli_methods
from deconfound.model import ESTIMATORS, CausalModel
from deconfound.report.sections import DIAGNOSTIC_RENDERERS

MODEL_ROLES = ("outcome", "treatment", "covariates", "weights", "cluster", "unit", "time", "level", "missing")


@pytest.mark.parametrize("name", list(REGISTRY))
def test_entry_matches_its_function(name):
    method = REGISTRY[name]
    function = method.load()
    assert callable(function), method.target
    params = inspect.signature(function).parameters
    declared = [o.name for o in method.cli_options] + list(method.one_of) + list(method.options) + list(method.needs)
    missing = [p for p in declared if p not in params]
    assert not missing, f"{name}: {missing} are not parameters of {method.target}"
    if method.model:
        assert {"outcome", "treatment"} <= set(params), name
    if method.adjustment != "none" or method.needs_covariates:
        assert "covariates" in params, name
    assert bool(method.cov_types) == ("cov_type" in params), f"{name}: cov_types and cov_type= disagree"
    assert set(method.renders) <= set(DIAGNOSTIC_RENDERERS), name
    assert set(method.plots) <= set(PLOTS), name


def test_every_renderer_and_shared_option_is_used():
    rendered = {key for method in REGISTRY.values() for key in method.renders}
    assert set(DIAGNOSTIC_RENDERERS) <= rendered  # a renderer no entry declares is dead code
    taken = set()
    for method in REGISTRY.values():
        taken |= set(inspect.signature(method.load()).parameters)
    assert {o.name for o in OPTIONS} <= taken
    dests = {}
    for method in REGISTRY.values():
        for option in (*OPTIONS, *method.cli_options):
            assert dests.setdefault(option.dest, option) == option, f"two declarations of {option.flag_name}"


def test_help_lists_every_method_and_its_flags(capsys):
    with pytest.raises(SystemExit, match=r"^0$"):
        main(["estimate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for name in cli_methods():
        assert name in text.split("or ols with --formula):")[1].split("--")[0], name
        for option in REGISTRY[name].cli_options:
            assert option.flag_name in text, option.flag_name
    assert "panels and difference-in-differences (methods did, twfe, event-study, staggered, panel)" in text
    assert "propensity score, matching and weighting (methods psm, ipw, aipw, ra, overlap, cem)" in text


def test_model_estimators_is_a_view_of_the_registry(monkeypatch):
    assert list(ESTIMATORS) == [name for name, method in REGISTRY.items() if method.model]
    assert "did" in REGISTRY and "did" not in ESTIMATORS and "sun-abraham" in ESTIMATORS
    with pytest.raises(KeyError, match="panel"):
        ESTIMATORS["panel"]
    monkeypatch.setitem(ESTIMATORS, "pooled", Method("deconfound.estimators.regression:ols", "Pooled OLS"))
    assert REGISTRY["pooled"].label == "Pooled OLS"


def test_bad_entries_are_refused():
    with pytest.raises(dc.SpecificationError, match="target must read 'module:function'"):
        Method("deconfound.estimators.regression.ols", "OLS")
    with pytest.raises(dc.SpecificationError, match="adjustment='weights' is not allowed"):
        Method("m:f", "M", adjustment="weights")
    with pytest.raises(dc.SpecificationError, match="kind='list' is not allowed"):
        Option("x", "an x", kind="list")


TOY = '''
import dataclasses
import deconfound as dc

def toy(data, *, outcome, treatment, covariates=None, bandwidth=1.0, level=0.95, missing="raise"):
    """OLS scaled by a bandwidth (a method only this test knows)."""
    fit = dc.ols(data, outcome=outcome, treatment=treatment, covariates=covariates, level=level, missing=missing)
    return dataclasses.replace(fit, method="toy", label="Toy", estimate=bandwidth * fit.estimate)
'''


@pytest.fixture
def toy(tmp_path, monkeypatch):
    (tmp_path / "toy_method.py").write_text(TOY)
    monkeypatch.syspath_prepend(str(tmp_path))
    entry = Method(
        "toy_method:toy",
        "Toy",
        binary_treatment=True,
        cli_options=(Option("bandwidth", "toy: the bandwidth (default 1)", kind="float"),),
    )
    monkeypatch.setitem(REGISTRY, "toy", entry)
    return entry


def test_a_new_entry_reaches_the_cli_and_the_model(toy, heart, tmp_path, capsys):
    path = tmp_path / "heart.csv"
    heart.to_csv(path, index=False)
    ref = dc.ols(heart, outcome="Severity", treatment="Drug", covariates=["I.H"]).estimate
    argv = ["estimate", str(path), "-y", "Severity", "-t", "Drug", "-x", "I.H", "--method", "toy"]
    assert main([*argv, "--bandwidth", "2", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["method"] == "toy" and payload["estimate"] == pytest.approx(2 * ref, rel=1e-12)
    assert main(["estimate", str(path), "-t", "Drug", "--method", "toy"]) == 2
    assert "--outcome is required for --method toy" in capsys.readouterr().err
    with pytest.raises(SystemExit, match=r"^0$"):
        main(["estimate", "--help"])
    assert "--bandwidth" in capsys.readouterr().out
    model = CausalModel(heart, "Drug", "Severity", covariates=["I.H"])
    assert "toy" in model.applicable_methods()
    assert model.estimate("toy", bandwidth=3.0).estimate == pytest.approx(3 * ref, rel=1e-12)
