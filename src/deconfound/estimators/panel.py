"""Panel regression (the article's promised "Panel Regression"): the effect of a treatment or dose that
varies within units over time, with three ways of handling what is fixed about each unit.

* ``"within"`` (fixed effects): unit effects absorbed (plus period effects with ``time_effects``);
  only changes within a unit identify the effect, so anything fixed about a unit cannot confound it.
  With ``time_effects`` the other two models get period dummies (one per period but the first), as
  regressors that are differenced or quasi-demeaned with the others (linearmodels' FirstDifferenceOLS
  and RandomEffects with time dummies): without them a trend common to every unit is read as an effect
  of any treatment that switches on over time (in a two-period DiD, first differences then give the
  treated group's own change instead of the difference in changes).
* ``"first-difference"``: regress the change from one period to the next on the changes of the
  regressors (consecutive periods only); also removes unit effects, and suits random-walk errors.
* ``"random-effects"``: unit effects treated as random and uncorrelated with the regressors; the data
  are quasi-demeaned, y - theta_i * mean_i(y), with the Swamy-Arora variances (as linearmodels'
  RandomEffects): sigma2_e from the within regression, sigma2_u from the between regression less
  sigma2_e / T (T the harmonic mean of the units' periods), theta_i = 1 - sqrt(sigma2_e /
  (T_i sigma2_u + sigma2_e)). Efficient when its assumption holds, biased when it does not.

Standard errors are clustered by unit by default; small-sample corrections follow :func:`ssc`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._core.demean import factorize
from .._core.design import Design, array_part
from .._core.distributions import chi2_sf
from .._core.fixed_effects import SmallSample, fit_absorbed
from .._core.options import check_level, check_option
from .._core.pages import entry
from ..data import Prepared, prepare
from ..diagnostics.hypotheses import TestResult
from ..errors import DataError, DeconfoundError, SpecificationError
from ..results import CoefTable, Estimate
from ._base import make_estimate
from ._fe import Rows, coef_table_absorbed, fit_fixed_effects, removal_messages, resolve_cluster
from ._panel import Panel, panel_index

MODELS = ("within", "first-difference", "random-effects")
LABELS = {
    "within": "Panel regression (fixed effects, within)",
    "first-difference": "Panel regression (first differences)",
    "random-effects": "Panel regression (random effects)",
}
#: the label with period effects (time dummies) for the models that do not absorb them
PERIOD_LABELS = {
    "first-difference": "Panel regression (first differences, period effects)",
    "random-effects": "Panel regression (random effects, period effects)",
}


def _period_dummies(period: np.ndarray, time: str) -> tuple[np.ndarray, list[str]]:
    """One 0/1 column per period but the first (the reference), named ``time=value``."""
    levels = np.unique(period)
    if len(levels) < 2:
        raise DataError(f"time_effects needs at least two periods in {time!r}; the data have one.")
    names = [f"{time}={int(v) if float(v).is_integer() else v}" for v in levels[1:]]
    return (period[:, None] == levels[None, 1:]).astype(float), names


def _first_differences(rows: Rows, unit: np.ndarray, period: np.ndarray) -> tuple[Rows, int]:
    """Changes between consecutive periods of the same unit (gaps leave no difference)."""
    order = np.lexsort((period, unit))
    u, p = unit[order], period[order]
    nxt = np.flatnonzero((u[1:] == u[:-1]) & (p[1:] == p[:-1] + 1))
    later, earlier = order[nxt + 1], order[nxt]
    if later.size == 0:
        raise DataError("No unit is observed in two consecutive periods, so there are no first differences.")
    y = rows.y[later] - rows.y[earlier]
    x = rows.x[later] - rows.x[earlier]
    clusters = tuple(factorize(c[later])[0] for c in rows.clusters)
    diffed = Rows(y, x, rows.names, None, clusters, rows.cluster_names, ())
    return diffed, int(len(rows.y) - later.size)


def _unit_means(values: np.ndarray, unit: np.ndarray, counts: np.ndarray) -> np.ndarray:
    if values.ndim == 1:
        return np.bincount(unit, weights=values, minlength=len(counts)) / counts
    return np.column_stack([_unit_means(values[:, j], unit, counts) for j in range(values.shape[1])])


def _swamy_arora(rows: Rows, unit: np.ndarray) -> dict[str, Any]:
    """Variance components and theta per unit (linearmodels' RandomEffects without small_sample)."""
    counts = np.bincount(unit).astype(float)
    n, n_units = len(rows.y), len(counts)
    ybar, xbar = _unit_means(rows.y, unit, counts), _unit_means(rows.x, unit, counts)
    yw, xw = rows.y - ybar[unit], rows.x - xbar[unit]
    scale = np.sqrt((rows.x**2).sum(axis=0))
    scale[scale == 0] = 1.0
    _, _, rank_within, _ = np.linalg.lstsq(xw / scale, yw, rcond=None)
    beta_w = np.linalg.lstsq(xw, yw, rcond=None)[0]
    df_within = n - n_units - rank_within
    between_x = np.column_stack([np.ones(n_units), xbar])
    beta_b, _, rank_between, _ = np.linalg.lstsq(between_x, ybar, rcond=None)
    df_between = n_units - rank_between
    if df_within <= 0 or df_between <= 0:
        raise DataError(
            f"Random effects need residual degrees of freedom in both the within ({df_within}) and the between "
            f"({df_between}) regression: {n} rows of {n_units} units are too few for {rows.x.shape[1] + 1} "
            "coefficients. Use more units or fewer regressors."
        )
    sigma2_e = float(((yw - xw @ beta_w) ** 2).sum()) / df_within
    ssr_b = float(((ybar - between_x @ beta_b) ** 2).sum())
    t_bar = n_units / float((1.0 / counts).sum())
    sigma2_u = max(0.0, ssr_b / df_between - sigma2_e / t_bar)
    theta = 1.0 - np.sqrt(sigma2_e / (counts * sigma2_u + sigma2_e))
    return {
        "sigma2_e": sigma2_e,
        "sigma2_u": sigma2_u,
        "rho": sigma2_u / (sigma2_u + sigma2_e),
        "theta": theta,
        "ybar": ybar,
        "xbar": xbar,
    }


def _random_effects_rows(rows: Rows, unit: np.ndarray) -> tuple[Rows, dict[str, Any]]:
    parts = _swamy_arora(rows, unit)
    th = parts["theta"][unit]
    y = rows.y - th * parts["ybar"][unit]
    x = np.column_stack([1.0 - th, rows.x - th[:, None] * parts["xbar"][unit]])
    quasi = Rows(y, x, ("const", *rows.names), None, rows.clusters, rows.cluster_names, ())
    theta = parts.pop("theta")
    parts.pop("ybar")
    parts.pop("xbar")
    parts.update(
        {"theta_min": float(theta.min()), "theta_median": float(np.median(theta)), "theta_max": float(theta.max())}
    )
    return quasi, parts


@entry
def panel_regression(
    data: Any,
    *,
    outcome: str,
    treatment: str,
    unit: str,
    time: str,
    covariates: str | Iterable[str] | None = None,
    model: str = "within",
    time_effects: bool = False,
    weights: str | None = None,
    cluster: str | Iterable[str] | None = None,
    cov_type: str | None = None,
    ssc: SmallSample | None = None,
    level: float = 0.95,
    missing: str = "raise",
) -> Estimate:
    """The treatment's coefficient in a panel regression (see the module docstring for ``model``).

    ``time_effects`` adds period effects: absorbed by the within model, period dummies for first
    differences and random effects (what a difference-in-differences comparison needs; the model's
    ``"first-difference"`` and ``"random-effects"`` entries use them). ``weights`` (analytic) are
    supported by the within model. Standard errors are clustered by ``unit`` unless ``cluster`` or
    ``cov_type`` ("nonrobust", "HC1") say otherwise.
    """
    level = check_level(level)
    model = _check_model(model, weights, time_effects)
    cluster_names, cov = resolve_cluster(cluster, cov_type, unit, method="panel_regression")
    prep = prepare(
        data,
        outcome=outcome,
        treatment=treatment,
        covariates=covariates,
        weights=weights,
        cluster=cluster_names,
        extra={"unit": unit, "time": time},
        missing=missing,
        treatment_kind="auto",
    )
    assert prep.treatment is not None
    design = Design([array_part(treatment, prep.treatment)], prep.n).with_parts(prep.covariates.parts)
    absorb_time = time_effects and model == "within"
    factors = [(unit, prep.extra["unit"])] + ([(time, prep.extra["time"])] if absorb_time else [])
    panel = panel_index(prep.extra["unit"], prep.extra["time"], unit, time)  # also checks the panel
    x, names = design.to_array(), list(design.names)
    if time_effects and not absorb_time:
        dummies, dummy_names = _period_dummies(np.asarray(prep.extra["time"]), time)
        x, names = np.column_stack([x, dummies]), names + dummy_names
    rows = Rows.build(prep, x, names, factors)
    if model == "within":
        fitted = _fit_within(rows, cov, ssc, treatment)
    else:
        fitted = _fit_transformed(rows, panel, model, cov, ssc, treatment)
    if time_effects:
        fitted.diagnostics["period_effects"] = time
    return _result(prep, fitted, model, cov, cluster_names, treatment, level, time_effects)


def _check_model(model: str, weights: str | None, time_effects: bool) -> str:
    model = check_option("model", model, MODELS)
    if model != "within" and weights is not None:
        raise SpecificationError("weights is supported by model='within' only; remove weights= or use model='within'.")
    return model


@dataclass
class _Fitted:
    """A fitted panel model and what its result reports besides the coefficients."""

    table: CoefTable
    n_used: int
    notes: list[str] = field(default_factory=list)
    diagnostics: dict[str, Any] = field(default_factory=dict)
    data_warnings: list[str] = field(default_factory=list)
    convergence_warnings: list[str] = field(default_factory=list)
    fit_warnings: tuple[str, ...] = ()  # what the covariance cannot support (few clusters)


def _fit_within(rows: Rows, cov: str, ssc: SmallSample | None, treatment: str) -> _Fitted:
    """Unit (and period) effects absorbed, singletons dropped."""
    fitted = fit_fixed_effects(rows, cov_type=cov, small_sample=ssc, tol=1e-10, max_iter=10_000, protect=[treatment])
    data_w, conv_w = removal_messages(fitted, [name for name, _ in rows.factors])
    return _Fitted(
        coef_table_absorbed(fitted),
        fitted.absorbed.fit.n,
        diagnostics={"n_singletons": fitted.n_singletons},
        data_warnings=data_w,
        convergence_warnings=conv_w,
        fit_warnings=fitted.absorbed.fit.warnings,
    )


def _fit_transformed(
    rows: Rows, panel: Panel, model: str, cov: str, ssc: SmallSample | None, treatment: str
) -> _Fitted:
    """First differences or the random-effects quasi-demeaning, then least squares."""
    notes: list[str] = []
    diagnostics: dict[str, Any] = {}
    if model == "first-difference":
        work, lost = _first_differences(rows, panel.unit, panel.period)
        notes.append(f"{lost} row(s) have no previous period to difference from (first periods and gaps)")
    else:
        work, diagnostics = _random_effects_rows(rows, panel.unit)
        diagnostics["mundlak_test"] = _mundlak_test(rows, panel.unit, cov, ssc)
    absorbed = fit_absorbed(
        work.x,
        work.names,
        work.y,
        None,
        [],
        [],
        cov_type=cov,
        clusters=work.clusters,
        cluster_names=work.cluster_names,
        small_sample=ssc,
        protect=[treatment],
    )
    fit = absorbed.fit
    table = CoefTable(tuple(fit.names), fit.coef, fit.cov, fit.df_inference, absorbed.stats())
    return _Fitted(table, fit.n, notes=notes, diagnostics=diagnostics, fit_warnings=fit.warnings)


def _mundlak_test(rows: Rows, unit: np.ndarray, cov: str, ssc: SmallSample | None) -> TestResult:
    """Are the unit effects uncorrelated with the regressors (random effects' assumption)? The robust
    Hausman test of Mundlak (1978) as in Wooldridge (2010, 10.7.3): random effects with each regressor's
    unit mean added; the means' coefficients are jointly zero under the assumption (Wald, same covariance
    as the estimate). Period dummies are left out of the means (they are the same for every unit)."""
    name = "Mundlak test (random effects vs fixed effects)"
    null = "the unit effects are uncorrelated with the regressors (random effects is consistent)"
    counts = np.bincount(unit).astype(float)
    means = _unit_means(rows.x, unit, counts)[unit]
    varies = [j for j, n in enumerate(rows.names) if "=" not in n and np.ptp(rows.x[:, j] - means[:, j]) > 1e-12]
    if not varies:
        return TestResult.not_applicable(name, "no regressor varies within units")
    names = (*rows.names, *(f"mean({rows.names[j]})" for j in varies))
    aug = Rows(rows.y, np.column_stack([rows.x, means[:, varies]]), names, None, rows.clusters, rows.cluster_names, ())
    try:
        work, _ = _random_effects_rows(aug, unit)
        fit = fit_absorbed(
            work.x,
            work.names,
            work.y,
            None,
            [],
            [],
            cov_type=cov,
            clusters=work.clusters,
            cluster_names=work.cluster_names,
            small_sample=ssc,
        ).fit
    except DeconfoundError as exc:
        return TestResult.not_applicable(name, f"the auxiliary regression failed: {exc}")
    idx = np.arange(len(fit.names) - len(varies), len(fit.names))
    b, v = np.asarray(fit.coef)[idx], np.asarray(fit.cov)[np.ix_(idx, idx)]
    try:
        stat = float(b @ np.linalg.solve(v, b))
    except np.linalg.LinAlgError:
        return TestResult.not_applicable(name, "the covariance of the unit means is singular")
    return TestResult(name, stat, "chi2", float(len(varies)), None, chi2_sf(stat, len(varies)), null)


def _result(
    prep: Prepared,
    fitted: _Fitted,
    model: str,
    cov: str,
    cluster_names: list[str],
    treatment: str,
    level: float,
    time_effects: bool = False,
) -> Estimate:
    table = fitted.table
    j = table.index(treatment)
    how = "clustered by " + " and ".join(map(repr, cluster_names)) if cov == "cluster" else cov
    fitted.notes.append(f"standard errors: {how}")
    fitted.diagnostics["condition_number"] = table.stats.get("cond_no")
    continuous = prep.treatment_kind == "continuous"
    return make_estimate(
        prep,
        method="panel",
        label=PERIOD_LABELS[model] if time_effects and model in PERIOD_LABELS else LABELS[model],
        estimand="ATE (per unit)" if continuous else "ATE",
        estimate=float(table.coef[j]),
        std_error=float(table.std_err[j]),
        df=table.df,
        level=level,
        warnings=fitted.fit_warnings,
        notes=fitted.notes,
        diagnostics=fitted.diagnostics,
        coefficients=table,
        data_warnings=fitted.data_warnings,
        convergence_warnings=fitted.convergence_warnings,
        n=fitted.n_used,
    )
