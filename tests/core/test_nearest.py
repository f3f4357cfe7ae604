"""Nearest-neighbour search: ties kept however many units share a position."""

import numpy as np
import pytest

from deconfound._core.nearest import nearest_kd


def test_kd_same_set_keeps_every_tie_when_many_units_coincide():
    """Twenty units at one point: each unit's 2 nearest others are all 19 (distance 0), even though the unit
    itself is among the tree's first answers and masked out (the search must still widen)."""
    rng = np.random.default_rng(0)
    z = np.vstack([np.zeros((20, 2)), rng.normal(5.0, 1.0, size=(10, 2))])
    pairs = nearest_kd(z, z, 2, exclude_self=True)
    counts = np.bincount(pairs.target, minlength=len(z))
    assert (counts[:20] == 19).all()
    assert not np.any(pairs.target == pairs.pool)
    brute = np.sqrt(((z[:, None, :] - z[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(brute, np.inf)
    for i in range(20, 30):
        kth = np.sort(brute[i])[1]
        assert set(pairs.pool[pairs.target == i]) == set(np.flatnonzero(brute[i] <= kth))


@pytest.mark.parametrize("exclude_self", [False, True])
@pytest.mark.parametrize("caliper", [None, 0.8, 0.1])
def test_kd_search_over_distinct_rows_gives_the_row_by_row_pairs(exclude_self, caliper):
    """Heavily tied covariates: the search over distinct rows keeps exactly the pairs of the row-by-row
    search (k-th distance, every tie, the caliper, a unit never its own neighbour), nearest first."""
    from deconfound._core import nearest

    rng = np.random.default_rng(11)
    for _ in range(60):
        dims, levels = int(rng.integers(1, 4)), int(rng.integers(2, 4))
        pool = rng.integers(0, levels, (int(rng.integers(20, 300)), dims)) * 0.7
        z = pool if exclude_self else rng.integers(0, levels, (int(rng.integers(1, 200)), dims)) * 0.7
        k = int(rng.integers(1, 5))
        rows = nearest.nearest_kd(z, pool, k, caliper=caliper, exclude_self=exclude_self, profiles=False)
        fast = nearest.nearest_kd(z, pool, k, caliper=caliper, exclude_self=exclude_self)
        a, b = np.lexsort((rows.pool, rows.target)), np.lexsort((fast.pool, fast.target))
        np.testing.assert_array_equal(rows.target[a], fast.target[b])
        np.testing.assert_array_equal(rows.pool[a], fast.pool[b])
        np.testing.assert_allclose(fast.distance[b], rows.distance[a], rtol=1e-14, atol=0)
        same = fast.target[1:] == fast.target[:-1]
        assert np.all(fast.distance[1:][same] >= fast.distance[:-1][same])  # nearest first


def test_mahalanobis_matching_on_tied_covariates_is_the_same_over_distinct_rows(monkeypatch):
    """Estimate and standard error of Mahalanobis matching on three 3-level covariates (27 profiles, each
    target tied with hundreds of units) equal those of the row-by-row search to 1e-12."""
    import pandas as pd

    import deconfound as dc
    from deconfound._core import nearest

    rng = np.random.default_rng(5)
    n = 3000
    x = rng.integers(0, 3, size=(n, 3)).astype(float)
    t = (rng.random(n) < 1 / (1 + np.exp(-(x.sum(1) - 3) * 0.5))).astype(int)
    df = pd.DataFrame(x, columns=["a", "b", "c"]).assign(t=t, y=x.sum(1) + t + rng.normal(size=n))
    fits = []
    for cells in (nearest.PROFILE_CELLS, 0):  # 0: every search row by row
        monkeypatch.setattr(nearest, "PROFILE_CELLS", cells)
        for estimand in ("ATT", "ATE"):
            r = dc.matching(
                df,
                outcome="y",
                treatment="t",
                covariates=["a", "b", "c"],
                distance="mahalanobis",
                estimand=estimand,
                vce_neighbors=3,
            )
            fits.append((r.estimate, r.std_error))
    np.testing.assert_allclose(fits[:2], fits[2:], rtol=1e-12, atol=0)
