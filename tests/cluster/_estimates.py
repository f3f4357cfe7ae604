"""The data and the comparisons of the cross-engine tests (test_dask_estimates.py, test_spark_estimates.py):
the estimates on a Dask cluster (2 worker processes) and on Spark local[2] equal the in-memory path to 1e-9
relative, on rows cut into uneven partitions (one empty), with NaN in a cluster column (dropped), a
categorical level absent from some partitions, and weights. The in-memory path is itself checked against
statsmodels (tests/reference); tests/engines does the same for the memory and DuckDB engines."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

import deconfound as dc

SIZES = [0, 700, 7, 0, 1100, 393]
RTOL = 1e-9

OLS_CASES: list[dict[str, Any]] = [
    {"cov_type": "nonrobust"},
    {"cov_type": "HC1", "weights": "w"},
    {"cov_type": "HC3"},
    {"cluster": "g"},
    {"cluster": ["g", "h"], "weights": "w"},
]


def case_id(case: dict[str, Any]) -> str:
    return "-".join(f"{k}={v}" for k, v in case.items())


def make_frame() -> pd.DataFrame:
    rng = np.random.default_rng(15)
    n = sum(SIZES)
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
    df["t"] = (rng.uniform(size=n) < 0.4 + 0.1 * (df.x1 > 0)).astype(int)
    df["y"] = 1 + 2 * df.t + df.x1 + 0.1 * df.x2 + (df.cat == "b") + rng.normal(size=n) * (1 + df.t)
    df.loc[[5, 1500], "g"] = np.nan  # clusters with NaN: dropped under missing="drop"
    df.loc[(np.arange(n) < 800) & (df.cat == "d"), "cat"] = "a"  # level "d" only in the later partitions
    return df


def close(a: float, b: float) -> None:
    assert b == pytest.approx(a, rel=RTOL, abs=1e-300)


def ols(data: Any, case: dict[str, Any]) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dc.errors.DataWarning)  # the two dropped rows are said, on both paths
        return dc.ols(data, outcome="y", treatment="t", covariates=["x1", "x2", "cat"], missing="drop", **case)


def same_ols(ref: Any, got: Any) -> None:
    assert (got.n, got.n_treated, got.n_dropped) == (ref.n, ref.n_treated, ref.n_dropped)
    close(ref.estimate, got.estimate)
    close(ref.std_error, got.std_error)
    assert got.df == ref.df
    ca, cb = ref.coefficients, got.coefficients
    assert cb.names == ca.names
    np.testing.assert_allclose(cb.coef, ca.coef, rtol=RTOL)
    np.testing.assert_allclose(cb.cov, ca.cov, rtol=RTOL, atol=1e-15 * np.abs(ca.cov).max())


def difference_in_means(data: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dc.errors.DiagnosticWarning)  # the arms are imbalanced by design
        return dc.difference_in_means(
            data, outcome="y", treatment="t", covariates=["x1", "cat"], weights="w", randomized=True
        )


def same_difference_in_means(ref: Any, got: Any) -> None:
    close(ref.estimate, got.estimate)
    close(ref.std_error, got.std_error)
    close(ref.df, got.df)
    pd.testing.assert_frame_equal(got.diagnostics["balance"], ref.diagnostics["balance"], rtol=RTOL)
    close(ref.diagnostics["balance_test"]["statistic"], got.diagnostics["balance_test"]["statistic"])


WEIGHTING_CASES: list[tuple[str, dict[str, Any]]] = [
    ("ipw", {}),
    ("ipw", {"estimand": "ATC", "cluster": "g"}),
    ("aipw", {"estimand": "ATT", "weights": "w"}),
]


def weighting(data: Any, method: str, case: dict[str, Any]) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dc.errors.DeconfoundWarning)  # the same diagnostics on both paths
        return getattr(dc, method)(
            data, outcome="y", treatment="t", covariates=["x1", "x2", "cat"], missing="drop", **case
        )


def same_weighting(ref: Any, got: Any) -> None:
    assert got.n == ref.n
    close(ref.estimate, got.estimate)
    close(ref.std_error, got.std_error)
    assert ("potential_outcome_means" in got.diagnostics) == ("potential_outcome_means" in ref.diagnostics)
    for arm in ("treated", "control") if "potential_outcome_means" in ref.diagnostics else ():
        close(ref.diagnostics["potential_outcome_means"][arm], got.diagnostics["potential_outcome_means"][arm])


def with_instruments(df: pd.DataFrame) -> pd.DataFrame:
    data = df.copy()
    rng = np.random.default_rng(5)
    data["z1"], data["z2"], u = rng.normal(size=(3, len(data)))
    data["d"] = 0.8 * data.z1 + 0.5 * data.z2 + u + 0.3 * data.x1
    data["yy"] = 1 + 1.5 * data.d + data.x1 + u + rng.normal(size=len(data))
    return data


def iv(data: Any) -> Any:
    kw = {"outcome": "yy", "treatment": "d", "instruments": ["z1", "z2"], "covariates": ["x1", "cat"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dc.errors.DeconfoundWarning)
        return dc.iv(data, cov_type="HC1", **kw)
