"""trim_refit=False: scores from the full-sample propensity fit after trimming (the Mixtape's IPW), with the
standard error of the stacked system (full-sample logistic score + kept rows' effect equations), checked
against a brute-force M-estimation written here (numerical Jacobian, explicit meat) and a bootstrap."""

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.special import expit

import deconfound as dc

COVS = ["x0", "x1"]
TRIM = 0.08


def _frame(seed, n=1200):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    e = expit(0.3 + 1.4 * x[:, 0] - 0.8 * x[:, 1])
    t = rng.binomial(1, e).astype(float)
    y = 1 + x @ [1.0, 0.5] + t * (2 + x[:, 0]) + rng.normal(size=n)
    return pd.DataFrame(
        {
            "x0": x[:, 0],
            "x1": x[:, 1],
            "t": t,
            "y": y,
            "w": rng.integers(1, 4, n).astype(float),
            "g": rng.integers(0, 30, n),
        }
    )


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dc.DiagnosticWarning)
        return fn(*args, **kwargs)


def _jacobian(f, p, h=1e-6):
    cols = []
    for j in range(len(p)):
        d = np.zeros_like(p)
        d[j] = h
        cols.append((f(p + d) - f(p - d)) / (2 * h))
    return np.column_stack(cols)


def _sandwich(psi, params, clusters=None):
    """Var(params) of the M-estimator sum_i psi_i(params) = 0 (clustered with G/(G-1) when asked)."""
    a = _jacobian(lambda p: psi(p).sum(axis=0), params)
    scores = psi(params)
    if clusters is not None:
        codes = np.unique(clusters, return_inverse=True)[1]
        g = codes.max() + 1
        scores = np.vstack([np.bincount(codes, weights=scores[:, j], minlength=g) for j in range(scores.shape[1])]).T
        meat = g / (g - 1) * scores.T @ scores
    else:
        meat = scores.T @ scores
    a_inv = np.linalg.inv(a)
    return a_inv @ meat @ a_inv.T


def _brute(df, method, weighted, clustered):
    """The stacked M-estimation of the ATE, written out: full-sample logistic theta, the rows kept by the
    full-sample score, and (AIPW) per-group outcome regressions on the kept rows."""
    x = sm.add_constant(df[COVS].to_numpy())
    t, y = df["t"].to_numpy(), df["y"].to_numpy()
    s = df["w"].to_numpy() if weighted else np.ones(len(df))
    theta = sm.GLM(t, x, family=sm.families.Binomial(), freq_weights=s).fit(tol=1e-12).params
    e = expit(x @ theta)
    keep = ((e >= TRIM) & (e <= 1 - TRIM)).astype(float)
    k = x.shape[1]

    def logit_score(p):
        return x * (s * (t - expit(x @ p[:k])))[:, None]

    if method == "ipw":

        def psi(p):
            ee = expit(x @ p[:k])
            mu1, mu0 = p[k], p[k + 1]
            a = keep * s * t / ee * (y - mu1)
            b = keep * s * (1 - t) / (1 - ee) * (y - mu0)
            return np.column_stack([logit_score(p), a, b])

        m1 = np.sum(keep * s * t / e * y) / np.sum(keep * s * t / e)
        m0 = np.sum(keep * s * (1 - t) / (1 - e) * y) / np.sum(keep * s * (1 - t) / (1 - e))
        params = np.r_[theta, m1, m0]
        contrast = np.r_[np.zeros(k), 1.0, -1.0]
    else:
        betas = []
        for arm in (1.0, 0.0):
            rows = (keep == 1.0) & (t == arm)
            betas.append(sm.WLS(y[rows], x[rows], weights=s[rows]).fit().params)

        def psi(p):
            ee = expit(x @ p[:k])
            b1, b0 = p[k : 2 * k], p[2 * k : 3 * k]
            mu1, mu0 = p[3 * k], p[3 * k + 1]
            f1, f0 = x @ b1, x @ b0
            n1 = x * (keep * s * t * (y - f1))[:, None]
            n0 = x * (keep * s * (1 - t) * (y - f0))[:, None]
            a = keep * s * (f1 + t * (y - f1) / ee - mu1)
            b = keep * s * (f0 + (1 - t) * (y - f0) / (1 - ee) - mu0)
            return np.column_stack([logit_score(p), n1, n0, a, b])

        f1, f0 = x @ betas[0], x @ betas[1]
        m1 = np.sum(keep * s * (f1 + t * (y - f1) / e)) / np.sum(keep * s)
        m0 = np.sum(keep * s * (f0 + (1 - t) * (y - f0) / (1 - e))) / np.sum(keep * s)
        params = np.r_[theta, betas[0], betas[1], m1, m0]
        contrast = np.r_[np.zeros(3 * k), 1.0, -1.0]
    assert np.allclose(psi(params).sum(axis=0), 0.0, atol=1e-6)  # the point solves the stacked system
    cov = _sandwich(psi, params, df["g"].to_numpy() if clustered else None)
    return float(contrast @ params), float(np.sqrt(contrast @ cov @ contrast)), int(keep.sum())


@pytest.mark.parametrize(
    ("method", "weighted", "clustered"),
    [("ipw", False, False), ("ipw", True, False), ("ipw", False, True), ("aipw", False, False), ("aipw", True, True)],
)
def test_no_refit_matches_the_stacked_m_estimation(method, weighted, clustered):
    df = _frame(11)
    fn = {"ipw": dc.ipw, "aipw": dc.aipw}[method]
    kwargs = dict(outcome="y", treatment="t", covariates=COVS, trim=TRIM, trim_refit=False)
    if weighted:
        kwargs["weights"] = "w"
    if clustered:
        kwargs["cluster"] = "g"
    r = _quiet(fn, df, **kwargs)
    estimate, se, n_kept = _brute(df, method, weighted, clustered)
    assert r.n == n_kept < len(df)
    assert r.estimate == pytest.approx(estimate, rel=1e-8)
    assert r.std_error == pytest.approx(se, rel=1e-5)
    assert r.diagnostics["trimming"]["refit"] is False
    assert any("trim_refit=False" in note for note in r.notes)


def test_no_refit_differs_from_refit():
    df = _frame(5)
    base = dict(outcome="y", treatment="t", covariates=COVS, trim=TRIM)
    refit = _quiet(dc.ipw, df, **base)
    kept = _quiet(dc.ipw, df, **base, trim_refit=False)
    assert refit.diagnostics["trimming"]["refit"] is True
    assert refit.n == kept.n
    assert refit.estimate != pytest.approx(kept.estimate, rel=1e-6)
    assert any("refitted on the" in note for note in refit.notes)


def test_without_trimming_the_flag_changes_nothing():
    df = _frame(2)
    a = _quiet(dc.ipw, df, outcome="y", treatment="t", covariates=COVS)
    b = _quiet(dc.ipw, df, outcome="y", treatment="t", covariates=COVS, trim_refit=False)
    assert (a.estimate, a.std_error) == (b.estimate, b.std_error)


def test_matching_and_bundle_take_the_flag():
    df = _frame(4, n=600)
    r = _quiet(dc.matching, df, outcome="y", treatment="t", covariates=COVS, trim=TRIM, trim_refit=False)
    score = dc.propensity_scores(df, treatment="t", covariates=COVS)["propensity_score"].to_numpy()
    assert r.n == int(np.count_nonzero((score >= TRIM) & (score <= 1 - TRIM)))
    assert r.diagnostics["trimming"]["refit"] is False
    bundle = _quiet(
        dc.ipw,
        df,
        outcome="y",
        treatment="t",
        covariates=COVS,
        propensity=dc.PropensityOptions(trim=TRIM, trim_refit=False),
    )
    direct = _quiet(dc.ipw, df, outcome="y", treatment="t", covariates=COVS, trim=TRIM, trim_refit=False)
    assert bundle.estimate == direct.estimate


def test_bad_trim_refit_is_refused():
    with pytest.raises(dc.SpecificationError, match="trim_refit must be True or False"):
        dc.ipw(_frame(1, n=200), outcome="y", treatment="t", covariates=COVS, trim=0.05, trim_refit="no")


@pytest.mark.slow
def test_no_refit_standard_error_agrees_with_the_bootstrap():
    """A nonparametric bootstrap of the whole procedure (full-sample fit, trim, Hajek IPW) on one data set:
    its standard deviation agrees with the M-estimation standard error within Monte Carlo error."""
    df = _frame(8, n=1500)
    r = _quiet(dc.ipw, df, outcome="y", treatment="t", covariates=COVS, trim=TRIM, trim_refit=False)
    rng = np.random.default_rng(0)
    draws = []
    for _ in range(400):
        sample = df.iloc[rng.integers(0, len(df), len(df))].reset_index(drop=True)
        draws.append(_brute(sample, "ipw", False, False)[0])
    sd = float(np.std(draws, ddof=1))
    assert r.std_error == pytest.approx(sd, rel=0.12)
