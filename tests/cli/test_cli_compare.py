"""``deconfound estimate`` without ``--method``: every applicable method, led by the verdict (issue 11, item 1).

Before, the command silently ran OLS alone: the user saw one number and no word about the other methods
(nor that IPW is unbalanced on the article's data)."""

from __future__ import annotations

import json

import pytest

import deconfound as dc
from deconfound.cli import main
from deconfound.results import JSON_KEYS

ARTICLE = "I.H -> Drug; I.H -> Severity; Drug -> Severity"


@pytest.fixture(scope="module")
def heart_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("compare") / "heart.csv"
    dc.datasets.heart_attack().to_csv(path, index=False)
    return str(path)


def test_text_leads_with_the_verdict_and_lists_every_status(capsys, heart_csv):
    assert main(["estimate", heart_csv, "-y", "Severity", "-t", "Drug", "--graph", ARTICLE, "-q"]) == 0
    out = capsys.readouterr().out
    first = out.split("\n\n")[1]  # the paragraph after the title is the answer
    assert "'Drug' lowers 'Severity' by about 9.9 (95% interval -10.6 to -9.2)" in first
    assert "range from" not in out
    assert "Seed: 42" in out and "identified by the graph" in out
    lines = {line.split("  ")[0].strip(): line for line in out.splitlines() if line[:1].isalpha()}
    assert "recommended" in lines and "Lin interacted regression" in lines["recommended"]
    table = [line for line in out.splitlines() if line.startswith(("set aside", "supported", "caution", "recommended"))]
    ipw = next(line for line in table if "Inverse probability weighting (Hajek)" in line)
    assert ipw.startswith("set aside") and "-17.7" in ipw
    assert "balance on 'I.H' was not reached" in out
    naive = next(line for line in table if "Difference in means" in line and "ATE" in line)
    assert naive.startswith("set aside") and "3.5" in naive


def test_json_keeps_the_contract_keys_for_the_recommended_estimate(capsys, heart_csv):
    assert main(["estimate", heart_csv, "-y", "Severity", "-t", "Drug", "-x", "I.H", "--json", "-q"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert list(payload)[: len(JSON_KEYS)] == list(JSON_KEYS)
    ref = dc.lin(dc.datasets.heart_attack(), outcome="Severity", treatment="Drug", covariates=["I.H"])
    assert payload["method"] == "lin" and payload["estimate"] == pytest.approx(ref.estimate, rel=1e-12)
    assert (payload["ci_low"], payload["ci_high"]) == pytest.approx((ref.ci_low, ref.ci_high), rel=1e-12)
    assert payload["command"] == "compare" and payload["identification"] == "assumed"
    assert payload["design"] == "cross-section" and payload["adjustment_set"] == ["I.H"] and payload["seed"] == 42
    status = {e["method"]: e["status"] for e in payload["estimates"]}
    assert status["lin"] == "recommended" and status["ipw"] == "set aside" and status["naive"] == "set aside"
    assert payload["verdict"]["recommended_method"] == "lin"
    assert payload["headline"] == payload["verdict"]["headline"]
    assert "twfe" in payload["not_applicable"] and payload["failed"] == {}
    assert payload["per_row_tables"] == {}


def test_a_randomized_trial_recommends_the_difference_in_means(capsys, tmp_path):
    path = tmp_path / "rct.csv"
    dc.datasets.simulate_rct(n=400, random_state=3).to_csv(path, index=False)
    frame = dc.datasets.simulate_rct(n=400, random_state=3)
    covariates = [c for c in frame.columns if c.startswith("x")]
    argv = ["estimate", str(path), "-y", "outcome", "-t", "treatment", "-x", ",".join(covariates), "--randomized"]
    assert main([*argv, "--json", "-q"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["method"] == "naive" and payload["design"] == "rct"


def test_a_method_option_without_method_is_refused_with_the_flag_to_add(capsys, heart_csv):
    assert main(["estimate", heart_csv, "-y", "Severity", "-t", "Drug", "-x", "I.H", "--caliper", "0.1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --caliper (for --method psm) need(s) --method")


def test_a_formula_still_means_ols(capsys, heart_csv):
    assert main(["estimate", heart_csv, "-t", "Drug", "--formula", "Severity ~ Drug + Q('I.H')", "--json", "-q"]) == 0
    assert json.loads(capsys.readouterr().out)["method"] == "ols"
