"""The plain-Python t, normal and F tails (what a small job uses instead of importing scipy.special) agree
with scipy.special to 1e-12 relative wherever they are used, and the functions hand everything else to
scipy.special itself."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from deconfound._core import distributions as dist

DFS = [1, 2, 3, 4, 5, 7, 10, 15, 29, 30, 31, 50, 99, 100, 500, 997, 1000, 2.5, 997.5, 5000, 10_000]
STATS = [0.0, 0.01, 0.3, 1.0, 1.5, 1.96, 2.0, 3.0, 5.0, 8.0, 12.0, 16.3, 28.0, 50.0, 76.0, 200.0, 1e3, 1e5]


def _rel(ours: float, theirs: float) -> float:
    return abs(ours - theirs) / max(abs(theirs), 1e-300)


@pytest.mark.parametrize("df", DFS)
def test_t_two_sided_p_values(df):
    stats = np.array(STATS)
    ours = dist.two_sided_p(stats, df)
    theirs = 2.0 * special.stdtr(df, -stats)
    for o, t in zip(np.asarray(ours), theirs):
        if t > 1e-300:
            assert _rel(o, t) < 1e-12, (df, o, t)


@pytest.mark.parametrize("df", DFS)
@pytest.mark.parametrize("q", [0.6, 0.75, 0.9, 0.95, 0.975, 0.99, 0.995, 0.9995, 0.999999, 0.025, 0.1])
def test_t_quantiles(df, q):
    assert _rel(dist.t_quantile(q, df), special.stdtrit(df, q)) < 1e-12


@pytest.mark.parametrize("q", [1e-300, 1e-20, 1e-8, 0.001, 0.025, 0.1, 0.25, 0.75, 0.9, 0.975, 0.999, 1 - 1e-12])
def test_normal_quantiles_and_tails(q):
    assert _rel(dist.normal_quantile(q), special.ndtri(q)) < 1e-13
    z = abs(float(special.ndtri(q)))
    assert _rel(float(dist.two_sided_p(z, None)), 2.0 * special.ndtr(-z)) < 1e-12
    assert _rel(dist.normal_sf(z), special.ndtr(-z)) < 1e-12
    assert dist.critical_value(0.95, None) == pytest.approx(1.959963984540054, rel=1e-15)


@pytest.mark.parametrize("d1", [1, 2, 3, 5, 10, 20, 40, 60])
@pytest.mark.parametrize("d2", [1, 3, 10, 50, 100, 997, 10_000])
def test_f_tails(d1, d2):
    for f in [0.0, 0.1, 0.5, 1.0, 2.0, 5.0, 20.0, 100.0, 1e4]:
        theirs = special.fdtrc(d1, d2, f)
        if theirs > 1e-300:
            assert _rel(dist.f_sf(f, d1, d2), theirs) < 1e-12, (d1, d2, f)


def test_outside_the_plain_range_scipy_answers():
    """Large degrees of freedom, many statistics and a frame's column go to scipy.special, bit for bit."""
    stats = np.linspace(0.0, 5.0, 200)
    np.testing.assert_array_equal(dist.two_sided_p(stats, 30.0), 2.0 * special.stdtr(30.0, -stats))
    np.testing.assert_array_equal(dist.two_sided_p(stats[:3], 1e6), 2.0 * special.stdtr(1e6, -stats[:3]))
    assert dist.t_quantile(0.975, 1e6) == special.stdtrit(1e6, 0.975)
    assert dist.f_sf(2.0, 100.0, 200.0) == special.fdtrc(100.0, 200.0, 2.0)
    pd = pytest.importorskip("pandas")
    series = pd.Series([1.0, 2.0], index=["a", "b"])
    out = dist.two_sided_p(series, 10.0)
    assert list(out.index) == ["a", "b"]


def test_shapes_and_edges():
    assert isinstance(dist.two_sided_p(2.0, 10.0), float)
    assert dist.two_sided_p(np.array([[1.0, 2.0]]), 10.0).shape == (1, 2)
    assert dist.two_sided_p(0.0, 5.0) == 1.0
    assert dist.t_quantile(0.5, 7.0) == 0.0
    assert dist.normal_quantile(0.0) == -np.inf and dist.normal_quantile(1.0) == np.inf
    nan_p = dist.two_sided_p(np.array([np.nan, 1.0]), 10.0)
    assert np.isnan(nan_p[0]) and nan_p[1] == pytest.approx(special.stdtr(10.0, -1.0) * 2, rel=1e-12)
