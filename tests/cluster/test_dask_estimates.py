"""The estimates on a Dask DataFrame, run on a local cluster of 2 worker processes, equal the in-memory
path to 1e-9 relative (the data and the comparisons: _estimates.py)."""

from __future__ import annotations

import pytest
from _estimates import (
    OLS_CASES,
    SIZES,
    case_id,
    difference_in_means,
    make_frame,
    ols,
    same_difference_in_means,
    same_ols,
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
