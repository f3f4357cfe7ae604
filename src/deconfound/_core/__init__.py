"""The shared numeric core: sufficient statistics, stable solves, covariances and distributions.

Estimator families build on these functions; nothing here knows about causal questions.
"""
