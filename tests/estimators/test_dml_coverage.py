"""Coverage of the 95% interval of DML PLR and IRM over 200 simulated data sets with a known effect
(fast linear learners on a design where they are correct; the nuisances are still cross-fitted)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from deconfound.errors import DiagnosticWarning
from deconfound.estimators.dml import dml, dml_irm

REPS = 400
COV = ["x0", "x1", "x2"]


def _draw(seed: int, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    d = rng.binomial(1, 1 / (1 + np.exp(-(0.7 * x[:, 0] - 0.5 * x[:, 1]))))
    y = 1.0 * d + x[:, 0] + 0.5 * x[:, 1] - 0.3 * x[:, 2] + rng.normal(size=n)
    frame = pd.DataFrame(x, columns=COV)
    frame["d"], frame["y"] = d, y
    return frame


@pytest.mark.slow
@pytest.mark.parametrize("fn", [dml, dml_irm])
def test_coverage_is_near_95_percent(fn):
    hits = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DiagnosticWarning)
        for seed in range(REPS):
            est = fn(_draw(seed), outcome="y", treatment="d", covariates=COV, learner="linear", random_state=seed)
            hits.append(est.ci_low <= 1.0 <= est.ci_high)
    coverage = float(np.mean(hits))
    print(f"{fn.__name__}: coverage {coverage:.3f} over {REPS} replications")
    assert 0.93 <= coverage <= 0.97
