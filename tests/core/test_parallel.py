"""Threads for passes over rows: results in order, errors surface, the thread count is the user's."""

import threading

import pytest

from deconfound._core import parallel


def test_ranges_cover_everything_once():
    for n in (0, 1, 7, 100):
        for parts in (1, 2, 3, 8):
            covered = [i for a, b in parallel.ranges(n, parts) for i in range(a, b)]
            assert covered == list(range(n))


def test_run_keeps_task_order_and_uses_threads(monkeypatch):
    monkeypatch.setenv(parallel.ENV, "2")
    seen = []

    def task(i):
        seen.append(threading.current_thread().name)
        return i * i

    assert parallel.run([lambda i=i: task(i) for i in range(5)]) == [0, 1, 4, 9, 16]
    assert any(name.startswith("deconfound") for name in seen)


def test_one_thread_runs_serially(monkeypatch):
    monkeypatch.setenv(parallel.ENV, "1")
    names = parallel.run([lambda: threading.current_thread().name for _ in range(3)])
    assert set(names) == {threading.current_thread().name}
    assert parallel.threads() == 1


def test_bad_thread_setting_means_one(monkeypatch):
    monkeypatch.setenv(parallel.ENV, "many")
    assert parallel.threads() == 1


def test_error_in_a_thread_is_raised_to_the_caller(monkeypatch):
    monkeypatch.setenv(parallel.ENV, "2")

    def boom():
        raise ValueError("from a worker")

    with pytest.raises(ValueError, match="from a worker"):
        parallel.run([lambda: 1, boom])


def test_work_started_inside_a_worker_runs_serially(monkeypatch):
    monkeypatch.setenv(parallel.ENV, "2")

    def inner():
        return parallel.run([lambda: threading.current_thread().name, lambda: threading.current_thread().name])

    outer = parallel.run([lambda: None, inner])
    names = outer[1]
    assert names[0] == names[1] and names[0].startswith("deconfound")  # both on the worker itself
