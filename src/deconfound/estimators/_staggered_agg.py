"""Aggregating group-time effects ATT(g, t) (Callaway and Sant'Anna 2021, section 3).

* ``simple``: every post-treatment cell (t >= g), weighted by cohort size;
* ``event``: by event time e = t - g, cohorts weighted by size; overall = mean over e >= 0;
* ``group``: by cohort, the mean of its post-treatment cells; overall weighted by cohort size;
* ``calendar``: by period, cohorts treated by then weighted by size; overall = mean over periods.

Cohort sizes are estimated, so the influence function of an aggregate adds the effect of estimating
them (``_weight_influence``) to the weighted influence functions of its cells; standard errors then
come from the influence functions (or the multiplier bootstrap, with uniform bands).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._core.distributions import critical_value
from .._core.influence import BootstrapResult, if_covariance
from ..errors import DataError

AGGREGATIONS = ("simple", "event", "group", "calendar")
KEY = {"event": "event_time", "group": "group", "calendar": "time"}


@dataclass
class Aggregate:
    """One aggregation: effects by key (none for simple) and the overall effect, with influence functions."""

    kind: str
    keys: np.ndarray
    estimate: np.ndarray
    psi: np.ndarray  # units x keys
    overall: float
    overall_psi: np.ndarray
    se: np.ndarray | None = None
    overall_se: float = float("nan")
    crit: float = float("nan")  # uniform band critical value (bootstrap) or pointwise


def _weight_influence(keep: np.ndarray, pg: np.ndarray, w: np.ndarray, g_units: np.ndarray, groups: np.ndarray):
    """Influence of estimating the cohort-size weights pg[keep] / sum(pg[keep])."""
    sel = pg[keep]
    total = sel.sum()
    member = w[:, None] * (g_units[:, None] == groups[keep][None, :]) - sel[None, :]
    return member / total - np.outer(member.sum(axis=1), sel / total**2)


def _weighted(cells, keep: np.ndarray, pg: np.ndarray, w: np.ndarray, g_units: np.ndarray) -> tuple[float, np.ndarray]:
    weights = pg[keep] / pg[keep].sum()
    est = float(cells.att[keep] @ weights)
    psi = cells.psi[:, keep] @ weights + _weight_influence(keep, pg, w, g_units, cells.group) @ cells.att[keep]
    return est, psi


def aggregate(kind: str, cells, w: np.ndarray, g_units: np.ndarray, window: tuple[float, float] | None) -> Aggregate:
    """Aggregate ``cells`` (see the module docstring); ``window`` limits the event times used."""
    pg_group = {g: float(np.mean(w * (g_units == g))) for g in np.unique(cells.group)}
    pg = np.array([pg_group[g] for g in cells.group])
    e = cells.event_time
    lo, hi = window if window is not None else (-np.inf, np.inf)
    in_window = (e >= lo) & (e <= hi)
    post = (cells.group <= cells.time) & in_window
    if kind == "simple":
        keep = np.flatnonzero(post)
        _need(keep, "post-treatment group-time effect")
        est, psi = _weighted(cells, keep, pg, w, g_units)
        return Aggregate(kind, np.array([]), np.array([]), np.zeros((len(w), 0)), est, psi)
    if kind == "event":
        keys = np.unique(e[in_window])
        parts = [_weighted(cells, np.flatnonzero((e == k) & in_window), pg, w, g_units) for k in keys]
        return _with_overall(kind, keys, parts, keys >= 0, "event time >= 0")
    if kind == "calendar":
        keys = np.array([t for t in np.unique(cells.time) if ((cells.time == t) & (cells.group <= t)).any()])
        parts = [_weighted(cells, np.flatnonzero((cells.time == t) & (cells.group <= t)), pg, w, g_units) for t in keys]
        return _with_overall(kind, keys, parts, np.ones(len(keys), dtype=bool), "post-treatment period")
    return _by_group(cells, post, w, g_units, pg_group)


def _need(keep: np.ndarray, what: str) -> None:
    if keep.size == 0:
        raise DataError(f"No {what} could be estimated (check the window and the control group).")


def _with_overall(kind: str, keys: np.ndarray, parts: list, use: np.ndarray, what: str) -> Aggregate:
    est = np.array([p[0] for p in parts])
    psi = np.column_stack([p[1] for p in parts]) if parts else np.zeros((0, 0))
    _need(np.flatnonzero(use), what)
    overall = float(est[use].mean())
    overall_psi = psi[:, use].mean(axis=1)
    return Aggregate(kind, keys, est, psi, overall, overall_psi)


def _by_group(cells, post: np.ndarray, w: np.ndarray, g_units: np.ndarray, pg_group: dict) -> Aggregate:
    keys = np.array([g for g in np.unique(cells.group) if (post & (cells.group == g)).any()])
    _need(keys, "post-treatment cohort effect")
    est, cols = [], []
    for g in keys:
        keep = np.flatnonzero(post & (cells.group == g))
        est.append(float(cells.att[keep].mean()))
        cols.append(cells.psi[:, keep].mean(axis=1))
    est_a, psi = np.array(est), np.column_stack(cols)
    pgg = np.array([pg_group[g] for g in keys])
    weights = pgg / pgg.sum()
    idx = np.arange(len(keys))
    overall_psi = psi @ weights + _weight_influence(idx, pgg, w, g_units, keys) @ est_a
    return Aggregate("group", keys, est_a, psi, float(est_a @ weights), overall_psi)


def analytic_errors(agg: Aggregate, clusters: np.ndarray | None, level: float) -> Aggregate:
    if agg.psi.shape[1]:
        agg.se = np.sqrt(np.clip(np.diag(if_covariance(agg.psi, clusters)), 0, None))
    else:
        agg.se = np.array([])
    agg.overall_se = float(np.sqrt(if_covariance(agg.overall_psi[:, None], clusters)[0, 0]))
    agg.crit = critical_value(level, None)
    return agg


def aggregate_all(cells, w, g_units, kinds, window, clusters, level) -> dict[str, Aggregate]:
    return {k: analytic_errors(aggregate(k, cells, w, g_units, window), clusters, level) for k in kinds}


def apply_bootstrap(aggs: dict[str, Aggregate], boot: BootstrapResult, offsets: dict[str, int], level: float) -> None:
    """Replace analytic standard errors by bootstrap ones; uniform bands per aggregation table."""
    for kind, agg in aggs.items():
        start = offsets[kind]
        m = len(agg.keys)
        cols = np.arange(start, start + m)
        agg.se = boot.std_error[cols]
        agg.overall_se = float(boot.std_error[start + m])
        if m:
            agg.crit = boot.uniform_critical_value(cols, level)


def aggregate_frame(agg: Aggregate, level: float) -> pd.DataFrame:
    """Effects by key with confidence bands (uniform when bootstrapped)."""
    assert agg.se is not None
    crit = agg.crit if np.isfinite(agg.crit) else critical_value(level, None)
    return pd.DataFrame(
        {
            KEY[agg.kind]: agg.keys,
            "estimate": agg.estimate,
            "std_error": agg.se,
            "ci_low": agg.estimate - crit * agg.se,
            "ci_high": agg.estimate + crit * agg.se,
        }
    )
