"""``deconfound datasets``: the example data as files, so that the README's commands have something to read
(issue 11, item 7)."""

from __future__ import annotations

import pandas as pd
import pytest

import deconfound as dc
from deconfound.cli.app import main
from deconfound.cli.datasets import DATASETS


def test_without_a_name_it_lists_every_data_set(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    for name in DATASETS:
        assert name in out
    assert "deconfound datasets NAME -o" in out


def test_heart_attack_file_is_the_article_data(tmp_path):
    path = tmp_path / "sub" / "heart.csv"
    assert main(["datasets", "heart-attack", "-o", str(path)]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(path), dc.datasets.heart_attack(), check_exact=False, rtol=1e-12)


def test_simulated_data_is_seeded_and_parquet_works(tmp_path):
    a, b, c = (tmp_path / n for n in ("a.parquet", "b.parquet", "c.parquet"))
    assert main(["datasets", "staggered-panel", "-o", str(a)]) == 0
    assert main(["datasets", "staggered-panel", "-o", str(b)]) == 0
    assert main(["datasets", "staggered-panel", "-o", str(c), "--seed", "7"]) == 0
    first, again, other = (pd.read_parquet(p) for p in (a, b, c))
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(other)
    assert list(first.columns) == ["unit", "time", "first_treated", "treated", "x", "y"]


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["datasets", "heart-atack"], "Did you mean 'heart-attack'"),
        (["datasets", "heart-attack", "-o", "heart.txt"], "--output heart.txt: write a .csv or .parquet"),
        (["datasets", "ice-cream", "--seed", "3"], "takes no --seed"),
        (["datasets", "-o", "x.csv"], "--output needs a data set name"),
    ],
)
def test_mistakes_are_named(argv, words, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert words in capsys.readouterr().err
    assert not (tmp_path / "heart.txt").exists()
