"""Lin, the regression DiD, 2SLS/LIML, IPW / overlap / AIPW (each estimand, with and without clusters) and
the balance table on a Dask DataFrame, run on the session's local cluster of 2 worker processes, equal the
in-memory path to 1e-9 relative (the cases and comparisons: _equality.py)."""

from __future__ import annotations

import pytest
from _equality import (
    DID_CASES,
    IV_CASES,
    LIN_CASES,
    NAIVE_CASES,
    TRIM_RA_CASES,
    WEIGHTING_CASES,
    case_id,
    check_did,
    check_iv,
    check_lin,
    check_naive,
    check_weighting,
    make_shared,
)
from _estimates import SIZES


@pytest.fixture(scope="module")
def frame():  # type: ignore[no-untyped-def]
    return make_shared()


@pytest.fixture(scope="module")
def on_dask(frame, to_dask, dask_client):  # type: ignore[no-untyped-def]
    return to_dask(frame, SIZES)


@pytest.mark.parametrize("case", LIN_CASES, ids=case_id)
def test_lin_on_dask(frame, on_dask, case):
    check_lin(frame, on_dask, case)


@pytest.mark.parametrize("case", DID_CASES, ids=case_id)
def test_regression_did_on_dask(frame, on_dask, case):
    check_did(frame, on_dask, case)


@pytest.mark.parametrize("case", IV_CASES, ids=case_id)
def test_iv_on_dask(frame, on_dask, case):
    check_iv(frame, on_dask, case)


@pytest.mark.parametrize(("method", "case"), WEIGHTING_CASES, ids=case_id)
def test_weighting_on_dask(frame, on_dask, method, case):
    check_weighting(frame, on_dask, method, case)


@pytest.mark.parametrize("case", NAIVE_CASES, ids=case_id)
def test_balance_table_on_dask(frame, on_dask, case):
    check_naive(frame, on_dask, case)


@pytest.mark.parametrize(("method", "case"), TRIM_RA_CASES, ids=case_id)
def test_trimming_and_regression_adjustment_on_dask(frame, on_dask, method, case):
    check_weighting(frame, on_dask, method, case)
