"""Property-based tests (hypothesis) for one class of input: zero and degenerate weights and categorical
covariates with unused levels, through ols, lin, difference_in_means, ipw and matching.

Whatever the frame, each call gives our error or a finite estimate; the user's frame is unchanged; and
every row left out is counted (rows of weight 0 under their own key of ``dropped_by``).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import deconfound as dc

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LEVELS = ["p", "q", "r", "s", "u"]  # "u" is never drawn: always an unused level

_WEIGHT = {
    "some zero": st.sampled_from([0.0, 0.0, 0.5, 1.0, 2.0, 3.0]),
    "mostly zero": st.sampled_from([0.0] * 5 + [1.0]),
    "all zero": st.just(0.0),
    "constant": st.just(2.0),
    "tiny": st.sampled_from([0.0, 1e-150, 2e-150]),
    "spread": st.sampled_from([0.0, 1e-8, 1.0, 1e8]),
    "with missing": st.sampled_from([0.0, 1.0, np.nan]),
}


@st.composite
def weighted_frames(draw):
    n = draw(st.one_of(st.integers(0, 6), st.integers(12, 40), st.integers(12, 40)))
    kind = draw(st.sampled_from(sorted(_WEIGHT) + ["some zero"] * 3))
    event(f"weights: {kind}")
    w = draw(st.lists(_WEIGHT[kind], min_size=n, max_size=n))
    t = draw(st.lists(st.sampled_from([0, 1]), min_size=n, max_size=n))
    used_levels = draw(
        st.lists(st.sampled_from(LEVELS[:-1]), min_size=draw(st.sampled_from([1, 2, 2, 2])), max_size=4, unique=True)
    )
    c = draw(st.lists(st.sampled_from(used_levels), min_size=n, max_size=n))
    frame = pd.DataFrame(
        {
            "y": draw(st.lists(st.floats(-50, 50), min_size=n, max_size=n)),
            "t": pd.Series(t, dtype="int64"),
            "a": draw(st.lists(st.floats(-10, 10), min_size=n, max_size=n)),
            "c": pd.Categorical(c, categories=LEVELS),
            "w": pd.Series(w, dtype="float64"),
        }
    )
    if draw(st.booleans()) and n:  # zero weights only among the controls (a group that may vanish)
        frame.loc[frame.t == 1, "w"] = frame.loc[frame.t == 1, "w"].replace(0.0, 1.0)
    if draw(st.sampled_from([True, False, False, False])) and len(used_levels) > 2 and n:  # a level with no outcome
        frame.loc[frame.c == c[0], "y"] = np.nan
    return frame


_CALLS = {
    "ols": lambda df, miss: dc.ols(df, outcome="y", treatment="t", covariates=["a", "c"], weights="w", missing=miss),
    "lin": lambda df, miss: dc.lin(df, outcome="y", treatment="t", covariates=["a", "c"], weights="w", missing=miss),
    "difference_in_means": lambda df, miss: dc.difference_in_means(
        df, outcome="y", treatment="t", covariates=["a", "c"], weights="w", missing=miss
    ),
    "ipw": lambda df, miss: dc.ipw(
        df, outcome="y", treatment="t", covariates=["a", "c"], weights="w", missing=miss, cross_fit=False
    ),
    "matching": lambda df, miss: dc.matching(
        df, outcome="y", treatment="t", covariates=["a", "c"], weights="w", missing=miss, estimand="ATE"
    ),
}


def _zero_rows(frame: pd.DataFrame) -> int:
    """Rows of weight 0 with no missing value in a used column: the rows that must be counted as weight 0."""
    complete = frame[["y", "t", "a", "c", "w"]].notna().all(axis=1)
    return int(((frame.w == 0) & complete).sum())


@SETTINGS
@given(frame=weighted_frames(), call=st.sampled_from(sorted(_CALLS)), missing=st.sampled_from(["raise", "drop"]))
def test_zero_weights_and_unused_levels_give_our_error_or_a_finite_counted_result(frame, call, missing):
    before = frame.copy()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = _CALLS[call](frame, missing)
        except dc.DeconfoundError as exc:
            event(f"{call}: {type(exc).__name__}")
            res = None
    pd.testing.assert_frame_equal(frame, before)
    foreign = [w for w in caught if not issubclass(w.category, dc.DeconfoundWarning)]
    assert not foreign, [str(w.message) for w in foreign]
    if res is None:
        return
    event(f"{call}: result")
    assert math.isfinite(res.estimate)
    assert math.isfinite(res.std_error) or res.warnings, "a missing standard error must be explained"
    assert res.n + res.n_dropped == len(frame)
    zero = _zero_rows(frame)
    assert res.dropped_by.get("w == 0", 0) == zero
    if zero:
        assert any(f"{zero} of {len(frame)} rows with weight 0 were left out" in w for w in res.warnings)
    if res.coefficients is not None:
        assert "c[u]" not in res.coefficients.names  # the level never used has no column


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(20, 60), method=st.sampled_from(["ols", "lin"]), data=st.data())
def test_integer_weights_with_zeros_equal_repeated_rows(seed, n, method, data):
    """A frequency weight of 0 is a row that is absent (n, degrees of freedom and every standard error)."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"x": rng.normal(size=n), "t": np.arange(n) % 2})
    df["y"] = df.t + df.x + rng.normal(size=n)
    counts = np.asarray(data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)))
    counts[:10] = [1, 1, 2, 2, 1, 3, 1, 2, 1, 1]  # both groups keep rows
    call = getattr(dc, method)
    kw = dict(outcome="y", treatment="t", covariates="x", cov_type="nonrobust")
    n_zero = int((counts == 0).sum())
    if n_zero:
        with pytest.warns(dc.DataWarning, match=rf"{n_zero} of {n} rows with weight 0 were left out"):
            weighted = call(df.assign(w=counts.astype(float)), weights="w", **kw)
    else:
        weighted = call(df.assign(w=counts.astype(float)), weights="w", **kw)
    repeated = call(df.loc[df.index.repeat(counts)], **kw)
    assert weighted.estimate == pytest.approx(repeated.estimate, rel=1e-9, abs=1e-12)
    assert weighted.n == int((counts > 0).sum())
    assert weighted.n_dropped == n_zero
