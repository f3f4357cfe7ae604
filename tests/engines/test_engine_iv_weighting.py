"""IV and the weighting estimators on engines, beyond the point estimates (issue 15): the weak-instrument
statistics (first stage, Sanderson-Windmeijer, Cragg-Donald, Kleibergen-Paap, effective F with its critical
values, the Anderson-Rubin set and the tF interval) computed from partialled sums, two-way clustered IV,
propensity trimming (both trim_refit conventions) and regression adjustment. Each must equal the in-memory
path to 1e-9 relative on rows cut into uneven pieces (one empty) with NaN in a cluster column and a
categorical level absent from the first pieces; the in-memory path is itself checked against linearmodels,
ivreg2 and teffects in tests/reference."""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

import deconfound as dc
from deconfound.engines.duckdb import DuckDBEngine
from deconfound.engines.memory import MemoryEngine
from deconfound.errors import SpecificationError

SIZES = [0, 1000, 7, 0, 1500, 493]
RTOL = 1e-9


def same(a: Any, b: Any, path: str = "") -> None:
    """Equal to 1e-9 relative, recursively through dicts, lists and tuples (strings and flags exactly)."""
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for key in a:
            same(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and not isinstance(a, bool):
        if np.isnan(a) or np.isinf(a):
            assert (np.isnan(a) and np.isnan(b)) or a == b, path
        else:
            assert b == pytest.approx(a, rel=RTOL, abs=1e-300), path
    else:
        assert a == b, path


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 3000
    df = pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "x2": rng.normal(size=n) * 3 + 10,
            "cat": rng.choice(list("abcd"), n),
            "g": rng.integers(0, 40, n).astype(float),
            "h": rng.integers(0, 30, n),
            "w": rng.uniform(0.5, 2, n),
        }
    )
    df["z1"], df["z2"], df["z3"], u = rng.normal(size=(4, n))
    df["d"] = 0.8 * df.z1 + 0.5 * df.z2 + u + 0.3 * df.x1
    df["d2"] = 0.3 * df.z1 - 0.6 * df.z3 + rng.normal(size=n)
    df["weakd"] = 0.04 * df.z1 + u + rng.normal(size=n)  # a weak instrument: the verdict and AR set differ
    df["yy"] = 1 + 1.5 * df.d + 0.5 * df.d2 + df.x1 + u + rng.normal(size=n)
    df["t"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-1.6 * df.x1 - 0.4 * (df.cat == "b")))).astype(int)
    df["y"] = 1 + 2 * df.t + df.x1 + 0.1 * df.x2 + (df.cat == "b") + rng.normal(size=n) * (1 + df.t)
    df.loc[[5, 2100], "g"] = np.nan
    df.loc[(np.arange(n) < 1500) & (df.cat == "d"), "cat"] = "a"
    return df


@pytest.fixture(scope="module")
def parquet_glob(frame, tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("ivparts")
    start = 0
    for i, size in enumerate([1200, 1, 1799]):
        frame.iloc[start : start + size].to_parquet(folder / f"part{i}.parquet", index=False)
        start += size
    return str(folder / "*.parquet")


def engines(frame: pd.DataFrame, parquet_glob: str) -> list[Any]:
    return [MemoryEngine(frame, SIZES), DuckDBEngine(parquet_glob, batch_rows=700)]


def quiet(fn: Any, data: Any, **kw: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dc.errors.DeconfoundWarning)
        return fn(data, **kw)


def same_weak_iv(ref: Any, got: Any) -> None:
    """Every weak-instrument entry of the in-memory result, equal on the engine."""
    for key in ("first_stage", "weak_iv"):
        same(ref.diagnostics[key].to_dict(), got.diagnostics[key].to_dict(), key)
    for key in ("anderson_rubin", "tf"):
        assert (key in got.diagnostics) == (key in ref.diagnostics), key
        if key in ref.diagnostics:
            same(dataclasses.asdict(ref.diagnostics[key]), dataclasses.asdict(got.diagnostics[key]), key)
    assert got.warnings == ref.warnings


IV_CASES = [
    {},
    {"cov_type": "HC1"},
    {"cov_type": "HC2"},
    {"cov_type": "HC3", "weights": "w"},
    {"cluster": "g", "weights": "w"},
    {"cluster": ["g", "h"]},
    {"cluster": ["g", "h"], "estimator": "liml", "weights": "w"},
    {"estimator": "liml", "cov_type": "HC1"},
    {"estimator": "gmm", "cluster": "g"},
    {"instruments": ["z1"], "cov_type": "HC1"},
    {"instruments": ["z1"]},
    {"treatment": "weakd", "instruments": ["z1", "z2"], "cov_type": "HC1"},
    {"treatment": "weakd", "instruments": ["z1", "z2"]},
    {"endog": ["d", "d2"], "instruments": ["z1", "z2", "z3"]},
    {"endog": ["d", "d2"], "instruments": ["z1", "z2", "z3"], "cov_type": "HC1", "weights": "w"},
    {"endog": ["d", "d2"], "instruments": ["z1", "z2", "z3"], "cluster": ["g", "h"]},
]


@pytest.mark.parametrize("case", IV_CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()) or "2sls")
def test_iv_with_weak_instrument_statistics_equals_memory_path(frame, parquet_glob, case):
    kw = {"outcome": "yy", "treatment": "d", "instruments": ["z1", "z2"], "covariates": ["x1", "cat"],
          "missing": "drop", **case}  # fmt: skip
    if "endog" in case:
        kw["treatment"] = case["endog"][0]
    ref = quiet(dc.iv, frame, **kw)
    for eng in engines(frame, parquet_glob):
        got = quiet(dc.iv, eng, **kw)
        assert got.estimate == pytest.approx(ref.estimate, rel=RTOL)
        assert got.std_error == pytest.approx(ref.std_error, rel=RTOL)
        np.testing.assert_allclose(got.coefficients.cov, ref.coefficients.cov, rtol=RTOL)
        same_weak_iv(ref, got)
        same(ref.diagnostics["overid"].statistic, got.diagnostics["overid"].statistic)
        pd.testing.assert_frame_equal(got.diagnostics["reduced_form"], ref.diagnostics["reduced_form"], rtol=RTOL)
        assert "compliers" not in got.diagnostics


def test_weak_instruments_are_said_on_an_engine(frame):
    kw = {"outcome": "yy", "treatment": "weakd", "instruments": ["z1"], "covariates": ["x1"], "cov_type": "HC1"}
    with pytest.warns(dc.errors.WeakInstrumentWarning, match="weak"):
        got = dc.iv(MemoryEngine(frame, SIZES), **kw)
    assert got.diagnostics["weak_iv"].weak and any("weak" in w for w in got.warnings)


WEIGHTING_CASES = [
    ("ra", {}),
    ("ra", {"estimand": "ATT", "weights": "w"}),
    ("ra", {"estimand": "ATC", "cluster": "g"}),
    ("ra", {"trim": 0.1, "trim_refit": False, "cluster": "g"}),
    ("ra", {"trim": 0.1}),
    ("ipw", {"trim": 0.1}),
    ("ipw", {"trim": 0.1, "trim_refit": False}),
    ("ipw", {"trim": 0.1, "estimand": "ATT", "cluster": "gx"}),  # whole clusters trimmed: fewer G
    ("ipw", {"trim": 0.1, "trim_refit": False, "cluster": "gx", "weights": "w"}),
    ("ipw", {"trim": 0.01, "weighting": "ht"}),
    ("aipw", {"trim": 0.1, "estimand": "ATE"}),
    ("aipw", {"trim": 0.1, "trim_refit": False, "estimand": "ATC", "cluster": "g"}),
    ("aipw", {"trim": 0.1, "trim_refit": False, "estimand": "ATT", "weights": "w"}),
    ("overlap_weights", {"trim": 0.1, "trim_refit": False, "cluster": "gx"}),
]


@pytest.mark.parametrize(("method", "case"), WEIGHTING_CASES, ids=str)
def test_trimming_and_regression_adjustment_equal_memory_path(frame, parquet_glob, method, case):
    data = frame.assign(gx=pd.qcut(frame.x1, 25, labels=False))  # clusters of similar scores
    fn = getattr(dc, method)
    kw = {"outcome": "y", "treatment": "t", "covariates": ["x1", "x2", "cat"], "missing": "drop", **case}
    ref = quiet(fn, data, **kw)
    assert (ref.n < len(data) - 2) == ("trim" in case)  # the trimming bites
    for eng in (MemoryEngine(data, SIZES),):
        got = quiet(fn, eng, **kw)
        assert (got.n, got.n_treated) == (ref.n, ref.n_treated)
        same(ref.estimate, got.estimate)
        same(ref.std_error, got.std_error)
        same(ref.diagnostics.get("trimming"), got.diagnostics.get("trimming"))
        same(ref.diagnostics.get("potential_outcome_means"), got.diagnostics.get("potential_outcome_means"))
        for key in ("propensity_model", "outcome_model_treated", "outcome_model_control"):
            assert (key in got.diagnostics) == (key in ref.diagnostics), key
            if key in ref.diagnostics:
                pd.testing.assert_frame_equal(got.diagnostics[key], ref.diagnostics[key], rtol=RTOL)


def test_trimming_on_duckdb_and_its_refusals(frame, parquet_glob):
    kw = {"outcome": "y", "treatment": "t", "covariates": ["x1", "x2", "cat"], "cluster": "g", "missing": "drop"}
    for refit in (True, False):
        ref = quiet(dc.aipw, frame, trim=0.08, trim_refit=refit, **kw)
        got = quiet(dc.aipw, DuckDBEngine(parquet_glob, batch_rows=700), trim=0.08, trim_refit=refit, **kw)
        same(ref.estimate, got.estimate)
        same(ref.std_error, got.std_error)
    ra = quiet(dc.ra, frame, **kw), quiet(dc.ra, DuckDBEngine(parquet_glob, batch_rows=700), **kw)
    same(ra[0].std_error, ra[1].std_error)
    crump = r"trim='crump' is not available .* all 3,000 rows \(8 bytes each: about 0\.00 GiB"
    with pytest.raises(SpecificationError, match=crump):
        dc.ipw(MemoryEngine(frame), outcome="y", treatment="t", covariates=["x1"], trim="crump")
    with pytest.raises(SpecificationError, match=r"trim must be strictly between 0 and 0\.5"):
        dc.ipw(MemoryEngine(frame), outcome="y", treatment="t", covariates=["x1"], trim=0.7)
    with pytest.raises(SpecificationError, match="trim_refit must be True or False"):
        dc.aipw(MemoryEngine(frame), outcome="y", treatment="t", covariates=["x1"], trim=0.1, trim_refit="no")
    with pytest.raises(dc.errors.DataError, match="the treated group has fewer than 2"):
        dc.ipw(MemoryEngine(frame), outcome="y", treatment="t", covariates=["x1"], trim=0.4999)


ABSORB_CASES = [
    {"absorb": "firm"},
    {"absorb": ["firm", "yr"], "cov_type": "HC1", "weights": "w"},
    {"absorb": "firm", "cluster": "region"},  # the factor nested in the cluster: fixest does not count it
    {"absorb": ["firm", "yr"], "cluster": ["g", "h"]},
    {"absorb": "yr", "estimator": "liml", "cov_type": "HC1"},
    {"absorb": "firm", "estimator": "fuller", "cluster": "firm"},
]


@pytest.mark.parametrize("case", ABSORB_CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_iv_with_few_absorbed_levels_equals_memory_path(frame, case):
    """Fixed effects with few levels enter as dummies on an engine; singletons (three firms with one row,
    and the rows a second factor then leaves alone) are dropped as in memory."""
    data = frame.copy()
    rng = np.random.default_rng(4)
    data["firm"] = rng.integers(0, 60, len(data))
    data["region"] = data.firm // 6
    data["yr"] = rng.choice(["y1", "y2", "y3", "y4", "y5"], len(data))
    data.loc[[10, 11, 12], "firm"] = [100, 101, 102]
    data["yy"] = data.yy + 0.1 * data.firm
    kw = {"outcome": "yy", "treatment": "d", "instruments": ["z1", "z2"], "covariates": ["x1", "cat"],
          "missing": "drop", **case}  # fmt: skip
    ref = quiet(dc.iv, data, **kw)
    got = quiet(dc.iv, MemoryEngine(data, SIZES), **kw)
    singletons = 3 if "firm" in case["absorb"] else 0
    assert (got.n, ref.coefficients.stats["n_singletons"]) == (ref.n, singletons)
    assert got.coefficients.names == ref.coefficients.names  # no constant, no dummies
    np.testing.assert_allclose(got.coefficients.coef, ref.coefficients.coef, rtol=RTOL)
    np.testing.assert_allclose(got.coefficients.cov, ref.coefficients.cov, rtol=RTOL)
    same(ref.coefficients.stats, got.coefficients.stats)
    same(ref.df, got.df)
    same_weak_iv(ref, got)
    assert got.notes == ref.notes
