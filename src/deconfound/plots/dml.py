"""How much a DML estimate moves with the sample split, read from its result (never fitted here).

    dml_spread_plot(result)   the estimate of each fold (dots) and each repetition (bars with their
                              intervals), beside the aggregated estimate (the line)

``result`` is the Estimate of ``dml``, ``dml_irm`` or ``dml_iv`` (its ``diagnostics["fold_estimates"]``
and ``diagnostics["repetitions"]``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import SpecificationError


def dml_spread_plot(result: Any, *, ax: Any = None, title: str | None = None) -> Any:
    """Fold and repetition estimates of a DML fit around the aggregated estimate. Returns the Figure."""
    diagnostics = getattr(result, "diagnostics", None)
    folds = None if diagnostics is None else diagnostics.get("fold_estimates")
    reps = None if diagnostics is None else diagnostics.get("repetitions")
    if folds is None or reps is None:
        raise SpecificationError("dml_spread_plot draws the result of dml, dml_irm or dml_iv.")
    if ax is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6.5, 0.9 + 0.45 * len(reps) + 1.2))
        ax = fig.add_subplot(1, 1, 1)
    else:
        fig = ax.figure
    z = 1.96
    for i, (rep, row) in enumerate(reps.iterrows()):
        y = len(reps) - i
        values = folds.loc[folds["repetition"] == rep, "estimate"].to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        ax.plot(
            values,
            np.full(len(values), y + 0.18),
            "o",
            color="#7f8c8d",
            markersize=4,
            alpha=0.8,
            label="fold estimates" if i == 0 else None,
        )
        lo, hi = row["estimate"] - z * row["std_error"], row["estimate"] + z * row["std_error"]
        ax.plot([lo, hi], [y, y], color="#2456a6", linewidth=2)
        ax.plot([row["estimate"]], [y], "s", color="#2456a6", label="repetition (95% interval)" if i == 0 else None)
    ax.axvline(
        result.estimate, color="#c0392b", linestyle="--", linewidth=1.2, label=f"estimate ({result.estimate:.4g})"
    )
    ax.set_yticks(range(1, len(reps) + 1))
    ax.set_yticklabels([f"repetition {r}" for r in reversed(list(reps.index))])
    ax.set_ylim(0.4, len(reps) + 0.8)
    ax.set_xlabel("estimate")
    ax.legend(loc="best", fontsize=8, frameon=False)
    ax.set_title(title or f"Split-to-split spread: {result.name}")
    return fig
