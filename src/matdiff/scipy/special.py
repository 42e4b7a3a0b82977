"""``matdiff.scipy.special``: differentiable counterparts of ``scipy.special``."""
