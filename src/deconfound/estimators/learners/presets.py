"""Learners by name or object: presets, validation, cloning, seeding, and one fit with clear errors.

A :class:`Learner` is what every nuisance model of an estimate is made from: an unfitted template
(a preset built here, or a *clone* of the user's estimator - the user's object is never fitted or
modified), whether it must give probabilities (``classifier``) or values (``regressor``), and the name
of the user's argument, so that each error says which argument to fix. A template whose
``random_state`` parameter is None gets the estimate's seed; the template is cloned again for every
fit, so folds and repetitions never share fitted state.

Presets (scikit-learn imported only when one is built):

=====================  ==============================================================================
classifier presets     ``"logistic"`` (our unpenalized IRLS), ``"sklearn-logistic"`` (scikit-learn's
                       default ``LogisticRegression()``, the article's), ``"gbm"``
                       (``HistGradientBoostingClassifier``), ``"rf"`` (``RandomForestClassifier``,
                       200 trees, leaves of at least 5)
regressor presets      ``"linear"`` / ``"ols"`` (our least squares), ``"lasso"`` (standardized
                       ``LassoCV``, 5-fold), ``"gbm"`` (``HistGradientBoostingRegressor``), ``"rf"``
                       (``RandomForestRegressor``, 200 trees, leaves of at least 5)
=====================  ==============================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..._core.options import check_option
from ...errors import DataError, SpecificationError

Kind = Literal["classifier", "regressor"]

CLASSIFIER_PRESETS = ("logistic", "sklearn-logistic", "gbm", "rf")
REGRESSOR_PRESETS = ("linear", "ols", "lasso", "gbm", "rf")
PRESETS: dict[str, tuple[str, ...]] = {"classifier": CLASSIFIER_PRESETS, "regressor": REGRESSOR_PRESETS}


def learner_name(spec: Any) -> str:
    """A preset's name or the estimator's class name."""
    return spec if isinstance(spec, str) else type(spec).__name__


def _classifier_preset(name: str, seed: int | None, n_jobs: int | None) -> Any:
    if name == "logistic":
        from .linear import LogisticClassifier

        return LogisticClassifier()
    if name == "sklearn-logistic":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression()
    if name == "gbm":
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(random_state=seed)
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=200, min_samples_leaf=5, random_state=seed, n_jobs=n_jobs)


def _regressor_preset(name: str, seed: int | None, n_jobs: int | None) -> Any:
    if name in ("linear", "ols"):
        from .linear import LeastSquaresRegressor

        return LeastSquaresRegressor()
    if name == "lasso":
        from sklearn.linear_model import LassoCV
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(StandardScaler(), LassoCV(cv=5, random_state=seed, n_jobs=n_jobs))
    if name == "gbm":
        from sklearn.ensemble import HistGradientBoostingRegressor

        return HistGradientBoostingRegressor(random_state=seed)
    from sklearn.ensemble import RandomForestRegressor

    return RandomForestRegressor(n_estimators=200, min_samples_leaf=5, random_state=seed, n_jobs=n_jobs)


def _check_object(spec: Any, kind: Kind, argument: str) -> None:
    """A user's estimator must be scikit-learn-like: fit, the right predict method, get_params (for clone)."""
    what = type(spec).__name__
    presets = ", ".join(repr(p) for p in PRESETS[kind])
    if kind == "classifier" and hasattr(spec, "fit") and not hasattr(spec, "predict_proba"):
        raise SpecificationError(
            f"{argument} must be one of {presets} or a scikit-learn classifier with predict_proba; got {what!r}, "
            "which has no predict_proba. For an SVC pass probability=True; otherwise choose a probabilistic "
            "classifier."
        )
    method = "predict_proba" if kind == "classifier" else "predict"
    missing = [m for m in ("fit", method, "get_params", "set_params") if not callable(getattr(spec, m, None))]
    if missing:
        raise SpecificationError(
            f"{argument} must be one of {presets} or a scikit-learn {kind} (an object with fit, {method}, "
            f"get_params and set_params, e.g. derived from sklearn.base.BaseEstimator); got {what!r}, which has "
            f"no {', '.join(missing)}."
        )


def make_learner(
    spec: Any,
    *,
    kind: Kind,
    argument: str = "learner",
    random_state: int | None = None,
    n_jobs: int | None = None,
) -> Learner:
    """A :class:`Learner` from a preset name or a scikit-learn estimator.

    ``random_state`` is an integer seed (see :func:`~deconfound.estimators.learners.seeds.seed_from`)
    given to presets and to the user's estimator when its own ``random_state`` is None; ``n_jobs`` reaches
    the presets that use several cores. Raises a :class:`SpecificationError` naming ``argument`` for an
    unknown preset (listing the presets), an object that is not scikit-learn-like, a classifier without
    ``predict_proba`` and an estimator that cannot be cloned.
    """
    check_option("kind", kind, ("classifier", "regressor"))
    if isinstance(spec, str):
        name = check_option(argument, spec, PRESETS[kind])
        build = _classifier_preset if kind == "classifier" else _regressor_preset
        return Learner(build(name, random_state, n_jobs), kind, name, argument)
    _check_object(spec, kind, argument)
    from sklearn.base import clone

    try:
        template = clone(spec)
    except Exception as exc:  # sklearn raises TypeError/RuntimeError for objects it cannot clone
        raise SpecificationError(f"{argument} {type(spec).__name__!r} cannot be cloned: {exc}") from exc
    if random_state is not None:
        params = template.get_params(deep=False)
        if "random_state" in params and params["random_state"] is None:
            template.set_params(random_state=random_state)
    return Learner(template, kind, type(spec).__name__, argument)


def _clone(template: Any) -> Any:
    """A fresh unfitted copy: our own learners without scikit-learn, others with ``sklearn.base.clone``."""
    from .linear import OwnLearner

    if isinstance(template, OwnLearner):
        return type(template)(**template.get_params())
    from sklearn.base import clone

    return clone(template)


def _weight_key(estimator: Any) -> str:
    """The fit() keyword for sample weights: a pipeline (the "lasso" preset) routes them to its last step."""
    steps = getattr(estimator, "steps", None)
    if isinstance(steps, list) and steps and isinstance(steps[-1], tuple):
        return f"{steps[-1][0]}__sample_weight"
    return "sample_weight"


@dataclass(frozen=True)
class Learner:
    """An unfitted, seeded learner template for one nuisance; every fit works on a fresh clone."""

    template: Any
    kind: Kind
    name: str  # preset name or class name
    argument: str  # the user's argument, named in errors

    def fit(self, x: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None, *, where: str = "") -> Any:
        """A fitted clone. ``where`` (e.g. " in fold 2 of 5") locates a failure in the error message."""
        est = _clone(self.template)
        target = np.asarray(y).astype(np.int64) if self.kind == "classifier" else np.asarray(y, dtype=np.float64)
        kwargs = {} if sample_weight is None else {_weight_key(est): sample_weight}
        label = f"{self.argument} {self.name!r}"
        try:
            est.fit(x, target, **kwargs)
        except TypeError as exc:
            if sample_weight is not None and "sample_weight" in str(exc):
                raise SpecificationError(
                    f"{label} does not accept sample weights; drop weights= or choose a {self.kind} whose "
                    "fit() takes sample_weight."
                ) from exc
            raise SpecificationError(f"{label} could not be fitted{where}: {exc}") from exc
        except ValueError as exc:
            raise SpecificationError(f"{label} could not be fitted{where}: {exc}") from exc
        return est

    def predict(self, fitted: Any, x: np.ndarray) -> np.ndarray:
        """P(target = 1) for a classifier, the prediction for a regressor; refuses missing or infinite values."""
        if self.kind == "classifier":
            proba = np.asarray(fitted.predict_proba(x), dtype=np.float64)
            classes = list(getattr(fitted, "classes_", [0, 1]))
            if 1 not in classes:
                raise DataError(
                    f"{self.argument} {self.name!r} was fitted on rows with no target = 1 (a cross-fitting fold "
                    "without treated rows?); use fewer folds or more data."
                )
            out = proba[:, classes.index(1)]
            what = "probabilities"
        else:
            out = np.asarray(fitted.predict(x), dtype=np.float64).reshape(-1)
            what = "predictions"
        if not np.all(np.isfinite(out)):
            raise DataError(f"{self.argument} {self.name!r} returned missing or infinite {what}.")
        return out

    def fit_predict(
        self,
        x_fit: np.ndarray,
        y_fit: np.ndarray,
        w_fit: np.ndarray | None,
        x_new: np.ndarray,
        *,
        where: str = "",
    ) -> np.ndarray:
        """Fit a clone on some rows and predict others (one fold of cross-fitting, or in-sample)."""
        return self.predict(self.fit(x_fit, y_fit, w_fit, where=where), x_new)
