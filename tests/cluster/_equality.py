"""The cases of the cross-engine equality tests (test_dask_equality.py, test_spark_equality.py): Lin with
every covariance type, the regression DiD, 2SLS and LIML, IPW / overlap weights / AIPW for each estimand with
and without clusters, and the difference in means with its balance table, on ONE shared frame (_estimates.py's,
with instruments, a period and its labels added) cut into uneven partitions (one empty; NaN in a cluster
column; a categorical level absent from the first partitions). Each engine must give the in-memory path's
numbers to 1e-9 relative (the in-memory path is checked against the peers in tests/reference)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from _estimates import RTOL, close, make_frame, with_instruments

import deconfound as dc

COVARIATES = ["x1", "x2", "cat"]

LIN_CASES: list[dict[str, Any]] = [
    {"cov_type": "nonrobust"},
    {"cov_type": "HC1", "weights": "w"},
    {},  # HC2, Lin's default
    {"cov_type": "HC3"},
    {"cluster": "g"},
    {"cluster": ["g", "h"], "weights": "w"},
]

DID_CASES: list[dict[str, Any]] = [
    {"post": "post"},
    {"post": "when", "covariates": ["x1", "cat"], "weights": "w"},
    {"post": "post", "cluster": "g"},
    {"post": "post", "cluster": ["g", "h"], "covariates": ["x2"]},
]

IV_CASES: list[dict[str, Any]] = [
    {"estimator": estimator, **cov}
    for estimator in ("2sls", "liml")
    for cov in ({"cov_type": "nonrobust"}, {"cov_type": "HC1"}, {"cluster": "g", "weights": "w"})
] + [
    {"cluster": ["g", "h"]},
    {"absorb": ["firm", "when"], "cov_type": "HC1", "weights": "w"},  # as dummies, two singleton firms dropped
    {"absorb": "firm", "cluster": "g", "estimator": "liml"},
]

WEIGHTING_CASES: list[tuple[str, dict[str, Any]]] = [
    (method, {"estimand": estimand, **extra})
    for method in ("ipw", "aipw")
    for estimand in ("ATE", "ATT", "ATC")
    for extra in ({}, {"cluster": "g"})
] + [("overlap_weights", {}), ("overlap_weights", {"cluster": "g", "weights": "w"})]

#: regression adjustment, and trimming (alpha 0.4 trims about a fifth of these rows) with both trim_refit
TRIM_RA_CASES: list[tuple[str, dict[str, Any]]] = [
    ("ra", {"estimand": "ATT", "cluster": "g"}),
    ("ra", {"trim": 0.4, "trim_refit": False, "weights": "w"}),
    ("ipw", {"trim": 0.4, "cluster": "g"}),
    ("ipw", {"trim": 0.4, "trim_refit": False, "estimand": "ATT"}),
    ("aipw", {"trim": 0.4, "trim_refit": False, "cluster": "g"}),
    ("overlap_weights", {"trim": 0.4, "weights": "w"}),
]

NAIVE_CASES: list[dict[str, Any]] = [{}, {"weights": "w", "randomized": True}]


def case_id(case: Any) -> str:
    if isinstance(case, str):  # the method of a (method, case) pair
        return case
    return "-".join(f"{k}={v}" for k, v in case.items()) or "default"


def make_shared() -> pd.DataFrame:
    """The one frame every equality test reads (each engine cuts it once per module)."""
    df = with_instruments(make_frame())
    rng = np.random.default_rng(3)
    df["post"] = rng.integers(0, 2, len(df))
    df["when"] = np.where(df.post == 1, "after", "before")
    df["firm"] = rng.integers(0, 30, len(df))
    df.loc[[3, 900], "firm"] = [98, 99]  # singletons: absorb= drops them
    df["yy"] = df.yy + 0.05 * df.firm
    df["y"] = df.y + df.post + 1.5 * df.t * df.post
    return df


def _quiet(fn: Any, *args: Any, **kw: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dc.errors.DeconfoundWarning)  # the same diagnostics on both paths
        return fn(*args, **kw)


def _same_table(ref: Any, got: Any) -> None:
    ca, cb = ref.coefficients, got.coefficients
    assert cb.names == ca.names
    np.testing.assert_allclose(cb.coef, ca.coef, rtol=RTOL)
    np.testing.assert_allclose(cb.cov, ca.cov, rtol=RTOL, atol=1e-15 * np.abs(ca.cov).max())


def _same(ref: Any, got: Any) -> None:
    assert (got.n, got.n_dropped) == (ref.n, ref.n_dropped)
    close(ref.estimate, got.estimate)
    close(ref.std_error, got.std_error)
    if ref.df is None:
        assert got.df is None
    else:
        close(ref.df, got.df)


def check_lin(frame: pd.DataFrame, data: Any, case: dict[str, Any]) -> None:
    kw = {"outcome": "y", "treatment": "t", "covariates": COVARIATES, "missing": "drop", **case}
    ref, got = _quiet(dc.lin, frame, **kw), _quiet(dc.lin, data, **kw)
    _same(ref, got)
    _same_table(ref, got)


def check_did(frame: pd.DataFrame, data: Any, case: dict[str, Any]) -> None:
    kw = {"outcome": "y", "treated": "t", "missing": "drop", **case}
    ref, got = _quiet(dc.did, frame, **kw), _quiet(dc.did, data, **kw)
    _same(ref, got)
    _same_table(ref, got)
    pd.testing.assert_frame_equal(got.diagnostics["group_means"], ref.diagnostics["group_means"], rtol=RTOL)


def check_iv(frame: pd.DataFrame, data: Any, case: dict[str, Any]) -> None:
    kw = {"outcome": "yy", "treatment": "d", "instruments": ["z1", "z2"], "covariates": ["x1", "cat"],
          "missing": "drop", **case}  # fmt: skip
    ref, got = _quiet(dc.iv, frame, **kw), _quiet(dc.iv, data, **kw)
    _same(ref, got)
    _same_table(ref, got)
    for key in ("liml_kappa", "kappa"):
        if key in ref.coefficients.stats:
            close(ref.coefficients.stats[key], got.coefficients.stats[key])
    overid = ref.diagnostics["overid"], got.diagnostics["overid"]
    close(overid[0].statistic, overid[1].statistic)
    close(ref.diagnostics["endogeneity"].statistic, got.diagnostics["endogeneity"].statistic)
    pd.testing.assert_frame_equal(got.diagnostics["reduced_form"], ref.diagnostics["reduced_form"], rtol=RTOL)
    weak = ref.diagnostics["weak_iv"], got.diagnostics["weak_iv"]  # from the partialled sums on the engine
    assert weak[1].verdict == weak[0].verdict
    for key in ("cragg_donald_f", "kleibergen_paap_f", "effective_f", "k_eff"):
        if getattr(weak[0], key) is not None:
            close(getattr(weak[0], key), getattr(weak[1], key))
    for a, b in zip(ref.diagnostics["first_stage"].rows, got.diagnostics["first_stage"].rows, strict=True):
        close(a.f_stat, b.f_stat)
        close(a.partial_r2, b.partial_r2)
    ar = ref.diagnostics["anderson_rubin"], got.diagnostics["anderson_rubin"]
    close(ar[0].statistic, ar[1].statistic)
    np.testing.assert_allclose(np.array(ar[1].pieces, dtype=float), np.array(ar[0].pieces, dtype=float), rtol=RTOL)


def check_weighting(frame: pd.DataFrame, data: Any, method: str, case: dict[str, Any]) -> None:
    kw = {"outcome": "y", "treatment": "t", "covariates": COVARIATES, "missing": "drop", **case}
    fn = getattr(dc, method)
    ref, got = _quiet(fn, frame, **kw), _quiet(fn, data, **kw)
    _same(ref, got)
    assert got.estimand == ref.estimand
    assert ("potential_outcome_means" in got.diagnostics) == ("potential_outcome_means" in ref.diagnostics)
    for arm in ("treated", "control") if "potential_outcome_means" in ref.diagnostics else ():
        close(ref.diagnostics["potential_outcome_means"][arm], got.diagnostics["potential_outcome_means"][arm])
    assert got.diagnostics.get("trimming") == ref.diagnostics.get("trimming")
    assert ("propensity_model" in got.diagnostics) == ("propensity_model" in ref.diagnostics)
    if "propensity_model" in ref.diagnostics:
        pd.testing.assert_frame_equal(
            got.diagnostics["propensity_model"], ref.diagnostics["propensity_model"], rtol=RTOL
        )
    for arm in ("treated", "control") if method in ("aipw", "ra") else ():
        key = f"outcome_model_{arm}"
        pd.testing.assert_frame_equal(got.diagnostics[key], ref.diagnostics[key], rtol=RTOL)


def check_naive(frame: pd.DataFrame, data: Any, case: dict[str, Any]) -> None:
    kw = {"outcome": "y", "treatment": "t", "covariates": ["x1", "x2", "cat"], **case}
    ref, got = _quiet(dc.difference_in_means, frame, **kw), _quiet(dc.difference_in_means, data, **kw)
    close(ref.estimate, got.estimate)
    close(ref.std_error, got.std_error)
    close(ref.df, got.df)
    pd.testing.assert_frame_equal(got.diagnostics["balance"], ref.diagnostics["balance"], rtol=RTOL)
    if case.get("randomized"):
        close(ref.diagnostics["balance_test"]["statistic"], got.diagnostics["balance_test"]["statistic"])
