"""iv() and wald_estimator(): roles and formulas, errors for bad instruments, HC2/HC3 from their formulas,
row-source independence, the partialled arrays for the weak-instrument diagnostics, and coverage."""

import warnings

import numpy as np
import pandas as pd
import pytest

import deconfound as dc
from deconfound._core import rows
from deconfound.errors import CollinearityError, DataError, SpecificationError
from deconfound.estimators.iv import IVRoles, build_iv_problem


def _data(n=800, seed=1, strength=1.0, effect=0.5):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    x = rng.normal(size=n)
    u = rng.normal(size=n)
    d = strength * (z[:, 0] + 0.5 * z[:, 1]) + 0.5 * x + u + rng.normal(size=n)
    y = 1 + effect * d + x + u + rng.normal(size=n) * (1 + np.abs(z[:, 0]))
    return pd.DataFrame({"y": y, "d": d, "x": x, "z1": z[:, 0], "z2": z[:, 1], "g": rng.integers(0, 30, n)})


def _iv(df, **kw):
    kw.setdefault("outcome", "y")
    kw.setdefault("treatment", "d")
    kw.setdefault("instruments", ["z1", "z2"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dc.DeconfoundWarning)
        return dc.iv(df, **kw)


def _by_hand(df, cov_type):
    """2SLS and its HC covariance by the textbook matrix formulas (x-hat leverages for HC2/HC3)."""
    n = len(df)
    x = np.column_stack([df.d, np.ones(n), df.x])
    q = np.column_stack([np.ones(n), df.x, df.z1, df.z2])
    xhat = q @ np.linalg.lstsq(q, x, rcond=None)[0]
    bread = np.linalg.inv(xhat.T @ xhat)
    beta = bread @ xhat.T @ df.y.to_numpy()
    e = df.y.to_numpy() - x @ beta
    h = np.einsum("ij,jk,ik->i", xhat, bread, xhat)
    u2 = e**2 / {"HC2": 1 - h, "HC3": (1 - h) ** 2}[cov_type]
    return beta, bread @ (xhat.T * u2) @ xhat @ bread


@pytest.mark.parametrize("cov_type", ["HC2", "HC3"])
def test_hc2_hc3_use_the_leverage_of_the_projected_regressors(cov_type):
    df = _data()
    beta, cov = _by_hand(df, cov_type)
    est = _iv(df, covariates="x", cov_type=cov_type)
    assert est.estimate == pytest.approx(beta[0], rel=1e-10)
    assert est.std_error == pytest.approx(np.sqrt(cov[0, 0]), rel=1e-10)


def test_formula_and_keywords_agree():
    df = _data()
    a = _iv(df, covariates="x", cov_type="HC1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dc.DeconfoundWarning)
        b = dc.iv(df, "y ~ x | d ~ z1 + z2", cov_type="HC1")
        c = dc.iv(df, "y ~ 1 | d ~ z1 + z2")
    assert b.estimate == a.estimate and b.std_error == a.std_error
    assert c.coefficients.names == ("d", "const")


def test_the_result_reads_as_a_late_for_a_binary_treatment():
    rng = np.random.default_rng(3)
    n = 3000
    z = rng.integers(0, 2, n)
    kind = rng.choice(["complier", "always", "never"], n, p=[0.5, 0.2, 0.3])
    d = np.where(kind == "always", 1, np.where(kind == "never", 0, z))
    y = 2.0 * d + (kind == "always") + rng.normal(size=n)
    df = pd.DataFrame({"y": y, "d": d, "z": z})
    est = dc.wald_estimator(df, "y", "d", "z")
    means = df.groupby("z")[["y", "d"]].mean()
    ratio = (means.y[1] - means.y[0]) / (means.d[1] - means.d[0])
    assert est.estimate == pytest.approx(ratio, rel=1e-10)  # the Wald ratio of differences in means
    assert est.method == "wald" and est.estimand == "LATE"
    assert any("compliers" in note for note in est.notes)
    with pytest.raises(DataError, match="needs a binary instrument; 'x' has"):
        dc.wald_estimator(df.assign(x=rng.normal(size=n)), "y", "d", "x")


def test_same_numbers_through_shuffled_partitions():
    df = _data(n=500)
    base = _iv(df, covariates="x", cov_type="cluster", cluster="g", estimator="gmm")

    def shuffled(design, n, arrays, chunk_rows):
        return rows.ShuffledSource(design, n, arrays, parts=7, seed=5)

    with rows.using(shuffled):
        again = _iv(df, covariates="x", cov_type="cluster", cluster="g", estimator="gmm")
    np.testing.assert_allclose(again.coefficients.coef, base.coefficients.coef, rtol=1e-12)
    np.testing.assert_allclose(again.coefficients.cov, base.coefficients.cov, rtol=1e-10)
    assert again.diagnostics["overid"].statistic == pytest.approx(base.diagnostics["overid"].statistic, rel=1e-9)


def test_partialled_arrays_are_the_residuals_on_the_covariates():
    df = _data(n=300)
    roles = IVRoles("y", "d", ["d"], ["z1", "z2"], ["x"], [])
    problem = build_iv_problem(df, roles, weights=None, cluster=[], cov_type="nonrobust", missing="raise")
    out = problem.partialled()
    w = np.column_stack([np.ones(len(df)), df.x])

    def resid(v):
        return v - w @ np.linalg.lstsq(w, v, rcond=None)[0]

    np.testing.assert_allclose(out["y"], resid(df.y.to_numpy()), atol=1e-10)
    np.testing.assert_allclose(out["endog"][:, 0], resid(df.d.to_numpy()), atol=1e-10)
    np.testing.assert_allclose(out["instruments"], resid(df[["z1", "z2"]].to_numpy()), atol=1e-10)
    assert problem.instrument_names == ["z1", "z2"] and problem.endog_names == ["d"]


# ------------------------------------------------------------------------------------------------
# errors
# ------------------------------------------------------------------------------------------------


def test_constant_instrument_is_named():
    df = _data().assign(z2=1.0)
    with pytest.raises(DataError, match=r"instrument 'z2' takes one value .* remove 'z2' from instruments="):
        _iv(df)


def test_instrument_collinear_with_covariates_is_named():
    df = _data()
    df["z2"] = 2 * df.x - 1
    with pytest.raises(CollinearityError, match=r"instrument\(s\) \['z2'\] are collinear with the covariates"):
        _iv(df, covariates="x")


def test_instrument_absorbed_by_fixed_effects_is_named():
    df = _data()
    df["z2"] = df.g * 0.1
    with pytest.raises(CollinearityError, match="instrument 'z2' does not vary within the fixed effects \\(g\\)"):
        _iv(df, absorb="g")


def test_fewer_instruments_than_endogenous_regressors():
    df = _data()
    with pytest.raises(SpecificationError, match=r"1 instrument\(s\) \(z1\) for 2 endogenous regressor\(s\)"):
        _iv(df, endog=["d", "x"], instruments="z1")


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"covariates": ["x", "z1"]}, "instrument 'z1' is also among covariates="),
        ({"instruments": ["z1", "y"]}, "outcome 'y' is also listed as an instrument"),
        ({"instruments": ["z1", "d"]}, "instrument 'd' is also among endog="),
        ({"treatment": "x", "endog": ["d"]}, "treatment='x' is not among endog="),
        ({"instruments": None}, "needs instruments="),
        ({"estimator": "ols"}, "estimator='ols' is not allowed"),
        ({"estimator": "gmm", "cov_type": "nonrobust"}, "estimator='gmm'"),
        ({"absorb": "g", "cov_type": "HC3"}, "HC3"),
    ],
)
def test_bad_specifications_are_refused(kw, match):
    with pytest.raises(SpecificationError, match=match):
        _iv(_data(), **kw)


def test_formula_refuses_transforms_and_mixing():
    df = _data()
    with pytest.raises(SpecificationError, match="'log\\(x\\)' among the covariates is not a column"):
        dc.iv(df, "y ~ log(x) | d ~ z1")
    with pytest.raises(SpecificationError, match="not an IV formula"):
        dc.iv(df, "y ~ x + d")
    with pytest.raises(SpecificationError, match="instruments= cannot be combined with a formula"):
        dc.iv(df, "y ~ x | d ~ z1", instruments="z2")


def test_overidentification_not_applicable_when_exactly_identified():
    test = _iv(_data(), instruments="z1").diagnostics["overid"]
    assert not test.applicable and "exactly identified" in test.reason


def test_cli_json_has_the_keys_of_every_method(tmp_path, capsys):
    import json

    from deconfound.cli.app import main
    from deconfound.results import JSON_KEYS

    path = tmp_path / "iv.csv"
    _data(n=200).to_csv(path, index=False)
    code = main(["estimate", str(path), "--outcome", "y", "--method", "iv", "--endog", "d", "--instruments",
                 "z1,z2", "--covariates", "x", "--estimator", "liml", "--json"])  # fmt: skip
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert set(JSON_KEYS) <= set(out)
    assert out["method"] == "iv" and out["model"]["estimator"] == "liml"
    assert {"overid", "endogeneity", "reduced_form"} <= set(out["diagnostics"])


# ------------------------------------------------------------------------------------------------
# coverage
# ------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_wald_interval_covers_with_a_strong_instrument():
    hits = 0
    reps = 600
    for r in range(reps):
        est = _iv(_data(n=400, seed=1000 + r, strength=1.0), covariates="x", cov_type="HC1")
        lo, hi = est.ci_low, est.ci_high
        hits += lo <= 0.5 <= hi
    assert 0.93 <= hits / reps <= 0.97
