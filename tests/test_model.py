"""CausalModel: identify -> estimate -> compare, the estimator registry, and bad-control warnings."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

import deconfound as dc
from deconfound.model import ESTIMATORS, CausalModel, MethodSpec

ARTICLE_GRAPH = "I.H -> Drug; I.H -> Severity; Drug -> Severity"
# the article's published numbers (sections 3, 6 and 7); matching joins when its family is registered
ARTICLE_NUMBERS = {"naive": 3.47, "ols": -9.89, "psm": -10.16}


@pytest.fixture
def article_model(heart):
    return CausalModel(heart, "Drug", "Severity", graph=ARTICLE_GRAPH)


def test_identify_gives_the_confounder(article_model):
    ident = article_model.identify()
    assert ident.adjustment_set == ("I.H",)
    assert article_model.adjustment_set == ("I.H",)
    assert article_model.identification_ is ident


def test_article_narrative_in_one_call(article_model):
    applicable = article_model.applicable_methods()
    assert applicable[:3] == ["naive", "ols", "lin"]
    assert set(applicable) <= set(ESTIMATORS)
    with pytest.warns(dc.DeconfoundWarning) as caught:
        comparison = article_model.compare()
    messages = [str(w.message) for w in caught]
    assert any("randomly assigned" in m for m in messages)  # the naive estimate
    assert any("remain imbalanced" in m for m in messages)  # IPW with a misspecified logistic score
    assert [e.method for e in comparison] == applicable
    by_id = dict(zip(applicable, comparison))
    for method, published in ARTICLE_NUMBERS.items():
        assert round(by_id[method].estimate, 2) == published, method
    assert comparison["ols"].std_error == pytest.approx(0.353, abs=5e-4)
    for est in comparison:
        assert not [w for w in est.warnings if "bad control" in w or "collider" in w]
    assert all("identified from the graph" in " ".join(e.notes) for e in comparison if e.method != "naive")


def test_model_matches_statsmodels(heart, article_model):
    ours = article_model.estimate("ols", cov_type="HC1")
    ref = smf.ols("Severity ~ Drug + Q('I.H')", data=heart).fit(cov_type="HC1")
    assert ours.estimate == pytest.approx(ref.params["Drug"], rel=1e-10)
    assert ours.std_error == pytest.approx(ref.bse["Drug"], rel=1e-10)
    lin = article_model.estimate("lin")
    centered = heart.assign(ih_c=heart["I.H"] - heart["I.H"].mean())
    ref_lin = smf.ols("Severity ~ Drug * ih_c", data=centered).fit(cov_type="HC2")
    assert lin.estimate == pytest.approx(ref_lin.params["Drug"], rel=1e-10)
    assert lin.std_error == pytest.approx(ref_lin.bse["Drug"], rel=1e-10)


def test_estimators_still_work_alone(heart, article_model):
    alone = dc.ols(heart, outcome="Severity", treatment="Drug", covariates=["I.H"])
    assert article_model.estimate("ols").estimate == alone.estimate


def test_collider_dataset_warns_and_is_biased_identified_set_recovers_truth():
    df = dc.datasets.simulate_collider(n=4000, random_state=5)
    truth = df.attrs["ate"]
    model = CausalModel(df, "treatment", "outcome", graph=df.attrs["graph"])
    assert model.identify().adjustment_set == ("X",)
    good = model.estimate("ols")
    assert good.warnings == ()
    assert abs(good.estimate - truth) < 3 * good.std_error
    with pytest.warns(dc.BadControlWarning, match=r"'C' is a collider on the path treatment -> C <- outcome"):
        bad = model.estimate("ols", covariates=["X", "C"])
    assert any("'C' is a collider" in w for w in bad.warnings)
    assert abs(bad.estimate - truth) > 10 * bad.std_error
    with pytest.warns(dc.BadControlWarning, match="'C' is a collider"):
        also_bad = CausalModel(df, "treatment", "outcome", graph=df.attrs["graph"], covariates=["X", "C"]).estimate(
            "lin"
        )
    assert also_bad.estimate == pytest.approx(
        dc.lin(df, outcome="outcome", treatment="treatment", covariates=["X", "C"]).estimate
    )


def test_m_bias_dataset():
    df = dc.datasets.simulate_m_bias(n=20000, random_state=3)
    model = CausalModel(df, "treatment", "outcome", graph=df.attrs["graph"])
    assert model.adjustment_set == ()
    unadjusted = model.estimate("ols")
    assert abs(unadjusted.estimate - df.attrs["ate"]) < 3 * unadjusted.std_error
    with pytest.warns(dc.BadControlWarning, match=r"'C' is a collider on the path treatment <- A -> C <- B -> outcome"):
        biased = model.estimate("ols", covariates=["C"])
    assert abs(biased.estimate - df.attrs["ate"]) > 5 * biased.std_error
    fine = model.estimate("ols", covariates=["C", "B"])
    assert fine.warnings == () and abs(fine.estimate - df.attrs["ate"]) < 3 * fine.std_error


@pytest.mark.parametrize(
    ("extra", "covariates", "pattern"),
    [
        ("Drug -> M -> Severity", ["I.H", "M"], r"'M' is a mediator \(on the causal path Drug -> M -> Severity\)"),
        ("Drug -> D", ["I.H", "D"], r"'D' is affected by the treatment 'Drug'"),
        ("Z -> Drug", ["I.H", "Z"], r"'Z' affects 'Severity' only through 'Drug' \(a pure cause of the treatment"),
        ("", [], r"leaves the backdoor path Drug <- I\.H -> Severity open"),
    ],
)
def test_bad_controls_through_the_model(heart, extra, covariates, pattern):
    rng = np.random.default_rng(0)
    data = heart.assign(M=heart["Drug"] + rng.normal(size=len(heart)), D=rng.normal(size=len(heart)))
    data["Z"] = rng.normal(size=len(heart))
    model = CausalModel(data, "Drug", "Severity", graph=f"{ARTICLE_GRAPH}; {extra}")
    with pytest.warns(dc.BadControlWarning, match=pattern) as record:
        result = model.estimate("ols", covariates=covariates)
    assert [str(w.message) for w in record] == list(result.warnings)


def test_not_identifiable_raises_with_explanation(heart):
    model = CausalModel(heart, "Drug", "Severity", graph="U -> Drug; U -> Severity; Drug -> Severity; I.H -> Drug")
    with pytest.raises(dc.IdentificationError, match=r"not identifiable by adjustment.*Drug <- U -> Severity"):
        model.estimate("ols")
    assert not model.identify().identifiable
    expected = r"'I\.H' affects 'Severity' only through 'Drug'|leaves the backdoor path Drug <- U -> Severity open"
    with pytest.warns(dc.BadControlWarning, match=expected) as record:
        forced = model.estimate("ols", covariates=["I.H"])  # the user insists: it runs, with warnings
    messages = [str(w.message) for w in record]
    assert messages == list(forced.warnings)
    assert "'I.H' affects 'Severity' only through 'Drug' (a pure cause of the treatment" in messages[0]
    assert "leaves the backdoor path Drug <- U -> Severity open" in messages[1]
    assert "no set of observed variables closes it" in messages[1]
    assert forced.estimate == pytest.approx(
        dc.ols(heart, outcome="Severity", treatment="Drug", covariates=["I.H"]).estimate
    )


def test_no_graph_uses_covariates_as_confounders(heart):
    model = CausalModel(heart, "Drug", "Severity", covariates=["I.H"])
    assert model.identify().adjustment_set == ("I.H",)
    result = model.estimate("ols")
    assert round(result.estimate, 2) == -9.89
    assert any("assumed to be a confounder" in n for n in result.notes)


def test_rct_design_cuts_arrows_and_declares_randomization():
    df = dc.datasets.simulate_rct(n=400, random_state=1)
    model = CausalModel(
        df, "treatment", "outcome", graph="x0 -> treatment; x0 -> outcome; treatment -> outcome", design="rct"
    )
    assert model.adjustment_set == ()
    naive = model.estimate("naive")  # randomized=True: no "randomly assigned" warning
    assert naive.warnings == ()
    lin = CausalModel(df, "treatment", "outcome", covariates=["x0", "x1"], design="RCT").estimate("lin")
    assert lin.estimate == pytest.approx(
        dc.lin(df, outcome="outcome", treatment="treatment", covariates=["x0", "x1"]).estimate
    )


def test_registry_extension_and_applicability(heart, monkeypatch):
    panel = dc.datasets.heart_attack_panel(n=200)
    monkeypatch.setitem(
        ESTIMATORS,
        "pooled",
        MethodSpec("deconfound.estimators.regression:ols", "Pooled OLS", designs=("panel",), needs=("unit",)),
    )
    model = CausalModel(
        panel, "Drug", "Severity", covariates=["Post"], design="panel", unit="patient", time="Post", cluster="patient"
    )
    methods = model.applicable_methods()
    assert methods[-1] == "pooled"  # registry order: the new entry comes last
    assert {"twfe", "staggered", "first-difference"} <= set(methods)
    assert not {"naive", "ols", "lin"} & set(methods)  # cross-section methods do not apply to a panel
    result = model.estimate("pooled")
    ref = dc.ols(panel, outcome="Severity", treatment="Drug", covariates=["Post"], cluster="patient")
    assert result.estimate == ref.estimate and result.std_error == ref.std_error
    with pytest.raises(
        dc.SpecificationError, match=r"method 'naive' does not apply to this model: it is for cross-section, rct"
    ):
        model.estimate("naive")
    dose = heart.assign(Dose=np.arange(len(heart)) % 3)
    dose_model = CausalModel(dose, "Dose", "Severity", covariates=["I.H"])
    assert dose_model.applicable_methods() == ["ols"]  # double ML (PLR) takes a dose, from 2,000 rows on
    assert "from 2,000 rows on" in dose_model.not_applicable()["dml"]
    with pytest.raises(dc.SpecificationError, match=r"'lin' does not apply.*two-level treatment"):
        dose_model.estimate("lin")


def test_bad_questions_are_refused(heart, article_model):
    with pytest.raises(dc.SpecificationError, match=r"method='olss' is not allowed.*Did you mean 'ols'"):
        article_model.estimate("olss")
    with pytest.raises(dc.SpecificationError, match=r"method 'ols' has no option 'cov'"):
        article_model.estimate("ols", cov="HC1")
    with pytest.raises(dc.SpecificationError, match=r"outcome= is part of the model's question"):
        article_model.estimate("ols", outcome="I.H")
    with pytest.raises(dc.SpecificationError, match=r"design='observational' is not allowed"):
        CausalModel(heart, "Drug", "Severity", design="observational").identify()
    with pytest.raises(dc.SpecificationError, match=r"design='panel' needs unit= and time="):
        CausalModel(heart, "Drug", "Severity", design="panel").identify()
    with pytest.raises(dc.DataError, match=r"treatment 'drug' is not a column of the data\. Did you mean 'Drug'"):
        CausalModel(heart, "drug", "Severity").identify()
    with pytest.raises(
        dc.SpecificationError, match=r"outcome 'Severity' is not a node of the graph\. Nodes: 'I\.H', 'Drug', 'Sev'"
    ):
        CausalModel(heart, "Drug", "Severity", graph="I.H -> Drug; Drug -> Sev").identify()
    with pytest.raises(dc.SpecificationError, match=r"treatment and outcome are the same column 'Drug'"):
        CausalModel(heart, "Drug", "Drug").identify()
    with pytest.raises(dc.SpecificationError, match=r"the treatment 'Drug' cannot be one of the covariates"):
        CausalModel(heart, "Drug", "Severity", covariates=["I.H", "Drug"]).estimate("ols")
    with pytest.raises(dc.SpecificationError, match=r"the graph text is empty"):
        CausalModel(heart, "Drug", "Severity", graph=" ").identify()
    with pytest.raises(dc.SpecificationError, match=r"The graph has a cycle: "):
        CausalModel(heart, "Drug", "Severity", graph="I.H -> Drug -> Severity -> I.H").identify()
    with pytest.warns(dc.DataWarning, match=r"graph node 'IH' is not a column.*did you mean the column 'I\.H'"):
        model = CausalModel(heart, "Drug", "Severity", graph="IH -> Drug; IH -> Severity; Drug -> Severity")
        assert not model.identify().identifiable


def test_model_draws_its_graph(article_model):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = article_model.draw(title="Figure 1")
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert {"I.H", "Drug", "Severity"} <= texts
    plt.close(fig)


def test_input_frame_not_modified(heart):
    before = heart.copy()
    CausalModel(heart, "Drug", "Severity", graph=ARTICLE_GRAPH).estimate("lin")
    pd.testing.assert_frame_equal(heart, before)


@pytest.mark.slow
def test_identified_set_covers_the_truth_and_the_collider_does_not():
    """500 simulated datasets: adjusting for the identified set {X} gives 95% intervals that cover the
    true effect about 95% of the time; adding the collider C almost never covers it."""
    graph = dc.datasets.simulate_collider(n=10).attrs["graph"]
    chosen = list(dc.identify(graph, treatment="treatment", outcome="outcome").adjustment_set)
    assert chosen == ["X"]
    good = bad = 0
    reps = 500
    for seed in range(reps):
        df = dc.datasets.simulate_collider(n=300, random_state=seed)
        truth = df.attrs["ate"]
        lo, hi = dc.ols(df, outcome="outcome", treatment="treatment", covariates=chosen).ci()
        good += lo <= truth <= hi
        lo, hi = dc.ols(df, outcome="outcome", treatment="treatment", covariates=[*chosen, "C"]).ci()
        bad += lo <= truth <= hi
    assert 0.93 <= good / reps <= 0.97
    assert bad / reps < 0.05
