"""``deconfound estimate ... --spark-master URL`` runs the passes on Spark (here the session's local[2],
which the command reuses) and prints the in-memory run's numbers."""

from __future__ import annotations

from _cli import estimate, same, write_parquet


def test_spark_master_flag_gives_the_in_memory_numbers(spark, tmp_path, capsys):
    whole, parts = write_parquet(tmp_path)
    ref = estimate(capsys, whole)
    got = estimate(capsys, parts, "--spark-master", "local[2]")
    same(ref, got)
