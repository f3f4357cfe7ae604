"""Propensity scores, shared by every family that needs one (matching, weighting, later AIPW/DML).

``fit_propensity`` fits P(treated | covariates) with

* ``"logistic"`` (default): our own unpenalized logistic regression (IRLS on chunked sufficient
  statistics, :mod:`deconfound._core.logistic`). Its coefficients, information matrix and per-row
  scores let the weighting estimators account for the estimated score (M-estimation);
* ``"sklearn-logistic"``: scikit-learn's default ``LogisticRegression()`` (L2 penalty, C=1, lbfgs),
  the article's procedure, kept for reproducing it;
* ``"gbm"`` / ``"rf"``: presets (histogram gradient boosting, random forest);
* any scikit-learn classifier with ``predict_proba`` (cloned, never modified), optionally cross-fitted:
  each row's score then comes from a model that did not see that row.

Every model but our logistic one goes through the learner layer (:mod:`.learners`: presets, cloning,
seeding, stratified folds, out-of-fold predictions); one integer seed drawn from ``random_state`` seeds
both the folds and the classifier.

The public :func:`propensity_scores` returns the scores with the data's row labels.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from .._core.design import Design, constant_part
from .._core.logistic import LogisticFit, fit_logistic, predict
from .._core.mestimation import Outside
from .._core.options import check_option
from .._core.pages import entry
from .._core.progress import stage
from .._core.scoresort import ScoreSort
from ..data import Prepared, prepare
from ..errors import DataError, SpecificationError
from ..results import CoefTable, LazyValue
from .learners import CLASSIFIER_PRESETS, cross_fit_predict, learner_name, make_folds, make_learner, seed_from

PRESETS = CLASSIFIER_PRESETS
DEFAULT_FOLDS = 5


@dataclass(frozen=True)
class PropensityFit:
    """Fitted propensity scores for the rows used, and how they were obtained."""

    score: np.ndarray  # P(treated | covariates), one per row
    index: np.ndarray  # the linear index (logit of the score); exact for logistic models
    model: str  # preset name or the classifier's class name
    design: Design  # the propensity covariates (with a constant for the logistic model)
    logistic: LogisticFit | None = None  # our own logistic fit (enables M-estimation standard errors)
    folds: int = 0  # cross-fitting folds (0: fitted and scored on all rows)
    notes: tuple[str, ...] = field(default=())

    @property
    def parametric(self) -> bool:
        """True when the score comes from our logistic model (its estimation can be accounted for)."""
        return self.logistic is not None

    def coef_table(self) -> CoefTable | None:
        if self.logistic is None:
            return None
        fit = self.logistic
        return CoefTable(tuple(fit.names), fit.coef, fit.cov, None, fit.stats())

    def influence(self, treatment: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Per-row influence of the logistic coefficients: row i's contribution to (theta_hat - theta).

        ``I^{-1} x_i w_i (t_i - e_i)`` with I the information matrix, so that the coefficients'
        sandwich is the sum of outer products. Only for our own logistic model.
        """
        if self.logistic is None:
            raise SpecificationError("influence() needs the logistic propensity model.")
        x = self.design.to_array()
        r = treatment - self.score
        if weights is not None:
            r = r * weights
        return (x * r[:, None]) @ self.logistic.cov

    def take(self, keep: np.ndarray) -> PropensityFit:
        """The scores of a subset of rows (the model is not refitted)."""
        return PropensityFit(
            score=self.score[keep],
            index=self.index[keep],
            model=self.model,
            design=self.design.take(keep),
            logistic=self.logistic,
            folds=self.folds,
            notes=self.notes,
        )


def model_name(model: Any) -> str:
    return learner_name(model)


def _classifier_scores(
    model: Any, design: Design, t: np.ndarray, w: np.ndarray | None, folds: int, seed: int, n_jobs: int | None
) -> np.ndarray:
    """Scores from a scikit-learn classifier or preset through the learner layer (cloned, seeded with
    ``seed``; cross-fitted on stratified folds seeded with the same ``seed`` when ``folds`` > 1)."""
    learner = make_learner(model, kind="classifier", argument="propensity_model", random_state=seed, n_jobs=n_jobs)
    split = None
    if folds > 1:
        labels = ("treated", "control")
        split = make_folds(len(t), folds=folds, target=t, random_state=seed, argument="cross_fit", labels=labels)
    message = f"cross-fitting the propensity model ({folds} folds)" if split is not None else None
    return cross_fit_predict(learner, design.to_array(), t, split, sample_weight=w, message=message)


def _resolve_folds(cross_fit: Any, name: str) -> int:
    if cross_fit is None or cross_fit is False:
        return 0
    if isinstance(cross_fit, str):
        check_option("cross_fit", cross_fit, ("auto",))
        return 0 if name in ("logistic", "sklearn-logistic") else DEFAULT_FOLDS
    if isinstance(cross_fit, bool) or not isinstance(cross_fit, (int, np.integer)) or cross_fit < 0 or cross_fit == 1:
        raise SpecificationError(
            f"cross_fit must be 'auto', None/0 (no cross-fitting) or a number of folds >= 2, got {cross_fit!r}."
        )
    return int(cross_fit)


def fit_propensity(
    covariates: Design,
    treatment: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    model: Any = "logistic",
    cross_fit: Any = "auto",
    random_state: Any = None,
    n_jobs: int | None = None,
) -> PropensityFit:
    """Fit the propensity score of a 0/1 ``treatment`` on ``covariates`` (a Design without a constant)."""
    if covariates.k == 0:
        raise SpecificationError(
            "A propensity model needs covariates: pass covariates= (or propensity_covariates=) naming the "
            "confounders that drive treatment."
        )
    name = check_option("propensity_model", model, PRESETS) if isinstance(model, str) else model_name(model)
    folds = _resolve_folds(cross_fit, name)
    if name == "logistic":
        if folds:
            raise SpecificationError(
                "cross_fit applies to scikit-learn classifiers; the logistic model is fitted on all rows "
                "(its estimation is accounted for in the standard errors). Pass cross_fit=None."
            )
        design = covariates.with_parts([constant_part()], front=True)
        fit = fit_logistic(design, treatment, weights)
        index, score = predict(design, fit.coef)
        return PropensityFit(score, index, "logistic", design, fit, 0)
    seed = seed_from(random_state)
    score = _classifier_scores(model, covariates, treatment, weights, folds, seed, n_jobs)
    with np.errstate(divide="ignore"):
        index = np.log(score) - np.log1p(-score)
    notes = [f"propensity scores from {name}" + (f", cross-fitted in {folds} folds" if folds else ", fitted in-sample")]
    if folds == 0 and name not in ("sklearn-logistic",):
        notes.append("in-sample scores of a flexible classifier can overfit; consider cross_fit=5")
    if random_state is None:  # the seed drawn is recorded, so any number can be reproduced
        notes.append(f"random_state=None drew the seed {seed}: pass random_state={seed} to get these numbers again")
    return PropensityFit(score, index, name, covariates, None, folds, tuple(notes))


@entry
def propensity_scores(
    data: Any,
    *,
    treatment: str,
    covariates: str | Iterable[str],
    weights: str | None = None,
    propensity_model: Any = "logistic",
    cross_fit: Any = "auto",
    random_state: Any = None,
    n_jobs: int | None = None,
    missing: str = "raise",
    treated_level: Any = None,
) -> pd.DataFrame:
    """Propensity scores P(treated | covariates) with the data's row labels.

    Returns a DataFrame indexed like the rows used, with columns ``treatment`` (0/1),
    ``propensity_score`` and ``logit`` (its log-odds). ``propensity_model`` is "logistic" (our
    unpenalized IRLS), "sklearn-logistic" (scikit-learn's default, the article's), "gbm", "rf", or a
    scikit-learn classifier with ``predict_proba``; ``cross_fit`` a number of folds ("auto": 5 for
    classifiers, none for the logistic models).
    """
    prep = prepare(
        data,
        outcome=None,
        treatment=treatment,
        covariates=covariates,
        weights=weights,
        missing=missing,
        treated_level=treated_level,
    )
    t = prep.treatment
    assert t is not None
    fit = fit_propensity(
        prep.covariates,
        t,
        prep.weights,
        model=propensity_model,
        cross_fit=cross_fit,
        random_state=random_state,
        n_jobs=n_jobs,
    )
    return score_frame(fit, t, prep.index)


def score_frame(fit: PropensityFit, treatment: np.ndarray, index: pd.Index | None) -> pd.DataFrame:
    """The per-row table of scores (row identity from ``index``)."""
    return pd.DataFrame(
        {"treatment": treatment.astype(np.int64), "propensity_score": fit.score, "logit": fit.index},
        index=index,
    )


# --------------------------------------------------------------------------------------------------
# the shared first step of every propensity-score estimator
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setup:
    """Validated data, fitted scores (after any trimming) and the diagnostics every family reports."""

    prep: Prepared  # rows kept after trimming
    fit: PropensityFit | None  # scores of the kept rows (refitted after trimming unless trim_refit=False)
    outcome_design: Design  # the outcome-model / matching covariates
    ps_design: Design  # the propensity covariates (no constant)
    diagnostics: dict[str, Any]
    warnings: list[str]
    notes: list[str]
    score_sort: ScoreSort | None = None  # every row sorted by score (when asked for: matching on the score)
    # trim_refit=False: the trimmed rows' part of the full-sample logistic fit (their influence on the effect)
    outside: Outside | None = None

    def balance_design(self) -> Design:
        """Every covariate (outcome and propensity models) plus the propensity score, for balance tables."""
        design = self.outcome_design
        design = design.with_parts([p for p in self.ps_design.parts if p.name not in design.names])
        if self.fit is not None:
            from .._core.design import array_part

            design = design.with_parts([array_part("propensity score", self.fit.score)])
        return design


def _columns(value: Any, name: str) -> list[str]:
    from .._core.options import as_name_list

    return as_name_list(value, name)


def check_groups(t: np.ndarray, treatment: str, minimum: int = 2) -> None:
    n1 = int(np.count_nonzero(t == 1.0))
    n0 = len(t) - n1
    if n1 < minimum or n0 < minimum:
        group = "treated" if n1 < minimum else "control"
        raise DataError(
            f"treatment {treatment!r} has {n1} treated and {n0} control row(s): the {group} group has fewer than "
            f"{minimum}, too few to estimate an effect and its uncertainty. Collect more data or check the coding."
        )


def propensity_setup(
    data: Any,
    *,
    outcome: str,
    treatment: str,
    covariates: Any,
    propensity_covariates: Any = None,
    weights: str | None = None,
    propensity_model: Any = "logistic",
    cross_fit: Any = "auto",
    trim: Any = None,
    random_state: Any = None,
    n_jobs: int | None = None,
    missing: str = "raise",
    treated_level: Any = None,
    extra: dict[str, str | None] | None = None,
    trim_refit: bool = True,
    need_scores: bool = True,
    weighting: bool = True,
    sort_scores: bool = False,
    cluster: Any = None,
    method: str | None = None,
) -> Setup:
    """Prepare the data, fit the propensity score, describe overlap and apply trimming.

    After trimming the model is refitted on the kept rows (``trim_refit=True``, the default) or the
    full-sample scores are kept (``trim_refit=False``, as the Mixtape's IPW); then the trimmed rows' part of
    the logistic fit is kept in ``Setup.outside`` so that the standard error treats the score as fitted on
    every row.

    ``sort_scores`` sorts the final scores once (:class:`ScoreSort`, for matching on the score); the overlap
    statistics then come from the sorted groups.
    """
    from ..diagnostics.overlap import check_some_overlap, overlap_warnings, trim_mask

    cov_cols = _columns(covariates, "covariates")
    ps_cols = _columns(propensity_covariates, "propensity_covariates") or cov_cols
    union = list(dict.fromkeys(cov_cols + ps_cols))
    prep = prepare(
        data,
        outcome=outcome,
        treatment=treatment,
        covariates=union,
        weights=weights,
        extra=extra,
        missing=missing,
        treated_level=treated_level,
        cluster=cluster,
    )
    assert prep.treatment is not None
    check_groups(prep.treatment, treatment)
    diagnostics: dict[str, Any] = {}
    warnings: list[str] = []
    notes: list[str] = []
    outside = None
    if not isinstance(trim_refit, (bool, np.bool_)):
        raise SpecificationError(f"trim_refit must be True or False, got {trim_refit!r}.")
    if not (need_scores or trim is not None):
        return Setup(
            prep, None, prep.covariates.for_columns(cov_cols), prep.covariates.for_columns(ps_cols), {}, [], []
        )
    ps_design = prep.covariates.for_columns(ps_cols)
    kwargs = dict(model=propensity_model, cross_fit=cross_fit, random_state=random_state, n_jobs=n_jobs)
    stage(prep.n, f"fitting the propensity model on {prep.n:,} rows")
    fit = fit_propensity(ps_design, prep.treatment, prep.weights, **kwargs)
    final = trim is None or trim is False  # no trimming: these scores are the final ones
    sort = ScoreSort.build(fit.score, prep.treatment == 1.0) if sort_scores and final else None
    overlap, counts, groups = _overlap(fit.score, prep.treatment, sort)
    check_some_overlap(fit.score, prep.treatment, fit.model, groups)
    keep, alpha, rule = trim_mask(fit.score, trim)
    table = LazyValue(partial(_score_table, fit, prep.treatment, prep.index, keep))  # built when read
    diagnostics["overlap"] = overlap
    if rule != "none":
        n_out = int(np.count_nonzero(~keep))
        t_out = int(np.count_nonzero(~keep & (prep.treatment == 1.0)))
        diagnostics["trimming"] = {
            "rule": rule,
            "alpha": alpha,
            "n_trimmed": n_out,
            "n_trimmed_treated": t_out,
            "refit": bool(trim_refit),
        }
        if n_out:
            full = prep
            prep = prep.take(keep)
            assert prep.treatment is not None
            check_groups(prep.treatment, treatment)
            ps_design = prep.covariates.for_columns(ps_cols)
            if trim_refit:
                fit = fit_propensity(ps_design, prep.treatment, prep.weights, **kwargs)
                how = f"the propensity model was refitted on the {prep.n} rows kept"
            else:
                outside = _outside_rows(fit, full, keep)
                fit = fit.take(keep)
                how = f"the scores of the model fitted on all {full.n} rows were kept (trim_refit=False)"
            notes.append(
                f"trimmed {n_out} row(s) ({t_out} treated) with propensity outside [{alpha:.4g}, {1 - alpha:.4g}] "
                f"({rule} rule); {how}, and the estimand is the effect in the population kept"
            )
        assert prep.treatment is not None
        if sort_scores and sort is None:
            sort = ScoreSort.build(fit.score, prep.treatment == 1.0)
        diagnostics["overlap_after_trimming"], counts, _ = _overlap(fit.score, prep.treatment, sort)
        warnings += overlap_warnings(counts, weighting, trimmed=rule, method=method)
    else:
        warnings += overlap_warnings(counts, weighting, method=method)
    diagnostics["propensity"] = table
    coef = fit.coef_table()
    if coef is not None:
        diagnostics["propensity_model"] = coef.to_frame()
    notes += list(fit.notes)
    if ps_cols != cov_cols:
        notes.append(f"propensity model covariates: {', '.join(ps_cols)}")
    setup = Setup(prep, fit, prep.covariates.for_columns(cov_cols), ps_design, diagnostics, warnings, notes, sort)
    return setup if outside is None else replace(setup, outside=outside)


def _outside_rows(fit: PropensityFit, full: Prepared, keep: np.ndarray) -> Outside | None:
    """The trimmed rows' design, logistic-score residual (times their weight) and cluster codes (in the
    coding of the kept rows, clusters with no kept row numbered after them), for a full-sample fit."""
    if fit.logistic is None:
        return None
    assert full.treatment is not None
    out = ~keep
    resid = full.treatment[out] - fit.score[out]
    if full.weights is not None:
        resid = resid * full.weights[out]
    clusters = None
    if full.clusters:
        codes = full.clusters[0]
        kept_levels = np.unique(codes[keep])
        mapping = np.full(int(codes.max()) + 1, -1, dtype=np.int64)
        mapping[kept_levels] = np.arange(len(kept_levels))
        missing = np.setdiff1d(np.unique(codes[out]), kept_levels)
        mapping[missing] = len(kept_levels) + np.arange(len(missing))
        clusters = mapping[codes[out]]
    return Outside(fit.design.take(out), resid, clusters)


def _score_table(fit: PropensityFit, treatment: np.ndarray, index: pd.Index | None, keep: np.ndarray) -> pd.DataFrame:
    table = score_frame(fit, treatment, index)
    table["trimmed"] = ~keep
    return table


def _overlap(
    score: np.ndarray, treatment: np.ndarray, sort: ScoreSort | None
) -> tuple[Any, pd.DataFrame, tuple[np.ndarray, np.ndarray]]:
    """The overlap table, what its warnings read and the two groups' scores. From a shared sort the table is
    a few binary searches; otherwise it is built when read (its quantiles are partial sorts of each group,
    a quarter of an IPW call at 1M rows) and the warnings read the same counts, taken in one pass."""
    from ..diagnostics.overlap import overlap_counts, overlap_table

    if sort is not None:
        groups = _sorted_groups(sort)
        assert groups is not None
        table = overlap_table(score, treatment, groups)
        return table, table, groups
    counts, groups = overlap_counts(score, treatment)
    return LazyValue(partial(overlap_table, score, treatment)), counts, groups


def _sorted_groups(sort: ScoreSort | None) -> tuple[np.ndarray, np.ndarray] | None:
    """(treated scores, control scores), each sorted, from the shared sort."""
    return None if sort is None else (sort.arm_values(1), sort.arm_values(0))
