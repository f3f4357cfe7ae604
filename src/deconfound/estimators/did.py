"""Difference-in-differences for two groups and two periods (the article's section 8).

``did`` compares the change of the treated group (before -> after) with the change of the control
group; the difference is the effect on the treated (ATT) if, without treatment, both would have
changed alike (parallel trends). It shows the four means, the two changes and their difference.

* Unit-level data: the estimate is the coefficient of ``treated x post`` in the regression of the
  outcome on treated, post, their product and any covariates (identical to the difference of the four
  means without covariates), with standard errors clustered by unit when a unit column is given.
* A table of four group means (one row per group and period, e.g. the article's ice-cream shops):
  the difference of the means, without a standard error.

The article's trap is caught: a covariate that changes almost only for the treated after treatment
(its Quality_of_Care) cannot be told apart from the effect. A covariate that is an exact combination of
the design through the treated-after term is dropped with a warning naming that combination; any other
exact dependence (a constant, a copy of another covariate, the group or the period itself) is refused as
``ols`` refuses it, in the core's words. Near collinearity, or a covariate that shifts with treatment, warns
in plain words naming the column. The condition number of the full design is on the summary. A table of
four means has no standard error: that is a warning, not only a note.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from .._core import linalg
from .._core.covariance import resolve_cov_type
from .._core.design import Design, array_part, constant_part
from .._core.least_squares import OLSFit, fit_ols
from .._core.options import as_name_list, check_level
from .._core.pages import entry
from ..data import Prepared, check_roles, prepare, prepare_engine
from ..diagnostics.collinearity import collinearity_diagnostics
from ..engines import is_engine_input
from ..errors import CollinearityError, DataError
from ..results import Estimate
from ._base import coef_table, make_estimate

SHIFT_WARN = 0.25  # a covariate whose own DiD exceeds this many standard deviations is suspect
VIF_WARN = 10.0
#: the warning (and summary line) of a 2x2 read from a table of four means
NO_SE_FROM_MEANS = "a table of four means has no standard error: pass unit-level rows"


def _indicator(values: np.ndarray, name: str, role: str) -> tuple[np.ndarray, str | None]:
    """0/1 floats from a two-level column (bool, 0/1, two numbers: the larger is 1, or two labels)."""
    series = pd.Series(values)
    levels = pd.unique(series)
    if len(levels) != 2:
        raise DataError(
            f"{role} {name!r} must take exactly two values (0/1), but it has {len(levels)}: "
            f"{sorted(map(str, levels))[:6]}. {'Both groups' if role == 'treated' else 'Both periods'} are needed."
        )
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.to_numpy(dtype=np.float64), None
    if pd.api.types.is_numeric_dtype(series.dtype):
        lo, hi = sorted(float(v) for v in levels)
        out = (series.to_numpy(dtype=np.float64) == hi).astype(np.float64)
        note = None if (lo, hi) == (0.0, 1.0) else f"{role} {name!r}: {hi:g} coded 1, {lo:g} coded 0"
        return out, note
    words = {"treated": ("treated", "treatment", "yes", "true", "1"), "post": ("post", "after", "yes", "true", "1")}
    hits = [lv for lv in levels if str(lv).strip().lower() in words[role]]
    if len(hits) != 1:
        raise DataError(
            f"{role} {name!r} has labels {sorted(map(str, levels))}; recode it to 0/1 (1 = "
            f"{'treated group' if role == 'treated' else 'after treatment'})."
        )
    return (series == hits[0]).to_numpy(dtype=np.float64), f"{role} {name!r}: {hits[0]!r} coded 1"


def _cell_means(y: np.ndarray, d: np.ndarray, p: np.ndarray, w: np.ndarray | None, names: tuple[str, str]) -> dict:
    """The four (weighted) means, their counts, and the table shown to the user."""
    ww = np.ones_like(y) if w is None else w
    means, counts = {}, {}
    for gd in (1.0, 0.0):
        for gp in (0.0, 1.0):
            cell = (d == gd) & (p == gp)
            counts[(gd, gp)] = int(cell.sum())
            if counts[(gd, gp)] == 0 or ww[cell].sum() == 0:
                group = "treated" if gd else "control"
                period = "after (post)" if gp else "before (pre)"
                raise DataError(
                    f"No {group} rows {period}: a difference-in-differences needs all four groups "
                    f"({names[0]!r} x {names[1]!r}). Counts: {_counts_text(d, p)}."
                )
            means[(gd, gp)] = float(np.average(y[cell], weights=ww[cell]))
    table = pd.DataFrame(
        {
            "before": [means[(1, 0)], means[(0, 0)]],
            "after": [means[(1, 1)], means[(0, 1)]],
        },
        index=pd.Index(["treated", "control"], name="group"),
    )
    table["change"] = table["after"] - table["before"]
    table.loc["difference"] = table.loc["treated"] - table.loc["control"]
    return {"table": table, "counts": counts}


def _counts_text(d: np.ndarray, p: np.ndarray) -> str:
    parts = []
    for gd, group in ((1.0, "treated"), (0.0, "control")):
        for gp, period in ((0.0, "before"), (1.0, "after")):
            parts.append(f"{group}/{period} {int(((d == gd) & (p == gp)).sum())}")
    return ", ".join(parts)


def _check_groups_fixed(d: np.ndarray, unit: np.ndarray | None, name: str) -> None:
    if unit is None:
        return
    codes, _ = pd.factorize(unit)
    lo = np.full(codes.max() + 1, np.inf)
    hi = np.full(codes.max() + 1, -np.inf)
    np.minimum.at(lo, codes, d)
    np.maximum.at(hi, codes, d)
    switching = np.flatnonzero(lo != hi)
    if switching.size:
        example = pd.unique(unit)[switching[0]]
        example = example.item() if isinstance(example, np.generic) else example  # 0, not np.int64(0)
        raise DataError(
            f"treated {name!r} changes within unit {example!r} ({switching.size} unit(s) in all): in a "
            "difference-in-differences it marks the group (1 for every row of a treated unit). For a "
            "treatment that switches on at different times use twfe, event_study or staggered."
        )


def _vif(xtx: np.ndarray, j: int, drop: Iterable[int] = ()) -> float:
    """VIF of column j (of a design whose column 0 is the constant) on the others, less ``drop``."""
    keep = [i for i in range(xtx.shape[0]) if i not in set(drop)]
    sub = xtx[np.ix_(keep, keep)]
    sw = sub[0, 0]
    m = sub[0, 1:] / sw
    centered = sub[1:, 1:] - sw * np.outer(m, m)
    d = np.sqrt(np.clip(np.diag(centered), 1e-300, None))
    corr = centered / np.outer(d, d)
    try:
        return float(np.linalg.inv(corr)[keep.index(j) - 1, keep.index(j) - 1])
    except np.linalg.LinAlgError:
        return float("inf")


def _design(prep: Prepared, d: np.ndarray, p: np.ndarray, terms: tuple[str, str, str], covs: list[str]) -> Design:
    parts = [constant_part(), array_part(terms[0], d), array_part(terms[1], p), array_part(terms[2], d * p)]
    return Design(parts + [part for part in prep.covariates.parts if part.name in covs], prep.n)


def _combination(
    prep: Prepared, d: np.ndarray, p: np.ndarray, terms: tuple[str, str, str], others: list[str], name: str
) -> list[tuple[str, float]]:
    """Covariate ``name`` as the exact combination of the design's other columns, small terms left out."""
    design = _design(prep, d, p, terms, others)
    x = design.to_array()
    root = np.ones(prep.n) if prep.weights is None else np.sqrt(prep.weights)
    target = prep.covariates.column(name)
    coef = np.linalg.lstsq(x * root[:, None], target * root, rcond=None)[0]
    size = np.abs(coef) * np.sqrt(np.mean(x**2, axis=0))  # each term's contribution, on the data's scale
    scale = max(float(np.sqrt(np.mean(target**2))), 1e-300)
    return [(n, float(c)) for n, c, s in zip(design.names, coef, size, strict=True) if s > 1e-8 * scale]


def _moves_with_treatment(combo: list[tuple[str, float]], terms: tuple[str, str, str]) -> bool:
    """The article's trap: the covariate is (partly) the treated-after indicator, so it changed with treatment."""
    return any(n == terms[2] for n, _ in combo)


def _combination_text(combo: list[tuple[str, float]]) -> str:
    return " + ".join(f"{c:.4g}*{n}" for n, c in combo) or "0"


def _fit_dropping(
    prep: Prepared, d: np.ndarray, p: np.ndarray, terms: tuple[str, str, str], cov: str, clusters: tuple
) -> tuple[OLSFit, list[tuple[str, list[tuple[str, float]]]], float]:
    """Fit; a covariate exactly collinear with the design through the treated-after term is dropped (reported);
    any other exact dependence is refused as ols refuses it. Returns (fit, dropped with their combinations,
    condition number of the full design)."""
    covs = list(prep.covariates.names)
    full = _design(prep, d, p, terms, covs)
    cond = linalg.condition_number(full.to_array().T @ (full.to_array() * _wcol(prep.weights)))
    dropped: list[tuple[str, list[tuple[str, float]]]] = []
    while True:
        try:
            fit = fit_ols(
                _design(prep, d, p, terms, covs),
                prep.outcome,
                prep.weights,
                cov_type=cov,
                clusters=clusters,
                protect=[terms[2], terms[0], terms[1]],
            )
            return fit, dropped, cond
        except CollinearityError as exc:
            bad = [c for c in exc.dependent if c in covs]
            if not bad:
                raise
            kept = [c for c in covs if c not in bad]
            combos = {c: _combination(prep, d, p, terms, kept, c) for c in bad}
            if not all(_moves_with_treatment(combo, terms) for combo in combos.values()):
                raise  # a constant, a copy or a combination of other columns: refused in ols's words
            dropped += [(c, combos[c]) for c in bad]
            covs = kept


def _wcol(w: np.ndarray | None) -> np.ndarray | float:
    return 1.0 if w is None else w[:, None]


def _covariate_shifts(prep: Prepared, d: np.ndarray, p: np.ndarray) -> pd.DataFrame:
    """Each covariate's own difference-in-differences, raw and in standard deviations."""
    rows = []
    w = prep.weights
    for name in prep.covariates.names:
        x = prep.covariates.column(name)
        shift = sum(
            sign * np.average(x[(d == gd) & (p == gp)], weights=None if w is None else w[(d == gd) & (p == gp)])
            for gd, gp, sign in ((1, 1, 1), (1, 0, -1), (0, 1, -1), (0, 0, 1))
        )
        sd = float(np.sqrt(np.cov(x, aweights=w))) if x.size > 1 else 0.0
        std = shift / sd if sd > 0 else 0.0
        rows.append({"covariate": name, "did_shift": float(shift), "std_shift": float(std)})
    return pd.DataFrame(rows).set_index("covariate") if rows else pd.DataFrame()


def _trap_warnings(
    fit: OLSFit,
    terms: tuple[str, str, str],
    dropped: list[tuple[str, list[tuple[str, float]]]],
    shifts: pd.DataFrame,
    cond: float,
    plain: float,
) -> tuple[list[str], list[str]]:
    """Plain-words warnings about covariates the effect cannot be told apart from; returns (warnings, suspects)."""
    warnings: list[str] = []
    suspects: list[str] = [name for name, _ in dropped]
    inter = terms[2]
    for name, combo in dropped:
        warnings.append(
            f"The effect is not separately identified from covariate {name!r}: in this data {name!r} is an exact "
            f"combination of the design's columns, {name!r} = {_combination_text(combo)}, which moves with "
            f"{inter!r} (it changed with treatment), so no "
            f"data can split the credit between them (condition number {cond:.3g}). {name!r} was left out, so "
            f"the estimate gives the treatment all of the joint change. That is right if {name!r} changed because "
            "of the treatment (a bad control); if it has an effect of its own, the two cannot be separated."
        )
    j = fit.names.index(inter)
    vif = _vif(fit.xtx, j)
    k_cov = [i for i, n in enumerate(fit.names) if n not in ("const", *terms)]
    for i in k_cov:
        name = fit.names[i]
        without = _vif(fit.xtx, j, drop=[i])
        if vif >= VIF_WARN and without < vif / 2:
            suspects.append(name)
            warnings.append(
                f"The effect is not separately identified from covariate {name!r}: it moves almost in step with "
                f"{inter!r} (the effect's variance inflation factor is {vif:.1f} with it, {without:.1f} without; "
                f"condition number {cond:.3g}), so the model splits the credit between them and the estimate is "
                f"unstable. If {name!r} changed because of the treatment (a bad control), leave it out."
            )
    for name, row in shifts.iterrows():
        if name in suspects or abs(row["std_shift"]) < SHIFT_WARN:
            continue
        suspects.append(str(name))
        warnings.append(
            f"Covariate {name!r} changed differently for the treated group after treatment (its own "
            f"difference-in-differences is {row['did_shift']:.3g}, {row['std_shift']:.2f} standard deviations): "
            "if the treatment caused that change, adjusting for it removes part of the effect (a bad control). "
            "Adjust only for covariates fixed before treatment, or compare with the estimate without it."
        )
    if warnings:
        warnings[-1] += f" Without covariates (the four means) the difference-in-differences is {plain:.4g}."
    return warnings, suspects


@entry
def did(
    data: Any,
    *,
    outcome: str,
    treated: str,
    post: str,
    covariates: str | Iterable[str] | None = None,
    unit: str | None = None,
    weights: str | None = None,
    cluster: str | Iterable[str] | None = None,
    cov_type: str | None = None,
    level: float = 0.95,
    missing: str = "raise",
) -> Estimate:
    """Two-group, two-period difference-in-differences: (treated after - before) - (control after - before).

    ``treated`` marks the treated group (0/1, constant within a unit), ``post`` the period after
    treatment. On unit-level data the estimate is the coefficient of ``treated:post`` in the
    regression on treated, post, their product and ``covariates``; standard errors are clustered by
    ``cluster`` when given, else by ``unit`` when given, else HC1 (``cov_type`` overrides). On a
    table with one row per group and period
    (four group means) it is the difference of the means, without a standard error. The four means,
    both changes and the difference are in ``diagnostics["group_means"]``.
    """
    level = check_level(level)
    cluster_names = as_name_list(cluster, "cluster")
    cov, groups = resolve_cov_type(
        cov_type, method="did", cluster=cluster_names, default="HC1", fallback=("unit", unit)
    )
    if is_engine_input(data):
        return _did_engine(data, outcome, treated, post, covariates, unit, weights, cov, groups, level, missing)
    check_roles(data, [("outcome", outcome), ("treated", treated), ("post", post), ("unit", unit)])
    prep = prepare(
        data,
        outcome=outcome,
        treatment=treated,
        covariates=covariates,
        weights=weights,
        cluster=groups,
        extra={"post": post, "unit": unit},
        missing=missing,
        treatment_kind="binary",
    )
    assert prep.treatment is not None
    d = prep.treatment
    p, post_note = _indicator(prep.extra["post"], post, "post")
    _check_groups_fixed(d, prep.extra.get("unit"), treated)
    cells = _cell_means(prep.outcome, d, p, prep.weights, (treated, post))
    table = cells["table"]
    diagnostics: dict[str, Any] = {
        "group_means": table,
        "treated_change": float(table.loc["treated", "change"]),
        "control_change": float(table.loc["control", "change"]),
        "difference": float(table.loc["difference", "change"]),
        "group_sizes": {
            f"{'treated' if k[0] else 'control'}/{'after' if k[1] else 'before'}": v for k, v in cells["counts"].items()
        },
    }
    notes = [post_note] if post_note else []
    if max(cells["counts"].values()) == 1:
        return _from_means(prep, diagnostics, notes, level)
    terms = (treated, post, f"{treated}:{post}")
    fit, dropped_with, cond = _fit_dropping(prep, d, p, terms, cov, prep.clusters)
    dropped = [name for name, _ in dropped_with]
    shifts = _covariate_shifts(prep, d, p)
    warnings, _ = _trap_warnings(fit, terms, dropped_with, shifts, cond, diagnostics["difference"])
    const_idx = [0]
    covariate_idx = [0] + [i for i, n in enumerate(fit.names) if n not in ("const", *terms)]
    sub = fit.xtx[np.ix_(covariate_idx, covariate_idx)]
    _, cov_warnings = collinearity_diagnostics(sub, [fit.names[i] for i in covariate_idx], const_idx)
    coll, _ = collinearity_diagnostics(fit.xtx, fit.names, const_idx, treatment=terms[2])
    diagnostics.update(coll)
    diagnostics["condition_number"] = cond
    if len(shifts):
        diagnostics["covariate_shifts"] = shifts
    if dropped:
        diagnostics["dropped_collinear"] = dropped
    table_c = coef_table(fit)
    stats = dict(table_c.stats)
    stats["cond_no"] = cond
    if dropped:
        stats["dropped_collinear"] = dropped
    notes.append(_cov_note(cov, groups, unit))
    j = fit.names.index(terms[2])
    return make_estimate(
        prep,
        method="did",
        label="Difference-in-differences (2x2)",
        estimand="ATT",
        estimate=float(fit.coef[j]),
        std_error=float(np.sqrt(fit.cov[j, j])),
        df=fit.df_inference,
        level=level,
        warnings=warnings + cov_warnings,
        notes=notes,
        diagnostics=diagnostics,
        coefficients=type(table_c)(table_c.names, table_c.coef, table_c.cov, table_c.df, stats),
        fit=fit,
    )


def _cov_note(cov: str, groups: list[str], unit: str | None) -> str:
    if cov == "cluster":
        why = " (the default with a unit column)" if unit is not None and groups == [unit] else ""
        return f"standard errors clustered by {', '.join(repr(g) for g in groups)}{why}"
    return f"standard errors: {cov}"


def _from_means(prep: Prepared, diagnostics: dict[str, Any], notes: list[str], level: float) -> Estimate:
    if prep.covariates.k:
        raise DataError(
            "The data has one row per group and period (a table of four means), which leaves nothing to "
            "adjust covariates with; drop covariates or pass unit-level data."
        )
    notes = [
        *notes,
        "one row per group and period: read as a table of four group means; a standard error needs unit-level data",
    ]
    return make_estimate(
        prep,
        method="did",
        label="Difference-in-differences (2x2, from means)",
        estimand="ATT",
        estimate=diagnostics["difference"],
        std_error=float("nan"),
        df=None,
        level=level,
        warnings=[NO_SE_FROM_MEANS],
        notes=notes,
        diagnostics=diagnostics,
    )


def _post_code(prep: Any, post: str) -> tuple[Any, str | None]:
    """The 0/1 coding of the post column on an engine (``_indicator``'s rules), as a per-piece function."""
    levels = prep.schema.covariates[post]
    if levels is None:  # numbers: their distinct values, from one pass
        from .._core import rows

        tpl = prep.templates
        src = rows.source(None, 1 << 16, n=prep.n, extra={"p": tpl[f"x:{post}"]})

        def distinct(part: Any) -> Any:
            return _Distinct(set(np.unique(part["p"]).tolist()[:3]))

        values = sorted(rows.fold(src, distinct, _Distinct(set())).values)
        if len(values) != 2:
            raise DataError(
                f"post {post!r} must take exactly two values (0/1), but it has {len(values)}"
                f"{': ' + str(values) if len(values) < 3 else ' or more'}. Both periods are needed."
            )
        lo, hi = values
        note = None if (lo, hi) == (0.0, 1.0) else f"post {post!r}: {hi:g} coded 1, {lo:g} coded 0"
        return (lambda local, key=f"x:{post}", hi=hi: (local[key] == hi).astype(np.float64)), note
    words = ("post", "after", "yes", "true", "1")
    hits = [i for i, lv in enumerate(levels) if str(lv).strip().lower() in words]
    if len(levels) != 2 or len(hits) != 1:
        raise DataError(f"post {post!r} has labels {sorted(map(str, levels))}; recode it to 0/1 (1 = after treatment).")
    return (lambda local, key=f"x:{post}", code=hits[0]: (local[key] == code).astype(np.float64)), (
        f"post {post!r}: {levels[hits[0]]!r} coded 1"
    )


class _Distinct:
    """Distinct values seen (at most a few per piece), merged by union."""

    def __init__(self, values: set) -> None:
        self.values = values

    def __add__(self, other: _Distinct) -> _Distinct:
        return _Distinct(self.values | other.values)


def _did_engine(
    data: Any,
    outcome: str,
    treated: str,
    post: str,
    covariates: Any,
    unit: str | None,
    weights: str | None,
    cov: str,
    groups: list[str],
    level: float,
    missing: str,
) -> Estimate:
    """:func:`did` on rows that stay on an engine: the four cell means from one pass and the regression on
    treated, post, their product and the covariates from the least-squares passes. The unit-level checks
    that need every row (a group that changes within a unit) and the dropping of covariates that moved with
    treatment are not made; such a covariate is refused as ols refuses it."""
    from .._core import rows
    from .._core.design import Part

    covs = as_name_list(covariates, "covariates")
    if post in covs:
        raise DataError(f"post {post!r} is also listed among the covariates; remove it from covariates.")
    prep = prepare_engine(
        data,
        outcome=outcome,
        treatment=treated,
        covariates=[post, *covs],
        weights=weights,
        cluster=groups,
        missing=missing,
        treatment_kind="binary",
    )
    tpl = prep.templates
    terms = (treated, post, f"{treated}:{post}")
    notes: list[str] = []
    with prep.rows():
        code, note = _post_code(prep, post)
        notes += [note] if note else []
        p_values = tpl.derive("did:p", code)
        dp_values = tpl.derive("did:dp", lambda local, code=code: local["t"] * code(local))
        src = rows.source(
            None, 1 << 16, n=prep.n, extra={"y": tpl["y"], "t": tpl["t"], "p": p_values, "w": prep.weights}
        )

        def cells(part: Any) -> np.ndarray:
            y, d, pp, w = part["y"], part["t"], part["p"], part.get("w")
            w = np.ones(part.n) if w is None else w
            out = np.zeros((4, 3))
            for i, (gd, gp) in enumerate(((1.0, 0.0), (1.0, 1.0), (0.0, 0.0), (0.0, 1.0))):
                m = (d == gd) & (pp == gp)
                out[i] = m.sum(), w[m].sum(), w[m] @ y[m]
            return out

        sums = rows.fold(src, cells, np.zeros((4, 3)))
        counts = {key: int(sums[i, 0]) for i, key in enumerate(((1.0, 0.0), (1.0, 1.0), (0.0, 0.0), (0.0, 1.0)))}
        shown = ", ".join(
            f"{'treated' if k[0] else 'control'}/{'after' if k[1] else 'before'} {v}" for k, v in counts.items()
        )
        for i, (gd, gp) in enumerate(counts):
            if sums[i, 0] == 0 or sums[i, 1] == 0:
                raise DataError(
                    f"No {'treated' if gd else 'control'} rows {'after (post)' if gp else 'before (pre)'}: a "
                    f"difference-in-differences needs all four groups ({treated!r} x {post!r}). Counts: {shown}."
                )
        means = sums[:, 2] / sums[:, 1]
        table = pd.DataFrame(
            {"before": [means[0], means[2]], "after": [means[1], means[3]]},
            index=pd.Index(["treated", "control"], name="group"),
        )
        table["change"] = table["after"] - table["before"]
        table.loc["difference"] = table.loc["treated"] - table.loc["control"]
        diagnostics: dict[str, Any] = {
            "group_means": table,
            "treated_change": float(table.loc["treated", "change"]),
            "control_change": float(table.loc["control", "change"]),
            "difference": float(table.loc["difference", "change"]),
            "group_sizes": {
                f"{'treated' if k[0] else 'control'}/{'after' if k[1] else 'before'}": v for k, v in counts.items()
            },
        }
        others = [part for part in prep.covariates.parts if part.source != post]
        design = Design(
            [
                constant_part(),
                Part(terms[0], tpl["t"], source=treated),
                Part(terms[1], p_values, source=post),
                Part(terms[2], dp_values),
                *others,
            ],
            prep.n,
        )
        codes = prep.cluster_codes()
        fit = fit_ols(
            design,
            tpl["y"],
            prep.weights,
            cov_type=cov,
            clusters=codes[0][: len(groups)],
            protect=[terms[2], terms[0], terms[1]],
            cluster_codes=codes if cov == "cluster" else None,
            log_weight_sum=prep.log_weight_sum,
        )
    coll, warnings = collinearity_diagnostics(fit.xtx, fit.names, [0], treatment=terms[2])
    diagnostics.update(coll)
    notes.append(_cov_note(cov, groups, unit))
    notes.append(
        f"computed on the {prep.engine.name} engine: a treated group that changes within a unit is not checked"
    )
    j = fit.names.index(terms[2])
    return make_estimate(
        prep,  # type: ignore[arg-type]
        method="did",
        label="Difference-in-differences (2x2)",
        estimand="ATT",
        estimate=float(fit.coef[j]),
        std_error=float(np.sqrt(fit.cov[j, j])),
        df=fit.df_inference,
        level=level,
        warnings=warnings,
        notes=notes,
        diagnostics=diagnostics,
        coefficients=coef_table(fit),
        fit=fit,
    )
