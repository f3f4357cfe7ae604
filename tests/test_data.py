"""Bad input ends in our own exception naming the problem; inputs are never modified; file and polars input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import deconfound as dc

# Few clusters draw a warning (tests/estimators/test_few_clusters.py checks it); here only the numbers matter.
pytestmark = pytest.mark.filterwarnings(r"ignore:Only \d+ clusters:deconfound.errors.DiagnosticWarning")


@pytest.fixture
def df():
    rng = np.random.default_rng(31)
    n = 60
    return pd.DataFrame(
        {
            "y": rng.normal(size=n),
            "t": rng.binomial(1, 0.5, n),
            "x": rng.normal(size=n),
            "region": rng.choice(["north", "south", "east"], n),
            "g": rng.integers(0, 10, n),
            "w": rng.uniform(0.5, 2.0, n),
            "I.H": rng.normal(50, 15, n),
        }
    )


def ols(data, **kw):
    kw.setdefault("outcome", "y")
    kw.setdefault("treatment", "t")
    return dc.ols(data, **kw)


# --------------------------------------------------------------------------------------------------
# columns
# --------------------------------------------------------------------------------------------------


def test_missing_column(df):
    with pytest.raises(dc.DataError, match=r"covariate 'age' is not a column of the data\. Columns: 'y', 't'"):
        ols(df, covariates=["x", "age"])


@pytest.mark.parametrize(
    "kw,role,typo,suggestion",
    [
        ({"outcome": "Y"}, "outcome", "Y", "y"),
        ({"treatment": "tt"}, "treatment", "tt", "t"),
        ({"covariates": ["regoin"]}, "covariate", "regoin", "region"),
        ({"weights": "ww"}, "weights", "ww", "w"),
        ({"cluster": "gg", "cov_type": "cluster"}, "cluster", "gg", "g"),
        ({"covariates": ["I_H"]}, "covariate", "I_H", "I.H"),
    ],
)
def test_typo_suggests_the_closest_column(df, kw, role, typo, suggestion):
    expected = rf"{role} '{typo}' is not a column of the data\. Did you mean '{suggestion}'"
    with pytest.raises(dc.DataError, match=expected):
        ols(df, **kw)


def test_typo_in_formula_suggests(df):
    with pytest.raises(dc.DataError, match=r"formula variable 'regoin' is not a column.*Did you mean 'region'"):
        dc.ols(df, "y ~ t + C(regoin)", treatment="t")
    with pytest.raises(dc.DataError, match=r"formula variable 'I_H' is not a column.*Did you mean 'I.H'"):
        dc.ols(df, "y ~ t + Q('I_H')", treatment="t")


def test_duplicated_column_names(df):
    dup = df[["y", "t", "x", "x"]]
    with pytest.raises(dc.DataError, match=r"duplicated column names: \['x'\]\. Rename them"):
        ols(dup, covariates=["x"])
    assert ols(dup).n == len(df)  # a duplicated column that is not used does not matter


def test_empty_frame(df):
    with pytest.raises(dc.DataError, match="The data has no rows"):
        ols(df.iloc[:0])
    with pytest.raises(dc.DataError, match="The data has no rows"):
        dc.difference_in_means(df.iloc[:0], outcome="y", treatment="t")
    with pytest.raises(dc.DataError, match="outcome 'y' is not a column of the data"):
        ols(pd.DataFrame())


def test_not_a_table():
    with pytest.raises(dc.DataError, match="data must be a pandas or polars DataFrame or a path"):
        ols([[1, 2], [3, 4]])


# --------------------------------------------------------------------------------------------------
# treatment
# --------------------------------------------------------------------------------------------------


def test_non_binary_treatment(df):
    df["t"] = np.arange(len(df)) % 3
    with pytest.raises(dc.DataError, match=r"treatment 't' must be binary .* but has 3 distinct values.*method='ols'"):
        dc.difference_in_means(df, outcome="y", treatment="t")
    with pytest.raises(dc.DataError, match=r"treatment 't' must be binary"):
        dc.lin(df, outcome="y", treatment="t", covariates=["x"])


def test_multi_level_string_treatment(df):
    with pytest.raises(dc.DataError, match=r"treatment 'region' must have two levels but has 3.*treated_level="):
        dc.difference_in_means(df, outcome="y", treatment="region")


def test_constant_treatment(df):
    df["t"] = 1
    with pytest.raises(dc.DataError, match=r"treatment 't' is constant \(every used row has 1\)"):
        ols(df)
    with pytest.raises(dc.DataError, match=r"treatment 't' is constant"):
        dc.difference_in_means(df, outcome="y", treatment="t")


def test_treated_level_that_does_not_occur(df):
    df["arm"] = np.where(df["t"] == 1, "drug", "placebo")
    with pytest.raises(dc.SpecificationError, match=r"treated_level='Drug' does not occur in treatment 'arm'"):
        ols(df, treatment="arm", treated_level="Drug")


def test_too_few_treated_for_a_difference_in_means(df):
    df["t"] = 0
    df.loc[0, "t"] = 1
    with pytest.raises(dc.DataError, match="at least two treated and two control rows; got 1 treated"):
        dc.difference_in_means(df, outcome="y", treatment="t")


# --------------------------------------------------------------------------------------------------
# values
# --------------------------------------------------------------------------------------------------


def test_all_nan_column(df):
    df["x"] = np.nan
    for missing in ("raise", "drop"):
        with pytest.raises(dc.DataError, match=r"column 'x' is entirely missing \(60 rows\)"):
            ols(df, covariates=["x"], missing=missing)


@pytest.mark.parametrize("role", ["outcome", "weights"])
def test_strings_where_numbers_are_needed(df, role):
    kw = {"outcome": "region"} if role == "outcome" else {"weights": "region"}
    with pytest.raises(dc.DataError, match=rf"{role} 'region' must be numeric, but it holds values such as"):
        ols(df, **kw)


def test_mostly_numeric_text_covariate(df):
    df["income"] = [str(v) for v in np.arange(len(df))]
    df.loc[3, "income"] = "n/a"
    with pytest.raises(dc.DataError, match=r"covariate 'income' is mostly numbers but holds 1 value\(s\).*\['n/a'\]"):
        ols(df, covariates=["income"])


def test_dates_are_refused(df):
    df["day"] = pd.date_range("2020-01-01", periods=len(df))
    with pytest.raises(dc.DataError, match=r"covariate 'day' holds dates or durations"):
        ols(df, covariates=["day"])


def test_constant_outcome(df):
    df["y"] = 3.0
    with pytest.raises(dc.DataError, match=r"outcome 'y' takes the single value 3 in every used row"):
        ols(df)


@pytest.mark.parametrize("column,role", [("y", "outcome"), ("x", "covariate"), ("w", "weights")])
def test_infinite_values(df, column, role):
    df.loc[5, column] = np.inf
    with pytest.raises(dc.DataError, match=rf"{role} '{column}' has 1 infinite value\(s\)"):
        ols(df, covariates=["x"], weights="w")


def test_negative_weights(df):
    df.loc[[1, 2], "w"] = -1.0
    with pytest.raises(dc.DataError, match=r"weights 'w' has 2 negative value\(s\); weights must be >= 0"):
        ols(df, weights="w")
    df["w"] = 0.0
    with pytest.raises(dc.DataError, match="weights 'w' is zero in every row"):
        dc.difference_in_means(df, outcome="y", treatment="t", weights="w")


def test_fewer_rows_than_parameters(df):
    with pytest.raises(dc.DataError, match=r"4 usable rows but 5 coefficients to estimate \(const, t, x, region"):
        ols(df.iloc[:4], covariates=["x", "region"])


def test_formula_transformation_producing_nan(df):
    with pytest.raises(dc.DataError, match=r"formula produced missing or infinite values in \['np.log\(x\)'\]"):
        dc.ols(df, "y ~ t + np.log(x)", treatment="t")


# --------------------------------------------------------------------------------------------------
# missing values
# --------------------------------------------------------------------------------------------------


def test_missing_values_error_by_default_names_each_column(df):
    df.loc[[0, 1], "x"] = np.nan
    df.loc[[1, 2, 3], "y"] = np.nan
    with pytest.raises(dc.DataError, match=r"Missing values in 'y' \(3 rows\), 'x' \(2 rows\)\. Pass missing='drop'"):
        ols(df, covariates=["x"])


def test_missing_drop_reports_the_count_and_warns(df):
    df.loc[[0, 1], "x"] = np.nan
    df.loc[[1, 2, 3], "y"] = np.nan
    df.loc[[10, 11], "unused"] = np.nan  # columns not used never cost rows
    with pytest.warns(dc.DataWarning, match=r"4 of 60 rows were dropped for missing values \('y': 3, 'x': 2\)"):
        r = ols(df, covariates=["x"], missing="drop")
    assert r.n == 56 and r.n_dropped == 4 and dict(r.dropped_by) == {"y": 3, "x": 2}
    assert r.to_dict()["n_dropped"] == 4
    assert any("rows were dropped" in w for w in r.warnings)
    ref = ols(df.dropna(subset=["y", "x"]), covariates=["x"])
    assert r.estimate == pytest.approx(ref.estimate, rel=1e-12)
    with pytest.warns(dc.DataWarning, match="4 of 60 rows were dropped"):
        f = dc.ols(df, "y ~ t + x", treatment="t", missing="drop")
    assert f.estimate == pytest.approx(ref.estimate, rel=1e-12) and f.n_dropped == 4


def test_missing_option_is_checked(df):
    with pytest.raises(dc.SpecificationError, match=r"missing='dropp' is not allowed; choose one of 'raise', 'drop'"):
        ols(df, missing="dropp")


def test_dropping_everything(df):
    df["x"] = np.where(df["t"] == 1, np.nan, df["x"])
    df["y"] = np.where(df["t"] == 0, np.nan, df["y"])
    with pytest.raises(dc.DataError, match=r"Only 0 usable row\(s\) after removing missing values"):
        ols(df, covariates=["x"], missing="drop")


# --------------------------------------------------------------------------------------------------
# options
# --------------------------------------------------------------------------------------------------


def test_option_errors(df):
    with pytest.raises(dc.SpecificationError, match=r"cov_type='HC5' is not allowed; choose one of 'nonrobust'"):
        ols(df, cov_type="HC5")
    with pytest.raises(dc.SpecificationError, match=r"cov_type='cluster' needs cluster="):
        ols(df, cov_type="cluster")
    with pytest.raises(dc.SpecificationError, match=r"cluster= was given but cov_type='HC1'"):
        ols(df, cov_type="HC1", cluster="g")
    with pytest.raises(dc.SpecificationError, match=r"level must be strictly between 0 and 1, got 95 \(did you mean"):
        ols(df, level=95)
    with pytest.raises(dc.SpecificationError, match=r"treatment 't' is also listed among the covariates"):
        ols(df, covariates=["x", "t"])
    with pytest.raises(dc.SpecificationError, match=r"ols\(\) needs outcome= and treatment="):
        dc.ols(df, outcome="y")
    with pytest.raises(dc.SpecificationError, match=r"formula 'y \+ t' has no '~'"):
        dc.ols(df, "y + t")
    with pytest.raises(dc.SpecificationError, match=r"Could not parse formula 'y ~ t \+ \(': "):
        dc.ols(df, "y ~ t + (")


def test_one_cluster(df):
    df["g"] = 1
    with pytest.raises(dc.DataError, match="need at least two clusters; the data has one"):
        ols(df, cluster="g")


# --------------------------------------------------------------------------------------------------
# inputs: files, polars, and never modified
# --------------------------------------------------------------------------------------------------


def test_csv_and_parquet_paths_give_the_same_result(df, tmp_path):
    base = ols(df, covariates=["x", "region"], cov_type="HC1")
    extra = df.assign(junk=["?"] * len(df))  # columns not used are never read
    extra.loc[0, "junk"] = None
    csv, parquet = tmp_path / "d.csv", tmp_path / "d.parquet"
    extra.to_csv(csv, index=False)
    extra.to_parquet(parquet)
    for path in (csv, str(csv), parquet, str(parquet)):
        r = ols(path, covariates=["x", "region"], cov_type="HC1")
        assert r.estimate == pytest.approx(base.estimate, rel=1e-12)
        assert r.std_error == pytest.approx(base.std_error, rel=1e-12)
    with pytest.raises(dc.DataError, match=r"covariate 'regoin' is not a column of the data\. Did you mean 'region'"):
        ols(csv, covariates=["regoin"])
    r = dc.ols(parquet, "y ~ t + Q('I.H')", treatment="t")
    assert r.estimate == pytest.approx(dc.ols(df, "y ~ t + Q('I.H')", treatment="t").estimate, rel=1e-12)


def test_unreadable_and_absent_files(tmp_path):
    with pytest.raises(dc.DataError, match=r"No such data file: '.*nothing\.csv'"):
        ols(tmp_path / "nothing.csv")
    bad = tmp_path / "bad.parquet"
    bad.write_text("this is not parquet")
    with pytest.raises(dc.DataError, match=r"Could not read '.*bad\.parquet' as a CSV or Parquet file"):
        ols(bad)


def test_polars_frame(df):
    import polars as pl  # a test dependency: missing, the test fails instead of skipping

    frame = pl.from_pandas(df)
    for fn in (
        lambda d: ols(d, covariates=["x", "region"], weights="w"),
        lambda d: dc.difference_in_means(d, outcome="y", treatment="t", randomized=True),
        lambda d: dc.lin(d, outcome="y", treatment="t", covariates=["x"]),
        lambda d: dc.ols(d, "y ~ t + x + C(region)", treatment="t", cluster="g"),
    ):
        assert fn(frame).estimate == pytest.approx(fn(df).estimate, rel=1e-12)
    with pytest.raises(dc.DataError, match=r"covariate 'regoin' is not a column of the data\. Did you mean 'region'"):
        ols(frame, covariates=["regoin"])
    nulls = frame.with_columns(pl.when(pl.col("g") == 0).then(None).otherwise(pl.col("x")).alias("x"))
    with pytest.raises(dc.DataError, match=r"Missing values in 'x' \(\d+ rows\)"):
        ols(nulls, covariates=["x"])


def test_user_frame_is_never_modified(df):
    df.loc[[0, 1], "x"] = np.nan
    df["arm"] = np.where(df["t"] == 1, "drug", "placebo")
    df["cat"] = df["region"].astype("category")
    before = df.copy(deep=True)
    calls = [
        lambda: ols(df, treatment="arm", covariates=["x", "cat"], missing="drop", weights="w"),
        lambda: dc.ols(df, "y ~ t + x + C(region)", treatment="t", missing="drop", cluster="g"),
        lambda: dc.lin(df, outcome="y", treatment="arm", covariates=["x", "region"], missing="drop"),
        lambda: dc.difference_in_means(df, outcome="y", treatment="arm", covariates=["x", "cat"], missing="drop"),
    ]
    for call in calls:
        dropped = r"2 of \d+ rows were dropped for missing values \('x': 2\)|randomly assigned"
        with pytest.warns(dc.DeconfoundWarning, match=dropped) as record:
            call()
        assert any("rows were dropped" in str(w.message) for w in record)
        pd.testing.assert_frame_equal(df, before)
    assert df.attrs == before.attrs


def test_float_columns_are_read_in_place_and_left_untouched():
    """float64 columns are zero-copy views of the user's frame (also for a frame built from one 2-D array),
    and nothing in the pipeline writes through them."""
    from deconfound.data import prepare

    rng = np.random.default_rng(33)
    values = rng.normal(size=(200, 4))
    values[:, 1] = rng.binomial(1, 0.5, 200)
    values[:, 3] = np.abs(values[:, 3]) + 0.1
    frame = pd.DataFrame(values, columns=["y", "t", "x", "w"])
    before = frame.copy(deep=True)
    prep = prepare(frame, outcome="y", treatment="t", covariates=["x"], weights="w")
    assert np.shares_memory(prep.outcome, frame["y"].to_numpy())
    assert np.shares_memory(prep.covariates.parts[0].values, frame["x"].to_numpy())
    assert np.shares_memory(prep.weights, frame["w"].to_numpy())
    for cov_type in ("nonrobust", "HC0", "HC1", "HC2", "HC3"):
        dc.ols(frame, outcome="y", treatment="t", covariates=["x"], weights="w", cov_type=cov_type)
    dc.ols(frame.assign(g=np.arange(200) % 7), outcome="y", treatment="t", covariates=["x"], cluster="g")
    dc.lin(frame, outcome="y", treatment="t", covariates=["x"], weights="w")
    dc.difference_in_means(frame, outcome="y", treatment="t", covariates=["x"], weights="w", randomized=True)
    pd.testing.assert_frame_equal(frame, before)


def test_a_treatment_whose_treated_level_is_not_obvious_is_refused():
    # 'not enrolled' sorts after 'enrolled': it used to be coded treated, flipping the sign of the effect
    rng = np.random.default_rng(4)
    enrolled = rng.integers(0, 2, 200)
    df = pd.DataFrame({"status": np.where(enrolled == 1, "enrolled", "not enrolled"), "x": rng.normal(size=200)})
    df["y"] = 3.0 * enrolled + df["x"] + rng.normal(size=200)
    with pytest.raises(dc.SpecificationError, match=r"'enrolled' and 'not enrolled'.*treated_level='enrolled'"):
        dc.ols(df, outcome="y", treatment="status", covariates=["x"])
    fit = dc.ols(df, outcome="y", treatment="status", covariates=["x"], treated_level="enrolled")
    assert fit.estimate > 2.0  # the sign the data were made with


@pytest.mark.parametrize(
    ("levels", "treated"),
    [(("treated", "control"), "treated"), (("drug", "placebo"), "drug"), (("yes", "no"), "yes"), (("on", "x"), "on")],
)
def test_obvious_treated_levels_are_read(levels, treated):
    rng = np.random.default_rng(5)
    arm = rng.integers(0, 2, 100)
    df = pd.DataFrame({"arm": np.where(arm == 1, levels[0], levels[1]), "y": 2.0 * arm + rng.normal(size=100)})
    with pytest.warns(dc.DiagnosticWarning, match="randomly assigned"):
        est = dc.difference_in_means(df, outcome="y", treatment="arm")
    assert est.treatment_mapping["treated"] == treated and est.estimate > 1.0
