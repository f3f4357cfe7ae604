"""Matching against brute-force references written here, published numbers, and bad input."""

import itertools
import os
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import deconfound as dc


def _frame(rng, n=300, discrete=False):
    x = rng.normal(size=(n, 2))
    if discrete:
        x = np.round(x * 2) / 2  # many identical covariate rows: tied scores and distances
    index = -0.2 + 0.8 * x[:, 0] - 0.5 * x[:, 1]
    t = rng.binomial(1, 1 / (1 + np.exp(-index)))
    y = 1 + x @ [1.0, 0.5] + t * (1.5 + 0.5 * x[:, 0]) + rng.normal(size=n)
    return pd.DataFrame({"x0": x[:, 0], "x1": x[:, 1], "t": t, "y": y})


def _m(df, **kwargs):
    """matching() with the usual columns; diagnostic warnings (imbalance in small samples) silenced."""
    kwargs.setdefault("covariates", ["x0", "x1"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dc.DiagnosticWarning)
        return dc.matching(df, outcome=kwargs.pop("outcome", "y"), treatment=kwargs.pop("treatment", "t"), **kwargs)


def _sm_score(df):
    res = sm.Logit(df["t"], sm.add_constant(df[["x0", "x1"]])).fit(disp=0, method="newton", tol=1e-14)
    return res.predict().to_numpy() if hasattr(res.predict(), "to_numpy") else np.asarray(res.predict())


def _brute_matches(dist, k, caliper=None, ties=True):
    """dist: (targets x pool) -> list of arrays of matched pool columns."""
    out = []
    for row in dist:
        order = np.argsort(row, kind="stable")
        kth = row[order[min(k, len(row)) - 1]]
        chosen = np.flatnonzero(row <= kth) if ties else order[:k]
        if caliper is not None:
            chosen = chosen[row[chosen] <= caliper]
        out.append(chosen)
    return out


def _brute_ai(x, y, t, estimand, k=1, caliper=None, J=2, mu=None, vce="ai2006"):
    """Matching estimate and Abadie-Imbens (2006) variance, from the published formulas (loops).

    With ties the matches of a target share its weight; K and K2 sum those weights and their squares
    (without ties K = K_M / M and K2 = K_M / M^2, the published case). ``vce="ai2006"``: sigma^2_i =
    m/(m+1) (Y_i - mean of its m same-group neighbours)^2 with the J nearest (and ties); ``"stata"``: the
    sample variance over the unit and its neighbours, where on a one-dimensional score (psmatch) the
    unit counts as one of the J.
    """
    n = len(y)
    on_score = np.ndim(x) == 1
    x = np.asarray(x, dtype=float).reshape(n, -1)
    arms = {"ATT": (1,), "ATC": (0,), "ATE": (1, 0)}[estimand]
    effects, targets = [], []
    K = np.zeros(n)
    K2 = np.zeros(n)
    for arm in arms:
        tg, pl = np.flatnonzero(t == arm), np.flatnonzero(t != arm)
        dist = np.sqrt(((x[tg][:, None, :] - x[pl][None, :, :]) ** 2).sum(-1))
        for i, chosen in zip(tg, _brute_matches(dist, k, caliper)):
            if not len(chosen):
                continue
            js = pl[chosen]
            imputed = np.mean([y[j] + (0 if mu is None else mu[1 - arm][i] - mu[1 - arm][j]) for j in js])
            effects.append(y[i] - imputed if arm == 1 else imputed - y[i])
            targets.append(i)
            for j in js:
                K[j] += 1 / len(js)
                K2[j] += 1 / len(js) ** 2
    effects = np.array(effects)
    tau = effects.mean()
    sigma2 = np.zeros(n)
    for i in range(n):
        same = np.flatnonzero((t == t[i]) & (np.arange(n) != i))
        d = np.sqrt(((x[same] - x[i]) ** 2).sum(-1))
        if vce == "ai2006":
            nb = same[d <= np.sort(d)[J - 1]]
            sigma2[i] = len(nb) / (len(nb) + 1) * (y[i] - y[nb].mean()) ** 2
        else:
            m = J - 1 if on_score else J
            nb = same[d <= np.sort(d)[m - 1]]
            sigma2[i] = np.var(np.append(y[nb], y[i]), ddof=1)
    is_target = np.zeros(n)
    is_target[targets] = 1
    correction = np.sum((2 * is_target * K + K**2 - K2) * sigma2)
    var = (np.sum((effects - tau) ** 2) + correction) / len(effects) ** 2
    return tau, np.sqrt(var), len(effects)


@pytest.mark.parametrize("estimand", ["ATT", "ATC", "ATE"])
@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("vce", ["stata", "ai2006"])
def test_propensity_matching_matches_brute_force(rng, estimand, k, vce):
    df = _frame(rng)
    score = _sm_score(df)
    tau, se, _ = _brute_ai(score, df.y.to_numpy(), df.t.to_numpy(), estimand, k, vce=vce)
    r = _m(df, estimand=estimand, neighbors=k, se_adjust=False, vce_convention=vce)
    assert r.estimate == pytest.approx(tau, rel=1e-10)
    assert r.std_error == pytest.approx(se, rel=1e-9)
    assert r.estimand == estimand


def test_published_ai_formula_without_ties(rng):
    """ATT variance as printed in Abadie and Imbens (2006): K_M (K_M - 1) / M^2 for the controls."""
    df = _frame(rng, 400)
    score = _sm_score(df)
    y, t = df.y.to_numpy(), df.t.to_numpy()
    M = 2
    tg, pl = np.flatnonzero(t == 1), np.flatnonzero(t == 0)
    d = np.abs(score[tg][:, None] - score[pl][None, :])
    nearest = np.argsort(d, axis=1)[:, :M]
    effects = y[tg] - y[pl][nearest].mean(axis=1)
    km = np.bincount(nearest.ravel(), minlength=len(pl))
    sig = np.zeros(len(pl))
    for c, j in enumerate(pl):
        dd = np.abs(score[pl] - score[j])
        dd[c] = np.inf
        nb = np.argsort(dd)[:2]
        sig[c] = 2 / 3 * (y[j] - y[pl][nb].mean()) ** 2
    tau = effects.mean()
    var = (np.sum((effects - tau) ** 2) + np.sum(km * (km - 1) / M**2 * sig)) / len(tg) ** 2
    r = _m(df, neighbors=M, se_adjust=False, vce_convention="ai2006")
    assert r.estimate == pytest.approx(tau, rel=1e-10)
    assert r.std_error == pytest.approx(np.sqrt(var), rel=1e-9)


@pytest.mark.parametrize("estimand", ["ATT", "ATE"])
@pytest.mark.parametrize("vce", ["stata", "ai2006"])
def test_ties_share_the_weight_like_stata(rng, estimand, vce):
    df = _frame(rng, 250, discrete=True)
    score = _sm_score(df)
    tau, se, _ = _brute_ai(score, df.y.to_numpy(), df.t.to_numpy(), estimand, 1, vce=vce)
    r = _m(df, estimand=estimand, se_adjust=False, vce_convention=vce)
    assert r.diagnostics["max_times_used"] > 1
    assert (r.diagnostics["matches"].groupby("unit")["weight"].sum().round(12) == 1).all()
    assert r.diagnostics["matches"].groupby("unit").size().max() > 1  # some target has tied matches
    assert r.estimate == pytest.approx(tau, rel=1e-9)
    assert r.std_error == pytest.approx(se, rel=1e-9)


def test_caliper_drops_and_counts_unmatched(rng):
    df = _frame(rng)
    score = _sm_score(df)
    tau, se, n_matched = _brute_ai(score, df.y.to_numpy(), df.t.to_numpy(), "ATT", 1, caliper=0.004, vce="stata")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = dc.matching(df, outcome="y", treatment="t", covariates=["x0", "x1"], caliper=0.004, se_adjust=False)
    messages = [str(w.message) for w in caught if issubclass(w.category, dc.DiagnosticWarning)]
    assert any("treated rows found no match within the caliper" in m for m in messages)
    assert any("found no match" in w for w in r.warnings)
    assert r.diagnostics["n_unmatched"] == int(df.t.sum()) - n_matched > 0
    assert r.estimate == pytest.approx(tau, rel=1e-10)
    assert r.std_error == pytest.approx(se, rel=1e-9)


def test_caliper_in_sd_of_the_logit(rng):
    df = _frame(rng)
    logit = np.log(_sm_score(df) / (1 - _sm_score(df)))
    cal = 0.05 * np.std(logit, ddof=1)
    tau, _, _ = _brute_ai(logit, df.y.to_numpy(), df.t.to_numpy(), "ATT", 1, caliper=cal)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dc.DiagnosticWarning)
        r = _m(df, distance="logit", caliper=0.05, caliper_scale="sd")
    assert r.diagnostics["caliper"] == pytest.approx(cal, rel=1e-9)
    assert r.estimate == pytest.approx(tau, rel=1e-10)


def test_mahalanobis_and_bias_adjustment_match_brute_force(rng):
    df = _frame(rng)
    x = df[["x0", "x1"]].to_numpy()
    chol = np.linalg.cholesky(np.cov(x, rowvar=False))
    z = np.linalg.solve(chol, x.T).T  # whitened: Euclidean = Mahalanobis
    y, t = df.y.to_numpy(), df.t.to_numpy()
    # Abadie-Imbens (2011) / Stata biasadj(): per-group regressions on the matches, weighted by K_i
    used = np.zeros(len(y))
    for arm in (0, 1):
        tg, pl = np.flatnonzero(t == arm), np.flatnonzero(t != arm)
        dist = np.sqrt(((z[tg][:, None, :] - z[pl][None, :, :]) ** 2).sum(-1))
        for chosen in _brute_matches(dist, 1):
            used[pl[chosen]] += 1 / len(chosen)
    mu = {}
    X1 = sm.add_constant(x)
    for arm in (0, 1):
        rows = (t == arm) & (used > 0)
        mu[arm] = X1 @ sm.WLS(y[rows], X1[rows], weights=used[rows]).fit().params
    for bias, vce in itertools.product((False, True), ("stata", "ai2006")):
        tau, se, _ = _brute_ai(z, y, t, "ATE", 1, mu=mu if bias else None, vce=vce)
        r = dc.matching(
            df,
            outcome="y",
            treatment="t",
            covariates=["x0", "x1"],
            distance="mahalanobis",
            estimand="ATE",
            bias_adjust=bias,
            vce_convention=vce,
        )
        assert r.estimate == pytest.approx(tau, rel=1e-9)
        assert r.std_error == pytest.approx(se, rel=1e-8)
        assert r.method == "matching"


def test_exact_matching_keeps_pairs_within_cells(rng):
    df = _frame(rng, 400)
    df["site"] = rng.choice(["a", "b", "c"], len(df))
    r = _m(df, exact="site", se_adjust=False)
    m = r.diagnostics["matches"]
    assert (df.loc[m["unit"], "site"].to_numpy() == df.loc[m["match"], "site"].to_numpy()).all()
    score = _sm_score(df)
    codes = pd.factorize(df.site)[0]
    y, t = df.y.to_numpy(), df.t.to_numpy()
    effects = []
    for i in np.flatnonzero(t == 1):
        pool = np.flatnonzero((t == 0) & (codes == codes[i]))
        d = np.abs(score[pool] - score[i])
        effects.append(y[i] - y[pool[d == d.min()]].mean())
    assert r.estimate == pytest.approx(np.mean(effects), rel=1e-10)


def _closest_pair_first(d, caliper=np.inf):
    pairs = sorted((d[i, j], i, j) for i in range(d.shape[0]) for j in range(d.shape[1]) if d[i, j] <= caliper)
    used_t, used_c, out = set(), set(), {}
    for _dist, i, j in pairs:
        if i not in used_t and j not in used_c:
            used_t.add(i)
            used_c.add(j)
            out[i] = j
    return out


@pytest.mark.parametrize("caliper", [None, 0.03])
def test_greedy_without_replacement_is_closest_pair_first(rng, caliper):
    df = _frame(rng, 200)
    score = _sm_score(df)
    t, y = df.t.to_numpy(), df.y.to_numpy()
    tg, pl = np.flatnonzero(t == 1), np.flatnonzero(t == 0)
    ref = _closest_pair_first(np.abs(score[tg][:, None] - score[pl][None, :]), np.inf if caliper is None else caliper)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dc.DiagnosticWarning)
        r = _m(df, replace=False, caliper=caliper)
    m = r.diagnostics["matches"]
    assert dict(zip(m["unit"], m["match"])) == {int(tg[i]): int(pl[j]) for i, j in ref.items()}
    assert m["match"].is_unique
    assert r.estimate == pytest.approx(np.mean([y[tg[i]] - y[pl[j]] for i, j in ref.items()]), rel=1e-10)


def test_optimal_pair_matching_minimises_total_distance(rng):
    x = rng.normal(size=12)
    t = np.array([1] * 5 + [0] * 7)
    df = pd.DataFrame({"x0": x, "t": t, "y": x + t + rng.normal(size=12)})
    tg, pl = np.flatnonzero(t == 1), np.flatnonzero(t == 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dc.DiagnosticWarning)
        r = dc.matching(df, outcome="y", treatment="t", covariates=["x0"], distance="mahalanobis", method="optimal")
    z = x / np.std(x, ddof=1)
    best = min(
        sum(abs(z[tg[i]] - z[pl[j]]) for i, j in enumerate(perm)) for perm in itertools.permutations(range(7), 5)
    )
    assert r.diagnostics["matches"]["distance"].sum() == pytest.approx(best, rel=1e-10)
    greedy = _m(df, covariates=["x0"], distance="mahalanobis", replace=False)
    assert greedy.diagnostics["matches"]["distance"].sum() >= best - 1e-12


def test_optimal_with_caliper_maximises_pairs_first(rng):
    df = _frame(rng, 120)
    score = _sm_score(df)
    t = df.t.to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dc.DiagnosticWarning)
        r = _m(df, method="optimal", caliper=0.02)
        g = _m(df, replace=False, caliper=0.02)
    m = r.diagnostics["matches"]
    assert (m["distance"] <= 0.02).all() and m["match"].is_unique
    assert len(m) >= len(g.diagnostics["matches"])
    d = np.abs(score[m["unit"]] - score[m["match"]])
    np.testing.assert_allclose(d, m["distance"], rtol=1e-9, atol=1e-12)
    assert t[m["unit"]].all()


def test_article_matched_ate_is_minus_10_16(heart):
    r = dc.matching(
        heart, outcome="Severity", treatment="Drug", covariates=["I.H"], propensity_model="sklearn-logistic"
    )
    assert round(r.estimate, 2) == -10.16
    assert r.diagnostics["n_unmatched"] == 0
    # the article's own code, run here: NearestNeighbors on the scikit-learn score
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import NearestNeighbors

    score = LogisticRegression().fit(heart[["I.H"]], heart["Drug"]).predict_proba(heart[["I.H"]])[:, 1]
    treated, control = heart["Drug"].to_numpy() == 1, heart["Drug"].to_numpy() == 0
    _, idx = NearestNeighbors(n_neighbors=1).fit(score[control, None]).kneighbors(score[treated, None])
    article = heart.Severity[treated].mean() - heart.Severity[control].to_numpy()[idx.ravel()].mean()
    assert r.estimate == pytest.approx(article, rel=1e-12)


def _cattaneo():
    import statsmodels.treatment.tests as sm_tests

    return pd.read_csv(os.path.join(os.path.dirname(sm_tests.__file__), "results", "cataneo2.csv"))


def test_stata_manual_examples_on_cattaneo2():
    """Point estimates and AI robust standard errors printed by Stata for the [CAUSAL] teffects psmatch and
    nnmatch manual examples (Stata's output as listed in kylebutts/teffects-r, inst/stata/
    teffects_reference.csv, made by its run_teffects_examples.do), to all printed digits.

    . webuse cattaneo2
    . teffects psmatch (bweight) (mbsmoke mmarried c.mage##c.mage fbaby medu)       -210.9683  32.021
    . teffects psmatch (bweight) (mbsmoke mmarried c.mage##c.mage fbaby medu), nneighbor(4)
                                                                                    -224.006   29.88627
    . teffects nnmatch (bweight mage prenatal1 mmarried fbaby) (mbsmoke)            -240.3306  28.43006
    . teffects nnmatch (bweight mage fage) (mbsmoke), ematch(prenatal1 mmarried fbaby) biasadj(mage fage)
                                                                                    -223.8389  26.19973
    """
    df = _cattaneo()
    ps_covariates = ["mmarried_", "mage", "mage2", "fbaby_", "medu"]
    ps = dc.matching(df, outcome="bweight", treatment="mbsmoke_", estimand="ATE", covariates=ps_covariates)
    assert ps.estimate == pytest.approx(-210.9683, abs=5e-5)
    assert ps.std_error == pytest.approx(32.021, abs=5e-6)  # printed as 32.021: 32.02100 to 7 digits
    ps4 = dc.matching(
        df, outcome="bweight", treatment="mbsmoke_", estimand="ATE", covariates=ps_covariates, neighbors=4
    )
    assert ps4.estimate == pytest.approx(-224.006, abs=5e-4)
    assert ps4.std_error == pytest.approx(29.88627, abs=5e-6)
    nn = dc.matching(
        df,
        outcome="bweight",
        treatment="mbsmoke_",
        estimand="ATE",
        distance="mahalanobis",
        covariates=["mage", "prenatal1_", "mmarried_", "fbaby_"],
    )
    assert nn.estimate == pytest.approx(-240.3306, abs=5e-5)
    assert nn.std_error == pytest.approx(28.43006, abs=5e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dc.DiagnosticWarning)  # imbalance left by the few exact cells
        ba = dc.matching(
            df,
            outcome="bweight",
            treatment="mbsmoke_",
            estimand="ATE",
            distance="mahalanobis",
            covariates=["mage", "fage"],
            exact=["prenatal1_", "mmarried_", "fbaby_"],
            bias_adjust=True,
        )
    assert ba.estimate == pytest.approx(-223.8389, abs=5e-5)
    assert ba.std_error == pytest.approx(26.19973, abs=5e-6)


def test_stata_18_log_psmatch_on_cattaneo2():
    """Stata 18 SE output in a published log (carlos-mendez.org/post/stata_matching, analysis.log):

    . teffects psmatch (bweight) (mbsmoke mmarried mage fage medu prenatal1)        -229.4492  25.88746
    . teffects psmatch (bweight) (mbsmoke mmarried mage fage medu prenatal1), atet             30.55147

    The ATT's standard error needs Stata's form of the Abadie-Imbens (2016) ATT adjustment (the c term's
    conditional-mean part, the derivative from matching on the covariates): the previous form gave 30.46965.
    """
    df = _cattaneo()
    covariates = ["mmarried_", "mage", "fage", "medu", "prenatal1_"]
    r = dc.matching(df, outcome="bweight", treatment="mbsmoke_", estimand="ATE", covariates=covariates)
    assert r.estimate == pytest.approx(-229.4492, abs=5e-5)
    assert r.std_error == pytest.approx(25.88746, abs=5e-6)
    att = dc.matching(df, outcome="bweight", treatment="mbsmoke_", estimand="ATT", covariates=covariates)
    assert att.std_error == pytest.approx(30.55147, abs=5e-6)


def test_vce_conventions_differ_only_in_the_variance(rng):
    df = _frame(rng, 200)
    stata, ai = _m(df, se_adjust=False), _m(df, se_adjust=False, vce_convention="ai2006")
    assert stata.estimate == ai.estimate
    assert stata.std_error != pytest.approx(ai.std_error, rel=1e-6)
    with pytest.raises(dc.SpecificationError, match=r"vce_neighbors=1 with vce_convention='stata'"):
        _m(df, vce_neighbors=1)
    assert _m(df, vce_neighbors=1, vce_convention="ai2006").std_error > 0
    assert _m(df, vce_neighbors=1, distance="mahalanobis").std_error > 0


def _near(p, members, i, size, ties):
    """The ``size`` members nearest to unit i in score (i itself first when a member), with ties or not."""
    d = np.abs(p[members] - p[i])
    if not ties:
        return members[np.argsort(d, kind="stable")[:size]]
    kth = np.sort(d)[size - 1]
    return members[d <= kth * (1 + 1e-9) + 1e-12]


def _att_adjustment(p, X, y, t, V, tau, ties, imputation="matching"):
    """Abadie-Imbens (2016) ATT adjustment as Stata's ``teffects psmatch, atet`` computes it, by loops:
    -c'Vc + d'Vd with c = sum[X f (mu1(p) - mu0(p) - tau) + (cov1 + p/(1-p) cov0) f] / N1 over all units and
    d = sum[X f (Y(1) - Y(0) - tau)] / N1, the missing potential outcome imputed by the mean of the nearest
    other-group unit (and ties) by Euclidean distance on the covariates (``imputation="regression"``: by the
    other group's least-squares fit, statsmodels OLS). mu_g(p_i): mean of the 2 units of
    group g nearest in score (for i in g: its 2 nearest others); cov_g: covariance over the 2 nearest (for i
    in g: i and its nearest other)."""
    n = len(y)
    f = p * (1 - p)
    z = X[:, 1:]
    mu, cov = np.zeros((n, 2)), np.zeros((2, n, X.shape[1]))
    for arm in (0, 1):
        members = np.flatnonzero(t == arm)
        for i in range(n):
            near = _near(p, members, i, 2, ties)
            cov[arm, i] = ((X[near] - X[near].mean(0)) * (y[near] - y[near].mean())[:, None]).sum(0) / (len(near) - 1)
            others = members[members != i]
            mu[i, arm] = y[_near(p, others, i, 2, ties)].mean()
    effect = np.empty(n)
    for arm in (0, 1):
        tg, pl = np.flatnonzero(t == arm), np.flatnonzero(t != arm)
        if imputation == "regression":
            other = sm.OLS(y[pl], X[pl]).fit().predict(X[tg])
            effect[tg] = y[tg] - other if arm == 1 else other - y[tg]
            continue
        dist = np.sqrt(((z[tg][:, None, :] - z[pl][None, :, :]) ** 2).sum(-1))
        for i, row in zip(tg, dist):
            imputed = y[pl[row <= row.min() * (1 + 1e-9) + 1e-12]].mean()
            effect[i] = y[i] - imputed if arm == 1 else imputed - y[i]
    n1 = t.sum()
    c = (X * (f * (mu[:, 1] - mu[:, 0] - tau))[:, None]).sum(0) / n1
    c += ((cov[1] + (p / (1 - p))[:, None] * cov[0]) * f[:, None]).sum(0) / n1
    d = (X * (f * (effect - tau))[:, None]).sum(0) / n1
    return -c @ V @ c + d @ V @ d


@pytest.mark.parametrize(
    ("vce", "discrete", "imputation"),
    [
        ("ai2006", False, "matching"),
        ("stata", False, "matching"),
        ("stata", True, "matching"),
        ("stata", False, "regression"),
        ("stata", True, "regression"),
    ],
)
def test_ps_adjusted_se_matches_reference(rng, vce, discrete, imputation):
    """Abadie-Imbens (2016) adjustment, recomputed here from statsmodels' logit and brute-force neighbours
    (under Stata's convention with ties: tied scores and covariate distances when the covariates are
    discrete). The ATC is the ATT of the swapped groups."""
    df = _frame(rng, 300, discrete=discrete)
    y, t = df.y.to_numpy(), df.t.to_numpy()
    X = sm.add_constant(df[["x0", "x1"]].to_numpy())
    logit = sm.Logit(t, X).fit(disp=0, method="newton", tol=1e-14)
    p = logit.predict()
    V = logit.cov_params()
    f = p * (1 - p)
    ties = vce == "stata"
    cov = {}
    for arm in (0, 1):
        members = np.flatnonzero(t == arm)
        c = np.zeros((len(y), 3))
        for i in range(len(y)):
            near = _near(p, members, i, 2, ties=ties)
            c[i] = ((X[near] - X[near].mean(0)) * (y[near] - y[near].mean())[:, None]).sum(0) / (len(near) - 1)
        cov[arm] = c
    for estimand in ("ATE", "ATT", "ATC"):
        tau, se, _ = _brute_ai(p, y, t, estimand, 1, vce=vce)
        if estimand == "ATE":
            cvec = ((cov[1] / p[:, None] + cov[0] / (1 - p)[:, None]) * f[:, None]).mean(0)
            adj = -cvec @ V @ cvec
        elif estimand == "ATT":
            adj = _att_adjustment(p, X, y, t, V, tau, ties, imputation)
        else:
            adj = _att_adjustment(1 - p, X, y, 1 - t, V, -tau, ties, imputation)
        r = _m(df, estimand=estimand, vce_convention=vce, se_imputation=imputation)
        assert r.std_error == pytest.approx(np.sqrt(se**2 + adj), rel=1e-7)
        assert any("Abadie and Imbens 2016" in n for n in r.notes)
        if estimand != "ATE":
            how = {"matching": "matching on the covariates", "regression": "a linear regression"}[imputation]
            assert any(f"derivative term imputes the missing potential outcomes by {how}" in n for n in r.notes)


def test_derivative_imputation_auto_is_matching_on_small_and_regression_on_large_samples(rng, monkeypatch):
    """se_imputation="auto": Stata's covariate matching while the search is small (MATCHING_IMPUTATION_ROWS
    rows, or rows x 2^covariates up to MATCHING_IMPUTATION_WORK), least squares beyond; the note says which."""
    from deconfound.estimators import _matching_se

    df = _frame(rng, 300)
    small = _m(df)
    assert small.std_error == pytest.approx(_m(df, se_imputation="matching").std_error, rel=1e-12)
    monkeypatch.setattr(_matching_se, "MATCHING_IMPUTATION_ROWS", 299)
    assert _m(df).std_error == pytest.approx(small.std_error, rel=1e-12)  # 300 x 2^2 is still small work
    monkeypatch.setattr(_matching_se, "MATCHING_IMPUTATION_WORK", 300 * 4 - 1)
    large = _m(df)
    assert large.std_error == pytest.approx(_m(df, se_imputation="regression").std_error, rel=1e-12)
    assert large.std_error != pytest.approx(small.std_error, rel=1e-9)
    assert any("imputes the missing potential outcomes by a linear regression" in n for n in large.notes)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_covariate_match_means_with_repeated_profiles(rng, k):
    """The ATT derivative's imputation (k nearest other-group units by Euclidean distance, and every unit
    tied with the k-th), searched once per distinct covariate profile, equals the search over units."""
    from deconfound.estimators._matching_se import covariate_match_means

    n = 240
    z = np.column_stack([rng.integers(0, 4, n), rng.integers(0, 3, n) * 0.5]).astype(float)
    z[:60] = rng.normal(size=(60, 2))  # some distinct rows too
    t = (rng.random(n) < 0.4).astype(float)
    y = rng.normal(size=n)
    expected = np.empty(n)
    for i in range(n):
        pool = np.flatnonzero(t != t[i])
        d = np.sqrt(((z[pool] - z[i]) ** 2).sum(1))
        kth = np.sort(d)[k - 1]
        expected[i] = y[pool[d <= kth * (1 + 1e-9) + 1e-12]].mean()
    assert covariate_match_means(z, y, t, k) == pytest.approx(expected, rel=1e-12)


def test_matched_pairs_frame_has_row_labels(rng):
    df = _frame(rng, 150)
    df.index = [f"p{i}" for i in range(len(df))]
    r = _m(df)
    m = r.diagnostics["matches"]
    assert set(m.columns) == {"unit", "match", "unit_treated", "distance", "weight"}
    assert m["unit"].str.startswith("p").all()
    assert (df.loc[m["unit"], "t"] == 1).all() and (df.loc[m["match"], "t"] == 0).all()
    bal = r.diagnostics["balance"]
    assert {"smd_before", "smd_after", "variance_ratio_before", "variance_ratio_after"} <= set(bal.columns)
    assert "propensity score" in bal.index


def test_balance_after_matching_uses_match_weights(rng):
    df = _frame(rng, 200)
    r = _m(df)
    m = r.diagnostics["matches"]
    w = m.groupby("match")["weight"].sum()
    ctrl = df.loc[w.index, "x0"]
    assert r.diagnostics["balance"].loc["x0", "mean_control_after"] == pytest.approx(np.average(ctrl, weights=w))


# --------------------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------------------


def test_caliper_dropping_every_treated_unit_is_an_error(rng):
    df = _frame(rng)
    with pytest.raises(dc.DataError, match=r"No treated row found a match within the caliper"):
        _m(df, caliper=1e-12)


def test_one_treated_unit_is_an_error(rng):
    df = _frame(rng, 50)
    df["t"] = 0
    df.loc[3, "t"] = 1
    with pytest.raises(dc.DataError, match=r"1 treated and 49 control row\(s\): the treated group has fewer than 2"):
        _m(df)


def test_perfect_separation_names_the_covariate(rng):
    df = _frame(rng, 100)
    df["t"] = (df.x0 > 0.1).astype(int)
    with pytest.raises(dc.DataError, match=r"covariate 'x0' separates treated from control completely"):
        _m(df)


def test_no_overlap_with_a_classifier_is_an_error(rng):
    from sklearn.tree import DecisionTreeClassifier

    df = _frame(rng, 100)
    df["t"] = (df.x0 > 0.1).astype(int)
    with pytest.raises(dc.DataError, match=r"do not overlap at all"):
        dc.matching(
            df,
            outcome="y",
            treatment="t",
            covariates=["x0", "x1"],
            propensity_model=DecisionTreeClassifier(),
            cross_fit=None,
        )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"estimand": "ATE", "replace": False}, r"needs matching with replacement"),
        ({"method": "optimal", "neighbors": 2}, r"use neighbors=1"),
        ({"caliper": -1}, r"caliper must be a positive number"),
        ({"caliper": 0.1, "caliper_scale": "sd", "distance": "mahalanobis"}, r"already in SDs"),
        ({"estimand": "ATX"}, r"estimand='ATX' is not allowed; choose one of 'ATT', 'ATC', 'ATE'"),
        ({"distance": "euclid"}, r"distance='euclid' is not allowed"),
        ({"neighbors": 0}, r"neighbors must be an integer >= 1"),
        ({"vce_convention": "iid"}, r"vce_convention='iid' is not allowed; choose one of 'stata', 'ai2006'"),
        ({"se_imputation": "kernel"}, r"se_imputation='kernel' is not allowed; choose one of 'auto', 'matching'"),
    ],
)
def test_bad_options(rng, kwargs, message):
    df = _frame(rng, 80)
    with pytest.raises(dc.SpecificationError, match=message):
        _m(df, **kwargs)


def test_no_covariates_is_an_error(rng):
    with pytest.raises(dc.SpecificationError, match=r"matching needs covariates="):
        dc.matching(_frame(rng, 50), outcome="y", treatment="t")


def test_regression_imputation_equals_least_squares_within_each_group(rng):
    """The derivative term's regression imputation: each unit's fitted outcome under the other group's
    least-squares fit (numpy lstsq here), for a design read in place and one copied block by block; a column
    with a large mean keeps it exact, a column constant within the treated is dropped from their fit."""
    from deconfound._core.design import Design, constant_part
    from deconfound.estimators._matching_se import regression_other_outcome

    n = 20_000
    x = np.column_stack([rng.normal(size=n) + 1e6, rng.normal(size=n), rng.integers(0, 2, n)]).astype(float)
    t = (rng.random(n) < 0.4).astype(float)
    x[t == 1, 2] = 1.0  # constant within the treated: collinear with their intercept
    y = x[:, 1] * 2 + x[:, 2] - 1e-6 * x[:, 0] + t + rng.normal(size=n)
    want = np.empty(n)
    for g in (0.0, 1.0):
        cols = [j for j in range(3) if np.ptp(x[t == g, j]) > 0]  # a column constant in the group is dropped
        # the reference shifts the 1e6 column first: lstsq on it raw loses about half the digits
        full = np.column_stack([np.ones(n), (x - [1e6, 0.0, 0.0])[:, cols]])
        coef = np.linalg.lstsq(full[t == g], y[t == g], rcond=None)[0]
        want[t != g] = full[t != g] @ coef
    in_place = Design.from_matrix(x, ["a", "b", "c"]).with_parts([constant_part()], front=True)
    copied = Design.from_matrix(x, ["a", "b", "c"]).with_parts([constant_part()], front=False)
    assert in_place.leading_constant_view() is not None and copied.leading_constant_view() is None
    for design in (in_place, copied):
        np.testing.assert_allclose(regression_other_outcome(design, y, t), want, rtol=1e-9, atol=1e-9)


def test_a_score_with_few_distinct_values_matches_like_the_pair_search(rng):
    """Discrete covariates give a score with a handful of values and tied groups of hundreds: matches and
    variance neighbours are kept as runs of the sorted groups, so this costs no more than continuous scores
    and gives what the pair-by-pair search gives (forced here by an exact-matching column with one value)."""
    df = _frame(rng, 3000, discrete=True)
    df["one"] = "all"
    for kwargs in ({}, {"estimand": "ATE"}, {"neighbors": 3, "caliper": 0.05}, {"ties": False}, {"bias_adjust": True}):
        runs, pairs = _m(df, **kwargs), _m(df, exact="one", **kwargs)
        assert runs.estimate == pytest.approx(pairs.estimate, rel=1e-12)
        assert runs.std_error == pytest.approx(pairs.std_error, rel=1e-9)
        assert runs.diagnostics["n_unmatched"] == pairs.diagnostics["n_unmatched"]
        a = runs.diagnostics["matches"].sort_values(["unit", "match"]).reset_index(drop=True)
        b = pairs.diagnostics["matches"].sort_values(["unit", "match"]).reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12)
