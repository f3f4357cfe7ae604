"""Datasets: the article's generators (exact reproductions) and simulators with a known true effect."""

from .article import heart_attack, heart_attack_panel, ice_cream
from .graphs import simulate_collider, simulate_m_bias
from .panel import simulate_panel
from .simulate import simulate_heterogeneous, simulate_observational, simulate_rct

__all__ = [
    "heart_attack",
    "heart_attack_panel",
    "ice_cream",
    "simulate_collider",
    "simulate_heterogeneous",
    "simulate_m_bias",
    "simulate_observational",
    "simulate_panel",
    "simulate_rct",
]
