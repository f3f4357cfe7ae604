"""The report's DML views: the nuisance-quality table (checked against scikit-learn's out-of-fold fits on
the same folds), the warning box when a nuisance predicts no better than a constant, and the fold and
repetition spread (table and plot)."""

from __future__ import annotations

import html as _html
import re
import warnings

import numpy as np
import pandas as pd
import pytest

from deconfound.model import CausalModel
from deconfound.report import Analysis, render_report


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _section(page: str, key: str) -> str:
    start = page.index(f'<section id="{key}"')
    return page[start : page.index("</section>", start)]


def _cells(table_html: str) -> dict[str, list[str]]:
    out = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table_html, re.S):
        cells = [_html.unescape(c.strip()) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
        out.setdefault(cells[0], cells[1:])  # the header row is keyed by the index name
    return out


def _frame(randomized: bool, n: int = 500, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    t = rng.binomial(1, 0.5, n) if randomized else (x[:, 0] + 0.5 * rng.normal(size=n) > 0).astype(int)
    return pd.DataFrame({"x0": x[:, 0], "x1": x[:, 1], "t": t, "y": t + x[:, 0] - x[:, 1] + rng.normal(size=n)})


def _page(frame, folds):
    model = CausalModel(frame, "t", "y", covariates=["x0", "x1"])
    options = {"dml": {"learner": "linear", "folds": folds}}
    return _quiet(render_report, Analysis(model, methods=["dml"], options=options), seed=4)


@pytest.fixture(scope="module")
def confounded():
    frame = _frame(randomized=False)
    rng = np.random.default_rng(9)
    folds = [rng.permutation(len(frame)) % 4, rng.permutation(len(frame)) % 4]
    return frame, folds, _page(frame, folds)


def test_quality_table_equals_scikit_learn_out_of_fold(confounded):
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.metrics import log_loss, r2_score

    frame, folds, page = confounded
    section = _section(page, "a0-diagnostics")
    start = section.index('data-table="dml-quality-')
    rows = _cells(section[start : section.index("</table>", start)])
    x, y, t = frame[["x0", "x1"]].to_numpy(), frame["y"].to_numpy(), frame["t"].to_numpy()
    r2_l, r2_m, loss_m, loss_base = [], [], [], []
    for assignment in folds:
        pred_l, pred_m = np.empty(len(y)), np.empty(len(y))
        for k in range(4):
            train, test = assignment != k, assignment == k
            pred_l[test] = LinearRegression().fit(x[train], y[train]).predict(x[test])
            clf = LogisticRegression(C=np.inf, max_iter=1000).fit(x[train], t[train])
            pred_m[test] = clf.predict_proba(x[test])[:, 1]
        r2_l.append(r2_score(y, pred_l))
        r2_m.append(r2_score(t, pred_m))
        loss_m.append(log_loss(t, pred_m))
        loss_base.append(log_loss(t, np.full(len(t), t.mean())))
    header = rows["nuisance"]
    r2_col, loss_col = header.index("R2 (out of fold)"), header.index("log loss")
    assert float(rows["ml_l"][r2_col]) == pytest.approx(np.mean(r2_l), rel=1e-3)
    assert float(rows["ml_m"][r2_col]) == pytest.approx(np.mean(r2_m), rel=1e-3)
    assert float(rows["ml_m"][loss_col]) == pytest.approx(np.mean(loss_m), rel=1e-3)
    assert float(rows["ml_m"][header.index("log loss of the base rate")]) == pytest.approx(np.mean(loss_base), rel=1e-3)
    assert rows["ml_l"][loss_col] == "-"  # not a probability
    assert '<div class="notice"' not in section  # both nuisances learn something here


def test_spread_table_and_plot(confounded):
    page = confounded[2]
    section = _section(page, "a0-diagnostics")
    start = section.index('data-table="dml-spread-')
    rows = _cells(section[start : section.index("</table>", start)])
    assert rows["repetitions"] == ["2"]
    low, high = (float(v) for v in rows["repetition estimates, min to max"][0].split(" to "))
    assert low <= float(rows["estimate (aggregated)"][0]) <= high  # the median of two lies between them
    assert 'data-figure="dml-spread-' in section


def test_a_constant_nuisance_gets_a_warning_box():
    """A randomized treatment: the covariates cannot predict it, so ml_m is no better than the base rate."""
    frame = _frame(randomized=True, seed=3)
    page = _page(frame, 3)
    section = _section(page, "a0-diagnostics")
    boxes = re.findall(r'<div class="notice"[^>]*>(.*?)</div>', section, re.S)
    assert len(boxes) == 1 and "ml_m (treatment | covariates) predict no better than a constant" in boxes[0]
