"""A panel simulator with staggered adoption and known effects, for difference-in-differences.

Units belong to cohorts by the period their treatment starts (``first_treated``; 0 = never treated)
and stay treated afterwards. The effect of a unit in cohort g at period t >= g is

    effect + dynamic * (t - g) + heterogeneity * (position of g among the cohorts, centred)

so ``dynamic`` makes effects grow with time since adoption and ``heterogeneity`` makes cohorts
differ; both break the plain two-way fixed-effects estimator, not Callaway-Sant'Anna. With
``confounding`` > 0, a unit-level covariate ``x`` raises the chance of being treated *and* the
outcome's trend, so parallel trends hold only conditional on ``x``.

``attrs`` hold the truth as plain Python data (so frames still concatenate): ``att_gt`` (records of
group, time, event_time, effect), ``att`` (average over treated unit-periods) and ``event``
(event time -> effect averaged with cohort sizes).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .._core.options import check_positive_int, check_random_state
from ..errors import SpecificationError


def simulate_panel(
    n_units: int = 500,
    n_periods: int = 10,
    cohorts: Sequence[int] = (4, 6, 8),
    never_share: float = 0.3,
    effect: float = 1.0,
    dynamic: float = 0.0,
    heterogeneity: float = 0.0,
    trend: float = 0.1,
    confounding: float = 0.0,
    noise: float = 1.0,
    random_state=None,
) -> pd.DataFrame:
    """A balanced panel (periods 1..n_periods) with staggered adoption; see the module docstring."""
    n_units = check_positive_int(n_units, "n_units", 2)
    n_periods = check_positive_int(n_periods, "n_periods", 2)
    cohorts = sorted(int(c) for c in cohorts)
    if any(not 1 <= c <= n_periods for c in cohorts):
        raise SpecificationError(f"cohorts must be periods between 1 and n_periods={n_periods}, got {cohorts}.")
    if not 0.0 <= never_share < 1.0:
        raise SpecificationError(f"never_share must be in [0, 1), got {never_share!r}.")
    rng = check_random_state(random_state)
    x = rng.normal(size=n_units)
    p_treat = 1.0 / (1.0 + np.exp(-(np.log((1 - never_share) / max(never_share, 1e-12)) + confounding * x)))
    treated = rng.random(n_units) < p_treat if never_share > 0 else np.ones(n_units, dtype=bool)
    g = np.where(treated, rng.choice(np.asarray(cohorts), n_units), 0)
    centre = (len(cohorts) - 1) / 2.0
    shift = {c: heterogeneity * (i - centre) for i, c in enumerate(cohorts)}
    unit = np.repeat(np.arange(n_units), n_periods)
    time = np.tile(np.arange(1, n_periods + 1), n_units)
    gi = g[unit]
    on = (gi > 0) & (time >= gi)
    unit_shift = np.array([shift.get(int(c), 0.0) for c in g])
    tau = np.where(on, effect + dynamic * (time - gi) + unit_shift[unit], 0.0)
    alpha = rng.normal(size=n_units) + 0.5 * (g > 0)
    y = alpha[unit] + trend * time + confounding * x[unit] * time / n_periods + tau + noise * rng.normal(size=len(unit))
    frame = pd.DataFrame(
        {"unit": unit, "time": time, "first_treated": gi, "treated": on.astype(int), "x": x[unit], "y": y}
    )
    att_gt = pd.DataFrame(
        [
            {"group": c, "time": t, "effect": effect + dynamic * (t - c) + shift[c]}
            for c in cohorts
            for t in range(c, n_periods + 1)
        ]
    )
    sizes = pd.Series(g[g > 0]).value_counts()
    att_gt["units"] = att_gt["group"].map(sizes).fillna(0).astype(int)
    att_gt["event_time"] = att_gt["time"] - att_gt["group"]
    weighted = att_gt.assign(wt=att_gt["effect"] * att_gt["units"])
    by_event = weighted.groupby("event_time")[["wt", "units"]].sum()
    event = by_event["wt"] / by_event["units"].where(by_event["units"] > 0)
    frame.attrs.update(
        {
            "att_gt": att_gt[["group", "time", "event_time", "effect"]].to_dict(orient="records"),
            "att": float(tau[on].mean()) if on.any() else float("nan"),
            "event": {int(k): float(v) for k, v in event.items()},
        }
    )
    return frame
