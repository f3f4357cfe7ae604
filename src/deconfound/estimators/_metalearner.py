"""The meta-learners' shared base: settings, inputs, shared folds, seeded learners, cross-fitted nuisances
(mu_0, mu_1, e), the doubly robust scores and the ATE / heterogeneity results. The learners themselves and
their function forms are in :mod:`deconfound.estimators.metalearners`."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._core.design import column_major
from .._core.options import check_level, check_positive_int
from .._core.pages import entry
from ..data import Prepared, prepare
from ..errors import DataError, NotFittedError, SpecificationError, warn
from ..results import Estimate
from ._base import make_estimate
from .learners import (
    Folds,
    Learner,
    cross_fit_predict,
    derive_seed,
    make_folds,
    make_learner,
    seed_from,
    seed_note,
)

__all__ = ["DEFAULT_CLIP", "MetaLearner"]

#: propensity predictions are clipped to [clip, 1 - clip] before they divide anything
DEFAULT_CLIP = 0.01
_LINEAR = ("linear", "ols")


def _default_classifier(learner: Any) -> str:
    """The propensity preset that goes with an outcome preset: gbm -> gbm, rf -> rf, otherwise logistic."""
    return learner if isinstance(learner, str) and learner in ("gbm", "rf") else "logistic"


def _takes_weights(estimator: Any) -> bool:
    """Whether ``fit`` takes ``sample_weight`` (a pipeline: its last step's ``fit``)."""
    import inspect

    steps = getattr(estimator, "steps", None)
    if isinstance(steps, list) and steps and isinstance(steps[-1], tuple):
        estimator = steps[-1][1]
    try:
        params = inspect.signature(estimator.fit).parameters
    except (TypeError, ValueError):
        return True  # not inspectable: let the fit itself say
    return "sample_weight" in params


def _fold_array(folds: Any, t: np.ndarray, seed: int, cluster: np.ndarray | None = None) -> Folds | None:
    """``folds``: a number (stratified K-fold; of whole clusters with ``cluster``), None/0 (no
    cross-fitting) or one fold label per row."""
    if folds is None or (isinstance(folds, (int, np.integer)) and not isinstance(folds, bool) and folds == 0):
        return None
    if isinstance(folds, Folds):
        return folds
    if isinstance(folds, (int, np.integer)) and not isinstance(folds, bool):
        return make_folds(
            len(t), folds=int(folds), target=t, groups=cluster, random_state=seed, labels=("treated", "control")
        )
    labels = np.asarray(folds)
    if labels.ndim != 1 or len(labels) != len(t):
        raise SpecificationError(
            f"folds must be a number of folds, None, or one fold label per row ({len(t)} rows); got {folds!r:.60}."
        )
    _, codes = np.unique(labels, return_inverse=True)
    k = int(codes.max()) + 1
    if k < 2:
        raise SpecificationError("folds given as labels must name at least two folds.")
    return Folds(codes.astype(np.int64), k)


class MetaLearner:
    """What every meta-learner shares: settings, inputs, folds, seeded learners, nuisances and results."""

    method = "meta"
    label = "Meta-learner"

    def __init__(
        self,
        *,
        learner: Any = "linear",
        propensity_learner: Any = None,
        final_learner: Any = "linear",
        folds: Any = 5,
        propensity_clip: float = DEFAULT_CLIP,
        random_state: Any = None,
        n_jobs: int | None = None,
        level: float = 0.95,
    ) -> None:
        self.learner = learner
        self.propensity_learner = propensity_learner
        self.final_learner = final_learner
        self.folds = folds
        self.propensity_clip = propensity_clip
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.level = level

    def __repr__(self) -> str:
        return f"{type(self).__name__}(learner={self.learner!r}, folds={self.folds!r})"

    # -- fitting -----------------------------------------------------------------------------------
    @entry
    def fit(self, X: Any, y: Any, treatment: Any, *, cluster: Any = None, sample_weight: Any = None) -> MetaLearner:
        """Fit on features ``X`` (numeric, rows x columns), outcome ``y`` and a two-level ``treatment``.

        ``cluster`` (one label per row) makes the folds of whole clusters and the standard error of
        :meth:`ate` cluster-robust. ``sample_weight`` (one non-negative weight per row; rows of weight 0
        are left out) reaches every nuisance fit's ``fit(sample_weight=)`` and the final stage, and makes
        :meth:`ate` the weighted average effect (with its standard error where the learner gives one); a
        learner whose ``fit`` takes no ``sample_weight`` is refused by name."""
        import pandas as pd

        if hasattr(X, "columns"):  # the caller's frame: copied, since the outcome and treatment are added to it
            frame = pd.DataFrame(X).copy()
            frame.columns = [str(c) for c in frame.columns]
        else:  # a new frame over the array (no copy: only columns are added, the array is never written)
            values = column_major(np.asarray(X, dtype=np.float64))  # columns contiguous, as a frame holds them
            if values.ndim != 2:
                raise SpecificationError(
                    f"X must be two-dimensional (rows x features); got an array of shape {values.shape}. "
                    "For one feature use X.reshape(-1, 1)."
                )
            frame = pd.DataFrame(values, columns=[f"x{j}" for j in range(values.shape[1])], copy=False)
        bad = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
        if bad:
            raise SpecificationError(
                f"X must be numeric; column(s) {bad} are not. Encode them first, or use the function form "
                "(e.g. t_learner(data, outcome=..., treatment=..., covariates=...)), which encodes categories."
            )
        y_name = str(getattr(y, "name", None) or "y")
        t_name = str(getattr(treatment, "name", None) or "treatment")
        frame[y_name] = np.asarray(y)
        frame[t_name] = np.asarray(treatment)
        covariates = [c for c in frame.columns if c not in (y_name, t_name)]
        c_name = w_name = None
        if cluster is not None:
            c_name = "__cluster__"
            frame[c_name] = np.asarray(cluster)
        if sample_weight is not None:
            w_name = "sample_weight"
            while w_name in frame.columns:
                w_name = f"_{w_name}"
            weight = np.asarray(sample_weight)
            if weight.ndim != 1 or len(weight) != len(frame):
                raise SpecificationError(
                    f"sample_weight must hold one weight per row ({len(frame)}); got shape {weight.shape}."
                )
            frame[w_name] = weight
        return self._fit_prepared(
            prepare(frame, outcome=y_name, treatment=t_name, covariates=covariates, cluster=c_name, weights=w_name)
        )

    def _fit_prepared(self, prep: Prepared) -> MetaLearner:
        self.level = check_level(self.level)
        clip = float(self.propensity_clip)
        if not 0.0 <= clip < 0.5:
            raise SpecificationError(f"propensity_clip must be in [0, 0.5), got {self.propensity_clip!r}.")
        t = prep.treatment
        assert t is not None
        if prep.covariates.k == 0:
            raise SpecificationError("a meta-learner needs at least one covariate (feature) for the CATE to vary with.")
        self.prepared_ = prep
        self.x_ = prep.covariates.to_array()
        self.y_, self.t_ = prep.outcome, t
        self.w_ = prep.weights
        self.n_ = len(t)
        self.feature_names_in_ = np.asarray(prep.covariates.names, dtype=object)
        self.seed_ = seed_from(self.random_state)
        if len(prep.clusters) > 1:
            raise SpecificationError(
                f"the meta-learners cluster one way; got cluster={list(prep.cluster_names)}. Give one column."
            )
        self.cluster_ = prep.clusters[0] if prep.clusters else None
        self.warnings_: list[str] = []
        self._cache: dict[str, Any] = {}
        self._fold_args = (self.folds, t, self.seed_, self.cluster_)
        if isinstance(self.folds, (int, np.integer)) and not isinstance(self.folds, bool):
            if self.folds != 0:
                check_positive_int(self.folds, "folds", minimum=2)
        else:
            self._cache["folds"] = _fold_array(*self._fold_args)  # labels or None: checked now
        self._check_weighted_learners()
        self._fit()
        return self

    def _weighted_specs(self) -> list[tuple[str, Any]]:
        """The (argument, learner) pairs this learner fits, for the sample-weight check."""
        spec = self.propensity_learner if self.propensity_learner is not None else _default_classifier(self.learner)
        return [("learner", self.learner), ("propensity_learner", spec), ("final_learner", self.final_learner)]

    def _check_weighted_learners(self) -> None:
        """With weights, refuse before fitting a learner whose fit() takes no sample_weight."""
        if self.w_ is None:
            return
        for argument, spec in self._weighted_specs():
            if isinstance(spec, str) or spec is None:
                continue  # the presets all take sample weights
            if not _takes_weights(spec):
                raise SpecificationError(
                    f"{argument} {type(spec).__name__!r} does not accept sample weights (its fit() has no "
                    f"sample_weight); drop sample_weight/weights=, or choose a {argument} whose fit() takes them."
                )

    def _fit(self) -> None:  # pragma: no cover - every learner defines it
        raise NotImplementedError

    @property
    def folds_(self) -> Folds | None:
        """The cross-fitting folds, split on first use (the S and T learners' fits need none)."""
        self._check_fitted()
        return self._cached("folds", lambda: _fold_array(*self._fold_args))

    def _check_fitted(self) -> None:
        if not hasattr(self, "seed_"):
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet; call fit(X, y, treatment) first.")

    def _regressor(self, spec: Any, argument: str, *key: Any) -> Learner:
        return make_learner(spec, kind="regressor", argument=argument, random_state=derive_seed(self.seed_, *key))

    def _outcome_learner(self, *key: Any) -> Learner:
        return self._regressor(self.learner, "learner", "outcome", *key)

    def _final(self, *key: Any) -> Learner:
        return self._regressor(self.final_learner, "final_learner", "final", *key)

    def _classifier(self) -> Learner:
        spec = self.propensity_learner if self.propensity_learner is not None else _default_classifier(self.learner)
        return make_learner(
            spec, kind="classifier", argument="propensity_learner", random_state=derive_seed(self.seed_, "propensity")
        )

    def _oof(self, learner: Learner, target: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        folds = self.folds_
        if folds is not None and self.w_ is None:
            # as DML: our least squares / logistic get every fold from one pass of per-fold sums (any other
            # learner, or a fold these decline, is fitted fold by fold, in parallel with n_jobs)
            from .learners.batch import Job, cross_fit_many

            return cross_fit_many([Job(learner, self.x_, target, folds, train_mask=mask)], n_jobs=self.n_jobs)[0]
        return cross_fit_predict(
            learner, self.x_, target, self.folds_, sample_weight=self.w_, train_mask=mask, n_jobs=self.n_jobs
        )

    def _fit_on(self, learner: Learner, target: np.ndarray, mask: np.ndarray | None = None, **kw: Any) -> Any:
        rows = slice(None) if mask is None else np.flatnonzero(mask)
        weight = kw.get("sample_weight", None if self.w_ is None else self.w_[rows])
        if weight is None:  # our least squares: the coefficients from one pass, nothing else
            from .learners.fast import ols_fitted

            fitted = ols_fitted(learner, self.x_, target, None if isinstance(rows, slice) else rows)
            if fitted is not None:
                return fitted
        return learner.fit(self.x_[rows], target[rows], weight)

    # -- nuisances (computed once, on first use) -------------------------------------------------
    def _cached(self, key: str, build: Any) -> Any:
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]

    def _outcomes(self) -> tuple[np.ndarray, np.ndarray]:
        """Cross-fitted mu_0 and mu_1 (the T-learner's models on the shared folds)."""

        def build() -> tuple[np.ndarray, np.ndarray]:
            treated = self.t_ == 1.0
            mu0 = self._oof(self._outcome_learner(0), self.y_, ~treated)
            mu1 = self._oof(self._outcome_learner(1), self.y_, treated)
            return mu0, mu1

        return self._cached("outcomes", build)

    def _propensity(self) -> np.ndarray:
        """Cross-fitted e(x), clipped to [clip, 1 - clip]; perfect or clipped predictions are said."""

        def build() -> np.ndarray:
            e = self._oof(self._classifier(), self.t_)
            return self._clip(e, "cross-fitted")

        return self._cached("propensity", build)

    def _clip(self, e: np.ndarray, what: str) -> np.ndarray:
        clip = max(float(self.propensity_clip), 1e-12)
        perfect = int(np.count_nonzero((e <= 1e-12) | (e >= 1.0 - 1e-12)))
        clipped = int(np.count_nonzero((e < clip) | (e > 1.0 - clip)))
        if perfect:
            message = (
                f"The {what} propensity model predicts a probability of exactly 0 or 1 for {perfect} of {len(e)} rows "
                "(treatment is perfectly predictable there: no overlap). They were clipped to "
                f"[{clip:g}, {1 - clip:g}]; effects there rest on extrapolation. Drop covariates that determine "
                "the treatment, or restrict the sample to where both arms occur."
            )
            self.warnings_.append(message)
            warn(message)
        self._cache.setdefault("clipped", {})[what] = clipped
        return np.clip(e, clip, 1.0 - clip)

    def _scores(self) -> tuple[np.ndarray, np.ndarray]:
        """The doubly robust scores phi_1 and phi_0 of every row (cross-fitted nuisances)."""
        mu0, mu1 = self._outcomes()
        e, d, y = self._propensity(), self.t_, self.y_
        return mu1 + d * (y - mu1) / e, mu0 + (1.0 - d) * (y - mu0) / (1.0 - e)

    @property
    def cate_oof_(self) -> np.ndarray:
        """Each training row's CATE from models that did not see it (the proxy of the heterogeneity tests)."""
        self._check_fitted()
        if self.folds_ is None:
            raise SpecificationError("the cross-fitted CATE needs folds; fit with folds=5 (or another number).")
        return self._cached("cate_oof", self._cate_oof)

    def _cate_oof(self) -> np.ndarray:  # pragma: no cover - every learner defines it
        raise NotImplementedError

    # -- results -----------------------------------------------------------------------------------
    def effect(self, X: Any) -> np.ndarray:
        """The CATE of each row of ``X`` (the features in the order they were fitted)."""
        self._check_fitted()
        x = np.asarray(X, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.x_.shape[1]:
            raise SpecificationError(
                f"X has shape {x.shape}; the learner was fitted on {self.x_.shape[1]} feature(s) "
                f"({', '.join(self.feature_names_in_)})."
            )
        return self._effect(x)

    def predict(self, X: Any) -> np.ndarray:
        """Alias of :meth:`effect` (scikit-learn's name)."""
        return self.effect(X)

    def _effect(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - every learner defines it
        raise NotImplementedError

    def _ate(self) -> tuple[float, float, list[str]]:
        """The ATE, its standard error and notes; by default the mean CATE without a standard error."""
        note = (
            f"The {self.label} gives no standard error for the average effect (NaN); use the dr-learner (AIPW) "
            "or the r-learner with a linear final stage for one."
        )
        return float(np.average(self._effect(self.x_), weights=self.w_)), float("nan"), [note]

    def ate(self, *, diagnostics: Any = None) -> Estimate:
        """The average treatment effect as an Estimate (standard error where the learner gives one)."""
        self._check_fitted()
        value, se, notes = self._ate()
        if math.isnan(value):
            raise DataError(f"the {self.label} gave a missing average effect; check the learners' predictions.")
        n_clusters = None if self.cluster_ is None else int(self.cluster_.max()) + 1
        if n_clusters is not None and not math.isnan(se):
            notes = [*notes, f"cluster-robust standard error ({n_clusters} clusters; folds of whole clusters)"]
        return make_estimate(
            self.prepared_,
            method=self.method,
            label=self.label,
            estimand="ATE",
            estimate=value,
            std_error=se,
            df=None,
            level=self.level,
            warnings=list(self.warnings_),
            notes=[*notes, *seed_note(self.random_state, self.seed_)],
            diagnostics=diagnostics,
            n_clusters=n_clusters if not math.isnan(se) else None,
        )

    def _se_of_mean(self, psi: np.ndarray) -> float:
        """The standard error of the mean of the centered influence values ``psi``: sqrt(sum psi^2) / n, or
        with clusters sqrt(sum_g (sum_{i in g} psi_i)^2) / n (Liang-Zeger, no small-sample factor). With
        weights ``psi`` is already scaled by w_i / mean(w)."""
        if self.cluster_ is None:
            return math.sqrt(float(psi @ psi)) / len(psi)
        per_cluster = np.bincount(self.cluster_, weights=psi)
        return math.sqrt(float(per_cluster @ per_cluster)) / len(psi)

    def heterogeneity(
        self, *, groups: int = 5, subgroups: Any = None, subgroup_name: str = "subgroup", covariates: Any = None
    ) -> Any:
        """BLP test, GATES, CLAN, subgroup effects and policy value of the cross-fitted CATE
        (:func:`deconfound.diagnostics.heterogeneity.heterogeneity`); CLAN compares the features."""
        import pandas as pd

        from ..diagnostics.heterogeneity import heterogeneity

        if self.w_ is not None:
            raise SpecificationError(
                f"the heterogeneity tests (BLP, GATES, CLAN) are not weighted; this {self.label} was fitted with "
                "sample weights. Fit it without weights for the tests."
            )

        s1, s0 = self._scores()
        full = self._effect(self.x_)
        proxy = full if np.ptp(full) <= 1e-12 * max(1.0, float(np.max(np.abs(full)))) else self.cate_oof_
        frame = covariates if covariates is not None else pd.DataFrame(self.x_, columns=list(self.feature_names_in_))
        return heterogeneity(
            proxy,
            s1,
            s0,
            covariates=frame,
            subgroups=subgroups,
            subgroup_name=subgroup_name,
            groups=groups,
            level=self.level,
            folds=None if proxy is full or self.folds_ is None else self.folds_.assignment,
        )
