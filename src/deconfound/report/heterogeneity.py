"""The report's views of heterogeneous effects (meta-learners): is the heterogeneity real?

Registered as diagnostics renderers (:func:`deconfound.report.sections.renders`): the CATE distribution
with its summary, the BLP test with the verdict in words, the GATES plot and table, the CLAN table, the
subgroup effects and the policy values. Everything is read from the Estimate's diagnostics.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from ..results import Estimate
from .content import ReportFigure, ReportTable, figure, frame_table
from .sections import renders

Items = list[ReportTable | ReportFigure]


@renders("cate_summary")
def _cate_summary(estimate: Estimate, value: Any) -> Items:
    from ..plots.heterogeneity import cate_plot

    table = pd.DataFrame([dict(value)], index=pd.Index([estimate.name], name="learner"))
    caption = (
        "The spread of per-row effect estimates is not by itself evidence that the effect varies: estimation "
        "noise spreads them too. The test below says whether the spread is real."
    )
    items: Items = [frame_table(f"cate-{id(estimate)}", f"CATE summary: {estimate.name}", table, caption)]
    if "cate" in estimate.diagnostics:
        items.insert(0, figure(f"cate-plot-{id(estimate)}", f"CATE distribution: {estimate.name}", cate_plot(estimate)))
    return items


@renders("blp")
def _blp(estimate: Estimate, value: Any) -> Items:
    verdict = str(estimate.diagnostics.get("heterogeneity", ""))
    if not isinstance(value, Mapping) or not value.get("applicable"):
        reason = value.get("reason", "") if isinstance(value, Mapping) else ""
        table = pd.DataFrame({"test": ["not applicable"], "reason": [reason]}).set_index("test")
        return [frame_table(f"blp-{id(estimate)}", f"Is the heterogeneity real? {estimate.name}", table, verdict)]
    rows = {
        "beta1 (ATE)": (value["ate"], value["ate_std_error"], None),
        "beta2 (heterogeneity loading)": (value["loading"], value["loading_std_error"], value["p_value"]),
    }
    table = pd.DataFrame(
        [{"coefficient": k, "estimate": v[0], "std_error": v[1], "p_value": v[2]} for k, v in rows.items()]
    ).set_index("coefficient")
    caption = (
        f"{verdict} Best linear predictor of the effect given the cross-fitted CATE (Chernozhukov, Demirer, "
        "Duflo and Fernandez-Val): beta2 = 0 means no heterogeneity the CATE captures; beta2 = 1, a calibrated CATE."
    )
    return [frame_table(f"blp-{id(estimate)}", f"Is the heterogeneity real? {estimate.name}", table, caption)]


@renders("gates")
def _gates(estimate: Estimate, value: Any) -> Items:
    from ..plots.heterogeneity import gates_plot

    caption = (
        "Average effect within groups of rows ranked by their cross-fitted CATE (1 = least affected). Rising "
        "group effects with intervals apart mean the CATE sorts rows by how much they gain."
    )
    return [
        figure(f"gates-plot-{id(estimate)}", f"GATES: {estimate.name}", gates_plot(estimate), caption),
        frame_table(f"gates-{id(estimate)}", f"GATES: {estimate.name}", value),
    ]


@renders("clan")
def _clan(estimate: Estimate, value: Any) -> Items:
    caption = "Who is most affected? Covariate means in the most and the least affected CATE group (CLAN)."
    return [frame_table(f"clan-{id(estimate)}", f"CLAN: {estimate.name}", value, caption)]


@renders("subgroups")
def _subgroups(estimate: Estimate, value: Any) -> Items:
    caption = "Average effect within each subgroup (mean of the doubly robust pseudo-outcome)."
    return [frame_table(f"subgroups-{id(estimate)}", f"Effects by subgroup: {estimate.name}", value, caption)]


@renders("policy")
def _policy(estimate: Estimate, value: Any) -> Items:
    caption = (
        "Mean outcome if only rows with a positive cross-fitted CATE were treated, against treating all or none "
        "(doubly robust estimates)."
    )
    return [frame_table(f"policy-{id(estimate)}", f"Targeting: {estimate.name}", value, caption)]
