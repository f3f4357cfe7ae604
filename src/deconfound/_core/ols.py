"""Least squares from sufficient statistics.

Two passes over the rows, each in bounded-memory chunks:

1. ``accumulate``: X'WX, X'Wy, y'Wy, sum of weights (and the weighted mean of y).
2. ``solve`` (no data needed), then ``residual_pass``: residual sums of squares and the "meat" of the
   sandwich covariances (HC0-HC3, one- and two-way cluster), which need the coefficients.

Accumulation is separate from solving so that other engines (out of core, a cluster) can produce the
same :class:`CrossProducts` and reuse everything after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..data import Design
from ..errors import CollinearityError, DataError
from . import linalg

CHUNK_ROWS = 1 << 16
COV_TYPES = ("nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster")


@dataclass
class CrossProducts:
    """Sufficient statistics of a weighted least-squares problem. Sums can be added across chunks."""

    xtx: np.ndarray
    xty: np.ndarray
    yty: float
    sum_y: float
    sum_w: float
    n: int
    names: list[str]

    def __add__(self, other: CrossProducts) -> CrossProducts:
        return CrossProducts(
            self.xtx + other.xtx,
            self.xty + other.xty,
            self.yty + other.yty,
            self.sum_y + other.sum_y,
            self.sum_w + other.sum_w,
            self.n + other.n,
            self.names,
        )


def _chunks(n: int, size: int):
    for start in range(0, n, size):
        yield start, min(start + size, n)


def accumulate(
    design: Design, y: np.ndarray, w: np.ndarray | None = None, chunk_rows: int = CHUNK_ROWS
) -> CrossProducts:
    """One pass over the rows accumulating X'WX, X'Wy and y'Wy."""
    k = design.k
    xtx = np.zeros((k, k))
    xty = np.zeros(k)
    yty = 0.0
    sum_y = 0.0
    buf = None
    for start, stop in _chunks(design.n, chunk_rows):
        blk = design.block(start, stop, buf)
        buf = blk
        yc = y[start:stop]
        if w is None:
            xtx += blk.T @ blk
            xty += blk.T @ yc
            yty += float(yc @ yc)
            sum_y += float(yc.sum())
        else:
            wc = w[start:stop]
            wx = blk * wc[:, None]
            xtx += wx.T @ blk
            xty += wx.T @ yc
            wy = wc * yc
            yty += float(wy @ yc)
            sum_y += float(wy.sum())
    sum_w = float(design.n if w is None else w.sum())
    return CrossProducts(0.5 * (xtx + xtx.T), xty, yty, sum_y, sum_w, design.n, design.names)


def check_rank(cp: CrossProducts, protect: Sequence[str] = ()) -> None:
    """Raise a CollinearityError naming the dependent columns, if any.

    Columns are checked in their order, except that ``protect`` (the treatment) is checked right after
    any constant, so that a covariate collinear with the treatment is the one named as dependent.
    """
    order = list(range(len(cp.names)))
    first = [i for i in order if cp.names[i] in ("const", "Intercept")]
    front = first + [i for i in order if cp.names[i] in protect and i not in first]
    order = front + [i for i in order if i not in front]
    sub = cp.xtx[np.ix_(order, order)]
    deps = [
        linalg.Dependency(order[d.column], tuple((order[i], c) for i, c in d.combination))
        for d in linalg.find_dependent(sub)
    ]
    if not deps:
        return
    lines = []
    for dep in deps:
        name = cp.names[dep.column]
        if not dep.combination:
            lines.append(f"{name!r} is zero in every row")
            continue
        terms = " + ".join(f"{coef:.4g}*{cp.names[i]}" for i, coef in dep.combination)
        lines.append(f"{name!r} = {terms}")
    names = [cp.names[d.column] for d in deps]
    raise CollinearityError(
        "The design matrix is rank deficient, so these effects cannot be told apart: "
        + "; ".join(lines)
        + ". Remove or recombine the dependent column(s) "
        + ", ".join(repr(n) for n in names)
        + ".",
        dependent=names,
    )


@dataclass
class Residuals:
    """What the second pass over the rows collects."""

    ssr: float  # sum w e^2
    meat: np.ndarray | None = None  # HC meat, sum of w^2 e^2 / (1-h)^p x x'
    cluster_scores: list[np.ndarray] = field(default_factory=list)  # per clustering: G x k score sums
    min_one_minus_h: float = 1.0


def residual_pass(
    design: Design,
    y: np.ndarray,
    w: np.ndarray | None,
    beta: np.ndarray,
    xtx_inv: np.ndarray,
    cov_type: str,
    clusters: Sequence[np.ndarray] = (),
    chunk_rows: int = CHUNK_ROWS,
) -> Residuals:
    """Second pass: residual sum of squares and the meat of the requested sandwich covariance."""
    k = design.k
    need_meat = cov_type in ("HC0", "HC1", "HC2", "HC3")
    power = {"HC2": 1.0, "HC3": 2.0}.get(cov_type, 0.0)
    meat = np.zeros((k, k)) if need_meat else None
    n_groups = [int(c.max()) + 1 if len(c) else 0 for c in clusters]
    scores = [np.zeros((g, k)) for g in n_groups]
    ssr = 0.0
    min_omh = 1.0
    buf = None
    for start, stop in _chunks(design.n, chunk_rows):
        blk = design.block(start, stop, buf)
        buf = blk
        e = y[start:stop] - blk @ beta
        if w is None:
            we = e
            ssr += float(e @ e)
        else:
            wc = w[start:stop]
            we = wc * e
            ssr += float(we @ e)
        if need_meat:
            u2 = we * we
            if power:
                h = np.einsum("ij,ij->i", blk @ xtx_inv, blk)
                if w is not None:
                    h *= wc
                omh = 1.0 - h
                min_omh = min(min_omh, float(omh.min()))
                u2 = u2 / np.power(np.maximum(omh, 1e-300), power)
            meat += (blk * u2[:, None]).T @ blk  # type: ignore[operator]
        if clusters:
            sc = blk * we[:, None]
            for g, codes in enumerate(clusters):
                c = codes[start:stop]
                for j in range(k):
                    scores[g][:, j] += np.bincount(c, weights=sc[:, j], minlength=n_groups[g])
    if need_meat and min_omh <= 1e-10:
        raise DataError(
            f"{cov_type} standard errors are undefined: some observation has leverage 1 (it alone determines "
            "a coefficient). Use HC0 or HC1, or remove that observation's own dummy column."
        )
    return Residuals(ssr=ssr, meat=meat, cluster_scores=scores, min_one_minus_h=min_omh)


def sandwich(bread: np.ndarray, meat: np.ndarray) -> np.ndarray:
    v = bread @ meat @ bread
    return 0.5 * (v + v.T)


def cluster_cov(bread: np.ndarray, scores: np.ndarray, n: int, k: int, small_sample: bool = True) -> np.ndarray:
    """CR1 covariance from per-cluster score sums: G/(G-1) * (n-1)/(n-k) * B (S'S) B."""
    g = scores.shape[0]
    v = sandwich(bread, scores.T @ scores)
    if small_sample:
        v = v * (g / (g - 1.0)) * ((n - 1.0) / (n - k))
    return v


def intersect_codes(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Integer codes of the intersection of two clusterings."""
    combined = a.astype(np.int64) * (int(b.max()) + 1) + b.astype(np.int64)
    _, codes = np.unique(combined, return_inverse=True)
    return codes.astype(np.int64)
