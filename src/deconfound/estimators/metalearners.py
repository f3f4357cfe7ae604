"""Meta-learners of the conditional average treatment effect (CATE): S, T, X, R and DR learners.

Each is an estimator object in scikit-learn style - the constructor stores settings, ``fit(X, y,
treatment)`` validates and returns self, ``effect(X)`` (alias ``predict``) gives the CATE of new rows,
``ate()`` the average effect as an :class:`~deconfound.results.Estimate`, ``heterogeneity()`` the tests of
:mod:`deconfound.diagnostics.heterogeneity` - and a function for the registry (``t_learner(data,
outcome=..., treatment=..., covariates=...)``) that fits one and returns its Estimate with the CATE
summaries, the heterogeneity analysis and the per-row CATE in ``diagnostics``.

With mu_d(x) = E[Y | X = x, D = d], e(x) = P(D = 1 | X = x) and m(x) = E[Y | X = x]:

==========  =====================================================================================
S-learner   one model of Y on (X, D); tau(x) = mu(x, 1) - mu(x, 0)
T-learner   mu_1 on the treated, mu_0 on the controls; tau(x) = mu_1(x) - mu_0(x)
X-learner   imputed effects Y - mu_0(X) (treated) and mu_1(X) - Y (controls), each regressed on X
            (tau_1, tau_0) and combined: tau(x) = e(x) tau_0(x) + (1 - e(x)) tau_1(x)
R-learner   minimises sum ((Y - m(X)) - tau(X) (D - e(X)))^2: the pseudo-outcome (Y - m) / (D - e)
            regressed on X with weights (D - e)^2
DR-learner  the AIPW pseudo-outcome phi = mu_1 - mu_0 + D (Y - mu_1) / e - (1 - D)(Y - mu_0) / (1 - e)
            regressed on X
==========  =====================================================================================

Nuisances (mu_0, mu_1, e, m) are cross-fitted on one set of folds (stratified on the treatment) shared by
every model of the estimate; ``folds=None`` fits them in-sample (as EconML's X-learner does). The final
models (and the S/T models) are fitted on all rows for ``effect``; for the heterogeneity tests a
cross-fitted CATE (``cate_oof_``, each row's CATE from models that did not see it) and the AIPW scores
are computed on first use. One ``random_state`` seeds the folds and every learner: each model's seed is
derived from it by name (:func:`~deconfound.estimators.learners.derive_seed`), so the same call gives the
same numbers, also with ``n_jobs=2``.

``ate()``: the DR-learner's is the AIPW mean of phi with its influence-function standard error; the
R-learner's with a linear final stage is the mean of tau(x_i) with a sandwich standard error (its
influence adds the spread of tau over the sample); the S, T and X learners give the mean CATE without a
standard error (NaN, with a note).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .._core.pages import entry
from ..data import prepare
from ..errors import DataError
from ..results import Estimate, LazyValue
from ._metalearner import _LINEAR, DEFAULT_CLIP, MetaLearner, _default_classifier
from .learners import cross_fit_variants

__all__ = [
    "DRLearner",
    "RLearner",
    "SLearner",
    "TLearner",
    "XLearner",
    "dr_learner",
    "r_learner",
    "s_learner",
    "t_learner",
    "x_learner",
]


class SLearner(MetaLearner):
    """One outcome model on the features and the treatment; tau(x) = mu(x, 1) - mu(x, 0)."""

    method = "s-learner"
    label = "S-learner"

    def _with(self, x: np.ndarray, d: float) -> np.ndarray:
        return np.column_stack([x, np.full(len(x), d)])

    def _weighted_specs(self) -> list[tuple[str, Any]]:
        return [("learner", self.learner)]

    def _fit(self) -> None:
        self.model_learner_ = self._outcome_learner("s")
        self.model_ = self.model_learner_.fit(np.column_stack([self.x_, self.t_]), self.y_, self.w_)

    def _effect(self, x: np.ndarray) -> np.ndarray:
        lr = self.model_learner_
        return lr.predict(self.model_, self._with(x, 1.0)) - lr.predict(self.model_, self._with(x, 0.0))

    def _outcomes(self) -> tuple[np.ndarray, np.ndarray]:
        def build() -> tuple[np.ndarray, np.ndarray]:
            xs = np.column_stack([self.x_, self.t_])
            variants = [self._with(self.x_, 0.0), self._with(self.x_, 1.0)]
            if self.folds_ is None:
                lr = self.model_learner_
                return lr.predict(self.model_, variants[0]), lr.predict(self.model_, variants[1])
            mu0, mu1 = cross_fit_variants(
                self.model_learner_, xs, self.y_, self.folds_, variants, sample_weight=self.w_, n_jobs=self.n_jobs
            )
            return mu0, mu1

        return self._cached("outcomes", build)

    def _cate_oof(self) -> np.ndarray:
        mu0, mu1 = self._outcomes()
        return mu1 - mu0


class TLearner(MetaLearner):
    """One outcome model per arm; tau(x) = mu_1(x) - mu_0(x)."""

    method = "t-learner"
    label = "T-learner"

    def _weighted_specs(self) -> list[tuple[str, Any]]:
        return [("learner", self.learner)]

    def _fit(self) -> None:
        treated = self.t_ == 1.0
        self.learners_ = (self._outcome_learner(0), self._outcome_learner(1))
        self.models_ = (
            self._fit_on(self.learners_[0], self.y_, ~treated),
            self._fit_on(self.learners_[1], self.y_, treated),
        )

    def _effect(self, x: np.ndarray) -> np.ndarray:
        (l0, l1), (m0, m1) = self.learners_, self.models_
        return l1.predict(m1, x) - l0.predict(m0, x)

    def _cate_oof(self) -> np.ndarray:
        mu0, mu1 = self._outcomes()
        return mu1 - mu0


class XLearner(MetaLearner):
    """Imputed effects per arm regressed on the features, combined with the propensity (Kunzel et al.)."""

    method = "x-learner"
    label = "X-learner"

    def _imputed(self) -> np.ndarray:
        mu0, mu1 = self._outcomes()
        return np.where(self.t_ == 1.0, self.y_ - mu0, mu1 - self.y_)

    def _fit(self) -> None:
        treated = self.t_ == 1.0
        d = self._imputed()
        self.final_learners_ = (self._final(0), self._final(1))
        self.final_models_ = (
            self._fit_on(self.final_learners_[0], d, ~treated),
            self._fit_on(self.final_learners_[1], d, treated),
        )
        self.propensity_learner_ = self._classifier()
        self.propensity_model_ = self._fit_on(self.propensity_learner_, self.t_)

    def _effect(self, x: np.ndarray) -> np.ndarray:
        e = self._clip(self.propensity_learner_.predict(self.propensity_model_, x), "fitted")
        (l0, l1), (m0, m1) = self.final_learners_, self.final_models_
        return e * l0.predict(m0, x) + (1.0 - e) * l1.predict(m1, x)

    def _cate_oof(self) -> np.ndarray:
        treated = self.t_ == 1.0
        d = self._imputed()
        tau0 = self._oof(self.final_learners_[0], d, ~treated)
        tau1 = self._oof(self.final_learners_[1], d, treated)
        e = self._propensity()
        return e * tau0 + (1.0 - e) * tau1


class DRLearner(MetaLearner):
    """The AIPW pseudo-outcome regressed on the features (Kennedy); ``ate()`` is AIPW with its SE."""

    method = "dr-learner"
    label = "DR-learner"

    def _pseudo(self) -> np.ndarray:
        s1, s0 = self._scores()
        return s1 - s0

    def _fit(self) -> None:
        self.final_learner_ = self._final()
        self.final_model_ = self._fit_on(self.final_learner_, self._pseudo())

    def _effect(self, x: np.ndarray) -> np.ndarray:
        return self.final_learner_.predict(self.final_model_, x)

    def _cate_oof(self) -> np.ndarray:
        return self._oof(self.final_learner_, self._pseudo())

    def _ate(self) -> tuple[float, float, list[str]]:
        phi = self._pseudo()
        if self.w_ is None:
            value = float(phi.mean())
            return value, self._se_of_mean(phi - value), []
        scale = self.w_ / self.w_.mean()  # the weighted mean's influence: w_i (phi_i - ate) / mean(w)
        value = float(np.average(phi, weights=self.w_))
        return value, self._se_of_mean(scale * (phi - value)), []


def _linear_final(
    x: np.ndarray, ytil: np.ndarray, ttil: np.ndarray, w: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The R-learner's linear final stage: tau(x) = b0 + (x - xbar)'b1 minimising sum w (ytil - tau ttil)^2
    (xbar the weighted mean, so b0 is the weighted average of tau). Returns (b0, b1), xbar and the residuals."""
    xbar = np.average(x, axis=0, weights=w)
    z = ttil[:, None] * np.column_stack([np.ones(len(x)), x - xbar])
    root = np.ones(len(x)) if w is None else np.sqrt(w)
    coef, _, rank, _ = np.linalg.lstsq(z * root[:, None], ytil * root, rcond=None)
    if rank < z.shape[1]:
        raise DataError(
            "the R-learner's linear final stage is rank deficient: a feature is constant or a linear combination "
            "of others. Drop it, or choose another final_learner."
        )
    return coef, xbar, ytil - z @ coef


class RLearner(MetaLearner):
    """Residual-on-residual (Robinson / Nie-Wager): the R-loss minimised by the final learner."""

    method = "r-learner"
    label = "R-learner"

    def _residuals(self) -> tuple[np.ndarray, np.ndarray]:
        def build() -> tuple[np.ndarray, np.ndarray]:
            m = self._oof(self._outcome_learner("marginal"), self.y_)
            return self.y_ - m, self.t_ - self._propensity()

        return self._cached("residuals", build)

    @property
    def linear_final_(self) -> bool:
        return isinstance(self.final_learner, str) and self.final_learner in _LINEAR

    def _fit_final(self, rows: np.ndarray | slice) -> Any:
        ytil, ttil = self._residuals()
        w = None if self.w_ is None else self.w_[rows]
        if self.linear_final_:
            return _linear_final(self.x_[rows], ytil[rows], ttil[rows], w)
        learner = self._final()
        return learner.fit(self.x_[rows], ytil[rows] / ttil[rows], ttil[rows] ** 2 * (1.0 if w is None else w))

    def _fit(self) -> None:
        self.final_model_ = self._fit_final(slice(None))

    def _predict_final(self, model: Any, x: np.ndarray) -> np.ndarray:
        if self.linear_final_:
            coef, xbar, _ = model
            return coef[0] + (x - xbar) @ coef[1:]
        return self._final().predict(model, x)

    def _effect(self, x: np.ndarray) -> np.ndarray:
        return self._predict_final(self.final_model_, x)

    def _cate_oof(self) -> np.ndarray:
        assert self.folds_ is not None
        out = np.empty(self.n_)
        for train, test in self.folds_.split():
            out[test] = self._predict_final(self._fit_final(train), self.x_[test])
        return out

    def _ate(self) -> tuple[float, float, list[str]]:
        if not self.linear_final_:
            return super()._ate()
        coef, xbar, resid = self.final_model_
        _, ttil = self._residuals()
        z = ttil[:, None] * np.column_stack([np.ones(self.n_), self.x_ - xbar])
        scale = np.ones(self.n_) if self.w_ is None else self.w_ / self.w_.mean()
        bread = np.linalg.inv((z * scale[:, None]).T @ z / self.n_)
        # b0's sandwich influence plus the spread of tau over the (weighted) sample
        psi = (z * (scale * resid)[:, None]) @ bread[0] + scale * ((self.x_ - xbar) @ coef[1:])
        return float(coef[0]), self._se_of_mean(psi), []


LEARNERS: dict[str, type[MetaLearner]] = {
    "s": SLearner,
    "t": TLearner,
    "x": XLearner,
    "r": RLearner,
    "dr": DRLearner,
}


# --------------------------------------------------------------------------------------------------
# the function form (the registry's entries): fit, ATE, CATE summaries, heterogeneity, per-row CATE
# --------------------------------------------------------------------------------------------------

CATE_QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


def cate_summary(cate: np.ndarray) -> dict[str, float]:
    """Mean, spread, quantiles and the share of positive effects of per-row CATE estimates."""
    q = np.quantile(cate, CATE_QUANTILES)
    out = {
        "mean": float(cate.mean()),
        "sd": float(cate.std(ddof=1)) if len(cate) > 1 else 0.0,
        "min": float(cate.min()),
    }
    out.update({f"q{int(p * 100):02d}": float(v) for p, v in zip(CATE_QUANTILES, q)})
    out.update({"max": float(cate.max()), "share_positive": float(np.mean(cate > 0))})
    return out


def _per_row(fitted: MetaLearner, cate: np.ndarray, oof: np.ndarray | None) -> Any:
    import pandas as pd

    frame = pd.DataFrame({"cate": cate}, index=fitted.prepared_.index)
    if oof is not None:
        frame["cate_cross_fitted"] = oof
        s1, s0 = fitted._scores()
        frame["pseudo_outcome"] = s1 - s0
    return frame


def _diagnostics(fitted: MetaLearner, groups: int, subgroups: np.ndarray | None, subgroup_name: str | None) -> dict:
    cate = fitted.effect(fitted.x_)
    if not np.all(np.isfinite(cate)):
        raise DataError(f"the {fitted.label} gave missing or infinite CATE values; check the learners.")
    out: dict[str, Any] = {"cate_summary": cate_summary(cate)}
    het = None
    if fitted.folds_ is not None and fitted.w_ is None:  # the tests are not weighted: left out with weights
        het = fitted.heterogeneity(groups=groups, subgroups=subgroups, subgroup_name=subgroup_name or "subgroup")
        out["heterogeneity"] = het.verdict
        out["blp"] = het.blp
        for key in ("gates", "clan", "subgroups", "policy"):
            if getattr(het, key) is not None:
                out[key] = getattr(het, key)
    out["learners"] = {
        "learner": _spec_name(fitted.learner),
        "propensity_learner": _spec_name(fitted.propensity_learner or _default_classifier(fitted.learner)),
        "final_learner": _spec_name(fitted.final_learner),
        "folds": None if fitted.folds_ is None else fitted.folds_.k,
        "random_state": fitted.seed_,
    }
    oof = None if het is None else fitted.cate_oof_
    out["cate"] = LazyValue(lambda: _per_row(fitted, cate, oof))
    return out


def _spec_name(spec: Any) -> str:
    return spec if isinstance(spec, str) else type(spec).__name__


@entry
def _run(
    kind: str,
    data: Any,
    *,
    outcome: str,
    treatment: str,
    covariates: str | Iterable[str],
    subgroups: str | None,
    groups: int,
    missing: str,
    treated_level: Any,
    cluster: Any = None,
    weights: str | None = None,
    **settings: Any,
) -> Estimate:
    prep = prepare(
        data,
        outcome=outcome,
        treatment=treatment,
        covariates=covariates,
        weights=weights,
        cluster=cluster,
        extra={"subgroups": subgroups},
        missing=missing,
        treated_level=treated_level,
    )
    fitted = LEARNERS[kind](**settings)._fit_prepared(prep)
    labels = prep.extra.get("subgroups") if subgroups is not None else None
    diagnostics = _diagnostics(fitted, groups, labels, subgroups)
    notes = [diagnostics["heterogeneity"]] if "heterogeneity" in diagnostics else []
    if weights is not None:
        notes.append(
            f"weighted by {weights!r}: every nuisance fit and the final stage take the weights, and the ATE is the "
            "weighted average effect; the heterogeneity tests (BLP, GATES, CLAN) are not weighted and were left out"
        )
    if fitted.cluster_ is not None and "heterogeneity" in diagnostics:
        notes.append(
            "the heterogeneity tests (BLP, GATES, CLAN, subgroups, policy) treat rows as independent: their "
            "intervals are not clustered"
        )
    estimate = fitted.ate(diagnostics=diagnostics)
    if notes:
        import dataclasses

        estimate = dataclasses.replace(estimate, notes=estimate.notes + tuple(notes))
    return estimate


def _learner_function(kind: str, doc: str) -> Any:
    def function(
        data: Any,
        *,
        outcome: str,
        treatment: str,
        covariates: str | Iterable[str],
        learner: Any = "linear",
        propensity_learner: Any = None,
        final_learner: Any = "linear",
        folds: Any = 5,
        propensity_clip: float = DEFAULT_CLIP,
        groups: int = 5,
        subgroups: str | None = None,
        cluster: str | None = None,
        weights: str | None = None,
        level: float = 0.95,
        missing: str = "raise",
        treated_level: Any = None,
        random_state: Any = None,
        n_jobs: int | None = None,
    ) -> Estimate:
        return _run(
            kind,
            data,
            outcome=outcome,
            treatment=treatment,
            covariates=covariates,
            subgroups=subgroups,
            groups=groups,
            missing=missing,
            treated_level=treated_level,
            cluster=cluster,
            weights=weights,
            learner=learner,
            propensity_learner=propensity_learner,
            final_learner=final_learner,
            folds=folds,
            propensity_clip=propensity_clip,
            random_state=random_state,
            n_jobs=n_jobs,
            level=level,
        )

    function.__name__ = function.__qualname__ = f"{kind}_learner"
    function.__doc__ = doc + _FUNCTION_DOC
    return function


_FUNCTION_DOC = """

    ``learner`` fits the outcome models (a regressor preset - linear, lasso, gbm, rf - or a scikit-learn
    regressor), ``propensity_learner`` the propensity (default: gbm/rf with those presets, else logistic),
    ``final_learner`` the CATE model of the X, R and DR learners (default linear). ``folds``: cross-fitting
    folds (a number, None for in-sample nuisances, or one fold label per row). ``cluster``: a column whose
    clusters the folds keep whole and whose cluster-robust standard error the DR-learner and the R-learner
    with a linear final stage give. ``weights``: a column of non-negative row weights (rows of weight 0 are
    left out) passed to every nuisance fit and the final stage; the ATE is then the weighted average effect
    (its standard error weighted too) and the heterogeneity tests are left out (not weighted); a learner
    whose ``fit`` takes no ``sample_weight`` is refused by name. ``random_state`` seeds everything;
    ``n_jobs`` runs folds in parallel with identical numbers.

    The Estimate is the ATE (``ate()`` of the learner); ``diagnostics`` holds ``cate_summary``, the
    heterogeneity verdict (``heterogeneity``), ``blp``, ``gates`` (by ``groups`` CATE groups), ``clan``,
    ``policy``, ``subgroups`` (by the levels of the ``subgroups`` column), ``learners`` and the per-row
    ``cate`` table.
    """

s_learner = _learner_function("s", "S-learner: one outcome model of the features and the treatment.")
t_learner = _learner_function("t", "T-learner: one outcome model per arm; the CATE is their difference.")
x_learner = _learner_function("x", "X-learner: imputed effects per arm, regressed and combined by the propensity.")
r_learner = _learner_function("r", "R-learner: residual-on-residual; a linear final stage has a sandwich SE.")
dr_learner = _learner_function("dr", "DR-learner: the AIPW pseudo-outcome regressed on the features.")
