"""Frequency weights for matching: a row with weight w stands for w identical rows.

Stata's ``teffects nnmatch`` and ``teffects psmatch`` accept frequency weights (``fweight``) and no other
kind: the matching estimators and their Abadie-Imbens variance are defined for a sample of units, and a
frequency weight is a count of identical units. So the weighted estimate and its standard error are, by
definition, those of the data with every row repeated w times (rows of weight 0 leave); that is how they
are computed here, which keeps every path of the estimator (ties, calipers, exact cells, the 2016
adjustment) exactly what it is unweighted. Sampling weights (``pweight``) are refused, as Stata does:
use a weighting estimator (``ipw``, ``aipw``) for them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..data import check_columns, load_table
from ..errors import DataError, SpecificationError


def expand_frequency(data: Any, fweights: Any) -> tuple[pd.DataFrame, str]:
    """The rows of ``data`` each repeated as often as its frequency weight says, and a note saying so."""
    if not isinstance(fweights, str):
        raise SpecificationError(f"fweights={fweights!r}: give the name of a column of whole-number frequency weights.")
    frame = load_table(data)
    check_columns(frame, [fweights], "fweights")
    raw = frame[fweights]
    try:
        w = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"fweights column {fweights!r} is not numeric; frequency weights are whole numbers.") from exc
    bad = ~np.isfinite(w)
    if bad.any():
        raise DataError(
            f"fweights column {fweights!r} has {int(bad.sum())} missing or infinite value(s); frequency weights "
            "must be whole numbers >= 0 (drop those rows first)."
        )
    if (w < 0).any() or (w != np.floor(w)).any():
        raise DataError(
            f"fweights column {fweights!r} has negative or fractional values; matching takes frequency weights "
            "only (whole numbers >= 0, Stata's fweight). For sampling weights use ipw or aipw (weights=)."
        )
    counts = w.astype(np.int64)
    if not counts.any():
        raise DataError(f"fweights column {fweights!r} is zero in every row: no units are left to match.")
    expanded = frame.iloc[np.repeat(np.arange(len(frame)), counts)]
    note = (
        f"frequency weights {fweights!r} (Stata's fweight): each row counts as that many identical units; "
        f"{len(frame):,} rows stand for {len(expanded):,} units"
    )
    return expanded, note
