"""``matdiff.scipy.stats``: differentiable counterparts of ``scipy.stats``."""
