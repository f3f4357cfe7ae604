"""TWFE on a Dask DataFrame (a local cluster of 2 worker processes) equals the in-memory path to 1e-9
relative: the singleton counts, every alternating-projection pass and the clustered residual pass run on the
workers (the panel and the comparison: _twfe.py)."""

from __future__ import annotations

from _twfe import SIZES, TWFE_CASES, make_panel, same_twfe, twfe


def test_twfe_on_dask_equals_memory(to_dask, dask_client):  # type: ignore[no-untyped-def]
    panel = make_panel()
    on_dask = to_dask(panel, SIZES)
    case = TWFE_CASES[-1]  # three absorbed factors, two-way clustered (with NaN in one), weights
    same_twfe(twfe(panel, case), twfe(on_dask, case))
