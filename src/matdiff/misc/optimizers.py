"""Gradient-descent loops over pytrees, with autograd's ``misc.optimizers`` signatures.

Each optimiser takes ``grad(x, i)`` (the gradient at ``x`` on iteration ``i``), a
starting point ``x0`` (any pytree of float arrays and numbers) and an optional
``callback(x, i, g)`` called every iteration before the step, and returns the final
point with ``x0``'s structure. The loops run on the flattened vector
(:func:`matdiff.misc.flatten`), so a step costs a few vector operations whatever the
pytree. Leaves may also be values of a user's vector space (registered with
``VSpace.register``): optimized in the space's coordinates where it defines ``flatten``
and ``unflatten``, and, for :func:`sgd`, with the space's ``add`` and ``scalar_mul``
otherwise. ``step_size`` is a number or, as in JAX's optimizers, a schedule: a function of
the iteration number ``i`` that returns the step for that iteration.

>>> from matdiff import grad
>>> import matdiff.numpy as np
>>> loss_grad = grad(lambda w, i: np.sum((w - 3.0) ** 2))
>>> w = adam(loss_grad, np.zeros(2), num_iters=300, step_size=0.1)
>>> np.round(w, 3)
array([3., 3.])
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from numbers import Number
from typing import Any

import numpy as _np

from ..core import VSpace, has_vspace, vspace
from ..tracer import getval
from ..tree import tree_flatten, tree_leaves, tree_map, tree_unflatten
from .flatten import flatten

__all__ = ["sgd", "rmsprop", "adam", "unflatten_optimizer"]


def _is_array_leaf(leaf: Any) -> bool:
    return isinstance(getval(leaf), (Number, _np.ndarray, _np.generic))


def _user_leaves(x0: Any) -> list:
    """The leaves of ``x0`` that are values of a user's registered vector space."""
    return [leaf for leaf in tree_leaves(x0) if not _is_array_leaf(leaf) and has_vspace(leaf)]


def _defines(vs: VSpace, method: str) -> bool:
    return getattr(type(vs), method) is not getattr(VSpace, method)


def _coordinates(name: str, x0: Any, user: list, in_space: Callable | None):
    """``x0`` with each user-space leaf replaced by its coordinates, and the way back.

    ``None`` where some space has no coordinates (no ``flatten``) and the optimizer can
    run in the space itself; a ``TypeError`` where it cannot.
    """
    spaces = {id(leaf): vspace(leaf) for leaf in user}
    missing = [vs for vs in spaces.values() if not _defines(vs, "flatten")]
    if missing:
        if in_space is not None:
            return None
        raise TypeError(
            f"{name}: x0 holds a value of a user's vector space ({type(missing[0]).__name__}) "
            f"that defines no coordinates, and {name} scales each coordinate on its own. "
            "Define flatten(value) and unflatten(vector) on the space, or use sgd, which "
            "needs only the space's add and scalar_mul."
        )
    leaves, treedef = tree_flatten(x0)
    leaf_spaces = [spaces.get(id(leaf)) for leaf in leaves]

    def to_coords(x: Any) -> Any:
        xs = tree_flatten(x)[0]
        return [x if vs is None else vs.flatten(x) for x, vs in zip(xs, leaf_spaces)]

    def from_coords(cs: Any) -> Any:
        parts = [c if vs is None else vs.unflatten(c) for c, vs in zip(cs, leaf_spaces)]
        return tree_unflatten(treedef, parts)

    return to_coords, from_coords


def _on_vectors(optimizer: Callable, in_space: Callable | None = None) -> Callable:
    """Run ``optimizer`` (written for a flat vector) on a pytree starting point.

    Leaves may be values of a user's vector space (``VSpace.register``): they are
    optimized in their coordinates where the space defines ``flatten``, and otherwise by
    ``in_space``, the optimizer written with the space's own operations, if it has one.
    """

    @functools.wraps(optimizer)
    def run(grad: Callable, x0: Any, callback: Callable | None = None, *args, **kwargs) -> Any:
        if not callable(grad):
            raise TypeError(
                f"{optimizer.__name__}: grad must be a function grad(x, i) returning the "
                f"gradient at x, got {type(grad).__name__}; pass e.g. matdiff.grad(loss)"
            )
        user = _user_leaves(x0)
        if user:
            coords = _coordinates(optimizer.__name__, x0, user, in_space)
            if coords is None:
                return in_space(grad, x0, callback, *args, **kwargs)
            to_coords, from_coords = coords

            def coord_grad(c, i):
                return to_coords(grad(from_coords(c), i))

            coord_callback = None
            if callback is not None:

                def coord_callback(c, i, g):
                    return callback(from_coords(c), i, from_coords(g))

            return from_coords(run(coord_grad, to_coords(x0), coord_callback, *args, **kwargs))
        x0_flat, unflatten = flatten(x0)
        if x0_flat.dtype.kind != "f":
            raise TypeError(
                f"{optimizer.__name__}: the starting point x0 has dtype {x0_flat.dtype}; pass "
                "floating-point values (e.g. 0.0 instead of 0, or x0.astype(float))"
            )

        def flat_grad(x, i):
            g_flat, g_unflatten = flatten(grad(unflatten(x), i))
            if g_flat.shape != x.shape:
                raise ValueError(
                    f"{optimizer.__name__}: grad returned {g_flat.shape[0]} entries for a "
                    f"starting point of {x.shape[0]}; grad(x, i) must have x's structure"
                )
            return g_flat

        if callback is None:
            flat_callback = None
        else:

            def flat_callback(x, i, g):
                return callback(unflatten(x), i, unflatten(g))

        return unflatten(optimizer(flat_grad, x0_flat, flat_callback, *args, **kwargs))

    return run


def unflatten_optimizer(optimizer: Callable) -> Callable:
    """Make ``optimizer(grad, x, callback, ...)``, written for a flat vector, run on pytrees.

    autograd's decorator of the same name: the returned optimiser flattens ``x0``, hands
    ``optimizer`` a gradient and a callback on the flat vector, and unflattens the result.

    >>> import numpy
    >>> @unflatten_optimizer
    ... def descend(grad, x, callback=None, num_iters=50, step_size=0.5):
    ...     for i in range(num_iters):
    ...         x = x - step_size * grad(x, i)
    ...     return x
    >>> out = descend(lambda p, i: {"a": p["a"] - 1.0, "b": p["b"] + 2.0},
    ...               {"a": numpy.zeros(2), "b": 0.0})
    >>> numpy.round(out["a"], 6), round(float(out["b"]), 6)
    (array([1., 1.]), -2.0)
    """
    return _on_vectors(optimizer)


def _schedule(step_size: float | Callable[[int], float]) -> Callable[[int], float]:
    if callable(step_size):
        return step_size
    return lambda i: step_size


def _sgd_in_space(grad, x, callback=None, num_iters=200, step_size=0.1, mass=0.9):
    """:func:`sgd` with only the vector spaces' ``zeros``, ``add`` and ``scalar_mul``."""
    step = _schedule(step_size)

    def axpy(a, x, y):  # a * x + y in x's space
        vs = vspace(x)
        return vs.add(vs.scalar_mul(x, a), y)

    velocity = tree_map(lambda leaf: vspace(leaf).zeros(), x)
    for i in range(num_iters):
        g = grad(x, i)
        if callback:
            callback(x, i, g)
        velocity = tree_map(
            lambda v, gi: axpy(mass, v, vspace(gi).scalar_mul(gi, mass - 1.0)), velocity, g
        )
        x = tree_map(lambda xi, v, a=step(i): axpy(a, v, xi), x, velocity)
    return x


@functools.partial(_on_vectors, in_space=_sgd_in_space)
def sgd(grad, x, callback=None, num_iters=200, step_size=0.1, mass=0.9):
    """Stochastic gradient descent with momentum ``mass``.

    >>> from matdiff import grad
    >>> import matdiff.numpy as np
    >>> float(np.round(sgd(grad(lambda x, i: (x - 1.0) ** 2), 0.0, num_iters=200), 4))
    1.0
    """
    step = _schedule(step_size)
    x = _np.array(x, dtype=float, copy=True)
    velocity = _np.zeros_like(x)
    for i in range(num_iters):
        g = grad(x, i)
        if callback:
            callback(x, i, g)
        velocity = mass * velocity - (1.0 - mass) * g
        x = x + step(i) * velocity
    return x


@_on_vectors
def rmsprop(grad, x, callback=None, num_iters=100, step_size=0.1, gamma=0.9, eps=10**-8):
    """Root-mean-square propagation: steps scaled by a running RMS of the gradient.

    >>> from matdiff import grad
    >>> import matdiff.numpy as np
    >>> x = rmsprop(grad(lambda x, i: np.sum((x - 2.0) ** 2)), np.zeros(2), num_iters=500,
    ...             step_size=0.01)
    >>> bool(np.allclose(x, 2.0, atol=0.02))
    True
    """
    step = _schedule(step_size)
    x = _np.array(x, dtype=float, copy=True)
    avg_sq_grad = _np.ones_like(x)
    for i in range(num_iters):
        g = grad(x, i)
        if callback:
            callback(x, i, g)
        avg_sq_grad = avg_sq_grad * gamma + g**2 * (1 - gamma)
        x = x - step(i) * g / (_np.sqrt(avg_sq_grad) + eps)
    return x


@_on_vectors
def adam(grad, x, callback=None, num_iters=100, step_size=0.001, b1=0.9, b2=0.999, eps=10**-8):
    """Adam (Kingma and Ba, 2015): bias-corrected running moments of the gradient.

    >>> from matdiff import grad
    >>> import matdiff.numpy as np
    >>> float(np.round(adam(grad(lambda x, i: (x + 1.0) ** 2), 0.0, num_iters=500,
    ...                     step_size=0.05), 3))
    -1.0
    >>> decaying = lambda i: 0.1 / (1 + i / 50)   # a schedule: the step of iteration i
    >>> float(np.round(adam(grad(lambda x, i: (x - 2.0) ** 2), 0.0, num_iters=1000,
    ...                     step_size=decaying), 6))
    2.0
    """
    step = _schedule(step_size)
    x = _np.array(x, dtype=float, copy=True)
    m = _np.zeros_like(x)
    v = _np.zeros_like(x)
    for i in range(num_iters):
        g = grad(x, i)
        if callback:
            callback(x, i, g)
        m = (1 - b1) * g + b1 * m
        v = (1 - b2) * (g**2) + b2 * v
        mhat = m / (1 - b1 ** (i + 1))
        vhat = v / (1 - b2 ** (i + 1))
        x = x - step(i) * mhat / (_np.sqrt(vhat) + eps)
    return x
