"""Robustness: how much could an unobserved confounder move the estimate, and do placebos come out null?"""

from .bootstrap import bootstrap
from .bounds import SensitivityBounds, ovb_bounds
from .dml_bounds import DMLSensitivity, dml_ovb, dml_sensitivity
from .evalue import e_value
from .honest import HonestDiD, honest_did
from .oster import OsterResult, oster
from .randomization import randomization_test
from .refute import placebo_treatment
from .refuters import Refutation, refute
from .rosenbaum import RosenbaumBounds, rosenbaum_bounds
from .sensitivity import robustness_value, sensitivity
from .wild import wild_cluster_bootstrap

__all__ = [
    "DMLSensitivity",
    "HonestDiD",
    "OsterResult",
    "Refutation",
    "RosenbaumBounds",
    "SensitivityBounds",
    "bootstrap",
    "dml_ovb",
    "dml_sensitivity",
    "e_value",
    "honest_did",
    "oster",
    "ovb_bounds",
    "placebo_treatment",
    "randomization_test",
    "refute",
    "robustness_value",
    "rosenbaum_bounds",
    "sensitivity",
    "wild_cluster_bootstrap",
]
