"""The meta-learners on the command line: flags, JSON keys, --rows, plots."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from deconfound.cli import main


@pytest.fixture
def csv(tmp_path):
    rng = np.random.default_rng(0)
    n = 400
    x = rng.normal(size=(n, 2))
    t = rng.binomial(1, 1 / (1 + np.exp(-x[:, 0])))
    df = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "d": t, "y": x[:, 0] + t * (1 + x[:, 1]) + rng.normal(size=n)})
    df["g"] = np.where(df["b"] > 0, "hi", "lo")
    path = tmp_path / "d.csv"
    df.to_csv(path, index=False)
    return str(path)


def _json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_dr_learner_json_and_rows(csv, capsys):
    base = [csv, "-y", "y", "-t", "d", "-x", "a,b", "--method", "dr-learner", "--folds", "3", "--random-state", "2"]
    out = _json(capsys, ["estimate", *base, "--subgroups", "g", "--json"])
    assert out["method"] == "dr-learner" and out["std_error"] > 0
    assert out["per_row_tables"] == {"cate": 400}
    assert out["diagnostics"]["learners"] == {
        "learner": "linear",
        "propensity_learner": "logistic",
        "final_learner": "linear",
        "folds": 3,
        "random_state": 2,
    }
    assert [row["group"] for row in out["diagnostics"]["gates"]][-1] == "most - least"
    assert out["diagnostics"]["heterogeneity"].startswith("The effect varies")
    again = _json(capsys, ["estimate", *base, "--subgroups", "g", "--json"])
    assert again == out
    rows = _json(capsys, ["estimate", *base, "--json", "--rows"])
    assert len(rows["diagnostics"]["cate"]) == 400 and set(rows["diagnostics"]["cate"][0]) == {
        "row",  # the row's position in the file (issue 11, item 6)
        "cate",
        "cate_cross_fitted",
        "pseudo_outcome",
    }


def test_t_learner_has_no_standard_error_and_plots(csv, capsys, tmp_path):
    out = _json(capsys, ["estimate", csv, "-y", "y", "-t", "d", "-x", "a,b", "--method", "t-learner", "--json"])
    assert out["std_error"] is None and "no standard error" in " ".join(out["notes"])
    for kind in ("cate", "gates"):
        target = tmp_path / f"{kind}.png"
        argv = ["plot", kind, csv, "-y", "y", "-t", "d", "-x", "a,b", "--random-state", "1", "-o", str(target)]
        assert main(argv) == 0 and target.stat().st_size > 0


def test_an_unknown_learner_preset_is_named(csv, capsys):
    argv = ["estimate", csv, "-y", "y", "-t", "d", "-x", "a,b", "--method", "r-learner", "--learner", "xgb"]
    assert main(argv) != 0
    assert "learner" in capsys.readouterr().err
