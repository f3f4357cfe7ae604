"""Absorbing fixed effects: singleton removal and the within transformation.

A regression with fixed effects (unit, time, firm x year, ...) is the regression of the variables
with the fixed effects projected out (Frisch-Waugh-Lovell). The projection is computed without
dummy columns:

* one factor: subtract the (weighted) group means, which is exact;
* several factors: the method of alternating projections (subtract the group means of each factor
  in turn until nothing changes), accelerated with the Irons-Tuck extrapolation as in fixest.
  A balanced panel with unit and time effects converges after one sweep (the second confirms it).

Group sums use ``np.bincount`` over integer codes, so each sweep is a few passes over memory.
Convergence is measured by the largest group mean subtracted in a sweep (a bound on the change of
every value), relative to the scale of the column.

``drop_singletons`` removes observations that are alone in a group of some factor, repeatedly
(removing one can create another), as fixest does: their fixed effect fits them perfectly, so they
carry no information about the slopes but would bias the degrees of freedom.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import kernels, threads

DEMEAN_TOL = 1e-10
DEMEAN_MAX_ITER = 10_000


def factorize(values: np.ndarray) -> tuple[np.ndarray, int]:
    """Integer codes 0..G-1 (in order of first appearance) and G, for any hashable values."""
    from .codes import factorize as fast_factorize

    codes, uniques = fast_factorize(values)
    return codes, len(uniques)


def drop_singletons(codes: Sequence[np.ndarray]) -> np.ndarray:
    """Boolean mask of the observations kept after removing singletons of every factor, repeatedly."""
    n = len(codes[0]) if codes else 0
    keep = np.ones(n, dtype=bool)
    if len(codes) == 0:
        return keep
    if not any(bool((np.bincount(c) == 1).any()) for c in codes if len(c)):
        return keep  # no group of any factor holds a single row: nothing to drop (the usual panel)
    while True:
        changed = False
        for c in codes:
            counts = np.bincount(c, weights=keep, minlength=int(c.max()) + 1 if n else 0)
            single = keep & (counts[c] == 1.0)
            if single.any():
                keep &= ~single
                changed = True
        if not changed or len(codes) == 1:
            return keep


def compact(codes: np.ndarray) -> tuple[np.ndarray, int]:
    """Re-number codes so that the levels present are 0..G-1 (after rows were removed)."""
    if len(codes) == 0:
        return codes.astype(np.intp), 0
    present = np.bincount(codes) > 0
    if present.all():
        return codes.astype(np.intp, copy=False), int(present.size)
    remap = np.cumsum(present) - 1
    return remap[codes].astype(np.intp), int(present.sum())


@dataclass(frozen=True)
class DemeanInfo:
    """How the within transformation went, per column."""

    iterations: tuple[int, ...]
    converged: bool


class Demeaner:
    """Projects the fixed effects of ``codes`` out of columns, with optional analytic weights.

    ``codes`` are integer arrays (0..G-1) of equal length, one per factor. ``tol`` is the relative
    tolerance of the alternating projections; ``max_iter`` caps the sweeps per column.
    """

    def __init__(
        self,
        codes: Sequence[np.ndarray],
        weights: np.ndarray | None = None,
        *,
        tol: float = DEMEAN_TOL,
        max_iter: int = DEMEAN_MAX_ITER,
        counts: Sequence[np.ndarray | None] | None = None,
    ) -> None:
        self.codes = [np.asarray(c, dtype=np.intp) for c in codes]
        given = list(counts) if counts is not None and weights is None else [None] * len(self.codes)
        if len(given) != len(self.codes):
            raise ValueError("Demeaner: one array of counts per factor (or None)")
        # the rows of each code, when the caller has counted them already (unweighted only): G is their length
        self.sizes = [
            len(k) if k is not None else (int(c.max()) + 1 if len(c) else 0) for c, k in zip(self.codes, given)
        ]
        self.weights = None if weights is None else np.asarray(weights, dtype=np.float64)
        self.tol = float(tol)
        self.max_iter = int(max_iter)
        self._inv = []
        for c, g, k in zip(self.codes, self.sizes, given):
            if k is not None:
                wsum = np.asarray(k, dtype=np.float64)
            else:
                wsum = np.bincount(c, weights=self.weights, minlength=g).astype(np.float64)
            with np.errstate(divide="ignore"):
                self._inv.append(np.where(wsum > 0, 1.0 / np.where(wsum > 0, wsum, 1.0), 0.0))
        self._small_codes: tuple[np.ndarray, ...] | None = None
        self._starts: np.ndarray | None = None
        self._two_way: tuple[np.ndarray, bool, np.ndarray, np.ndarray] = (
            np.empty(0, np.int64),
            False,
            np.empty(0, np.int32),
            np.empty(0),
        )
        self._runs_cache: list[tuple[np.ndarray, np.ndarray] | None] | None = None

    @property
    def _runs(self) -> list[tuple[np.ndarray, np.ndarray] | None]:
        if self._runs_cache is None:  # the numpy path only: the compiled one does not need them
            self._runs_cache = [_runs(c, g) for c, g in zip(self.codes, self.sizes)]
        return self._runs_cache

    # one projection and one sweep -----------------------------------------------------------------
    def _project(self, x: np.ndarray, j: int) -> float:
        """Subtract the group means of factor ``j`` from ``x`` in place; return the largest mean."""
        c = self.codes[j]
        wx = x if self.weights is None else self.weights * x
        runs = self._runs[j]
        if runs is not None:  # rows sorted by this factor (a panel sorted by unit): contiguous sums
            starts, counts = runs
            means = np.add.reduceat(wx, starts)
            means *= self._inv[j]
            x -= np.repeat(means, counts)
        else:
            means = np.bincount(c, weights=wx, minlength=self.sizes[j])
            means *= self._inv[j]
            x -= means[c]
        return float(np.abs(means).max()) if means.size else 0.0

    def _sweep(self, x: np.ndarray) -> float:
        return sum(self._project(x, j) for j in range(len(self.codes)))

    # public -------------------------------------------------------------------------------------------
    def demean(self, x: np.ndarray) -> tuple[np.ndarray, int, bool]:
        """Return (x with the fixed effects projected out, sweeps used, converged)."""
        x = np.array(x, dtype=np.float64, copy=True)
        if not self.codes:
            return x, 0, True
        if kernels.compiled() and x.size:
            return self._demean_compiled(x, self._scratch(x.shape[0]))
        if len(self.codes) == 1:
            self._project(x, 0)
            return x, 1, True
        scale = float(np.abs(x).max()) if x.size else 0.0
        limit = self.tol * max(scale, 1e-300)
        if self._sweep(x) <= limit:
            return x, 1, True
        sweeps = 1
        while sweeps < self.max_iter:
            px = x.copy()
            sweeps += 1
            if self._sweep(px) <= limit:
                return px, sweeps, True
            ppx = px.copy()
            sweeps += 1
            if self._sweep(ppx) <= limit:
                return ppx, sweeps, True
            x = _irons_tuck(x, px, ppx)
        return x, sweeps, False

    def _demean_compiled(
        self, x: np.ndarray, scratch: tuple[np.ndarray, np.ndarray] | None = None
    ) -> tuple[np.ndarray, int, bool]:
        """Compiled alternating projections on ``x`` (overwritten). With ``scratch`` (two columns like x)
        the result is written into ``x`` itself, using the scratch columns for the iterates."""
        from . import _jit_demean

        self._compiled_setup()
        codes = self._small_codes
        assert codes is not None
        w = _plain(self.weights) if self.weights is not None else np.empty(0)
        has_w = self.weights is not None
        if len(codes) == 2:  # over the coefficients: the column is read at the first sweep and written at the end
            sweeps, ok = self._two_way_columns(x.reshape(1, -1), np.empty((0, x.shape[0])))
            return x, int(sweeps[0]), bool(ok[0])
        starts = self._starts
        inv = tuple(self._inv)
        sums = tuple(np.empty(g) for g in self.sizes)
        if len(codes) == 1:
            _jit_demean.sweep(x, x, codes, inv, w, has_w, sums, starts)
            return x, 1, True
        limit = self.tol * max(float(x.max()), -float(x.min()), 1e-300)
        if scratch is not None:
            sweeps, ok = _jit_demean.demean_in_place(
                x, codes, inv, w, has_w, sums, limit, self.max_iter, *scratch, starts
            )
            return x, int(sweeps), bool(ok)
        out, sweeps, ok = _jit_demean.demean(x, codes, inv, w, has_w, sums, limit, self.max_iter, starts)
        return out, int(sweeps), bool(ok)

    def _compiled_setup(self) -> None:
        """The codes as int32 (when they fit: less memory to read per sweep), whether the rows come in runs of
        the first factor, and for two factors the rows' second codes and weights in order of the first."""
        if self._small_codes is not None:
            return
        from . import _jit_demean

        small = max(self.sizes) < 2**31 - 1
        self._small_codes = tuple(c.astype(np.int32) if small else _plain(c) for c in self.codes)
        # rows in runs of the first factor (a panel sorted by unit): its sums need no pass of their own
        self._starts = _jit_demean.run_starts(self._small_codes[0], self.sizes[0])
        if len(self.codes) == 2:
            in_runs = len(self._starts) > 0
            second = self._small_codes[1]
            w = np.empty(0) if self.weights is None else _plain(self.weights)
            # the second codes read by every sweep: one byte each when they fit (a few dozen periods), which
            # makes a sweep about a fifth faster than four bytes
            narrow = np.uint8 if self.sizes[1] <= 256 else second.dtype
            if in_runs:
                self._two_way = (self._starts, True, second.astype(narrow), w)
            else:  # a stable counting sort by the first factor, once for every column
                order, starts = _jit_demean.unit_order(self._small_codes[0], self.sizes[0])
                self._two_way = (starts, False, second[order].astype(narrow, copy=False), w[order] if w.size else w)

    def _scratch(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Two columns of n rows for the compiled iterates, allocated once and reused by every column."""
        if len(self.codes) == 2:  # the two-factor kernel keeps its iterates per group, not per row
            return (np.empty(0), np.empty(0))
        got = self.__dict__.get("_scratch_pair")
        if got is None or got[0].shape[0] != n:
            got = (np.empty(n), np.empty(n))
            self.__dict__["_scratch_pair"] = got
        return got

    def demean_columns(self, matrix: np.ndarray, *, overwrite: bool = False) -> tuple[np.ndarray, DemeanInfo]:
        """Demean every column of a 2-D array (returned as a new Fortran-ordered array; with ``overwrite``, a
        Fortran-ordered float64 ``matrix`` is demeaned in place and returned)."""
        _, _, _, out, info = self.demean_with(None, matrix, overwrite=overwrite)
        return out, info

    def demean_with(
        self, y: np.ndarray | None, matrix: np.ndarray, *, overwrite: bool = False
    ) -> tuple[np.ndarray, int, bool, np.ndarray, DemeanInfo]:
        """:meth:`demean` of ``y`` (a copy; skipped when None) and :meth:`demean_columns` of ``matrix`` together:
        (y demeaned, its sweeps, converged, the matrix demeaned, its DemeanInfo). With two factors and the
        compiled kernels every column iterates in one pass over the codes per sweep, the columns shared between
        threads (each column's numbers are its own: the same with any thread count)."""
        matrix = np.asarray(matrix, dtype=np.float64)
        if not (kernels.compiled() and len(self.codes) == 2 and matrix.shape[0] and (matrix.size or y is not None)):
            yd, y_its, y_ok = self.demean(y) if y is not None else (np.empty(0), 0, True)
            out, info = self._demean_columns_each(matrix, overwrite=overwrite)
            return yd, y_its, y_ok, out, info
        in_place = overwrite and matrix.flags.f_contiguous and matrix.flags.writeable
        out = matrix if in_place else np.array(matrix, dtype=np.float64, order="F", copy=True)
        yd = np.array(y, dtype=np.float64, copy=True) if y is not None else np.empty((0,))
        sweeps, ok = self._two_way_columns(out.T, yd.reshape(1, -1) if y is not None else np.empty((0, out.shape[0])))
        k = out.shape[1]
        info = DemeanInfo(tuple(int(v) for v in sweeps[:k]), bool(ok[:k].all()))
        if y is None:
            return yd, 0, True, out, info
        return yd, int(sweeps[k]), bool(ok[k]), out, info

    def _two_way_columns(self, xa: np.ndarray, xb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The compiled two-factor projections of the rows of ``xa`` then of ``xb`` (C-ordered, one column of the
        data per row), in place; (sweeps, converged) of each. Contiguous groups of columns go to the threads."""
        from . import _jit_demean

        self._compiled_setup()
        codes = self._small_codes
        assert codes is not None
        unit_starts, in_runs, second, w_units = self._two_way
        w = _plain(self.weights) if self.weights is not None else np.empty(0)
        has_w = self.weights is not None
        ka, total = xa.shape[0], xa.shape[0] + xb.shape[0]
        jobs = min(threads.count(), total) if threads.parallel() else 1
        bounds = [total * i // jobs for i in range(jobs + 1)]

        def run(part: int) -> tuple[np.ndarray, np.ndarray]:
            lo, hi = bounds[part], bounds[part + 1]
            sweeps = np.zeros(hi - lo, dtype=np.int64)
            ok = np.zeros(hi - lo, dtype=np.bool_)
            for j in range(lo, hi):
                x = xa[j] if j < ka else xb[j - ka]
                sweeps[j - lo], ok[j - lo] = _jit_demean.demean_two_way(
                    x, codes[0], codes[1], unit_starts, in_runs, second, w_units, w, has_w, self._inv[0],
                    self._inv[1], self.tol, self.max_iter,
                )  # fmt: skip
            return sweeps, ok

        parts = threads.map_ordered(run, range(jobs), workers=jobs)
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def _demean_columns_each(self, matrix: np.ndarray, *, overwrite: bool = False) -> tuple[np.ndarray, DemeanInfo]:
        iterations = []
        converged = True
        if kernels.compiled() and self.codes and matrix.size:  # each column demeaned where it is returned
            in_place = overwrite and matrix.flags.f_contiguous and matrix.flags.writeable
            out = matrix if in_place else np.empty(matrix.shape, dtype=np.float64, order="F")
            scratch = self._scratch(matrix.shape[0])
            for j in range(matrix.shape[1]):
                if not in_place:
                    out[:, j] = matrix[:, j]
                _, its, ok = self._demean_compiled(out[:, j], scratch)
                iterations.append(its)
                converged &= ok
            return out, DemeanInfo(tuple(iterations), converged)
        out = np.empty(matrix.shape, dtype=np.float64, order="F")
        for j in range(matrix.shape[1]):
            out[:, j], its, ok = self.demean(matrix[:, j])
            iterations.append(its)
            converged &= ok
        return out, DemeanInfo(tuple(iterations), converged)


def _plain(a: np.ndarray) -> np.ndarray:
    """``a`` as a writeable C-contiguous array (a copy only when it is not one)."""
    return a if a.flags.c_contiguous and a.flags.writeable else np.array(a, order="C")


def _runs(codes: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(start, length) of each group when the rows are sorted by ``codes`` with groups 0, 1, 2, ... in
    order (each group one contiguous run); None otherwise."""
    n = len(codes)
    if n == 0 or size < 2 or codes[0] != 0 or codes[-1] != size - 1:
        return None
    if not bool((codes[1:] >= codes[:-1]).all()):
        return None
    starts = np.flatnonzero(np.diff(codes)) + 1
    if len(starts) != size - 1:
        return None
    starts = np.concatenate(([0], starts))
    return starts, np.diff(np.append(starts, n))


def _irons_tuck(x: np.ndarray, px: np.ndarray, ppx: np.ndarray) -> np.ndarray:
    """Irons-Tuck extrapolation of the linear fixed-point iteration x -> P(x) from x, P(x), P(P(x))."""
    d1 = ppx - px
    d2 = d1 - px
    d2 += x
    ssq = float(d2 @ d2)
    if ssq <= 0.0 or not np.isfinite(ssq):
        return ppx
    coef = float(d1 @ d2) / ssq
    d1 *= coef
    return np.subtract(ppx, d1, out=d1)


def fixed_effect_count(sizes: Sequence[int]) -> int:
    """Parameters absorbed by the factors, as fixest/pyfixest count them: sum of levels less one
    reference per factor beyond the first (exact for nested or connected two-way designs)."""
    if not sizes:
        return 0
    return int(sum(sizes)) - (len(sizes) - 1)


def is_nested(fe_codes: np.ndarray, cluster_codes: np.ndarray) -> bool:
    """True when every level of the fixed effect lies within a single cluster."""
    if len(fe_codes) == 0:
        return True
    size = int(fe_codes.max()) + 1
    head = min(len(fe_codes), 4096)  # two rows of one level in different clusters early on: not nested
    if head < len(fe_codes):
        seen = np.full(size, -1, dtype=np.int64)
        seen[fe_codes[:head]] = cluster_codes[:head]
        if not np.array_equal(seen[fe_codes[:head]], cluster_codes[:head]):
            return False
    first = np.empty(size, dtype=cluster_codes.dtype)
    first[fe_codes] = cluster_codes
    return bool(np.array_equal(first[fe_codes], cluster_codes))
