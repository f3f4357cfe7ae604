"""Bounds on omitted-variable bias benchmarked on observed covariates (Cinelli and Hazlett, 2020, section 6).

"Could a confounder as strong as Initial Health explain the effect away?" An unobserved confounder Z is
assumed to explain ``kd`` times as much of the treatment's residual variance as the benchmark covariate
X_j does, and ``ky`` times as much of the outcome's. With R2_{D~Xj|X-j} (from the regression of the
treatment on the covariates) and R2_{Y~Xj|D,X-j} (from the outcome regression), Cinelli and Hazlett's
bounds are

    R2_{D~Z|X}   = kd R2_{D~Xj|X-j} / (1 - R2_{D~Xj|X-j})
    R2_{Z~Xj|X,D} = kd R2_{D~Xj|X-j}^2 / ((1 - kd R2_{D~Xj|X-j}) (1 - R2_{D~Xj|X-j}))
    R2_{Y~Z|D,X} = ((sqrt(ky) + sqrt(R2_{Z~Xj})) / sqrt(1 - R2_{Z~Xj}))^2 R2_{Y~Xj|D,X-j} / (1 - R2_{Y~Xj|D,X-j})

and the estimate adjusted for such a confounder moves towards zero by
``se sqrt(df) sqrt(R2_{Y~Z} R2_{D~Z} / (1 - R2_{D~Z}))``, its standard error becoming
``se sqrt((1 - R2_{Y~Z}) / (1 - R2_{D~Z})) sqrt(df / (df - 1))`` with df - 1 degrees of freedom.
A benchmark that is a categorical covariate (several dummy terms) enters through its group partial
R-squared, F q / (F q + df), from the Wald F of its terms.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..data import as_name_list
from ..errors import DiagnosticWarning, SpecificationError
from ._fits import regress_on_covariates
from .sensitivity import robustness_value

__all__ = ["SensitivityBounds", "ovb_bounds"]

BOUND_COLUMNS = (
    "benchmark",
    "kd",
    "ky",
    "r2dz_x",
    "r2yz_dx",
    "adjusted_estimate",
    "adjusted_se",
    "adjusted_t",
    "adjusted_ci_low",
    "adjusted_ci_high",
    "capped",
)


@dataclass(frozen=True)
class SensitivityBounds:
    """The estimate, its robustness values and the benchmark bounds (one row per benchmark and multiple)."""

    treatment: str
    outcome: str
    estimate: float
    std_error: float
    df: float
    partial_r2: float
    rv: float
    rv_alpha: float
    alpha: float
    rows: tuple[dict[str, Any], ...]
    warnings: tuple[str, ...] = ()
    text: str = ""
    grid: dict[str, Any] = field(default_factory=dict, repr=False)
    #: benchmark -> (R2_{D~Xj|X-j}, R2_{Y~Xj|D,X-j}): the benchmark's own partial R-squared values
    benchmark_r2: dict[str, tuple[float, float]] = field(default_factory=dict, repr=False)

    def to_frame(self) -> pd.DataFrame:
        """The bounds table (columns :data:`BOUND_COLUMNS`)."""
        return pd.DataFrame(list(self.rows), columns=list(BOUND_COLUMNS))

    def to_dict(self) -> dict[str, Any]:
        return {
            "treatment": self.treatment,
            "outcome": self.outcome,
            "estimate": self.estimate,
            "std_error": self.std_error,
            "df": self.df,
            "partial_r2": self.partial_r2,
            "rv": self.rv,
            "rv_alpha": self.rv_alpha,
            "alpha": self.alpha,
            "bounds": [dict(r) for r in self.rows],
            "warnings": list(self.warnings),
            "text": self.text,
        }

    def adjusted(self, r2dz_x: Any, r2yz_dx: Any) -> np.ndarray:
        """The estimate adjusted for a confounder with these partial R-squared values (arrays broadcast)."""
        return adjusted_estimate(self.estimate, self.std_error, self.df, r2dz_x, r2yz_dx)

    def max_multiple(self, benchmark: str) -> float:
        """The largest k for which a confounder k times as strong as ``benchmark`` is possible (it would
        otherwise explain all of the treatment's residual variance)."""
        r2d, _ = self._benchmark(benchmark)
        return math.inf if r2d <= 0 else (1.0 - r2d) / r2d

    def multiple_to_erase(self, benchmark: str, *, significance: bool = False) -> float | None:
        """The k (kd = ky = k) at which a confounder k times as strong as ``benchmark`` brings the adjusted
        estimate to zero (``significance=True``: the adjusted interval to reach zero); None when no possible
        confounder does (up to :meth:`max_multiple`)."""
        from scipy.optimize import brentq

        from .._core.distributions import t_quantile

        r2d, r2y = self._benchmark(benchmark)
        crit = abs(t_quantile(self.alpha / 2.0, self.df - 1.0))
        sign = 1.0 if self.estimate >= 0 else -1.0

        def gap(k: float) -> float:
            r2dz, r2yz, _ = _bound(r2d, r2y, k, k)
            adj = float(adjusted_estimate(self.estimate, self.std_error, self.df, r2dz, r2yz)) * sign
            return adj - crit * _adjusted_se(self.std_error, self.df, r2dz, r2yz) if significance else adj

        top = min(self.max_multiple(benchmark), 1e6) * (1.0 - 1e-9)
        if gap(1e-12) <= 0.0:
            return 0.0
        if gap(top) > 0.0:
            return None
        return float(brentq(gap, 1e-12, top, xtol=1e-10, rtol=1e-10))

    def _benchmark(self, benchmark: str) -> tuple[float, float]:
        if benchmark not in self.benchmark_r2:
            raise SpecificationError(f"{benchmark!r} is not a benchmark of these bounds ({list(self.benchmark_r2)}).")
        return self.benchmark_r2[benchmark]

    def plot(self, **kwargs: Any) -> Any:
        """The contour plot of the adjusted estimate (``deconfound.plots.plot_sensitivity``)."""
        from ..plots.sensitivity import plot_sensitivity

        return plot_sensitivity(self, **kwargs)

    def __str__(self) -> str:
        return self.text


def adjusted_estimate(estimate: float, se: float, df: float, r2dz_x: Any, r2yz_dx: Any) -> np.ndarray:
    """Cinelli and Hazlett's bias-adjusted estimate, reduced towards zero."""
    r2d = np.asarray(r2dz_x, dtype=float)
    r2y = np.asarray(r2yz_dx, dtype=float)
    bias = se * math.sqrt(df) * np.sqrt(r2y * r2d / (1.0 - r2d))
    return np.sign(estimate) * (abs(estimate) - bias)


def _adjusted_se(se: float, df: float, r2d: float, r2y: float) -> float:
    return se * math.sqrt((1.0 - r2y) / (1.0 - r2d)) * math.sqrt(df / (df - 1.0))


def _bound(r2dxj: float, r2yxj: float, kd: float, ky: float) -> tuple[float, float, bool]:
    """(R2_{D~Z|X}, R2_{Y~Z|D,X}, capped) for a confounder kd/ky times as strong as the benchmark."""
    r2dz = kd * r2dxj / (1.0 - r2dxj)
    if r2dz >= 1.0:
        raise SpecificationError(
            f"kd={kd:g} is impossible for this benchmark: a confounder {kd:g} times as strong would explain all of "
            "the treatment's residual variance. Use a smaller kd."
        )
    r2zxj = kd * r2dxj**2 / ((1.0 - kd * r2dxj) * (1.0 - r2dxj))
    if r2zxj >= 1.0:
        raise SpecificationError(f"kd={kd:g} is impossible for this benchmark; use a smaller kd.")
    r2yz = ((math.sqrt(ky) + math.sqrt(r2zxj)) / math.sqrt(1.0 - r2zxj)) ** 2 * (r2yxj / (1.0 - r2yxj))
    return r2dz, min(r2yz, 1.0), r2yz > 1.0


def _partial_r2(fit: Any, column: str) -> float:
    """Partial R-squared of a covariate (all its terms, for a categorical one) in a fitted regression."""
    table = fit.coefficients
    terms = [i for i, name in enumerate(table.names) if name == column or name.startswith(f"{column}[")]
    if not terms:
        names = ", ".join(repr(n) for n in table.names if n != "Intercept")
        raise SpecificationError(f"benchmark {column!r} is not a term of the regression; its terms are {names}.")
    df = float(table.stats.get("df_resid", fit.df))
    b = table.coef[terms]
    v = table.cov[np.ix_(terms, terms)]
    q = len(terms)
    f_stat = float(b @ np.linalg.solve(v, b)) / q
    return f_stat * q / (f_stat * q + df)


def _multiples(value: Any, name: str) -> list[float]:
    values = list(value) if isinstance(value, Iterable) and not isinstance(value, str) else [value]
    out = []
    for v in values:
        try:
            number = float(v)
        except (TypeError, ValueError):
            raise SpecificationError(f"{name} must be positive numbers, got {v!r}.") from None
        if not math.isfinite(number) or number <= 0:
            raise SpecificationError(f"{name} must be positive numbers, got {v!r}.")
        out.append(number)
    if not out:
        raise SpecificationError(f"{name} must name at least one multiple (for example {name}=[1, 2, 3]).")
    return out


def ovb_bounds(
    data: Any,
    *,
    outcome: str,
    treatment: str,
    covariates: str | Iterable[str],
    benchmark: str | Iterable[str],
    kd: float | Sequence[float] = 1.0,
    ky: float | Sequence[float] | None = None,
    alpha: float = 0.05,
    weights: str | None = None,
) -> SensitivityBounds:
    """How far a confounder as strong as an observed covariate (or ``kd`` times as strong) moves the estimate.

    Fits the regression adjustment (``outcome`` on ``treatment`` and ``covariates``, OLS with the classical
    covariance, for which the bounds are exact) and the treatment's regression on the covariates, and
    returns, for each ``benchmark`` covariate and each multiple ``kd`` (with ``ky``, default ``kd``), the
    confounder's partial R-squared values and the estimate, standard error, t and interval adjusted for it.
    """
    from ..estimators.regression import ols

    covs = as_name_list(covariates, "covariates")
    marks = as_name_list(benchmark, "benchmark")
    for mark in marks:
        if mark not in covs:
            raise SpecificationError(
                f"benchmark {mark!r} must be one of the covariates ({', '.join(map(repr, covs))}): the bounds "
                "compare the unobserved confounder with an observed one."
            )
    kds = _multiples(kd, "kd")
    kys = kds if ky is None else _multiples(ky, "ky")
    if len(kys) != len(kds):
        raise SpecificationError(f"kd and ky must have the same length ({len(kds)} and {len(kys)}).")
    if not 0 < alpha < 1:
        raise SpecificationError(f"alpha must be between 0 and 1, got {alpha!r}.")
    if not isinstance(data, pd.DataFrame):
        raise SpecificationError("ovb_bounds needs a pandas DataFrame (data=).")
    fit = ols(data, outcome=outcome, treatment=treatment, covariates=covs, weights=weights)
    first = regress_on_covariates(data, treatment, covs, weights)
    return _assemble(fit, first, marks, kds, kys, alpha, outcome, treatment)


def _assemble(
    fit: Any,
    first: Any,
    marks: list[str],
    kds: list[float],
    kys: list[float],
    alpha: float,
    outcome: str,
    treatment: str,
) -> SensitivityBounds:
    from .._core.distributions import t_quantile

    df = float(fit.coefficients.stats.get("df_resid", fit.df))
    est, se = float(fit.estimate), float(fit.std_error)
    t = est / se
    crit = abs(t_quantile(alpha / 2.0, df - 1.0))
    rows, notes = [], []
    strengths: dict[str, tuple[float, float]] = {}
    for mark in marks:
        r2d, r2y = _partial_r2(first, mark), _partial_r2(fit, mark)
        strengths[mark] = (r2d, r2y)
        for k_d, k_y in zip(kds, kys):
            r2dz, r2yz, capped = _bound(r2d, r2y, k_d, k_y)
            if capped:
                notes.append(
                    f"a confounder {k_y:g} times as strong as {mark!r} with the outcome would explain more than all "
                    "of its residual variance: its R2 with the outcome is capped at 1."
                )
            adj = float(adjusted_estimate(est, se, df, r2dz, r2yz))
            adj_se = _adjusted_se(se, df, r2dz, r2yz)
            rows.append(
                {
                    "benchmark": mark,
                    "kd": k_d,
                    "ky": k_y,
                    "r2dz_x": r2dz,
                    "r2yz_dx": r2yz,
                    "adjusted_estimate": adj,
                    "adjusted_se": adj_se,
                    "adjusted_t": adj / adj_se if adj_se > 0 else float("nan"),
                    "adjusted_ci_low": adj - crit * adj_se,
                    "adjusted_ci_high": adj + crit * adj_se,
                    "capped": capped,
                }
            )
    for note in dict.fromkeys(notes):
        warnings.warn(note, DiagnosticWarning, stacklevel=3)
    partial = t * t / (t * t + df)
    rv, rv_a = robustness_value(t, df), robustness_value(t, df, alpha=alpha)
    return SensitivityBounds(
        treatment=treatment,
        outcome=outcome,
        estimate=est,
        std_error=se,
        df=df,
        partial_r2=partial,
        rv=rv,
        rv_alpha=rv_a,
        alpha=alpha,
        rows=tuple(rows),
        warnings=tuple(dict.fromkeys(notes)),
        text=_verdict(est, rows, rv, rv_a, alpha),
        benchmark_r2=strengths,
    )


def _verdict(estimate: float, rows: list[dict[str, Any]], rv: float, rv_a: float, alpha: float) -> str:
    """One sentence per benchmark: the smallest multiple that erases the effect or its significance."""
    parts = [
        f"A confounder would have to explain {rv:.1%} of the residual variance of both treatment and outcome to "
        f"erase the estimate, {rv_a:.1%} to make it insignificant at {alpha:.0%}."
    ]
    by_mark: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_mark.setdefault(row["benchmark"], []).append(row)
    for mark, group in by_mark.items():
        erased = [
            r for r in group if np.sign(r["adjusted_estimate"]) != np.sign(estimate) or r["adjusted_estimate"] == 0
        ]
        crossed = [r for r in group if r["adjusted_ci_low"] <= 0 <= r["adjusted_ci_high"]]
        if erased:
            parts.append(f"A confounder {erased[0]['kd']:g} times as strong as {mark!r} would erase the effect.")
        elif crossed:
            parts.append(
                f"A confounder {crossed[0]['kd']:g} times as strong as {mark!r} would leave an effect of the same sign "
                "but no longer significant."
            )
        else:
            strongest = max(group, key=lambda r: r["kd"])
            if strongest["capped"]:
                parts.append(
                    f"A confounder {strongest['kd']:g} times as strong as {mark!r} would have to explain all of the "
                    f"outcome's residual variance, and would still leave {strongest['adjusted_estimate']:.3g}."
                )
                continue
            parts.append(
                f"Even a confounder {strongest['kd']:g} times as strong as {mark!r} leaves a significant effect "
                f"({strongest['adjusted_estimate']:.3g})."
            )
    return " ".join(parts)
