"""``--rows`` tables carry the input's row number (issue 11, item 6): after ``--missing drop`` each per-row
table still joins back to the file by ``row``, the 0-based position of the row in the file."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import deconfound as dc
from deconfound.cli.app import main

DROPPED = [0, 3, 5, 10]


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    frame = dc.datasets.heart_attack(n=300)
    frame.loc[DROPPED, "I.H"] = np.nan
    path = tmp_path_factory.mktemp("rows") / "heart.csv"
    frame.to_csv(path, index=False)
    return path, pd.read_csv(path)


def _run(capsys, path, method, *extra):
    argv = ["estimate", str(path), "-y", "Severity", "-t", "Drug", "-x", "I.H", "--method", method]
    assert main([*argv, "--missing", "drop", "--json", "--rows", "-q", *extra]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(("method", "table"), [("psm", "propensity"), ("ipw", "weights"), ("cem", "weights")])
def test_per_row_tables_join_back_to_the_file_after_drop(data_file, capsys, method, table):
    path, frame = data_file
    out = _run(capsys, path, method)
    rows = out["diagnostics"][table]
    ids = [r["row"] for r in rows]
    assert len(ids) == len(frame) - len(DROPPED) and not set(ids) & set(DROPPED)
    assert ids[:3] == [1, 2, 4]  # positions in the file, not in the rows kept
    joined = frame.iloc[ids]
    assert (joined["Drug"].to_numpy() == np.array([r["treatment"] for r in rows])).all()


def test_matched_pairs_name_both_rows(data_file, capsys):
    path, frame = data_file
    pairs = _run(capsys, path, "psm")["diagnostics"]["matches"]
    for pair in pairs[:20]:
        assert frame["Drug"].iloc[pair["row"]] == pair["unit_treated"]
        assert frame["Drug"].iloc[pair["match_row"]] == 1 - pair["unit_treated"]
        assert pair["row"] not in DROPPED and pair["match_row"] not in DROPPED


def test_a_frame_with_its_own_labels_gets_positions_too():
    frame = dc.datasets.heart_attack(n=200)
    frame.index = [f"p{i}" for i in range(len(frame))]
    frame.iloc[[2, 7], 0] = np.nan
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = dc.ipw(frame, outcome="Severity", treatment="Drug", covariates=["I.H"], missing="drop")
    table = result.to_dict()["diagnostics"]["weights"]
    assert [r["row"] for r in table[:3]] == [0, 1, 3]
    assert len(table) == 198
    assert any("2 of 200 rows were dropped" in str(w.message) for w in caught)
