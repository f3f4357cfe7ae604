"""Formulas evaluate only what a formula needs: columns and an allow-list of transforms.

Formula text may come from someone else, so hostile strings must end in our SpecificationError before
anything is evaluated (no file written, no module imported), while every documented transform works.
"""

from __future__ import annotations

import os
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deconfound as dc
from deconfound.estimators._formula import NUMPY_FUNCTIONS, TRANSFORMS


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(8)
    n = 120
    x = rng.uniform(1, 3, n)
    s = rng.choice(["north", "south", "east"], n)
    t = rng.binomial(1, 0.5, n)
    y = 1 + 2 * t + x + (s == "south") + rng.normal(size=n)
    return pd.DataFrame({"y": y, "t": t, "x": x, "s": s, "I.H": rng.normal(50, 15, n), "a b": rng.normal(size=n)})


@pytest.fixture
def in_tmp(tmp_path):
    """Run in an empty folder, so that any file a formula manages to write is seen."""
    before = os.getcwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(before)


def _nothing_written(folder):
    return sorted(os.listdir(folder)) == []


HOSTILE = [
    "y ~ t + I(np.savetxt('out.txt', x))",  # the example: numpy writes a file
    "y ~ t + np.savetxt('out.txt', x)",
    "y ~ t + {np.savetxt('out.txt', x)}",
    "y ~ t + I(__import__('os').system('touch out.txt'))",
    "y ~ t + {__import__('os').system('touch out.txt')}",
    "y ~ t + I(open('out.txt', 'w').write('x'))",
    "y ~ t + I(open('out.txt', 'w'))",
    "y ~ t + I(eval(\"open('out.txt', 'w')\"))",
    "y ~ t + I(exec('import os'))",
    "y ~ t + I(x.__class__)",
    "y ~ t + I(x.__class__.__bases__[0].__subclasses__())",
    "y ~ t + I(x.to_csv('out.txt'))",
    "y ~ t + I(__builtins__)",
    "y ~ t + I(globals())",
    "y ~ t + I(getattr(x, 'to_csv')('out.txt'))",
    "y ~ t + I((lambda: open('out.txt', 'w'))())",
    "y ~ t + I((lambda f: (lambda g: g(g))(f))(1))",
    "y ~ t + I([open('out.txt', 'w') for _ in x])",
    "y ~ t + I(x[0])",
    "y ~ t + I(np.lib.npyio.savetxt('out.txt', x))",
    "y ~ t + I(np.fromfile('/etc/passwd'))",
    "y ~ t + I(np.DataSource().open('http://example.com'))",
    "y ~ t + I(x if open('out.txt', 'w') else x)",
    "y ~ t + I((z := 1))",
    "y ~ t + I(f'{x}')",
    "y ~ t + I(9 ** 9 ** 9)",
    "y ~ t + I(x ** (9 ** 9 ** 9))",
    "y ~ t + I('a' * 10 ** 9)",
    "y ~ t + I([0] * 10 ** 9)",
    "y ~ t + I(None)",
    "y ~ t + log(x, **{'out': x})",
    "y ~ t + C(s, _spec=1)",
    "y ~ t + Q(__import__('os').name)",
    "y ~ t + I(numpy.log(x))",
    "y ~ t + I(lag(x))",
]


@pytest.mark.parametrize("formula", HOSTILE)
def test_hostile_formulas_are_refused_before_evaluation(frame, in_tmp, formula):
    with pytest.raises(dc.SpecificationError, match=r"is not allowed\. A formula may use the data's columns.*np\.log"):
        dc.ols(frame, formula, treatment="t")
    assert _nothing_written(in_tmp)


def test_the_refusal_names_what_is_refused_and_the_allow_list(frame, in_tmp):
    with pytest.raises(dc.SpecificationError, match=r"calling 'np\.savetxt' is not allowed.*poly\(\), bs\(\)"):
        dc.ols(frame, "y ~ t + I(np.savetxt('out.txt', x))", treatment="t")
    with pytest.raises(dc.SpecificationError, match=r"the attribute access 'x\.__class__' is not allowed"):
        dc.ols(frame, "y ~ t + I(x.__class__)", treatment="t")
    with pytest.raises(dc.SpecificationError, match=r"a lambda in .* is not allowed"):
        dc.ols(frame, "y ~ t + I(x * (lambda: 2))", treatment="t")
    assert _nothing_written(in_tmp)


def test_a_dunder_name_is_refused_even_as_a_lookup(frame):
    with pytest.raises(dc.SpecificationError, match=r"the name '__class__' is not allowed"):
        dc.ols(frame, "y ~ t + __class__", treatment="t")
    with pytest.raises(dc.SpecificationError, match=r"the name 'x.__class__' is not allowed"):
        dc.ols(frame, "y ~ t + x.__class__", treatment="t")


def test_the_cli_refuses_a_hostile_formula(frame, tmp_path, capsys):
    from deconfound.cli import main

    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "out.txt"
    formula = f"y ~ t + I(np.savetxt({str(out)!r}, x))"
    assert main(["estimate", str(path), "--formula", formula, "--treatment", "t"]) == 2
    assert "calling 'np.savetxt' is not allowed" in capsys.readouterr().err
    assert not out.exists()


# --------------------------------------------------------------------------------------------------
# property: any formula holding a forbidden construct is refused, and nothing is written
# --------------------------------------------------------------------------------------------------

_FORBIDDEN = st.sampled_from(
    [
        "open('out.txt', 'w')",
        "__import__('os')",
        "eval('1')",
        "exec('x = 1')",
        "compile('1', 'f', 'eval')",
        "getattr(x, 'to_csv')",
        "np.savetxt('out.txt', x)",
        "np.save('out.txt', x)",
        "x.to_csv('out.txt')",
        "x.__class__",
        "x.__dict__",
        "(lambda: 1)()",
        "[i for i in x]",
        "{i: i for i in x}",
        "x[0]",
        "__builtins__",
        "vars()",
        "type(x)",
        "np.load('out.txt')",
        "np.lib",
        "f'{x}'",
    ]
)
_SAFE = st.sampled_from(["x", "t", "1", "2.5", "log(x)", "np.log(x)", "center(x)", "Q('I.H')", "`a b`"])
_WRAP = st.sampled_from(["I({})", "log({})", "np.sqrt({})", "{{{}}}", "I(x + {})", "I({} * 2)", "C({})", "center({})"])
_OPS = st.sampled_from([" + ", " * ", " - ", " / ", " == ", " > ", " & "])


@st.composite
def hostile_formulas(draw):
    inner = draw(_FORBIDDEN)
    if draw(st.booleans()):
        inner = draw(_SAFE) + draw(_OPS) + inner
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        inner = draw(_WRAP).format(inner)
    extra = draw(st.lists(_SAFE, max_size=2))
    terms = ["t", *extra, inner] if draw(st.booleans()) else ["t", inner, *extra]
    return "y ~ " + " + ".join(terms)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(formula=hostile_formulas())
def test_hostile_formulas_property(frame, in_tmp, formula):
    with pytest.raises(dc.SpecificationError, match=r"is not allowed|Could not parse formula"):
        dc.ols(frame, formula, treatment="t")
    assert _nothing_written(in_tmp)


# --------------------------------------------------------------------------------------------------
# what a formula needs still works
# --------------------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::deconfound.DiagnosticWarning")  # polynomial and spline bases correlate
@pytest.mark.parametrize(
    "formula",
    [
        "y ~ t + log(x)",
        "y ~ t + np.log(x) + np.sqrt(x) + np.exp(x) + np.log1p(x)",
        "y ~ t + sqrt(x) + power(x, 2)",
        "y ~ t + I(x ** 2) + I(x / 1000) + I((x > 2) & (x < 3))",
        "y ~ t + center(x) + scale(`I.H`)",
        "y ~ t + standardize(x)",
        "y ~ t + poly(x, degree=2)",
        "y ~ t + bs(x, df=4)",
        "y ~ 0 + t + cr(x, df=4)",
        "y ~ t + C(s) + C(s, Treatment('south')):x",
        "y ~ t + C(s, levels=['south', 'north', 'east'])",
        "y ~ t + Q('I.H') + `a b` + I(s == 'north')",
        "y ~ t * x + np.abs(x - 2)",
    ],
)
def test_allowed_transforms_work(frame, formula):
    r = dc.ols(frame, formula, treatment="t")
    assert np.isfinite(r.estimate) and r.std_error > 0


def test_allowed_transforms_match_hand_made_columns(frame):
    by_formula = dc.ols(frame, "y ~ t + sqrt(x) + center(`I.H`)", treatment="t")
    made = frame.assign(sx=np.sqrt(frame["x"]), ih=frame["I.H"] - frame["I.H"].mean())
    by_columns = dc.ols(made, outcome="y", treatment="t", covariates=["sx", "ih"])
    assert by_formula.estimate == pytest.approx(by_columns.estimate, rel=1e-10)
    assert by_formula.std_error == pytest.approx(by_columns.std_error, rel=1e-10)


def test_the_allow_list_is_documented():
    import re
    from pathlib import Path

    doc = dc.ols.__doc__ or ""
    text = (Path(__file__).resolve().parents[2] / "docs" / "formulas.md").read_text(encoding="utf-8")
    for name in [*TRANSFORMS, *(f"np.{fn}" for fn in NUMPY_FUNCTIONS)]:
        assert f"`{name}" in text, name
        assert re.search(rf"(?<![\w.]){re.escape(name)}(?![\w.])", doc), name
    assert "docs/formulas.md" in doc


def test_a_column_named_like_a_function_is_still_a_column(frame):
    renamed = frame.rename(columns={"x": "log"})
    r = dc.ols(renamed, "y ~ t + log", treatment="t")
    assert r.estimate == dc.ols(frame, "y ~ t + x", treatment="t").estimate


@pytest.mark.parametrize("term", ["poly(x, degree=0)", "C(x > 100)"])
def test_a_term_that_gives_no_column_is_refused_not_dropped(frame, term):
    with pytest.raises(dc.SpecificationError, match=rf"the term\(s\) \['{re.escape(term)}'\] produced no column"):
        dc.ols(frame, f"y ~ t + x + {term}", treatment="t")
