"""Sampling weights in matching (``weights=``): unit weights give the unweighted result, the formulas of
:mod:`deconfound.estimators._matching_weights` against a brute-force computation, bad weights refused,
and (slow) the confidence interval's coverage of the population effect under unequal-probability sampling."""

import warnings

import numpy as np
import pandas as pd
import pytest

import deconfound as dc
from deconfound._core import kernels


def _data(rng, n=400):
    x1 = rng.normal(size=n)
    x2 = rng.integers(0, 3, n).astype(float)  # discrete: tied scores
    t = (rng.uniform(size=n) < 1 / (1 + np.exp(-(0.4 * x1 - 0.3 * x2)))).astype(int)
    y = 1 + x1 + 0.5 * x2 + (2 + x1) * t + rng.normal(size=n)
    return pd.DataFrame(
        {"y": y, "t": t, "x1": x1, "x2": x2, "g": rng.integers(0, 2, n), "one": 1.0, "s": rng.uniform(0.2, 4.0, n)}
    )


def _quiet(data, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dc.DeconfoundWarning)
        return dc.matching(data, **options)


OPTIONS = [
    dict(estimand="ATT"),
    dict(estimand="ATE", caliper=0.002),
    dict(estimand="ATC", exact="g", neighbors=2),
    dict(estimand="ATT", replace=False, caliper=0.01),
    dict(estimand="ATT", method="optimal"),
    dict(estimand="ATE", distance="logit", bias_adjust=True, vce_convention="ai2006"),
    dict(estimand="ATE", distance="mahalanobis", caliper=0.3),
    dict(estimand="ATC", distance="mahalanobis", exact="g", bias_adjust=True),
]


@pytest.mark.parametrize("options", OPTIONS)
def test_unit_weights_give_the_unweighted_result(options, rng):
    """Weights of 1 (and of any constant) change nothing: the same matches, estimate, standard error and
    balance. The score paths compare with se_adjust=False (the 2016 adjustment is not defined with weights)."""
    df = _data(rng)
    common = dict(outcome="y", treatment="t", covariates=["x1", "x2"], se_adjust=False, **options)
    for name in kernels.BACKENDS:
        with kernels.using(name):
            plain = _quiet(df, **common)
            unit = _quiet(df, weights="one", **common)
            scaled = _quiet(df.assign(one=7.5), weights="one", **common)
        for weighted in (unit, scaled):
            assert weighted.estimate == pytest.approx(plain.estimate, rel=1e-12)
            assert weighted.std_error == pytest.approx(plain.std_error, rel=1e-12)
            assert weighted.n == plain.n
            assert weighted.diagnostics["n_unmatched"] == plain.diagnostics["n_unmatched"]
        after = ["smd_after"]
        pd.testing.assert_frame_equal(unit.diagnostics["balance"][after], plain.diagnostics["balance"][after])


def test_weights_change_the_estimate_and_are_noted(rng):
    df = _data(rng)
    common = dict(outcome="y", treatment="t", covariates=["x1", "x2"], estimand="ATE")
    plain, weighted = _quiet(df, **common), _quiet(df, weights="s", **common)
    assert weighted.estimate != pytest.approx(plain.estimate, rel=1e-3)
    assert any("sampling weights 's'" in note for note in weighted.notes)
    assert any("se_adjust is not applied with sampling weights" in note for note in weighted.notes)
    assert not any("se_adjust is not applied" in note for note in plain.notes)


def _brute_force(x, y, t, s, estimand, m, j):
    """The weighted estimate and variance of _matching_weights, computed pair by pair from the definitions:
    m nearest units of the other group on |x| (no ties: x continuous), sigma^2 as the sample variance of a
    unit and its j nearest same-group units (Stata's nnmatch convention)."""
    n = len(y)
    arms = {"ATT": [1], "ATC": [0], "ATE": [1, 0]}[estimand]
    targets, effects, big_l, big_q = [], [], np.zeros(n), np.zeros(n)
    for i in range(n):
        if t[i] not in arms:
            continue
        pool = np.flatnonzero(t != t[i])
        near = pool[np.argsort(np.abs(x[pool] - x[i]))[:m]]
        imputed = y[near].mean()
        effects.append(y[i] - imputed if t[i] == 1 else imputed - y[i])
        targets.append(i)
        big_l[near] += s[i] / m
        big_q[near] += (s[i] / m) ** 2
    targets, effects = np.array(targets), np.array(effects)
    w = s[targets]
    tau = np.sum(w * effects) / w.sum()
    sigma2 = np.zeros(n)
    for k in range(n):
        same = np.flatnonzero((t == t[k]) & (np.arange(n) != k))
        near = same[np.argsort(np.abs(x[same] - x[k]))[:j]]
        sigma2[k] = np.var(y[np.append(near, k)], ddof=1)
    own = np.zeros(n)
    own[targets] = w
    spread = np.sum((w * (effects - tau)) ** 2)
    correction = np.sum((2 * own * big_l + big_l**2 - big_q) * sigma2)
    return tau, np.sqrt((spread + correction) / w.sum() ** 2)


@pytest.mark.parametrize(("estimand", "m"), [("ATT", 1), ("ATE", 2), ("ATC", 3)])
def test_weighted_estimate_and_standard_error_match_a_brute_force_computation(estimand, m, rng):
    n = 120
    x = rng.normal(size=n)
    t = (rng.uniform(size=n) < 0.45).astype(int)
    y = x + t * (1 + x) + rng.normal(size=n)
    s = rng.uniform(0.3, 5.0, n)
    df = pd.DataFrame({"y": y, "t": t, "x": x, "s": s})
    res = dc.matching(
        df, outcome="y", treatment="t", covariates="x", distance="mahalanobis", estimand=estimand, neighbors=m,
        weights="s",
    )  # fmt: skip
    tau, se = _brute_force(x, y, t, s, estimand, m, 2)
    assert res.estimate == pytest.approx(tau, rel=1e-12)
    assert res.std_error == pytest.approx(se, rel=1e-10)


def test_one_match_att_equals_the_frequency_weighted_estimate(rng):
    """With one match and no ties, integer sampling weights give the point estimate of the rows repeated
    (the copies of a match are all tied, so it imputes the same outcome); the standard errors differ, since
    frequency weights claim that the copies are distinct units."""
    df = _data(rng, 300).assign(k=rng.integers(1, 4, 300).astype(float))
    common = dict(outcome="y", treatment="t", covariates=["x1"], estimand="ATT", distance="mahalanobis")
    sampled = _quiet(df, weights="k", **common)
    frequency = _quiet(df, fweights="k", **common)
    assert sampled.estimate == pytest.approx(frequency.estimate, rel=1e-12)
    assert sampled.std_error != pytest.approx(frequency.std_error, rel=1e-3)


def test_rows_of_weight_zero_are_left_out_and_counted(rng):
    df = _data(rng, 300)
    df.loc[:19, "s"] = 0.0
    common = dict(outcome="y", treatment="t", covariates=["x1", "x2"], distance="mahalanobis")
    with pytest.warns(dc.DataWarning, match=r"20 of 300 rows with weight 0 were left out"):
        res = dc.matching(df, weights="s", **common)
    kept = _quiet(df.iloc[20:], weights="s", **common)
    assert res.n == 280 and res.n_dropped == 20 and res.dropped_by == {"s == 0": 20}
    assert res.estimate == pytest.approx(kept.estimate, rel=1e-12)
    assert res.std_error == pytest.approx(kept.std_error, rel=1e-12)


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (-1.0, dc.DataError, r"weights 's' has 1 negative value"),
        (np.nan, dc.DataError, r"Missing values in 's' \(1 rows\)"),
    ],
)
def test_bad_weights_are_refused_naming_the_column(value, error, message, rng):
    df = _data(rng, 100)
    df.loc[3, "s"] = value
    with pytest.raises(error, match=message):
        dc.matching(df, outcome="y", treatment="t", covariates=["x1"], weights="s")


def test_weights_and_fweights_together_are_refused(rng):
    df = _data(rng, 100)
    with pytest.raises(dc.SpecificationError, match=r"weights='s' and fweights='one' were both given"):
        dc.matching(df, outcome="y", treatment="t", covariates=["x1"], weights="s", fweights="one")
    with pytest.raises(dc.DataError, match=r"zero in every row"):
        dc.matching(df.assign(s=0.0), outcome="y", treatment="t", covariates=["x1"], weights="s")


# --------------------------------------------------------------------------------------------------
# coverage of the population effect under unequal-probability sampling
# --------------------------------------------------------------------------------------------------


def _population_att() -> float:
    """E[1 + X | T = 1] for X ~ N(0, 1) and P(T = 1 | X) = logistic(0.5 X), by quadrature."""
    grid = np.linspace(-9, 9, 200_001)
    density = np.exp(-(grid**2) / 2)
    e = 1 / (1 + np.exp(-0.5 * grid))
    return float(1 + np.sum(grid * e * density) / np.sum(e * density))


def _survey(rng, n_pop, by):
    """A Poisson sample of a population where the effect is 1 + X: units with X > 0 (``by="x"``) or the
    treated (``by="t"``) are sampled with probability 0.8, the others with 0.2; weights 1 / probability."""
    x = rng.normal(size=n_pop)
    t = (rng.uniform(size=n_pop) < 1 / (1 + np.exp(-0.5 * x))).astype(int)
    y = x + t * (1 + x) + rng.normal(size=n_pop)
    high = x > 0 if by == "x" else t == 1
    p = np.where(high, 0.8, 0.2)
    keep = rng.uniform(size=n_pop) < p
    return pd.DataFrame({"y": y[keep], "t": t[keep], "x": x[keep], "w": 1 / p[keep]})


@pytest.mark.slow
@pytest.mark.parametrize(
    ("by", "options", "truth"),
    [
        ("x", dict(distance="mahalanobis", estimand="ATE"), 1.0),
        ("x", dict(distance="mahalanobis", estimand="ATT"), None),
        ("t", dict(distance="propensity", estimand="ATE"), 1.0),
    ],
)
def test_weighted_interval_covers_the_population_effect(by, options, truth):
    """Sampling by X (on the covariates) or by treatment group (on the score): the unweighted estimate
    misses the population effect (the sample over-represents X > 0 or the treated), the weighted interval
    covers it at about its level (measured, 300 samples: 96.7% and 95.3% on the covariates, 95.3% on the
    score). On the score the standard error treats it as known (conservative for the ATE, Abadie and
    Imbens 2016; for the ATT, not tested here, it covered 93.0%)."""
    truth = _population_att() if truth is None else truth
    rng = np.random.default_rng(2026)
    reps, covered, bias_w, bias_u = 300, 0, [], []
    for _ in range(reps):
        df = _survey(rng, 2500, by)
        common = dict(outcome="y", treatment="t", covariates="x", **options)
        res = _quiet(df, weights="w", **common)
        covered += res.ci_low <= truth <= res.ci_high
        bias_w.append(res.estimate - truth)
        bias_u.append(_quiet(df, **common).estimate - truth)
    coverage = covered / reps
    lo = 0.92 if by == "x" else 0.93
    assert lo <= coverage <= 0.985, coverage
    assert abs(np.mean(bias_w)) < 0.02
    if options["estimand"] == "ATE":  # the unweighted ATE estimates the sample's, not the population's
        assert abs(np.mean(bias_u)) > 0.1  # measured: 0.49 (sampling by X), 0.15 (by group)
