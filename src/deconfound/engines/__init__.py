"""Engines: the rows of an estimate where they live.

An engine (:class:`~deconfound.engines.base.Engine`) runs a function over pieces of its rows and returns
the small results; the estimators' passes run on it unchanged (:mod:`deconfound.engines.source`).

* ``memory``: a pandas frame or Arrow table cut into pieces (for checks; estimates on a frame use the
  core's own path);
* ``duckdb``: Parquet/CSV paths and globs, or a DuckDB relation, streamed as Arrow batches under a memory limit;
* ``dask`` / ``spark``: a dask or pyspark DataFrame (the extras ``deconfound[dask]``, ``deconfound[spark]``).

:func:`wrap` recognises each input; :func:`is_engine_input` says whether an input goes to an engine.
"""

from __future__ import annotations

import glob
import os
from typing import Any

from ..errors import SpecificationError
from .base import Engine

__all__ = ["ENGINE_NAMES", "LARGE_FILE_BYTES", "Engine", "is_engine_input", "wrap"]

ENGINE_NAMES = ("memory", "duckdb", "dask", "spark")
#: a Parquet/CSV input at least this large (all files together) goes to DuckDB by itself
LARGE_FILE_BYTES = 2 << 30


def _top_module(obj: Any) -> str:
    return type(obj).__module__.split(".")[0]


def _is_dask(obj: Any) -> bool:
    return _top_module(obj) in ("dask", "dask_expr") and type(obj).__name__ == "DataFrame"


def _is_spark(obj: Any) -> bool:
    return _top_module(obj) == "pyspark" and type(obj).__name__ == "DataFrame"


def _is_engine(obj: Any) -> bool:
    return (
        isinstance(getattr(obj, "name", None), str)
        and callable(getattr(obj, "map_partitions", None))
        and callable(getattr(obj, "columns", None))
    )


def file_bytes(data: Any) -> int | None:
    """The total size of the files a path or glob names (None when ``data`` is not a path)."""
    if not isinstance(data, (str, os.PathLike)):
        return None
    path = os.fspath(data)
    if glob.has_magic(path):
        return sum(os.path.getsize(p) for p in glob.glob(path) if os.path.isfile(p))
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)
    return os.path.getsize(path) if os.path.isfile(path) else None


def is_engine_input(data: Any) -> bool:
    """Whether ``data`` is read through an engine: an engine, a DuckDB relation, a dask or pyspark
    DataFrame, a glob of files, or a Parquet/CSV path of at least :data:`LARGE_FILE_BYTES`."""
    from .duckdb import is_duckdb_relation

    if _is_engine(data) or is_duckdb_relation(data) or _is_dask(data) or _is_spark(data):
        return True
    if isinstance(data, (str, os.PathLike)):
        path = os.fspath(data)
        if glob.has_magic(path):
            return True
        size = file_bytes(path)
        return size is not None and size >= LARGE_FILE_BYTES
    return False


def wrap(data: Any, engine: str | None = None, *, memory_limit: str | None = None, **options: Any) -> Engine:
    """The engine for ``data``: ``engine`` names one ("memory", "duckdb", "dask", "spark"), else it is
    recognised from the input (an engine as it is, a DuckDB relation or a path to DuckDB, a dask or pyspark
    DataFrame to theirs, a pandas frame or Arrow table to the in-memory engine)."""
    if engine is not None and engine not in ENGINE_NAMES:
        raise SpecificationError(f"engine={engine!r} is not known; choose one of {', '.join(ENGINE_NAMES)}.")
    if _is_engine(data):
        return data  # type: ignore[no-any-return]
    if engine == "dask" or (engine is None and _is_dask(data)):
        from .dask import DaskEngine  # type: ignore[import-not-found,unused-ignore]

        if isinstance(data, (str, os.PathLike)) and hasattr(DaskEngine, "from_path"):  # a path: read lazily by dask
            return DaskEngine.from_path(os.fspath(data), **options)  # type: ignore[no-any-return,unused-ignore]
        return DaskEngine(data, **options)  # type: ignore[no-any-return,unused-ignore]
    if engine == "spark" or (engine is None and _is_spark(data)):
        from .spark import SparkEngine  # type: ignore[import-not-found,unused-ignore]

        if isinstance(data, (str, os.PathLike)) and hasattr(SparkEngine, "from_path"):  # a path: read by Spark
            return SparkEngine.from_path(os.fspath(data), **options)  # type: ignore[no-any-return,unused-ignore]
        return SparkEngine(data, **options)  # type: ignore[no-any-return,unused-ignore]
    from .duckdb import DuckDBEngine, is_duckdb_relation

    if engine == "duckdb" or (engine is None and (is_duckdb_relation(data) or isinstance(data, (str, os.PathLike)))):
        if engine == "duckdb" and not (is_duckdb_relation(data) or isinstance(data, (str, os.PathLike, list))):
            raise SpecificationError(
                "engine='duckdb' reads Parquet/CSV paths (or globs) and DuckDB relations; this input is a "
                f"{type(data).__name__}. Write it to Parquet first, or use engine='memory'."
            )
        return DuckDBEngine(data, memory_limit=memory_limit, **options)
    from .memory import MemoryEngine

    return MemoryEngine(data, **options)
