"""Joint test of pre-treatment coefficients (parallel pre-trends) in an event study.

If treated and control units were on parallel paths before treatment, every lead coefficient
(event time < 0, the reference period excluded) is zero. The Wald statistic b' V^-1 b over the q
leads is referred to F(q, df) when the covariance has finite degrees of freedom (clustered: G - 1)
and to chi-squared(q) otherwise. A test that cannot be run says why instead of raising.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._core.distributions import chi2_sf, f_sf

PRETREND_ALPHA = 0.05


def wald_test(coef: np.ndarray, cov: np.ndarray, index: Sequence[int], df: float | None) -> dict[str, Any]:
    """Wald test that ``coef[index]`` are all zero."""
    idx = list(index)
    q = len(idx)
    b = np.asarray(coef, dtype=float)[idx]
    v = np.asarray(cov, dtype=float)[np.ix_(idx, idx)]
    try:
        stat = float(b @ np.linalg.solve(v, b))
    except np.linalg.LinAlgError:
        stat = float(b @ np.linalg.pinv(v) @ b)
    out: dict[str, Any] = {"chi2": stat, "df_num": q, "p_value_chi2": chi2_sf(stat, q)}
    if df is not None and np.isfinite(df):
        out.update({"statistic": stat / q, "distribution": "F", "df_den": float(df), "p_value": f_sf(stat / q, q, df)})
    else:
        out.update({"statistic": stat, "distribution": "chi2", "df_den": None, "p_value": out["p_value_chi2"]})
    return out


def pretrend_test(
    coef: np.ndarray, cov: np.ndarray, event_times: Sequence[float | None], df: float | None
) -> dict[str, Any]:
    """Joint test of every coefficient whose event time is negative; ``applicable`` says if it could run."""
    leads = [i for i, e in enumerate(event_times) if e is not None and e < 0]
    if not leads:
        return {
            "applicable": False,
            "reason": "no pre-treatment coefficients (widen the window to negative event times to test pre-trends)",
        }
    if not np.all(np.isfinite(np.asarray(cov, dtype=float)[np.ix_(leads, leads)])):
        return {
            "applicable": False,
            "reason": "the pre-treatment coefficients have no standard errors (too few clusters): nothing to test",
        }
    out = wald_test(coef, cov, leads, df)
    out.update({"applicable": True, "event_times": [event_times[i] for i in leads]})
    return out


def pretrend_warning(test: dict[str, Any]) -> str | None:
    """A plain-words warning when the pre-treatment coefficients are jointly significant."""
    if not test.get("applicable") or test["p_value"] >= PRETREND_ALPHA:
        return None
    stat = "F" if test["distribution"] == "F" else "chi2"
    return (
        f"The pre-treatment coefficients are jointly different from zero ({stat} = {test['statistic']:.3g}, "
        f"p = {test['p_value']:.3g}, {test['df_num']} lead(s)): before treatment the treated were already "
        "moving differently from the controls, so the parallel-trends assumption behind the post-treatment "
        "effects is doubtful. Look at the leads in the event-study plot; consider covariates (conditional "
        "parallel trends) or a different comparison group."
    )
