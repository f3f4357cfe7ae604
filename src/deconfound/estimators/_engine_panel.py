"""Two-way fixed effects on rows that stay on an engine (DuckDB, Dask, Spark): the in-memory path's
algorithm, with every step over the rows a pass that returns small per-group sums.

* **schema pass** (:func:`deconfound.data.prepare_engine` with ``factors``): the levels of each fixed
  effect, coded per piece as "fe0", "fe1", ...
* **count passes**: per piece, the rows of each level (and their weights), the rows of each cluster, the
  treated rows, the largest |value| and the weighted sums of each column. A level holding one row is a
  singleton; its rows are left out of every later pass (the encoder drops the rows of *marked* levels)
  and the counts are taken again until no new singleton appears: the rows left are the largest set in
  which no level holds a single row, the same rows as the in-memory removal (``demean.drop_singletons``).
* **demeaning passes**: the alternating projections of ``demean.Demeaner`` run on the fixed effects'
  coefficients instead of on the rows. The current value of a column in a row is its raw value less the
  sum of its levels' coefficients, so a projection on factor ``f`` is one pass returning the weighted
  group sums (levels x columns) of the current values; the driver turns them into group means, adds
  them to the coefficients, and sends the coefficients with the next pass's kernel. The Irons-Tuck
  extrapolation needs two inner products of row-space differences per column: one more pass. Every
  column follows its own iterates, sweeps and stopping rule, as in memory (same tolerance, same test).
* **cross-products and the residual pass** of the demeaned columns (computed inside each piece from the
  final coefficients): the core's own passes, then the covariance assembled as ``fixed_effects`` does,
  with the clusters that still have rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._core import linalg, rows
from .._core.covariance import ABSORBED, assemble, check_cov_type, check_small_sample, pass_kind
from .._core.demean import fixed_effect_count
from .._core.design import Design, Part
from .._core.fixed_effects import FE_CHUNK_ROWS, AbsorbedFit, _check_absorbed
from .._core.least_squares import build_fit
from .._core.passes import accumulate, check_rank, residual_pass
from ..errors import DataError
from ._fe import AbsorbedModel

__all__ = ["EngineAbsorbed", "fit_fixed_effects_engine", "staggered_starts"]

#: rows per block of the engine passes (each piece is one partition; this only bounds scratch buffers)
_CHUNK = 1 << 16


@dataclass(frozen=True)
class _DropMarked:
    """The estimate's encoder, without the rows of levels marked as singletons (picklable)."""

    base: Any
    marked: tuple[np.ndarray, ...]  # per factor: True for the levels whose rows are left out

    def __call__(self, table: Any) -> tuple[dict[str, np.ndarray], int]:
        local, n = self.base(table)
        if n == 0:
            return local, n
        drop = np.zeros(n, dtype=bool)
        for f, marked in enumerate(self.marked):
            if marked.any():
                drop |= marked[local[f"fe{f}"]]
        if not drop.any():
            return local, n
        keep = ~drop
        return {key: values[keep] for key, values in local.items()}, int(keep.sum())


@dataclass
class _Counts:
    """What one count pass returns: sums (added), minima and maxima (merged) of fixed lengths."""

    sums: list[np.ndarray]
    lows: list[np.ndarray] = field(default_factory=list)
    highs: list[np.ndarray] = field(default_factory=list)

    def __add__(self, other: _Counts) -> _Counts:
        return _Counts(
            [a + b for a, b in zip(self.sums, other.sums, strict=True)],
            [np.minimum(a, b) for a, b in zip(self.lows, other.lows, strict=True)],
            [np.maximum(a, b) for a, b in zip(self.highs, other.highs, strict=True)],
        )


class _GroupSums:
    """One piece's sums of the current values by level of a factor: dense (levels x columns), or only the
    levels the piece holds (codes, sums) when they are few. Added into a dense total on the driver."""

    def __init__(self, dense: np.ndarray | None, codes: np.ndarray | None = None, values: np.ndarray | None = None):
        self.dense, self.codes, self.values = dense, codes, values

    def __add__(self, other: _GroupSums) -> _GroupSums:
        assert self.dense is not None  # the total is dense; a piece's sums may be either
        if other.dense is not None:
            self.dense += other.dense
        else:
            self.dense[other.codes] += other.values  # codes are distinct within a piece
        return self


#: a piece sends only the levels it holds when they are under this share of the factor's levels
SPARSE_SHARE = 0.25


@dataclass(frozen=True)
class EngineAbsorbed:
    """A fixed-effects fit on an engine, with what the result reports about its passes."""

    model: AbsorbedModel
    n: int
    n_treated: int
    passes: int
    sweeps: int


def _raw_columns(design: Design, templates: Any) -> list[tuple[str, int | None]]:
    """(key of the encoded array, dummy level or None) of each design column."""
    return [(templates.key(p.values) or "", p.level) for p in design.parts]


def _block(local: Any, columns: Sequence[tuple[str, int | None]]) -> np.ndarray:
    """[y, design columns] of a piece's encoded arrays, column-major."""
    n = len(local["y"])
    out = np.empty((n, len(columns) + 1), order="F")
    out[:, 0] = local["y"]
    for j, (key, level) in enumerate(columns, start=1):
        x = local[key]
        if level is None:
            out[:, j] = x
        else:
            np.equal(x, level, out=out[:, j], casting="unsafe")
    return out


def _minus_effects(x: np.ndarray, codes: Sequence[np.ndarray], alpha: Sequence[np.ndarray]) -> np.ndarray:
    """``x`` less each row's fixed-effect coefficients (``alpha[f]``: levels x columns), in place."""
    for c, a in zip(codes, alpha, strict=True):
        by_column = np.ascontiguousarray(a.T)  # one gather per column into x's column-major storage
        for j in range(x.shape[1]):
            x[:, j] -= by_column[j].take(c)
    return x


def fit_fixed_effects_engine(
    prep: Any,
    design: Design,
    *,
    fe_names: Sequence[str],
    cov_type: str,
    small_sample: Any,
    tol: float,
    max_iter: int,
    protect: Sequence[str],
) -> EngineAbsorbed:
    """:func:`deconfound.estimators._fe.fit_fixed_effects` on an engine's rows (see the module's docstring).

    ``prep`` is an :class:`~deconfound.data.EnginePrepared` made with one factor per name of ``fe_names``;
    ``design`` holds the regressors over its stand-ins."""
    cov_type = check_cov_type(cov_type, method="a fixed-effects model", allowed=ABSORBED)
    small = check_small_sample(small_sample)
    tpl = prep.templates
    m_fe = len(prep.factor_sizes)
    sizes_all = tuple(int(g) for g in prep.factor_sizes)
    fe_keys = [f"fe{f}" for f in range(m_fe)]
    columns = _raw_columns(design, tpl)
    k = design.k
    names = design.names
    binary = prep.treatment_kind == "binary"
    cl_codes, _ = prep.cluster_codes() if cov_type == "cluster" else ([], ())
    cl_sizes = [int(c[0]) + 1 for c in cl_codes]  # the stand-ins hold the largest code
    n_given = len(prep.cluster_names) if cov_type == "cluster" else 0
    nest_check = cov_type == "cluster" and small.fixef_k == "nested"
    arrays: dict[str, Any] = {key: tpl[key] for key in fe_keys}
    arrays.update({"y": tpl["y"], "w": prep.weights, "t": tpl["t"] if binary else None})
    arrays.update({f"cluster{g}": c for g, c in enumerate(cl_codes)})
    for key, _ in columns:
        arrays[key] = tpl[key]
    passes = 0

    def count_kernel(part: rows.Partition) -> _Counts:
        w = part.get("w")
        codes = [part[key] for key in fe_keys]
        pairs = list(zip(codes, sizes_all, strict=True))
        sums: list[np.ndarray] = [np.bincount(c, minlength=g).astype(np.float64) for c, g in pairs]
        sums += [s if w is None else np.bincount(c, weights=w, minlength=g) for (c, g), s in zip(pairs, sums)]
        sums += [np.bincount(part[f"cluster{g}"], minlength=size).astype(np.float64) for g, size in enumerate(cl_sizes)]
        local = {key: part[key] for key, _ in columns}
        local["y"] = part["y"]
        x = _block(local, columns)
        wx = x if w is None else x * w[:, None]
        sw = float(part.n) if w is None else float(w.sum())
        treated = float((part["t"] == 1.0).sum()) if binary else 0.0
        sums += [np.array([sw, treated]), wx.sum(axis=0), (wx * x).sum(axis=0)]
        top = np.abs(x).max(axis=0)
        lows, highs = [top], [top]
        if nest_check:
            for c, g in zip(codes, sizes_all, strict=True):
                for h in range(n_given):
                    cl = part[f"cluster{h}"].astype(np.float64)
                    lo, hi = np.full(g, np.inf), np.full(g, -np.inf)
                    np.minimum.at(lo, c, cl)
                    np.maximum.at(hi, c, cl)
                    lows.append(lo)
                    highs.append(hi)
        return _Counts(sums, lows, highs)

    def count_start() -> _Counts:
        sums = [np.zeros(g) for g in sizes_all] * 2 + [np.zeros(size) for size in cl_sizes]
        sums += [np.zeros(2), np.zeros(k + 1), np.zeros(k + 1)]
        lows = [np.full(k + 1, np.inf)] + [np.full(g, np.inf) for g in sizes_all for _ in range(n_given)] * nest_check
        highs = [np.zeros(k + 1)] + [np.full(g, -np.inf) for g in sizes_all for _ in range(n_given)] * nest_check
        return _Counts(sums, lows, highs)

    marked = tuple(np.zeros(g, dtype=bool) for g in sizes_all)
    while True:  # singletons: count, mark the levels with one row, count again until none is new
        with _rows(prep, marked):
            counts = rows.fold(rows.source(None, _CHUNK, n=prep.n, extra=arrays), count_kernel, count_start())
        passes += 1
        new = [(counts.sums[f] == 1.0) & ~marked[f] for f in range(m_fe)]
        if not any(bool(s.any()) for s in new):
            break
        marked = tuple(mk | s for mk, s in zip(marked, new, strict=True))
    n = int(counts.sums[0].sum())
    n_single = prep.n - n
    if n == 0:
        raise DataError(
            "Every observation is alone in its group of some fixed effect (singletons): nothing is left to "
            "estimate from. Check the unit and time columns."
        )
    level_rows = counts.sums[:m_fe]
    wsums = counts.sums[m_fe : 2 * m_fe]
    cl_rows = counts.sums[2 * m_fe : 2 * m_fe + len(cl_sizes)]
    n_treated = int(counts.sums[2 * m_fe + len(cl_sizes)][1])
    sum_w = counts.sums[2 * m_fe + len(cl_sizes)][0]
    wx_sum, wxx_sum = counts.sums[-2], counts.sums[-1]
    scale = counts.highs[0]
    total = np.maximum(wxx_sum - wx_sum**2 / sum_w, 0.0)[1:]
    sizes = tuple(int((r > 0).sum()) for r in level_rows)
    k_fe = fixed_effect_count(sizes)
    present = [r > 0 for r in cl_rows]
    n_clusters = tuple(int(p.sum()) for p in present[:n_given])
    if n_clusters and min(n_clusters) < 2:
        raise DataError("Cluster-robust standard errors need at least two clusters; the data has one.")
    df_k = _df_k(k, sizes, level_rows, fe_names, prep.cluster_names[:n_given], counts, n_given, small.fixef_k, cov_type)
    if n - max(df_k, k + k_fe) <= 0:
        raise DataError(
            f"{n} observations but {k} slope(s) and {k_fe} absorbed fixed-effect parameters: no residual "
            "degrees of freedom are left. Use fewer fixed effects or more data."
        )
    inv = [np.where(ws > 0, 1.0 / np.where(ws > 0, ws, 1.0), 0.0) for ws in wsums]
    alpha, iterations, converged, used = _demean(prep, marked, arrays, columns, fe_keys, inv, scale, tol, max_iter)
    passes += used

    def demeaned(local: Any) -> np.ndarray:
        return _minus_effects(_block(local, columns), [local[key] for key in fe_keys], alpha)

    tpl.derive("twfe:X", demeaned)
    yd = tpl.derive("twfe:y", lambda local: local["twfe:X"][:, 0])
    parts = [Part(name, tpl.derive(f"twfe:x{j}", _column(j + 1))) for j, name in enumerate(names)]
    design_d = Design(parts, n)
    w = prep.weights
    with _rows(prep, marked):
        cp = accumulate(design_d, yd, w, FE_CHUNK_ROWS)
        _check_absorbed(total, np.diag(cp.xtx), names, fe_names)
        check_rank(cp, protect)
        beta, bread = linalg.solve_spd(cp.xtx, cp.xty)
        res = residual_pass(design_d, yd, w, beta, bread, pass_kind(cov_type), cl_codes, FE_CHUNK_ROWS)
    passes += 2
    scores = [s[p] for s, p in zip(res.cluster_scores, present, strict=True)]
    cov, df_inf = assemble(
        cov_type,
        bread,
        n=n,
        df_k=df_k,
        ssr=res.ssr,
        meat=res.meat,
        cluster_scores=scores,
        cluster_sizes=n_clusters,
        rules=small,
    )
    fit = build_fit(
        names,
        beta,
        cov,
        n=n,
        ssr=res.ssr,
        tss=cp.yty,
        xtx=cp.xtx,
        xtx_inv=bread,
        cov_type=cov_type,
        df_inference=df_inf,
        n_clusters=n_clusters,
        k_absorbed=k_fe,
    )
    absorbed = AbsorbedFit(
        fit=fit,
        fe_names=tuple(fe_names),
        fe_sizes=sizes,
        k_fe=k_fe,
        df_k=df_k,
        ssc=small,
        iterations=tuple(iterations),
        converged=converged,
    )
    model = AbsorbedModel(absorbed, None, n_single, (), None)
    return EngineAbsorbed(model, n, n_treated, passes, max(iterations, default=0))


def _column(j: int) -> Any:
    def values(local: Any) -> np.ndarray:
        return local["twfe:X"][:, j]  # type: ignore[no-any-return]

    return values


def _rows(prep: Any, marked: tuple[np.ndarray, ...]) -> Any:
    """The passes' rows: the estimate's, less those of the levels marked as singletons."""
    from ..engines.source import engine_rows

    return engine_rows(prep.engine, list(prep.schema.used), _DropMarked(prep.encoder, marked), prep.templates)


def _df_k(
    k: int,
    sizes: Sequence[int],
    level_rows: Sequence[np.ndarray],
    fe_names: Sequence[str],
    cluster_names: Sequence[str],
    counts: _Counts,
    n_given: int,
    rule: str,
    cov_type: str,
) -> int:
    """The parameters the small-sample correction counts (``fixed_effects._df_k`` from the passes' sums: a
    factor is nested in a clustering when every level's rows share one cluster)."""
    k_fe = fixed_effect_count(sizes)
    if rule == "none" or not sizes:
        return k
    if rule == "full" or cov_type != "cluster" or not n_given:
        return k + k_fe
    nested = []
    for f, name in enumerate(fe_names):
        seen = level_rows[f] > 0
        inside = [
            bool(np.array_equal(counts.lows[1 + f * n_given + h][seen], counts.highs[1 + f * n_given + h][seen]))
            for h in range(n_given)
        ]
        if name in cluster_names or any(inside):
            nested.append(f)
    if not nested:
        return k + k_fe
    return k + k_fe - int(sum(sizes[f] for f in nested)) + len(nested)


def _demean(
    prep: Any,
    marked: tuple[np.ndarray, ...],
    arrays: dict[str, Any],
    columns: Sequence[tuple[str, int | None]],
    fe_keys: Sequence[str],
    inv: Sequence[np.ndarray],
    scale: np.ndarray,
    tol: float,
    max_iter: int,
) -> tuple[list[np.ndarray], list[int], bool, int]:
    """Alternating projections with Irons-Tuck acceleration (``demean.Demeaner.demean``) on the fixed
    effects' coefficients, every column ([y, regressors]) on its own iterates in lockstep passes.

    Returns (final coefficients per factor: levels x columns, sweeps per column, all converged, passes)."""
    m = len(columns) + 1
    n_fe = len(fe_keys)
    sizes = [len(v) for v in inv]
    limit = tol * np.maximum(scale, 1e-300)
    final = [np.zeros((g, m)) for g in sizes]
    sweeps_of = [0] * m
    passes = 0

    def run(kernel: Any, start: Any) -> Any:
        nonlocal passes
        passes += 1
        with _rows(prep, marked):
            return rows.fold(rows.source(None, _CHUNK, n=prep.n, extra=arrays), kernel, start)

    def current(part: rows.Partition, cols: np.ndarray, alpha: Sequence[np.ndarray]) -> tuple[np.ndarray, Any]:
        local = {key: part[key] for key, _ in columns}
        local["y"] = part["y"]
        codes = [part[key] for key in fe_keys]
        return _minus_effects(_block(local, columns)[:, cols], codes, alpha), codes

    def project(alpha: list[np.ndarray], cols: np.ndarray, f: int) -> np.ndarray:
        """One projection on factor ``f`` of the active columns (alpha updated in place); the largest mean."""
        frozen = [a.copy() for a in alpha]

        def kernel(part: rows.Partition) -> _GroupSums:
            x, codes = current(part, cols, frozen)
            w = part.get("w")
            wx = x if w is None else x * w[:, None]
            seen = np.bincount(codes[f], minlength=sizes[f]) > 0
            held = np.flatnonzero(seen)
            sparse = len(held) < SPARSE_SHARE * sizes[f]
            index = (np.cumsum(seen) - 1)[codes[f]] if sparse else codes[f]  # without sorting the rows
            out = np.empty((len(held) if sparse else sizes[f], len(cols)))
            for j in range(len(cols)):
                out[:, j] = np.bincount(index, weights=wx[:, j], minlength=len(out))
            return _GroupSums(None, held, out) if sparse else _GroupSums(out)

        total = run(kernel, _GroupSums(np.zeros((sizes[f], len(cols)))))
        means = total.dense * inv[f][:, None]
        alpha[f] += means
        return np.abs(means).max(axis=0) if means.size else np.zeros(len(cols))

    def sweep(alpha: list[np.ndarray], cols: np.ndarray) -> np.ndarray:
        return sum((project(alpha, cols, f) for f in range(n_fe)), np.zeros(len(cols)))

    def finish(cols: np.ndarray, done: np.ndarray, alpha: list[np.ndarray], count: int) -> np.ndarray:
        for j in np.flatnonzero(done):
            for f in range(n_fe):
                final[f][:, cols[j]] = alpha[f][:, j]
            sweeps_of[cols[j]] = count
        keep = ~done
        for f in range(n_fe):
            alpha[f] = alpha[f][:, keep]
        return cols[keep]

    cols = np.arange(m)
    x = [np.zeros((g, m)) for g in sizes]
    if n_fe == 1:
        project(x, cols, 0)
        return x, [1] * m, True, passes
    cols = finish(cols, sweep(x, cols) <= limit[cols], x, 1)
    count = 1
    while len(cols) and count < max_iter:
        px = [a.copy() for a in x]
        count += 1
        done = sweep(px, cols) <= limit[cols]
        keep = ~done
        cols_now = cols
        cols = finish(cols_now, done, px, count)
        x = [a[:, keep] for a in x]
        if not len(cols):
            break
        ppx = [a.copy() for a in px]
        count += 1
        done = sweep(ppx, cols) <= limit[cols]
        keep = ~done
        cols = finish(cols, done, ppx, count)
        x, px = [a[:, keep] for a in x], [a[:, keep] for a in px]
        if not len(cols):
            break
        x = _irons_tuck(run, x, px, ppx, cols, fe_keys)
    for j in cols:  # not converged: the last iterate, as in memory
        for f in range(n_fe):
            final[f][:, j] = x[f][:, list(cols).index(j)]
        sweeps_of[j] = count
    return final, sweeps_of, not len(cols), passes


def _irons_tuck(
    run: Any,
    x: list[np.ndarray],
    px: list[np.ndarray],
    ppx: list[np.ndarray],
    cols: np.ndarray,
    fe_keys: Sequence[str],
) -> list[np.ndarray]:
    """``demean._irons_tuck`` in coefficient space: the row-space differences P²x - Px and P²x - 2Px + x are
    the coefficient differences spread over the rows, so their inner products take one pass."""
    d1 = [pp - p for pp, p in zip(ppx, px, strict=True)]
    d2 = [a - p + b for a, p, b in zip(d1, px, x, strict=True)]

    def kernel(part: rows.Partition) -> np.ndarray:
        codes = [part[key] for key in fe_keys]
        u = sum(a[c] for a, c in zip(d1, codes, strict=True))
        v = sum(a[c] for a, c in zip(d2, codes, strict=True))
        return np.stack([np.einsum("ij,ij->j", u, v), np.einsum("ij,ij->j", v, v)])

    sums = run(kernel, np.zeros((2, len(cols))))
    out = []
    for f in range(len(x)):
        nxt = ppx[f].copy()
        for j in range(len(cols)):
            ssq = float(sums[1, j])
            if ssq > 0.0 and np.isfinite(ssq):
                nxt[:, j] -= float(sums[0, j]) / ssq * d1[f][:, j]
        out.append(nxt)
    return out


def staggered_starts(prep: Any, treatment: str) -> np.ndarray | str | None:
    """The distinct first treated periods of the units (``_panel.first_treated_from_treatment`` in two
    passes over all rows: each unit's first period with treatment 1, then the rows untreated after it); a
    message when the treatment switches off again; None when there is nothing to check (a treatment that is
    not binary, periods that are not numbers)."""
    import pandas as pd

    if prep.treatment_kind != "binary" or len(prep.factor_sizes) < 2:
        return None
    periods = prep.encoder.factor_levels[1]
    if not pd.api.types.is_numeric_dtype(periods.dtype) or pd.api.types.is_bool_dtype(periods.dtype):
        return None
    period = np.asarray(periods, dtype=np.float64)
    n_units = int(prep.factor_sizes[0])
    tpl = prep.templates
    arrays = {"unit": tpl["fe0"], "time": tpl["fe1"], "t": tpl["t"]}

    def first(part: rows.Partition) -> _Counts:
        treated = part["t"] == 1.0
        g = np.full(n_units, np.inf)
        np.minimum.at(g, part["unit"][treated], period[part["time"][treated]])
        return _Counts([], [g], [])

    with prep.rows():
        src = rows.source(None, _CHUNK, n=prep.n, extra=arrays)
        g = rows.fold(src, first, _Counts([], [np.full(n_units, np.inf)], [])).lows[0]

        def off(part: rows.Partition) -> _Counts:
            unit = part["unit"]
            bad = (period[part["time"]] >= g[unit]) & (part["t"] != 1.0)
            return _Counts([np.bincount(unit[bad], minlength=n_units).astype(np.float64)])

        switched = rows.fold(rows.source(None, _CHUNK, n=prep.n, extra=arrays), off, _Counts([np.zeros(n_units)]))
    units = np.flatnonzero(switched.sums[0])
    if units.size:
        label = prep.encoder.factor_levels[0][units[0]]
        label = label.item() if isinstance(label, np.generic) else label
        return (
            f"treatment {treatment!r} switches off again for {units.size} unit(s) (e.g. unit {label!r}); "
            "staggered-adoption methods need a treatment that stays on once it starts"
        )
    return np.unique(g[np.isfinite(g)])
