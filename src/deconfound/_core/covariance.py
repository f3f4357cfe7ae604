"""Covariance types: their names, which methods offer which, the small-sample rules, and the assembly
of a covariance from the sums of the residual pass.

Every method that takes ``cov_type`` validates it here (:func:`check_cov_type`, or
:func:`resolve_cov_type` for the cluster columns that go with it), so the vocabulary and the error
messages are the same everywhere:

* canonical names: ``nonrobust``, ``HC0``, ``HC1``, ``HC2``, ``HC3``, ``cluster`` (case-insensitive);
* aliases accepted by every method (pyfixest and Stata spellings): ``iid`` = nonrobust, ``hetero`` =
  HC1, ``CR1`` and ``CRV1`` = cluster;
* fixed-effects models (twfe, event_study, panel_regression) offer nonrobust, HC1 and cluster only
  (:data:`ABSORBED`).

:func:`assemble` turns the residual sums (sum of squared residuals, the HC meat, per-cluster score
sums) into the covariance with the small-sample rules of :class:`SmallSample` (fixest's ``ssc``).
Ordinary least squares uses :data:`OLS_RULES`, which are statsmodels' conventions.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import DataError, SpecificationError
from .options import check_option

#: the canonical covariance names
COV_TYPES = ("nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster")
#: other spellings (pyfixest's ``iid``/``hetero``/``CRV1``, Stata's ``CR1``) -> canonical name
ALIASES = {"iid": "nonrobust", "hetero": "HC1", "CR1": "cluster", "CRV1": "cluster"}


@dataclass(frozen=True)
class CovSupport:
    """The covariance types a family of methods offers, and why it offers no others."""

    names: tuple[str, ...]
    why_not: str = ""

    @property
    def aliases(self) -> dict[str, str]:
        """The aliases of the offered names."""
        return {alias: name for alias, name in ALIASES.items() if name in self.names}


#: least squares without absorbed effects (ols, lin, did): every type
EVERY = CovSupport(COV_TYPES)
#: fixed-effects models (twfe, event_study, panel_regression)
ABSORBED = CovSupport(
    ("nonrobust", "HC1", "cluster"),
    why_not=(
        "fixed-effects models follow fixest, whose heteroskedasticity-robust type is HC1 "
        "(ssc(adj=False) turns it into HC0), and HC2/HC3 need each row's leverage in the model with every "
        "fixed effect, which absorbing the effects does not give. Use HC1 or cluster"
    ),
)


def _canonical(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    low = value.lower()
    for name in COV_TYPES:
        if low == name.lower():
            return name
    for alias, name in ALIASES.items():
        if low == alias.lower():
            return name
    return None


def check_cov_type(value: object, *, method: str, allowed: CovSupport = EVERY) -> str:
    """The canonical name of ``value`` if ``method`` offers it, else a SpecificationError that lists what
    ``method`` accepts (and, for a known type it does not offer, why)."""
    name = _canonical(value)
    if name is not None and name in allowed.names:
        return name
    listed = ", ".join(repr(a) for a in allowed.names)
    aliases = ", ".join(f"{a!r} ({n})" for a, n in allowed.aliases.items())
    msg = f"cov_type={value!r} is not allowed; choose one of {listed} ({method} also accepts the aliases {aliases})."
    if name is not None:
        msg += f" {method} does not offer {name}: {allowed.why_not}."
    elif isinstance(value, str):
        close = difflib.get_close_matches(value, [*allowed.names, *allowed.aliases], n=1)
        if close:
            msg += f" Did you mean {close[0]!r}?"
    raise SpecificationError(msg)


def resolve_cov_type(
    cov_type: object,
    *,
    method: str,
    cluster: Sequence[str],
    default: str,
    fallback: tuple[str, str | None] | None = None,
    allowed: CovSupport = EVERY,
) -> tuple[str, list[str]]:
    """(canonical covariance type, cluster columns) from what the caller said.

    ``cluster`` are the columns given as ``cluster=``; ``fallback`` is (argument, column) of the column
    to cluster by when none is given (e.g. ("unit", unit)). Without ``cov_type`` the errors are
    clustered when there is something to cluster by, else of type ``default``.
    """
    if len(cluster) > 2:
        raise SpecificationError(f"cluster= takes one or two columns (two-way clustering), got {list(cluster)}.")
    groups = list(cluster) or ([fallback[1]] if fallback is not None and fallback[1] is not None else [])
    if cov_type is None:
        return ("cluster", groups) if groups else (default, [])
    chosen = check_cov_type(cov_type, method=method, allowed=allowed)
    if chosen == "cluster":
        if not groups:
            needs = (
                f"cluster= or {fallback[0]}= (the column to cluster by)"
                if fallback is not None
                else "cluster= (one or two column names)"
            )
            raise SpecificationError(f"cov_type={cov_type!r} needs {needs}.")
        return chosen, groups
    if cluster:
        raise SpecificationError(
            f"cluster= was given but cov_type={cov_type!r}; use cov_type='cluster' (or leave it unset)."
        )
    return chosen, []


# --------------------------------------------------------------------------------------------------
# small-sample rules
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmallSample:
    """Small-sample corrections of a covariance (see :func:`ssc`)."""

    adj: bool = True
    fixef_k: str = "nested"
    cluster_adj: bool = True
    cluster_df: str = "min"

    def to_dict(self) -> dict[str, object]:
        return {
            "adj": self.adj,
            "fixef_k": self.fixef_k,
            "cluster_adj": self.cluster_adj,
            "cluster_df": self.cluster_df,
        }


def ssc(*, adj: bool = True, fixef_k: str = "nested", cluster_adj: bool = True, cluster_df: str = "min") -> SmallSample:
    """Small-sample corrections for fixed-effects regressions, named and defaulted as in fixest.

    ``adj``: (n-1)/(n-K) factor. ``fixef_k``: which absorbed parameters K counts, "nested" (skip
    fixed effects nested in a cluster), "full" or "none". ``cluster_adj``: G/(G-1) factor.
    ``cluster_df``: "min" (one G, the smallest, for two-way clustering) or "conventional".
    pyfixest's ``ssc(k_adj, k_fixef="nonnested", G_adj, G_df)`` is the same with other names.
    """
    for name, value in (("adj", adj), ("cluster_adj", cluster_adj)):
        if not isinstance(value, (bool, np.bool_)):
            raise SpecificationError(f"ssc({name}=...) must be True or False, got {value!r}.")
    return SmallSample(
        adj=bool(adj),
        fixef_k=check_option("fixef_k", fixef_k, ("nested", "full", "none")),
        cluster_adj=bool(cluster_adj),
        cluster_df=check_option("cluster_df", cluster_df, ("min", "conventional")),
    )


def check_small_sample(value: Any, name: str = "ssc") -> SmallSample:
    """``value`` if it is what :func:`ssc` returns (None means the defaults), else our error pointing to it:
    ``ssc="fixest"`` or ``ssc={"adj": False}`` are refused naming ``name``."""
    if value is None:
        return SmallSample()
    if isinstance(value, SmallSample):
        return value
    raise SpecificationError(
        f"{name} must be the result of deconfound.ssc(...), e.g. ssc=dc.ssc(adj=False, cluster_df='conventional'); "
        f"got {value!r}. The defaults already follow fixest."
    )


#: statsmodels' conventions for OLS/WLS: fixest's rules with each two-way term using its own G
OLS_RULES = SmallSample(cluster_df="conventional")


# --------------------------------------------------------------------------------------------------
# assembly
# --------------------------------------------------------------------------------------------------


def sandwich(bread: np.ndarray, meat: np.ndarray) -> np.ndarray:
    """B M B, symmetrised."""
    v = bread @ meat @ bread
    return 0.5 * (v + v.T)


def intersect_codes(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Integer codes of the intersection of two clusterings."""
    combined = a.astype(np.int64) * (int(b.max()) + 1) + b.astype(np.int64)
    _, codes = np.unique(combined, return_inverse=True)
    return codes.astype(np.int64)


def cluster_terms(cov_type: str, clusters: Sequence[np.ndarray]) -> tuple[list[np.ndarray], tuple[int, ...]]:
    """The cluster codes the residual pass sums scores over (two-way adds the intersection) and the
    number of clusters of each given clustering; empty unless ``cov_type`` is "cluster"."""
    if cov_type != "cluster":
        if len(clusters):
            raise SpecificationError(f"cluster columns were given but cov_type={cov_type!r}; use cov_type='cluster'.")
        return [], ()
    if not 1 <= len(clusters) <= 2:
        raise SpecificationError("cov_type='cluster' needs one or two cluster columns (cluster=...).")
    sizes = tuple(int(c.max()) + 1 for c in clusters)
    if min(sizes) < 2:
        raise DataError("Cluster-robust standard errors need at least two clusters; the data has one.")
    codes = list(clusters)
    if len(codes) == 2:
        codes.append(intersect_codes(codes[0], codes[1]))
    return codes, sizes


def pass_kind(cov_type: str) -> str:
    """What the residual pass must sum for ``cov_type`` (HC1 is HC0's meat scaled)."""
    return "HC0" if cov_type == "HC1" else cov_type


def assemble(
    cov_type: str,
    bread: np.ndarray,
    *,
    n: int,
    df_k: int,
    ssr: float,
    meat: np.ndarray | None = None,
    cluster_scores: Sequence[np.ndarray] = (),
    cluster_sizes: Sequence[int] = (),
    rules: SmallSample = OLS_RULES,
) -> tuple[np.ndarray, float]:
    """(covariance, degrees of freedom for inference) from the residual pass's sums.

    ``bread`` is (X'WX)^-1, ``df_k`` the parameters the corrections count (k for OLS, k plus the
    counted fixed effects otherwise), ``meat`` the HC meat (for HC0-HC3, leverage already applied),
    ``cluster_scores`` the per-cluster score sums of each clustering (two-way: first, second,
    intersection) and ``cluster_sizes`` the number of clusters of the given clusterings.

    * nonrobust: B SSR / (n - K) (``rules.adj`` False: n - 1); t with n - K df;
    * HC0, HC2, HC3: B M B; HC1: B M B n / (n - K) (``rules.adj`` False: no factor);
    * cluster: sum over terms of +/- B S'S B G/(G - 1) (n - 1)/(n - K), each factor as ``rules`` say;
      t with min(G) - 1 df.
    """
    df_resid = n - df_k
    if cov_type == "nonrobust":
        return bread * (ssr / (df_resid if rules.adj else n - 1)), float(df_resid)
    if cov_type in ("HC0", "HC1", "HC2", "HC3"):
        if meat is None:
            raise ValueError(f"{cov_type} needs the meat of the residual pass")
        cov = sandwich(bread, meat)
        if cov_type == "HC1" and rules.adj:
            cov = cov * (n / df_resid)
        return cov, float(df_resid)
    if cov_type != "cluster" or not 1 <= len(cluster_sizes) <= 2:
        raise ValueError(f"cannot assemble cov_type={cov_type!r} from {len(cluster_sizes)} clustering(s)")
    terms = []
    for scores in cluster_scores:
        g = min(cluster_sizes) if rules.cluster_df == "min" else scores.shape[0]
        v = sandwich(bread, scores.T @ scores)
        if rules.cluster_adj:
            v = v * (g / (g - 1.0))
        if rules.adj:
            v = v * ((n - 1.0) / df_resid)
        terms.append(v)
    cov = terms[0] if len(terms) == 1 else terms[0] + terms[1] - terms[2]
    return cov, float(min(cluster_sizes) - 1)


# --------------------------------------------------------------------------------------------------
# can the clusters support a variance?
# --------------------------------------------------------------------------------------------------

#: below this many clusters, cluster-robust standard errors are known to be too small (a warning)
SMALL_CLUSTERS = 20
#: a coefficient's cluster variance below this share of its iid variance means the scores cancelled
CANCELLED = 1e-8


def few_clusters_message(g: int) -> str:
    return (
        f"Only {g} clusters: cluster-robust standard errors are too small with few clusters, and tests "
        f"over-reject (Cameron, Gelbach and Miller 2008; below about {SMALL_CLUSTERS} clusters), so read the "
        "interval as optimistic. More clusters, or a test that does not rely on many clusters (randomization "
        "inference, the wild cluster bootstrap: deconfound.wild_cluster_bootstrap), give honest uncertainty."
    )


def cancelled_message(g: int, names: Sequence[str]) -> str:
    listed = ", ".join(repr(n) for n in names)
    return (
        f"With {g} clusters the cluster-robust variance of {listed} cannot be estimated: the clusters' score "
        "sums cancel (as with one treated and one control unit and unit effects), so the standard error would "
        "be a rounding error. No standard error is reported. Use more clusters, or a covariance that does not "
        "cluster (cov_type='HC1', which assumes independence within each cluster)."
    )


def fix_two_way(cov: np.ndarray, names: Sequence[str]) -> tuple[np.ndarray, tuple[str, ...]]:
    """The two-way cluster covariance V1 + V2 - V12 when some variance in it is negative (it need not be
    positive with few clusters in one dimension): its negative eigenvalues set to zero (Cameron, Gelbach and
    Miller 2011, section 2.3; what fixest's default ``vcov_fix`` does), with a message naming the negative
    variances. A covariance whose variances are all >= 0 is returned unchanged (as statsmodels and pyfixest
    report it), even when some other direction is not positive."""
    raw = np.diag(cov)
    negative = [j for j in range(len(names)) if raw[j] < 0]
    if not negative:
        return cov, ()
    values, vectors = np.linalg.eigh((cov + cov.T) / 2.0)
    fixed = (vectors * np.maximum(values, 0.0)) @ vectors.T
    shown = ", ".join(f"{names[j]!r} ({raw[j]:.3g})" for j in negative)
    return (fixed + fixed.T) / 2.0, (
        f"The two-way cluster-robust variance V1 + V2 - V12 of {shown} was negative (it need not be positive with "
        "few clusters in one dimension). The covariance's negative eigenvalues were set to zero (Cameron, Gelbach "
        "and Miller 2011; fixest does the same by default), which makes every standard error conservative; "
        "clustering on one dimension only (the coarser one) avoids the correction.",
    )


def check_clusters(
    cov: np.ndarray,
    bread: np.ndarray,
    *,
    ssr: float,
    df_resid: float,
    cluster_sizes: Sequence[int],
    names: Sequence[str],
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Whether the clusters support the cluster-robust covariance ``cov``: (covariance, messages).

    A coefficient whose cluster variance is below ``CANCELLED`` times its iid variance B SSR/(n - K)
    has cluster scores that cancel by construction (e.g. G <= 2 with unit effects): its row and column
    become NaN (no standard error) and a message says why. Fewer than ``SMALL_CLUSTERS`` clusters give
    a warning message.
    """
    if not cluster_sizes:
        return cov, ()
    g = int(min(cluster_sizes))
    iid = np.diag(bread) * (ssr / df_resid) if df_resid > 0 else np.full(len(names), np.nan)
    var = np.diag(cov)
    gone = [j for j in range(len(names)) if iid[j] > 0 and var[j] <= CANCELLED * iid[j]]
    messages: list[str] = []
    if gone:
        cov = cov.copy()
        cov[gone, :] = np.nan
        cov[:, gone] = np.nan
        messages.append(cancelled_message(g, [names[j] for j in gone]))
    elif g < SMALL_CLUSTERS:
        messages.append(few_clusters_message(g))
    return cov, tuple(messages)
