"""Staging and compilation: printable programs, optimization passes, ``jit`` to NumPy source.

>>> import matdiff.numpy as np
>>> from matdiff import grad
>>> from matdiff.compile import jit, make_program
>>> loss = lambda w: np.sum(np.tanh(w) ** 2)
>>> print(make_program(loss)(np.zeros(2)))
{ lambda a:f64[2] .
    b:f64[2] = tanh a
    c:f64[2] = power b 2
    d:f64[] = sum c
  in (d) }
>>> jit(grad(loss))(np.array([0.5, -1.0]))
array([ 0.72686198, -0.63970001])
"""

from .ir import Eqn, Lit, Program, Var, eval_program
from .jit import Compiled, JittedFunction, jit, make_program
from .passes import (
    cse,
    dce,
    fold_constants,
    merge_products,
    optimize,
    reorder_products,
    simplify,
)
from .staging import StagingError
from .structure import carry_structure

__all__ = [
    "carry_structure",
    "jit",
    "make_program",
    "Program",
    "Compiled",
    "JittedFunction",
    "StagingError",
    "Var",
    "Lit",
    "Eqn",
    "eval_program",
    "optimize",
    "simplify",
    "cse",
    "dce",
    "fold_constants",
    "merge_products",
    "reorder_products",
]
