"""A pytree as one flat vector and back, and a function of a pytree as a function of a vector
(autograd's ``misc.flatten``: :func:`flatten` and :func:`flatten_func`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as _np

from .. import numpy as mnp
from ..tracer import getval
from ..tree import tree_flatten, tree_unflatten

__all__ = ["flatten", "flatten_func"]


def flatten(value: Any) -> tuple[Any, Callable[[Any], Any]]:
    """``(flat, unflatten)``: the leaves of ``value`` raveled and concatenated, and the inverse.

    Leaves are taken in :func:`matdiff.tree_flatten`'s order (dict keys sorted). Both
    directions are made of differentiable operations, so a function of ``unflatten(v)``
    can be differentiated with respect to the vector ``v`` and vice versa. The vector has
    the common dtype of the leaves; an empty pytree gives an empty float vector.

    >>> import numpy
    >>> flat, unflatten = flatten((1.0, numpy.ones((2, 2)), [None, 2.0]))
    >>> flat.shape
    (6,)
    >>> unflatten(flat[::-1] * 0 + 5.0)[1]
    array([[5., 5.],
           [5., 5.]])
    """
    leaves, treedef = tree_flatten(value)
    shapes = [_np.shape(getval(leaf)) for leaf in leaves]
    sizes = [int(_np.prod(s)) for s in shapes]
    ends = _np.cumsum(sizes).tolist()
    if leaves:
        flat = mnp.concatenate([mnp.ravel(leaf) for leaf in leaves])
    else:
        flat = _np.zeros(0)
    n = int(ends[-1]) if ends else 0

    def unflatten(vector: Any) -> Any:
        got = _np.shape(getval(vector))
        if got != (n,):
            raise ValueError(
                f"flatten's unflatten: the vector has shape {got}, but the pytree it came from "
                f"has {n} entries; pass a vector of shape ({n},)"
            )
        parts, start = [], 0
        for shape, end in zip(shapes, ends):
            # A scalar leaf comes back a scalar, as it went in, not a 0-d array.
            parts.append(vector[start] if shape == () else mnp.reshape(vector[start:end], shape))
            start = end
        return tree_unflatten(treedef, parts)

    return flat, unflatten


def flatten_func(func: Callable, example: Any) -> tuple[Callable, Callable[[Any], Any], Any]:
    """``(flat_func, unflatten, flat_example)``: ``func`` as a function of one flat vector.

    ``func(x, *args)`` takes a pytree ``x`` shaped like ``example`` and returns a pytree;
    ``flat_func(v, *args)`` is ``flatten(func(unflatten(v), *args))[0]``, a 1-D vector (a
    scalar output comes back as shape (1,), as in autograd). ``unflatten`` and
    ``flat_example`` are those of ``flatten(example)``. Everything is differentiable, so
    an optimiser or a Hessian written for vectors runs on a function of a pytree.

    >>> import matdiff.numpy as np
    >>> from matdiff import jacobian
    >>> loss = lambda p, k: k * np.sum(p["w"] ** 2) + p["b"]
    >>> flat_loss, unflatten, v = flatten_func(loss, {"w": np.array([1.0, 2.0]), "b": 0.5})
    >>> v, flat_loss(v, 3.0)
    (array([0.5, 1. , 2. ]), array([15.5]))
    >>> jacobian(flat_loss)(v, 3.0)
    array([[ 1.,  6., 12.]])
    """
    flat_example, unflatten = flatten(example)

    def flat_func(vector: Any, *args: Any) -> Any:
        return flatten(func(unflatten(vector), *args))[0]

    flat_func.__name__ = f"flat_{getattr(func, '__name__', 'func')}"
    return flat_func, unflatten, flat_example
