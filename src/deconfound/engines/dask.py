"""The Dask engine: a pass runs on the workers of a Dask cluster, one task per partition of the DataFrame.

``DaskEngine(frame)`` holds a ``dask.dataframe.DataFrame``. :meth:`DaskEngine.map_partitions` selects the
columns a pass reads, turns every partition into a delayed task that converts the pandas partition to an
Arrow table and applies the kernel there, and brings back only the kernel's small results. Which scheduler
runs the tasks is Dask's choice: the ``client`` given, else the default distributed client when one exists
(``Client(address)`` or a ``LocalCluster``), else Dask's local threads. The rows never travel to the driver.

Errors: an exception of deconfound's own raised by the kernel on a worker comes back as itself; anything
else (a kernel bug, an Arrow conversion error, a worker that died too often: ``KilledWorker``) becomes an
:class:`~deconfound.errors.EngineError` that names the engine and chains the original. A worker killed
during a pass is Dask's to retry: its tasks run again on another worker, each partition's result counts
once.

Dask is an optional dependency (``pip install 'deconfound[dask]'``); it is imported when an engine is made.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import DeconfoundError, EngineError
from .base import T

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["DaskEngine", "require_dask"]

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

    def __init__(self, frame: Any, client: Any = None) -> None:
        require_dask()
        import dask.dataframe as dd

        if not isinstance(frame, dd.DataFrame):
            raise EngineError(
                f"DaskEngine needs a dask.dataframe.DataFrame, got {type(frame).__name__}; "
                "make one with dask.dataframe.from_pandas(df, npartitions=...) or dask.dataframe.read_parquet(path)"
            )
        self.frame = frame
        self.client = client

    @classmethod
    def from_path(cls, path: str, scheduler: str | None = None) -> DaskEngine:
        """Read a Parquet or CSV path (or glob) lazily; with ``scheduler`` (``tcp://host:8786``) connect a
        client to that cluster and run the passes there (``--dask-scheduler``)."""
        require_dask()
        import dask.dataframe as dd

        lower = str(path).lower()
        frame = dd.read_csv(path) if lower.endswith((".csv", ".csv.gz")) else dd.read_parquet(path)
        client = None
        if scheduler is not None:
            from distributed import Client

            try:
                client = Client(scheduler, set_as_default=False)
            except (OSError, TimeoutError) as exc:
                raise EngineError(
                    f"--dask-scheduler {scheduler}: could not connect to a Dask scheduler there ({exc}); "
                    "start one with `dask scheduler` (and workers with `dask worker ADDRESS`) or check the address"
                ) from exc
        return cls(frame, client=client)

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
            raise EngineError(_describe(exc)) from exc
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


def _describe(exc: BaseException) -> str:
    kind = type(exc).__name__
    if kind == "KilledWorker":
        return (
            f"dask: a pass failed because the workers running one task died too often ({exc}); the result is "
            "not computed. Check the workers' memory limit and logs, or raise distributed.scheduler.allowed-failures"
        )
    if kind in ("CancelledError", "CommClosedError", "FutureCancelledError"):
        return f"dask: a pass was cancelled or lost its connection to the cluster ({kind}: {exc}); run it again"
    return f"dask: a pass failed on a worker: {kind}: {exc}"
