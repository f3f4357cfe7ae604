"""Session fixtures for the cluster engines: a local Dask cluster of 2 worker processes and Spark
``local[2]``, each started once per test process and stopped at the end of the session (under
``pytest -n 2`` the tests of each engine, files test_dask_*.py and test_spark_*.py, run in one xdist worker:
tests/conftest.py groups them); and helpers that cut a pandas frame into a Dask or Spark DataFrame with
given, uneven partition sizes (0 for a partition with no rows)."""

from __future__ import annotations

import itertools
import shutil
import warnings
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="session")
def dask_client() -> Iterator[object]:
    import dask
    from distributed import Client, LocalCluster

    # one retry per task: a task whose worker dies twice ends in KilledWorker (the killed-worker tests use both)
    with dask.config.set({"distributed.scheduler.allowed-failures": 1, "distributed.admin.tick.limit": "60s"}):
        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=50
        )
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
            cluster.close()


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    if shutil.which("java") is None:
        raise RuntimeError("the Spark engine's tests need a Java runtime (17+); scripts/run.py test installs one")
    from deconfound.engines.spark import local_session

    session = local_session(
        "local[2]",
        app_name="deconfound-tests",
        **{"spark.default.parallelism": "2", "spark.sql.shuffle.partitions": "2", "spark.driver.memory": "1g"},
    )
    try:
        yield session
    finally:
        session.stop()


def cut(n: int, sizes: Sequence[int]) -> list[tuple[int, int]]:
    """Row ranges [start, stop) of the given sizes, which must add up to ``n``."""
    assert sum(sizes) == n, (sum(sizes), n)
    edges = np.concatenate([[0], np.cumsum(sizes)])
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges)]


@pytest.fixture(scope="session")
def to_dask() -> Callable[..., object]:
    def make(frame: pd.DataFrame, sizes: Sequence[int]) -> object:
        import dask
        import dask.dataframe as dd

        pieces = [dask.delayed(frame.iloc[a:b].reset_index(drop=True)) for a, b in cut(len(frame), sizes)]
        return dd.from_delayed(pieces, meta=frame.iloc[:0], verify_meta=False)

    return make


@pytest.fixture(scope="session")
def to_spark(spark: object) -> Callable[..., object]:
    """A Spark DataFrame whose partition i holds exactly rows ``cut(n, sizes)[i]`` (an RDD partitioned by a
    key column, so that no hash or sample decides the cut)."""

    def make(frame: pd.DataFrame, sizes: Sequence[int]) -> object:
        import pyarrow as pa

        part = np.repeat(np.arange(len(sizes)), sizes)
        table = pa.Table.from_pandas(frame.assign(_part=part), preserve_index=False)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="PySpark does not yet fully support", category=FutureWarning)
            keyed = spark.createDataFrame(table)  # type: ignore[attr-defined]
        k = len(sizes)
        rdd = keyed.rdd.map(lambda row: (row["_part"], row)).partitionBy(k, lambda key: key).values()
        out = spark.createDataFrame(rdd, keyed.schema).drop("_part")  # type: ignore[attr-defined]
        # materialized once (cached columnar blocks keep the partitions): the passes read it, not the lineage
        out = out.cache()
        out.count()
        return out

    return make
