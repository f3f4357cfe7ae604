"""The Dask engine: a pass runs on the workers of a Dask cluster, one task per partition of the DataFrame.

``DaskEngine(frame)`` holds a ``dask.dataframe.DataFrame`` (a Parquet or CSV path is read with
``dask.dataframe.read_parquet`` / ``read_csv``; ``scheduler="tcp://host:8786"`` connects to a cluster).
:meth:`DaskEngine.map_partitions` selects the columns a pass reads, turns every partition into a delayed
task that converts the pandas partition to an Arrow table and applies the kernel there, and brings back
only the kernel's small results. Which scheduler runs the tasks is Dask's choice: the ``client`` given,
else the default distributed client when one exists (``Client(address)`` or a ``LocalCluster``), else
Dask's local threads. The rows never travel to the driver.

Errors: an exception of deconfound's own raised by the kernel on a worker comes back as itself; anything
else (a kernel bug, an Arrow conversion error, a worker that died too often: ``KilledWorker``) becomes an
:class:`~deconfound.errors.EngineError` that names the engine and chains the original. A worker killed
during a pass is Dask's to retry: its tasks run again on another worker, each partition's result counts
once.

Dask is an optional dependency (``pip install 'deconfound[dask]'``); it is imported when an engine is made.
The workers need deconfound installed (the kernels refer to its functions by name).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import DeconfoundError, EngineError
from .base import T
from .errors import engine_error

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["DaskEngine", "connect", "require_dask"]

EXTRA = "pip install 'deconfound[dask]'"


def require_dask() -> Any:
    """Import ``dask.dataframe`` and ``distributed``, or say which extra installs them."""
    try:
        import dask
        import dask.dataframe
        import distributed  # noqa: F401  (the cluster client; part of the extra)
    except ImportError as exc:
        raise EngineError(
            f"the dask engine needs dask and distributed, which are not installed ({exc}); install them with {EXTRA}"
        ) from exc
    return dask


class DaskEngine:
    """The rows of a Dask DataFrame, reduced where they live (see the module docstring)."""

    name = "dask"

    def __init__(self, frame: Any, client: Any = None, scheduler: str | None = None) -> None:
        require_dask()
        import dask.dataframe as dd

        if isinstance(frame, (str, os.PathLike)):
            frame = _read(os.fspath(frame))
        if not isinstance(frame, dd.DataFrame):
            raise EngineError(
                f"DaskEngine needs a dask.dataframe.DataFrame (or a Parquet/CSV path), got {type(frame).__name__}; "
                "make one with dask.dataframe.from_pandas(df, npartitions=...) or dask.dataframe.read_parquet(path)"
            )
        if client is None and scheduler is not None:
            client = connect(scheduler)
        self.frame = frame
        self.client = client

    def __repr__(self) -> str:
        where = f", client={self.client.scheduler.address}" if self.client is not None else ""
        return f"DaskEngine({self.frame.npartitions} partitions{where})"

    def columns(self) -> list[str]:
        return [str(c) for c in self.frame.columns]

    def map_partitions(self, columns: Sequence[str], fn: Callable[[pa.Table], T]) -> list[T]:
        import dask

        cols = list(columns)
        missing = [c for c in cols if c not in self.frame.columns]
        if missing:
            raise EngineError(f"dask: the DataFrame has no column(s) {missing}; it has {self.columns()}")
        selected = self.frame[cols]
        schema = _arrow_schema(selected._meta)
        kernel = dask.delayed(fn, pure=False)  # one key: the kernel is shipped to each worker once, not per task
        apply = dask.delayed(_apply, pure=False)
        tasks = [apply(part, kernel, schema) for part in selected.to_delayed()]
        try:
            if self.client is not None:
                results = self.client.gather(self.client.compute(tasks))
            else:
                results = dask.compute(*tasks)
        except DeconfoundError:
            raise
        except Exception as exc:
            raise _describe(exc) from exc
        return list(results)


def _arrow_schema(meta: Any) -> pa.Schema:
    """The Arrow types of the selected columns from the frame's (empty) meta; object columns, whose type an
    empty frame cannot tell, stay null here and are taken from the data."""
    import pyarrow as pa

    return pa.Schema.from_pandas(meta, preserve_index=False).remove_metadata()


def _apply(part: Any, fn: Callable[[pa.Table], T], schema: pa.Schema) -> T:
    """On a worker: one pandas partition -> an Arrow table of the source's types -> the kernel's result."""
    import pyarrow as pa

    if len(part) == 0:
        fields = [f if not pa.types.is_null(f.type) else pa.field(f.name, pa.string()) for f in schema]
        table = pa.schema(fields).empty_table()
    else:
        table = pa.Table.from_pandas(part, preserve_index=False).replace_schema_metadata(None)
        fields = [
            want if not pa.types.is_null(want.type) else got for want, got in zip(schema, table.schema, strict=True)
        ]
        target = pa.schema(fields)
        if not table.schema.equals(target):
            table = table.cast(target)
    return fn(table)


def _describe(exc: BaseException) -> EngineError:
    kind = type(exc).__name__
    if kind == "KilledWorker":
        return EngineError(
            f"The dask engine failed: the workers running one task of a pass died too often ({exc}); no result "
            "is returned. Check the workers' memory limit and logs, or raise distributed.scheduler.allowed-failures."
        )
    if kind in ("CancelledError", "CommClosedError", "FutureCancelledError"):
        return EngineError(f"The dask engine lost a pass: it was cancelled or lost its connection ({kind}: {exc}).")
    return engine_error("dask", exc)


def _read(path: str) -> Any:
    """A lazy Dask DataFrame of a Parquet or CSV path (or glob)."""
    import dask.dataframe as dd

    if path.lower().endswith((".csv", ".csv.gz")):
        return dd.read_csv(path)
    return dd.read_parquet(path)


def connect(scheduler: str) -> Any:
    """A client of the Dask scheduler at ``scheduler`` (``--dask-scheduler tcp://host:8786``)."""
    require_dask()
    from distributed import Client

    try:
        return Client(scheduler, set_as_default=False, timeout="20s")
    except (OSError, TimeoutError) as exc:
        raise EngineError(
            f"--dask-scheduler {scheduler}: no Dask scheduler answered there ({type(exc).__name__}: {exc}). Start "
            "one with `dask scheduler` and workers with `dask worker ADDRESS`, or check the address."
        ) from exc
