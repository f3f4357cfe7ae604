"""The weak-instrument statistics of an IV fit whose rows stay on an engine, from sums.

Every statistic of :mod:`deconfound.diagnostics.weak_iv` and the Anderson-Rubin set of
:mod:`deconfound.diagnostics.weak_iv_inference` regresses a column of the partialled (and weighted) rows
``v = [X, y, Z]`` (m = p + 1 + q columns) on the partialled instruments ``Z``; every residual there is a
linear combination ``r'v`` of those columns. So they need only

* the partialled cross-products ``V'WV`` (the Schur complement of the IV products on the exogenous
  covariates: no pass), which give every coefficient, SSR, partial R2, Shea R2, Cragg-Donald F and the
  nonrobust covariances;
* for a robust covariance, the fourth moments ``T = sum_i (v_i (x) z_i)(v_i (x) z_i)'`` (weighted rows,
  (mq) x (mq)); the HC0 meat of residual r is ``(r (x) I)' T (r (x) I)``, and the Kleibergen-Paap score
  covariance is the same with the first-stage residuals side by side; HC2/HC3 add ``T`` with each row
  divided by ``(1 - h_i)^a`` (h_i: the row's leverage on the covariates and instruments);
* for a clustered covariance, each cluster's sum of ``v_i (x) z_i`` (G x mq, for each clustering and the
  intersection of two).

One pass over the engine's rows collects them (none for a nonrobust covariance); the statistics are then
those of the in-memory path (equal to rounding, checked in tests/engines). The complier analysis needs the
rows themselves and is not computed.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from .._core import rows
from .._core.covariance import OLS_RULES, assemble, pass_kind
from .._core.distributions import f_sf
from ..diagnostics._iv_arrays import wald
from ..diagnostics.weak_iv import TAUS, FirstStage, FirstStageRow, WeakIVDiagnostics, _inv_chol, _verdict, stock_yogo
from ..diagnostics.weak_iv_inference import AndersonRubin, _grid_set, _quadratic_set, _RobustAR, tf_interval

if TYPE_CHECKING:
    from .iv import IVProblem


class _Sums:
    """The partialled cross-products and the pass's fourth moments / cluster sums (see the module doc)."""

    def __init__(self, problem: IVProblem) -> None:
        prod, lay = problem.products, problem.layout
        ex, endog, instr = list(lay.exog), list(lay.endog), list(lay.instruments)
        self.p, self.q = len(endog), len(instr)
        self.m = self.p + 1 + self.q
        self.n = problem.n
        self.k_exog = len(ex) + problem.k_absorbed
        self.cov_type = problem.cov_type
        self.kind = pass_kind(problem.cov_type)
        cols = [*endog, prod.y, *instr]  # the order of v: X, y, Z
        big = prod.gram.shape[0]
        a = np.zeros((big, self.m))
        a[cols, np.arange(self.m)] = 1.0
        if ex:
            coef = np.linalg.solve(prod.block(ex, ex), prod.block(ex, cols))
            a[ex, :] -= coef
        self.a = a  # v = [z-coordinate block, y - mean_y] @ a
        self.gram = a.T @ prod.gram @ a
        self.xi, self.yi = list(range(self.p)), self.p
        self.zi = list(range(self.p + 1, self.m))
        self.zz = self.gram[np.ix_(self.zi, self.zi)]
        self.zz_inv = np.linalg.inv(self.zz)
        self.t: np.ndarray | None = None
        self.t_lev: np.ndarray | None = None
        self.cluster_sums: list[np.ndarray] = []
        self.sizes: tuple[int, ...] = ()
        if self.kind != "nonrobust":
            self._pass(problem, ex)

    def _pass(self, problem: IVProblem, ex: list[int]) -> None:
        prod = problem.products
        a, m, q, zi = self.a, self.m, self.q, self.zi
        mean_y, coords = prod.mean_y, prod.coords
        power = {"HC2": 1.0, "HC3": 2.0}.get(self.kind, 0.0)
        ww_inv = np.linalg.inv(prod.block(ex, ex)) if power and ex else None
        zz_inv = self.zz_inv
        codes, sizes = problem.cluster_terms() if self.kind == "cluster" else ([], ())
        self.sizes = tuple(sizes)
        n_groups = [int(c.max()) + 1 for c in codes]  # a stand-in holds its largest code (the intersection's too)
        extra = {f"cluster{g}": c for g, c in enumerate(codes)}
        buf: np.ndarray | None = None

        def kernel(part: rows.Partition) -> _Pieces:
            nonlocal buf
            blk = part.block(buf)
            buf = blk
            coords.to_z(blk)
            full = np.column_stack([blk, part["y"] - mean_y])
            v = full @ a
            w = part.get("w")
            if w is not None:
                v *= np.sqrt(w)[:, None]
            z = v[:, zi]
            u = (v[:, :, None] * z[:, None, :]).reshape(len(v), m * q)
            if self.kind == "cluster":
                out = []
                for g in range(len(codes)):
                    c = part[f"cluster{g}"]
                    sums = [np.bincount(c, weights=u[:, j], minlength=n_groups[g]) for j in range(m * q)]
                    sums.append(np.bincount(c, minlength=n_groups[g]).astype(float))  # rows: who is present
                    out.append(np.column_stack(sums))
                return _Pieces(out)
            t = u.T @ u
            if not power:
                return _Pieces([t])
            h = np.einsum("ij,jk,ik->i", z, zz_inv, z)
            if ww_inv is not None:
                xw = blk[:, ex] if w is None else blk[:, ex] * np.sqrt(w)[:, None]
                h = h + np.einsum("ij,jk,ik->i", xw, ww_inv, xw)
            h = np.clip(h, 0.0, 1.0 - 1e-12)
            scale = 1.0 / (1.0 - h) ** power
            return _Pieces([t, (u * scale[:, None]).T @ u])

        src = rows.source(problem.design, problem.chunk_rows, extra=extra, y=problem.y, w=problem.weights)
        results = rows.fold(src, kernel, _Pieces())
        if self.kind == "cluster":
            # clusters with no row here (all their rows dropped as singletons) are not counted, as in memory
            self.cluster_sums = [sums[sums[:, -1] > 0, :-1] for sums in results.sums]
        else:
            self.t = results.sums[0]
            self.t_lev = results.sums[1] if power else None

    # ----------------------------------------------------------------------------------------------
    # regressions on Z, as coefficient vectors over v
    # ----------------------------------------------------------------------------------------------

    def unit(self, i: int) -> np.ndarray:
        c = np.zeros(self.m)
        c[i] = 1.0
        return c

    def coef(self, c: np.ndarray) -> np.ndarray:
        return self.zz_inv @ (self.gram[self.zi, :] @ c)

    def resid(self, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        b = self.coef(c)
        r = c.copy()
        r[self.zi] -= b
        return b, r

    def score_matrix(self, rs: list[np.ndarray]) -> np.ndarray:
        """(mq) x (q len(rs)): the map from v (x) z to the scores r_j'v z of each residual."""
        eye = np.eye(self.q)
        return np.hstack([np.kron(r[:, None], eye) for r in rs])

    def cov(self, r: np.ndarray) -> tuple[np.ndarray, float]:
        """(covariance, df) of the coefficients on Z of a regression with residual r'v (``coef_cov``)."""
        n, df_k = self.n, self.k_exog + self.q
        ssr = float(r @ self.gram @ r)
        bread = self.zz_inv
        if self.kind == "nonrobust":
            return assemble("nonrobust", bread, n=n, df_k=df_k, ssr=ssr, rules=OLS_RULES)
        rmat = self.score_matrix([r])
        if self.kind == "cluster":
            scores = [s @ rmat for s in self.cluster_sums]
            return assemble("cluster", bread, n=n, df_k=df_k, ssr=ssr, cluster_scores=scores,
                            cluster_sizes=self.sizes, rules=OLS_RULES)  # fmt: skip
        t = self.t_lev if self.t_lev is not None else self.t
        assert t is not None
        meat = rmat.T @ t @ rmat
        return assemble(self.cov_type, bread, n=n, df_k=df_k, ssr=ssr, meat=meat, rules=OLS_RULES)

    def regress(self, c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        b, r = self.resid(c)
        cov, df = self.cov(r)
        return b, r, cov, df

    @property
    def df_resid(self) -> int:
        return self.n - self.q - self.k_exog


class _Pieces:
    """A list of arrays, merged by adding each."""

    def __init__(self, sums: list[np.ndarray] | None = None) -> None:
        self.sums = sums or []

    def __add__(self, other: _Pieces) -> _Pieces:
        if not self.sums:
            return _Pieces([np.array(a, copy=True) for a in other.sums])
        return _Pieces([a + b for a, b in zip(self.sums, other.sums, strict=True)])


# --------------------------------------------------------------------------------------------------
# the statistics
# --------------------------------------------------------------------------------------------------


def _first_stage(s: _Sums, endog_names: list[str], instrument_names: list[str]) -> tuple[FirstStageRow, ...]:
    p, q = s.p, s.q
    fits = [s.regress(s.unit(j)) for j in range(p)]
    pi = np.column_stack([f[0] for f in fits])
    xx = s.gram[np.ix_(s.xi, s.xi)]
    shea = np.diag(np.linalg.inv(xx)) / np.diag(np.linalg.inv(pi.T @ s.zz @ pi))
    out = []
    for j in range(p):
        coef, r, cov, df = fits[j]
        chi2 = wald(coef, cov)
        if p > 1:
            sw_chi2, sw_df = _sanderson_windmeijer(s, pi, j), q - p + 1
        else:
            sw_chi2, sw_df = chi2, q
        ssr = float(r @ s.gram @ r)
        out.append(
            FirstStageRow(
                endogenous=endog_names[j],
                instruments=tuple(instrument_names),
                coef=tuple(float(c) for c in coef),
                std_err=tuple(float(x) for x in np.sqrt(np.diag(cov))),
                partial_r2=float(1.0 - ssr / s.gram[j, j]),
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
    return tuple(out)


def _sanderson_windmeijer(s: _Sums, pi: np.ndarray, j: int) -> float:
    others = [k for k in range(s.p) if k != j]
    zx = s.gram[np.ix_(s.zi, s.xi)]
    xh_xo = pi[:, others].T @ zx[:, others]  # (Z pi_o)' X_o
    xh_xj = pi[:, others].T @ zx[:, j]
    delta = np.linalg.solve(xh_xo, xh_xj)
    c = s.unit(j)
    c[others] -= delta
    gamma, _, cov, _ = s.regress(c)
    return wald(gamma, cov)


def _cragg_donald(s: _Sums, pi: np.ndarray) -> float:
    xx = s.gram[np.ix_(s.xi, s.xi)]
    a = _inv_chol(xx)
    mat = a.T @ (pi.T @ s.zz @ pi) @ a
    r2 = float(np.linalg.eigvalsh(0.5 * (mat + mat.T))[0])
    return float(s.df_resid / s.q * r2 / (1.0 - r2))


def _kleibergen_paap(s: _Sums) -> float:
    n, q, p = s.n, s.q, s.p
    xx = s.gram[np.ix_(s.xi, s.xi)]
    rz, rx = _inv_chol(s.zz / n), _inv_chol(xx / n)
    pi = s.zz_inv @ s.gram[np.ix_(s.zi, s.xi)]
    theta = np.linalg.inv(rz) @ pi @ rx
    u, _, vt = np.linalg.svd(theta)
    a, b = u[:, p - 1 :], vt.T[:, p - 1 :]
    lam = (b.T @ theta.T @ a).ravel(order="C")
    rmat = s.score_matrix([s.resid(s.unit(j))[1] for j in range(p)])
    if s.kind == "cluster":
        sums = [c @ rmat for c in s.cluster_sums]
        if len(sums) == 3:
            shat = (sums[0].T @ sums[0] + sums[1].T @ sums[1] - sums[2].T @ sums[2]) / n
        else:
            shat = sums[0].T @ sums[0] / n
    else:
        assert s.t is not None
        shat = rmat.T @ s.t @ rmat / n
    transform = np.kron(rx.T, rz.T)
    v_theta = transform @ shat @ transform.T
    select = np.kron(b.T, a.T)
    v_lam = select @ v_theta @ select.T
    stat = n * wald(lam, 0.5 * (v_lam + v_lam.T))
    if s.kind == "cluster":
        g = min(s.sizes)
        scale = s.df_resid * (g - 1) / (g * (n - 1.0))
    else:
        scale = s.df_resid / n
    return float(stat * scale / q)


def _effective_f(s: _Sums, pi: np.ndarray, cov: np.ndarray) -> tuple[float, dict[str, float], float]:
    from scipy import special

    f_eff = float(pi @ s.zz @ pi / np.trace(cov @ s.zz))
    root = np.linalg.cholesky(s.zz)
    mat = root.T @ cov @ root
    mat = 0.5 * (mat + mat.T)
    tr, tr2, top = float(np.trace(mat)), float(np.sum(mat * mat)), float(np.linalg.eigvalsh(mat)[-1])
    values: dict[str, float] = {}
    k_eff = float("nan")
    for tau in TAUS:
        xk = 1.0 / tau
        k = tr**2 * (1.0 + 2.0 * xk) / (tr2 + 2.0 * xk * tr * top)
        values[f"{tau:.0%}"] = float(special.chndtrix(0.95, k, k * xk) / k)
        if tau == 0.10:
            k_eff = float(k)
    return f_eff, values, k_eff


def _anderson_rubin(s: _Sums, level: float) -> AndersonRubin:
    from scipy import special

    gy, ry, cyy, df = s.regress(s.unit(s.yi))
    gx, rx, cxx, _ = s.regress(s.unit(0))
    csum, _ = s.cov(ry + rx)
    robust = _RobustAR.__new__(_RobustAR)
    robust.gy, robust.gx, robust.cyy, robust.cxx, robust.cxy = gy, gx, cyy, cxx, 0.5 * (csum - cyy - cxx)
    robust.q, robust.df = s.q, df
    crit = float(special.fdtri(s.q, df, level))
    robust.crit = crit
    stat = float(robust.stat(np.array([0.0]))[0])
    gram = s.gram
    xpx, xpy = float(gx @ s.zz @ gx), float(gx @ s.zz @ gy)
    center = xpy / xpx
    if s.cov_type == "nonrobust":
        ypy = float(gy @ s.zz @ gy)
        kappa = crit * s.q / s.df_resid
        a = xpx - kappa * (float(gram[0, 0]) - xpx)
        b = -2.0 * (xpy - kappa * (float(gram[0, s.yi]) - xpy))
        c = ypy - kappa * (float(gram[s.yi, s.yi]) - ypy)
        pieces, method = _quadratic_set(a, b, c), "exact quadratic"
    else:
        e = s.unit(s.yi) - center * s.unit(0)
        scale = math.sqrt(max(float(e @ gram @ e) / s.df_resid / xpx, 1e-300)) or 1.0
        pieces, method = _grid_set(robust, center, scale), "grid + Brent"
    return AndersonRubin(
        statistic=stat, df_num=s.q, df_denom=float(df), p_value=f_sf(stat, s.q, df), beta0=0.0, level=level,
        critical_value=crit, pieces=pieces, cov_type=s.cov_type, method=method,
    )  # fmt: skip


def engine_instrument_diagnostics(
    problem: IVProblem, *, estimator: str, estimate: float, std_error: float, level: float
) -> tuple[dict[str, Any], str | None, list[str]]:
    """The diagnostics entries (first_stage, weak_iv, anderson_rubin, tf) of an IV fit on an engine, the
    weak-instrument message (or None) and notes; one pass over the rows for a robust or clustered covariance."""
    s = _Sums(problem)
    endog, instr = problem.endog_names, problem.instrument_names
    rows_ = _first_stage(s, endog, instr)
    fs = FirstStage(rows_, s.cov_type, s.n)
    pi = np.column_stack([np.asarray(r.coef) for r in rows_])
    kp = None if s.cov_type == "nonrobust" else _kleibergen_paap(s)
    if s.p == 1:
        _, _, cov, _ = s.regress(s.unit(0))
        eff, crit, k_eff = _effective_f(s, pi[:, 0], cov)
    else:
        eff, crit, k_eff = None, {}, None
    diag = WeakIVDiagnostics(
        first_stage=fs, cragg_donald_f=_cragg_donald(s, pi), kleibergen_paap_f=kp, effective_f=eff,
        effective_f_critical=crit, k_eff=k_eff, stock_yogo=stock_yogo(s.p, s.q, estimator), estimator=estimator,
    )  # fmt: skip
    weak = _verdict(diag, s.q)
    out: dict[str, Any] = {"first_stage": weak.first_stage, "weak_iv": weak}
    notes: list[str] = []
    if s.p == 1:
        out["anderson_rubin"] = _anderson_rubin(s, level)
        if s.q == 1 and estimator == "2sls" and abs(level - 0.95) < 1e-12:
            out["tf"] = tf_interval(estimate, std_error, weak.first_stage.rows[0].f_stat)
        if s.q == 1:
            notes.append(
                "computed on an engine: the complier analysis (binary instrument and treatment) needs the rows in "
                "memory and was not computed"
            )
    return out, weak.warning, notes
