"""Estimator families. Each module is one family; they share ``_base`` and the numeric core only."""
