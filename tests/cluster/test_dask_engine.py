"""The Dask engine on a local cluster of 2 worker processes: every row exactly once over uneven partitions
(one empty), the source's types on every piece, errors from the workers as our exceptions."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from _mapreduce import check, frame, make_kernel

from deconfound.errors import DataError, EngineError

SIZES = [40, 0, 3, 120, 1, 39]


def test_every_row_once_on_the_cluster(dask_client, to_dask):
    from deconfound.engines.dask import DaskEngine

    df = frame()
    engine = DaskEngine(to_dask(df, SIZES), client=dask_client)
    assert engine.name == "dask"
    assert engine.columns() == ["id", "x", "g", "w"]
    results = engine.map_partitions(["id", "x", "w", "g"], make_kernel())
    assert len(results) == len(SIZES)  # one answer per partition, the empty one too
    check(results, df)
    assert results[0]["types"] == {"id": "int64", "x": "double", "w": "double", "g": "large_string"}


def test_default_client_and_a_column_subset(dask_client, to_dask):
    """Without a client the engine uses the default one (the fixture's): the same answer; and only the
    columns asked for reach the kernel."""
    from deconfound.engines.dask import DaskEngine

    df = frame(n=57, seed=3)
    engine = DaskEngine(to_dask(df, [57, 0]))

    def kernel(table):
        return (table.column_names, table.num_rows, float(np.sum(table.column("w").to_numpy())))

    results = engine.map_partitions(["w"], kernel)
    assert [r[0] for r in results] == [["w"], ["w"]]
    assert sum(r[1] for r in results) == 57
    assert sum(r[2] for r in results) == pytest.approx(df["w"].sum(), rel=1e-14)


def test_our_error_on_a_worker_comes_back_as_itself(dask_client, to_dask):
    from deconfound.engines.dask import DaskEngine

    engine = DaskEngine(to_dask(frame(), SIZES), client=dask_client)

    def kernel(table):
        if table.num_rows == 120:
            raise DataError("column 'x': the fourth partition is bad; drop it")
        return table.num_rows

    with pytest.raises(DataError, match="fourth partition is bad"):
        engine.map_partitions(["x"], kernel)


def test_any_other_error_becomes_an_engine_error_naming_dask(dask_client, to_dask):
    from deconfound.engines.dask import DaskEngine

    engine = DaskEngine(to_dask(frame(), SIZES), client=dask_client)

    def kernel(table):
        return table.num_rows / 0

    with pytest.raises(EngineError, match=r"^The dask engine failed .*: ZeroDivisionError") as info:
        engine.map_partitions(["x"], kernel)
    assert isinstance(info.value.__cause__, ZeroDivisionError)


def test_unknown_column_and_wrong_frame(to_dask):
    from deconfound.engines.dask import DaskEngine

    engine = DaskEngine(to_dask(frame(n=5), [5]))
    with pytest.raises(EngineError, match=r"no column\(s\) \['nope'\]"):
        engine.map_partitions(["x", "nope"], len)
    with pytest.raises(EngineError, match=r"needs a dask\.dataframe\.DataFrame \(or a Parquet/CSV path\), got Data"):
        DaskEngine(frame(n=5))


def test_missing_dask_names_the_extra(monkeypatch):
    from deconfound.engines.dask import DaskEngine

    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    with pytest.raises(EngineError, match=r"pip install 'deconfound\[dask\]'"):
        DaskEngine(object())
