"""Cross-fitting our own least squares and logistic learners without refitting from scratch per fold.

Least squares: the centered cross-products of each fold's rows (one pass over the data for all K folds;
:class:`~deconfound._core.passes.CrossProducts` merge exactly with ``+``) give every fold's training
cross-products as the merge of the other K - 1 folds', so the K fits cost one pass and K small solves
instead of K passes over (K - 1)/K of the rows and K copies of the training rows. Logistic regression:
fold k's Newton iterations start from fold k - 1's coefficients (the training rows overlap in (K - 2)/K
of the data), which halves the iterations; the maximum is the same.

Anything unusual - a rank-deficient or ill-conditioned fold (which least squares would refine), too few
rows, a failed or separated logistic fit, a target that is not 0/1 - returns None for that fold and the
caller fits it the ordinary way, which gives the ordinary error message or the refined solution. The
path does not depend on ``n_jobs`` (it runs in the calling process), so numbers stay bit-identical with
any number of workers.
"""

from __future__ import annotations

import numpy as np

from ..._core.least_squares import solve_products
from ..._core.passes import CrossProducts, _products
from ...errors import DeconfoundError
from .linear import LeastSquaresRegressor, LogisticClassifier, _design
from .presets import Learner


def kind_of(learner: Learner) -> str | None:
    """ "ols" or "logistic" for our own learners with an intercept (the presets), else None."""
    template = learner.template
    if type(template) is LeastSquaresRegressor and template.fit_intercept:
        return "ols"
    if type(template) is LogisticClassifier and template.fit_intercept and learner.kind == "classifier":
        return "logistic"
    return None


def _scratch(x: np.ndarray, y: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
    """The column-major block [1 | x | y] of ``rows`` (all rows when None), gathered column by column
    straight into place (no intermediate row-major copy)."""
    k = x.shape[1]
    ext = np.empty((x.shape[0] if rows is None else len(rows), k + 2), order="F")
    ext[:, 0] = 1.0
    for j, col in enumerate([*(x[:, j] for j in range(k)), y]):
        if rows is None:
            ext[:, j + 1] = col
        else:
            np.take(col, rows, out=ext[:, j + 1], mode="clip")  # rows are valid: no bounds pass
    return ext


def _take_rows(x: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``x[rows]`` in column-major order, gathered column by column (a fancy index gives row-major rows, whose
    columns the passes and checks would then read with a stride)."""
    out = np.empty((len(rows), x.shape[1]), order="F")
    for j in range(x.shape[1]):
        np.take(x[:, j], rows, out=out[:, j], mode="clip")
    return out


def _ols_solve(cp: CrossProducts) -> np.ndarray | None:
    """Coefficients (constant first) from cross-products, or None where fit_ols would refuse or refine."""
    try:
        solved = solve_products(cp)
    except DeconfoundError:  # rank-deficient here: the ordinary fit says so, or drops the column
        return None
    return None if solved is None else solved[0]


def ols_folds(
    x: np.ndarray, y: np.ndarray, assignment: np.ndarray, k: int, mask: np.ndarray | None
) -> list[np.ndarray | None]:
    """Each fold's out-of-fold predictions (None for a fold to fit the ordinary way)."""
    names = ["(intercept)", *[f"x{j}" for j in range(x.shape[1])]]
    tests, cps = [], []
    for fold in range(k):
        in_fold = assignment == fold
        tests.append(np.flatnonzero(in_fold))
        rows = tests[-1] if mask is None else np.flatnonzero(in_fold & mask)
        cps.append(_products(_scratch(x, y, rows), None, names))
    out: list[np.ndarray | None] = []
    for fold in range(k):
        train = CrossProducts.empty(names)
        for other in range(k):
            if other != fold:
                train = train + cps[other]
        beta = _ols_solve(train)
        out.append(None if beta is None else x[tests[fold]] @ beta[1:] + beta[0])
    return out


def logistic_folds(
    x: np.ndarray, y: np.ndarray, assignment: np.ndarray, k: int, mask: np.ndarray | None
) -> list[np.ndarray | None]:
    """Each fold's out-of-fold P(y = 1), fold k started from fold k - 1's coefficients (None: fit it the
    ordinary way)."""
    from ..._core.logistic import fit_logistic, predict

    if not np.all((y == 0.0) | (y == 1.0)):
        return [None] * k
    out: list[np.ndarray | None] = []
    start = None
    for fold in range(k):
        in_fold = assignment == fold
        keep = ~in_fold if mask is None else ~in_fold & mask
        train = np.flatnonzero(keep)
        target = y[train].astype(np.float64)
        if not 0.0 < float(target.mean()) < 1.0:
            out.append(None)
            continue
        try:
            fit = fit_logistic(_design(_take_rows(x, train), True), target, start=start, what="the logistic learner")
        except DeconfoundError:
            out.append(None)
            continue
        start = fit.coef
        _, p = predict(_design(_take_rows(x, np.flatnonzero(in_fold)), True), fit.coef)
        out.append(p if np.all(np.isfinite(p)) else None)
    return out


def ols_fitted(
    learner: Learner, x: np.ndarray, y: np.ndarray, rows: np.ndarray | None = None
) -> LeastSquaresRegressor | None:
    """Our least squares fitted on ``(x, y)`` (on ``rows`` of them when given) from one pass of
    cross-products, without the residual pass and covariance the ordinary fit adds (a learner needs only the
    coefficients); None for another learner, or where the ordinary fit would refuse or refine (then fit it
    the ordinary way). The rows are gathered straight into the scratch block [1 | x | y]: no other copy."""
    if kind_of(learner) != "ols" or x.ndim != 2:
        return None
    names = ["(intercept)", *[f"x{j}" for j in range(x.shape[1])]]
    beta = _ols_solve(_products(_scratch(x, np.asarray(y, dtype=np.float64), rows), None, names))
    if beta is None or not np.all(np.isfinite(beta)):
        return None
    fitted = LeastSquaresRegressor()
    fitted.feature_names_in_ = np.asarray(names[1:], dtype=object)
    fitted.coef_ = np.asarray(beta[1:])
    fitted.intercept_ = float(beta[0])
    return fitted


def cross_fit_fast(learner: Learner, x: np.ndarray, y: np.ndarray, assignment: np.ndarray, k: int, mask) -> list:
    """Per fold: the out-of-fold predictions, or None where the ordinary fit must run."""
    kind = kind_of(learner)
    if kind == "ols":
        return ols_folds(x, np.asarray(y, dtype=np.float64), assignment, k, mask)
    if kind == "logistic":
        return logistic_folds(x, np.asarray(y, dtype=np.float64), assignment, k, mask)
    return [None] * k
