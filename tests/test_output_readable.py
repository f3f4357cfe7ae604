"""Output a person can read (issue 11, item 6): identical warnings once with the methods they apply to,
periods and cohorts printed as whole numbers and in order, each table once on a summary, and an empty
list (with reasons) from applicable_methods() when nothing applies."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import deconfound as dc


@pytest.fixture(scope="module")
def staggered_panel():
    return dc.datasets.simulate_panel(n_units=200, dynamic=0.3, random_state=1)


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def test_a_warning_shared_by_every_estimate_is_shown_once():
    data = dc.datasets.heart_attack()
    data.loc[:54, "I.H"] = np.nan
    model = dc.CausalModel(data, "Drug", "Severity", covariates=["I.H"], missing="drop")
    text = _quiet(model.summary, ["naive", "ols", "lin", "ipw"]).as_text()
    assert text.count("55 of 1000 rows were dropped for missing values") == 1
    assert "Every estimate: 55 of 1000 rows were dropped" in text
    ipw_only = [line for line in text.splitlines() if "remain imbalanced" in line]
    assert len(ipw_only) == 1 and "Inverse probability weighting" in ipw_only[0]


def test_the_comparison_names_each_method_a_warning_applies_to():
    data = dc.datasets.heart_attack(n=400)
    ols = _quiet(dc.ols, data, outcome="Severity", treatment="Drug", covariates=["I.H"])
    naive = _quiet(dc.difference_in_means, data, outcome="Severity", treatment="Drug")
    lines = dc.compare(naive, ols, naive).grouped_warnings()
    assert len(lines) == len(set(lines)) == len(naive.warnings)
    assert all(line.startswith("Difference in means: ") for line in lines)


def test_staggered_summary_prints_periods_as_integers_cohorts_in_order_and_each_table_once(staggered_panel):
    kw = {"outcome": "y", "unit": "unit", "time": "time", "first_treated": "first_treated", "aggregate": "event"}
    text = _quiet(dc.staggered, staggered_panel, **kw).summary().as_text()
    assert not re.search(r"ATT\(g=4, t=2\)\s+4\.0", text)  # group and time as 4 and 2, not 4.0000 / 2.0000
    assert re.search(r"ATT\(g=4, t=2\)\s+4\s+2\s+-2\s", text)
    cohorts = text.split("Cohorts")[1].split("---")[0]
    assert [row.split()[0] for row in cohorts.strip().splitlines()[2:]] == ["4", "6", "8", "never"]
    assert "Group time" not in text  # the same cells as the coefficients
    assert "Aggregation" not in text  # the same estimates as the event-study table
    assert text.count("Event study") == 1


def test_cohort_table_is_sorted_with_whole_periods(staggered_panel):
    result = _quiet(dc.staggered, staggered_panel, outcome="y", unit="unit", time="time", first_treated="first_treated")
    cohorts = result.diagnostics["cohorts"]
    assert list(cohorts.index) == [4, 6, 8, "never"]
    assert all(type(g) is int for g in list(cohorts.index)[:3])
    assert int(cohorts["units"].sum()) == 200


def test_bacon_table_names_cohorts_as_whole_periods(staggered_panel):
    result = _quiet(dc.twfe, staggered_panel, outcome="y", unit="unit", time="time", treatment="treated")
    bacon = result.diagnostics["bacon"]
    assert set(bacon["treated"]) == {4, 6, 8}
    assert set(bacon["control"]) == {4, 6, 8, "never"}
    text = result.summary().as_text()
    assert "4.0000" not in text.split("Bacon")[1].split("Bacon summary")[0]


def test_applicable_methods_is_an_empty_list_with_reasons_when_nothing_applies():
    data = dc.datasets.heart_attack(n=200)
    model = dc.CausalModel(data, "Drug", "Severity", graph="Drug <-> Severity; Drug -> Severity")
    assert model.applicable_methods() == []
    reasons = model.not_applicable()
    assert reasons and all(isinstance(r, str) and r for r in reasons.values())
