"""Input is read as written: ragged CSV rows, complex numbers, column names with commas, duplicated headers."""

from __future__ import annotations

import datetime
import decimal
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import deconfound as dc
from deconfound.data import load_table


@pytest.fixture
def df():
    rng = np.random.default_rng(5)
    n = 40
    return pd.DataFrame(
        {
            "y": rng.normal(size=n),
            "t": rng.binomial(1, 0.5, n),
            "x": rng.normal(size=n),
            "z": rng.normal(size=n),
        }
    )


# --------------------------------------------------------------------------------------------------
# ragged CSV rows
# --------------------------------------------------------------------------------------------------


def test_a_row_with_extra_fields_is_refused_not_truncated(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("a,b\n1,2\n2,1,9,9\n3,4\n")
    with pytest.raises(dc.DataError, match=r"line 3 of .*ragged\.csv.* has 4 fields but the header has 2"):
        load_table(path, ["a", "b"])
    with pytest.raises(dc.DataError, match=r"line 3 .* has 4 fields but the header has 2"):
        load_table(path, ["a"])
    with pytest.raises(dc.DataError, match=r"line 3 .* has 4 fields but the header has 2"):
        load_table(path)


def test_big_files_are_checked_while_pandas_reads_them(tmp_path, monkeypatch):
    import deconfound.data

    monkeypatch.setattr(deconfound.data, "PARALLEL_CHECK_BYTES", 0)  # every file counts as big
    path = tmp_path / "ragged.csv"
    path.write_text("a,b\n1,2\n2,1,9,9\n3,4\n")
    with pytest.raises(dc.DataError, match=r"line 3 .* has 4 fields but the header has 2"):
        load_table(path, ["a"])
    path.write_text("a,b\n1,2\n2,1\n3,4\n")
    assert load_table(path, ["b"])["b"].tolist() == [2, 1, 4]


def test_a_trailing_comma_or_a_short_row_is_refused(tmp_path):
    trailing = tmp_path / "trailing.csv"
    trailing.write_text("a,b\n1,2\n2,1,\n")
    with pytest.raises(dc.DataError, match=r"line 3 .* has 3 fields but the header has 2.*Fix the file"):
        load_table(trailing, ["a"])
    short = tmp_path / "short.csv"
    short.write_text("a,b,c\n1,2,3\n4,5,6\n7\n")
    with pytest.raises(dc.DataError, match=r"line 4 .* has 1 field but the header has 3"):
        load_table(short, ["a"])


def test_a_ragged_file_is_refused_by_the_estimators_and_the_cli(tmp_path, capsys):
    from deconfound.cli import main

    path = tmp_path / "ragged.csv"
    rows = ["y,t"] + [f"{i % 7},{i % 2}" for i in range(20)] + ["2,1,9,9"]
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(dc.DataError, match=r"line 22 .* has 4 fields but the header has 2"):
        dc.difference_in_means(path, outcome="y", treatment="t")
    assert main(["estimate", str(path), "--outcome", "y", "--treatment", "t", "--method", "ols"]) != 0
    assert "line 22" in capsys.readouterr().err


def test_quoted_commas_and_newlines_are_one_field(tmp_path):
    path = tmp_path / "quoted.csv"
    path.write_text('a,b,note\n1,2,"x, y"\n3,4,"two\nlines"\n\n5,6,plain\n')
    frame = load_table(path, ["a", "note"])
    assert frame["a"].tolist() == [1, 3, 5]
    assert frame["note"].tolist() == ["x, y", "two\nlines", "plain"]


def test_windows_line_ends_and_blank_lines_are_fine(tmp_path):
    path = tmp_path / "crlf.csv"
    path.write_bytes(b"a,b\r\n1,2\r\n\r\n3,4\r\n")
    assert load_table(path, ["b"])["b"].tolist() == [2, 4]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    widths=st.lists(st.integers(min_value=1, max_value=6), min_size=1, max_size=12),
    header=st.integers(min_value=1, max_value=5),
)
def test_ragged_rows_property(tmp_path, widths, header):
    """Any file whose rows do not all have the header's width is refused; a rectangular one is read whole."""
    names = [f"c{j}" for j in range(header)]
    lines = [",".join(names)] + [",".join(str(i + j) for j in range(w)) for i, w in enumerate(widths)]
    path = tmp_path / "p.csv"
    path.write_text("\n".join(lines) + "\n")
    bad = [i for i, w in enumerate(widths) if w != header]
    if bad:
        first = bad[0]
        with pytest.raises(dc.DataError, match=rf"line {first + 2} .* has {widths[first]} field"):
            load_table(path, names[:1])
    else:
        frame = load_table(path, names[-1:])
        assert frame[names[-1]].tolist() == [i + header - 1 for i in range(len(widths))]


# --------------------------------------------------------------------------------------------------
# complex numbers
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["outcome", "treatment", "covariates", "weights"])
def test_complex_columns_are_refused(df, role):
    frame = df.assign(c=df["x"] + 1j)
    if role == "treatment":
        frame["c"] = df["t"] + 0.5j
    if role == "weights":
        frame["c"] = 1.0 + 0.5j
    kw = {"outcome": "y", "treatment": "t", role: "c"}
    named = {"covariates": "covariate"}.get(role, role)
    with pytest.raises(dc.DataError, match=rf"^{named} 'c' holds complex numbers.*real part"):
        dc.ols(frame, **kw)


def test_complex_objects_and_formula_terms_are_refused(df):
    frame = df.assign(c=[complex(v, 1) for v in df["x"]])
    with pytest.raises(dc.DataError, match=r"covariate 'c' holds complex numbers"):
        dc.ols(frame, outcome="y", treatment="t", covariates="c")
    with pytest.raises(dc.DataError, match=r"holds complex numbers"):
        dc.ols(df.assign(c=df["x"] + 1j), "y ~ t + c")
    mixed = df.assign(c=pd.Series(["a", 2j] * (len(df) // 2), dtype=object))
    with pytest.raises(dc.DataError, match=r"covariate 'c' holds complex numbers"):
        dc.ols(mixed, outcome="y", treatment="t", covariates="c")


# --------------------------------------------------------------------------------------------------
# a column whose name holds a comma
# --------------------------------------------------------------------------------------------------


def test_a_column_named_with_a_comma_is_one_covariate(df):
    frame = df.rename(columns={"x": "x,z"}).drop(columns="z")
    r = dc.ols(frame, outcome="y", treatment="t", covariates="x,z")
    ref = dc.ols(df, outcome="y", treatment="t", covariates=["x"])
    assert r.estimate == ref.estimate
    assert r.std_error == ref.std_error
    lin = dc.lin(frame, outcome="y", treatment="t", covariates="x,z")
    assert lin.estimate == dc.lin(df, outcome="y", treatment="t", covariates="x").estimate
    # the comma still separates names when no column is named so
    two = dc.ols(df, outcome="y", treatment="t", covariates="x, z")
    assert two.estimate == dc.ols(df, outcome="y", treatment="t", covariates=["x", "z"]).estimate


def test_a_comma_name_through_the_model_and_other_families(df):
    frame = df.rename(columns={"x": "x,z"}).drop(columns="z")
    ref = dc.ols(df, outcome="y", treatment="t", covariates=["x"]).estimate
    model = dc.CausalModel(frame, treatment="t", outcome="y", covariates="x,z")
    assert model.estimate("ols").estimate == ref
    assert dc.CausalModel(frame, treatment="t", outcome="y").estimate("ols", covariates="x,z").estimate == ref
    with pytest.raises(dc.DataError, match=r"covariate 'x' is not a column of the data"):
        dc.ols(frame, outcome="y", treatment="t", covariates="x, z")  # not the column's name: split


def test_a_comma_name_in_a_csv_file(df, tmp_path):
    path = tmp_path / "comma.csv"
    df.rename(columns={"x": "x,z"}).drop(columns="z").to_csv(path, index=False)
    r = dc.ols(path, outcome="y", treatment="t", covariates="x,z")
    assert r.estimate == pytest.approx(dc.ols(df, outcome="y", treatment="t", covariates="x").estimate, rel=1e-12)


# --------------------------------------------------------------------------------------------------
# duplicated CSV headers
# --------------------------------------------------------------------------------------------------


def test_a_duplicated_csv_header_is_refused_like_a_duplicated_frame_column(df, tmp_path):
    path = tmp_path / "dup.csv"
    frame = df[["y", "t", "x", "x"]]
    frame.to_csv(path, index=False)
    assert list(pd.read_csv(path, nrows=0).columns) == ["y", "t", "x", "x.1"]  # what pandas makes of it
    with pytest.raises(dc.DataError, match=r"duplicated column names: \['x'\]\. Rename them"):
        dc.ols(path, outcome="y", treatment="t", covariates="x")
    with pytest.raises(dc.DataError, match=r"duplicated column names: \['x'\]\. Rename them"):
        dc.ols(path, outcome="y", treatment="t", covariates="x.1")
    with pytest.raises(dc.DataError, match=r"duplicated column names: \['x'\]\. Rename them"):
        dc.ols(path, "y ~ t + x")
    # as for frames, a duplicated column that is not used does not matter
    assert dc.ols(path, outcome="y", treatment="t").n == len(df)


# --------------------------------------------------------------------------------------------------
# every value type that reaches JSON is JSON
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "treated,control,shown",
    [
        (datetime.date(2021, 1, 1), datetime.date(2020, 1, 1), "2021-01-01"),
        (datetime.datetime(2021, 1, 1, 5, 30), datetime.datetime(2020, 1, 1), "2021-01-01T05:30:00"),
        (decimal.Decimal("2.5"), decimal.Decimal("1.5"), 2.5),
        (b"yes", b"no", "yes"),
    ],
)
def test_treatment_levels_of_any_type_give_plain_json(df, treated, control, shown):
    frame = df.assign(t=pd.Series([treated if v else control for v in df["t"]], dtype=object))
    r = dc.ols(frame, outcome="y", treatment="t", treated_level=treated)
    text = json.dumps(r.to_dict(), allow_nan=False)  # raised TypeError before
    assert json.loads(text)["treatment_mapping"]["treated"] == shown
    assert r.estimate == dc.ols(df, outcome="y", treatment="t").estimate
    means = dc.difference_in_means(frame, outcome="y", treatment="t", treated_level=treated, randomized=True)
    json.dumps(dc.compare(r, means).to_dict(), allow_nan=False)


def test_the_cli_json_of_parquet_files_with_decimal_or_date_levels(df, tmp_path, capsys):
    from deconfound.cli import main

    path = tmp_path / "decimals.parquet"
    df.assign(t=[decimal.Decimal("2.5") if v else decimal.Decimal("1.5") for v in df["t"]]).to_parquet(path)
    # two numbers as objects: which is 'treated' is not obvious, so it must be named (issue 11, item 4)
    assert main(["estimate", str(path), "-y", "y", "-t", "t", "--json"]) == 2
    assert "not obvious" in capsys.readouterr().err
    assert main(["estimate", str(path), "-y", "y", "-t", "t", "--treated-level", "2.5", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["treatment_mapping"] == {"treated": 2.5, "control": 1.5}
    dates = tmp_path / "dates.parquet"  # read back as datetime.date objects
    df.assign(t=[datetime.date(2021, 1, 1) if v else datetime.date(2020, 1, 1) for v in df["t"]]).to_parquet(dates)
    assert main(["estimate", str(dates), "-y", "y", "-t", "t", "--treated-level", "2021-01-01", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["treatment_mapping"] == {"treated": "2021-01-01", "control": "2020-01-01"}


@pytest.mark.parametrize(
    "values",
    [
        lambda t: pd.to_datetime(np.where(t == 1, "2021-01-01", "2020-01-01")),
        lambda t: pd.to_timedelta(np.where(t == 1, 2, 1), unit="D"),
        lambda t: pd.to_datetime(np.where(t == 1, "2021-01-01", "2020-01-01")).tz_localize("UTC"),
    ],
)
def test_temporal_treatments_are_refused_like_temporal_covariates(df, values):
    frame = df.assign(t=values(df["t"].to_numpy()))
    with pytest.raises(dc.DataError, match=r"treatment 't' holds dates or durations .*convert it"):
        dc.ols(frame, outcome="y", treatment="t")
    with pytest.raises(dc.DataError, match=r"treatment 't' holds dates or durations"):
        dc.ipw(frame, outcome="y", treatment="t", covariates="x")


def test_json_scalars_of_odd_types():
    from deconfound.results import _jsonable

    odd = {
        "when": np.datetime64("2020-01-02"),
        "nat": np.datetime64("NaT"),
        "span": np.timedelta64(3, "D"),
        "time": datetime.time(5, 6),
        "ts": pd.Timestamp("2020-01-02 03:04"),
        "dec": decimal.Decimal("NaN"),
        "set": {2, 1},
        "z": 1 + 2j,
        "obj": object,
    }
    out = json.loads(json.dumps(_jsonable(odd), allow_nan=False))
    assert out["when"] == "2020-01-02T00:00:00" and out["nat"] is None and out["span"] == "P3DT0H0M0S"
    assert out["time"] == "05:06:00" and out["ts"] == "2020-01-02T03:04:00" and out["dec"] is None
    assert out["set"] == [1, 2] and out["z"] == "(1+2j)" and out["obj"] == "<class 'object'>"
