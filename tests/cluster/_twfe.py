"""The panel and the comparison of the TWFE cross-engine tests (tests/engines/test_engine_twfe.py for the
memory and DuckDB engines, test_dask_twfe.py and test_spark_twfe.py for the clusters): an unbalanced panel
with singletons, NaN in a cluster column, a unit and a year that appear only in later pieces, and weights.
The in-memory path is itself checked against pyfixest/fixest in tests/reference."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

import deconfound as dc

SIZES = [0, 1000, 7, 0, 1500, 493]
RTOL = 1e-9

TWFE_CASES: list[dict[str, Any]] = [
    {},  # clustered by unit (the default)
    {"cov_type": "nonrobust"},
    {"cov_type": "HC1", "weights": "w"},
    {"cluster": "g", "covariates": ["x1", "cat"]},
    {"cluster": ["unit", "h"]},
    {"fixed_effects": "firm", "cluster": ["g", "h"], "weights": "w"},
]


def case_id(case: dict[str, Any]) -> str:
    return "-".join(f"{k}={v}" for k, v in case.items()) or "default"


def make_panel() -> pd.DataFrame:
    """3000 rows of 700 units over 12 years (unbalanced: some units have one row, which are singletons)."""
    rng = np.random.default_rng(21)
    n = sum(SIZES)
    df = pd.DataFrame(
        {
            "unit": rng.integers(0, 700, n),
            "year": rng.integers(2000, 2011, n),
            "firm": rng.choice(list("ABCDEFGHIJ"), n),
            "x1": rng.normal(size=n),
            "cat": rng.choice(list("abc"), n),
            "g": rng.integers(0, 40, n).astype(float),
            "h": rng.integers(0, 7, n),
            "w": rng.uniform(0.5, 2, n),
        }
    )
    later = np.arange(n) >= 1600
    df.loc[later & (rng.random(n) < 0.1), "year"] = 2011  # a year only in the later pieces
    df.loc[later & (rng.random(n) < 0.05), "unit"] = 999  # a unit only in the later pieces
    df["t"] = (rng.random(n) < 0.2 + 0.04 * (df.year - 2000) + 0.1 * (df.unit % 3 == 0)).astype(int)
    df["y"] = 0.01 * df.unit + 0.2 * (df.year - 2000) + 1.5 * df.t + df.x1 + (df.cat == "b") + rng.normal(size=n)
    df.loc[[11, 2222], "g"] = np.nan  # dropped under missing="drop"
    return df


def twfe(data: Any, case: dict[str, Any]) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return dc.twfe(data, outcome="y", treatment="t", unit="unit", time="year", missing="drop", **case)


def close(a: float, b: float) -> None:
    assert b == pytest.approx(a, rel=RTOL, abs=1e-300)


def same_twfe(ref: Any, got: Any) -> None:
    """The engine's TWFE equals the in-memory one: estimate, SE, coefficients, covariance, counts."""
    assert (got.n, got.n_treated, got.n_dropped) == (ref.n, ref.n_treated, ref.n_dropped)
    assert got.diagnostics["n_singletons"] == ref.diagnostics["n_singletons"] > 0
    assert got.diagnostics["fixed_effects"] == ref.diagnostics["fixed_effects"]
    close(ref.estimate, got.estimate)
    close(ref.std_error, got.std_error)
    assert got.df == ref.df
    ca, cb = ref.coefficients, got.coefficients
    assert cb.names == ca.names
    np.testing.assert_allclose(cb.coef, ca.coef, rtol=RTOL)
    np.testing.assert_allclose(cb.cov, ca.cov, rtol=RTOL, atol=1e-14 * np.abs(ca.cov).max())
    for key in ("k_fe", "df_k", "demean_iterations", "n_singletons", "n_clusters"):
        assert cb.stats.get(key) == ca.stats.get(key), key
    close(ca.stats["r_squared_within"], cb.stats["r_squared_within"])
    assert [w for w in got.warnings if "dropped because" in w] == [w for w in ref.warnings if "dropped because" in w]
    assert any("passes over the rows" in note for note in got.notes)
