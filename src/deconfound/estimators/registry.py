"""The method registry: every estimator is declared here once, as plain data and strings.

An entry (:class:`Method`) names its function as a ``"module:function"`` string, imported only when the
method runs, and says what the readers need to know about it: its label, the designs it applies to, the
roles it needs, how it takes the adjustment set, the covariance types and engines it supports, the
diagnostics keys its report renders, and the command-line options that are its own. Everything else is
read from the function's signature when the method runs:

* :class:`deconfound.model.CausalModel` passes the model's roles to the parameters of those names;
* ``deconfound estimate --method NAME`` passes each flag to the parameter of the same name (flag =
  parameter name with dashes; see :data:`OPTIONS` for the options several methods share) and checks that
  the parameters without a default were given;
* ``import deconfound`` exposes each entry's function under its name, loaded on first use.

Adding a method is one module (the function) plus one entry in :data:`REGISTRY` plus its docs::

    REGISTRY["iv"] = Method("deconfound.estimators.iv:iv2sls", "Instrumental variables (2SLS)",
                            family="regression", needs_covariates=False, cov_types=OLS_COV_TYPES,
                            cli_options=(Option("instrument", "instrument column(s), comma-separated",
                                                kind="names"),))

This module imports nothing heavy (no numpy, no pandas, none of the methods): the command line builds
its parser from it, and ``deconfound --help`` must start fast.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from ..errors import SpecificationError

__all__ = [
    "ADJUSTMENT_MODES",
    "DESIGNS",
    "ENGINES",
    "FAMILIES",
    "OPTIONS",
    "REGISTRY",
    "Method",
    "Option",
    "cli_methods",
    "public_functions",
]

DESIGNS = ("cross-section", "rct", "panel")
ADJUSTMENT_MODES = ("covariates", "balance", "none")
#: where a method can run: in memory, or where the rows live (deconfound.engines; docs/scaling.md)
ENGINES = ("memory", "duckdb", "dask", "spark")
#: the methods whose passes are sums over rows run on every engine
ROW_ENGINES = ENGINES
#: the option kinds the command line knows how to read (see ``deconfound.cli.args.convert``)
OPTION_KINDS = ("str", "names", "int", "float", "bool", "folds", "trim")

OLS_COV_TYPES = ("nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster")
FE_COV_TYPES = ("nonrobust", "HC1", "cluster")

#: method family -> title of its group in ``deconfound estimate --help`` (None: the general options)
FAMILIES: dict[str, str | None] = {
    "regression": None,
    "panel": "panels and difference-in-differences",
    "propensity": "propensity score, matching and weighting",
    "iv": "instrumental variables",
    "front-door": "front-door adjustment",
    "dml": "double machine learning",
    "metalearners": "meta-learners and heterogeneous effects",
}


def _check(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        listed = ", ".join(repr(a) for a in allowed)
        raise SpecificationError(f"{name}={value!r} is not allowed; choose one of {listed}.")


class _OptionFields(NamedTuple):
    name: str
    help: str
    kind: str = "str"
    default: Any = None
    flag: str | None = None
    short: str | None = None
    example: str | None = None
    group: str = ""


class Option(_OptionFields):
    """A keyword parameter offered on the command line as ``--name-with-dashes``.

    ``kind`` says how the flag's text is read: ``str`` and ``names`` (a comma-separated list) are passed
    as given, ``int``/``float`` are numbers, ``bool`` is a ``--x/--no-x`` pair, ``folds`` is cross-fitting
    (auto, none or a number), ``trim`` is a number or ``crump``. ``default`` is the flag's default (None:
    the function's own default applies). ``flag`` renames the flag when the parameter's name would clash
    (``method`` of matching is ``--match-method``); ``short`` is a one-letter alias; ``example`` stands for
    the value in messages. ``group`` is the family whose help group lists the flag ("" for the general
    options).
    """

    __slots__ = ()

    def __new__(cls, *args: Any, **kwargs: Any) -> Option:
        self = super().__new__(cls, *args, **kwargs)
        _check("kind", self.kind, OPTION_KINDS)
        if self.group:
            _check("group", self.group, tuple(FAMILIES))
        return self

    @property
    def flag_name(self) -> str:
        """The long flag, e.g. ``--cov-type``."""
        return "--" + (self.flag or self.name.replace("_", "-"))

    @property
    def dest(self) -> str:
        """The attribute of the parsed arguments that holds the value."""
        return (self.flag or self.name).replace("-", "_")


def _shared(group: str, *options: Option) -> tuple[Option, ...]:
    return tuple(o._replace(group=group) for o in options)


#: options several methods share, in the order ``--help`` lists them; a method's own options are in its entry.
OPTIONS: tuple[Option, ...] = (
    Option("outcome", "outcome column", short="-y"),
    Option("treatment", "treatment column", short="-t", example="D"),
    Option("covariates", "comma-separated covariate columns", kind="names", short="-x"),
    Option("cov_type", "nonrobust, HC0, HC1, HC2, HC3 or cluster"),
    Option("cluster", "cluster column(s), comma-separated (two for two-way clustering)", kind="names"),
    Option("weights", "sample weights column"),
    Option("level", "confidence level (default 0.95)", kind="float", default=0.95),
    Option("missing", "raise (default) or drop rows with missing values", default="raise"),
    Option("treated_level", "the level of a two-level treatment that means 'treated'"),
    Option("random_state", "seed for every random step (bootstrap, gbm/rf propensity, cross-fitting)", kind="int"),
    Option("formula", "a formula such as \"Severity ~ Drug + Q('I.H')\" (method ols; iv: 'y ~ x | fe | d ~ z')"),
    Option("estimator", "event-study: twfe (default) or sun-abraham; iv: 2sls (default), liml, fuller or gmm"),
    Option("instrument", "wald, dml-iv: the instrument column (binary for wald)"),
    Option(
        "learner",
        "dml: every nuisance model, auto (default), linear, lasso, gbm or rf; meta-learners: the outcome models, "
        "linear (default), lasso, gbm or rf",
    ),
    Option("folds", "dml, meta-learners: cross-fitting folds (default 5)", kind="int"),
    *_shared(
        "panel",
        Option("unit", "unit (panel id) column"),
        Option("time", "time period column (numeric)"),
        Option("first_treated", "the first treated period of each unit (0 or empty = never)", example="G"),
        Option("fixed_effects", "further fixed effects to absorb, comma-separated", kind="names"),
        Option("window", "event times first,last, e.g. -5,5"),
        Option("control_group", "staggered: never (default) or not-yet; sun-abraham: never or last"),
    ),
    *_shared(
        "propensity",
        Option("estimand", "ATE, ATT or ATC (default: ATT for psm/cem, ATE for weighting)"),
        Option("propensity_covariates", "covariates of the propensity model, if not --covariates", kind="names"),
        Option("propensity_model", "logistic (default), sklearn-logistic, gbm or rf", default="logistic"),
        Option("cross_fit", "cross-fitting folds for gbm/rf: auto (default), none or a number", kind="folds"),
        Option("trim", "drop extreme propensity scores: a number a (keep a <= e <= 1-a) or crump", kind="trim"),
        Option(
            "trim_refit",
            "after --trim: refit the propensity model on the kept rows (default) or keep the full-sample scores",
            kind="bool",
        ),
    ),
)


class _MethodFields(NamedTuple):
    target: str
    label: str
    designs: tuple[str, ...] = ("cross-section", "rct")
    adjustment: str = "covariates"
    binary_treatment: bool = False
    needs: tuple[str, ...] = ()
    in_compare: bool = True
    options: Mapping[str, Any] = MappingProxyType({})
    needs_covariates: bool = False
    family: str = "regression"
    model: bool = True
    cli: bool = True
    cov_types: tuple[str, ...] = ()
    engines: tuple[str, ...] = ("memory",)
    renders: tuple[str, ...] = ()
    plots: tuple[str, ...] = ()
    cli_options: tuple[Option, ...] = ()
    one_of: tuple[str, ...] = ()
    compare_min_rows: int = 0


class Method(_MethodFields):
    """One estimator, as the model, the command line, the report and the package root see it.

    ``target`` is ``"module:function"``; ``adjustment`` says how the adjustment set is passed:
    ``"covariates"`` (as ``covariates=``, the method adjusts for it), ``"balance"`` (as ``covariates=``
    for a balance table only; no bad-control warnings), or ``"none"``. ``needs`` are model roles the
    method cannot run without (``unit``, ``time``); ``binary_treatment`` and ``needs_covariates`` are
    further conditions. ``options`` are fixed keyword arguments (a user's options override them), so one
    function can back several entries. ``in_compare``: run by ``CausalModel.compare()`` when it applies.
    ``model`` and ``cli``: reachable as ``CausalModel.estimate(id)`` and ``deconfound estimate --method
    id`` (the entry's key is its id on both). ``cov_types`` and ``engines`` list what the method supports
    (empty ``cov_types``: it has no ``cov_type=``). ``renders`` are the diagnostics keys its report draws
    (each has a renderer in ``deconfound.report.sections``); ``plots`` the ``deconfound plot`` kinds that
    draw its result. ``cli_options`` are command-line options only this method has; ``one_of`` names
    parameters of which the command line needs at least one. ``compare_min_rows``: ``compare()`` without
    a list of methods runs it from this many rows on (it still runs when named, or with ``--method``).
    """

    __slots__ = ()

    def __new__(cls, *args: Any, **kwargs: Any) -> Method:
        self = super().__new__(cls, *args, **kwargs)
        _check("adjustment", self.adjustment, ADJUSTMENT_MODES)
        _check("family", self.family, tuple(FAMILIES))
        if ":" not in self.target:
            raise SpecificationError(f"target must read 'module:function', got {self.target!r}.")
        for design in self.designs:
            _check("design", design, DESIGNS)
        for engine in self.engines:
            _check("engine", engine, ENGINES)
        group = self.family if FAMILIES[self.family] else ""
        if group and any(not o.group for o in self.cli_options):  # a method's own flags sit in its family's group
            return self._replace(cli_options=tuple(o if o.group else o._replace(group=group) for o in self.cli_options))
        return self

    @property
    def function_name(self) -> str:
        return self.target.split(":", 1)[1]

    def load(self) -> Callable[..., Any]:
        module, name = self.target.split(":", 1)
        return getattr(importlib.import_module(module), name)

    def option(self, parameter: str) -> Option | None:
        """The command-line option of ``parameter`` (the method's own first, then the shared ones)."""
        for option in (*self.cli_options, *OPTIONS):
            if option.name == parameter:
                return option
        return None

    def why_not(self, model: Any) -> str | None:
        """Why this method does not apply to ``model`` (None when it does)."""
        if model.design not in self.designs:
            return f"it is for {', '.join(self.designs)} designs, and this model's design is {model.design!r}"
        for role in self.needs:
            if getattr(model, role) is None:
                return f"it needs {role}= on the model"
        if self.needs_covariates and not model.adjustment_set:
            return "it needs at least one covariate to adjust for, and the adjustment set is empty"
        if self.binary_treatment and not model.binary_treatment_:
            return f"it needs a two-level treatment, and {model.treatment!r} has more than two values"
        import inspect

        params = inspect.signature(self.load()).parameters
        for role in ("weights", "cluster"):  # ignoring these would silently change the answer
            if getattr(model, role) is not None and role not in params:
                return f"it does not take {role}="
        return None


_PANEL = {"designs": ("panel",), "needs": ("unit", "time"), "family": "panel"}
_PROPENSITY = {"binary_treatment": True, "needs_covariates": True, "family": "propensity"}
_ES = "deconfound.estimators.event_study:event_study"
_PANEL_REGRESSION = "deconfound.estimators.panel:panel_regression"

#: method id -> its entry, in the order the model compares methods and ``--help`` lists them.
REGISTRY: dict[str, Method] = {
    "naive": Method(
        "deconfound.estimators.means:difference_in_means",
        "Difference in means",
        adjustment="balance",
        binary_treatment=True,
        renders=("balance", "balance_test"),
        engines=ROW_ENGINES,
        cli_options=(Option("randomized", "declare the data a randomized trial", kind="bool", default=False),),
    ),
    "ols": Method(
        "deconfound.estimators.regression:ols",
        "Regression adjustment (OLS)",
        cov_types=OLS_COV_TYPES,
        renders=("vif",),
        engines=ROW_ENGINES,
    ),
    "lin": Method(
        "deconfound.estimators.regression:lin",
        "Lin interacted regression",
        binary_treatment=True,
        cov_types=OLS_COV_TYPES,
        renders=("vif",),
        engines=ROW_ENGINES,
    ),
    "psm": Method(
        "deconfound.estimators.matching:matching",
        "Propensity score matching",
        **_PROPENSITY,
        renders=("balance", "overlap"),
        plots=("overlap", "balance"),
        cli_options=(
            Option("distance", "psm distance: propensity (default), logit, mahalanobis", default="propensity"),
            Option("method", "psm: nearest (default) or optimal pair matching", default="nearest", flag="match-method"),
            Option("neighbors", "psm: matches per unit (default 1)", kind="int", default=1),
            Option("replace", "psm: match with replacement", kind="bool", default=True),
            Option("caliper", "psm: largest allowed distance between matched units", kind="float"),
            Option("caliper_scale", "psm: caliper units, absolute (default) or sd", default="absolute"),
            Option("exact", "psm: comma-separated categorical columns to match exactly", kind="names"),
            Option("bias_adjust", "psm: Abadie-Imbens regression bias adjustment", kind="bool", default=False),
            Option("vce_neighbors", "psm: neighbours behind the variance (default 2)", kind="int", default=2),
            Option("vce_convention", "psm: standard-error convention, stata (default) or ai2006", default="stata"),
            Option(
                "se_imputation",
                "psm ATT/ATC: missing outcomes of the score adjustment by matching, regression or auto (default)",
                default="auto",
            ),
            Option(
                "se_adjust",
                "psm: adjust the standard error for the estimated score (Abadie-Imbens 2016; default on)",
                kind="bool",
                default=True,
            ),
            Option("fweights", "psm: frequency-weight column (whole numbers, as Stata's fweight)"),
        ),
    ),
    "ipw": Method(
        "deconfound.estimators.weighting:ipw",
        "Inverse probability weighting",
        **_PROPENSITY,
        renders=("balance", "overlap", "weight_summary"),
        plots=("overlap", "balance"),
        engines=ROW_ENGINES,
        cli_options=(Option("weighting", "ipw weights: hajek (normalised, default) or ht", default="hajek"),),
    ),
    "aipw": Method(
        "deconfound.estimators.weighting:aipw",
        "Augmented IPW",
        **_PROPENSITY,
        renders=("balance", "overlap", "weight_summary"),
        plots=("overlap", "balance"),
        engines=ROW_ENGINES,
    ),
    "ra": Method(
        "deconfound.estimators.weighting:ra", "Regression adjustment per arm", **_PROPENSITY, engines=ROW_ENGINES
    ),
    "overlap": Method(
        "deconfound.estimators.weighting:overlap_weights",
        "Overlap weights",
        **_PROPENSITY,
        renders=("balance", "overlap", "weight_summary"),
        plots=("overlap", "balance"),
        engines=ROW_ENGINES,
    ),
    "cem": Method(
        "deconfound.estimators.cem:cem",
        "Coarsened exact matching",
        **_PROPENSITY,
        renders=("balance",),
        plots=("balance",),
        cli_options=(Option("bins", "cem: number of bins per numeric covariate (default Sturges)", kind="int"),),
    ),
    # panels: the treatment is the unit-period indicator of being treated (it may switch on at different times)
    "did": Method(
        "deconfound.estimators.did:did",
        "Difference-in-differences",
        designs=("panel",),
        family="panel",
        model=False,  # its roles (treated, post) are not the model's
        cov_types=OLS_COV_TYPES,
        renders=("group_means",),
        engines=ROW_ENGINES,
        cli_options=(
            Option("treated", "did: the treated-group column (0/1)"),
            Option("post", "did: the after-treatment period column (0/1)"),
        ),
    ),
    "twfe": Method(
        "deconfound.estimators.twfe:twfe",
        "Two-way fixed effects",
        **_PANEL,
        cov_types=FE_COV_TYPES,
        renders=("bacon_summary",),
        engines=ROW_ENGINES,  # the Goodman-Bacon check (staggered timing) only in memory
    ),
    "event-study": Method(
        _ES,
        "Event study (TWFE)",
        **_PANEL,
        binary_treatment=True,
        cov_types=FE_COV_TYPES,
        renders=("event_study",),
        one_of=("first_treated", "treatment"),
        cli_options=(
            Option("ref_period", "event-study reference period (default -1)", kind="float", default=-1.0),
            Option(
                "bin_endpoints", "pool (default), or drop, event times beyond the window", kind="bool", default=True
            ),
        ),
    ),
    "sun-abraham": Method(
        _ES,
        "Event study (Sun-Abraham)",
        **_PANEL,
        binary_treatment=True,
        options={"estimator": "sun-abraham"},
        cli=False,  # on the command line: --method event-study --estimator sun-abraham
        cov_types=FE_COV_TYPES,
        renders=("event_study",),
    ),
    "staggered": Method(
        "deconfound.estimators.staggered:staggered",
        "Callaway-Sant'Anna",
        **_PANEL,
        binary_treatment=True,
        renders=("event_study",),
        one_of=("first_treated", "treatment"),
        cli_options=(
            Option("aggregate", "staggered: simple (default), event, group or calendar"),
            Option("est_method", "staggered with covariates: dr (default, doubly robust), ipw or reg", default="dr"),
            Option("base_period", "staggered: varying (default) or universal", default="varying"),
            Option("anticipation", "staggered: periods of anticipation (default 0)", kind="int", default=0),
            Option("n_boot", "staggered: multiplier-bootstrap draws (default: analytic SEs)", kind="int"),
            Option(
                "panel",
                "staggered: --no-panel-data reads the rows as repeated cross-sections (each row its own observation)",
                kind="bool",
                flag="panel-data",
            ),
            Option(
                "allow_unbalanced_panel",
                "staggered: keep every unit of an unbalanced panel instead of dropping those missing a period",
                kind="bool",
            ),
        ),
    ),
    "panel": Method(
        _PANEL_REGRESSION,
        "Panel regression",
        **_PANEL,
        model=False,  # the model runs its variants: twfe (within), first-difference, random-effects
        cov_types=FE_COV_TYPES,
        cli_options=(
            Option("model", "panel: within, first-difference or random-effects", default="within", flag="panel-model"),
            Option(
                "time_effects",
                "panel: add period effects (absorbed by within, time dummies for first-difference and random-effects)",
                kind="bool",
                default=False,
            ),
        ),
    ),
    "first-difference": Method(
        _PANEL_REGRESSION,
        "First differences",
        **_PANEL,
        options={"model": "first-difference", "time_effects": True},  # period dummies: a DiD needs them
        cli=False,  # on the command line: --method panel --panel-model first-difference
        cov_types=FE_COV_TYPES,
    ),
    "random-effects": Method(
        _PANEL_REGRESSION,
        "Random effects",
        **_PANEL,
        options={"model": "random-effects", "time_effects": True},
        cli=False,  # on the command line: --method panel --panel-model random-effects
        cov_types=FE_COV_TYPES,
    ),
}

# instrumental variables (issue 13): the model passes the instruments the graph names (when adjustment fails)
#: the instruments' diagnostics the report draws (report/iv_section.py)
IV_RENDERS = ("first_stage", "weak_iv", "compliers")
_IV_OPTIONS = (
    Option("endog", "iv: endogenous regressor(s), comma-separated (default: --treatment)", kind="names"),
    Option("instruments", "iv: excluded instrument(s), comma-separated", kind="names"),
    Option("fuller", "iv: Fuller's constant for --estimator fuller (default 1)", kind="float"),
    Option("absorb", "iv: factors whose fixed effects are absorbed, comma-separated", kind="names"),
    Option("small_sample", "iv: small-sample corrections and t inference (default on)", kind="bool", default=True),
)
REGISTRY["iv"] = Method(
    "deconfound.estimators.iv:iv",
    "Instrumental variables",
    family="iv",
    needs=("instruments",),  # the model runs it (and compares it) only when the graph names the instruments
    in_compare=True,
    cov_types=OLS_COV_TYPES,
    renders=IV_RENDERS,
    engines=ROW_ENGINES,  # absorb= up to 400 levels as dummies; no complier analysis on engines
    cli_options=_IV_OPTIONS,
    one_of=("treatment", "endog", "formula"),
)
REGISTRY["wald"] = Method(
    "deconfound.estimators.iv:wald_estimator",
    "Wald estimator (LATE)",
    adjustment="none",
    family="iv",
    model=False,
    in_compare=False,
    binary_treatment=True,
    cov_types=OLS_COV_TYPES,
    renders=IV_RENDERS,
)

# the front door: identified when the graph names mediators that carry the whole effect (issue 13, item 6);
# the model passes the front-door set the graph names as mediators= (``needs``), only when adjustment fails.
REGISTRY["front-door"] = Method(
    "deconfound.estimators.frontdoor:front_door",
    "Front-door adjustment",
    adjustment="none",
    needs=("mediators",),
    family="front-door",
    renders=("mediator_model", "outcome_model"),
    cli_options=(
        Option("mediators", "front-door: the mediator column(s), comma-separated", kind="names", example="M"),
        Option(
            "model",
            "front-door: linear (default: product of coefficients) or a regressor preset (ols, lasso, gbm, rf)",
            flag="front-door-model",
        ),
        Option("se", "front-door: stacked (default for linear) or bootstrap", flag="front-door-se"),
        Option("n_bootstrap", "front-door: bootstrap resamples (default 500)", kind="int"),
        Option(
            "treatment_model",
            "front-door, flexible model with covariates: classifier for P(treatment | covariates), logistic "
            "(default), sklearn-logistic, gbm or rf",
        ),
    ),
)

# double machine learning (issue 14): cross-fitted nuisances; dml-iv (PLIV, or IIVM with --iv-model) is not
# the model's (its instrument is not a model role)
_DML_OPTIONS = (
    Option("repeats", "dml: repeated sample splits, aggregated by the median (default 1)", kind="int"),
    Option("n_jobs", "dml: parallel workers over folds x repetitions (same numbers as serial)", kind="int"),
)
_DML_SCORE = Option("score", "dml, dml-iv: partialling-out (default) or IV-type")
_DML_IPW = (
    Option("trimming_threshold", "dml-irm, dml-iv: clip propensities to [c, 1-c] (default 0.01)", kind="float"),
    Option("normalize_ipw", "dml-irm, dml-iv: normalize the inverse probability weights", kind="bool", default=False),
)
#: the default comparison runs double ML from this many rows on (docs/how-to/dml.md, "In the comparison"):
#: on fewer, importing and cross-fitting the boosted learners costs more than the rest of the comparison,
#: and five folds leave each arm a few hundred training rows, too few for the trees to add to the
#: regression, weighting and matching estimates beside them
DML_COMPARE_MIN_ROWS = 2_000
_DML = {
    "designs": ("cross-section",),
    "needs_covariates": True,
    "family": "dml",
    "compare_min_rows": DML_COMPARE_MIN_ROWS,
    "renders": ("nuisance_quality", "spread"),
}
REGISTRY["dml"] = Method(
    "deconfound.estimators.dml:dml", "Double ML (partially linear)", **_DML, cli_options=(*_DML_OPTIONS, _DML_SCORE)
)
REGISTRY["dml-irm"] = Method(
    "deconfound.estimators.dml:dml_irm",
    "Double ML (interactive)",
    **_DML,
    binary_treatment=True,
    cli_options=(*_DML_OPTIONS, *_DML_IPW),
)
REGISTRY["dml-iv"] = Method(
    "deconfound.estimators.dml:dml_iv",
    "Double ML with an instrument",
    **_DML,
    model=False,
    in_compare=False,
    cli_options=(
        *_DML_OPTIONS,
        _DML_SCORE,
        *_DML_IPW,
        Option("model", "dml-iv: pliv (default) or iivm (LATE; binary instrument and treatment)", flag="iv-model"),
    ),
)

# meta-learners of the CATE (issue 14): one function each, the same options
_META_OPTIONS = (
    Option("propensity_learner", "meta-learners: propensity model: logistic, gbm or rf (default: as --learner)"),
    Option("final_learner", "meta-learners: CATE model of x/r/dr-learner: linear (default), lasso, gbm or rf"),
    Option("groups", "meta-learners: CATE groups of GATES and CLAN (default 5)", kind="int"),
    Option("subgroups", "meta-learners: a column whose levels get their own average effect"),
    Option("propensity_clip", "meta-learners: clip propensities to [c, 1-c] (default 0.01)", kind="float"),
)
_META = {
    "binary_treatment": True,
    "needs_covariates": True,
    "family": "metalearners",
    "in_compare": False,
    "renders": ("cate_summary", "blp", "gates", "clan", "subgroups", "policy"),
    "plots": ("cate", "gates"),
    "cli_options": _META_OPTIONS,
}
for _id, _label in (
    ("s-learner", "S-learner"),
    ("t-learner", "T-learner"),
    ("x-learner", "X-learner"),
    ("r-learner", "R-learner"),
    ("dr-learner", "DR-learner"),
):
    REGISTRY[_id] = Method(f"deconfound.estimators.metalearners:{_id.replace('-', '_')}", _label, **_META)

#: the command line's method when --method is not given
DEFAULT_METHOD = "ols"


def cli_methods() -> tuple[str, ...]:
    """Ids of the methods ``deconfound estimate --method`` offers, in registry order."""
    return tuple(name for name, method in REGISTRY.items() if method.cli)


def public_functions() -> dict[str, str]:
    """Function name -> module (relative to the package) of every registered method in this package."""
    out: dict[str, str] = {}
    for method in REGISTRY.values():
        module, name = method.target.split(":", 1)
        if module.startswith("deconfound."):
            out.setdefault(name, module[len("deconfound") :])
    return out
