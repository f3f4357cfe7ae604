"""Least squares on rows compressed to their distinct design rows ("cells") with within-cell sums.

When the design takes few distinct rows (a binary treatment and a few categorical covariates), the rows
can be grouped into cells, each kept as its design row and the sums over its rows of w, w y, w y^2,
w^2, w^2 y, w^2 y^2 (y shifted by a constant first, against cancellation). These are exact sufficient
statistics for the OLS/WLS coefficients and for the nonrobust, HC0/HC1 and cluster covariances (with
the cluster code as part of the cell): within a cell every row has the same fitted value f, so

    sum w (y - f)^2   = S_wyy - 2 f S_wy + f^2 S_w
    sum w^2 (y - f)^2 = S_wwyy - 2 f S_wwy + f^2 S_ww       (the HC meat's row weight)
    sum w (y - f)     = S_wy - f S_w                         (a cluster's score)

(HC2/HC3 need each row's leverage, which differs within a cell when weights differ: not offered here.)
:class:`Cells` merge by ``+`` (partial results of pieces), so the grouping runs where the rows are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import linalg
from .covariance import OLS_RULES, assemble
from .least_squares import OLSFit, _f_test, _implicit_constant, _log_likelihood, _sym, build_fit
from .passes import Coordinates, CrossProducts, block_products, check_rank

__all__ = ["COMPRESSED_COV_TYPES", "Cells", "fit_cells"]

COMPRESSED_COV_TYPES = ("nonrobust", "HC0", "HC1", "cluster")
SUMS = ("n", "w", "wy", "wyy", "ww", "wwy", "wwyy")


@dataclass
class Cells:
    """Distinct keys (design row + cluster code) and the sums over each one's rows (merged by ``+``)."""

    keys: np.ndarray  # m x (k + 1): the design row, then the cluster code (0 without clusters)
    sums: np.ndarray  # m x 7, columns SUMS

    @classmethod
    def of(cls, blk: np.ndarray, cluster: np.ndarray | None, y: np.ndarray, w: np.ndarray | None) -> Cells:
        keys = np.column_stack([blk, np.zeros(len(y)) if cluster is None else cluster.astype(np.float64)])
        ww = np.ones(len(y)) if w is None else w
        values = np.column_stack([np.ones(len(y)), ww, ww * y, ww * y * y, ww * ww, ww * ww * y, ww * ww * y * y])
        return cls(keys, values).reduced()

    def reduced(self) -> Cells:
        uniq, inverse = np.unique(self.keys, axis=0, return_inverse=True)
        inverse = np.asarray(inverse).reshape(-1)
        sums = np.zeros((len(uniq), self.sums.shape[1]))
        np.add.at(sums, inverse, self.sums)
        return Cells(uniq, sums)

    def __add__(self, other: Cells) -> Cells:
        if not len(other.keys):
            return self
        if not len(self.keys):
            return other
        return Cells(np.vstack([self.keys, other.keys]), np.vstack([self.sums, other.sums])).reduced()


def fit_cells(
    cells: Cells,
    names: Sequence[str],
    *,
    cov_type: str,
    n_clusters: int = 0,
    shift: float = 0.0,
    protect: Sequence[str] = (),
    log_weight_sum: float | None = None,
) -> OLSFit:
    """The OLS/WLS fit of the rows the cells summarise (``shift`` was subtracted from y before summing)."""
    k = len(names)
    x = np.asfortranarray(cells.keys[:, :k])
    s = {name: cells.sums[:, j] for j, name in enumerate(SUMS)}
    sw, n = s["w"], round(float(s["n"].sum()))
    ybar = s["wy"] / sw
    cp = block_products(x, ybar, sw, names)
    within = float(np.sum(s["wyy"] - s["wy"] * ybar))
    cp = CrossProducts(list(names), n, cp.sum_w, cp.mean, cp.mean_y + shift, cp.cxx, cp.cxy, cp.cyy + within)
    coords = Coordinates.from_products(cp)
    check_rank(cp, protect, coords)
    ztz, zty = coords.system(cp)
    beta_z, bread_z = linalg.solve_spd(ztz, zty)
    z = coords.to_z(x.copy())
    f = z @ beta_z - shift  # fitted values in the shifted units of the sums
    ssr = within + float(np.sum(sw * (ybar - f) ** 2))
    meat = None
    scores: list[np.ndarray] = []
    if cov_type in ("HC0", "HC1"):
        q = s["wwyy"] - 2.0 * f * s["wwy"] + f * f * s["ww"]
        meat = (z * q[:, None]).T @ z
    if cov_type == "cluster":
        g = cells.keys[:, k].astype(np.int64)
        u = s["wy"] - f * sw
        scores = [np.stack([np.bincount(g, weights=z[:, j] * u, minlength=n_clusters) for j in range(k)], axis=1)]
    sizes = (n_clusters,) if cov_type == "cluster" else ()
    cov_z, df_inf = assemble(
        cov_type, bread_z, n=n, df_k=k, ssr=ssr, meat=meat, cluster_scores=scores, cluster_sizes=sizes,
        rules=OLS_RULES,
    )  # fmt: skip
    lmat = coords.transform
    cov = _sym(lmat @ cov_z @ lmat.T)
    idx = np.diag_indices_from(cov)
    cov[idx] = np.maximum(cov[idx], 0.0)
    has_const = coords.const is not None or _implicit_constant(cp)
    tss = cp.cyy if has_const else cp.yty
    if has_const and coords.const is None and cov_type != "nonrobust":
        f_test = (float("nan"), float("nan"))
    else:
        const_idx = [coords.const] if coords.const is not None else []
        f_test = _f_test(beta_z, cov_z, const_idx, cov_type, ssr, tss, float(n - k), k - int(has_const), df_inf)
    return build_fit(
        list(names), lmat @ beta_z, cov, n=n, ssr=ssr, tss=tss, xtx=cp.xtx, xtx_inv=_sym(lmat @ bread_z @ lmat.T),
        cov_type=cov_type, df_inference=df_inf, n_clusters=sizes, has_const=has_const, f_test=f_test,
        llf=_log_likelihood(n, ssr, None, log_weight_sum), const_index=coords.const, centered_xtx=cp.cxx,
    )  # fmt: skip
