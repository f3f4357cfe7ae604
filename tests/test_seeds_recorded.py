"""Randomness is visible and reproducible (issue 11, item 3): a call with ``random_state=None`` keeps the
seed it drew on its result, and passing that seed back gives the same numbers; the command line runs a
random method with a fixed default seed and prints it."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pytest

import deconfound as dc
from deconfound.cli.app import main
from deconfound.robustness import placebo_treatment
from deconfound.robustness.randomization import randomization_test
from deconfound.robustness.wild import wild_cluster_bootstrap

SEED_NOTE = re.compile(r"random_state=None drew the seed (\d+): pass random_state=\1")


@pytest.fixture(scope="module")
def heart():
    return dc.datasets.heart_attack(n=300)


def _drawn_seed(result) -> int:
    found = [SEED_NOTE.search(n) for n in result.notes]
    seeds = [int(m.group(1)) for m in found if m]
    assert len(seeds) == 1, result.notes
    return seeds[0]


@pytest.mark.parametrize(
    "fit",
    [
        lambda d, **k: dc.dml(d, learner="linear", folds=3, **k),
        lambda d, **k: dc.dml_irm(d, learner="linear", folds=3, **k),
        lambda d, **k: dc.t_learner(d, learner="linear", **k),
        lambda d, **k: dc.dr_learner(d, learner="linear", **k),
    ],
    ids=["dml", "dml-irm", "t-learner", "dr-learner"],
)
def test_learner_estimates_record_the_seed_they_drew(heart, fit):
    kw = {"outcome": "Severity", "treatment": "Drug", "covariates": ["I.H"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = fit(heart, random_state=None, **kw)
        seed = _drawn_seed(first)
        again = fit(heart, random_state=seed, **kw)
    assert again.estimate == first.estimate
    assert not any(SEED_NOTE.search(n) for n in again.notes)  # a given seed is not announced as drawn


def test_placebo_keeps_its_seed_and_reruns_from_it(heart):
    kw = {"outcome": "Severity", "covariates": ["I.H"], "treatment": "Drug", "n_simulations": 4}
    first = placebo_treatment(dc.ols, heart, random_state=None, **kw)
    seed = first.to_dict()["seed"]
    assert isinstance(seed, int)
    again = placebo_treatment(dc.ols, heart, random_state=seed, **kw)
    assert again.to_dict()["placebo_mean"] == first.to_dict()["placebo_mean"]


def test_randomization_and_wild_bootstrap_rerun_from_the_recorded_seed(heart):
    first = randomization_test(heart, outcome="Severity", treatment="Drug", n_permutations=50, random_state=None)
    again = randomization_test(
        heart, outcome="Severity", treatment="Drug", n_permutations=50, random_state=first.details["seed"]
    )
    assert again.p_value == first.p_value and again.details["seed"] == first.details["seed"]
    frame = heart.assign(site=np.arange(len(heart)) % 12)
    kw = {"outcome": "Severity", "treatment": "Drug", "covariates": ["I.H"], "cluster": "site", "n_boot": 99}
    w1 = wild_cluster_bootstrap(frame, random_state=None, ci=False, **kw)
    w2 = wild_cluster_bootstrap(frame, random_state=w1.details["seed"], ci=False, **kw)
    assert w2.p_value == w1.p_value


def test_staggered_bootstrap_records_its_seed():
    panel = dc.datasets.simulate_panel(n_units=120, random_state=3)
    kw = {"outcome": "y", "unit": "unit", "time": "time", "first_treated": "first_treated", "n_boot": 99}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = dc.staggered(panel, random_state=None, **kw)
        seed = first.diagnostics["bootstrap"]["seed"]
        again = dc.staggered(panel, random_state=seed, **kw)
    assert again.std_error == first.std_error


def test_cli_random_method_uses_and_prints_a_fixed_default_seed(tmp_path, capsys):
    path = tmp_path / "heart.csv"
    dc.datasets.heart_attack(n=300).to_csv(path, index=False)
    argv = [
        "estimate", str(path), "-y", "Severity", "-t", "Drug", "-x", "I.H",
        "--method", "dml", "--learner", "linear", "--folds", "3", "-q",
    ]  # fmt: skip
    assert main([*argv, "--json"]) == 0
    one = json.loads(capsys.readouterr().out)
    assert main([*argv, "--json"]) == 0
    two = json.loads(capsys.readouterr().out)
    assert one["seed"] == 42 and one["estimate"] == two["estimate"]
    assert not any("drew the seed" in n for n in one["notes"])
    assert main(argv) == 0
    assert "Seed: 42" in capsys.readouterr().out
    assert main(["estimate", str(path), "-y", "Severity", "-t", "Drug", "-x", "I.H", "--method", "ols", "--json"]) == 0
    assert "seed" not in json.loads(capsys.readouterr().out)  # nothing random: no seed to print


def test_cli_report_uses_the_default_seed_and_says_so(tmp_path, capsys):
    path = tmp_path / "heart.csv"
    dc.datasets.heart_attack(n=200).to_csv(path, index=False)
    out = tmp_path / "r.html"
    argv = ["report", str(path), "-y", "Severity", "-t", "Drug", "-x", "I.H", "--methods", "ols", "-o", str(out)]
    assert main(argv) == 0
    assert "(seed 42)" in capsys.readouterr().err
    assert "drawn for this run" not in out.read_text(encoding="utf-8")
