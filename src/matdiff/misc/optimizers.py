"""Gradient-descent loops over pytrees, with autograd's ``misc.optimizers`` signatures.

Each optimiser takes ``grad(x, i)`` (the gradient at ``x`` on iteration ``i``), a
starting point ``x0`` (any pytree of float arrays and numbers) and an optional
``callback(x, i, g)`` called every iteration before the step, and returns the final
point with ``x0``'s structure. The loops run on the flattened vector
(:func:`matdiff.misc.flatten`), so a step costs a few vector operations whatever the
pytree. ``step_size`` is a number or, as in JAX's optimizers, a schedule: a function of
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
from typing import Any

import numpy as _np

from .flatten import flatten

__all__ = ["sgd", "rmsprop", "adam", "unflatten_optimizer"]


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

    @functools.wraps(optimizer)
    def run(grad: Callable, x0: Any, callback: Callable | None = None, *args, **kwargs) -> Any:
        if not callable(grad):
            raise TypeError(
                f"{optimizer.__name__}: grad must be a function grad(x, i) returning the "
                f"gradient at x, got {type(grad).__name__}; pass e.g. matdiff.grad(loss)"
            )
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


def _schedule(step_size: float | Callable[[int], float]) -> Callable[[int], float]:
    if callable(step_size):
        return step_size
    return lambda i: step_size


@unflatten_optimizer
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


@unflatten_optimizer
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


@unflatten_optimizer
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
