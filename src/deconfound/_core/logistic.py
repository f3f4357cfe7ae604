"""Unpenalized logistic regression by Newton's method (IRLS) on chunked sufficient statistics.

Each iteration is one pass over the rows in bounded-memory chunks that accumulates the information
matrix X'WX (W = w p (1 - p)), the score X'w(y - p) and the log-likelihood; solving needs no data.
Like :func:`_core.passes.accumulate`, a pass is a kernel per partition of a row source (:mod:`._core.rows`)
merged by sums, so other engines can produce it.

Separation (the maximum-likelihood estimate does not exist) is detected and explained:

* before fitting, each column alone is checked: a column whose treated and control values do not
  overlap separates the groups completely (or quasi-completely when they touch at one value), and
  a 0/1 column one of whose levels holds only treated or only control rows separates quasi-completely;
* during fitting, a combination of columns that separates shows up as Newton steps that do not
  shrink while the log-likelihood has converged; the covariates that carry that direction are named.

Large problems start from a fit on a systematic subsample (every k-th row, no randomness), after which
one or two full-data Newton steps reach the full-data optimum to machine precision.

In-memory designs of at least COMPILED_MIN_ROWS rows read in place run the pass, the prediction and the
subsample copy as compiled kernels (:mod:`._jit_logistic`, numba imported on first use) over fixed chunks of
rows shared by the threads of :mod:`._core.threads`; the numpy path (``kernels.using("numpy")``, engines,
other designs) gives the same numbers to about 1e-15 relative.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConvergenceError, DataError
from . import kernels, linalg, rows, threads
from .design import Design
from .passes import CHUNK_ROWS

MAX_ITER = 100
TOL = 1e-10
STEP_TOL = 1e-6  # converged when the Newton step is below this many standard errors (then applied)
# ... or when it is below LOOSE_STEP_TOL standard errors and moves the linear index by less than ETA_TOL
# (root mean square, weighted like the information): the information at the previous point then differs
# from the optimum's by about that relative amount (d log p(1-p) / d eta is within [-1, 1])
LOOSE_STEP_TOL = 1e-3
ETA_TOL = 1e-8
WARM_STEP_TOL = 0.1  # the subsample fit only needs to be far more precise than its sampling error
WARM_START_ROWS = 200_000  # problems larger than this start from a subsample fit
# rows per block: the block and its products stay in the CPU cache (and OpenBLAS multiplies blocks of
# fewer than 8192 rows by 11 columns twice as fast as larger ones)
LOGISTIC_CHUNK_ROWS = 6144
EXP_SAFE = 700.0  # exp(-q) is finite below this
ETA_SEPARATED = 25.0  # |linear index| beyond which a row counts as perfectly predicted
# the compiled pass (numba): in-memory designs of at least this many rows (smaller fits take a few ms in
# numpy, and a process's first compiled kernel pays about 0.4 s for numba's import and initialisation; the
# subsample of the warm start, at least WARM_START_ROWS // 2 rows, is then compiled too), read in fixed
# chunks of COMPILED_CHUNK_ROWS rows whose sums are added in chunk order, so that the numbers do not
# depend on the thread count
COMPILED_MIN_ROWS = 100_000
COMPILED_CHUNK_ROWS = 16_384  # (the 100,000-row subsample: 7 chunks, split 3 + 4 between two threads)
# for callers that would not otherwise start numba (the weighting estimators): numba's first use in a
# process costs about 0.45 s here (its import, its CPU target, which imports scipy.linalg, and our kernels),
# about what the compiled pass saves on a fit of 4M rows, so below that they keep the numpy pass
COLD_MIN_ROWS = 4_000_000
# None: COMPILED_MIN_ROWS (read when a fit runs)
_MIN_ROWS: ContextVar[int | None] = ContextVar("deconfound_logistic_compiled_min_rows", default=None)


@contextmanager
def compiled_from(rows: int) -> Iterator[None]:
    """Within the block, fits and predictions take the compiled path from ``rows`` rows (a fixed rule for a
    call site, so that the same call gives the same digits in any process)."""
    token = _MIN_ROWS.set(int(rows))
    try:
        yield
    finally:
        _MIN_ROWS.reset(token)


@dataclass(frozen=True)
class LogisticFit:
    """A fitted logistic regression: coefficients, inverse information (the covariance) and fit stats."""

    names: list[str]
    coef: np.ndarray
    cov: np.ndarray  # inverse of the information matrix X'WX at the optimum
    information: np.ndarray  # X'WX at the optimum
    n: int
    llf: float
    llnull: float
    iterations: int

    def stats(self) -> dict[str, object]:
        k = len(self.coef)
        return {
            "cov_type": "nonrobust (inverse information)",
            "log_likelihood": self.llf,
            "log_likelihood_null": self.llnull,
            "pseudo_r_squared": 1.0 - self.llf / self.llnull if self.llnull < 0 else float("nan"),
            "aic": -2.0 * self.llf + 2.0 * k,
            "bic": -2.0 * self.llf + np.log(self.n) * k,
            "iterations": self.iterations,
            "n": self.n,
        }


@dataclass
class _Pass:
    information: np.ndarray
    score: np.ndarray
    llf: float
    max_abs_eta: float
    sum_v: float = 0.0  # sum of the information weights w p (1 - p)


@dataclass
class _Sums:
    """A partition's share of a logistic pass: X'[v X | r], log-likelihood, sum v, max |eta| (merged by +)."""

    acc: np.ndarray
    llf: float = 0.0
    sum_v: float = 0.0
    max_eta: float = 0.0

    def __add__(self, other: _Sums) -> _Sums:
        eta = max(self.max_eta, other.max_eta)
        return _Sums(self.acc + other.acc, self.llf + other.llf, self.sum_v + other.sum_v, eta)


def logistic_pass(
    design: Design,
    y: np.ndarray,
    w: np.ndarray | None,
    beta: np.ndarray,
    chunk_rows: int = LOGISTIC_CHUNK_ROWS,
) -> _Pass:
    """One pass over the rows: information X'WX, score X'w(y-p) and log-likelihood at ``beta``.

    Each partition is copied once into a buffer that stays in the CPU cache; one matrix product of the
    block with [v X | w (y - p)] (v = w p (1 - p)) gives the information and the score together.
    Probabilities are those of the *observed* outcome, s = 1 / (1 + exp(-q)) with q = +-eta, and
    1 - s = exp(-q) s: both are accurate to a few ulps relative, as is log s (the log-likelihood).
    The pass is a kernel per partition of a row source merged by sums (:class:`_Sums`); it runs on one
    thread, since numpy's matrix products hold the interpreter lock.

    With the compiled kernels (:mod:`._core.kernels`), an in-memory design read in place (a constant and
    one matrix's columns, or one matrix) is instead read by one compiled pass per fixed chunk of rows,
    shared by the threads (:mod:`._core.threads`) and added in chunk order (:func:`_compiled_pass`).
    """
    layout = _compiled_layout(design)
    if layout is not None:
        return _compiled_pass(layout, y, w, beta)
    k = design.k
    kernel = _PassKernel(k, beta)
    total = rows.fold(rows.source(design, chunk_rows, y=y, w=w), kernel, _Sums(np.zeros((k, k + 1))))
    info = total.acc[:, :k]
    return _Pass(0.5 * (info + info.T), total.acc[:, k].copy(), total.llf, total.max_eta, total.sum_v)


class _PassKernel:
    """The logistic pass over one partition (scratch buffers are reused from one partition to the next)."""

    def __init__(self, k: int, beta: np.ndarray) -> None:
        self.k, self.beta = k, beta
        self.buf: np.ndarray | None = None
        self.rhs: np.ndarray | None = None
        self.eta: np.ndarray | None = None

    def __call__(self, part: rows.Partition) -> _Sums:
        k, beta, m = self.k, self.beta, part.n
        # a constant followed by columns of one matrix: blocks are read in place, the constant's row of the
        # products comes from column sums
        matrix = part.matrix()
        self.rhs = rows.scratch(self.rhs, m, k + 1)
        if self.eta is None or self.eta.shape[0] < m:
            self.eta = np.empty(m)
        eta = self.eta[:m]
        if matrix is None:
            self.buf = rows.scratch(self.buf, m, k)
            blk = part.block(self.buf)
            np.matmul(blk, beta, out=eta)
        else:
            blk = matrix
            np.matmul(blk, beta[1:], out=eta)
            eta += beta[0]
        yc = part["y"]
        sign = 2.0 * yc - 1.0  # +1 for y = 1, -1 for y = 0
        q = eta * sign  # log-odds of the observed outcome
        q_min, q_max = float(q.min()), float(q.max())
        if q_min < -EXP_SAFE:  # exp(-q) overflows: the exact (slower) formulas for this block
            s, r, ll = _exact_probabilities(q)
        else:
            r = np.exp(-q)
            s = r + 1.0
            np.reciprocal(s, out=s)
            r *= s  # 1 - s without cancellation
            ll = np.log(s)
        v = s * r
        r *= sign  # y - p
        wc = part.get("w")
        if wc is not None:
            v *= wc
            r *= wc
            ll *= wc
        rhs = self.rhs[:m]
        rhs[:, k] = r
        acc = np.zeros((k, k + 1))
        sum_v = float(v.sum())
        if matrix is None:
            np.multiply(blk, v[:, None], out=rhs[:, :k])
            acc += blk.T @ rhs  # a general product: faster than syrk for so few columns
        else:
            rhs[:, 0] = v
            np.multiply(blk, v[:, None], out=rhs[:, 1:k])
            acc[1:] += blk.T @ rhs
            # the constant's row: sum v, sum v x (the column below, by symmetry), sum r
            acc[0, 0], acc[0, 1:k], acc[0, k] = sum_v, acc[1:, 0], float(r.sum())
        return _Sums(acc, float(ll.sum()), sum_v, max(-q_min, q_max))


@dataclass(frozen=True)
class _Columns:
    """A design's matrix as the compiled kernels read it: column j is ``flat[j * stride : j * stride + n]``,
    after a constant 1 when ``const``."""

    flat: np.ndarray
    n: int
    stride: int
    p: int
    const: bool


def _compiled_layout(design: Design) -> _Columns | None:
    """How the compiled pass reads ``design``, when it does: the compiled kernels are selected, the rows
    are the in-memory default source (engines and test sources keep the per-partition kernel), there are
    at least COMPILED_MIN_ROWS of them (or what :func:`compiled_from` set), and the design is a constant 1
    followed by the columns of one matrix, or the columns of one matrix, each column contiguous (read in
    place). Else None."""
    least = _MIN_ROWS.get()
    if design.n < (COMPILED_MIN_ROWS if least is None else least) or not rows.in_memory() or not kernels.compiled():
        return None
    const = True
    matrix = design.leading_constant_view()
    if matrix is None:
        const, matrix = False, design.matrix_view()
    if matrix is None or matrix.dtype != np.float64:
        return None
    size = matrix.itemsize
    n, p = matrix.shape
    step = matrix.strides[1]
    if matrix.strides[0] != size or step % size or step < n * size:
        return None
    stride = step // size
    flat = np.lib.stride_tricks.as_strided(matrix, shape=((p - 1) * stride + n,), strides=(size,), writeable=False)
    return _Columns(flat, n, stride, p, const)


def _read_only(values: np.ndarray) -> np.ndarray:
    """A contiguous float64 read-only view (a copy only when needed): the compiled kernels then see one array
    type whether the caller's array is writeable or not (one compiled and cached signature, not two)."""
    out = np.ascontiguousarray(values, dtype=np.float64).view()
    out.flags.writeable = False
    return out


def _chunk_runs(n: int) -> list[int]:
    return list(range(-(-n // COMPILED_CHUNK_ROWS)))


def _compiled_pass(cols: _Columns, y: np.ndarray, w: np.ndarray | None, beta: np.ndarray) -> _Pass:
    """The logistic pass by the compiled kernel (:func:`._jit_logistic.pass_chunks`): each fixed chunk of
    rows writes its own row of sums; the rows are added in chunk order whatever thread computed them."""
    from . import _jit_logistic

    k = cols.p + (1 if cols.const else 0)
    chunks = _chunk_runs(cols.n)
    partials = np.empty((len(chunks), k * (k + 1) + 3))
    yv = _read_only(y)
    wv = _read_only(np.empty(0) if w is None else w)
    b = _read_only(beta)

    def run(ids: list[int]) -> list[int]:
        _jit_logistic.pass_chunks(
            cols.flat, cols.n, cols.stride, cols.p, cols.const, b, yv, wv, w is not None,
            COMPILED_CHUNK_ROWS, ids[0], ids[-1] + 1, partials,
        )  # fmt: skip
        return ids

    threads.map_chunked(run, chunks)
    total = partials[:, :-1].sum(axis=0)  # row by row, in chunk order
    acc = total[: k * (k + 1)].reshape(k, k + 1)
    upper = np.triu(acc[:, :k])
    info = upper + np.triu(upper, 1).T
    max_eta = float(partials[:, -1].max())
    return _Pass(info, acc[:, k].copy(), float(total[-2]), max_eta, float(total[-1]))


def _exact_probabilities(q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """s = expit(q), 1 - s and log s for any q (also where exp(-q) overflows). SciPy is imported here only:
    ``scipy.special`` takes about 0.1 s to import, and this branch is rare."""
    from scipy.special import expit

    s = expit(q)
    return s, expit(-q), -np.logaddexp(0.0, -q)


def predict_index(design: Design, beta: np.ndarray, chunk_rows: int = CHUNK_ROWS) -> np.ndarray:
    """The linear index X beta (the logit of the fitted probability) for every row."""
    return predict(design, beta, chunk_rows)[0]


def predict(design: Design, beta: np.ndarray, chunk_rows: int = CHUNK_ROWS) -> tuple[np.ndarray, np.ndarray]:
    """The linear index X beta and the probability 1 / (1 + exp(-X beta)) of every row, in one pass (each
    partition writes the rows it carries; with the compiled kernels, fixed chunks of an in-memory design
    shared by the threads)."""
    index = np.empty(design.n)
    prob = np.empty(design.n)
    layout = _compiled_layout(design)
    if layout is not None:
        from . import _jit_logistic

        cols = layout
        b = _read_only(beta)

        def run(ids: list[int]) -> list[int]:
            _jit_logistic.predict_chunks(
                cols.flat,
                cols.n,
                cols.stride,
                cols.p,
                cols.const,
                b,
                COMPILED_CHUNK_ROWS,
                ids[0],
                ids[-1] + 1,
                index,
                prob,
            )
            return ids

        threads.map_chunked(run, _chunk_runs(design.n))
        return index, prob
    buf = None
    with np.errstate(over="ignore"):  # exp(-eta) = inf gives the right limit, probability 0
        for part in rows.source(design, chunk_rows).partitions():
            at = part.rows
            eta = index[at] if isinstance(at, slice) else np.empty(part.n)
            matrix = part.matrix()
            if matrix is None:
                buf = part.block(buf)
                np.matmul(buf, beta, out=eta)
            else:
                np.matmul(matrix, beta[1:], out=eta)
                eta += beta[0]
            p = prob[at] if isinstance(at, slice) else np.empty(part.n)
            np.negative(eta, out=p)
            np.exp(p, out=p)
            p += 1.0
            np.reciprocal(p, out=p)
            if not isinstance(at, slice):
                index[at], prob[at] = eta, p
    return index, prob


# --------------------------------------------------------------------------------------------------
# separation checks
# --------------------------------------------------------------------------------------------------


def separation_by_column(design: Design, y: np.ndarray, w: np.ndarray | None = None) -> None:
    """Raise a DataError when one column alone separates y = 1 from y = 0 (completely or quasi).

    A 0/1 column one of whose levels holds only treated (or only control) rows is a special case:
    that level is an extreme of the column.
    """
    pos = y == 1.0
    used = np.ones_like(pos) if w is None else w > 0
    pos_used, neg_used = pos & used, ~pos & used
    const = set(design.constant_columns())
    for j, name in enumerate(design.names):
        if j in const:
            continue
        x = design.column(name)
        x1, x0 = x[pos_used], x[neg_used]
        if not len(x1) or not len(x0):
            continue
        for low, high, lo_name, hi_name in ((x0, x1, "control", "treated"), (x1, x0, "treated", "control")):
            top, bottom = float(low.max()), float(high.min())
            if top < bottom:
                raise DataError(
                    f"covariate {name!r} separates treated from control completely: every {lo_name} row has "
                    f"{name} <= {top:.6g} and every {hi_name} row has {name} >= {bottom:.6g}. The propensity "
                    "score is 0 or 1 for everyone, so there is no overlap and no comparison can be made. If "
                    f"{name!r} is decided by (or decides) the treatment, leave it out; otherwise the groups "
                    "cannot be compared on it."
                )
            if top == bottom:
                above = int(np.count_nonzero(high > top))
                below = int(np.count_nonzero(low < top))
                sides = [f"the {above} row(s) with {name} > {top:.6g} are all {hi_name}"] if above else []
                sides += [f"the {below} row(s) with {name} < {top:.6g} are all {lo_name}"] if below else []
                raise DataError(
                    f"covariate {name!r} separates treated from control quasi-completely: {' and '.join(sides)}; "
                    f"the groups meet only at {name} = {top:.6g}. The propensity score is 0 or 1 away from that "
                    "value, so those rows have nothing to be compared with. Restrict the sample to where the "
                    "groups overlap, merge the level, or leave the covariate out."
                )


def _blame(direction: np.ndarray, design: Design, const: set[int]) -> list[str]:
    """Columns that carry a separating direction (largest standardized components)."""
    scales = np.zeros(len(direction))
    for j, name in enumerate(design.names):
        if j not in const:
            scales[j] = float(np.std(design.column(name)))
    contrib = np.abs(direction) * scales
    if not np.any(contrib > 0):
        return []
    order = np.argsort(-contrib)
    top = contrib[order[0]]
    return [design.names[j] for j in order if contrib[j] >= 0.1 * top][:5]


def _raise_separated(
    design: Design, y: np.ndarray, w: np.ndarray | None, beta: np.ndarray, step: np.ndarray, what: str, chunk_rows: int
) -> None:
    separation_by_column(design, y, w)
    const = set(design.constant_columns())
    finite_step = np.where(np.isfinite(step), step, 0.0)
    finite_beta = np.where(np.isfinite(beta), beta, 0.0)
    names = _blame(finite_step, design, const) or _blame(finite_beta, design, const)
    eta = predict_index(design, finite_beta, chunk_rows)
    perfect = int(np.count_nonzero(((y == 1.0) & (eta > ETA_SEPARATED)) | ((y == 0.0) & (eta < -ETA_SEPARATED))))
    listed = ", ".join(repr(n) for n in names) if names else "the covariates"
    raise DataError(
        f"{what[:1].upper() + what[1:]} cannot be fitted: the covariates separate treated from control "
        f"(the maximum-likelihood estimate does not exist). A combination of {listed} predicts the treatment "
        f"perfectly for {perfect} row(s), whose propensity score is 0 or 1, so they have no comparable rows "
        "in the other group. "
        "Restrict the sample to where the groups overlap, leave out the separating covariate(s), or use a "
        "penalized model (propensity_model='sklearn-logistic')."
    )


# --------------------------------------------------------------------------------------------------
# the solver
# --------------------------------------------------------------------------------------------------


def _eta_change(step: np.ndarray, cur: _Pass) -> float:
    """Root mean square change of the linear index made by ``step``, weighted like the information."""
    if not cur.sum_v > 0:
        return float("inf")
    return float(np.sqrt(max(float(step @ cur.information @ step), 0.0) / cur.sum_v))


def _newton(
    design: Design,
    y: np.ndarray,
    w: np.ndarray | None,
    beta: np.ndarray,
    cur: _Pass,
    chunk_rows: int,
    max_iter: int,
    step_tol: float = STEP_TOL,
) -> tuple[str, np.ndarray, _Pass, int, np.ndarray]:
    """Newton-Raphson with step halving from ``beta`` (whose pass is ``cur``).

    Returns (status, beta, pass at beta, iterations, last step); status is "converged", "separated"
    (the log-likelihood stopped improving while the coefficients keep moving towards infinity) or
    "max_iter".
    """
    step = np.zeros_like(beta)
    # steps are measured against the information at the start as well as the current one: when the data
    # are separated the information collapses, and a step that is tiny in (exploding) standard errors
    # still moves the coefficients towards infinity
    scale_start = np.sqrt(np.maximum(np.diag(cur.information), 1e-300))
    for it in range(1, max_iter + 1):
        try:
            step, _ = linalg.solve_spd(cur.information, cur.score)
        except (np.linalg.LinAlgError, ValueError):
            return "separated", beta, cur, it, step
        if not np.all(np.isfinite(step)):
            return "separated", beta, cur, it, step
        scale = np.maximum(np.sqrt(np.maximum(np.diag(cur.information), 1e-300)), scale_start)
        in_se = float(np.max(np.abs(step) * scale))
        if in_se < step_tol or (in_se < LOOSE_STEP_TOL and _eta_change(step, cur) < ETA_TOL):
            # the last Newton step is below STEP_TOL standard errors: applying it leaves an error of the
            # order of its square, and the information at the previous point differs from the optimum's by
            # far less than the precision that matters for standard errors, so no further pass is made
            return "converged", beta + step, cur, it, step
        decrement = float(cur.score @ step)
        if decrement < 1e-13 * (1.0 + abs(cur.llf)) and cur.max_abs_eta > ETA_SEPARATED:
            return "separated", beta, cur, it, step
        t = 1.0
        while True:
            trial = beta + t * step
            nxt = logistic_pass(design, y, w, trial, chunk_rows)
            if nxt.llf >= cur.llf - 1e-12 * (1.0 + abs(cur.llf)) or t < 1e-6:
                break
            t *= 0.5
        beta, cur = trial, nxt
        if not np.all(np.isfinite(beta)) or not np.isfinite(cur.llf):
            return "separated", beta, cur, it, step
    return "max_iter", beta, cur, max_iter, step


def fit_logistic(
    design: Design,
    y: np.ndarray,
    w: np.ndarray | None = None,
    *,
    chunk_rows: int = LOGISTIC_CHUNK_ROWS,
    max_iter: int = MAX_ITER,
    what: str = "the propensity model",
    start: np.ndarray | None = None,
) -> LogisticFit:
    """Maximum-likelihood logistic regression of a 0/1 ``y`` on ``design`` (weights are frequency weights).

    ``start`` (coefficients of the design's columns, e.g. the fit on an overlapping sample) replaces the
    default starting point; Newton's method converges to the same maximum from either.

    Raises a :class:`DataError` naming the covariate(s) when the data are separated, a
    :class:`CollinearityError` when the design is rank deficient, and a :class:`ConvergenceError` when
    Newton's method fails for another reason.
    """
    from .passes import check_rank

    n, k = design.n, design.k
    if n <= k:
        raise DataError(f"{n} usable rows but {k} coefficients in {what}; it needs more rows than coefficients.")
    const = set(design.constant_columns())
    if start is not None and start.shape == (k,) and np.all(np.isfinite(start)):
        beta = np.array(start, dtype=np.float64)
    else:
        beta = _warm_start(design, y, w, _intercept_start(design, y, w, const), chunk_rows)
    cur = logistic_pass(design, y, w, beta, chunk_rows)
    # X'WX with every weight positive has the rank of X'X: the rank check needs no extra pass
    check_rank(_information_products(design, cur.information, const))
    status, beta, cur, iterations, step = _newton(design, y, w, beta, cur, chunk_rows, max_iter)
    if status == "separated":
        _raise_separated(design, y, w, beta, step, what, chunk_rows)
    if status == "max_iter":
        separation_by_column(design, y, w)
        raise ConvergenceError(
            f"{what} (logistic regression) did not converge in {max_iter} Newton iterations. Check for "
            "covariates on wildly different scales or near-separation, or pass a scikit-learn classifier."
        )
    _, cov = linalg.solve_spd(cur.information, np.zeros(k))
    return LogisticFit(
        names=list(design.names),
        coef=beta,
        cov=cov,
        information=cur.information,
        n=n,
        llf=cur.llf,
        llnull=_null_llf(y, w),
        iterations=iterations,
    )


def _information_products(design: Design, information: np.ndarray, const: set[int]) -> Any:
    """The information matrix X'WX as cross-products the OLS rank check understands.

    With a constant column c of value v, row c of X'WX is v * sum(w x) and its corner v^2 * sum(w), which
    gives the weighted means; without one, the matrix is taken uncentered."""
    from .passes import CrossProducts

    k = information.shape[0]
    if const:
        c = min(const)
        part = design.parts[c]
        value = 1.0 if part.values is None else float(part.values[0])
        sum_w = float(information[c, c]) / value**2
        sum_x = information[c, :] / value
    else:
        sum_w, sum_x = 1.0, np.zeros(k)
    return CrossProducts.from_sums(list(design.names), design.n, sum_w, sum_x, 0.0, information, np.zeros(k), 0.0)


def _null_llf(y: np.ndarray, w: np.ndarray | None) -> float:
    if w is None:
        sw = float(len(y))
        p = float(np.sum(y)) / sw
    else:
        sw = float(w.sum())
        p = float(w @ y) / sw
    if p <= 0.0 or p >= 1.0:
        return 0.0
    return float(sw * (p * np.log(p) + (1.0 - p) * np.log1p(-p)))


def _intercept_start(design: Design, y: np.ndarray, w: np.ndarray | None, const: set[int]) -> np.ndarray:
    """Zero slopes and the intercept at the logit of the (weighted) mean."""
    beta = np.zeros(design.k)
    # unweighted: the mean of y (for 0/1 outcomes an exact integer sum, as the dot product with ones was)
    p = float(y.sum()) / len(y) if w is None else float(w @ y) / float(w.sum())
    if not 0.0 < p < 1.0:
        raise DataError("The treatment takes one value in every row used; a propensity model needs both groups.")
    if const:
        j = min(const)
        level = design.column(design.names[j])[0] if design.parts[j].values is not None else 1.0
        beta[j] = np.log(p / (1.0 - p)) / level
    return beta


def _warm_start(design: Design, y: np.ndarray, w: np.ndarray | None, beta0: np.ndarray, chunk_rows: int) -> np.ndarray:
    """For large n, the fit on a systematic subsample (no randomness); else ``beta0`` itself."""
    if design.n <= WARM_START_ROWS:
        return beta0
    every = max(2, design.n // (WARM_START_ROWS // 2))
    # copied once into one contiguous matrix: every pass over strided rows would read whole cache lines
    layout = _compiled_layout(design)
    if layout is None:
        sub = Design.from_matrix(design.take(slice(0, design.n, every)).to_array(), design.names)
    else:
        sub = _compiled_subsample(design, layout, every)
    ys = y[::every]
    ws = None if w is None else w[::every]
    if layout is not None:  # contiguous for the compiled passes (the same values)
        ys = np.ascontiguousarray(ys, dtype=np.float64)
        ws = None if ws is None else np.ascontiguousarray(ws, dtype=np.float64)
    if np.all(ys == ys[0]):
        return beta0
    first = logistic_pass(sub, ys, ws, beta0, chunk_rows)
    status, beta, cur, _, _ = _newton(sub, ys, ws, beta0, first, chunk_rows, 30, WARM_STEP_TOL)
    if status == "converged" and cur.max_abs_eta < ETA_SEPARATED:
        return beta
    return beta0


def _compiled_subsample(design: Design, cols: _Columns, every: int) -> Design:
    """Every ``every``-th row of the design's matrix copied by the compiled kernel (row ranges shared by the
    threads) into a column-major matrix; the constant, if any, stays a constant part."""
    from . import _jit_logistic

    m = len(range(0, design.n, every))
    out = np.empty((m, cols.p), order="F")
    jobs = max(1, threads.count())
    bounds = [m * i // jobs for i in range(jobs + 1)]

    def run(ranges: list[tuple[int, int]]) -> list[int]:
        for r0, r1 in ranges:
            _jit_logistic.every_kth(cols.flat, cols.stride, cols.p, every, r0, r1, out)
        return [0] * len(ranges)

    threads.map_chunked(run, [(bounds[i], bounds[i + 1]) for i in range(jobs)])
    if not cols.const:
        return Design.from_matrix(out, design.names)
    return Design.from_matrix(out, design.names[1:]).with_parts([design.parts[0]], front=True)
