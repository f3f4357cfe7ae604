"""A generic map-reduce over an engine, shared by the Dask and Spark tests: each piece sends back its row
count, the ids it saw and the sums of a float column, so the driver can check that every row came exactly
once and that the pieces' types are the source's."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def frame(n: int = 203, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    x[::17] = np.nan  # missing values travel as they are
    return pd.DataFrame(
        {
            "id": np.arange(n, dtype=np.int64),
            "x": x,
            "g": rng.choice(["a", "b", "c"], size=n),
            "w": rng.uniform(0.5, 2.0, size=n),
        }
    )


def make_kernel() -> Any:
    """What a pass sends back: small sums only (the ids are here only to check the cut). A closure, so that
    it is pickled by value: the Spark and Dask workers cannot import this test module."""

    def kernel(table: Any) -> dict[str, Any]:
        ids = table.column("id").to_numpy()
        x = table.column("x").to_numpy(zero_copy_only=False).astype(float)
        w = table.column("w").to_numpy()
        return {
            "n": table.num_rows,
            "ids": ids.copy(),
            "sum_wx": float(np.nansum(w * x)),
            "missing": int(np.isnan(x).sum()),
            "types": {f.name: str(f.type) for f in table.schema},
        }

    return kernel


def check(results: list[dict[str, Any]], df: pd.DataFrame) -> None:
    ids = np.concatenate([r["ids"] for r in results])
    assert sum(r["n"] for r in results) == len(df)
    assert np.array_equal(np.sort(ids), df["id"].to_numpy()), "every row exactly once"
    expected = float(np.nansum(df["w"] * df["x"]))
    assert abs(sum(r["sum_wx"] for r in results) - expected) <= 1e-12 * max(1.0, abs(expected))
    assert sum(r["missing"] for r in results) == int(df["x"].isna().sum())
    # every piece, the empty ones too, has the source's types
    assert len({tuple(sorted(r["types"].items())) for r in results}) == 1, [r["types"] for r in results]
