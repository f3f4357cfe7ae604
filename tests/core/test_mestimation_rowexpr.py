"""Row expressions in the M-estimation passes: a ratio written with :class:`RowExpr` (evaluated block by
block, never held whole) gives the effect and standard error of the same ratio written with arrays, with
and without sampling weights and clusters, under the default source and under shuffled, scattered
partitions."""

from __future__ import annotations

import numpy as np
import pytest

from _helpers import assert_close
from deconfound._core import rows
from deconfound._core.design import Design, array_part, constant_part
from deconfound._core.mestimation import FirstStep, Ratio, RowExpr, effect


def _problem(n: int = 20_000, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    e = 1 / (1 + np.exp(-(x @ np.array([0.5, -0.3, 0.2]))))
    t = (rng.random(n) < e).astype(float)
    y = 1.0 + 2.0 * t + x @ np.array([1.0, 0.5, -0.2]) + rng.normal(size=n)
    design = Design([constant_part(), *(array_part(f"x{j}", x[:, j]) for j in range(3))], n)
    bread = np.linalg.inv(design.to_array().T @ (design.to_array() * (e * (1 - e))[:, None]))
    ps = FirstStep(design, t - e, bread)
    s = rng.uniform(0.5, 2.0, n)
    clusters = rng.integers(0, 50, n)
    return t, e, y, ps, s, clusters


def _ate_with(t, e, y, as_expr: bool) -> tuple[Ratio, Ratio]:
    parts = {
        "h1": (lambda t, e, y: t / e * y),
        "c1": (lambda t, e, y: t / e),
        "gh1": (lambda t, e, y: -t * (1.0 - e) / e * y),
        "gc1": (lambda t, e, y: -t * (1.0 - e) / e),
        "h0": (lambda t, e, y: (1.0 - t) / (1.0 - e) * y),
        "c0": (lambda t, e, y: (1.0 - t) / (1.0 - e)),
        "gh0": (lambda t, e, y: (1.0 - t) * e / (1.0 - e) * y),
        "gc0": (lambda t, e, y: (1.0 - t) * e / (1.0 - e)),
    }
    v = {k: RowExpr(f, t, e, y) if as_expr else f(t, e, y) for k, f in parts.items()}
    return Ratio(v["h1"], v["c1"], v["gh1"], v["gc1"]), Ratio(v["h0"], v["c0"], v["gh0"], v["gc0"])


def test_a_row_expression_reads_the_rows_it_is_given():
    a, b = np.arange(10.0), np.arange(10.0) ** 2
    expr = RowExpr(np.add, a, b)
    assert len(expr) == 10
    np.testing.assert_array_equal(expr[2:5], (a + b)[2:5])
    np.testing.assert_array_equal(expr[np.array([7, 1])], np.array([56.0, 2.0]))
    nested = RowExpr(np.multiply, expr, a)
    np.testing.assert_array_equal(nested[:], (a + b) * a)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("clustered", [False, True])
@pytest.mark.parametrize("shuffled", [False, True])
def test_expressions_give_the_arrays_effect_and_error(weighted, clustered, shuffled):
    t, e, y, ps, s, clusters = _problem()
    s_used = s if weighted else None
    cl = clusters if clustered else None

    def run(as_expr: bool):
        return effect(_ate_with(t, e, y, as_expr), s_used, ps, None, 1.0, cl)

    arrays = run(False)
    if shuffled:
        with rows.using(lambda d, n, a, c: rows.ShuffledSource(d, n, a, parts=7, seed=1)):
            exprs = run(True)
    else:
        exprs = run(True)
    assert_close(exprs[0], arrays[0], rtol=1e-12)
    assert_close(exprs[1], arrays[1], rtol=1e-12)
    assert_close(np.array(exprs[2]), np.array(arrays[2]), rtol=1e-12)
    # the standard error is not that of ignoring the propensity model's estimation
    plain = effect(_ate_with(t, e, y, True), s_used, None, None, 1.0, cl)
    assert abs(plain[1] - arrays[1]) > 1e-6 * arrays[1]
