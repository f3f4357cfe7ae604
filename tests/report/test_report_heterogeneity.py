"""The report's heterogeneity views: a meta-learner's CATE plot, BLP verdict, GATES plot and CLAN table."""

from __future__ import annotations

import warnings

import matplotlib

from deconfound.datasets.simulate import simulate_heterogeneous
from deconfound.model import CausalModel
from deconfound.report import render_report


def test_report_shows_the_heterogeneity_section():
    matplotlib.use("Agg")
    df = simulate_heterogeneous(n=600, random_state=3)
    model = CausalModel(df, "treatment", "outcome", covariates=["x0", "x1", "x2"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        page = render_report(model, methods=["dr-learner"], seed=4)
    assert "Is the heterogeneity real? DR-learner" in page
    assert "The effect varies: the learner" in page  # tau = 1 + x0: the verdict in words
    assert "GATES: DR-learner" in page and "CLAN: DR-learner" in page
    assert "CATE distribution: DR-learner" in page
    assert page.count("data:image/png;base64") >= 2
