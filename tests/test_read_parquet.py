"""Reading Parquet files row group by row group gives exactly what pandas reads (issue 16, item 7)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from deconfound.data import _read_parquet

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "a": rng.normal(size=50),
            "b": rng.integers(0, 5, 50),
            "c": rng.random(50) < 0.5,
            "d": rng.normal(size=50).astype(np.float32),
            "u": rng.integers(0, 5, 50).astype(np.uint8),
        }
    )


CASES = {
    "plain numbers": lambda df: df,
    "missing values": lambda df: df.assign(a=np.where(df["a"] > 1, np.nan, df["a"])),
    "a text column": lambda df: df.assign(s=np.where(df["c"], "x", "y")),
    "a stored index": lambda df: df.set_index("b"),
    "a range index not from 0": lambda df: df.iloc[10:],
    "nullable integers": lambda df: df.assign(b=pd.array(np.where(df["b"] > 3, None, df["b"]), dtype="Int64")),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("columns", [None, ["c", "a"], ["a"]])
def test_same_frame_as_pandas(tmp_path, case, columns):
    path = tmp_path / "data.parquet"
    CASES[case](_frame()).to_parquet(path, row_group_size=7)
    pd.testing.assert_frame_equal(_read_parquet(str(path), columns), pd.read_parquet(path, columns=columns))


def test_file_without_pandas_metadata(tmp_path):
    path = tmp_path / "raw.parquet"
    pq.write_table(pa.table({"x": np.arange(20.0), "y": np.arange(20)}), path, row_group_size=6)
    got = _read_parquet(str(path), None)
    pd.testing.assert_frame_equal(got, pd.read_parquet(path))
    assert got["y"].dtype == np.int64 and got["x"].to_numpy()[-1] == 19.0
