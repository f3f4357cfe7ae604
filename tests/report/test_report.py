"""The HTML report: content, escaping, warnings at the top, the CLI commands and analysis files."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

import deconfound as dc
from deconfound.cli import main
from deconfound.model import CausalModel
from deconfound.report import Analysis, build_report, render_report, write_report
from deconfound.report.content import render_html
from deconfound.verdict import decimals_for

FIGURE_1 = "I.H -> Drug; I.H -> Severity; Drug -> Severity"


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


@pytest.fixture(scope="module")
def article_html():
    model = CausalModel(dc.datasets.heart_attack(), "Drug", "Severity", graph=FIGURE_1)
    return _quiet(render_report, model, seed=7, truth=-10.0)


def _warnings_block(html: str) -> str:
    match = re.search(r'<section class="warnings" id="warnings">(.*?)</section>', html, re.S)
    assert match, "the report has no warnings block"
    return match.group(1)


def _reference_numbers() -> tuple[float, float]:
    """The naive difference (pandas) and the regression estimate (statsmodels) on the article's data."""
    import statsmodels.formula.api as smf

    heart = dc.datasets.heart_attack()
    means = heart.groupby("Drug")["Severity"].mean()
    ols = smf.ols("Severity ~ Drug + Q('I.H')", data=heart).fit()
    return float(means[1] - means[0]), float(ols.params["Drug"]), float(ols.bse["Drug"])


def _on_page(value: float, se: float, extra: int = 0) -> str:
    """A number as the page shows it: rounded to the first significant digit of the recommended estimate's
    standard error (``extra`` more digits for standard errors), in a table cell (docs/verdict.md)."""
    return f"<td>{value:.{decimals_for(se) + extra}f}</td>"


def test_article_report_holds_the_article_numbers(article_html):
    html = article_html
    naive, regression, se = _reference_numbers()
    assert round(naive, 2) == 3.47 and round(regression, 4) == -9.8877  # the article's published numbers
    # the page rounds every estimate to the first significant digit of the standard error (0.35: one decimal)
    assert 0.1 <= se < 1.0
    table = html[html.index('data-table="a0-estimates"') :]
    assert f"<td>{naive:.1f}</td>" in table
    assert f"<td>{regression:.1f}</td>" in table
    assert "Drug &lt;- I.H -&gt; Severity" in html  # the backdoor path, escaped
    assert html.count("data:image/png;base64,") >= 2  # DAG and forest plot embedded
    assert "http://" not in html and "https://" not in html  # self-contained


def test_article_headline_is_a_verdict_not_a_range(article_html):
    head = article_html[article_html.index("<h1") : article_html.index('id="warnings"')]
    assert "range from" not in article_html
    assert "lowers &#39;Severity&#39; by about 9.9 (95% interval -10.6 to -9.2)" in head
    assert "Set aside:" in head and "Inverse probability weighting (Hajek) (-17.7): balance on" in head
    status = article_html[article_html.index('data-table="a0-status"') :]
    status = status[: status.index("</table>")]
    assert re.search(r"<th>Inverse probability weighting \(Hajek\)</th>\s*<td>set aside</td>", status)
    assert re.search(r"<th>Lin interacted regression</th>\s*<td>recommended</td>", status)


def test_warnings_come_first(article_html):
    block = _warnings_block(article_html)
    assert "randomly assigned" in block
    # the warnings block precedes every section
    assert article_html.index('id="warnings"') < article_html.index('<section id="a0-data"')


def test_estimates_table_starts_with_naive(article_html):
    table = article_html[article_html.index('data-table="a0-estimates"') :]
    rows = re.findall(r"<th>([^<]+)</th>\s*(?:<td>[a-z ]+</td>\s*)?<td>ATE", table)
    assert rows[0] == "Difference in means"
    assert set(rows) >= {"Regression adjustment (OLS)", "Lin interacted regression"}


def test_footer_has_fingerprint_seed_and_version(article_html):
    footer = article_html[article_html.index('<footer id="footer">') :]
    assert f"deconfound {dc.__version__}" in footer
    assert "Seed: 7" in footer
    assert re.search(r"<code>[0-9a-f]{64}</code>", footer)


def test_robustness_section_reports_sensitivity_and_placebo(article_html):
    import statsmodels.formula.api as smf

    from deconfound.robustness import robustness_value

    section = article_html[article_html.index('id="a0-robustness"') :]
    fit = smf.ols("Severity ~ Drug + Q('I.H')", data=dc.datasets.heart_attack()).fit()
    t, df = fit.tvalues["Drug"], fit.df_resid
    assert f"<td>{robustness_value(t, df):.1%}</td>" in section
    assert f"<td>{robustness_value(t, df, alpha=0.05):.1%}</td>" in section
    assert f"<td>{t * t / (t * t + df):.1%}</td>" in section
    assert "Placebo test (passed)" in section
    # no permuted treatment comes near the real effect: p = 1/21, the floor of 20 permutations, and said so
    assert f"permutation p-value {1 / 21:.3g} (the smallest possible with this many permutations)" in section


def test_html_is_escaped():
    rng = np.random.default_rng(0)
    evil = "<script>alert(1)</script>"
    n = 300
    x = rng.normal(size=n)
    t = rng.binomial(1, 0.5, n)
    frame = pd.DataFrame({evil: x, "treat": t, "y": x + t + rng.normal(size=n)})
    model = CausalModel(frame, "treat", "y", covariates=[evil])
    html = _quiet(render_report, model, seed=1)
    assert evil not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html


def test_collinear_control_warning_at_top():
    rng = np.random.default_rng(3)
    n = 500
    t = rng.binomial(1, 0.5, n)
    copy = t + rng.normal(0, 0.05, n)  # a covariate that is almost the treatment
    frame = pd.DataFrame({"t": t, "copy": copy, "y": 2 * t + rng.normal(size=n)})
    model = CausalModel(frame, "t", "y", covariates=["copy"])
    html = _quiet(render_report, model, methods=["naive", "ols"], seed=2)
    block = _warnings_block(html)
    assert "almost a copy of the treatment" in block
    assert "&#39;copy&#39;" in block


def test_model_report_writes_file(tmp_path):
    model = CausalModel(dc.datasets.heart_attack(), "Drug", "Severity", covariates=["I.H"])
    out = _quiet(model.report, tmp_path / "sub" / "r.html", methods=["naive", "ols"], seed=1)
    text = (tmp_path / "sub" / "r.html").read_text()
    assert out.endswith("r.html")
    assert _on_page(*_reference_numbers()[1:]) in text
    assert "Assumed causal graph and adjustment set" in text  # the implied graph is drawn, as an assumption


def test_model_renders_in_jupyter():
    model = CausalModel(dc.datasets.heart_attack(), "Drug", "Severity", graph=FIGURE_1)
    card = model._repr_html_()
    assert "Adjustment set" in card and "{I.H}" in card
    assert "naive" in card


def test_report_seed_makes_it_reproducible():
    model = CausalModel(dc.datasets.heart_attack(), "Drug", "Severity", covariates=["I.H"])
    a = _quiet(build_report, Analysis(model, methods=["ols"]), seed=5)
    b = _quiet(build_report, Analysis(model, methods=["ols"]), seed=5)
    para = [p for s in a.sections for p in s.paragraphs if p.startswith("Placebo")]
    assert para and para == [p for s in b.sections for p in s.paragraphs if p.startswith("Placebo")]


def test_cli_report_and_quiet(tmp_path, capsys):
    data = tmp_path / "heart.csv"
    dc.datasets.heart_attack().to_csv(data, index=False)
    out = tmp_path / "report.html"
    argv = ["report", str(data), "-y", "Severity", "-t", "Drug", "--graph", FIGURE_1, "--seed", "3", "-o", str(out)]
    assert _quiet(main, [*argv, "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    html = out.read_text()
    assert _on_page(*_reference_numbers()[1:]) in html
    assert "deconfound report" in html  # the command is in the footer


def test_cli_report_error_is_ours(tmp_path, capsys):
    data = tmp_path / "heart.csv"
    dc.datasets.heart_attack().to_csv(data, index=False)
    code = main(["report", str(data), "-y", "Severity", "-t", "Drgu", "-o", str(tmp_path / "r.html"), "-q"])
    assert code == 2
    assert "Did you mean 'Drug'" in capsys.readouterr().err


SPEC = """title = "Drug and severity"
seed = 11
output = "out/report.html"

[data]
path = "heart.csv"

[question]
outcome = "Severity"
treatment = "Drug"
graph = "I.H -> Drug; I.H -> Severity; Drug -> Severity"

[methods]
include = ["naive", "ols"]

[methods.options.ols]
cov_type = "HC1"
"""


def test_run_analysis_file(tmp_path):
    dc.datasets.heart_attack().to_csv(tmp_path / "heart.csv", index=False)
    spec = tmp_path / "analysis.toml"
    spec.write_text(SPEC)
    assert _quiet(main, ["run", str(spec), "-q"]) == 0
    html = (tmp_path / "out" / "report.html").read_text()
    assert "Drug and severity" in html
    assert "cov_type = &#34;HC1&#34;" in html  # the analysis file is in the footer
    assert "Seed: 11" in html
    # HC1 standard error of the regression estimate, as statsmodels computes it
    import statsmodels.formula.api as sm

    fit = sm.ols("Severity ~ Drug + Q('I.H')", data=dc.datasets.heart_attack()).fit(cov_type="HC1")
    assert _on_page(fit.bse["Drug"], fit.bse["Drug"], extra=1) in html


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[data]\npath='x.csv'\n", r"needs a \[question\] table"),
        ("[data]\npath='x.csv'\n[question]\noutcome='y'\n", "needs treatment"),
        ("colour = 1\n", "Unknown key"),
        ("[data\n", "not valid TOML"),
        ("[data]\npath='x.csv'\n[question]\noutcome='y'\ntreatment='t'\nbogus=1\n", r"Unknown key\(s\) \['bogus'\]"),
        ("[data]\npath='x.csv'\nmissing_values='drop'\n[question]\noutcome='y'\ntreatment='t'\n", r"in \[data\]"),
        (
            "[data]\npath='x.csv'\n[question]\noutcome='y'\ntreatment='t'\n[methods]\nexclude=['lin']\n",
            "in \\[methods\\]",
        ),
        ("seed='abc'\n[data]\npath='x.csv'\n[question]\noutcome='y'\ntreatment='t'\n", "seed must be a non-negative"),
        (
            "[data]\npath='x.csv'\n[question]\noutcome='y'\ntreatment='t'\n[methods]\noptions={ols=1}\n",
            r"one table per method",
        ),
    ],
)
def test_bad_analysis_files(tmp_path, text, message):
    from deconfound.cli.report import load_spec

    spec = tmp_path / "a.toml"
    spec.write_text(text)
    with pytest.raises(dc.SpecificationError, match=message):
        load_spec(spec)


def test_write_report_creates_folders(tmp_path):
    model = CausalModel(dc.datasets.heart_attack(), "Drug", "Severity", covariates=["I.H"])
    path = _quiet(write_report, model, tmp_path / "a" / "b" / "r.html", methods=["ols"])
    assert path.exists()


def test_panel_report_numbers_match_the_estimators():
    panel = dc.datasets.simulate_panel(random_state=4)
    model = CausalModel(panel, "treated", "y", design="panel", unit="unit", time="time")
    html = _quiet(render_report, model, methods=["twfe", "staggered"], seed=1)
    twfe = _quiet(dc.twfe, panel, outcome="y", treatment="treated", unit="unit", time="time")
    cs = _quiet(dc.staggered, panel, outcome="y", unit="unit", time="time", treatment="treated")
    assert _on_page(twfe.estimate, cs.std_error) in html and _on_page(cs.estimate, cs.std_error) in html
    assert "Goodman-Bacon" in html


def test_a_failing_method_becomes_a_warning_not_a_crash():
    panel = dc.datasets.heart_attack_panel()
    panel["D"] = panel["Drug"] * panel["Post"]
    # a unit-level trait: absorbed by the unit effects of TWFE (which fails), kept by random effects
    model = CausalModel(panel, "D", "Severity", design="panel", unit="patient", time="Post", covariates=["I.H"])
    html = _quiet(render_report, model, methods=["twfe", "random-effects"], seed=1)
    block = _warnings_block(html)
    assert "twfe:</span> could not be estimated" in block
    assert "I.H" in block


def test_article_report_covers_cross_section_and_panel(tmp_path):
    from deconfound.cli.demo import run_demo

    assert _quiet(run_demo, output=str(tmp_path), quiet=True) == 0
    html = (tmp_path / "report.html").read_text()
    assert "Heart attacks" in html and "DiD without the bad control" in html
    assert "the article&#39;s trap" in html


def _section(html: str, key: str) -> str:
    start = html.index(f'<section id="{key}"')
    return html[start : html.index("</section>", start)]


def test_panel_design_without_an_estimator_says_so_instead_of_crashing(monkeypatch):
    import deconfound.model as model_module

    cross_section_only = {k: v for k, v in model_module.ESTIMATORS.items() if "panel" not in v.designs}
    monkeypatch.setattr(model_module, "ESTIMATORS", cross_section_only)
    panel = dc.datasets.heart_attack_panel(n=200)
    model = CausalModel(panel, "Drug", "Severity", design="panel", unit="patient", time="Post")
    html = _quiet(render_report, model, seed=1)
    block = _warnings_block(html)
    assert "No estimate: no registered estimator applies to this model" in block
    assert "design is &#39;panel&#39;" in block
    assert "No estimate: no registered estimator" in _section(html, "a0-estimates")
    data = _section(html, "a0-data")
    assert "<td>400</td>" in data and f"<td>{panel['patient'].nunique()}</td>" in data


def test_not_identifiable_graph_is_explained_in_the_page():
    model = CausalModel(
        dc.datasets.heart_attack(), "Drug", "Severity", graph="U -> Drug; U -> Severity; Drug -> Severity"
    )
    html = _quiet(render_report, model, seed=1)
    assert "not identifiable by adjustment" in _warnings_block(html)
    assert "Drug &lt;- U -&gt; Severity" in _section(html, "a0-graph")
    assert "No estimate: The effect of Drug on Severity is not identifiable" in _section(html, "a0-estimates")


def test_exactly_collinear_control_fails_its_methods_in_plain_words_at_the_top():
    rng = np.random.default_rng(3)
    n = 300
    t = rng.binomial(1, 0.5, n)
    frame = pd.DataFrame({"t": t, "copy": 2.0 * t, "x": rng.normal(size=n)})
    frame["y"] = 2 * t + frame["x"] + rng.normal(size=n)
    html = _quiet(render_report, CausalModel(frame, "t", "y", covariates=["copy", "x"]), seed=3)
    block = _warnings_block(html)
    assert "ols:</span> could not be estimated: The design matrix is rank deficient" in block
    assert "&#39;copy&#39; = 2*t" in block
    means = frame.groupby("t")["y"].mean()
    groups = frame.groupby("t")["y"]
    se = float(np.sqrt((groups.var() / groups.count()).sum()))  # Welch
    assert _on_page(means[1] - means[0], se) in _section(html, "a0-estimates")  # the naive estimate still shows
    with pytest.raises(dc.DataError, match=r"Missing values in 'y' \(1 rows\)"):  # every method failing: an error
        bad = frame.assign(y=frame["y"].where(frame.index > 0))
        _quiet(render_report, CausalModel(bad, "t", "y", covariates=["x"]), methods=["ols", "lin"])


def test_covariate_summary_without_the_naive_estimate_and_naive_always_first():
    heart = dc.datasets.heart_attack()
    model = CausalModel(heart, "Drug", "Severity", covariates=["I.H"])
    html = _quiet(render_report, model, methods=["ols", "naive"], seed=1)
    estimates = _section(html, "a0-estimates")
    assert estimates.index("Difference in means") < estimates.index("Regression adjustment (OLS)")
    only_ols = _quiet(render_report, model, methods=["ols"], seed=1)
    covariates = only_ols[only_ols.index('data-table="a0-covariates"') :]
    by_arm = heart.groupby("Drug")["I.H"].mean()
    assert f"<td>{by_arm[1]:.4f}</td>" in covariates and f"<td>{by_arm[0]:.4f}</td>" in covariates
    pooled = np.sqrt((heart.groupby("Drug")["I.H"].var().sum()) / 2)
    assert f"<td>{(by_arm[1] - by_arm[0]) / pooled:.4f}</td>" in covariates


def test_setup_warnings_reach_the_top_of_the_page():
    model = CausalModel(
        dc.datasets.heart_attack(), "Drug", "Severity", graph="IH -> Drug; IH -> Severity; Drug -> Severity"
    )
    html = _quiet(render_report, model, seed=1)
    assert "did you mean the column &#39;I.H&#39;" in _warnings_block(html)


def test_placebo_failures_are_stated(monkeypatch, tmp_path):
    from deconfound.model import ESTIMATORS, MethodSpec

    (tmp_path / "flaky_estimator.py").write_text(
        "import dataclasses\n"
        "import deconfound as dc\n"
        "REAL = None\n"
        "def fit(data, *, outcome, treatment, covariates=None, level=0.95, missing='raise'):\n"
        "    if not data[treatment].equals(REAL):\n"
        "        raise dc.DataError('this permutation has no overlap')\n"
        "    fit = dc.ols(data, outcome=outcome, treatment=treatment, covariates=covariates, level=level)\n"
        "    return dataclasses.replace(fit, method='flaky', label='Flaky regression')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import flaky_estimator

    heart = dc.datasets.heart_attack()
    monkeypatch.setattr(flaky_estimator, "REAL", heart["Drug"])
    monkeypatch.setitem(ESTIMATORS, "flaky", MethodSpec("flaky_estimator:fit", "Flaky regression"))
    html = _quiet(render_report, CausalModel(heart, "Drug", "Severity", covariates=["I.H"]), methods=["flaky"], seed=1)
    robustness = _section(html, "a0-robustness")
    assert "Placebo test (not run): fewer than two permuted treatments could be estimated." in robustness
    assert "20 of 20 permutations could not be estimated (this permutation has no overlap)" in robustness
    assert "20 of 20 placebo permutations could not be estimated" in _warnings_block(html)


def test_drawn_seed_is_printed_and_rebuilds_the_page():
    model = CausalModel(dc.datasets.heart_attack(), "Drug", "Severity", covariates=["I.H"])
    first = _quiet(build_report, Analysis(model, methods=["ols"]))
    assert first.footer["seed_drawn"] is True and isinstance(first.footer["seed"], int)
    again = _quiet(build_report, Analysis(model, methods=["ols"]), seed=first.footer["seed"])
    assert again.footer["seed_drawn"] is False

    def placebo(content):
        return [p for s in content.sections for p in s.paragraphs if p.startswith("Placebo")]

    assert placebo(first) == placebo(again)
    assert "(drawn for this run; pass it" in render_html(first)


def test_library_calls_print_nothing(tmp_path, capsys):
    model = CausalModel(dc.datasets.heart_attack(), "Drug", "Severity", covariates=["I.H"])
    _quiet(model.report, tmp_path / "r.html", methods=["naive", "ols"], seed=1)
    _quiet(model.report, methods=["ols"], seed=1)
    assert capsys.readouterr() == ("", "")


def test_unknown_methods_and_options_are_refused():
    model = CausalModel(dc.datasets.heart_attack(), "Drug", "Severity", covariates=["I.H"])
    with pytest.raises(dc.SpecificationError, match=r"method='olss' is not allowed.*Did you mean 'ols'"):
        _quiet(render_report, model, methods=["olss"])
    with pytest.raises(dc.SpecificationError, match=r"options given for unknown method\(s\) \['OLS1'\]"):
        _quiet(build_report, Analysis(model, options={"OLS1": {"cov_type": "HC1"}}), seed=1)
    with pytest.raises(dc.SpecificationError, match=r"a report needs at least one model"):
        build_report([])


def test_rct_report_shows_the_randomization_check():
    import statsmodels.formula.api as smf

    rng = np.random.default_rng(8)
    n = 400
    frame = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n), "t": rng.binomial(1, 0.5, n)})
    frame["y"] = frame["t"] + frame["x1"] + rng.normal(size=n)
    html = _quiet(render_report, CausalModel(frame, "t", "y", covariates=["x1", "x2"], design="rct"), seed=1)
    assert "in a randomized trial" in html
    table = html[html.index('data-table="balance-test-naive"') :]
    wald = smf.ols("t ~ x1 + x2", data=frame).fit(cov_type="HC1").wald_test("x1 = 0, x2 = 0", scalar=True)
    assert f"<td>{float(wald.statistic):.4g}</td>" in table
    assert f"<td>{float(wald.pvalue):.3g}</td>" in table


def test_cli_report_shows_progress_unless_quiet(tmp_path, capsys):
    data = tmp_path / "heart.csv"
    dc.datasets.heart_attack().to_csv(data, index=False)
    graph = tmp_path / "figure1.dot"
    graph.write_text('digraph { "I.H" -> Drug; "I.H" -> Severity; Drug -> Severity }')
    out = tmp_path / "report.html"
    argv = ["report", str(data), "-y", "Severity", "-t", "Drug", "--graph", str(graph), "--seed", "3", "-o", str(out)]
    assert _quiet(main, [*argv, "--methods", "naive,ols"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "placebo: re-estimating with randomly permuted treatments" in captured.err
    assert f"wrote {out}" in captured.err
    assert "Backdoor paths" in out.read_text()  # the graph was read from the file


def test_readme_analysis_file_runs(tmp_path):
    """The analysis.toml shown in the README is valid and produces the report it describes."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    spec = re.search(r"```toml[^\n]*\n(.*?)```", readme, re.S)
    assert spec, "the README has no analysis.toml example"
    (tmp_path / "analysis.toml").write_text(spec.group(1))
    dc.datasets.heart_attack().to_csv(tmp_path / "heart.csv", index=False)
    assert _quiet(main, ["run", str(tmp_path / "analysis.toml"), "-q"]) == 0
    html = (tmp_path / "report.html").read_text()
    assert "Does the drug lower heart-attack severity?" in html and "Seed: 42." in html
    assert _on_page(*_reference_numbers()[1:]) in html


def test_weak_overlap_warning_at_top():
    rng = np.random.default_rng(0)
    n = 1000
    x = rng.normal(size=n)
    t = rng.binomial(1, 1 / (1 + np.exp(-5 * x)))
    frame = pd.DataFrame({"x": x, "t": t, "y": x + 2 * t + rng.normal(size=n)})
    html = _quiet(render_report, CausalModel(frame, "t", "y", covariates=["x"]), methods=["naive", "psm"], seed=1)
    block = _warnings_block(html)
    assert "Weak overlap" in block and "outside the range of the control rows" in block
    assert "Overlap of propensity scores" in html  # the common-support plot is in the diagnostics


def test_no_overlap_is_reported_at_top_not_a_crash():
    rng = np.random.default_rng(0)
    n = 400
    x = rng.normal(size=n)
    t = (x + rng.normal(0, 0.15, n) > 0).astype(int)  # the covariate all but decides the treatment
    frame = pd.DataFrame({"x": x, "t": t, "y": x + 2 * t + rng.normal(size=n)})
    html = _quiet(render_report, CausalModel(frame, "t", "y", covariates=["x"]), methods=["ols", "psm"], seed=1)
    block = _warnings_block(html)
    assert "psm:</span> could not be estimated" in block
    assert "no comparable rows in the other group" in block


def test_model_compare_tells_the_article_story():
    model = CausalModel(dc.datasets.heart_attack(), "Drug", "Severity", graph=FIGURE_1)
    comparison = _quiet(model.compare)
    assert [e.method for e in comparison][:4] == ["naive", "ols", "lin", "psm"]
    assert round(comparison["naive"].estimate, 2) == 3.47
    assert round(comparison["ols"].estimate, 2) == -9.89
    assert round(comparison["psm"].estimate, 2) == -10.16  # the article's matched estimate


def test_identical_warnings_are_shown_once_with_their_methods():
    from deconfound.report.content import ReportContent

    heart = dc.datasets.heart_attack()
    holes = heart.assign(Severity=heart["Severity"].where(heart.index % 20 != 0))  # 50 missing outcomes
    model = CausalModel(holes, "Drug", "Severity", covariates=["I.H"], missing="drop")
    html = _quiet(render_report, model, methods=["naive", "ols", "lin"], seed=1)
    block = _warnings_block(html)
    assert block.count("50 of 1000 rows were dropped for missing values") == 1
    assert "Difference in means, Regression adjustment (OLS), Lin interacted regression:" in block
    content = ReportContent(title="t", question="q")
    content.add_warning("A / x", "same")
    content.add_warning("A / y", "same")
    content.add_warning("B", "same")
    content.add_warning("A / x", "other")
    assert [(w.source, w.message) for w in content.warnings] == [("A / x, y; B", "same"), ("A / x", "other")]


def test_a_misspelt_method_option_fails_the_run_before_estimating(tmp_path, capsys):
    # issue 11, item 4: `neighbours = 3` used to become a line on the page, and the run exited 0
    dc.datasets.heart_attack().to_csv(tmp_path / "heart.csv", index=False)
    spec = tmp_path / "analysis.toml"
    spec.write_text(
        'output = "r.html"\n[data]\npath = "heart.csv"\n[question]\noutcome = "Severity"\ntreatment = "Drug"\n'
        'covariates = ["I.H"]\n[methods]\ninclude = ["ols", "psm"]\n[methods.options.psm]\nneighbours = 3\n'
    )
    assert main(["run", str(spec), "-q"]) == 2
    err = capsys.readouterr().err
    assert "method 'psm' has no option 'neighbours'. Did you mean 'neighbors'?" in err
    assert not (tmp_path / "r.html").exists()


def test_a_method_failing_in_a_report_exits_non_zero_unless_keep_going(tmp_path, capsys):
    rng = np.random.default_rng(3)
    t = rng.binomial(1, 0.5, 300)
    frame = pd.DataFrame({"t": t, "copy": 2.0 * t, "x": rng.normal(size=300)})
    frame["y"] = 2 * t + frame["x"] + rng.normal(size=300)
    frame.to_csv(tmp_path / "d.csv", index=False)
    argv = ["report", str(tmp_path / "d.csv"), "-y", "y", "-t", "t", "-x", "copy,x", "--methods", "naive,ols"]
    assert main([*argv, "-o", str(tmp_path / "a.html"), "-q"]) == 1
    err = capsys.readouterr().err
    assert "1 method(s) could not be estimated" in err and "ols" in err and "--keep-going" in err
    assert (tmp_path / "a.html").exists()  # the page is written and says what failed
    assert main([*argv, "-o", str(tmp_path / "b.html"), "-q", "--keep-going"]) == 0
