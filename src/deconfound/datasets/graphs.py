"""Data generated from a causal graph with a known effect, to show what the graph protects against.

Each frame carries its truth in ``attrs``: ``ate`` (the true average effect of ``treatment`` on
``outcome``) and ``graph`` (the generating graph in the compact text form).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._core.options import check_positive_int, check_random_state

COLLIDER_GRAPH = "X -> treatment; X -> outcome; treatment -> outcome; treatment -> C; outcome -> C"
M_BIAS_GRAPH = "A -> treatment; A -> C; B -> C; B -> outcome; treatment -> outcome"


def _logistic(index: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-index))


def simulate_collider(
    n: int = 2000, effect: float = 2.0, confounding: float = 1.0, noise: float = 1.0, random_state=None
) -> pd.DataFrame:
    """A confounder ``X`` and a collider ``C`` (caused by both the treatment and the outcome).

    ``X`` raises the chance of treatment and the outcome; ``C = treatment + outcome + noise``. Adjusting
    for ``X`` recovers the true effect ``effect``; adding ``C`` (a bad control) biases it strongly, and
    leaving ``X`` out biases it upwards. The generating graph is in ``attrs["graph"]``.
    """
    n = check_positive_int(n, "n", 4)
    rng = check_random_state(random_state)
    x = rng.normal(size=n)
    t = rng.binomial(1, _logistic(confounding * x))
    y = 1.0 + effect * t + 1.5 * x + rng.normal(0.0, noise, n)
    c = t + y + rng.normal(0.0, 1.0, n)
    frame = pd.DataFrame({"X": x, "treatment": t, "outcome": y, "C": c})
    frame.attrs.update({"ate": float(effect), "att": float(effect), "graph": COLLIDER_GRAPH})
    return frame


def simulate_m_bias(n: int = 5000, effect: float = 1.0, strength: float = 1.5, random_state=None) -> pd.DataFrame:
    """M-bias: ``C`` is a common effect of ``A`` (a cause of treatment) and ``B`` (a cause of the outcome).

    Nothing confounds the treatment, so the difference in means is unbiased; adjusting for the collider
    ``C`` alone opens the path ``treatment <- A -> C <- B -> outcome`` and biases the estimate, while
    ``C`` together with ``A`` or ``B`` is fine. ``strength`` scales every arrow of the M.
    """
    n = check_positive_int(n, "n", 4)
    rng = check_random_state(random_state)
    a = rng.normal(size=n)
    b = rng.normal(size=n)
    c = strength * a + strength * b + rng.normal(size=n)
    t = rng.binomial(1, _logistic(strength * a))
    y = effect * t + strength * b + rng.normal(size=n)
    frame = pd.DataFrame({"A": a, "B": b, "C": c, "treatment": t, "outcome": y})
    frame.attrs.update({"ate": float(effect), "att": float(effect), "graph": M_BIAS_GRAPH})
    return frame
