"""First stage and weak-instrument diagnostics of a linear IV model.

Works on numpy arrays after the exogenous covariates (and absorbed fixed effects) have been partialled out
(see :mod:`._iv_arrays` for the conventions: ``k_exog``, weights, clusters, the covariance types).

Per endogenous regressor x_j (:func:`first_stage`):

* the coefficients on the excluded instruments and their standard errors (``cov_type``);
* partial R2 = x_j' P_Z x_j / x_j' x_j (x_j and Z partialled);
* Shea's partial R2 = [(X'X)^-1]_jj / [(X^'X^)^-1]_jj, X^ = P_Z X (equal to the partial R2 with one
  endogenous regressor; linearmodels' ``shea.rsquared``);
* the partial F = W / q, W the Wald statistic that the q instrument coefficients are zero with the model's
  covariance (nonrobust: the classical F with SSR/(n - k), k = k_exog + q; robust or clustered: the robust
  Wald over q, as ivreg2 and R's ivreg print it); the chi-squared form W is kept (linearmodels reports W
  for robust covariances and W/q for the nonrobust one);
* the Sanderson-Windmeijer (2016) conditional F: x_j minus its 2SLS projection on the other endogenous
  regressors, e_j, regressed on Z; its Wald statistic over q - p + 1, F(q - p + 1, n - q - k_exog).

Jointly (:func:`weak_iv_diagnostics`):

* Cragg-Donald Wald F = (n - q - k_exog)/q * r^2/(1 - r^2), r the smallest canonical correlation of X and Z;
* Kleibergen-Paap (2006) rk Wald F (robust or clustered): the rk Wald statistic of the smallest singular
  value of Theta = (Z'Z)^(1/2) Pi (X'X)^(-1/2), with the HC0 (or cluster) covariance of the first-stage
  scores, times (n - q - k_exog)/(n q) (clustered: (n - q - k_exog)(G - 1)/((n - 1) G q)), ivreg2's scaling;
* Stock-Yogo (2005) critical values (:mod:`.weak_iv_tables`) for the Cragg-Donald F (i.i.d. errors);
* Montiel Olea and Pflueger (2013) effective F (one endogenous regressor):
  F_eff = pi' Z'Z pi / tr(V_pi Z'Z), V_pi the first stage's covariance of ``cov_type`` (with one instrument
  the robust F, with i.i.d. errors the classical F), and its *simplified* (conservative) critical value at
  the 5% level for a Nagar bias below tau of the worst-case benchmark:
  c = chi2^-1_{K_eff}(K_eff / tau)(0.95) / K_eff (non-central), K_eff = tr(S)^2 (1 + 2/tau) /
  (tr(S'S) + 2/tau tr(S) max eig(S)), S the covariance of the orthonormalised first-stage scores (Stata's
  ``weakivtest`` prints it beside the generalised value, which needs the structural errors too).

The verdict (:class:`WeakIVDiagnostics`): with one endogenous regressor the effective F against its
critical value (tau = 10%); with several, the Kleibergen-Paap (robust) or Cragg-Donald F against the
Stock-Yogo 10% maximal-size value of the estimator (2SLS or LIML; 10% relative bias when no size value is
tabulated; 10, Staiger and Stock's rule of thumb, beyond the tables).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._core.distributions import f_sf
from .._core.options import check_option
from ..errors import WeakInstrumentWarning, warn
from . import weak_iv_tables as tables
from ._iv_arrays import ArrayLike, IVArrays, Projection, coef_cov, group_sums, prepare, wald

ESTIMATORS = ("2sls", "liml", "fuller", "gmm")
#: the Olea-Pflueger tolerances tabulated (tau: worst-case Nagar bias relative to the benchmark)
TAUS = (0.05, 0.10, 0.20, 0.30)


def _f(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


@dataclass(frozen=True)
class FirstStageRow:
    """The first stage of one endogenous regressor."""

    endogenous: str
    instruments: tuple[str, ...]
    coef: tuple[float, ...]
    std_err: tuple[float, ...]
    partial_r2: float
    shea_r2: float
    f_stat: float
    chi2: float
    df_num: int
    df_denom: float
    p_value: float
    sw_f: float
    sw_df_num: int
    sw_p_value: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "endogenous": self.endogenous,
            "coef": dict(zip(self.instruments, self.coef, strict=True)),
            "std_err": dict(zip(self.instruments, self.std_err, strict=True)),
            "partial_r2": self.partial_r2,
            "shea_r2": self.shea_r2,
            "f_stat": self.f_stat,
            "chi2": self.chi2,
            "df_num": self.df_num,
            "df_denom": self.df_denom,
            "p_value": self.p_value,
            "sw_f": self.sw_f,
            "sw_df_num": self.sw_df_num,
            "sw_p_value": self.sw_p_value,
        }


@dataclass(frozen=True)
class FirstStage:
    """The first-stage regressions, one row per endogenous regressor."""

    rows: tuple[FirstStageRow, ...]
    cov_type: str
    n: int

    def __getitem__(self, name: str) -> FirstStageRow:
        for row in self.rows:
            if row.endogenous == name:
                return row
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {"cov_type": self.cov_type, "n": self.n, "endogenous": [row.to_dict() for row in self.rows]}

    def to_frame(self) -> Any:
        import pandas as pd

        cols = ("partial_r2", "shea_r2", "f_stat", "df_num", "df_denom", "p_value", "sw_f")
        data = {c: [getattr(r, c) for r in self.rows] for c in cols}
        return pd.DataFrame(data, index=pd.Index([r.endogenous for r in self.rows], name="endogenous"))

    def coef_frame(self) -> Any:
        """The coefficients on the excluded instruments with their standard errors (long form)."""
        import pandas as pd

        records = [
            (r.endogenous, z, b, s) for r in self.rows for z, b, s in zip(r.instruments, r.coef, r.std_err, strict=True)
        ]
        return pd.DataFrame(records, columns=["endogenous", "instrument", "coef", "std_err"]).set_index(
            ["endogenous", "instrument"]
        )


def _first_stage(st: IVArrays, proj: Projection) -> tuple[FirstStageRow, ...]:
    X = st.X
    q, p = st.q, st.p
    pi = np.column_stack([proj.regress(st, ("x", j), X[:, j]).coef for j in range(p)])
    shea = np.diag(np.linalg.inv(X.T @ X)) / np.diag(np.linalg.inv(pi.T @ proj.zz @ pi))  # X^'X^ = Pi'Z'Z Pi
    fitted = st.Z @ pi if p > 1 else None
    rows = []
    for j in range(p):
        x = X[:, j]
        fit = proj.regress(st, ("x", j), x)
        coef, resid, cov, df = fit.coef, fit.resid, fit.cov, fit.df
        chi2 = wald(coef, cov)
        sw_chi2, sw_df = _sanderson_windmeijer(st, proj, fitted, j) if fitted is not None else (chi2, q)
        rows.append(
            FirstStageRow(
                endogenous=st.endog_names[j],
                instruments=st.instrument_names,
                coef=tuple(float(c) for c in coef),
                std_err=tuple(float(s) for s in np.sqrt(np.diag(cov))),
                partial_r2=float(1.0 - (resid @ resid) / (x @ x)),
                shea_r2=float(shea[j]),
                f_stat=chi2 / q,
                chi2=chi2,
                df_num=q,
                df_denom=float(df),
                p_value=f_sf(chi2 / q, q, df),
                sw_f=sw_chi2 / sw_df,
                sw_df_num=sw_df,
                sw_p_value=f_sf(sw_chi2 / sw_df, sw_df, df),
            )
        )
    return tuple(rows)


def _sanderson_windmeijer(st: IVArrays, proj: Projection, fitted: np.ndarray, j: int) -> tuple[float, int]:
    """(Wald statistic, q - p + 1) of the SW conditional first stage of endogenous regressor j."""
    others = [k for k in range(st.p) if k != j]
    Xo, Xh = st.X[:, others], fitted[:, others]
    delta = np.linalg.solve(Xh.T @ Xo, Xh.T @ st.X[:, j])
    e = st.X[:, j] - Xo @ delta
    gamma = proj.coef(e)
    cov, _ = coef_cov(st, st.Z, e - st.Z @ gamma, proj.zz_inv)
    return wald(gamma, cov), st.q - st.p + 1


def first_stage(
    y: ArrayLike,
    X: ArrayLike,
    Z: ArrayLike,
    *,
    k_exog: int,
    weights: ArrayLike | None = None,
    clusters: object = None,
    cov_type: str = "nonrobust",
    exog_leverage: ArrayLike | None = None,
    endog_names: Sequence[str] | None = None,
    instrument_names: Sequence[str] | None = None,
) -> FirstStage:
    """The first-stage regressions of each endogenous regressor on the excluded instruments (partialled
    arrays; see the module docstring). ``y`` is only validated (the first stage does not use it)."""
    st = prepare(
        y,
        X,
        Z,
        weights=weights,
        clusters=clusters,
        cov_type=cov_type,
        k_exog=k_exog,
        exog_leverage=exog_leverage,
        endog_names=endog_names,
        instrument_names=instrument_names,
        method="first_stage",
    )
    return FirstStage(_first_stage(st, Projection.of(st.Z)), st.cov_type, st.n)


# --------------------------------------------------------------------------------------------------
# rank statistics: Cragg-Donald and Kleibergen-Paap
# --------------------------------------------------------------------------------------------------


def _inv_chol(m: np.ndarray) -> np.ndarray:
    """R^-1 of the upper Cholesky factor R (R'R = m)."""
    upper = np.linalg.cholesky(m).T
    return np.linalg.inv(upper)


def cragg_donald_f(st: IVArrays, proj: Projection) -> float:
    """(n - q - k_exog)/q * r^2/(1 - r^2), r the smallest canonical correlation of X and Z."""
    r2 = _smallest_canonical(st, proj)
    return float(st.df_resid / st.q * r2 / (1.0 - r2))


def _smallest_canonical(st: IVArrays, proj: Projection) -> float:
    xpx = st.X.T @ st.X
    a = _inv_chol(xpx)
    pi = np.column_stack([proj.regress(st, ("x", j), st.X[:, j]).coef for j in range(st.p)])
    m = a.T @ (pi.T @ proj.zz @ pi) @ a  # X'P_Z X
    return float(np.linalg.eigvalsh(0.5 * (m + m.T))[0])


def kleibergen_paap_f(st: IVArrays, proj: Projection) -> float:
    """The rk Wald F of the first stage with the HC0 or cluster covariance of the scores (ivreg2's scaling).

    Theta = R_z Pi R_x^-1 (R'R the Cholesky factors of Z'Z/n and X'X/n); with Theta = U S V', the rk
    statistic of the smallest singular value is n lam' [(B (x) A)' V_theta (B (x) A)]^-1 lam,
    lam = A' Theta B, A and B the singular vectors of the q - p + 1 and 1 smallest singular values, and
    V_theta the covariance of sqrt(n) vec(Theta) from the first-stage residual scores v_j z_i.
    """
    n, q, p = st.n, st.q, st.p
    rz, rx = _inv_chol(proj.zz / n), _inv_chol(st.X.T @ st.X / n)  # R_z^-1, R_x^-1
    pi = proj.zz_inv @ (st.Z.T @ st.X)
    theta = np.linalg.inv(rz) @ pi @ rx
    u, _, vt = np.linalg.svd(theta)
    a, b = u[:, p - 1 :], vt.T[:, p - 1 :]
    lam = (b.T @ theta.T @ a).ravel(order="C")  # vec(A' Theta B), one column
    resid = np.column_stack([proj.regress(st, ("x", j), st.X[:, j]).resid for j in range(p)])
    scores = np.column_stack([resid[:, [j]] * st.Z for j in range(p)])  # vec(Z'V) ordered by regressor
    if st.cov_type == "cluster":
        codes = list(st.clusters)
        sums = [group_sums(scores, c) for c in codes]
        if len(codes) == 2:
            from .._core.covariance import intersect_codes

            sums.append(group_sums(scores, intersect_codes(codes[0], codes[1])))
            shat = (sums[0].T @ sums[0] + sums[1].T @ sums[1] - sums[2].T @ sums[2]) / n
        else:
            shat = sums[0].T @ sums[0] / n
    else:
        shat = scores.T @ scores / n
    transform = np.kron(rx.T, rz.T)  # vec(Theta) = (R_x^-T (x) R_z) vec(Pi); cov(vec Pi) = (I (x) Qzz^-1) S (.)
    v_theta = transform @ shat @ transform.T
    select = np.kron(b.T, a.T)
    v_lam = select @ v_theta @ select.T
    stat = n * wald(lam, 0.5 * (v_lam + v_lam.T))
    if st.cov_type == "cluster":
        g = min(int(c.max()) + 1 for c in st.clusters)
        scale = st.df_resid * (g - 1) / (g * (n - 1.0))
    else:
        scale = st.df_resid / n
    return float(stat * scale / q)


# --------------------------------------------------------------------------------------------------
# Olea-Pflueger effective F
# --------------------------------------------------------------------------------------------------


def effective_f(st: IVArrays, proj: Projection) -> tuple[float, dict[str, float], float]:
    """(F_eff, simplified 5% critical values by tau, K_eff) for one endogenous regressor."""
    from scipy import special

    fit = proj.regress(st, ("x", 0), st.X[:, 0])
    pi, cov = fit.coef, fit.cov
    f_eff = float(pi @ proj.zz @ pi / np.trace(cov @ proj.zz))
    root = np.linalg.cholesky(proj.zz)  # L L' = Z'Z; S = L' V L is the covariance of orthonormalised scores
    s = root.T @ cov @ root
    s = 0.5 * (s + s.T)
    tr, tr2, top = float(np.trace(s)), float(np.sum(s * s)), float(np.linalg.eigvalsh(s)[-1])
    values: dict[str, float] = {}
    k_eff = float("nan")
    for tau in TAUS:
        xk = 1.0 / tau
        k = tr**2 * (1.0 + 2.0 * xk) / (tr2 + 2.0 * xk * tr * top)
        values[f"{tau:.0%}"] = float(special.chndtrix(0.95, k, k * xk) / k)
        if tau == 0.10:
            k_eff = float(k)
    return f_eff, values, k_eff


# --------------------------------------------------------------------------------------------------
# Stock-Yogo
# --------------------------------------------------------------------------------------------------


def stock_yogo(n_endog: int, n_instruments: int, estimator: str = "2sls") -> dict[str, dict[str, float]]:
    """Stock-Yogo (2005) critical values for the Cragg-Donald F with ``n_endog`` endogenous regressors and
    ``n_instruments`` excluded instruments: {"relative_bias": {"5%": ...}, "size": {"10%": ...}}, the tables
    that exist for the estimator (2SLS: Tables 5.1 and 5.2; LIML: Table 5.4); empty where none is tabulated."""
    estimator = check_option("estimator", estimator, ESTIMATORS)
    out: dict[str, dict[str, float]] = {}
    sources: list[tuple[str, Mapping[int, Mapping[int, tuple[float | None, ...]]], tuple[float, ...]]] = []
    if estimator in ("2sls", "gmm"):
        sources = [
            ("relative_bias", tables.TSLS_BIAS, tables.BIAS_LEVELS),
            ("size", tables.TSLS_SIZE, tables.SIZE_LEVELS),
        ]
    elif estimator in ("liml", "fuller"):
        sources = [("size", tables.LIML_SIZE, tables.SIZE_LEVELS)]
    for key, table, levels in sources:
        row = table.get(n_endog, {}).get(n_instruments)
        if row is not None:
            out[key] = {f"{lvl:.0%}": v for lvl, v in zip(levels, row, strict=True) if v is not None}
    return out


# --------------------------------------------------------------------------------------------------
# the summary
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeakIVDiagnostics:
    """First stage and weak-instrument statistics, with a verdict in words."""

    first_stage: FirstStage
    cragg_donald_f: float
    kleibergen_paap_f: float | None  # robust or clustered covariances only
    effective_f: float | None  # one endogenous regressor only
    effective_f_critical: Mapping[str, float] = field(default_factory=dict)  # simplified, 5% level, by tau
    k_eff: float | None = None
    stock_yogo: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    estimator: str = "2sls"
    weak: bool = False
    statistic_name: str = ""
    statistic: float = float("nan")
    critical_value: float = float("nan")
    verdict: str = ""

    @property
    def warning(self) -> str | None:
        """The warning message when the instruments are weak (None otherwise)."""
        return self.verdict if self.weak else None

    def emit(self) -> None:
        """Issue the weak-instrument warning (a :class:`~deconfound.errors.WeakInstrumentWarning`), if any."""
        if self.weak:
            warn(self.verdict, WeakInstrumentWarning)

    def to_dict(self) -> dict[str, Any]:
        return {
            "weak": self.weak,
            "verdict": self.verdict,
            "statistic_name": self.statistic_name,
            "statistic": _f(self.statistic),
            "critical_value": _f(self.critical_value),
            "cragg_donald_f": _f(self.cragg_donald_f),
            "kleibergen_paap_f": _f(self.kleibergen_paap_f),
            "effective_f": _f(self.effective_f),
            "effective_f_critical": dict(self.effective_f_critical),
            "effective_f_critical_kind": "simplified (conservative), 5% level"
            if self.effective_f is not None
            else None,
            "k_eff": _f(self.k_eff),
            "stock_yogo": {k: dict(v) for k, v in self.stock_yogo.items()},
            "estimator": self.estimator,
            "cov_type": self.first_stage.cov_type,
        }

    def __str__(self) -> str:
        lines = [self.verdict]
        for r in self.first_stage.rows:
            lines.append(
                f"  first stage of {r.endogenous}: F({r.df_num}, {r.df_denom:g}) = {r.f_stat:.4g}, partial R2 = "
                f"{r.partial_r2:.4g}, Shea R2 = {r.shea_r2:.4g}, Sanderson-Windmeijer F = {r.sw_f:.4g}"
            )
        lines.append(f"  Cragg-Donald Wald F = {self.cragg_donald_f:.4g}")
        if self.kleibergen_paap_f is not None:
            lines.append(f"  Kleibergen-Paap rk Wald F = {self.kleibergen_paap_f:.4g}")
        if self.effective_f is not None:
            crit = self.effective_f_critical.get("10%", float("nan"))
            lines.append(
                f"  Olea-Pflueger effective F = {self.effective_f:.4g} (5% critical value, tau = 10%: {crit:.4g})"
            )
        return "\n".join(lines)


def _verdict(diag: WeakIVDiagnostics, q: int) -> WeakIVDiagnostics:
    from dataclasses import replace

    p = len(diag.first_stage.rows)
    many = "instruments are" if q > 1 else "instrument is"
    if diag.effective_f is not None:
        stat, crit, name = diag.effective_f, diag.effective_f_critical["10%"], "effective F"
        need = (
            "a 2SLS Nagar bias at most 10% of the worst-case benchmark, tested at the 5% level (Montiel Olea and "
            "Pflueger 2013, simplified critical value)"
        )
    else:
        robust = diag.kleibergen_paap_f is not None
        stat = diag.kleibergen_paap_f if robust else diag.cragg_donald_f  # type: ignore[assignment]
        name = "Kleibergen-Paap rk Wald F" if robust else "Cragg-Donald Wald F"
        table = "LIML" if diag.estimator in ("liml", "fuller") else "2SLS"
        if "size" in diag.stock_yogo and "10%" in diag.stock_yogo["size"]:
            crit = diag.stock_yogo["size"]["10%"]
            need = f"the Stock-Yogo critical value for a nominal 5% {table} Wald test to have size at most 10%"
        elif "relative_bias" in diag.stock_yogo:
            crit = diag.stock_yogo["relative_bias"]["10%"]
            need = f"the Stock-Yogo critical value for a {table} bias at most 10% of OLS's"
        else:
            crit = 10.0
            need = "the rule of thumb of 10 (Staiger and Stock 1997; no Stock-Yogo value is tabulated here)"
        if robust:
            need += " (derived for i.i.d. errors, so only a guide under a robust covariance)"
    weak = bool(stat < crit)
    endog = f" for {p} endogenous regressors" if p > 1 else ""
    if weak:
        text = (
            f"The {many} weak{endog}: {name} = {stat:.3g}, below the {crit:.3g} needed for {need}. Wald intervals "
            "and tests are unreliable; read the Anderson-Rubin interval (or the tF interval) instead."
        )
    else:
        text = f"The {many} not weak{endog} by this test: {name} = {stat:.3g}, above the {crit:.3g} needed for {need}."
    return replace(
        diag, weak=weak, statistic_name=name, statistic=float(stat), critical_value=float(crit), verdict=text
    )


def weak_iv_diagnostics(
    y: ArrayLike,
    X: ArrayLike,
    Z: ArrayLike,
    *,
    k_exog: int,
    weights: ArrayLike | None = None,
    clusters: object = None,
    cov_type: str = "nonrobust",
    estimator: str = "2sls",
    exog_leverage: ArrayLike | None = None,
    endog_names: Sequence[str] | None = None,
    instrument_names: Sequence[str] | None = None,
) -> WeakIVDiagnostics:
    """First stage, Cragg-Donald and Kleibergen-Paap F, Stock-Yogo critical values, the Olea-Pflueger effective
    F (one endogenous regressor) and the verdict, from the partialled arrays (see the module docstring).
    Nothing is warned here: call :meth:`WeakIVDiagnostics.emit` to issue the warning."""
    estimator = check_option("estimator", estimator, ESTIMATORS)
    st = prepare(
        y,
        X,
        Z,
        weights=weights,
        clusters=clusters,
        cov_type=cov_type,
        k_exog=k_exog,
        exog_leverage=exog_leverage,
        endog_names=endog_names,
        instrument_names=instrument_names,
        method="weak_iv_diagnostics",
    )
    return diagnose(st, Projection.of(st.Z), estimator)


def diagnose(st: IVArrays, proj: Projection, estimator: str = "2sls") -> WeakIVDiagnostics:
    """:func:`weak_iv_diagnostics` on prepared arrays (an estimator that has them already)."""
    fs = FirstStage(_first_stage(st, proj), st.cov_type, st.n)
    kp = None if st.cov_type == "nonrobust" else kleibergen_paap_f(st, proj)
    eff, crit, k_eff = effective_f(st, proj) if st.p == 1 else (None, {}, None)
    diag = WeakIVDiagnostics(
        first_stage=fs,
        cragg_donald_f=cragg_donald_f(st, proj),
        kleibergen_paap_f=kp,
        effective_f=eff,
        effective_f_critical=crit,
        k_eff=k_eff,
        stock_yogo=stock_yogo(st.p, st.q, estimator),
        estimator=estimator,
    )
    return _verdict(diag, st.q)
