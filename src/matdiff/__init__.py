"""matdiff: matrix calculus and automatic differentiation.

>>> import matdiff.numpy as np
>>> from matdiff import grad, hessian
>>> f = lambda x: np.sum(np.sin(x) * x)
>>> grad(f)(np.array([0.0, 1.0]))
array([0.        , 1.38177329])
"""

from . import numpy
from .differential_operators import (
    elementwise_grad,
    grad,
    hessian,
    hvp,
    jacfwd,
    jacobian,
    jacrev,
    jvp,
    stop_gradient,
    value_and_grad,
    vjp,
)
from .tracer import NotDifferentiableError
from .tree import (
    register_pytree_node,
    register_pytree_node_class,
    tree_flatten,
    tree_map,
    tree_unflatten,
)

__version__ = "0.1.0"

__all__ = [
    "numpy",
    "grad",
    "value_and_grad",
    "vjp",
    "jvp",
    "jacobian",
    "jacrev",
    "jacfwd",
    "hessian",
    "hvp",
    "elementwise_grad",
    "stop_gradient",
    "NotDifferentiableError",
    "register_pytree_node",
    "register_pytree_node_class",
    "tree_flatten",
    "tree_unflatten",
    "tree_map",
]
