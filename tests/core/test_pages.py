"""NumPy's huge-page request is off inside our calls and restored after them (nested and from threads)."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest

import deconfound as dc
from deconfound._core import pages

pytestmark = pytest.mark.skipif(pages._SET is None, reason="this NumPy has no huge-page switch")


def _setting() -> bool:
    assert pages._SET is not None
    before = bool(pages._SET(True))
    pages._SET(before)
    return before


@pytest.mark.parametrize("start", [True, False])
def test_a_call_turns_huge_pages_off_and_restores_the_setting(start: bool) -> None:
    assert pages._SET is not None
    seen: list[bool] = []
    original = pages._SET(start)
    try:

        @pages.entry
        def estimator(x: int) -> int:
            seen.append(_setting())
            return x + 1

        assert estimator(1) == 2
        assert seen == [False]
        assert _setting() is start
    finally:
        pages._SET(original)


def test_nested_and_concurrent_calls_restore_once() -> None:
    assert pages._SET is not None
    original = pages._SET(True)
    inside = threading.Barrier(2)
    seen: list[bool] = []

    @pages.entry
    def outer() -> None:
        with pages.small_pages():
            seen.append(_setting())
        inside.wait()  # both threads are inside at once
        seen.append(_setting())

    try:
        workers = [threading.Thread(target=outer) for _ in range(2)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert seen == [False] * 4
        assert _setting() is True
    finally:
        pages._SET(original)


def test_public_estimators_run_inside_small_pages() -> None:
    assert pages._SET is not None
    original = pages._SET(True)
    try:
        rng = np.random.default_rng(0)
        df = pd.DataFrame({"x": rng.normal(size=200)})
        df["t"] = (rng.random(200) < 0.5).astype(int)
        df["y"] = df["x"] + df["t"] + rng.normal(size=200)
        est = dc.ols(df, outcome="y", treatment="t", covariates=["x"])
        assert np.isfinite(est.estimate)
        assert dc.ols.__wrapped__ is not None  # type: ignore[attr-defined]
        assert _setting() is True
    finally:
        pages._SET(original)
