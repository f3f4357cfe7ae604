"""TWFE on rows that stay on an engine (issue 15): singleton removal, alternating projections as grouped sums
over passes, and the clustered residual pass give the in-memory path's numbers to 1e-9 relative on the memory
and DuckDB engines (the panel and the comparison: tests/cluster/_twfe.py). Also the two-way clustered
covariance that is not positive semi-definite (few clusters in one dimension), on both paths."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import deconfound as dc
from cluster._twfe import RTOL, SIZES, TWFE_CASES, case_id, close, make_panel, same_twfe, twfe
from deconfound.engines.duckdb import DuckDBEngine
from deconfound.engines.memory import MemoryEngine
from deconfound.errors import DataError


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return make_panel()


@pytest.fixture(scope="module")
def panel_glob(panel, tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("panel")
    start = 0
    for i, size in enumerate([1300, 1, 1699]):
        panel.iloc[start : start + size].to_parquet(folder / f"part{i}.parquet", index=False)
        start += size
    return str(folder / "*.parquet")


@pytest.mark.parametrize("case", TWFE_CASES, ids=case_id)
def test_twfe_equals_memory_path(panel, panel_glob, case):
    ref = twfe(panel, case)
    for eng in (MemoryEngine(panel, SIZES), DuckDBEngine(panel_glob, memory_limit="512MB", batch_rows=700)):
        same_twfe(ref, twfe(eng, case))


def test_twfe_passes_follow_the_in_memory_sweeps(panel):
    """One factor is exact in one pass; with two, every column takes the in-memory path's sweeps (the notes
    count the passes: count passes for the singletons, a pass per factor per sweep and one per Irons-Tuck
    step, then the cross-products and the residual pass)."""
    ref = twfe(panel, {})
    got = twfe(MemoryEngine(panel, SIZES), {})
    sweeps = ref.coefficients.stats["demean_iterations"]
    assert sweeps > 2  # an unbalanced panel: the projections iterate
    note = next(n for n in got.notes if "passes over the rows" in n)
    assert f"took {sweeps} sweep(s)" in note
    balanced = pd.DataFrame({"unit": np.repeat(np.arange(50), 6), "year": np.tile(np.arange(6), 50)})
    rng = np.random.default_rng(4)
    balanced["t"] = ((balanced.unit % 2 == 0) & (balanced.year >= 3)).astype(int)
    balanced["y"] = balanced.unit * 0.1 + balanced.year + 2 * balanced.t + rng.normal(size=len(balanced))
    kw = {"outcome": "y", "treatment": "t", "unit": "unit", "time": "year"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = dc.twfe(balanced, **kw)
        b = dc.twfe(MemoryEngine(balanced, [0, 100, 1, 199]), **kw)
    close(a.estimate, b.estimate)
    close(a.std_error, b.std_error)
    assert a.coefficients.stats["demean_iterations"] == b.coefficients.stats["demean_iterations"] == 2
    # two for the staggered-timing check, one count pass, 2 sweeps x 2 factors, cross-products, residuals
    assert any(n.startswith("on the memory engine: 9 passes") for n in b.notes)


@pytest.mark.parametrize("share", [0.0, 1.01])
def test_pieces_send_only_the_levels_they_hold(panel, monkeypatch, share):
    """A panel stored by unit: each piece holds a few units, and sends the sums of those levels only (share
    1.01: every piece sparse; 0: every piece dense); the result is the same either way."""
    from deconfound.estimators import _engine_panel

    monkeypatch.setattr(_engine_panel, "SPARSE_SHARE", share)
    by_unit = panel.sort_values(["unit", "year"], kind="stable").reset_index(drop=True)
    case = {"cluster": ["g", "h"], "weights": "w", "fixed_effects": "firm"}
    same_twfe(twfe(by_unit, case), twfe(MemoryEngine(by_unit, SIZES), case))


def test_twfe_not_converged_is_said_on_both_paths(panel):
    case = {"max_iter": 3, "cov_type": "HC1"}
    ref, got = twfe(panel, case), twfe(MemoryEngine(panel, SIZES), case)
    said = [w for w in ref.warnings if "without meeting the tolerance" in w]
    assert said and [w for w in got.warnings if "without meeting the tolerance" in w] == said
    close(ref.estimate, got.estimate)
    close(ref.std_error, got.std_error)


def test_twfe_small_sample_rules_and_continuous_treatment(panel):
    data = panel.assign(dose=panel.t * panel.x1.abs())
    kw = {"outcome": "y", "treatment": "dose", "unit": "unit", "time": "year", "missing": "drop"}
    for ssc in (dc.ssc(fixef_k="full"), dc.ssc(fixef_k="none", cluster_df="conventional")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = dc.twfe(data, cluster=["g", "h"], ssc=ssc, **kw)
            got = dc.twfe(MemoryEngine(data, SIZES), cluster=["g", "h"], ssc=ssc, **kw)
        assert got.n_treated is None and ref.n_treated is None
        close(ref.estimate, got.estimate)
        close(ref.std_error, got.std_error)
        assert got.df == ref.df


def test_twfe_errors_on_an_engine(panel):
    lonely = pd.DataFrame({"unit": np.arange(40), "year": np.arange(40) % 5, "t": np.arange(40) % 2})
    lonely["y"] = np.arange(40.0) ** 0.5
    with pytest.raises(DataError, match="Every observation is alone in its group"):
        dc.twfe(MemoryEngine(lonely, [0, 17, 23]), outcome="y", treatment="t", unit="unit", time="year")
    with pytest.raises(DataError, match=r"Missing values in 'g' \(2 rows\)"):
        dc.twfe(MemoryEngine(panel, SIZES), outcome="y", treatment="t", unit="unit", time="year", cluster="g")
    with pytest.raises(DataError, match="'yr' is not a column"):
        dc.twfe(MemoryEngine(panel, SIZES), outcome="y", treatment="t", unit="unit", time="yr")


def _few_clusters() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = 3000
    df = pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "x2": rng.normal(size=n) * 3 + 10,
            "cat": rng.choice(list("abcd"), n),
            "g": rng.integers(0, 40, n),
            "h": rng.integers(0, 7, n),
            "w": rng.uniform(0.5, 2, n),
        }
    )
    df["t"] = (rng.uniform(size=n) < 0.4 + 0.1 * (df.x1 > 0)).astype(int)
    df["y"] = 1 + 2 * df.t + df.x1 + 0.1 * df.x2 + (df.cat == "b") + rng.normal(size=n) * (1 + df.t)
    return df


def test_two_way_cluster_covariance_with_a_negative_variance_is_fixed_as_fixest_does(tmp_path):
    """Two-way clustering by g (40 levels) and h (7 levels): V1 + V2 - V12 has a negative variance for the
    treatment here (statsmodels reports it as is). It used to come out as NaN with a "negative (nan)" error;
    now its negative eigenvalues are set to zero (Cameron, Gelbach and Miller 2011; fixest's vcov_fix), the
    same on every engine, and a warning says so. A covariance without a negative variance is left as
    statsmodels reports it (tests/estimators/test_regression_reference.py)."""
    import statsmodels.api as sm

    df = _few_clusters()
    dummies = pd.get_dummies(df.cat, prefix="cat", drop_first=True).astype(float)
    exog = sm.add_constant(pd.concat([df[["t", "x1", "x2"]], dummies], axis=1))
    groups = np.column_stack([df.g, df.h])
    raw = sm.OLS(df.y, exog).fit(cov_type="cluster", cov_kwds={"groups": groups}).cov_params().to_numpy()
    assert raw[1, 1] < 0  # the treatment's two-way variance is negative
    values, vectors = np.linalg.eigh(raw)
    expected = (vectors * np.maximum(values, 0.0)) @ vectors.T
    path = tmp_path / "few.parquet"
    df.to_parquet(path, index=False)
    kw = {"outcome": "y", "treatment": "t", "covariates": ["x1", "x2", "cat"], "cluster": ["g", "h"]}
    for data in (df, MemoryEngine(df, [0, 1000, 7, 0, 1993]), DuckDBEngine(str(path), batch_rows=800)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = dc.ols(data, **kw)
        cov = est.coefficients.cov  # const, t, x1, x2, cat[b], cat[c], cat[d]: statsmodels' order
        np.testing.assert_allclose(cov, expected, rtol=1e-8, atol=1e-12 * np.abs(expected).max())
        assert np.isfinite(est.std_error) and est.std_error == pytest.approx(np.sqrt(expected[1, 1]), rel=1e-8)
        assert any("variance V1 + V2 - V12 of 't' (" in w and "was negative" in w for w in est.warnings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fine = dc.ols(df.assign(g2=df.index % 35), outcome="y", treatment="t", covariates=["x1"], cluster=["g", "g2"])
        plain = sm.OLS(df.y, sm.add_constant(df[["t", "x1"]])).fit(
            cov_type="cluster", cov_kwds={"groups": np.column_stack([df.g, df.index % 35])}
        )
    assert not any("eigenvalues" in w for w in fine.warnings)  # no negative variance: left as it is
    np.testing.assert_allclose(fine.coefficients.cov, plain.cov_params().to_numpy(), rtol=1e-9)


def test_registry_lists_twfe_on_every_engine():
    from deconfound.estimators.registry import ENGINES, REGISTRY

    assert set(REGISTRY["twfe"].engines) == set(ENGINES)
    assert RTOL == 1e-9


def test_cli_twfe_on_duckdb_equals_memory(panel, tmp_path, capsys):
    import json

    from deconfound.cli.app import main

    path = tmp_path / "panel.parquet"
    panel.to_parquet(path, index=False)
    args = ["-m", "twfe", "-y", "y", "-t", "t", "--unit", "unit", "--time", "year", "--missing", "drop", "--json"]
    assert main(["estimate", str(path), *args]) == 0
    ref = json.loads(capsys.readouterr().out)
    assert main(["estimate", str(path), *args, "--engine", "duckdb", "--memory-limit", "256MB"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert (got["n"], got["n_treated"]) == (ref["n"], ref["n_treated"])
    close(ref["estimate"], got["estimate"])
    close(ref["std_error"], got["std_error"])


def test_staggered_timing_warning_on_an_engine():
    """A treatment adopted at several times: the same warning as in memory, from two passes (the first treated
    period of each unit, then the rows untreated after it); the decomposition itself needs the panel."""
    rng = np.random.default_rng(8)
    units, years = np.repeat(np.arange(60), 10), np.tile(np.arange(2010, 2020), 60)
    first = np.array([2013, 2016, 9999])[np.arange(60) % 3][units]
    df = pd.DataFrame({"unit": units, "year": years, "t": (years >= first).astype(int)})
    df["y"] = 0.1 * df.unit + 0.2 * (df.year - 2010) + 1.5 * df.t + rng.normal(size=len(df))
    kw = {"outcome": "y", "treatment": "t", "unit": "unit", "time": "year"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = dc.twfe(df, **kw)
        got = dc.twfe(MemoryEngine(df, [0, 233, 1, 366]), **kw)
        (said,) = [w for w in ref.warnings if "starts at 2 different times (2013, 2016)" in w]
        (ours,) = [w for w in got.warnings if "starts at" in w]
        head, advice = ours.split(". If effects")
        assert said.startswith(head + ": ") and said.endswith(". If effects" + advice)  # less the weight share
        assert "bacon" in ref.diagnostics and "bacon" not in got.diagnostics
        assert any("Goodman-Bacon decomposition not computed" in n for n in got.notes)
        close(ref.estimate, got.estimate)
        close(ref.std_error, got.std_error)
        df.loc[(df.unit == 0) & (df.year == 2018), "t"] = 0  # unit 0 switches off again
        off = dc.twfe(MemoryEngine(df, [0, 233, 1, 366]), **kw)
    assert any("switches off again for 1 unit(s) (e.g. unit 0)" in n for n in off.notes)
    assert not any("starts at" in w for w in off.warnings)
