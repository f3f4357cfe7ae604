"""The report's IV views (issue 13, item 7): first stage, the weak-instrument verdict with the Anderson-Rubin
and tF intervals beside the Wald interval, and the complier table."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import pytest

import deconfound as dc
from deconfound.report.content import ReportContent, default_footer, render_html
from deconfound.report.sections import diagnostics_section
from deconfound.results import Comparison


def _page(*estimates) -> str:
    section = diagnostics_section(Comparison(tuple(estimates)), "iv")
    assert section is not None
    footer = default_footer(None, None, None, 0, None)
    return html.unescape(render_html(ReportContent(title="IV", question="q", sections=[section], footer=footer)))


def test_weak_instrument_page_shows_verdict_ar_beside_wald_and_compliers():
    rng = np.random.default_rng(3)
    n = 3000
    z = rng.integers(0, 2, size=n)
    u = rng.normal(size=n)
    d = ((0.05 * z + 0.5 * u + rng.normal(size=n)) > 0.6).astype(int)
    age = rng.normal(40, 10, size=n)
    y = d + u + 0.01 * age
    df = pd.DataFrame({"y": y, "d": d, "z": z, "age": age})
    with pytest.warns(dc.WeakInstrumentWarning, match="effective F"):
        est = dc.iv(df, outcome="y", treatment="d", instruments="z", covariates=["age"], cov_type="HC1")
    page = _page(est)
    weak = est.diagnostics["weak_iv"]
    assert "First stage: Instrumental variables (2SLS)" in page
    assert weak.verdict in page  # the verdict sentence, with the number that triggered it
    assert f"effective F = {weak.effective_f:.3g}" in page
    ar = est.diagnostics["anderson_rubin"]
    assert f"Anderson-Rubin ({ar.level:.0%})" in page and ar.kind in page
    assert f"[{est.ci_low:.4g}, {est.ci_high:.4g}]" in page  # the Wald interval beside it
    assert "tF (95%)" in page
    assert "Who the LATE is about" in page and "always takers" in page
    assert "Complier characteristics" in page and "age" in page


def test_strong_instruments_page_says_not_weak():
    rng = np.random.default_rng(5)
    n = 2000
    z = rng.normal(size=(n, 2))
    d = z @ [1.0, 0.5] + rng.normal(size=n)
    y = d + rng.normal(size=n)
    df = pd.DataFrame({"y": y, "d": d, "z1": z[:, 0], "z2": z[:, 1]})
    est = dc.iv(df, outcome="y", treatment="d", instruments=["z1", "z2"])
    page = _page(est)
    assert "not weak by this test" in page
    assert "Stock-Yogo size 10%" in page and "19.93" in page  # K1 = 1, K2 = 2 (Stock and Yogo 2005, Table 5.2)
    assert "Who the LATE is about" not in page  # continuous instrument: no complier table
