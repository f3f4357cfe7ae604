"""The arrays the weak-instrument diagnostics share, and the coefficient covariance of a regression on them.

Every diagnostic of :mod:`.weak_iv`, :mod:`.weak_iv_inference` works on the outcome ``y`` (n,), the
endogenous regressors ``X`` (n, p) and the excluded instruments ``Z`` (n, q) AFTER the exogenous covariates
(the constant among them) and any absorbed fixed effects have been partialled out (Frisch-Waugh-Lovell:
the coefficients on Z of a regression on [W, Z] are those of the partialled regression). ``k_exog`` counts
the parameters that partialling used up (covariates, the constant, counted fixed effects), so that the
small-sample factors are those of the full regression: a regression of one column on Z has
``k = k_exog + q`` parameters.

Weights: every array is multiplied by the square root of the weights (linearmodels' and Stata's analytic
weights), after which everything is unweighted. Clusters: one or two integer-coded clusterings.

The covariance of a regression on the partialled columns uses the core's covariance module
(:func:`deconfound._core.covariance.assemble` with the OLS rules), so the factors are those of every other
method: nonrobust SSR/(n - k), HC1 n/(n - k), cluster G/(G - 1) (n - 1)/(n - k). HC2/HC3 need each row's
leverage in the full regression: ``exog_leverage`` (the diagonal of the hat matrix of the exogenous
covariates, weighted) is added to the leverage of the partialled instruments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .._core.covariance import OLS_RULES, assemble, check_cov_type, cluster_terms, pass_kind
from ..errors import CollinearityError, DataError, SpecificationError

ArrayLike = np.ndarray | Sequence[float]


@dataclass(frozen=True)
class IVArrays:
    """Validated, weighted arrays of a partialled IV problem."""

    y: np.ndarray  # (n,)
    X: np.ndarray  # (n, p)
    Z: np.ndarray  # (n, q)
    k_exog: int
    cov_type: str
    clusters: tuple[np.ndarray, ...]
    exog_leverage: np.ndarray | None
    endog_names: tuple[str, ...]
    instrument_names: tuple[str, ...]

    @property
    def n(self) -> int:
        return int(self.Z.shape[0])

    @property
    def p(self) -> int:
        return int(self.X.shape[1])

    @property
    def q(self) -> int:
        return int(self.Z.shape[1])

    @property
    def df_resid(self) -> int:
        """n - q - k_exog: the residual degrees of freedom of a first-stage regression."""
        return self.n - self.q - self.k_exog


def _matrix(value: ArrayLike, name: str, n: int | None) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] == 0:
        raise DataError(f"{name} must be a 1-D or 2-D numeric array with at least one column, got shape {arr.shape}.")
    if n is not None and arr.shape[0] != n:
        raise DataError(f"{name} has {arr.shape[0]} rows but y has {n}; pass arrays of the same rows.")
    if not np.all(np.isfinite(arr)):
        raise DataError(f"{name} holds NaN or infinite values; drop or impute those rows first.")
    return arr


def _codes(value: object, n: int, compact: bool = False) -> tuple[np.ndarray, ...]:
    if value is None:
        return ()
    if compact:  # already integer codes 0..G-1 (the data layer's)
        return tuple(np.asarray(c, dtype=np.int64) for c in value)  # type: ignore[attr-defined]
    arrays = [value] if isinstance(value, np.ndarray) and value.ndim == 1 else list(value)  # type: ignore[call-overload]
    if isinstance(value, np.ndarray) and value.ndim == 2:
        arrays = [value[:, j] for j in range(value.shape[1])]
    if not 1 <= len(arrays) <= 2:
        raise SpecificationError("clusters= takes one or two arrays of cluster labels (two-way clustering).")
    out = []
    for a in arrays:
        a = np.asarray(a)
        if a.shape != (n,):
            raise DataError(f"clusters= must hold one label per row ({n}), got shape {a.shape}.")
        out.append(np.unique(a, return_inverse=True)[1].astype(np.int64).ravel())
    return tuple(out)


def _names(names: Sequence[str] | None, count: int, stem: str) -> tuple[str, ...]:
    if names is None:
        return tuple(f"{stem}{j}" for j in range(count)) if count > 1 else (stem,)
    names = tuple(str(s) for s in names)
    if len(names) != count:
        raise SpecificationError(f"{len(names)} names were given for {count} {stem} columns; give one name per column.")
    return names


def prepare(
    y: ArrayLike,
    X: ArrayLike,
    Z: ArrayLike,
    *,
    weights: ArrayLike | None = None,
    clusters: object = None,
    cov_type: str = "nonrobust",
    k_exog: int,
    exog_leverage: ArrayLike | None = None,
    endog_names: Sequence[str] | None = None,
    instrument_names: Sequence[str] | None = None,
    method: str = "the weak-instrument diagnostics",
    checked: bool = False,
) -> IVArrays:
    """Validate the partialled arrays, apply the weights and check the instruments' rank.

    ``checked=True`` (an estimator that validated its data and instruments already, with compact integer
    cluster codes) skips the value and rank checks, which cost as much as the diagnostics on large data."""
    if checked:
        return _trusted(y, X, Z, weights, clusters, cov_type, int(k_exog), exog_leverage, endog_names, instrument_names)
    yv = _matrix(y, "y", None)
    if yv.shape[1] != 1:
        raise DataError(f"y must be one column, got {yv.shape[1]}.")
    n = yv.shape[0]
    Xm, Zm = _matrix(X, "X (the endogenous regressors)", n), _matrix(Z, "Z (the excluded instruments)", n)
    xn = _names(endog_names, Xm.shape[1], "endogenous")
    zn = _names(instrument_names, Zm.shape[1], "instrument")
    if Zm.shape[1] < Xm.shape[1]:
        raise SpecificationError(
            f"{Zm.shape[1]} excluded instrument(s) ({', '.join(zn)}) for {Xm.shape[1]} endogenous regressors "
            f"({', '.join(xn)}): the model is underidentified; give at least one instrument per endogenous regressor."
        )
    if not isinstance(k_exog, (int, np.integer)) or k_exog < 0:
        raise SpecificationError(
            f"k_exog must be a non-negative integer (the parameters partialled out), got {k_exog!r}."
        )
    kind = check_cov_type(cov_type, method=method)
    codes = _codes(clusters, n)
    if kind == "cluster" and not codes:
        raise SpecificationError(
            "cov_type='cluster' needs clusters= (one or two arrays of cluster labels, one per row)."
        )
    if codes and kind != "cluster":
        raise SpecificationError(f"clusters= was given but cov_type={cov_type!r}; use cov_type='cluster'.")
    cluster_terms(kind, codes)  # at least two clusters
    if weights is not None:
        w = np.asarray(weights, dtype=float).ravel()
        if w.shape != (n,) or not np.all(np.isfinite(w)) or np.any(w < 0):
            raise DataError("weights must be one finite, non-negative number per row.")
        root = np.sqrt(w)
        yv, Xm, Zm = yv * root[:, None], Xm * root[:, None], Zm * root[:, None]
    lev = None
    if kind in ("HC2", "HC3"):
        if exog_leverage is None and k_exog > 0:
            raise SpecificationError(
                f"cov_type={cov_type!r} needs each row's leverage in the full regression: pass exog_leverage= (the "
                "diagonal of the hat matrix of the exogenous covariates), or use HC1 or HC0."
            )
        lev = np.zeros(n) if exog_leverage is None else np.asarray(exog_leverage, dtype=float).ravel()
    _check_rank(Zm, zn, "instrument", "once the exogenous covariates are partialled out")
    _check_rank(Xm, xn, "endogenous regressor", "once the exogenous covariates are partialled out")
    if n - Zm.shape[1] - int(k_exog) <= 0:
        raise DataError(
            f"{n} rows leave no residual degrees of freedom for {Zm.shape[1]} instruments and {k_exog} covariates."
        )
    return IVArrays(yv[:, 0], Xm, Zm, int(k_exog), kind, codes, lev, xn, zn)


def _trusted(
    y: ArrayLike, X: ArrayLike, Z: ArrayLike, weights: ArrayLike | None, clusters: object, cov_type: str, k_exog: int,
    exog_leverage: ArrayLike | None, endog_names: Sequence[str] | None, instrument_names: Sequence[str] | None,
) -> IVArrays:  # fmt: skip
    yv, Xm, Zm = (np.asarray(a, dtype=float) for a in (y, X, Z))
    Xm = Xm[:, None] if Xm.ndim == 1 else Xm
    Zm = Zm[:, None] if Zm.ndim == 1 else Zm
    if weights is not None:
        root = np.sqrt(np.asarray(weights, dtype=float))
        yv, Xm, Zm = yv * root, Xm * root[:, None], Zm * root[:, None]
    kind = check_cov_type(cov_type, method="iv")
    codes = _codes(clusters, len(yv), compact=True) if kind == "cluster" else ()
    lev = None if exog_leverage is None else np.asarray(exog_leverage, dtype=float)
    if kind in ("HC2", "HC3") and lev is None:
        lev = np.zeros(len(yv))
    xn, zn = _names(endog_names, Xm.shape[1], "endogenous"), _names(instrument_names, Zm.shape[1], "instrument")
    return IVArrays(yv, Xm, Zm, k_exog, kind, codes, lev, xn, zn)


def _check_rank(M: np.ndarray, names: Sequence[str], what: str, when: str) -> None:
    scale = np.sqrt(np.einsum("ij,ij->j", M, M))
    if np.any(scale <= 1e-12 * max(1.0, float(np.sqrt(M.shape[0])))):
        bad = [names[int(j)] for j in np.flatnonzero(scale <= 1e-12 * max(1.0, float(np.sqrt(M.shape[0]))))]
        raise CollinearityError(
            f"The {what}(s) {', '.join(map(repr, bad))} carry no variation {when} (constant, or a combination of the "
            "covariates); drop them or choose another.",
            bad,
        )
    s = np.linalg.svd(M / scale, compute_uv=False)
    if s[-1] <= 1e-7 * s[0]:
        raise CollinearityError(
            f"The {what}s {', '.join(map(repr, names))} are collinear {when}; drop one of them.", names
        )


# --------------------------------------------------------------------------------------------------
# regressions on the partialled instruments
# --------------------------------------------------------------------------------------------------


def leverage(st: IVArrays, M: np.ndarray, bread: np.ndarray) -> np.ndarray:
    """Each row's leverage in the full regression on [covariates, M]."""
    own = np.einsum("ij,ij->i", M @ bread, M)
    return own if st.exog_leverage is None else own + st.exog_leverage


def coef_cov(st: IVArrays, M: np.ndarray, resid: np.ndarray, bread: np.ndarray) -> tuple[np.ndarray, float]:
    """(covariance, df) of the coefficients of a regression on the partialled columns ``M`` with residuals
    ``resid`` and ``bread`` = (M'M)^-1, of ``st.cov_type``; k = k_exog + columns of M."""
    n, m = M.shape
    kind = pass_kind(st.cov_type)
    ssr = float(resid @ resid)
    df_k = st.k_exog + m
    if kind == "nonrobust":
        return assemble("nonrobust", bread, n=n, df_k=df_k, ssr=ssr, rules=OLS_RULES)
    if kind in ("HC0", "HC2", "HC3"):
        e2 = resid**2
        if kind != "HC0":
            h = np.clip(leverage(st, M, bread), 0.0, 1.0 - 1e-12)
            e2 = e2 / ((1.0 - h) if kind == "HC2" else (1.0 - h) ** 2)
        meat = (M * e2[:, None]).T @ M
        return assemble(st.cov_type, bread, n=n, df_k=df_k, ssr=ssr, meat=meat, rules=OLS_RULES)
    codes, sizes = cluster_terms("cluster", st.clusters)
    scores = [group_sums(M * resid[:, None], c) for c in codes]
    return assemble(
        "cluster", bread, n=n, df_k=df_k, ssr=ssr, cluster_scores=scores, cluster_sizes=sizes, rules=OLS_RULES
    )


def group_sums(values: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """(G, m) sums of the rows of ``values`` within each code."""
    g = int(codes.max()) + 1
    return np.column_stack([np.bincount(codes, weights=values[:, j], minlength=g) for j in range(values.shape[1])])


def wald(coef: np.ndarray, cov: np.ndarray) -> float:
    """coef' cov^-1 coef (a pseudo-inverse when cov is singular)."""
    try:
        return float(coef @ np.linalg.solve(cov, coef))
    except np.linalg.LinAlgError:
        return float(coef @ np.linalg.pinv(cov) @ coef)


@dataclass(frozen=True)
class Regression:
    """A column regressed on the partialled instruments: coefficients, residuals, covariance and its df."""

    coef: np.ndarray
    resid: np.ndarray
    cov: np.ndarray
    df: float


@dataclass(frozen=True)
class Projection:
    """The instruments' cross-products, computed once: Z'Z, its inverse, P_Z of a column on demand, and the
    regressions on Z already run (the first stages serve the F statistics, Kleibergen-Paap, the effective F
    and the Anderson-Rubin set alike)."""

    Z: np.ndarray
    zz: np.ndarray
    zz_inv: np.ndarray
    done: dict[object, Regression] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, Z: np.ndarray) -> Projection:
        zz = Z.T @ Z
        return cls(Z, zz, np.linalg.inv(zz))

    def regress(self, st: IVArrays, key: object, v: np.ndarray) -> Regression:
        """The regression of ``v`` on Z with ``st``'s covariance, computed once per ``key``."""
        if key not in self.done:
            coef = self.coef(v)
            resid = v - self.Z @ coef
            cov, df = coef_cov(st, self.Z, resid, self.zz_inv)
            self.done[key] = Regression(coef, resid, cov, df)
        return self.done[key]

    def coef(self, v: np.ndarray) -> np.ndarray:
        return self.zz_inv @ (self.Z.T @ v)

    def fitted(self, v: np.ndarray) -> np.ndarray:
        return self.Z @ self.coef(v)
