"""IPW and AIPW on rows that stay on an engine (DuckDB, Dask, Spark): the logistic propensity model by
IRLS passes, each arm's linear outcome model by cross-product passes, and the effect with its
M-estimation standard error (stacked estimating equations, as :func:`deconfound._core.mestimation.effect`)
in three more passes. The per-row quantities (scores, weights, residuals, influences) are computed
inside each piece's kernel from the fitted coefficients; only sums come back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._core import linalg, rows
from .._core.design import Design, constant_part
from .._core.least_squares import fit_ols
from .._core.logistic import MAX_ITER, LogisticFit, _information_products, _newton, logistic_pass
from .._core.passes import check_rank
from ..data import EnginePrepared, prepare_engine
from ..errors import ConvergenceError, DataError, SpecificationError
from ..results import CoefTable, Estimate
from ._base import coef_table, make_estimate

__all__ = ["weighting_on_engine"]


def _expit(index: np.ndarray) -> np.ndarray:
    out = np.exp(-np.abs(index))
    return np.where(index >= 0, 1.0 / (1.0 + out), out / (1.0 + out))


def _logistic(design: Design, prep: EnginePrepared) -> LogisticFit:
    """The propensity model's maximum-likelihood fit from IRLS passes over the engine's rows."""
    tpl = prep.templates
    src = rows.source(None, 1 << 16, n=prep.n, extra={"t": tpl["t"], "w": prep.weights})

    def shares(part: rows.Partition) -> np.ndarray:
        t, w = part["t"], part.get("w")
        return np.array([part.n, t.sum()]) if w is None else np.array([w.sum(), w @ t])

    sw, swt = rows.fold(src, shares, np.zeros(2))
    p = swt / sw
    if not 0.0 < p < 1.0:
        raise DataError("The treatment takes one value in every row used; a propensity model needs both groups.")
    beta = np.zeros(design.k)
    beta[0] = np.log(p / (1.0 - p))
    cur = logistic_pass(design, tpl["t"], prep.weights, beta)
    check_rank(_information_products(design, cur.information, {0}))
    status, beta, cur, iterations, _ = _newton(design, tpl["t"], prep.weights, beta, cur, 6144, MAX_ITER)
    if status == "separated":
        raise DataError(
            "The propensity model cannot be fitted: the covariates separate treated from control (the "
            "maximum-likelihood estimate does not exist). Restrict the sample to where the groups overlap or "
            "leave out the separating covariate(s); fit on an in-memory sample to find which ones."
        )
    if status != "converged":
        raise ConvergenceError(
            f"the propensity model (logistic regression) did not converge in {MAX_ITER} Newton iterations. Check "
            "for covariates on wildly different scales or near-separation."
        )
    _, cov = linalg.solve_spd(cur.information, np.zeros(design.k))
    llnull = float(sw * (p * np.log(p) + (1.0 - p) * np.log1p(-p)))
    return LogisticFit(list(design.names), beta, cov, cur.information, prep.n, cur.llf, llnull, iterations)


def _ratios(method: str, estimand: str, weighting: str, t: np.ndarray, e: np.ndarray, y: np.ndarray, m: Any) -> Any:
    from .weighting import _aipw_ratios, _ipw_ratios, _ra_ratios

    if method == "aipw":
        pair = _aipw_ratios(t, e, y, m, estimand)
    elif method == "ra":
        pair = _ra_ratios(t, m, estimand)
    else:
        pair = _ipw_ratios(t, e, y, "ATO" if method == "overlap" else estimand, weighting)
    return tuple(_arrays(r) for r in pair)


def _arrays(ratio: Any) -> Any:
    """The ratio with its row expressions evaluated: a piece's rows are few, so arrays are cheap here."""
    import dataclasses

    from .._core.mestimation import RowExpr

    fields = {f.name: getattr(ratio, f.name) for f in dataclasses.fields(ratio)}
    return dataclasses.replace(ratio, **{k: v[slice(None)] for k, v in fields.items() if isinstance(v, RowExpr)})


def _factor(gh: np.ndarray | None, gc: np.ndarray | None, mu: float) -> np.ndarray | None:
    if gh is None and gc is None:
        return None
    out = np.zeros_like(gh if gh is not None else gc)
    if gc is not None:
        out -= mu * gc
    if gh is not None:
        out += gh
    return out


def _effect(
    method: str,
    estimand: str,
    weighting: str,
    prep: EnginePrepared,
    ps_design: Design | None,
    ps: LogisticFit | None,
    out_design: Design | None,
    models: dict[float, Any] | None,
    sign: float,
    g_factor: int | None = None,
    outside: EnginePrepared | None = None,
) -> tuple[float, float, tuple[float, float]]:
    """sign * (mu1 - mu0), its M-estimation standard error and (mu1, mu0), in three passes (regression
    adjustment: ``ps`` None). ``g_factor``: the clusters counted by the G/(G-1) factor (default all);
    ``outside``: rows that entered the propensity fit but not the effect (trimmed, trim_refit=False), whose
    influence goes through the propensity model only (one more pass over them)."""
    tpl = prep.templates
    kp = 0 if ps_design is None else ps_design.k
    if ps_design is None:
        assert out_design is not None
        both_designs = out_design
    else:
        both_designs = ps_design if out_design is None else ps_design.with_parts(out_design.parts)
    codes = prep.cluster_codes()[0]
    clustered = bool(codes)
    n_clusters = prep.cluster_sizes[0] if clustered else 0
    g_count = n_clusters if g_factor is None else g_factor
    extra = {"y": tpl["y"], "t": tpl["t"], "w": prep.weights, "cl": codes[0] if clustered else None}
    src = rows.source(both_designs, 1 << 13, extra=extra)
    beta = None if ps is None else ps.coef
    coefs = None if models is None else {arm: models[arm].coef for arm in (0.0, 1.0)}

    def per_row(part: rows.Partition) -> tuple:
        blk = part.block()
        xp, xo = blk[:, :kp], blk[:, kp:]
        t, y, s = part["t"], part["y"], part.get("w")
        e = np.full(len(t), 0.5) if beta is None else _expit(xp @ beta)
        fitted = None if coefs is None else {arm: xo @ c for arm, c in coefs.items()}
        m = None if fitted is None else {arm: {"fitted": f} for arm, f in fitted.items()}
        return xp, xo, t, y, s, e, fitted, _ratios(method, estimand, weighting, t, e, y, m)

    def first(part: rows.Partition) -> np.ndarray:
        _, _, _, _, s, e, _, pair = per_row(part)
        bad = float(np.count_nonzero((e <= 0.0) | (e >= 1.0)))
        sums = [float(np.sum(v if s is None else s * v)) for r in pair for v in (r.c, r.h)]
        return np.array([*sums, bad])

    tot = rows.fold(src, first, np.zeros(5))
    if tot[4]:
        raise DataError(
            f"{int(tot[4])} row(s) have a propensity score of exactly 0 or 1 (logistic), so their inverse-"
            "probability weight is infinite. Use overlap weights (method 'overlap') or restrict the sample."
        )
    den = tot[[0, 2]]
    mu = tot[[1, 3]] / den

    def second(part: rows.Partition) -> np.ndarray:
        xp, xo, _, _, s, _, _, pair = per_row(part)
        g = np.zeros((kp + xo.shape[1], 2))
        for i, r in enumerate(pair):
            f = _factor(r.gh, r.gc, float(mu[i]))
            if f is not None:
                g[:kp, i] = xp.T @ (f if s is None else s * f)
            if r.beta_arm is not None and r.hb is not None:
                g[kp:, i] = xo.T @ (r.hb if s is None else s * r.hb)
        return g

    grads = rows.fold(src, second, np.zeros((both_designs.k, 2)))
    a_ps = np.zeros((0, 2)) if ps is None else ps.cov @ grads[:kp]
    scaled = sign / den

    def squares(part: rows.Partition) -> Any:
        xp, xo, t, y, s, e, fitted, pair = per_row(part)
        r0, r1 = pair
        infl = (r0.h - mu[0] * r0.c) * scaled[0] - (r1.h - mu[1] * r1.c) * scaled[1]
        if s is not None:
            infl *= s
        resid_ps = t - e if s is None else (t - e) * s
        proj = xp @ a_ps
        for i, r in enumerate(pair):
            factor = scaled[0] if i == 0 else -scaled[1]
            if r.gh is not None or r.gc is not None:
                infl += resid_ps * proj[:, i] * factor
            if r.beta_arm is not None and r.hb is not None and fitted is not None and models is not None:
                arm = r.beta_arm
                resid = (y - fitted[arm]) * (t == arm)
                if s is not None:
                    resid = resid * s
                infl += resid * (xo @ (models[arm].xtx_inv @ grads[kp:, i])) * factor
        if clustered:
            return np.bincount(part["cl"], weights=infl, minlength=n_clusters)
        return float(infl @ infl)

    def outside_rows(part: rows.Partition) -> Any:
        xp, _, t, _, s, e, _, pair = per_row(part)
        resid_ps = t - e if s is None else (t - e) * s
        proj = xp @ a_ps
        infl = np.zeros(part.n)
        for i, r in enumerate(pair):
            if r.gh is not None or r.gc is not None:
                infl += resid_ps * proj[:, i] * (scaled[0] if i == 0 else -scaled[1])
        if clustered:
            return np.bincount(part["cl"], weights=infl, minlength=n_clusters)
        return float(infl @ infl)

    if clustered:
        by_cluster = rows.fold(src, squares, np.zeros(n_clusters))
        if outside is not None:
            with outside.rows():
                by_cluster = by_cluster + rows.fold(
                    rows.source(both_designs, 1 << 13, extra=extra), outside_rows, np.zeros(n_clusters)
                )
        total = g_count / (g_count - 1) * float(by_cluster @ by_cluster)
    else:
        total = rows.fold(src, squares, 0.0)
        if outside is not None:
            with outside.rows():
                total += rows.fold(rows.source(both_designs, 1 << 13, extra=extra), outside_rows, 0.0)
    return float(sign * (mu[0] - mu[1])), float(np.sqrt(total)), (float(mu[0]), float(mu[1]))


class _Trimmed:
    """An encoder that keeps the rows whose propensity score (from ``beta``, on the parts ``spec`` of the
    propensity design) lies in [alpha, 1 - alpha] (``inside``) or outside it: the rows of a trimmed sample,
    selected in each piece where it lives. A module-level class, so that it pickles to the workers."""

    def __init__(self, encoder: Any, spec: list[tuple[str, str | None, int | None, str | None]], beta: np.ndarray,
                 alpha: float, inside: bool = True) -> None:  # fmt: skip
        self.encoder, self.spec, self.beta, self.alpha, self.inside = encoder, spec, beta, alpha, inside

    def __call__(self, table: Any) -> tuple[dict[str, np.ndarray], int]:
        from .._core.design import Part

        local, n = self.encoder(table)
        if n == 0:
            return local, n
        parts = [Part(name, None if key is None else local[key], level, src) for name, key, level, src in self.spec]
        e = _expit(Design(parts, n).block(0, n) @ self.beta)
        keep = (e >= self.alpha) & (e <= 1.0 - self.alpha)
        if not self.inside:
            keep = ~keep
        return {k: v[keep] for k, v in local.items()}, int(np.count_nonzero(keep))


def _trim_option(trim: Any, trim_refit: Any) -> tuple[float, str]:
    """(alpha, rule) of ``trim`` on an engine: a fixed alpha as in memory; "crump" is refused (its alpha
    solves an equation over the sorted scores of every row)."""
    from ..diagnostics.overlap import trim_mask

    if not isinstance(trim_refit, (bool, np.bool_)):
        raise SpecificationError(f"trim_refit must be True or False, got {trim_refit!r}.")
    if trim is None or trim is False:
        return 0.0, "none"
    if isinstance(trim, str) and trim.lower() == "crump":
        return float("nan"), "crump"  # refused once the rows are counted (_refuse_crump)
    _, alpha, rule = trim_mask(np.array([0.5]), trim)  # validates the number as in memory
    return alpha, rule


def _refuse_crump(n: int) -> None:
    raise SpecificationError(
        "trim='crump' is not available when the rows stay on an engine: Crump et al.'s alpha solves an equation "
        f"over the sorted propensity scores of all {n:,} rows (8 bytes each: about {n * 8 / 2**30:.2f} GiB in "
        "memory). Give a fixed trim=alpha (e.g. 0.05), or find crump's alpha on an in-memory sample and pass it "
        "as trim=."
    )


def _select(
    prep: EnginePrepared, ps_design: Design, beta: np.ndarray, alpha: float, inside: bool
) -> tuple[EnginePrepared, int]:
    """``prep`` restricted to the rows inside (or outside) [alpha, 1 - alpha], with their counts, and the
    number of clusters with a row there (one pass)."""
    import dataclasses

    spec = [(p.name, prep.templates.key(p.values), p.level, p.source) for p in ps_design.parts]
    chosen = dataclasses.replace(prep, encoder=_Trimmed(prep.encoder, spec, beta, alpha, inside))  # type: ignore[arg-type]
    codes = prep.cluster_codes()[0]
    g = prep.cluster_sizes[0] if codes else 0
    tpl = prep.templates
    src_arrays = {"t": tpl["t"], "cl": codes[0] if codes else None}

    def counts(part: rows.Partition) -> np.ndarray:
        t = part["t"]
        by = np.bincount(part["cl"], minlength=g) if codes else np.zeros(0)
        return np.concatenate([[part.n, float(t.sum())], by])

    with chosen.rows():
        tot = rows.fold(rows.source(None, 1 << 16, n=prep.n, extra=src_arrays), counts, np.zeros(2 + g))
    n, n1 = int(tot[0]), int(tot[1])
    return dataclasses.replace(chosen, n=n, n_treated=n1), int(np.count_nonzero(tot[2:]))


def _arm_model(design: Design, prep: EnginePrepared, arm: float) -> Any:
    """The OLS of y on ``design`` within one arm (the other arm's rows weigh 0), its HC1 covariance scaled to
    the arm's own number of rows, as a regression on the arm's rows alone gives it."""
    import dataclasses

    fit = fit_ols(design, prep.templates["y"], prep.templates[f"arm{int(arm)}"], cov_type="HC1")
    n_arm = (prep.n_treated or 0) if arm == 1.0 else prep.n - (prep.n_treated or 0)
    factor = (n_arm / (n_arm - design.k)) / (prep.n / (prep.n - design.k))
    df = float(n_arm - design.k)
    return dataclasses.replace(
        fit, cov=fit.cov * factor, n=n_arm, df_resid=df, df_inference=None if fit.df_inference is None else df
    )


def weighting_on_engine(
    method: str,
    label: str,
    data: Any,
    *,
    outcome: str,
    treatment: str,
    covariates: Sequence[str],
    propensity_covariates: Sequence[str],
    estimand: str,
    weights: str | None,
    cluster: str | None,
    weighting: str,
    level: float,
    missing: str,
    treated_level: Any,
    options: dict[str, Any],
) -> Estimate:
    """IPW, overlap weights or AIPW with a logistic propensity model (and linear outcome models) on an engine."""
    uses_ps = method != "ra" or options.get("trim") not in (None, False)  # ra fits none unless it trims
    refused = {k: v for k, v in options.items() if k in ("propensity_model", "cross_fit", "random_state") and uses_ps}
    defaults = {"propensity_model": "logistic", "cross_fit": "auto", "random_state": None}
    for key, value in refused.items():
        if not (value is None or (isinstance(value, str) and value == defaults[key])):
            raise SpecificationError(
                f"{key}={value!r} is not available when the rows stay on an engine: there {method} uses the logistic "
                "propensity model fitted on all rows (its estimation is in the standard error). Leave it out, or "
                "load the data into memory."
            )
    trim_refit = options.get("trim_refit", True)
    alpha, rule = _trim_option(options.get("trim"), trim_refit)
    union = list(dict.fromkeys([*covariates, *propensity_covariates]))
    prep = prepare_engine(
        data,
        outcome=outcome,
        treatment=treatment,
        covariates=union,
        weights=weights,
        cluster=cluster,
        missing=missing,
        treated_level=treated_level,
    )
    n1 = prep.n_treated or 0
    n0 = prep.n - n1
    if n1 < 2 or n0 < 2:
        group = "treated" if n1 < 2 else "control"
        raise DataError(
            f"treatment {treatment!r} has {n1} treated and {n0} control row(s): the {group} group has fewer than "
            "2, too few to estimate an effect and its uncertainty. Collect more data or check the coding."
        )
    if rule == "crump":
        _refuse_crump(prep.n)
    needs_ps = method != "ra" or rule != "none"
    if needs_ps and not propensity_covariates:
        raise SpecificationError(
            "A propensity model needs covariates: pass covariates= (or propensity_covariates=) naming the "
            "confounders that drive treatment."
        )
    if cluster is not None and prep.cluster_sizes[0] < 2:
        raise DataError(
            f"cluster {cluster!r} has a single cluster in the rows used, so a clustered standard error cannot be "
            "computed; remove cluster= or cluster by a column with several groups."
        )
    covs = prep.covariates
    ps_design = covs.for_columns(propensity_covariates).with_parts([constant_part()], front=True)
    out_design = None
    notes: list[str] = []
    diagnostics: dict[str, Any] = {}
    ps: LogisticFit | None = None
    outside: EnginePrepared | None = None
    g_factor: int | None = None
    if needs_ps:
        with prep.rows():
            ps = _logistic(ps_design, prep)
    if rule != "none":
        assert ps is not None
        kept, g_kept = _select(prep, ps_design, ps.coef, alpha, inside=True)
        n_out = prep.n - kept.n
        t_out = (prep.n_treated or 0) - (kept.n_treated or 0)
        diagnostics["trimming"] = {"rule": rule, "alpha": alpha, "n_trimmed": n_out, "n_trimmed_treated": t_out,
                                   "refit": bool(trim_refit)}  # fmt: skip
        if n_out:
            k1 = kept.n_treated or 0
            if k1 < 2 or kept.n - k1 < 2:
                group = "treated" if k1 < 2 else "control"
                raise DataError(
                    f"treatment {treatment!r} has {k1} treated and {kept.n - k1} control row(s): the {group} group has "
                    "fewer than 2, too few to estimate an effect and its uncertainty. Collect more data or check the "
                    "coding."
                )
            if trim_refit:
                how = f"the propensity model was refitted on the {kept.n} rows kept"
                g_factor = g_kept
                with kept.rows():  # (regression adjustment reports it, as in memory, but does not use it)
                    ps = _logistic(ps_design, kept)
            else:
                how = f"the scores of the model fitted on all {prep.n} rows were kept (trim_refit=False)"
                if method != "ra":  # the trimmed rows' part of the logistic fit enters the standard error
                    outside = _select(prep, ps_design, ps.coef, alpha, inside=False)[0]
            notes.append(
                f"trimmed {n_out} row(s) ({t_out} treated) with propensity outside [{alpha:.4g}, {1 - alpha:.4g}] "
                f"({rule} rule); {how}, and the estimand is the effect in the population kept"
            )
            prep = kept
    with prep.rows():
        models = None
        if method in ("aipw", "ra"):
            if not covariates:
                raise SpecificationError(f"method {method!r} needs covariates= for the outcome models.")
            out_design = covs.for_columns(covariates).with_parts([constant_part()], front=True)
            models = {arm: _arm_model(out_design, prep, arm) for arm in (0.0, 1.0)}
            for arm, name in ((1.0, "treated"), (0.0, "control")):
                diagnostics[f"outcome_model_{name}"] = coef_table(models[arm]).to_frame()
        sign = -1.0 if method == "aipw" and estimand == "ATC" else 1.0
        estimate, se, mu = _effect(
            method, estimand, weighting, prep, None if method == "ra" else ps_design, None if method == "ra" else ps,
            out_design, models, sign, g_factor, outside,
        )  # fmt: skip
    if not (np.isfinite(estimate) and np.isfinite(se)):
        raise DataError(f"The {label} estimate is not finite; check the propensity scores and outcome for extremes.")
    if method != "aipw" or estimand == "ATE":
        diagnostics["potential_outcome_means"] = {"treated": mu[0], "control": mu[1]}
    if ps is not None:
        diagnostics["propensity_model"] = CoefTable(tuple(ps.names), ps.coef, ps.cov, None, ps.stats()).to_frame()
    if cluster is not None:
        shown = prep.cluster_sizes[0] if g_factor is None else g_factor
        notes.append(f"standard error clustered by {cluster!r} ({shown} clusters; G/(G-1) factor)")
    first_steps = {"aipw": "propensity and outcome models", "ra": "outcome models"}.get(method, "propensity model")
    notes.append(f"standard error from stacked estimating equations (M-estimation), accounting for the {first_steps}")
    notes.append(
        f"computed on the {prep.engine.name} engine: the per-row weights, the overlap table and the balance after "
        "weighting are not collected from the engine"
    )
    return make_estimate(
        prep,  # type: ignore[arg-type]
        method=method,
        label=label,
        estimand="ATO" if method == "overlap" else estimand,
        estimate=estimate,
        std_error=se,
        df=None,
        level=level,
        notes=notes,
        diagnostics=diagnostics,
    )
