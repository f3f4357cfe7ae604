"""Engines (issue 15): the same estimates on rows that stay on an engine as on an in-memory frame.

The reference is the in-memory path (itself checked against statsmodels in tests/reference); here every
engine must give its numbers to 1e-9 relative on rows cut into uneven pieces (one empty), with NaN in a
cluster column (dropped), a categorical level that is absent from some pieces, and weights.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import deconfound as dc
from deconfound.engines import is_engine_input, wrap
from deconfound.engines.duckdb import DuckDBEngine
from deconfound.engines.memory import MemoryEngine
from deconfound.errors import DataError, EngineError, SpecificationError

SIZES = [0, 1000, 7, 0, 1500, 493]
RTOL = 1e-9


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = 3000
    df = pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "x2": rng.normal(size=n) * 3 + 10,
            "cat": rng.choice(list("abcd"), n),
            "g": rng.integers(0, 40, n).astype(float),
            "h": rng.integers(0, 30, n),
            "w": rng.uniform(0.5, 2, n),
        }
    )
    df["t"] = (rng.uniform(size=n) < 0.4 + 0.1 * (df.x1 > 0)).astype(int)
    df["y"] = 1 + 2 * df.t + df.x1 + 0.1 * df.x2 + (df.cat == "b") + rng.normal(size=n) * (1 + df.t)
    df.loc[[5, 2100], "g"] = np.nan  # clusters with NaN: dropped under missing="drop"
    first = np.arange(n) < 1500
    df.loc[first & (df.cat == "d"), "cat"] = "a"  # level "d" only in the later pieces
    return df


@pytest.fixture(scope="module")
def parquet_glob(frame, tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("parts")
    start = 0
    for i, size in enumerate([1200, 1, 1799]):
        frame.iloc[start : start + size].to_parquet(folder / f"part{i}.parquet", index=False)
        start += size
    return str(folder / "*.parquet")


def _engines(frame, parquet_glob):
    import duckdb

    con = duckdb.connect()
    yield "memory", MemoryEngine(frame, SIZES)
    yield "duckdb-glob", DuckDBEngine(parquet_glob, memory_limit="512MB", batch_rows=700)
    yield "duckdb-relation", DuckDBEngine(con.read_parquet(parquet_glob), batch_rows=1024)


def _close(a: float, b: float) -> None:
    assert b == pytest.approx(a, rel=RTOL, abs=1e-300)


OLS_CASES = [
    {"cov_type": "nonrobust"},
    {"cov_type": "HC0"},
    {"cov_type": "HC1"},
    {"cov_type": "HC2"},
    {"cov_type": "HC3", "weights": "w"},
    {"cov_type": "HC1", "weights": "w"},
    {"cluster": "g"},
    {"cluster": ["g", "h"]},
    {"cluster": "g", "weights": "w"},
]


@pytest.mark.parametrize("case", OLS_CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_ols_equals_memory_path(frame, parquet_glob, case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = dc.ols(frame, outcome="y", treatment="t", covariates=["x1", "x2", "cat"], missing="drop", **case)
        for name, eng in _engines(frame, parquet_glob):
            got = dc.ols(eng, outcome="y", treatment="t", covariates=["x1", "x2", "cat"], missing="drop", **case)
            assert (got.n, got.n_treated, got.n_dropped) == (ref.n, ref.n_treated, ref.n_dropped), name
            _close(ref.estimate, got.estimate)
            _close(ref.std_error, got.std_error)
            assert got.df == ref.df
            ca, cb = ref.coefficients, got.coefficients
            assert cb.names == ca.names
            np.testing.assert_allclose(cb.coef, ca.coef, rtol=RTOL)
            np.testing.assert_allclose(cb.cov, ca.cov, rtol=RTOL, atol=1e-15 * np.abs(ca.cov).max())
            for key in ("r_squared", "f_statistic", "log_likelihood", "cond_no"):
                _close(ca.stats[key], cb.stats[key])


@pytest.mark.parametrize("case", [{}, {"weights": "w", "cov_type": "HC1"}, {"cluster": "g"}, {"cluster": ["g", "h"]}])
def test_lin_equals_memory_path(frame, parquet_glob, case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = dc.lin(frame, outcome="y", treatment="t", covariates=["x1", "x2", "cat"], missing="drop", **case)
        for _, eng in _engines(frame, parquet_glob):
            got = dc.lin(eng, outcome="y", treatment="t", covariates=["x1", "x2", "cat"], missing="drop", **case)
            _close(ref.estimate, got.estimate)
            _close(ref.std_error, got.std_error)
            assert got.coefficients.names == ref.coefficients.names
            np.testing.assert_allclose(got.coefficients.coef, ref.coefficients.coef, rtol=RTOL)


DID_CASES = [
    {"post": "post"},
    {"post": "when", "covariates": ["x1", "cat"], "weights": "w"},
    {"post": "post", "cluster": "g", "missing": "drop"},
    {"post": "post", "cluster": ["g", "h"], "covariates": ["x2"], "missing": "drop"},
]


@pytest.mark.parametrize("case", DID_CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_regression_did_equals_memory_path(frame, tmp_path, case):
    panel = frame.copy()
    rng = np.random.default_rng(3)
    panel["post"] = rng.integers(0, 2, len(panel))
    panel["when"] = np.where(panel.post == 1, "after", "before")
    panel["y"] = panel.y + panel.post + 1.5 * panel.t * panel.post
    panel.iloc[:1700].to_parquet(tmp_path / "a.parquet", index=False)
    panel.iloc[1700:].to_parquet(tmp_path / "b.parquet", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = dc.did(panel, outcome="y", treated="t", **case)
        for eng in (MemoryEngine(panel, SIZES), DuckDBEngine(str(tmp_path / "*.parquet"), batch_rows=999)):
            got = dc.did(eng, outcome="y", treated="t", **case)
            _close(ref.estimate, got.estimate)
            _close(ref.std_error, got.std_error)
            assert got.coefficients.names == ref.coefficients.names
            pd.testing.assert_frame_equal(got.diagnostics["group_means"], ref.diagnostics["group_means"], rtol=RTOL)


IV_CASES = [
    {},
    {"estimator": "liml", "cov_type": "HC1"},
    {"cluster": "g", "missing": "drop", "weights": "w"},
    {"estimator": "gmm"},
    {"estimator": "fuller", "cov_type": "HC3"},
]


@pytest.mark.parametrize("case", IV_CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()) or "2sls")
def test_iv_equals_memory_path(frame, case):
    data = frame.copy()
    rng = np.random.default_rng(5)
    data["z1"], data["z2"], u = rng.normal(size=(3, len(data)))
    data["d"] = 0.8 * data.z1 + 0.5 * data.z2 + u + 0.3 * data.x1
    data["yy"] = 1 + 1.5 * data.d + data.x1 + u + rng.normal(size=len(data))
    kw = {"outcome": "yy", "treatment": "d", "instruments": ["z1", "z2"], "covariates": ["x1", "cat"], **case}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = dc.iv(data, **kw)
        got = dc.iv(MemoryEngine(data, SIZES), **kw)
    _close(ref.estimate, got.estimate)
    _close(ref.std_error, got.std_error)
    assert got.coefficients.names == ref.coefficients.names
    np.testing.assert_allclose(got.coefficients.coef, ref.coefficients.coef, rtol=RTOL)
    weak = ref.diagnostics["weak_iv"], got.diagnostics["weak_iv"]
    assert weak[1].verdict == weak[0].verdict
    for key in ("statistic", "cragg_donald_f", "kleibergen_paap_f", "effective_f"):
        if getattr(weak[0], key) is not None:
            _close(getattr(weak[0], key), getattr(weak[1], key))
    data["many"] = np.arange(len(data)) // 5  # 600 levels: more than the engine's dummies take
    absorbed = {"outcome": "yy", "treatment": "d", "instruments": ["z1"], "covariates": ["x1"], "absorb": "many"}
    too_many = r"absorb= with more than 400 levels .* all 3,000 rows of 5 column\(s\) as float64, about 0\.00 GiB"
    with pytest.raises(SpecificationError, match=too_many):
        dc.iv(MemoryEngine(data), **absorbed)


@pytest.mark.parametrize("case", [{}, {"weights": "w"}, {"randomized": True}])
def test_difference_in_means_and_balance_equal_memory_path(frame, parquet_glob, case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = dc.difference_in_means(frame, outcome="y", treatment="t", covariates=["x1", "cat"], **case)
        for _, eng in _engines(frame, parquet_glob):
            got = dc.difference_in_means(eng, outcome="y", treatment="t", covariates=["x1", "cat"], **case)
            _close(ref.estimate, got.estimate)
            _close(ref.std_error, got.std_error)
            _close(ref.df, got.df)
            pd.testing.assert_frame_equal(got.diagnostics["balance"], ref.diagnostics["balance"], rtol=RTOL)
            if case.get("randomized"):
                _close(ref.diagnostics["balance_test"]["statistic"], got.diagnostics["balance_test"]["statistic"])


def test_missing_values_are_counted_over_every_piece(frame, parquet_glob):
    with pytest.raises(DataError, match=r"Missing values in 'g' \(2 rows\)"):
        dc.ols(DuckDBEngine(parquet_glob, batch_rows=500), outcome="y", treatment="t", cluster="g")
    with pytest.warns(dc.errors.DataWarning, match="2 of 3000 rows were dropped"):
        est = dc.ols(MemoryEngine(frame, SIZES), outcome="y", treatment="t", cluster="g", missing="drop")
    assert est.n_dropped == 2 and est.dropped_by == {"g": 2}


def test_csv_path_and_unknown_column(frame, tmp_path):
    path = tmp_path / "d.csv"
    frame.to_csv(path, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = dc.ols(frame, outcome="y", treatment="t", covariates=["x1"], cov_type="HC1")
        got = dc.ols(DuckDBEngine(str(path)), outcome="y", treatment="t", covariates=["x1"], cov_type="HC1")
    _close(ref.std_error, got.std_error)
    with pytest.raises(DataError, match="'nope' is not a column"):
        dc.ols(DuckDBEngine(str(path)), outcome="nope", treatment="t")


def test_memory_engine_pieces_cover_every_row_once(frame):
    eng = MemoryEngine(frame, SIZES)
    counts = eng.map_partitions(["x1"], lambda piece: piece.num_rows)
    assert counts == SIZES
    total = sum(eng.map_partitions(["x1"], lambda piece: float(piece.column("x1").to_numpy().sum())))
    assert total == pytest.approx(frame.x1.sum(), rel=1e-12)
    with pytest.raises(SpecificationError, match="adding up to the 3000 rows"):
        MemoryEngine(frame, [1, 2])


def test_duckdb_streams_batches_under_a_memory_limit(parquet_glob):
    eng = DuckDBEngine(parquet_glob, memory_limit="256MB", batch_rows=256)
    sizes = eng.map_partitions(["y", "t"], lambda piece: piece.num_rows)
    assert sum(sizes) == 3000 and max(sizes) <= 256
    assert eng.columns()[:3] == ["x1", "x2", "cat"]


def test_errors_inside_a_pass(parquet_glob, frame):
    def boom(piece):
        raise ZeroDivisionError("bad piece")

    def ours(piece):
        raise DataError("our own error")

    for eng in (DuckDBEngine(parquet_glob), MemoryEngine(frame, SIZES)):
        with pytest.raises(EngineError, match=rf"The {eng.name} engine failed .*ZeroDivisionError: bad piece"):
            eng.map_partitions(["y"], boom)
        with pytest.raises(DataError, match="our own error"):
            eng.map_partitions(["y"], ours)
    with pytest.raises(DataError, match="No file matches"):
        DuckDBEngine("/nonexistent/*.parquet")


def test_detection(frame, parquet_glob):
    import duckdb

    rel = duckdb.connect().read_parquet(parquet_glob)
    assert is_engine_input(rel) and is_engine_input(parquet_glob) and is_engine_input(MemoryEngine(frame))
    assert not is_engine_input(frame)
    assert wrap(rel).name == "duckdb" and wrap(frame).name == "memory" and wrap(parquet_glob).name == "duckdb"
    with pytest.raises(SpecificationError, match="engine='nope' is not known"):
        wrap(frame, "nope")
    with pytest.raises(SpecificationError, match="engine='duckdb' reads Parquet/CSV paths"):
        wrap(frame, "duckdb")


WEIGHTING_CASES = [
    ("ipw", {}),
    ("ipw", {"estimand": "ATT"}),
    ("ipw", {"weighting": "ht", "weights": "w"}),
    ("ipw", {"estimand": "ATC", "cluster": "g"}),
    ("aipw", {}),
    ("aipw", {"estimand": "ATT", "weights": "w"}),
    ("aipw", {"estimand": "ATC", "cluster": "g"}),
    ("overlap_weights", {}),
]


@pytest.mark.parametrize(("method", "case"), WEIGHTING_CASES, ids=lambda c: str(c))
def test_weighting_m_estimation_equals_memory_path(frame, parquet_glob, method, case):
    fn = getattr(dc, method)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = fn(frame, outcome="y", treatment="t", covariates=["x1", "x2", "cat"], missing="drop", **case)
        for _, eng in _engines(frame, parquet_glob):
            got = fn(eng, outcome="y", treatment="t", covariates=["x1", "x2", "cat"], missing="drop", **case)
            assert got.n == ref.n
            _close(ref.estimate, got.estimate)
            _close(ref.std_error, got.std_error)
            if "potential_outcome_means" in ref.diagnostics:
                for arm in ("treated", "control"):
                    _close(
                        ref.diagnostics["potential_outcome_means"][arm], got.diagnostics["potential_outcome_means"][arm]
                    )
            if method == "aipw":
                pd.testing.assert_frame_equal(
                    got.diagnostics["outcome_model_treated"], ref.diagnostics["outcome_model_treated"], rtol=RTOL
                )


def test_weighting_options_that_need_all_rows_are_refused(frame):
    with pytest.raises(SpecificationError, match=r"trim='crump' is not available when the rows stay on an engine"):
        dc.ipw(MemoryEngine(frame), outcome="y", treatment="t", covariates=["x1"], trim="crump")
    with pytest.raises(SpecificationError, match=r"propensity_model='gbm' is not available when the rows stay"):
        dc.ipw(MemoryEngine(frame), outcome="y", treatment="t", covariates=["x1"], propensity_model="gbm")


def test_methods_that_need_all_rows_say_how_much_memory(frame):
    with pytest.raises(DataError, match=r"needs all 3,000 rows in memory \(4 column\(s\) as float64: about 0\.00 GiB"):
        dc.matching(MemoryEngine(frame, SIZES), outcome="y", treatment="t", covariates=["x1", "x2"])
    with pytest.raises(SpecificationError, match="A formula needs the rows in memory"):
        dc.ols(MemoryEngine(frame), "y ~ t + x1", treatment="t")


def test_registry_records_the_engines_of_each_method():
    from deconfound.estimators.registry import ENGINES, REGISTRY

    assert set(ENGINES) == {"memory", "duckdb", "dask", "spark"}
    on_engines = {name for name, m in REGISTRY.items() if "duckdb" in m.engines}
    assert on_engines == {"naive", "ols", "lin", "did", "twfe", "iv", "ipw", "aipw", "overlap", "ra"}
    assert all("memory" in m.engines for m in REGISTRY.values())


def test_cli_engine_flags(frame, parquet_glob, capsys):
    import json

    from deconfound.cli.app import main

    args = ["-m", "ols", "-y", "y", "-t", "t", "-x", "x1,cat", "--cov-type", "HC1", "--json"]
    assert main(["estimate", parquet_glob, *args, "--engine", "memory"]) == 2  # a glob is not a file to load
    capsys.readouterr()
    assert main(["estimate", parquet_glob, *args, "--engine", "duckdb", "--memory-limit", "256MB"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert main(["estimate", parquet_glob, *args]) == 0  # a glob goes to DuckDB by itself
    auto = json.loads(capsys.readouterr().out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = dc.ols(frame, outcome="y", treatment="t", covariates=["x1", "cat"], cov_type="HC1")
    for out in (got, auto):
        _close(ref.estimate, out["estimate"])
        _close(ref.std_error, out["std_error"])


def test_a_large_file_goes_to_duckdb_by_itself(frame, tmp_path, monkeypatch):
    import deconfound.engines as engines

    path = tmp_path / "one.parquet"
    frame.to_parquet(path, index=False)
    assert not is_engine_input(str(path))
    monkeypatch.setattr(engines, "LARGE_FILE_BYTES", path.stat().st_size)
    assert is_engine_input(str(path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = dc.ols(str(path), outcome="y", treatment="t", covariates=["x1"], cov_type="HC1")
        ref = dc.ols(frame, outcome="y", treatment="t", covariates=["x1"], cov_type="HC1")
    assert "computed" not in " ".join(ref.notes)
    _close(ref.std_error, got.std_error)


COMPRESS_CASES = [
    {},
    {"cov_type": "HC1"},
    {"cov_type": "HC0", "weights": "w"},
    {"cluster": "g"},
    {"cluster": "g", "weights": "w"},
]


@pytest.mark.parametrize("case", COMPRESS_CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()) or "plain")
def test_discrete_designs_are_compressed_exactly(case):
    rng = np.random.default_rng(7)
    n = 20_000
    df = pd.DataFrame(
        {
            "a": rng.choice(list("xyz"), n),
            "b": rng.choice(["p", "q"], n),
            "g": rng.integers(0, 30, n),
            "w": rng.uniform(0.5, 2, n),
        }
    )
    df["t"] = (rng.random(n) < 0.3 + 0.2 * (df.a == "x")).astype(int)
    df["y"] = 100 + 2 * df.t + (df.a == "y") - 0.5 * (df.b == "q") + rng.normal(size=n) * (1 + df.t)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = dc.ols(df, outcome="y", treatment="t", covariates=["a", "b"], **case)
        got = dc.ols(
            MemoryEngine(df, [0, 5000, 3, 0, 14997]), outcome="y", treatment="t", covariates=["a", "b"], **case
        )
    cells = 360 if "cluster" in case else 12
    assert any(f"compressed to {cells} cells" in note for note in got.notes)
    _close(ref.estimate, got.estimate)
    _close(ref.std_error, got.std_error)
    scale = np.abs(ref.coefficients.cov).max()
    np.testing.assert_allclose(got.coefficients.cov, ref.coefficients.cov, rtol=RTOL, atol=1e-12 * scale)
    for key in ("r_squared", "f_statistic", "log_likelihood"):
        _close(ref.coefficients.stats[key], got.coefficients.stats[key])
