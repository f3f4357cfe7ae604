"""The article's data: the heart-attack cross-section, the two-period panel, and the ice-cream shops.

``heart_attack(n=1000, seed=42)`` reproduces the article's table and numbers exactly. It draws from a
private ``numpy.random.RandomState`` seeded like the article's ``np.random.seed(42)`` so the stream is
the same without touching numpy's global generator.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._core.options import check_seed

TRUE_EFFECT = -10.0


def heart_attack(n: int = 1000, seed: int | None = 42) -> pd.DataFrame:
    """Initial health ``I.H`` confounds ``Drug`` and ``Severity``; the true effect of the drug is -10.

    Sicker patients (I.H > 50) get the drug with probability 0.8, others 0.2, so the naive difference
    in means is biased upwards (+3.47 at the article's n=1000, seed=42).
    """
    rng = np.random.RandomState(check_seed(seed, "seed", maximum=2**32 - 1))
    initial_health = rng.normal(50, 15, n).clip(0, 100)
    prob_drug = np.where(initial_health > 50, 0.8, 0.2)
    drug = rng.binomial(1, prob_drug)
    noise = rng.normal(0, 5, n)
    severity = 10 + 0.9 * initial_health + TRUE_EFFECT * drug + noise
    frame = pd.DataFrame({"I.H": initial_health, "Drug": drug, "Severity": severity})
    frame.attrs["true_effect"] = TRUE_EFFECT
    return frame


def heart_attack_panel(
    n: int = 1000,
    seed: int | None = 42,
    quality_noise: float = 0.0,
    trend: float = 3.0,
    noise_sd: float = 12.0,
) -> pd.DataFrame:
    """A two-period panel in the spirit of the article's DiD data (2n rows, true effect -10).

    Each patient appears before (Post=0) and after (Post=1). ``Drug`` marks the treated group, chosen
    as in :func:`heart_attack`. ``Quality_of_Care`` is 0 before; afterwards it is 5 for controls and 8
    for the treated, so it improves *only for the treated after treatment*: it is an exact linear
    combination of Post and Drug x Post (the article's trap). ``quality_noise`` > 0 adds small
    patient-level noise to it, turning exact collinearity into near collinearity. Quality of care has
    no effect of its own on severity: all of the -10 is the drug's.
    """
    rng = np.random.RandomState(check_seed(seed, "seed", maximum=2**32 - 1))
    initial_health = rng.normal(50, 15, n).clip(0, 100)
    drug = rng.binomial(1, np.where(initial_health > 50, 0.8, 0.2))
    unit_effect = rng.normal(0, 5, n)
    rows = []
    for post in (0, 1):
        quality = np.where(post == 1, np.where(drug == 1, 8.0, 5.0), 0.0)
        if quality_noise > 0:
            quality = quality + rng.normal(0, quality_noise, n)
        severity = (
            20
            + 0.6 * initial_health
            + 5 * drug
            + trend * post
            + TRUE_EFFECT * drug * post
            + unit_effect
            + rng.normal(0, noise_sd, n)
        )
        rows.append(
            pd.DataFrame(
                {
                    "patient": np.arange(n),
                    "I.H": initial_health,
                    "Drug": drug,
                    "Post": post,
                    "Quality_of_Care": quality,
                    "Severity": severity,
                }
            )
        )
    frame = pd.concat(rows, ignore_index=True)
    frame.attrs["true_effect"] = TRUE_EFFECT
    return frame


def ice_cream() -> pd.DataFrame:
    """The article's two ice-cream shops: store A (treated by a heat wave) and store B, before and after."""
    return pd.DataFrame(
        {
            "store": ["A", "A", "B", "B"],
            "treated": [1, 1, 0, 0],
            "post": [0, 1, 0, 1],
            "sales": [200.0, 500.0, 300.0, 400.0],
        }
    )
