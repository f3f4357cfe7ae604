"""What an IV estimate adds about its instruments: the first stage, the weak-instrument statistics and
verdict, the Anderson-Rubin set, the tF interval and, for a binary instrument and treatment, the compliers.

Reads the :class:`deconfound.estimators.iv.IVProblem` (its partialled arrays) and hands the numbers to
``deconfound.diagnostics.weak_iv`` / ``weak_iv_inference`` / ``compliers``. The diagnostics keys:

* ``first_stage`` (:class:`~deconfound.diagnostics.weak_iv.FirstStage`), ``weak_iv``
  (:class:`~deconfound.diagnostics.weak_iv.WeakIVDiagnostics`);
* ``anderson_rubin`` (one endogenous regressor), ``tf`` (one instrument, 95% level);
* ``compliers`` (binary instrument and treatment, one of each).

When the instruments are weak, the verdict is issued as a
:class:`~deconfound.errors.WeakInstrumentWarning` and kept on the result's ``warnings``.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np

from ..diagnostics._iv_arrays import Projection, prepare
from ..diagnostics.compliers import compliers
from ..diagnostics.weak_iv import diagnose
from ..diagnostics.weak_iv_inference import ar_set, tf_interval
from ..results import Estimate, LazyValue

if TYPE_CHECKING:
    from .iv import IVProblem

#: rows per block when partialling (a few MB of columns at a time)
PARTIAL_ROWS = 1 << 15


def _partialled(problem: IVProblem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """y, the endogenous regressors and the instruments with the covariates (and absorbed effects) partialled
    out, as ``IVProblem.partialled()`` gives them, computed in row blocks so that only these columns are held."""
    prod, lay = problem.products, problem.layout
    ex, endog, instr = list(lay.exog), list(lay.endog), list(lay.instruments)
    cols = [*endog, *instr]
    n, step = problem.n, max(int(problem.chunk_rows), PARTIAL_ROWS)
    y = np.asarray(problem.y, dtype=float) - prod.mean_y
    out = np.empty((n, len(cols)))
    coef = np.linalg.solve(prod.block(ex, ex), prod.block(ex, [*cols, prod.y])) if ex else None
    buf = None
    for a in range(0, n, step):
        b = min(a + step, n)
        blk = prod.coords.to_z(problem.design.block(a, b, out=buf))
        buf = blk
        out[a:b] = blk[:, cols]
        if coef is not None:
            fitted = blk[:, ex] @ coef
            out[a:b] -= fitted[:, :-1]
            y[a:b] -= fitted[:, -1]
    p = len(endog)
    return y, out[:, :p], out[:, p:]


def _exog_leverage(problem: IVProblem) -> np.ndarray | None:
    """Each row's leverage in the (weighted) regression on the exogenous covariates (HC2/HC3 only)."""
    if problem.cov_type not in ("HC2", "HC3") or not problem.layout.exog:
        return None
    w = problem.design.block(0, problem.n)[:, list(problem.layout.exog)]
    if problem.weights is not None:
        w = w * np.sqrt(problem.weights)[:, None]
    q, _ = np.linalg.qr(w)
    return np.einsum("ij,ij->i", q, q)


def _binary(values: np.ndarray) -> bool:
    return bool(values.size) and bool(np.all((values == 0.0) | (values == 1.0))) and values.min() != values.max()


def _compliers(problem: IVProblem) -> Any:
    """The complier analysis, or None when the instrument and treatment are not one binary pair."""
    prep, lay = problem.prep, problem.layout
    if len(lay.endog) != 1 or len(lay.instruments) != 1 or prep.treatment is None:
        return None
    z = np.asarray(prep.extra[f"instrument:{problem.roles.instruments[0]}"], dtype=float)
    d = np.asarray(prep.treatment, dtype=float)
    if z.shape != d.shape or not (_binary(d) and _binary(z)):
        return None

    def build() -> Any:
        covariates: dict[str, np.ndarray] = {}
        if not problem.roles.absorb and len(lay.exog) > 1:
            block = problem.design.block(0, problem.n)
            for i in lay.exog:
                column = block[:, i]
                if column.min() != column.max():  # not the constant
                    covariates[problem.design.names[i]] = column
        return compliers(prep.outcome, d, z, covariates, weights=problem.weights)

    return LazyValue(build)


def instrument_diagnostics(
    problem: IVProblem, *, estimator: str, estimate: float, std_error: float, level: float
) -> tuple[dict[str, Any], WeakIVResult]:
    """The diagnostics entries of an IV fit and the weak-instrument verdict (not yet issued)."""
    y, endog, instruments = _partialled(problem)
    lay = problem.layout
    st = prepare(
        y, endog, instruments, k_exog=len(lay.exog) + problem.k_absorbed, weights=problem.weights,
        clusters=problem.clusters if problem.cov_type == "cluster" else None, cov_type=problem.cov_type,
        exog_leverage=_exog_leverage(problem), endog_names=problem.endog_names,
        instrument_names=problem.instrument_names, checked=True,
    )  # fmt: skip
    proj = Projection.of(st.Z)
    weak = diagnose(st, proj, estimator)
    out: dict[str, Any] = {"first_stage": weak.first_stage, "weak_iv": weak}
    if len(lay.endog) == 1:
        out["anderson_rubin"] = ar_set(st, proj, level=level)
        if len(lay.instruments) == 1 and estimator == "2sls" and abs(level - 0.95) < 1e-12:
            out["tf"] = tf_interval(estimate, std_error, weak.first_stage.rows[0].f_stat)
    found = _compliers(problem)
    if found is not None:
        out["compliers"] = found
    return out, WeakIVResult(weak.warning)


@dataclasses.dataclass(frozen=True)
class WeakIVResult:
    """The weak-instrument message, if any."""

    message: str | None

    def attach(self, estimate: Estimate) -> Estimate:
        """Issue the message as a WeakInstrumentWarning and keep it on the result's warnings."""
        if self.message is None:
            return estimate
        from ..errors import WeakInstrumentWarning, warn

        warn(self.message, WeakInstrumentWarning)
        return dataclasses.replace(estimate, warnings=(*estimate.warnings, self.message))
