"""The Spark engine on local[2]: every row exactly once over uneven partitions (one empty), the source's
types on every piece, errors from the executors as our exceptions."""

from __future__ import annotations

import sys

import pytest
from _mapreduce import check, frame, make_kernel

from deconfound.errors import DataError, EngineError

SIZES = [40, 0, 3, 120, 1, 39]


@pytest.fixture(scope="module")
def sdf(to_spark):  # type: ignore[no-untyped-def]
    return to_spark(frame(), SIZES)  # made (and cached) once: each Spark job costs seconds on a loaded machine


def test_every_row_once_on_local_spark(sdf):
    from deconfound.engines.spark import SparkEngine

    df = frame()
    assert sdf.rdd.getNumPartitions() == len(SIZES)
    engine = SparkEngine(sdf)
    assert engine.name == "spark"
    assert engine.columns() == ["id", "x", "g", "w"]
    results = engine.map_partitions(["id", "x", "w", "g"], make_kernel())
    assert sorted(r["n"] for r in results) == sorted(SIZES)  # one answer per partition, the empty one too
    check(results, df)
    assert results[0]["types"] == {"id": "int64", "x": "double", "w": "double", "g": "string"}


def test_big_partitions_are_cut_into_pieces_of_bounded_size(to_spark, monkeypatch):
    """A partition larger than PIECE_BYTES reaches the kernel as several tables (bounded memory on the
    executor); the rows are still each counted once."""
    from deconfound.engines import spark as spark_engine

    monkeypatch.setattr(spark_engine, "PIECE_BYTES", 1)  # every record batch becomes its own piece
    df = frame(n=50)
    sdf = to_spark(df, [50]).repartition(1)
    engine = spark_engine.SparkEngine(sdf)
    engine.session.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "7")
    try:
        results = engine.map_partitions(["id", "x", "w", "g"], make_kernel())
    finally:
        engine.session.conf.unset("spark.sql.execution.arrow.maxRecordsPerBatch")
    assert [r["n"] for r in results] == [7, 7, 7, 7, 7, 7, 7, 1]
    check(results, df)


def test_our_error_on_an_executor_comes_back_as_itself(sdf):
    from deconfound.engines.spark import SparkEngine

    engine = SparkEngine(sdf)

    def kernel(table):
        if table.num_rows == 120:
            raise DataError("column 'x': the fourth partition is bad; drop it")
        return table.num_rows

    with pytest.raises(DataError, match="fourth partition is bad"):
        engine.map_partitions(["x"], kernel)


def test_any_other_error_becomes_an_engine_error_naming_spark(sdf):
    from deconfound.engines.spark import SparkEngine

    engine = SparkEngine(sdf)

    def kernel(table):
        return table.num_rows / 0

    with pytest.raises(EngineError, match=r"^The spark engine failed .*: ZeroDivisionError") as info:
        engine.map_partitions(["x"], kernel)
    assert "return table.num_rows / 0" in str(info.value)  # the executor's traceback


def test_unknown_column_and_wrong_frame(sdf):
    from deconfound.engines.spark import SparkEngine

    engine = SparkEngine(sdf)
    with pytest.raises(EngineError, match=r"no column\(s\) \['nope'\]"):
        engine.map_partitions(["x", "nope"], len)
    with pytest.raises(EngineError, match=r"needs a pyspark\.sql\.DataFrame \(or a Parquet/CSV path\), got DataFrame"):
        SparkEngine(frame(n=5))


def test_missing_pyspark_names_the_extra(monkeypatch):
    from deconfound.engines.spark import SparkEngine

    monkeypatch.setitem(sys.modules, "pyspark.sql", None)  # as if not installed
    with pytest.raises(EngineError, match=r"pip install 'deconfound\[spark\]'"):
        SparkEngine(object())
