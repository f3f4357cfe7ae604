"""Shared test helpers: reference datasets and tolerant comparisons (imported by the test modules)."""

from __future__ import annotations

import numpy as np
import pandas as pd

import deconfound as dc

RTOL = 1e-8  # the tolerance for well-conditioned problems


def assert_close(ours, theirs, rtol: float = RTOL, what: str = "") -> None:
    """Relative comparison; entries that are tiny next to the largest one get an absolute floor."""
    ours = np.asarray(ours, dtype=float)
    theirs = np.asarray(theirs, dtype=float)
    scale = float(np.nanmax(np.abs(theirs))) if theirs.size and np.isfinite(theirs).any() else 1.0
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=rtol * 1e-3 * scale, err_msg=what)


def wild_weights(rng: np.random.Generator, n: int) -> np.ndarray:
    """Weights spread log-uniformly over twelve orders of magnitude, 1e-6 .. 1e6."""
    return np.exp(rng.uniform(np.log(1e-6), np.log(1e6), n))


def article() -> pd.DataFrame:
    df = dc.datasets.heart_attack().rename(columns={"I.H": "IH"})
    rng = np.random.default_rng(7)
    df["g1"] = rng.integers(0, 40, len(df))
    df["g2"] = rng.integers(0, 9, len(df))
    df["w"] = wild_weights(rng, len(df))
    return df.rename(columns={"Severity": "y", "Drug": "t"})


def observational() -> pd.DataFrame:
    df = dc.datasets.simulate_observational(n=400, n_covariates=5, random_state=3)
    rng = np.random.default_rng(8)
    df["g1"] = rng.integers(0, 30, len(df))
    df["g2"] = rng.integers(0, 12, len(df))
    df["w"] = wild_weights(rng, len(df))
    return df.rename(columns={"outcome": "y", "treatment": "t"})


def heteroskedastic() -> pd.DataFrame:
    """Covariates on very different scales and means, errors whose spread grows with x0."""
    rng = np.random.default_rng(9)
    n = 300
    x0 = rng.normal(size=n)
    x1 = 1000.0 * rng.normal(size=n)
    x2 = 50.0 + rng.exponential(2.0, n)
    t = rng.binomial(1, 1 / (1 + np.exp(-x0)))
    y = 2 + 1.5 * t + x0 + 0.001 * x1 - 0.3 * x2 + rng.normal(size=n) * (0.5 + np.abs(x0)) * (1 + t)
    g1 = rng.integers(0, 20, n)
    return pd.DataFrame(
        {"y": y, "t": t, "x0": x0, "x1": x1, "x2": x2, "g1": g1, "g2": rng.integers(0, 6, n), "w": wild_weights(rng, n)}
    )


def small() -> pd.DataFrame:
    """Few rows, so that HC2/HC3 leverage corrections matter."""
    rng = np.random.default_rng(10)
    n = 40
    x = rng.normal(size=(n, 3))
    t = rng.binomial(1, 0.5, n)
    y = x @ [1.0, -1.0, 0.5] + 0.8 * t + rng.standard_t(3, n)
    df = pd.DataFrame(x, columns=["a", "b", "c"]).assign(t=t, y=y)
    return df.assign(g1=rng.integers(0, 8, n), g2=rng.integers(0, 5, n), w=wild_weights(rng, n))


DATASETS = {
    "article": (article, ["IH"]),
    "observational": (observational, [f"x{j}" for j in range(5)]),
    "heteroskedastic": (heteroskedastic, ["x0", "x1", "x2"]),
    "small": (small, ["a", "b", "c"]),
}
