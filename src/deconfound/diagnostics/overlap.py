"""Overlap (common support) of propensity scores: statistics, warnings and trimming rules.

* :func:`overlap_table` describes the scores of each group and how much of each group lies outside
  the other's range (where no comparable unit exists).
* :func:`overlap_warnings` turns it into plain words; :func:`check_some_overlap` refuses data where
  the groups do not overlap at all.
* :func:`trim_mask` applies a fixed rule (keep a <= e <= 1 - a) or the optimal rule of Crump, Hotz,
  Imbens and Mitnik (2009), which keeps alpha <= e <= 1 - alpha with alpha chosen to minimise the
  variance of the efficient estimator of the trimmed-sample ATE.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError, SpecificationError

EXTREME = 0.01  # scores below this (or above 1 - this) give very large inverse-probability weights
OUTSIDE_WARN = 0.05  # warn when more than this share of a group lies outside the other group's range


QUANTILES = (0.05, 0.5, 0.95)  # the score quantiles of each group in the overlap table


def sorted_quantiles(values: np.ndarray, quantiles: tuple[float, ...]) -> list[float]:
    """``np.quantile(values, quantiles)`` (its default linear interpolation) of sorted ``values``, reading
    only the two values around each rank: for a quantile q the rank h = (n - 1) q falls between the
    values at floor(h) and floor(h) + 1, and numpy's interpolation of those two at the fraction h -
    floor(h) is the same arithmetic as on the whole array (the same bits, without its partial sort)."""
    n = len(values)
    out = []
    for q in quantiles:
        h = (n - 1) * q
        low = int(np.floor(h))
        out.append(float(np.quantile(values[low : low + 2], h - low)))
    return out


def overlap_table(
    score: np.ndarray, treatment: np.ndarray, sorted_scores: tuple[np.ndarray, np.ndarray] | None = None
) -> pd.DataFrame:
    """Per group: size, score quantiles, share outside the other group's range, extreme scores.

    ``sorted_scores`` (the treated and the control scores, each sorted) make the counts binary searches.
    """
    if sorted_scores is None:
        t = treatment == 1.0
        groups = {"treated": (score[t], score[~t]), "control": (score[~t], score[t])}
    else:
        s1, s0 = sorted_scores
        groups = {"treated": (s1, s0), "control": (s0, s1)}
    rows = {}
    for name, (mine, other) in groups.items():
        lo, hi = (float(other.min()), float(other.max())) if len(other) else (np.nan, np.nan)
        if sorted_scores is None:
            n_outside = int(np.count_nonzero((mine < lo) | (mine > hi)))
            n_low = int(np.count_nonzero(mine < EXTREME))
            n_high = int(np.count_nonzero(mine > 1.0 - EXTREME))
        else:
            count = len(mine)
            n_outside = 0
            if len(other):
                n_outside = (
                    int(np.searchsorted(mine, lo, side="left")) + count - int(np.searchsorted(mine, hi, "right"))
                )
            n_low = int(np.searchsorted(mine, EXTREME, side="left"))
            n_high = count - int(np.searchsorted(mine, 1.0 - EXTREME, side="right"))
        if not len(mine):
            p05 = median = p95 = np.nan
        elif sorted_scores is None:  # the three quantiles from one partial sort (all their ranks at once)
            p05, median, p95 = np.quantile(mine, QUANTILES).tolist()
        else:
            p05, median, p95 = sorted_quantiles(mine, QUANTILES)
        rows[name] = {
            "n": len(mine),
            "min": (float(mine.min()) if sorted_scores is None else float(mine[0])) if len(mine) else np.nan,
            "p05": p05,
            "median": median,
            "p95": p95,
            "max": (float(mine.max()) if sorted_scores is None else float(mine[-1])) if len(mine) else np.nan,
            "share_outside_other": n_outside / len(mine) if len(mine) else np.nan,
            "n_below_0.01": n_low,
            "n_above_0.99": n_high,
        }
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "group"
    return frame


def overlap_counts(score: np.ndarray, treatment: np.ndarray) -> tuple[pd.DataFrame, tuple[np.ndarray, np.ndarray]]:
    """What :func:`overlap_warnings` reads of :func:`overlap_table` (the share of each group outside the other's
    range and the counts of extreme scores, the same numbers), without the quantiles' partial sorts; and the
    two groups' scores (unsorted: enough for :func:`check_some_overlap`, which reads their extremes)."""
    t = treatment == 1.0
    s1, s0 = score[t], score[~t]
    rows = {}
    for name, (mine, other) in {"treated": (s1, s0), "control": (s0, s1)}.items():
        lo, hi = (float(other.min()), float(other.max())) if len(other) else (np.nan, np.nan)
        n_outside = int(np.count_nonzero(mine < lo)) + int(np.count_nonzero(mine > hi))
        rows[name] = {
            "n": len(mine),
            "share_outside_other": n_outside / len(mine) if len(mine) else np.nan,
            "n_below_0.01": int(np.count_nonzero(mine < EXTREME)),
            "n_above_0.99": int(np.count_nonzero(mine > 1.0 - EXTREME)),
        }
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "group"
    return frame, (s1, s0)


def check_some_overlap(
    score: np.ndarray, treatment: np.ndarray, model: str, sorted_scores: tuple[np.ndarray, np.ndarray] | None = None
) -> None:
    """Raise a DataError when the score ranges of the groups do not overlap at all."""
    if sorted_scores is None:
        t = treatment == 1.0
        s1, s0 = score[t], score[~t]
    else:
        s1, s0 = sorted_scores
    if s1.min() > s0.max() or s1.max() < s0.min():
        raise DataError(
            f"The propensity scores ({model}) of treated and control do not overlap at all: treated range "
            f"[{s1.min():.4g}, {s1.max():.4g}], control range [{s0.min():.4g}, {s0.max():.4g}]. No treated unit "
            "has a comparable control, so no effect can be estimated from these data. Check whether a "
            "covariate decides the treatment (leave it out), or restrict the question to comparable units."
        )


def overlap_warnings(
    table: pd.DataFrame, weighting: bool, trimmed: str | None = None, method: str | None = None
) -> list[str]:
    """Weak overlap and extreme scores in plain words, each with what to try next. ``trimmed`` is the trim
    rule already applied ("fixed" or "crump") and ``method`` the estimator's id: the advice never repeats
    what was done (a trim given, overlap weights already in use)."""
    out = []
    if method == "overlap":
        narrow = "Overlap weights already give these rows little weight: the estimate is for the population "
        narrow += "where treated and control overlap (ATO); check whether a covariate all but decides the treatment."
        steady = narrow
    elif trimmed is None:
        narrow = "Consider trimming (trim=0.05 or trim='crump') and read the estimate as the effect on the "
        narrow += "remaining population."
        steady = "Consider trim=0.01 or trim='crump', or overlap weights (method 'overlap')."
    else:
        narrow = "Even after trimming: use overlap weights (method 'overlap'), whose target population is where "
        narrow += "treated and control overlap, or check whether a covariate all but decides the treatment."
        steady = "Even after trimming: use overlap weights (method 'overlap'), which stay bounded."
    for group, other in (("treated", "control"), ("control", "treated")):
        share = float(table.loc[group, "share_outside_other"])
        if share > OUTSIDE_WARN:
            out.append(
                f"Weak overlap: {share:.1%} of the {group} rows have propensity scores outside the range of the "
                f"{other} rows, so nothing comparable exists for them. {narrow}"
            )
    n_extreme = int(table[["n_below_0.01", "n_above_0.99"]].to_numpy().sum())
    if weighting and n_extreme:
        out.append(
            f"{n_extreme} row(s) have propensity scores below {EXTREME} or above {1 - EXTREME}: their inverse-"
            f"probability weights are very large and make the estimate unstable. {steady}"
        )
    return out


def crump_alpha(score: np.ndarray) -> float:
    """The Crump et al. (2009) optimal trimming threshold alpha (0 when no trimming is needed).

    With lambda = 1 / (e (1 - e)): if max(lambda) <= 2 mean(lambda) keep everything; otherwise find
    gamma solving gamma = 2 E[lambda | lambda <= gamma] and set alpha = 1/2 - sqrt(1/4 - 1/gamma).
    """
    lam = 1.0 / (score * (1.0 - score))
    if not np.all(np.isfinite(lam)):
        lam = np.where(np.isfinite(lam), lam, np.finfo(float).max)
    if lam.max() <= 2.0 * lam.mean():
        return 0.0
    srt = np.sort(lam)
    cummean = np.cumsum(srt) / np.arange(1, len(srt) + 1)
    gamma_k = 2.0 * cummean
    upper = np.append(srt[1:], np.inf)
    ok = (srt <= gamma_k) & (gamma_k < upper)
    gamma = float(gamma_k[np.flatnonzero(ok)[0]]) if np.any(ok) else float(gamma_k[-1])
    return float(0.5 - np.sqrt(max(0.25 - 1.0 / gamma, 0.0)))


def trim_mask(score: np.ndarray, trim: Any) -> tuple[np.ndarray, float, str]:
    """(rows to keep, alpha, rule name) for ``trim`` = None, a number in (0, 0.5) or "crump"."""
    if trim is None or trim is False:
        return np.ones(len(score), bool), 0.0, "none"
    if isinstance(trim, str):
        if trim.lower() != "crump":
            raise SpecificationError(f"trim={trim!r} is not allowed; give a number in (0, 0.5) or 'crump'.")
        alpha = crump_alpha(score)
        rule = "crump"
    else:
        try:
            alpha = float(trim)
        except (TypeError, ValueError):
            raise SpecificationError(f"trim must be a number in (0, 0.5) or 'crump', got {trim!r}.") from None
        if not 0.0 < alpha < 0.5:
            raise SpecificationError(f"trim must be strictly between 0 and 0.5 (keep a <= e <= 1 - a), got {trim!r}.")
        rule = "fixed"
    keep = (score >= alpha) & (score <= 1.0 - alpha)
    return keep, alpha, rule
