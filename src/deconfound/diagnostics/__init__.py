"""Diagnostics that read fitted quantities and explain problems in plain words."""

from .balance import balance_before_after, balance_table, joint_balance_test
from .collinearity import collinearity_diagnostics
from .hypotheses import TestResult
from .overlap import crump_alpha, overlap_table, trim_mask

__all__ = [
    "TestResult",
    "balance_before_after",
    "balance_table",
    "collinearity_diagnostics",
    "crump_alpha",
    "joint_balance_test",
    "overlap_table",
    "trim_mask",
]
