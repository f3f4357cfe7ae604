"""Causal graphs: parsing (``parse``), the graph type (``causal_graph``) and identification.

``CausalGraph`` and ``as_graph`` live in ``causal_graph``; ``identify`` and ``check_adjustment`` in
``identification``; ``paths`` enumerates the paths that explain a verdict.
"""

from .causal_graph import CausalGraph, as_graph
from .identification import AdjustmentCheck, Identification, check_adjustment, identify

__all__ = ["AdjustmentCheck", "CausalGraph", "Identification", "as_graph", "check_adjustment", "identify"]
