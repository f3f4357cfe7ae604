"""The IV fit and what it reports: the second-stage table, the overidentification test (Sargan / Hansen J),
the Durbin-Wu-Hausman endogeneity test in its control-function form, and the reduced form.

Everything here reads the :class:`deconfound.estimators.iv.IVProblem` built once by ``build_iv_problem``;
the reduced form and the control-function regression ride along in the fit's last pass over the rows.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np

from .._core.covariance import pass_kind
from .._core.distributions import chi2_sf, two_sided_p
from .._core.iv import IVFit, SpecSums, fit_iv, gmm, linear_spec, ols_spec, residual_pass, selector, spec_covariance
from ..diagnostics.hypotheses import TestResult
from ..errors import DataError
from ..results import CoefTable, Estimate, LazyValue
from ._base import make_estimate
from ._iv_weak import WeakIVResult, instrument_diagnostics

if TYPE_CHECKING:
    from .iv import IVProblem

LABELS = {
    "2sls": "Instrumental variables (2SLS)",
    "liml": "Instrumental variables (LIML)",
    "fuller": "Instrumental variables (Fuller)",
    "gmm": "Instrumental variables (two-step GMM)",
}


def fit_and_report(problem: IVProblem, *, estimator: str, fuller: float, small_sample: bool, level: float) -> Estimate:
    """Fit ``estimator`` on the problem and build the Estimate with its diagnostics."""
    prod, lay = problem.products, problem.layout
    fit = fit_iv(
        problem.design, problem.y, problem.weights, lay, estimator=estimator, fuller=fuller,
        cov_type=problem.cov_type, clusters=problem.clusters, small_sample=small_sample, rules=problem.rules,
        k_absorbed=problem.k_absorbed, products=prod, chunk_rows=problem.chunk_rows,
        cluster_codes=problem.cluster_codes if problem.cov_type == "cluster" else None,
    )  # fmt: skip
    if problem.report is not None:  # an engine's absorbed fixed effects: their constant and dummies not shown
        keep = list(problem.report)
        cov = fit.cov[np.ix_(keep, keep)]
        fit = dataclasses.replace(fit, names=[fit.names[i] for i in keep], coef=fit.coef[keep], cov=cov)
    j = fit.names.index(problem.roles.treatment)
    var = fit.cov[j, j]
    if not var >= 0:
        raise DataError(
            f"The two-way cluster-robust variance of {problem.roles.treatment!r} is negative ({var:.3g}); "
            "cluster on one dimension only."
        )
    side = _SideRegressions(problem, fit, small_sample)
    diagnostics = {
        "overid": overid_test(fit, problem, small_sample),
        "endogeneity": LazyValue(side.endogeneity),  # one more pass over the rows, run when first read
        "reduced_form": LazyValue(side.reduced_form),
    }
    stats = _stats(fit, problem, small_sample)
    table = CoefTable(tuple(fit.names), fit.coef, fit.cov, fit.df_inference, stats)
    prep = problem.prep
    binary = prep.treatment_kind == "binary"
    notes = [_estimand_note(problem, binary)]
    if problem.roles.absorb:
        notes.append(f"fixed effects absorbed: {', '.join(problem.roles.absorb)} ({problem.n_fe} parameters)")
    data_warnings = []
    if problem.n_singletons:
        data_warnings.append(
            f"{problem.n_singletons} observation(s) dropped because they are alone in their group of a fixed effect "
            f"({', '.join(problem.roles.absorb)}) (fixest drops them the same way)."
        )
    if problem.rows is None:
        extra, weak = instrument_diagnostics(
            problem, estimator=estimator, estimate=float(fit.coef[j]), std_error=float(np.sqrt(var)), level=level
        )
        diagnostics.update(extra)
    else:  # an engine's rows: the weak-instrument statistics from the partialled sums (one more pass)
        from ._iv_weak_engine import engine_instrument_diagnostics

        extra, message, more = engine_instrument_diagnostics(
            problem, estimator=estimator, estimate=float(fit.coef[j]), std_error=float(np.sqrt(var)), level=level
        )
        diagnostics.update(extra)
        notes += more
        weak = WeakIVResult(message)
    result = make_estimate(
        prep,
        method="iv",
        label=LABELS[estimator],
        estimand="LATE" if binary else "LATE (per unit)",
        estimate=float(fit.coef[j]),
        std_error=float(np.sqrt(var)),
        df=fit.df_inference,
        level=level,
        notes=notes,
        diagnostics=diagnostics,
        coefficients=table,
        data_warnings=data_warnings,
        n=problem.n,
        n_clusters=min(fit.n_clusters) if fit.n_clusters else None,
    )
    return weak.attach(result)


def _estimand_note(problem: IVProblem, binary: bool) -> str:
    t, z = problem.roles.treatment, ", ".join(problem.roles.instruments)
    if binary:
        return (
            f"the IV estimate is the effect of {t!r} for compliers, the units whose treatment the instrument(s) {z} "
            "move (a LATE), assuming the instruments are as good as random, affect the outcome only through the "
            "treatment, and move nobody away from it (monotonicity)"
        )
    return (
        f"the IV estimate is the effect of one more unit of {t!r} for the units whose {t!r} the instrument(s) {z} "
        "move, a weighted average of their per-unit effects (assuming exclusion and monotonicity)"
    )


def _stats(fit: IVFit, problem: IVProblem, small_sample: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "cov_type": fit.cov_type,
        "estimator": fit.estimator,
        "kappa": fit.kappa,
        "n": fit.n,
        "df_resid": float(fit.n - fit.df_k),
        "df_model": float(len(fit.names) - (0 if problem.roles.absorb else 1)),
        "small_sample": small_sample,
        "endog": problem.endog_names,
        "instruments": problem.instrument_names,
    }
    if fit.liml_kappa is not None:
        out["liml_kappa"] = fit.liml_kappa
    if fit.n_clusters:
        out["n_clusters"] = list(fit.n_clusters)
    if problem.roles.absorb:
        out.update({"fixed_effects": list(problem.roles.absorb), "k_fe": problem.n_fe, "df_k": fit.df_k,
                    "n_singletons": problem.n_singletons})  # fmt: skip
    return out


# --------------------------------------------------------------------------------------------------
# tests
# --------------------------------------------------------------------------------------------------


def overid_test(fit: IVFit, problem: IVProblem, small_sample: bool) -> TestResult:
    """Sargan's nR^2 (nonrobust covariance) or Hansen's J (robust or clustered) test of the overidentifying
    restrictions: are the instruments beyond the first ones uncorrelated with the error?"""
    n_e, n_z = len(problem.layout.endog), len(problem.layout.instruments)
    null = "the overidentifying restrictions hold (every instrument is uncorrelated with the error)"
    if n_z == n_e:
        name = "Sargan test" if fit.cov_type == "nonrobust" else "Hansen J test"
        return TestResult.not_applicable(
            name, "exactly identified: there are as many instruments as endogenous regressors, so nothing to test"
        )
    df = float(n_z - n_e)
    system, g = fit.system, fit.moments
    if fit.cov_type == "nonrobust":
        stat = float(fit.n * (g @ system.szz_inv @ g) / fit.ssr)
        return TestResult("Sargan test", stat, "chi2", df, None, chi2_sf(stat, df), null,
                          details={"form": "n R^2 of the residuals on the instruments"})  # fmt: skip
    if fit.moment_cov is None:
        return TestResult.not_applicable(
            "Hansen J test", f"computed with the HC0/HC1 or clustered moment covariance, not {fit.cov_type}"
        )
    s = fit.moment_cov
    if fit.estimator != "gmm":
        try:
            beta, _, _ = gmm(system, s)
        except DataError as exc:
            return TestResult.not_applicable("Hansen J test", str(exc))
        g = system.szy - system.szx @ beta
    stat = float(g @ np.linalg.solve(0.5 * (s + s.T), g))
    weight = "clustered" if fit.cov_type == "cluster" else "robust"
    form = f"the two-step GMM objective, weighted by the {weight} moment covariance"
    return TestResult("Hansen J test", stat, "chi2", df, None, chi2_sf(stat, df), null, details={"form": form})


class _SideRegressions:
    """The reduced form (y on the instruments and covariates) and the control-function regression (y on the
    regressors and the first-stage residuals): both from the products, their covariances from one more pass
    over the rows, run the first time either is read."""

    def __init__(self, problem: IVProblem, fit: IVFit, small_sample: bool) -> None:
        self.problem, self.fit, self.small_sample = problem, fit, small_sample
        self._sums: list[SpecSums] | None = None
        prod, lay = problem.products, problem.layout
        kind = pass_kind(fit.cov_type)
        p, n_e = len(prod.names), len(lay.endog)
        self.rf_spec, self.rf_beta, self.rf_bread = ols_spec(prod, lay.q, kind)
        residual = selector(p, lay.endog) - selector(p, lay.q) @ fit.system.pi[:, :n_e]
        combo = np.hstack([selector(p, lay.x), residual])
        self.cf_spec, self.cf_beta, self.cf_bread = linear_spec(prod, combo, kind)

    def _covariance(self, index: int, bread: np.ndarray) -> tuple[np.ndarray, float | None]:
        problem, fit = self.problem, self.fit
        if self._sums is None:
            codes, _ = problem.cluster_terms()
            # read lazily, after the fit returned: an engine's rows are entered again for this one pass
            with problem.rows() if problem.rows is not None else contextlib.nullcontext():
                self._sums = residual_pass(
                    problem.design, problem.y, problem.weights, [self.rf_spec, self.cf_spec],
                    problem.products.coords, pass_kind(fit.cov_type), codes, problem.chunk_rows,
                )  # fmt: skip
        df_k = bread.shape[0] + problem.k_absorbed
        return spec_covariance(
            fit.cov_type, bread, self._sums[index], fit.n, df_k, fit.n_clusters, self.small_sample, problem.rules
        )  # fmt: skip

    def endogeneity(self) -> TestResult:
        """Durbin-Wu-Hausman in the regression (control-function) form: the outcome on the regressors and the
        first-stage residuals; the residuals' coefficients tested jointly with the fit's covariance type."""
        n_e = len(self.problem.layout.endog)
        cov, _ = self._covariance(1, self.cf_bread)
        b, v = self.cf_beta[-n_e:], cov[-n_e:, -n_e:]
        stat = float(b @ np.linalg.solve(v, b))
        df = float(n_e)
        return TestResult(
            "Durbin-Wu-Hausman test (control function)", stat, "chi2", df, None, chi2_sf(stat, df),
            "the endogenous regressor(s) are exogenous (OLS would be consistent)",
            details={"cov_type": self.fit.cov_type, "coefficients": [float(x) for x in b]},
        )  # fmt: skip

    def reduced_form(self) -> Any:
        """The outcome on the instruments and covariates: the instruments' rows (estimate, std_error, p_value)."""
        import pandas as pd

        cov, df = self._covariance(0, self.rf_bread)
        n_w = len(self.problem.layout.exog)
        b = self.rf_beta[n_w:]
        se = np.sqrt(np.diag(cov)[n_w:])
        return pd.DataFrame(
            {
                "term": self.problem.instrument_names,
                "estimate": b,
                "std_error": se,
                "p_value": np.asarray(two_sided_p(b / se, df)),
            }
        )
