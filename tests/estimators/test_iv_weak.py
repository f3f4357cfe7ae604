"""The IV result carries its instruments' diagnostics: first stage, weak-IV verdict and warning, the
Anderson-Rubin set, tF and compliers (issue 13, items 2, 3, 5 and 7), checked against linearmodels and
statsmodels with covariates, weights, fixed effects and every covariance type."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

import deconfound as dc


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(99)
    n = 1200
    w1, w2 = rng.normal(size=n), rng.normal(size=n)
    z1, z2 = rng.normal(size=n) + 0.3 * w1, rng.normal(size=n)
    u = rng.normal(size=n)
    d = 0.5 * z1 + 0.3 * z2 + w1 + u + rng.normal(size=n)
    y = 1.0 * d + w1 - w2 + u * (1 + np.abs(z1))
    g = rng.integers(0, 30, size=n)
    return pd.DataFrame(
        {"y": y, "d": d, "w1": w1, "w2": w2, "z1": z1, "z2": z2, "g": g, "wt": rng.uniform(0.5, 2, size=n)}
    )


def _lm_first_stage(df, cov, **kw):
    from linearmodels.iv import IV2SLS

    exog = df[["w1", "w2"]].assign(const=1.0)
    return (
        IV2SLS(df.y, exog, df.d, df[["z1", "z2"]], weights=kw.pop("weights", None))
        .fit(cov_type=cov, debiased=True, **kw)
        .first_stage
    )


@pytest.mark.parametrize(
    ("ours", "lm", "stat"),
    [("nonrobust", "unadjusted", "f_stat"), ("HC1", "robust", "chi2"), ("cluster", "clustered", "chi2")],
)
def test_first_stage_on_the_result_matches_linearmodels(frame, ours, lm, stat):
    kw = {"cluster": "g"} if ours == "cluster" else {}
    est = dc.iv(
        frame, outcome="y", treatment="d", instruments=["z1", "z2"], covariates=["w1", "w2"], cov_type=ours, **kw
    )
    fs = _lm_first_stage(frame, lm, **({"clusters": frame.g} if ours == "cluster" else {}))
    row = est.diagnostics["first_stage"]["d"]
    assert getattr(row, stat) == pytest.approx(fs.diagnostics["f.stat"].iloc[0], rel=1e-8)
    assert row.partial_r2 == pytest.approx(fs.diagnostics["partial.rsquared"].iloc[0], rel=1e-8)
    weak = est.diagnostics["weak_iv"]
    assert weak.cragg_donald_f == pytest.approx(fs.cragg_donald_f, rel=1e-8)
    if ours != "nonrobust":
        assert weak.kleibergen_paap_f == pytest.approx(fs.kleibergen_paap_f, rel=1e-8)
    assert not weak.weak and not est.warnings
    ar = est.diagnostics["anderson_rubin"]
    assert ar.kind == "interval" and ar.pieces[0][0] < est.estimate < ar.pieces[0][1]
    assert "tf" not in est.diagnostics  # two instruments
    out = json.loads(json.dumps(est.to_dict(rows=False)))
    assert out["diagnostics"]["first_stage"]["endogenous"][0]["endogenous"] == "d"
    assert out["diagnostics"]["weak_iv"]["weak"] is False
    assert out["diagnostics"]["anderson_rubin"]["kind"] == "interval"


def test_weights_and_hc3_reach_the_first_stage(frame):
    import statsmodels.api as sm

    fs = _lm_first_stage(frame, "robust", weights=frame.wt)
    est = dc.iv(frame, outcome="y", treatment="d", instruments=["z1", "z2"], covariates=["w1", "w2"], cov_type="HC1",
                weights="wt")  # fmt: skip
    assert est.diagnostics["first_stage"]["d"].chi2 == pytest.approx(fs.diagnostics["f.stat"].iloc[0], rel=1e-8)
    est3 = dc.iv(frame, outcome="y", treatment="d", instruments=["z1", "z2"], covariates=["w1", "w2"], cov_type="HC3")
    design = sm.add_constant(frame[["w1", "w2", "z1", "z2"]])
    ref = sm.OLS(frame.d, design).fit(cov_type="HC3")
    f_ref = float(np.squeeze(ref.f_test(np.eye(5)[3:]).fvalue))
    assert est3.diagnostics["first_stage"]["d"].f_stat == pytest.approx(f_ref, rel=1e-8)


def test_absorbed_fixed_effects_count_in_the_first_stage(frame):
    from linearmodels.iv import IV2SLS

    est = dc.iv(frame, "y ~ w1 + w2 | g | d ~ z1 + z2")
    dummies = pd.get_dummies(frame.g, prefix="g", drop_first=True, dtype=float)
    exog = pd.concat([frame[["w1", "w2"]].assign(const=1.0), dummies], axis=1)
    fs = IV2SLS(frame.y, exog, frame.d, frame[["z1", "z2"]]).fit(cov_type="unadjusted", debiased=True).first_stage
    assert est.diagnostics["first_stage"]["d"].f_stat == pytest.approx(fs.diagnostics["f.stat"].iloc[0], rel=1e-7)
    assert est.diagnostics["weak_iv"].cragg_donald_f == pytest.approx(fs.cragg_donald_f, rel=1e-7)


def test_weak_instrument_warns_and_keeps_ar_and_tf(frame):
    rng = np.random.default_rng(4)
    df = frame.copy()
    df["zw"] = rng.normal(size=len(df))
    df["dw"] = 0.04 * df.zw + rng.normal(size=len(df))
    with pytest.warns(
        dc.WeakInstrumentWarning, match=r"The instrument is weak: effective F = [0-9.]+, below the 23\.1"
    ):
        est = dc.iv(df, outcome="y", treatment="dw", instruments="zw", cov_type="HC1")
    assert any("The instrument is weak" in w for w in est.warnings)
    tf = est.diagnostics["tf"]
    assert tf.first_stage_f == pytest.approx(est.diagnostics["weak_iv"].effective_f, rel=1e-12)
    ar = est.diagnostics["anderson_rubin"]
    assert ar.kind in ("two rays", "whole line") and not ar.bounded
    out = json.loads(json.dumps(est.to_dict(rows=False)))
    assert out["diagnostics"]["weak_iv"]["weak"] is True
    assert out["diagnostics"]["anderson_rubin"]["pieces"][0][0] is None  # unbounded below


def test_tf_uses_the_2sls_standard_error(frame):
    est = dc.iv(frame, outcome="y", treatment="d", instruments="z1", covariates=["w1", "w2"], cov_type="HC1")
    tf = est.diagnostics["tf"]
    assert tf.std_err == est.std_error and tf.estimate == est.estimate
    assert tf.lower == pytest.approx(est.estimate - tf.critical_value * est.std_error)
    assert tf.critical_value >= 1.96


def test_compliers_on_a_binary_instrument_and_treatment():
    rng = np.random.default_rng(12)
    n = 20_000
    age = rng.normal(40, 10, size=n)
    kind = np.where(age > 45, rng.choice(3, size=n, p=[0.3, 0.4, 0.3]), rng.choice(3, size=n, p=[0.7, 0.1, 0.2]))
    z = rng.integers(0, 2, size=n)
    d = np.where(kind == 0, z, np.where(kind == 1, 1, 0))
    y = 2.0 * d + 0.05 * age + rng.normal(size=n)
    df = pd.DataFrame({"y": y, "d": d, "z": z, "age": age})
    est = dc.iv(df, outcome="y", treatment="d", instruments="z", covariates=["age"], cov_type="HC1")
    found = est.diagnostics["compliers"]
    share, se = found.shares["compliers"]
    assert abs(share - np.mean(kind == 0)) < 4 * se
    assert abs(found.means["age"]["compliers"] - age[kind == 0].mean()) < 4 * found.means["age"]["compliers_se"]
    wald = dc.wald_estimator(df, "y", "d", "z")
    assert wald.diagnostics["compliers"].shares["compliers"][0] == pytest.approx(share)
    assert "age" not in wald.diagnostics["compliers"].means  # no covariates given to the Wald estimator
    json.dumps(est.to_dict(rows=False))
    assert not math.isnan(found.means["outcome"]["compliers"])


def test_cli_json_carries_the_instrument_diagnostics(frame, tmp_path, capsys):
    from deconfound.cli.app import main

    path = tmp_path / "iv.csv"
    df = frame.assign(zw=np.random.default_rng(0).normal(size=len(frame)))
    df["dw"] = 0.05 * df.zw + df.d
    df.to_csv(path, index=False)
    args = ["estimate", str(path), "--method", "iv", "-y", "y", "-t", "dw", "--instruments", "zw", "--cov-type", "HC1"]
    code = main([*args, "--covariates", "w2", "--json", "--quiet"])  # the CLI prints warnings itself
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    weak = out["diagnostics"]["weak_iv"]
    assert weak["weak"] and weak["verdict"] in out["warnings"]
    assert {"first_stage", "weak_iv", "anderson_rubin", "tf"} <= set(out["diagnostics"])
    row = out["diagnostics"]["first_stage"]["endogenous"][0]
    assert row["f_stat"] == pytest.approx(weak["effective_f"], rel=1e-12)
    assert out["diagnostics"]["tf"]["first_stage_f"] == pytest.approx(row["f_stat"], rel=1e-12)
