"""CausalModel refuses a graph it cannot use, and a treatment the data lacks, when it is built."""

import pandas as pd
import pytest

import deconfound as dc
from deconfound.model import CausalModel


@pytest.fixture
def frame():
    return pd.DataFrame({"Drug": [0, 1, 0, 1], "Severity": [1.0, 2.0, 3.0, 4.0], "IH": [1, 2, 3, 4]})


def test_cyclic_graph_is_refused_by_the_constructor(frame):
    with pytest.raises(dc.SpecificationError, match=r"The graph has a cycle: .*remove or reverse one of these arrows"):
        CausalModel(frame, "Drug", "Severity", graph="IH -> Drug -> Severity -> IH")
    with pytest.raises(dc.SpecificationError, match=r"the graph text is empty"):
        CausalModel(frame, "Drug", "Severity", graph="  ")


def test_treatment_missing_from_the_data_is_refused_by_the_constructor(frame):
    with pytest.raises(dc.DataError, match=r"treatment 'drug' is not a column of the data\. Did you mean 'Drug'"):
        CausalModel(frame, "drug", "Severity")


def test_a_valid_model_still_builds_and_prints(frame):
    model = CausalModel(frame, "Drug", "Severity", graph="IH -> Drug; IH -> Severity; Drug -> Severity")
    assert repr(model) == (
        "CausalModel(treatment='Drug', outcome='Severity', graph='IH -> Drug; IH -> Severity; Drug -> Severity', "
        "design='cross-section')"
    )
    assert model.identify().adjustment_set == ("IH",)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"design": "bogus"}, r"design='bogus' is not allowed; choose one of 'cross-section', 'rct', 'panel'\."),
        ({"design": "observationl"}, r"design='observationl' is not allowed; choose one of 'cross-section'"),
        ({"level": 2}, r"level must be strictly between 0 and 1, got 2"),
        ({"level": 95}, r"level must be strictly between 0 and 1, got 95 \(did you mean a fraction, e\.g\. 0\.95\?\)"),
        ({"level": "high"}, r"level must be a number between 0 and 1, got 'high'"),
        ({"missing": "sometimes"}, r"missing='sometimes' is not allowed; choose one of 'raise', 'drop'\."),
        ({"design": "panel"}, r"design='panel' needs unit= and time="),
    ],
)
def test_bad_options_are_refused_by_the_constructor(frame, options, message):
    with pytest.raises(dc.SpecificationError, match=message):
        CausalModel(frame, "Drug", "Severity", **options)


def test_question_without_data_checks_is_refused_by_the_constructor(frame):
    with pytest.raises(dc.SpecificationError, match=r"treatment and outcome are the same column 'Drug'"):
        CausalModel(frame, "Drug", "Drug")
    with pytest.raises(dc.SpecificationError, match=r"outcome must be a column name, got 3"):
        CausalModel(frame, "Drug", 3)


def test_options_are_stored_normalised(frame):
    model = CausalModel(frame, "Drug", "Severity", design="RCT", missing="Drop", level="0.9")
    assert (model.design, model.missing, model.level) == ("rct", "drop", 0.9)


def test_unidentified_effect_leaves_no_applicable_method_with_reasons(frame):
    model = CausalModel(frame, "Drug", "Severity", graph="U -> Drug; U -> Severity; Drug -> Severity")
    assert model.applicable_methods() == []
    reasons = model.not_applicable()
    assert set(reasons) == {m for m, spec in dc.model.ESTIMATORS.items() if spec.in_compare}
    assert all("not identifiable by adjustment" in why and "Drug <- U -> Severity" in why for why in reasons.values())
    with pytest.raises(dc.IdentificationError, match=r"not identifiable by adjustment.*Drug <- U -> Severity"):
        model.compare()


def test_identified_model_lists_what_applies_and_why_the_rest_does_not(frame):
    model = CausalModel(frame, "Drug", "Severity", covariates=["IH"])
    reasons = model.not_applicable()
    assert "ols" in model.applicable_methods() and "ols" not in reasons
    assert "twfe" in reasons and "panel" in reasons["twfe"]
    assert set(model.applicable_methods()).isdisjoint(reasons)
