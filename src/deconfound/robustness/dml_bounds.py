"""Omitted-variable-bias bounds for double machine learning (Chernozhukov, Cinelli, Newey, Sharma and
Syrgkanis 2022, "Long story short: omitted variable bias in causal machine learning").

A latent confounder A, left out of the covariates, biases the DML estimate of the partially linear
model (PLR, either score) or of the interactive model's ATE or ATT (IRM) by at most

    |theta_short - theta_long| <= |rho| sqrt(cf_y cf_d / (1 - cf_d)) sqrt(sigma2 nu2) = |rho| C S,

where sigma2 = E[(Y - g)^2] is the residual variance of the outcome regression, nu2 = E[alpha^2] the
second moment of the Riesz representer (the weights that turn the outcome regression into the effect),
cf_y the share of the outcome's residual variance that A explains (a partial R-squared), cf_d the
relative gain in the Riesz representer's variation from A (1 - R2 / R2 in the paper's notation; for the
PLR the partial R-squared of A with the treatment) and rho in [-1, 1] the correlation of the two
gains (|rho| = 1, the default, is the adversarial worst case). The bounds theta -/+ |rho| C S and their
standard errors follow from the influence functions of sigma2 and nu2; the confidence bounds are the
one-sided ``level`` bounds below the lower and above the upper bound (as DoubleML's
``sensitivity_analysis``), with one-way or two-way clusters as the estimate's. Repetitions are aggregated
as the estimate (medians).

For the ATT the Riesz representer carries DoubleML's weights (m / p on the ATE's, p the share
treated), and sigma2 needs the outcome model of the treated, which the ATT estimate fits only with
``fit_g1=True``. The IV models (PLIV, IIVM) are not covered (DoubleML 0.11.4 has no bounds for them
either): they are refused with the reason.

The robustness value RV is the common strength cf_y = cf_d that moves the bound onto the null value
(zero by default); RVa the strength that moves the confidence bound onto it. Benchmarking refits the
model without an observed covariate and reads off how much it explains of each side ("gain
statistics"): a latent confounder as strong as that covariate has these cf_y, cf_d and rho.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import SpecificationError

__all__ = ["DMLSensitivity", "dml_ovb", "dml_sensitivity", "gain_statistics"]

BENCHMARK_COLUMNS = (
    "benchmark",
    "cf_y",
    "cf_d",
    "rho",
    "delta_theta",
    "theta_lower",
    "theta_upper",
    "ci_lower",
    "ci_upper",
)
#: the largest confounding strength searched for a robustness value (as DoubleML: cf_d < 1)
MAX_STRENGTH = 0.9999


@dataclass(frozen=True)
class DMLSensitivity:
    """Bounds on a DML estimate under one confounding scenario (cf_y, cf_d, rho), the robustness values
    and the benchmark rows (one per observed covariate left out)."""

    model: str
    estimate: float
    cf_y: float
    cf_d: float
    rho: float
    level: float
    null_hypothesis: float
    theta_lower: float
    theta_upper: float
    se_lower: float
    se_upper: float
    ci_lower: float
    ci_upper: float
    rv: float
    rva: float
    sigma2: float
    nu2: float
    benchmarks: tuple[dict[str, Any], ...] = ()
    text: str = ""
    elements: Any = field(default=None, repr=False, compare=False)
    estimand: str = ""

    def to_frame(self) -> pd.DataFrame:
        """The benchmark table (columns :data:`BENCHMARK_COLUMNS`)."""
        return pd.DataFrame(list(self.benchmarks), columns=list(BENCHMARK_COLUMNS))

    def to_dict(self) -> dict[str, Any]:
        keys = (
            "model estimand estimate cf_y cf_d rho level null_hypothesis theta_lower theta_upper se_lower se_upper "
            "ci_lower ci_upper rv rva sigma2 nu2"
        ).split()
        out: dict[str, Any] = {k: getattr(self, k) for k in keys}
        out["benchmarks"] = [dict(r) for r in self.benchmarks]
        out["text"] = self.text
        return out

    def bounds(self, cf_y: Any, cf_d: Any, rho: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The lower and upper bounds on theta for confounders of these strengths (arrays broadcast)."""
        return _theta_bounds(self.elements, cf_y, cf_d, self.rho if rho is None else rho)

    def plot(self, **kwargs: Any) -> Any:
        """Contours of the bound nearest the null over (cf_d, cf_y) (``deconfound.plots.plot_dml_sensitivity``)."""
        from ..plots.sensitivity import plot_dml_sensitivity

        return plot_dml_sensitivity(self, **kwargs)

    def __str__(self) -> str:
        return self.text


#: what the bounds cover, for the refusals
COVERED = (
    "the partially linear model (dml, both scores) and the interactive model's ATE and ATT (dml-irm; the ATT "
    "with fit_g1=True)"
)


def _elements(result: Any) -> Any:
    diagnostics = getattr(result, "diagnostics", None)
    elements = None if diagnostics is None else diagnostics.get("dml_sensitivity")
    if elements is not None:
        return elements
    method = getattr(result, "method", type(result).__name__)
    info = (diagnostics.get("dml") if diagnostics is not None else None) or {}
    if method == "dml-irm" and info.get("estimand") == "ATT":
        raise SpecificationError(
            "the DML bounds of the ATT need the outcome model of the treated, E[Y | X, D = 1], which the ATT "
            "estimate does not fit by default: refit with dml_irm(..., estimand='ATT', fit_g1=True), or call "
            "dml_ovb(..., method='dml-irm', estimand='ATT'), which does."
        )
    if method == "dml-iv":
        raise SpecificationError(
            f"the DML omitted-variable-bias bounds are not available for the IV models (dml-iv, "
            f"model={info.get('model')!r}): neither the paper's estimator nor DoubleML's covers them. They "
            f"cover {COVERED}. For the reduced form (the effect of a binary instrument on the outcome) take the "
            "interactive model with the instrument as the treatment: dml_ovb(..., method='dml-irm', "
            "treatment=<the instrument>), or deconfound sensitivity --method dml-irm -t <the instrument>."
        )
    raise SpecificationError(f"the DML omitted-variable-bias bounds need a DML estimate of {COVERED}; got {method!r}.")


def _check_share(value: Any, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise SpecificationError(f"{name} must be a number in [0, 1), got {value!r}.") from None
    if not 0.0 <= v < 1.0:
        raise SpecificationError(f"{name} must be a share in [0, 1) (a partial R-squared), got {value!r}.")
    return v


def _strength(cf_y: Any, cf_d: Any, rho: float) -> Any:
    cf_y, cf_d = np.asarray(cf_y, dtype=float), np.asarray(cf_d, dtype=float)
    return abs(rho) * np.sqrt(cf_y * cf_d / (1.0 - cf_d))


def _max_bias(el: Any) -> tuple[np.ndarray, np.ndarray]:
    s = np.sqrt(el.sigma2 * el.nu2)
    psi = (el.sigma2 * el.psi_nu2 + el.nu2 * el.psi_sigma2) / (2.0 * s)
    return s, psi


def _theta_bounds(el: Any, cf_y: Any, cf_d: Any, rho: float) -> tuple[np.ndarray, np.ndarray]:
    c = np.asarray(_strength(cf_y, cf_d, rho))[..., None]
    s, _ = _max_bias(el)
    return np.median(el.thetas - c * s, axis=-1), np.median(el.thetas + c * s, axis=-1)


def _ses(el: Any, shift: np.ndarray) -> np.ndarray:
    from ..estimators._dml_scores import scaled_variance

    psi = el.psi_scaled + shift
    cluster2 = getattr(el, "cluster2", None)
    return np.array(
        [math.sqrt(scaled_variance(psi[:, r], el.folds[r], el.cluster, cluster2)) for r in range(psi.shape[1])]
    )


def _analysis(el: Any, cf_y: float, cf_d: float, rho: float, level: float) -> dict[str, float]:
    from .._core.distributions import normal_quantile
    from ..estimators._dml_scores import aggregate

    c = float(_strength(cf_y, cf_d, rho))
    s, psi_s = _max_bias(el)
    lo, hi = el.thetas - c * s, el.thetas + c * s
    se_lo = _ses(el, -c * psi_s)
    se_hi = _ses(el, c * psi_s)
    theta_lo, sig_lo = aggregate(lo, se_lo)
    theta_hi, sig_hi = aggregate(hi, se_hi)
    z = normal_quantile(level)
    return {
        "theta_lower": theta_lo,
        "theta_upper": theta_hi,
        "se_lower": sig_lo,
        "se_upper": sig_hi,
        "ci_lower": float(np.median(lo - z * se_lo)),
        "ci_upper": float(np.median(hi + z * se_hi)),
    }


def _robustness_values(el: Any, theta: float, null: float, rho: float, level: float) -> tuple[float, float]:
    """(RV, RVa): the strength cf_y = cf_d that brings the bound (the confidence bound) onto ``null``."""
    from scipy.optimize import brentq

    side = "upper" if null > theta else "lower"

    def gap(v: float, which: str) -> float:
        out = _analysis(el, v, v, rho, level)
        return out[f"{which}_{side}"] - null

    values = []
    for which in ("theta", "ci"):
        at_zero, at_max = gap(0.0, which), gap(MAX_STRENGTH, which)
        if (side == "lower" and at_zero <= 0.0) or (side == "upper" and at_zero >= 0.0):
            values.append(0.0)  # already at or past the null without any confounding
        elif np.sign(at_zero) == np.sign(at_max):
            values.append(1.0)  # no confounder short of explaining everything reaches the null
        else:
            values.append(float(brentq(gap, 0.0, MAX_STRENGTH, args=(which,), xtol=1e-12, rtol=1e-12)))
    return values[0], values[1]


def _words(res: dict[str, Any], null: float) -> str:
    what = "erase the effect" if null == 0 else f"move the estimate to {null:g}"
    rv, rva = res["rv"], res["rva"]
    rv_text = (
        "no confounder short of explaining everything"
        if rv >= 1.0
        else (
            f"a confounder that explains {rv:.1%} of the outcome's residual variance and {rv:.1%} of the treatment's "
            "(Riesz representer's) variation"
        )
    )
    parts = [
        f"To {what}, {rv_text} would be needed ({rva:.1%} of each to make it insignificant at "
        f"{1 - res['level']:.0%}, one-sided)."
    ]
    parts.append(
        f"With cf_y = {res['cf_y']:.3g}, cf_d = {res['cf_d']:.3g} and rho = {res['rho']:.3g} the effect lies between "
        f"{res['theta_lower']:.4g} and {res['theta_upper']:.4g} ({res['level']:.0%} confidence bounds "
        f"{res['ci_lower']:.4g} to {res['ci_upper']:.4g})."
    )
    for row in res.get("benchmarks", ()):
        crossed = row["theta_lower"] <= null <= row["theta_upper"]
        ci_crossed = row["ci_lower"] <= null <= row["ci_upper"]
        if crossed:
            verdict = f"would be enough to {what}"
        elif ci_crossed:
            verdict = "would leave an effect of the same sign but not a significant one"
        else:
            verdict = "would not be enough to explain the effect away"
        parts.append(
            f"A confounder as strong as {row['benchmark']!r} (cf_y {row['cf_y']:.3g}, cf_d {row['cf_d']:.3g}, "
            f"rho {row['rho']:.2g}) {verdict} (bounds {row['theta_lower']:.4g} to {row['theta_upper']:.4g})."
        )
    return " ".join(parts)


def dml_sensitivity(
    result: Any,
    *,
    cf_y: float = 0.03,
    cf_d: float = 0.03,
    rho: float = 1.0,
    level: float = 0.95,
    null_hypothesis: float = 0.0,
    benchmarks: Iterable[dict[str, Any]] = (),
) -> DMLSensitivity:
    """The omitted-variable-bias bounds of a DML estimate (PLR, or IRM: ATE, ATT) for a confounder of
    strength ``cf_y`` (share of the outcome's residual variance) and ``cf_d`` (gain in the Riesz
    representer's variation) with correlation ``rho``; the robustness values RV and RVa with respect to
    ``null_hypothesis``. Defaults are DoubleML's. ``benchmarks``: rows from :func:`gain_statistics`
    (use :func:`dml_ovb` to fit them)."""
    el = _elements(result)
    cf_y, cf_d = _check_share(cf_y, "cf_y"), _check_share(cf_d, "cf_d")
    try:
        rho = float(rho)
    except (TypeError, ValueError):
        raise SpecificationError(f"rho must be a number in [-1, 1], got {rho!r}.") from None
    if not -1.0 <= rho <= 1.0:
        raise SpecificationError(f"rho must lie in [-1, 1] (a correlation), got {rho!r}.")
    if not 0.0 < float(level) < 1.0:
        raise SpecificationError(f"level must lie strictly between 0 and 1, got {level!r}.")
    level, null = float(level), float(null_hypothesis)
    theta = float(np.median(el.thetas))
    res: dict[str, Any] = {"cf_y": cf_y, "cf_d": cf_d, "rho": rho, "level": level}
    res.update(_analysis(el, cf_y, cf_d, rho, level))
    res["rv"], res["rva"] = _robustness_values(el, theta, null, rho, level)
    rows = []
    for b in benchmarks:
        bound = _analysis(el, min(b["cf_y"], MAX_STRENGTH), min(b["cf_d"], MAX_STRENGTH), b["rho"], level)
        rows.append(
            {
                **{k: b[k] for k in ("benchmark", "cf_y", "cf_d", "rho", "delta_theta")},
                **{k: bound[k] for k in ("theta_lower", "theta_upper", "ci_lower", "ci_upper")},
            }
        )
    res["benchmarks"] = rows
    return DMLSensitivity(
        model=el.model,
        estimate=theta,
        cf_y=cf_y,
        cf_d=cf_d,
        rho=rho,
        level=level,
        null_hypothesis=null,
        theta_lower=res["theta_lower"],
        theta_upper=res["theta_upper"],
        se_lower=res["se_lower"],
        se_upper=res["se_upper"],
        ci_lower=res["ci_lower"],
        ci_upper=res["ci_upper"],
        rv=res["rv"],
        rva=res["rva"],
        sigma2=float(np.median(el.sigma2)),
        nu2=float(np.median(el.nu2)),
        benchmarks=tuple(rows),
        text=_words(res, null),
        elements=el,
        estimand=str(getattr(result, "estimand", "")),
    )


def gain_statistics(long: Any, short: Any, benchmark: str) -> dict[str, Any]:
    """cf_y, cf_d, rho and the change of the estimate when ``benchmark`` is left out: the strength of a
    latent confounder as strong as that covariate (DoubleML's ``gain_statistics``). ``long`` and ``short``
    are the DML estimates with and without it, on the same folds."""
    a, b = _elements(long), _elements(short)
    if a.thetas.shape != b.thetas.shape:
        raise SpecificationError("the two DML fits must have the same number of repetitions.")
    r2_long = 1.0 - a.sigma2 / a.var_y
    r2_short = 1.0 - b.sigma2 / a.var_y
    r2_riesz = b.nu2 / a.nu2
    cf_y = np.clip((r2_long - r2_short) / (1.0 - r2_long), 0.0, 1.0)
    cf_d = np.clip((1.0 - r2_riesz) / r2_riesz, 0.0, 1.0)
    delta = b.thetas - a.thetas
    var_g = b.sigma2 - a.sigma2
    var_riesz = a.nu2 - b.nu2
    ok = (var_g > 0) & (var_riesz > 0)
    denom = np.sqrt(np.where(ok, var_g * var_riesz, 0.0))
    ratio = np.ones_like(delta)
    np.divide(np.abs(delta), denom, out=ratio, where=denom != 0)
    rho = np.clip(ratio, 0.0, 1.0) * np.sign(delta)
    return {
        "benchmark": benchmark,
        "cf_y": float(np.median(cf_y)),
        "cf_d": float(np.median(cf_d)),
        "rho": float(np.median(rho)),
        "delta_theta": float(np.median(delta)),
    }


def dml_ovb(
    data: Any,
    *,
    outcome: str,
    treatment: str,
    covariates: str | Iterable[str],
    method: str = "dml",
    benchmark: str | Iterable[str] | None = None,
    cf_y: float = 0.03,
    cf_d: float = 0.03,
    rho: float = 1.0,
    level: float = 0.95,
    null_hypothesis: float = 0.0,
    random_state: Any = None,
    **options: Any,
) -> DMLSensitivity:
    """Fit the DML model (``method`` "dml" or "dml-irm", other keywords go to it: ``score`` for the PLR,
    ``estimand`` "ATE" or "ATT" for the IRM), then its bounds; each ``benchmark`` covariate is left out in
    turn (same folds, same learners) to say how strong a latent confounder like it would be, and how far
    it would move the estimate."""
    from ..data import as_name_list
    from ..estimators.dml import dml, dml_irm
    from ..estimators.learners.seeds import seed_from

    fits: dict[str, Callable[..., Any]] = {"dml": dml, "dml-irm": dml_irm}
    if method not in fits:
        hint = " (the IV models have no such bounds)" if method == "dml-iv" else ""
        raise SpecificationError(f"method must be 'dml' or 'dml-irm' for the DML bounds{hint}, got {method!r}.")
    covs = as_name_list(covariates, "covariates")
    marks = [] if benchmark is None else as_name_list(benchmark, "benchmark")
    for mark in marks:
        if mark not in covs:
            raise SpecificationError(
                f"benchmark {mark!r} must be one of the covariates ({', '.join(map(repr, covs))}): the bounds "
                "compare the latent confounder with an observed one."
            )
        if len(covs) == 1:
            raise SpecificationError(f"benchmark {mark!r} is the only covariate: leaving it out leaves nothing to fit.")
    seed = seed_from(random_state)
    fit = fits[method]
    common = {"outcome": outcome, "treatment": treatment, "random_state": seed, **options}
    if method == "dml-irm" and options.get("estimand", "ATE") in ("ATT", "ATTE"):
        common["fit_g1"] = True  # the ATT's outcome residuals of the treated need E[Y | X, D = 1]
    long = fit(data, covariates=covs, **common)
    rows = []
    for mark in marks:
        short = fit(data, covariates=[c for c in covs if c != mark], **common)
        if short.n != long.n:
            raise SpecificationError(
                f"leaving out {mark!r} changes the rows used ({long.n} -> {short.n}: missing values); drop them first."
            )
        rows.append(gain_statistics(long, short, mark))
    return dml_sensitivity(
        long, cf_y=cf_y, cf_d=cf_d, rho=rho, level=level, null_hypothesis=null_hypothesis, benchmarks=rows
    )
