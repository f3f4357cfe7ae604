"""The Goodman-Bacon (2021) decomposition of a two-way fixed-effects DiD with staggered timing.

On a balanced panel with a binary treatment that stays on, the TWFE coefficient is a weighted average
of every 2x2 difference-in-differences between timing groups: treated vs never treated, earlier vs
later treated (the later group, not yet treated, is the control) and later vs earlier treated (the
*already treated* earlier group is the control). The last kind is what goes wrong when effects change
over time: the earlier group's growing effect is subtracted as if it were a trend. The weights depend
only on group sizes and the timing (the variance of treatment in each 2x2), and they sum to one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

KIND_NEVER = "treated vs never treated"
KIND_EARLY = "earlier vs later treated (not yet treated controls)"
KIND_LATE = "later vs earlier treated (already treated controls)"
KIND_ALWAYS = "later vs always treated"


def _did(ybar: np.ndarray, treat: int, control: int, start: int, switch: int, stop: int) -> float:
    """2x2 DiD of group means over periods [start, stop), treatment switching on at ``switch``."""

    def change(k: int) -> float:
        return float(ybar[k, switch:stop].mean() - ybar[k, start:switch].mean())

    return change(treat) - change(control)


def bacon_table(y: np.ndarray, unit: np.ndarray, period: np.ndarray, start: np.ndarray, n_periods: int) -> pd.DataFrame:
    """The decomposition for a balanced panel.

    ``unit`` and ``period`` are row codes (0-based, period in time order); ``start`` is, per unit, the
    index of the first treated period (0 = treated from the start, ``n_periods`` = never treated).
    Returns one row per 2x2 comparison: kind, treated and control group (first treated period index),
    estimate and weight.
    """
    n_units = len(start)
    t_count = n_periods
    groups, group_of = np.unique(start, return_inverse=True)
    sizes = np.bincount(group_of, minlength=len(groups)).astype(float)
    share = sizes / n_units
    cell = group_of[unit] * t_count + period
    sums = np.bincount(cell, weights=y, minlength=len(groups) * t_count).reshape(len(groups), t_count)
    ybar = sums / sizes[:, None]
    dbar = (t_count - groups) / t_count  # share of periods treated
    d = (period >= start[unit]).astype(float)
    var_d = _twoway_variance(d, unit, period, n_units, t_count)
    rows = []
    never = [i for i, s in enumerate(groups) if s >= t_count]
    timing = [i for i, s in enumerate(groups) if 0 < s < t_count]
    always = [i for i, s in enumerate(groups) if s == 0]
    for k in timing:
        for u in never:
            nk = share[k] / (share[k] + share[u])
            w = (share[k] + share[u]) ** 2 * nk * (1 - nk) * dbar[k] * (1 - dbar[k]) / var_d
            rows.append((KIND_NEVER, groups[k], groups[u], _did(ybar, k, u, 0, groups[k], t_count), w))
    for a in timing + always:
        for b in timing:
            if groups[a] >= groups[b]:
                continue
            n_ab = share[a] / (share[a] + share[b])
            base = (share[a] + share[b]) ** 2 * n_ab * (1 - n_ab)
            if groups[a] > 0:  # earlier vs later: window before the later group starts
                w = base * (1 - dbar[b]) ** 2 * (dbar[a] - dbar[b]) * (1 - dbar[a]) / (1 - dbar[b]) ** 2 / var_d
                rows.append((KIND_EARLY, groups[a], groups[b], _did(ybar, a, b, 0, groups[a], groups[b]), w))
            w = base * dbar[a] ** 2 * dbar[b] * (dbar[a] - dbar[b]) / dbar[a] ** 2 / var_d
            kind = KIND_LATE if groups[a] > 0 else KIND_ALWAYS
            rows.append((kind, groups[b], groups[a], _did(ybar, b, a, groups[a], groups[b], t_count), w))
    frame = pd.DataFrame(rows, columns=["kind", "treated", "control", "estimate", "weight"])
    return frame


def _twoway_variance(d: np.ndarray, unit: np.ndarray, period: np.ndarray, n_units: int, n_periods: int) -> float:
    """Mean square of the treatment after removing unit and period means (balanced panel)."""
    um = np.bincount(unit, weights=d, minlength=n_units) / n_periods
    pm = np.bincount(period, weights=d, minlength=n_periods) / n_units
    resid = d - um[unit] - pm[period] + d.mean()
    return float(resid @ resid) / len(d)


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """Weight and weighted-average estimate by kind of comparison."""
    if table.empty:
        return pd.DataFrame(columns=["weight", "estimate"])
    grouped = table.assign(product=table["weight"] * table["estimate"]).groupby("kind", sort=False)
    out = pd.DataFrame({"weight": grouped["weight"].sum(), "estimate": grouped["product"].sum()})
    out["estimate"] = out["estimate"] / out["weight"].where(out["weight"] != 0)
    return out
