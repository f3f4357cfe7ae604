"""Overlap (common support) and love plots read results and return figures."""

import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

import deconfound as dc
from deconfound.plots import love_plot, overlap_plot


@pytest.fixture
def psm(heart):
    return dc.matching(heart, outcome="Severity", treatment="Drug", covariates=["I.H"])


def test_overlap_plot_from_a_result(psm, tmp_path):
    fig = overlap_plot(psm)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["treated (n=494)", "control (n=506)"]
    assert ax.get_xlim() == (0.0, 1.0)
    fig.savefig(tmp_path / "overlap.png")
    assert (tmp_path / "overlap.png").stat().st_size > 1000


def test_overlap_plot_from_scores_and_trimming(heart):
    fig = overlap_plot(dc.propensity_scores(heart, treatment="Drug", covariates="I.H"))
    assert len(fig.axes) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dc.DiagnosticWarning)
        trimmed = dc.ipw(heart, outcome="Severity", treatment="Drug", covariates=["I.H"], trim=0.1)
    labels = [t.get_text() for t in overlap_plot(trimmed).axes[0].get_legend().get_texts()]
    assert any(label.startswith("trimmed (") for label in labels)


def test_love_plot(psm):
    fig = love_plot(psm)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["I.H", "propensity score"]
    after = ax.collections[1].get_offsets()[:, 0]
    np.testing.assert_allclose(np.sort(after), np.sort(np.abs(psm.diagnostics["balance"]["smd_after"])))


def test_plots_refuse_results_without_the_data(heart):
    ols = dc.ols(heart, outcome="Severity", treatment="Drug", covariates=["I.H"])
    with pytest.raises(dc.SpecificationError, match=r"overlap_plot needs propensity scores"):
        overlap_plot(ols)
    with pytest.raises(dc.SpecificationError, match=r"love_plot needs a balance table before and after"):
        love_plot(ols)
