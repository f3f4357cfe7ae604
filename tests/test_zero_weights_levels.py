"""Rows of weight 0 are not observations; categorical covariates use only the levels of the rows used.

Both are settled once, in the data layer's schema pass (``deconfound.data.scan_schema``), so every
estimator sees the same rows: these tests compare each fit with the fit on the data cleaned by hand.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import deconfound as dc

ZERO_WARNING = r"20 of 60 rows with weight 0 were left out"


def _cross_section(seed: int = 3, n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t = (rng.random(n) < 0.5).astype(int)
    w = np.where(np.arange(n) % 3 == 0, 0.0, rng.uniform(0.5, 2.0, n))
    return pd.DataFrame({"y": 1.0 + 2.0 * t + x + rng.normal(size=n), "t": t, "x": x, "w": w, "g": np.arange(n) % 25})


def _same_fit(a: dc.Estimate, b: dc.Estimate) -> None:
    assert a.n == b.n
    assert a.df == b.df
    assert a.estimate == pytest.approx(b.estimate, rel=1e-10)
    assert a.std_error == pytest.approx(b.std_error, rel=1e-10)
    assert a.coefficients is not None and b.coefficients is not None
    np.testing.assert_allclose(a.coefficients.std_err, b.coefficients.std_err, rtol=1e-10)


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster"])
@pytest.mark.parametrize("method", [dc.ols, dc.lin])
def test_zero_weights_equal_the_fit_on_the_rows_with_positive_weight(method, cov_type):
    df = _cross_section()
    before = df.copy()
    cluster = "g" if cov_type == "cluster" else None
    kw = dict(outcome="y", treatment="t", covariates="x", weights="w", cov_type=cov_type, cluster=cluster)
    with pytest.warns(dc.DataWarning, match=ZERO_WARNING):
        zero = method(df, **kw)
    positive = method(df[df.w > 0], **kw)
    _same_fit(zero, positive)
    assert zero.n == 40 and positive.n_dropped == 0
    assert zero.n_dropped == 20
    assert dict(zero.dropped_by) == {"w == 0": 20}
    assert any("20 row(s) with weight 0 were left out" in note for note in zero.notes)
    pd.testing.assert_frame_equal(df, before)


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC1"])
def test_ols_with_zero_weights_matches_statsmodels_wls_on_the_positive_rows(cov_type):
    df = _cross_section()
    with pytest.warns(dc.DataWarning, match=ZERO_WARNING):
        ours = dc.ols(df, outcome="y", treatment="t", covariates="x", weights="w", cov_type=cov_type)
    kept = df[df.w > 0]
    ref = sm.WLS(kept.y, sm.add_constant(kept[["t", "x"]]), weights=kept.w).fit(cov_type=cov_type)
    assert ours.estimate == pytest.approx(ref.params["t"], rel=1e-10)
    assert ours.std_error == pytest.approx(ref.bse["t"], rel=1e-10)
    assert ours.n == int(ref.nobs) == 40
    assert ours.df == ref.df_resid == 37


def _panel(seed: int = 5, units: int = 24, periods: int = 6) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(units), periods)
    time = np.tile(np.arange(periods), units)
    treated = (unit < units // 2) & (time >= periods // 2)
    y = 0.3 * unit + 0.2 * time + 1.5 * treated + rng.normal(size=units * periods)
    w = np.where(time % 3 == 0, 0.0, rng.uniform(0.5, 2.0, units * periods))  # a third of the rows
    return pd.DataFrame({"y": y, "d": treated.astype(int), "unit": unit, "time": time, "w": w})


@pytest.mark.parametrize("cov_type", [None, "nonrobust", "HC1"])
def test_twfe_with_zero_weights_equals_the_fit_on_the_rows_with_positive_weight(cov_type):
    df = _panel()
    kw = dict(outcome="y", treatment="d", unit="unit", time="time", weights="w", cov_type=cov_type)
    with pytest.warns(dc.DataWarning, match=r"48 of 144 rows with weight 0 were left out"):
        zero = dc.twfe(df, **kw)
    positive = dc.twfe(df[df.w > 0], **kw)
    assert zero.n == positive.n == 96
    assert zero.df == positive.df
    assert zero.estimate == pytest.approx(positive.estimate, rel=1e-9)
    assert zero.std_error == pytest.approx(positive.std_error, rel=1e-9)
    assert zero.n_dropped == 48


def test_twfe_with_zero_weights_matches_statsmodels_wls_with_dummies():
    df = _panel()
    with pytest.warns(dc.DataWarning, match=r"48 of 144 rows with weight 0 were left out"):
        ours = dc.twfe(df, outcome="y", treatment="d", unit="unit", time="time", weights="w", cov_type="nonrobust")
    kept = df[df.w > 0]
    dummies = pd.get_dummies(kept[["unit", "time"]].astype(str), drop_first=True, dtype=float)
    ref = sm.WLS(kept.y, sm.add_constant(pd.concat([kept[["d"]], dummies], axis=1)), weights=kept.w).fit()
    assert ours.estimate == pytest.approx(ref.params["d"], rel=1e-8)
    assert ours.std_error == pytest.approx(ref.bse["d"], rel=1e-8)
    assert ours.df == ref.df_resid


def test_zero_weights_are_counted_next_to_missing_values():
    df = _cross_section()
    df.loc[[1, 2, 3], "y"] = np.nan  # row 3 also has weight 0 (as rows 0, 6, 9, ...): counted as missing
    with pytest.warns(dc.DataWarning) as record:
        res = dc.ols(df, outcome="y", treatment="t", covariates="x", weights="w", missing="drop")
    messages = [str(r.message) for r in record]
    assert "3 of 60 rows were dropped for missing values ('y': 3)." in messages
    assert "19 of 60 rows with weight 0 were left out (not observations)." in messages
    assert res.n == 38 and res.n_dropped == 22
    assert dict(res.dropped_by) == {"y": 3, "w == 0": 19}


@pytest.mark.parametrize("bad", [[-1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
def test_negative_or_all_zero_weights_are_refused(bad):
    df = pd.DataFrame({"y": [1.0, 2.0, 3.0, 5.0], "t": [0, 1, 0, 1], "w": bad})
    with pytest.raises(dc.DataError, match=r"weights 'w' (has 1 negative value|is zero in every row)"):
        dc.ols(df, outcome="y", treatment="t", weights="w")


def test_zero_weights_can_leave_too_few_rows():
    df = pd.DataFrame({"y": [1.0, 2.0, 3.0, 5.0], "t": [0, 1, 0, 1], "w": [0.0, 0.0, 0.0, 1.0]})
    with pytest.raises(
        dc.DataError, match=r"Only 1 usable row\(s\) after removing missing values and rows of weight 0"
    ):
        dc.difference_in_means(df, outcome="y", treatment="t", weights="w")


# --------------------------------------------------------------------------------------------------
# categorical covariates with unused levels
# --------------------------------------------------------------------------------------------------


def _with_levels(seed: int = 8, n: int = 80) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.array(["a", "b", "c", "d"])[np.arange(n) % 4]
    t = (rng.random(n) < 0.5).astype(int)
    y = t + (g == "b") * 1.0 - (g == "c") * 0.5 + rng.normal(size=n)
    return pd.DataFrame({"y": y, "t": t, "x": rng.normal(size=n), "g": pd.Categorical(g)})


def _same_estimates(a: dc.Estimate, b: dc.Estimate) -> None:
    assert a.n == b.n
    assert a.estimate == pytest.approx(b.estimate, rel=1e-12)
    assert a.std_error == pytest.approx(b.std_error, rel=1e-12)
    assert a.coefficients is not None and b.coefficients is not None
    assert a.coefficients.names == b.coefficients.names
    np.testing.assert_allclose(a.coefficients.coef, b.coefficients.coef, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("method", [dc.ols, dc.lin])
def test_a_filtered_pandas_categorical_drops_its_unused_level(method):
    df = _with_levels()
    filtered = df[df.g != "d"]
    assert "d" in filtered.g.cat.categories
    res = method(filtered, outcome="y", treatment="t", covariates=["x", "g"])
    by_hand = method(
        filtered.assign(g=filtered.g.cat.remove_unused_categories()), outcome="y", treatment="t", covariates=["x", "g"]
    )
    _same_estimates(res, by_hand)
    assert any("1 level(s) without a used row left out ('d')" in note for note in res.notes)
    assert list(filtered.g.cat.categories) == ["a", "b", "c", "d"]  # the user's frame is unchanged


def test_a_polars_enum_with_levels_never_used():
    pl = pytest.importorskip("polars")
    df = _with_levels()
    frame = pl.DataFrame(
        {
            "y": df.y.to_numpy(),
            "t": df.t.to_numpy(),
            "x": df.x.to_numpy(),
            "g": pl.Series(df.g.astype(str).tolist(), dtype=pl.Enum(["a", "b", "c", "d", "e", "f"])),
        }
    )
    res = dc.ols(frame, outcome="y", treatment="t", covariates=["x", "g"])
    by_hand = dc.ols(df, outcome="y", treatment="t", covariates=["x", "g"])
    _same_estimates(res, by_hand)
    assert any("2 level(s) without a used row left out ('e', 'f')" in note for note in res.notes)


def test_a_level_whose_rows_were_dropped_for_missing_values():
    df = _with_levels()
    df.loc[df.g == "c", "y"] = np.nan
    with pytest.warns(dc.DataWarning, match=r"20 of 80 rows were dropped for missing values \('y': 20\)"):
        res = dc.ols(df, outcome="y", treatment="t", covariates=["x", "g"], missing="drop")
    kept = df[df.y.notna()]
    by_hand = dc.ols(
        kept.assign(g=kept.g.cat.remove_unused_categories()), outcome="y", treatment="t", covariates=["x", "g"]
    )
    _same_estimates(res, by_hand)
    assert res.n_dropped == 20


def test_a_level_whose_rows_all_have_weight_zero():
    df = _with_levels().assign(w=1.0)
    df.loc[df.g == "a", "w"] = 0.0  # the reference level disappears: "b" becomes the reference
    with pytest.warns(dc.DataWarning, match=r"20 of 80 rows with weight 0 were left out"):
        res = dc.ols(df, outcome="y", treatment="t", covariates=["x", "g"], weights="w")
    kept = df[df.w > 0]
    by_hand = dc.ols(
        kept.assign(g=kept.g.cat.remove_unused_categories()),
        outcome="y",
        treatment="t",
        covariates=["x", "g"],
        weights="w",
    )
    _same_estimates(res, by_hand)
    assert res.coefficients is not None
    assert "g[b]" not in res.coefficients.names and "g[c]" in res.coefficients.names


def test_a_categorical_left_with_one_used_level_is_refused():
    df = _with_levels()
    one = df[df.g == "b"]
    with pytest.raises(dc.DataError, match=r"covariate 'g' has a single level \('b'\); drop it from covariates"):
        dc.ols(one, outcome="y", treatment="t", covariates=["x", "g"])
