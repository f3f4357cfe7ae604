"""A small job on the command line imports only what its method needs (issue 16, item 8)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import deconfound as dc

SRC = str(Path(dc.__file__).resolve().parent.parent)

#: modules an OLS estimate never needs: each costs a large share of a second to import (scipy: its array API
#: layer touches most of NumPy; the t and F tails and the small solves run without it)
NOT_FOR_OLS = ("scipy", "sklearn", "matplotlib", "numba", "statsmodels", "formulaic", "jinja2")


@pytest.fixture(scope="module")
def heart_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("imports") / "heart.csv"
    dc.datasets.heart_attack().to_csv(path, index=False)
    return path


def _imported_after(argv: list[str]) -> tuple[dict, list[str]]:
    """Run the CLI's main on ``argv`` in a fresh interpreter: its JSON answer and the modules it imported."""
    code = (
        "import io, json, sys, contextlib\n"
        "from deconfound.cli.app import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        f"    code = main({argv!r})\n"
        "print(json.dumps({'code': code, 'answer': json.loads(out.getvalue()), 'modules': sorted(sys.modules)}))\n"
    )
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["code"] == 0
    return result["answer"], result["modules"]


def _heavy(modules: list[str], names: tuple[str, ...]) -> list[str]:
    return sorted({name for name in names for m in modules if m == name or m.startswith(name + ".")})


def test_ols_estimate_imports_nothing_it_does_not_need(heart_csv):
    argv = ["estimate", str(heart_csv), "-y", "Severity", "-t", "Drug", "-x", "I.H", "--method", "ols", "--json"]
    answer, modules = _imported_after([*argv, "--quiet"])
    assert answer["estimate"] == pytest.approx(-9.8877, abs=5e-5)
    assert _heavy(modules, NOT_FOR_OLS) == []


def test_the_probe_sees_a_heavy_import(heart_csv):
    """The same probe on a method that needs scikit-learn's learners reports them (the check can fail)."""
    argv = ["estimate", str(heart_csv), "-y", "Severity", "-t", "Drug", "-x", "I.H", "--method", "ipw"]
    argv += ["--propensity-model", "sklearn-logistic", "--json", "--quiet"]
    _, modules = _imported_after(argv)
    assert "sklearn" in _heavy(modules, NOT_FOR_OLS)
