"""Property tests (hypothesis) of the command line: whatever the arguments and files, a command either
succeeds (exit 0; with --json, one strictly valid JSON object on stdout) or fails with exit status 2 and
one ``error:`` line on stderr; never a traceback, and each run is quick at test sizes.

The commands run in-process through ``main`` (a traceback there is an exception escaping ``main``), with
files written to a temporary folder: good and ragged CSVs, text in a numeric column, binary and empty
files, folders and missing paths, graph files that are text, binary or absent, and output paths that are
folders, under a regular file or have an unknown extension.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from deconfound.cli.app import main

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
#: a generous bound per run at test sizes (the slowest command, report, takes well under a second here)
MAX_SECONDS = 20.0


def _strict_json(text: str) -> object:
    def refuse(constant: str) -> object:
        raise AssertionError(f"--json printed the non-JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def files():
    """Every kind of input file, made once (hypothesis picks among them by name)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rng = np.random.default_rng(0)
        n = 60
        x = rng.normal(size=n)
        d = (x + rng.normal(size=n) > 0).astype(int)
        frame = pd.DataFrame({"y": 1.0 + 2.0 * d + x + rng.normal(size=n), "d": d, "x": x})
        frame["u"] = np.repeat(np.arange(n // 4), 4)
        frame["t"] = np.tile(np.arange(4), n // 4)
        frame["post"] = (frame["t"] >= 2).astype(int)
        frame["g"] = np.where(frame["u"] % 2 == 0, 2, 0)
        frame.to_csv(root / "good.csv", index=False)
        (root / "ragged.csv").write_text("y,d,x\n1,0,2\n2,1,9,9\n3,0,1\n")
        text = frame.astype(object)
        text.loc[3, "x"] = "abc"
        text.to_csv(root / "text.csv", index=False)
        (root / "binary.csv").write_bytes(bytes(range(256)) * 4)
        (root / "empty.csv").write_text("")
        (root / "header.csv").write_text("y,d,x\n")
        (root / "folder").mkdir()
        (root / "somefile.txt").write_text("x")
        (root / "graph.dot").write_text("digraph { x -> d; x -> y; d -> y }")
        (root / "graph_binary.dot").write_bytes(bytes(range(256)))
        yield root


BAD_DATA = st.sampled_from(["ragged.csv", "text.csv", "binary.csv", "empty.csv", "header.csv", "folder", "none.csv"])
#: about half the runs read the good file, so that successes (and --json) are exercised too
DATA = st.one_of(st.just("good.csv"), BAD_DATA)
NAMES = st.sampled_from(["y", "d", "x", "u", "t", "post", "g", "missing", "", "y,d", "Y", "x x", "é"])
GRAPHS = st.sampled_from(
    [
        "x -> d; x -> y; d -> y",
        "d -> y",
        "x -> d; d -> x",
        "a -> b",
        "->",
        "{{",
        "graph.dot",
        "graph_binary.dot",
        "missing.dot",
        "folder",
        "nope/graph",
        "",
    ]
)
OUTPUTS = st.one_of(
    st.sampled_from(["out.png", "out.svg", "new/out.pdf"]),
    st.sampled_from(["out.xyz", "out", "folder", "somefile.txt/out.png"]),
)
REPORT_OUTPUTS = st.one_of(
    st.sampled_from(["r.html", "new/r.html"]), st.sampled_from(["folder", "somefile.txt/r.html"])
)
NUMBERS = st.sampled_from(["-1", "0", "1", "0.5", "abc", "1e400", "nan", "-5,5", "3"])
#: each method with the roles it takes (a flag a method does not use is refused, so each gets its own)
_CROSS = ["-y", "y", "-t", "d", "-x", "x"]
_PANEL = ["-y", "y", "--unit", "u", "--time", "t"]
METHOD_ARGS = {
    **{m: _CROSS for m in ("naive", "ols", "lin", "ipw", "aipw", "ra", "overlap", "psm", "cem")},
    "did": ["-y", "y", "--treated", "d", "--post", "post"],
    "twfe": [*_PANEL, "-t", "d"],
    "panel": [*_PANEL, "-t", "d"],
    "event-study": [*_PANEL, "--first-treated", "g"],
    "staggered": [*_PANEL, "--first-treated", "g"],
    "nosuch": _CROSS,
}
ESTIMATE_METHODS = st.sampled_from(sorted(METHOD_ARGS))


def _path(root: Path, name: str) -> str:
    return str(root / name) if name else name


@st.composite
def options(draw, flags: dict[str, st.SearchStrategy[str]]) -> list[str]:
    chosen = draw(st.lists(st.sampled_from(sorted(flags)), unique=True, max_size=3))  # mostly-valid runs too
    out: list[str] = []
    for flag in chosen:
        out += [flag, draw(flags[flag])]
    return out


ESTIMATE_FLAGS = {
    "--outcome": NAMES,
    "--treatment": NAMES,
    "--covariates": NAMES,
    "--cluster": NAMES,
    "--weights": NAMES,
    "--cov-type": st.sampled_from(["HC1", "HC3", "cluster", "nonrobust", "bogus"]),
    "--level": NUMBERS,
    "--unit": NAMES,
    "--time": NAMES,
    "--treated": NAMES,
    "--post": NAMES,
    "--first-treated": NAMES,
    "--treated-level": st.sampled_from(["1", "0", "a"]),
    "--random-state": NUMBERS,
    "--missing": st.sampled_from(["drop", "raise", "sometimes"]),
}


def run(args: list[str]) -> tuple[int, str, str, float]:
    """Run ``deconfound *args`` in-process: exit code, stdout, stderr and seconds taken."""
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a warning is printed, not a failure; the properties are about errors
        try:
            code = main(args)
        except SystemExit as exc:  # argparse's own usage errors
            code = exc.code if isinstance(exc.code, int) else 2
    return code, out.getvalue(), err.getvalue(), time.perf_counter() - start


def check(args: list[str], json_output: bool) -> None:
    import matplotlib.pyplot as plt

    try:
        code, out, err, seconds = run(args)
    finally:
        plt.close("all")
    event(f"exit {code}" + (" (usage)" if "usage:" in err else ""))
    assert "Traceback" not in err, (args, err)
    assert seconds < MAX_SECONDS, (args, seconds)
    if code == 0:
        if json_output:
            assert isinstance(_strict_json(out), dict), (args, out)
        return
    if code == 1:  # report/run: the page was written, but a method failed (--keep-going would exit 0)
        assert args[0] in ("report", "run") and "could not be estimated" in err, (args, err)
        return
    assert code == 2, (args, code, err)
    errors = [line for line in err.strip().splitlines() if "error:" in line]
    assert len(errors) == 1, (args, err)
    if "usage:" not in err:  # our errors: the one line is all there is
        assert err.strip().startswith("error: ") and len(err.strip().splitlines()) == 1, (args, err)


@SETTINGS
@given(data=DATA, method=ESTIMATE_METHODS, flags=options(ESTIMATE_FLAGS), as_json=st.booleans())
def test_estimate(files, data, method, flags, as_json):
    args = ["estimate", _path(files, data), "--method", method, *METHOD_ARGS[method], *flags, "-q"]
    check(args + (["--json"] if as_json else []), as_json)


@SETTINGS
@given(data=DATA, graph=GRAPHS, flags=options({"--outcome": NAMES, "--treatment": NAMES}), as_json=st.booleans())
def test_estimate_with_a_graph(files, data, graph, flags, as_json):
    graph_value = _path(files, graph) if graph.endswith((".dot", "folder")) else graph
    # one method: the property is about reading graphs (the default comparison is tested in test_cli_compare)
    args = ["estimate", _path(files, data), "--graph", graph_value, "-y", "y", "-t", "d", "--method", "ols"]
    args += [*flags, "-q"]
    check(args + (["--json"] if as_json else []), as_json)


@SETTINGS
@given(
    data=st.one_of(st.none(), DATA),
    graph=GRAPHS,
    extra=options({"--observed": NAMES, "--adjust": NAMES, "--treatment": NAMES, "--outcome": NAMES}),
    as_json=st.booleans(),
)
def test_identify(files, data, graph, extra, as_json):
    graph_value = _path(files, graph) if graph.endswith((".dot", "folder")) else graph
    args = ["identify", *([] if data is None else [_path(files, data)])]
    args += ["--graph", graph_value, "--treatment", "d", "--outcome", "y", *extra]
    check(args + (["--json"] if as_json else []), as_json)


@SETTINGS
@given(
    kind=st.sampled_from(["dag", "forest", "overlap", "balance", "event-study", "nosuch"]),
    data=st.one_of(DATA, st.none()),
    output=OUTPUTS,
    graph=st.one_of(st.none(), GRAPHS),
    flags=options(
        {"--outcome": NAMES, "--treatment": NAMES, "--covariates": NAMES, "--unit": NAMES, "--time": NAMES}
        | {"--first-treated": NAMES}
    ),
)
def test_plot(files, kind, data, output, graph, flags):
    args = ["plot", kind, *([] if data is None else [_path(files, data)]), "-o", _path(files, output)]
    args += ["-y", "y", "-t", "d", "-x", "x", "--unit", "u", "--time", "t", "--first-treated", "g", *flags, "-q"]
    if graph is not None:
        args += ["--graph", _path(files, graph) if graph.endswith((".dot", "folder")) else graph]
    check(args, json_output=False)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=DATA,
    output=REPORT_OUTPUTS,
    graph=st.one_of(st.none(), GRAPHS),
    flags=options(
        {"--outcome": NAMES, "--treatment": NAMES, "--covariates": NAMES, "--seed": NUMBERS, "--level": NUMBERS}
        | {"--design": st.sampled_from(["cross-section", "rct", "panel", "bogus"])}
    ),
)
def test_report(files, data, output, graph, flags):
    args = ["report", _path(files, data), "-o", _path(files, output), "-y", "y", "-t", "d"]
    args += ["--methods", "naive,ols", *flags, "-q"]
    if graph is not None:
        args += ["--graph", _path(files, graph) if graph.endswith((".dot", "folder")) else graph]
    check(args, json_output=False)
