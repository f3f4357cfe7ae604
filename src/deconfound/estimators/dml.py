"""Double/debiased machine learning (Chernozhukov et al. 2018): the partially linear model (PLR), the
interactive model (IRM: ATE and ATT), the partially linear IV model (PLIV) and the interactive IV model
(IIVM: the LATE with a binary instrument).

validate -> prepare -> cross-fit (``_dml_fit``) -> score (``_dml_scores``) -> result. K-fold
cross-fitting with repeated sample splits: the nuisances (DoubleML's names ``ml_l`` E[Y|X], ``ml_m``
E[D|X] or P(Z=1|X), ``ml_g`` E[Y|D,X], ``ml_r`` E[D|X] or P(D=1|X,Z)) are fitted on K-1 folds and
predict the K-th; every nuisance of a repetition reads the same folds, and each is fitted once per fold.
Any scikit-learn regressor or classifier serves, or a preset name (``"gbm"``, ``"rf"``, ``"lasso"``,
``"linear"`` - least squares, or logistic regression where a probability is needed); the default
``"auto"`` is LightGBM when it is installed (the ``deconfound[lightgbm]`` extra), scikit-learn's
HistGradientBoosting otherwise. One ``random_state`` seeds every split and every learner, so the same
call gives the same numbers, also with ``n_jobs > 1``.

Estimates and standard errors equal DoubleML's for the same folds and learners (its DML2 estimator, its
propensity clipping ``trimming_threshold``, its ``normalize_ipw`` and its aggregation over repetitions);
the formulas are in :mod:`._dml_scores`. The result's diagnostics hold the out-of-fold quality of each
nuisance (``nuisance_quality``), the estimate of each repetition and each fold (``repetitions``,
``fold_estimates``, ``spread``) and the settings (``dml``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .._core.options import check_level, check_option, check_positive_int
from .._core.pages import entry
from ..data import prepare
from ..errors import DataError, NuisanceWarning, SpecificationError, warn
from ..results import Estimate
from . import _dml_scores as scores
from ._base import make_estimate
from ._dml_fit import Data, Fitted, Spec, fit_model
from ._dml_quality import quality_table, spread
from .learners.folds import Folds, repeated_folds, two_way_folds
from .learners.presets import Kind, Learner, make_learner
from .learners.seeds import derive_seed, seed_from, seed_note

PLR_SCORES = ("partialling out", "IV-type")
_SCORE_ALIASES = {"partialling-out": "partialling out", "iv-type": "IV-type"}
IRM_ESTIMANDS = ("ATE", "ATT")
IV_MODELS = ("pliv", "iivm")
LABELS = {
    "plr": "Double ML (partially linear)",
    "irm": "Double ML (interactive)",
    "pliv": "Double ML (partially linear IV)",
    "iivm": "Double ML (interactive IV)",
}


# --------------------------------------------------------------------------------------------------
# learners
# --------------------------------------------------------------------------------------------------


def _auto(kind: str) -> Any:
    """The default learner: small, regularized gradient-boosted trees (200 trees of at most 8 leaves,
    learning rate 0.03, leaves of at least 40 rows, L2 penalty 1): LightGBM when installed (also
    subsampling rows and columns, deterministic, one thread per fit), else scikit-learn's
    HistGradientBoosting. Out of fold they beat LightGBM's and scikit-learn's defaults, which overfit
    propensities on a few thousand rows."""
    try:
        from lightgbm import LGBMClassifier, LGBMRegressor
    except ImportError:
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        hgb = HistGradientBoostingClassifier if kind == "classifier" else HistGradientBoostingRegressor
        return hgb(learning_rate=0.03, max_iter=200, max_leaf_nodes=8, min_samples_leaf=40, l2_regularization=1.0)
    lgbm = LGBMClassifier if kind == "classifier" else LGBMRegressor
    return lgbm(
        n_estimators=200,
        learning_rate=0.03,
        num_leaves=8,
        min_child_samples=40,
        reg_lambda=1.0,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        verbose=-1,
        deterministic=True,
        force_row_wise=True,
        n_jobs=1,
    )


def _spec_for(spec: Any, kind: str) -> Any:
    """A preset name for this kind of nuisance: "linear" means logistic where a probability is needed."""
    if isinstance(spec, str):
        if spec == "auto":
            return _auto(kind)
        if kind == "classifier" and spec in ("linear", "ols"):
            return "logistic"
        if kind == "regressor" and spec in ("logistic", "sklearn-logistic"):
            return "linear"
    return spec


def _is_classifier(spec: Any) -> bool:
    return not isinstance(spec, str) and callable(getattr(spec, "predict_proba", None))


def _make(spec: Any, kind: Kind, argument: str, seed: int, n_jobs: int | None) -> Learner:
    resolved = _spec_for(spec, kind)
    if kind == "regressor" and _is_classifier(resolved):
        raise SpecificationError(
            f"{argument} must be a regressor (it predicts a mean), got the classifier {type(spec).__name__!r}; "
            "pass a regressor, e.g. 'gbm' or 'linear'."
        )
    inner = 1 if n_jobs not in (None, 1) else None  # parallel folds: keep each learner on one core
    return make_learner(resolved, kind=kind, argument=argument, random_state=derive_seed(seed, argument), n_jobs=inner)


def _binary(v: np.ndarray) -> bool:
    return bool(np.all((v == 0.0) | (v == 1.0)))


# --------------------------------------------------------------------------------------------------
# preparing the data and the folds
# --------------------------------------------------------------------------------------------------


def _prepare(data, outcome, treatment, covariates, instrument, cluster, missing, treated_level, kind):
    if covariates is None or (not isinstance(covariates, str) and len(list(covariates)) == 0):
        raise SpecificationError("double machine learning needs covariates= (the confounders the learners adjust for).")
    prep = prepare(
        data,
        outcome=outcome,
        treatment=treatment,
        covariates=covariates,
        cluster=cluster,
        extra={"instrument": instrument} if instrument is not None else None,
        missing=missing,
        treatment_kind=kind,
        treated_level=treated_level,
    )
    if len(prep.cluster_names) > 2:
        raise SpecificationError(
            f"double machine learning clusters one or two ways; got cluster={list(prep.cluster_names)}. Give one "
            "or two columns."
        )
    x = prep.covariates.to_array()
    z = None
    if instrument is not None:
        z = np.asarray(prep.extra["instrument"], dtype=np.float64)
        if np.unique(z).size < 2:
            raise DataError(f"The instrument {instrument!r} is constant; it cannot move the treatment.")
    assert prep.treatment is not None
    clusters = prep.clusters
    data_ = Data(
        prep.outcome,
        prep.treatment.astype(np.float64),
        x,
        z,
        clusters[0] if clusters else None,
        clusters[1] if len(clusters) > 1 else None,
    )
    return prep, data_


def _folds(
    n: int, folds: Any, repeats: int, target, data: Data, seed: int, labels=("treated", "control")
) -> list[Folds]:
    """Our folds (stratified on ``target``, grouped by cluster), or the user's: one fold number per row and
    repetition (e.g. another tool's splits, to compare numbers)."""
    if isinstance(folds, (int, np.integer)) and not isinstance(folds, bool):
        return repeated_folds(
            n,
            folds=int(folds),
            repeats=repeats,
            target=target,
            groups=data.cluster,
            random_state=seed,
            labels=labels,
            groups2=data.cluster2,
        )
    if isinstance(folds, (str, bool)) or not isinstance(folds, Sequence | np.ndarray):
        raise SpecificationError(
            f"folds must be a number (>= 2) or a list of fold-number arrays, one per repetition; got {folds!r}."
        )
    out = []
    for r, assignment in enumerate(folds):
        a = np.asarray(assignment)
        if a.shape != (n,) or not np.issubdtype(a.dtype, np.integer) or a.min() < 0:
            raise SpecificationError(
                f"folds[{r}] must hold one fold number (0, 1, ...) for each of the {n} rows used; got shape {a.shape}."
            )
        k = int(a.max()) + 1
        if k < 2 or np.any(np.bincount(a, minlength=k) == 0):
            raise SpecificationError(f"folds[{r}] must use the fold numbers 0..k-1 (k >= 2) with none empty.")
        if data.cluster2 is not None:
            out.append(_two_way(a.astype(np.int64), k, data, r))
            continue
        if data.cluster is not None:
            _per_cluster(a, data.cluster, r, "", "fold")
        out.append(Folds(a.astype(np.int64), k))
    if not out or len({f.k for f in out}) != 1:
        raise SpecificationError("folds must give at least one repetition, all with the same number of folds.")
    return out


def _per_cluster(fold: np.ndarray, codes: np.ndarray, r: int, which: str, what: str) -> np.ndarray:
    """The fold of each cluster, refusing a cluster whose rows lie in several folds."""
    out = np.zeros(int(codes.max()) + 1, dtype=np.int64)
    out[codes] = fold
    if np.any(out[codes] != fold):
        raise SpecificationError(f"folds[{r}] splits a {which}cluster across {what}s; keep each cluster in one {what}.")
    return out


def _two_way(a: np.ndarray, k: int, data: Data, r: int) -> Folds:
    """The user's two-way folds: cells numbered k1 * K + k2 (DoubleML's order), K folds of each cluster."""
    side = math.isqrt(k)
    if side * side != k or side < 2:
        raise SpecificationError(
            f"folds[{r}] numbers {k} cells; two-way clusters need K x K cells (k1 * K + k2 for the folds k1 and k2 "
            "of the row's first and second cluster)."
        )
    assert data.cluster is not None and data.cluster2 is not None
    k1, k2 = np.divmod(a, side)
    first = _per_cluster(k1, data.cluster, r, "first ", "fold of the first variable")
    second = _per_cluster(k2, data.cluster2, r, "second ", "fold of the second variable")
    return two_way_folds(first[data.cluster], second[data.cluster2], side)


# --------------------------------------------------------------------------------------------------
# the result
# --------------------------------------------------------------------------------------------------


def _result(
    method, model, prep, fitted: Fitted, folds, settings, estimand, level, warnings, random_state, seed
) -> Estimate:
    theta, se = scores.aggregate(fitted.thetas, fitted.ses)
    if not (np.isfinite(theta) and np.isfinite(se)):
        raise DataError(f"The {LABELS[model]} estimate is not finite; check the outcome and the nuisance predictions.")
    quality, nuisance_warnings = quality_table(fitted.nuisances, fitted.targets, fitted.preds)
    reps, fold_table, summary = spread(fitted.thetas, fitted.ses, fitted.fold_thetas)
    k, r = folds[0].k, len(folds)
    per_variable = [int(c.max()) + 1 for c in prep.clusters]
    n_clusters = min(per_variable) if per_variable else None
    info = {
        "model": model,
        **settings,
        "folds": k,
        "repeats": r,
        "learners": dict(zip(quality.index, quality["learner"])),
        "n_clusters": n_clusters,
        "n_clusters_by_variable": per_variable,
        "se_paper": scores.paper_se(fitted.thetas, fitted.ses),
        "random_state": seed,
    }
    if fitted.n_clipped:
        threshold = settings["trimming_threshold"]
        warnings.append(
            f"{fitted.n_clipped:.0f} of {prep.n} propensity scores (ml_m, average over repetitions) lay outside "
            f"[{threshold:g}, {1 - threshold:g}] and were clipped to it: overlap is poor there, and the estimate leans "
            "on few rows. Check the overlap, or estimate the effect where overlap holds."
        )
    notes = [
        f"cross-fitted with {k} folds x {r} repetition(s)"
        + (" (folds of whole clusters; cluster-robust standard error)" if len(per_variable) == 1 else "")
        + (
            f" (two-way clusters: {k} cells, the product of {folds[0].k_side} folds of each cluster variable; "
            "two-way cluster-robust standard error)"
            if len(per_variable) == 2
            else ""
        )
        + "; learners: "
        + ", ".join(f"{n}={lrn}" for n, lrn in info["learners"].items()),
        "standard error from the DML score"
        + ("; repetitions aggregated as DoubleML does (median estimate, median upper bound)" if r > 1 else ""),
        *seed_note(random_state, seed),
    ]
    for message in nuisance_warnings:
        warn(message, NuisanceWarning)
    diagnostics = {
        "dml": info,
        "nuisance_quality": quality,
        "repetitions": reps,
        "fold_estimates": fold_table,
        "spread": summary,
    }
    if fitted.sensitivity is not None:  # the omitted-variable-bias bounds read these (robustness.dml_sensitivity)
        diagnostics["dml_sensitivity"] = fitted.sensitivity
    est = make_estimate(
        prep,
        method=method,
        label=LABELS[model],
        estimand=estimand,
        estimate=theta,
        std_error=se,
        df=None,
        level=level,
        warnings=warnings,
        notes=notes,
        diagnostics=diagnostics,
        n_clusters=n_clusters,
    )
    return dataclasses.replace(est, warnings=est.warnings + tuple(nuisance_warnings))


def _common(folds, repeats, trimming_threshold, level, random_state) -> tuple[int, float, float, int]:
    repeats = check_positive_int(repeats, "repeats")
    if isinstance(folds, (int, np.integer)) and not isinstance(folds, bool):
        check_positive_int(folds, "folds", minimum=2)
    t = float(trimming_threshold)
    if not 0.0 <= t < 0.5:
        raise SpecificationError(f"trimming_threshold must lie in [0, 0.5), got {trimming_threshold!r}.")
    return repeats, t, check_level(level), seed_from(random_state)


def _estimand_of(d: np.ndarray, label: str) -> str:
    return label if _binary(d) else f"{label} (per unit)"


# --------------------------------------------------------------------------------------------------
# the public functions
# --------------------------------------------------------------------------------------------------


@entry
def dml(
    data: Any,
    *,
    outcome: str,
    treatment: str,
    covariates: str | Iterable[str],
    score: str = "partialling out",
    learner: Any = "auto",
    ml_l: Any = None,
    ml_m: Any = None,
    ml_g: Any = None,
    folds: Any = 5,
    repeats: int = 1,
    cluster: str | Iterable[str] | None = None,
    level: float = 0.95,
    missing: str = "raise",
    treated_level: Any = None,
    random_state: Any = None,
    n_jobs: int | None = None,
) -> Estimate:
    """The partially linear model Y = theta D + g(X) + U, D = m(X) + V (DoubleML's PLR).

    ``score`` is "partialling out" (regress the outcome residual on the treatment residual; nuisances
    ``ml_l`` E[Y|X] and ``ml_m`` E[D|X]) or "IV-type" (adds ``ml_g`` E[Y - theta D | X]). ``learner`` is
    the default for every nuisance; ``ml_*`` override it one by one. A binary treatment's ``ml_m`` is a
    classifier (predict_proba) when a preset or a classifier is given. ``folds`` is the number of
    cross-fitting folds, or a list of fold-number arrays (one per repetition) to reuse given splits;
    ``repeats`` repeats the split. ``cluster`` makes the folds of whole clusters and the standard error
    cluster-robust. Under heterogeneous effects theta is a variance-weighted average effect.
    """
    score = check_option("score", _SCORE_ALIASES.get(str(score).lower(), score), PLR_SCORES)
    repeats, _, level, seed = _common(folds, repeats, 0.0, level, random_state)
    prep, d = _prepare(data, outcome, treatment, covariates, None, cluster, missing, treated_level, "auto")
    binary = _binary(d.d)
    m_spec = learner if ml_m is None else ml_m
    m_kind: Kind = "classifier" if binary and (isinstance(m_spec, str) or _is_classifier(m_spec)) else "regressor"
    specs = [
        Spec(
            "ml_l",
            _make(learner if ml_l is None else ml_l, "regressor", "ml_l", seed, n_jobs),
            d.y,
            None,
            "outcome | covariates",
        ),
        Spec("ml_m", _make(m_spec, m_kind, "ml_m", seed, n_jobs), d.d, None, "treatment | covariates"),
    ]
    second = None
    if score == "IV-type":
        g_spec = ml_g if ml_g is not None else (ml_l if ml_l is not None else learner)
        second = Spec(
            "ml_g",
            _make(g_spec, "regressor", "ml_g", seed, n_jobs),
            d.y,
            None,
            "outcome - theta0 x treatment | covariates",
        )
    folds_ = _folds(prep.n, folds, repeats, d.d if binary else None, d, seed)
    fitted = fit_model(
        "plr",
        d,
        specs,
        folds_,
        score=score,
        second=second,
        trimming_threshold=0.0,
        normalize_ipw=False,
        n_jobs=n_jobs,
        what="the treatment residuals d - m(X) are all zero",
    )
    settings = {"score": score}
    return _result(
        "dml", "plr", prep, fitted, folds_, settings, _estimand_of(d.d, "ATE"), level, [], random_state, seed
    )


@entry
def dml_irm(
    data: Any,
    *,
    outcome: str,
    treatment: str,
    covariates: str | Iterable[str],
    estimand: str = "ATE",
    learner: Any = "auto",
    ml_g: Any = None,
    ml_m: Any = None,
    folds: Any = 5,
    repeats: int = 1,
    trimming_threshold: float = 0.01,
    normalize_ipw: bool = False,
    fit_g1: bool = False,
    cluster: str | Iterable[str] | None = None,
    level: float = 0.95,
    missing: str = "raise",
    treated_level: Any = None,
    random_state: Any = None,
    n_jobs: int | None = None,
) -> Estimate:
    """The interactive model Y = g(D, X) + U with a binary treatment (DoubleML's IRM): the doubly robust
    ATE, or the ATT (``estimand="ATT"``, DoubleML's "ATTE").

    ``ml_g`` fits E[Y | X, D = d] in each arm (regressor), ``ml_m`` the propensity P(D = 1 | X) (a
    classifier with predict_proba). Propensities are clipped to [trimming_threshold, 1 -
    trimming_threshold] (DoubleML's default 0.01); ``normalize_ipw`` normalizes the inverse weights in
    each arm. The ATT does not need E[Y | X, D = 1] and does not fit it unless ``fit_g1=True``: the
    omitted-variable-bias bounds (:func:`deconfound.robustness.dml_sensitivity`) need it, for the
    outcome's residual variance (the estimate stays the same). ``folds``, ``repeats``, ``cluster`` as in
    :func:`dml`.
    """
    estimand = "ATT" if estimand == "ATTE" else check_option("estimand", estimand, IRM_ESTIMANDS)
    repeats, threshold, level, seed = _common(folds, repeats, trimming_threshold, level, random_state)
    prep, d = _prepare(data, outcome, treatment, covariates, None, cluster, missing, treated_level, "binary")
    g = learner if ml_g is None else ml_g
    treated = d.d == 1.0
    specs = [
        Spec("ml_g0", _make(g, "regressor", "ml_g", seed, n_jobs), d.y, ~treated, "outcome | covariates, controls")
    ]
    if estimand == "ATE" or fit_g1:
        specs.append(
            Spec("ml_g1", _make(g, "regressor", "ml_g", seed, n_jobs), d.y, treated, "outcome | covariates, treated")
        )
    specs.append(
        Spec(
            "ml_m",
            _make(learner if ml_m is None else ml_m, "classifier", "ml_m", seed, n_jobs),
            d.d,
            None,
            "treatment | covariates",
        )
    )
    folds_ = _folds(prep.n, folds, repeats, d.d, d, seed)
    fitted = fit_model(
        "irm",
        d,
        specs,
        folds_,
        score=estimand,
        second=None,
        trimming_threshold=threshold,
        normalize_ipw=bool(normalize_ipw),
        n_jobs=n_jobs,
        what="no treated rows",
    )
    settings = {
        "estimand": estimand,
        "trimming_threshold": threshold,
        "normalize_ipw": bool(normalize_ipw),
        "clipped": fitted.n_clipped,
        "fit_g1": estimand == "ATE" or bool(fit_g1),
    }
    return _result("dml-irm", "irm", prep, fitted, folds_, settings, estimand, level, [], random_state, seed)


@entry
def dml_iv(
    data: Any,
    *,
    outcome: str,
    treatment: str,
    instrument: str,
    covariates: str | Iterable[str],
    model: str = "pliv",
    score: str = "partialling out",
    learner: Any = "auto",
    ml_l: Any = None,
    ml_m: Any = None,
    ml_r: Any = None,
    ml_g: Any = None,
    folds: Any = 5,
    repeats: int = 1,
    trimming_threshold: float = 0.01,
    normalize_ipw: bool = False,
    always_takers: bool = True,
    never_takers: bool = True,
    cluster: str | Iterable[str] | None = None,
    level: float = 0.95,
    missing: str = "raise",
    treated_level: Any = None,
    random_state: Any = None,
    n_jobs: int | None = None,
) -> Estimate:
    """Double ML with one instrument: ``model="pliv"`` (default), the partially linear IV model
    Y = theta D + g(X) + U with E[U | Z, X] = 0 (nuisances ``ml_l`` E[Y|X], ``ml_m`` E[Z|X], ``ml_r``
    E[D|X]; ``score`` "partialling out" or "IV-type" with ``ml_g``); or ``model="iivm"``, the interactive
    IV model: the LATE of a binary treatment with a binary instrument (``ml_g`` E[Y | X, Z = z], ``ml_m``
    P(Z = 1 | X), ``ml_r`` P(D = 1 | X, Z = z); ``always_takers=False`` / ``never_takers=False`` fix
    P(D = 1 | Z = 0) = 0 / P(D = 1 | Z = 1) = 1 under one-sided noncompliance). Other arguments as in
    :func:`dml` and :func:`dml_irm`.
    """
    model = check_option("model", model, IV_MODELS)
    score = check_option("score", _SCORE_ALIASES.get(str(score).lower(), score), PLR_SCORES)
    repeats, threshold, level, seed = _common(folds, repeats, trimming_threshold, level, random_state)
    kind = "binary" if model == "iivm" else "auto"
    prep, d = _prepare(data, outcome, treatment, covariates, instrument, cluster, missing, treated_level, kind)
    assert d.z is not None
    if model == "pliv":
        specs = [
            Spec(
                "ml_l",
                _make(learner if ml_l is None else ml_l, "regressor", "ml_l", seed, n_jobs),
                d.y,
                None,
                "outcome | covariates",
            ),
            Spec(
                "ml_m",
                _make(learner if ml_m is None else ml_m, "regressor", "ml_m", seed, n_jobs),
                d.z,
                None,
                "instrument | covariates",
            ),
            Spec(
                "ml_r",
                _make(learner if ml_r is None else ml_r, "regressor", "ml_r", seed, n_jobs),
                d.d,
                None,
                "treatment | covariates",
            ),
        ]
        second = None
        if score == "IV-type":
            g_spec = ml_g if ml_g is not None else (ml_l if ml_l is not None else learner)
            second = Spec(
                "ml_g",
                _make(g_spec, "regressor", "ml_g", seed, n_jobs),
                d.y,
                None,
                "outcome - theta0 x treatment | covariates",
            )
        folds_ = _folds(prep.n, folds, repeats, None, d, seed)
        fitted = fit_model(
            "pliv",
            d,
            specs,
            folds_,
            score=score,
            second=second,
            trimming_threshold=0.0,
            normalize_ipw=False,
            n_jobs=n_jobs,
            what="the instrument does not move the treatment",
        )
        settings: dict[str, Any] = {"score": score, "instrument": instrument}
        return _result(
            "dml-iv", "pliv", prep, fitted, folds_, settings, _estimand_of(d.d, "LATE"), level, [], random_state, seed
        )
    specs = _iivm_specs(d, instrument, learner, ml_g, ml_m, ml_r, always_takers, never_takers, seed, n_jobs)
    folds_ = _folds(prep.n, folds, repeats, d.z, d, seed, ("instrument = 1", "instrument = 0"))
    fitted = fit_model(
        "iivm",
        d,
        specs,
        folds_,
        score="LATE",
        second=None,
        trimming_threshold=threshold,
        normalize_ipw=bool(normalize_ipw),
        n_jobs=n_jobs,
        what="the instrument does not move the treatment",
    )
    settings = {
        "instrument": instrument,
        "trimming_threshold": threshold,
        "normalize_ipw": bool(normalize_ipw),
        "clipped": fitted.n_clipped,
        "always_takers": bool(always_takers),
        "never_takers": bool(never_takers),
    }
    return _result("dml-iv", "iivm", prep, fitted, folds_, settings, "LATE", level, [], random_state, seed)


def _iivm_specs(d: Data, instrument, learner, ml_g, ml_m, ml_r, always_takers, never_takers, seed, n_jobs):
    assert d.z is not None
    if not _binary(d.z):
        raise DataError(
            f"model='iivm' needs a binary instrument coded 0/1; {instrument!r} has values other than 0 and 1. "
            "Recode it, or use model='pliv'."
        )
    z1 = d.z == 1.0
    g = learner if ml_g is None else ml_g
    r = learner if ml_r is None else ml_r
    specs = [
        Spec("ml_g0", _make(g, "regressor", "ml_g", seed, n_jobs), d.y, ~z1, "outcome | covariates, instrument = 0"),
        Spec("ml_g1", _make(g, "regressor", "ml_g", seed, n_jobs), d.y, z1, "outcome | covariates, instrument = 1"),
        Spec(
            "ml_m",
            _make(learner if ml_m is None else ml_m, "classifier", "ml_m", seed, n_jobs),
            d.z,
            None,
            "instrument | covariates",
        ),
    ]
    if always_takers:
        specs.append(
            Spec(
                "ml_r0",
                _make(r, "classifier", "ml_r", seed, n_jobs),
                d.d,
                ~z1,
                "treatment | covariates, instrument = 0",
            )
        )
    if never_takers:
        specs.append(
            Spec(
                "ml_r1", _make(r, "classifier", "ml_r", seed, n_jobs), d.d, z1, "treatment | covariates, instrument = 1"
            )
        )
    return specs
