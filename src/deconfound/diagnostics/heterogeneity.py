"""Is the heterogeneity real? Inference on a CATE proxy (Chernozhukov, Demirer, Duflo and Fernandez-Val).

Everything here reads two per-row vectors and nothing else:

* ``proxy`` S(x_i): a CATE predicted for row i by a model that did not see row i (cross-fitted);
* the doubly robust scores of the two potential outcomes, ``score1`` and ``score0``
  (phi1 = mu1 + D (Y - mu1) / e, phi0 = mu0 + (1 - D) (Y - mu0) / (1 - e), from cross-fitted nuisances),
  whose difference phi = phi1 - phi0 has conditional mean tau(x) (the AIPW pseudo-outcome).

The pieces:

* **BLP** (best linear predictor of tau given S): OLS of phi on [1, S - mean(S)] with a heteroskedasticity
  robust (HC1) covariance. beta1 is the ATE; beta2 the heterogeneity loading: beta2 = 0 when tau does not
  vary with S (no heterogeneity, or a proxy that does not capture it), beta2 = 1 for a calibrated proxy.
  The test of beta2 = 0 is two-sided t with n - 2 degrees of freedom; with cross-fitting folds it is
  run within each fold and combined by Bonferroni (see :func:`blp_test`).
* **GATES**: the rows cut into ``groups`` groups of equal size by the rank of S; each group's mean of phi
  is its average effect, with an interval; the last row tests most minus least affected.
* **CLAN**: covariate means in the most vs the least affected group, their difference and a Welch test.
* **Subgroups**: mean of phi within each level of a user's column, with intervals.
* **Policy value**: the policy "treat where S > 0" is worth mean(pi phi1 + (1 - pi) phi0); against
  treating everyone or no one, with standard errors from the same scores (sd / sqrt(n)).

The scores come from models fitted on the other folds, so these are the cross-fitted variants of the
tests; the BLP test's size is checked by simulation in tests/diagnostics/test_heterogeneity.py. GATES,
CLAN and the policy values pool the folds (their intervals do not account for the dependence between a
fold's proxy and the other folds' outcomes).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._core.distributions import critical_value, two_sided_p
from .._core.options import check_level, check_positive_int
from ..errors import DataError, SpecificationError
from .hypotheses import TestResult

__all__ = [
    "Heterogeneity",
    "blp_test",
    "clan",
    "gates",
    "group_labels",
    "heterogeneity",
    "policy_value",
    "subgroup_effects",
]

BLP_NAME = "best linear predictor test (heterogeneity loading beta2 = 0)"


def _vectors(*arrays: Any) -> list[np.ndarray]:
    out = [np.asarray(a, dtype=np.float64).reshape(-1) for a in arrays]
    n = len(out[0])
    for a in out:
        if len(a) != n:
            raise SpecificationError(
                f"the CATE proxy and the scores must have one value per row; got {len(a)} and {n}."
            )
        if not np.all(np.isfinite(a)):
            raise DataError("the CATE proxy or the scores hold missing or infinite values; check the nuisance models.")
    if n < 4:
        raise DataError(f"inference on the CATE needs at least 4 rows; got {n}.")
    return out


def _proxy_is_constant(proxy: np.ndarray) -> bool:
    spread = float(np.max(proxy) - np.min(proxy))
    return spread <= 1e-12 * max(1.0, float(np.max(np.abs(proxy))))


def _within(values: np.ndarray, folds: Any) -> np.ndarray:
    """``values`` centered within each fold (or overall without folds)."""
    if folds is None:
        return values - values.mean()
    _, codes = np.unique(np.asarray(folds), return_inverse=True)
    codes = codes.reshape(-1)
    if len(codes) != len(values):
        raise SpecificationError(f"folds has {len(codes)} labels for {len(values)} rows; give one per row.")
    means = np.bincount(codes, weights=values) / np.bincount(codes)
    return values - means[codes]


def _blp_fit(s: np.ndarray, phi: np.ndarray, c: np.ndarray) -> tuple[float, float, float, float]:
    """beta1, beta2 of phi on [1, c] (c centered) and their HC1 standard errors."""
    n = len(s)
    sxx = float(c @ c)
    beta1 = float(phi.mean())
    beta2 = float(c @ phi / sxx) if sxx > 0 else float("nan")
    u = phi - beta1 - beta2 * c
    scale = n / (n - 2)
    se1 = math.sqrt(scale * float(u @ u)) / n
    se2 = math.sqrt(scale * float((u * c) @ (u * c))) / sxx if sxx > 0 else float("nan")
    return beta1, beta2, se1, se2


def _fold_tests(s: np.ndarray, phi: np.ndarray, folds: Any) -> list[tuple[float, float, float]]:
    """(t, df, p) of the loading within each fold (rows of one fold are independent given the other folds)."""
    fold = np.asarray(folds).reshape(-1)
    if len(fold) != len(s):
        raise SpecificationError(f"folds has {len(fold)} labels for {len(s)} rows; give one per row.")
    out = []
    for f in np.unique(fold):
        rows = fold == f
        if rows.sum() < 4 or _proxy_is_constant(s[rows]):
            continue
        c = s[rows] - s[rows].mean()
        _, b2, _, se2 = _blp_fit(s[rows], phi[rows], c)
        t = b2 / se2 if se2 > 0 else float("nan")
        df = float(rows.sum() - 2)
        out.append((t, df, float(two_sided_p(t, df))))
    return out


def blp_test(proxy: Any, score: Any, *, folds: Any = None) -> TestResult:
    """The BLP regression of the pseudo-outcome ``score`` on the centered ``proxy`` (see the module doc).

    Without ``folds`` the proxy is assumed independent of the scores' rows (a split sample): one t test
    on all rows. With ``folds`` (the cross-fitting fold of each row) the proxy of one fold was trained on
    the others, whose outcomes also enter their own scores, so a test pooled over folds rejects too often
    (about 12-14% at 5% in our simulation). The loading is then tested within each fold (each such test is
    valid: given the other folds, the fold's rows are independent) and the p-value is the smallest fold
    p-value times the number of folds (Bonferroni, capped at 1): valid whatever the dependence between
    folds (the median rule of Chernozhukov et al. for several splits, twice the median p-value, is valid
    too but with five folds almost never rejects). ``statistic`` is then the t of the fold with the
    smallest p-value; ``details["fold_p_values"]`` lists them all.

    details: ``ate`` (beta1), ``ate_std_error``, ``loading`` (beta2, pooled), ``loading_std_error``."""
    s, phi = _vectors(proxy, score)
    n = len(s)
    if _proxy_is_constant(s):
        return TestResult.not_applicable(
            BLP_NAME,
            "the CATE proxy is the same for every row (the learner predicts no heterogeneity at all, e.g. an "
            "S-learner with a linear model); choose a learner that can let the effect vary",
        )
    c = _within(s, folds)
    beta1, beta2, se1, se2 = _blp_fit(s, phi, c)
    details: dict[str, Any] = {"ate": beta1, "ate_std_error": se1, "loading": beta2, "loading_std_error": se2}
    stat = beta2 / se2 if se2 > 0 else float("nan")
    df, p = float(n - 2), float(two_sided_p(stat, n - 2))
    fold_tests = [] if folds is None else _fold_tests(s, phi, folds)
    if fold_tests:
        stat, df, smallest = min(fold_tests, key=lambda r: r[2])
        p = min(1.0, len(fold_tests) * smallest)
        details.update({"fold_p_values": [r[2] for r in fold_tests], "p_value_rule": "Bonferroni over folds"})
    return TestResult(
        name=BLP_NAME,
        statistic=stat,
        distribution="t",
        df=df,
        p_value=p,
        null="the CATE proxy does not predict the effect (no heterogeneity it captures)",
        details=details,
    )


def group_labels(proxy: Any, groups: int = 5, *, folds: Any = None) -> np.ndarray:
    """Group 1..G of each row: equal-sized groups by the rank of ``proxy`` (ties split by row order);
    with ``folds``, ranked within each fold (each fold's proxy comes from its own models)."""
    s = np.asarray(proxy, dtype=np.float64)
    g = check_positive_int(groups, "groups", minimum=2)
    if len(s) < 2 * g:
        raise DataError(f"groups={g} needs at least {2 * g} rows (two per group); there are {len(s)}.")
    fold = None if folds is None else np.asarray(folds).reshape(-1)
    parts = [np.arange(len(s))] if fold is None else [np.flatnonzero(fold == f) for f in np.unique(fold)]
    out = np.empty(len(s), dtype=np.int64)
    for rows in parts:
        ranks = np.empty(len(rows), dtype=np.int64)
        ranks[np.argsort(s[rows], kind="stable")] = np.arange(len(rows))
        out[rows] = ranks * g // max(len(rows), 1) + 1
    return out


def _mean_row(values: np.ndarray, crit: float) -> tuple[float, float, float, float]:
    mean = float(values.mean())
    se = float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else float("nan")
    return mean, se, mean - crit * se, mean + crit * se


def gates(proxy: Any, score: Any, *, groups: int = 5, level: float = 0.95, folds: Any = None) -> pd.DataFrame:
    """Group average treatment effects by CATE-proxy group, least (1) to most (G) affected, plus a last row
    ``most - least`` (the difference of the top and bottom groups, with its p-value)."""
    s, phi = _vectors(proxy, score)
    crit = critical_value(check_level(level), None)
    labels = group_labels(s, groups, folds=folds)
    rows: list[dict[str, Any]] = []
    for g in range(1, int(labels.max()) + 1):
        rows_g = labels == g
        mean, se, lo, hi = _mean_row(phi[rows_g], crit)
        rows.append(
            {
                "group": str(g),
                "n": int(rows_g.sum()),
                "proxy_low": float(s[rows_g].min()),
                "proxy_high": float(s[rows_g].max()),
                "estimate": mean,
                "std_error": se,
                "ci_low": lo,
                "ci_high": hi,
                "p_value": float(two_sided_p(mean / se, None)) if se > 0 else float("nan"),
            }
        )
    top, bottom = rows[-1], rows[0]
    diff = top["estimate"] - bottom["estimate"]
    se = math.hypot(top["std_error"], bottom["std_error"])
    rows.append(
        {
            "group": "most - least",
            "n": top["n"] + bottom["n"],
            "proxy_low": float("nan"),
            "proxy_high": float("nan"),
            "estimate": diff,
            "std_error": se,
            "ci_low": diff - crit * se,
            "ci_high": diff + crit * se,
            "p_value": float(two_sided_p(diff / se, None)) if se > 0 else float("nan"),
        }
    )
    return pd.DataFrame(rows).set_index("group")


def clan(
    proxy: Any, covariates: pd.DataFrame, *, groups: int = 5, level: float = 0.95, folds: Any = None
) -> pd.DataFrame:
    """Classification analysis: each covariate's mean in the most and the least affected group (by the
    proxy), the difference (most - least), its Welch standard error, interval and p-value."""
    (s,) = _vectors(proxy)
    if len(covariates) != len(s):
        raise SpecificationError(f"covariates have {len(covariates)} rows; the proxy has {len(s)}.")
    crit = critical_value(check_level(level), None)
    labels = group_labels(s, groups, folds=folds)
    top, bottom = labels == labels.max(), labels == 1
    rows = []
    for name in covariates.columns:
        x = np.asarray(covariates[name], dtype=np.float64)
        a, b = x[top], x[bottom]
        diff = float(a.mean() - b.mean())
        se = math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
        p = float(two_sided_p(diff / se, None)) if se > 0 else float("nan")
        rows.append(
            {
                "covariate": str(name),
                "most_affected": float(a.mean()),
                "least_affected": float(b.mean()),
                "difference": diff,
                "std_error": se,
                "ci_low": diff - crit * se,
                "ci_high": diff + crit * se,
                "p_value": p,
            }
        )
    return pd.DataFrame(rows).set_index("covariate")


def subgroup_effects(score: Any, labels: Any, *, level: float = 0.95, name: str = "subgroup") -> pd.DataFrame:
    """The average effect within each level of ``labels`` (mean of the pseudo-outcome), with intervals."""
    (phi,) = _vectors(score)
    lab = np.asarray(labels)
    if len(lab) != len(phi):
        raise SpecificationError(f"subgroups has {len(lab)} values; the data have {len(phi)} rows.")
    crit = critical_value(check_level(level), None)
    rows = []
    for value in pd.unique(pd.Series(lab)):
        keep = lab == value
        if keep.sum() < 2:
            raise DataError(f"subgroup {value!r} of {name!r} has one row; an interval needs at least two.")
        mean, se, lo, hi = _mean_row(phi[keep], crit)
        rows.append(
            {name: str(value), "n": int(keep.sum()), "estimate": mean, "std_error": se, "ci_low": lo, "ci_high": hi}
        )
    return pd.DataFrame(rows).set_index(name).sort_index()


def policy_value(proxy: Any, score1: Any, score0: Any, *, level: float = 0.95) -> pd.DataFrame:
    """The value (mean outcome) of treating where the proxy is positive, of treating all and of treating
    none, and the policy's gains over both, each with a standard error from the doubly robust scores."""
    s, p1, p0 = _vectors(proxy, score1, score0)
    crit = critical_value(check_level(level), None)
    pi = (s > 0).astype(np.float64)
    per_row = {
        "treat where CATE > 0": pi * p1 + (1 - pi) * p0,
        "treat all": p1,
        "treat none": p0,
        "gain over treating none": pi * (p1 - p0),
        "gain over treating all": (pi - 1) * (p1 - p0),
    }
    share = {"treat where CATE > 0": float(pi.mean()), "treat all": 1.0, "treat none": 0.0}
    rows = []
    for policy, values in per_row.items():
        mean, se, lo, hi = _mean_row(values, crit)
        rows.append(
            {
                "policy": policy,
                "value": mean,
                "std_error": se,
                "ci_low": lo,
                "ci_high": hi,
                "share_treated": share.get(policy, float(pi.mean())),
            }
        )
    return pd.DataFrame(rows).set_index("policy")


def _verdict(blp: TestResult, gates_table: pd.DataFrame | None, alpha: float) -> str:
    if not blp.applicable:
        return f"The heterogeneity test does not apply: {blp.reason}."
    b2, p = blp.details["loading"], blp.p_value
    assert p is not None
    loading = f"heterogeneity loading beta2 = {b2:.3g}, p = {p:.2g}"
    if p >= alpha:
        return (
            f"No evidence the effect varies ({loading}): the average effect {blp.details['ate']:.4g} describes "
            "the data, and the spread of the CATE estimates is consistent with noise."
        )
    if b2 < 0:
        return (
            f"The effect varies, but the learner's CATE ranks it the wrong way round ({loading}): rows it calls "
            "most affected are affected least. Do not target treatment on this CATE."
        )
    text = f"The effect varies: the learner's CATE predicts where it is larger ({loading})"
    if gates_table is not None and len(gates_table) > 2:
        low, high = gates_table["estimate"].iloc[0], gates_table["estimate"].iloc[-2]
        text += f"; the average effect runs from {low:.3g} in the least to {high:.3g} in the most affected group"
    return text + "."


@dataclass(frozen=True)
class Heterogeneity:
    """The heterogeneity analysis of a CATE proxy: BLP test, GATES, CLAN, subgroups, policy value, verdict."""

    blp: TestResult
    gates: pd.DataFrame | None
    clan: pd.DataFrame | None
    policy: pd.DataFrame
    verdict: str
    subgroups: pd.DataFrame | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def varies(self) -> bool:
        """True when the BLP test finds heterogeneity that the proxy captures (beta2 > 0, p < alpha)."""
        return self.verdict.startswith("The effect varies:")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"verdict": self.verdict, "blp": self.blp.to_dict()}
        for key in ("gates", "clan", "subgroups", "policy"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out

    def __str__(self) -> str:
        return self.verdict


def heterogeneity(
    proxy: Any,
    score1: Any,
    score0: Any,
    *,
    covariates: pd.DataFrame | None = None,
    subgroups: Any = None,
    subgroup_name: str = "subgroup",
    groups: int = 5,
    level: float = 0.95,
    folds: Any = None,
) -> Heterogeneity:
    """Every check of this module on one proxy and its scores; ``verdict`` says in words whether the effect
    varies (at the level's alpha = 1 - level)."""
    level = check_level(level)
    s, p1, p0 = _vectors(proxy, score1, score0)
    phi = p1 - p0
    blp = blp_test(s, phi, folds=folds)
    constant = not blp.applicable
    gates_table = None if constant else gates(s, phi, groups=groups, level=level, folds=folds)
    clan_table = (
        None if constant or covariates is None else clan(s, covariates, groups=groups, level=level, folds=folds)
    )
    sub = None if subgroups is None else subgroup_effects(phi, subgroups, level=level, name=subgroup_name)
    return Heterogeneity(
        blp=blp,
        gates=gates_table,
        clan=clan_table,
        policy=policy_value(s, p1, p0, level=level),
        verdict=_verdict(blp, gates_table, 1.0 - level),
        subgroups=sub,
    )
