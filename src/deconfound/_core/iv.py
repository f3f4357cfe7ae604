"""Instrumental variables on cross-products: the k-class family (2SLS, LIML, Fuller) and two-step GMM.

Columns are one design ``[endog..., exog..., instruments...]`` (exog may hold the constant) and the
outcome ``y``. One pass (:func:`iv_products`, the core's ``accumulate`` over a row source) gives the
weighted cross-products of all of them; every estimator of the family is a function of that matrix:

* with X = [endog, exog] the regressors and Q = [exog, instruments] the instruments, Pi = (Q'Q)^-1 Q'X,
  X'P X = Q'X' Pi and the k-class estimator b(k) = [(1-k) X'X + k X'PX]^-1 [(1-k) X'y + k X'Py]:
  2SLS is k = 1, OLS k = 0, LIML k = the smallest root of det(Y'M_W Y - k Y'M_Q Y) = 0 with
  Y = [y, endog] (W the exog columns), Fuller(a) k = k_LIML - a / (n - L) (L columns of Q);
* two-step efficient GMM b = (X'Q S^-1 Q'X)^-1 X'Q S^-1 Q'y with S the covariance of the moments
  (robust or clustered) from the 2SLS residuals.

A second pass (:func:`residual_pass`, a kernel per partition merged with ``+``) collects, for one or
more *specs* at once (a coefficient vector over the design's columns and a matrix of score columns),
the residual sum of squares, the heteroskedasticity meat and per-cluster score sums of the scores. The
k-class covariance uses the instruments as scores and maps them with Pi (x-hat = Q Pi), so the same pass
serves the covariance, the reduced form and the control-function regression of an estimate.

When the exog columns hold a constant the problem is solved in centered coordinates (every other
column and y centered, as in :mod:`.passes`), which the k-class and GMM estimators are equivariant to,
and mapped back. Covariances come from :func:`.covariance.assemble`; ``small_sample=False`` gives the
large-sample forms (SSR/n, no n/(n-k) or G/(G-1) factors; linearmodels' ``debiased=False``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import linalg as sla

from ..errors import CollinearityError, DataError, SpecificationError
from . import linalg, rows
from .covariance import OLS_RULES, SmallSample, assemble, cluster_terms
from .design import Design
from .passes import CHUNK_ROWS, Coordinates, CrossProducts, _gram, accumulate, check_rank

__all__ = [
    "ESTIMATORS",
    "IVFit",
    "IVLayout",
    "IVProducts",
    "IVSpec",
    "fit_iv",
    "iv_products",
    "residual_pass",
]

ESTIMATORS = ("2sls", "liml", "fuller", "gmm")


@dataclass(frozen=True)
class IVLayout:
    """Where each role sits among the design's columns."""

    endog: tuple[int, ...]
    exog: tuple[int, ...]
    instruments: tuple[int, ...]

    @property
    def x(self) -> list[int]:
        """The regressors: endogenous, then exogenous."""
        return [*self.endog, *self.exog]

    @property
    def q(self) -> list[int]:
        """The instruments in the wide sense: exogenous, then excluded."""
        return [*self.exog, *self.instruments]


@dataclass(frozen=True)
class IVProducts:
    """The cross-products of [design | y] in solving coordinates, and how to map back."""

    names: list[str]
    layout: IVLayout
    n: int
    sum_w: float
    gram: np.ndarray  # (p + 1) x (p + 1): the design's columns, then y (last)
    coords: Coordinates
    mean_y: float  # y was centered by this when the design has a constant
    products: CrossProducts

    def block(self, a: Sequence[int], b: Sequence[int]) -> np.ndarray:
        return self.gram[np.ix_(list(a), list(b))]

    @property
    def y(self) -> int:
        return len(self.names)


def iv_products(
    design: Design, y: np.ndarray, w: np.ndarray | None, layout: IVLayout, chunk_rows: int = CHUNK_ROWS
) -> IVProducts:
    """One pass over the rows: the weighted cross-products every estimator of the family needs."""
    cp = accumulate(design, y, w, chunk_rows)
    coords = Coordinates.from_products(cp)
    p = design.k
    gram = np.empty((p + 1, p + 1))
    ztz, _ = coords.system(cp)
    gram[:p, :p] = ztz
    if coords.const is None:
        gram[:p, p] = gram[p, :p] = cp.xty
        gram[p, p] = cp.yty
        mean_y = 0.0
    else:
        zty = cp.cxy.copy()
        zty[coords.const] = 0.0  # y centered: orthogonal to the constant
        gram[:p, p] = gram[p, :p] = zty
        gram[p, p] = cp.cyy
        mean_y = float(cp.mean_y)
    return IVProducts(list(design.names), layout, int(cp.n), float(cp.sum_w), gram, coords, mean_y, cp)


def subset_products(cp: CrossProducts, idx: Sequence[int]) -> CrossProducts:
    """The cross-products of some of the columns (for rank checks of a block)."""
    ix = list(idx)
    return CrossProducts(
        [cp.names[i] for i in ix], cp.n, cp.sum_w, cp.mean[ix], cp.mean_y, cp.cxx[np.ix_(ix, ix)], cp.cxy[ix], cp.cyy
    )


def check_instruments(prod: IVProducts) -> None:
    """Refuse a constant instrument, instruments collinear with the exog columns, and a rank-deficient X."""
    lay, names, cp = prod.layout, prod.names, prod.products
    consts = set(cp.constant_columns())
    for j in lay.instruments:
        if j in consts or cp.cxx[j, j] <= 0:
            raise DataError(
                f"The instrument {names[j]!r} takes one value in every row, so it cannot move the treatment: "
                f"remove {names[j]!r} from instruments= (an instrument must vary)."
            )
    try:
        check_rank(subset_products(cp, lay.q), protect=[names[i] for i in lay.exog])
    except CollinearityError as exc:
        bad = [d for d in exc.dependent if d in {names[i] for i in lay.instruments}] or list(exc.dependent)
        raise CollinearityError(
            f"The instrument(s) {bad} are collinear with the covariates or with each other ({exc}); an instrument "
            "must carry variation that the covariates (and the other instruments) do not. Remove "
            + ", ".join(repr(b) for b in bad)
            + " from instruments= or the collinear covariate from covariates=.",
            dependent=bad,
        ) from None
    check_rank(subset_products(cp, lay.x), protect=[names[i] for i in lay.endog])


# --------------------------------------------------------------------------------------------------
# estimators (no data needed)
# --------------------------------------------------------------------------------------------------


def _inv(a: np.ndarray) -> np.ndarray:
    return linalg.solve_spd(a, np.zeros(a.shape[0]))[1]


@dataclass(frozen=True)
class System:
    """The blocks of the family, from the cross-products."""

    sxx: np.ndarray
    sxy: np.ndarray
    szz_inv: np.ndarray
    szx: np.ndarray
    szy: np.ndarray
    pi: np.ndarray  # (Q'Q)^-1 Q'X
    xpx: np.ndarray  # X'P X
    xpy: np.ndarray  # X'P y

    @classmethod
    def of(cls, prod: IVProducts) -> System:
        lay, yi = prod.layout, prod.y
        x, q = lay.x, lay.q
        szz_inv = _inv(prod.block(q, q))
        szx = prod.block(q, x)
        szy = prod.gram[q, yi]
        pi = szz_inv @ szx
        xpx = szx.T @ pi
        return cls(prod.block(x, x), prod.gram[x, yi], szz_inv, szx, szy, pi, 0.5 * (xpx + xpx.T), pi.T @ szy)


def liml_kappa(prod: IVProducts) -> float:
    """The smallest root of det(Y'M_W Y - k Y'M_Q Y) = 0, Y = [y, endog] (W: exog, Q: exog + instruments)."""
    lay, yi = prod.layout, prod.y
    yy = [yi, *lay.endog]

    def annihilated(by: list[int]) -> np.ndarray:
        base = prod.block(yy, yy)
        if not by:
            return base
        cross = prod.block(by, yy)
        return base - cross.T @ _inv(prod.block(by, by)) @ cross

    s_w, s_q = annihilated(list(lay.exog)), annihilated(lay.q)
    s_w, s_q = 0.5 * (s_w + s_w.T), 0.5 * (s_q + s_q.T)
    return float(sla.eigh(s_w, s_q, eigvals_only=True)[0])


def kclass(system: System, kappa: float) -> tuple[np.ndarray, np.ndarray]:
    """(coefficients, the inverse of (1-k) X'X + k X'PX) of the k-class estimator."""
    a = (1.0 - kappa) * system.sxx + kappa * system.xpx
    b = (1.0 - kappa) * system.sxy + kappa * system.xpy
    return linalg.solve_spd(0.5 * (a + a.T), b)


def gmm(system: System, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(coefficients, (X'Q S^-1 Q'X)^-1, S^-1) of GMM with the moment covariance ``s`` (sum over rows)."""
    weight = _inv_general(s)
    xwx = system.szx.T @ weight @ system.szx
    beta, bread = linalg.solve_spd(0.5 * (xwx + xwx.T), system.szx.T @ weight @ system.szy)
    return beta, bread, weight


def _inv_general(s: np.ndarray) -> np.ndarray:
    s = 0.5 * (s + s.T)
    vals = np.linalg.eigvalsh(s)
    if vals[0] <= max(vals[-1], 0.0) * 1e-13:
        raise DataError(
            "The covariance of the moment conditions is singular, so the efficient GMM weight matrix does not exist "
            "(for instance fewer clusters than instruments). Use estimator='2sls', or cluster at a finer level."
        )
    return _inv(s)


# --------------------------------------------------------------------------------------------------
# the residual pass
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IVSpec:
    """One regression evaluated in the residual pass: residuals y - design @ coef (solving coordinates)
    and the score columns design @ scores; ``leverage`` H gives h = s' H s for HC2/HC3."""

    coef: np.ndarray
    scores: np.ndarray | slice  # a slice: adjacent columns of the design, read in place
    leverage: np.ndarray | None = None

    @property
    def m(self) -> int:
        if isinstance(self.scores, slice):
            return int(self.scores.stop - self.scores.start)
        return int(self.scores.shape[1])


@dataclass
class SpecSums:
    """What the residual pass collects for one spec (mergeable with ``+``)."""

    ssr: float
    meat: np.ndarray | None
    cluster_scores: list[np.ndarray] = field(default_factory=list)
    min_one_minus_h: float = 1.0

    def __add__(self, other: SpecSums) -> SpecSums:
        meat = None if self.meat is None or other.meat is None else self.meat + other.meat
        scores = [a + b for a, b in zip(self.cluster_scores, other.cluster_scores, strict=True)]
        return SpecSums(self.ssr + other.ssr, meat, scores, min(self.min_one_minus_h, other.min_one_minus_h))


class _Totals(list):  # type: ignore[type-arg]
    def __add__(self, other: list) -> _Totals:  # type: ignore[override, type-arg]
        return _Totals(a + b for a, b in zip(self, other, strict=True))


def residual_pass(
    design: Design,
    y: np.ndarray,
    w: np.ndarray | None,
    specs: Sequence[IVSpec],
    coords: Coordinates,
    kind: str,
    clusters: Sequence[np.ndarray] = (),
    chunk_rows: int = CHUNK_ROWS,
) -> list[SpecSums]:
    """One pass: for every spec the SSR, the meat of ``kind`` (HC0/HC2/HC3 or none) and cluster score sums."""
    need_meat = kind in ("HC0", "HC2", "HC3")
    power = {"HC2": 1.0, "HC3": 2.0}.get(kind, 0.0)
    n_groups = [int(c.max()) + 1 if len(c) else 0 for c in clusters]
    codes = {f"cluster{g}": c for g, c in enumerate(clusters)}
    buf: np.ndarray | None = None

    def one(blk: np.ndarray, yv: np.ndarray, wc: np.ndarray | None, part: rows.Partition, spec: IVSpec) -> SpecSums:
        e = yv - np.einsum("ij,j->i", blk, spec.coef)
        we = e if wc is None else wc * e
        m = spec.m
        out = SpecSums(float(we @ e), None, [])
        s = blk[:, spec.scores] if isinstance(spec.scores, slice) else blk @ spec.scores
        if need_meat:
            u = np.abs(we)
            if power and spec.leverage is not None:
                h = np.einsum("ij,ij->i", s @ spec.leverage, s)
                if wc is not None:
                    h *= wc
                omh = 1.0 - h
                out.min_one_minus_h = min(1.0, float(omh.min()))
                u = u / np.power(np.maximum(omh, 1e-300), power / 2.0)
            out.meat = _gram(np.asfortranarray(s * u[:, None]))
        for g in range(len(clusters)):
            c = part[f"cluster{g}"]
            sums = np.empty((n_groups[g], m))
            for j in range(m):
                sums[:, j] = np.bincount(c, weights=s[:, j] * we, minlength=n_groups[g])
            out.cluster_scores.append(sums)
        return out

    def kernel(part: rows.Partition) -> _Totals:
        nonlocal buf
        blk = part.block(buf)
        buf = blk
        coords.to_z(blk)
        yv, wc = part["y"], part.get("w")
        return _Totals(one(blk, yv, wc, part, spec) for spec in specs)

    def start(spec: IVSpec) -> SpecSums:
        m = spec.m
        return SpecSums(0.0, np.zeros((m, m)) if need_meat else None, [np.zeros((g, m)) for g in n_groups])

    src = rows.source(design, chunk_rows, extra=codes, y=y, w=w)
    out = list(rows.fold(src, kernel, _Totals(start(s) for s in specs)))
    if power and any(o.min_one_minus_h <= 1e-10 for o in out):
        raise DataError(
            f"{kind} standard errors are undefined: some observation has leverage 1 (it alone determines a "
            "coefficient). Use HC0 or HC1."
        )
    return out


def selector(p: int, idx: Sequence[int]) -> np.ndarray:
    """The p x len(idx) matrix picking the columns ``idx`` of a design with p columns."""
    out = np.zeros((p, len(idx)))
    out[list(idx), np.arange(len(idx))] = 1.0
    return out


def columns(p: int, idx: Sequence[int]) -> np.ndarray | slice:
    """Score columns ``idx``: a slice when they are adjacent (read in place), else a selector matrix."""
    ix = list(idx)
    if ix and ix == list(range(ix[0], ix[0] + len(ix))):
        return slice(ix[0], ix[0] + len(ix))
    return selector(p, ix)


def full_coef(p: int, idx: Sequence[int], beta: np.ndarray, prod: IVProducts) -> np.ndarray:
    """A spec's coefficient vector over all p design columns (y's centering added to the constant)."""
    out = np.zeros(p)
    out[list(idx)] = beta
    if prod.coords.const is not None:
        out[prod.coords.const] += prod.mean_y
    return out


# --------------------------------------------------------------------------------------------------
# the fit
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IVFit:
    """An IV fit: coefficients of [endog, exog] in the user's coordinates and their covariance."""

    names: list[str]
    coef: np.ndarray
    cov: np.ndarray
    df_inference: float | None
    cov_type: str
    estimator: str
    kappa: float
    n: int
    df_k: int
    ssr: float
    n_clusters: tuple[int, ...]
    beta_z: np.ndarray  # solving coordinates, for the other specs
    system: System
    moments: np.ndarray  # Q'e at the estimate (solving coordinates)
    moment_cov: np.ndarray | None  # sum over rows / clusters of the moments' outer products (robust kinds)
    extra: list[SpecSums]  # sums of the extra specs passed to fit_iv
    liml_kappa: float | None = None


def _rules(small_sample: bool, rules: SmallSample) -> SmallSample:
    return rules if small_sample else SmallSample(adj=False, cluster_adj=False, cluster_df=rules.cluster_df)


def _assemble(
    cov_type: str, bread: np.ndarray, sums: SpecSums, to_x: np.ndarray, n: int, df_k: int, sizes: tuple[int, ...],
    small_sample: bool, rules: SmallSample,
) -> tuple[np.ndarray, float | None]:  # fmt: skip
    """Covariance of coefficients whose scores are the spec's score columns mapped by ``to_x``."""
    if cov_type == "nonrobust" and not small_sample:
        return bread * (sums.ssr / n), None
    meat = None if sums.meat is None else to_x.T @ sums.meat @ to_x
    scores = [s @ to_x for s in sums.cluster_scores]
    cov, df = assemble(
        cov_type, bread, n=n, df_k=df_k, ssr=sums.ssr, meat=meat, cluster_scores=scores, cluster_sizes=sizes,
        rules=_rules(small_sample, rules),
    )  # fmt: skip
    return cov, (df if small_sample else None)


def fit_iv(
    design: Design,
    y: np.ndarray,
    w: np.ndarray | None,
    layout: IVLayout,
    *,
    estimator: str = "2sls",
    fuller: float = 1.0,
    cov_type: str = "nonrobust",
    clusters: Sequence[np.ndarray] = (),
    small_sample: bool = True,
    rules: SmallSample = OLS_RULES,
    k_absorbed: int = 0,
    extra_specs: Sequence[IVSpec] | None = None,
    products: IVProducts | None = None,
    chunk_rows: int = CHUNK_ROWS,
    cluster_codes: tuple[list[np.ndarray], tuple[int, ...]] | None = None,
) -> IVFit:
    """Fit one estimator of the family with the covariance ``cov_type`` (canonical name, validated by the
    caller). ``k_absorbed``: parameters absorbed before (fixed effects), counted by the small-sample rules.
    ``extra_specs`` are evaluated in the last residual pass (their sums are on the fit). ``cluster_codes``:
    the codes the residual pass sums over and the numbers of clusters, for rows not in memory (an engine's
    stand-ins, as ``cluster_terms`` would give them for arrays)."""
    if estimator not in ESTIMATORS:
        raise SpecificationError(f"estimator={estimator!r} is not allowed; choose one of {', '.join(ESTIMATORS)}.")
    prod = products if products is not None else iv_products(design, y, w, layout, chunk_rows)
    lay, p = layout, design.k
    n_q, n_x = len(lay.q), len(lay.x)
    if len(lay.instruments) < len(lay.endog):
        raise SpecificationError(
            f"{len(lay.instruments)} instrument(s) for {len(lay.endog)} endogenous regressor(s): the model is not "
            "identified. Give at least as many instruments as endogenous regressors."
        )
    system = System.of(prod)
    kind = {"HC1": "HC0"}.get(cov_type, cov_type)
    codes, sizes = cluster_codes if cluster_codes is not None else cluster_terms(cov_type, clusters)
    n, df_k = prod.n, n_x + k_absorbed
    if n - df_k <= 0:
        raise DataError(f"{n} observations but {df_k} parameters: no residual degrees of freedom are left.")
    kappa, k_liml = 1.0, None
    if estimator in ("liml", "fuller"):
        kappa = k_liml = liml_kappa(prod)
        if estimator == "fuller":
            kappa = k_liml - float(fuller) / (n - n_q - k_absorbed)
    beta, bread = kclass(system, kappa)
    q_scores = columns(p, lay.q)
    moment_cov = None
    extra = list(extra_specs or ())
    if estimator == "gmm":
        if kind not in ("HC0", "cluster"):
            raise SpecificationError(
                f"estimator='gmm' weights the moments by their robust or clustered covariance; cov_type={cov_type!r} "
                "would make it 2SLS. Use cov_type='HC0', 'HC1' or 'cluster', or estimator='2sls'."
            )
        first = residual_pass(design, y, w, [IVSpec(full_coef(p, lay.x, beta, prod), q_scores)], prod.coords, kind,
                              codes, chunk_rows)[0]  # fmt: skip
        moment_cov = _moment_cov(first)
        beta, bread, weight = gmm(system, moment_cov)
        to_x = weight @ system.szx
        leverage = None
    else:
        to_x = system.pi
        leverage = system.pi @ _inv(system.xpx) @ system.pi.T if kind in ("HC2", "HC3") else None
    main = IVSpec(full_coef(p, lay.x, beta, prod), q_scores, leverage)
    sums = residual_pass(design, y, w, [main, *extra], prod.coords, kind, codes, chunk_rows)
    cov_z, df = _assemble(cov_type, bread, sums[0], to_x, n, df_k, sizes, small_sample, rules)
    if moment_cov is None and kind in ("HC0", "cluster"):
        moment_cov = _moment_cov(sums[0])
    lmat = prod.coords.transform[np.ix_(lay.x, lay.x)]
    coef = lmat @ full_coef(p, lay.x, beta, prod)[lay.x]
    cov = lmat @ cov_z @ lmat.T
    return IVFit(
        names=[prod.names[i] for i in lay.x],
        coef=coef,
        cov=0.5 * (cov + cov.T),
        df_inference=df,
        cov_type=cov_type,
        estimator=estimator,
        kappa=float(kappa),
        n=n,
        df_k=df_k,
        ssr=sums[0].ssr,
        n_clusters=sizes,
        beta_z=beta,
        system=system,
        moments=system.szy - system.szx @ beta,
        moment_cov=moment_cov,
        extra=sums[1:],
        liml_kappa=k_liml,
    )


def _moment_cov(sums: SpecSums) -> np.ndarray:
    """Sum over rows (or clusters) of the outer products of the moments Q e."""
    if sums.cluster_scores:
        terms = [s.T @ s for s in sums.cluster_scores]
        return terms[0] if len(terms) == 1 else terms[0] + terms[1] - terms[2]
    assert sums.meat is not None
    return sums.meat


def ols_spec(prod: IVProducts, idx: Sequence[int], cov_type: str) -> tuple[IVSpec, np.ndarray, np.ndarray]:
    """(spec, coefficients in solving coordinates, (R'R)^-1) of the OLS of y on the design columns ``idx``."""
    g = prod.block(idx, idx)
    beta, bread = linalg.solve_spd(g, prod.gram[list(idx), prod.y])
    p = len(prod.names)
    lev = bread if cov_type in ("HC2", "HC3") else None
    return IVSpec(full_coef(p, idx, beta, prod), columns(p, idx), lev), beta, bread


def linear_spec(prod: IVProducts, combo: np.ndarray, cov_type: str) -> tuple[IVSpec, np.ndarray, np.ndarray]:
    """(spec, coefficients, (R'R)^-1) of the OLS of y on regressors R = design @ combo (solving coordinates)."""
    p = len(prod.names)
    g = combo.T @ prod.gram[:p, :p] @ combo
    beta, bread = linalg.solve_spd(0.5 * (g + g.T), combo.T @ prod.gram[:p, prod.y])
    coef = combo @ beta
    if prod.coords.const is not None:
        coef = coef.copy()
        coef[prod.coords.const] += prod.mean_y
    lev = bread if cov_type in ("HC2", "HC3") else None
    return IVSpec(coef, combo, lev), beta, bread


def spec_covariance(
    cov_type: str, bread: np.ndarray, sums: SpecSums, n: int, df_k: int, sizes: tuple[int, ...], small_sample: bool,
    rules: SmallSample = OLS_RULES,
) -> tuple[np.ndarray, float | None]:  # fmt: skip
    """The covariance of an OLS spec (its scores are its regressors)."""
    return _assemble(cov_type, bread, sums, np.eye(bread.shape[0]), n, df_k, sizes, small_sample, rules)
