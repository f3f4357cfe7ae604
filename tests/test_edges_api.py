"""Bad values at the Python API's edges give our errors naming the argument (issue 12, item 4)."""

from __future__ import annotations

import numpy as np
import pytest

import deconfound as dc
from deconfound._core.options import check_random_state, check_seed
from deconfound.errors import DataError, SpecificationError
from deconfound.plots.forest import forest_plot


@pytest.fixture(scope="module")
def heart():
    return dc.datasets.heart_attack(n=200)[["Severity", "Drug", "I.H"]]


@pytest.mark.parametrize("bad", [-1, 1.5, 2.0, "7", True])
def test_seeds_are_non_negative_integers(bad):
    with pytest.raises(SpecificationError, match="random_state must be a non-negative integer"):
        check_random_state(bad)
    with pytest.raises(SpecificationError, match="--seed must be a non-negative integer"):
        check_seed(bad, "--seed")


def test_good_seeds_still_work():
    assert check_seed(np.int64(3)) == 3 and check_seed(None) is None
    assert check_random_state(5).integers(0, 100) == np.random.default_rng(5).integers(0, 100)
    with pytest.raises(SpecificationError, match="random_state must be None, a non-negative integer seed"):
        check_random_state([1, 2])


def test_simulators_refuse_a_negative_random_state():
    with pytest.raises(SpecificationError, match="random_state must be a non-negative integer"):
        dc.datasets.simulate_observational(random_state=-2)


def test_ssc_as_a_string_points_to_dc_ssc():
    panel = dc.datasets.heart_attack_panel()
    with pytest.raises(SpecificationError, match=r"ssc must be the result of deconfound\.ssc"):
        dc.twfe(panel, outcome="Severity", treatment="Drug", unit="patient", time="Post", ssc="fixest")


def test_compare_needs_estimates(heart):
    with pytest.raises(SpecificationError, match=r"compare\(\) needs at least one estimate"):
        dc.compare()
    with pytest.raises(SpecificationError, match=r"compare\(\) takes estimates .* got int"):
        dc.compare(1)
    with pytest.raises(SpecificationError, match=r"compare\(\) takes Estimate objects, got str"):
        dc.compare(["a"])
    est = dc.ols(heart, outcome="Severity", treatment="Drug", covariates=["I.H"])
    assert len(dc.compare([est], est).estimates) == 2


@pytest.mark.parametrize("truth", ["x", float("nan"), float("inf"), True, [1.0]])
def test_truth_must_be_a_finite_number(heart, truth):
    comparison = dc.compare(dc.ols(heart, outcome="Severity", treatment="Drug", covariates=["I.H"]))
    with pytest.raises(SpecificationError, match="truth must be a finite number"):
        comparison.plot(truth=truth)
    with pytest.raises(SpecificationError, match="truth must be a finite number"):
        forest_plot(comparison, truth=truth)


def test_nested_polars_columns_are_refused(heart):
    pl = pytest.importorskip("polars")
    frame = pl.from_pandas(heart).with_columns(
        pl.Series("L", [[1, 2]] * len(heart)), pl.struct(["Drug", "I.H"]).alias("S")
    )
    with pytest.raises(DataError, match="covariate 'L' holds lists or records"):
        dc.ols(frame, outcome="Severity", treatment="Drug", covariates=["I.H", "L"])
    with pytest.raises(DataError, match="treatment 'S' holds lists or records"):
        dc.ipw(frame, outcome="Severity", treatment="S", covariates=["I.H"])


def test_integer_column_names_get_a_clear_error(heart):
    frame = heart.copy()
    frame.columns = [0, 1, 2]
    with pytest.raises(DataError, match=r"outcome '0' matches a column whose name is not a string.*astype\(str\)"):
        dc.ols(frame, outcome="0", treatment="1", covariates=["2"])
    with pytest.raises(DataError, match=r"treatment '1' matches a column whose name is not a string"):
        dc.ols(frame, "Q('0') ~ Q('1')")
    with pytest.raises(SpecificationError, match="outcome must be a column name, got 0"):
        dc.ols(frame, outcome=0, treatment=1, covariates=[2])


@pytest.mark.parametrize(
    "seed, message", [(-1, "non-negative integer"), (1.5, "non-negative integer"), (2**32, "between 0")]
)
def test_article_data_seeds(seed, message):
    with pytest.raises(SpecificationError, match=f"seed must be .*{message}"):
        dc.datasets.heart_attack(seed=seed)
    with pytest.raises(SpecificationError, match=f"seed must be .*{message}"):
        dc.datasets.heart_attack_panel(seed=seed)
