"""Symbolic matrix calculus: derivatives in matrix notation from text expressions.

>>> from matdiff import symbolic as sym
>>> print(sym.derivative("x'*A*x", wrt="x"))
(A + A')*x
"""

from .derivation import Derivative, Step, Steps, derivative, lambdify
from .errors import CheckError, SymbolicError
from .parser import parse
from .tensor import TensorDerivative, TensorExpr, tensor_derivative, tensor_parse

__all__ = [
    "derivative",
    "parse",
    "lambdify",
    "Derivative",
    "Step",
    "Steps",
    "SymbolicError",
    "CheckError",
    "tensor_derivative",
    "tensor_parse",
    "TensorDerivative",
    "TensorExpr",
]
