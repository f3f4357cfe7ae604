"""The panel commands list every column and suggest the closest one, as the Python API does, and call the
option by its flag (issue 11, item 5). Before, ``--first-treated first_treatd`` said "timing
'first_treatd' is not a column of the data. Columns: 'unit', 'time', 'y'" (only the columns read so far),
and ``--unit unt`` with twfe was reported as the cluster."""

from __future__ import annotations

import pytest

import deconfound as dc
from deconfound.cli.app import main

EVERY = "Columns: 'unit', 'time', 'first_treated', 'treated', 'x', 'y'."


@pytest.fixture(scope="module")
def panel_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("panel") / "panel.csv"
    dc.datasets.simulate_panel(n_units=40, random_state=1).to_csv(path, index=False)
    return str(path)


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--method", "staggered", "-y", "y", "--unit", "unit", "--time", "time", "--first-treated", "first_treatd"],
         "--first-treated 'first_treatd' is not a column of the data. Did you mean 'first_treated'?"),
        (["--method", "event-study", "-y", "yy", "--unit", "unit", "--time", "time", "--first-treated", "g"],
         "--outcome 'yy' is not a column of the data. Did you mean 'y'?"),
        (["--method", "twfe", "-y", "y", "--unit", "unt", "--time", "time", "--treatment", "treated"],
         "--unit 'unt' is not a column of the data. Did you mean 'unit'?"),
        (["--method", "did", "-y", "y", "--treated", "treatd", "--post", "time"],
         "--treated 'treatd' is not a column of the data. Did you mean 'treated'?"),
        (["--method", "panel", "-y", "y", "--unit", "unit", "--time", "tim", "--treatment", "treated"],
         "--time 'tim' is not a column of the data. Did you mean 'time'?"),
    ],
    ids=["staggered", "event-study", "twfe", "did", "panel"],
)  # fmt: skip
def test_panel_commands_name_the_flag_and_list_every_column(panel_file, capsys, argv, said):
    assert main(["estimate", panel_file, *argv, "-q"]) == 2
    err = capsys.readouterr().err
    assert said in err and EVERY in err
    assert "timing" not in err and "cluster" not in err


def test_python_api_names_its_keyword(panel_file):
    with pytest.raises(dc.errors.DataError, match=r"first_treated 'g' is not a column of the data\. .*'first_treated'"):
        dc.staggered(panel_file, outcome="y", unit="unit", time="time", first_treated="g")
