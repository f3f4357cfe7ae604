"""Option bundles: settings that travel together, as one object a method accepts beside its keywords.

    ps = dc.PropensityOptions(model="gbm", cross_fit=5, trim=0.01, random_state=1)
    dc.ipw(df, outcome="y", treatment="d", covariates=["x"], propensity=ps)
    dc.matching(df, outcome="y", treatment="d", covariates=["x"], propensity=ps, se=dc.MatchingSE(adjust=False))

A bundle is an additional way to pass the keywords it stands for (``KEYWORDS``: keyword -> field); a
method given a bundle refuses those keywords set to anything but their defaults, so that no setting is
silently overridden. One bundle can be shared by every method that estimates a propensity score.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from ..errors import SpecificationError

__all__ = ["MatchingSE", "PropensityOptions"]

_B = TypeVar("_B", bound="_Bundle")


def _is_default(value: Any, default: Any) -> bool:
    return value is default or (type(value) is type(default) and value == default)


class _Bundle:
    #: the methods' keyword -> the bundle's field
    KEYWORDS: ClassVar[Mapping[str, str]] = {}

    def keywords(self) -> dict[str, Any]:
        """The bundle as the methods' keyword arguments."""
        return {keyword: getattr(self, name) for keyword, name in self.KEYWORDS.items()}

    @classmethod
    def resolve(cls: type[_B], bundle: Any, name: str, **keywords: Any) -> _B:
        """The settings a method uses: ``bundle`` when given (its keywords must then be left at their
        defaults), else a bundle of the keywords."""
        if bundle is None:
            return cls(**{cls.KEYWORDS[k]: v for k, v in keywords.items()})
        if not isinstance(bundle, cls):
            raise SpecificationError(f"{name}= must be a {cls.__name__}(...), got {type(bundle).__name__}.")
        default = cls()
        clash = [k for k, v in keywords.items() if not _is_default(v, getattr(default, cls.KEYWORDS[k]))]
        if clash:
            given = ", ".join(f"{k}=" for k in clash)
            fields = ", ".join(f"{cls.KEYWORDS[k]}=" for k in clash)
            raise SpecificationError(
                f"{given} and {name}= were both given; set {fields} in {name}={cls.__name__}(...) instead."
            )
        return bundle


@dataclass(frozen=True)
class PropensityOptions(_Bundle):
    """How the propensity score is estimated: the keywords ``propensity_covariates`` (``covariates``: the
    score's covariates when not the method's), ``propensity_model`` (``model``: "logistic", "sklearn-logistic",
    "gbm", "rf" or a scikit-learn classifier), ``cross_fit`` (folds: "auto", None or a number), ``trim`` (a
    number a keeps a <= e <= 1 - a; or "crump"), ``trim_refit`` (True: refit the score on the kept rows;
    False: keep the full-sample scores), ``random_state`` and ``n_jobs``."""

    covariates: str | Iterable[str] | None = None
    model: Any = "logistic"
    cross_fit: Any = "auto"
    trim: Any = None
    random_state: Any = None
    n_jobs: int | None = None
    trim_refit: bool = True

    KEYWORDS: ClassVar[Mapping[str, str]] = {
        "propensity_covariates": "covariates",
        "propensity_model": "model",
        "cross_fit": "cross_fit",
        "trim": "trim",
        "random_state": "random_state",
        "n_jobs": "n_jobs",
        "trim_refit": "trim_refit",
    }


@dataclass(frozen=True)
class MatchingSE(_Bundle):
    """How matching estimates its standard error: the keywords ``vce_neighbors`` (``neighbors``: same-group
    neighbours behind the conditional variances), ``vce_convention`` (``convention``: "stata" or "ai2006"),
    ``se_adjust`` (``adjust``: the Abadie-Imbens 2016 adjustment for an estimated score) and
    ``se_imputation`` (``imputation``: "auto", "matching" or "regression"); see :func:`deconfound.matching`."""

    neighbors: int = 2
    convention: str = "stata"
    adjust: bool = True
    imputation: str = "auto"

    KEYWORDS: ClassVar[Mapping[str, str]] = {
        "vce_neighbors": "neighbors",
        "vce_convention": "convention",
        "se_adjust": "adjust",
        "se_imputation": "imputation",
    }
