"""Every derivative operator users call, from one module (autograd's module name).

They live in three modules, one concern each, and this one gathers them so that
``from matdiff.differential_operators import ...`` reaches all of them, as
``autograd.differential_operators`` does:

* :mod:`matdiff.operators`: JAX's interface, ``grad``, ``value_and_grad``, ``vjp``,
  ``jvp``, ``linearize``, ``jacobian`` (``jacrev``), ``jacfwd``, ``hessian``, ``hvp``,
  ``elementwise_grad``;
* :mod:`matdiff.custom_rules`: ``stop_gradient``, ``custom_vjp``, ``custom_jvp``,
  ``checkpoint``;
* :mod:`matdiff.autograd_names`: autograd's other operators, ``make_vjp``, ``make_hvp``,
  ``deriv``, ``holomorphic_grad``, ...

The argument checks they share are in :mod:`matdiff.checks`.

>>> import matdiff.numpy as np
>>> from matdiff.differential_operators import grad, make_hvp, stop_gradient
>>> float(grad(lambda x: x * stop_gradient(x))(3.0))
3.0
>>> hvp_fn, g = make_hvp(lambda x: np.sum(x**3))(np.array([1.0, 2.0]))
>>> hvp_fn(np.array([0.0, 1.0]))
array([ 0., 12.])
"""

from .autograd_names import (
    deriv,
    grad_and_aux,
    grad_named,
    hessian_tensor_product,
    hessian_vector_product,
    holomorphic_grad,
    make_ggnvp,
    make_hvp,
    make_jvp,
    make_jvp_reversemode,
    make_vjp,
    multigrad_dict,
    tensor_jacobian_product,
    vector_jacobian_product,
)
from .custom_rules import checkpoint, custom_jvp, custom_vjp, stop_gradient
from .operators import (
    elementwise_grad,
    grad,
    hessian,
    hvp,
    jacfwd,
    jacobian,
    jacrev,
    jvp,
    linearize,
    value_and_grad,
    vjp,
)

__all__ = [
    "grad",
    "value_and_grad",
    "vjp",
    "jvp",
    "linearize",
    "jacobian",
    "jacrev",
    "jacfwd",
    "hessian",
    "hvp",
    "elementwise_grad",
    "stop_gradient",
    "custom_vjp",
    "custom_jvp",
    "checkpoint",
    "make_vjp",
    "make_jvp",
    "make_hvp",
    "make_jvp_reversemode",
    "hessian_tensor_product",
    "hessian_vector_product",
    "tensor_jacobian_product",
    "vector_jacobian_product",
    "make_ggnvp",
    "grad_and_aux",
    "grad_named",
    "deriv",
    "holomorphic_grad",
    "multigrad_dict",
]
