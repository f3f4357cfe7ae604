"""Robustness: how much could an unobserved confounder move the estimate, and do placebos come out null?"""

from .bounds import SensitivityBounds, ovb_bounds
from .evalue import e_value
from .refute import placebo_treatment
from .rosenbaum import RosenbaumBounds, rosenbaum_bounds
from .sensitivity import robustness_value, sensitivity

__all__ = [
    "RosenbaumBounds",
    "SensitivityBounds",
    "e_value",
    "ovb_bounds",
    "placebo_treatment",
    "robustness_value",
    "rosenbaum_bounds",
    "sensitivity",
]
