"""The estimates on a Spark DataFrame, run on local[2], equal the in-memory path to 1e-9 relative (the data
and the comparisons: _estimates.py). Each Spark job costs seconds on a loaded 2-core machine, so Spark runs
three of the OLS cases (the two-way clustered one covers the one-way sums too); Dask runs them all."""

from __future__ import annotations

import pytest
from _estimates import (
    OLS_CASES,
    SIZES,
    WEIGHTING_CASES,
    case_id,
    difference_in_means,
    make_frame,
    ols,
    same_difference_in_means,
    same_ols,
    same_weighting,
    weighting,
)

SPARK_CASES = [OLS_CASES[0], OLS_CASES[1], OLS_CASES[4]]


@pytest.fixture(scope="module")
def frame():  # type: ignore[no-untyped-def]
    return make_frame()


@pytest.fixture(scope="module")
def on_spark(frame, to_spark):  # type: ignore[no-untyped-def]
    return to_spark(frame, SIZES)


@pytest.mark.parametrize("case", SPARK_CASES, ids=case_id)
def test_ols_on_spark_equals_memory(frame, on_spark, case):
    same_ols(ols(frame, case), ols(on_spark, case))


def test_difference_in_means_and_balance_on_spark(frame, on_spark):
    same_difference_in_means(difference_in_means(frame), difference_in_means(on_spark))


def test_ipw_on_spark_equals_memory(frame, on_spark):
    """The logistic propensity's IRLS passes and the M-estimation sandwich run on the executors (clustered)."""
    method, case = WEIGHTING_CASES[1]
    same_weighting(weighting(frame, method, case), weighting(on_spark, method, case))
