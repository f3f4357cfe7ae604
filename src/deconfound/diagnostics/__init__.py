"""Diagnostics that read fitted quantities and explain problems in plain words."""

from .balance import balance_table, joint_balance_test
from .collinearity import collinearity_diagnostics

__all__ = ["balance_table", "collinearity_diagnostics", "joint_balance_test"]
