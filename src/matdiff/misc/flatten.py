"""A pytree as one flat vector and back (autograd's ``misc.flatten``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as _np

from .. import numpy as mnp
from ..tracer import getval
from ..tree import tree_flatten, tree_unflatten

__all__ = ["flatten"]


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
