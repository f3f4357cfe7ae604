"""Engines: the rows of an estimate where they live (in memory, DuckDB, Dask, Spark)."""
