"""The Spark engine: a pass runs on the executors through Arrow (``DataFrame.mapInArrow``).

``SparkEngine(frame)`` holds a ``pyspark.sql.DataFrame`` (a Parquet or CSV path is read by a session on
``master``, default ``local[*]``). :meth:`SparkEngine.map_partitions` selects the
columns a pass reads and runs one Python function per Spark partition with ``mapInArrow``: the
partition's Arrow record batches are gathered into tables of at most :data:`PIECE_BYTES` bytes, the kernel
is applied to each, and every result leaves the executor as one row of a single binary column (the result,
pickled). The driver collects those rows (a few hundred bytes to a few kilobytes each) and unpickles them;
the rows of the table never leave the executors. A partition with no rows gives the kernel one empty
table, so every partition answers.

Errors: an exception of deconfound's own raised by the kernel on an executor is pickled back and re-raised
on the driver as itself; any other exception of the kernel, and any failure of Spark itself (a lost
executor after Spark's retries, a Python worker that crashed), becomes an
:class:`~deconfound.errors.EngineError` naming the engine and the executor's error.

PySpark is an optional dependency (``pip install 'deconfound[spark]'``, and a Java runtime); it is imported
when an engine is made. The executors need deconfound installed (the kernels are pickled by reference).
"""

from __future__ import annotations

import functools
import os
import pickle
import sys
import tempfile
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DeconfoundError, EngineError
from .base import T

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["PIECE_BYTES", "SparkEngine", "local_session", "require_pyspark"]

EXTRA = "pip install 'deconfound[spark]'"
PIECE_BYTES = 64 * 2**20  # a kernel sees at most this many bytes of Arrow data at once (plus one batch)
RESULT_COLUMN = "deconfound_result"

# Spark's own log lines go to stderr: at start-up WARN and above but none from Hadoop's native-library probe
# or the host name check (Spark prints a banner when the root level differs from WARN), then ERROR only
# (``setLogLevel`` once the session is up).
_LOG4J2 = """\
rootLogger.level = warn
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
logger.hadoop.name = org.apache.hadoop
logger.hadoop.level = error
logger.utils.name = org.apache.spark.util.Utils
logger.utils.level = error
"""


def require_pyspark() -> Any:
    """Import ``pyspark.sql``, or say which extra installs it."""
    try:
        import pyspark.sql
    except ImportError as exc:
        raise EngineError(
            f"the spark engine needs pyspark, which is not installed ({exc}); install it with {EXTRA} "
            "(Spark also needs a Java runtime, 17 or newer)"
        ) from exc
    return pyspark.sql


def local_session(master: str | None = None, app_name: str = "deconfound", **conf: str) -> Any:
    """A SparkSession for ``master`` (default ``local[*]``; ``--spark-master``), quiet (log level ERROR, no
    UI, no progress bars), whose Python workers run this interpreter. An existing session is reused."""
    sql = require_pyspark()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    log_config = Path(tempfile.gettempdir()) / "deconfound-spark-log4j2.properties"
    if not log_config.exists() or log_config.read_text(encoding="utf-8") != _LOG4J2:
        log_config.write_text(_LOG4J2, encoding="utf-8")
    builder = sql.SparkSession.builder.master(master or "local[*]").appName(app_name)
    settings = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{log_config}",
        **conf,
    }
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:
        raise EngineError(
            f"spark: could not start a session on master {master or 'local[*]'!r} ({type(exc).__name__}: {exc}); "
            "check that Java 17+ is installed (java -version) and that --spark-master names a reachable master"
        ) from exc
    session.sparkContext.setLogLevel("ERROR")
    return session


class SparkEngine:
    """The rows of a Spark DataFrame, reduced on the executors (see the module docstring)."""

    name = "spark"

    def __init__(self, frame: Any, session: Any = None, master: str | None = None) -> None:
        sql = require_pyspark()
        if isinstance(frame, (str, os.PathLike)):
            session = session if session is not None else local_session(master)
            frame = _read(session, os.fspath(frame))
        if not isinstance(frame, sql.DataFrame):
            raise EngineError(
                f"SparkEngine needs a pyspark.sql.DataFrame (or a Parquet/CSV path), got {type(frame).__name__}; "
                "make one with spark.read.parquet(path) or spark.createDataFrame(pandas_frame)"
            )
        self.frame = frame
        self.session = session if session is not None else frame.sparkSession

    def __repr__(self) -> str:
        return f"SparkEngine(master={self.session.sparkContext.master!r})"

    def columns(self) -> list[str]:
        return list(self.frame.columns)

    def map_partitions(self, columns: Sequence[str], fn: Callable[[pa.Table], T]) -> list[T]:
        cols = list(columns)
        missing = [c for c in cols if c not in self.frame.columns]
        if missing:
            raise EngineError(f"spark: the DataFrame has no column(s) {missing}; it has {self.columns()}")
        selected = self.frame.select(*cols)
        runner = functools.partial(_run_partition, fn, _arrow_schema(selected), PIECE_BYTES)
        try:
            with warnings.catch_warnings():
                # PySpark checks its pandas version before any Arrow UDF, though mapInArrow never uses pandas
                warnings.filterwarnings("ignore", message="PySpark does not yet fully support", category=FutureWarning)
                rows = selected.mapInArrow(runner, f"{RESULT_COLUMN} binary").collect()
        except DeconfoundError:
            raise
        except Exception as exc:  # Spark's own failure (lost executors, a crashed Python worker): named
            raise EngineError(
                f"The spark engine failed while running a pass over the rows: {type(exc).__name__}: "
                f"{_first_lines(str(exc))}"
            ) from exc
        results: list[T] = []
        for row in rows:
            outcome = pickle.loads(bytes(row[0]))
            if outcome[0] == "ok":
                results.append(outcome[1])
            elif outcome[0] == "raise":
                raise outcome[1]
            else:
                _, kind, message, trace = outcome
                raise EngineError(
                    f"The spark engine failed while running a pass over the rows: {kind}: {message} "
                    f"(raised on an executor; its traceback follows)\n{trace}"
                )
        return results


def _read(session: Any, path: str) -> Any:
    """A Spark DataFrame of a Parquet or CSV path (or glob)."""
    if path.lower().endswith((".csv", ".csv.gz")):
        return session.read.csv(path, header=True, inferSchema=True)
    return session.read.parquet(path)


def _arrow_schema(frame: Any) -> pa.Schema | None:
    """The Arrow schema of a Spark DataFrame (used only for partitions with no rows)."""
    try:
        from pyspark.sql.pandas.types import to_arrow_schema

        return to_arrow_schema(frame.schema)
    except Exception:  # a type Arrow cannot hold: the data will say so when a pass reads it
        return None


def _run_partition(
    fn: Callable[[pa.Table], Any], schema: pa.Schema | None, budget: int, batches: Iterator[pa.RecordBatch]
) -> Iterator[pa.RecordBatch]:
    """On an executor: the batches of one partition -> tables of about ``budget`` bytes -> one pickled
    outcome per table (``("ok", result)``, ``("raise", our exception)`` or ``("fail", kind, message, trace)``)."""
    import pyarrow as pa

    pending: list[pa.RecordBatch] = []
    size = 0
    answered = False
    for batch in batches:
        if batch.num_rows == 0:
            continue
        pending.append(batch)
        size += batch.nbytes
        if size >= budget:
            yield _outcome(fn, pa.Table.from_batches(pending))
            pending, size, answered = [], 0, True
    if pending:
        yield _outcome(fn, pa.Table.from_batches(pending))
    elif not answered and schema is not None:
        yield _outcome(fn, schema.empty_table())


def _outcome(fn: Callable[[pa.Table], Any], table: pa.Table) -> pa.RecordBatch:
    import pyarrow as pa
    from pyspark import cloudpickle

    try:
        payload = cloudpickle.dumps(("ok", fn(table)))
    except DeconfoundError as exc:
        try:
            payload = cloudpickle.dumps(("raise", exc))
        except Exception:
            payload = cloudpickle.dumps(("fail", type(exc).__name__, str(exc), ""))
    except Exception as exc:
        trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-6:])
        payload = cloudpickle.dumps(("fail", type(exc).__name__, str(exc), trace))
    return pa.RecordBatch.from_arrays([pa.array([payload], type=pa.binary())], names=[RESULT_COLUMN])


def _first_lines(text: str, n: int = 12) -> str:
    lines = text.strip().splitlines()
    return "\n".join(lines[:n]) + ("\n..." if len(lines) > n else "")
