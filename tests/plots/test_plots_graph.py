"""The DAG drawing (layout, roles, styles, Jupyter reprs) and the forest plot."""

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt

import deconfound as dc
from deconfound.graph import as_graph
from deconfound.plots.dag import COLORS, dag_plot, layered_layout, node_roles
from deconfound.plots.forest import forest_plot
from deconfound.verdict import decimals_for

ARTICLE = "I.H -> Drug; I.H -> Severity; Drug -> Severity"


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_layout_is_left_to_right_with_treatment_and_outcome_on_the_middle_row():
    pos = layered_layout(ARTICLE, treatment="Drug", outcome="Severity")
    assert pos["I.H"][0] < pos["Drug"][0] < pos["Severity"][0]
    assert pos["Drug"][1] == pos["Severity"][1] == 0.0
    assert pos["I.H"][1] != 0.0
    g = as_graph("Z1 -> Z3; Z2 -> Z3; Z1 -> X; Z3 -> X; Z3 -> Y; Z2 -> Y; X -> W -> Y")
    pos = layered_layout(g, treatment="X", outcome="Y")
    for a, b in g.edges:
        assert pos[a][0] < pos[b][0], (a, b)
    assert len(set(pos.values())) == len(pos)  # no two nodes on one spot


def test_roles():
    g = as_graph("C -> T; C -> Y; T -> M -> Y; U -> T; U -> Y; Z -> T")
    roles = node_roles(g, "T", "Y", observed=["C", "T", "M", "Y", "Z"])
    assert roles == {
        "C": "confounder",
        "T": "treatment",
        "Y": "outcome",
        "M": "mediator",
        "U": "unobserved",
        "Z": "other",
    }


def test_dag_plot_styles():
    g = as_graph("C -> T; C -> Y; T -> Y; U -> T; U -> Y; T <-> M; M -> Y")
    fig = dag_plot(g, treatment="T", outcome="Y", observed=["C", "T", "Y", "M"], covariates=["C"], title="t")
    ax = fig.axes[0]
    boxes = {t.get_text(): t.get_bbox_patch() for t in ax.texts}
    assert set(boxes) == {"C", "T", "Y", "U", "M"}
    assert matplotlib.colors.to_hex(boxes["T"].get_facecolor()) == COLORS["treatment"].lower()
    assert matplotlib.colors.to_hex(boxes["Y"].get_facecolor()) == COLORS["outcome"].lower()
    assert matplotlib.colors.to_hex(boxes["C"].get_facecolor()) == COLORS["confounder"].lower()
    assert boxes["U"].get_linestyle() == "--" and boxes["C"].get_linestyle() == "-"
    assert boxes["C"].get_linewidth() > boxes["T"].get_linewidth()  # adjusted for
    arrows = ax.patches
    assert len(arrows) == len(g.edges) + len(g.bidirected)
    assert sum(a.get_linestyle() == "--" for a in arrows) == 3  # two from U, one <->
    assert ax.get_title() == "t"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "unobserved" in legend and "adjusted for" in legend


def test_jupyter_reprs_and_files(tmp_path):
    g = as_graph(ARTICLE)
    assert g._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in g._repr_svg_()
    fig = g.draw(treatment="Drug", outcome="Severity")
    for name in ("dag.png", "dag.svg"):
        fig.savefig(tmp_path / name)
        assert (tmp_path / name).stat().st_size > 1000
    with pytest.raises(dc.SpecificationError, match="node 'drug' is not a node of the graph"):
        g.draw(treatment="drug")


def test_forest_plot(heart):
    with pytest.warns(dc.DiagnosticWarning, match="randomly assigned"):
        naive = dc.difference_in_means(heart, outcome="Severity", treatment="Drug")
    fit = dc.ols(heart, outcome="Severity", treatment="Drug", covariates=["I.H"])
    comparison = dc.compare(naive, fit)
    fig = comparison.plot(truth=-10.0, title="article")
    ax = fig.axes[0]
    rows = {t.get_text(): y for t, y in zip(ax.get_yticklabels(), ax.get_yticks())}
    # first on top; the comparison's verdict marks each row (the naive difference carries a warning)
    assert rows == {"Difference in means (caution)": 1, "Regression adjustment (OLS) (recommended)": 0}
    numbers = [t.get_text() for t in ax.texts]
    lo, hi = fit.ci()
    d = decimals_for(fit.std_error)  # rounded by the recommended standard error
    assert f"{fit.estimate:.{d}f} [{lo:.{d}f}, {hi:.{d}f}]" in numbers
    plain = forest_plot([naive, fit]).axes[0]  # estimates without a verdict: warnings marked (!)
    assert [t.get_text() for t in plain.get_yticklabels()] == ["Difference in means (!)", "Regression adjustment (OLS)"]
    assert any(line.get_xdata()[0] == -10.0 for line in ax.get_lines())
    narrow = forest_plot(fit, level=0.5).axes[0]
    segment = narrow.get_lines()[0].get_xdata()
    assert segment[1] - segment[0] == pytest.approx(fit.ci(0.5)[1] - fit.ci(0.5)[0])
    with pytest.raises(dc.SpecificationError, match="takes Estimate objects"):
        forest_plot([1.0])
    with pytest.raises(dc.SpecificationError, match="at least one estimate"):
        forest_plot([])


def test_forest_plot_shows_the_verdict(heart):
    import warnings

    from deconfound.verdict import verdict

    model = dc.CausalModel(heart, "Drug", "Severity", graph="I.H -> Drug; I.H -> Severity; Drug -> Severity")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        comparison = model.compare(methods=["naive", "ols", "lin", "ipw"])
    found = verdict(comparison, confounders=["I.H"], estimand="ATE")
    ax = forest_plot(comparison, verdict=found).axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert "Lin interacted regression (recommended)" in labels
    assert "Inverse probability weighting (Hajek) (set aside)" in labels
    assert "Difference in means (set aside)" in labels
    assert "Regression adjustment (OLS)" in labels  # supported: no tag
    texts = [t.get_text() for t in ax.texts]
    assert "-9.9 [-10.6, -9.2]" in texts  # rounded by the recommended standard error
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["supported", "set aside", "recommended"]
