"""The numbers of double machine learning once the nuisances are cross-fitted: scores, estimates,
standard errors (plain and clustered) and the aggregation over repeated sample splits.

Every model here has a score linear in the effect, psi = psi_a * theta + psi_b (Chernozhukov et al.
2018), so for one repetition (the "DML2" estimator, as DoubleML)

    theta = -mean(psi_b) / mean(psi_a),    se = sqrt( mean(psi^2) / (n * mean(psi_a)^2) ).

With clusters (one way; folds made of whole clusters) the means are taken fold by fold over the
clusters of the fold, as DoubleML's cluster data does: with I_k the test clusters of fold k and K folds,

    theta = -sum_k |I_k|^-1 sum_{i in k} psi_b,i / sum_k |I_k|^-1 sum_{i in k} psi_a,i
    J = K^-1 sum_k |I_k|^-1 sum_{i in k} psi_a,i,    Gamma = K^-1 sum_k |I_k|^-1 sum_{c in I_k} (sum_{i in c} psi_i)^2
    se = sqrt( Gamma / (G J^2) )      (G clusters).

With two-way clusters (folds are the K x K cells of the product of the two cluster splits, I_k the first
clusters of cell kl and J_l its second clusters; training rows share neither), as DoubleML's multiway
cluster data: each cell's sums are weighted by c_kl = 1 / (|I_k| |J_l|),

    theta = -sum_kl c_kl sum_{i in kl} psi_b,i / sum_kl c_kl sum_{i in kl} psi_a,i,
    J = K^-2 sum_kl c_kl sum_{i in kl} psi_a,i,
    Gamma = K^-2 sum_kl min(|I_k|, |J_l|) c_kl^2 [sum_{g in I_k} (sum_{i in kl, first = g} psi_i)^2
                                                 + sum_{h in J_l} (sum_{i in kl, second = h} psi_i)^2]
    se = sqrt( Gamma / (min(G, H) J^2) )      (G, H clusters of each variable).

Repetitions are aggregated as DoubleML (0.10 and later) does: the median of the estimates, and the
standard error that makes the median of the upper 95% bounds theta_r + 1.96 se_r the aggregated upper
bound. :func:`paper_se` gives the formula of the original paper, median of sqrt(se_r^2 + (theta_r -
theta)^2), for reference.

Score elements of each model (m: propensity or E[D|X], clipped to [c, 1-c] where a probability divides):

* PLR partialling out: psi_a = -(d - m)^2, psi_b = (d - m)(y - l); IV-type: psi_a = -(d - m) d,
  psi_b = (d - m)(y - g) with g fitted on y - theta0 d (theta0 from partialling out).
* IRM ATE: psi_a = -1, psi_b = g1 - g0 + d (y - g1)/m - (1 - d)(y - g0)/(1 - m);
  ATT: with p = mean(d), psi_a = -d/p / mean(d/p), psi_b = d/p (g1 - g0) + m/p [d (y - g1)/m - (1 - d)(y - g0)/(1 - m)]
  (the g1 terms cancel, so g1 is not fitted for the ATT).
* PLIV: psi_a = -(d - r)(z - m), psi_b = (z - m)(y - l); IV-type: psi_a = -(z - m) d, psi_b = (z - m)(y - g).
* IIVM (LATE): psi_b = g1 - g0 + z (y - g1)/m - (1 - z)(y - g0)/(1 - m),
  psi_a = -[r1 - r0 + z (d - r1)/m - (1 - z)(d - r0)/(1 - m)].

With ``normalize_ipw`` the propensity is replaced by the one that makes the inverse weights average to
one in each arm (Hajek), as DoubleML's ``normalize_ipw`` (for the IIVM we normalize with the instrument,
whose probability m is; DoubleML normalizes with the treatment there).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import DataError

#: DoubleML's critical value for aggregating the repetitions' upper bounds
AGGREGATION_Z = 1.96


@dataclass(frozen=True)
class RepResult:
    """One repetition: the estimate, its standard error and the per-fold estimates."""

    theta: float
    se: float
    fold_thetas: np.ndarray


def normalized(m: np.ndarray, arm: np.ndarray) -> np.ndarray:
    """The propensity whose inverse weights average to one within each arm (DoubleML's normalize_ipw)."""
    mean1 = np.mean(arm / m)
    mean0 = np.mean((1.0 - arm) / (1.0 - m))
    return arm * (m * mean1) + (1.0 - arm) * (1.0 - (1.0 - m) * mean0)


def plr(y, d, l_hat, m_hat, g_hat, score: str) -> tuple[np.ndarray, np.ndarray]:
    v = d - m_hat
    if score == "IV-type":
        return -(v * d), v * (y - g_hat)
    return -(v * v), v * (y - l_hat)


def initial_theta(y, d, l_hat, m_hat) -> float:
    """The partialling-out estimate that the IV-type score's g is fitted with (y - theta0 d)."""
    v = d - m_hat
    return float(-np.mean(v * (y - l_hat)) / np.mean(-(v * v)))


def irm(y, d, g0, g1, m, estimand: str) -> tuple[np.ndarray, np.ndarray]:
    u0 = y - g0
    if estimand == "ATE":
        u1 = y - g1
        psi_b = g1 - g0 + d * u1 / m - (1.0 - d) * u0 / (1.0 - m)
        return -np.ones_like(y), psi_b
    # ATT: g1 cancels (d/p * g1 - m/p * d g1/m = 0), so it enters as zero
    p = np.mean(d)
    w = d / p
    w_bar = m / p
    psi_b = w * (-g0) + w_bar * (d * y / m - (1.0 - d) * u0 / (1.0 - m))
    return -(w / np.mean(w)), psi_b


def pliv(y, z, d, l_hat, m_hat, r_hat, g_hat, score: str) -> tuple[np.ndarray, np.ndarray]:
    v = z - m_hat
    if score == "IV-type":
        return -(v * d), v * (y - g_hat)
    return -((d - r_hat) * v), v * (y - l_hat)


def initial_theta_iv(y, z, d, l_hat, m_hat, r_hat) -> float:
    v = z - m_hat
    return float(-np.mean(v * (y - l_hat)) / np.mean(-((d - r_hat) * v)))


def iivm(y, z, d, g0, g1, m, r0, r1) -> tuple[np.ndarray, np.ndarray]:
    psi_b = g1 - g0 + z * (y - g1) / m - (1.0 - z) * (y - g0) / (1.0 - m)
    psi_a = -(r1 - r0 + z * (d - r1) / m - (1.0 - z) * (d - r0) / (1.0 - m))
    return psi_a, psi_b


def _check_jacobian(mean_a: float, scale: float, what: str) -> None:
    if not np.isfinite(mean_a) or abs(mean_a) <= 1e-12 * max(scale, 1e-300):
        raise DataError(
            f"The DML score has no information about the effect: {what}. The effect is not identified on these "
            "data; check that the treatment varies given the covariates, and use fewer folds or another learner."
        )


def solve(
    psi_a: np.ndarray,
    psi_b: np.ndarray,
    fold: np.ndarray,
    k: int,
    cluster: np.ndarray | None,
    what: str,
    cluster2: np.ndarray | None = None,
) -> RepResult:
    """The estimate and standard error of one repetition (``fold``: each row's fold; ``cluster``: codes;
    ``cluster2``: the second variable's codes, two-way, with ``k`` = K^2 cells numbered k1 * K + k2)."""
    counts = np.bincount(fold, minlength=k).astype(np.float64)
    sum_a = np.bincount(fold, weights=psi_a, minlength=k)
    sum_b = np.bincount(fold, weights=psi_b, minlength=k)
    with np.errstate(divide="ignore", invalid="ignore"):
        fold_thetas = -sum_b / sum_a
    scale = float(np.mean(np.abs(psi_a))) + float(np.mean(np.abs(psi_b)))
    if cluster is None:
        mean_a = float(np.mean(psi_a))
        _check_jacobian(mean_a, scale, what)
        theta = float(-np.mean(psi_b) / mean_a)
        psi = psi_a * theta + psi_b
        se = float(np.sqrt(np.mean(psi * psi) / (len(psi) * mean_a**2)))
        return RepResult(theta, se, fold_thetas)
    if cluster2 is not None:
        return _solve_two_way(psi_a, psi_b, fold, k, cluster, cluster2, fold_thetas, scale, what)
    # clusters per fold: |I_k|
    g = int(cluster.max()) + 1
    fold_of_cluster = np.zeros(g, dtype=np.int64)
    fold_of_cluster[cluster] = fold
    n_clusters_fold = np.bincount(fold_of_cluster, minlength=k).astype(np.float64)
    del counts
    a = float(np.sum(sum_a / n_clusters_fold))
    _check_jacobian(a / k, scale, what)
    theta = float(-np.sum(sum_b / n_clusters_fold) / a)
    psi = psi_a * theta + psi_b
    per_cluster = np.bincount(cluster, weights=psi, minlength=g)
    gamma = float(np.sum(per_cluster**2 / n_clusters_fold[fold_of_cluster])) / k
    jac = a / k
    se = float(np.sqrt(gamma / (g * jac**2)))
    return RepResult(theta, se, fold_thetas)


@dataclass(frozen=True)
class TwoWayCells:
    """The cells of a two-way split: ``side`` folds of each variable, the weights c_kl = 1 / (|I_k| |J_l|)
    of the K x K cells, and the clusters of each variable (G, H)."""

    side: int
    c: np.ndarray
    n1: np.ndarray
    n2: np.ndarray
    fold1: np.ndarray
    fold2: np.ndarray

    @classmethod
    def of(cls, cell: np.ndarray, k: int, first: np.ndarray, second: np.ndarray) -> TwoWayCells:
        side = math.isqrt(k)
        k1, k2 = np.divmod(cell, side)
        fold1 = np.zeros(int(first.max()) + 1, dtype=np.int64)
        fold1[first] = k1
        fold2 = np.zeros(int(second.max()) + 1, dtype=np.int64)
        fold2[second] = k2
        n1 = np.bincount(fold1, minlength=side).astype(np.float64)  # |I_k|
        n2 = np.bincount(fold2, minlength=side).astype(np.float64)  # |J_l|
        cells = np.arange(k)
        return cls(side, 1.0 / (n1[cells // side] * n2[cells % side]), n1, n2, fold1, fold2)

    def gamma(self, psi: np.ndarray, cell: np.ndarray, first: np.ndarray, second: np.ndarray) -> float:
        """Gamma of the two-way variance (see the module's docstring) of the score ``psi``."""
        side = self.side
        k1, k2 = np.divmod(cell, side)
        g, h = len(self.fold1), len(self.fold2)
        cells = np.arange(side * side)
        weight = np.minimum(self.n1[cells // side], self.n2[cells % side]) * self.c**2  # min(|I|,|J|)/(|I||J|)^2
        by_first = np.bincount(first * side + k2, weights=psi, minlength=g * side)  # (first cluster, its cell)
        by_second = np.bincount(second * side + k1, weights=psi, minlength=h * side)
        cell_first = self.fold1[np.arange(g * side) // side] * side + np.arange(g * side) % side
        cell_second = (np.arange(h * side) % side) * side + self.fold2[np.arange(h * side) // side]
        return float(np.sum(weight[cell_first] * by_first**2) + np.sum(weight[cell_second] * by_second**2)) / side**2


def _solve_two_way(psi_a, psi_b, cell, k, first, second, fold_thetas, scale: float, what: str) -> RepResult:
    cells = TwoWayCells.of(cell, k, first, second)
    c, side = cells.c, cells.side
    a = float(np.sum(c * np.bincount(cell, weights=psi_a, minlength=k)))
    jac = a / side**2
    _check_jacobian(jac, scale, what)
    theta = float(-np.sum(c * np.bincount(cell, weights=psi_b, minlength=k)) / a)
    psi = psi_a * theta + psi_b
    gamma = cells.gamma(psi, cell, first, second)
    se = float(np.sqrt(gamma / (min(len(cells.fold1), len(cells.fold2)) * jac**2)))
    return RepResult(theta, se, fold_thetas)


def scaled_variance(
    psi: np.ndarray, fold: np.ndarray, cluster: np.ndarray | None, cluster2: np.ndarray | None
) -> float:
    """The variance of the mean of a scaled score (influence function, derivative one), as DoubleML's
    ``_var_est`` with ``psi_deriv = 1``: plain, one-way or two-way clustered (the folds' weights above)."""
    if cluster is None:
        return float(np.mean(psi * psi)) / len(psi)
    k = int(fold.max()) + 1
    if cluster2 is not None:
        cells = TwoWayCells.of(fold, k, cluster, cluster2)
        jac = float(np.sum(cells.c * np.bincount(fold, minlength=k))) / cells.side**2
        gamma = cells.gamma(psi, fold, cluster, cluster2)
        return gamma / (min(len(cells.fold1), len(cells.fold2)) * jac * jac)
    g = int(cluster.max()) + 1
    fold_of_cluster = np.zeros(g, dtype=np.int64)
    fold_of_cluster[cluster] = fold
    per_fold = np.bincount(fold_of_cluster, minlength=k).astype(float)
    rows = np.bincount(fold, minlength=k).astype(float)
    jac = float(np.sum(rows / per_fold)) / k
    sums = np.bincount(cluster, weights=psi, minlength=g)
    gamma = float(np.sum(sums**2 / per_fold[fold_of_cluster])) / k
    return gamma / (g * jac * jac)


def aggregate(thetas: np.ndarray, ses: np.ndarray) -> tuple[float, float]:
    """DoubleML's aggregation over repetitions: median estimate, SE from the median upper bound."""
    theta = float(np.median(thetas))
    upper = float(np.median(thetas + AGGREGATION_Z * ses))
    return theta, (upper - theta) / AGGREGATION_Z


def paper_se(thetas: np.ndarray, ses: np.ndarray) -> float:
    """The median-based standard error of Chernozhukov et al. (2018, eq. 3.7 adapted to the median)."""
    theta = np.median(thetas)
    return float(np.median(np.sqrt(ses**2 + (thetas - theta) ** 2)))


# --------------------------------------------------------------------------------------------------
# omitted-variable-bias elements (Chernozhukov, Cinelli, Newey, Sharma and Syrgkanis 2022)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)  # arrays inside: compared by identity
class SensitivityElements:
    """What the DML omitted-variable-bias bounds need from one fit, per repetition (columns of the arrays).

    ``sigma2`` is the residual variance of the outcome regression, E[(Y - g(D, X))^2]; ``nu2`` the second
    moment of the Riesz representer alpha (PLR: (D - m) / E[(D - m)^2]; IRM ATE: D/m - (1 - D)/(1 - m);
    IRM ATT: (m / p) [D/m - (1 - D)/(1 - m)] with p = P(D = 1)), estimated as E[2 m(W, alpha) - alpha^2].
    ``psi_sigma2`` and ``psi_nu2`` are their influence functions, ``psi_scaled`` the effect's score divided
    by the mean of psi_a (its influence function). ``folds`` (repetitions x rows), ``cluster`` and
    ``cluster2`` (two-way) give the clustered variance of the bounds. ``var_y`` is the outcome's variance
    (the benchmark's nonparametric R-squared). As JSON only the scalars are kept."""

    model: str
    thetas: np.ndarray
    sigma2: np.ndarray
    nu2: np.ndarray
    psi_scaled: np.ndarray
    psi_sigma2: np.ndarray
    psi_nu2: np.ndarray
    var_y: float
    folds: np.ndarray
    cluster: np.ndarray | None = None
    cluster2: np.ndarray | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "model": self.model,
            "sigma2": [float(v) for v in self.sigma2],
            "nu2": [float(v) for v in self.nu2],
            "var_y": float(self.var_y),
        }


def sensitivity_rep(
    model: str, score: str, y, d, p: dict[str, np.ndarray], m_adj: np.ndarray | None, theta: float, psi_a, psi_b
) -> tuple[float, float, np.ndarray, np.ndarray, np.ndarray]:
    """(sigma2, nu2, psi_sigma2, psi_nu2, psi_scaled) of one repetition of a PLR or IRM (ATE, ATT) fit.

    For the IRM, DoubleML's weights: the ATE has omega = omega_bar = 1; the ATT omega = D / p and
    omega_bar = m / p (p the share treated, m the clipped or normalized propensity), with
    m(W, alpha) = omega omega_bar [1/m + 1/(1 - m)] and alpha = omega_bar [D/m - (1 - D)/(1 - m)]."""
    if model == "plr":
        v = d - p["ml_m"]
        if score == "IV-type":
            resid2 = (y - p["ml_g"] - theta * d) ** 2
        else:
            resid2 = (y - p["ml_l"] - theta * v) ** 2
        nu2 = 1.0 / float(np.mean(v * v))
        psi_nu2 = nu2 - v * v * nu2**2
    else:
        assert m_adj is not None
        resid2 = (y - d * p["ml_g1"] - (1.0 - d) * p["ml_g0"]) ** 2
        if score == "ATT":
            share = float(np.mean(d))
            weights, weights_bar = d / share, m_adj / share
        else:
            weights = weights_bar = np.ones_like(d)
        m_alpha = weights * weights_bar * (1.0 / m_adj + 1.0 / (1.0 - m_adj))
        rr = weights_bar * (d / m_adj - (1.0 - d) / (1.0 - m_adj))
        element = 2.0 * m_alpha - rr * rr
        nu2 = float(np.mean(element))
        psi_nu2 = element - nu2
    sigma2 = float(np.mean(resid2))
    psi = psi_a * theta + psi_b
    return sigma2, nu2, resid2 - sigma2, psi_nu2, psi / float(np.mean(psi_a))
