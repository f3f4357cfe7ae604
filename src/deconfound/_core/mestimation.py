"""M-estimation: effects written as ratios of sums, with the influence of estimated first steps.

Stacked estimating equations (the convention of Stata's ``teffects`` and statsmodels'
``TreatmentEffect``): a first-step model (a logistic propensity model, an outcome regression) is
stacked with the effect's own equation, and the sandwich comes from per-row influence functions. A
potential-outcome mean written as mu = sum s h / sum s c (s: sampling weights) has influence

    IF_i = [ s_i (h_i - mu c_i) + G_theta' IF_theta,i + G_beta' IF_beta,i ] / sum_j s_j c_j

where G_theta = sum s (dh/dtheta - mu dc/dtheta) = X' s (gh - mu gc) is the derivative of the equation
with respect to the propensity model's parameters (X its regressors) and G_beta = X_out' s hb the one
with respect to an outcome model's. A first step whose estimation is ignored (a classifier treated as
known) is simply left out.

Both first steps are M-estimators whose per-row influence is ``B x_i r_i``: a bread B (the inverse
information, or (X'WX)^-1), the row's regressors x_i and a per-row factor r_i (the score's residual).
A :class:`FirstStep` keeps exactly these, so the n x p influence matrix is never formed:
G' IF_i = r_i x_i' (B G) is one matrix-vector product of the design.

:func:`effect` computes mu1 - mu0 and its standard error sqrt(sum IF^2) in three passes over a row
source (:mod:`._core.rows`), each a kernel per partition merged by sums: (1) sum s h and sum s c,
(2) the derivatives G (one product X' [v1 .. vm] per design), (3) the sum of squared influences (one
product X [a1 .. am] per design and partition). Any family (weighting, double machine learning) can
use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

import numpy as np

from . import rows
from .design import Design

__all__ = ["FirstStep", "Outside", "Ratio", "RowExpr", "SharedExpr", "copy_rows", "effect", "ratio_influence"]

CHUNK_ROWS = 8192  # rows per partition: a block of the design and its products stay in the CPU cache


class RowExpr:
    """A per-row array that is never held whole: ``fn`` of the same rows of ``bases`` (arrays or other
    expressions), evaluated for the rows a partition reads (``expr[rows]``, a slice or an index array).

    Elementwise arithmetic gives every row the same bits whether it is evaluated on all rows or on a
    block, so a ratio written with expressions has the sums of one written with arrays, without the
    n-row temporaries (an IPW at 20M rows would otherwise hold eight more row vectors)."""

    __slots__ = ("bases", "fn", "n")

    def __init__(self, fn: Any, *bases: Any) -> None:
        self.fn, self.bases = fn, bases
        self.n = len(bases[0])

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, at: Any) -> np.ndarray:
        return np.asarray(self.fn(*(b[at] for b in self.bases)), dtype=float)


class SharedExpr(RowExpr):
    """A row expression that other expressions of one ratio pair share (an arm's weight, its derivative):
    the rows of the last slice read are kept, so the expressions built on it evaluate it once per partition.
    Only expressions read it (they never change their inputs); the passes read the expressions built on it."""

    __slots__ = ("_at", "_value")

    def __init__(self, fn: Any, *bases: Any) -> None:
        super().__init__(fn, *bases)
        self._at: tuple[int, int, int | None] | None = None
        self._value: np.ndarray | None = None

    def __getitem__(self, at: Any) -> np.ndarray:
        if not isinstance(at, slice):
            return super().__getitem__(at)
        key = (at.start, at.stop, at.step)
        if key != self._at or self._value is None:
            self._value = super().__getitem__(at)
            self._at = key
        return self._value


def copy_rows(values: np.ndarray) -> np.ndarray:
    """The rows themselves, as a new array (an expression equal to a shared one, for readers that may write)."""
    return np.array(values, dtype=float)


Rows = np.ndarray | RowExpr


@dataclass(frozen=True)
class Ratio:
    """mu = sum s h / sum s c, with dh/dtheta = gh x, dc/dtheta = gc x and dh/dbeta = hb x_out."""

    h: Rows
    c: Rows
    gh: Rows | None = None  # derivative factors w.r.t. the propensity index
    gc: Rows | None = None
    beta_arm: float | None = None  # which outcome model h depends on
    hb: Rows | None = None  # dh/dbeta = hb * x_out (row factor)


@dataclass(frozen=True)
class Outside:
    """Rows that entered a first step's estimation but not the effect's equations (e.g. rows trimmed
    after a propensity model fitted on every row, kept un-refitted): their design rows, score residuals
    and cluster codes (in the coding of the effect's rows, clusters absent there numbered after them)."""

    design: Design
    resid: np.ndarray
    clusters: np.ndarray | None = None


@dataclass(frozen=True)
class FirstStep:
    """A first-step M-estimator whose row i has influence ``bread @ x_i * resid[i]`` on its parameters
    (x_i: row i of ``design``). ``outside`` holds the rows of its estimation the effect does not use:
    their influence on the effect goes through the first step only."""

    design: Design
    resid: np.ndarray
    bread: np.ndarray
    outside: Outside | None = None

    def influence(self) -> np.ndarray:
        """The n x p matrix of per-row influences (for callers that need the rows themselves)."""
        return (self.design.to_array() * self.resid[:, None]) @ self.bread


def _factor(gh: Any, gc: Any, mu: float) -> Any:
    if gc is None:
        return gh if gh is not None else 0.0
    if isinstance(gc, RowExpr) or isinstance(gh, RowExpr):  # evaluated block by block
        if gh is None:
            return RowExpr(partial(_factor, None, mu=mu), gc)
        return RowExpr(partial(_factor, mu=mu), gh, gc)
    out = gc * -mu
    if gh is not None:
        out += gh
    return out


def ratio_influence(
    r: Ratio, s: np.ndarray, ps: FirstStep | None, outcome: Mapping[float, FirstStep] | None
) -> tuple[float, np.ndarray]:
    """mu and every row's influence on it (for an estimator that needs the rows themselves)."""
    h, c = _whole(r.h), _whole(r.c)
    den = float(np.sum(s * c))
    mu = float(np.sum(s * h)) / den
    infl = s * (h - mu * c)
    if ps is not None and (r.gh is not None or r.gc is not None):
        factor = _factor(r.gh, r.gc, mu)
        g = ps.design.tdot([s * (_whole(factor) if isinstance(factor, RowExpr) else factor)])[:, 0]
        infl = infl + ps.resid * _dot(ps.design, (ps.bread @ g)[:, None])[:, 0]
    if r.beta_arm is not None and outcome is not None and r.hb is not None:
        model = outcome[r.beta_arm]
        g = model.design.tdot([s * _whole(r.hb)])[:, 0]
        infl = infl + model.resid * _dot(model.design, (model.bread @ g)[:, None])[:, 0]
    return mu, infl / den


def _whole(values: Rows) -> np.ndarray:
    """Every row of an array or a row expression."""
    return values[:] if isinstance(values, RowExpr) else values


def _dot(design: Design, coefs: np.ndarray) -> np.ndarray:
    """X @ coefs for every row (n x m), read partition by partition (in place when the design allows)."""
    out = np.empty((design.n, coefs.shape[1]))
    buf = None
    for part in rows.source(design, CHUNK_ROWS).partitions():
        out[part.rows] = _block_dot(part, coefs, buf)
    return out


def _block_dot(part: _Blocks, coefs: np.ndarray, buf: np.ndarray | None = None) -> np.ndarray:
    matrix = part.matrix()
    if matrix is None:
        return part.block(buf) @ coefs
    out = matrix @ coefs[1:]
    out += coefs[0]
    return out


class _Blocks(Protocol):
    """What a product with the design reads from a partition."""

    def matrix(self) -> np.ndarray | None: ...

    def block(self, out: np.ndarray | None = None) -> np.ndarray: ...


@dataclass
class _Step:
    """One first step as the passes see it: its design's prefix in the partition arrays and the ratios
    (0, 1) whose equation depends on it, with their derivative factors."""

    step: FirstStep
    key: str
    uses: list[tuple[int, str]]  # (ratio index, name of its derivative factor array)


def effect(
    pair: tuple[Ratio, Ratio],
    s: np.ndarray | None,
    ps: FirstStep | None,
    outcome: Mapping[float, FirstStep] | None,
    sign: float,
    clusters: np.ndarray | None = None,
) -> tuple[float, float, tuple[float, float]]:
    """sign * (mu1 - mu0), its standard error and (mu1, mu0), from passes over the rows (``s``: sampling
    weights, None for none: no array of ones is made).

    With ``clusters`` (integer codes 0..G-1, G >= 2) the meat sums the influence within each cluster
    before squaring, times G / (G - 1) (the small-sample factor of Stata's ``vce(cluster)`` for
    M-estimators; statsmodels' cluster covariance has it too, with (N-1)/(N-K) on top for linear models)."""
    n = len(pair[0].h)
    arrays: dict[str, Any] = {"s": s}
    for i, r in enumerate(pair):
        arrays.update({f"h{i}": r.h, f"c{i}": r.c})
    n_clusters = 0
    if clusters is not None:
        arrays["cl"] = clusters
        n_clusters = int(clusters.max()) + 1 if len(clusters) else 0
        for step in (ps, *(outcome or {}).values()):
            if step is not None and step.outside is not None and step.outside.clusters is not None:
                if len(step.outside.clusters):
                    n_clusters = max(n_clusters, int(step.outside.clusters.max()) + 1)
    src = rows.source(None, CHUNK_ROWS, n=n, extra=arrays)  # blocks: row expressions are never held whole

    def sums(part: rows.Partition) -> np.ndarray:
        sp = part.get("s")
        values = [part[f"{a}{i}"] for i in (0, 1) for a in ("c", "h")]
        return np.array([float(np.sum(v if sp is None else sp * v)) for v in values])

    tot = rows.fold(src, sums, np.zeros(4))
    den, mu = tot[0::2], tot[1::2] / tot[0::2]
    steps = _steps(pair, s, mu, ps, outcome, arrays)
    # (2) G = X' v for every (step, ratio) that uses it: one product per design (first steps on the same
    # design, e.g. AIPW's propensity and outcome models on the same covariates, share it); then a = bread @ G
    groups = _design_groups(steps)
    coefs: list[np.ndarray] = [np.empty(0)] * len(steps)
    for members in groups:
        columns: list[np.ndarray | float] = [_array(arrays, name) for j in members for _, name in steps[j].uses]
        g = steps[members[0]].step.design.tdot(columns, chunk_rows=CHUNK_ROWS)
        at = 0
        for j in members:
            m = len(steps[j].uses)
            coefs[j] = steps[j].step.bread @ g[:, at : at + m]
            at += m
    # (3) each row's influence: its own term plus, per first step, resid * (x a) for the ratios using it
    for j, st in enumerate(steps):
        arrays[f"r{j}"] = st.step.resid
    scaled = sign / den
    joint = [np.concatenate([coefs[j] for j in members], axis=1) for members in groups]

    def squares(part: rows.Partition) -> Any:
        sp = part.get("s")
        both = part["h0"] - mu[0] * part["c0"]
        both *= scaled[0]
        other = part["h1"] - mu[1] * part["c1"]
        other *= scaled[1]
        both -= other
        if sp is not None:
            both *= sp
        for members, joined in zip(groups, joint):
            proj = _block_dot(_Sub(part, steps[members[0]].step.design), joined)
            at = 0
            for j in members:
                r = part[f"r{j}"]
                for i, _ in steps[j].uses:
                    col = proj[:, at]
                    col *= r
                    col *= scaled[0] if i == 0 else -scaled[1]
                    both += col
                    at += 1
        if clusters is not None:  # the clustered meat: influence summed within clusters
            return np.bincount(part["cl"], weights=both, minlength=n_clusters)
        return float(both @ both)

    meat_source = rows.source(None, CHUNK_ROWS, n=n, extra=arrays)
    if clusters is None:
        total = rows.fold(meat_source, squares, 0.0)
        for out in _outside(steps, coefs, scaled):
            total += float(out[0] @ out[0])
    else:
        by_cluster = rows.fold(meat_source, squares, np.zeros(n_clusters))
        for out in _outside(steps, coefs, scaled):
            assert out[1] is not None, "rows outside the effect need cluster codes when clustering"
            by_cluster += np.bincount(out[1], weights=out[0], minlength=n_clusters)
        total = n_clusters / (n_clusters - 1) * float(by_cluster @ by_cluster)
    return float(sign * (mu[0] - mu[1])), float(np.sqrt(total)), (float(mu[0]), float(mu[1]))


def _outside(steps: list[_Step], coefs: list[np.ndarray], scaled: np.ndarray) -> list[tuple[np.ndarray, Any]]:
    """The influence on the effect of each first step's rows outside the effect (with their clusters)."""
    out = []
    for st, coef in zip(steps, coefs):
        extra = st.step.outside
        if extra is None or len(extra.resid) == 0:
            continue
        proj = _dot(extra.design, coef) * extra.resid[:, None]
        signs = np.array([scaled[0] if i == 0 else -scaled[1] for i, _ in st.uses])
        out.append((proj @ signs, extra.clusters))
    return out


def _steps(
    pair: tuple[Ratio, Ratio],
    s: np.ndarray | None,
    mu: np.ndarray,
    ps: FirstStep | None,
    outcome: Mapping[float, FirstStep] | None,
    arrays: dict[str, Any],
) -> list[_Step]:
    """The first steps the ratios depend on, with each ratio's derivative factor s * (...) as an array."""
    steps: list[_Step] = []
    if ps is not None:
        uses = []
        for i, r in enumerate(pair):
            if r.gh is not None or r.gc is not None:
                factor = _factor(r.gh, r.gc, float(mu[i]))
                if s is not None:
                    factor = RowExpr(np.multiply, s, factor) if isinstance(factor, RowExpr) else s * factor
                elif not isinstance(factor, RowExpr):
                    factor = np.broadcast_to(factor, (len(r.h),))
                arrays[f"gt{i}"] = factor
                uses.append((i, f"gt{i}"))
        if uses:
            steps.append(_Step(ps, "ps", uses))
    if outcome is not None:
        by_arm: dict[float, list[tuple[int, str]]] = {}
        for i, r in enumerate(pair):
            if r.beta_arm is not None and r.hb is not None:
                hb = r.hb
                if s is not None:
                    hb = RowExpr(np.multiply, s, hb) if isinstance(hb, RowExpr) else s * hb
                arrays[f"gb{i}"] = hb
                by_arm.setdefault(r.beta_arm, []).append((i, f"gb{i}"))
        for arm, uses in by_arm.items():
            steps.append(_Step(outcome[arm], f"out{arm}", uses))
    return steps


def _design_groups(steps: list[_Step]) -> list[list[int]]:
    """The first steps grouped by design (the same columns, read from the same arrays): each group's
    products with the design are made in one pass."""
    groups: list[list[int]] = []
    for j, st in enumerate(steps):
        for members in groups:
            if _same_design(steps[members[0]].step.design, st.step.design):
                members.append(j)
                break
        else:
            groups.append([j])
    return groups


def _same_design(a: Design, b: Design) -> bool:
    return a is b or (
        a.n == b.n and a.k == b.k and all(p.values is q.values and p.level == q.level for p, q in zip(a.parts, b.parts))
    )


def _array(arrays: Mapping[str, Any], name: str) -> Any:
    value = arrays[name]
    assert value is not None
    return value


class _Sub:
    """The rows of a partition of a design-less source, read from ``design`` (same row positions)."""

    def __init__(self, part: rows.Partition, design: Design) -> None:
        self.part, self.design = part, design

    def matrix(self) -> np.ndarray | None:
        at = self.part.rows
        view = self.design.leading_constant_view()
        if view is None or not isinstance(at, slice):
            return None
        return view[at]

    def block(self, out: np.ndarray | None = None) -> np.ndarray:
        at = self.part.rows
        if isinstance(at, slice):
            return self.design.block(at.start, at.stop, out)
        return self.design.take(at).to_array()
