"""Robustness: how much could an unobserved confounder move the estimate, and do placebos come out null?"""

from .refute import placebo_treatment
from .sensitivity import robustness_value, sensitivity

__all__ = ["placebo_treatment", "robustness_value", "sensitivity"]
