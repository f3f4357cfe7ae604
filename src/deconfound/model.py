"""CausalModel: one object that holds the causal question and runs the workflow.

    model = CausalModel(df, "Drug", "Severity", graph="I.H -> Drug; I.H -> Severity; Drug -> Severity")
    model.identify()          # backdoor paths and the adjustment set {I.H}
    model.estimate("ols")     # any registered estimator, adjusted for that set
    model.compare().plot()    # every estimator that applies, side by side, and a forest plot

Estimators are declared once, in the method registry (:mod:`deconfound.estimators.registry`);
:data:`ESTIMATORS` is its view of the entries the model runs (:class:`MethodSpec` is the registry's
entry type), keyed by method id. An entry names the function as a ``"module:function"`` string (imported
only when used), the designs it applies to, whether it needs a two-level treatment or other roles
(``unit``, ``time``), and how it receives the adjustment set. Adding a method is one entry::

    ESTIMATORS["psm"] = MethodSpec("deconfound.estimators.matching:matching", "Propensity score matching",
                                   binary_treatment=True)

The model passes each function the roles it accepts (``outcome``, ``treatment``, ``covariates``,
``weights``, ``cluster``, ``unit``, ``time``, ``level``, ``missing``, ``treated_level``; ``randomized``
for an RCT), read from the function's signature. The estimators stay usable on their own.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from ._core.options import as_name_list, check_level, check_option
from .data import MISSING_POLICIES, check_columns, load_table
from .errors import BadControlWarning, DataWarning, DeconfoundError, IdentificationError, SpecificationError, warn
from .estimators.registry import DESIGNS, REGISTRY, Method
from .graph.causal_graph import CausalGraph, as_graph
from .graph.identification import AdjustmentCheck, Identification, check_adjustment, identify
from .results import Comparison, Estimate, Summary, compare

__all__ = ["DESIGNS", "ESTIMATORS", "AdjustmentPlan", "CausalModel", "MethodSpec", "plan_adjustment"]

_OPTIONS = ("graph", "covariates", "design", "unit", "time", "weights", "cluster", "level", "missing", "treated_level")
_MODEL_ROLES = ("outcome", "treatment", "covariates", "weights", "cluster", "unit", "time", "level", "missing")


#: how the model runs one estimator: an entry of the method registry (see :mod:`deconfound.estimators.registry`)
MethodSpec = Method


class _ModelMethods(MutableMapping[str, Method]):
    """The registry's entries that the model runs (``Method.model``), by id, in registry order.

    A view, not a copy: entries added to the registry appear here, and entries set here are added to it."""

    def __getitem__(self, key: str) -> Method:
        method = REGISTRY[key]
        if not method.model:
            raise KeyError(key)
        return method

    def __setitem__(self, key: str, value: Method) -> None:
        REGISTRY[key] = value

    def __delitem__(self, key: str) -> None:
        if not REGISTRY[key].model:
            raise KeyError(key)
        del REGISTRY[key]

    def __iter__(self) -> Iterator[str]:
        return iter([key for key, method in REGISTRY.items() if method.model])

    def __len__(self) -> int:
        return sum(method.model for method in REGISTRY.values())

    def __repr__(self) -> str:
        return f"ESTIMATORS({list(self)})"


#: method id -> how the model runs it: a view of the method registry.
ESTIMATORS: MutableMapping[str, Method] = _ModelMethods()


# --------------------------------------------------------------------------------------------------
# the adjustment set and its warnings (shared with the command line)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdjustmentPlan:
    """The covariates to adjust for, the graph's verdict on them (``check``) and notes for the result."""

    covariates: tuple[str, ...]
    identification: Identification | None = None
    check: AdjustmentCheck | None = None
    notes: tuple[str, ...] = ()
    #: how the graph identifies the effect: "backdoor" (by this set), or, when no observed set closes the
    #: backdoor paths, "front-door" or "iv" (then ``covariates`` is only the best available set, and an
    #: estimate adjusted for it is biased: compare() shows it beside the identified one)
    strategy: str = "backdoor"

    @property
    def warnings(self) -> tuple[str, ...]:
        return () if self.check is None else self.check.messages

    def attach(self, result: Estimate, *, adjusted: bool = True) -> Estimate:
        """``result`` with the plan's notes and (when the method adjusted for the set) its warnings,
        which are also issued as :class:`BadControlWarning`."""
        messages = self.warnings if adjusted else ()
        for message in messages:
            warn(message, BadControlWarning)
        return dataclasses.replace(
            result,
            warnings=tuple(result.warnings) + tuple(messages),
            notes=tuple(result.notes) + self.notes,
        )


def _typo_warnings(graph: CausalGraph, columns: Iterable[str]) -> None:
    cols = [str(c) for c in columns]
    for node in graph.nodes:
        if node in cols or node in graph.latent:
            continue
        close = difflib.get_close_matches(node, cols, n=1, cutoff=0.75)
        if close:
            warn(
                f"graph node {node!r} is not a column of the data, so it is treated as unobserved; "
                f"did you mean the column {close[0]!r}? Rename the node to use it.",
                DataWarning,
            )


def plan_adjustment(
    graph: Any,
    *,
    treatment: str,
    outcome: str,
    covariates: Iterable[str] | None = None,
    observed: Iterable[str] | None = None,
) -> AdjustmentPlan:
    """The set to adjust for: ``covariates`` if given (checked against the graph), else the smallest
    observed set that satisfies the backdoor criterion. Raises IdentificationError (with the explanation)
    when there is none and no covariates were given."""
    g = as_graph(graph)
    ident = identify(g, treatment=treatment, outcome=outcome, observed=observed)
    chosen = as_name_list(covariates, "covariates") if covariates is not None else None
    if chosen is None:
        chosen = list(ident.require())
        note = f"adjustment set {_braces(chosen)} identified from the graph (backdoor criterion)"
    else:
        note = f"adjustment set {_braces(chosen)} given by the user, checked against the graph"
    check = check_adjustment(g, treatment=treatment, outcome=outcome, covariates=chosen, observed=observed)
    return AdjustmentPlan(tuple(chosen), ident, check, (note,))


def _braces(names: Iterable[str]) -> str:
    return "{" + ", ".join(names) + "}"


#: the adjusted estimate compare() shows beside a front-door or IV estimate (biased: the verdict sets it aside)
BESIDE = ("ols",)

#: the role each alternative to adjustment hands its estimator (the model passes it by this name)
ALTERNATIVES = {"front-door": "mediators", "iv": "instruments"}


def graph_alternative(
    graph: Any, *, treatment: str, outcome: str, strategy: str, observed: Iterable[str] | None = None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The mediators (``strategy="front-door"``) or instruments (``"iv"``) the graph names, with the covariates
    they need (the instruments' conditioning set; none for the front door). Raises an IdentificationError
    saying what the graph offers when it names none (the command line's ``estimate --graph``)."""
    ident = identify(as_graph(graph), treatment=treatment, outcome=outcome, observed=observed, alternatives=True)
    if strategy == "front-door" and ident.front_door:
        return tuple(ident.front_door[0]), ()
    if strategy == "iv" and ident.instruments:
        return ident.instrument_set
    what = "front-door set" if strategy == "front-door" else "observed instrument"
    raise IdentificationError(
        f"The graph names no {what} for the effect of {treatment} on {outcome}. {ident.explanation}"
    )


def identifies_by(method: str, spec: Method) -> str:
    """How a registered method identifies the effect: ``"backdoor"`` (adjustment), ``"front-door"`` (it
    needs ``mediators``) or ``"iv"`` (it needs ``instruments``, or is the registry's ``"iv"``)."""
    for strategy, role in ALTERNATIVES.items():
        if role in spec.needs:
            return strategy
    return "iv" if method == "iv" else "backdoor"


def _implied_graph(
    treatment: str, outcome: str, covariates: Iterable[str], design: str, changing: Iterable[str] = ()
) -> CausalGraph:
    """The graph a covariate list stands for: confounders (or, in an RCT, causes of the outcome only).
    A covariate in ``changing`` (it changes over time within units, so the treatment may move it) is
    drawn as a possible consequence of the treatment, never as a confounder."""
    cov = list(covariates)
    moving = set(changing)
    edges = [(treatment, outcome), *[(c, outcome) for c in cov]]
    edges += [(treatment, c) if c in moving else (c, treatment) for c in cov if design != "rct" or c in moving]
    return CausalGraph(edges, nodes=[treatment, outcome, *cov])


# --------------------------------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------------------------------


class CausalModel:
    """The causal question: data, treatment, outcome, and what is assumed about how they relate.

    Give a ``graph`` (text, DOT, edge list or networkx DiGraph; nodes that are not columns are
    unobserved) to let the model find the adjustment set and check yours, or a plain ``covariates``
    list, assumed to be confounders. With both, ``covariates`` is the set used and the graph checks it.
    ``design`` is ``"cross-section"`` (observational), ``"rct"`` (randomized: the graph's arrows into
    the treatment are cut and covariates only add precision) or ``"panel"`` (needs ``unit`` and ``time``).

    The constructor only stores the question; :meth:`identify`, :meth:`estimate` and :meth:`compare`
    check it and cache what they find (attributes ending in ``_``).
    """

    frame_: Any
    graph_: CausalGraph | None
    binary_treatment_: bool
    identification_: Identification | None
    plan_: AdjustmentPlan | None

    def __init__(
        self,
        data: Any,
        treatment: str,
        outcome: str,
        *,
        graph: Any = None,
        covariates: str | Iterable[str] | None = None,
        design: str = "cross-section",
        unit: str | None = None,
        time: str | None = None,
        weights: str | None = None,
        cluster: str | Iterable[str] | None = None,
        level: float = 0.95,
        missing: str = "raise",
        treated_level: Any = None,
    ) -> None:
        self.data = data
        self.treatment = treatment
        self.outcome = outcome
        self.graph = graph
        self.covariates = covariates
        self.design = design
        self.unit = unit
        self.time = time
        self.weights = weights
        self.cluster = cluster
        self.level = level
        self.missing = missing
        self.treated_level = treated_level
        self._check_question()
        if graph is not None:  # a cyclic or unreadable graph is refused now, not in estimate() or repr()
            as_graph(graph)
        if isinstance(getattr(data, "columns", None), Iterable) and isinstance(treatment, str):
            check_columns([str(c) for c in data.columns], [treatment], "treatment")  # a frame: check now

    # setup ----------------------------------------------------------------------------------------
    def _check_question(self) -> None:
        """The options that need no data, checked when the model is built (and again before use, in case an
        attribute was set since): each error names the argument and the values it allows."""
        self.design = check_option("design", self.design, DESIGNS)
        self.level = check_level(self.level)
        self.missing = check_option("missing", self.missing, MISSING_POLICIES)
        for role in ("treatment", "outcome"):
            if not isinstance(getattr(self, role), str):
                raise SpecificationError(f"{role} must be a column name, got {getattr(self, role)!r}.")
        if self.treatment == self.outcome:
            raise SpecificationError(
                f"treatment and outcome are the same column {self.treatment!r}; name the outcome the treatment affects."
            )
        if self.design == "panel" and (self.unit is None or self.time is None):
            raise SpecificationError("design='panel' needs unit= and time= (the columns naming units and periods).")

    def _setup(self) -> None:
        if getattr(self, "frame_", None) is not None:
            return
        self._check_question()
        frame = load_table(self.data)
        roles = [("treatment", self.treatment), ("outcome", self.outcome)]
        roles += [(r, getattr(self, r)) for r in ("unit", "time", "weights") if getattr(self, r) is not None]
        roles += [("cluster", c) for c in as_name_list(self.cluster, "cluster")]
        for role, column in roles:
            check_columns(frame, [column], role)
        levels = frame[self.treatment].dropna().nunique()
        self.binary_treatment_ = self.treated_level is not None or levels == 2
        self.graph_ = None if self.graph is None else self._graph(frame)
        self.frame_ = frame

    def _graph(self, frame: Any) -> CausalGraph:
        g = as_graph(self.graph)
        g.check_node(self.treatment, "treatment")
        g.check_node(self.outcome, "outcome")
        _typo_warnings(g, frame.columns)
        if self.design == "rct" and g.parents(self.treatment):
            cut = [e for e in g.edges if e[1] != self.treatment]
            pairs = [p for p in g.bidirected if self.treatment not in p]
            g = CausalGraph(cut, bidirected=pairs, nodes=g.nodes, latent=g.latent)
        return g

    def _plan(self) -> AdjustmentPlan:
        cached = getattr(self, "plan_", None)
        if cached is not None:
            return cached
        self._setup()
        columns = [str(c) for c in self.frame_.columns]
        given = None if self.covariates is None else as_name_list(self.covariates, "covariates", columns)
        if self.graph_ is not None:
            if self.design == "rct" and given is None:
                given = []
            try:
                plan = plan_adjustment(
                    self.graph_, treatment=self.treatment, outcome=self.outcome, covariates=given, observed=columns
                )
            except IdentificationError:
                plan = self._plan_without_adjustment()  # the front door or an instrument, or the error again
            if self.design == "rct":
                rct = "design='rct': randomization cuts every arrow into the treatment"
                plan = dataclasses.replace(plan, notes=(*plan.notes, rct))
        else:
            plan = self._plan_without_graph(given or [])
        self.plan_ = plan
        return plan

    def _plan_without_adjustment(self) -> AdjustmentPlan:
        """No observed set closes the backdoor paths: the front door when the graph names a front-door set,
        else an instrument when it names an observed one (re-raising the IdentificationError otherwise). The
        plan's covariates are the best available set (observed causes of the treatment or the outcome that
        the treatment does not affect, instruments and mediators left out), for the biased estimate shown
        beside the identified one."""
        ident = self.identify()
        strategy = ident.strategy
        if strategy in (None, "backdoor"):
            ident.require()  # raises the IdentificationError with the explanation
        assert self.graph_ is not None
        columns = [str(c) for c in self.frame_.columns]
        g, t, y = self.graph_, self.treatment, self.outcome
        used = ident.front_door[0] if strategy == "front-door" and ident.front_door else ident.instrument_set[0]
        left_out = {t, y} | set(g.descendants(t)) | set(used)
        best = sorted(n for n in (g.ancestors(t) | g.ancestors(y)) if n in columns and n not in left_out)
        check = check_adjustment(g, treatment=t, outcome=y, covariates=best, observed=columns)
        if strategy == "front-door":
            how = f"the front-door criterion through {_braces(used)}"
        else:
            how = f"the instrument(s) {_braces(used)}"
        note = (
            f"not identifiable by adjustment (an unobserved confounder of {t!r} and {y!r}); the graph identifies "
            f"the effect by {how}"
        )
        return AdjustmentPlan(tuple(best), ident, check, (note,), str(strategy))

    @property
    def identified_by(self) -> str | None:
        """How the effect is identified: ``"backdoor"`` (adjustment; also when the covariates are assumed to be
        the confounders), ``"front-door"``, ``"iv"``, or None when the graph leaves it unidentified."""
        try:
            return self._plan().strategy
        except IdentificationError:
            return None

    @property
    def mediators(self) -> tuple[str, ...] | None:
        """The front-door set the model estimates through (when the front door identifies the effect)."""
        if self.identified_by != "front-door":
            return None
        front = self.identify().front_door
        return tuple(front[0]) if front else None

    @property
    def instruments(self) -> tuple[str, ...] | None:
        """The observed instruments the model estimates with (when an instrument identifies the effect)."""
        if self.identified_by != "iv":
            return None
        return self.identify().instrument_set[0]

    def _instrument_given(self) -> tuple[str, ...]:
        """The covariates the chosen instruments are valid given (the IV estimate's exogenous covariates)."""
        return self.identify().instrument_set[1]

    def _plan_without_graph(self, given: list[str]) -> AdjustmentPlan:
        check_columns(self.frame_, given, "covariate")
        for role in ("treatment", "outcome"):
            if getattr(self, role) in given:
                raise SpecificationError(
                    f"the {role} {getattr(self, role)!r} cannot be one of the covariates; remove it from covariates."
                )
        if self.design == "rct":
            note = "design='rct': treatment randomized; covariates adjust for precision only"
        else:
            note = "no graph given: every covariate is assumed to be a confounder (a cause of treatment and outcome)"
        g = _implied_graph(self.treatment, self.outcome, given, self.design)
        ident = identify(g, treatment=self.treatment, outcome=self.outcome)
        return AdjustmentPlan(tuple(given), ident, None, (note,))

    @property
    def binary_treatment(self) -> bool:
        self._setup()
        return bool(self.binary_treatment_)

    # the workflow ---------------------------------------------------------------------------------
    def identify(self) -> Identification:
        """What the graph says: backdoor paths, minimal adjustment sets, the smallest observed one (or why
        there is none: see ``explanation``). Without a graph, the covariates are taken as the confounders."""
        if getattr(self, "identification_", None) is None:
            self._setup()
            if self.graph_ is None:
                given = as_name_list(self.covariates, "covariates", list(map(str, self.frame_.columns)))
                self.identification_ = self._plan_without_graph(given).identification
            else:
                columns = [str(c) for c in self.frame_.columns]
                self.identification_ = identify(
                    self.graph_, treatment=self.treatment, outcome=self.outcome, observed=columns
                )
        assert self.identification_ is not None
        return self.identification_

    @property
    def adjustment_set(self) -> tuple[str, ...]:
        """The covariates the estimators receive (identified from the graph, or as given)."""
        return self._plan().covariates

    def applicable_methods(self) -> list[str]:
        """Ids of the registered estimators that apply to this model, in registry order; an empty list (not
        an error) when none does, e.g. when the graph leaves the effect unidentified: :meth:`not_applicable`
        says why for each."""
        reasons = self.not_applicable()
        return [m for m, spec in ESTIMATORS.items() if spec.in_compare and m not in reasons]

    def not_applicable(self) -> dict[str, str]:
        """Method id -> why that registered estimator does not apply to this model (those compare() would skip)."""
        self._setup()
        try:
            plan = self._plan()
        except IdentificationError as exc:  # no adjustment set: every method would adjust for nothing valid
            return {m: f"the effect is not identified: {exc}" for m, spec in ESTIMATORS.items() if spec.in_compare}
        reasons = {m: self._why_not(m, spec, plan) for m, spec in ESTIMATORS.items() if spec.in_compare}
        n_rows = len(self.frame_)
        for m, spec in ESTIMATORS.items():
            if spec.in_compare and reasons.get(m) is None and n_rows < spec.compare_min_rows:
                reasons[m] = (
                    f"the comparison runs it from {spec.compare_min_rows:,} rows on, and the data have {n_rows:,}; "
                    f"run it by name (model.estimate({m!r}), or --method {m})"
                )
        return {m: reason for m, reason in reasons.items() if reason is not None}

    def _why_not(self, method: str, spec: Method, plan: AdjustmentPlan) -> str | None:
        """Why ``method`` does not apply: the registry's reasons, and whether the way it identifies the effect
        (adjustment, the front door, an instrument) is the one the graph supports."""
        wanted = identifies_by(method, spec)
        if self.design not in spec.designs:
            return spec.why_not(self)
        if wanted != plan.strategy:
            if plan.strategy == "backdoor" and wanted != "backdoor":
                how = (
                    "the graph identifies"
                    if self.graph_ is not None
                    else "the covariates (assumed to be the confounders) identify"
                )
                return f"{how} the effect by adjustment; {spec.label} is for when adjustment cannot"
            if wanted == "backdoor":
                return f"the effect is {plan.notes[0]}"
            return f"the graph identifies the effect by {plan.strategy}, not by {wanted}"
        return spec.why_not(self)

    def estimate(
        self, method: str = "ols", *, covariates: str | Iterable[str] | None = None, **options: Any
    ) -> Estimate:
        """Run the registered estimator ``method`` with the model's roles and adjustment set.

        ``covariates`` replaces the adjustment set for this call (checked against the graph: bad controls
        and open backdoor paths become :class:`BadControlWarning`s on the result). Other ``options`` go to
        the estimator (e.g. ``cov_type="HC1"``) and must be parameters of its function.
        """
        method = check_option("method", method, tuple(ESTIMATORS))
        spec = ESTIMATORS[method]
        self._setup()
        strategy = identifies_by(method, spec)
        if strategy != "backdoor":
            return self._estimate_alternative(method, spec, strategy, covariates, options)
        reason = spec.why_not(self)
        if reason:
            raise SpecificationError(f"method {method!r} does not apply to this model: {reason}.")
        plan = self._plan() if covariates is None else self._override(covariates)
        if plan.strategy != "backdoor" and covariates is None:  # adjustment cannot identify it: say what can
            explanation = plan.identification.explanation if plan.identification is not None else plan.notes[0]
            alternative = "front-door" if plan.strategy == "front-door" else "iv"
            raise IdentificationError(
                f"{explanation} Estimate it with model.estimate({alternative!r}); compare() shows both. To adjust "
                "anyway (a biased estimate), pass covariates=."
            )
        function = spec.load()
        kwargs = self._arguments(method, spec, function, plan.covariates, options)
        result = function(self.frame_, **kwargs)
        return plan.attach(result, adjusted=spec.adjustment == "covariates")

    def _estimate_alternative(
        self, method: str, spec: Method, strategy: str, covariates: Any, options: dict[str, Any]
    ) -> Estimate:
        """The front door or IV: the mediators or instruments (and the instruments' conditioning set) come
        from the graph; ``covariates`` and the option of the role (``mediators=``/``instruments=``) override."""
        role = ALTERNATIVES[strategy]
        plan = self._plan()
        if plan.strategy != strategy and options.get(role) is None:
            reason = self._why_not(method, spec, plan) or f"it needs {role}="
            raise SpecificationError(
                f"method {method!r} does not apply to this model: {reason}. Pass {role}= to use it anyway."
            )
        if design_reason := (spec.why_not(self) if plan.strategy == strategy else None):
            raise SpecificationError(f"method {method!r} does not apply to this model: {design_reason}.")
        function = spec.load()
        params = inspect.signature(function).parameters
        given = self._instrument_given() if strategy == "iv" and plan.strategy == "iv" else ()
        chosen = tuple(as_name_list(covariates, "covariates")) if covariates is not None else given
        kwargs = self._arguments(method, spec, function, chosen, options)
        if "covariates" in params and (covariates is not None or given):
            kwargs["covariates"] = list(chosen)
        value = getattr(self, role)
        if role in params and role not in options and value is not None:
            kwargs[role] = list(value)
        result = function(self.frame_, **kwargs)
        if plan.strategy != strategy:
            return result
        return dataclasses.replace(result, notes=(*result.notes, *plan.notes))

    def _override(self, covariates: str | Iterable[str]) -> AdjustmentPlan:
        names = as_name_list(covariates, "covariates", list(map(str, self.frame_.columns)))
        if self.graph_ is None:
            return dataclasses.replace(self._plan_without_graph(names), notes=())
        columns = [str(c) for c in self.frame_.columns]
        return plan_adjustment(
            self.graph_, treatment=self.treatment, outcome=self.outcome, covariates=names, observed=columns
        )

    def _arguments(
        self, method: str, spec: MethodSpec, function: Callable[..., Any], covariates: tuple[str, ...], options: dict
    ) -> dict[str, Any]:
        params = inspect.signature(function).parameters
        kwargs: dict[str, Any] = {"outcome": self.outcome, "treatment": self.treatment}
        if spec.adjustment != "none" and "covariates" in params:
            kwargs["covariates"] = list(covariates)
        for role in ("weights", "cluster", "unit", "time", "treated_level"):
            if getattr(self, role) is not None and role in params:
                kwargs[role] = getattr(self, role)
        for role in ("level", "missing"):
            if role in params:
                kwargs[role] = getattr(self, role)
        if "randomized" in params:
            kwargs["randomized"] = self.design == "rct"
        kwargs.update(spec.options)
        _check_option_names(method, params, options)
        kwargs.update(options)
        return kwargs

    def check_options(self, method: str, options: Mapping[str, Any]) -> None:
        """Refuse an option ``method`` does not take (with the closest name it does), before estimating."""
        spec = ESTIMATORS[check_option("method", method, tuple(ESTIMATORS))]
        _check_option_names(method, inspect.signature(spec.load()).parameters, options)
        if options.get("cov_type") is not None and spec.cov_types:  # a value the method would refuse later
            from ._core.covariance import CovSupport, check_cov_type

            check_cov_type(options["cov_type"], method=method, allowed=CovSupport(tuple(spec.cov_types)))

    def compare(self, methods: Iterable[str] | None = None) -> Comparison:
        """Run every registered estimator that applies (or those named) and return them side by side, with
        the verdict (docs/verdict.md) that recommends one. ``.plot()`` on the result draws the forest plot."""
        chosen = self.applicable_methods() if methods is None else [m for m in as_name_list(methods, "methods")]
        if not chosen:
            self._plan()  # an effect the graph leaves unidentified: its IdentificationError, with the explanation
            reasons = "; ".join(f"{m}: {why}" for m, why in self.not_applicable().items())
            raise SpecificationError(f"no registered estimator applies to design {self.design!r} ({reasons}).")
        plan = self._plan()
        if plan.strategy == "backdoor":
            return self.judge([self.estimate(m) for m in chosen])
        if methods is None:  # beside the identified estimate, the adjusted one a user would otherwise report
            chosen += [m for m in BESIDE if m in ESTIMATORS and m not in chosen and not ESTIMATORS[m].why_not(self)]
        estimates = []
        for m in chosen:
            adjusts = identifies_by(m, ESTIMATORS[check_option("method", m, tuple(ESTIMATORS))]) == "backdoor"
            estimates.append(self.estimate(m, covariates=list(plan.covariates)) if adjusts else self.estimate(m))
        return self.judge(estimates)

    def judge(self, estimates: Iterable[Estimate]) -> Comparison:
        """The estimates side by side with the verdict for this model's question: its design, its
        adjustment set (a difference in means that ignores it is set aside), and whether a graph
        identified that set or the covariates are assumed to be the confounders."""
        return compare(
            list(estimates),
            design=self.design,
            confounders=list(self.adjustment_set),
            estimand=None if self.design == "panel" else "ATE",
            identification=self._identification_word(),
        )

    def _identification_word(self) -> str:
        """The verdict's ``identification``: "assumed" (no graph), "identified" (adjustment identified by the
        graph), or "front-door" / "iv" (adjustment cannot identify the effect; docs/verdict.md)."""
        if self.graph is None:
            return "assumed"
        strategy = self._plan().strategy
        return "identified" if strategy == "backdoor" else strategy

    def summary(self, methods: Iterable[str] | None = None) -> Summary:
        """The question and every applicable estimate (or those named), led by the verdict: the
        recommended estimate, its interval and why (docs/verdict.md). Renders as text and HTML."""
        comparison = self.compare(methods)
        inner = comparison.summary()
        how = "assumed (no graph: the covariates are taken to be the confounders)" if self.graph is None else "graph"
        if self.identified_by == "front-door":
            how = f"graph: the front door through {_braces(self.mediators or ())} (not by adjustment)"
        elif self.identified_by == "iv":
            how = f"graph: the instrument(s) {_braces(self.instruments or ())} (not by adjustment)"
        header = (
            ("Treatment", str(self.treatment)),
            ("Outcome", str(self.outcome)),
            ("Design", self.design),
            ("Adjustment set", "{" + ", ".join(self.adjustment_set) + "}"),
            ("Identified by", how),
            ("Estimates", str(len(comparison))),
        )
        title = f"deconfound: the effect of {self.treatment!r} on {self.outcome!r}"
        return Summary(title, header, inner.tables, inner.messages, lead=inner.lead)

    def report(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        methods: Iterable[str] | None = None,
        title: str | None = None,
        seed: Any = None,
        truth: float | None = None,
    ) -> str:
        """The HTML report of this model (every applicable estimate, diagnostics, robustness checks).

        Writes it to ``path`` and returns the path, or returns the HTML itself when ``path`` is None."""
        from .report import render_report, write_report

        chosen = None if methods is None else as_name_list(methods, "methods")
        if path is None:
            return render_report(self, methods=chosen, title=title, seed=seed, truth=truth)
        return str(write_report(self, path, methods=chosen, title=title, seed=seed, truth=truth))

    def draw(self, *, ax: Any = None, title: str | None = None) -> Any:
        """The model's graph (or the one its covariates imply), treatment and outcome highlighted."""
        from .plots.dag import dag_plot

        try:
            plan: AdjustmentPlan | None = self._plan()
        except IdentificationError:
            plan = None  # nothing to adjust for: draw the graph without a chosen set
        graph = self.graph_
        if graph is None:
            assert plan is not None and plan.identification is not None
            changing = self.changing_covariates()
            graph = _implied_graph(self.treatment, self.outcome, plan.covariates, self.design, changing)
        return dag_plot(
            graph,
            treatment=self.treatment,
            outcome=self.outcome,
            observed=[str(c) for c in self.frame_.columns],
            covariates=None if plan is None else plan.covariates,
            ax=ax,
            title=title,
        )

    def changing_covariates(self) -> list[str]:
        """Covariates of a panel (no graph given) that change over time within some unit: the treatment or
        the passing of time may move them (the article's Quality_of_Care), so they are not assumed to be
        confounders when the model's graph is drawn, and the report says so."""
        if self.graph is not None or self.design != "panel" or self.unit is None:
            return []
        self._setup()
        try:
            covariates = list(self._plan().covariates)
        except IdentificationError:
            return []
        groups = self.frame_.groupby(self.unit, sort=False)
        return [c for c in covariates if bool((groups[c].nunique(dropna=True) > 1).any())]

    def _derived(self, data: Any, **changes: Any) -> CausalModel:
        """The same question on other ``data`` (e.g. with a permuted treatment), roles overridden by ``changes``."""
        options = {name: getattr(self, name) for name in _OPTIONS}
        options.update(changes)
        return CausalModel(data, self.treatment, self.outcome, **options)

    def _repr_html_(self) -> str:
        """A compact card for Jupyter: the question, the design and (when it can be found) the adjustment set."""
        import html

        rows = [
            ("Treatment", self.treatment),
            ("Outcome", self.outcome),
            ("Design", self.design),
            (
                "Graph",
                "none (covariates assumed to be confounders)" if self.graph is None else str(as_graph(self.graph)),
            ),
        ]
        try:
            rows.append(("Adjustment set", "{" + ", ".join(self.adjustment_set) + "}"))
            rows.append(("Applicable methods", ", ".join(self.applicable_methods())))
        except DeconfoundError as exc:  # a model that cannot be set up still renders, saying why
            rows.append(("Problem", str(exc)))
        body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
        return f"<div class='deconfound-model'><b>CausalModel</b><table>{body}</table></div>"

    def __repr__(self) -> str:
        graph = "" if self.graph is None else f", graph={str(as_graph(self.graph))!r}"
        cov = "" if self.covariates is None else f", covariates={self.covariates!r}"
        return (
            f"CausalModel(treatment={self.treatment!r}, outcome={self.outcome!r}{graph}{cov}, design={self.design!r})"
        )


def _check_option_names(method: str, params: Mapping[str, Any], options: Mapping[str, Any]) -> None:
    for name in options:
        if name in _MODEL_ROLES or name in ("data", "randomized", "treated_level"):
            raise SpecificationError(
                f"{name}= is part of the model's question; set it on CausalModel(...) instead of estimate()."
            )
        if name not in params:
            allowed = [p for p in params if p not in (*_MODEL_ROLES, "data", "formula", "randomized")]
            close = difflib.get_close_matches(str(name), allowed, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise SpecificationError(f"method {method!r} has no option {name!r}.{hint} Its options are {allowed}.")
