"""The DuckDB engine: Parquet and CSV files (paths or globs) and DuckDB relations, streamed in Arrow batches.

DuckDB reads the files and hands the selected columns over as Arrow record batches of ``batch_rows``
rows; each batch is one piece of the rows. Only one batch (per kernel) is held at a time, and DuckDB's
own buffers obey ``memory_limit``, so a file larger than memory works.
"""

from __future__ import annotations

import glob as _glob
import os
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import DataError, SpecificationError
from .base import T
from .errors import engine_error, run_piece

__all__ = ["DuckDBEngine", "is_duckdb_relation"]

#: rows per Arrow batch (a batch of 20 float columns is about 80 MB)
BATCH_ROWS = 1 << 19


def is_duckdb_relation(obj: Any) -> bool:
    return (
        type(obj).__module__.split(".")[0] in ("duckdb", "_duckdb")
        and hasattr(obj, "columns")
        and hasattr(obj, "select")
    )


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class DuckDBEngine:
    """Rows of Parquet/CSV files (a path, a glob or a list of paths) or of a DuckDB relation.

    ``memory_limit`` (e.g. "2GB") bounds DuckDB's memory on the connection this engine opens (for a
    relation, on the relation's own connection); ``threads`` bounds its threads.
    """

    name = "duckdb"

    def __init__(
        self,
        source: Any,
        *,
        memory_limit: str | None = None,
        threads: int | None = None,
        batch_rows: int = BATCH_ROWS,
    ) -> None:
        import duckdb

        self.batch_rows = max(1, int(batch_rows))
        if is_duckdb_relation(source):
            self.relation = source
            self.connection = None
            self.description = "a DuckDB relation"
            if memory_limit is not None or threads is not None:
                raise SpecificationError(
                    "memory_limit/threads apply to a connection this engine opens; for a DuckDB relation set "
                    "them on its connection (con.execute(\"SET memory_limit='2GB'\"))."
                )
            return
        given = [source] if isinstance(source, (str, os.PathLike)) else list(source)
        paths: list[str] = [str(os.fspath(p)) for p in given]
        paths = [os.path.join(p, "**", "*.parquet") if os.path.isdir(p) else p for p in paths]
        for p in paths:
            if not (_glob.has_magic(p) and _glob.glob(p)) and not os.path.exists(p):
                raise DataError(f"No file matches {p!r}. Check the path (globs such as 'data/*.parquet' are allowed).")
        kinds = {_kind(p) for p in paths}
        if len(kinds) != 1:
            raise DataError(f"The files {paths!r} mix formats; give Parquet files or CSV files, not both.")
        self.connection = duckdb.connect()
        if memory_limit is not None:
            self.connection.execute(f"SET memory_limit={_literal(str(memory_limit))}")
        if threads is not None:
            self.connection.execute(f"SET threads={int(threads)}")
        listed = "[" + ", ".join(_literal(p) for p in paths) + "]"
        reader = "read_parquet" if kinds == {"parquet"} else "read_csv_auto"
        self.relation = self.connection.sql(f"SELECT * FROM {reader}({listed})")
        self.description = ", ".join(paths)

    def columns(self) -> list[str]:
        return list(self.relation.columns)

    def _select(self, columns: Sequence[str]) -> Any:
        types = dict(zip(self.relation.columns, (str(t) for t in self.relation.types), strict=True))
        exprs = []
        for c in columns:
            if types[c].startswith("DECIMAL") or types[c] == "HUGEINT":  # numbers pandas would hold as objects
                exprs.append(f"CAST({_quote(c)} AS DOUBLE) AS {_quote(c)}")
            else:
                exprs.append(_quote(c))
        return self.relation.select(", ".join(exprs))

    def map_partitions(self, columns: Sequence[str], fn: Callable[[Any], T]) -> list[T]:
        import pyarrow as pa

        try:
            rel = self._select(columns)
            reader = (
                rel.to_arrow_reader(self.batch_rows)
                if hasattr(rel, "to_arrow_reader")
                else (rel.fetch_record_batch(self.batch_rows))
            )
            schema = reader.schema
        except Exception as exc:
            raise engine_error(f"{self.name} ({self.description})", exc) from exc
        out: list[T] = []
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except Exception as exc:
                raise engine_error(f"{self.name} ({self.description})", exc) from exc
            out.append(run_piece(self.name, fn, pa.Table.from_batches([batch], schema=schema)))
        if not out:  # no rows: one empty piece, so that every pass sees the schema
            out.append(run_piece(self.name, fn, schema.empty_table()))
        return out


def _kind(path: str) -> str:
    lower = path.lower()
    if lower.endswith((".parquet", ".parq", ".pq")) or os.path.isdir(path):
        return "parquet"
    if lower.endswith((".csv", ".tsv", ".csv.gz", ".txt")):
        return "csv"
    raise DataError(f"{path!r} is neither a Parquet nor a CSV file (by its extension); the DuckDB engine reads those.")
