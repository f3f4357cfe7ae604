"""Simulators with a known true effect, for tests, benchmarks and teaching.

Each returns a DataFrame whose ``attrs`` hold the truth: ``ate`` and ``att`` (and for heterogeneous
data the column ``true_cate`` is *not* added, so it cannot leak into a model by accident; the
individual effects are in ``attrs["cate"]``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._core.options import check_positive_int, check_random_state


def _covariates(rng: np.random.Generator, n: int, p: int) -> np.ndarray:
    return rng.normal(size=(n, p))


def simulate_observational(
    n: int = 1000,
    n_covariates: int = 5,
    effect: float = 2.0,
    confounding: float = 1.0,
    noise: float = 1.0,
    random_state=None,
) -> pd.DataFrame:
    """Confounded data: covariates x0..x{p-1} raise both the chance of treatment and the outcome.

    Treatment is logistic in ``confounding * x.mean-ish index``; the outcome is linear in x plus
    ``effect * treatment`` plus normal noise. The true ATE and ATT both equal ``effect``.
    """
    n = check_positive_int(n, "n", 4)
    p = check_positive_int(n_covariates, "n_covariates", 1)
    rng = check_random_state(random_state)
    x = _covariates(rng, n, p)
    beta = np.linspace(1.0, 0.2, p)
    index = confounding * (x @ beta) / np.sqrt(beta @ beta)
    t = rng.binomial(1, 1.0 / (1.0 + np.exp(-index)))
    y = 1.0 + x @ beta + effect * t + rng.normal(0, noise, n)
    frame = pd.DataFrame(x, columns=[f"x{j}" for j in range(p)])
    frame["treatment"] = t
    frame["outcome"] = y
    frame.attrs.update({"ate": float(effect), "att": float(effect)})
    return frame


def simulate_rct(
    n: int = 1000,
    n_covariates: int = 3,
    effect: float = 1.0,
    p_treat: float = 0.5,
    noise: float = 1.0,
    random_state=None,
) -> pd.DataFrame:
    """A randomized trial: treatment independent of the covariates, true ATE ``effect``."""
    n = check_positive_int(n, "n", 4)
    p = check_positive_int(n_covariates, "n_covariates", 1)
    rng = check_random_state(random_state)
    x = _covariates(rng, n, p)
    t = rng.binomial(1, p_treat, n)
    y = x @ np.linspace(1.0, 0.5, p) + effect * t + rng.normal(0, noise, n)
    frame = pd.DataFrame(x, columns=[f"x{j}" for j in range(p)])
    frame["treatment"] = t
    frame["outcome"] = y
    frame.attrs.update({"ate": float(effect), "att": float(effect)})
    return frame


def simulate_heterogeneous(
    n: int = 2000,
    n_covariates: int = 3,
    base_effect: float = 1.0,
    heterogeneity: float = 1.0,
    confounding: float = 0.5,
    noise: float = 1.0,
    random_state=None,
) -> pd.DataFrame:
    """Effects that vary with x0: tau(x) = base_effect + heterogeneity * x0, with confounding on x0.

    ``attrs["ate"]`` is the population ATE (``base_effect``, since x0 has mean 0); ``attrs["att"]`` and
    ``attrs["sample_ate"]`` are the treated-sample and in-sample averages of tau; ``attrs["cate"]``
    holds every unit's tau.
    """
    n = check_positive_int(n, "n", 4)
    p = check_positive_int(n_covariates, "n_covariates", 1)
    rng = check_random_state(random_state)
    x = _covariates(rng, n, p)
    tau = base_effect + heterogeneity * x[:, 0]
    t = rng.binomial(1, 1.0 / (1.0 + np.exp(-confounding * x[:, 0])))
    y = 0.5 + x @ np.linspace(1.0, 0.2, p) + tau * t + rng.normal(0, noise, n)
    frame = pd.DataFrame(x, columns=[f"x{j}" for j in range(p)])
    frame["treatment"] = t
    frame["outcome"] = y
    frame.attrs.update(
        {
            "ate": float(base_effect),
            "sample_ate": float(tau.mean()),
            "att": float(tau[t == 1].mean()),
            "cate": tau,
        }
    )
    return frame
