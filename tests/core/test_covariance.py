"""One covariance vocabulary for every method, one validator, and the assembler against statsmodels.

The vocabulary each method accepts is written out here (as docs/inference.md documents it), not read
from the module under test.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import statsmodels.api as sm

import deconfound as dc
from deconfound._core import covariance, fixed_effects
from deconfound._core.covariance import assemble, check_cov_type, intersect_codes, resolve_cov_type, ssc

# Few clusters draw a warning (tests/estimators/test_few_clusters.py checks it); here only the numbers matter.
pytestmark = pytest.mark.filterwarnings(r"ignore:Only \d+ clusters:deconfound.errors.DiagnosticWarning")


ALL = ("nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster")
FE = ("nonrobust", "HC1", "cluster")
#: every spelling a user may try -> its canonical name (None: no method accepts it)
SPELLINGS = {
    "nonrobust": "nonrobust",
    "HC0": "HC0",
    "HC1": "HC1",
    "HC2": "HC2",
    "HC3": "HC3",
    "cluster": "cluster",
    "iid": "nonrobust",
    "hetero": "HC1",
    "CR1": "cluster",
    "CRV1": "cluster",
    "hc1": "HC1",
    "Nonrobust": "nonrobust",
    "IID": "nonrobust",
    "crv1": "cluster",
    "HC4": None,
    "robust": None,
    "CR2": None,
    "": None,
}
ALIAS_TEXT = "'iid' (nonrobust), 'hetero' (HC1), 'CR1' (cluster), 'CRV1' (cluster)"


@pytest.fixture(scope="module")
def cross_section():
    df = dc.datasets.simulate_observational(n=200, n_covariates=2, random_state=3)
    df["g"] = np.random.default_rng(1).integers(0, 12, len(df))
    return df


@pytest.fixture(scope="module")
def panel():
    df = dc.datasets.simulate_panel(n_units=40, n_periods=5, cohorts=(3,), random_state=1)
    df["group"] = (df["first_treated"] == 3).astype(int)
    df["post"] = (df["time"] >= 3).astype(int)
    df["state"] = df["unit"] % 7
    return df


def _ols(data, cov_type, cluster):
    return dc.ols(
        data, outcome="outcome", treatment="treatment", covariates=["x0", "x1"], cov_type=cov_type, cluster=cluster
    )


def _lin(data, cov_type, cluster):
    return dc.lin(
        data, outcome="outcome", treatment="treatment", covariates=["x0", "x1"], cov_type=cov_type, cluster=cluster
    )


def _did(data, cov_type, cluster):
    return dc.did(data, outcome="y", treated="group", post="post", unit="unit", cov_type=cov_type, cluster=cluster)


def _twfe(data, cov_type, cluster):
    return dc.twfe(data, outcome="y", treatment="treated", unit="unit", time="time", cov_type=cov_type, cluster=cluster)


def _event_study(data, cov_type, cluster):
    return dc.event_study(
        data,
        outcome="y",
        treatment="treated",
        unit="unit",
        time="time",
        window=(-2, 2),
        cov_type=cov_type,
        cluster=cluster,
    )


def _panel_within(data, cov_type, cluster):
    return dc.panel_regression(
        data, outcome="y", treatment="treated", unit="unit", time="time", cov_type=cov_type, cluster=cluster
    )


def _panel_fd(data, cov_type, cluster):
    return dc.panel_regression(
        data,
        outcome="y",
        treatment="treated",
        unit="unit",
        time="time",
        model="first-difference",
        cov_type=cov_type,
        cluster=cluster,
    )


#: method -> (runner, data fixture, what it accepts, the cluster column to give with cluster types)
METHODS = {
    "ols": (_ols, "cross_section", ALL, "g"),
    "lin": (_lin, "cross_section", ALL, "g"),
    "did": (_did, "panel", ALL, None),  # clusters by unit=
    "twfe": (_twfe, "panel", FE, None),  # clusters by unit by default
    "event_study": (_event_study, "panel", FE, None),
    "panel_regression": (_panel_within, "panel", FE, None),
    "panel_regression (first differences)": (_panel_fd, "panel", FE, None),
}


def _run(request, method, cov_type):
    run, fixture, _, cluster_col = METHODS[method]
    canonical = SPELLINGS.get(cov_type, cov_type) if isinstance(cov_type, str) else cov_type
    cluster = cluster_col if canonical == "cluster" else None
    return run(request.getfixturevalue(fixture), cov_type, cluster)


@pytest.fixture(scope="module")
def canonical_results():
    return {}


@pytest.mark.parametrize("spelling", list(SPELLINGS))
@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_accepts_exactly_the_documented_vocabulary(request, canonical_results, method, spelling):
    accepted = METHODS[method][2]
    canonical = SPELLINGS[spelling]
    if canonical is None or canonical not in accepted:
        name = method.split(" ")[0]
        listed = ", ".join(repr(a) for a in accepted)
        expected = f"cov_type={spelling!r} is not allowed; choose one of {listed} ({name} also accepts the aliases "
        with pytest.raises(dc.SpecificationError, match=re.escape(expected + ALIAS_TEXT + ").")):
            _run(request, method, spelling)
        return
    r = _run(request, method, spelling)
    assert r.coefficients.stats["cov_type"] == canonical
    key = (method, canonical)
    if key not in canonical_results:
        canonical_results[key] = _run(request, method, canonical)
    base = canonical_results[key]
    # an alias is the same request: identical numbers, not merely close ones
    assert r.estimate == base.estimate
    assert r.std_error == base.std_error
    np.testing.assert_array_equal(r.coefficients.cov, base.coefficients.cov)


@pytest.mark.parametrize("method", ["twfe", "event_study", "panel_regression"])
@pytest.mark.parametrize("cov_type", ["HC0", "HC2", "hc3"])
def test_fixed_effects_models_say_why_they_do_not_offer_a_type(request, method, cov_type):
    with pytest.raises(dc.SpecificationError) as info:
        _run(request, method, cov_type)
    canonical = cov_type.upper()
    message = str(info.value)
    assert message.startswith(f"cov_type={cov_type!r} is not allowed; choose one of 'nonrobust', 'HC1', 'cluster' (")
    said = f" {method} does not offer {canonical}: fixed-effects models follow fixest, whose heteroskedasticity-robust "
    assert said in message
    # the same words for every fixed-effects method, from the one validator: only the method's name differs
    with pytest.raises(dc.SpecificationError) as other:
        check_cov_type(cov_type, method="M", allowed=covariance.ABSORBED)
    assert message.replace(method, "M") == str(other.value)


def test_an_unknown_name_gets_a_suggestion_and_a_non_string_is_refused():
    with pytest.raises(dc.SpecificationError, match=r"cov_type='HC4' is not allowed; .* Did you mean 'HC"):
        check_cov_type("HC4", method="ols")
    with pytest.raises(dc.SpecificationError, match=r"cov_type='heteros' .* Did you mean 'hetero'\?"):
        check_cov_type("heteros", method="ols")
    with pytest.raises(dc.SpecificationError, match=r"cov_type=1 is not allowed; choose one of 'nonrobust'"):
        check_cov_type(1, method="ols")


@pytest.mark.parametrize("method", ["ols", "lin", "did", "twfe", "event_study", "panel_regression"])
def test_cluster_columns_and_a_non_cluster_type_are_refused_in_the_same_words(request, method):
    run, fixture, _, _ = METHODS[method]
    data = request.getfixturevalue(fixture)
    column = "g" if fixture == "cross_section" else "state"
    with pytest.raises(
        dc.SpecificationError, match=r"cluster= was given but cov_type='hetero'; use cov_type='cluster'"
    ):
        run(data, "hetero", column)
    with pytest.raises(dc.SpecificationError, match=r"cluster= takes one or two columns \(two-way clustering\)"):
        run(data, None, [column, column, column])


def test_cluster_without_columns_needs_them_or_falls_back_to_the_unit(cross_section, panel):
    with pytest.raises(dc.SpecificationError, match=r"cov_type='CRV1' needs cluster= \(one or two column names\)"):
        _ols(cross_section, "CRV1", None)
    with pytest.raises(dc.SpecificationError, match=r"cov_type='cluster' needs cluster= or unit="):
        dc.did(panel, outcome="y", treated="group", post="post", cov_type="cluster")
    # a fixed-effects model clusters by its unit when cov_type='cluster' comes without cluster=
    assert _twfe(panel, "cluster", None).std_error == _twfe(panel, None, "unit").std_error


def test_resolve_defaults():
    assert resolve_cov_type(None, method="m", cluster=[], default="HC1") == ("HC1", [])
    assert resolve_cov_type(None, method="m", cluster=["a"], default="HC1") == ("cluster", ["a"])
    assert resolve_cov_type(None, method="m", cluster=[], default="HC1", fallback=("unit", "u")) == ("cluster", ["u"])
    assert resolve_cov_type("iid", method="m", cluster=[], default="HC1", fallback=("unit", "u")) == ("nonrobust", [])


def test_ssc_has_one_public_home():
    assert dc.ssc is covariance.ssc
    assert fixed_effects.ssc is covariance.ssc and fixed_effects.SmallSample is covariance.SmallSample
    assert ssc(cluster_df="Conventional").cluster_df == "conventional"
    with pytest.raises(dc.SpecificationError, match=r"ssc\(adj=...\) must be True or False, got 1"):
        ssc(adj=1)
    with pytest.raises(dc.SpecificationError, match=r"fixef_k='nonnested' is not allowed"):
        ssc(fixef_k="nonnested")


# --------------------------------------------------------------------------------------------------
# the assembler against statsmodels, from sums computed here with numpy
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def regression():
    rng = np.random.default_rng(11)
    n = 120
    x = np.column_stack([np.ones(n), rng.normal(size=n), rng.exponential(size=n)])
    g1 = rng.integers(0, 9, n)
    g2 = rng.integers(0, 6, n)
    y = x @ [1.0, 0.5, -0.3] + rng.normal(size=n) * (1 + x[:, 2]) + 0.4 * rng.normal(size=9)[g1]
    bread = np.linalg.inv(x.T @ x)
    e = y - x @ (bread @ x.T @ y)
    return x, y, e, bread, g1, g2


def _meat(x, e, bread, power):
    h = np.einsum("ij,jk,ik->i", x, bread, x)
    u = e**2 / (1 - h) ** power
    return (x * u[:, None]).T @ x


def _scores(x, e, codes):
    return np.vstack([(x[codes == g] * e[codes == g, None]).sum(axis=0) for g in np.unique(codes)])


@pytest.mark.parametrize(("cov_type", "power"), [("HC0", 0), ("HC1", 0), ("HC2", 1), ("HC3", 2)])
def test_assembled_hc_covariances_equal_statsmodels(regression, cov_type, power):
    x, y, e, bread, _, _ = regression
    n, k = x.shape
    cov, df = assemble(cov_type, bread, n=n, df_k=k, ssr=float(e @ e), meat=_meat(x, e, bread, power))
    ref = sm.OLS(y, x).fit(cov_type=cov_type)
    np.testing.assert_allclose(cov, ref.cov_params(), rtol=1e-10)
    assert df == n - k


def test_assembled_nonrobust_covariance_equals_statsmodels(regression):
    x, y, e, bread, _, _ = regression
    n, k = x.shape
    cov, df = assemble("nonrobust", bread, n=n, df_k=k, ssr=float(e @ e))
    ref = sm.OLS(y, x).fit()
    np.testing.assert_allclose(cov, ref.cov_params(), rtol=1e-10)
    assert df == ref.df_resid
    # without the (n - K) rule: SSR / (n - 1)
    plain, _ = assemble("nonrobust", bread, n=n, df_k=k, ssr=float(e @ e), rules=ssc(adj=False))
    np.testing.assert_allclose(plain, ref.cov_params() * (n - k) / (n - 1), rtol=1e-10)


@pytest.mark.parametrize("corrected", [True, False])
def test_assembled_one_way_cluster_covariance_equals_statsmodels(regression, corrected):
    x, y, e, bread, g1, _ = regression
    n, k = x.shape
    rules = covariance.OLS_RULES if corrected else ssc(adj=False, cluster_adj=False)
    cov, df = assemble(
        "cluster",
        bread,
        n=n,
        df_k=k,
        ssr=float(e @ e),
        cluster_scores=[_scores(x, e, g1)],
        cluster_sizes=[9],
        rules=rules,
    )
    ref = sm.OLS(y, x).fit(cov_type="cluster", cov_kwds={"groups": g1, "use_correction": corrected})
    np.testing.assert_allclose(cov, ref.cov_params(), rtol=1e-10)
    assert df == 8


def test_assembled_two_way_cluster_covariance_equals_statsmodels(regression):
    x, y, e, bread, g1, g2 = regression
    n, k = x.shape
    scores = [_scores(x, e, g1), _scores(x, e, g2), _scores(x, e, intersect_codes(g1, g2))]
    cov, df = assemble("cluster", bread, n=n, df_k=k, ssr=float(e @ e), cluster_scores=scores, cluster_sizes=[9, 6])
    ref = sm.OLS(y, x).fit(cov_type="cluster", cov_kwds={"groups": np.column_stack([g1, g2])})
    np.testing.assert_allclose(cov, ref.cov_params(), rtol=1e-10)
    assert df == 5
    # fixest's default for two-way: the smaller G in every term's G / (G - 1)
    fixest, _ = assemble(
        "cluster", bread, n=n, df_k=k, ssr=float(e @ e), cluster_scores=scores, cluster_sizes=[9, 6], rules=ssc()
    )
    g_int = scores[2].shape[0]
    by_hand = (
        ref.cov_params()
        + (6 / 5 - 9 / 8) * _term(bread, scores[0], n, k)
        - (6 / 5 - g_int / (g_int - 1)) * _term(bread, scores[2], n, k)
    )
    np.testing.assert_allclose(fixest, by_hand, rtol=1e-10)


def _term(bread, scores, n, k):
    return bread @ scores.T @ scores @ bread * (n - 1) / (n - k)


def test_the_registry_declares_what_the_covariance_module_accepts():
    from deconfound._core.covariance import ABSORBED, EVERY
    from deconfound.estimators.registry import FE_COV_TYPES, OLS_COV_TYPES

    assert tuple(OLS_COV_TYPES) == tuple(EVERY.names)
    assert tuple(FE_COV_TYPES) == tuple(ABSORBED.names)
