"""Sampling weights for matching (``matching(..., weights=)``): the matched estimate and its Abadie-Imbens
standard error when each row stands for s_i units of the population it was drawn from.

Stata's ``teffects nnmatch`` and ``teffects psmatch`` take frequency weights only (``fweights=`` here, see
:mod:`._fweights`): no pweights. What is implemented for sampling weights is the natural weighted
matching estimator (the treated's survey weight carried to its matches, as studied by Austin, Jembere and
Chiu 2018 for the ATT), with these conventions:

* the matching does not use the weights: every row is one observation of the outcome's conditional
  distribution, so neighbours, ties, calipers, exact cells and the number of matches are those of the
  unweighted call (the propensity model is fitted with the weights, as for ``ipw``);
* each target i (treated for the ATT, controls for the ATC, every unit for the ATE) gets its unit-level
  effect tau_i = observed minus imputed outcome, exactly as unweighted, and the estimate is their
  weighted mean, tau = sum_i s_i tau_i / S with S = sum_i s_i over the matched targets;
* so a unit k used as a match enters with the weight L_k = sum over the targets i it serves of s_i w_ik
  (w_ik: its share of i's matches, 1/M without ties) -- the weighted version of K_M(k)/M;
* the variance is Abadie and Imbens' (2006) with these weights. Conditionally on the covariates and the
  treatment tau is linear in the outcomes, sum_k c_k Y_k with c_k = (1{k target} s_k + L_k) / S, so its
  conditional variance is sum_k c_k^2 sigma_k^2; adding the spread of the targets' conditional effects
  (a weighted mean's linearisation, sum_i s_i^2 (tau(X_i) - tau)^2 / S^2) and estimating both from the
  unit-level effects as Abadie and Imbens do gives

      V = [ sum_i s_i^2 (tau_i - tau)^2
            + sum_k (2 1{k target} s_k L_k + L_k^2 - Q_k) sigma_k^2 ] / S^2,

  with Q_k = sum over the targets i that k serves of (s_i w_ik)^2 and sigma_k^2 the conditional variances
  from same-group neighbours (unweighted: a local variance is a property of the conditional distribution).
  With every s_i = 1 this is term for term the unweighted formula (L_k = K_k/M, Q_k = K_k/M^2); scaling
  every weight by a constant changes neither the estimate nor V.
* The Abadie-Imbens (2016) adjustment for the estimated score is derived for unweighted samples and is
  not applied: the standard error treats the score as known (a note on the result says so).

When it estimates the population effect: the imputations target the outcome's conditional means given
the matching variables, so these must be the same in the sample as in the population (the sampling
depends on the covariates and the treatment only). On the covariates (Mahalanobis) that is enough; on a
score it is enough when, within each treatment group, the weights do not vary among units of equal score
(for instance sampling by treatment group, or by strata that are exact-matched).
"""

from __future__ import annotations

import numpy as np

from ..errors import SpecificationError
from ._matching_se import Direction, RangeDirection

#: the note every weighted estimate carries
SAMPLING_NOTE = (
    "sampling weights {name!r}: the estimate is the weighted mean of the targets' matched effects (the "
    "matching itself is unweighted) and the standard error is Abadie-Imbens' (2006) with those weights"
)
KNOWN_SCORE_NOTE = (
    "se_adjust is not applied with sampling weights: the Abadie-Imbens (2016) adjustment for the estimated "
    "score is derived for unweighted samples"
)


def check_weight_options(weights: object, fweights: object) -> None:
    """Refuse frequency and sampling weights together (they would each claim what a row stands for)."""
    if weights is not None and fweights is not None:
        raise SpecificationError(
            f"weights={weights!r} and fweights={fweights!r} were both given: a row's weight is either a count "
            "of identical units (fweights) or an inverse sampling probability (weights). Multiply them into "
            "one sampling-weight column, or expand the rows by the counts first."
        )


def weighted_match_counts(
    directions: list[Direction | RangeDirection], n: int, s: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(L, Q) per row: L_k = sum of s_i w_ik and Q_k = sum of (s_i w_ik)^2 over the targets i that row k
    serves as a match (w_ik its share of i's matches). With s = 1 these are K and K2 of
    :func:`~._matching_se.match_counts`."""
    big_l = np.zeros(n)
    big_q = np.zeros(n)
    for d in directions:
        if isinstance(d, RangeDirection):  # target rows[i] uses the sorted pool positions lo[i]..hi[i]
            m = len(d.pool_rows)
            share = s[d.rows] / d.counts
            for out, weight in ((big_l, share), (big_q, share * share)):
                diff = np.bincount(d.lo, weight, m + 1) - np.bincount(d.hi + 1, weight, m + 1)
                out[d.pool_rows] += np.cumsum(diff[:m])
            continue
        share = s[d.target] * d.weight
        big_l += np.bincount(d.match, weights=share, minlength=n)
        big_q += np.bincount(d.match, weights=share * share, minlength=n)
    return big_l, big_q


def weighted_estimate(effects: np.ndarray, target_rows: np.ndarray, s: np.ndarray) -> float:
    """sum_i s_i tau_i / sum_i s_i over the matched targets."""
    w = s[target_rows]
    return float(np.dot(w, effects) / w.sum())


def weighted_ai_variance(
    effects: np.ndarray,
    target_rows: np.ndarray,
    sigma2: np.ndarray,
    big_l: np.ndarray,
    big_q: np.ndarray,
    s: np.ndarray,
) -> float:
    """The module docstring's V: the weighted spread of the unit-level effects plus, for every row used as
    a match, (2 1{target} s_k L_k + L_k^2 - Q_k) sigma_k^2, over (sum of the targets' weights)^2."""
    w = s[target_rows]
    total = float(w.sum())
    tau = float(np.dot(w, effects) / total)
    spread = float(np.sum((w * (effects - tau)) ** 2))
    own = np.zeros(len(s))  # s_k for the matched targets, 0 elsewhere
    own[target_rows] = w
    used = np.flatnonzero(big_l)
    a = big_l[used]
    correction = float(np.sum((2.0 * own[used] * a + a * a - big_q[used]) * sigma2[used]))
    return (spread + correction) / total**2
