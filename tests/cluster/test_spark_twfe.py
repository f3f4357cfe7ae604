"""TWFE on a Spark DataFrame (local[2]) equals the in-memory path to 1e-9 relative: the singleton counts,
every alternating-projection pass and the clustered residual pass run on the executors through Arrow (the
panel and the comparison: _twfe.py)."""

from __future__ import annotations

from _twfe import SIZES, TWFE_CASES, make_panel, same_twfe, twfe


def test_twfe_on_spark_equals_memory(to_spark):  # type: ignore[no-untyped-def]
    panel = make_panel()
    on_spark = to_spark(panel, SIZES)
    case = TWFE_CASES[4]  # clustered by unit and by a 7-level column
    same_twfe(twfe(panel, case), twfe(on_spark, case))
