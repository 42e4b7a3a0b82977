"""Extension API: define new primitives and their rules (autograd's conventions).

>>> import numpy
>>> import matdiff
>>> from matdiff.extend import primitive, defvjp, defjvp
>>> logsumexp = primitive(lambda x: numpy.log(numpy.sum(numpy.exp(x))))
>>> defvjp(logsumexp, lambda ans, x: lambda g: g * matdiff.numpy.exp(x - ans))
>>> defjvp(logsumexp, lambda g, ans, x: matdiff.numpy.sum(g * matdiff.numpy.exp(x - ans)))
>>> matdiff.grad(logsumexp)(numpy.zeros(2))
array([0.5, 0.5])
"""

from .batching import register_batch_rule
from .core import (
    VSpace,
    def_linear,
    defjvp,
    defjvp_argnum,
    defjvp_argnums,
    defvjp,
    defvjp_argnum,
    defvjp_argnums,
    register_vspace,
    vspace,
)
from .tracer import Box, branch, getval, isbox, nondifferentiable, primitive, register_box
from .tree import register_pytree_node, register_pytree_node_class

__all__ = [
    "primitive",
    "nondifferentiable",
    "defvjp",
    "defjvp",
    "def_linear",
    "defvjp_argnum",
    "defvjp_argnums",
    "defjvp_argnum",
    "defjvp_argnums",
    "Box",
    "register_box",
    "VSpace",
    "vspace",
    "register_vspace",
    "getval",
    "branch",
    "isbox",
    "register_pytree_node",
    "register_pytree_node_class",
    "register_batch_rule",
]
