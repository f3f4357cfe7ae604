"""Weighting and regression on the treated: IPW (Horvitz-Thompson and Hajek), overlap weights,
augmented IPW (doubly robust) and regression adjustment with one outcome model per group.

Standard errors come from stacked estimating equations (M-estimation, the convention of Stata's
``teffects`` and statsmodels' ``TreatmentEffect``): the logistic propensity model's score and each
outcome regression's normal equations are stacked with the effect's own equation, and the sandwich
is computed from per-row influence functions. Each effect's influence function is its own term plus
the derivative of its equation with respect to the first-step parameters times their influence:

    IF_i = [ s_i (h_i - mu c_i) + G_theta' IF_theta,i + G_beta' IF_beta,i ] / sum_j s_j c_j

for an effect written as mu = sum s h / sum s c (s: sampling weights). With a scikit-learn classifier
for the propensity the score is treated as known (its term drops out); with cross-fitting this is the
usual double/debiased machine-learning variance for AIPW.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from .._core import logistic
from .._core.design import Design, constant_part
from .._core.least_squares import fit_ols, solve_products
from .._core.mestimation import FirstStep, Ratio, RowExpr, SharedExpr, copy_rows, effect
from .._core.options import as_name_list, check_level, check_option
from .._core.pages import entry
from .._core.passes import CHUNK_ROWS, accumulate_arms
from ..diagnostics.balance import balance_before_after, balance_warnings
from ..engines import is_engine_input
from ..errors import DataError, SpecificationError
from ..results import Estimate, LazyValue
from ._base import coef_table, make_estimate
from .bundles import PropensityOptions
from .propensity import Setup, propensity_setup

ESTIMANDS = ("ATE", "ATT", "ATC")
WEIGHTINGS = ("hajek", "ht")
ESS_WARN = 0.1  # warn when a group's effective sample size falls below this share of its rows


def _outcome_models(design: Design, y: np.ndarray, t: np.ndarray, s: np.ndarray | None) -> dict[float, dict]:
    """Per-group OLS of y on [1, covariates]: fitted values for every row and each model as a first step
    (its rows' influence is (X'X)^-1 x_i s_i e_i, kept as the design, the residual factor and the bread).

    The effect needs each model's coefficients and (X'X)^-1 only, which the fit without a robust covariance
    gives with the same bits; both groups' cross-products come from one pass over the rows, both models'
    fitted values from one more; the models' tables (HC1 standard errors, one more pass over each group's
    rows) are built when read (``"table"``)."""
    full = design.with_parts([constant_part()], front=True)
    treated = t == 1.0
    solved = {}
    for arm, cp in zip((0.0, 1.0), accumulate_arms(full, y, treated, s)):
        found = solve_products(cp)
        if found is None:  # few rows or ill-conditioned: the fit refines from the group's rows
            rows = np.flatnonzero(treated if arm == 1.0 else ~treated)
            fit = fit_ols(full.take(rows), y[rows], None if s is None else s[rows], cov_type="nonrobust")
            found = (fit.coef, fit.xtx_inv)
        solved[arm] = found
    fitted = _predict_both(full, solved[1.0][0], solved[0.0][0])
    out = {}
    for arm, f in zip((1.0, 0.0), fitted):
        resid = y - f
        resid[treated != (arm == 1.0)] = 0.0
        if s is not None:
            resid *= s
        table = LazyValue(partial(_outcome_table, full, y, t, s, arm))
        out[arm] = {"fitted": f, "step": FirstStep(full, resid, solved[arm][1]), "table": table}
    return out


def _predict_both(design: Design, b1: np.ndarray, b0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """X b1 and X b0 for every row, in one pass over the design."""
    from .._core import rows

    f1, f0 = np.empty(design.n), np.empty(design.n)
    coefs = np.column_stack([b1, b0])
    buf = None
    for part in rows.source(design, CHUNK_ROWS).partitions():
        matrix = part.matrix()
        if matrix is None:
            buf = part.block(buf)
            both = buf @ coefs
        else:
            both = matrix @ coefs[1:]
            both += coefs[0]
        f1[part.rows], f0[part.rows] = both[:, 0], both[:, 1]
    return f1, f0


def _outcome_table(full: Design, y: np.ndarray, t: np.ndarray, s: np.ndarray | None, arm: float) -> pd.DataFrame:
    """One group's outcome model with HC1 standard errors (the fit of :func:`_outcome_models`, same rows)."""
    rows = np.flatnonzero(t == arm)
    fit = fit_ols(full.take(rows), y[rows], None if s is None else s[rows], cov_type="HC1")
    return coef_table(fit).to_frame()


def _ps_parts(setup: Setup, s: np.ndarray | None) -> tuple[np.ndarray, FirstStep | None]:
    fit = setup.fit
    assert fit is not None and setup.prep.treatment is not None
    e = fit.score
    if np.any(e <= 0.0) or np.any(e >= 1.0):
        n_bad = int(np.count_nonzero((e <= 0.0) | (e >= 1.0)))
        raise DataError(
            f"{n_bad} row(s) have a propensity score of exactly 0 or 1 ({fit.model}), so their inverse-probability "
            "weight is infinite. Trim them (trim=0.01 or trim='crump'), use a smoother propensity model, or use "
            "overlap weights (method 'overlap')."
        )
    if fit.logistic is None:
        return e, None
    r = setup.prep.treatment - e
    if s is not None:
        r *= s
    return e, FirstStep(fit.design, r, fit.logistic.cov, setup.outside)


# --------------------------------------------------------------------------------------------------
# the potential-outcome means of each method, as ratios
# --------------------------------------------------------------------------------------------------


def _ipw_parts(estimand: str) -> tuple[Any, Any, Any, Any]:
    """(a1, g1, a0, g0) of an IPW estimand as functions of (t, e): each arm's weight a and its derivative
    g with respect to the propensity index (None where the weight does not depend on it)."""
    if estimand == "ATE":
        return (
            lambda t, e: t / e,
            lambda t, e: -t * (1.0 - e) / e,
            lambda t, e: (1.0 - t) / (1.0 - e),
            lambda t, e: (1.0 - t) * e / (1.0 - e),
        )
    if estimand == "ATT":
        odds = _control_odds  # d a0 / d index = a0 (the odds e / (1 - e))
        return (_treated, None, odds, odds)
    if estimand == "ATC":
        return (
            lambda t, e: t * (1.0 - e) / e,
            lambda t, e: -t * (1.0 - e) / e,
            lambda t, e: 1.0 - t,
            None,
        )
    return (  # ATO: overlap weights
        lambda t, e: t * (1.0 - e),
        lambda t, e: -t * e * (1.0 - e),
        lambda t, e: (1.0 - t) * e,
        lambda t, e: (1.0 - t) * e * (1.0 - e),
    )


def _treated(t: np.ndarray, e: np.ndarray) -> np.ndarray:
    return t


def _control_odds(t: np.ndarray, e: np.ndarray) -> np.ndarray:
    return (1.0 - t) * e / (1.0 - e)


def _ipw_ratios(t: np.ndarray, e: np.ndarray, y: np.ndarray, estimand: str, weighting: str) -> tuple[Ratio, Ratio]:
    """The two potential-outcome means as ratios of row expressions of (t, e, y): the passes of
    :func:`effect` evaluate them block by block, so no weight or derivative is held for every row."""
    a1, g1, a0, g0 = _ipw_parts(estimand)
    if estimand == "ATO":  # overlap weights are always normalised
        weighting = "hajek"

    # each arm's weight and derivative is evaluated once per partition (shared), and the expressions read it:
    # f(t, e) * y and a copy of f(t, e) have the bits of evaluating them apart
    shared: dict[Any, SharedExpr] = {}

    def expr(f: Any, times_y: bool = False) -> RowExpr:
        base = shared.setdefault(f, SharedExpr(f, t, e))
        return RowExpr(np.multiply, base, y) if times_y else RowExpr(copy_rows, base)

    def maybe(f: Any, times_y: bool = False) -> RowExpr | None:
        return None if f is None else expr(f, times_y)

    if weighting == "hajek":
        return (
            Ratio(expr(a1, True), expr(a1), maybe(g1, True), maybe(g1)),
            Ratio(expr(a0, True), expr(a0), maybe(g0, True), maybe(g0)),
        )
    # Horvitz-Thompson: the denominators are counts (all rows, the treated or the controls)
    c1 = c0 = {"ATE": _ones, "ATT": _treated, "ATC": lambda t, e: 1.0 - t}[estimand]
    return (
        Ratio(expr(a1, True), expr(c1), maybe(g1, True)),
        Ratio(expr(a0, True), expr(c0), maybe(g0, True)),
    )


def _ones(t: np.ndarray, e: np.ndarray) -> np.ndarray:
    return np.ones_like(t)


def _aipw_ratios(t, e, y, m, estimand: str) -> tuple[Ratio, Ratio]:
    """AIPW's two means as ratios of row expressions of (t, e, y and the outcome models' fitted values),
    evaluated block by block by :func:`effect`."""
    if estimand == "ATE":
        f1, f0 = m[1.0]["fitted"], m[0.0]["fitted"]

        def r1(t, e, y, f):  # the treated's weighted residual
            return t * (y - f) / e

        def r0(t, e, y, f):
            return (1.0 - t) * (y - f) / (1.0 - e)

        ones = RowExpr(_ones, t, e)
        return (
            Ratio(
                RowExpr(lambda t, e, y, f: f + r1(t, e, y, f), t, e, y, f1),
                ones,
                RowExpr(lambda t, e, y, f: -r1(t, e, y, f) * (1.0 - e), t, e, y, f1),
                None,
                1.0,
                RowExpr(lambda t, e: 1.0 - t / e, t, e),
            ),
            Ratio(
                RowExpr(lambda t, e, y, f: f + r0(t, e, y, f), t, e, y, f0),
                ones,
                RowExpr(lambda t, e, y, f: r0(t, e, y, f) * e, t, e, y, f0),
                None,
                0.0,
                RowExpr(lambda t, e: 1.0 - (1.0 - t) / (1.0 - e), t, e),
            ),
        )
    # ATT: treated minus their predicted untreated outcome, corrected by odds-weighted control residuals
    # (ATC: the mirror image); the odds weights are normalised within the control group
    arm, other = (1.0, 0.0) if estimand == "ATT" else (0.0, 1.0)
    fitted = m[other]["fitted"]
    sign = 1.0 if arm == 1.0 else -1.0  # d odds / d index = sign * odds

    def own(t, e):
        return t if arm == 1.0 else 1.0 - t

    def w_other(t, e):
        odds = e / (1.0 - e) if arm == 1.0 else (1.0 - e) / e
        return (1.0 - own(t, e)) * odds

    first = Ratio(
        RowExpr(lambda t, e, y, f: own(t, e) * (y - f), t, e, y, fitted),
        RowExpr(own, t, e),
        None,
        None,
        other,
        RowExpr(lambda t, e: -own(t, e), t, e),
    )
    second = Ratio(
        RowExpr(lambda t, e, y, f: w_other(t, e) * (y - f), t, e, y, fitted),
        RowExpr(w_other, t, e),
        RowExpr(lambda t, e, y, f: sign * w_other(t, e) * (y - f), t, e, y, fitted),
        RowExpr(lambda t, e: sign * w_other(t, e), t, e),
        other,
        RowExpr(lambda t, e: -w_other(t, e), t, e),
    )
    return first, second


def _ra_ratios(t: np.ndarray, m: dict, estimand: str) -> tuple[Ratio, Ratio]:
    c = {"ATE": np.ones_like(t), "ATT": t, "ATC": 1.0 - t}[estimand]
    return (
        Ratio(c * m[1.0]["fitted"], c, None, None, 1.0, c),
        Ratio(c * m[0.0]["fitted"], c, None, None, 0.0, c),
    )


# --------------------------------------------------------------------------------------------------
# running a method and reporting
# --------------------------------------------------------------------------------------------------


def _weight_report(
    prep: Any, w: np.ndarray, t: np.ndarray, method: str = "ipw", trimmed: bool = False
) -> tuple[pd.DataFrame, list[str]]:
    """Effective sample size and largest weights by group (group sums by one bincount each); the advice
    leaves out what was already done (a trim given, overlap weights used)."""
    steps = [] if trimmed else ["trim extreme propensities (trim='crump')"]
    if method != "overlap":
        steps.append("use overlap weights (method 'overlap')")
    else:
        steps.append("model the propensity more flexibly, or check whether a covariate all but decides treatment")
    advice = " or ".join(steps)
    rows: dict[str, dict[str, Any]] = {}
    warnings = []
    arm = (t == 1.0).astype(np.intp)
    counts = np.bincount(arm, minlength=2)
    totals = np.bincount(arm, weights=w, minlength=2)
    squares = np.bincount(arm, weights=w * w, minlength=2)
    for name, g in (("treated", 1), ("control", 0)):
        n_g, total = int(counts[g]), float(totals[g])
        ess = total**2 / float(squares[g]) if total > 0 else 0.0
        top = int(np.argmax(np.where(arm == g, w, -np.inf))) if n_g else -1
        wmax = float(w[top]) if n_g else np.nan
        rows[name] = {
            "n": n_g,
            "sum_weights": total,
            "ess": ess,
            "ess_share": ess / max(n_g, 1),
            "max_weight": wmax,
            "max_weight_share": wmax / total if total > 0 else np.nan,
            "max_weight_row": _row_label(prep, top) if n_g else None,
        }
        if ess / max(n_g, 1) < ESS_WARN:
            warnings.append(
                f"The weights concentrate the {name} group on few rows: effective sample size {ess:.0f} of "
                f"{n_g} ({rows[name]['ess_share']:.1%}); the largest weight carries "
                f"{rows[name]['max_weight_share']:.1%} of the group. The estimate is fragile: {advice}."
            )
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "group"
    return frame, warnings


def _ess_low(w: np.ndarray, t: np.ndarray) -> bool:
    """Whether a group's effective sample size may fall below ``ESS_WARN`` of its rows (then
    :func:`_weight_report` decides and words it; a margin covers the rounding of these sums). The treated's
    sums are dot products with the 0/1 treatment (no mask, no temporary of the squares)."""
    n1 = int(np.count_nonzero(t))
    total, squares = float(w.sum()), float(w @ w)
    wt = w * t
    total1, squares1 = float(wt.sum()), float(wt @ w)
    if not (0 < total1 <= (1.0 - 1e-6) * total and 0 < squares1 <= (1.0 - 1e-6) * squares):
        return True  # a group's sums too small to take as differences: let the table decide
    for n_g, tot, sq in ((n1, total1, squares1), (len(t) - n1, total - total1, squares - squares1)):
        if n_g == 0 or tot * tot < (ESS_WARN * (1.0 + 1e-6)) * n_g * sq:
            return True
    return False


def _row_label(prep: Any, i: int) -> Any:
    return prep.index[i] if prep.index is not None else i


def _weights_table(prep: Any, t: np.ndarray, w: np.ndarray) -> pd.DataFrame:
    labels = prep.index if prep.index is not None else pd.RangeIndex(prep.n)
    return pd.DataFrame({"treatment": t.astype(np.int64), "weight": w}, index=labels)


@dataclass
class _Fitted:
    """What the fitting step of a weighting method leaves for its result."""

    estimate: float
    se: float
    mu: tuple[float, float]
    e: np.ndarray | None  # propensity scores (None for regression adjustment)
    diagnostics: dict[str, Any]
    notes: list[str]


def _run(
    method: str,
    label: str,
    data: Any,
    *,
    outcome: str,
    treatment: str,
    covariates: Any,
    propensity_covariates: Any,
    estimand: str,
    weights: str | None,
    cluster: str | Iterable[str] | None,
    weighting: str,
    options: dict,
) -> Estimate:
    """validate -> prepare -> fit -> result."""
    level = check_level(options.pop("level"))
    cluster = _one_cluster(cluster)
    if is_engine_input(data):
        from ._engine_weighting import weighting_on_engine

        cov_cols, ps_cols = as_name_list(covariates, "covariates"), as_name_list(propensity_covariates, "covariates")
        return weighting_on_engine(
            method,
            label,
            data,
            outcome=outcome,
            treatment=treatment,
            covariates=cov_cols,
            propensity_covariates=ps_cols or cov_cols,
            estimand=estimand,
            weights=weights,
            cluster=cluster,
            weighting=weighting,
            level=level,
            missing=options.pop("missing"),
            treated_level=options.pop("treated_level"),
            options=options,
        )
    # the numpy logistic pass below COLD_MIN_ROWS rows: numba's first use would cost this call more than it saves
    with logistic.compiled_from(logistic.COLD_MIN_ROWS):
        setup = propensity_setup(
            data,
            outcome=outcome,
            treatment=treatment,
            covariates=covariates,
            propensity_covariates=propensity_covariates,
            weights=weights,
            need_scores=method != "ra",
            weighting=method in ("ipw", "aipw"),
            method=method,
            cluster=cluster,
            **options,
        )
    fitted = _fit(method, label, setup, estimand, weighting)
    return _result(method, label, setup, estimand, level, fitted)


def _fit(method: str, label: str, setup: Setup, estimand: str, weighting: str) -> _Fitted:
    """The first steps (outcome models, propensity scores) and the effect with its M-estimation error."""
    prep = setup.prep
    y, t, s = prep.outcome, prep.treatment, prep.weights
    assert t is not None
    diagnostics: dict[str, Any] = dict(setup.diagnostics)
    notes = list(setup.notes)
    models = None
    if method in ("ra", "aipw"):
        if setup.outcome_design.k == 0:
            raise SpecificationError(f"method {method!r} needs covariates= for the outcome models.")
        models = _outcome_models(setup.outcome_design, y, t, s)
        for arm, name in ((1.0, "treated"), (0.0, "control")):
            diagnostics[f"outcome_model_{name}"] = models[arm]["table"]
    ps = None
    e = None
    if method != "ra":
        e, ps = _ps_parts(setup, s)
        if ps is None:
            notes.append(
                "the propensity score comes from a classifier and is treated as known in the standard error"
                + (" (valid for AIPW with cross-fitting)" if setup.fit is not None and setup.fit.folds else "")
            )
    if method in ("ipw", "overlap"):
        assert e is not None
        pair = _ipw_ratios(t, e, y, "ATO" if method == "overlap" else estimand, weighting)
        sign = 1.0
    elif method == "aipw":
        assert e is not None and models is not None
        pair = _aipw_ratios(t, e, y, models, estimand)
        sign = -1.0 if estimand == "ATC" else 1.0
    else:
        assert models is not None
        pair = _ra_ratios(t, models, estimand)
        sign = 1.0
    clusters = prep.clusters[0] if prep.clusters else None
    if clusters is not None:
        n_clusters = int(clusters.max()) + 1
        if n_clusters < 2:
            raise DataError(
                f"cluster {prep.cluster_names[0]!r} has a single cluster in the rows used, so a clustered standard "
                "error cannot be computed; remove cluster= or cluster by a column with several groups."
            )
        notes.append(f"standard error clustered by {prep.cluster_names[0]!r} ({n_clusters} clusters; G/(G-1) factor)")
    steps = None if models is None else {arm: models[arm]["step"] for arm in models}
    estimate, se, mu = effect(pair, s, ps, steps, sign, clusters)
    if not (np.isfinite(estimate) and np.isfinite(se)):
        raise DataError(f"The {label} estimate is not finite; check the propensity scores and outcome for extremes.")
    return _Fitted(estimate, se, mu, e, diagnostics, notes)


def _result(method: str, label: str, setup: Setup, estimand: str, level: float, fitted: _Fitted) -> Estimate:
    """The estimate with its weights, balance and warnings."""
    prep = setup.prep
    t, s = prep.treatment, prep.weights
    assert t is not None
    warnings = list(setup.warnings)
    diagnostics, notes, e = fitted.diagnostics, fitted.notes, fitted.e
    if method != "aipw" or estimand == "ATE":
        diagnostics["potential_outcome_means"] = {"treated": fitted.mu[0], "control": fitted.mu[1]}
    if e is not None:
        w = _final_weights(t, e, "ATO" if method == "overlap" else estimand)
        if s is not None:
            w *= s
        report = partial(_weight_report, prep, w, t, method, trimmed="trimming" in setup.diagnostics)
        if _ess_low(w, t):  # the warnings quote the table
            frame, w_warn = report()
            warnings += w_warn
            diagnostics["weight_summary"] = frame
        else:  # built when read
            diagnostics["weight_summary"] = LazyValue(lambda: report()[0])
        diagnostics["weights"] = LazyValue(partial(_weights_table, prep, t, w))  # built when read
        balance = balance_before_after(setup.balance_design(), t, w, s)
        diagnostics["balance"] = balance
        if method != "aipw":  # AIPW's outcome models correct remaining imbalance
            done = ("trim",) if "trimming" in setup.diagnostics else ()
            table = balance.drop(index="propensity score", errors="ignore")
            warnings += balance_warnings(table, kind="weighting", done=done)
    first_steps = {"aipw": "propensity and outcome models", "ra": "outcome models"}.get(method, "propensity model")
    notes.append(f"standard error from stacked estimating equations (M-estimation), accounting for the {first_steps}")
    return make_estimate(
        prep,
        method=method,
        label=label,
        estimand="ATO" if method == "overlap" else estimand,
        estimate=fitted.estimate,
        std_error=fitted.se,
        df=None,
        level=level,
        warnings=warnings,
        notes=notes,
        diagnostics=diagnostics,
    )


def _one_cluster(cluster: str | Iterable[str] | None) -> str | None:
    """The one cluster column the M-estimation sandwich sums by (two-way clustering is not offered here)."""
    from .._core.options import as_name_list

    names = as_name_list(cluster, "cluster")
    if len(names) > 1:
        raise SpecificationError(
            f"cluster={names!r}: the weighting estimators cluster by one column; give one (two-way clustering "
            "is offered by ols, lin, did and the fixed-effects methods)."
        )
    return names[0] if names else None


def _final_weights(t: np.ndarray, e: np.ndarray, estimand: str) -> np.ndarray:
    """Each row's weight in the reweighted sample (for balance and diagnostics)."""
    if estimand == "ATE":  # 1 / e and 1 / (1 - e), in one array (no temporaries of every row)
        w = np.subtract(1.0, e)
        np.copyto(w, e, where=t == 1.0)
        return np.divide(1.0, w, out=w)
    if estimand == "ATT":
        return np.where(t == 1.0, 1.0, e / (1.0 - e))
    if estimand == "ATC":
        return np.where(t == 1.0, (1.0 - e) / e, 1.0)
    return np.where(t == 1.0, 1.0 - e, e)


_SHARED_DOC = """
    ``covariates`` are the confounders (and the outcome models' regressors); ``propensity_covariates``
    replaces them in the propensity model when given. ``propensity_model`` is "logistic" (default, its
    estimation is accounted for in the standard error), "sklearn-logistic", "gbm", "rf" or a scikit-learn
    classifier; ``trim`` drops rows with extreme scores (a number a: keep a <= e <= 1 - a; or "crump").
    ``trim_refit`` (default True) refits the propensity model on the rows kept; False keeps the scores of
    the model fitted on every row (the Mixtape's convention), and the standard error then stacks that
    full-sample logistic score with the kept rows' effect equations. ``diagnostics["trimming"]["refit"]``
    and a note say which was used.
    ``weights`` are sampling weights; ``cluster`` (one column) clusters the standard error: the
    stacked influence functions are summed within clusters, times G/(G-1). Per-row weights are in
    ``diagnostics["weights"]``, the effective sample sizes and largest weights in
    ``diagnostics["weight_summary"]`` and covariate balance before and after weighting in
    ``diagnostics["balance"]``. ipw, aipw and overlap_weights also take the propensity settings as one
    ``propensity=PropensityOptions(...)``.
"""


def _options(**kwargs: Any) -> dict:
    return kwargs


def _propensity(bundle: Any, covariates: Any, *settings: Any) -> tuple[Any, dict[str, Any]]:
    """The propensity score's covariates and other settings, from ``propensity=`` when given (see
    :class:`~deconfound.PropensityOptions`; the keywords must then keep their defaults)."""
    model, cross_fit, trim, random_state, n_jobs, trim_refit = settings
    chosen = PropensityOptions.resolve(
        bundle,
        "propensity",
        propensity_covariates=covariates,
        propensity_model=model,
        cross_fit=cross_fit,
        trim=trim,
        random_state=random_state,
        n_jobs=n_jobs,
        trim_refit=trim_refit,
    ).keywords()
    return chosen.pop("propensity_covariates"), chosen


@entry
def ipw(
    data: Any,
    *,
    outcome: str,
    treatment: str,
    covariates: str | Iterable[str],
    propensity_covariates: str | Iterable[str] | None = None,
    estimand: str = "ATE",
    weighting: str = "hajek",
    weights: str | None = None,
    cluster: str | Iterable[str] | None = None,
    propensity_model: Any = "logistic",
    cross_fit: Any = "auto",
    trim: Any = None,
    trim_refit: bool = True,
    level: float = 0.95,
    missing: str = "raise",
    treated_level: Any = None,
    random_state: Any = None,
    n_jobs: int | None = None,
    propensity: PropensityOptions | None = None,
) -> Estimate:
    """Inverse probability weighting: the ATE (weights 1/e and 1/(1-e)), ATT (controls weighted e/(1-e))
    or ATC. ``weighting="hajek"`` (default) normalises the weights within each group; ``"ht"`` is the
    Horvitz-Thompson estimator with the raw weights."""
    estimand = check_option("estimand", estimand, ESTIMANDS)
    weighting = check_option("weighting", weighting, WEIGHTINGS)
    name = {"hajek": "Hajek", "ht": "Horvitz-Thompson"}[weighting]
    propensity_covariates, ps = _propensity(
        propensity, propensity_covariates, propensity_model, cross_fit, trim, random_state, n_jobs, trim_refit
    )
    return _run(
        "ipw",
        f"Inverse probability weighting ({name})",
        data,
        outcome=outcome,
        treatment=treatment,
        covariates=covariates,
        propensity_covariates=propensity_covariates,
        estimand=estimand,
        weights=weights,
        cluster=cluster,
        weighting=weighting,
        options=_options(**ps, level=level, missing=missing, treated_level=treated_level),
    )


@entry
def overlap_weights(
    data: Any,
    *,
    outcome: str,
    treatment: str,
    covariates: str | Iterable[str],
    propensity_covariates: str | Iterable[str] | None = None,
    weights: str | None = None,
    cluster: str | Iterable[str] | None = None,
    propensity_model: Any = "logistic",
    cross_fit: Any = "auto",
    trim: Any = None,
    trim_refit: bool = True,
    level: float = 0.95,
    missing: str = "raise",
    treated_level: Any = None,
    random_state: Any = None,
    n_jobs: int | None = None,
    propensity: PropensityOptions | None = None,
) -> Estimate:
    """Overlap weights (Li, Morgan and Zaslavsky 2018): treated weighted 1 - e, controls e. The estimand
    is the ATO, the effect in the population where treatment is most uncertain; weights are bounded, so
    extreme scores cannot dominate, and a logistic model balances the covariates' means exactly."""
    propensity_covariates, ps = _propensity(
        propensity, propensity_covariates, propensity_model, cross_fit, trim, random_state, n_jobs, trim_refit
    )
    return _run(
        "overlap",
        "Overlap weights",
        data,
        outcome=outcome,
        treatment=treatment,
        covariates=covariates,
        propensity_covariates=propensity_covariates,
        estimand="ATO",
        weights=weights,
        cluster=cluster,
        weighting="hajek",
        options=_options(**ps, level=level, missing=missing, treated_level=treated_level),
    )


@entry
def aipw(
    data: Any,
    *,
    outcome: str,
    treatment: str,
    covariates: str | Iterable[str],
    propensity_covariates: str | Iterable[str] | None = None,
    estimand: str = "ATE",
    weights: str | None = None,
    cluster: str | Iterable[str] | None = None,
    propensity_model: Any = "logistic",
    cross_fit: Any = "auto",
    trim: Any = None,
    trim_refit: bool = True,
    level: float = 0.95,
    missing: str = "raise",
    treated_level: Any = None,
    random_state: Any = None,
    n_jobs: int | None = None,
    propensity: PropensityOptions | None = None,
) -> Estimate:
    """Augmented IPW (doubly robust): a linear outcome model per group plus inverse-probability-weighted
    residuals. Consistent when either the propensity model or the outcome models are right. The ATT
    corrects the treated's predicted untreated outcomes with odds-weighted control residuals."""
    estimand = check_option("estimand", estimand, ESTIMANDS)
    propensity_covariates, ps = _propensity(
        propensity, propensity_covariates, propensity_model, cross_fit, trim, random_state, n_jobs, trim_refit
    )
    return _run(
        "aipw",
        "Augmented inverse probability weighting (doubly robust)",
        data,
        outcome=outcome,
        treatment=treatment,
        covariates=covariates,
        propensity_covariates=propensity_covariates,
        estimand=estimand,
        weights=weights,
        cluster=cluster,
        weighting="ht",
        options=_options(**ps, level=level, missing=missing, treated_level=treated_level),
    )


@entry
def ra(
    data: Any,
    *,
    outcome: str,
    treatment: str,
    covariates: str | Iterable[str],
    estimand: str = "ATE",
    weights: str | None = None,
    cluster: str | Iterable[str] | None = None,
    propensity_covariates: str | Iterable[str] | None = None,
    propensity_model: Any = "logistic",
    trim: Any = None,
    trim_refit: bool = True,
    level: float = 0.95,
    missing: str = "raise",
    treated_level: Any = None,
) -> Estimate:
    """Regression adjustment with one outcome model per group: fit y ~ covariates among the treated and
    among the controls, predict both potential outcomes for every row of the target population (all rows
    for the ATE, the treated for the ATT, the controls for the ATC) and average the difference. A
    propensity model is fitted only when ``trim`` asks for it."""
    estimand = check_option("estimand", estimand, ESTIMANDS)
    return _run(
        "ra",
        "Regression adjustment (one model per group)",
        data,
        outcome=outcome,
        treatment=treatment,
        covariates=covariates,
        propensity_covariates=propensity_covariates,
        estimand=estimand,
        weights=weights,
        cluster=cluster,
        weighting="ht",
        options=_options(
            propensity_model=propensity_model,
            cross_fit=None,
            trim=trim,
            trim_refit=trim_refit,
            level=level,
            missing=missing,
            treated_level=treated_level,
            random_state=None,
            n_jobs=None,
        ),
    )


for _fn in (ipw, overlap_weights, aipw):
    _fn.__doc__ = (_fn.__doc__ or "") + "\n" + _SHARED_DOC
