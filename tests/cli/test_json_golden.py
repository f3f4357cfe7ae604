"""The ``--json`` output of the article's commands equals what the code printed before the seams refactor.

The expected files were written by ``golden/record.py`` from the code as it stood before issue 10 (not
from the code under test): keys must match exactly, strings and integers exactly, floats to 1e-12
relative (a sum taken in another order may move the last bit; nothing else may change).
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parent / "golden"
_spec = importlib.util.spec_from_file_location("golden_record", GOLDEN / "record.py")
assert _spec is not None and _spec.loader is not None
record = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(record)


def _same(ours, expected, where: str = "$") -> None:
    if isinstance(expected, dict):
        assert isinstance(ours, dict), where
        assert sorted(ours) == sorted(expected), f"{where}: keys differ"
        for key in expected:
            _same(ours[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(ours, list) and len(ours) == len(expected), f"{where}: lengths differ"
        for i, (a, b) in enumerate(zip(ours, expected)):
            _same(a, b, f"{where}[{i}]")
    elif isinstance(expected, float) and isinstance(ours, float):
        assert math.isclose(ours, expected, rel_tol=1e-12, abs_tol=1e-300), f"{where}: {ours!r} != {expected!r}"
    else:
        assert type(ours) is type(expected) and ours == expected, f"{where}: {ours!r} != {expected!r}"


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    return record.write_data(tmp_path_factory.mktemp("golden"))


@pytest.mark.parametrize("name", sorted(record.COMMANDS))
def test_json_output_unchanged(name, paths):
    expected = json.loads((GOLDEN / f"{name}.json").read_text())
    _same(record.run(name, paths), expected)


def test_the_comparison_catches_a_change():
    with pytest.raises(AssertionError, match="estimate"):
        _same({"estimate": 1.0}, {"estimate": 1.0 + 1e-9})
    with pytest.raises(AssertionError, match="keys differ"):
        _same({"a": 1}, {"b": 1})
