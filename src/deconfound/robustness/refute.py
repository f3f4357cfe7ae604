"""Refutation by placebo: replace the treatment with a random permutation and estimate again.

A method that finds an "effect" of a treatment that was shuffled at random is picking up something
other than the treatment. The permuted estimates should centre on zero; the share of them at least as
large as the real one is a permutation p-value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from .._core.options import check_positive_int
from ..diagnostics.hypotheses import TestResult
from ..errors import DeconfoundError, SpecificationError


def placebo_treatment(
    estimator: Callable[..., Any],
    data: pd.DataFrame,
    *,
    treatment: str,
    n_simulations: int = 20,
    random_state: Any = None,
    progress: Callable[[int, int], None] | None = None,
    **options: Any,
) -> TestResult:
    """Run ``estimator(data_with_permuted_treatment, treatment=treatment, **options)`` repeatedly.

    Returns a :class:`~deconfound.diagnostics.hypotheses.TestResult` (statistic: the real estimate;
    distribution: "permutation"), which as a mapping holds the real estimate, the placebo estimates' mean
    and standard deviation, and the permutation p-value (share of |placebo| >= |real|, with the usual +1
    correction). A permutation on which the
    estimator raises a :class:`~deconfound.DeconfoundError` is counted in ``n_failed`` (its message in
    ``failures``) and left out; the test ``passed`` only if at least two permutations ran. An error on
    the real data is raised.
    """
    import warnings

    n_simulations = check_positive_int(n_simulations, "n_simulations")
    from ..estimators.learners.seeds import seed_from

    seed = seed_from(random_state)  # an integer as given; None draws one, kept on the result to rerun it
    rng = np.random.default_rng(seed)
    if not isinstance(data, pd.DataFrame) or treatment not in data.columns:
        raise SpecificationError(f"placebo_treatment needs a DataFrame with the treatment column {treatment!r}.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        real = estimator(data, treatment=treatment, **options).estimate
        values: list[float] = []
        failures: list[str] = []
        for i in range(n_simulations):
            shuffled = data.copy()
            shuffled[treatment] = rng.permutation(shuffled[treatment].to_numpy())
            try:
                values.append(estimator(shuffled, treatment=treatment, **options).estimate)
            except DeconfoundError as exc:
                failures.append(str(exc))
            if progress is not None:
                progress(i + 1, n_simulations)
    return _summary(float(real), np.asarray(values, dtype=float), failures, n_simulations, seed)


#: the dict form of a placebo result (keys in order)
PLACEBO_LAYOUT = (
    "estimate=statistic",
    "placebo_mean",
    "placebo_sd",
    "p_value",
    "n_simulations",
    "n_failed",
    "failures",
    "passed",
    "seed",
)
PLACEBO_NULL = "the method finds no effect of a randomly permuted treatment as large as the real one"


def _summary(
    real: float, placebo: np.ndarray, failures: list[str], n_simulations: int, seed: int | None = None
) -> TestResult:
    ran = len(placebo)
    mean = float(placebo.mean()) if ran else float("nan")
    sd = float(placebo.std(ddof=1)) if ran > 1 else float("nan")
    p = (1 + int(np.sum(np.abs(placebo) >= abs(real)))) / (ran + 1)
    details = {
        "placebo_mean": mean,
        "placebo_sd": sd,
        "n_simulations": n_simulations,
        "n_failed": len(failures),
        "failures": tuple(dict.fromkeys(failures)),
        # the placebo passes when the permuted estimates centre on zero (within three standard errors)
        "passed": bool(ran > 1 and abs(mean) <= 3 * sd / np.sqrt(ran)),
        "seed": seed,  # random_state=seed gives these permutations again
    }
    reason = None if ran > 1 else "fewer than two permuted treatments could be estimated"
    return TestResult(
        "placebo treatment (permutation) test",
        real,
        "permutation",
        p_value=p,
        null=PLACEBO_NULL,
        reason=reason,
        details=details,
        layout=PLACEBO_LAYOUT,
        statistic_name="estimate",
    )
