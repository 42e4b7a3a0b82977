"""SciPy for traced code: ``import matdiff.scipy as sp``, ``from matdiff.scipy import special``."""

from . import integrate, linalg, optimize, signal, special, stats

__all__ = ["integrate", "linalg", "optimize", "signal", "special", "stats"]
