"""The report's views of an instrumental-variables estimate: the first stage, the weak-instrument verdict
with the Anderson-Rubin (and tF) interval beside the Wald interval, and who the compliers are.

Registered with :func:`deconfound.report.sections.renders` for the diagnostics keys ``first_stage``,
``weak_iv`` and ``compliers`` (the IV entries of the registry declare them). Values are the typed results
of ``deconfound.diagnostics`` (their ``to_dict()`` forms are read, so a plain dict works too).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from ..results import Estimate
from .content import ReportFigure, ReportTable, frame_table
from .sections import renders

Items = list[ReportTable | ReportFigure]


def _plain(value: Any) -> Mapping[str, Any]:
    return value.to_dict() if hasattr(value, "to_dict") else dict(value)


def _num(x: Any, digits: int = 4) -> str:
    if x is None:
        return "-"
    if isinstance(x, float) and math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.{digits}g}"


@renders("first_stage")
def first_stage_tables(estimate: Estimate, value: Any) -> Items:
    fs = _plain(value)
    rows, coefs = [], []
    for r in fs["endogenous"]:
        rows.append(
            {
                "endogenous": r["endogenous"],
                "partial R2": _num(r["partial_r2"]),
                "Shea partial R2": _num(r["shea_r2"]),
                "F": f"{_num(r['f_stat'])} ({r['df_num']}, {_num(r['df_denom'])})",
                "p-value": _num(r["p_value"], 3),
                "Sanderson-Windmeijer F": _num(r["sw_f"]),
            }
        )
        for z, b in r["coef"].items():
            se = _num(r["std_err"][z])
            coefs.append({"endogenous": r["endogenous"], "instrument": z, "coef": _num(b), "std_error": se})
    caption = (
        f"Each endogenous regressor on the excluded instruments, the covariates partialled out; F tests that the "
        f"instruments' coefficients are all zero with the {fs['cov_type']} covariance. Shea's R2 and the "
        "Sanderson-Windmeijer F account for the other endogenous regressors."
    )
    key = f"first-stage-{id(estimate)}"
    return [
        frame_table(key, f"First stage: {estimate.name}", pd.DataFrame(rows).set_index("endogenous"), caption),
        frame_table(f"{key}-coef", f"First-stage coefficients: {estimate.name}", pd.DataFrame(coefs), index=False),
    ]


def _intervals(estimate: Estimate) -> pd.DataFrame:
    rows = [
        {
            "interval": f"Wald ({estimate.level:.0%})",
            "set": f"[{_num(estimate.ci_low)}, {_num(estimate.ci_high)}]",
            "shape": "interval",
            "valid with weak instruments": "no",
        }
    ]
    ar = estimate.diagnostics.get("anderson_rubin")
    if ar is not None:
        ard = _plain(ar)
        pieces = []
        for lo, hi in ard["pieces"]:
            left = "(-inf" if lo is None else f"[{_num(lo)}"
            right = "inf)" if hi is None else f"{_num(hi)}]"
            pieces.append(f"{left}, {right}")
        rows.append(
            {
                "interval": f"Anderson-Rubin ({ard['level']:.0%})",
                "set": " U ".join(pieces) or "empty",
                "shape": ard["kind"],
                "valid with weak instruments": "yes",
            }
        )
    tf = estimate.diagnostics.get("tf")
    if tf is not None:
        tfd = _plain(tf)
        bounded = tfd["critical_value"] is not None
        rows.append(
            {
                "interval": "tF (95%)",
                "set": f"[{_num(tfd['lower'])}, {_num(tfd['upper'])}]" if bounded else "(-inf, inf)",
                "shape": f"critical value {_num(tfd['critical_value'], 3)}" if bounded else "whole line",
                "valid with weak instruments": "yes",
            }
        )
    return pd.DataFrame(rows).set_index("interval")


@renders("weak_iv")
def weak_iv_tables(estimate: Estimate, value: Any) -> Items:
    d = _plain(value)
    stats = [("Cragg-Donald Wald F", d["cragg_donald_f"], "i.i.d. errors")]
    if d.get("kleibergen_paap_f") is not None:
        stats.append(("Kleibergen-Paap rk Wald F", d["kleibergen_paap_f"], d["cov_type"]))
    if d.get("effective_f") is not None:
        crit = d["effective_f_critical"].get("10%")
        note = f"{d['cov_type']}; 5% critical value {_num(crit)} (tau = 10%)"
        stats.append(("Olea-Pflueger effective F", d["effective_f"], note))
    for table, values in d.get("stock_yogo", {}).items():
        for level, cv in values.items():
            stats.append((f"Stock-Yogo {table.replace('_', ' ')} {level}", cv, "critical value (i.i.d.)"))
    frame = pd.DataFrame(stats, columns=["statistic", "value", "note"]).set_index("statistic")
    frame["value"] = frame["value"].map(_num)
    key = f"weak-iv-{id(estimate)}"
    caption = (
        "Wald intervals of IV estimates are reliable only with strong instruments; the Anderson-Rubin set keeps its "
        "coverage however weak they are (it may be two rays or the whole line), and the tF interval widens the "
        "Wald interval by how weak the one instrument is (Lee et al. 2022)."
    )
    return [
        frame_table(key, f"Instrument strength: {estimate.name}", frame, str(d["verdict"])),
        frame_table(f"{key}-intervals", f"Intervals: {estimate.name}", _intervals(estimate), caption),
    ]


@renders("compliers")
def complier_tables(estimate: Estimate, value: Any) -> Items:
    c = _plain(value)
    shares = pd.DataFrame(
        [
            {"group": g.replace("_", " "), "share": f"{v['share']:.1%}", "std_error": f"{v['std_err']:.1%}"}
            for g, v in c["shares"].items()
        ]
    ).set_index("group")
    caption = (
        "Under monotonicity the instrument splits the units into compliers (treated only when the instrument says "
        "so), always-takers and never-takers; the IV estimate is the effect for compliers."
    )
    if c.get("reversed_instrument"):
        caption += " The instrument lowers take-up, so it was reversed to define compliers."
    key = f"compliers-{id(estimate)}"
    items: Items = [frame_table(key, f"Who the LATE is about: {estimate.name}", shares, caption)]
    if c["means"]:
        means = pd.DataFrame(
            [
                {
                    "variable": name,
                    "compliers": f"{_num(row['compliers'])} ({_num(row['compliers_se'], 2)})",
                    "population": _num(row["population"]),
                    "treated": _num(row["treated"]),
                }
                for name, row in c["means"].items()
            ]
        ).set_index("variable")
        note = "Complier means (standard errors) by Abadie's kappa, beside the population and the treated."
        items.append(frame_table(f"{key}-means", f"Complier characteristics: {estimate.name}", means, note))
    return items
