"""Why matching left targets without (enough) matches, in true words.

A target can miss a match for two different reasons: no unit of the other group lies within its reach
at all (the caliper, its exact-matching cell), or, without replacement, the units within reach were all
taken by other targets (the pool ran out). The unmatched are told apart by searching the whole pool
again, with replacement, for just them. Without replacement a target asked ``neighbors=k`` matches may
also get fewer than k once the unused pool is exhausted: that is counted and said, never silent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import DataError

#: search(targets, pool) -> the positions (in ``targets``) of the targets that have a match in ``pool``
# when every unit of the pool may be used again (k = 1, with replacement).
ReachSearch = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _group(arm: float) -> tuple[str, str]:
    return ("treated", "control") if arm == 1.0 else ("control", "treated")


def _reach(caliper: Any, exact: bool) -> str:
    """The limits that were actually in force, in words ("" when none)."""
    parts = []
    if caliper is not None:
        parts.append("within the caliper")
    if exact:
        parts.append("in their exact-matching cell")
    return " ".join(parts)


def unmatched(
    directions: list, caliper: Any, exact: bool, replace: bool, estimand: str, reach: ReachSearch, t: np.ndarray
) -> tuple[dict[str, int], list[str], dict[str, dict[str, int]]]:
    """Targets left without a match by group, the warnings giving the true reason, and the counts by reason
    (``{"treated": {"out_of_reach": a, "pool_used_up": b}}``). An error when no target of a group matched."""
    n_unmatched = {_group(d.arm)[0]: len(d.targets) - len(d.matched) for d in directions}
    warnings: list[str] = []
    reasons: dict[str, dict[str, int]] = {}
    within = _reach(caliper, exact)
    for d in directions:
        group, other = _group(d.arm)
        missing = n_unmatched[group]
        if not missing:
            continue
        found = np.zeros(len(t), bool)  # a mask, not setdiff1d: no sort of the targets
        found[d.matched] = True
        left = d.targets[~found[d.targets]]  # ascending, as setdiff1d gives them
        pool = np.flatnonzero(t != d.arm)
        taken = 0 if replace else len(reach(left, pool))
        far = missing - taken
        reasons[group] = {"out_of_reach": far, "pool_used_up": taken}
        if len(d.matched) == 0:
            raise DataError(_none_matched(group, other, len(d.targets), len(pool), far, taken, within))
        if not taken:  # a limit in force kept every one of them from a match
            head = f"{missing} of {len(d.targets)} {group} rows found no match {within} and were left out"
        elif not far:
            head = f"{missing} of {len(d.targets)} {group} rows found no match and were left out: " + _taken(
                taken, group, other, len(pool), within
            )
        else:
            head = (
                f"{missing} of {len(d.targets)} {group} rows found no match and were left out: {far} had no "
                f"{other} row {within}; " + _taken(taken, group, other, len(pool), within)
            )
        fix = _fix(far, taken, within, other)
        warnings.append(
            f"{head}. The estimate is the {estimand} over the {len(d.matched)} matched {group} rows, which may differ "
            f"from the {estimand} you asked for.{fix}"
        )
    return n_unmatched, warnings, reasons


def _taken(taken: int, group: str, other: str, n_pool: int, within: str) -> str:
    if within:
        return (
            f"{taken} had {other} rows {within}, but all of those were already taken by other {group} rows "
            f"(matching without replacement uses each {other} row once)"
        )
    return (
        f"{taken} found all {n_pool} {other} rows already taken: matching without replacement uses each "
        f"{other} row once, and the {other} pool ran out"
    )


def _none_matched(group: str, other: str, n: int, n_pool: int, far: int, taken: int, within: str) -> str:
    if far and not taken:
        head = f"No {group} row found a match {within}"
    elif not far:
        head = f"No {group} row found a match (the {n_pool} {other} rows were all taken)"
    else:
        head = f"No {group} row found a match ({far} had no {other} row {within}, {taken} found those taken)"
    return f"{head}: every one of the {n} {group} rows would be dropped." + _fix(far, taken, within, other)


def _fix(far: int, taken: int, within: str, other: str) -> str:
    fixes = []
    if far and "caliper" in within:
        fixes.append("widen the caliper")
    if far and "exact" in within:
        fixes.append("relax exact matching")
    if taken:
        fixes.append(f"match with replacement (replace=True) or on more {other} rows")
    return f" To keep them, {' or '.join(fixes)}." if fixes else ""


def shortfall(directions: list, k: int, caliper: Any, exact: bool, t: np.ndarray) -> tuple[list[str], dict[str, Any]]:
    """Without replacement, matched targets that got fewer than the ``k`` matches asked for: the warning
    and ``{"treated": {"requested": k, "short": s, "fewest": m, "mean": a}}`` (empty when none is short)."""
    if k == 1:
        return [], {}
    warnings: list[str] = []
    info: dict[str, Any] = {}
    within = _reach(caliper, exact)
    for d in directions:
        group, other = _group(d.arm)
        counts = np.bincount(d.target, minlength=len(t))[d.matched]
        short = int(np.count_nonzero(counts < k))
        if not short:
            continue
        n_pool = int(np.count_nonzero(t != d.arm))
        used = len(np.unique(d.match))
        info[group] = {"requested": k, "short": short, "fewest": int(counts.min()), "mean": float(counts.mean())}
        ran_out = f" (all {n_pool} {other} rows were used)" if used == n_pool else ""
        warnings.append(
            f"neighbors={k} without replacement: {short} of {len(counts)} matched {group} rows got fewer than "
            f"{k} matches (as few as {int(counts.min())}; {counts.mean():.2f} on average) because no unused "
            f"{other} row was left{' ' + within if within else ''}{ran_out}: matching without replacement uses "
            f"each {other} row once. The match ratio is not 1:{k} for them; match with replacement "
            f"(replace=True) or ask for fewer neighbors to keep it."
        )
    return warnings, info
