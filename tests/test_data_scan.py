"""The schema pass reads each float column's extremes once (the missing-value scan's minimum, then the
maximum; a two-level treatment's levels): the same refusals and messages as the full checks."""

import numpy as np
import pandas as pd
import pytest

import deconfound as dc
from deconfound.errors import DataError


def _frame(rng, n=200):
    return pd.DataFrame({"x": rng.normal(size=n), "t": rng.integers(0, 2, n), "y": rng.normal(size=n)})


CASES = [
    ("t", lambda d: np.where(d.t == 1, np.inf, 0.0), r"treatment 't' has \d+ infinite value\(s\)"),
    ("t", lambda d: d.t * 1e200, r"treatment 't' has values as large as 1e\+200"),
    ("x", lambda d: np.where(np.arange(len(d)) == 3, np.inf, d.x), r"covariate 'x' has 1 infinite value\(s\)"),
    ("x", lambda d: np.where(np.arange(len(d)) == 3, -1e200, d.x), r"covariate 'x' has values as large as 1e\+200"),
    ("y", lambda d: np.where(np.arange(len(d)) == 3, -np.inf, d.y), r"outcome 'y' has 1 infinite value\(s\)"),
    ("y", lambda d: np.full(len(d), 2.0), r"outcome 'y' takes the single value 2 in every used row"),
]


@pytest.mark.parametrize("case", range(len(CASES)))
@pytest.mark.parametrize("drop", [False, True])
def test_range_checks_from_the_scanned_extremes(rng, case, drop):
    column, change, message = CASES[case]
    df = _frame(rng)
    df[column] = change(df)
    missing = "raise"
    if drop:  # a missing value elsewhere: the checks run on the rows kept, without the scanned minima
        other = "x" if column != "x" else "y"
        df.loc[7, other] = np.nan
        missing = "drop"
    with pytest.raises(DataError, match=message):
        dc.matching(df, outcome="y", treatment="t", covariates=["x"], missing=missing)


def test_clean_columns_pass_with_and_without_dropped_rows(rng):
    df = _frame(rng)
    a = dc.matching(df, outcome="y", treatment="t", covariates=["x"])
    df.loc[5, "x"] = np.nan
    with pytest.warns(Warning):
        b = dc.matching(df, outcome="y", treatment="t", covariates=["x"], missing="drop")
    assert np.isfinite(a.estimate) and np.isfinite(b.estimate)
