"""Compiled treatment timing of a panel (numba). Imported only by ``estimators/_panel.py`` when the compiled
kernels run."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def first_treated(unit, time, d, n_units):  # pragma: no cover - compiled
    """(first period with d == 1 per unit (inf if never), d is 0/1 everywhere, first row where d is 0 at or
    after its unit's first treated period (-1 if none), units with such rows): two passes, no temporaries
    of the rows' length. Returns at the first value of d that is neither 0 nor 1."""
    g = np.full(n_units, np.inf)
    n = unit.shape[0]
    for i in range(n):
        v = d[i]
        if v == 1.0:
            if time[i] < g[unit[i]]:
                g[unit[i]] = time[i]
        elif v != 0.0:
            return g, False, -1, 0
    first = -1
    seen = np.zeros(n_units, np.bool_)
    count = 0
    for i in range(n):
        if d[i] != 1.0 and time[i] >= g[unit[i]]:
            if first < 0:
                first = i
            if not seen[unit[i]]:
                seen[unit[i]] = True
                count += 1
    return g, True, first, count
