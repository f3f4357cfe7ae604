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
