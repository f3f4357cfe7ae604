"""Fit a (weighted) least-squares regression with every covariance type, from the chunked passes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import DataError
from . import linalg
from .covariance import (
    OLS_RULES,
    assemble,
    check_clusters,
    check_cov_type,
    cluster_terms,
    fix_two_way,
    pass_kind,
)
from .design import Design
from .distributions import f_sf
from .passes import (
    CHUNK_ROWS,
    Coordinates,
    CrossProducts,
    accumulate,
    check_rank,
    gradient_pass,
    residual_pass,
)


@dataclass(frozen=True)
class OLSFit:
    """Everything a regression result needs, in plain arrays and floats."""

    names: list[str]
    coef: np.ndarray
    cov: np.ndarray
    df_inference: float | None
    cov_type: str
    n: int
    k: int
    df_resid: float
    ssr: float
    tss: float
    r_squared: float
    adj_r_squared: float
    f_statistic: float
    f_pvalue: float
    cond_no: float
    llf: float
    aic: float
    bic: float
    has_const: bool
    n_clusters: tuple[int, ...]
    xtx: np.ndarray
    xtx_inv: np.ndarray
    const_index: int | None = None  # the design's constant column, if any
    centered_xtx: np.ndarray | None = None  # sum w (x - mean)(x - mean)' (for collinearity diagnostics)
    warnings: tuple[str, ...] = ()  # what the covariance cannot support (few clusters; see covariance.check_clusters)

    def stats(self) -> dict[str, object]:
        out: dict[str, object] = {
            "cov_type": self.cov_type,
            "r_squared": self.r_squared,
            "adj_r_squared": self.adj_r_squared,
            "f_statistic": self.f_statistic,
            "f_pvalue": self.f_pvalue,
            "cond_no": self.cond_no,
            "log_likelihood": self.llf,
            "aic": self.aic,
            "bic": self.bic,
            "df_resid": self.df_resid,
            "df_model": float(self.k - int(self.has_const)),
            "n": self.n,
        }
        if self.n_clusters:
            out["n_clusters"] = list(self.n_clusters)
        return out


def build_fit(
    names: Sequence[str],
    coef: np.ndarray,
    cov: np.ndarray,
    *,
    n: int,
    ssr: float,
    tss: float,
    xtx: np.ndarray,
    xtx_inv: np.ndarray,
    cov_type: str,
    df_inference: float | None,
    n_clusters: tuple[int, ...],
    has_const: bool = False,
    k_absorbed: int = 0,
    f_test: tuple[float, float] = (float("nan"), float("nan")),
    llf: float = float("nan"),
    const_index: int | None = None,
    centered_xtx: np.ndarray | None = None,
) -> OLSFit:
    """The fit result of every least-squares path (plain, or with ``k_absorbed`` fixed-effect parameters
    projected out, in which case ``tss`` is the within total and R² the within R²)."""
    k = len(names)
    df_resid = float(n - k - k_absorbed)
    warnings: tuple[str, ...] = ()
    if cov_type == "cluster" and len(n_clusters) == 2:
        cov, warnings = fix_two_way(cov, list(names))
    if cov_type == "cluster":
        cov, checked = check_clusters(
            cov, xtx_inv, ssr=ssr, df_resid=df_resid, cluster_sizes=n_clusters, names=list(names)
        )
        warnings += checked
    r2 = 1.0 - ssr / tss if tss > 0 else float("nan")
    adj = 1.0 - (n - int(has_const) - k_absorbed) / df_resid * (1.0 - r2) if tss > 0 else float("nan")
    return OLSFit(
        names=list(names),
        coef=coef,
        cov=cov,
        df_inference=df_inference,
        cov_type=cov_type,
        n=n,
        k=k,
        df_resid=df_resid,
        ssr=ssr,
        tss=float(tss),
        r_squared=float(r2),
        adj_r_squared=float(adj),
        f_statistic=f_test[0],
        f_pvalue=f_test[1],
        cond_no=linalg.condition_number(xtx),
        llf=float(llf),
        aic=float(-2 * llf + 2 * k),
        bic=float(-2 * llf + np.log(n) * k),
        has_const=has_const,
        n_clusters=n_clusters,
        xtx=xtx,
        xtx_inv=xtx_inv,
        const_index=const_index,
        centered_xtx=centered_xtx,
        warnings=warnings,
    )


def _covariance(
    design: Design,
    y: np.ndarray,
    w: np.ndarray | None,
    cp: CrossProducts,
    beta: np.ndarray,
    bread: np.ndarray,
    coords: Coordinates,
    cov_type: str,
    clusters: Sequence[np.ndarray],
    chunk_rows: int,
    cluster_codes: tuple[list[np.ndarray], tuple[int, ...]] | None = None,
) -> tuple[np.ndarray, float, float | None, tuple[int, ...]]:
    """Covariance of the coefficients in the coordinates of ``coords`` (see ``passes.Coordinates``)."""
    codes, sizes = cluster_codes if cluster_codes is not None else cluster_terms(cov_type, clusters)
    res = residual_pass(design, y, w, beta, bread, pass_kind(cov_type), codes, chunk_rows, coords)
    cov, df_inf = assemble(
        cov_type,
        bread,
        n=cp.n,
        df_k=len(beta),
        ssr=res.ssr,
        meat=res.meat,
        cluster_scores=res.cluster_scores,
        cluster_sizes=sizes,
        rules=OLS_RULES,
    )
    return cov, res.ssr, df_inf, sizes


def _implicit_constant(cp: CrossProducts) -> bool:
    """Whether the constant lies in the span of the columns (e.g. a full set of dummies, no intercept)."""
    xtx = cp.xtx
    ones = cp.sum_w * cp.mean  # X'W1
    try:
        b, _ = linalg.solve_spd(xtx, ones)
    except np.linalg.LinAlgError:
        return False
    return bool(cp.sum_w - float(ones @ b) <= 1e-8 * cp.sum_w)


def fit_ols(
    design: Design,
    y: np.ndarray,
    w: np.ndarray | None = None,
    *,
    cov_type: str = "nonrobust",
    clusters: Sequence[np.ndarray] = (),
    chunk_rows: int = CHUNK_ROWS,
    cross_products: CrossProducts | None = None,
    protect: Sequence[str] = (),
    cluster_codes: tuple[list[np.ndarray], tuple[int, ...]] | None = None,
    log_weight_sum: float | None = None,
) -> OLSFit:
    """Least squares of ``y`` on ``design`` with sufficient statistics and a rank check.

    The problem is solved in centered coordinates when the design has a constant column (see
    ``ols.Coordinates``); coefficients and covariances are reported for the design as given.

    Rows that are not in memory (an engine's, :mod:`deconfound.engines.source`) give what the arrays
    would: ``cluster_codes`` the codes the residual pass sums over and the numbers of clusters (as
    ``covariance.cluster_terms`` returns them) and ``log_weight_sum`` the sum of log w (NaN if some w is 0).
    """
    cov_type = check_cov_type(cov_type, method="least squares")
    n, k = design.n, design.k
    if n <= k:
        raise DataError(
            f"{n} usable rows but {k} coefficients to estimate ({', '.join(design.names[:8])}"
            f"{', ...' if k > 8 else ''}); a regression needs more rows than coefficients."
        )
    cp = cross_products if cross_products is not None else accumulate(design, y, w, chunk_rows)
    coords = Coordinates.from_products(cp)
    check_rank(cp, protect, coords)
    ztz, zty = coords.system(cp)
    beta_z, bread_z = linalg.solve_spd(ztz, zty)
    if linalg.condition_number(linalg.equilibrate(ztz)) ** 2 > REFINE_ABOVE:
        beta_z = _refine(design, y, w, beta_z, bread_z, coords, chunk_rows)
    cov_z, ssr, df_inf, sizes = _covariance(
        design, y, w, cp, beta_z, bread_z, coords, cov_type, clusters, chunk_rows, cluster_codes
    )
    lmat = coords.transform
    cov = _sym(lmat @ cov_z @ lmat.T)
    if len(clusters) < 2:  # positive semi-definite in exact arithmetic: a negative variance is rounding
        idx = np.diag_indices_from(cov)
        cov[idx] = np.maximum(cov[idx], 0.0)
    has_const = coords.const is not None or _implicit_constant(cp)
    tss = cp.cyy if has_const else cp.yty
    if has_const and coords.const is None and cov_type != "nonrobust":
        f_test = (float("nan"), float("nan"))  # as statsmodels: no robust F with an implicit constant
    else:
        const_idx = [coords.const] if coords.const is not None else []
        f_test = _f_test(beta_z, cov_z, const_idx, cov_type, ssr, tss, float(n - k), k - int(has_const), df_inf)
    return build_fit(
        design.names,
        lmat @ beta_z,
        cov,
        n=n,
        ssr=ssr,
        tss=tss,
        xtx=cp.xtx,
        xtx_inv=_sym(lmat @ bread_z @ lmat.T),
        cov_type=cov_type,
        df_inference=df_inf,
        n_clusters=sizes,
        has_const=has_const,
        f_test=f_test,
        llf=_log_likelihood(n, ssr, w, log_weight_sum),
        const_index=coords.const,
        centered_xtx=cp.cxx,
    )


def solve_products(cp: CrossProducts, protect: Sequence[str] = ()) -> tuple[np.ndarray, np.ndarray] | None:
    """The coefficients and (X'WX)^-1 of :func:`fit_ols` (in the user's coordinates) from already
    accumulated cross-products, with its rank check; no pass over the rows. None when :func:`fit_ols`
    would make passes for these (too few rows, or normal equations so ill-conditioned that it refines
    the solution from the data): the caller then fits with it."""
    if cp.n <= len(cp.names) or not cp.sum_w > 0:
        return None
    coords = Coordinates.from_products(cp)
    check_rank(cp, protect, coords)
    ztz, zty = coords.system(cp)
    beta_z, bread_z = linalg.solve_spd(ztz, zty)
    if linalg.condition_number(linalg.equilibrate(ztz)) ** 2 > REFINE_ABOVE:
        return None
    lmat = coords.transform
    return lmat @ beta_z, _sym(lmat @ bread_z @ lmat.T)


def _log_likelihood(n: int, ssr: float, w: np.ndarray | None, log_weight_sum: float | None = None) -> float:
    """Gaussian log-likelihood at the fit; WLS adds ½ Σ log w (NaN if some weight is 0)."""
    with np.errstate(divide="ignore"):  # a perfect fit has ssr = 0 and an infinite likelihood
        llf = -n / 2.0 * (np.log(2 * np.pi) + np.log(ssr / n) + 1.0)
    if log_weight_sum is not None:
        llf = llf + 0.5 * log_weight_sum
    elif w is not None:
        llf = llf + 0.5 * float(np.sum(np.log(w))) if np.all(w > 0) else float("nan")
    return float(llf)


#: refine the solution when the (equilibrated) normal equations' condition number exceeds this
REFINE_ABOVE = 1e6
REFINE_STEPS = 2


def _refine(
    design: Design,
    y: np.ndarray,
    w: np.ndarray | None,
    beta_z: np.ndarray,
    bread_z: np.ndarray,
    coords: Coordinates,
    chunk_rows: int,
) -> np.ndarray:
    """Iterative refinement for ill-conditioned designs: b += (Z'WZ)^-1 Z'W(y - Zb), one pass per step.

    Solving the normal equations loses digits in proportion to the squared condition number; each
    step recomputes the gradient from the data and wins most of them back (at one extra pass).
    """
    for _ in range(REFINE_STEPS):
        beta_z = beta_z + bread_z @ gradient_pass(design, y, w, beta_z, coords, chunk_rows)
    return beta_z


def _sym(a: np.ndarray) -> np.ndarray:
    return 0.5 * (a + a.T)


def _f_test(
    beta: np.ndarray,
    cov: np.ndarray,
    const_idx: list[int],
    cov_type: str,
    ssr: float,
    tss: float,
    df_resid: float,
    df_model: int,
    df_inf: float | None,
) -> tuple[float, float]:
    """Overall F test that every non-constant coefficient is zero."""
    if df_model <= 0:
        return float("nan"), float("nan")
    if cov_type == "nonrobust":
        if ssr <= 0:  # a perfect fit
            return (float("inf"), 0.0) if tss > 0 else (float("nan"), float("nan"))
        f = ((tss - ssr) / df_model) / (ssr / df_resid)
        return float(f), f_sf(f, df_model, df_resid)
    keep = [j for j in range(len(beta)) if j not in const_idx]
    b = beta[keep]
    v = cov[np.ix_(keep, keep)]
    if not np.all(np.diag(v) > 0):
        return float("nan"), float("nan")
    d = np.sqrt(np.diag(v))
    vals, vecs = np.linalg.eigh(v / np.outer(d, d))
    if np.abs(vals).min() <= 1e-12 * np.abs(vals).max():
        # e.g. fewer clusters than restrictions: the robust covariance cannot support a joint test
        # (a two-way cluster covariance may also be indefinite; statsmodels inverts it all the same)
        return float("nan"), float("nan")
    z = vecs.T @ (b / d)
    f = float(z @ (z / vals)) / len(keep)
    df_den = df_inf if df_inf is not None else df_resid
    return f, f_sf(f, len(keep), df_den)
