"""How good the cross-fitted nuisances are, out of fold: what the DML result reports about its learners.

For a regression nuisance: the RMSE and the out-of-fold R-squared, 1 - SSE / SST with SST about the
target's mean on the rows the nuisance is evaluated on (the control rows for E[Y | X, D = 0], ...). For
a probability: also the log loss, the log loss of the constant base rate, the Brier score and the
calibration error (the mean absolute gap between predicted and observed rates over ten bins of equal
size, weighted by size). A nuisance whose R-squared is at most 0, or whose log loss is no better than
the constant's, predicts no better than a constant: the result then carries a warning (a
:class:`~deconfound.errors.NuisanceWarning`). Values are averages over the repetitions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EPS = 1e-15
CALIBRATION_BINS = 10


@dataclass(frozen=True)
class Nuisance:
    """A cross-fitted nuisance as the quality table names it."""

    name: str  # DoubleML's name: ml_l, ml_m, ml_g0, ...
    learner: str
    target: str  # in words, e.g. "outcome | covariates, treated rows"
    probability: bool
    rows: np.ndarray | None  # boolean mask of the rows it is evaluated on (None: all)


def _log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, EPS, 1.0 - EPS)
    if np.all((y == 0.0) | (y == 1.0)):  # one logarithm per row: of the probability of the observed class
        return float(-np.mean(np.log(np.where(y == 1.0, p, 1.0 - p))))
    return float(-np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p)))


def _log_loss_constant(y: np.ndarray, base: float) -> float:
    """The log loss of predicting ``base`` for every row."""
    c = min(max(base, EPS), 1.0 - EPS)
    return float(-(base * np.log(c) + (1.0 - base) * np.log(1.0 - c)))


def calibration_error(y: np.ndarray, p: np.ndarray, bins: int = CALIBRATION_BINS) -> float:
    """Expected calibration error over ``bins`` bins of equal count of the sorted predictions."""
    order = np.argsort(p, kind="stable")
    groups = np.array_split(order, min(bins, len(p)))
    gaps = [len(g) * abs(float(np.mean(p[g])) - float(np.mean(y[g]))) for g in groups if len(g)]
    return float(np.sum(gaps) / len(p))


def metrics(y: np.ndarray, pred: np.ndarray, probability: bool) -> dict[str, float]:
    resid = y - pred
    sse = float(resid @ resid)
    centered = y - np.mean(y)
    sst = float(centered @ centered)
    out = {
        "n": float(len(y)),
        "rmse": float(np.sqrt(sse / len(y))),
        "r_squared": 1.0 - sse / sst if sst > 0 else float("nan"),
        "log_loss": float("nan"),
        "log_loss_constant": float("nan"),
        "brier": float("nan"),
        "calibration_error": float("nan"),
    }
    if probability:
        base = float(np.mean(y))
        out["log_loss"] = _log_loss(y, pred)
        out["log_loss_constant"] = _log_loss_constant(y, base)
        out["brier"] = sse / len(y)
        out["calibration_error"] = calibration_error(y, pred)
    return out


def quality_table(nuisances: list[Nuisance], targets: dict[str, np.ndarray], preds: dict[str, list[np.ndarray]]):
    """The quality table (one row per nuisance, averaged over repetitions) and its warnings."""
    import pandas as pd

    rows = {}
    warnings = []
    for nu in nuisances:
        y = targets[nu.name]
        mask = slice(None) if nu.rows is None else nu.rows
        per_rep = [metrics(y[mask], p[mask], nu.probability) for p in preds[nu.name]]
        mean = {key: float(np.mean([m[key] for m in per_rep])) for key in per_rep[0]}
        mean["n"] = int(per_rep[0]["n"])
        rows[nu.name] = {"learner": nu.learner, "target": nu.target, **mean}
        constant = mean["r_squared"] <= 0.0 or (nu.probability and mean["log_loss"] >= mean["log_loss_constant"])
        if constant:
            fit = f"out-of-fold R-squared {mean['r_squared']:.3f}"
            if nu.probability:
                fit += f", log loss {mean['log_loss']:.4f} vs {mean['log_loss_constant']:.4f} for the base rate"
            warnings.append(
                f"The nuisance {nu.name} ({nu.target}, learner {nu.learner}) predicts no better than a constant "
                f"({fit}). If that target is truly unrelated to the covariates (a randomized treatment) this is "
                "expected; otherwise the learner is not learning: tune it or choose another."
            )
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "nuisance"
    return frame, warnings


def spread(thetas: np.ndarray, ses: np.ndarray, fold_thetas: np.ndarray):
    """Repetition and fold tables plus a summary of how much the estimate moves with the split."""
    import pandas as pd

    reps = pd.DataFrame(
        {"estimate": thetas, "std_error": ses}, index=pd.RangeIndex(1, len(thetas) + 1, name="repetition")
    )
    r, k = fold_thetas.shape
    folds = pd.DataFrame(
        {
            "repetition": np.repeat(np.arange(1, r + 1), k),
            "fold": np.tile(np.arange(1, k + 1), r),
            "estimate": fold_thetas.ravel(),
        }
    )
    finite = fold_thetas[np.isfinite(fold_thetas)]
    summary = {
        "repetition_min": float(np.min(thetas)),
        "repetition_max": float(np.max(thetas)),
        "repetition_sd": float(np.std(thetas, ddof=1)) if len(thetas) > 1 else 0.0,
        "fold_sd": float(np.std(finite, ddof=1)) if len(finite) > 1 else float("nan"),
    }
    return reps, folds, summary
