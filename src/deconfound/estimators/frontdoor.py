"""Front-door adjustment (Pearl 1995): the effect of a treatment T on an outcome Y carried by mediators M.

When an unobserved confounder of T and Y leaves every backdoor path open, the effect is still identified
if (i) the mediators M carry all of it, (ii) nothing confounds T -> M and (iii) nothing but T confounds
M -> Y (given T the mediators are as good as random). Then

    E[Y | do(T = t)] = sum_m P(m | t) sum_t' P(t') E[Y | m, t']          (with covariates X, inside E_X)

**Linear models** (``model="linear"``): each mediator's regression M_j = a0_j + a_j T + X g_j + e_j and
the outcome's Y = b0 + sum_j b_j M_j + c T + X d + u; the effect of one unit of T is sum_j a_j b_j.
Standard errors come from the stacked estimating equations of all the regressions: every row's
influence on a stage's coefficients is (X'WX)^-1 x_i w_i e_i, the joint sandwich of the stacked
coefficients is the sum of the outer products of the stacked influences (HC0, the convention of
Stata's ``teffects`` and of our other M-estimators; with ``cluster`` the influences are summed within
clusters and scaled by G / (G - 1)), and the delta method turns it into the product's variance:
psi_i = sum_j (b_j IF(a_j)_i + a_j IF(b_j)_i). ``se="bootstrap"`` resamples rows (or clusters) instead.

**Flexible models** (any other ``model``: a preset name of the learner layer or a scikit-learn
regressor; a two-level treatment): the plug-in formula above, with mu(m, t, x) = E[Y | M, T, X] from the
learner. Without covariates P(t') are the treatment shares and the mediators' distribution under
do(T = t) is their empirical distribution among the units with T = t:

    E[Y | do(t)] = mean over {i: T_i = t} of  sum_t' P(t') mu(M_i, t')

With covariates P(t' | X) comes from ``treatment_model`` and the units with T = t are weighted by
1 / P(t | X_i), so that their covariates stand for everyone's. Standard errors by the bootstrap
(``n_bootstrap`` resamples, seeded by ``random_state``; the learner gets a seed derived from it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._core.design import array_part, constant_part
from .._core.least_squares import OLSFit, fit_ols
from .._core.options import as_name_list, check_level, check_option, check_positive_int
from .._core.pages import entry
from .._core.progress import current
from ..data import Prepared, _numeric, prepare
from ..errors import DataError, DeconfoundError, SpecificationError
from ..results import CoefTable, Estimate
from ._base import make_estimate
from .learners import derive_seed, learner_name, make_learner, seed_from

__all__ = ["front_door"]

SE_TYPES = ("stacked", "bootstrap")
#: a T -> M link whose (robust) F statistic is below this in every mediator is called weak
WEAK_LINK_F = 10.0
#: share of bootstrap resamples that may fail (e.g. a resample where a mediator is constant)
MAX_FAILED_SHARE = 0.10
LABEL = "Front-door adjustment"


@dataclass(frozen=True)
class _Rows:
    """The arrays of one estimate (or of one bootstrap resample)."""

    y: np.ndarray
    t: np.ndarray
    m: np.ndarray  # n x J mediators
    x: np.ndarray  # n x k covariates (k may be 0)
    w: np.ndarray | None
    clusters: np.ndarray | None
    names: tuple[str, ...] = ()  # of the learners' features: the mediators, the treatment, the covariates

    def take(self, idx: np.ndarray) -> _Rows:
        return _Rows(
            self.y[idx],
            self.t[idx],
            self.m[idx],
            self.x[idx],
            None if self.w is None else self.w[idx],
            None if self.clusters is None else self.clusters[idx],
            self.names,
        )

    def features(self, t: float | None = None) -> pd.DataFrame:
        """The outcome learner's features (the treatment set to ``t`` when given), named as the columns."""
        treatment = self.t if t is None else np.full_like(self.t, t)
        return pd.DataFrame(np.hstack([self.m, treatment[:, None], self.x]), columns=list(self.names))

    def covariates(self) -> pd.DataFrame:
        return pd.DataFrame(self.x, columns=list(self.names[self.m.shape[1] + 1 :]))


@entry
def front_door(
    data: Any,
    *,
    outcome: str,
    treatment: str,
    mediators: str | Iterable[str],
    covariates: str | Iterable[str] | None = None,
    weights: str | None = None,
    cluster: str | None = None,
    model: Any = "linear",
    treatment_model: Any = "logistic",
    se: str | None = None,
    n_bootstrap: int = 500,
    random_state: Any = None,
    level: float = 0.95,
    missing: str = "raise",
    treated_level: Any = None,
) -> Estimate:
    """The effect of ``treatment`` on ``outcome`` by front-door adjustment through ``mediators``.

    ``model="linear"`` (default): the product of the treatment -> mediator and mediator -> outcome
    (given the treatment) coefficients, covariates in both stages, standard errors by stacked
    estimating equations (``se="stacked"``, default) or the bootstrap (``se="bootstrap"``). Any other
    ``model`` (a regressor preset such as ``"gbm"``, ``"rf"``, ``"lasso"``, ``"ols"``, or a scikit-learn
    regressor) fits E[outcome | mediators, treatment, covariates] with it and averages the plug-in formula
    (a two-level treatment; with covariates ``treatment_model`` gives P(treatment | covariates));
    standard errors by the bootstrap. ``n_bootstrap`` resamples (of clusters with ``cluster``) are seeded
    by ``random_state``. The result carries both stages' tables (``diagnostics["mediator_model"]``,
    ``diagnostics["outcome_model"]``) and warns in plain words when the treatment barely moves the mediators.
    """
    level = check_level(level)
    names = _check_mediators(mediators, outcome, treatment, covariates)
    linear = isinstance(model, str) and model.lower() == "linear"
    se = _check_se(se, linear)
    n_bootstrap = check_positive_int(n_bootstrap, "n_bootstrap", minimum=20)
    seed = seed_from(random_state)
    learners = None if linear else _learners(model, treatment_model, covariates, seed)
    prep = prepare(
        data,
        outcome=outcome,
        treatment=treatment,
        covariates=covariates,
        weights=weights,
        cluster=cluster,
        extra={_role(j, names): name for j, name in enumerate(names)},
        missing=missing,
        treatment_kind="auto" if linear else "binary",
        treated_level=treated_level,
        min_rows=len(names) + _min_rows(covariates),
    )
    rows = _rows(prep, names)
    stage1 = [_fit_stage(prep, rows.m[:, j], [treatment], prep.covariates) for j in range(len(names))]
    diagnostics: dict[str, Any] = {"mediators": list(names), "mediator_model": _stage_table(stage1, names, level)}
    warnings = _weak_link(stage1, names, treatment)
    if linear:
        stage2 = _fit_outcome_stage(prep, rows, names, treatment)
        diagnostics["outcome_model"] = _frame(stage2, level)
        estimate, table = _stacked(rows, stage1, stage2, names, treatment, outcome)
        std_error = float(np.sqrt(table.cov[-1, -1]))
        point: Callable[[_Rows], float] = _linear_point
        diagnostics["model"] = "linear"
    else:
        assert learners is not None
        point = _flexible(*learners)
        means = _flexible_means(rows, *learners)
        estimate, table = means[0] - means[1], None
        diagnostics["model"] = learner_name(model)
        diagnostics["potential_outcome_means"] = {"treated": means[0], "control": means[1]}
        std_error = float("nan")
    diagnostics["se"] = se
    if se == "bootstrap":
        std_error, diagnostics["bootstrap"] = _bootstrap(point, rows, n_bootstrap, seed, level, estimate)
    return _result(prep, estimate, std_error, level, warnings, diagnostics, table, names, se)


def _min_rows(covariates: Any) -> int:
    """Rows needed before the regressions can run: one more than a stage's coefficients (roughly)."""
    return 3 + len(as_name_list(covariates, "covariates"))


# --------------------------------------------------------------------------------------------------
# checks
# --------------------------------------------------------------------------------------------------


def _role(j: int, names: Sequence[str]) -> str:
    return "mediator" if len(names) == 1 else f"mediator {j + 1}"


def _check_mediators(mediators: Any, outcome: Any, treatment: Any, covariates: Any) -> list[str]:
    names = as_name_list(mediators, "mediators")
    if not names:
        raise SpecificationError(
            "front_door() needs mediators=: the column(s) through which the treatment affects the outcome "
            "(the front-door set the graph names, e.g. mediators=['M'])."
        )
    dup = sorted({m for m in names if names.count(m) > 1})
    if dup:
        raise SpecificationError(f"mediators lists {dup} more than once.")
    covs = as_name_list(covariates, "covariates")
    for m in names:
        for role, col in (("treatment", treatment), ("outcome", outcome)):
            if m == col:
                raise SpecificationError(
                    f"mediator {m!r} is the {role}; a mediator is a third variable on the path from the treatment "
                    "to the outcome. Name the mediator column(s) in mediators=."
                )
        if m in covs:
            raise SpecificationError(
                f"mediator {m!r} is also listed among the covariates; a mediator cannot be adjusted for as a "
                "covariate. Remove it from covariates."
            )
    return names


def _check_se(se: Any, linear: bool) -> str:
    if se is None:
        return "stacked" if linear else "bootstrap"
    se = check_option("se", se, SE_TYPES)
    if se == "stacked" and not linear:
        raise SpecificationError(
            "se='stacked' needs model='linear' (the stacked estimating equations are those of the linear "
            "regressions); with a flexible model use se='bootstrap'."
        )
    return se


def _learners(model: Any, treatment_model: Any, covariates: Any, seed: int) -> tuple[Any, Any]:
    outcome_learner = make_learner(model, kind="regressor", argument="model", random_state=derive_seed(seed, "outcome"))
    propensity = None
    if as_name_list(covariates, "covariates"):
        propensity = make_learner(
            treatment_model,
            kind="classifier",
            argument="treatment_model",
            random_state=derive_seed(seed, "propensity"),
        )
    return outcome_learner, propensity


def _rows(prep: Prepared, names: Sequence[str]) -> _Rows:
    columns = []
    for j, name in enumerate(names):
        values = _numeric(pd.Series(prep.extra[_role(j, names)], name=name), "mediator")
        if values.min() == values.max():
            raise DataError(
                f"mediator {name!r} takes the single value {values[0]:g} in every used row; a constant cannot "
                "carry the treatment's effect. Check the column (or the rows kept)."
            )
        columns.append(values)
    assert prep.treatment is not None
    x = prep.covariates.to_array() if prep.covariates.k else np.empty((prep.n, 0))
    clusters = prep.clusters[0] if prep.clusters else None
    names = (*names, str(prep.treatment_name), *prep.covariates.names)
    return _Rows(prep.outcome, prep.treatment, np.column_stack(columns), x, prep.weights, clusters, names)


# --------------------------------------------------------------------------------------------------
# the linear stages and their stacked sandwich
# --------------------------------------------------------------------------------------------------


def _cov_type(prep: Prepared) -> str:
    return "cluster" if prep.clusters else "HC1"


def _fit_stage(prep: Prepared, target: np.ndarray, front: Sequence[str], covariates: Any) -> OLSFit:
    """One mediator's regression on the treatment and the covariates."""
    assert prep.treatment is not None
    design = covariates.with_parts([constant_part(), array_part(front[0], prep.treatment)], front=True)
    return fit_ols(design, target, prep.weights, cov_type=_cov_type(prep), clusters=prep.clusters, protect=front)


def _fit_outcome_stage(prep: Prepared, rows: _Rows, names: Sequence[str], treatment: str) -> OLSFit:
    """The outcome's regression on the mediators, the treatment and the covariates."""
    parts = [
        constant_part(),
        *[array_part(n, rows.m[:, j]) for j, n in enumerate(names)],
        array_part(treatment, rows.t),
    ]
    design = prep.covariates.with_parts(parts, front=True)
    return fit_ols(
        design, rows.y, rows.w, cov_type=_cov_type(prep), clusters=prep.clusters, protect=[*names, treatment]
    )


def _influence(fit: OLSFit, x: np.ndarray, target: np.ndarray, w: np.ndarray | None, column: int) -> np.ndarray:
    """Every row's influence on one coefficient of a least-squares fit: x_i' (X'WX)^-1 e_j w_i e_i."""
    resid = target - x @ fit.coef
    score = resid if w is None else w * resid
    return (x @ fit.xtx_inv[:, column]) * score


def _design_matrix(rows: _Rows, mediators: bool) -> np.ndarray:
    ones = np.ones((len(rows.y), 1))
    if mediators:
        return np.hstack([ones, rows.m, rows.t[:, None], rows.x])
    return np.hstack([ones, rows.t[:, None], rows.x])


def _stacked(
    rows: _Rows, stage1: Sequence[OLSFit], stage2: OLSFit, names: Sequence[str], treatment: str, outcome: str
) -> tuple[float, CoefTable]:
    """The effect and the joint table of a_j, b_j, the path products and their sum from the stacked sandwich."""
    x1, x2 = _design_matrix(rows, mediators=False), _design_matrix(rows, mediators=True)
    k = len(names)
    a = np.array([fit.coef[1] for fit in stage1])
    b = np.asarray(stage2.coef[1 : 1 + k])
    infl_a = np.column_stack([_influence(fit, x1, rows.m[:, j], rows.w, 1) for j, fit in enumerate(stage1)])
    infl_b = np.column_stack([_influence(stage2, x2, rows.y, rows.w, 1 + j) for j in range(k)])
    paths = infl_a * b + infl_b * a
    several = k > 1  # with one mediator its path is the effect: listed once
    infl = np.hstack([infl_a, infl_b, *([paths] if several else []), paths.sum(axis=1, keepdims=True)])
    cov = _sandwich(infl, rows.clusters)
    coef = np.concatenate([a, b, a * b if several else [], [float(a @ b)]])
    terms = (
        [f"{treatment} -> {m}" for m in names]
        + [f"{m} -> {outcome} | {treatment}" for m in names]
        + ([f"{treatment} -> {m} -> {outcome}" for m in names] if several else [])
        + ["front-door effect"]
    )
    stats = {"cov_type": "stacked (HC0)" if rows.clusters is None else "stacked (cluster)", "n": len(rows.y)}
    return float(a @ b), CoefTable(tuple(terms), coef, cov, None, stats)


def _sandwich(infl: np.ndarray, clusters: np.ndarray | None) -> np.ndarray:
    """Sum of the outer products of the rows' (or clusters') stacked influences."""
    if clusters is None:
        cov = infl.T @ infl
    else:
        g = int(clusters.max()) + 1
        sums = np.column_stack([np.bincount(clusters, weights=infl[:, j], minlength=g) for j in range(infl.shape[1])])
        cov = sums.T @ sums * (g / (g - 1.0) if g > 1 else float("nan"))
    return 0.5 * (cov + cov.T)


def _linear_point(rows: _Rows) -> float:
    """sum_j a_j b_j by weighted least squares (the bootstrap's fast path)."""
    sw = np.ones_like(rows.y) if rows.w is None else np.sqrt(rows.w)
    x1, x2 = _design_matrix(rows, mediators=False), _design_matrix(rows, mediators=True)
    a = np.linalg.lstsq(x1 * sw[:, None], rows.m * sw[:, None], rcond=None)[0][1]
    b = np.linalg.lstsq(x2 * sw[:, None], rows.y * sw, rcond=None)[0][1 : 1 + rows.m.shape[1]]
    return float(a @ b)


# --------------------------------------------------------------------------------------------------
# the flexible plug-in
# --------------------------------------------------------------------------------------------------


def _flexible_means(rows: _Rows, outcome_learner: Any, propensity: Any) -> tuple[float, float]:
    """E[Y | do(T=1)] and E[Y | do(T=0)] by the plug-in formula (module docstring)."""
    fitted = outcome_learner.fit(rows.features(), rows.y, rows.w)
    mu1, mu0 = outcome_learner.predict(fitted, rows.features(1.0)), outcome_learner.predict(fitted, rows.features(0.0))
    w = np.ones_like(rows.y) if rows.w is None else rows.w
    treated = rows.t == 1.0
    if propensity is None:
        p1 = float(np.sum(w[treated]) / np.sum(w))
        e1 = np.full_like(rows.y, p1)
    else:
        e1 = propensity.fit_predict(rows.covariates(), rows.t, rows.w, rows.covariates())
        if np.any(e1 <= 0.0) or np.any(e1 >= 1.0):
            raise DataError(
                "treatment_model predicts a probability of exactly 0 or 1 for some rows: the covariates separate "
                "the arms, so the mediators of one arm cannot stand for the other's. Drop or coarsen covariates."
            )
    g = e1 * mu1 + (1.0 - e1) * mu0
    v1, v0 = w * treated / e1, w * (~treated) / (1.0 - e1)
    if propensity is None:
        v1, v0 = w * treated, w * (~treated)
    return float(v1 @ g / v1.sum()), float(v0 @ g / v0.sum())


def _flexible(outcome_learner: Any, propensity: Any) -> Callable[[_Rows], float]:
    def point(rows: _Rows) -> float:
        if np.all(rows.t == rows.t[0]):
            raise DataError("a resample with one arm only")
        mean1, mean0 = _flexible_means(rows, outcome_learner, propensity)
        return mean1 - mean0

    return point


# --------------------------------------------------------------------------------------------------
# the bootstrap
# --------------------------------------------------------------------------------------------------


def _resample(rows: _Rows, rng: np.random.Generator) -> np.ndarray:
    n = len(rows.y)
    if rows.clusters is None:
        return rng.integers(0, n, size=n)
    order = np.argsort(rows.clusters, kind="stable")
    g = int(rows.clusters.max()) + 1
    starts = np.searchsorted(rows.clusters[order], np.arange(g + 1))
    chosen = rng.integers(0, g, size=g)
    return np.concatenate([order[starts[c] : starts[c + 1]] for c in chosen])


def _bootstrap(
    point: Callable[[_Rows], float], rows: _Rows, n_bootstrap: int, seed: int, level: float, estimate: float
) -> tuple[float, dict[str, Any]]:
    """The standard deviation of the estimate over resamples of the rows (of the clusters with a cluster)."""
    rng = np.random.default_rng(derive_seed(seed, "bootstrap"))
    progress = current()
    progress.step(f"front-door bootstrap ({n_bootstrap} resamples)")
    draws, failed = [], 0
    for b in range(n_bootstrap):
        idx = _resample(rows, rng)
        try:
            draws.append(point(rows.take(idx)))
        except (DeconfoundError, np.linalg.LinAlgError, ValueError):
            failed += 1
        progress.advance(b + 1, n_bootstrap)
    if failed > MAX_FAILED_SHARE * n_bootstrap:
        raise DataError(
            f"{failed} of {n_bootstrap} bootstrap resamples could not be estimated (a resample with one arm, or "
            "with a mediator that does not vary): the data are too thin for the bootstrap. Use more rows, or "
            "model='linear' with se='stacked'."
        )
    values = np.asarray(draws)
    lo, hi = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    info = {
        "n_bootstrap": n_bootstrap,
        "n_failed": failed,
        "seed": seed,
        "percentile_ci": [float(lo), float(hi)],
        "bias": float(values.mean() - estimate),
    }
    return float(values.std(ddof=1)), info


# --------------------------------------------------------------------------------------------------
# tables, warnings and the result
# --------------------------------------------------------------------------------------------------


def _frame(fit: OLSFit, level: float) -> pd.DataFrame:
    return CoefTable(tuple(fit.names), fit.coef, fit.cov, fit.df_inference).to_frame(level)


def _stage_table(stage1: Sequence[OLSFit], names: Sequence[str], level: float) -> pd.DataFrame:
    frames = []
    for name, fit in zip(names, stage1, strict=True):
        frame = _frame(fit, level).reset_index()
        frame.insert(0, "mediator", name)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _weak_link(stage1: Sequence[OLSFit], names: Sequence[str], treatment: str) -> list[str]:
    """A plain-words warning when the treatment barely moves every mediator (robust F of T below 10)."""
    stats = []
    for fit in stage1:
        se = float(np.sqrt(fit.cov[1, 1])) if fit.cov[1, 1] > 0 else float("nan")
        stats.append((fit.coef[1] / se) ** 2 if se == se else float("nan"))
    if not stats or max(stats) >= WEAK_LINK_F or not np.isfinite(max(stats)):
        return []
    shown = ", ".join(f"{n!r}: F = {f:.1f}" for n, f in zip(names, stats, strict=True))
    return [
        f"The treatment {treatment!r} barely moves the mediator(s) ({shown}; below {WEAK_LINK_F:g}): the "
        "front-door effect is a product with a factor near zero, so its delta-method interval is unreliable. "
        "Check that these mediators carry the effect; se='bootstrap' gives a second opinion."
    ]


def _result(
    prep: Prepared,
    estimate: float,
    std_error: float,
    level: float,
    warnings: list[str],
    diagnostics: dict[str, Any],
    table: CoefTable | None,
    names: Sequence[str],
    se: str,
) -> Estimate:
    via = ", ".join(repr(m) for m in names)
    notes = [f"front-door adjustment through {via}; standard errors by {_se_words(se)}"]
    estimand = "ATE"
    if prep.treatment_kind == "continuous":
        estimand = "ATE (per unit)"
        notes.append(
            f"treatment {prep.treatment_name!r} is continuous: the estimate is the effect of one more unit, "
            "assuming linear stages"
        )
    return make_estimate(
        prep,
        method="front-door",
        label=LABEL,
        estimand=estimand,
        estimate=estimate,
        std_error=std_error,
        df=None,
        level=level,
        warnings=warnings,
        notes=notes,
        diagnostics=diagnostics,
        coefficients=table,
        n_clusters=None if not prep.clusters else int(prep.clusters[0].max()) + 1,
    )


def _se_words(se: str) -> str:
    if se == "stacked":
        return "stacked estimating equations (the joint sandwich of both stages, delta method)"
    return "the bootstrap"
