"""Figures of heterogeneous effects read a meta-learner's result."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

import deconfound as dc
from deconfound.datasets.simulate import simulate_heterogeneous
from deconfound.errors import SpecificationError
from deconfound.plots.heterogeneity import cate_by_covariate, cate_plot, gates_plot


def test_the_three_figures_draw_the_result():
    matplotlib.use("Agg")
    df = simulate_heterogeneous(n=500, random_state=1)
    result = dc.x_learner(df, outcome="outcome", treatment="treatment", covariates=["x0", "x1"], random_state=0)
    fig = gates_plot(result)
    heights = fig.axes[0].lines[0].get_ydata()  # errorbar's points: the GATES estimates
    np.testing.assert_allclose(heights, result.diagnostics["gates"]["estimate"].to_numpy()[:-1])
    assert len(cate_plot(result).axes[0].patches) == 40
    assert cate_plot(np.arange(10.0), bins=5).axes[0].get_xlabel().startswith("estimated effect")
    assert cate_by_covariate(result, df, "x0").axes[0].get_xlabel() == "x0"
    with pytest.raises(SpecificationError, match="covariate='nope'"):
        cate_by_covariate(result, df, "nope")
    with pytest.raises(SpecificationError, match="needs the result of a meta-learner"):
        gates_plot(dc.ols(df, outcome="outcome", treatment="treatment", covariates=["x0"]))
