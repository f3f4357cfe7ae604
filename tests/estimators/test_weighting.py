"""Weighting estimators against statsmodels' TreatmentEffect (live), a direct numpy M-estimation
(stacked estimating equations with a numerical Jacobian, written here) and bad input."""

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.special import expit
from statsmodels.treatment.treatment_effects import TreatmentEffect

import deconfound as dc

COVS = ["x0", "x1"]


def _frame(rng, n=1500, weights=False):
    x = rng.normal(size=(n, 2))
    e = expit(0.2 + 0.7 * x[:, 0] - 0.5 * x[:, 1])
    t = rng.binomial(1, e)
    y = 1 + x @ [1.0, 0.5] + t * (2 + x[:, 0]) + rng.normal(size=n)
    df = pd.DataFrame({"x0": x[:, 0], "x1": x[:, 1], "t": t, "y": y})
    if weights:
        df["w"] = rng.integers(1, 4, n).astype(float)
    return df


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dc.DiagnosticWarning)
        return fn(*args, **kwargs)


@pytest.fixture
def data(rng):
    return _frame(rng)


@pytest.fixture
def teffect(data):
    X = sm.add_constant(data[COVS].to_numpy())
    t = data["t"].to_numpy()
    select = sm.Logit(t, X).fit(disp=0, method="newton", tol=1e-14)
    assert 0.01 < select.predict().min() and select.predict().max() < 0.99  # statsmodels clips outside
    return TreatmentEffect(sm.OLS(data["y"].to_numpy(), X), t, results_select=select)


@pytest.mark.parametrize(("group", "estimand"), [("all", "ATE"), (1, "ATT"), (0, "ATC")])
def test_ipw_matches_statsmodels(data, teffect, group, estimand):
    ref = teffect.ipw(effect_group=group)
    ours = _quiet(dc.ipw, data, outcome="y", treatment="t", covariates=COVS, estimand=estimand)
    assert ours.estimate == pytest.approx(ref.effect[0], rel=1e-10)
    assert ours.std_error == pytest.approx(ref.sd[0], rel=1e-6)
    assert ours.diagnostics["potential_outcome_means"]["control"] == pytest.approx(ref.effect[1], rel=1e-10)


@pytest.mark.parametrize(("group", "estimand"), [("all", "ATE"), (1, "ATT")])
def test_ra_matches_statsmodels(data, teffect, group, estimand):
    ref = teffect.ra(effect_group=group)
    ours = dc.ra(data, outcome="y", treatment="t", covariates=COVS, estimand=estimand)
    assert ours.estimate == pytest.approx(ref.effect[0], rel=1e-10)
    assert ours.std_error == pytest.approx(ref.sd[0], rel=1e-8)


def test_aipw_matches_statsmodels(data, teffect):
    ref = teffect.aipw()
    ours = _quiet(dc.aipw, data, outcome="y", treatment="t", covariates=COVS)
    assert ours.estimate == pytest.approx(ref.effect[0], rel=1e-10)
    assert ours.std_error == pytest.approx(ref.sd[0], rel=1e-8)


# --------------------------------------------------------------------------------------------------
# a direct M-estimation: stack every estimating equation, differentiate numerically, sandwich
# --------------------------------------------------------------------------------------------------


def _numeric_jacobian(fn, phi):
    jac = np.empty((len(phi), len(phi)))
    for j in range(len(phi)):
        h = 1e-6 * (1 + abs(phi[j]))
        up, down = phi.copy(), phi.copy()
        up[j] += h
        down[j] -= h
        jac[:, j] = (fn(up).sum(0) - fn(down).sum(0)) / (2 * h)
    return jac


def _sandwich_se(psi, phi):
    a = _numeric_jacobian(psi, phi)
    m = psi(phi)
    b = m.T @ m
    ainv = np.linalg.inv(a)
    v = ainv @ b @ ainv.T
    grad = np.zeros(len(phi))
    grad[-2], grad[-1] = 1.0, -1.0
    return float(np.sqrt(grad @ v @ grad))


def _reference(df, method, estimand, weighting="hajek", s=None):
    """(estimate, SE) from closed-form point estimates and a stacked sandwich with a numerical Jacobian."""
    y, t = df["y"].to_numpy(), df["t"].to_numpy().astype(float)
    X = sm.add_constant(df[COVS].to_numpy())
    s = np.ones(len(y)) if s is None else s
    glm = sm.GLM(t, X, family=sm.families.Binomial(), freq_weights=s).fit(tol=1e-14)
    theta = np.asarray(glm.params)
    k = X.shape[1]
    betas = []
    for arm in (0, 1):
        r = t == arm
        sw = np.sqrt(s[r])
        betas.append(np.linalg.lstsq(X[r] * sw[:, None], y[r] * sw, rcond=None)[0])

    def pieces(phi):
        th, b0, b1 = phi[:k], phi[k : 2 * k], phi[2 * k : 3 * k]
        e = expit(X @ th)
        m0, m1 = X @ b0, X @ b1
        return e, m0, m1

    def mu_eq(e, m0, m1, mu1, mu0):
        """The two effect equations (per row, before multiplying by s)."""
        if method == "ipw" and weighting == "hajek":
            a1, a0 = {
                "ATE": (t / e, (1 - t) / (1 - e)),
                "ATT": (t, (1 - t) * e / (1 - e)),
                "ATC": (t * (1 - e) / e, 1 - t),
                "ATO": (t * (1 - e), (1 - t) * e),
            }[estimand]
            return a1 * (y - mu1), a0 * (y - mu0)
        if method == "ipw":
            if estimand == "ATE":
                return t * y / e - mu1, (1 - t) * y / (1 - e) - mu0
            if estimand == "ATT":
                return t * (y - mu1), (1 - t) * e / (1 - e) * y - t * mu0
            return t * (1 - e) / e * y - (1 - t) * mu1, (1 - t) * (y - mu0)
        if method == "aipw":
            if estimand == "ATE":
                return m1 + t * (y - m1) / e - mu1, m0 + (1 - t) * (y - m0) / (1 - e) - mu0
            if estimand == "ATT":
                return t * (y - m0 - mu1), (1 - t) * e / (1 - e) * (y - m0 - mu0)
            # ATC = odds-weighted treated residuals minus the controls' residuals, both from m1
            return t * (1 - e) / e * (y - m1 - mu1), (1 - t) * (y - m1 - mu0)
        c = {"ATE": np.ones_like(t), "ATT": t, "ATC": 1 - t}[estimand]
        return c * (m1 - mu1), c * (m0 - mu0)

    def psi(phi):
        e, m0, m1 = pieces(phi)
        mu1, mu0 = phi[-2], phi[-1]
        cols = [X * ((t - e) * s)[:, None]]
        cols += [X * (s * (t == arm) * (y - (m0 if arm == 0 else m1)))[:, None] for arm in (0, 1)]
        g1, g0 = mu_eq(e, m0, m1, mu1, mu0)
        cols += [(s * g1)[:, None], (s * g0)[:, None]]
        return np.hstack(cols)

    phi = np.concatenate([theta, betas[0], betas[1], [0.0, 0.0]])
    # solve the two (linear) effect equations for mu1, mu0 at the first-step estimates
    for j in (-2, -1):
        f0 = psi(phi)[:, j].sum()
        phi_up = phi.copy()
        phi_up[j] += 1.0
        slope = psi(phi_up)[:, j].sum() - f0
        phi[j] -= f0 / slope
    return phi[-2] - phi[-1], _sandwich_se(psi, phi)


CASES = [
    ("ipw", "ATE", "hajek"),
    ("ipw", "ATT", "hajek"),
    ("ipw", "ATC", "hajek"),
    ("ipw", "ATE", "ht"),
    ("ipw", "ATT", "ht"),
    ("ipw", "ATC", "ht"),
    ("overlap", "ATO", "hajek"),
    ("aipw", "ATE", None),
    ("aipw", "ATT", None),
    ("aipw", "ATC", None),
    ("ra", "ATE", None),
    ("ra", "ATT", None),
    ("ra", "ATC", None),
]


def _ours(df, method, estimand, weighting, weights=None):
    kwargs = {"outcome": "y", "treatment": "t", "covariates": COVS, "weights": weights}
    if method == "ipw":
        return _quiet(dc.ipw, df, estimand=estimand, weighting=weighting, **kwargs)
    if method == "overlap":
        return _quiet(dc.overlap_weights, df, **kwargs)
    return _quiet(getattr(dc, method), df, estimand=estimand, **kwargs)


@pytest.mark.parametrize(("method", "estimand", "weighting"), CASES)
def test_against_direct_m_estimation(data, method, estimand, weighting):
    ref_method = "ipw" if method == "overlap" else method
    est, se = _reference(data, ref_method, estimand, weighting or "hajek")
    ours = _ours(data, method, estimand, weighting)
    assert ours.estimate == pytest.approx(est, rel=1e-9)
    assert ours.std_error == pytest.approx(se, rel=1e-6)


@pytest.mark.parametrize(("method", "estimand", "weighting"), [CASES[0], CASES[4], CASES[6], CASES[8], CASES[11]])
def test_sampling_weights_against_direct_m_estimation(rng, method, estimand, weighting):
    df = _frame(rng, 800, weights=True)
    ref_method = "ipw" if method == "overlap" else method
    est, se = _reference(df, ref_method, estimand, weighting or "hajek", s=df["w"].to_numpy())
    ours = _ours(df, method, estimand, weighting, weights="w")
    assert ours.estimate == pytest.approx(est, rel=1e-9)
    assert ours.std_error == pytest.approx(se, rel=1e-6)


def test_ipw_point_estimate_with_statsmodels_glm_propensity(data):
    X = sm.add_constant(data[COVS])
    e = np.asarray(sm.GLM(data["t"], X, family=sm.families.Binomial()).fit().predict())
    t, y = data["t"].to_numpy(), data["y"].to_numpy()
    hajek = np.sum(t * y / e) / np.sum(t / e) - np.sum((1 - t) * y / (1 - e)) / np.sum((1 - t) / (1 - e))
    ht = np.mean(t * y / e) - np.mean((1 - t) * y / (1 - e))
    assert _ours(data, "ipw", "ATE", "hajek").estimate == pytest.approx(hajek, rel=1e-9)
    assert _ours(data, "ipw", "ATE", "ht").estimate == pytest.approx(ht, rel=1e-9)


def test_weight_diagnostics(data):
    r = _ours(data, "ipw", "ATE", "hajek")
    w = r.diagnostics["weights"]
    e = r.diagnostics["propensity"]["propensity_score"]
    expected = np.where(data["t"] == 1, 1 / e, 1 / (1 - e))
    np.testing.assert_allclose(w["weight"], expected, rtol=1e-12)
    summary = r.diagnostics["weight_summary"]
    treated = w.loc[w.treatment == 1, "weight"]
    assert summary.loc["treated", "ess"] == pytest.approx(treated.sum() ** 2 / (treated**2).sum())
    assert summary.loc["treated", "max_weight"] == pytest.approx(treated.max())
    assert summary.loc["treated", "max_weight_row"] == treated.idxmax()
    assert abs(r.diagnostics["balance"].loc["x0", "smd_after"]) < abs(r.diagnostics["balance"].loc["x0", "smd_before"])


def test_overlap_weights_balance_means_exactly(data):
    r = _ours(data, "overlap", "ATO", "hajek")
    np.testing.assert_allclose(r.diagnostics["balance"].loc[COVS, "smd_after"], 0.0, atol=1e-9)
    assert r.estimand == "ATO"


def test_trimming_refits_on_the_kept_rows(data):
    r = _quiet(dc.ipw, data, outcome="y", treatment="t", covariates=COVS, trim=0.1)
    score = dc.propensity_scores(data, treatment="t", covariates=COVS)["propensity_score"]
    kept = data[(score >= 0.1) & (score <= 0.9)]
    direct = _quiet(dc.ipw, kept, outcome="y", treatment="t", covariates=COVS)
    assert r.estimate == pytest.approx(direct.estimate, rel=1e-10)
    assert r.std_error == pytest.approx(direct.std_error, rel=1e-10)
    assert r.diagnostics["trimming"]["n_trimmed"] == len(data) - len(kept) > 0
    assert r.n == len(kept)


def test_classifier_propensity_is_treated_as_known(data):
    from sklearn.ensemble import HistGradientBoostingClassifier

    clf = HistGradientBoostingClassifier(max_iter=50, random_state=0)
    r = _quiet(
        dc.aipw, data, outcome="y", treatment="t", covariates=COVS, propensity_model=clf, cross_fit=3, random_state=1
    )
    again = _quiet(
        dc.aipw, data, outcome="y", treatment="t", covariates=COVS, propensity_model=clf, cross_fit=3, random_state=1
    )
    assert r.estimate == again.estimate
    assert any("treated as known" in n for n in r.notes)
    e = r.diagnostics["propensity"]["propensity_score"].to_numpy()
    t, y = data["t"].to_numpy(), data["y"].to_numpy()
    X = sm.add_constant(data[COVS].to_numpy())
    m = {a: X @ np.linalg.lstsq(X[t == a], y[t == a], rcond=None)[0] for a in (0, 1)}
    phi = m[1] + t * (y - m[1]) / e - m[0] - (1 - t) * (y - m[0]) / (1 - e)
    assert r.estimate == pytest.approx(phi.mean(), rel=1e-10)
    assert clf.get_params()["random_state"] == 0 and not hasattr(clf, "classes_")  # user's model untouched


# --------------------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------------------


def test_scores_of_exactly_zero_or_one_are_refused(rng):
    from sklearn.tree import DecisionTreeClassifier

    df = _frame(rng, 300)
    with pytest.raises(dc.DataError, match=r"propensity score of exactly 0 or 1 .* Trim them"):
        dc.ipw(
            df,
            outcome="y",
            treatment="t",
            covariates=COVS,
            propensity_model=DecisionTreeClassifier(max_depth=4, random_state=0),
            cross_fit=None,
        )


def test_one_treated_unit(rng):
    df = _frame(rng, 40)
    df["t"] = 0
    df.loc[0, "t"] = 1
    with pytest.raises(dc.DataError, match=r"the treated group has fewer than 2"):
        dc.ipw(df, outcome="y", treatment="t", covariates=COVS)


def test_perfect_separation(rng):
    df = _frame(rng, 100)
    df["t"] = (df.x1 < 0).astype(int)
    with pytest.raises(dc.DataError, match=r"covariate 'x1' separates treated from control completely"):
        dc.aipw(df, outcome="y", treatment="t", covariates=COVS)


def test_classifier_without_predict_proba(rng):
    from sklearn.svm import LinearSVC

    with pytest.raises(dc.SpecificationError, match=r"'LinearSVC', which has no predict_proba"):
        dc.ipw(_frame(rng, 100), outcome="y", treatment="t", covariates=COVS, propensity_model=LinearSVC())


@pytest.mark.parametrize(
    ("fn", "kwargs", "message"),
    [
        (dc.ipw, {"weighting": "raw"}, r"weighting='raw' is not allowed; choose one of 'hajek', 'ht'"),
        (dc.ipw, {"estimand": "ATO"}, r"estimand='ATO' is not allowed"),
        (dc.ipw, {"trim": 0.6}, r"trim must be strictly between 0 and 0.5"),
        (dc.ipw, {"trim": "tight"}, r"trim='tight' is not allowed; give a number in \(0, 0.5\) or 'crump'"),
        (dc.ipw, {"propensity_model": "xgb"}, r"propensity_model='xgb' is not allowed"),
        (dc.ipw, {"cross_fit": 1}, r"cross_fit must be 'auto', None/0 \(no cross-fitting\) or a number of folds"),
        (dc.ra, {"covariates": []}, r"method 'ra' needs covariates="),
    ],
)
def test_bad_options(rng, fn, kwargs, message):
    df = _frame(rng, 100)
    kwargs = {"covariates": COVS, **kwargs}
    with pytest.raises(dc.SpecificationError, match=message):
        fn(df, outcome="y", treatment="t", **kwargs)


def test_balance_advice_leaves_out_what_was_already_done(heart):
    # issue 11, item 3: with trim given, the warning used to advise "trim extreme scores (trim='crump')"
    with pytest.warns(dc.DiagnosticWarning, match="remain imbalanced") as record:
        est = dc.ipw(heart, outcome="Severity", treatment="Drug", covariates=["I.H"], trim="crump")
    message = next(str(w.message) for w in record if "remain imbalanced" in str(w.message))
    assert "trim=" not in message and "method 'aipw'" in message
    assert any(w == message for w in est.warnings)
    with pytest.warns(dc.DiagnosticWarning, match="remain imbalanced") as record:
        dc.ipw(heart, outcome="Severity", treatment="Drug", covariates=["I.H"])
    assert any("trim extreme scores (trim='crump')" in str(w.message) for w in record)


def test_overlap_and_weight_advice_never_repeats_what_was_done():
    """Issue 11, item 3: with trim given, or with overlap weights in use, the warnings suggest something
    else to try instead of the trim or the method already used."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=2000)
    t = rng.binomial(1, 1 / (1 + np.exp(-3.5 * x)))
    frame = pd.DataFrame({"x": x, "t": t, "y": x + t + rng.normal(size=2000)})
    kw = {"outcome": "y", "treatment": "t", "covariates": ["x"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = dc.ipw(frame, **kw).warnings
        trimmed = dc.ipw(frame, trim=0.02, **kw).warnings
        overlap = dc.overlap_weights(frame, **kw).warnings
        overlap_trimmed = dc.overlap_weights(frame, trim=0.02, **kw).warnings
    assert any("Consider trimming" in w for w in plain) and any("trim='crump'" in w for w in plain)
    assert any("Weak overlap" in w for w in trimmed)
    assert not any("trim" in w.split(":", 1)[-1].replace("Even after trimming", "") for w in trimmed)
    for said in (overlap, overlap_trimmed):
        assert any("Weak overlap" in w for w in said)
        assert not any("method 'overlap'" in w or "Consider trim" in w for w in said)
