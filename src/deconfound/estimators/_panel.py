"""What the panel families share (twfe, event study, staggered adoption, panel regression): the panel
index (units x periods), treatment timing (the first treated period of each unit, its cohort), and
event time. Nothing here estimates anything."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._core import kernels
from .._core.codes import factorize
from ..errors import DataError

NEVER = np.inf  # first-treated period of a unit that is never treated


@dataclass(frozen=True)
class Panel:
    """Row-level unit and period codes of a panel."""

    unit: np.ndarray  # codes 0..n_units-1
    unit_labels: np.ndarray
    time: np.ndarray  # the numeric period of each row
    period: np.ndarray  # codes 0..n_periods-1 in increasing time
    periods: np.ndarray  # sorted distinct periods
    unit_name: str
    time_name: str

    @property
    def n_units(self) -> int:
        return len(self.unit_labels)

    @property
    def n_periods(self) -> int:
        return len(self.periods)

    @property
    def balanced(self) -> bool:
        return len(self.unit) == self.n_units * self.n_periods

    def unit_counts(self) -> np.ndarray:
        return np.bincount(self.unit, minlength=self.n_units)


def numeric_time(values: np.ndarray, name: str) -> np.ndarray:
    """The time column as floats; refuses text and dates with a way out."""
    series = pd.Series(values)
    if pd.api.types.is_bool_dtype(series.dtype) or not pd.api.types.is_numeric_dtype(series.dtype):
        sample = series.astype(str).unique()[:3].tolist()
        raise DataError(
            f"time {name!r} must be numeric periods (e.g. years or 1, 2, 3), but it holds values such as {sample}. "
            "Convert dates to period numbers first (e.g. df[time].dt.year, or a running month count)."
        )
    return series.to_numpy(dtype=np.float64)


def panel_index(unit: np.ndarray, time: np.ndarray, unit_name: str, time_name: str, *, unique: bool = True) -> Panel:
    """Codes for ``unit`` and ``time``; with ``unique`` a (unit, period) pair may appear only once."""
    numeric_time(time[:1], time_name)  # refuse text and dates early
    ucodes, labels = factorize(unit)  # no hashing for sorted or small-range integer keys
    n_units = len(labels)
    ranked = _ranked_integers(time)
    if ranked is not None:  # integer periods in a small range: codes in increasing order, no hashing or sort
        pcodes, periods, t = ranked
    else:
        raw_codes, raw_periods = factorize(time)  # codes, then sort the distinct periods
        raw_periods = numeric_time(np.asarray(raw_periods), time_name)
        order = np.argsort(raw_periods, kind="stable")
        rank = np.empty(len(order), dtype=np.intp)
        rank[order] = np.arange(len(order))
        periods, pcodes = raw_periods[order], rank[raw_codes]
        t = periods[pcodes]
    if unique and not _increasing_within_units(ucodes, pcodes):
        key = ucodes.astype(np.int64) * len(periods) + pcodes
        counts = np.bincount(key, minlength=n_units * len(periods))
        if (counts > 1).any():
            first = int(np.flatnonzero(counts > 1)[0])
            raise DataError(
                f"unit {labels[first // len(periods)]!r} appears more than once in period "
                f"{periods[first % len(periods)]:g} of {time_name!r} ({int((counts > 1).sum())} duplicated "
                f"unit-period pair(s)). A panel has one row per {unit_name!r} and {time_name!r}; aggregate or "
                "deduplicate first."
            )
    return Panel(ucodes, np.asarray(labels), t, pcodes.astype(np.intp, copy=False), periods, unit_name, time_name)


def _ranked_integers(time: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(period codes in increasing order of period, the sorted distinct periods and every row's period, both as
    floats) of integer periods within a range no wider than the rows allow (``codes.factorize``'s bounds), from
    one compiled pass; None otherwise (then the periods are factorized and sorted)."""
    from .._core.codes import RANGE_FACTOR, RANGE_MAX

    arr = np.asarray(time)
    if not (kernels.compiled() and arr.ndim == 1 and arr.size and arr.dtype.kind in "iu"):
        return None
    lo, hi = int(arr.min()), int(arr.max())
    span = hi - lo + 1
    if span > min(RANGE_FACTOR * arr.size, RANGE_MAX) or hi >= 2**62 or lo <= -(2**62):
        return None
    from .._core import _jit_codes

    codes, distinct, as_float = _jit_codes.ranked(arr.astype(np.int64, copy=False), lo, span)
    return codes, distinct.astype(np.float64), as_float


def _increasing_within_units(ucodes: np.ndarray, pcodes: np.ndarray) -> bool:
    """True when the rows are sorted by unit and, within each unit, by strictly increasing period: then no
    (unit, period) pair repeats, which one pass shows without counting every pair."""
    if len(ucodes) < 2:
        return True
    if kernels.compiled():  # one pass, no temporaries
        from .._core import _jit_codes

        return bool(_jit_codes.increasing_within(ucodes, pcodes))
    du = np.diff(ucodes)
    if (du < 0).any():
        return False
    return not bool(((du == 0) & (pcodes[1:] <= pcodes[:-1])).any())


def first_treated_from_treatment(panel: Panel, d: np.ndarray, name: str) -> tuple[np.ndarray, list[str]]:
    """First period with ``d == 1`` for every unit (inf when never treated); refuses a treatment that
    switches off again. Returns (first_treated per unit, problems) where problems lists why the
    timing is not an absorbing binary treatment (empty when it is)."""
    problems: list[str] = []
    if kernels.compiled() and len(d):  # two passes, no temporaries of the rows' length
        from .._core import _jit_timing

        g, binary, first_off, n_off = _jit_timing.first_treated(
            _intp(panel.unit), np.ascontiguousarray(panel.time, dtype=np.float64), _float(d), panel.n_units
        )
        if not binary:
            return np.full(panel.n_units, NEVER), [f"treatment {name!r} is not binary"]
        if first_off >= 0:
            problems.append(_switches_off(name, n_off, panel.unit_labels[panel.unit[first_off]]))
        return g, problems
    if not bool(((d == 0.0) | (d == 1.0)).all()):
        return np.full(panel.n_units, NEVER), [f"treatment {name!r} is not binary"]
    g = np.full(panel.n_units, NEVER)
    treated = d == 1.0
    np.minimum.at(g, panel.unit[treated], panel.time[treated])
    after = panel.time >= g[panel.unit]
    off = after & ~treated
    if off.any():
        example = panel.unit_labels[panel.unit[np.flatnonzero(off)[0]]]
        problems.append(_switches_off(name, len(np.unique(panel.unit[off])), example))
    return g, problems


def _switches_off(name: str, n_units: int, example: object) -> str:
    return (
        f"treatment {name!r} switches off again for {n_units} unit(s) (e.g. unit "
        f"{example!r}); staggered-adoption methods need a treatment that stays on once it starts"
    )


def _intp(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.intp)


def _float(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float64)


def first_treated_from_column(panel: Panel, values: np.ndarray, name: str) -> np.ndarray:
    """The first-treated period of each unit from a column constant within unit (0, inf or missing = never)."""
    series = pd.Series(values)
    if not pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
        raise DataError(
            f"first_treated {name!r} must hold the first treated period (a number; 0 or missing for never "
            f"treated), got values such as {series.astype(str).unique()[:3].tolist()}."
        )
    v = series.to_numpy(dtype=np.float64)
    v = np.where(np.isnan(v) | (v == 0), NEVER, v)
    lo = np.full(panel.n_units, np.inf)
    hi = np.full(panel.n_units, -np.inf)
    np.minimum.at(lo, panel.unit, v)
    np.maximum.at(hi, panel.unit, v)
    bad = np.flatnonzero(lo != hi)
    if bad.size:
        raise DataError(
            f"first_treated {name!r} differs between rows of unit {panel.unit_labels[bad[0]]!r} ({bad.size} unit(s) "
            "in all); it must be the same in every row of a unit (the period its treatment starts)."
        )
    return lo


def cohort_table(g: np.ndarray, panel: Panel) -> pd.DataFrame:
    """Units per cohort (first-treated period), with never-treated and always-treated marked."""
    first = panel.periods[0]
    labels = np.where(np.isinf(g), "never treated", np.where(g <= first, "always treated", "treated in panel"))
    frame = pd.DataFrame({"first_treated": g, "kind": labels})
    out = frame.groupby(["first_treated", "kind"], sort=True).size().rename("units").reset_index()
    return out.set_index("first_treated")


def event_time(panel: Panel, g: np.ndarray) -> np.ndarray:
    """Period minus first-treated period for every row (NaN for never-treated units)."""
    gu = g[panel.unit]
    return np.where(np.isfinite(gu), panel.time - np.where(np.isfinite(gu), gu, 0.0), np.nan)


def read_timing_frame(
    data: object, first_treated: str | None, columns: list[str], roles: Sequence[tuple[str, str | None]] = ()
) -> tuple[pd.DataFrame, list[str]]:
    """Load the table; a missing first-treated period means never treated (a note says how many rows).

    ``roles`` (keyword, column) are checked against every column of the data before only ``columns`` are
    read, so a misspelt name is reported with the full list and the closest name."""
    from ..data import check_roles, load_table

    check_roles(data, roles)
    frame = load_table(data, columns)
    notes: list[str] = []
    if first_treated is not None and first_treated in frame.columns:
        missing = frame[first_treated].isna()
        if missing.any():
            frame = frame.assign(**{first_treated: frame[first_treated].where(~missing, 0)})
            notes.append(f"{int(missing.sum())} row(s) with a missing {first_treated!r} read as never treated")
    return frame, notes


def unit_timing(panel: Panel, values: np.ndarray, *, from_treatment: bool, name: str) -> np.ndarray:
    """First treated period per unit from a 0/1 treatment (must stay on) or a first-treated column."""
    if not from_treatment:
        return first_treated_from_column(panel, values, name)
    d = pd.Series(values)
    if pd.api.types.is_bool_dtype(d.dtype):
        d = d.astype(float)
    if not pd.api.types.is_numeric_dtype(d.dtype):
        raise DataError(f"treatment {name!r} must be 0/1 (1 = treated in that period); got text values.")
    g, problems = first_treated_from_treatment(panel, d.to_numpy(dtype=np.float64), name)
    if problems:
        raise DataError(
            f"{problems[0]}. Pass first_treated= (the period each unit's treatment starts) if that is what you mean, "
            "or use twfe for a treatment that switches on and off."
        )
    return g
