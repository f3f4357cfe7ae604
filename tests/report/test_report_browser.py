"""Open the report in a real headless browser (Debian's chromium driven by Playwright).

The test setup (scripts/run.py test) installs chromium when it can; only where no browser can be
installed are these tests skipped, with the reason. Screenshots are saved under test-artifacts/.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest

import deconfound as dc
from deconfound.model import CausalModel
from deconfound.report import write_report
from deconfound.verdict import decimals_for

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="no chromium on this machine and it could not be installed (see scripts/run.py)"
)


@pytest.fixture(scope="module")
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=BROWSER, args=FLAGS)
        context = browser.new_context(viewport={"width": 1100, "height": 900}, java_script_enabled=True)
        yield context.new_page()
        browser.close()


def _open(page, path: Path) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: (errors.append("dialog: " + dialog.message), dialog.dismiss()))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return errors


def _write(model, path: Path, **options) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return write_report(model, path, **options)


def test_article_report_in_browser(page, tmp_path):
    model = CausalModel(
        dc.datasets.heart_attack(), "Drug", "Severity", graph="I.H -> Drug; I.H -> Severity; Drug -> Severity"
    )
    path = _write(model, tmp_path / "article.html", seed=1, truth=-10.0)
    errors = _open(page, path)
    assert errors == []
    text = page.inner_text("body")
    heart = dc.datasets.heart_attack()
    means = heart.groupby("Drug")["Severity"].mean()
    import statsmodels.formula.api as smf

    fit = smf.ols("Severity ~ Drug + Q('I.H')", data=heart).fit()
    digits = decimals_for(fit.bse["Drug"])  # the page rounds by the standard error (docs/verdict.md)
    assert f"{means[1] - means[0]:.{digits}f}" in text and f"{fit.params['Drug']:.{digits}f}" in text
    assert "lowers 'Severity' by about 9.9" in text
    assert "randomly assigned" in page.inner_text("#warnings")
    images = page.eval_on_selector_all("img", "els => els.map(e => [e.complete, e.naturalWidth])")
    assert len(images) >= 2 and all(done and width > 100 for done, width in images)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report-article.png"), full_page=True)


def test_hostile_column_name_shows_as_text(page, tmp_path):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    evil = "<script>alert(1)</script>"
    x = rng.normal(size=200)
    t = rng.binomial(1, 0.5, 200)
    frame = pd.DataFrame({evil: x, "treat": t, "y": x + t + rng.normal(size=200)})
    path = _write(CausalModel(frame, "treat", "y", covariates=[evil]), tmp_path / "evil.html", methods=["ols"])
    errors = _open(page, path)
    assert errors == []  # no alert dialog, no script error
    assert evil in page.inner_text("body")
    assert page.eval_on_selector_all("script", "els => els.length") == 0


def test_panel_report_in_browser(page, tmp_path):
    panel = dc.datasets.simulate_panel(random_state=3)
    model = CausalModel(panel, "treated", "y", design="panel", unit="unit", time="time")
    path = _write(model, tmp_path / "panel.html", seed=2)
    errors = _open(page, path)
    assert errors == []
    text = page.inner_text("body")
    assert "Two-way fixed effects" in text and "Callaway-Sant'Anna" in text
    assert "Parallel pre-trends" in text
    assert "staggered" in page.inner_text("#warnings").lower()  # the Goodman-Bacon warning is at the top
    images = page.eval_on_selector_all("img", "els => els.map(e => e.naturalWidth)")
    assert len(images) >= 4 and min(images) > 100  # DAG, forest and event-study plots
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report-panel.png"), full_page=True)


def test_report_without_any_estimate_in_browser(page, tmp_path, monkeypatch):
    """No registered method applies (the model's registry is cut to cross-section methods): the page still
    opens without errors and says why at the top."""
    import deconfound.model as model_module

    cross_section_only = {k: v for k, v in model_module.ESTIMATORS.items() if "panel" not in v.designs}
    monkeypatch.setattr(model_module, "ESTIMATORS", cross_section_only)
    panel = dc.datasets.heart_attack_panel(n=300)
    model = CausalModel(panel, "Drug", "Severity", design="panel", unit="patient", time="Post")
    path = _write(model, tmp_path / "no-estimate.html", seed=1)
    errors = _open(page, path)
    assert errors == []
    assert "panel of units observed over time" in page.inner_text("#question")
    assert "No estimate: no registered estimator applies" in page.inner_text("#warnings")
    assert "600" in page.inner_text("[data-table='a0-overview']")  # rows in the data
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report-no-estimate.png"), full_page=True)
