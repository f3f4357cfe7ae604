"""Cross-fitting the nuisances of a DML model and turning them into the estimate of each repetition.

A :class:`Plan` lists the nuisances of one model (name, target, learner, the rows it is trained on) for
one repetition's folds. :func:`fit_model` cross-fits all of them for every repetition in one batch of
tasks (:func:`~deconfound.estimators.learners.batch.cross_fit_many`: folds, nuisances and repetitions run
in parallel with ``n_jobs``), then the second stage where the score needs it (the IV-type score's g is
fitted on y - theta0 d, theta0 from the first stage), clips the propensities and solves the score of
each repetition (:mod:`._dml_scores`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import DataError
from . import _dml_scores as scores
from ._dml_quality import Nuisance
from .learners.batch import Job, cross_fit_many
from .learners.folds import Folds
from .learners.presets import Learner


@dataclass(frozen=True)
class Spec:
    """One nuisance: its name, learner, target and training rows (None: all), and how the quality table
    describes it."""

    name: str
    learner: Learner
    target: np.ndarray
    train_mask: np.ndarray | None
    words: str

    @property
    def probability(self) -> bool:
        return self.learner.kind == "classifier"


@dataclass
class Data:
    """The arrays of one DML estimate (``z`` the instrument, ``cluster`` codes or None)."""

    y: np.ndarray
    d: np.ndarray
    x: np.ndarray
    z: np.ndarray | None = None
    cluster: np.ndarray | None = None
    cluster2: np.ndarray | None = None  # the second cluster variable (two-way)


@dataclass
class Fitted:
    """What the fit leaves for the result."""

    thetas: np.ndarray
    ses: np.ndarray
    fold_thetas: np.ndarray
    nuisances: list[Nuisance]
    targets: dict[str, np.ndarray]
    preds: dict[str, list[np.ndarray]]
    n_clipped: float = 0.0
    theta_initial: list[float] = field(default_factory=list)
    sensitivity: scores.SensitivityElements | None = None


def _nuisance(spec: Spec) -> Nuisance:
    return Nuisance(spec.name, spec.learner.name, spec.words, spec.probability, spec.train_mask)


def _clip(m: np.ndarray, threshold: float, argument: str) -> tuple[np.ndarray, int]:
    n_out = int(np.count_nonzero((m < threshold) | (m > 1.0 - threshold)))
    if threshold <= 0.0 and np.any((m <= 0.0) | (m >= 1.0)):
        raise DataError(
            f"{argument} predicts probabilities of exactly 0 or 1 for {int(np.count_nonzero((m <= 0) | (m >= 1)))} "
            "row(s), whose inverse weights are infinite. Set trimming_threshold > 0 (default 0.01), or use a "
            "smoother learner."
        )
    return np.clip(m, threshold, 1.0 - threshold), n_out


#: out-of-fold residual variance below this share of the target's variance: a perfect prediction
PERFECT = 1e-4


def _check_not_perfect(model: str, target: np.ndarray, preds: list[np.ndarray]) -> None:
    """Refuse a treatment (or instrument) that the covariates predict perfectly - almost all its variance
    explained, or a binary one whose out-of-fold scores separate the two groups - nothing is left to compare."""
    var = float(np.var(target))
    worst = max(float(np.mean((target - p) ** 2)) for p in preds)
    binary = bool(np.all((target == 0.0) | (target == 1.0)))
    separated = binary and any(float(np.max(p[target == 0.0])) < float(np.min(p[target == 1.0])) for p in preds)
    if var > 0 and (worst < PERFECT * var or separated):
        what = "instrument" if model in ("pliv", "iivm") else "treatment"
        how = "its scores separate the two groups" if separated else f"it leaves {worst / var:.1e} of the variance"
        raise DataError(
            f"The covariates predict the {what} perfectly out of fold (ml_m: {how}): there are no comparable rows "
            f"with another {what} value (no overlap), so the effect is not identified. Remove covariates that "
            f"encode the {what}, or estimate the effect where overlap holds."
        )


def _run(specs: list[tuple[int, Spec]], x: np.ndarray, folds: list[Folds], n_jobs, message: str) -> list[np.ndarray]:
    many = len(folds) > 1
    jobs = [
        Job(s.learner, x, s.target, folds[r], s.train_mask, f"repetition {r + 1}" if many else "") for r, s in specs
    ]
    return cross_fit_many(jobs, n_jobs=n_jobs, message=message)


def fit_model(
    model: str,
    data: Data,
    specs: list[Spec],
    folds: list[Folds],
    *,
    score: str,
    second: Spec | None,
    trimming_threshold: float,
    normalize_ipw: bool,
    n_jobs: int | None,
    what: str,
) -> Fitted:
    """Cross-fit ``specs`` on every repetition's folds (and ``second``, the IV-type g, after them) and
    solve the score of each repetition."""
    reps = len(folds)
    k = folds[0].k
    first = [(r, s) for r in range(reps) for s in specs]
    out = _run(first, data.x, folds, n_jobs, f"cross-fitting {len(specs)} nuisances: {k} folds x {reps} repetitions")
    preds: dict[str, list[np.ndarray]] = {s.name: [] for s in specs}
    for (_, s), p in zip(first, out):
        preds[s.name].append(p)
    targets = {s.name: s.target for s in specs}
    _check_not_perfect(model, targets["ml_m"], preds["ml_m"])
    nuisances = [_nuisance(s) for s in specs]
    theta0: list[float] = []
    if second is not None:  # IV-type: g fitted on y - theta0 d, theta0 from partialling out on this repetition
        y, d = data.y, data.d
        for r in range(reps):
            if model == "plr":
                theta0.append(scores.initial_theta(y, d, preds["ml_l"][r], preds["ml_m"][r]))
            else:
                assert data.z is not None
                theta0.append(
                    scores.initial_theta_iv(y, data.z, d, preds["ml_l"][r], preds["ml_m"][r], preds["ml_r"][r])
                )
        adjusted = [(r, Spec(second.name, second.learner, y - theta0[r] * d, None, second.words)) for r in range(reps)]
        preds[second.name] = _run(adjusted, data.x, folds, n_jobs, "cross-fitting the IV-type outcome model")
        targets[second.name] = y - float(np.median(theta0)) * d
        nuisances.append(_nuisance(second))
    thetas, ses, fold_thetas, clipped = [], [], [], []
    bias_parts: list[tuple[float, float, np.ndarray, np.ndarray, np.ndarray]] = []
    # the omitted-variable-bias elements: PLR, IRM ATE, and IRM ATT when E[Y | X, D = 1] was fitted (fit_g1)
    with_bounds = model == "plr" or (model == "irm" and (score == "ATE" or "ml_g1" in preds))
    for r in range(reps):
        current = {name: p[r] for name, p in preds.items()}
        psi_a, psi_b, n_clip, m_adj = _score(model, data, current, score, trimming_threshold, normalize_ipw)
        clipped.append(n_clip)
        res = scores.solve(psi_a, psi_b, folds[r].assignment, k, data.cluster, what, data.cluster2)
        thetas.append(res.theta)
        ses.append(res.se)
        fold_thetas.append(res.fold_thetas)
        if with_bounds:
            bias_parts.append(
                scores.sensitivity_rep(model, score, data.y, data.d, current, m_adj, res.theta, psi_a, psi_b)
            )
    elements = None
    if with_bounds:
        sigma2, nu2, psi_s, psi_n, psi_scaled = (list(x) for x in zip(*bias_parts))
        elements = scores.SensitivityElements(
            model,
            np.asarray(thetas),
            np.asarray(sigma2),
            np.asarray(nu2),
            np.column_stack(psi_scaled),
            np.column_stack(psi_s),
            np.column_stack(psi_n),
            float(np.var(data.y)),
            np.vstack([f.assignment for f in folds]),
            data.cluster,
            data.cluster2,
        )
    return Fitted(
        np.asarray(thetas),
        np.asarray(ses),
        np.vstack(fold_thetas),
        nuisances,
        targets,
        preds,
        float(np.mean(clipped)),
        theta0,
        elements,
    )


def _score(model: str, data: Data, p: dict[str, np.ndarray], score: str, threshold: float, normalize: bool) -> Any:
    y, d, z = data.y, data.d, data.z
    if model == "plr":
        psi_a, psi_b = scores.plr(y, d, p["ml_l"], p["ml_m"], p.get("ml_g"), score)
        return psi_a, psi_b, 0, None
    if model == "pliv":
        psi_a, psi_b = scores.pliv(y, z, d, p["ml_l"], p["ml_m"], p["ml_r"], p.get("ml_g"), score)
        return psi_a, psi_b, 0, None
    m, n_clip = _clip(p["ml_m"], threshold, "ml_m")
    if model == "irm":
        if normalize:
            m = scores.normalized(m, d)
        g1 = p.get("ml_g1", np.zeros_like(y))
        psi_a, psi_b = scores.irm(y, d, p["ml_g0"], g1, m, score)
        return psi_a, psi_b, n_clip, m
    assert z is not None
    if normalize:
        m = scores.normalized(m, z)
    r0 = p.get("ml_r0", np.zeros_like(d))
    r1 = p.get("ml_r1", np.ones_like(d))
    psi_a, psi_b = scores.iivm(y, z, d, p["ml_g0"], p["ml_g1"], m, r0, r1)
    return psi_a, psi_b, n_clip, None
