"""The core owns its rows: every estimate is the same whichever way a row source cuts and orders them.

Each estimator runs twice: through a source that hands out all rows as one partition, and through one
that deals them into uneven partitions (one empty, rows scattered) handed out in shuffled order. Every
pass is a kernel per partition plus an exact merge, so the numbers agree to rounding (1e-10 relative).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import deconfound as dc
from _helpers import assert_close
from deconfound._core import rows
from deconfound._core.design import Design, array_part, constant_part
from deconfound._core.logistic import fit_logistic, predict
from deconfound._core.passes import accumulate, gradient_pass, residual_pass
from deconfound.estimators._matching_se import regression_other_outcome

# Few clusters draw a warning (tests/estimators/test_few_clusters.py checks it); here only the numbers matter.
pytestmark = pytest.mark.filterwarnings(r"ignore:Only \d+ clusters:deconfound.errors.DiagnosticWarning")

RTOL = 1e-10
SEEDS = (0, 1, 2)


def _single(design, n, arrays, chunk_rows):
    return rows.MemorySource(design, n, arrays, max(n, 1))


CALLS: list[int] = []


def _shuffled(seed: int, scatter: bool = True):
    def factory(design, n, arrays, chunk_rows):
        CALLS.append(n)
        return rows.ShuffledSource(design, n, arrays, parts=9, seed=seed, scatter=scatter)

    return factory


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    n = 1500
    x1 = rng.normal(size=n)
    x2 = rng.normal(loc=50.0, scale=5.0, size=n)
    region = rng.choice(["north", "south", "east", "west"], size=n)
    logit = 0.6 * x1 - 0.05 * (x2 - 50.0) + (region == "south") * 0.4
    t = (rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-logit))).astype(int)
    y = 1.5 * t + x1 + 0.2 * x2 + (region == "east") * 0.7 + rng.normal(size=n) * (1.0 + 0.5 * np.abs(x1))
    return pd.DataFrame(
        {
            "y": y,
            "t": t,
            "x1": x1,
            "x2": x2,
            "region": region,
            "w": rng.uniform(0.2, 3.0, size=n),
            "firm": rng.integers(0, 40, size=n),
            "year": rng.integers(0, 9, size=n),
        }
    )


def _numbers(est) -> list[np.ndarray]:
    out = [np.array([est.estimate, est.std_error])]
    if est.coefficients is not None:
        out += [est.coefficients.coef, est.coefficients.cov]
    return out


def _same(run, seed: int, scatter: bool = True) -> None:
    with rows.using(_single):
        whole = run()
    CALLS.clear()
    with rows.using(_shuffled(seed, scatter)):
        cut = run()
    assert CALLS, "no pass read its rows through the source"
    assert len(whole) == len(cut)
    for i, (a, b) in enumerate(zip(cut, whole, strict=True)):
        assert_close(a, b, rtol=RTOL, what=f"item {i}")


def test_the_test_source_is_uneven_shuffled_and_has_an_empty_partition():
    x = np.arange(100.0)
    src = rows.ShuffledSource(Design([array_part("x", x)], 100), 100, {"y": x}, parts=9, seed=3)
    parts = list(src.partitions())
    sizes = [p.n for p in parts]
    assert 0 in sizes and sum(sizes) == 100 and len(set(sizes)) > 2
    firsts = [int(p["y"][0]) for p in parts if p.n]
    assert firsts != sorted(firsts)  # not handed out in row order
    seen = np.concatenate([p.block()[:, 0] for p in parts if p.n])
    assert sorted(seen.tolist()) == x.tolist()  # every row exactly once
    assert np.array_equal(np.concatenate([p["y"] for p in parts if p.n]), seen)  # arrays follow the rows


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster1", "cluster2"])
@pytest.mark.parametrize("weights", [None, "w"])
def test_ols_and_wls_every_covariance(frame, cov_type, weights, seed):
    cluster = {"cluster1": "firm", "cluster2": ["firm", "year"]}.get(cov_type)
    kind = "cluster" if cluster else cov_type

    def run():
        est = dc.ols(
            frame,
            outcome="y",
            treatment="t",
            covariates=["x1", "x2", "region"],
            weights=weights,
            cov_type=kind,
            cluster=cluster,
        )
        return _numbers(est)

    _same(run, seed)


@pytest.mark.parametrize("seed", SEEDS)
def test_logistic_propensity_fit(frame, seed):
    def run():
        scores = dc.propensity_scores(frame, treatment="t", covariates=["x1", "x2", "region"], weights="w")
        return [scores["propensity_score"].to_numpy(), scores["logit"].to_numpy()]

    _same(run, seed)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("method", ["ipw", "aipw"])
@pytest.mark.parametrize("estimand", ["ATE", "ATT"])
def test_ipw_and_aipw(frame, method, estimand, seed):
    fn = {"ipw": dc.ipw, "aipw": dc.aipw}[method]

    def run():
        est = fn(frame, outcome="y", treatment="t", covariates=["x1", "x2", "region"], estimand=estimand)
        balance = est.diagnostics["balance"]
        return [*_numbers(est), balance.to_numpy(dtype=float)]

    _same(run, seed)


@pytest.mark.parametrize("scatter", [False, True])
def test_core_passes_directly(scatter):
    rng = np.random.default_rng(11)
    n = 777
    x = rng.normal(size=(n, 3)) + np.array([0.0, 100.0, -3.0])
    design = Design([constant_part(), *(array_part(f"x{j}", x[:, j]) for j in range(3))], n)
    y = x @ [1.0, 0.5, -2.0] + rng.normal(size=n)
    w = rng.uniform(0.5, 2.0, size=n)
    g1, g2 = rng.integers(0, 25, n), rng.integers(0, 6, n)
    beta = np.array([0.3, 1.0, 0.5, -2.0])
    full = np.column_stack([np.ones(n), x])
    bread = np.linalg.inv(full.T @ (w[:, None] * full))
    t = (rng.uniform(size=n) < 0.4).astype(float)
    assert design.leading_constant_view() is not None  # the in-place path, and the block path when scattered

    def run():
        cp = accumulate(design, y, w)
        hc3 = residual_pass(design, y, w, beta, bread, "HC3")
        cl = residual_pass(design, y, w, beta, bread, "cluster", (g1, g2))
        fit = fit_logistic(design, t, w)
        index, prob = predict(design, fit.coef)
        return [
            cp.xtx,
            cp.xty,
            np.array([cp.yty, cp.sum_w]),
            np.array([hc3.ssr]),
            hc3.meat,
            *cl.cluster_scores,
            gradient_pass(design, y, w, beta),
            design.tdot([y, 2.0, w]),
            Design([array_part(f"x{j}", x[:, j]) for j in range(3)], n).tdot(np.column_stack([y, w])),
            fit.coef,
            fit.cov,
            np.array([fit.llf]),
            index,
            prob,
            regression_other_outcome(design, y, t),
        ]

    _same(run, 4, scatter)


def test_the_default_source_reads_contiguous_chunks_in_order():
    design = Design([array_part("x", np.arange(10.0))], 10)
    parts = list(rows.source(design, 4, y=np.arange(10.0)).partitions())
    assert [p.rows for p in parts] == [slice(0, 4), slice(4, 8), slice(8, 10)]
    assert [p["y"].tolist() for p in parts][-1] == [8.0, 9.0]


@pytest.mark.parametrize("seed", SEEDS)
def test_balance_table_and_joint_test(frame, seed):
    from deconfound.data import prepare
    from deconfound.diagnostics.balance import balance_table, joint_balance_test

    prep = prepare(frame, outcome="y", treatment="t", covariates=["x1", "x2", "region"], weights="w")

    def run():
        table = balance_table(prep.covariates, prep.treatment, prep.weights)
        test = joint_balance_test(prep.covariates, prep.treatment)
        return [table.to_numpy(dtype=float), np.array([test["statistic"], test["p_value"]])]

    _same(run, seed)


def test_schema_codes_are_global_when_partitions_are_encoded_apart():
    from deconfound.data import encode_rows, prepare, scan_schema

    frame = pd.DataFrame(
        {
            "y": [1.0, 2.0, 3.5, 4.0, 5.0, 6.5],
            "t": ["no", "yes", "no", "yes", "yes", "no"],
            "g": ["b", "b", "a", "c", "a", "b"],
            "cl": ["z", "x", "z", "y", "x", "y"],
        }
    )
    schema, kept = scan_schema(
        frame,
        outcome="y",
        treatment="t",
        covariates=["g"],
        weights=None,
        cluster=["cl"],
        extra={},
        used=["y", "t", "g", "cl"],
        missing="raise",
        treatment_kind="binary",
        treated_level=None,
        min_rows=2,
    )
    whole = prepare(frame, outcome="y", treatment="t", covariates=["g"], cluster="cl")
    # the first partition has no level "a" of g, no treated rows and only cluster "z"... as a later one may
    first, second = encode_rows(schema, kept.iloc[[0, 2]]), encode_rows(schema, kept.iloc[[1, 3, 4, 5]])
    rows_of = [[0, 2], [1, 3, 4, 5]]
    for enc, idx in zip((first, second), rows_of, strict=True):
        assert np.array_equal(enc.treatment, whole.treatment[idx])
        assert np.array_equal(enc.clusters[0], whole.clusters[0][idx])
        assert [p.name for p in enc.parts] == whole.covariates.names == ["g[b]", "g[c]"]
        assert np.array_equal(Design(enc.parts, len(idx)).to_array(), whole.covariates.to_array()[idx])
    assert whole.treatment.tolist() == [0.0, 1.0, 0.0, 1.0, 1.0, 0.0]
    assert whole.clusters[0].tolist() == [0, 1, 0, 2, 1, 2]  # codes in order of first appearance
