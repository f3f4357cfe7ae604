"""Lin, the regression DiD, 2SLS/LIML, IPW / overlap / AIPW and the balance table on a Spark DataFrame
(local[2]) equal the in-memory path to 1e-9 relative (the cases and comparisons: _equality.py). Every pass
is a Spark job of about a second on a loaded 2-core machine, so Spark runs a covering subset of Dask's
cases (each estimand once, clusters and weights in each family); Dask runs them all."""

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

LIN = [LIN_CASES[2], LIN_CASES[5]]  # HC2 (the default); two-way clustered and weighted
IV = [IV_CASES[1], IV_CASES[5], IV_CASES[6], IV_CASES[8]]  # 2sls HC1; liml clustered, weighted; two-way; absorb=
WEIGHTING = [WEIGHTING_CASES[i] for i in (4, 7, 8, 13)]  # ipw ATC, aipw ATE clustered, aipw ATT, overlap


@pytest.fixture(scope="module")
def frame():  # type: ignore[no-untyped-def]
    return make_shared()


@pytest.fixture(scope="module")
def on_spark(frame, to_spark):  # type: ignore[no-untyped-def]
    return to_spark(frame, SIZES)


@pytest.mark.parametrize("case", LIN, ids=case_id)
def test_lin_on_spark(frame, on_spark, case):
    check_lin(frame, on_spark, case)


@pytest.mark.parametrize("case", [DID_CASES[3]], ids=case_id)
def test_regression_did_on_spark(frame, on_spark, case):
    check_did(frame, on_spark, case)


@pytest.mark.parametrize("case", IV, ids=case_id)
def test_iv_on_spark(frame, on_spark, case):
    check_iv(frame, on_spark, case)


@pytest.mark.parametrize(("method", "case"), WEIGHTING, ids=case_id)
def test_weighting_on_spark(frame, on_spark, method, case):
    check_weighting(frame, on_spark, method, case)


def test_balance_table_on_spark(frame, on_spark):
    check_naive(frame, on_spark, NAIVE_CASES[1])


@pytest.mark.parametrize(("method", "case"), [TRIM_RA_CASES[i] for i in (0, 4)], ids=case_id)
def test_trimming_and_regression_adjustment_on_spark(frame, on_spark, method, case):
    check_weighting(frame, on_spark, method, case)
