"""``matdiff.scipy.optimize``: differentiable counterparts of ``scipy.optimize``."""
