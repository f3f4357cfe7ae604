"""Figures of heterogeneous effects, read from a meta-learner's result (never fitted here).

    cate_plot(result)                     distribution of the per-row CATE, with the ATE and zero marked
    gates_plot(result)                    group average effects by CATE group, with intervals
    cate_by_covariate(result, data, col)  per-row CATE against one covariate (a scatter and a binned mean)

``result`` is the Estimate of ``s_learner`` ... ``dr_learner`` (its ``diagnostics["cate"]`` and
``diagnostics["gates"]``); ``cate_plot`` also takes an array of CATE values.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import SpecificationError

CATE_COLOR = "#7570b3"
ATE_COLOR = "#d95f02"


def _diagnostic(source: Any, key: str, what: str) -> Any:
    diagnostics = getattr(source, "diagnostics", None)
    value = None if diagnostics is None else diagnostics.get(key)
    if value is None:
        raise SpecificationError(
            f"{what} needs the result of a meta-learner (s_learner, t_learner, x_learner, r_learner, dr_learner) "
            f"with diagnostics[{key!r}]" + ("; GATES need cross-fitting (folds >= 2)." if key == "gates" else ".")
        )
    return value


def _axes(ax: Any, size: tuple[float, float] = (7.5, 4.5)) -> tuple[Any, Any]:
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=size)
        return fig, ax
    return ax.figure, ax


def cate_plot(source: Any, *, bins: int = 40, title: str | None = None, ax: Any = None) -> Any:
    """Histogram of the per-row CATE (``diagnostics["cate"]["cate"]``), the ATE and zero marked."""
    if isinstance(source, (np.ndarray, pd.Series, list)):
        cate, ate = np.asarray(source, dtype=np.float64), None
    else:
        cate = np.asarray(_diagnostic(source, "cate", "cate_plot")["cate"], dtype=np.float64)
        ate = getattr(source, "estimate", None)
    fig, ax = _axes(ax)
    ax.hist(cate, bins=bins, color=CATE_COLOR, alpha=0.6)
    ax.axvline(0.0, color="grey", lw=1, ls=":")
    if ate is not None:
        ax.axvline(ate, color=ATE_COLOR, lw=2, label=f"ATE = {ate:.3g}")
        ax.legend(frameon=False)
    ax.set_xlabel("estimated effect for the row (CATE)")
    ax.set_ylabel("rows")
    ax.set_title(title or f"Distribution of the CATE ({getattr(source, 'name', 'CATE')})")
    fig.tight_layout()
    return fig


def gates_plot(source: Any, *, title: str | None = None, ax: Any = None) -> Any:
    """Average effect of each CATE group (least to most affected) with its interval; the ATE as a line."""
    table = _diagnostic(source, "gates", "gates_plot")
    groups = table.drop(index="most - least", errors="ignore")
    fig, ax = _axes(ax)
    x = np.arange(1, len(groups) + 1)
    est = groups["estimate"].to_numpy(dtype=np.float64)
    lo, hi = groups["ci_low"].to_numpy(dtype=np.float64), groups["ci_high"].to_numpy(dtype=np.float64)
    ax.errorbar(x, est, yerr=[est - lo, hi - est], fmt="o", color=CATE_COLOR, capsize=4, label="group average effect")
    ate = getattr(source, "estimate", None)
    if ate is not None:
        ax.axhline(ate, color=ATE_COLOR, lw=1.5, ls="--", label=f"ATE = {ate:.3g}")
    ax.axhline(0.0, color="grey", lw=1, ls=":")
    ax.set_xticks(x)
    ax.set_xticklabels([str(g) for g in groups.index])
    ax.set_xlabel("CATE group (1 = least affected)")
    ax.set_ylabel("average effect")
    level = getattr(source, "level", 0.95)
    ax.set_title(title or f"Group average effects (GATES, {level:.0%} intervals)")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def cate_by_covariate(
    source: Any, data: Any, covariate: str, *, bins: int = 20, title: str | None = None, ax: Any = None
) -> Any:
    """Per-row CATE against ``covariate`` (a column of ``data``, the frame the result was estimated on):
    the rows as dots and the mean CATE within quantile bins of the covariate as a line."""
    frame = _diagnostic(source, "cate", "cate_by_covariate")
    if not hasattr(data, "columns") or covariate not in data.columns:
        raise SpecificationError(f"covariate={covariate!r} must be a column of data (the frame the result used).")
    x = pd.to_numeric(pd.Series(data[covariate]).loc[frame.index], errors="coerce").to_numpy(dtype=np.float64)
    cate = frame["cate"].to_numpy(dtype=np.float64)
    fig, ax = _axes(ax)
    ax.scatter(x, cate, s=6, alpha=0.25, color=CATE_COLOR, label="rows")
    ok = np.isfinite(x)
    if ok.sum() > bins:
        edges = np.unique(np.quantile(x[ok], np.linspace(0, 1, bins + 1)))
        which = np.clip(np.searchsorted(edges, x[ok], side="right") - 1, 0, len(edges) - 2)
        centers = [x[ok][which == b].mean() for b in range(len(edges) - 1) if np.any(which == b)]
        means = [cate[ok][which == b].mean() for b in range(len(edges) - 1) if np.any(which == b)]
        ax.plot(centers, means, color=ATE_COLOR, lw=2, marker="o", ms=3, label="binned mean")
    ax.axhline(0.0, color="grey", lw=1, ls=":")
    ax.set_xlabel(covariate)
    ax.set_ylabel("estimated effect (CATE)")
    ax.set_title(title or f"CATE against {covariate}")
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig
