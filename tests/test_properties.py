"""Property-based tests (hypothesis): random frames only ever raise our errors; invariances of the estimates."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import deconfound as dc

# Few clusters draw a warning (tests/estimators/test_few_clusters.py checks it); here only the numbers matter.
pytestmark = pytest.mark.filterwarnings(r"ignore:Only \d+ clusters:deconfound.errors.DiagnosticWarning")


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --------------------------------------------------------------------------------------------------
# random frames
# --------------------------------------------------------------------------------------------------

_ELEMENTS = {
    "float": st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(-10, 10)),
    "finite": st.floats(-100, 100),
    "positive": st.floats(0.01, 100),
    "int": st.integers(-3, 3),
    "bool": st.booleans(),
    "text": st.sampled_from(["a", "b", "c", "1", "2.5", "", "n/a"]),
    "mixed": st.one_of(st.none(), st.integers(-2, 2), st.floats(-5, 5), st.text(max_size=2)),
    "binary": st.sampled_from([0, 1]),
    "nan": st.just(np.nan),
}
_ODD = ["float", "int", "bool", "text", "mixed", "nan"]
# per column: mostly a sensible kind, sometimes anything
_COLUMN_KINDS = {
    "y": ["finite"] * 6 + _ODD,
    "t": ["binary"] * 6 + _ODD,
    "a": ["finite"] * 4 + ["text"] + _ODD,
    "b": ["finite"] * 4 + ["binary"] + _ODD,
    "w": ["positive"] * 4 + _ODD,
    "g": ["int"] * 4 + ["text"] + _ODD,
}


@st.composite
def frames(draw):
    """Small frames whose columns are each of a random kind: floats (any), ints, bools, text, mixed, NaN..."""
    n = draw(st.one_of(st.integers(0, 6), st.integers(8, 30)))
    odd = draw(st.sampled_from(sorted(_COLUMN_KINDS) + [None] * 3))  # often a single odd column, or none
    chaos = draw(st.booleans()) and odd is not None
    columns = {}
    for name, kinds in _COLUMN_KINDS.items():
        kind = draw(st.sampled_from(kinds)) if chaos or name == odd else kinds[0]
        values = draw(st.lists(_ELEMENTS[kind], min_size=n, max_size=n))
        columns[name] = pd.Series(values, dtype=object if kind == "mixed" else None)
    return pd.DataFrame(columns)


_calls = st.sampled_from(["naive", "ols", "formula", "lin"])


@SETTINGS
@given(
    frame=frames(),
    call=_calls,
    cov_type=st.sampled_from([None, "HC0", "HC1", "HC2", "HC3", "cluster"]),
    weights=st.booleans(),
    missing=st.sampled_from(["raise", "drop"]),
    randomized=st.booleans(),
)
def test_random_frames_raise_only_our_errors(frame, call, cov_type, weights, missing, randomized):
    before = frame.copy(deep=True)
    kw = {"outcome": "y", "treatment": "t", "weights": "w" if weights else None, "missing": missing}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if call == "naive":
                r = dc.difference_in_means(frame, covariates=["a", "b"], randomized=randomized, **kw)
            elif call == "ols":
                cluster = "g" if cov_type == "cluster" else None
                r = dc.ols(frame, covariates=["a", "b"], cov_type=cov_type, cluster=cluster, **kw)
            elif call == "formula":
                cluster = "g" if cov_type == "cluster" else None
                r = dc.ols(
                    frame,
                    "y ~ t + a + b",
                    treatment="t",
                    cov_type=cov_type,
                    cluster=cluster,
                    **{k: v for k, v in kw.items() if k not in ("outcome", "treatment")},
                )
            else:
                r = dc.lin(
                    frame,
                    covariates=["a", "b"],
                    cov_type=cov_type or "HC2",
                    cluster="g" if cov_type == "cluster" else None,
                    **kw,
                )
        except dc.DeconfoundError as exc:
            event(type(exc).__name__)
            r = None
        else:
            event("estimate")
    stray = [w for w in caught if not issubclass(w.category, dc.DeconfoundWarning)]
    assert not stray, [str(w.message) for w in stray]
    pd.testing.assert_frame_equal(frame, before)
    if r is not None:
        assert np.isfinite(r.estimate)
        assert np.isfinite(r.std_error) and r.std_error >= 0
        r.to_dict()
        str(r.summary())


# --------------------------------------------------------------------------------------------------
# invariances
# --------------------------------------------------------------------------------------------------

INVARIANCE = settings(max_examples=40, deadline=None)


def _frame(seed: int, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    t = np.r_[0, 0, 1, 1, rng.binomial(1, 0.5, n - 4)]
    y = 1 + x @ [1.0, -0.5] + t * (1 + x[:, 0]) + rng.normal(size=n) * (1 + t)
    return pd.DataFrame(
        {"y": y, "t": t, "a": x[:, 0], "b": x[:, 1], "s": rng.choice(["p", "q"], n), "g": rng.integers(0, 6, n)}
    )


def _estimate(df, method, cov_type, **kw):
    if method == "naive":
        return dc.difference_in_means(df, outcome="y", treatment="t", randomized=True, **kw)
    cluster = "g" if cov_type == "cluster" else None
    if method == "lin":
        return dc.lin(df, outcome="y", treatment="t", covariates=["a", "b"], cov_type=cov_type, cluster=cluster, **kw)
    return dc.ols(df, outcome="y", treatment="t", covariates=["a", "b", "s"], cov_type=cov_type, cluster=cluster, **kw)


_methods = st.sampled_from(["naive", "ols", "lin"])
_covs = st.sampled_from(["nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster"])


@INVARIANCE
@given(seed=st.integers(0, 10_000), n=st.integers(20, 80), c=st.floats(-1e4, 1e4), method=_methods, cov=_covs)
def test_shifting_the_outcome_leaves_the_effect_unchanged(seed, n, c, method, cov):
    df = _frame(seed, n)
    base = _estimate(df, method, cov)
    shifted = _estimate(df.assign(y=df["y"] + c), method, cov)
    assert shifted.estimate == pytest.approx(base.estimate, rel=1e-7, abs=1e-9)
    assert shifted.std_error == pytest.approx(base.std_error, rel=1e-7)


@INVARIANCE
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(20, 80),
    a=st.one_of(st.floats(1e-3, 1e3), st.floats(-1e3, -1e-3)),
    method=_methods,
    cov=_covs,
)
def test_scaling_the_outcome_scales_effect_and_std_error(seed, n, a, method, cov):
    df = _frame(seed, n)
    base = _estimate(df, method, cov)
    scaled = _estimate(df.assign(y=df["y"] * a), method, cov)
    assert scaled.estimate == pytest.approx(a * base.estimate, rel=1e-9)
    assert scaled.std_error == pytest.approx(abs(a) * base.std_error, rel=1e-9)
    assert scaled.p_value == pytest.approx(base.p_value, rel=1e-7, abs=1e-300)


@INVARIANCE
@given(seed=st.integers(0, 10_000), n=st.integers(20, 80), method=_methods, cov=_covs, data=st.data())
def test_permuting_rows_changes_nothing(seed, n, method, cov, data):
    df = _frame(seed, n)
    order = data.draw(st.permutations(range(n)))
    base = _estimate(df, method, cov)
    perm = _estimate(df.iloc[list(order)], method, cov)
    for name in ("estimate", "std_error", "p_value", "ci_low", "ci_high", "n", "n_treated"):
        assert getattr(perm, name) == pytest.approx(getattr(base, name), rel=1e-10, abs=1e-300), name
    if base.coefficients is not None:
        np.testing.assert_allclose(perm.coefficients.coef, base.coefficients.coef, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(perm.coefficients.std_err, base.coefficients.std_err, rtol=1e-10)


@INVARIANCE
@given(seed=st.integers(0, 10_000), n=st.integers(20, 60), method=_methods, data=st.data())
def test_integer_frequency_weights_equal_duplicated_rows(seed, n, method, data):
    df = _frame(seed, n)
    counts = np.asarray(data.draw(st.lists(st.integers(1, 4), min_size=n, max_size=n)))
    weighted = _estimate(df.assign(w=counts.astype(float)), method, "HC1", weights="w")
    duplicated = _estimate(df.loc[df.index.repeat(counts)], method, "HC1")
    assert weighted.estimate == pytest.approx(duplicated.estimate, rel=1e-9, abs=1e-12)
    if weighted.coefficients is not None:
        np.testing.assert_allclose(weighted.coefficients.coef, duplicated.coefficients.coef, rtol=1e-9, atol=1e-12)
