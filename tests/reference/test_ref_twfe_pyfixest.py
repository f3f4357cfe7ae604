"""Two-way (and three-way) fixed effects against pyfixest, run live on the same data.

Coefficients and standard errors agree to 1e-6 relative for iid, heteroskedasticity-robust, one-way
and two-way clustered covariances, with and without analytic weights, and for every small-sample
option (fixest's names: adj, fixef_k, cluster_adj, cluster_df). pyfixest drops singletons as we do.

pyfixest quirk: when the cluster column has the same *name* as the first fixed effect, pyfixest treats
every fixed effect as nested in the cluster (its df_k drops to k + 1); fixest and we count only the
fixed effects actually nested. The unit cluster here is therefore a copy of the unit column with
another name, for which pyfixest checks nesting from the data.
"""

import warnings

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest

import deconfound as dc

REL = 1e-6


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(2024)
    n_units, n_periods = 250, 12
    unit = np.repeat(np.arange(n_units), n_periods)
    time = np.tile(np.arange(2000, 2000 + n_periods), n_units)
    frame = pd.DataFrame({"unit": unit, "year": time})
    frame = frame.sample(frac=0.85, random_state=1).sort_values(["unit", "year"]).reset_index(drop=True)
    lonely = pd.DataFrame({"unit": [900, 901], "year": [2003, 2005]})  # singleton units
    frame = pd.concat([frame, lonely], ignore_index=True)
    n = len(frame)
    frame["state"] = frame["unit"] // 13
    frame["unit_cl"] = frame["unit"]
    frame["firm"] = rng.integers(0, 40, n)
    start = rng.choice([2004, 2007, 2009, 9999], n_units + 10)[frame["unit"] % (n_units + 10)]
    frame["d"] = (frame["year"] >= start).astype(float)
    frame["x"] = rng.normal(size=n) + 0.01 * frame["unit"]
    frame["w"] = rng.uniform(0.3, 3.0, n)
    alpha = rng.normal(size=1000)[frame["unit"]]
    frame["y"] = (
        alpha
        + 0.2 * (frame["year"] - 2000)
        + 1.5 * frame["d"]
        - 0.7 * frame["x"]
        + rng.normal(size=n) * (1 + 0.5 * frame["d"])
        + 0.3 * rng.normal(size=frame["state"].max() + 1)[frame["state"]]
    )
    return frame


def _pyfixest(data, fml, vcov, weights=None, ssc=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pf.feols(fml, data=data, vcov=vcov, weights=weights, ssc=ssc, demeaner=pf.MapDemeaner(fixef_tol=1e-13))


def _ours(data, fes, cov_type, cluster, weights=None, ssc=None):
    extra = fes[2:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dc.DataWarning)  # the singletons, checked separately
        warnings.simplefilter("ignore", dc.DiagnosticWarning)  # staggered timing, checked elsewhere
        return dc.twfe(
            data,
            outcome="y",
            treatment="d",
            covariates=["x"],
            unit=fes[0],
            time=fes[1],
            fixed_effects=extra,
            cov_type=cov_type,
            cluster=cluster,
            weights=weights,
            ssc=ssc,
            tol=1e-13,
        )


CASES = [
    (["unit", "year"], "nonrobust", None, "iid"),
    (["unit", "year"], "HC1", None, "hetero"),
    (["unit", "year"], "cluster", "unit_cl", {"CRV1": "unit_cl"}),
    (["unit", "year"], "cluster", "state", {"CRV1": "state"}),
    (["unit", "year"], "cluster", ["state", "year"], {"CRV1": "state+year"}),
    (["unit", "year", "firm"], "cluster", "unit_cl", {"CRV1": "unit_cl"}),
    (["unit", "year", "firm"], "cluster", ["unit_cl", "firm"], {"CRV1": "unit_cl+firm"}),
]


@pytest.mark.parametrize("weights", [None, "w"])
@pytest.mark.parametrize(("fes", "cov_type", "cluster", "vcov"), CASES)
def test_coefficients_and_standard_errors_match_pyfixest(data, fes, cov_type, cluster, vcov, weights):
    ref = _pyfixest(data, "y ~ d + x | " + " + ".join(fes), vcov, weights)
    r = _ours(data, fes, cov_type, cluster, weights)
    c = r.coefficients
    np.testing.assert_allclose(c.coef, ref.coef().to_numpy(), rtol=REL)
    np.testing.assert_allclose(c.std_err, ref.se().to_numpy(), rtol=REL)
    np.testing.assert_allclose(c.tvalues, ref.tstat().to_numpy(), rtol=REL)
    assert r.n == ref._N
    assert c.df == pytest.approx(float(np.min(ref._df_t)))


SSC = [
    (dc.ssc(), pf.ssc()),
    (dc.ssc(fixef_k="full"), pf.ssc(k_fixef="full")),
    (dc.ssc(fixef_k="none"), pf.ssc(k_fixef="none")),
    (dc.ssc(adj=False), pf.ssc(k_adj=False)),
    (dc.ssc(cluster_adj=False), pf.ssc(G_adj=False)),
    (dc.ssc(cluster_df="conventional"), pf.ssc(G_df="conventional")),
]


@pytest.mark.parametrize(("ours", "theirs"), SSC)
@pytest.mark.parametrize(
    ("cluster", "vcov"), [("state", {"CRV1": "state"}), (["state", "year"], {"CRV1": "state+year"})]
)
def test_small_sample_corrections_match_pyfixest(data, ours, theirs, cluster, vcov):
    ref = _pyfixest(data, "y ~ d + x | unit + year", vcov, ssc=theirs)
    r = _ours(data, ["unit", "year"], "cluster", cluster, ssc=ours)
    np.testing.assert_allclose(r.coefficients.std_err, ref.se().to_numpy(), rtol=REL)


@pytest.mark.parametrize(("ours", "theirs"), SSC[:4])
@pytest.mark.parametrize(("cov_type", "vcov"), [("nonrobust", "iid"), ("HC1", "hetero")])
def test_small_sample_corrections_without_clusters(data, ours, theirs, cov_type, vcov):
    ref = _pyfixest(data, "y ~ d + x | unit + year + firm", vcov, weights="w", ssc=theirs)
    r = _ours(data, ["unit", "year", "firm"], cov_type, None, weights="w", ssc=ours)
    np.testing.assert_allclose(r.coefficients.std_err, ref.se().to_numpy(), rtol=REL)


def test_singletons_are_dropped_and_reported(data):
    with pytest.warns(dc.DataWarning, match="2 observation\\(s\\) dropped because they are alone"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", dc.DiagnosticWarning)
            r = dc.twfe(data, outcome="y", treatment="d", unit="unit", time="year")
    assert r.diagnostics["n_singletons"] == 2
    assert r.n == len(data) - 2
    assert r.coefficients.stats["n_singletons"] == 2
