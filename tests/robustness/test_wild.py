"""The wild cluster bootstrap-t against the wildboottest package (same statistic; with Rademacher weights and
2^G <= B both enumerate all sign vectors, so the p-values agree exactly up to draws tied with the data),
its interval against its own test, and its size with 8 clusters where the CRV1 t test over-rejects."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from wildboottest.wildboottest import wildboottest

import deconfound as dc
from deconfound.robustness import wild_cluster_bootstrap


def _clustered(seed: int, n: int = 400, g: int = 9, effect: float = 0.15, rho: float = 1.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n), "g": rng.integers(0, g, n)})
    df["d"] = (rng.normal(size=n) + 0.4 * df["x1"] > 0).astype(int)
    df["y"] = effect * df["d"] + df["x1"] - 0.5 * df["x2"] + rng.normal(size=n) + rho * rng.normal(size=g)[df["g"]]
    return df


def _reference(df: pd.DataFrame, impose_null: bool, weights_type: str = "rademacher", n_boot: int = 999):
    model = sm.OLS(df["y"], sm.add_constant(df[["d", "x1", "x2"]]))
    with pytest.warns(UserWarning, match="full_enumeration") if weights_type == "rademacher" else _nothing():
        out = wildboottest(
            model,
            B=n_boot,
            cluster=df["g"].to_numpy(),
            param="d",
            impose_null=impose_null,
            weights_type=weights_type,
            show=False,
            seed=3,
        )
    return float(out["statistic"].iloc[0]), float(out["p-value"].iloc[0])


def _nothing():
    import contextlib

    return contextlib.nullcontext()


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("impose_null", [True, False])
def test_enumerated_rademacher_matches_wildboottest(seed, impose_null):
    df = _clustered(seed)
    ours = wild_cluster_bootstrap(
        df,
        outcome="y",
        treatment="d",
        covariates=["x1", "x2"],
        cluster="g",
        n_boot=999,
        impose_null=impose_null,
        ci=False,
    )
    t_ref, p_ref = _reference(df, impose_null)
    assert ours.statistic == pytest.approx(t_ref, rel=1e-10)
    assert ours["full_enumeration"] and ours["n_boot"] == 2**9
    # the two sign vectors that reproduce the data (all +1, all -1) tie with t; rounding decides them there
    assert abs(ours.p_value - p_ref) <= 2 / 2**9 + 1e-12


def test_webb_weights_agree_to_monte_carlo_precision():
    df = _clustered(5, g=7, effect=0.3)
    ours = wild_cluster_bootstrap(
        df,
        outcome="y",
        treatment="d",
        covariates=["x1", "x2"],
        cluster="g",
        weights_type="webb",
        n_boot=9999,
        random_state=11,
        ci=False,
    )
    _, p_ref = _reference(df, True, weights_type="webb", n_boot=9999)
    p = (ours.p_value + p_ref) / 2
    assert abs(ours.p_value - p_ref) <= 4 * np.sqrt(2 * p * (1 - p) / 9999) + 1e-3


def test_the_interval_is_the_set_the_test_does_not_reject():
    df = _clustered(4, g=12, effect=0.4)
    result = wild_cluster_bootstrap(
        df,
        outcome="y",
        treatment="d",
        covariates=["x1", "x2"],
        cluster="g",
        weights_type="webb",
        n_boot=1999,
        random_state=2,
    )
    low, high = result["ci_low"], result["ci_high"]
    assert low < result["estimate"] < high
    for edge, inside in ((low, low + 0.01 * (high - low)), (high, high - 0.01 * (high - low))):
        kept = wild_cluster_bootstrap(
            df,
            outcome="y",
            treatment="d",
            covariates=["x1", "x2"],
            cluster="g",
            weights_type="webb",
            n_boot=1999,
            random_state=2,
            null=inside,
            ci=False,
        )
        assert kept.p_value > 0.05
        outside = edge + (edge - inside)
        gone = wild_cluster_bootstrap(
            df,
            outcome="y",
            treatment="d",
            covariates=["x1", "x2"],
            cluster="g",
            weights_type="webb",
            n_boot=1999,
            random_state=2,
            null=outside,
            ci=False,
        )
        assert gone.p_value <= 0.05
    again = wild_cluster_bootstrap(
        df,
        outcome="y",
        treatment="d",
        covariates=["x1", "x2"],
        cluster="g",
        weights_type="webb",
        n_boot=1999,
        random_state=2,
    )
    assert again.to_dict() == result.to_dict()  # reproducible for a seed


def test_unrestricted_interval_is_the_symmetric_percentile_t():
    df = _clustered(6, g=10)
    result = wild_cluster_bootstrap(
        df, outcome="y", treatment="d", covariates=["x1", "x2"], cluster="g", impose_null=False, n_boot=999
    )
    half = (result["ci_high"] - result["ci_low"]) / 2
    assert result["ci_low"] + half == pytest.approx(result["estimate"], rel=1e-12)
    assert half / result["std_error"] > 1.96  # few clusters: wider than the normal interval


@pytest.mark.slow
def test_size_with_eight_clusters():
    """Under the null with 8 clusters of unequal size and a cluster-level regressor, the CRV1 t test with the
    t(G-1) reference over-rejects; the WCR bootstrap (Webb weights) rejects about 5% of the time."""
    reps, g = 400, 8
    rej_boot = rej_t = 0
    for rep in range(reps):
        rng = np.random.default_rng(1000 + rep)
        sizes = rng.integers(10, 120, g)
        cl = np.repeat(np.arange(g), sizes)
        x = rng.normal(size=g)[cl] + 0.3 * rng.normal(size=len(cl))
        y = rng.normal(size=g)[cl] + rng.normal(size=len(cl))  # no effect of x
        df = pd.DataFrame({"y": y, "x": x, "z": rng.normal(size=len(cl)), "g": cl})
        res = wild_cluster_bootstrap(
            df,
            outcome="y",
            treatment="x",
            covariates=["z"],
            cluster="g",
            weights_type="webb",
            n_boot=399,
            random_state=rep,
            ci=False,
        )
        rej_boot += res.p_value <= 0.05
        with pytest.warns(dc.DiagnosticWarning, match="Only 8 clusters"):
            fit = dc.ols(df, outcome="y", treatment="x", covariates=["z"], cluster="g")
        rej_t += fit.p_value <= 0.05
    assert 0.02 <= rej_boot / reps <= 0.085
    assert rej_t / reps > rej_boot / reps


def test_bad_input():
    df = _clustered(0)
    with pytest.raises(dc.SpecificationError, match=r"weights_type='gauss' is not known"):
        wild_cluster_bootstrap(df, outcome="y", treatment="d", cluster="g", weights_type="gauss")
    with pytest.raises(dc.SpecificationError, match=r"term='x9' is not a coefficient"):
        wild_cluster_bootstrap(df, outcome="y", treatment="d", cluster="g", term="x9")
    with pytest.raises(dc.SpecificationError, match=r"cluster= must name one column"):
        wild_cluster_bootstrap(df, outcome="y", treatment="d", cluster=["g", "x1"])
    with pytest.raises(dc.DataError, match=r"single cluster"):
        wild_cluster_bootstrap(df.assign(g=1), outcome="y", treatment="d", cluster="g")
