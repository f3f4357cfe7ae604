"""Our own least squares and logistic regression as scikit-learn-style learners.

The presets "linear" / "ols" (regression) and "logistic" (classification) fit with the numeric core
(:func:`~deconfound._core.least_squares.fit_ols`, :func:`~deconfound._core.logistic.fit_logistic`):
unpenalized, with an intercept, a rank check that names a dependent column, and separation diagnostics.
They follow scikit-learn's estimator contract (``get_params``/``set_params``, so ``sklearn.base.clone``
copies them; ``fit`` returns self; fitted state ends in ``_``) without importing scikit-learn.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._core.design import Design, constant_part
from ...errors import NotFittedError, SpecificationError


def _design(x: Any, fit_intercept: bool) -> Design:
    columns = getattr(x, "columns", None)
    matrix = np.asarray(x, dtype=np.float64)
    if matrix.ndim != 2:
        raise SpecificationError(f"X must be a 2-D array of features, got an array of shape {matrix.shape}.")
    names = [str(c) for c in columns] if columns is not None else [f"x{j}" for j in range(matrix.shape[1])]
    design = Design.from_matrix(matrix, names)
    return design.with_parts([constant_part()], front=True) if fit_intercept else design


class OwnLearner:
    """Parameters, cloning and the fitted check shared by our two learners."""

    def __init__(self, fit_intercept: bool = True) -> None:
        self.fit_intercept = fit_intercept

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"fit_intercept": self.fit_intercept}

    def set_params(self, **params: Any) -> OwnLearner:
        for key, value in params.items():
            if key not in self.get_params():
                raise SpecificationError(
                    f"{type(self).__name__} has no parameter {key!r}; it has {sorted(self.get_params())}."
                )
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}()" if self.fit_intercept else f"{type(self).__name__}(fit_intercept=False)"

    def _coef(self) -> np.ndarray:
        coef = getattr(self, "coef_", None)
        if coef is None:
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet; call fit(X, y) first.")
        return coef

    def _features(self, X: Any) -> np.ndarray:
        """The feature matrix of new rows, checked against the fitted coefficients."""
        coef = self._coef()
        matrix = np.asarray(X, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[1] != len(coef):
            raise SpecificationError(
                f"X has shape {matrix.shape} but {type(self).__name__} was fitted on {len(coef)} feature(s)."
            )
        return matrix


class LeastSquaresRegressor(OwnLearner):
    """Ordinary (or weighted) least squares with the core's solver; ``predict`` gives X beta."""

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> LeastSquaresRegressor:
        from ..._core.least_squares import fit_ols

        design = _design(X, self.fit_intercept)
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        fit = fit_ols(design, np.asarray(y, dtype=np.float64), w)
        start = 1 if self.fit_intercept else 0
        self.feature_names_in_ = np.asarray(design.names[start:], dtype=object)
        self.coef_ = np.asarray(fit.coef[start:])
        self.intercept_ = float(fit.coef[0]) if self.fit_intercept else 0.0
        return self

    def predict(self, X: Any) -> np.ndarray:
        return self._features(X) @ self._coef() + self.intercept_


class LogisticClassifier(OwnLearner):
    """Unpenalized maximum-likelihood logistic regression (IRLS); ``predict_proba`` as scikit-learn's."""

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> LogisticClassifier:
        from ..._core.logistic import fit_logistic

        target = np.asarray(y)
        classes = np.unique(target)
        if len(classes) != 2:
            raise SpecificationError(
                f"LogisticClassifier needs a target with two classes, got {len(classes)} distinct value(s)."
            )
        design = _design(X, self.fit_intercept)
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        fit = fit_logistic(design, (target == classes[1]).astype(np.float64), w, what="the logistic learner")
        start = 1 if self.fit_intercept else 0
        self.classes_ = classes
        self.feature_names_in_ = np.asarray(design.names[start:], dtype=object)
        self.coef_ = np.asarray(fit.coef[start:])
        self.intercept_ = float(fit.coef[0]) if self.fit_intercept else 0.0
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        return self._features(X) @ self._coef() + self.intercept_

    def predict_proba(self, X: Any) -> np.ndarray:
        from ..._core.logistic import predict

        matrix, coef = self._features(X), self._coef()
        beta = np.concatenate([[self.intercept_], coef]) if self.fit_intercept else coef
        _, p = predict(_design(matrix, self.fit_intercept), beta)
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any) -> np.ndarray:
        return np.asarray(self.classes_)[(self.predict_proba(X)[:, 1] > 0.5).astype(np.int64)]
