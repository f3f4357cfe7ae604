"""Joint test of pre-treatment coefficients (parallel pre-trends) in an event study.

If treated and control units were on parallel paths before treatment, every lead coefficient
(event time < 0, the reference period excluded) is zero. The Wald statistic b' V^-1 b over the q
leads is referred to F(q, df) when the covariance has finite degrees of freedom (clustered: G - 1)
and to chi-squared(q) otherwise. A test that cannot be run says why instead of raising; so does one whose
covariance is singular (rank r below q: eigenvalues under ``SINGULAR_TOL`` of the largest) unless the
coefficients obey the same identities (b lies in V's span, as when cells are mirror images of each other):
then the statistic is b' V^+ b on r degrees of freedom. Both come back
as a :class:`~deconfound.diagnostics.hypotheses.TestResult`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._core.distributions import chi2_sf, f_sf
from .hypotheses import TestResult

PRETREND_ALPHA = 0.05
#: an eigenvalue of the tested coefficients' covariance below this share of the largest counts as zero
SINGULAR_TOL = 1e-10


#: keys of the dict form, in the order the pre-trend tests have always had (the --json contract)
WALD_LAYOUT = ("chi2", "df_num=df", "p_value_chi2", "statistic", "distribution", "df_den=df_denom", "p_value")
PRETREND_NULL = "every pre-treatment coefficient is zero (parallel pre-trends)"


def wald_test(
    coef: np.ndarray,
    cov: np.ndarray,
    index: Sequence[int],
    df: float | None,
    name: str = "joint pre-trend test",
    null: str = PRETREND_NULL,
) -> TestResult:
    """Wald test that ``coef[index]`` are all zero: F(q, df) when ``df`` is finite, else chi-squared(q).

    The chi-squared form (``details["chi2"]``, ``details["p_value_chi2"]``) is kept either way.
    """
    idx = list(index)
    q = len(idx)
    b = np.asarray(coef, dtype=float)[idx]
    v = np.asarray(cov, dtype=float)[np.ix_(idx, idx)]
    v = 0.5 * (v + v.T)
    eig, vecs = np.linalg.eigh(v) if q else (np.zeros(0), np.zeros((0, 0)))
    top = float(eig.max()) if q else 0.0
    kept = eig > SINGULAR_TOL * top if top > 0 else np.zeros(q, dtype=bool)
    rank = int(kept.sum())
    extra: dict[str, float] = {}
    if rank < q:
        off = vecs[:, ~kept].T @ b  # the coefficients' part outside the span of their covariance
        if rank == 0 or float(np.linalg.norm(off)) > SINGULAR_TOL**0.5 * max(float(np.linalg.norm(b)), 1e-300):
            return TestResult.not_applicable(
                name,
                f"the covariance of the {q} tested coefficients is singular (rank {rank} of {q}) and the coefficients "
                "do not satisfy the same linear identities (say, a cohort with fewer units than pre-treatment "
                "periods), so no joint Wald statistic exists; R's did package returns none either. Read the "
                "pre-treatment coefficients one by one, or test fewer of them",
                null=null,
                details={"rank": rank, "n_tested": q},
            )
        # exact identities among the coefficients (their covariance is singular along them, and they hold for
        # the coefficients too): the q coefficients are rank free ones, and the Wald statistic uses those
        proj = vecs[:, kept] @ ((vecs[:, kept].T @ b) / eig[kept])
        stat, q, extra = float(b @ proj), rank, {"n_tested": len(idx), "rank": rank}
    else:
        stat = float(b @ np.linalg.solve(v, b))
    p_chi2 = chi2_sf(stat, q)
    details = {"chi2": stat, "p_value_chi2": p_chi2, **extra}
    if df is not None and np.isfinite(df):
        f = stat / q
        return TestResult(name, f, "F", q, float(df), f_sf(f, q, df), null, details=details, layout=WALD_LAYOUT)
    return TestResult(name, stat, "chi2", q, None, p_chi2, null, details=details, layout=WALD_LAYOUT)


def pretrend_test(
    coef: np.ndarray, cov: np.ndarray, event_times: Sequence[float | None], df: float | None
) -> TestResult:
    """Joint test of every coefficient whose event time is negative; ``applicable`` says if it could run."""
    leads = [i for i, e in enumerate(event_times) if e is not None and e < 0]
    if not leads:
        return TestResult.not_applicable(
            "joint pre-trend test",
            "no pre-treatment coefficients (widen the window to negative event times to test pre-trends)",
            null=PRETREND_NULL,
        )
    if not np.all(np.isfinite(np.asarray(cov, dtype=float)[np.ix_(leads, leads)])):
        return TestResult.not_applicable(
            "joint pre-trend test",
            "the pre-treatment coefficients have no standard errors (too few clusters): nothing to test",
            null=PRETREND_NULL,
        )
    out = wald_test(coef, cov, leads, df)
    return out.with_keys("applicable", "event_times", event_times=[event_times[i] for i in leads])


def pretrend_warning(test: TestResult) -> str | None:
    """A plain-words warning when the pre-treatment coefficients are jointly significant."""
    if not test.applicable or test.p_value is None or test.p_value >= PRETREND_ALPHA:
        return None
    stat = "F" if test.distribution == "F" else "chi2"
    assert test.statistic is not None and test.df is not None
    return (
        f"The pre-treatment coefficients are jointly different from zero ({stat} = {test.statistic:.3g}, "
        f"p = {test.p_value:.3g}, {test.df} lead(s)): before treatment the treated were already "
        "moving differently from the controls, so the parallel-trends assumption behind the post-treatment "
        "effects is doubtful. Look at the leads in the event-study plot; consider covariates (conditional "
        "parallel trends) or a different comparison group."
    )
