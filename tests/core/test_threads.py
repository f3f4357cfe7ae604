"""The thread pool of the hot passes: results in order, a serial map inside the pool, the count switch."""

from __future__ import annotations

import threading

import pytest

from deconfound._core import threads
from deconfound.errors import SpecificationError


def test_map_ordered_keeps_the_order_and_uses_the_pool() -> None:
    names: set[str] = set()

    def work(x: int) -> int:
        names.add(threading.current_thread().name)
        return x * x

    with threads.using(2):
        assert threads.map_ordered(work, range(50)) == [x * x for x in range(50)]
    assert any(n.startswith("deconfound") for n in names)
    with threads.using(1):
        names.clear()
        assert threads.map_ordered(work, range(5)) == [0, 1, 4, 9, 16]
        assert names == {threading.current_thread().name}


def test_map_chunked_gives_each_thread_one_run_in_order() -> None:
    runs: list[list[int]] = []

    def work(run: list[int]) -> list[int]:
        runs.append(list(run))
        return [x + 1 for x in run]

    with threads.using(3):
        assert threads.map_chunked(work, range(10)) == list(range(1, 11))
    assert sorted(len(r) for r in runs) == [3, 3, 4]
    assert sorted(x for r in runs for x in r) == list(range(10))
    assert threads.map_chunked(work, []) == []


def test_a_map_inside_a_pool_thread_runs_serially() -> None:
    def inner(x: int) -> str:
        return threading.current_thread().name

    def outer(x: int) -> list[str]:
        assert not threads.parallel()
        return threads.map_ordered(inner, range(3))

    with threads.using(2):
        for names in threads.map_ordered(outer, range(4)):
            assert len(set(names)) == 1


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_use_refuses_what_is_not_a_count(bad: object) -> None:
    with pytest.raises(SpecificationError, match="n must be an integer >= 1"):
        threads.use(bad)  # type: ignore[arg-type]


def test_environment_sets_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DECONFOUND_THREADS", "3")
    assert threads._default() == 3
    monkeypatch.setenv("DECONFOUND_THREADS", "zero")
    assert 1 <= threads._default() <= threads.MAX_DEFAULT


def test_fold_threads_gives_the_bits_of_one_kernel() -> None:
    """Design.tdot with its partitions shared by threads equals the serial pass bit for bit, on contiguous
    partitions and on the tests' shuffled, uneven ones (one of them empty)."""
    import numpy as np

    from deconfound._core import rows
    from deconfound._core.design import Design, constant_part

    rng = np.random.default_rng(3)
    x = rng.normal(size=(20_000, 4)) * [1.0, 1e3, 1e-3, 7.0]
    design = Design.from_matrix(x, ["a", "b", "c", "d"]).with_parts([constant_part()], front=True)
    columns = [rng.normal(size=20_000), 2.5, rng.exponential(size=20_000)]
    serial = design.tdot(columns, 1000)
    with threads.using(2):
        np.testing.assert_array_equal(design.tdot(columns, 1000, parallel=True), serial)
        with rows.using(lambda d, n, a, c: rows.ShuffledSource(d, n, a, scatter=False)):
            shuffled = design.tdot(columns, 1000)
            np.testing.assert_array_equal(design.tdot(columns, 1000, parallel=True), shuffled)
    np.testing.assert_allclose(serial, shuffled, rtol=1e-12)
