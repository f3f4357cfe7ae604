"""The estimates on a Dask DataFrame, run on a local cluster of 2 worker processes, equal the in-memory
path to 1e-9 relative (the data and the comparisons: _estimates.py)."""

from __future__ import annotations

import numpy as np
import pytest
from _estimates import (
    OLS_CASES,
    SIZES,
    WEIGHTING_CASES,
    case_id,
    close,
    difference_in_means,
    iv,
    make_frame,
    ols,
    same_difference_in_means,
    same_ols,
    same_weighting,
    weighting,
    with_instruments,
)


@pytest.fixture(scope="module")
def frame():  # type: ignore[no-untyped-def]
    return make_frame()


@pytest.fixture(scope="module")
def on_dask(frame, to_dask, dask_client):  # type: ignore[no-untyped-def]
    return to_dask(frame, SIZES)


@pytest.mark.parametrize("case", OLS_CASES, ids=case_id)
def test_ols_on_dask_equals_memory(frame, on_dask, case):
    same_ols(ols(frame, case), ols(on_dask, case))


def test_difference_in_means_and_balance_on_dask(frame, on_dask):
    same_difference_in_means(difference_in_means(frame), difference_in_means(on_dask))


@pytest.mark.parametrize(("method", "case"), WEIGHTING_CASES, ids=str)
def test_weighting_on_dask_equals_memory(frame, on_dask, method, case):
    """IPW and AIPW: the logistic propensity's IRLS passes and the M-estimation sandwich run on the workers."""
    same_weighting(weighting(frame, method, case), weighting(on_dask, method, case))


def test_two_stage_least_squares_on_dask_equals_memory(to_dask, dask_client):
    data = with_instruments(make_frame())
    ref, got = iv(data), iv(to_dask(data, SIZES))
    close(ref.estimate, got.estimate)
    close(ref.std_error, got.std_error)
    np.testing.assert_allclose(got.coefficients.coef, ref.coefficients.coef, rtol=1e-9)
