"""The data layer: from what the user hands us to validated arrays with named roles.

``load_table`` reads a pandas or polars frame, or a CSV / Parquet path (only the columns needed).
``prepare`` checks the roles (outcome, treatment, covariates, weights, cluster, ...), applies the
missing-value policy, encodes categorical covariates and returns a :class:`Prepared` bundle whose
covariates form a :class:`Design` that the numeric core reads in chunks.

The user's frame is never modified: every array we change is a copy.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._core.design import Design, Part
from ._core.options import as_name_list, check_option
from .errors import DataError, SpecificationError

if TYPE_CHECKING:  # pragma: no cover
    pass

MISSING_POLICIES = ("raise", "drop")
LARGE_FILE_BYTES = 50 * 2**20  # reading a file larger than this is announced as a progress step
PARALLEL_CHECK_BYTES = 8 * 2**20  # the row shape of a larger CSV file is checked while pandas reads it
#: larger magnitudes overflow the sums of squares and cross-products
MAX_ABS_VALUE = 1e100
_TREATED_WORDS = ("treated", "treatment", "treat", "yes", "true", "y", "t", "on", "exposed", "1")
#: the other level of an obvious pair (a treated word and one of these)
_CONTROL_WORDS = ("control", "untreated", "no", "false", "n", "f", "off", "unexposed", "0", "none", "placebo")


# --------------------------------------------------------------------------------------------------
# reading tables
# --------------------------------------------------------------------------------------------------


def _is_parquet(path: str) -> bool:
    return path.lower().endswith((".parquet", ".pq"))


def _file_columns(path: str) -> list[str]:
    if _is_parquet(path):
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    return list(pd.read_csv(path, nrows=0).columns)


def _csv_header(path: str) -> list[str]:
    """The header fields of a CSV file as written (pandas renames a repeated name ``x`` to ``x.1``)."""
    import csv

    with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
        for row in csv.reader(handle):
            if row:
                return row
    return []


def _check_csv_header(path: str, columns: Sequence[str] | None, read_as: Sequence[str]) -> None:
    """Refuse a header that repeats a name we use (or any repeat when every column is read)."""
    written = _csv_header(path)
    repeated = sorted({name for name in written if written.count(name) > 1})
    if not repeated:
        return
    renamed = set(read_as) - set(written)  # pandas' "x.1" for a second "x"
    if columns is None or set(columns) & (set(repeated) | renamed):
        raise DataError(
            f"The data has duplicated column names: {repeated}. Rename them so that each is unique "
            f"(in the header of {path!r})."
        )


def _first_ragged_line(path: str, width: int) -> tuple[int, int] | None:
    """(line number, field count) of the first non-blank row whose field count is not ``width``."""
    import csv

    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        reader = csv.reader(handle)
        for i, row in enumerate(reader):
            if i and row and len(row) != width:
                return reader.line_num, len(row)
    return None


def _check_row_shape(path: str, width: int) -> None:
    """Every row of a CSV file has as many fields as its header (pandas checks this only when it reads
    every column: with ``usecols`` a row ``2,1,9,9`` under a two-column header reads as ``2,1``).

    pyarrow's parser checks the field count of every row in compiled code while converting just one
    column (as bytes); only when it objects do we find the line with a slower pass in Python (which
    also settles what pyarrow may misread, e.g. a quoted line break).
    """
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    names = [f"f{j}" for j in range(width)]
    try:
        pa_csv.read_csv(
            path,
            read_options=pa_csv.ReadOptions(column_names=names, skip_rows=1, use_threads=False),
            convert_options=pa_csv.ConvertOptions(include_columns=names[:1], column_types={names[0]: pa.binary()}),
        )
        return
    except (pa.ArrowInvalid, OSError):
        pass
    import csv

    try:
        ragged = _first_ragged_line(path, width)
    except (OSError, csv.Error):
        return  # left to pandas to report
    if ragged is not None:
        line, count = ragged
        raise DataError(
            f"line {line} of {path!r} has {count} field{'s' if count != 1 else ''} but the header has {width}; "
            "the row would be read truncated or shifted. Fix the file (e.g. quote values that contain commas, "
            "remove stray delimiters) so that every row has one field per column."
        )


def load_table(data: Any, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Return a pandas DataFrame for ``data`` (pandas, polars, or a CSV/Parquet path).

    When ``columns`` is given and ``data`` is a file or a polars frame, only those columns are read
    (names that do not exist are left for :func:`check_columns` to report with a suggestion).
    A pandas frame is returned as it is, never copied or modified. A CSV file is read as written:
    a row with more or fewer fields than the header, or a header that repeats a name we use, is
    refused rather than truncated or renamed.
    """
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, (str, os.PathLike)):
        return _read_file(os.fspath(data), columns)
    module = type(data).__module__
    if module.startswith("polars"):
        if columns is not None:
            keep = [c for c in dict.fromkeys(columns) if c in data.columns]
            data = data.select(keep)
        try:
            return data.to_pandas()
        except Exception as exc:  # polars raises its own types
            raise DataError(f"Could not convert the polars frame to pandas: {exc}") from exc
    if isinstance(data, dict):
        try:
            return pd.DataFrame(data)
        except ValueError as exc:
            raise DataError(f"Could not build a table from the dict given as data: {exc}") from exc
    raise DataError(
        f"data must be a pandas or polars DataFrame or a path to a CSV/Parquet file, got {type(data).__name__}."
    )


def _read_file(path: str, columns: Sequence[str] | None) -> pd.DataFrame:
    if not os.path.exists(path):
        raise DataError(f"No such data file: {path!r}. Check the path (relative to {os.getcwd()!r}).")
    try:
        available = _file_columns(path)
        wanted = None if columns is None else [c for c in dict.fromkeys(columns) if c in available]
        if os.path.getsize(path) > LARGE_FILE_BYTES:
            from ._core.progress import current

            size_mb = os.path.getsize(path) / 2**20
            current().step(f"reading {os.path.basename(path)} ({size_mb:,.0f} MB)")
        if _is_parquet(path):
            return _read_parquet(path, wanted)
        _check_csv_header(path, columns, available)
        if os.path.getsize(path) < PARALLEL_CHECK_BYTES:
            _check_row_shape(path, len(available))
            return pd.read_csv(path, usecols=wanted)
        # a big file: pyarrow checks the rows in a thread while pandas reads (both release the GIL)
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=1) as pool:
            check = pool.submit(_check_row_shape, path, len(available))
            try:
                frame = pd.read_csv(path, usecols=wanted)
            finally:
                check.result()  # a ragged row is reported even when pandas failed for it
        return frame
    except DataError:
        raise
    except (OSError, ValueError, pd.errors.ParserError, ImportError) as exc:
        raise DataError(f"Could not read {path!r} as a CSV or Parquet file: {exc}") from exc


def _read_parquet(path: str, columns: list[str] | None) -> pd.DataFrame:
    """A Parquet file as pandas reads it, with less memory when every column is a plain number.

    ``pd.read_parquet`` holds the whole Arrow table beside the frame it builds (two to three times the
    data at its peak). When the selected columns are numbers or booleans without missing values and
    the index is a plain range, each row group is read in turn straight into one preallocated array
    per column (the same dtypes and values pandas gives), so the peak is the data plus one row group.
    Anything else goes through ``pd.read_parquet``.
    """
    import pyarrow.parquet as pq
    import pyarrow.types as pat

    meta = pq.ParquetFile(path)
    schema = meta.schema_arrow
    names = list(schema.names) if columns is None else list(columns)
    pandas_meta = schema.pandas_metadata or {}
    index = pandas_meta.get("index_columns", [])
    plain_index = not index or (
        len(index) == 1
        and isinstance(index[0], dict)
        and index[0].get("kind") == "range"
        and index[0].get("name") is None
        and index[0].get("start") == 0
        and index[0].get("step") == 1
    )
    fields = [schema.field(name) for name in names] if all(n in schema.names for n in names) else []
    plain = (
        plain_index
        and fields
        and len(set(names)) == len(names)
        and all((pat.is_integer(f.type) or pat.is_floating(f.type) or pat.is_boolean(f.type)) for f in fields)
    )
    if not plain:
        return pd.read_parquet(path, columns=columns)
    n = meta.metadata.num_rows
    if n == 0:
        return pd.read_parquet(path, columns=columns)
    arrays: dict[str, np.ndarray] = {}
    start = 0
    for group in range(meta.num_row_groups):
        table = meta.read_row_group(group, columns=names)
        if any(table.column(name).null_count for name in names):
            return pd.read_parquet(path, columns=columns)
        rows = table.num_rows
        for name in names:
            values = table.column(name).to_numpy()
            if name not in arrays:
                arrays[name] = np.empty(n, dtype=values.dtype)
            arrays[name][start : start + rows] = values
        start += rows
        del table
    if start != n:
        return pd.read_parquet(path, columns=columns)
    return pd.DataFrame(arrays, columns=names, copy=False)


def available_columns(data: Any) -> list[str] | None:
    """Column names of a file or polars frame without reading the rows (None for other inputs)."""
    if isinstance(data, (str, os.PathLike)) and os.path.exists(os.fspath(data)):
        try:
            return [str(c) for c in _file_columns(os.fspath(data))]
        except (OSError, ValueError, pd.errors.ParserError, ImportError) as exc:
            raise DataError(f"Could not read {os.fspath(data)!r} as a CSV or Parquet file: {exc}") from exc
    if type(data).__module__.startswith("polars"):
        return [str(c) for c in data.columns]
    return None


def column_names(data: Any) -> list[str] | None:
    """The column names of ``data`` when they are cheap to know (a frame, a file header), else None."""
    if isinstance(data, pd.DataFrame):
        return [str(c) for c in data.columns]
    if isinstance(data, dict):
        return [str(c) for c in data]
    try:
        return available_columns(data)
    except DataError:
        return None  # reported when the data is read


def name_list(data: Any, value: str | Iterable[str] | None, name: str) -> list[str]:
    """Column names given as one name, a comma-separated string or a list (see ``as_name_list``): a
    string that is a column of ``data`` is that column, commas and all."""
    if isinstance(value, str) and "," in value:
        return as_name_list(value, name, column_names(data))
    return as_name_list(value, name)


def check_columns(frame: pd.DataFrame | Sequence[str], names: Iterable[str], role: str = "column") -> None:
    """Raise a DataError naming any missing column, with the closest existing name as a hint."""
    if isinstance(frame, pd.DataFrame):
        if frame.columns.has_duplicates:
            dup = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
            raise DataError(f"The data has duplicated column names: {dup}. Rename them so that each is unique.")
        present = set(frame.columns)
        cols = [str(c) for c in frame.columns]
    else:
        cols = [str(c) for c in frame]
        present = set(cols)
    for name in names:
        if name not in present:
            _check_string_names(present, name, role)
            close = difflib.get_close_matches(name, cols, n=1, cutoff=0.6)
            lowered = [c for c in cols if c.lower() == name.lower()]
            hint = lowered[0] if lowered else (close[0] if close else None)
            suggestion = f" Did you mean {hint!r}?" if hint else ""
            shown = ", ".join(repr(c) for c in cols[:12]) + (", ..." if len(cols) > 12 else "")
            raise DataError(f"{role} {name!r} is not a column of the data.{suggestion} Columns: {shown}.")


# --------------------------------------------------------------------------------------------------
# preparing the roles
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    """Validated arrays for one estimate. Row order follows the data after dropping rows."""

    outcome_name: str | None  # None when no outcome was asked for (e.g. propensity scores only)
    outcome: np.ndarray  # zeros when there is no outcome
    treatment_name: str | None
    treatment: np.ndarray | None
    treatment_kind: str | None  # "binary" or "continuous"
    treatment_mapping: dict[str, Any] | None  # {"treated": level, "control": level} for recoded treatments
    covariates: Design  # encoded covariates (no constant)
    covariate_columns: tuple[str, ...]  # the user's covariate names before encoding
    weights: np.ndarray | None
    clusters: tuple[np.ndarray, ...]  # integer codes, one array per cluster column
    cluster_names: tuple[str, ...]
    extra: dict[str, np.ndarray]  # other roles (unit, time, instrument...) as raw arrays
    n_input: int
    n_dropped: int  # rows left out: a missing value in a used column, or weight 0
    dropped_by: dict[str, int]  # column -> rows with a missing value there; "<weights> == 0" -> rows of weight 0
    notes: tuple[str, ...] = field(default=())
    frame: pd.DataFrame | None = None  # the used columns after dropping rows (for formulas, plots)
    index: pd.Index | None = None  # row labels of the data for the rows used (row identity of per-row outputs)
    n_zero_weight: int = 0  # of n_dropped: rows whose weight is 0 (not observations, as in R's lm and fixest)
    input_index: pd.Index | None = None  # row labels of every input row, before any drop (their positions: `row`)

    @property
    def n(self) -> int:
        return int(self.outcome.shape[0])

    @property
    def n_treated(self) -> int | None:
        if self.treatment_kind != "binary" or self.treatment is None:
            return None
        return int(np.count_nonzero(self.treatment == 1.0))

    @property
    def n_control(self) -> int | None:
        t = self.n_treated
        return None if t is None else self.n - t

    def take(self, keep: np.ndarray) -> Prepared:
        """The same roles on the rows where the boolean mask ``keep`` is true (e.g. after trimming)."""
        import dataclasses

        keep = np.asarray(keep, dtype=bool)
        clusters = tuple(np.unique(c[keep], return_inverse=True)[1].astype(np.int64) for c in self.clusters)
        return dataclasses.replace(
            self,
            outcome=self.outcome[keep],
            treatment=None if self.treatment is None else self.treatment[keep],
            covariates=self.covariates.take(keep),
            weights=None if self.weights is None else self.weights[keep],
            clusters=clusters,
            extra={k: v[keep] for k, v in self.extra.items()},
            frame=None if self.frame is None else self.frame.loc[keep],
            index=None if self.index is None else self.index[keep],
        )


def _is_numeric(series: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(series.dtype)) and not pd.api.types.is_bool_dtype(series.dtype)


def _numbers_as_objects(series: pd.Series) -> pd.Series | None:
    """An object column that holds only real numbers (e.g. built from a list of Python floats), as floats."""
    if series.dtype != object:
        return None
    values = series.dropna()
    if len(values) and all(isinstance(v, (int, float, np.integer, np.floating)) for v in values):
        if not any(isinstance(v, (bool, np.bool_)) for v in values):
            return pd.to_numeric(series).astype(np.float64)
    return None


def _check_not_temporal(series: pd.Series, role: str) -> None:
    dtype = series.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        raise DataError(
            f"{role} {series.name!r} holds dates or durations ({dtype}); convert it to a number (e.g. days since "
            "a start date) or to a category (e.g. the year as a string) first."
        )


def _check_not_complex(series: pd.Series, role: str) -> None:
    """Refuse complex numbers (converting them to float64 would silently drop the imaginary part)."""
    kind = series.dtype.kind if isinstance(series.dtype, np.dtype) else ""
    complex_found = kind == "c"
    if kind == "O":  # infer_dtype scans in compiled code; only a mixed column is looked at value by value
        inferred = pd.api.types.infer_dtype(series, skipna=True)
        complex_found = inferred == "complex" or (
            inferred.startswith("mixed") and any(isinstance(v, (complex, np.complexfloating)) for v in series.dropna())
        )
    if complex_found:
        raise DataError(
            f"{role} {series.name!r} holds complex numbers; only real numbers can be used. Pass the real part "
            "(e.g. df[col].to_numpy().real) or the modulus (abs) as a column of its own."
        )


def _as_float(series: pd.Series) -> np.ndarray:
    """A float64 view (or copy) of a column that :func:`_numeric` accepted (no checks: the encode step)."""
    converted = _numbers_as_objects(series)
    return (series if converted is None else converted).to_numpy(dtype=np.float64, na_value=np.nan)


def _numeric(series: pd.Series, role: str, low: float | None = None) -> np.ndarray:
    """A float64 view (or copy) of a numeric or boolean column; strings are refused by name. ``low``: the
    column's minimum when it is known to hold no NaN (from the missing-value scan), saving a pass."""
    return _numeric_range(series, role, low)[0]


def _numeric_range(series: pd.Series, role: str, low: float | None = None) -> tuple[np.ndarray, float, float]:
    """:func:`_numeric` and the column's smallest and largest values, NaN aside (NaN when all are)."""
    name = series.name
    _check_numeric_type(series, role)
    series = _numbers_as_objects(series) if _numbers_as_objects(series) is not None else series
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    if not len(values):
        return values, np.nan, np.nan
    if low is not None:  # no NaN: the plain maximum is fmax's
        lo, hi = low, float(values.max())
    else:  # fmax/fmin skip NaN and allocate nothing (an all-NaN column gives NaN, which compares False below)
        lo, hi = float(np.fmin.reduce(values)), float(np.fmax.reduce(values))
    _check_range(values, name, role, lo, hi)
    return values, lo, hi


def _check_numeric_type(series: pd.Series, role: str) -> None:
    """Refuse dates, complex numbers and strings in a column that must be numeric (or boolean)."""
    name = series.name
    _check_not_temporal(series, role)
    _check_not_complex(series, role)
    series = _numbers_as_objects(series) if _numbers_as_objects(series) is not None else series
    if pd.api.types.is_bool_dtype(series.dtype):
        return
    if not _is_numeric(series):
        sample = series.dropna().astype(str).unique()[:3].tolist()
        raise DataError(
            f"{role} {name!r} must be numeric, but it holds values such as {sample}. "
            "Convert it (e.g. with pd.to_numeric) or, for a covariate, make it categorical."
        )


def _check_range(values: np.ndarray | None, name: Any, role: str, lo: float, hi: float) -> None:
    """Refuse infinite values and values too large to square, from the column's extremes ``lo`` and ``hi``
    (NaN aside; ``values`` only count the infinite ones for the message, read when None)."""
    largest = max(abs(hi), abs(lo))
    if np.isinf(largest):
        n_inf = int(np.isinf(values).sum()) if values is not None else 1
        raise DataError(
            f"{role} {name!r} has {n_inf} infinite value(s). Replace them (e.g. with NaN and missing='drop') "
            "or remove those rows."
        )
    if largest > MAX_ABS_VALUE:
        raise DataError(
            f"{role} {name!r} has values as large as {largest:.3g}, too large to square in double precision; "
            "rescale the column (e.g. divide it by a power of ten)."
        )


def _missing_mask(
    frame: pd.DataFrame, columns: Sequence[str], minima: dict[str, float] | None = None
) -> tuple[np.ndarray, dict[str, int]]:
    """The rows with a missing value in any of ``columns`` and the count per column; ``minima`` receives the
    minimum of each float column found without NaN (the later range checks need only its maximum)."""
    mask = np.zeros(len(frame), dtype=bool)
    counts: dict[str, int] = {}
    for col in columns:
        series = frame[col]
        kind = series.dtype.kind if isinstance(series.dtype, np.dtype) else "O"
        if kind in "iub":  # numpy integers and booleans cannot be missing
            continue
        if kind == "f":
            values = series.to_numpy()
            low = values.min() if len(values) else 0.0
            if not np.isnan(low):  # min propagates NaN: no NaN anywhere
                if minima is not None and len(values) and series.dtype == np.float64:
                    minima[col] = float(low)
                continue
        miss = series.isna().to_numpy()
        n_miss = int(miss.sum())
        if n_miss:
            counts[col] = n_miss
            mask |= miss
    return mask, counts


@dataclass(frozen=True)
class TreatmentCode:
    """How a treatment column is coded (a global fact of the schema): ``rule`` "float" takes the values as
    they are, "equal" codes ``level`` 1 and the other level 0, "high" codes the larger of two numbers 1."""

    kind: str  # "binary" or "continuous"
    mapping: dict[str, Any] | None
    note: str | None
    rule: str = "float"
    level: Any = None

    def apply(self, series: pd.Series) -> np.ndarray:
        """The coded values of some rows of the column (the per-partition encode step)."""
        if self.rule == "equal":
            return np.where(series.isna(), np.nan, (series == self.level).to_numpy(dtype=np.float64))
        values = _as_float(series)
        if self.rule == "high":
            return np.where(np.isnan(values), np.nan, (values == self.level).astype(np.float64))
        return values


def _two_level_code(name: Any, levels: tuple[float, float], kind: str) -> TreatmentCode:
    """The coding of a numeric treatment with exactly the two values ``levels`` (lo < hi)."""
    lo, hi = levels
    if (lo, hi) == (0.0, 1.0):
        return TreatmentCode("binary", None, None)
    if kind == "binary":
        return TreatmentCode(
            "binary",
            {"treated": _plain(hi), "control": _plain(lo)},
            f"treatment {name!r}: {hi:g} coded 1 (treated), {lo:g} coded 0 (control)",
            "high",
            hi,
        )
    note = f"treatment {name!r} is continuous: the effect is per one-unit increase"
    return TreatmentCode("continuous", None, note)


def _is_dose(values: np.ndarray) -> bool:
    """Whether a numeric column has at least three distinct values (NaN aside), in O(n): no sort, no hashing."""
    with np.errstate(invalid="ignore"):
        values = values[values == values]  # drop NaN
        if values.size < 3:
            return False
        other = values[values != values[0]]
        return bool(other.size) and bool((other != other[0]).any())


def _two_levels(values: np.ndarray) -> tuple[float, float] | bool | None:
    """The levels of a numeric column without NaN from its minimum and maximum (no sort, no hashing): (lo, hi)
    when every value is one of them (lo < hi), True when there are three or more, None otherwise (constant,
    or missing values: the caller's general path says why)."""
    with np.errstate(invalid="ignore"):
        lo, hi = float(np.fmin.reduce(values)), float(np.fmax.reduce(values))
        if not lo < hi:
            return None
        n_lo, n_hi = np.count_nonzero(values == lo), np.count_nonzero(values == hi)
        if n_lo + n_hi == values.size:
            return lo, hi
        if values.dtype.kind == "f" and bool(np.isnan(values).any()):
            return None
    return True


def _treatment_code(series: pd.Series, kind: str, treated_level: Any) -> TreatmentCode:
    """The coding of a treatment column from its levels. ``kind`` is "binary", "continuous" or "auto"."""
    name = series.name
    _check_not_temporal(series, "treatment")
    if treated_level is None and isinstance(series.dtype, np.dtype) and series.dtype.kind in "iuf" and len(series):
        levels2 = _two_levels(series.to_numpy())
        if levels2 is True and kind != "binary":
            _numeric(series, "treatment")  # a dose of plain floats/ints: the same checks and code as below
            note = f"treatment {name!r} is continuous: the effect is per one-unit increase"
            return TreatmentCode("continuous", None, note)
        if isinstance(levels2, tuple):  # two numeric levels: the code below needs only which two
            if np.isfinite(levels2).all():  # _numeric's checks from the levels, without another pass
                _check_numeric_type(series, "treatment")
                _check_range(None, name, "treatment", *levels2)
            else:
                _numeric(series, "treatment")  # refuses the infinite level, with the count
            return _two_level_code(name, levels2, kind)
    if kind != "binary" and treated_level is None and series.dtype.kind in "iuf" and _is_dose(series.to_numpy()):
        _numeric(series, "treatment")  # a dose of plain floats/ints: the same checks and code, without hashing n levels
        note = f"treatment {name!r} is continuous: the effect is per one-unit increase"
        return TreatmentCode("continuous", None, note)
    levels = pd.unique(series.dropna())
    if len(levels) < 2:
        shown = _plain(levels[0]) if len(levels) else "nothing (all missing)"
        raise DataError(
            f"treatment {name!r} is constant (every used row has {shown!r}); "
            "an effect needs both treated and untreated rows."
        )
    if treated_level is not None:
        as_text = [lv for lv in levels.tolist() if str(lv) == str(treated_level)]
        if treated_level not in set(levels.tolist()) and len(as_text) == 1:
            treated_level = as_text[0]  # e.g. '2021-01-01' from the command line for a date level
        if treated_level not in set(levels.tolist()):
            raise SpecificationError(
                f"treated_level={treated_level!r} does not occur in treatment {name!r}; "
                f"levels: {sorted(map(str, levels))}."
            )
        if len(levels) != 2:
            raise DataError(f"treatment {name!r} has {len(levels)} levels; treated_level needs exactly two.")
        control = next(lv for lv in levels if lv != treated_level)
        mapping = {"treated": _plain(treated_level), "control": _plain(control)}
        note = f"treatment {name!r}: {treated_level!r} coded 1, {control!r} coded 0"
        return TreatmentCode("binary", mapping, note, "equal", treated_level)
    if pd.api.types.is_bool_dtype(series.dtype):
        return TreatmentCode("binary", None, None)
    if _is_numeric(series):
        _numeric(series, "treatment")
        uniq = {float(v) for v in levels}
        if len(uniq) == 2:
            low, high = sorted(uniq)
            return _two_level_code(name, (low, high), kind)
        if kind == "binary":
            raise DataError(
                f"treatment {name!r} must be binary (0/1, bool, or two levels) but has {len(uniq)} distinct values. "
                "Use method='ols' for a continuous treatment (a dose), or recode it."
            )
        note = f"treatment {name!r} is continuous: the effect is per one-unit increase"
        return TreatmentCode("continuous", None, note)
    if len(levels) != 2:
        raise DataError(
            f"treatment {name!r} must have two levels but has {len(levels)}: {sorted(map(str, levels))[:6]}. "
            "Recode it to 0/1 or choose one level with treated_level=."
        )
    ordered = sorted(levels.tolist(), key=str)
    hits = [lv for lv in ordered if str(lv).strip().lower() in _TREATED_WORDS]
    controls = [lv for lv in ordered if str(lv).strip().lower() in _CONTROL_WORDS]
    if len(hits) == 1 and hits[0] not in controls:  # one level says 'treated'
        controls = [lv for lv in ordered if lv != hits[0]]
    elif len(controls) == 1 and not hits:  # one level says 'control' (e.g. 'drug' / 'placebo')
        hits = [lv for lv in ordered if lv != controls[0]]
    if len(hits) != 1 or len(controls) != 1 or hits[0] == controls[0]:
        shown = " and ".join(repr(_plain(lv)) for lv in ordered)
        raise SpecificationError(
            f"treatment {name!r} has the levels {shown}, and which one means 'treated' is not obvious; guessing "
            f"could flip the sign of the effect. Name it: treated_level={_plain(ordered[0])!r} or "
            f"treated_level={_plain(ordered[1])!r}."
        )
    treated = hits[0]
    control = controls[0]
    return TreatmentCode(
        "binary",
        {"treated": _plain(treated), "control": _plain(control)},
        f"treatment {name!r}: {treated!r} coded 1 (treated), {control!r} coded 0 (control); "
        "pass treated_level= to choose otherwise",
        "equal",
        treated,
    )


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _covariate_codes(
    frame: pd.DataFrame, names: Sequence[str], minima: dict[str, float] | None = None
) -> tuple[dict[str, pd.Index | None], list[str]]:
    """The schema of the covariates: None for a numeric column, the levels of a categorical one (``minima``:
    the known minima of float columns without NaN, see :func:`_missing_mask`)."""
    codes: dict[str, pd.Index | None] = {}
    notes: list[str] = []
    for col in names:
        series = frame[col]
        if _is_numeric(series) or pd.api.types.is_bool_dtype(series.dtype) or _numbers_as_objects(series) is not None:
            _numeric(series, "covariate", None if minima is None else minima.get(col))
            codes[col] = None
            continue
        _check_not_temporal(series, "covariate")
        _check_not_complex(series, "covariate")
        if not isinstance(series.dtype, pd.CategoricalDtype):
            _check_numbers_as_text(series)
        cat = pd.Categorical(series)
        unused = cat.categories[~np.isin(np.arange(len(cat.categories)), cat.codes)]
        if len(unused):  # levels with no used row (a filtered categorical, a polars Enum, rows dropped)
            cat = cat.remove_unused_categories()
            shown = ", ".join(repr(_plain(v)) for v in unused[:6]) + (", ..." if len(unused) > 6 else "")
            notes.append(f"covariate {col!r}: {len(unused)} level(s) without a used row left out ({shown})")
        if len(cat.categories) < 2:
            raise DataError(f"covariate {col!r} has a single level ({cat.categories[0]!r}); drop it from covariates.")
        codes[col] = cat.categories
        notes.append(
            f"covariate {col!r} is categorical: one-hot encoded with {len(cat.categories) - 1} column(s), "
            f"level {cat.categories[0]!r} is the reference"
        )
    return codes, notes


def _covariate_parts(codes: dict[str, pd.Index | None], frame: pd.DataFrame) -> list[Part]:
    """The design columns of some rows (the per-partition encode step): numbers as they are, a dummy per
    non-reference level of a categorical (its codes against the schema's levels)."""
    parts: list[Part] = []
    for col, levels in codes.items():
        series = frame[col]
        if levels is None:
            parts.append(Part(col, _as_float(series), source=col))
            continue
        if isinstance(series.dtype, pd.CategoricalDtype):  # its own categories may include levels left out
            values = series.cat.set_categories(levels).cat.codes.to_numpy(dtype=np.int32)
        else:
            values = pd.Categorical(series, categories=levels).codes.astype(np.int32)
        for level_index in range(1, len(levels)):
            parts.append(Part(f"{col}[{levels[level_index]}]", values, level_index, col))
    return parts


def _check_numbers_as_text(series: pd.Series) -> None:
    """Refuse a text column that is mostly numbers with a few non-numbers (a typical broken CSV column)."""
    values = series.dropna()
    if not len(values):
        return
    parsed = pd.to_numeric(values.astype(str), errors="coerce")
    bad = values[parsed.isna().to_numpy()]
    if 0 < len(bad) <= len(values) / 2:
        sample = bad.astype(str).unique()[:3].tolist()
        raise DataError(
            f"covariate {series.name!r} is mostly numbers but holds {len(bad)} value(s) that are not, such as "
            f"{sample}. Convert it with pd.to_numeric(..., errors='coerce') and handle the missing values, or "
            "make it explicitly categorical (astype('category')) if the numbers are labels."
        )


@dataclass(frozen=True)
class Schema:
    """The global facts of one estimate's table, from one pass over its rows: the columns of each role,
    the missing-value counts and the rows kept, the treatment's coding, the covariates' levels and the
    cluster levels. Partitions of the rows are then encoded against it (:func:`encode_rows`), so codes
    and one-hot columns mean the same in every partition."""

    outcome: str | None
    treatment: str | None
    treatment_code: TreatmentCode | None
    covariates: dict[str, pd.Index | None]  # None for a numeric column, else its levels
    weights: str | None
    cluster_names: tuple[str, ...]
    cluster_levels: tuple[pd.Index, ...]  # in order of first appearance: code i is level i
    extra: dict[str, str]
    used: list[str]
    n_input: int
    dropped: np.ndarray  # rows left out: a missing value in a used column (missing="drop") or weight 0
    dropped_by: dict[str, int]
    notes: tuple[str, ...]
    n_zero_weight: int = 0  # of the dropped rows, those whose weight is 0 (and no value missing)


@dataclass(frozen=True)
class Encoded:
    """The arrays of some rows, encoded against a :class:`Schema`."""

    outcome: np.ndarray
    treatment: np.ndarray | None
    parts: list[Part]
    weights: np.ndarray | None
    clusters: tuple[np.ndarray, ...]
    extra: dict[str, np.ndarray]


def scan_schema(
    frame: pd.DataFrame,
    *,
    outcome: str | None,
    treatment: str | None,
    covariates: Sequence[str],
    weights: str | None,
    cluster: Sequence[str],
    extra: dict[str, str],
    used: list[str],
    missing: str,
    treatment_kind: str,
    treated_level: Any,
    min_rows: int,
) -> tuple[Schema, pd.DataFrame]:
    """The schema pass: validate every used column over all rows and collect the global facts. Returns
    the schema and the rows kept (the user's frame itself when no row is dropped)."""
    n_input = len(frame)
    minima: dict[str, float] = {}
    mask, counts = _missing_mask(frame, used, minima)
    for col, count in counts.items():
        if count == n_input:
            raise DataError(f"column {col!r} is entirely missing ({count} rows); it cannot be used.")
    if counts and missing == "raise":
        shown = ", ".join(f"{col!r} ({cnt} rows)" for col, cnt in counts.items())
        raise DataError(
            f"Missing values in {shown}. Pass missing='drop' to drop those {int(mask.sum())} rows "
            "(the result reports how many), or fill them first."
        )
    notes = [f"{int(mask.sum())} of {n_input} rows dropped for missing values"] if mask.any() else []
    zero = _zero_weights(frame, weights, mask)
    n_zero = int(zero.sum())
    if n_zero:
        counts = {**counts, f"{weights} == 0": n_zero}
        notes.append(f"{n_zero} row(s) with weight 0 were left out (they are not observations)")
        mask = mask | zero
    # without dropped rows the columns are read straight from the user's frame (float64 columns as views:
    # selecting frame[used] would copy a frame built from one 2-D array)
    sub = frame.loc[~mask, used] if mask.any() else frame
    if sub is not frame:  # the minima were of every row
        minima = {}
    if len(sub) < min_rows:
        removed = "missing values and rows of weight 0" if n_zero else "missing values"
        raise DataError(f"Only {len(sub)} usable row(s) after removing {removed}; at least {min_rows} are needed.")
    if outcome is not None:
        y, y_low, y_high = _numeric_range(sub[outcome], "outcome", minima.get(outcome))
        if y_low == y_high:
            raise DataError(
                f"outcome {outcome!r} takes the single value {y[0]:g} in every used row; there is no variation "
                "for a treatment to explain. Check the column (or the rows kept)."
            )
    code = None
    if treatment is not None:
        code = _treatment_code(sub[treatment], treatment_kind, treated_level)
        notes += [code.note] if code.note else []
    cov_codes, cov_notes = _covariate_codes(sub, covariates, minima)
    notes += cov_notes
    levels = tuple(pd.Index(_distinct(sub[c])) for c in cluster)
    schema = Schema(
        outcome,
        treatment,
        code,
        cov_codes,
        weights,
        tuple(cluster),
        levels,
        extra,
        used,
        n_input,
        mask,
        counts,
        tuple(notes),
        n_zero,
    )
    return schema, sub


def _zero_weights(frame: pd.DataFrame, weights: str | None, missing: np.ndarray) -> np.ndarray:
    """Validate the weights on the rows without missing values and return the rows (of all) whose weight is
    0 there: such rows are not observations, so they are left out of n, the degrees of freedom and the levels."""
    zero = np.zeros(len(frame), dtype=bool)
    kept = ~missing
    if weights is None or not kept.any():
        return zero  # no row left: reported by the caller
    w = _numeric(frame.loc[kept, weights] if missing.any() else frame[weights], "weights")
    if (w < 0).any():
        raise DataError(
            f"weights {weights!r} has {int((w < 0).sum())} negative value(s); weights must be >= 0. "
            "Fix the column (negative weights are not frequencies or inverse probabilities)."
        )
    if not (w > 0).any():
        raise DataError(
            f"weights {weights!r} is zero in every row used; pass positive weights (or leave weights= out)."
        )
    zero[np.flatnonzero(kept)[w == 0]] = True
    return zero


def _distinct(column: pd.Series) -> Any:
    """The distinct values of a cluster column in order of first appearance (integer keys without hashing)."""
    if column.dtype.kind in "iu":
        from ._core.codes import factorize

        return factorize(column.to_numpy())[1]
    return pd.factorize(column, sort=False)[1]


def _level_codes(levels: pd.Index, column: pd.Series) -> np.ndarray:
    """Each row's position among a cluster column's levels (a subtraction when they are lo, lo + 1, ...)."""
    from ._core.codes import range_indexer

    codes = range_indexer(levels, column.to_numpy()) if column.dtype.kind in "iu" else None
    return (levels.get_indexer(column) if codes is None else codes).astype(np.int64, copy=False)


def encode_rows(schema: Schema, rows: pd.DataFrame) -> Encoded:
    """The per-partition encode step: the arrays of ``rows`` (rows the schema pass kept) by role."""
    n = len(rows)
    code = schema.treatment_code
    return Encoded(
        outcome=np.zeros(n) if schema.outcome is None else _as_float(rows[schema.outcome]),
        treatment=None if code is None or schema.treatment is None else code.apply(rows[schema.treatment]),
        parts=_covariate_parts(schema.covariates, rows),
        weights=None if schema.weights is None else _as_float(rows[schema.weights]),
        clusters=tuple(
            _level_codes(levels, rows[c]) for c, levels in zip(schema.cluster_names, schema.cluster_levels, strict=True)
        ),
        extra={role: rows[col].to_numpy() for role, col in schema.extra.items()},
    )


def prepare(
    data: Any,
    *,
    outcome: str | None,
    treatment: str | None = None,
    covariates: str | Iterable[str] | None = None,
    weights: str | None = None,
    cluster: str | Iterable[str] | None = None,
    extra: dict[str, str | None] | None = None,
    missing: str = "raise",
    treatment_kind: str = "binary",
    treated_level: Any = None,
    keep_frame: bool = False,
    min_rows: int = 2,
) -> Prepared:
    """Validate ``data`` for one estimate and return arrays with named roles.

    ``treatment_kind`` is "binary" (two levels, mapped to 0/1), "continuous" (a dose) or "auto"
    (binary when it has two levels, a dose otherwise). Only the columns named here are checked
    for missing values; with ``missing="drop"`` rows missing any of them are dropped and counted.
    Two steps: the schema pass (:func:`scan_schema`: global facts such as levels and codes) and the
    encode step (:func:`encode_rows`), here on all the rows kept as one partition.
    """
    missing = check_option("missing", missing, MISSING_POLICIES)
    treatment_kind = check_option("treatment_kind", treatment_kind, ("binary", "continuous", "auto"))
    if outcome is not None and (not isinstance(outcome, str) or not outcome):
        raise SpecificationError(f"outcome must be a column name, got {outcome!r}.")
    cov_names = name_list(data, covariates, "covariates")
    cluster_names = name_list(data, cluster, "cluster")
    extra = {k: v for k, v in (extra or {}).items() if v is not None}
    roles: list[tuple[str, str]] = [] if outcome is None else [("outcome", outcome)]
    if treatment is not None:
        roles.append(("treatment", treatment))
    roles += [("covariate", c) for c in cov_names]
    if weights is not None:
        roles.append(("weights", weights))
    roles += [("cluster", c) for c in cluster_names]
    roles += [(role, col) for role, col in extra.items() if col is not None]
    used = list(dict.fromkeys(col for _, col in roles))
    frame = _load_roles(data, roles, used)
    _check_role_overlap(outcome, treatment, cov_names)
    if len(frame) == 0:
        raise DataError("The data has no rows.")
    schema, sub = scan_schema(
        frame,
        outcome=outcome,
        treatment=treatment,
        covariates=cov_names,
        weights=weights,
        cluster=cluster_names,
        extra=extra,  # type: ignore[arg-type]
        used=used,
        missing=missing,
        treatment_kind=treatment_kind,
        treated_level=treated_level,
        min_rows=min_rows,
    )
    enc = encode_rows(schema, sub)
    code = schema.treatment_code
    return Prepared(
        outcome_name=outcome,
        outcome=enc.outcome,
        treatment_name=treatment,
        treatment=enc.treatment,
        treatment_kind=None if code is None else code.kind,
        treatment_mapping=None if code is None else code.mapping,
        covariates=Design(enc.parts, len(sub)),
        covariate_columns=tuple(cov_names),
        weights=enc.weights,
        clusters=enc.clusters,
        cluster_names=tuple(cluster_names),
        extra=enc.extra,
        n_input=schema.n_input,
        n_dropped=int(schema.dropped.sum()),
        dropped_by=schema.dropped_by,
        n_zero_weight=schema.n_zero_weight,
        notes=schema.notes,
        frame=sub[used] if keep_frame else None,
        index=sub.index,
        input_index=frame.index,
    )


def needs_memory_error(data: Any, used: Sequence[str]) -> DataError:
    """The error of a method that needs every row in memory, given rows that stay on an engine: it says
    how much memory the used columns would take (rows x columns x 8 bytes) and what runs on engines."""
    from .engines import wrap

    eng = wrap(data)
    n = sum(eng.map_partitions(list(used[:1]), lambda piece: piece.num_rows))
    need = n * max(len(used), 1) * 8
    return DataError(
        f"This method needs all {n:,} rows in memory ({len(used)} column(s) as float64: about "
        f"{need / 2**30:.2f} GiB, more while it works) and the data is on the {eng.name} engine. The methods "
        "that run where the rows live are naive, ols, lin, did, twfe, iv, ipw, aipw, ra and overlap (docs/scaling.md). "
        "Otherwise "
        "load the columns it uses into a pandas frame yourself (e.g. a sample, or on a machine with that much memory)."
    )


def _load_roles(data: Any, roles: Sequence[tuple[str, str]], used: list[str]) -> pd.DataFrame:
    """The table with the used columns, every role's column checked to exist (and to be unique)."""
    from .engines import is_engine_input

    if is_engine_input(data) and not isinstance(data, (str, os.PathLike)):
        raise needs_memory_error(data, used)
    listed = available_columns(data)
    if listed is not None:
        _check_roles(listed, roles)
    frame = load_table(data, used)
    _check_roles(list(frame.columns), roles)
    if frame.columns.has_duplicates:  # only the columns we use must be unique
        dup = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]} & set(used))
        if dup:
            raise DataError(f"The data has duplicated column names: {dup}. Rename them so that each is unique.")
    _check_not_nested(frame, roles)
    return frame


def check_roles(data: Any, roles: Iterable[tuple[str, str | None]]) -> None:
    """Before a partial read: every ``(role, column)`` given names a column of ``data``, checked against all
    of its columns (so the message lists them all and suggests the closest), under the caller's own
    keyword as the role (``first_treated``, ``treated``). Data whose columns are not cheap to list is
    left to :func:`prepare`."""
    names = column_names(data)
    if names is not None:
        _check_roles(names, [(role, col) for role, col in roles if col is not None])


def _check_roles(columns: Sequence[Any], roles: Sequence[tuple[str, str]]) -> None:
    present = set(columns)
    # a column with two roles (the unit, also the default cluster) is named by the one the user gave
    roles = sorted(roles, key=lambda pair: pair[0] == "cluster")
    for role, col in roles:
        if col not in present:
            _check_string_names(present, col, role)
            check_columns(columns, [col], role)


def _check_string_names(present: Iterable[Any], name: Any, role: str) -> None:
    """``name`` matches only a column whose name is not a string (``0`` for ``"0"``): say so."""
    if any(not isinstance(c, str) and str(c) == str(name) for c in present):
        raise DataError(
            f"{role} {name!r} matches a column whose name is not a string ({name} as a number); name the "
            "columns with strings first, e.g. df.columns = df.columns.astype(str)."
        )


_NESTED = (list, tuple, dict, set, np.ndarray)


def _check_not_nested(frame: pd.DataFrame, roles: Sequence[tuple[str, str]]) -> None:
    """Refuse a used column of lists, arrays or records (polars List/Array/Struct, or such pandas objects)."""
    for role, col in roles:
        series = frame[col]
        if series.dtype == object and series.map(lambda v: isinstance(v, _NESTED)).any():
            raise DataError(
                f"{role} {col!r} holds lists or records (a nested column, e.g. polars List or Struct), not one "
                "value per row; unnest it (e.g. polars' .explode() or .struct.unnest()) or pick another column."
            )


def _check_role_overlap(outcome: str | None, treatment: str | None, covariates: Sequence[str]) -> None:
    if treatment is not None and treatment == outcome:
        raise SpecificationError(f"outcome and treatment are the same column {outcome!r}.")
    for role, col in (("outcome", outcome), ("treatment", treatment)):
        if col is not None and col in covariates:
            raise SpecificationError(f"{role} {col!r} is also listed among the covariates; remove it from covariates.")
    dup = [c for c in dict.fromkeys(covariates) if list(covariates).count(c) > 1]
    if dup:
        raise SpecificationError(f"covariates lists {dup} more than once.")


# --------------------------------------------------------------------------------------------------
# preparing the roles on an engine (rows that stay where they live)
# --------------------------------------------------------------------------------------------------

#: distinct treatment values the schema pass keeps per piece (more: a dose, or too many levels)
_TREATMENT_VALUES = 64


@dataclass(frozen=True)
class _PieceRoles:
    """What the per-piece steps need (picklable: it travels to the engine's workers)."""

    outcome: str | None
    treatment: str | None
    covariates: tuple[str, ...]
    weights: str | None
    cluster: tuple[str, ...]
    used: tuple[str, ...]
    factors: tuple[str, ...] = ()  # fixed-effect columns (twfe's unit, time, ...): their distinct values


def _kept_rows(roles: _PieceRoles, frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, dict[str, int], int]:
    """A piece's rows without a missing value in a used column and without weight 0, the missing mask,
    the missing counts and the number of rows of weight 0."""
    mask, counts = _missing_mask(frame, list(roles.used))
    n_zero = 0
    if roles.weights is not None:
        w = frame[roles.weights].to_numpy(dtype=np.float64, na_value=np.nan)
        zero = (w == 0) & ~mask
        n_zero = int(zero.sum())
        if n_zero:
            mask = mask | zero
    return (frame.loc[~mask] if mask.any() else frame), mask, counts, n_zero


def _scan_piece(roles: _PieceRoles, table: Any) -> dict[str, Any]:
    """The schema pass on one piece: counts, checks and the distinct values the global schema needs."""
    frame = table.to_pandas()
    kept, mask, counts, n_zero = _kept_rows(roles, frame)
    out: dict[str, Any] = {"n_input": len(frame), "counts": counts, "n_missing": int(mask.sum()) - n_zero}
    out["n_zero"] = n_zero
    out["n_kept"] = len(kept)
    if roles.weights is not None:
        w = _numeric(kept[roles.weights], "weights")
        out["n_negative"] = int((w < 0).sum())
        out["n_positive"] = int((w > 0).sum())
        with np.errstate(divide="ignore", invalid="ignore"):
            out["log_w"] = float(np.log(w[w > 0]).sum())
    if roles.outcome is not None and len(kept):
        y = _numeric(kept[roles.outcome], "outcome")
        out["y_range"] = (float(y.min()), float(y.max()), float(np.abs(y).max()))
    if roles.treatment is not None:
        counts_t = kept[roles.treatment].value_counts(dropna=True, sort=False)
        out["t_values"] = list(counts_t.index[:_TREATMENT_VALUES])
        out["t_counts"] = counts_t.to_numpy()[:_TREATMENT_VALUES].tolist()
        out["t_many"] = len(counts_t) > _TREATMENT_VALUES
    kinds: dict[str, Any] = {}
    for col in roles.covariates:
        series = kept[col]
        if _is_numeric(series) or pd.api.types.is_bool_dtype(series.dtype) or _numbers_as_objects(series) is not None:
            _numeric(series, "covariate")
            kinds[col] = None
        else:
            kinds[col] = pd.unique(series.dropna()).tolist()
    out["covariates"] = kinds
    out["clusters"] = [pd.unique(kept[c]).tolist() for c in roles.cluster]
    out["factors"] = [pd.unique(kept[c]) for c in roles.factors]
    if len(roles.cluster) == 2:
        pairs = kept[list(roles.cluster)].drop_duplicates()
        out["pairs"] = list(zip(pairs.iloc[:, 0].tolist(), pairs.iloc[:, 1].tolist(), strict=True))
    return out


@dataclass(frozen=True)
class _Encoder:
    """The per-piece encode step on an engine: a piece's kept rows as arrays by key, against the schema."""

    roles: _PieceRoles
    schema: Schema
    pairs: np.ndarray | None  # two-way clustering: sorted keys code1 * G2 + code2 of the intersections
    factor_levels: tuple[pd.Index, ...] = ()  # levels of each of roles.factors: codes key "fe0", "fe1", ...

    def __call__(self, table: Any) -> tuple[dict[str, np.ndarray], int]:
        kept, _, _, _ = _kept_rows(self.roles, table.to_pandas())
        enc = encode_rows(self.schema, kept)
        local: dict[str, np.ndarray] = {"y": enc.outcome}
        if enc.treatment is not None:
            local["t"] = enc.treatment
            if self.schema.treatment_code is not None and self.schema.treatment_code.kind == "binary":
                # each arm's rows as weights (times the sampling weights): a regression within an arm
                arm1 = enc.treatment if enc.weights is None else enc.treatment * enc.weights
                local["arm1"] = arm1
                local["arm0"] = (1.0 - enc.treatment) if enc.weights is None else enc.weights - arm1
        if enc.weights is not None:
            local["w"] = enc.weights
        for g, codes in enumerate(enc.clusters):
            local[f"cluster{g}"] = codes
        if self.pairs is not None:
            size = len(self.schema.cluster_levels[1])
            local["cluster2"] = np.searchsorted(self.pairs, enc.clusters[0] * size + enc.clusters[1]).astype(np.int64)
        for part in enc.parts:
            local[f"x:{part.source}"] = part.values  # type: ignore[assignment]
        for f, (col, levels) in enumerate(zip(self.roles.factors, self.factor_levels, strict=True)):
            local[f"fe{f}"] = _level_codes(levels, kept[col])
        return local, len(kept)


@dataclass(frozen=True)
class EnginePrepared:
    """The roles of one estimate whose rows stay on an engine: the global schema and counts from the
    schema pass, and stand-in arrays (:class:`deconfound.engines.source.Templates`) that the estimators
    use as they would use the arrays of :class:`Prepared`; every pass over them runs on the engine inside
    ``with prepared.rows():``. Duck-types what the result builders read from :class:`Prepared`."""

    engine: Any
    schema: Schema
    encoder: _Encoder
    templates: Any
    outcome_name: str | None
    treatment_name: str | None
    treatment_kind: str | None
    treatment_mapping: dict[str, Any] | None
    covariate_columns: tuple[str, ...]
    cluster_names: tuple[str, ...]
    cluster_sizes: tuple[int, ...]
    n: int
    n_treated: int | None
    n_input: int
    n_dropped: int
    dropped_by: dict[str, int]
    n_zero_weight: int
    notes: tuple[str, ...]
    outcome: np.ndarray  # the largest |y| (what the underflow check of a zero standard error reads)
    log_weight_sum: float | None
    input_index: None = None  # rows stay on the engine: no per-row tables come back
    factor_names: tuple[str, ...] = ()  # fixed-effect columns given as ``factors`` (codes "fe0", "fe1", ...)
    factor_sizes: tuple[int, ...] = ()  # their numbers of levels over the kept rows

    @property
    def n_control(self) -> int | None:
        return None if self.n_treated is None else self.n - self.n_treated

    @property
    def weights(self) -> np.ndarray | None:
        return self.templates["w"] if self.schema.weights is not None else None

    @property
    def covariates(self) -> Design:
        """The covariates' design columns over the stand-ins (the parts :func:`_covariate_parts` gives)."""
        parts: list[Part] = []
        for col, levels in self.schema.covariates.items():
            values = self.templates[f"x:{col}"]
            if levels is None:
                parts.append(Part(col, values, source=col))
            else:
                parts += [Part(f"{col}[{levels[i]}]", values, i, col) for i in range(1, len(levels))]
        return Design(parts, self.n)

    def cluster_codes(self) -> tuple[list[np.ndarray], tuple[int, ...]]:
        """The stand-ins of the codes the residual pass sums over (two-way adds the intersection) and the
        numbers of clusters, as ``covariance.cluster_terms`` gives them for arrays."""
        if not self.cluster_names:
            return [], ()
        if min(self.cluster_sizes) < 2:
            raise DataError("Cluster-robust standard errors need at least two clusters; the data has one.")
        keys = [f"cluster{g}" for g in range(len(self.cluster_names) + (len(self.cluster_names) == 2))]
        return [self.templates[k] for k in keys], self.cluster_sizes

    def rows(self) -> Any:
        """The context in which every pass of the core reads this estimate's rows on the engine."""
        from .engines.source import engine_rows

        return engine_rows(self.engine, list(self.schema.used), self.encoder, self.templates)


def prepare_engine(
    data: Any,
    *,
    outcome: str | None,
    treatment: str | None = None,
    covariates: str | Iterable[str] | None = None,
    weights: str | None = None,
    cluster: str | Iterable[str] | None = None,
    missing: str = "raise",
    treatment_kind: str = "binary",
    treated_level: Any = None,
    min_rows: int = 2,
    engine: str | None = None,
    memory_limit: str | None = None,
    factors: Sequence[tuple[str, str]] = (),
) -> EnginePrepared:
    """:func:`prepare` for rows that stay on an engine: one schema pass over the engine (validation, missing
    counts, the treatment's coding, covariate levels, cluster code maps), the same checks and messages as
    :func:`prepare`, and no per-row array on the driver. ``factors`` are (role, column) pairs of fixed
    effects (twfe's unit and time): used columns whose levels the schema pass collects, coded per piece
    under the keys "fe0", "fe1", ... (in the order given)."""
    from .engines import wrap
    from .engines.source import Templates

    eng = wrap(data, engine, memory_limit=memory_limit)
    missing = check_option("missing", missing, MISSING_POLICIES)
    treatment_kind = check_option("treatment_kind", treatment_kind, ("binary", "continuous", "auto"))
    cov_names = as_name_list(covariates, "covariates")
    cluster_names = as_name_list(cluster, "cluster")
    roles_list: list[tuple[str, str]] = [] if outcome is None else [("outcome", outcome)]
    if treatment is not None:
        roles_list.append(("treatment", treatment))
    roles_list += [("covariate", c) for c in cov_names]
    if weights is not None:
        roles_list.append(("weights", weights))
    roles_list += [("cluster", c) for c in cluster_names]
    roles_list += list(factors)
    _check_roles(eng.columns(), roles_list)
    _check_role_overlap(outcome, treatment, cov_names)
    used = list(dict.fromkeys(col for _, col in roles_list))
    factor_cols = tuple(col for _, col in factors)
    roles = _PieceRoles(outcome, treatment, tuple(cov_names), weights, tuple(cluster_names), tuple(used), factor_cols)
    from functools import partial

    pieces = [p for p in eng.map_partitions(used, partial(_scan_piece, roles)) if p is not None]
    n_input = sum(p["n_input"] for p in pieces)
    if n_input == 0:
        raise DataError("The data has no rows.")
    counts: dict[str, int] = {}
    for col in used:
        total = sum(p["counts"].get(col, 0) for p in pieces)
        if total:
            counts[col] = total
    n_missing = sum(p["n_missing"] for p in pieces)
    for col, count in counts.items():
        if count == n_input:
            raise DataError(f"column {col!r} is entirely missing ({count} rows); it cannot be used.")
    if counts and missing == "raise":
        shown = ", ".join(f"{col!r} ({cnt} rows)" for col, cnt in counts.items())
        raise DataError(
            f"Missing values in {shown}. Pass missing='drop' to drop those {n_missing} rows "
            "(the result reports how many), or fill them first."
        )
    notes = [f"{n_missing} of {n_input} rows dropped for missing values"] if n_missing else []
    n_zero = sum(p["n_zero"] for p in pieces)
    log_w = None
    if weights is not None:
        negative = sum(p["n_negative"] for p in pieces)
        if negative:
            raise DataError(
                f"weights {weights!r} has {negative} negative value(s); weights must be >= 0. "
                "Fix the column (negative weights are not frequencies or inverse probabilities)."
            )
        if not sum(p["n_positive"] for p in pieces):
            raise DataError(
                f"weights {weights!r} is zero in every row used; pass positive weights (or leave weights= out)."
            )
        log_w = float(sum(p["log_w"] for p in pieces))
    if n_zero:
        counts = {**counts, f"{weights} == 0": n_zero}
        notes.append(f"{n_zero} row(s) with weight 0 were left out (they are not observations)")
    n = sum(p["n_kept"] for p in pieces)
    if n < min_rows:
        removed = "missing values and rows of weight 0" if n_zero else "missing values"
        raise DataError(f"Only {n} usable row(s) after removing {removed}; at least {min_rows} are needed.")
    scale = 0.0
    if outcome is not None:
        ranges = [p["y_range"] for p in pieces if "y_range" in p]
        lo, hi = min(r[0] for r in ranges), max(r[1] for r in ranges)
        scale = max(r[2] for r in ranges)
        if lo == hi:
            raise DataError(
                f"outcome {outcome!r} takes the single value {lo:g} in every used row; there is no variation "
                "for a treatment to explain. Check the column (or the rows kept)."
            )
    code = None
    n_treated = None
    if treatment is not None:
        tally: dict[Any, int] = {}
        for p in pieces:
            for value, count in zip(p["t_values"], p["t_counts"], strict=True):
                tally[value] = tally.get(value, 0) + int(count)
        many = any(p["t_many"] for p in pieces)
        values = pd.Series(list(tally), name=treatment)
        code = _treatment_code(values, treatment_kind, treated_level)
        notes += [code.note] if code.note else []
        if code.kind == "binary":
            if many:  # cannot happen for a binary coding (it has two levels)
                raise DataError(f"treatment {treatment!r} has more than {_TREATMENT_VALUES} levels.")
            coded = code.apply(values)
            n_treated = int(sum(c for c, v in zip(tally.values(), coded, strict=True) if v == 1.0))
    cov_codes: dict[str, pd.Index | None] = {}
    for col in cov_names:
        kinds = [p["covariates"][col] for p in pieces if p["n_kept"]]
        if all(k is None for k in kinds):
            cov_codes[col] = None
            continue
        levels = list(dict.fromkeys(v for k in kinds if k is not None for v in k))
        codes_col, cov_notes = _covariate_codes(pd.DataFrame({col: pd.Series(levels, dtype=object)}), [col])
        cov_codes.update(codes_col)
        notes += cov_notes
    cluster_levels = tuple(
        pd.Index(list(dict.fromkeys(v for p in pieces for v in p["clusters"][g]))) for g in range(len(cluster_names))
    )
    pair_keys = None
    if len(cluster_names) == 2:
        seen = list(dict.fromkeys(pair for p in pieces for pair in p["pairs"]))
        a = cluster_levels[0].get_indexer([s[0] for s in seen]).astype(np.int64)
        b = cluster_levels[1].get_indexer([s[1] for s in seen]).astype(np.int64)
        pair_keys = np.unique(a * len(cluster_levels[1]) + b)
    schema = Schema(
        outcome,
        treatment,
        code,
        cov_codes,
        weights,
        tuple(cluster_names),
        cluster_levels,
        {},
        used,
        n_input,
        np.zeros(0, dtype=bool),
        counts,
        tuple(notes),
        n_zero,
    )
    keys = ["y", "t", "w", "arm0", "arm1", *[f"cluster{g}" for g in range(3)], *[f"x:{c}" for c in cov_names]]
    sizes = tuple(len(lv) for lv in cluster_levels)
    # the cluster stand-ins hold their largest code, which is all a pass reads of them on the driver
    fills = {f"cluster{g}": np.array([size - 1]) for g, size in enumerate(sizes)}
    factor_levels = tuple(
        pd.Index(pd.unique(np.concatenate([p["factors"][f] for p in pieces if len(p["factors"][f])])))
        for f in range(len(factor_cols))
    )
    keys += [f"fe{f}" for f in range(len(factor_cols))]
    fills.update({f"fe{f}": np.array([len(lv) - 1]) for f, lv in enumerate(factor_levels)})
    if pair_keys is not None:
        fills["cluster2"] = np.array([len(pair_keys) - 1])
    return EnginePrepared(
        engine=eng,
        schema=schema,
        encoder=_Encoder(roles, schema, pair_keys, factor_levels),
        templates=Templates(keys, fills),
        outcome_name=outcome,
        treatment_name=treatment,
        treatment_kind=None if code is None else code.kind,
        treatment_mapping=None if code is None else code.mapping,
        covariate_columns=tuple(cov_names),
        cluster_names=tuple(cluster_names),
        cluster_sizes=sizes,
        n=n,
        n_treated=n_treated,
        n_input=n_input,
        n_dropped=n_input - n,
        dropped_by=counts,
        n_zero_weight=n_zero,
        notes=tuple(notes),
        outcome=np.array([scale]),
        log_weight_sum=log_w,
        factor_names=factor_cols,
        factor_sizes=tuple(len(lv) for lv in factor_levels),
    )
