"""The report's robustness checks of the main (recommended) estimate: the refuters' table with pass/fail,
the sensitivity sentence (Cinelli-Hazlett benchmarked on the adjustment set; the DML bounds for a DML
estimate), the contour plot, failed refuters at the top of the page, and turning the section off."""

from __future__ import annotations

import html as _html
import math
import re
import warnings

import numpy as np
import pandas as pd
import pytest

import deconfound as dc
from deconfound.cli import main
from deconfound.model import ESTIMATORS, CausalModel, MethodSpec
from deconfound.report import render_report

FIGURE_1 = "I.H -> Drug; I.H -> Severity; Drug -> Severity"


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _section(page: str, key: str) -> str:
    start = page.index(f'<section id="{key}"')
    return page[start : page.index("</section>", start)]


def _text(fragment: str) -> str:
    return _html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment)))


@pytest.fixture(scope="module")
def heart_page():
    model = CausalModel(dc.datasets.heart_attack(), "Drug", "Severity", graph=FIGURE_1)
    return _quiet(render_report, model, methods=["naive", "ols", "lin"], seed=7)


def _ch_multiple(r2d: float, r2y: float, est: float, se: float, df: float) -> float:
    """Cinelli and Hazlett (2020, section 6.2) written out again: the k (kd = ky = k) at which the adjusted
    estimate reaches zero, from the benchmark's partial R-squared values."""
    from scipy.optimize import brentq

    def adjusted(k):
        r2dz = k * r2d / (1 - r2d)
        r2zx = k * r2d**2 / ((1 - k * r2d) * (1 - r2d))
        r2yz = min(1.0, ((math.sqrt(k) + math.sqrt(r2zx)) / math.sqrt(1 - r2zx)) ** 2 * r2y / (1 - r2y))
        return abs(est) - se * math.sqrt(df) * math.sqrt(r2yz * r2dz / (1 - r2dz))

    return brentq(adjusted, 1e-9, (1 - r2d) / r2d * (1 - 1e-9))


def test_the_main_estimate_gets_the_refuters_the_sentence_and_the_plot(heart_page):
    import statsmodels.formula.api as smf

    section = _section(heart_page, "a0-robustness")
    text = _text(section)
    assert "Checks of the main estimate, Lin interacted regression" in text
    # the refuters' table: every refuter that applies, with its rule and pass
    table = section[section.index('data-table="a0-refuters"') :]
    table = table[: table.index("</table>")]
    for name in ("placebo treatment", "random common cause", "data subsets", "dummy outcome"):
        assert f"<td>{name}</td>" in table or f">{name}</th>" in table
    assert table.count("<td>pass</td>") == 4 and "FAIL" not in table
    assert "leave one cluster out (no cluster column given" in text  # said, not silently dropped
    # the sentence: the multiple of I.H's strength that erases the effect, from statsmodels' fits
    heart = dc.datasets.heart_attack()
    out = smf.ols("Severity ~ Drug + Q('I.H')", data=heart).fit()
    first = smf.ols("Drug ~ Q('I.H')", data=heart).fit()
    partial = lambda fit, term: fit.tvalues[term] ** 2 / (fit.tvalues[term] ** 2 + fit.df_resid)  # noqa: E731
    k = _ch_multiple(
        partial(first, "Q('I.H')"), partial(out, "Q('I.H')"), out.params["Drug"], out.bse["Drug"], out.df_resid
    )
    assert f"a hidden confounder would have to be {k:.2g} times as strong as 'I.H' to erase it" in text
    assert "For the regression adjustment (the linear outcome model behind Lin interacted regression)" in text
    assert "E-value" in text
    assert 'data-figure="sensitivity-' in section  # the contour plot


def test_refuters_move_as_they_should_on_the_article_data(heart_page):
    """Placebo and dummy outcome centre on zero; a random common cause and subsets leave the estimate near
    the lin estimate (statsmodels: OLS with the treatment interacted with the centred covariate)."""
    import statsmodels.formula.api as smf

    heart = dc.datasets.heart_attack()
    heart["c"] = heart["I.H"] - heart["I.H"].mean()
    lin = smf.ols("Severity ~ Drug * c", data=heart).fit(cov_type="HC3")
    table = _section(heart_page, "a0-robustness")
    table = table[table.index('data-table="a0-refuters"') :]
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table[: table.index("</table>")], re.S):
        cells = [_html.unescape(c.strip()) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        rows[cells[0]] = float(cells[1])
    se = lin.bse["Drug"]
    assert len(rows) == 4
    # far from the real effect (-9.9): the permuted treatment and the noise outcome carry no effect
    assert abs(rows["placebo treatment"]) < 1 and abs(rows["dummy outcome"]) < 1
    assert abs(rows["random common cause"] - lin.params["Drug"]) < 0.5 * se
    assert abs(rows["data subsets"] - lin.params["Drug"]) < se


def test_a_weak_effect_is_flagged_as_fragile():
    """An effect small next to what an observed confounder explains: a confounder weaker than that
    covariate would erase it (k < 1)."""
    rng = np.random.default_rng(5)
    n = 1500
    x = rng.normal(size=n)
    t = (x + rng.normal(size=n) > 0).astype(int)
    frame = pd.DataFrame({"x": x, "t": t, "y": 0.08 * t + 2.0 * x + rng.normal(size=n)})
    page = _quiet(render_report, CausalModel(frame, "t", "y", covariates=["x"]), methods=["naive", "ols"], seed=1)
    text = _text(_section(page, "a0-robustness"))
    k = float(re.search(r"would have to be ([0-9.e-]+) times as strong as 'x' to erase it", text).group(1))
    assert k < 1


def test_a_failed_refuter_reaches_the_top_of_the_page(monkeypatch, tmp_path):
    """An estimator that ignores the treatment it is given (it reads a fixed copy) finds the same effect
    for a permuted treatment: the placebo refuter fails and the page says so at the top."""
    (tmp_path / "stubborn_estimator.py").write_text(
        "import dataclasses\n"
        "import deconfound as dc\n"
        "REAL = None\n"
        "def fit(data, *, outcome, treatment, covariates=None, level=0.95, missing='raise'):\n"
        "    fixed = data.assign(**{treatment: REAL.to_numpy()[: len(data)]})\n"
        "    fit = dc.ols(fixed, outcome=outcome, treatment=treatment, covariates=covariates, level=level)\n"
        "    return dataclasses.replace(fit, method='stubborn', label='Stubborn regression')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import stubborn_estimator

    heart = dc.datasets.heart_attack()
    monkeypatch.setattr(stubborn_estimator, "REAL", heart["Drug"])
    monkeypatch.setitem(ESTIMATORS, "stubborn", MethodSpec("stubborn_estimator:fit", "Stubborn regression"))
    page = _quiet(
        render_report, CausalModel(heart, "Drug", "Severity", covariates=["I.H"]), methods=["stubborn"], seed=1
    )
    table = _section(page, "a0-robustness")
    assert re.search(r"<td>placebo treatment</td>|>placebo treatment</th>", table)
    block = page[page.index('id="warnings"') :]
    block = _text(block[: block.index("</section>")])
    # the placebo fails (so do the subsets: the stub's fixed column no longer lines up with a subset's rows)
    assert re.search(r"Stubborn regression failed \d of 4 refuters \(placebo treatment", block)


def test_a_dml_main_estimate_gets_the_dml_bounds():
    rng = np.random.default_rng(2)
    n = 600
    x = rng.normal(size=(n, 2))
    t = (x[:, 0] + rng.normal(size=n) > 0).astype(int)
    frame = pd.DataFrame({"x0": x[:, 0], "x1": x[:, 1], "t": t, "y": t + x[:, 0] + x[:, 1] + rng.normal(size=n)})
    from deconfound.report import Analysis

    model = CausalModel(frame, "t", "y", covariates=["x0", "x1"])
    page = _quiet(render_report, Analysis(model, methods=["dml"], options={"dml": {"learner": "linear"}}), seed=3)
    section = _section(page, "a0-robustness")
    text = _text(section)
    from deconfound.robustness import dml_sensitivity

    est = _quiet(dc.dml, frame, outcome="y", treatment="t", covariates=["x0", "x1"], learner="linear", random_state=3)
    rv = dml_sensitivity(est).rv
    assert f"explains {rv:.1%} of the outcome's residual variance" in text and "Chernozhukov et al. 2022" in text
    assert 'data-figure="dml-sensitivity-' in section
    assert "3 seeded simulations of each random refuter" in text  # learners: fewer simulations


def test_the_section_can_be_turned_off(tmp_path, capsys):
    data = tmp_path / "heart.csv"
    dc.datasets.heart_attack().to_csv(data, index=False)
    out = tmp_path / "r.html"
    argv = [
        "report",
        str(data),
        "-y",
        "Severity",
        "-t",
        "Drug",
        "--graph",
        FIGURE_1,
        "--methods",
        "naive,ols",
        "--seed",
        "3",
        "-o",
        str(out),
        "--no-robustness",
    ]
    assert _quiet(main, argv) == 0
    section = _text(_section(out.read_text(), "a0-robustness"))
    assert "Robustness checks were not run" in section and "Placebo" not in section
    spec = tmp_path / "a.toml"
    spec.write_text(
        'robustness = false\noutput = "s.html"\n[data]\npath = "heart.csv"\n[question]\noutcome = "Severity"\n'
        'treatment = "Drug"\ncovariates = ["I.H"]\n[methods]\ninclude = ["ols"]\n'
    )
    assert _quiet(main, ["run", str(spec), "-q"]) == 0
    assert "Robustness checks were not run" in (tmp_path / "s.html").read_text()
    spec.write_text(spec.read_text().replace("robustness = false", 'robustness = "no"'))
    assert _quiet(main, ["run", str(spec), "-q"]) == 2
    assert "robustness in" in capsys.readouterr().err


def test_progress_names_the_refuters(tmp_path, capsys):
    data = tmp_path / "heart.csv"
    dc.datasets.heart_attack().to_csv(data, index=False)
    out = tmp_path / "r.html"
    argv = [
        "report",
        str(data),
        "-y",
        "Severity",
        "-t",
        "Drug",
        "-x",
        "I.H",
        "--methods",
        "ols",
        "--seed",
        "3",
        "-o",
        str(out),
    ]
    assert _quiet(main, argv) == 0
    err = capsys.readouterr().err
    assert "refuting Regression adjustment (OLS) (10 simulations per refuter)" in err


@pytest.fixture(scope="module")
def staggered_panel():
    return dc.datasets.simulate_panel(n_units=300, n_periods=8, cohorts=(4, 6), never_share=0.4, random_state=3)


def _honest_numbers(text: str) -> tuple[float, int, int]:
    found = re.search(r"breakdown Mbar = ([0-9.]+)\) \(Rambachan and Roth 2023, relative magnitudes; (\d) "
                      r"pre-treatment and (\d) post-treatment periods\)", text)  # fmt: skip
    assert found, text
    return float(found.group(1)), int(found.group(2)), int(found.group(3))


def test_a_callaway_santanna_main_estimate_gets_honest_did_on_a_universal_base_period(staggered_panel):
    model = CausalModel(staggered_panel, "treated", "y", design="panel", unit="unit", time="time")
    from deconfound.report import Analysis

    page = _quiet(render_report, Analysis(model, methods=["staggered"]), seed=3)
    section = _section(page, "a0-robustness")
    text = _text(section)
    assert "re-run with base_period='universal'" in text and "keeps its varying base period" in text
    assert 'data-figure="honest-did-' in section
    # the same check by hand: Callaway-Sant'Anna's event times against -1, relative magnitudes at the default sizes
    es = _quiet(dc.staggered, staggered_panel, outcome="y", unit="unit", time="time", treatment="treated",
                base_period="universal", aggregate="event")  # fmt: skip
    frame = es.diagnostics["event_study"]
    times = frame.loc[~frame["reference"], "event_time"]
    honest = dc.honest_did(es, sizes=[0, 0.5, 1, 1.5, 2])
    breakdown, n_pre, n_post = _honest_numbers(text)
    assert (n_pre, n_post) == (int((times < -1).sum()), int((times >= 0).sum())) == (4, 5)
    assert breakdown == pytest.approx(honest.breakdown, abs=5e-3)
    assert 0.5 < breakdown < 2  # a genuine breakdown inside the sizes tried: the first two intervals exclude 0
    assert not honest.table["includes_zero"].iloc[:2].any() and honest.table["includes_zero"].iloc[-1]


def test_a_twfe_main_estimate_gets_honest_did_on_its_event_study(staggered_panel):
    model = CausalModel(staggered_panel, "treated", "y", design="panel", unit="unit", time="time")
    from deconfound.report import Analysis

    page = _quiet(render_report, Analysis(model, methods=["twfe"]), seed=3)
    text = _text(_section(page, "a0-robustness"))
    assert "a two-way fixed effects event study of the same treatment" in text
    es = _quiet(dc.event_study, staggered_panel, outcome="y", unit="unit", time="time", treatment="treated")
    breakdown, _, _ = _honest_numbers(text)
    assert breakdown == pytest.approx(dc.honest_did(es, sizes=[0, 0.5, 1, 1.5, 2]).breakdown, abs=5e-3)


def test_a_two_period_panel_says_why_honest_did_cannot_run():
    from deconfound.cli.demo import article_analyses

    clean = article_analyses()[2]
    page = _quiet(render_report, clean, seed=3)
    text = _text(_section(page, "a0-robustness"))
    assert "(honest DiD) does not apply: the panel has 2 periods" in text
