"""The CLI on a cluster engine, shared by test_dask_cli.py and test_spark_cli.py: the same ``--json`` numbers
as the in-memory run of the same file."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from deconfound.cli.app import main


def write_parquet(folder: Any) -> tuple[str, str]:
    """One file (for the in-memory run) and a glob of three uneven parts, one of one row (for the engine)."""
    rng = np.random.default_rng(4)
    n = 400
    df = pd.DataFrame({"x": rng.normal(size=n), "g": rng.integers(0, 12, n)})
    df["t"] = (rng.uniform(size=n) < 0.5).astype(int)
    df["y"] = 1 + 0.5 * df.t + df.x + rng.normal(size=n)
    df.to_parquet(folder / "all.parquet", index=False)
    for i, (a, b) in enumerate([(0, 150), (150, 151), (151, 400)]):
        df.iloc[a:b].to_parquet(folder / f"part{i}.parquet", index=False)
    return str(folder / "all.parquet"), str(folder / "part*.parquet")


def estimate(capsys: Any, path: str, *extra: str) -> dict[str, Any]:
    argv = ["estimate", path, "--method", "ols", "-y", "y", "-t", "t", "--covariates", "x", "--cluster", "g"]
    assert main([*argv, "--json", "--quiet", *extra]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def same(ref: dict[str, Any], got: dict[str, Any]) -> None:
    for key in ("estimate", "std_error", "n"):
        assert got[key] == pytest.approx(ref[key], rel=1e-9), key
