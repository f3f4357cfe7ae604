"""Nearest-neighbour search: ties kept however many units share a position."""

import numpy as np

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
