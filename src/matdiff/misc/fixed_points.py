"""Fixed points x = f(a)(x) and their derivatives in ``a`` (autograd's ``misc.fixed_points``).

The solution is found by forward iteration; its derivatives never differentiate through
the iterations. Differentiating x* = f(a)(x*) gives, for a cotangent ``g`` of x*,

    w = g + (∂f/∂x)ᵀ w,    ā = (∂f/∂a)ᵀ w,

and for a tangent ``ȧ``

    ẋ = (∂f/∂x) ẋ + (∂f/∂a) ȧ,

two linear fixed-point problems at x*, solved by iterating them with the same ``distance``
and ``tol`` (they converge wherever the forward iteration does, since ∂f/∂x is then a
contraction near x*). Both are solved by :func:`fixed_point` itself, so derivatives of
any order work. Memory does not grow with the number of iterations.

>>> import matdiff.numpy as np
>>> from matdiff import grad
>>> def newton_sqrt(a):  # x = (x + a / x) / 2 at x = sqrt(a)
...     return lambda x: 0.5 * (x + a / x)
>>> distance = lambda x, y: np.abs(x - y)
>>> float(fixed_point(newton_sqrt, 2.0, 1.0, distance, 1e-12))
1.414213562373095
>>> round(float(grad(fixed_point, 1)(newton_sqrt, 2.0, 1.0, distance, 1e-12)), 12)  # 1/(2√2)
0.353553390593
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..extend import defjvp, defvjp, primitive, vspace
from ..operators import jvp as _jvp
from ..operators import vjp as _vjp
from ..tree import tree_flatten
from .flatten import flatten

__all__ = ["fixed_point"]


def fixed_point(
    f: Callable[[Any], Callable[[Any], Any]],
    a: Any,
    x0: Any,
    distance: Callable[[Any, Any], Any],
    tol: float,
) -> Any:
    """Iterate ``x ← f(a)(x)`` from ``x0`` until ``distance(x_new, x) <= tol``; return ``x_new``.

    autograd's signature and stopping rule: ``f`` is curried (``f(a)`` is the map of ``x``),
    at least one step is taken, and the iteration stops at the first step whose
    ``distance`` is at most ``tol``. The result is differentiable in ``a`` (both modes,
    any order) by implicit differentiation, not in ``x0``, on which a converged
    fixed point does not depend. ``a`` and ``x0`` may be arrays, numbers or pytrees of
    them; ``distance`` receives values shaped like ``x0``.

    >>> import matdiff.numpy as np
    >>> from matdiff import jacobian
    >>> A = np.array([[0.5, 0.1], [0.0, 0.3]])
    >>> affine = lambda b: lambda x: A @ x + b          # x* = (I - A)^-1 b
    >>> dist = lambda x, y: np.max(np.abs(x - y))
    >>> b = np.array([1.0, 2.0])
    >>> np.round(fixed_point(affine, b, np.zeros(2), dist, 1e-13), 6)
    array([2.571429, 2.857143])
    >>> np.round(jacobian(fixed_point, 1)(affine, b, np.zeros(2), dist, 1e-13), 6)
    array([[2.      , 0.285714],
           [0.      , 1.428571]])
    """
    if not callable(f):
        raise TypeError(
            f"fixed_point: f must be a function of a returning a function of x "
            f"(x_new = f(a)(x)), got {type(f).__name__}"
        )
    # The primitive works on one array for a and one for x; pytrees go through flatten,
    # whose operations carry the derivatives to and from their leaves.
    if _is_leaf(a) and _is_leaf(x0):
        return _fixed_point(a, x0, f=f, distance=distance, tol=tol)
    a_flat, unflatten_a = (a, None) if _is_leaf(a) else flatten(a)
    x0_flat, unflatten_x = (x0, None) if _is_leaf(x0) else flatten(x0)
    a_of = (lambda v: v) if unflatten_a is None else unflatten_a
    x_of = (lambda v: v) if unflatten_x is None else unflatten_x

    def f_flat(av):
        step = f(a_of(av))
        if unflatten_x is None:
            return step
        return lambda xv: flatten(step(x_of(xv)))[0]

    def distance_flat(x, y):
        return distance(x_of(x), x_of(y))

    x = _fixed_point(a_flat, x0_flat, f=f_flat, distance=distance_flat, tol=tol)
    return x_of(x)


def _is_leaf(value: Any) -> bool:
    leaves, _ = tree_flatten(value)
    return len(leaves) == 1 and leaves[0] is value


def _iterate(a, x0, *, f, distance, tol):
    step = f(a)
    x_prev, x = x0, step(x0)
    while distance(x, x_prev) > tol:
        x_prev, x = x, step(x)
    return x


_fixed_point = primitive(_iterate, "fixed_point")


def _fixed_point_vjp(ans, a, x0, *, f, distance, tol):
    def adjoint_map(params):
        # w ↦ g + (∂f/∂x)ᵀ w at x*; a, x* and g are parameters so that this solve is
        # itself differentiable in them (derivatives of derivatives).
        a_, x_star, g_ = params
        _, vjp_x = _vjp(f(a_), x_star)
        return lambda w: vjp_x(w)[0] + g_

    def vjp(g):
        w = fixed_point(adjoint_map, (a, ans, g), vspace(ans).zeros(), distance, tol)
        _, vjp_a = _vjp(lambda a_: f(a_)(ans), a)
        return vjp_a(w)[0]

    return vjp


def _fixed_point_jvp(a_dot, ans, a, x0, *, f, distance, tol):
    # c = (∂f/∂a) ȧ at x*, then ẋ ↦ (∂f/∂x) ẋ + c iterated to its fixed point.
    _, c = _jvp(lambda a_: f(a_)(ans), (a,), (a_dot,))

    def tangent_map(params):
        a_, x_star, c_ = params
        step = f(a_)
        return lambda x_dot: _jvp(step, (x_star,), (x_dot,))[1] + c_

    return fixed_point(tangent_map, (a, ans, c), vspace(ans).zeros(), distance, tol)


defvjp(_fixed_point, _fixed_point_vjp, None)
defjvp(_fixed_point, _fixed_point_jvp, None)
