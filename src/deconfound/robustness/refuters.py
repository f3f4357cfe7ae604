"""Refuters: re-run an estimate under a change that should, or should not, move it, and say whether it behaved.

Each refuter answers one question about the estimate; none proves it right, each can show it wrong.

==========================  ================================================  ==========================================
refuter                     what changes                                      passes when
==========================  ================================================  ==========================================
placebo treatment           the treatment is randomly permuted                the placebo estimates centre on zero
random common cause         a random covariate is added to the adjustment     the estimate moves by under 0.5 SE
data subsets                the estimate is redone on random 80% subsets      their mean stays within 1 SE
dummy outcome               the outcome is replaced by noise                  its estimated "effects" centre on zero
leave one cluster out       each cluster is dropped in turn                   no single cluster flips the sign or moves
                                                                              the estimate by over 2 SE
==========================  ================================================  ==========================================

The thresholds are stated with each row so the reader can judge them; "centre on zero" is the placebo
test's rule (the mean within three standard errors of the mean). Every refuter is seeded from one
``random_state`` and runs ``n_simulations`` times (default 20) where it is random.
"""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._core.options import check_positive_int
from ..errors import DeconfoundError, SpecificationError

__all__ = ["REFUTERS", "Refutation", "refute"]

REFUTERS = ("placebo_treatment", "random_common_cause", "data_subsets", "dummy_outcome", "leave_one_cluster_out")
COLUMNS = ("refuter", "estimate", "new_estimate", "spread", "passed", "rule", "detail")


@dataclass(frozen=True)
class Refutation:
    """One row per refuter that ran, and those that did not apply with the reason."""

    estimate: float
    std_error: float
    rows: tuple[dict[str, Any], ...]
    skipped: tuple[tuple[str, str], ...]
    seed: int

    @property
    def passed(self) -> bool:
        return all(row["passed"] for row in self.rows)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(list(self.rows), columns=list(COLUMNS))

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimate": self.estimate,
            "std_error": self.std_error,
            "passed": self.passed,
            "refuters": [dict(r) for r in self.rows],
            "skipped": [{"refuter": name, "reason": why} for name, why in self.skipped],
            "seed": self.seed,
            "text": self.text,
        }

    @property
    def text(self) -> str:
        failed = [r["refuter"] for r in self.rows if not r["passed"]]
        if not self.rows:
            return "No refuter applied."
        if not failed:
            names = ", ".join(r["refuter"] for r in self.rows)
            return f"The estimate behaved under all {len(self.rows)} refuters ({names})."
        return (
            f"The estimate failed {len(failed)} of {len(self.rows)} refuters ({', '.join(failed)}): read it with care "
            "and see each refuter's detail."
        )

    def __str__(self) -> str:
        return self.text


def _quiet(estimator: Callable[..., Any], data: pd.DataFrame, options: dict[str, Any]) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(estimator(data, **options).estimate)


def _repeat(fn: Callable[[np.random.Generator], float], n: int, rng: np.random.Generator) -> np.ndarray:
    values = []
    for _ in range(n):
        try:
            values.append(fn(rng))
        except DeconfoundError:
            continue
    return np.asarray(values, dtype=float)


def _centred(values: np.ndarray) -> tuple[bool, float, float]:
    if len(values) < 2:
        return False, math.nan, math.nan
    mean, sd = float(values.mean()), float(values.std(ddof=1))
    return bool(abs(mean) <= 3 * sd / math.sqrt(len(values))), mean, sd


def refute(
    estimator: Callable[..., Any],
    data: Any,
    *,
    refuters: Sequence[str] | None = None,
    leave_out: str | None = None,
    n_simulations: int = 20,
    random_state: Any = None,
    **options: Any,
) -> Refutation:
    """Run the refuters that apply to ``estimator(data, **options)`` and return one table with pass/fail.

    ``refuters`` picks some of :data:`REFUTERS` (default: all that apply: the random common cause needs an
    estimator that takes ``covariates``; leaving one cluster out needs ``leave_out=`` (the column whose
    values are left out in turn) or the estimator's own one-column ``cluster`` option, which is used by
    default). Every other keyword goes to the estimator.
    """
    from ..data import load_table
    from ..estimators.learners.seeds import seed_from

    n_simulations = check_positive_int(n_simulations, "n_simulations")
    chosen = list(REFUTERS if refuters is None else refuters)
    unknown = [r for r in chosen if r not in REFUTERS]
    if unknown:
        raise SpecificationError(f"unknown refuter(s) {unknown}; choose from {list(REFUTERS)}.")
    frame = load_table(data)
    original = estimator(frame, **options)
    theta, se = float(original.estimate), float(original.std_error)
    seed = seed_from(random_state)
    rng = np.random.default_rng(seed)
    cluster = leave_out
    if cluster is None:
        own = options.get("cluster")
        own = [own] if isinstance(own, str) else list(own or [])
        cluster = own[0] if len(own) == 1 else None
    if cluster is not None and cluster not in frame.columns:
        raise SpecificationError(f"leave_out={cluster!r} is not a column of the data.")
    rows: list[dict[str, Any]] = []
    skipped: list[tuple[str, str]] = []
    context = _Context(estimator, frame, options, theta, se, n_simulations, cluster)
    from .._core.progress import current

    bar = current()
    for name in chosen:
        why = context.not_applicable(name)
        if why:
            skipped.append((name, why))
            continue
        bar.step(f"refuter: {name.replace('_', ' ')}")
        rows.append(getattr(context, name)(rng))
    return Refutation(theta, se, tuple(rows), tuple(skipped), seed)


@dataclass
class _Context:
    estimator: Callable[..., Any]
    data: pd.DataFrame
    options: dict[str, Any]
    theta: float
    se: float
    n: int
    cluster: str | None

    def _takes(self, name: str) -> bool:
        try:
            return name in inspect.signature(self.estimator).parameters
        except (TypeError, ValueError):
            return False

    def not_applicable(self, name: str) -> str | None:
        if name == "placebo_treatment" and "treatment" not in self.options:
            return "needs the treatment passed as treatment="
        if name == "dummy_outcome" and "outcome" not in self.options:
            return "needs the outcome passed as outcome="
        if name == "random_common_cause" and not self._takes("covariates"):
            return "the estimator takes no covariates"
        if name == "leave_one_cluster_out":
            if self.cluster is None:
                return "no cluster column given (leave_out= or the estimator's cluster=)"
            if self.data[self.cluster].nunique() > 200:
                return f"{self.data[self.cluster].nunique()} clusters: leave-one-out is meant for a few (at most 200)"
        return None

    def _row(self, name: str, new: float, spread: float, passed: bool, rule: str, detail: str) -> dict[str, Any]:
        return {
            "refuter": name,
            "estimate": self.theta,
            "new_estimate": new,
            "spread": spread,
            "passed": bool(passed),
            "rule": rule,
            "detail": detail,
        }

    def placebo_treatment(self, rng: np.random.Generator) -> dict[str, Any]:
        col = self.options["treatment"]

        def once(r: np.random.Generator) -> float:
            shuffled = self.data.assign(**{col: r.permutation(self.data[col].to_numpy())})
            return _quiet(self.estimator, shuffled, self.options)

        values = _repeat(once, self.n, rng)
        ok, mean, sd = _centred(values)
        detail = f"{len(values)} permuted treatments: mean {mean:.4g} (sd {sd:.4g}) against {self.theta:.4g}"
        return self._row("placebo_treatment", mean, sd, ok, "mean within 3 SE of zero", detail)

    def random_common_cause(self, rng: np.random.Generator) -> dict[str, Any]:
        covs = self.options.get("covariates") or []
        covs = [covs] if isinstance(covs, str) else list(covs)

        def once(r: np.random.Generator) -> float:
            noise = "_random_common_cause"
            extra = self.data.assign(**{noise: r.normal(size=len(self.data))})
            return _quiet(self.estimator, extra, {**self.options, "covariates": [*covs, noise]})

        values = _repeat(once, self.n, rng)
        move = float(np.mean(np.abs(values - self.theta))) if len(values) else math.nan
        ok = len(values) > 0 and move <= 0.5 * self.se
        detail = (
            f"{len(values)} random covariates added: the estimate moved by {move:.3g} on average (SE {self.se:.3g})"
        )
        return self._row("random_common_cause", float(np.mean(values)), move, ok, "moves by under 0.5 SE", detail)

    def data_subsets(self, rng: np.random.Generator) -> dict[str, Any]:
        def once(r: np.random.Generator) -> float:
            keep = r.random(len(self.data)) < 0.8
            return _quiet(self.estimator, self.data.loc[keep].reset_index(drop=True), self.options)

        values = _repeat(once, self.n, rng)
        mean = float(values.mean()) if len(values) else math.nan
        sd = float(values.std(ddof=1)) if len(values) > 1 else math.nan
        ok = len(values) > 1 and abs(mean - self.theta) <= self.se
        detail = f"{len(values)} random 80% subsets: mean {mean:.4g} (sd {sd:.4g}) against {self.theta:.4g}"
        return self._row("data_subsets", mean, sd, ok, "mean within 1 SE of the estimate", detail)

    def dummy_outcome(self, rng: np.random.Generator) -> dict[str, Any]:
        col = self.options["outcome"]
        y = pd.to_numeric(self.data[col], errors="coerce")
        scale = float(y.std()) if y.notna().sum() > 1 else 1.0

        def once(r: np.random.Generator) -> float:
            return _quiet(self.estimator, self.data.assign(**{col: r.normal(0.0, scale, len(self.data))}), self.options)

        values = _repeat(once, self.n, rng)
        ok, mean, sd = _centred(values)
        detail = f"{len(values)} noise outcomes: estimated 'effects' mean {mean:.4g} (sd {sd:.4g})"
        return self._row("dummy_outcome", mean, sd, ok, "mean within 3 SE of zero", detail)

    def leave_one_cluster_out(self, rng: np.random.Generator) -> dict[str, Any]:
        assert self.cluster is not None
        labels = self.data[self.cluster]
        values, names = [], []
        for level in pd.unique(labels.dropna()):
            try:
                values.append(
                    _quiet(self.estimator, self.data.loc[labels != level].reset_index(drop=True), self.options)
                )
                names.append(level.item() if hasattr(level, "item") else level)
            except DeconfoundError:
                continue
        arr = np.asarray(values)
        worst = int(np.argmax(np.abs(arr - self.theta))) if len(arr) else 0
        flips = int(np.sum(np.sign(arr) != np.sign(self.theta)))
        ok = len(arr) > 0 and flips == 0 and float(np.max(np.abs(arr - self.theta))) <= 2 * self.se
        detail = (
            f"{len(arr)} clusters left out in turn: estimates from {arr.min():.4g} to {arr.max():.4g}; the largest "
            f"change without {names[worst]!r}" + (f"; {flips} flip the sign" if flips else "")
            if len(arr)
            else "no cluster could be left out"
        )
        spread = float(arr.max() - arr.min()) if len(arr) else math.nan
        new = float(arr[worst]) if len(arr) else math.nan
        return self._row("leave_one_cluster_out", new, spread, ok, "no sign flip, no change over 2 SE", detail)
