"""Collinearity: condition number, variance inflation factors and plain-words warnings.

Everything is computed from the cross-product matrix X'WX, so it costs nothing beyond the fit.
Exact dependence is refused earlier by the rank check (``_core.passes.check_rank``); this module
handles the near misses that inflate standard errors and split credit between columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .._core import linalg

VIF_WARN = 10.0
COPY_CORRELATION = 0.9


def _centered_correlation(
    xtx: np.ndarray, const_idx: Sequence[int], centered: np.ndarray | None = None
) -> tuple[np.ndarray, list[int]]:
    """Correlation matrix of the non-constant columns (centered if the design has an intercept).

    ``centered`` (sum w (x - mean)(x - mean)', e.g. ``OLSFit.centered_xtx``) avoids recomputing the
    centered moments from X'X, which loses precision for columns with large means.
    """
    k = xtx.shape[0]
    keep = [j for j in range(k) if j not in const_idx]
    s = xtx[np.ix_(keep, keep)]
    if const_idx and centered is not None:
        s = centered[np.ix_(keep, keep)]
    elif const_idx:
        c = const_idx[0]
        sw = xtx[c, c]
        m = xtx[c, keep] / np.sqrt(sw)
        s = s - np.outer(m, m)
    d = np.sqrt(np.clip(np.diag(s), 1e-300, None))
    return s / np.outer(d, d), keep


def collinearity_diagnostics(
    xtx: np.ndarray,
    names: Sequence[str],
    const_idx: Sequence[int],
    treatment: str | None = None,
    *,
    centered: np.ndarray | None = None,
) -> tuple[dict[str, object], list[str]]:
    """Return ({"condition_number", "vif"}, warnings) for a full-rank cross-product matrix.

    The VIF of a column is 1 / (1 - R^2) of its regression on the other columns (with the constant),
    as statsmodels' ``variance_inflation_factor``. Columns that interact the treatment (``T:x``) are
    left out of the treatment's own warnings: they are related to it by construction. Without an
    explicit constant column (``const_idx`` empty) the VIFs are uncentered and no warning is issued.
    """
    diagnostics: dict[str, object] = {"condition_number": linalg.condition_number(xtx)}
    corr, keep = _centered_correlation(xtx, const_idx, centered)
    if len(keep) == 0:
        return diagnostics, []
    kept_names = [names[j] for j in keep]
    vif = _vifs(corr)
    diagnostics["vif"] = pd.DataFrame({"vif": vif}, index=pd.Index(kept_names, name="term"))
    if not const_idx:
        return diagnostics, []  # uncentered VIFs (no intercept) mislead: report them, do not warn
    # judge the warnings without the treatment's interactions, which are related to it by construction
    base = [j for j, name in enumerate(kept_names) if not _interacts(name, treatment)]
    if len(base) < len(kept_names):
        corr = corr[np.ix_(base, base)]
        kept_names = [kept_names[j] for j in base]
        vif = _vifs(corr)
    return diagnostics, _warnings(corr, vif, kept_names, treatment)


def _interacts(name: str, treatment: str | None) -> bool:
    return treatment is not None and name != treatment and treatment in name.split(":")


def _vifs(corr: np.ndarray) -> np.ndarray:
    if corr.shape[0] == 1:
        return np.ones(1)
    try:
        return np.diag(np.linalg.inv(corr))
    except np.linalg.LinAlgError:
        return np.full(corr.shape[0], np.inf)


def _warnings(corr: np.ndarray, vif: np.ndarray, kept_names: list[str], treatment: str | None) -> list[str]:
    warnings: list[str] = []
    reported: set[str] = set()
    if treatment is not None and treatment in kept_names:
        t = kept_names.index(treatment)
        for j, name in enumerate(kept_names):
            if j != t and abs(corr[t, j]) >= COPY_CORRELATION:
                warnings.append(
                    f"Covariate {name!r} is almost a copy of the treatment {treatment!r} (correlation "
                    f"{corr[t, j]:.3f}), so the model cannot tell whose effect is whose: the treatment "
                    "coefficient is unstable and its standard error inflated. Ask whether that covariate is "
                    "caused by the treatment (then leave it out) or measures the same thing."
                )
                reported.update({name, treatment})
        if vif[t] >= VIF_WARN and treatment not in reported:
            r2 = 1.0 - 1.0 / vif[t]
            partners = _main_partners(corr, t, kept_names)
            warnings.append(
                f"The treatment {treatment!r} is almost a linear combination of the covariates (R-squared "
                f"{r2:.3f} on them, VIF {vif[t]:.1f}; mostly {partners}), so the model cannot separate their "
                "effects and the estimate rests on little independent variation."
            )
            reported.add(treatment)
    t_idx = kept_names.index(treatment) if treatment is not None and treatment in kept_names else None
    for j, name in enumerate(kept_names):
        if vif[j] < VIF_WARN or name in reported:
            continue
        if t_idx is not None and _vif_without(corr, j, t_idx) < vif[j] / 2:
            warnings.append(
                f"Covariate {name!r} moves almost in step with the treatment {treatment!r} (VIF {vif[j]:.1f}, "
                f"mostly with {_main_partners(corr, j, kept_names)}): the model splits the credit between them, "
                "so the treatment estimate is unstable and may be biased towards zero. If "
                f"{name!r} changes because of the treatment, it is a bad control: leave it out."
            )
            continue
        group = [i for i in _partner_indices(corr, j) if i != t_idx]
        partners = " and ".join(repr(kept_names[i]) for i in group) or "the other covariates"
        warnings.append(
            f"Covariate {name!r} is nearly collinear with {partners} (VIF {vif[j]:.1f}): their separate "
            "coefficients are unstable; this matters only if you interpret them."
        )
        reported.update(kept_names[i] for i in group)  # one warning per group of collinear covariates
    return warnings


def _vif_without(corr: np.ndarray, j: int, drop: int) -> float:
    """VIF of column j in a regression on every other column except ``drop``."""
    keep = [i for i in range(corr.shape[0]) if i != drop]
    sub = corr[np.ix_(keep, keep)]
    if len(keep) == 1:
        return 1.0
    try:
        return float(np.linalg.inv(sub)[keep.index(j), keep.index(j)])
    except np.linalg.LinAlgError:
        return float("inf")


def _partner_indices(corr: np.ndarray, j: int, top: int = 2) -> list[int]:
    """The columns most correlated with column j: the strongest one, and a second if it is also strong."""
    order = [int(i) for i in np.argsort(-np.abs(corr[j])) if i != j][:top]
    return order[:1] + [i for i in order[1:] if abs(corr[j, i]) >= 0.5]


def _main_partners(corr: np.ndarray, j: int, names: Sequence[str]) -> str:
    return " and ".join(repr(names[i]) for i in _partner_indices(corr, j))
