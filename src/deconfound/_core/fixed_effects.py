"""Least squares with absorbed fixed effects and fixest-style small-sample corrections.

The fixed effects are projected out of the outcome and the regressors (``demean``); the slopes then
come from the ordinary sufficient-statistics core (``accumulate``, ``check_rank``, ``solve_spd``,
``residual_pass``) run on the demeaned columns, and the covariance from the one assembler of
``covariance``. Only the degrees of freedom differ from OLS, and they follow fixest / pyfixest
(``covariance.ssc``):

* ``adj``: multiply by (n - 1) / (n - K) (n / (n - K) for heteroskedasticity-robust errors), where
  K = slopes + absorbed parameters counted by ``fixef_k``;
* ``fixef_k``: "nested" (default) leaves out fixed effects nested in a cluster variable (a unit
  effect when clustering by unit), "full" counts every absorbed parameter, "none" counts none;
  absorbed parameters are the levels of every factor less one per factor beyond the first;
* ``cluster_adj``: multiply a clustered covariance by G / (G - 1); with two-way clustering
  ``cluster_df`` "min" uses the smaller G for every term (fixest's default), "conventional" each
  term's own G.

Inference uses t with G - 1 degrees of freedom (smallest G) for clustered errors, n - K otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import CollinearityError, DataError
from . import kernels, linalg
from .covariance import (
    ABSORBED,
    SmallSample,
    assemble,
    check_cov_type,
    check_small_sample,
    cluster_terms,
    pass_kind,
    ssc,
)
from .demean import DEMEAN_MAX_ITER, DEMEAN_TOL, Demeaner, fixed_effect_count, is_nested
from .design import Design
from .least_squares import OLSFit, build_fit
from .passes import CrossProducts, Residuals, accumulate, check_rank, residual_pass

__all__ = ["AbsorbedFit", "SmallSample", "fit_absorbed", "ssc"]

ABSORBED_TOL = 1e-9
#: rows per block when summing over the demeaned columns (large blocks: the columns are few and dense)
FE_CHUNK_ROWS = 1 << 20


@dataclass(frozen=True)
class AbsorbedFit:
    """An OLS fit on demeaned data plus what the fixed effects took."""

    fit: OLSFit
    fe_names: tuple[str, ...]
    fe_sizes: tuple[int, ...]
    k_fe: int  # absorbed parameters (levels less redundant references)
    df_k: int  # parameters counted by the small-sample correction
    ssc: SmallSample
    iterations: tuple[int, ...]
    converged: bool

    def stats(self) -> dict[str, object]:
        out = self.fit.stats()
        out.update(
            {
                "fixed_effects": {n: s for n, s in zip(self.fe_names, self.fe_sizes)},
                "k_fe": self.k_fe,
                "df_k": self.df_k,
                "r_squared_within": self.fit.r_squared,
                "ssc": self.ssc.to_dict(),
                "demean_iterations": max(self.iterations, default=0),
            }
        )
        for key in ("r_squared", "adj_r_squared", "f_statistic", "f_pvalue", "log_likelihood", "aic", "bic"):
            out.pop(key, None)
        return out


def _total_ss(x: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    """Weighted sum of squares of each column around its mean (before absorbing)."""
    out = np.empty(x.shape[1])
    if kernels.compiled() and x.shape[0]:  # one compiled pass per column, no centred copy
        from . import _jit_passes

        wv = np.empty(0) if w is None else np.ascontiguousarray(w, dtype=np.float64)
        for j in range(x.shape[1]):
            out[j] = _jit_passes.centered_ss(x[:, j], float(np.average(x[:, j], weights=w)), wv, w is not None)
        return out
    buf = np.empty(x.shape[0])  # one centred column at a time, in one reused buffer
    for j in range(x.shape[1]):
        c = np.subtract(x[:, j], np.average(x[:, j], weights=w), out=buf)
        out[j] = float(c @ c) if w is None else float((c * w) @ c)
    return out


def _check_absorbed(total: np.ndarray, left: np.ndarray, names: Sequence[str], fe: Sequence[str]) -> None:
    """Refuse a column whose variation the fixed effects remove entirely (``left`` = its demeaned SS)."""
    for j, name in enumerate(names):
        if total[j] == 0.0 or left[j] <= ABSORBED_TOL * total[j]:
            raise CollinearityError(
                f"{name!r} does not vary within the fixed effects ({', '.join(fe)}): they absorb it entirely, "
                f"so its coefficient is not identified. Remove {name!r} (a unit-level trait is already part "
                "of the unit effect), or drop the fixed effect that absorbs it.",
                dependent=[name],
            )


def _df_k(
    k: int,
    fe_codes: Sequence[np.ndarray],
    sizes: Sequence[int],
    clusters: Sequence[np.ndarray],
    same_name: Sequence[bool],
    rule: str,
) -> int:
    k_fe = fixed_effect_count(sizes)
    if rule == "none" or not sizes:
        return k
    if rule == "full" or not clusters:
        return k + k_fe
    nested = [j for j, codes in enumerate(fe_codes) if same_name[j] or any(is_nested(codes, c) for c in clusters)]
    if not nested:
        return k + k_fe
    return k + k_fe - int(sum(sizes[j] for j in nested)) + len(nested)


def fit_absorbed(
    x: np.ndarray,
    names: Sequence[str],
    y: np.ndarray,
    w: np.ndarray | None,
    fe_codes: Sequence[np.ndarray],
    fe_names: Sequence[str],
    *,
    cov_type: str = "nonrobust",
    clusters: Sequence[np.ndarray] = (),
    cluster_names: Sequence[str] = (),
    small_sample: SmallSample | None = None,
    tol: float = DEMEAN_TOL,
    max_iter: int = DEMEAN_MAX_ITER,
    protect: Sequence[str] = (),
    fe_counts: Sequence[np.ndarray | None] | None = None,
    overwrite_x: bool = False,
) -> AbsorbedFit:
    """Regress ``y`` on ``x`` with the fixed effects ``fe_codes`` absorbed (``fe_counts``: the rows of each
    code of each factor when the caller has them, so they are not counted again; ``overwrite_x``: ``x`` is
    the caller's to discard, so its columns may be demeaned in place)."""
    cov_type = check_cov_type(cov_type, method="a fixed-effects model", allowed=ABSORBED)
    small = check_small_sample(small_sample)
    n, k = x.shape
    demeaner = Demeaner(fe_codes, w, tol=tol, max_iter=max_iter, counts=fe_counts)
    total = _total_ss(x, w) if fe_codes else None
    yd, y_its, y_ok, xd, info = demeaner.demean_with(y, x, overwrite=overwrite_x)  # the columns shared by threads
    del x  # the caller may drop its copy; only the demeaned columns are needed from here
    sizes = tuple(demeaner.sizes)
    k_fe = fixed_effect_count(sizes)
    same = [name in cluster_names for name in fe_names]
    df_k = _df_k(k, demeaner.codes, sizes, clusters if cov_type == "cluster" else (), same, small.fixef_k)
    if n - max(df_k, k + k_fe) <= 0:
        raise DataError(
            f"{n} observations but {k} slope(s) and {k_fe} absorbed fixed-effect parameters: no residual "
            "degrees of freedom are left. Use fewer fixed effects or more data."
        )
    design = Design.from_matrix(xd, names)
    if kernels.compiled() and xd.ndim == 2 and xd.flags.f_contiguous and n:
        cp = _accumulate_compiled(xd, yd, w, names)  # the same blocks, no scratch copy of each
    else:
        cp = accumulate(design, yd, w, FE_CHUNK_ROWS)
    if total is not None:
        _check_absorbed(total, np.diag(cp.xtx), names, fe_names)
    check_rank(cp, protect)
    beta, bread = linalg.solve_spd(cp.xtx, cp.xty)
    cov, ssr, df_inf, n_clusters = _covariance(design, xd, yd, w, beta, bread, cov_type, clusters, n, df_k, small)
    fit = build_fit(
        names,
        beta,
        cov,
        n=n,
        ssr=ssr,
        tss=cp.yty,  # demeaned outcome: the within total sum of squares
        xtx=cp.xtx,
        xtx_inv=bread,
        cov_type=cov_type,
        df_inference=df_inf,
        n_clusters=n_clusters,
        k_absorbed=k_fe,
    )
    return AbsorbedFit(
        fit=fit,
        fe_names=tuple(fe_names),
        fe_sizes=sizes,
        k_fe=k_fe,
        df_k=df_k,
        ssc=small,
        iterations=(y_its, *info.iterations),
        converged=bool(y_ok and info.converged),
    )


def _accumulate_compiled(x: np.ndarray, y: np.ndarray, w: np.ndarray | None, names: Sequence[str]) -> CrossProducts:
    """``passes.accumulate`` over the demeaned columns ``x`` (column-major) and outcome ``y``: the same blocks of
    ``FE_CHUNK_ROWS`` rows, each block's means and centered cross-products from a compiled pass over the
    columns where they are, merged in order."""
    from . import _jit_passes

    n, k = x.shape
    yv = np.ascontiguousarray(y, dtype=np.float64)
    wv = np.empty(0) if w is None else np.ascontiguousarray(w, dtype=np.float64)
    total = CrossProducts.empty(names)
    for lo in range(0, n, FE_CHUNK_ROWS):
        hi = min(n, lo + FE_CHUNK_ROWS)
        mean = np.zeros(k + 1)
        g = np.zeros((k + 1, k + 1))
        sum_w = float(_jit_passes.centered_block(x.T, yv, wv, w is not None, lo, hi, mean, g))
        if sum_w == 0:
            part = CrossProducts(list(names), hi - lo, *CrossProducts.empty(names)._stats())
        else:
            part = CrossProducts(list(names), hi - lo, sum_w, mean[:-1], float(mean[-1]), g[:-1, :-1], g[:-1, -1],
                                 float(g[-1, -1]))  # fmt: skip
        total = total + part
    return total


def _covariance(
    design: Design,
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None,
    beta: np.ndarray,
    bread: np.ndarray,
    cov_type: str,
    clusters: Sequence[np.ndarray],
    n: int,
    df_k: int,
    small: SmallSample,
) -> tuple[np.ndarray, float, float, tuple[int, ...]]:
    codes, sizes = cluster_terms(cov_type, clusters)
    if codes and kernels.compiled() and x.ndim == 2 and x.shape[0]:
        res = _cluster_pass(x, y, w, beta, codes)  # one compiled pass, no temporaries of the rows' length
    else:
        res = residual_pass(design, y, w, beta, bread, pass_kind(cov_type), codes, FE_CHUNK_ROWS)
    cov, df_inf = assemble(
        cov_type,
        bread,
        n=n,
        df_k=df_k,
        ssr=res.ssr,
        meat=res.meat,
        cluster_scores=res.cluster_scores,
        cluster_sizes=sizes,
        rules=small,
    )
    return cov, res.ssr, df_inf, sizes


def _cluster_pass(
    x: np.ndarray, y: np.ndarray, w: np.ndarray | None, beta: np.ndarray, codes: Sequence[np.ndarray]
) -> Residuals:
    """``residual_pass``'s sums for clustered errors (the SSR and each clustering's score sums) in one
    compiled pass over the demeaned columns ``x`` and outcome ``y``."""
    from . import _jit_passes

    k = x.shape[1]
    cl = tuple(np.ascontiguousarray(c, dtype=np.intp) for c in codes)
    scores = tuple(np.zeros((int(c.max()) + 1, k)) for c in cl)
    wv = np.ascontiguousarray(w, dtype=np.float64) if w is not None else np.empty(0)
    ssr = _jit_passes.cluster_scores(
        x, np.ascontiguousarray(y, dtype=np.float64), wv, w is not None, np.ascontiguousarray(beta, dtype=np.float64),
        cl, scores,
    )  # fmt: skip
    return Residuals(ssr=float(ssr), cluster_scores=list(scores))
