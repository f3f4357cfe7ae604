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

from .._options import check_positive_int, check_random_state


def placebo_treatment(
    estimator: Callable[..., Any],
    data: pd.DataFrame,
    *,
    treatment: str,
    n_simulations: int = 20,
    random_state: Any = None,
    progress: Callable[[int, int], None] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Run ``estimator(data_with_permuted_treatment, treatment=treatment, **options)`` repeatedly.

    Returns the real estimate, the placebo estimates' mean and standard deviation, and the permutation
    p-value (share of |placebo| >= |real|, with the usual +1 correction).
    """
    import warnings

    n_simulations = check_positive_int(n_simulations, "n_simulations")
    rng = check_random_state(random_state)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        real = estimator(data, treatment=treatment, **options).estimate
        values = []
        for i in range(n_simulations):
            shuffled = data.copy()
            shuffled[treatment] = rng.permutation(shuffled[treatment].to_numpy())
            values.append(estimator(shuffled, treatment=treatment, **options).estimate)
            if progress is not None:
                progress(i + 1, n_simulations)
    placebo = np.asarray(values)
    p = (1 + int(np.sum(np.abs(placebo) >= abs(real)))) / (n_simulations + 1)
    return {
        "estimate": float(real),
        "placebo_mean": float(placebo.mean()),
        "placebo_sd": float(placebo.std(ddof=1)) if n_simulations > 1 else float("nan"),
        "p_value": p,
        "n_simulations": n_simulations,
        # the placebo passes when the permuted estimates centre on zero (within three standard errors)
        "passed": bool(n_simulations > 1 and abs(placebo.mean()) <= 3 * placebo.std(ddof=1) / np.sqrt(n_simulations)),
    }
