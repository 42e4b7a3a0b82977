"""Reductions with ``axis`` and ``keepdims``, and their rules."""

from __future__ import annotations

import numpy as _np

from ..core import defjvp, defvjp
from . import manipulation as _shape
from ._wrap import shape_of, wrap


def _normalize_axis(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        axis = (axis,)
    return tuple(a % ndim if ndim else a for a in axis)


def expand_to(g, x_shape, axis, keepdims):
    """Broadcast a reduced cotangent ``g`` back to ``x_shape``."""
    if not keepdims and x_shape:
        axes = _normalize_axis(axis, len(x_shape))
        kept = tuple(1 if i in axes else n for i, n in enumerate(x_shape))
        g = _shape.reshape(g, kept)
    return _shape.broadcast_to(g, x_shape)


def _sum_raw(x, axis=None, dtype=None, keepdims=False):
    return _np.sum(x, axis=axis, dtype=dtype, keepdims=keepdims)


sum = wrap(_sum_raw, "sum")
defvjp(
    sum,
    lambda ans, x, axis=None, dtype=None, keepdims=False: (
        lambda g: expand_to(g, shape_of(x), axis, keepdims)
    ),
)
defjvp(sum, lambda g, ans, x, axis=None, dtype=None, keepdims=False: sum(g, axis, dtype, keepdims))


def _mean_raw(x, axis=None, dtype=None, keepdims=False):
    return _np.mean(x, axis=axis, dtype=dtype, keepdims=keepdims)


def _count(x_shape, axis):
    n = 1
    for a in _normalize_axis(axis, len(x_shape)):
        n *= x_shape[a]
    return n


mean = wrap(_mean_raw, "mean")
defvjp(
    mean,
    lambda ans, x, axis=None, dtype=None, keepdims=False: (
        lambda g: expand_to(g, shape_of(x), axis, keepdims) / _count(shape_of(x), axis)
    ),
)
defjvp(
    mean, lambda g, ans, x, axis=None, dtype=None, keepdims=False: mean(g, axis, dtype, keepdims)
)
