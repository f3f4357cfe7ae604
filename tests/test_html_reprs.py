"""Every result, comparison, identification and model renders as compact, escaped HTML in Jupyter."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

import deconfound as dc
from deconfound.model import CausalModel

EVIL = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def evil_frame():
    rng = np.random.default_rng(0)
    n = 200
    x = rng.normal(size=n)
    t = rng.binomial(1, 0.5, n)
    return pd.DataFrame({EVIL: x, "treat": t, "y": x + t + rng.normal(size=n)})


def _check_compact(html: str) -> None:
    assert EVIL not in html and "<script" not in html and "<style" not in html
    for thead in re.findall(r"<thead>(.*?)</thead>", html, re.S):
        assert thead.count("<tr") == 1, "a table with a second header row (the index name on its own line)"


def test_estimate_and_comparison(evil_frame):
    fit = dc.ols(evil_frame, outcome="y", treatment="treat", covariates=[EVIL])
    html = fit._repr_html_()
    _check_compact(html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert f"{fit.estimate:.4f}" in html and "<th>term</th>" in html
    with pytest.warns(dc.DiagnosticWarning, match="randomly assigned"):
        naive = dc.difference_in_means(evil_frame, outcome="y", treatment="treat", covariates=[EVIL])
    both = dc.compare(naive, fit)._repr_html_()
    _check_compact(both)
    assert f"{naive.estimate:.4f}" in both and "<th>method</th>" in both


def test_identification_adjustment_check_and_model(evil_frame):
    graph = [(EVIL, "treat"), (EVIL, "y"), ("treat", "y"), ("treat", "M"), ("M", "y")]
    ident = dc.identify(graph, treatment="treat", outcome="y")
    _check_compact(ident._repr_html_())
    check = dc.check_adjustment(graph, treatment="treat", outcome="y", covariates=[EVIL, "M"])
    html = check._repr_html_()
    _check_compact(html)
    assert "does NOT satisfy the backdoor criterion" in html and "<td>mediator</td>" in html
    assert "does NOT satisfy" in str(check)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        card = CausalModel(evil_frame, "treat", "y", covariates=[EVIL])._repr_html_()
    _check_compact(card)
    assert "&lt;script&gt;" in card
