"""autograd's operator names that JAX does not have: make_vjp, make_hvp, deriv, ...

Each is written with the operators of :mod:`matdiff.operators`, so autograd code runs
by changing its imports. ``argnum`` is autograd's one argument position (or a tuple of
them, whose values the function then takes as one tuple).

>>> from matdiff.autograd_names import deriv, make_vjp
>>> vjp_fn, ans = make_vjp(lambda x: x**3)(2.0)
>>> float(vjp_fn(1.0)), float(deriv(lambda x: x**3)(2.0))
(12.0, 12.0)
"""

from __future__ import annotations

import inspect
import warnings
from collections import OrderedDict
from collections.abc import Callable

from . import numpy as mnp
from .checks import check_float_output, dtype_of, name_of, normalize_argnums, partial_at
from .core import vspace
from .operators import container_leaves_as_arrays, grad, hvp, trace_jvp, trace_vjp
from .tracer import getval
from .tree import tree_flatten, tree_map

__all__ = [
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


def _unary(fname: str, argnum):
    """Adapt autograd's ``op(fun, argnum)(*args)`` to a function of the one argument."""

    def run(fun, args, kwargs, body):
        nums, single = normalize_argnums(fname, argnum, len(args))
        p = partial_at(fun, args, kwargs, nums)
        if single:
            return body(p, args[nums[0]])
        return body(lambda xs: p(*xs), tuple(args[i] for i in nums))

    return run


def make_vjp(fun: Callable, argnum=0) -> Callable:
    """autograd's ``make_vjp``: ``make_vjp(f, argnum)(*args) -> (vjp_fn, f(*args))``.

    >>> import matdiff.numpy as np
    >>> vjp_fn, ans = make_vjp(lambda x: x**2)(3.0)
    >>> float(ans), float(vjp_fn(1.0))
    (9.0, 6.0)
    """
    run = _unary("make_vjp", argnum)

    def body(f, x):
        ans, fn, _ = trace_vjp("make_vjp", f, (x,))
        return (lambda g: container_leaves_as_arrays(fn(g), True)), ans

    return lambda *args, **kwargs: run(fun, args, kwargs, body)


def make_jvp(fun: Callable, argnum=0) -> Callable:
    """autograd's ``make_jvp``: ``make_jvp(f, argnum)(*args)(v) -> (f(*args), J v)``.

    >>> float(make_jvp(lambda x: x**2)(3.0)(1.0)[1])
    6.0
    """
    run = _unary("make_jvp", argnum)

    def body(f, x):
        return lambda v: trace_jvp("make_jvp", f, (x,), (v,))

    return lambda *args, **kwargs: run(fun, args, kwargs, body)


def make_jvp_reversemode(fun: Callable, argnum=0) -> Callable:
    """autograd's: ``make_jvp_reversemode(f, argnum)(*args)(v) = J v`` by transposing the VJP.

    The VJP is linear in its cotangent, so its own VJP is the JVP: two reverse passes,
    no forward-mode rules needed.

    >>> float(make_jvp_reversemode(lambda x: x**3)(2.0)(1.0))
    12.0
    """
    run = _unary("make_jvp_reversemode", argnum)

    def body(f, x):
        y, vjp_fn, _ = trace_vjp("make_jvp_reversemode", f, (x,))
        zeros = tree_map(lambda o: vspace(o).zeros(), y)
        _, vjp_vjp, _ = trace_vjp("make_jvp_reversemode", lambda ct: vjp_fn(ct)[0], (zeros,))
        return lambda v: vjp_vjp(v)[0]

    return lambda *args, **kwargs: run(fun, args, kwargs, body)


def make_hvp(fun: Callable, argnum=0) -> Callable:
    """autograd's ``make_hvp``: ``make_hvp(f, argnum)(*args) -> (hvp_fn, grad f(*args))``.

    The forward and gradient passes are recorded once; each ``hvp_fn(v)`` is one
    backward pass through them.

    >>> import matdiff.numpy as np
    >>> hvp_fn, g = make_hvp(lambda x: np.sum(x**3))(np.array([1.0, 2.0]))
    >>> hvp_fn(np.array([1.0, 0.0]))
    array([6., 0.])
    """
    run = _unary("make_hvp", argnum)

    def body(f, x):
        g, fn, _ = trace_vjp("make_hvp", grad(f), (x,))
        return (lambda v: fn(v)[0]), g

    return lambda *args, **kwargs: run(fun, args, kwargs, body)


def hessian_tensor_product(fun: Callable, argnum=0) -> Callable:
    """autograd's: ``(*args, tensor) -> H tensor``, the Hessian contracted with ``tensor``.

    >>> import matdiff.numpy as np
    >>> hessian_tensor_product(lambda x: np.sum(x**3))(np.array([1.0, 2.0]), np.ones(2))
    array([ 6., 12.])
    """
    fun_grad = grad(fun, argnum)

    def vector_dot_grad(*args, **kwargs):
        args, tensor = args[:-1], args[-1]
        g = fun_grad(*args, **kwargs)
        return mnp.sum(g * tensor)

    def htp(*args, **kwargs):
        if len(args) < 2:
            raise TypeError(
                "hessian_tensor_product: call it as h(*args, tensor) with the tensor last"
            )
        return grad(vector_dot_grad, argnum)(*args, **kwargs)

    return htp


hessian_vector_product = hessian_tensor_product


def tensor_jacobian_product(fun: Callable, argnum=0) -> Callable:
    """autograd's: ``(*args, tensor) -> tensor · J``, contracting over the output's axes.

    >>> import matdiff.numpy as np
    >>> tensor_jacobian_product(lambda x: x**2)(np.array([1.0, 2.0]), np.ones(2))
    array([2., 4.])
    """

    def tjp(*args, **kwargs):
        if len(args) < 2:
            raise TypeError(
                "tensor_jacobian_product: call it as t(*args, tensor) with the tensor last"
            )
        args, tensor = args[:-1], args[-1]
        nums, single = normalize_argnums("tensor_jacobian_product", argnum, len(args))
        f = partial_at(fun, args, kwargs, nums)
        _, fn, _ = trace_vjp("tensor_jacobian_product", f, tuple(args[i] for i in nums))
        g = fn(tensor)
        return g[0] if single else g

    return tjp


vector_jacobian_product = tensor_jacobian_product


def _half_sq(x):
    return 0.5 * mnp.sum(x**2, axis=-1)


def make_ggnvp(f: Callable, g: Callable = _half_sq, f_argnum=0) -> Callable:
    """autograd's: ``make_ggnvp(f, g)(*args)(v) = Jᵀ H_g J v``, the generalized
    Gauss-Newton product of ``g ∘ f`` (``J`` the Jacobian of ``f``, ``H_g`` g's Hessian).

    >>> import matdiff.numpy as np
    >>> make_ggnvp(lambda x: x**2)(np.array([1.0, 2.0]))(np.ones(2))
    array([ 4., 16.])
    """
    run = _unary("make_ggnvp", f_argnum)

    def body(f1, x):
        # f's reverse pass is recorded once; each product adds a JVP and an HVP of g.
        fx, f_vjp, _ = trace_vjp("make_ggnvp", f1, (x,))

        def ggnvp(v):
            jv = trace_jvp("make_ggnvp", f1, (x,), (v,))[1]
            return f_vjp(hvp(g, fx, jv))[0]

        return ggnvp

    return lambda *args, **kwargs: run(f, args, kwargs, body)


def grad_and_aux(fun: Callable, argnum=0) -> Callable:
    """autograd's: ``fun`` returns ``(output, aux)``; gives ``(grad of output, aux)``.

    >>> g, aux = grad_and_aux(lambda x: (x**2, "note"))(3.0)
    >>> float(g), aux
    (6.0, 'note')
    """
    return grad(fun, argnum, has_aux=True)


def grad_named(fun: Callable, argname: str) -> Callable:
    """autograd's: the gradient with respect to the argument called ``argname``.

    >>> float(grad_named(lambda x, y: x * y, "y")(2.0, 3.0))
    2.0
    """
    params = list(inspect.signature(fun).parameters)
    if argname not in params:
        raise ValueError(
            f"grad_named: {name_of(fun)} has no argument named {argname!r}; its arguments "
            f"are {params}"
        )
    return grad(fun, params.index(argname))


def deriv(fun: Callable, argnum=0) -> Callable:
    """autograd's: the forward-mode derivative along a direction of ones.

    >>> float(deriv(lambda x: x**3)(2.0))
    12.0
    """
    run = _unary("deriv", argnum)

    def body(f, x):
        out, t = trace_jvp("deriv", f, (x,), (tree_map(lambda a: vspace(a).ones(), x),))
        check_float_output("deriv", out)
        return t

    return lambda *args, **kwargs: run(fun, args, kwargs, body)


def holomorphic_grad(fun: Callable, argnum=0) -> Callable:
    """The complex derivative f'(z) of a holomorphic function, elementwise.

    The same as JAX's ``grad(f, holomorphic=True)`` and autograd's ``holomorphic_grad``.

    >>> holomorphic_grad(lambda z: z**2)(3.0 + 4.0j)
    np.complex128(6+8j)
    """

    def hgrad(*args, **kwargs):
        nums, _ = normalize_argnums("holomorphic_grad", argnum, len(args))
        for i in nums:
            for leaf in tree_flatten(args[i])[0]:
                if dtype_of(getval(leaf)).kind != "c":
                    warnings.warn(
                        f"holomorphic_grad: argument {i} is not complex; the result is the "
                        "derivative of the real part",
                        stacklevel=2,
                    )
        return grad(lambda *a, **k: mnp.real(fun(*a, **k)), argnum)(*args, **kwargs)

    return hgrad


def multigrad_dict(fun: Callable) -> Callable:
    """autograd's: gradients with respect to all arguments, as ``{name: gradient}``.

    >>> g = multigrad_dict(lambda x, y=2.0: x * y)(3.0)
    >>> {k: float(v) for k, v in g.items()}
    {'x': 2.0, 'y': 3.0}
    """
    sig = inspect.signature(fun)
    params = sig.parameters

    def gradfun(*args, **kwargs):
        bound = sig.bind(*args, **kwargs)
        bound.apply_defaults()
        arguments = dict(bound.arguments)

        def from_dict(d):
            b = inspect.BoundArguments(sig, OrderedDict(d))
            return fun(*b.args, **b.kwargs)

        g = grad(from_dict)(arguments)
        return OrderedDict((name, g[name]) for name in params if name in g)

    return gradfun
