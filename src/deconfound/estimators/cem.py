"""Coarsened exact matching (Iacus, King and Porro 2012).

Each numeric covariate is cut into bins (Sturges' rule by default, or the number of bins / cut points
given), categorical covariates keep their levels, and units are matched exactly on the coarsened
values: a stratum with both treated and control units is kept, the others are dropped. CEM weights
then reweight the kept controls (ATT), treated (ATC) or both (ATE) to the target group's stratum sizes,
and the effect is the weighted difference in means, with a heteroskedasticity-robust (HC2) standard
error from the weighted regression of the outcome on the treatment.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from .._core.options import check_level, check_option
from .._core.pages import entry
from ..data import name_list, prepare
from ..diagnostics.balance import balance_before_after, balance_warnings
from ..errors import DataError, SpecificationError
from ..results import Estimate
from ._base import make_estimate
from .propensity import check_groups

ESTIMANDS = ("ATT", "ATC", "ATE")


def _sturges(n: int) -> int:
    return int(np.ceil(np.log2(n) + 1))


def _coarsen(values: np.ndarray, spec: Any, name: str, n: int) -> np.ndarray:
    """Integer bin codes of a numeric column: ``spec`` is None (Sturges), a number of bins or cut points."""
    if spec is None:
        spec = _sturges(n)
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        if spec < 1:
            raise SpecificationError(f"bins for {name!r} must be at least 1, got {spec}.")
        lo, hi = float(values.min()), float(values.max())
        if lo == hi:
            return np.zeros(len(values), np.int64)
        edges = np.linspace(lo, hi, int(spec) + 1)[1:-1]
        return np.searchsorted(edges, values, side="right").astype(np.int64)
    try:
        cuts = np.sort(np.asarray(list(spec), dtype=np.float64))
    except (TypeError, ValueError):
        raise SpecificationError(
            f"bins for {name!r} must be a number of bins or a list of cut points, got {spec!r}."
        ) from None
    return np.searchsorted(cuts, values, side="right").astype(np.int64)


def _strata(prep: Any, columns: list[str], bins: Any) -> np.ndarray:
    codes = []
    spec_for = bins if isinstance(bins, Mapping) else dict.fromkeys(columns, bins)
    unknown = set(spec_for) - set(columns) if isinstance(bins, Mapping) else set()
    if unknown:
        raise SpecificationError(f"bins names {sorted(unknown)}, which are not among the covariates {columns}.")
    for col in columns:
        raw = prep.extra[f"cem:{col}"]
        if pd.api.types.is_numeric_dtype(np.asarray(raw).dtype) and np.asarray(raw).dtype != bool:
            codes.append(_coarsen(np.asarray(raw, dtype=np.float64), spec_for.get(col), col, prep.n))
        else:
            codes.append(pd.factorize(pd.Series(raw), sort=True)[0].astype(np.int64))
    return pd.MultiIndex.from_arrays(codes).factorize()[0].astype(np.int64)


def _cem_weights(strata: np.ndarray, t: np.ndarray, estimand: str) -> tuple[np.ndarray, np.ndarray]:
    """(weights, matched mask). Weights are normalised to sum to the matched count of each group."""
    n_s = int(strata.max()) + 1
    n1 = np.bincount(strata, weights=t, minlength=n_s)
    n0 = np.bincount(strata, weights=1.0 - t, minlength=n_s)
    matched_s = (n1 > 0) & (n0 > 0)
    matched = matched_s[strata]
    m1, m0 = float(n1[matched_s].sum()), float(n0[matched_s].sum())
    if m1 < 2 or m0 < 2:
        raise DataError(
            f"Coarsened exact matching kept {m1:.0f} treated and {m0:.0f} control rows (strata with both groups); "
            "at least two of each are needed. Use fewer or coarser bins (bins=), or fewer covariates."
        )
    w = np.zeros(len(t))
    treated, control = matched & (t == 1.0), matched & (t == 0.0)
    if estimand == "ATT":
        w[treated] = 1.0
        w[control] = (n1[strata[control]] / n0[strata[control]]) * (m0 / m1)
    elif estimand == "ATC":
        w[control] = 1.0
        w[treated] = (n0[strata[treated]] / n1[strata[treated]]) * (m1 / m0)
    else:
        size = n1 + n0
        m = m1 + m0
        w[treated] = (size[strata[treated]] / n1[strata[treated]]) * (m1 / m)
        w[control] = (size[strata[control]] / n0[strata[control]]) * (m0 / m)
    return w, matched


def _within_strata(y: np.ndarray, t: np.ndarray, w: np.ndarray, strata: np.ndarray) -> tuple[float, float, float]:
    """Weighted regression of y on t with stratum fixed effects, by demeaning within strata.

    With CEM weights the coefficient equals the CEM weighted difference in means (each stratum's weight
    in a fixed-effects regression is proportional to its target-group size), and the robust (HC1)
    standard error reflects that the comparison is made within strata.
    """
    keep = w > 0
    y, t, w, s = y[keep], t[keep], w[keep], np.unique(strata[keep], return_inverse=True)[1]
    g = int(s.max()) + 1
    sw = np.bincount(s, weights=w, minlength=g)
    yd = y - (np.bincount(s, weights=w * y, minlength=g) / sw)[s]
    td = t - (np.bincount(s, weights=w * t, minlength=g) / sw)[s]
    sxx = float(np.sum(w * td * td))
    tau = float(np.sum(w * td * yd)) / sxx
    e = yd - tau * td
    n = len(y)
    df = n - g - 1
    if df < 1:
        raise DataError(
            f"Coarsened exact matching kept {n} rows in {g} strata: too few rows per stratum to estimate the "
            "uncertainty. Use coarser bins (bins=) or fewer covariates."
        )
    var = float(np.sum((w * td * e) ** 2)) / sxx**2 * n / df
    return tau, float(np.sqrt(var)), float(df)


@entry
def cem(
    data: Any,
    *,
    outcome: str,
    treatment: str,
    covariates: str | Iterable[str],
    bins: Any = None,
    estimand: str = "ATT",
    level: float = 0.95,
    missing: str = "raise",
    treated_level: Any = None,
) -> Estimate:
    """Coarsened exact matching estimate of the ATT (default), ATC or ATE.

    ``bins`` is None (Sturges' rule for every numeric covariate), a number of equal-width bins, a list
    of cut points, or a dict giving either per covariate. Categorical covariates are matched on their
    levels. The per-row CEM weights are in ``result.diagnostics["weights"]``.
    """
    level = check_level(level)
    estimand = check_option("estimand", estimand, ESTIMANDS)
    columns = name_list(data, covariates, "covariates")
    if not columns:
        raise SpecificationError("cem needs covariates= to coarsen and match on.")
    prep = prepare(
        data,
        outcome=outcome,
        treatment=treatment,
        covariates=columns,
        extra={f"cem:{c}": c for c in columns},
        missing=missing,
        treated_level=treated_level,
    )
    t = prep.treatment
    assert t is not None
    check_groups(t, treatment)
    strata = _strata(prep, columns, bins)
    w, matched = _cem_weights(strata, t, estimand)
    estimate, se, df = _within_strata(prep.outcome, t, w, strata)
    warnings, notes, diagnostics = _cem_report(prep, strata, matched, w, estimand, t)
    return make_estimate(
        prep,
        method="cem",
        label="Coarsened exact matching",
        estimand=estimand,
        estimate=estimate,
        std_error=se,
        df=df,
        level=level,
        warnings=warnings,
        notes=notes,
        diagnostics=diagnostics,
        n=int(np.count_nonzero(matched)),  # the matched sample the estimate is about
        n_treated=int(np.count_nonzero(matched & (t == 1))),
        n_control=int(np.count_nonzero(matched & (t == 0))),
    )


def _cem_report(prep: Any, strata: np.ndarray, matched: np.ndarray, w: np.ndarray, estimand: str, t: np.ndarray):
    warnings: list[str] = []
    dropped_t = int(np.count_nonzero(~matched & (t == 1)))
    dropped_c = int(np.count_nonzero(~matched & (t == 0)))
    if estimand in ("ATT", "ATE") and dropped_t:
        kept_t = int(np.count_nonzero(matched & (t == 1)))
        warnings.append(
            f"{dropped_t} treated row(s) fell in strata without controls and were dropped (of {kept_t + dropped_t}), "
            f"so the question changed: this is the {estimand} of the {kept_t} matched treated rows (the "
            "feasible-sample effect), not of every treated row. Coarser bins keep more rows (at the cost of "
            "looser matches)."
        )
    if estimand in ("ATC", "ATE") and dropped_c:
        warnings.append(
            f"{dropped_c} control row(s) fell in strata without treated rows and were dropped from the {estimand}."
        )
    balance = balance_before_after(prep.covariates, t, w)
    warnings += balance_warnings(balance, kind="cem")
    labels = prep.index if prep.index is not None else pd.RangeIndex(prep.n)
    diagnostics = {
        "n_strata": int(strata.max()) + 1,
        "n_matched_strata": len(np.unique(strata[matched])),
        "n_unmatched_treated": dropped_t,
        "n_unmatched_control": dropped_c,
        "balance": balance,
        "weights": pd.DataFrame({"treatment": t.astype(np.int64), "stratum": strata, "weight": w}, index=labels),
    }
    notes = [
        "standard error: weighted regression of the outcome on the treatment with stratum fixed effects and "
        "CEM weights (heteroskedasticity-robust, HC1)"
    ]
    return warnings, notes, diagnostics
