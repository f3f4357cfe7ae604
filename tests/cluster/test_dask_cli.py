"""``deconfound estimate ... --dask-scheduler ADDRESS`` runs the passes on that Dask cluster (here the
session's local cluster) and prints the in-memory run's numbers; contradicting flags are refused."""

from __future__ import annotations

import pytest
from _cli import estimate, same, write_parquet

from deconfound.cli.app import main


def test_dask_scheduler_flag_gives_the_in_memory_numbers(dask_client, tmp_path, capsys):
    whole, parts = write_parquet(tmp_path)
    ref = estimate(capsys, whole)
    got = estimate(capsys, parts, "--dask-scheduler", dask_client.scheduler.address)
    same(ref, got)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--dask-scheduler", "tcp://h:1", "--engine", "duckdb"], "runs on the dask engine, not --engine duckdb"),
        (["--dask-scheduler", "tcp://h:1", "--spark-master", "local[1]"], "choose different engines"),
        (["--spark-master", "local[1]", "--memory-limit", "1GB"], "--memory-limit applies to the duckdb engine"),
    ],
)
def test_contradicting_flags_are_refused(tmp_path, capsys, flags, message):
    whole, _ = write_parquet(tmp_path)
    argv = ["estimate", whole, "--method", "ols", "-y", "y", "-t", "t", *flags]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
