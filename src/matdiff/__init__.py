"""matdiff: matrix calculus and automatic differentiation.

>>> import matdiff.numpy as np
>>> from matdiff import grad, hessian
>>> f = lambda x: np.sum(np.sin(x) * x)
>>> grad(f)(np.array([0.0, 1.0]))
array([0.        , 1.38177329])
"""

from . import differential_operators as _operators
from . import numpy
from .checkpointing import checkpoint_scan
from .differential_operators import (
    checkpoint,
    custom_jvp,
    custom_vjp,
    deriv,
    elementwise_grad,
    grad,
    grad_and_aux,
    grad_named,
    hessian,
    hessian_tensor_product,
    hessian_vector_product,
    holomorphic_grad,
    hvp,
    jacfwd,
    jacobian,
    jacrev,
    jvp,
    linearize,
    make_ggnvp,
    make_hvp,
    make_jvp,
    make_jvp_reversemode,
    make_vjp,
    multigrad_dict,
    stop_gradient,
    tensor_jacobian_product,
    value_and_grad,
    vector_jacobian_product,
    vjp,
)
from .graph import Graph, graph
from .tracer import NotDifferentiableError
from .tree import (
    register_pytree_node,
    register_pytree_node_class,
    tree_flatten,
    tree_leaves,
    tree_map,
    tree_structure,
    tree_unflatten,
)
from .vmapping import vmap

__version__ = "0.1.0"

# Staging builds on everything above, so it is imported on first use, not here.
_LAZY = {
    "jit": "matdiff.compile",
    "make_program": "matdiff.compile",
    "sparse_hessian": "matdiff.sparse_derivatives",
    "sparse_jacobian": "matdiff.sparse_derivatives",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'matdiff' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "numpy",
    "graph",
    "Graph",
    # The derivative operators are listed once, in matdiff.differential_operators.
    *_operators.__all__,
    "checkpoint_scan",
    "NotDifferentiableError",
    "vmap",
    "register_pytree_node",
    "register_pytree_node_class",
    "tree_flatten",
    "tree_unflatten",
    "tree_map",
    "tree_leaves",
    "tree_structure",
    "jit",
    "make_program",
    "sparse_hessian",
    "sparse_jacobian",
]
