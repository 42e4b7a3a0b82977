"""Symbolic matrix calculus: derivatives in matrix notation from text expressions.

>>> from matdiff import symbolic as sym
>>> print(sym.derivative("x'*A*x", wrt="x"))
(A + A')*x
"""

from .derivation import Derivative, Step, Steps, derivative, lambdify
from .errors import CheckError, SymbolicError
from .parser import parse

__all__ = [
    "derivative",
    "parse",
    "lambdify",
    "Derivative",
    "Step",
    "Steps",
    "SymbolicError",
    "CheckError",
]
