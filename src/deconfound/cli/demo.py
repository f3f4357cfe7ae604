"""``deconfound demo``: the article's analysis step by step, each of our numbers beside the article's.

Every number in the "ours" column is computed by the library's public functions on the article's
generated data; the "article" column holds the values printed in the article. A step whose numbers
disagree at the article's printed precision makes the command exit with status 1.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Row:
    section: str
    quantity: str
    ours: float | str
    article: float | str | None
    decimals: int = 2

    @property
    def matches(self) -> bool | None:
        if self.article is None:
            return None
        if isinstance(self.article, str) or isinstance(self.ours, str):
            return str(self.ours) == str(self.article)
        return round(float(self.ours), self.decimals) == round(float(self.article), self.decimals)


STEPS: list[Callable[[], list[Row]]] = []


def step(fn: Callable[[], list[Row]]) -> Callable[[], list[Row]]:
    STEPS.append(fn)
    return fn


def _quiet(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


@step
def _data() -> list[Row]:
    from ..datasets import heart_attack

    df = heart_attack()
    return [
        Row("2 data", "rows", len(df), 1000, 0),
        Row("2 data", "I.H of patient 0", df.loc[0, "I.H"], 57.450712, 6),
        Row("2 data", "Severity of patient 0", df.loc[0, "Severity"], 50.159596, 6),
        Row("2 data", "I.H of patient 74", df.loc[74, "I.H"], 10.703823, 6),
    ]


@step
def _naive() -> list[Row]:
    from ..datasets import heart_attack
    from ..estimators.means import difference_in_means

    r = _quiet(difference_in_means, heart_attack(), outcome="Severity", treatment="Drug")
    return [
        Row("3 naive", "mean severity, untreated", r.diagnostics["mean_control"], 48.67),
        Row("3 naive", "mean severity, treated", r.diagnostics["mean_treated"], 52.14),
        Row("3 naive", "difference in means (biased)", r.estimate, 3.47),
    ]


FIGURE_1 = "I.H -> Drug; I.H -> Severity; Drug -> Severity"


@step
def _dag() -> list[Row]:
    from ..graph.identification import identify

    ident = identify(FIGURE_1, treatment="Drug", outcome="Severity")
    return [
        Row("5 DAG", "backdoor path in Figure 1", ident.backdoor_paths[0].text, None),
        Row("5 DAG", "confounder to adjust for", ", ".join(ident.adjustment_set or ()), "I.H"),
    ]


@step
def _regression() -> list[Row]:
    from ..datasets import heart_attack
    from ..estimators.regression import ols

    r = _quiet(ols, heart_attack(), "Severity ~ Drug + Q('I.H')", treatment="Drug")
    c = r.coefficients
    assert c is not None
    return [
        Row("6 regression", "const", c.coef[c.index("Intercept")], 9.1574, 4),
        Row("6 regression", "Drug (the effect)", r.estimate, -9.8877, 4),
        Row("6 regression", "Drug std err", r.std_error, 0.353, 3),
        Row("6 regression", "I.H", c.coef[c.index("I.H")], 0.9171, 4),
        Row("6 regression", "R-squared", c.stats["r_squared"], 0.856, 3),
        Row("6 regression", "F-statistic", c.stats["f_statistic"], 2965.0, 0),
        Row("6 regression", "condition number", c.stats["cond_no"], 195.0, 0),
    ]


@step
def _matching() -> list[Row]:
    from ..datasets import heart_attack
    from ..estimators.matching import matching
    from ..estimators.propensity import propensity_scores

    df = heart_attack()
    # the article's procedure: scikit-learn's default LogisticRegression on I.H, 1:1 nearest neighbour on
    # the score with replacement, treated minus matched controls (the article calls it the ATE)
    scores = propensity_scores(df, treatment="Drug", covariates=["I.H"], propensity_model="sklearn-logistic")
    article = {262: 0.011246, 646: 0.023370, 668: 0.024845, 74: 0.025900}
    rows = [
        Row("7 matching", f"propensity of patient {patient}", scores.loc[patient, "propensity_score"], value, 6)
        for patient, value in article.items()
    ]
    r = _quiet(
        matching, df, outcome="Severity", treatment="Drug", covariates=["I.H"], propensity_model="sklearn-logistic"
    )
    ours = _quiet(matching, df, outcome="Severity", treatment="Drug", covariates=["I.H"])
    rows += [
        Row("7 matching", "matched ATE (article's procedure)", r.estimate, -10.16),
        Row("7 matching", "its standard error (Abadie-Imbens)", r.std_error, None),
        Row("7 matching", "same, unpenalized logistic score", ours.estimate, None),
        Row("7 matching", "treated without a match", r.diagnostics["n_unmatched"], None, 0),
    ]
    return rows


@step
def _did_ice_cream() -> list[Row]:
    from ..datasets import ice_cream
    from ..estimators.did import did

    r = _quiet(did, ice_cream(), outcome="sales", treated="treated", post="post")
    return [
        Row("8 DiD", "ice cream: store A change (heat wave)", r.diagnostics["treated_change"], 300.0, 0),
        Row("8 DiD", "ice cream: store B change (control)", r.diagnostics["control_change"], 100.0, 0),
        Row("8 DiD", "ice cream: difference-in-differences", r.estimate, 200.0, 0),
    ]


@step
def _did_trap() -> list[Row]:
    from ..datasets import heart_attack_panel
    from ..errors import CollinearityError
    from ..estimators.regression import ols

    try:
        _quiet(ols, heart_attack_panel(), "Severity ~ Drug * Post + Quality_of_Care", treatment="Drug:Post")
    except CollinearityError as exc:
        return [Row("8 DiD trap", "Quality_of_Care vs Drug:Post", f"refused: {', '.join(exc.dependent)}", None)]
    return [Row("8 DiD trap", "Quality_of_Care vs Drug:Post", "not detected", "refused")]


@step
def _did_trap_caught() -> list[Row]:
    import re

    from ..datasets import heart_attack_panel
    from ..estimators.did import did

    rows = []
    for label, noise in (("exact", 0.0), ("noisy", 0.05)):
        data = heart_attack_panel(quality_noise=noise)
        r = _quiet(
            did, data, outcome="Severity", treated="Drug", post="Post", covariates=["Quality_of_Care"], unit="patient"
        )
        named = sorted({m for w in r.warnings for m in re.findall(r"covariate '([^']+)'", w)})
        cond = r.diagnostics["condition_number"]
        rows.append(Row("8 DiD trap", f"did() {label}: warned about", ", ".join(named) or "nothing", None))
        rows.append(Row("8 DiD trap", f"did() {label}: condition number", f"{cond:.3g}", None))
    return rows


def collect() -> list[Row]:
    rows: list[Row] = []
    for fn in STEPS:
        rows.extend(fn())
    return rows


def _format(rows: list[Row]) -> str:
    lines = [f"{'section':<14} {'quantity':<34} {'ours':>14} {'article':>12}  match", "-" * 84]
    for r in rows:
        ours = r.ours if isinstance(r.ours, str) else f"{float(r.ours):.{r.decimals}f}"
        art = "" if r.article is None else (r.article if isinstance(r.article, str) else f"{r.article:.{r.decimals}f}")
        mark = {True: "yes", False: "NO", None: ""}[r.matches]
        if isinstance(r.ours, str) and len(ours) > 14:
            lines.append(f"{r.section:<14} {r.quantity:<34} {'':>14} {art:>12}  {mark}")
            lines.append(f"{'':<14} -> {ours}")
        else:
            lines.append(f"{r.section:<14} {r.quantity:<34} {ours:>14} {art:>12}  {mark}")
    return "\n".join(lines)


def article_analyses() -> list[Any]:
    """The article's questions as report analyses (true effect -10 in each): the cross-section with its
    DAG, then the two-period panel by difference-in-differences, with the article's time-varying
    control Quality_of_Care (the trap: it is collinear with the treatment, so the report says it cannot
    be estimated) and without it."""
    from ..datasets import heart_attack, heart_attack_panel
    from ..model import CausalModel
    from ..report import Analysis

    cross = CausalModel(heart_attack(), "Drug", "Severity", graph=FIGURE_1)
    panel = heart_attack_panel()
    panel["Drug_x_Post"] = panel["Drug"] * panel["Post"]
    roles: dict[str, Any] = {"design": "panel", "unit": "patient", "time": "Post"}
    methods = ["twfe", "first-difference"]
    trap = CausalModel(panel, "Drug_x_Post", "Severity", covariates=["Quality_of_Care"], **roles)
    clean = CausalModel(panel, "Drug_x_Post", "Severity", **roles)
    return [
        Analysis(cross, title="Heart attacks", truth=-10.0),
        Analysis(trap, title="DiD with Quality_of_Care (the article's trap)", methods=methods, truth=-10.0),
        Analysis(clean, title="DiD without the bad control", truth=-10.0),
    ]


def _write_report(out: Path, quiet: bool) -> Path:
    from .._core.progress import progress_for
    from ..report import write_report

    with progress_for(quiet) as progress, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return write_report(
            article_analyses(),
            out / "report.html",
            argument="--output",
            title="Causal ML for the Aspiring Data Scientist: the whole analysis",
            seed=42,
            command="deconfound demo --output " + str(out),
            progress=progress,
        )


def _write_figures(out: Path) -> None:
    """Figure 1 (the DAG) and a forest plot of every estimator the model runs on the article's data."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .._core.paths import save_figure
    from ..datasets import heart_attack
    from ..model import CausalModel

    model = CausalModel(heart_attack(), "Drug", "Severity", graph=FIGURE_1)
    fig = model.draw(title="Figure 1: Initial Health (I.H) confounds Drug and Severity")
    save_figure(fig, out / "figure1_dag.png", "--output", bbox_inches="tight", dpi=120)
    comparison = _quiet(model.compare)
    fig = comparison.plot(truth=-10.0, title="The article's estimates (true effect -10)")
    save_figure(fig, out / "estimates_forest.png", "--output", bbox_inches="tight", dpi=120)
    plt.close("all")


def run_demo(as_json: bool = False, output: str | None = None, quiet: bool = False) -> int:
    from .._core.paths import output_dir, write_text

    out = output_dir(output, "--output") if output else None  # checked before the work
    rows = collect()
    payload = [{**asdict(r), "matches": r.matches} for r in rows]
    text = _format(rows)
    if out is not None:
        write_text(out / "walkthrough.txt", text + "\n", "--output")
        write_text(out / "walkthrough.json", json.dumps(payload, indent=2), "--output")
        _write_figures(out)
        report = _write_report(out, quiet)
    print(json.dumps(payload, indent=2) if as_json else text)
    if output and not as_json:
        print(f"\nReport of the whole analysis: {report}")
    return 1 if any(r.matches is False for r in rows) else 0
