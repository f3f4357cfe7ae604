"""The 2x2 DiD blocks of Sant'Anna and Zhao (2020) for repeated cross-sections (and unbalanced panels read
as such), with covariates: outcome regression, normalized inverse probability weighting and the locally
efficient doubly robust estimator, each with its influence function per row.

On one 2x2 (rows of a cohort D = 1 and of its comparison group D = 0, observed in the base period (post = 0)
or in period t (post = 1); covariates ``z`` with an intercept; weights ``w`` of mean 1):

* reg: the treated's change in mean minus the change predicted for them by two least-squares regressions
  of y on z among the comparison rows, one per period;
* ipw: the treated's change in mean minus the comparison group's, its rows weighted by p / (1 - p) and
  normalized within each period (p the logistic propensity of D on z, capped and trimmed as in
  :mod:`._drdid`);
* dr: the IPW contrast of the residuals from the comparison regressions, plus the regressions' correction
  term that makes it locally efficient (regressions of y on z among the treated too, one per period).

Each influence function carries the estimation of the regressions (their score times (Z'WZ / n)^-1) and of
the propensity model (its score times the inverse information).
"""

from __future__ import annotations

import numpy as np

from ._drdid import Singular, _propensity


def _ols(y: np.ndarray, z: np.ndarray, w: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fitted values of a weighted least-squares regression of y on z over ``rows`` (0/1), and its linear
    representation (each row's influence on the coefficients, n x k)."""
    n = len(y)
    wr = w * rows
    xtx = z.T @ (wr[:, None] * z) / n
    if np.count_nonzero(wr > 0) < z.shape[1] or not np.isfinite(xtx).all() or np.linalg.cond(xtx) > 1e12:
        raise Singular()
    inv = np.linalg.inv(xtx)
    beta = inv @ (z.T @ (wr * y) / n)
    fitted = z @ beta
    return fitted, (wr * (y - fitted))[:, None] * z @ inv


def _ratio(a: np.ndarray, h: np.ndarray) -> tuple[float, np.ndarray]:
    """mean(a h) / mean(a) and its own influence term (a h - a mu) / mean(a)."""
    scale = float(np.mean(a))
    if scale <= 0:
        raise Singular()
    mu = float(np.mean(a * h)) / scale
    return mu, (a * h - a * mu) / scale


def reg_did_rc(y: np.ndarray, post: np.ndarray, d: np.ndarray, z: np.ndarray, w: np.ndarray):
    """Outcome-regression DiD on one repeated-cross-section 2x2: ATT and its influence function."""
    m_pre, lin_pre = _ols(y, z, w, (1 - d) * (1 - post))
    m_post, lin_post = _ols(y, z, w, (1 - d) * post)
    w_t = w * d
    mu_tpost, inf_tpost = _ratio(w_t * post, y)
    mu_tpre, inf_tpre = _ratio(w_t * (1 - post), y)
    mu_c, inf_c = _ratio(w_t, m_post - m_pre)
    moment = np.mean(w_t[:, None] * z, axis=0) / np.mean(w_t)
    inf_c = inf_c + lin_post @ moment - lin_pre @ moment
    return mu_tpost - mu_tpre - mu_c, inf_tpost - inf_tpre - inf_c


def ipw_did_rc(y: np.ndarray, post: np.ndarray, d: np.ndarray, z: np.ndarray, w: np.ndarray):
    """Normalized IPW DiD on one repeated-cross-section 2x2: ATT and its influence function."""
    ps, keep, lin_ps = _propensity(d, z, w)
    odds = ps / (1.0 - ps)
    parts = {}
    for name, a in (
        ("tpost", keep * w * d * post),
        ("tpre", keep * w * d * (1 - post)),
        ("cpost", keep * w * odds * (1 - d) * post),
        ("cpre", keep * w * odds * (1 - d) * (1 - post)),
    ):
        parts[name] = (a, *_ratio(a, y))
    att = (parts["tpost"][1] - parts["tpre"][1]) - (parts["cpost"][1] - parts["cpre"][1])

    def score_term(name: str) -> np.ndarray:  # d (weighted mean) / d (logit coefficients): the weights move with p
        a, mu, _ = parts[name]
        return np.mean((a * (y - mu))[:, None] * z, axis=0) / np.mean(a)

    inf_t = parts["tpost"][2] - parts["tpre"][2]
    inf_c = parts["cpost"][2] - parts["cpre"][2] + lin_ps @ (score_term("cpost") - score_term("cpre"))
    return att, inf_t - inf_c


def dr_did_rc(y: np.ndarray, post: np.ndarray, d: np.ndarray, z: np.ndarray, w: np.ndarray):
    """Locally efficient doubly robust DiD on one repeated-cross-section 2x2: ATT and its influence function."""
    ps, keep, lin_ps = _propensity(d, z, w)
    odds = ps / (1.0 - ps)
    c_pre, lin_c_pre = _ols(y, z, w, (1 - d) * (1 - post))
    c_post, lin_c_post = _ols(y, z, w, (1 - d) * post)
    t_pre, lin_t_pre = _ols(y, z, w, d * (1 - post))
    t_post, lin_t_post = _ols(y, z, w, d * post)
    c_fit = post * c_post + (1 - post) * c_pre
    resid = y - c_fit
    a_tpost, a_tpre = keep * w * d * post, keep * w * d * (1 - post)
    a_cpost = keep * w * odds * (1 - d) * post
    a_cpre = keep * w * odds * (1 - d) * (1 - post)
    a_d = keep * w * d
    mu_tpost, inf_tpost = _ratio(a_tpost, resid)
    mu_tpre, inf_tpre = _ratio(a_tpre, resid)
    mu_cpost, inf_cpost = _ratio(a_cpost, resid)
    mu_cpre, inf_cpre = _ratio(a_cpre, resid)
    gap_post, gap_pre = t_post - c_post, t_pre - c_pre
    mu_dpost, inf_dpost = _ratio(a_d, gap_post)
    mu_d1, inf_d1 = _ratio(a_tpost, gap_post)
    mu_dpre, inf_dpre = _ratio(a_d, gap_pre)
    mu_d0, inf_d0 = _ratio(a_tpre, gap_pre)
    att = (mu_tpost - mu_tpre) - (mu_cpost - mu_cpre) + (mu_dpost - mu_d1) - (mu_dpre - mu_d0)

    def mean_z(a: np.ndarray) -> np.ndarray:
        return np.mean(a[:, None] * z, axis=0) / np.mean(a)

    # the residual y - c_fit moves with the comparison regressions (each in its own period's rows)
    treat_or = -lin_c_post @ mean_z(a_tpost) + lin_c_pre @ mean_z(a_tpre)
    cont_or = -lin_c_post @ mean_z(a_cpost) + lin_c_pre @ mean_z(a_cpre)
    m2_post = np.mean((a_cpost * (resid - mu_cpost))[:, None] * z, axis=0) / np.mean(a_cpost)
    m2_pre = np.mean((a_cpre * (resid - mu_cpre))[:, None] * z, axis=0) / np.mean(a_cpre)
    cont_ps = lin_ps @ (m2_post - m2_pre)
    # the efficiency term moves with the treated and comparison regressions
    mom_post = mean_z(a_d) - mean_z(a_tpost)
    mom_pre = mean_z(a_d) - mean_z(a_tpre)
    eff_or = (lin_t_post - lin_c_post) @ mom_post - (lin_t_pre - lin_c_pre) @ mom_pre
    inf_treat = inf_tpost - inf_tpre + treat_or
    inf_cont = inf_cpost - inf_cpre + cont_ps + cont_or
    inf_eff = (inf_dpost - inf_d1) - (inf_dpre - inf_d0)
    return att, inf_treat - inf_cont + inf_eff + eff_or
