"""Regression adjustment: OLS with the treatment as a regressor (by columns or a formula), and Lin's
fully interacted estimator of the ATE under effect heterogeneity."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from typing import Any

import numpy as np

from .._core.covariance import resolve_cov_type
from .._core.design import Design, Part, array_part, constant_part
from .._core.least_squares import OLSFit, fit_ols
from .._core.options import as_name_list, check_level
from .._core.pages import entry
from ..data import MAX_ABS_VALUE, Prepared, check_columns, load_table, name_list, prepare, prepare_engine
from ..diagnostics.collinearity import collinearity_diagnostics
from ..engines import is_engine_input
from ..errors import DataError, SpecificationError
from ..results import Estimate
from ._base import coef_table, make_estimate
from ._formula import check_formula, evaluation_context


def _cov_type(cov_type: str | None, cluster: Any, method: str) -> tuple[str, list[str]]:
    names = as_name_list(cluster, "cluster")
    return resolve_cov_type(cov_type, method=method, cluster=names, default="nonrobust")


def _effect_from_fit(
    prep: Prepared,
    fit: OLSFit,
    term: str,
    *,
    method: str,
    label: str,
    level: float,
    extra_warnings: list[str] | None = None,
    notes: list[str] | None = None,
) -> Estimate:
    j = fit.names.index(term)
    if fit.cov[j, j] < 0:  # not reached: a two-way covariance is made PSD (covariance.fix_two_way)
        raise DataError(
            f"The two-way cluster-robust variance of {term!r} is negative ({fit.cov[j, j]:.3g}): the formula "
            "V1 + V2 - V12 is not guaranteed positive with few clusters. Cluster on one dimension only (the "
            "coarser one) instead."
        )
    const_idx = [] if fit.const_index is None else [fit.const_index]
    diagnostics, warnings = collinearity_diagnostics(
        fit.xtx, fit.names, const_idx, treatment=term, centered=fit.centered_xtx
    )
    if prep.treatment_kind == "continuous":
        estimand = "ATE (per unit)"
        notes = (notes or []) + [
            f"treatment {prep.treatment_name!r} is continuous: the estimate is the effect of one more unit, "
            "assuming a linear dose-response"
        ]
    else:
        estimand = "ATE"
    return make_estimate(
        prep,
        method=method,
        label=label,
        estimand=estimand,
        estimate=float(fit.coef[j]),
        std_error=float(np.sqrt(fit.cov[j, j])),
        df=fit.df_inference,
        level=level,
        warnings=(extra_warnings or []) + warnings,
        notes=notes or [],
        diagnostics=diagnostics,
        coefficients=coef_table(fit),
        fit=fit,
    )


# --------------------------------------------------------------------------------------------------
# formulas
# --------------------------------------------------------------------------------------------------

_Q = re.compile(r"""^Q\((['"])(.*)\1\)$""")


def _clean_term(name: str) -> str:
    """``Q('I.H')`` -> ``I.H``; ``` `I.H` ``` -> ``I.H`` (only when it is the whole name)."""
    m = _Q.match(name)
    if m:
        return m.group(2)
    if len(name) > 2 and name.startswith("`") and name.endswith("`"):
        return name[1:-1]
    return name


def _formula_columns(formula: str, columns: Iterable[Any]) -> tuple[list[str], list[str]]:
    """(left-hand-side columns, right-hand-side columns) of the data that ``formula`` uses."""
    from formulaic import Formula

    if "~" not in formula:
        raise SpecificationError(f"formula {formula!r} has no '~'; write it as 'outcome ~ treatment + covariates'.")
    lhs_text, rhs_text = formula.split("~", 1)
    try:
        parsed = Formula(formula)
    except Exception as exc:  # formulaic raises several parser exception types
        raise SpecificationError(f"Could not parse formula {formula!r}: {_plain_message(exc)}") from exc
    names = [str(c) for c in columns]
    required = check_formula(formula, parsed, names)  # before anything is evaluated
    quoted = [q for _, q in re.findall(r"""Q\((['"])(.*?)\1\)""", formula)] + re.findall(r"`([^`]+)`", formula)
    absent = [v for v in [*sorted(required), *quoted] if v not in names]
    if absent:
        check_columns(names, absent[:1], "formula variable")

    def used(text: str) -> list[str]:
        out = []
        for col in names:
            quoted = (f"`{col}`", f"Q('{col}')", f'Q("{col}")')
            bare = col in required and re.search(rf"(?<![\w.]){re.escape(col)}(?![\w.])", text)
            if bare or any(q in text for q in quoted):
                out.append(col)
        return out

    return used(lhs_text), used(rhs_text)


def _plain_message(exc: Exception) -> str:
    """formulaic's message without terminal colour codes."""
    return re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()


def _check_formula_values(formula: str, lhs: Any, rhs: Any) -> None:
    """Every term gives at least one column, and no column is complex."""
    empty = [str(term) for term, cols in rhs.model_spec.term_indices.items() if not len(cols)]
    if empty:
        raise SpecificationError(
            f"formula {formula!r}: the term(s) {empty} produced no column (e.g. a category with a single level, "
            "or a degree of 0); remove or fix them."
        )
    for matrix in (lhs, rhs):
        kinds = getattr(matrix, "dtypes", [])
        complex_cols = [str(c) for c, dt in zip(matrix.columns, kinds) if getattr(dt, "kind", "") == "c"]
        if complex_cols:
            raise DataError(
                f"formula term {complex_cols[0]!r} holds complex numbers; only real numbers can be used. Use the "
                "real part or the modulus as a column of its own."
            )


def _treatment_term(names: list[str], treatment: str) -> str:
    cleaned = {n: _clean_term(n) for n in names}
    exact = [n for n, c in cleaned.items() if c == treatment]
    if exact:
        return exact[0]
    levels = [n for n, c in cleaned.items() if c.startswith(treatment + "[") or c.startswith(f"C({treatment})[")]
    if len(levels) == 1:
        return levels[0]
    if len(levels) > 1:
        raise SpecificationError(
            f"treatment {treatment!r} enters the formula as {len(levels)} columns ({levels}); an effect needs "
            "a binary or continuous treatment."
        )
    raise SpecificationError(f"treatment {treatment!r} is not a term of the formula; terms are {names}.")


def _formula_design(formula: str, frame: Any, treatment: str | None) -> tuple[np.ndarray, Design, str, str, list[str]]:
    """Build (y, design, outcome name, treatment term, notes) with formulaic on clean rows.

    The formula is checked against the allow-list again and evaluated in a namespace holding only the
    allowed transforms (see ``_formula``)."""
    from formulaic import Formula, model_matrix

    check_formula(formula, Formula(formula), frame.columns)
    try:
        with np.errstate(all="ignore"):  # e.g. log of a negative number: reported below as our DataError
            mm = model_matrix(formula, frame, na_action="ignore", context=evaluation_context())
    except Exception as exc:  # formulaic's errors name the failing term
        raise SpecificationError(f"Could not build the model matrix for {formula!r}: {_plain_message(exc)}") from exc
    lhs = mm.lhs
    if lhs.shape[1] != 1:
        raise SpecificationError(f"formula {formula!r} must have exactly one outcome on the left of '~'.")
    rhs = mm.rhs
    _check_formula_values(formula, lhs, rhs)
    names = [_clean_term(str(c)) for c in rhs.columns]
    x = np.asarray(rhs, dtype=np.float64)
    y = np.asarray(lhs, dtype=np.float64)[:, 0]
    bad = ~np.isfinite(x).all(axis=0)
    if bad.any() or not np.isfinite(y).all():
        which = [names[j] for j in np.flatnonzero(bad)] or [str(lhs.columns[0])]
        raise DataError(
            f"The formula produced missing or infinite values in {which} (e.g. log of a non-positive number); "
            "fix the transformation or filter those rows first."
        )
    huge = (np.abs(x) > MAX_ABS_VALUE).any(axis=0)
    if huge.any() or (np.abs(y) > MAX_ABS_VALUE).any():
        which = [names[j] for j in np.flatnonzero(huge)] or [str(lhs.columns[0])]
        raise DataError(
            f"The formula produced values larger than {MAX_ABS_VALUE:g} in {which}, too large to square in double "
            "precision; rescale the column(s)."
        )
    design = Design.from_matrix(x, names)
    notes = []
    if treatment is None:
        first = [n for n in names if n not in ("Intercept",)]
        if not first:
            raise SpecificationError(f"formula {formula!r} has no term that could be the treatment.")
        term = first[0]
        notes.append(f"treatment not given: the first term of the formula, {term!r}, is taken as the treatment")
    else:
        term = _clean_term(_treatment_term([str(c) for c in rhs.columns], treatment))
    return y, design, _clean_term(str(lhs.columns[0])), term, notes


# --------------------------------------------------------------------------------------------------
# public estimators
# --------------------------------------------------------------------------------------------------


@entry
def ols(
    data: Any,
    formula: str | None = None,
    *,
    outcome: str | None = None,
    treatment: str | None = None,
    covariates: str | Iterable[str] | None = None,
    weights: str | None = None,
    cov_type: str | None = None,
    cluster: str | Iterable[str] | None = None,
    level: float = 0.95,
    missing: str = "raise",
    treated_level: Any = None,
) -> Estimate:
    """Regression adjustment: the treatment's coefficient in an OLS (WLS with ``weights``) regression.

    Call it with columns (``outcome``, ``treatment``, ``covariates``) or with a formula such as
    ``"Severity ~ Drug + Q('I.H')"`` (formulaic syntax: backticks or ``Q()`` for names with dots,
    ``C()`` for categoricals, ``*`` and ``:`` for interactions).

    A formula may use only the data's columns, numbers, arithmetic and comparisons, and these
    functions: ``I C Q log log2 log10 log1p exp expm1 sqrt square power abs center scale standardize
    poly bs cr cs cc Treatment Sum`` and ``np.log np.log1p np.log2 np.log10 np.exp np.expm1 np.sqrt
    np.square np.power np.abs``. Anything else (other functions such as ``open`` or ``np.savetxt``,
    attribute access, indexing, dunder names, lambdas, comprehensions) is refused with a
    SpecificationError before anything is evaluated, so formula text from someone else cannot run
    code (see docs/formulas.md).

    ``cov_type`` is one of nonrobust
    (default), HC0, HC1, HC2, HC3 or cluster (CR1; one or two ``cluster`` columns). A treatment with
    more than two values is treated as a dose: the estimate is the effect of one more unit.
    The full coefficient table is on ``result.coefficients``.
    """
    level = check_level(level)
    cov, cluster = _cov_type(cov_type, cluster, "ols")
    if formula is not None:
        if is_engine_input(data):
            raise SpecificationError(
                "A formula needs the rows in memory; on an engine name the columns instead: ols(data, "
                "outcome=..., treatment=..., covariates=[...]) (categorical covariates are one-hot encoded)."
            )
        if covariates is not None:
            raise SpecificationError(
                "covariates= is not used with a formula: write them into the formula instead "
                f"(e.g. '... + {as_name_list(covariates, 'covariates')[0]}')."
            )
        return _ols_formula(data, formula, treatment, weights, cov, cluster, level, missing, treated_level, outcome)
    if outcome is None or treatment is None:
        raise SpecificationError("ols() needs outcome= and treatment= (and optionally covariates=), or a formula.")
    if is_engine_input(data):
        return _ols_engine(data, outcome, treatment, covariates, weights, cov, cluster, level, missing, treated_level)
    prep = prepare(
        data,
        outcome=outcome,
        treatment=treatment,
        covariates=covariates,
        weights=weights,
        cluster=cluster,
        missing=missing,
        treatment_kind="auto",
        treated_level=treated_level,
    )
    assert prep.treatment is not None
    design = prep.covariates.with_parts([constant_part(), array_part(treatment, prep.treatment)], front=True)
    fit = fit_ols(design, prep.outcome, prep.weights, cov_type=cov, clusters=prep.clusters, protect=[treatment])
    return _effect_from_fit(prep, fit, treatment, method="ols", label="Regression adjustment (OLS)", level=level)


def _ols_engine(
    data: Any,
    outcome: str,
    treatment: str,
    covariates: str | Iterable[str] | None,
    weights: str | None,
    cov: str,
    cluster: list[str],
    level: float,
    missing: str,
    treated_level: Any,
) -> Estimate:
    """:func:`ols` on rows that stay on an engine (DuckDB, Dask, Spark): the same passes, run where the rows are."""
    prep = prepare_engine(
        data,
        outcome=outcome,
        treatment=treatment,
        covariates=covariates,
        weights=weights,
        cluster=cluster,
        missing=missing,
        treatment_kind="auto",
        treated_level=treated_level,
    )
    tpl = prep.templates
    design = prep.covariates.with_parts([constant_part(), Part(treatment, tpl["t"], source=treatment)], front=True)
    codes = prep.cluster_codes()
    cells = _cell_bound(prep, cov, cluster)
    if cells is not None and cells * COMPRESS_FACTOR <= prep.n:
        return _ols_compressed(prep, design, cov, treatment, level)
    with prep.rows():
        fit = fit_ols(
            design,
            tpl["y"],
            prep.weights,
            cov_type=cov,
            clusters=codes[0][: len(cluster)],
            protect=[treatment],
            cluster_codes=codes if cov == "cluster" else None,
            log_weight_sum=prep.log_weight_sum,
        )
    return _effect_from_fit(
        prep,  # type: ignore[arg-type]
        fit,
        treatment,
        method="ols",
        label="Regression adjustment (OLS)",
        level=level,
    )


def _ols_formula(
    data: Any,
    formula: str,
    treatment: str | None,
    weights: str | None,
    cov: str,
    cluster: Any,
    level: float,
    missing: str,
    treated_level: Any,
    outcome: str | None = None,
) -> Estimate:
    if not isinstance(formula, str):
        raise SpecificationError(f"formula must be a string, got {type(formula).__name__}.")
    frame = load_table(data)
    lhs_cols, rhs_cols = _formula_columns(formula, frame.columns)
    if len(lhs_cols) != 1:
        raise SpecificationError(
            f"The left of '~' in {formula!r} must name one column of the data; found {lhs_cols or 'none'}."
        )
    if outcome is not None and outcome not in lhs_cols:
        raise SpecificationError(
            f"outcome={outcome!r} but the formula {formula!r} models {lhs_cols[0]!r}: give one outcome (drop "
            "outcome=, or make it the left of '~')."
        )
    treat_col = treatment
    if treat_col is None:
        from formulaic import Formula

        first = str(Formula(formula).rhs).split("+")[0].strip()
        first = first if first != "1" else str(Formula(formula).rhs).split("+")[1].strip()
        treat_col = _clean_term(first)
    treat_parts = [p.strip() for p in treat_col.split(":")] if treat_col not in frame.columns else [treat_col]
    missing_parts = [p for p in treat_parts if p not in frame.columns]
    if missing_parts:
        check_columns(frame, missing_parts, "treatment")
    is_column = len(treat_parts) == 1
    others = [c for c in rhs_cols if c not in (lhs_cols[0], *([treat_col] if is_column else []))]
    prep = prepare(
        frame,
        outcome=lhs_cols[0],
        treatment=treat_col if is_column else None,
        weights=weights,
        cluster=cluster,
        extra={f"term:{c}": c for c in others},
        missing=missing,
        treatment_kind="auto",
        treated_level=treated_level,
        keep_frame=True,
    )
    y, design, outcome_name, term, notes = _formula_design(formula, prep.frame, treatment)
    col = design.column(term)
    binary = set(np.unique(col).tolist()) == {0.0, 1.0}
    if prep.treatment_kind == "binary" and binary:
        prep = dataclasses.replace(prep, treatment=col)
    elif prep.treatment is None:
        kind = "binary" if binary else "continuous"
        prep = dataclasses.replace(prep, treatment=col, treatment_kind=kind, treatment_name=term)
    prep = dataclasses.replace(prep, outcome=y, outcome_name=outcome_name)
    fit = fit_ols(design, y, prep.weights, cov_type=cov, clusters=prep.clusters, protect=[term])
    return _effect_from_fit(
        prep, fit, term, method="ols", label="Regression adjustment (OLS)", level=level, notes=notes
    )


@entry
def lin(
    data: Any,
    *,
    outcome: str,
    treatment: str,
    covariates: str | Iterable[str] | None = None,
    weights: str | None = None,
    cov_type: str | None = "HC2",
    cluster: str | Iterable[str] | None = None,
    level: float = 0.95,
    missing: str = "raise",
    treated_level: Any = None,
) -> Estimate:
    """Lin's (2013) interacted regression: outcome on treatment, centered covariates and their products.

    The treatment coefficient estimates the ATE even when the effect varies with the covariates.
    Covariates are centered at their (weighted) sample means. Standard errors default to HC2.
    """
    level = check_level(level)
    if cluster and cov_type == "HC2":  # the default: clustered errors when clusters are given
        cov_type = None
    cov, cluster = _cov_type(cov_type, cluster, "lin")
    if is_engine_input(data):
        return _lin_engine(data, outcome, treatment, covariates, weights, cov, cluster, level, missing, treated_level)
    names = name_list(data, covariates, "covariates")
    prep = prepare(
        data,
        outcome=outcome,
        treatment=treatment,
        covariates=names,
        weights=weights,
        cluster=cluster,
        missing=missing,
        treatment_kind="binary",
        treated_level=treated_level,
    )
    t = prep.treatment
    assert t is not None
    w = prep.weights
    parts = [constant_part(), array_part(treatment, t)]
    centered = []
    for name in prep.covariates.names:
        x = prep.covariates.column(name)
        mean = float(np.average(x, weights=w))
        xc = x - mean
        centered.append(array_part(f"{name} (centered)", xc))
        parts.append(array_part(f"{treatment}:{name} (centered)", t * xc))
    design = Design(parts[:2] + centered + parts[2:], prep.n)
    fit = fit_ols(design, prep.outcome, w, cov_type=cov, clusters=prep.clusters, protect=[treatment])
    return _effect_from_fit(
        prep,
        fit,
        treatment,
        method="lin",
        label="Lin interacted regression",
        level=level,
        notes=["covariates centered at their sample means; the treatment coefficient is the ATE"],
    )


#: compress an engine's rows to cells when there are at least this many rows per possible cell
COMPRESS_FACTOR = 20


def _cell_bound(prep: Any, cov: str, cluster: list[str]) -> int | None:
    """The most distinct (design row, cluster) cells an OLS on the engine can have, when every design column
    is discrete (a binary treatment, categorical covariates) and the covariance can be had from cell sums."""
    from .._core.compressed import COMPRESSED_COV_TYPES

    if cov not in COMPRESSED_COV_TYPES or len(cluster) > 1 or prep.treatment_kind != "binary":
        return None
    if any(levels is None for levels in prep.schema.covariates.values()):
        return None
    bound = 2
    for levels in prep.schema.covariates.values():
        bound *= len(levels)
    return bound * (prep.cluster_sizes[0] if cluster else 1)


def _ols_compressed(prep: Any, design: Design, cov: str, treatment: str, level: float) -> Estimate:
    """OLS on an engine whose rows fall into few cells: one pass groups them (:mod:`deconfound._core.compressed`),
    the fit and its covariance come from the cell sums; the same numbers as the uncompressed passes."""
    from .._core import rows
    from .._core.compressed import Cells, fit_cells

    tpl = prep.templates
    codes = prep.cluster_codes()[0]
    extra = {"y": tpl["y"], "w": prep.weights, "cl": codes[0] if codes else None}
    empty = Cells(np.empty((0, design.k + 1)), np.empty((0, 7)))
    with prep.rows():
        src = rows.source(design, 1 << 16, extra=extra)
        cells = rows.fold(src, lambda part: Cells.of(part.block(), part.get("cl"), part["y"], part.get("w")), empty)
    fit = fit_cells(
        cells,
        design.names,
        cov_type=cov,
        n_clusters=prep.cluster_sizes[0] if codes else 0,
        protect=[treatment],
        log_weight_sum=prep.log_weight_sum,
    )
    note = (
        f"the {prep.n:,} rows were compressed to {len(cells.keys):,} cells (distinct design rows"
        f"{' and clusters' if codes else ''}) with their sums; the estimate is exactly that of the rows"
    )
    return _effect_from_fit(
        prep, fit, treatment, method="ols", label="Regression adjustment (OLS)", level=level, notes=[note]
    )


def _column_of(key: str, level: int | None) -> Any:
    """The values of one design column in a piece's encoded arrays (a dummy for a categorical level)."""

    def values(local: Any) -> np.ndarray:
        x = local[key]
        return np.asarray(x, dtype=np.float64) if level is None else (x == level).astype(np.float64)

    return values


def _lin_engine(
    data: Any,
    outcome: str,
    treatment: str,
    covariates: str | Iterable[str] | None,
    weights: str | None,
    cov: str,
    cluster: list[str],
    level: float,
    missing: str,
    treated_level: Any,
) -> Estimate:
    """:func:`lin` on rows that stay on an engine: one pass for the covariates' (weighted) means, then the
    interacted regression on centered columns computed inside each piece."""
    from .._core import rows

    prep = prepare_engine(
        data,
        outcome=outcome,
        treatment=treatment,
        covariates=covariates,
        weights=weights,
        cluster=cluster,
        missing=missing,
        treatment_kind="binary",
        treated_level=treated_level,
    )
    tpl = prep.templates
    covs = prep.covariates
    columns = [_column_of(tpl.key(p.values) or "", p.level) for p in covs.parts]
    with prep.rows():
        src = rows.source(covs, 1 << 16, extra={"w": prep.weights})

        def sums(part: rows.Partition) -> np.ndarray:
            blk, w = part.block(), part.get("w")
            return np.append(blk.sum(axis=0), part.n) if w is None else np.append(w @ blk, w.sum())

        tot = rows.fold(src, sums, np.zeros(covs.k + 1))
        means = tot[:-1] / tot[-1]
        centered, inter = [], []
        for j, (part, col) in enumerate(zip(covs.parts, columns, strict=True)):
            mean = float(means[j])

            def xc(local: Any, col: Any = col, mean: float = mean) -> np.ndarray:
                return col(local) - mean

            def txc(local: Any, col: Any = col, mean: float = mean) -> np.ndarray:
                return local["t"] * (col(local) - mean)

            centered.append(Part(f"{part.name} (centered)", tpl.derive(f"lin:c{j}", xc)))
            inter.append(Part(f"{treatment}:{part.name} (centered)", tpl.derive(f"lin:t{j}", txc)))
        design = Design([constant_part(), Part(treatment, tpl["t"], source=treatment), *centered, *inter], prep.n)
        codes = prep.cluster_codes()
        fit = fit_ols(
            design,
            tpl["y"],
            prep.weights,
            cov_type=cov,
            clusters=codes[0][: len(cluster)],
            protect=[treatment],
            cluster_codes=codes if cov == "cluster" else None,
            log_weight_sum=prep.log_weight_sum,
        )
    return _effect_from_fit(
        prep,  # type: ignore[arg-type]
        fit,
        treatment,
        method="lin",
        label="Lin interacted regression",
        level=level,
        notes=["covariates centered at their sample means; the treatment coefficient is the ATE"],
    )
