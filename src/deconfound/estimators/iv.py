"""Instrumental variables: 2SLS, LIML, Fuller(a) and two-step efficient GMM, with exogenous covariates,
weights and absorbed fixed effects (the numbers come from ``_core/iv.py``), and the Wald estimator of a
local average treatment effect for a binary instrument and treatment.

Everything an IV estimate and its diagnostics need is built by ONE function, :func:`build_iv_problem`
(validated roles -> rows -> absorbed fixed effects -> one pass of cross-products), which returns an
:class:`IVProblem`; :func:`iv` calls it once. Weak-instrument diagnostics read the same problem
(``IVProblem.partialled()`` gives y, the endogenous regressors and the instruments with the covariates
and fixed effects partialled out).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from .._core.covariance import ABSORBED, EVERY, CovSupport, SmallSample, resolve_cov_type
from .._core.demean import DEMEAN_MAX_ITER, DEMEAN_TOL, Demeaner, compact, drop_singletons, fixed_effect_count
from .._core.design import Design, array_part, constant_part
from .._core.fixed_effects import FE_CHUNK_ROWS, _df_k
from .._core.iv import ESTIMATORS, IVLayout, IVProducts, check_instruments, iv_products
from .._core.options import as_name_list, check_level, check_option
from .._core.pages import entry
from .._core.passes import CHUNK_ROWS
from ..data import Prepared, load_table, name_list, prepare, prepare_engine
from ..engines import is_engine_input
from ..errors import CollinearityError, DataError, SpecificationError
from ..results import Estimate
from ._formula import parse_iv_formula
from ._iv_fit import fit_and_report

__all__ = ["IVProblem", "IVRoles", "build_iv_problem", "iv", "wald_estimator"]

#: 2SLS and LIML offer every covariance type; GMM weights by a robust or clustered covariance
IV_COV = EVERY
GMM_COV = CovSupport(
    ("HC0", "HC1", "cluster"),
    why_not="two-step GMM weights the moments by their robust (HC0/HC1) or clustered covariance; with a "
    "nonrobust weight it is 2SLS, and HC2/HC3 leverages are not defined for it. Use estimator='2sls' for those",
)
#: rows whose demeaned sum of squares is below this share of the raw one are absorbed by the fixed effects
ABSORBED_TOL = 1e-9


class IVRoles(NamedTuple):
    """Column names of each role, as the user gave them (or as the formula named them)."""

    outcome: str
    treatment: str
    endog: list[str]
    instruments: list[str]
    covariates: list[str]
    absorb: list[str]


@dataclass(frozen=True)
class IVProblem:
    """The data of one IV estimate, ready for the numeric core.

    ``design`` holds the columns ``[endog..., exog..., instruments...]`` (exog starts with the constant
    unless fixed effects were absorbed, in which case every column is demeaned and there is no constant);
    ``y`` the outcome (demeaned when absorbed); ``layout`` where each role sits; ``products`` the one
    pass of weighted cross-products (solving coordinates); ``k_absorbed`` the absorbed parameters the
    small-sample rules count (fixest's nested rule) and ``n_fe`` all absorbed parameters.
    """

    prep: Prepared
    roles: IVRoles
    design: Design
    y: np.ndarray
    weights: np.ndarray | None
    clusters: tuple[np.ndarray, ...]
    cluster_names: tuple[str, ...]
    layout: IVLayout
    products: IVProducts
    k_absorbed: int
    n_fe: int
    n_singletons: int
    chunk_rows: int
    cov_type: str
    rows: Any = None  # for an engine's rows: the context in which passes read them (EnginePrepared.rows)
    # for an engine's rows: the codes the residual passes sum over and the numbers of clusters
    cluster_codes: tuple[list[np.ndarray], tuple[int, ...]] | None = None
    # the regressors reported (positions among [endog, exog]); None: all. An engine's absorbed fixed effects
    # enter as a constant and dummies, which are left out of the table as the demeaned fit has none
    report: tuple[int, ...] | None = None

    def cluster_terms(self) -> tuple[list[np.ndarray], tuple[int, ...]]:
        """The cluster codes the residual passes sum over (two-way adds the intersection) and the sizes."""
        from .._core.covariance import cluster_terms

        if self.cluster_codes is not None and self.cov_type == "cluster":
            return self.cluster_codes
        return cluster_terms(self.cov_type, self.clusters)

    @property
    def n(self) -> int:
        return int(self.products.n)  # the rows of the cross-products (len(y) is 0 for an engine's stand-in)

    @property
    def endog_names(self) -> list[str]:
        return [self.design.names[i] for i in self.layout.endog]

    @property
    def exog_names(self) -> list[str]:
        return [self.design.names[i] for i in self.layout.exog]

    @property
    def instrument_names(self) -> list[str]:
        return [self.design.names[i] for i in self.layout.instruments]

    @property
    def rules(self) -> SmallSample:
        """fixest's small-sample rules with absorbed effects; statsmodels'/linearmodels' without."""
        from .._core.covariance import OLS_RULES

        return SmallSample() if self.roles.absorb else OLS_RULES

    def partialled(self) -> dict[str, np.ndarray]:
        """y (n,), endog (n x p) and instruments (n x m) with the exogenous covariates (and the fixed
        effects, already absorbed) partialled out, weighted as the fit is (not multiplied by sqrt(w))."""
        prod, lay = self.products, self.layout
        blk = self.design.block(0, self.n)
        prod.coords.to_z(blk)
        ex = list(lay.exog)
        yv = self.y - prod.mean_y
        if ex:
            g_ww = prod.block(ex, ex)
            cols = [*lay.endog, *lay.instruments, prod.y]
            coef = np.linalg.solve(g_ww, prod.block(ex, cols))
            fitted = blk[:, ex] @ coef
        else:
            fitted = np.zeros((self.n, len(lay.endog) + len(lay.instruments) + 1))
        p = len(lay.endog)
        return {
            "y": yv - fitted[:, -1],
            "endog": blk[:, list(lay.endog)] - fitted[:, :p],
            "instruments": blk[:, list(lay.instruments)] - fitted[:, p:-1],
        }


# --------------------------------------------------------------------------------------------------
# roles
# --------------------------------------------------------------------------------------------------


def _roles(
    data: Any, formula: str | None, outcome: str | None, treatment: str | None, endog: Any, instruments: Any,
    covariates: Any, absorb: Any,
) -> tuple[IVRoles, Any]:  # fmt: skip
    """The roles from a formula or from the keyword arguments, checked for overlaps."""
    if formula is not None:
        given = {"endog": endog, "instruments": instruments, "covariates": covariates, "absorb": absorb}
        clash = [k for k, v in given.items() if v is not None]
        if clash:
            raise SpecificationError(
                f"{', '.join(c + '=' for c in clash)} cannot be combined with a formula: write them into the formula "
                "('y ~ covariates | fixed effects | endogenous ~ instruments')."
            )
        frame = load_table(data)
        parsed = parse_iv_formula(formula, frame.columns)
        if outcome is not None and outcome != parsed.outcome:
            raise SpecificationError(f"outcome={outcome!r} but the formula models {parsed.outcome!r}; give one.")
        outcome, endog_l, instr_l = parsed.outcome, parsed.endog, parsed.instruments
        cov_l, absorb_l, data = parsed.exog, parsed.absorb, frame
    else:
        endog_l = name_list(data, endog, "endog")
        instr_l = name_list(data, instruments, "instruments")
        cov_l = name_list(data, covariates, "covariates")
        absorb_l = name_list(data, absorb, "absorb")
    if outcome is None:
        raise SpecificationError("iv() needs outcome= (or a formula 'y ~ covariates | endogenous ~ instruments').")
    if not endog_l:
        if treatment is None:
            raise SpecificationError("iv() needs treatment= or endog= (the endogenous regressor(s)).")
        endog_l = [treatment]
    if treatment is None:
        treatment = endog_l[0]
    if treatment not in endog_l:
        raise SpecificationError(
            f"treatment={treatment!r} is not among endog={endog_l}: the treatment is the endogenous regressor whose "
            "effect is reported. Add it to endog=, or leave treatment= unset (the first of endog)."
        )
    _check_overlaps(outcome, endog_l, instr_l, cov_l, absorb_l)
    return IVRoles(outcome, treatment, endog_l, instr_l, cov_l, absorb_l), data


def _check_overlaps(outcome: str, endog: list[str], instr: list[str], cov: list[str], absorb: list[str]) -> None:
    if not instr:
        raise SpecificationError("iv() needs instruments= (one or more columns that move the treatment).")
    for name, listed in (("endog", endog), ("instruments", instr), ("covariates", cov), ("absorb", absorb)):
        dup = [c for c in dict.fromkeys(listed) if listed.count(c) > 1]
        if dup:
            raise SpecificationError(f"{name}= lists {dup} more than once.")
    for z in instr:
        if z == outcome:
            raise SpecificationError(
                f"The outcome {z!r} is also listed as an instrument: an instrument must not be the outcome. Remove "
                f"{z!r} from instruments=."
            )
        for role, listed in (("covariates", cov), ("endog", endog), ("absorb", absorb)):
            if z in listed:
                raise SpecificationError(
                    f"The instrument {z!r} is also among {role}=: a column is either an instrument (excluded from the "
                    f"outcome equation) or a {role[:-1] if role != 'endog' else 'endogenous regressor'}, not both. "
                    f"Remove {z!r} from {role}= or from instruments=."
                )
    for d in endog:
        if d == outcome:
            raise SpecificationError(f"The outcome {d!r} is also an endogenous regressor; remove it from endog=.")
        if d in cov:
            raise SpecificationError(
                f"The endogenous regressor {d!r} is also among covariates=; remove it from covariates=."
            )
    if len(instr) < len(endog):
        raise SpecificationError(
            f"{len(instr)} instrument(s) ({', '.join(instr)}) for {len(endog)} endogenous regressor(s) "
            f"({', '.join(endog)}): the effects are not identified. Give at least as many instruments as "
            "endogenous regressors (instruments=), or fewer endogenous regressors (endog=)."
        )


# --------------------------------------------------------------------------------------------------
# the one builder of the problem
# --------------------------------------------------------------------------------------------------


def _numeric(values: np.ndarray, column: str, role: str) -> np.ndarray:
    try:
        out = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(
            f"The {role} {column!r} is not numeric; recode it as numbers (e.g. 0/1 for a two-level instrument)."
        ) from None
    if not np.isfinite(out).all():
        raise DataError(f"The {role} {column!r} has infinite values; remove or recode them.")
    return out


def build_iv_problem(
    data: Any,
    roles: IVRoles,
    *,
    weights: str | None,
    cluster: Sequence[str],
    cov_type: str,
    missing: str,
    chunk_rows: int = CHUNK_ROWS,
    tol: float = DEMEAN_TOL,
    max_iter: int = DEMEAN_MAX_ITER,
) -> IVProblem:
    """Validated rows -> the design [endog, exog, instruments] (fixed effects absorbed) -> cross-products."""
    if is_engine_input(data):
        return _engine_problem(data, roles, weights, cluster, cov_type, missing, chunk_rows)
    extra: dict[str, str | None] = {f"endog:{d}": d for d in roles.endog if d != roles.treatment}
    extra.update({f"instrument:{z}": z for z in roles.instruments})
    extra.update({f"absorb:{a}": a for a in roles.absorb})
    prep = prepare(
        data, outcome=roles.outcome, treatment=roles.treatment, covariates=roles.covariates, weights=weights,
        cluster=list(cluster), extra=extra, missing=missing, treatment_kind="auto",
    )  # fmt: skip
    assert prep.treatment is not None
    endog = [prep.treatment if d == roles.treatment else _numeric(prep.extra[f"endog:{d}"], d, "endogenous regressor")
             for d in roles.endog]  # fmt: skip
    instr = [_numeric(prep.extra[f"instrument:{z}"], z, "instrument") for z in roles.instruments]
    for z, values in zip(roles.instruments, instr):
        if len(values) and values.min() == values.max():
            raise DataError(
                f"The instrument {z!r} takes one value ({values[0]:g}) in every row, so it cannot move the treatment: "
                f"remove {z!r} from instruments= (an instrument must vary)."
            )
    cov_parts = list(prep.covariates.parts)
    if not roles.absorb:
        parts = [array_part(d, v) for d, v in zip(roles.endog, endog)] + [constant_part(), *cov_parts]
        parts += [array_part(z, v) for z, v in zip(roles.instruments, instr)]
        design = Design(parts, prep.n)
        n_e, n_w = len(endog), 1 + len(cov_parts)
        layout = _layout(n_e, n_w, len(instr))
        products = iv_products(design, prep.outcome, prep.weights, layout, chunk_rows)
        check_instruments(products)
        return IVProblem(prep, roles, design, prep.outcome, prep.weights, prep.clusters, prep.cluster_names, layout,
                         products, 0, 0, 0, chunk_rows, cov_type)  # fmt: skip
    return _absorbed_problem(prep, roles, endog, instr, cov_type, chunk_rows, tol, max_iter)


def _engine_problem(
    data: Any, roles: IVRoles, weights: str | None, cluster: Sequence[str], cov_type: str, missing: str,
    chunk_rows: int,
) -> IVProblem:  # fmt: skip
    """:func:`build_iv_problem` on rows that stay on an engine: the other endogenous regressors and the
    instruments are read as numeric columns of the schema, the cross-products and residual passes run on
    the engine; two-way clustering sums the scores by each clustering and by their intersection there.
    Absorbed fixed effects with few levels enter as dummies (``_iv_engine_absorb``); more are refused with
    the memory they would need."""
    from .._core.design import Part

    others = [d for d in roles.endog if d != roles.treatment]
    numeric = [*others, *roles.instruments]
    prep = prepare_engine(
        data, outcome=roles.outcome, treatment=roles.treatment,
        covariates=[*roles.covariates, *numeric, *roles.absorb], weights=weights, cluster=list(cluster),
        missing=missing, treatment_kind="auto",
    )  # fmt: skip
    for name in numeric:
        if prep.schema.covariates[name] is not None:
            role = "instrument" if name in roles.instruments else "endogenous regressor"
            raise DataError(f"{role} {name!r} must be numeric; it holds labels. Recode it to numbers.")
    tpl = prep.templates
    endog = [Part(d, tpl["t"] if d == roles.treatment else tpl[f"x:{d}"], source=d) for d in roles.endog]
    covs = [p for p in prep.covariates.parts if p.source not in numeric and p.source not in roles.absorb]
    instr = [Part(z, tpl[f"x:{z}"], source=z) for z in roles.instruments]
    codes = prep.cluster_codes()
    clusters = tuple(codes[0][: len(cluster)])
    dummies: list[Part] = []
    k_absorbed = n_fe = n_single = 0
    report = None
    if roles.absorb:  # few levels: the fixed effects as dummies (estimators/_iv_engine_absorb.py)
        from ._iv_engine_absorb import absorb_on_engine

        absorbed = absorb_on_engine(
            prep, roles.absorb, len(endog) + len(covs), cluster, cov_type == "cluster",
            lambda: _absorb_refusal(data, roles, weights, cluster),
        )  # fmt: skip
        prep, dummies = absorbed.prep, absorbed.dummies
        prep = dataclasses.replace(  # the schema's notes on the factors as covariates do not apply
            prep, notes=tuple(t for t in prep.notes if not any(f"covariate {a!r}" in t for a in roles.absorb))
        )
        k_absorbed, n_fe, n_single = absorbed.k_absorbed, absorbed.n_fe, absorbed.n_singletons
        codes = (codes[0], absorbed.cluster_sizes)
        report = (*range(len(endog)), *range(len(endog) + 1, len(endog) + 1 + len(covs)))
    design = Design([*endog, constant_part(), *covs, *dummies, *instr], prep.n)
    layout = _layout(len(endog), 1 + len(covs) + len(dummies), len(instr))
    with prep.rows():
        products = iv_products(design, tpl["y"], prep.weights, layout, chunk_rows)
    check_instruments(products)
    return IVProblem(prep, roles, design, tpl["y"], prep.weights, clusters, tuple(cluster), layout,  # type: ignore[arg-type]
                     products, k_absorbed, n_fe, n_single, chunk_rows, cov_type, rows=prep.rows,
                     cluster_codes=codes if cov_type == "cluster" else None, report=report)  # fmt: skip


def _absorb_refusal(data: Any, roles: IVRoles, weights: str | None, cluster: Sequence[str]) -> SpecificationError:
    """absorb= on an engine: the error, with the memory the in-memory path would need (one counting pass)."""
    from ..engines import wrap
    from ._iv_engine_absorb import MAX_DUMMIES

    eng = wrap(data)
    used = list(dict.fromkeys([roles.outcome, *roles.endog, *roles.instruments, *roles.covariates, *roles.absorb,
                               *([weights] if weights else []), *cluster]))  # fmt: skip
    n = sum(eng.map_partitions([roles.outcome], _piece_rows))
    need = n * len(used) * 8
    return SpecificationError(
        f"absorb= with more than {MAX_DUMMIES} levels (less one per factor) needs every row in memory: the fixed "
        f"effects are absorbed by demeaning each column within its levels, which takes all {n:,} rows of "
        f"{len(used)} column(s) as float64, about {need / 2**30:.2f} GiB, and the data is on the {eng.name} "
        f"engine. On an engine absorb= takes factors of at most {MAX_DUMMIES} levels together (as dummy columns, "
        "with singletons dropped as in memory); use coarser factors there, or load the data into memory."
    )


def _piece_rows(piece: Any) -> int:
    return int(piece.num_rows)


def _layout(n_e: int, n_w: int, n_z: int) -> IVLayout:
    return IVLayout(tuple(range(n_e)), tuple(range(n_e, n_e + n_w)), tuple(range(n_e + n_w, n_e + n_w + n_z)))


def _absorbed_problem(
    prep: Prepared, roles: IVRoles, endog: list[np.ndarray], instr: list[np.ndarray], cov_type: str,
    chunk_rows: int, tol: float, max_iter: int,
) -> IVProblem:  # fmt: skip
    """Drop singletons, demean every column by the fixed effects (weighted) and take the cross-products."""
    from .._core.demean import factorize

    codes = [factorize(prep.extra[f"absorb:{a}"])[0] for a in roles.absorb]
    keep = drop_singletons(codes)
    n_single = int((~keep).sum())
    cov_names = list(prep.covariates.names)
    names = [*roles.endog, *cov_names, *roles.instruments]
    x = np.column_stack([*endog, prep.covariates.block(0, prep.n), *instr]) if names else np.empty((prep.n, 0))
    y, w, clusters = prep.outcome, prep.weights, list(prep.clusters)
    if n_single:
        if n_single == len(keep):
            raise DataError("Every row is alone in its group of some fixed effect (singletons): nothing is left.")
        codes = [compact(c[keep])[0] for c in codes]
        clusters = [compact(c[keep])[0] for c in clusters]
        x, y, w = x[keep], y[keep], None if w is None else w[keep]
    demeaner = Demeaner(codes, w, tol=tol, max_iter=max_iter)
    yd = demeaner.demean(y)[0]
    xd, _ = demeaner.demean_columns(x)
    total = np.einsum("ij,ij->j", x - np.average(x, axis=0, weights=w), (x - np.average(x, axis=0, weights=w))
                      * (1.0 if w is None else w[:, None]))  # fmt: skip
    left = np.einsum("ij,ij->j", xd, xd * (1.0 if w is None else w[:, None]))
    for j, name in enumerate(names):
        if total[j] == 0.0 or left[j] <= ABSORBED_TOL * total[j]:
            role = "instrument" if name in roles.instruments else "column"
            raise CollinearityError(
                f"The {role} {name!r} does not vary within the fixed effects ({', '.join(roles.absorb)}): they absorb "
                f"it entirely. Remove {name!r}, or the fixed effect that absorbs it.",
                dependent=[name],
            )
    sizes = list(demeaner.sizes)
    same = [a in prep.cluster_names for a in roles.absorb]
    k = len(roles.endog) + len(cov_names)
    used = clusters if cov_type == "cluster" else []
    k_absorbed = _df_k(k, demeaner.codes, sizes, used, same, SmallSample().fixef_k) - k
    design = Design.from_matrix(xd, names)
    layout = _layout(len(endog), len(cov_names), len(instr))
    products = iv_products(design, yd, w, layout, FE_CHUNK_ROWS)
    check_instruments(products)
    if n_single:
        prep = prep.take(keep)
    return IVProblem(prep, roles, design, yd, w, tuple(clusters), prep.cluster_names, layout, products, k_absorbed,
                     fixed_effect_count(sizes), n_single, FE_CHUNK_ROWS, cov_type)  # fmt: skip


# --------------------------------------------------------------------------------------------------
# public estimators
# --------------------------------------------------------------------------------------------------


@entry
def iv(
    data: Any,
    formula: str | None = None,
    *,
    outcome: str | None = None,
    treatment: str | None = None,
    endog: str | Iterable[str] | None = None,
    instruments: str | Iterable[str] | None = None,
    covariates: str | Iterable[str] | None = None,
    absorb: str | Iterable[str] | None = None,
    estimator: str = "2sls",
    fuller: float = 1.0,
    cov_type: str | None = None,
    cluster: str | Iterable[str] | None = None,
    weights: str | None = None,
    small_sample: bool = True,
    level: float = 0.95,
    missing: str = "raise",
) -> Estimate:
    """Instrumental-variables estimate of the effect of ``treatment`` on ``outcome``.

    Roles by keyword (``endog`` the endogenous regressors, default ``[treatment]``; ``treatment`` the one
    reported, default the first of ``endog``; ``instruments`` the excluded instruments; ``covariates``
    the exogenous controls; ``absorb`` factors whose fixed effects are absorbed) or by a formula in
    pyfixest's syntax, ``"y ~ x1 + x2 | fe1 + fe2 | d1 + d2 ~ z1 + z2"`` (fixed effects optional, ``1`` for
    no covariates; column names only).

    ``estimator``: ``2sls`` (default), ``liml``, ``fuller`` (Fuller's modified LIML with constant
    ``fuller``, default 1) or ``gmm`` (two-step efficient GMM, weighted by the robust or clustered
    covariance of the moments as ``cov_type`` says). ``cov_type``: nonrobust (default), HC0-HC3, or
    cluster (one or two ``cluster`` columns); with ``absorb`` nonrobust, HC1 or cluster, with pyfixest's
    degrees of freedom. ``small_sample=True`` (default) uses SSR/(n-k), n/(n-k), G/(G-1)(n-1)/(n-k) and
    t (G-1) inference (Stata's ``small``, linearmodels' ``debiased=True``); False the large-sample forms
    and the normal distribution. ``weights`` are analytic weights (weighted least squares).

    The result's ``coefficients`` hold the second stage; ``diagnostics`` hold the overidentification test
    (Sargan with a nonrobust covariance, Hansen's J otherwise), the Durbin-Wu-Hausman endogeneity test in
    its control-function form and the reduced form (outcome on the instruments and covariates).
    """
    level = check_level(level)
    roles, data = _roles(data, formula, outcome, treatment, endog, instruments, covariates, absorb)
    estimator = check_option("estimator", estimator, ESTIMATORS)
    if estimator == "fuller" and not (isinstance(fuller, (int, float)) and np.isfinite(fuller) and fuller > 0):
        raise SpecificationError(f"fuller must be a positive number (Fuller's constant, usually 1 or 4), got {fuller}.")
    if not isinstance(small_sample, (bool, np.bool_)):
        raise SpecificationError(f"small_sample must be True or False, got {small_sample!r}.")
    allowed = GMM_COV if estimator == "gmm" else (ABSORBED if roles.absorb else IV_COV)
    chosen, cluster_names = resolve_cov_type(
        cov_type, method=f"iv (estimator={estimator!r})" if estimator == "gmm" else "iv",
        cluster=as_name_list(cluster, "cluster"), default="HC1" if estimator == "gmm" else "nonrobust",
        allowed=allowed,
    )  # fmt: skip
    if roles.absorb and chosen not in ABSORBED.names:
        raise SpecificationError(f"cov_type={chosen!r} is not offered with absorbed fixed effects; {ABSORBED.why_not}.")
    problem = build_iv_problem(data, roles, weights=weights, cluster=cluster_names, cov_type=chosen, missing=missing)
    if problem.rows is not None:  # an engine's rows: every pass of the fit and its diagnostics runs there
        with problem.rows():
            return fit_and_report(problem, estimator=estimator, fuller=float(fuller),
                                  small_sample=bool(small_sample), level=level)  # fmt: skip
    return fit_and_report(problem, estimator=estimator, fuller=float(fuller), small_sample=bool(small_sample),
                          level=level)  # fmt: skip


@entry
def wald_estimator(
    data: Any,
    outcome: str,
    treatment: str,
    instrument: str,
    *,
    weights: str | None = None,
    cov_type: str | None = "HC1",
    cluster: str | Iterable[str] | None = None,
    level: float = 0.95,
    missing: str = "raise",
) -> Estimate:
    """The Wald estimator of the local average treatment effect (LATE): the difference in mean outcomes
    between the two values of a binary ``instrument`` divided by the difference in treatment rates.

    With a binary treatment it is the effect for compliers (units who take the treatment when the
    instrument says so and not otherwise), assuming the instrument is as good as random, moves the
    outcome only through the treatment, and makes nobody refuse the treatment because of it
    (monotonicity). Numerically it is 2SLS with one binary instrument and no covariates; the standard
    error is heteroskedasticity-robust (HC1) unless ``cov_type`` says otherwise.
    """
    frame = load_table(data)
    for role, col in (("instrument", instrument), ("treatment", treatment)):
        if col in frame.columns:
            levels = frame[col].dropna().unique()
            if len(levels) != 2:
                raise DataError(
                    f"The Wald estimator needs a binary {role}; {col!r} has {len(levels)} distinct value(s). Use "
                    "iv() for a continuous or multi-valued one."
                )
    if cov_type is not None and cluster and cov_type == "HC1":
        cov_type = None
    est = iv(frame, outcome=outcome, treatment=treatment, instruments=[instrument], weights=weights,
             cov_type=cov_type, cluster=cluster, level=level, missing=missing)  # fmt: skip
    note = (
        f"Wald estimator: the effect of {treatment!r} on {outcome!r} for compliers, the units whose treatment "
        f"{instrument!r} changes (a LATE). It assumes {instrument!r} is as good as random, affects {outcome!r} only "
        f"through {treatment!r}, and moves nobody away from the treatment (monotonicity). It is not the effect for "
        "always-takers or never-takers."
    )
    return dataclasses.replace(est, method="wald", label="Wald estimator (LATE)", estimand="LATE",
                               notes=(*est.notes, note))  # fmt: skip
