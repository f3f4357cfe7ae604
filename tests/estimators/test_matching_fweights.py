"""Frequency weights in matching: the result of the rows repeated as often as their weight says."""

import warnings

import numpy as np
import pandas as pd
import pytest

import deconfound as dc
from deconfound._core import kernels


def _run(data, **options):
    """(result, the warnings it gave): both calls must warn alike."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = dc.matching(data, **options)
    return result, sorted(str(w.message) for w in caught)


def _data(rng, n=400):
    x1 = rng.normal(size=n)
    x2 = rng.integers(0, 3, n).astype(float)  # discrete: tied scores
    t = (rng.uniform(size=n) < 1 / (1 + np.exp(-(0.4 * x1 - 0.3 * x2)))).astype(int)
    y = 1 + x1 + 0.5 * x2 + 2 * t + rng.normal(size=n)
    w = rng.integers(0, 4, n)
    return pd.DataFrame({"y": y, "t": t, "x1": x1, "x2": x2, "g": rng.integers(0, 2, n), "w": w})


@pytest.mark.parametrize(
    "options",
    [
        dict(estimand="ATT", caliper=0.05),
        dict(estimand="ATE", exact="g"),
        dict(estimand="ATT", replace=False),
        dict(estimand="ATC", distance="mahalanobis"),
        dict(estimand="ATE", distance="mahalanobis", caliper=0.2),
        dict(estimand="ATT", distance="mahalanobis", replace=False, caliper=0.5),
        dict(estimand="ATT", neighbors=2, bias_adjust=True),
        dict(estimand="ATE", distance="logit", caliper=0.01, vce_convention="ai2006"),
        dict(estimand="ATT", method="optimal"),
    ],
)
def test_fweights_give_the_result_of_the_repeated_rows(options, rng):
    df = _data(rng)
    repeated = df.loc[df.index.repeat(df["w"])].reset_index(drop=True)
    common = dict(outcome="y", treatment="t", covariates=["x1", "x2"], **options)
    for name in kernels.BACKENDS:
        with kernels.using(name):
            weighted, warned = _run(df, fweights="w", **common)
            plain, plain_warned = _run(repeated, **common)
        assert warned == plain_warned
        assert weighted.estimate == pytest.approx(plain.estimate, rel=1e-12)
        assert weighted.std_error == pytest.approx(plain.std_error, rel=1e-12)
        assert weighted.n == int(df["w"].sum())
        assert any("frequency weights 'w'" in note for note in weighted.notes)


@pytest.mark.parametrize(
    "options", [dict(estimand="ATT"), dict(estimand="ATE", distance="mahalanobis", exact="g", caliper=0.3)]
)
def test_unit_fweights_give_the_unweighted_result(options, rng):
    df = _data(rng).assign(w=1)
    common = dict(outcome="y", treatment="t", covariates=["x1", "x2"], **options)
    weighted, warned = _run(df, fweights="w", **common)
    plain, plain_warned = _run(df, **common)
    assert warned == plain_warned
    assert weighted.estimate == pytest.approx(plain.estimate, rel=1e-12)
    assert weighted.std_error == pytest.approx(plain.std_error, rel=1e-12)


def test_fweights_differ_from_the_unweighted_result(rng):
    df = _data(rng)
    common = dict(outcome="y", treatment="t", covariates=["x1", "x2"])
    assert _run(df, fweights="w", **common)[0].estimate != pytest.approx(_run(df, **common)[0].estimate)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([1.5, 1, 1, 1], r"fractional values; matching takes frequency weights only.*ipw or aipw"),
        ([-1, 1, 1, 1], r"negative or fractional"),
        ([np.nan, 1, 1, 1], r"1 missing or infinite value"),
        ([0, 0, 0, 0], r"zero in every row"),
    ],
)
def test_fweights_refuse_what_is_not_a_count(values, message):
    df = pd.DataFrame({"y": [1.0, 2, 3, 4], "t": [0, 1, 0, 1], "x": [0.1, 0.2, 0.3, 0.4], "w": values})
    with pytest.raises(dc.DataError, match=message):
        dc.matching(df, outcome="y", treatment="t", covariates=["x"], fweights="w")


def test_fweights_name_a_column():
    df = pd.DataFrame({"y": [1.0, 2], "t": [0, 1], "x": [0.1, 0.2]})
    with pytest.raises(dc.SpecificationError, match=r"fweights=3: give the name of a column"):
        dc.matching(df, outcome="y", treatment="t", covariates=["x"], fweights=3)
    with pytest.raises(dc.DataError, match=r"wt"):
        dc.matching(df, outcome="y", treatment="t", covariates=["x"], fweights="wt")
