"""Least squares from sufficient statistics.

Two passes over the rows, each a kernel per partition of a row source (:mod:`._core.rows`: bounded-memory
chunks of the in-memory arrays by default) merged exactly:

1. ``accumulate``: the (weighted) means of every column and of y, and the *centered* cross-products
   sum w (x - mean)(x - mean)', sum w (x - mean)(y - mean_y), sum w (y - mean_y)^2. Chunks are merged
   with the pairwise update of Chan, Golub and LeVeque, so the result does not depend on the chunking
   and does not suffer the cancellation of raw sums (X'X of a column with a large mean squares the
   condition number; centering removes that, as a QR of X would).
2. ``solve`` (no data needed), then ``residual_pass``: residual sums of squares and the "meat" of the
   sandwich covariances (HC0-HC3, one- and two-way cluster), which need the coefficients.

When the design has a constant column the problem is solved in *centered coordinates* Z = X - 1 s'
(every non-constant column centered, the constant replaced by ones), where Z'WZ is block diagonal,
and mapped back to the user's coordinates by the linear map :class:`Coordinates`.

Accumulation is separate from solving so that other engines (out of core, a cluster) can produce the
same :class:`CrossProducts` (per partition, then ``+``) and reuse everything after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import CollinearityError, DataError
from . import linalg, rows
from .design import Design

CHUNK_ROWS = 1 << 15
#: a column whose weighted variance is below this fraction of its mean square is constant
CONST_TOL = 1e-20


@dataclass
class CrossProducts:
    """Sufficient statistics of a weighted least-squares problem, mergeable across chunks with ``+``.

    ``mean``/``mean_y`` are weighted means; ``cxx``, ``cxy``, ``cyy`` are centered (co)moments. The raw
    sums X'WX, X'Wy, y'Wy are available as properties.
    """

    names: list[str]
    n: int
    sum_w: float
    mean: np.ndarray
    mean_y: float
    cxx: np.ndarray
    cxy: np.ndarray
    cyy: float

    @classmethod
    def empty(cls, names: Sequence[str]) -> CrossProducts:
        k = len(names)
        return cls(list(names), 0, 0.0, np.zeros(k), 0.0, np.zeros((k, k)), np.zeros(k), 0.0)

    @classmethod
    def from_sums(
        cls,
        names: Sequence[str],
        n: int,
        sum_w: float,
        sum_x: np.ndarray,
        sum_y: float,
        xtx: np.ndarray,
        xty: np.ndarray,
        yty: float,
    ) -> CrossProducts:
        """Build from raw weighted sums (for engines that can only add up products, e.g. in SQL).

        Centering raw sums loses the precision that :func:`accumulate` keeps when columns have large means.
        """
        mean = np.asarray(sum_x, dtype=np.float64) / sum_w
        my = float(sum_y) / sum_w
        cxx = np.asarray(xtx, dtype=np.float64) - sum_w * np.outer(mean, mean)
        cxy = np.asarray(xty, dtype=np.float64) - sum_w * mean * my
        return cls(list(names), int(n), float(sum_w), mean, my, 0.5 * (cxx + cxx.T), cxy, float(yty) - sum_w * my**2)

    @property
    def xtx(self) -> np.ndarray:
        return self.cxx + self.sum_w * np.outer(self.mean, self.mean)

    @property
    def xty(self) -> np.ndarray:
        return self.cxy + self.sum_w * self.mean * self.mean_y

    @property
    def yty(self) -> float:
        return self.cyy + self.sum_w * self.mean_y**2

    @property
    def sum_y(self) -> float:
        return self.sum_w * self.mean_y

    def __add__(self, other: CrossProducts) -> CrossProducts:
        if other.sum_w == 0:
            return CrossProducts(self.names, self.n + other.n, *self._stats())
        if self.sum_w == 0:
            return CrossProducts(self.names, self.n + other.n, *other._stats())
        w = self.sum_w + other.sum_w
        f = self.sum_w * other.sum_w / w
        dx = other.mean - self.mean
        dy = other.mean_y - self.mean_y
        return CrossProducts(
            self.names,
            self.n + other.n,
            w,
            self.mean + dx * (other.sum_w / w),
            self.mean_y + dy * (other.sum_w / w),
            self.cxx + other.cxx + f * np.outer(dx, dx),
            self.cxy + other.cxy + f * dx * dy,
            self.cyy + other.cyy + f * dy * dy,
        )

    def _stats(self) -> tuple:
        return self.sum_w, self.mean, self.mean_y, self.cxx, self.cxy, self.cyy

    def constant_columns(self) -> list[int]:
        """Columns that take one non-zero value in every row with positive weight."""
        raw = np.diag(self.cxx) + self.sum_w * self.mean**2
        return [j for j in range(len(self.names)) if raw[j] > 0 and self.cxx[j, j] <= CONST_TOL * raw[j]]


def _gram(a: np.ndarray) -> np.ndarray:
    """a'a for a column-major block (BLAS syrk: half the work of a general product)."""
    if a.shape[0] == 0:
        return np.zeros((a.shape[1], a.shape[1]))
    upper = a.T @ a  # NumPy hands a'a to BLAS syrk (the bits of scipy's dsyrk, without importing scipy.linalg)
    return np.triu(upper) + np.triu(upper, 1).T


def block_products(blk: np.ndarray, y: np.ndarray, w: np.ndarray | None, names: Sequence[str]) -> CrossProducts:
    """The CrossProducts of one block of rows (``blk`` holds the design columns, ``y`` the outcome)."""
    ext = np.empty((blk.shape[0], blk.shape[1] + 1), order="F")
    ext[:, :-1] = blk
    ext[:, -1] = y
    return _products(ext, w, names)


def _products(ext: np.ndarray, w: np.ndarray | None, names: Sequence[str]) -> CrossProducts:
    """CrossProducts from a scratch block [X | y] (overwritten): one centering and one syrk give everything."""
    rows = ext.shape[0]
    sum_w = float(rows if w is None else w.sum())
    if sum_w == 0:
        return CrossProducts(list(names), rows, *CrossProducts.empty(names)._stats())
    mean = (ext.sum(axis=0) if w is None else w @ ext) / sum_w
    ext -= mean
    if w is not None:
        ext *= np.sqrt(w)[:, None]
    g = _gram(ext)
    cyy = float(g[-1, -1])
    return CrossProducts(list(names), rows, sum_w, mean[:-1], float(mean[-1]), g[:-1, :-1], g[:-1, -1], cyy)


def accumulate(
    design: Design, y: np.ndarray, w: np.ndarray | None = None, chunk_rows: int = CHUNK_ROWS
) -> CrossProducts:
    """One pass over the rows accumulating weighted means and centered cross-products (a kernel per
    partition, merged exactly by :meth:`CrossProducts.__add__`)."""
    k = design.k
    names = design.names
    buf: np.ndarray | None = None

    def kernel(part: rows.Partition) -> CrossProducts:
        nonlocal buf
        buf = rows.scratch(buf, part.n, k + 1)
        ext = buf[: part.n]
        part.block(buf[:, :k])
        ext[:, k] = part["y"]
        return _products(ext, part.get("w"), names)

    return rows.fold(rows.source(design, chunk_rows, y=y, w=w), kernel, CrossProducts.empty(names))


def accumulate_arms(
    design: Design, y: np.ndarray, arm: np.ndarray, w: np.ndarray | None = None, chunk_rows: int = CHUNK_ROWS
) -> tuple[CrossProducts, CrossProducts]:
    """:func:`accumulate` of the rows with ``arm`` False and of those with ``arm`` True, in one pass over
    all the rows: each partition's block [X | y] is read once and split by the arm (the per-group outcome
    regressions of AIPW and regression adjustment, without copying each group's rows first)."""
    k = design.k
    names = design.names
    bufs: dict[str, np.ndarray | None] = {"block": None, "arm": None}

    def kernel(part: rows.Partition) -> _ArmProducts:
        # each group's rows are gathered column by column into a column-major scratch block [X | y] (read
        # in place from the design when it allows: no copy of the whole block first)
        mask, yc, wc = part["arm"], part["y"], part.get("w")
        matrix = part.matrix()
        if matrix is None:
            blk = bufs["block"] = part.block(bufs["block"])
            cols: list[np.ndarray | None] = [blk[:, j] for j in range(k)]
        else:  # a constant 1, then the matrix's columns
            cols = [None] + [matrix[:, j] for j in range(k - 1)]
        pair = []
        for m in (~mask, mask):
            idx = np.flatnonzero(m)
            ext = bufs["arm"] = rows.scratch(bufs["arm"], len(idx), k + 1)
            ext = ext[: len(idx)]
            for j, col in enumerate(cols):
                if col is None:
                    ext[:, j] = 1.0
                else:
                    np.take(col, idx, out=ext[:, j])
            np.take(yc, idx, out=ext[:, k])
            pair.append(_products(ext, None if wc is None else wc[idx], names))
        return _ArmProducts(pair[0], pair[1])

    src = rows.source(design, chunk_rows, extra={"arm": np.asarray(arm, dtype=bool)}, y=y, w=w)
    empty = _ArmProducts(CrossProducts.empty(names), CrossProducts.empty(names))
    total = rows.fold(src, kernel, empty)
    return total.control, total.treated


@dataclass
class _ArmProducts:
    """Each group's cross-products (merged by + of each)."""

    control: CrossProducts
    treated: CrossProducts

    def __add__(self, other: _ArmProducts) -> _ArmProducts:
        return _ArmProducts(self.control + other.control, self.treated + other.treated)


def _fitted(blk: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """blk @ beta without BLAS: a threaded gemv on a tall, thin block is slow when cores are shared."""
    return np.einsum("ij,j->i", blk, beta)


# --------------------------------------------------------------------------------------------------
# coordinates: solve centered, report raw
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Coordinates:
    """The map between the user's design X and the centered design Z = X - 1 s' used for solving.

    With a constant column ``const`` (value v), s holds the means of the other columns and v - 1 for
    the constant, so Z's constant column is 1 and the others are centered. Then X b = Z M b with
    M = I + e_c s', and b = L b_z with L = M^-1 = I - e_c s' / v. Without a constant, Z = X and L = I.
    """

    shift: np.ndarray
    const: int | None
    value: float = 1.0

    @classmethod
    def from_products(cls, cp: CrossProducts) -> Coordinates:
        consts = cp.constant_columns()
        if not consts:
            return cls(np.zeros(len(cp.names)), None)
        c = consts[0]
        shift = cp.mean.copy()
        value = float(cp.mean[c])
        shift[c] = value - 1.0
        return cls(shift, c, value)

    @property
    def transform(self) -> np.ndarray:
        """L, with b = L b_z and Cov(b) = L Cov(b_z) L'."""
        k = len(self.shift)
        lmat = np.eye(k)
        if self.const is not None:
            lmat[self.const, :] -= self.shift / self.value
        return lmat

    def system(self, cp: CrossProducts) -> tuple[np.ndarray, np.ndarray]:
        """Z'WZ and Z'Wy."""
        if self.const is None:
            return cp.xtx, cp.xty
        c = self.const
        ztz = cp.cxx.copy()
        ztz[c, :] = 0.0
        ztz[:, c] = 0.0
        ztz[c, c] = cp.sum_w
        zty = cp.cxy.copy()
        zty[c] = cp.sum_y
        return ztz, zty

    def to_z(self, blk: np.ndarray) -> np.ndarray:
        """Shift a block of X rows into Z coordinates, in place."""
        if self.const is not None:
            blk -= self.shift
        return blk


def check_rank(cp: CrossProducts, protect: Sequence[str] = (), coords: Coordinates | None = None) -> None:
    """Raise a CollinearityError naming the dependent columns, if any.

    Columns are checked in their order, except that the constant comes first, then ``protect`` (the
    treatment) and the columns that interact it, so that a covariate collinear with the treatment is the
    one named as dependent. Dependence is judged on the centered cross-products (1 - R^2 below
    ``linalg.RANK_TOL``), so a covariate with a large mean is not mistaken for a copy of the constant.
    """
    coords = coords if coords is not None else Coordinates.from_products(cp)
    names = cp.names
    deps: list[linalg.Dependency] = []
    consts = cp.constant_columns() if coords.const is not None else []
    for j in consts[1:]:
        deps.append(linalg.Dependency(j, ((coords.const, float(cp.mean[j] / coords.value)),)))  # type: ignore[arg-type]
    ztz, _ = coords.system(cp)
    skip = set(consts[1:])
    order = _check_order(names, protect, coords.const)
    order = [i for i in order if i not in skip]
    for d in linalg.find_dependent(ztz[np.ix_(order, order)]):
        j = order[d.column]
        comb = [(order[i], a) for i, a in d.combination if order[i] != coords.const]
        if coords.const is not None and comb:
            # centered: x_j - m_j = sum a_i (x_i - m_i), so the constant carries m_j - sum a_i m_i
            level = cp.mean[j] - sum(a * cp.mean[i] for i, a in comb)
            scale = abs(cp.mean[j]) + sum(abs(a * cp.mean[i]) for i, a in comb)
            if abs(level) > 1e-9 * scale:
                comb.insert(0, (coords.const, float(level / coords.value)))
        deps.append(linalg.Dependency(j, tuple(comb)))
    if deps:
        raise _collinearity_error(cp, deps)


def _check_order(names: Sequence[str], protect: Sequence[str], const: int | None) -> list[int]:
    order = list(range(len(names)))
    first = [const] if const is not None else [i for i in order if names[i] in ("const", "Intercept")]
    treat = [i for i in order if names[i] in protect and i not in first]
    inter = [i for i in order if i not in first + treat and set(names[i].split(":")) & set(protect)]
    front = first + treat + inter
    return front + [i for i in order if i not in front]


def _collinearity_error(cp: CrossProducts, deps: list[linalg.Dependency]) -> CollinearityError:
    lines = []
    raw = np.diag(cp.cxx) + cp.sum_w * cp.mean**2
    for dep in sorted(deps, key=lambda d: d.column):
        name = cp.names[dep.column]
        if not dep.combination and raw[dep.column] <= 0:
            lines.append(f"{name!r} is zero in every row")
            continue
        if not dep.combination:
            lines.append(f"{name!r} is numerically zero")
            continue
        terms = " + ".join(f"{coef:.4g}*{cp.names[i]}" for i, coef in dep.combination)
        lines.append(f"{name!r} = {terms}")
    names = [cp.names[d.column] for d in sorted(deps, key=lambda d: d.column)]
    return CollinearityError(
        "The design matrix is rank deficient, so these effects cannot be told apart: "
        + "; ".join(lines)
        + ". Remove or recombine the dependent column(s) "
        + ", ".join(repr(n) for n in names)
        + ".",
        dependent=names,
    )


# --------------------------------------------------------------------------------------------------
# the second pass
# --------------------------------------------------------------------------------------------------


@dataclass
class Residuals:
    """What the second pass over the rows collects (in the coordinates of the coefficients given);
    partial results of partitions merge exactly with ``+``."""

    ssr: float  # sum w e^2
    meat: np.ndarray | None = None  # HC meat, sum of w^2 e^2 / (1-h)^p x x'
    cluster_scores: list[np.ndarray] = field(default_factory=list)  # per clustering: G x k score sums
    min_one_minus_h: float = 1.0

    def __add__(self, other: Residuals) -> Residuals:
        meat = self.meat if other.meat is None else (other.meat if self.meat is None else self.meat + other.meat)
        scores = [a + b for a, b in zip(self.cluster_scores, other.cluster_scores, strict=True)]
        return Residuals(self.ssr + other.ssr, meat, scores, min(self.min_one_minus_h, other.min_one_minus_h))


def _residual_block(
    part: rows.Partition, beta: np.ndarray, coords: Coordinates | None, buf: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """A partition's rows in the coordinates of ``coords`` (written into ``buf`` when it fits, so a caller
    may overwrite it) and its residuals y - block @ beta."""
    blk = part.block(buf)
    if coords is not None:
        coords.to_z(blk)
    return blk, part["y"] - _fitted(blk, beta)


def residual_pass(
    design: Design,
    y: np.ndarray,
    w: np.ndarray | None,
    beta: np.ndarray,
    xtx_inv: np.ndarray,
    cov_type: str,
    clusters: Sequence[np.ndarray] = (),
    chunk_rows: int = CHUNK_ROWS,
    coords: Coordinates | None = None,
) -> Residuals:
    """Second pass: residual sum of squares and the meat of the requested sandwich covariance.

    ``beta`` and ``xtx_inv`` are in the coordinates of ``coords`` (the user's when it is None). Cluster
    codes are global (their number of groups comes from the whole arrays, not from a partition).
    """
    k = design.k
    need_meat = cov_type in ("HC0", "HC1", "HC2", "HC3")
    power = {"HC2": 1.0, "HC3": 2.0}.get(cov_type, 0.0)
    n_groups = [int(c.max()) + 1 if len(c) else 0 for c in clusters]
    codes = {f"cluster{g}": c for g, c in enumerate(clusters)}
    buf: np.ndarray | None = None

    def kernel(part: rows.Partition) -> Residuals:
        nonlocal buf
        blk, e = _residual_block(part, beta, coords, buf)
        buf = blk
        wc = part.get("w")
        we = e if wc is None else wc * e
        out = Residuals(ssr=float(we @ e))
        if need_meat:
            u = np.abs(we)
            if power:
                h = np.einsum("ij,ij->i", blk @ xtx_inv, blk)
                if wc is not None:
                    h *= wc
                omh = 1.0 - h
                out.min_one_minus_h = min(1.0, float(omh.min()))
                if out.min_one_minus_h <= 1e-10:  # refused below; scaling by 1 / (1 - h) would only overflow
                    out.meat = np.zeros((k, k))
                    return out
                u /= np.power(np.maximum(omh, 1e-300), power / 2.0)
            scaled = blk * u[:, None] if clusters else np.multiply(blk, u[:, None], out=blk)
            out.meat = _gram(scaled)
        for g in range(len(clusters)):
            c = part[f"cluster{g}"]
            sums = np.empty((n_groups[g], k))
            for j in range(k):
                sums[:, j] = np.bincount(c, weights=blk[:, j] * we, minlength=n_groups[g])
            out.cluster_scores.append(sums)
        return out

    start = Residuals(0.0, np.zeros((k, k)) if need_meat else None, [np.zeros((g, k)) for g in n_groups])
    src = rows.source(design, chunk_rows, extra=codes, y=y, w=w)
    res = rows.fold(src, kernel, start, stop=lambda r: r.min_one_minus_h <= 1e-10)
    if need_meat and res.min_one_minus_h <= 1e-10:
        raise DataError(
            f"{cov_type} standard errors are undefined: some observation has leverage 1 (it alone determines "
            "a coefficient). Use HC0 or HC1, or remove that observation's own dummy column."
        )
    return res


def gradient_pass(
    design: Design,
    y: np.ndarray,
    w: np.ndarray | None,
    beta: np.ndarray,
    coords: Coordinates | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> np.ndarray:
    """Z'W(y - Z beta) in the coordinates of ``coords``: zero at the exact solution (used to refine it)."""
    buf: np.ndarray | None = None

    def kernel(part: rows.Partition) -> np.ndarray:
        nonlocal buf
        blk, e = _residual_block(part, beta, coords, buf)
        buf = blk
        wc = part.get("w")
        if wc is not None:
            e *= wc
        return e @ blk

    return rows.fold(rows.source(design, chunk_rows, y=y, w=w), kernel, np.zeros(design.k))
