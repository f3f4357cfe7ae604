"""A Dask worker killed during a pass: Dask runs its task again on a live worker and the result is the
right number (each partition counted once); a task whose workers keep dying ends in a clear EngineError.
Never a wrong number. The fixture's cluster allows one retry per task (allowed-failures = 1)."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest
from _mapreduce import frame

from deconfound.errors import EngineError

SIZES = [30, 0, 50, 20, 60, 43]


def _sum_kernel(marker: str, victim_rows: int):  # type: ignore[no-untyped-def]
    """Sums of one partition. The first attempt at the partition of ``victim_rows`` rows writes its process
    id to ``marker`` and waits to be killed; the retry finds the marker and answers."""

    def kernel(table):  # type: ignore[no-untyped-def]
        if table.num_rows == victim_rows:
            try:
                fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                pass
            else:
                os.write(fd, str(os.getpid()).encode())
                os.close(fd)
                time.sleep(120)  # the test kills this process long before
        return (table.num_rows, float(np.nansum(table.column("w").to_numpy())), table.column("id").to_numpy())

    return kernel


def _wait_for_workers(client, n: int = 2) -> None:  # type: ignore[no-untyped-def]
    client.wait_for_workers(n, timeout=120)


def test_a_worker_killed_mid_pass_gives_the_right_result(dask_client, to_dask, tmp_path):
    from deconfound.engines.dask import DaskEngine

    df = frame()
    engine = DaskEngine(to_dask(df, SIZES), client=dask_client)
    marker = str(tmp_path / "victim")
    killed: list[int] = []

    def killer() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if os.path.exists(marker) and os.path.getsize(marker) > 0:
                with open(marker) as fh:
                    pid = int(fh.read())
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(0.05)

    workers_before = set(dask_client.run(os.getpid).values())
    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    results = engine.map_partitions(["id", "w"], _sum_kernel(marker, victim_rows=60))
    thread.join(timeout=5)
    assert killed and killed[0] in workers_before, "a worker process was killed during the pass"
    assert sorted(n for n, _, _ in results) == sorted(SIZES)
    ids = np.sort(np.concatenate([i for _, _, i in results]))
    assert np.array_equal(ids, df["id"].to_numpy())
    assert sum(s for _, s, _ in results) == pytest.approx(df["w"].sum(), rel=1e-13)
    _wait_for_workers(dask_client)  # the nanny restarts the worker for the tests that follow


def test_a_task_whose_workers_keep_dying_is_a_clear_error(dask_client, to_dask):
    """The partition of 20 rows kills its worker on every attempt: after the one retry Dask gives up
    (KilledWorker) and the engine says so instead of returning the other partitions' sums."""
    from deconfound.engines.dask import DaskEngine

    engine = DaskEngine(to_dask(frame(), SIZES), client=dask_client)

    def kernel(table):  # type: ignore[no-untyped-def]
        if table.num_rows == 20:
            os.kill(os.getpid(), signal.SIGKILL)
        return table.num_rows

    try:
        with pytest.raises(EngineError, match=r"^The dask engine failed: the workers .* died too often"):
            engine.map_partitions(["id"], kernel)
    finally:
        _wait_for_workers(dask_client)
