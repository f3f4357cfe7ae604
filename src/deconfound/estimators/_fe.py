"""What the fixed-effects families share (twfe, event study, panel regression): cluster defaults,
singleton removal before absorbing, messages about what was removed, and the coefficient table."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .._core.covariance import ABSORBED, resolve_cov_type
from .._core.demean import compact, drop_singletons, factorize
from .._core.fixed_effects import AbsorbedFit, SmallSample, fit_absorbed
from .._core.options import as_name_list, check_positive_int
from ..data import Prepared
from ..errors import DataError, SpecificationError
from ..results import CoefTable


@dataclass(frozen=True)
class AbsorbedModel:
    """A fitted fixed-effects regression and what was removed before fitting."""

    absorbed: AbsorbedFit
    keep: np.ndarray | None  # rows kept after dropping singletons (None: all)
    n_singletons: int
    fe_codes: tuple[np.ndarray, ...]
    weights: np.ndarray | None


def resolve_cluster(
    cluster: str | Iterable[str] | None, cov_type: str | None, unit: str, *, method: str
) -> tuple[list[str], str]:
    """Cluster columns and covariance type (of those a fixed-effects model offers), clustering by
    ``unit`` unless told otherwise."""
    chosen, names = resolve_cov_type(
        cov_type,
        method=method,
        cluster=as_name_list(cluster, "cluster"),
        default="nonrobust",
        fallback=("unit", unit),
        allowed=ABSORBED,
    )
    return names, chosen


def check_tolerance(tol: float, max_iter: int) -> tuple[float, int]:
    if not isinstance(tol, (int, float)) or not 0 < tol < 1:
        raise SpecificationError(f"tol must be a number between 0 and 1 (e.g. 1e-10), got {tol!r}.")
    return float(tol), check_positive_int(max_iter, "max_iter")


@dataclass(frozen=True)
class Rows:
    """The arrays of one fixed-effects regression: outcome, regressors, weights, clusters and factors."""

    y: np.ndarray
    x: np.ndarray
    names: tuple[str, ...]
    w: np.ndarray | None
    clusters: tuple[np.ndarray, ...]
    cluster_names: tuple[str, ...]
    factors: tuple[tuple[str, np.ndarray], ...]  # (name, raw values) of each fixed effect

    @classmethod
    def build(
        cls, prep: Prepared, x: np.ndarray, names: Sequence[str], factors: Sequence[tuple[str, np.ndarray]]
    ) -> Rows:
        return cls(prep.outcome, x, tuple(names), prep.weights, prep.clusters, prep.cluster_names, tuple(factors))

    @property
    def n(self) -> int:
        return len(self.y)

    def take(self, keep: np.ndarray) -> Rows:
        """The rows where ``keep`` is true (cluster codes renumbered)."""
        return Rows(
            self.y[keep],
            self.x[keep],
            self.names,
            None if self.w is None else self.w[keep],
            tuple(compact(c[keep])[0] for c in self.clusters),
            self.cluster_names,
            tuple((name, values[keep]) for name, values in self.factors),
        )


def _codes(values: np.ndarray) -> np.ndarray:
    """Integer codes of a factor; arrays that already are small non-negative integers are only renumbered."""
    values = np.asarray(values)
    if values.dtype.kind in "iu" and len(values) and values.min() >= 0 and values.max() < 2 * len(values):
        return compact(values.astype(np.intp, copy=False))[0]
    return factorize(values)[0]


def _codes_counted(values: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`_codes` and, for small non-negative integers, the rows of each code (from the one count that
    renumbering takes anyway; None otherwise)."""
    values = np.asarray(values)
    if values.dtype.kind in "iu" and len(values) and values.min() >= 0 and values.max() < 2 * len(values):
        codes = values.astype(np.intp, copy=False)
        counts = np.bincount(codes)
        present = counts > 0
        if present.all():
            return codes, counts
        return (np.cumsum(present) - 1)[codes].astype(np.intp), counts[present]
    return factorize(values)[0], None


def fit_fixed_effects(
    rows: Rows,
    *,
    cov_type: str,
    small_sample: SmallSample | None,
    tol: float,
    max_iter: int,
    protect: Sequence[str],
    overwrite_x: bool = False,
) -> AbsorbedModel:
    """Drop singletons, absorb the fixed effects and fit; shared by twfe, the event study and panel models.
    ``overwrite_x``: ``rows.x`` is not used afterwards, so it may be demeaned in place."""
    counted = [_codes_counted(values) for _, values in rows.factors]
    codes = [c for c, _ in counted]
    if any(counts is None or bool((counts == 1).any()) for _, counts in counted):
        keep = drop_singletons(codes)
    else:  # no group of any factor holds a single row (drop_singletons' own first test, on the counts taken)
        keep = np.ones(rows.n, dtype=bool)
    n_single = int((~keep).sum())
    clusters = list(rows.clusters)
    x, y, w = rows.x, rows.y, rows.w
    if n_single:
        if n_single == len(keep):
            raise DataError(
                "Every observation is alone in its group of some fixed effect (singletons): nothing is left to "
                "estimate from. Check the unit and time columns."
            )
        codes = [compact(c[keep])[0] for c in codes]
        clusters = [compact(c[keep])[0] for c in clusters]
        x, y = x[keep], y[keep]
        w = None if w is None else w[keep]
    fit = fit_absorbed(
        x,
        rows.names,
        y,
        w,
        codes,
        [name for name, _ in rows.factors],
        cov_type=cov_type,
        clusters=clusters,
        cluster_names=rows.cluster_names,
        small_sample=small_sample,
        tol=tol,
        max_iter=max_iter,
        protect=protect,
        fe_counts=None if n_single else [counts for _, counts in counted],
        overwrite_x=overwrite_x or bool(n_single),  # after dropping singletons x is a copy of the rows kept
    )
    return AbsorbedModel(fit, keep if n_single else None, n_single, tuple(codes), w)


def removal_messages(model: AbsorbedModel, fe_names: Sequence[str]) -> tuple[list[str], list[str]]:
    """(data warnings, convergence warnings) about singletons and the demeaning."""
    data, conv = [], []
    if model.n_singletons:
        data.append(
            f"{model.n_singletons} observation(s) dropped because they are alone in their group of a fixed effect "
            f"({', '.join(fe_names)}): their effect would fit them exactly, so they carry no information "
            "(fixest drops them the same way)."
        )
    if not model.absorbed.converged:
        conv.append(
            f"Absorbing the fixed effects stopped after {max(model.absorbed.iterations)} sweeps without meeting "
            "the tolerance; estimates may be inexact. Raise max_iter or loosen tol."
        )
    return data, conv


def coef_table_absorbed(model: AbsorbedModel, keys: dict[str, tuple] | None = None) -> CoefTable:
    fit = model.absorbed.fit
    stats = model.absorbed.stats()
    stats["n_singletons"] = model.n_singletons
    return CoefTable(tuple(fit.names), fit.coef, fit.cov, fit.df_inference, stats, keys or {})
