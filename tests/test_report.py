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


def test_article_report_holds_the_article_numbers(article_html):
    html = article_html
    # estimates computed by the library, compared with the article's published values
    assert "3.4709" in html  # naive difference in means (article: 3.47)
    assert "-9.8877" in html  # regression adjustment (article: -9.8877)
    assert "Drug &lt;- I.H -&gt; Severity" in html  # the backdoor path, escaped
    assert html.count("data:image/png;base64,") >= 2  # DAG and forest plot embedded
    assert "http://" not in html and "https://" not in html  # self-contained


def test_warnings_come_first(article_html):
    block = _warnings_block(article_html)
    assert "randomly assigned" in block
    # the warnings block precedes every section
    assert article_html.index('id="warnings"') < article_html.index('<section id="a0-data"')


def test_estimates_table_starts_with_naive(article_html):
    table = article_html[article_html.index('data-table="a0-estimates"') :]
    rows = re.findall(r"<th>([^<]+)</th>\s*<td>ATE", table)
    assert rows[0] == "Difference in means"
    assert set(rows) >= {"Regression adjustment (OLS)", "Lin interacted regression"}


def test_footer_has_fingerprint_seed_and_version(article_html):
    footer = article_html[article_html.index('<footer id="footer">') :]
    assert f"deconfound {dc.__version__}" in footer
    assert "Seed: 7" in footer
    assert re.search(r"<code>[0-9a-f]{64}</code>", footer)


def test_robustness_section_reports_sensitivity_and_placebo(article_html):
    section = article_html[article_html.index('id="a0-robustness"') :]
    assert "robustness value" in section
    assert "Placebo test (passed)" in section


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
    assert "-9.8877" in text
    assert "Causal graph and adjustment set" in text  # the implied graph is drawn


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
    assert "-9.8877" in html
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
    assert f"{fit.bse['Drug']:.4f}" in html


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[data]\npath='x.csv'\n", r"needs a \[question\] table"),
        ("[data]\npath='x.csv'\n[question]\noutcome='y'\n", "needs treatment"),
        ("colour = 1\n", "Unknown key"),
        ("[data\n", "not valid TOML"),
        ("[data]\npath='x.csv'\n[question]\noutcome='y'\ntreatment='t'\nbogus=1\n", r"Unknown key\(s\) \['bogus'\]"),
    ],
)
def test_bad_analysis_files(tmp_path, text, message):
    from deconfound._cli_report import load_spec

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
    assert f"{twfe.estimate:.4f}" in html and f"{cs.estimate:.4f}" in html
    assert "Goodman-Bacon" in html


def test_a_failing_method_becomes_a_warning_not_a_crash():
    panel = dc.datasets.heart_attack_panel()
    panel["D"] = panel["Drug"] * panel["Post"]
    model = CausalModel(
        panel, "D", "Severity", design="panel", unit="patient", time="Post", covariates=["Quality_of_Care"]
    )
    html = _quiet(render_report, model, methods=["twfe", "first-difference"], seed=1)
    block = _warnings_block(html)
    assert "twfe:</span> could not be estimated" in block
    assert "Quality_of_Care" in block


def test_article_report_covers_cross_section_and_panel(tmp_path):
    from deconfound._demo import run_demo

    assert _quiet(run_demo, output=str(tmp_path), quiet=True) == 0
    html = (tmp_path / "report.html").read_text()
    assert "Heart attacks" in html and "DiD without the bad control" in html
    assert "the article&#39;s trap" in html
