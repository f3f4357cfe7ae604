"""Honest DiD (Rambachan and Roth): against the R package HonestDiD's published Medicaid example, against
independent linear programs, and its plumbing (event studies, Callaway-Sant'Anna, errors, plot)."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

import deconfound as dc
from deconfound.robustness._arp import MomentTest
from deconfound.robustness.honest import _Flci, _rm_matrix

# The Medicaid-expansion event study of HonestDiD's README (github.com/asheshrambachan/HonestDiD, README.md,
# "Example usage - Medicaid expansions"): fixest::feols(dins ~ i(year, D, ref = 2013) | stfips + year,
# cluster = "stfips") on Mixtape-Sessions/Advanced-DID Exercises/Data/ehec_data.csv, years < 2016, the 2015
# cohort dropped, D = 1 for the 2014 cohort. betahat / sigma below are that regression's coefficients
# (2008..2012, 2014, 2015) and clustered covariance, computed with pyfixest (which reproduces fixest) on the
# same data: 5 pre-periods, 2 post-periods.
BETAHAT = np.array(
    [-0.00528534242424266, -0.0112973183982686, -0.00267597554112577, -0.00141931190476211,
     0.00033967748917726, 0.04644686450216422, 0.06920618030302997]
)  # fmt: skip
SIGMA = np.array(
    [
        [7.4884847103993406e-05, 6.0398755243522357e-05, 4.4446186904778161e-05, 3.3857655990030821e-05,
         4.3280135086531132e-05, 4.7658821837674083e-05, 2.4251295373345637e-05],
        [6.0398755243522330e-05, 7.2664990607520797e-05, 3.7893281156989398e-05, 2.8665763072405852e-05,
         4.5433213430977600e-05, 4.4288526851647148e-05, 2.8246557930493337e-05],
        [4.4446186904778188e-05, 3.7893281156989418e-05, 5.0520507244055174e-05, 2.6736779513640397e-05,
         2.7781938330120696e-05, 3.0606454242834554e-05, 9.6375480161745432e-06],
        [3.3857655990030862e-05, 2.8665763072405879e-05, 2.6736779513640400e-05, 4.0032217795014939e-05,
         2.4128608688486604e-05, 2.3808693710838627e-05, 2.9239019090999072e-06],
        [4.3280135086531160e-05, 4.5433213430977614e-05, 2.7781938330120713e-05, 2.4128608688486611e-05,
         5.4626653870843621e-05, 3.6825353163576007e-05, 9.7229777899507756e-06],
        [4.7658821837674063e-05, 4.4288526851647135e-05, 3.0606454242834527e-05, 2.3808693710838600e-05,
         3.6825353163575973e-05, 8.3756740285161746e-05, 6.3214033033887930e-05],
        [2.4251295373345627e-05, 2.8246557930493334e-05, 9.6375480161745194e-06, 2.9239019090998814e-06,
         9.7229777899507332e-06, 6.3214033033887916e-05, 1.0712358152956362e-04],
    ]
)  # fmt: skip
SIGMA = 0.5 * (SIGMA + SIGMA.T)

# HonestDiD README, createSensitivityResults_relativeMagnitudes(..., Mbarvec = seq(0.5, 2, by = 0.5)) (C-LF):
README_RM = {0.5: (0.0241, 0.0673), 1.0: (0.0171, 0.0720), 1.5: (0.00859, 0.0796), 2.0: (-0.00107, 0.0883)}
# and createSensitivityResults(..., Mvec = seq(0, 0.05, by = 0.01)) (FLCI):
README_SD = {
    0.00: (0.0259, 0.0607),
    0.01: (0.0132, 0.0787),
    0.02: (0.00286, 0.0907),
    0.03: (-0.00714, 0.101),
    0.04: (-0.0171, 0.111),
    0.05: (-0.0271, 0.121),
}
# The C-LF sets are read off a grid of 1,000 points on +-20 standard errors (one step = 40 se / 999 = 3.7e-4
# here) and HonestDiD's least-favourable critical value comes from R's random draws, ours from numpy's: the
# endpoints agree to two grid steps. The FLCI's folded-normal quantile is simulated by HonestDiD (1e6 draws)
# and exact here (about 7e-5 apart); the README rounds to three significant digits.
GRID_STEP = 40 * np.sqrt(SIGMA[5, 5]) / 999


def _printed(value: float) -> float:
    """Half a unit in the last of the three significant digits the README prints."""
    return 0.5 * 10.0 ** (np.floor(np.log10(abs(value))) - 2)


def test_relative_magnitudes_match_the_honestdid_readme():
    res = dc.honest_did(betahat=BETAHAT, sigma=SIGMA, num_pre=5, restriction="rm", sizes=list(README_RM))
    assert res.method == "C-LF" and res.size_name == "Mbar"
    for row in res.table.itertuples():
        lo, hi = README_RM[row.size]
        assert row.lb == pytest.approx(lo, abs=2 * GRID_STEP + _printed(lo))
        assert row.ub == pytest.approx(hi, abs=2 * GRID_STEP + _printed(hi))
    # the README: "the breakdown value for a significant effect is Mbar = 2" (significant at 1.5, not at 2)
    assert 1.5 < res.breakdown <= 2.0


def test_smoothness_matches_the_honestdid_readme():
    res = dc.honest_did(betahat=BETAHAT, sigma=SIGMA, num_pre=5, restriction="sd", sizes=list(README_SD))
    assert res.method == "FLCI"
    for row in res.table.itertuples():
        lo, hi = README_SD[round(row.size, 2)]
        assert row.lb == pytest.approx(lo, abs=_printed(lo) + 7e-5)
        assert row.ub == pytest.approx(hi, abs=_printed(hi) + 7e-5)
    # the README: "the breakdown value for a significant effect is M ~ 0.03" (significant at 0.02, not at 0.03)
    assert 0.02 < res.breakdown < 0.03


def test_original_interval_is_the_usual_one():
    res = dc.honest_did(betahat=BETAHAT, sigma=SIGMA, num_pre=5, restriction="sd", sizes=[0.0], l_vec="average")
    est = 0.5 * (BETAHAT[5] + BETAHAT[6])
    se = 0.5 * np.sqrt(SIGMA[5, 5] + SIGMA[6, 6] + 2 * SIGMA[5, 6])
    assert res.estimate == pytest.approx(est, rel=1e-12)
    assert res.original == pytest.approx((est - 1.959963984540054 * se, est + 1.959963984540054 * se), rel=1e-10)


# ---- the machinery against independent computations ------------------------------------------------------


def test_vertex_enumeration_equals_the_linear_program(rng):
    for m, k in ((6, 1), (8, 2), (5, 0)):
        x = rng.normal(size=(m, k))
        a = rng.normal(size=(m, m))
        sigma = a @ a.T + np.eye(m)
        test = MomentTest(x, sigma)
        for _ in range(5):
            y = rng.normal(size=m)
            res = linprog(
                np.r_[1.0, np.zeros(k)],
                A_ub=-np.column_stack([test.sd, x]),
                b_ub=-y,
                bounds=[(None, None)] * (k + 1),
                method="highs",
            )
            ours = test.eta(y[None, :])[0]
            if res.status == 3:  # unbounded
                assert ours == -np.inf
            else:
                assert ours == pytest.approx(res.fun, rel=1e-9, abs=1e-12)


def test_flci_worst_case_bias_equals_the_linear_program(rng):
    """The closed-form worst-case bias of an affine estimator over Delta^SD(M) equals the maximum of its bias
    over the second-difference constraints, found by scipy's LP (delta over pre- and post-periods, zero at -1)."""
    num_pre, num_post, m = 4, 3, 0.7
    sigma = np.eye(num_pre + num_post)
    for l_vec in (np.array([1.0, 0, 0]), np.array([0.2, 0.5, 0.3]), np.array([0, 0, 1.0])):
        flci = _Flci(sigma, num_pre, num_post, l_vec)
        w = rng.normal(size=num_pre)
        w[-1] += flci.total - w.sum()  # unbiased for linear trends
        l_pre = flci.d @ w
        # delta at periods -num_pre..-1, 0..num_post-1 in HonestDiD's time (post periods 1..T); reference 0
        times = [*range(-num_pre, 0), 0, *range(1, num_post + 1)]
        n = len(times)
        ref = num_pre
        rows = []
        for i in range(1, n - 1):
            r = np.zeros(n)
            r[i - 1], r[i], r[i + 1] = 1.0, -2.0, 1.0
            rows += [r, -r]
        obj = np.zeros(n)
        obj[:num_pre] = l_pre
        obj[ref + 1 :] = l_vec
        res = linprog(
            -obj,
            A_ub=np.array(rows),
            b_ub=np.full(len(rows), m),
            A_eq=np.eye(n)[[ref]],
            b_eq=[0.0],
            bounds=[(None, None)] * n,
            method="highs",
        )
        assert res.status == 0
        assert m * flci.bias(w) == pytest.approx(-res.fun, rel=1e-8)


def test_flci_is_no_longer_than_other_affine_intervals(rng):
    """The FLCI minimises cv(bias / sd) sd over the estimators unbiased for linear trends: random ones do
    no better."""
    from deconfound.robustness.honest import _folded_normal_quantile

    flci = _Flci(SIGMA, 5, 2, np.array([1.0, 0.0]))
    lo, hi, _ = flci.interval(BETAHAT, 0.02, 0.05)
    best = (hi - lo) / 2
    for _ in range(200):
        w = rng.normal(scale=0.5, size=5)
        w[-1] += flci.total - w.sum()
        sd = np.sqrt(flci.var(w))
        assert _folded_normal_quantile(0.95, 0.02 * flci.bias(w) / sd) * sd >= best * (1 - 1e-6)


def test_relative_magnitudes_constraints_hold_for_the_true_delta():
    """A delta built to satisfy Delta^RM(Mbar) (post changes Mbar times the largest pre change) satisfies the
    constraint matrix of the right (s, sign), and one exceeding it violates all of them."""
    num_pre, num_post, mbar = 3, 2, 1.5
    pre_changes = np.array([0.1, -0.3, 0.2])  # delta_-3 - delta_-4 ..., the largest |.| is 0.3 (s = -1, minus)
    delta_full = np.concatenate([[0.0], np.cumsum(pre_changes)])  # periods -4..-1
    delta_full -= delta_full[-1]  # zero at -1 (the reference)
    ok_post = np.cumsum([0.45, -0.45])  # changes of size mbar * 0.3
    bad_post = np.cumsum([0.46, 0.0])
    pre = delta_full[:-1]

    def satisfied(post):
        d = np.concatenate([pre, post])
        return [bool(np.all(_rm_matrix(num_pre, num_post, mbar, s, sign) @ d <= 1e-12))
                for s in range(-(num_pre - 1), 1) for sign in (True, False)]  # fmt: skip

    assert any(satisfied(ok_post))
    assert not any(satisfied(bad_post))


# ---- inputs, outputs and errors ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def panel():
    return dc.datasets.simulate_panel(n_units=300, n_periods=8, cohorts=(5,), never_share=0.4, random_state=3)


def test_event_study_result_is_read_with_its_covariance(panel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dc.DeconfoundWarning)
        res = dc.event_study(panel, outcome="y", unit="unit", time="time", first_treated="first_treated",
                             window=(-4, 3))  # fmt: skip
    table = res.coefficients
    idx = [i for i, k in enumerate(table.keys["event_time"]) if k is not None]
    order = np.argsort([table.keys["event_time"][i] for i in idx])
    idx = [idx[i] for i in order]
    direct = dc.honest_did(betahat=table.coef[idx], sigma=table.cov[np.ix_(idx, idx)], num_pre=3, restriction="sd",
                           sizes=[0, 0.1])  # fmt: skip
    from_result = dc.honest_did(res, restriction="sd", sizes=[0, 0.1])
    pd.testing.assert_frame_equal(direct.table, from_result.table)
    assert from_result.num_pre == 3 and from_result.num_post == 4


def test_callaway_santanna_event_study_carries_its_covariance(panel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dc.DeconfoundWarning)
        res = dc.staggered(panel, outcome="y", unit="unit", time="time", first_treated="first_treated",
                           base_period="universal", aggregate="event")  # fmt: skip
        varying = dc.staggered(panel, outcome="y", unit="unit", time="time", first_treated="first_treated")
    frame = res.diagnostics["event_study"]
    cov = np.array(frame.attrs["cov"])
    assert cov.shape == (len(frame), len(frame))
    np.testing.assert_allclose(np.sqrt(np.diag(cov)), frame["std_error"].to_numpy(), rtol=1e-10)
    out = dc.honest_did(res, restriction="rm", sizes=[0.0, 1.0], grid_points=200)
    keep = ~frame["reference"].to_numpy()
    assert out.estimate == pytest.approx(float(frame.loc[frame["event_time"] == 0, "estimate"].iloc[0]))
    assert out.num_pre + out.num_post == int(keep.sum())
    with pytest.raises(dc.SpecificationError, match="base_period='universal'"):
        dc.honest_did(varying)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"num_pre": 0}, dc.SpecificationError, "num_pre must be"),
        ({"num_pre": 5, "l_vec": [1.0]}, dc.SpecificationError, "l_vec must hold 2"),
        ({"num_pre": 5, "event_time": 2}, dc.SpecificationError, "event_time must be"),
        ({"num_pre": 5, "restriction": "xx"}, dc.SpecificationError, "restriction"),
        ({"num_pre": 5, "sizes": [-1.0]}, dc.SpecificationError, "sizes must be"),
        ({"num_pre": 5, "restriction": "sd", "method": "C-LF"}, dc.SpecificationError, "FLCI"),
    ],
)
def test_bad_arguments_are_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        dc.honest_did(betahat=BETAHAT, sigma=SIGMA, **kwargs)


def test_bad_sigma_and_wrong_inputs_are_refused():
    with pytest.raises(dc.SpecificationError, match="sigma must be 7 x 7"):
        dc.honest_did(betahat=BETAHAT, sigma=SIGMA[:6, :6], num_pre=5)
    with pytest.raises(dc.DataError, match="not symmetric"):
        dc.honest_did(betahat=BETAHAT, sigma=SIGMA + np.triu(np.full((7, 7), 1e-3), 1), num_pre=5)
    heart = dc.datasets.heart_attack()
    with pytest.raises(dc.SpecificationError, match="event-study result"):
        dc.honest_did(dc.ols(heart, outcome="Severity", treatment="Drug"))


def test_result_summary_dict_and_plot():
    res = dc.honest_did(betahat=BETAHAT, sigma=SIGMA, num_pre=5, restriction="sd", sizes=[0, 0.02, 0.04])
    out = res.to_dict()
    assert set(out) >= {"restriction", "method", "intervals", "breakdown", "original_ci", "verdict", "l_vec"}
    assert [r["size"] for r in out["intervals"]] == [0, 0.02, 0.04]
    assert "breakdown M" in res.verdict and "M = 0.02" in str(res)
    fig = res.plot()
    assert fig.axes[0].get_xlabel() == "M"


@pytest.mark.slow
def test_robust_intervals_cover_the_truth_when_the_restriction_holds():
    """Event-study coefficients drawn around a true effect plus a violation of parallel trends inside the
    restriction: the FLCI (Delta^SD(M), curvature exactly M) and the C-LF set (Delta^RM(Mbar), post-period
    changes Mbar times the largest pre-period one) cover the true effect in at least 93% of 400 draws."""
    from deconfound.robustness.honest import _rm_accept

    rng = np.random.default_rng(11)
    tau = np.array([0.05, 0.07])
    m = 0.004
    t = np.arange(-6, 2, dtype=float)  # -6..-2 pre, -1 the reference, 0..1 post; delta_-1 = 0
    delta_all = 0.002 * (t + 1) + 0.5 * m * (t + 1) ** 2  # second differences m
    delta = np.delete(delta_all, 5)
    mean = delta + np.r_[np.zeros(5), tau]
    flci = _Flci(SIGMA, 5, 2, np.array([1.0, 0.0]))
    draws = rng.multivariate_normal(mean, SIGMA, size=400)
    covered = [lo <= tau[0] <= hi for lo, hi, _ in (flci.interval(b, m, 0.05) for b in draws)]
    assert np.mean(covered) >= 0.93

    pre_changes = np.array([0.004, -0.003, 0.002, -0.004])  # largest |change| 0.004
    pre = -np.cumsum(pre_changes[::-1])[::-1]  # delta_-6 .. delta_-2 with delta_-1 = 0 (4 pre coefficients)
    pre = np.r_[pre[0] - 0.001, pre]  # a fifth, smaller, change at the start
    post = np.cumsum([0.004, -0.004])  # changes of size Mbar * 0.004 with Mbar = 1
    mean_rm = np.r_[pre, tau + post]
    draws = rng.multivariate_normal(mean_rm, SIGMA, size=200)
    hits = [
        bool(_rm_accept(b, SIGMA, 5, 2, np.array([1.0, 0.0]), 1.0, np.array([tau[0]]), 0.05, "C-LF", 0, 1000)[0])
        for b in draws
    ]
    assert np.mean(hits) >= 0.93
