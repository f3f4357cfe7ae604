"""The propensity-score 2x2 DiD blocks of Sant'Anna and Zhao (2020) for a panel: inverse probability
weighting (Abadie 2005, with normalized weights) and the doubly robust estimator, each with its
influence function (for the group-time estimator of Callaway and Sant'Anna 2021, which uses "dr" by
default in the R package `did`).

On one 2x2 (the units of one cohort and their comparison units, the outcome change ``dy`` between the
base period and period t, covariates ``z`` with an intercept, weights ``w`` of mean 1):

* the propensity score p(z) of belonging to the cohort is a logistic regression (frequency weights);
  scores are capped at 1 - 1e-6 and comparison units with p >= 0.995 are trimmed (as DRDID does);
* IPW: ATT = mean of dy over the cohort - the mean of dy over comparison units weighted by p / (1 - p);
* DR: the same with dy replaced by its residual from a weighted least-squares regression of dy on z among
  the comparison units (consistent if either model is right).

The influence functions carry the estimation of both nuisance models (the logistic score times the
inverse information, the least-squares score times (Z'WZ / n)^-1).
"""

from __future__ import annotations

import numpy as np

from .._core.design import Design
from .._core.logistic import fit_logistic

TRIM_LEVEL = 0.995
EST_METHODS = ("dr", "ipw", "reg")


class Singular(Exception):
    """A nuisance model that cannot be fitted on this 2x2 (collinear or constant covariates)."""


def _propensity(d: np.ndarray, z: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(capped scores, trimming indicator, the logistic score's linear representation n x k)."""
    names = ["const", *[f"z{i}" for i in range(1, z.shape[1])]]
    fit = fit_logistic(Design.from_matrix(z, names), d, w, what="the propensity model of a group-time cell")
    ps = 1.0 / (1.0 + np.exp(-(z @ fit.coef)))
    ps = np.minimum(ps, 1.0 - 1e-6)
    keep = np.where(d == 0, ps < TRIM_LEVEL, True)
    information = z.T @ ((w * ps * (1.0 - ps))[:, None] * z)
    if not np.isfinite(information).all() or np.linalg.cond(information) > 1e14:
        raise Singular()
    hessian = np.linalg.inv(information) * len(d)
    lin_rep = (w * (d - ps))[:, None] * z @ hessian
    return ps, keep.astype(float), lin_rep


def ipw_did(dy: np.ndarray, d: np.ndarray, z: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray]:
    """Normalized IPW DiD on one 2x2: ATT and its influence function."""
    ps, keep, lin_ps = _propensity(d, z, w)
    w_treat = keep * w * d
    w_cont = keep * w * ps * (1.0 - d) / (1.0 - ps)
    eta_treat = np.mean(w_treat * dy) / np.mean(w_treat)
    eta_cont = np.mean(w_cont * dy) / np.mean(w_cont)
    inf_treat = (w_treat * dy - w_treat * eta_treat) / np.mean(w_treat)
    m2 = np.mean((w_cont * (dy - eta_cont))[:, None] * z, axis=0)
    inf_cont = (w_cont * dy - w_cont * eta_cont + lin_ps @ m2) / np.mean(w_cont)
    return float(eta_treat - eta_cont), inf_treat - inf_cont


def dr_did(dy: np.ndarray, d: np.ndarray, z: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray]:
    """Doubly robust DiD on one 2x2 (Sant'Anna and Zhao 2020, the panel estimator): ATT and influence function."""
    n = len(dy)
    ps, keep, lin_ps = _propensity(d, z, w)
    w_ols = w * (1.0 - d)
    xtx = z.T @ (w_ols[:, None] * z)
    if np.linalg.cond(xtx) > 1e12:
        raise Singular()
    beta = np.linalg.solve(xtx, z.T @ (w_ols * dy))
    resid = dy - z @ beta
    lin_ols = (w_ols * resid)[:, None] * z @ np.linalg.inv(xtx / n)
    w_treat = keep * w * d
    w_cont = keep * w * ps * (1.0 - d) / (1.0 - ps)
    eta_treat = np.mean(w_treat * resid) / np.mean(w_treat)
    eta_cont = np.mean(w_cont * resid) / np.mean(w_cont)
    m1 = np.mean(w_treat[:, None] * z, axis=0)
    inf_treat = (w_treat * resid - w_treat * eta_treat - lin_ols @ m1) / np.mean(w_treat)
    m2 = np.mean((w_cont * (resid - eta_cont))[:, None] * z, axis=0)
    m3 = np.mean(w_cont[:, None] * z, axis=0)
    inf_cont = (w_cont * resid - w_cont * eta_cont + lin_ps @ m2 - lin_ols @ m3) / np.mean(w_cont)
    return float(eta_treat - eta_cont), inf_treat - inf_cont
