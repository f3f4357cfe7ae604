"""The command line for the panel methods: did, twfe, event-study, staggered, panel, and the plot."""

import json

import pytest

import deconfound as dc
from deconfound.cli import main


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("panel")
    paths = {
        "panel": root / "panel.csv",
        "ice": root / "ice.csv",
    }
    dc.datasets.simulate_panel(n_units=200, dynamic=0.2, random_state=1).to_csv(paths["panel"], index=False)
    dc.datasets.ice_cream().to_csv(paths["ice"], index=False)
    return paths


def _json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


PANEL = ["--outcome", "y", "--unit", "unit", "--time", "time"]


def test_did_from_the_command_line(files, capsys):
    out = _json(
        capsys,
        [
            "estimate",
            str(files["ice"]),
            "--method",
            "did",
            "--outcome",
            "sales",
            "--treated",
            "treated",
            "--post",
            "post",
            "--json",
        ],
    )
    assert out["estimate"] == 200.0 and out["std_error"] is None
    assert out["diagnostics"]["treated_change"] == 300.0


def test_event_study_json_lists_event_times(files, capsys):
    out = _json(
        capsys,
        [
            "estimate",
            str(files["panel"]),
            "--method",
            "event-study",
            *PANEL,
            "--first-treated",
            "first_treated",
            "--window",
            "-3,3",
            "--ref-period",
            "-1",
            "--json",
        ],
    )
    times = [c["event_time"] for c in out["coefficients"]]
    assert times == [-3.0, -2.0, 0.0, 1.0, 2.0, 3.0]
    assert all({"event_time", "estimate", "std_error"} <= set(c) for c in out["coefficients"])
    assert out["diagnostics"]["pretrend_test"]["applicable"] is True
    assert set(out) >= set(dc.results.JSON_KEYS)


def test_sun_abraham_and_staggered(files, capsys):
    out = _json(
        capsys,
        [
            "estimate",
            str(files["panel"]),
            "--method",
            "event-study",
            *PANEL,
            "--treatment",
            "treated",
            "--estimator",
            "sun-abraham",
            "--json",
        ],
    )
    assert out["diagnostics"]["cohort_effects"]
    out = _json(
        capsys,
        [
            "estimate",
            str(files["panel"]),
            "--method",
            "staggered",
            *PANEL,
            "--first-treated",
            "first_treated",
            "--control-group",
            "not-yet",
            "--aggregate",
            "event",
            "--n-boot",
            "199",
            "--random-state",
            "3",
            "--json",
        ],
    )
    assert out["coefficients"][0].keys() >= {"group", "time", "event_time", "estimate", "std_error"}
    assert [r["event_time"] for r in out["diagnostics"]["aggregation"]][:2] == [-6.0, -5.0]
    assert out["diagnostics"]["bootstrap"]["n_boot"] == 199


def test_twfe_and_panel(files, capsys):
    out = _json(
        capsys, ["estimate", str(files["panel"]), "--method", "twfe", *PANEL, "--treatment", "treated", "--json"]
    )
    assert out["method"] == "twfe" and any("different times" in w for w in out["warnings"])
    assert out["diagnostics"]["bacon"]
    out = _json(
        capsys,
        [
            "estimate",
            str(files["panel"]),
            "--method",
            "panel",
            *PANEL,
            "--treatment",
            "treated",
            "--panel-model",
            "first-difference",
            "--json",
        ],
    )
    assert out["method"] == "panel"


def test_missing_role_is_an_error(files, capsys):
    assert main(["estimate", str(files["panel"]), "--method", "staggered", *PANEL]) == 2
    assert "needs --first-treated G or --treatment D" in capsys.readouterr().err
    assert main(["estimate", str(files["panel"]), "--method", "twfe", "--outcome", "y", "--treatment", "treated"]) == 2
    assert "--unit is required for --method twfe" in capsys.readouterr().err


def test_plot_event_study(files, tmp_path, capsys):
    out = tmp_path / "es.png"
    assert (
        main(
            [
                "plot",
                "event-study",
                str(files["panel"]),
                *PANEL,
                "--first-treated",
                "first_treated",
                "-o",
                str(out),
                "-q",
            ]
        )
        == 0
    )
    assert out.stat().st_size > 5000
    out2 = tmp_path / "cs.svg"
    assert (
        main(
            [
                "plot",
                "event-study",
                str(files["panel"]),
                "--method",
                "staggered",
                *PANEL,
                "--first-treated",
                "first_treated",
                "-o",
                str(out2),
                "-q",
            ]
        )
        == 0
    )
    assert out2.read_text().startswith("<?xml")


def test_plot_function_reads_results_only():
    from deconfound.plots.event_study import plot_event_study

    df = dc.datasets.simulate_panel(n_units=200, random_state=1)
    r = dc.event_study(df, outcome="y", unit="unit", time="time", treatment="treated", window=(-2, 2))
    fig = plot_event_study(r, level=0.9)
    ax = fig.axes[0]
    assert "90% confidence intervals" in ax.get_title()
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[0] == "\u2264-2" and labels[-1] == "\u22652"
    with pytest.raises(dc.SpecificationError, match="no event-study table"):
        with pytest.warns(dc.DiagnosticWarning, match="table of four means has no standard error"):
            from_means = dc.did(dc.datasets.ice_cream(), outcome="sales", treated="treated", post="post")
        plot_event_study(from_means)


def test_staggered_unbalanced_and_cross_section_flags(tmp_path, capsys):
    """--allow-unbalanced-panel keeps every unit; --no-panel-data reads repeated cross-sections (no --unit)."""
    import numpy as np

    df = dc.datasets.simulate_panel(n_units=150, n_periods=6, cohorts=(3, 5), random_state=1)
    gappy = df[np.random.default_rng(0).random(len(df)) > 0.2]
    path = tmp_path / "gappy.csv"
    gappy.to_csv(path, index=False)
    base = ["estimate", str(path), "-y", "y", "--time", "time", "--first-treated", "first_treated"]
    base += ["--method", "staggered", "--json", "-q"]
    assert main([*base, "--unit", "unit", "--allow-unbalanced-panel"]) == 0
    kept = json.loads(capsys.readouterr().out)
    assert kept["n"] == len(gappy)
    direct = dc.staggered(gappy, outcome="y", unit="unit", time="time", first_treated="first_treated",
                          allow_unbalanced_panel=True)  # fmt: skip
    assert kept["estimate"] == pytest.approx(direct.estimate, rel=1e-12)
    assert main([*base, "--no-panel-data"]) == 0
    rc = json.loads(capsys.readouterr().out)
    assert rc["n"] == len(gappy) and any("repeated cross-sections" in n for n in rc["notes"])
