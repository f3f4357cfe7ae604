"""Least squares with absorbed fixed effects and fixest-style small-sample corrections.

The fixed effects are projected out of the outcome and the regressors (``demean``); the slopes then
come from the ordinary sufficient-statistics core (``accumulate``, ``check_rank``, ``solve_spd``,
``residual_pass``) run on the demeaned columns. Only the degrees of freedom differ from OLS, and they
follow fixest / pyfixest (``ssc``):

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

from ..errors import CollinearityError, DataError, SpecificationError
from . import linalg
from .demean import DEMEAN_MAX_ITER, DEMEAN_TOL, Demeaner, fixed_effect_count, is_nested
from .design import Design
from .least_squares import OLSFit
from .options import check_option
from .passes import accumulate, check_rank, intersect_codes, residual_pass, sandwich

FE_COV_TYPES = ("nonrobust", "HC1", "cluster")
_COV_ALIASES = {"iid": "nonrobust", "hetero": "HC1", "CR1": "cluster", "CRV1": "cluster"}
ABSORBED_TOL = 1e-9
#: rows per block when summing over the demeaned columns (large blocks: the columns are few and dense)
FE_CHUNK_ROWS = 1 << 20


@dataclass(frozen=True)
class SmallSample:
    """Small-sample corrections of a fixed-effects covariance (see :func:`ssc`)."""

    adj: bool = True
    fixef_k: str = "nested"
    cluster_adj: bool = True
    cluster_df: str = "min"

    def to_dict(self) -> dict[str, object]:
        return {
            "adj": self.adj,
            "fixef_k": self.fixef_k,
            "cluster_adj": self.cluster_adj,
            "cluster_df": self.cluster_df,
        }


def ssc(*, adj: bool = True, fixef_k: str = "nested", cluster_adj: bool = True, cluster_df: str = "min") -> SmallSample:
    """Small-sample corrections for fixed-effects regressions, named and defaulted as in fixest.

    ``adj``: (n-1)/(n-K) factor. ``fixef_k``: which absorbed parameters K counts, "nested" (skip
    fixed effects nested in a cluster), "full" or "none". ``cluster_adj``: G/(G-1) factor.
    ``cluster_df``: "min" (one G, the smallest, for two-way clustering) or "conventional".
    pyfixest's ``ssc(k_adj, k_fixef="nonnested", G_adj, G_df)`` is the same with other names.
    """
    for name, value in (("adj", adj), ("cluster_adj", cluster_adj)):
        if not isinstance(value, (bool, np.bool_)):
            raise SpecificationError(f"ssc({name}=...) must be True or False, got {value!r}.")
    return SmallSample(
        adj=bool(adj),
        fixef_k=check_option("fixef_k", fixef_k, ("nested", "full", "none")),
        cluster_adj=bool(cluster_adj),
        cluster_df=check_option("cluster_df", cluster_df, ("min", "conventional")),
    )


def check_fe_cov_type(cov_type: str | None, has_cluster: bool) -> str:
    """Normalise a covariance name for fixed-effects models (cluster when clusters are given)."""
    if cov_type is None:
        return "cluster" if has_cluster else "nonrobust"
    value = _COV_ALIASES.get(cov_type, cov_type) if isinstance(cov_type, str) else cov_type
    chosen = check_option("cov_type", value, FE_COV_TYPES)
    if chosen == "cluster" and not has_cluster:
        raise SpecificationError("cov_type='cluster' needs cluster= (one or two column names).")
    if has_cluster and chosen != "cluster":
        raise SpecificationError(f"cluster= was given but cov_type={cov_type!r}; use cov_type='cluster'.")
    return chosen


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
    for j in range(x.shape[1]):
        c = x[:, j] - np.average(x[:, j], weights=w)
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
) -> AbsorbedFit:
    """Regress ``y`` on ``x`` with the fixed effects ``fe_codes`` absorbed."""
    small = small_sample or SmallSample()
    n, k = x.shape
    demeaner = Demeaner(fe_codes, w, tol=tol, max_iter=max_iter)
    yd, y_its, y_ok = demeaner.demean(y)
    total = _total_ss(x, w) if fe_codes else None
    xd, info = demeaner.demean_columns(x)
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
    cp = accumulate(design, yd, w, FE_CHUNK_ROWS)
    if total is not None:
        _check_absorbed(total, np.diag(cp.xtx), names, fe_names)
    check_rank(cp, protect)
    beta, bread = linalg.solve_spd(cp.xtx, cp.xty)
    cov, ssr, df_inf, n_clusters = _covariance(design, yd, w, beta, bread, cov_type, clusters, n, df_k, small)
    tss = cp.yty  # demeaned outcome: the within total sum of squares
    r2 = 1.0 - ssr / tss if tss > 0 else float("nan")
    df_resid = float(n - k - k_fe)
    fit = OLSFit(
        names=list(names),
        coef=beta,
        cov=cov,
        df_inference=df_inf,
        cov_type=cov_type,
        n=n,
        k=k,
        df_resid=df_resid,
        ssr=ssr,
        tss=float(tss),
        r_squared=float(r2),
        adj_r_squared=float(1.0 - (n - k_fe) / df_resid * (1.0 - r2)) if tss > 0 else float("nan"),
        f_statistic=float("nan"),
        f_pvalue=float("nan"),
        cond_no=linalg.condition_number(cp.xtx),
        llf=float("nan"),
        aic=float("nan"),
        bic=float("nan"),
        has_const=False,
        n_clusters=n_clusters,
        xtx=cp.xtx,
        xtx_inv=bread,
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


def _covariance(
    design: Design,
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
    if cov_type == "nonrobust":
        res = residual_pass(design, y, w, beta, bread, "nonrobust", (), FE_CHUNK_ROWS)
        denom = (n - df_k) if small.adj else (n - 1)
        return bread * (res.ssr / denom), res.ssr, float(n - df_k), ()
    if cov_type == "HC1":
        res = residual_pass(design, y, w, beta, bread, "HC0", (), FE_CHUNK_ROWS)
        assert res.meat is not None
        factor = n / (n - df_k) if small.adj else 1.0
        return sandwich(bread, res.meat) * factor, res.ssr, float(n - df_k), ()
    if not 1 <= len(clusters) <= 2:
        raise SpecificationError("cov_type='cluster' needs one or two cluster columns (cluster=...).")
    codes = list(clusters)
    if len(codes) == 2:
        codes.append(intersect_codes(codes[0], codes[1]))
    res = residual_pass(design, y, w, beta, bread, "cluster", codes, FE_CHUNK_ROWS)
    sizes = tuple(int(c.max()) + 1 for c in clusters)
    if min(sizes) < 2:
        raise DataError("Cluster-robust standard errors need at least two clusters; the data has one.")
    groups = [int(s.shape[0]) for s in res.cluster_scores]
    adj = (n - 1) / (n - df_k) if small.adj else 1.0
    signs = (1.0, 1.0, -1.0)
    cov = np.zeros_like(bread)
    for i, scores in enumerate(res.cluster_scores):
        g = min(sizes) if small.cluster_df == "min" else groups[i]
        factor = adj * (g / (g - 1.0) if small.cluster_adj else 1.0)
        cov += signs[i] * factor * sandwich(bread, scores.T @ scores)
    return cov, res.ssr, float(min(sizes) - 1), sizes
