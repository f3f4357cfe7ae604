"""Matching with one thread and with two give the same bits (the groups' sweeps, the design passes and
the sort are shared between threads, their results combined in a fixed order), with the compiled and
the numpy kernels."""

import warnings

import numpy as np
import pandas as pd
import pytest

import deconfound as dc
from deconfound._core import kernels, threads


def _frame(rng, n, tied):
    x = rng.normal(size=(n, 4))
    if tied:
        x = np.round(x)
    index = -0.2 + x @ np.array([0.6, -0.4, 0.3, 0.1])
    t = (rng.random(n) < 1 / (1 + np.exp(-index))).astype(int)
    y = 1 + x @ np.array([1.0, 0.5, -0.3, 0.2]) + t * (1.5 + 0.5 * x[:, 0]) + rng.normal(size=n)
    df = pd.DataFrame(x, columns=["a", "b", "c", "d"])
    df["t"], df["y"] = t, y
    df["w"] = rng.uniform(0.5, 2.0, n)
    return df


CASES = [
    dict(estimand="ATT", caliper=0.2, caliper_scale="sd"),
    dict(estimand="ATC", se_imputation="regression"),
    dict(estimand="ATE", neighbors=2),
    dict(estimand="ATT", replace=False, caliper=0.1, caliper_scale="sd"),
    dict(estimand="ATT", weights="w"),
    dict(estimand="ATT", distance="logit", vce_convention="ai2006"),
]


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_one_and_two_threads_give_the_same_bits(rng, backend, tied, case):
    df = _frame(rng, 60_000, tied)
    results = []
    for count in (1, 2):
        with kernels.using(backend), threads.using(count), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = dc.matching(df, outcome="y", treatment="t", covariates=["a", "b", "c", "d"], **CASES[case])
        balance = r.diagnostics["balance"].select_dtypes("number").to_numpy()
        results.append((r.estimate, r.std_error, balance))
    (e1, s1, b1), (e2, s2, b2) = results
    assert e1 == e2 and s1 == s2
    np.testing.assert_array_equal(b1, b2)
