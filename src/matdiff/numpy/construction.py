"""Array construction from traced values: ``np.array([a, b, c])`` and ``np.asarray``.

A list (or nested lists and tuples) that holds traced scalars or arrays becomes one
traced array, built by stacking, so each element receives its part of the derivative.
Plain data gives a plain NumPy array, exactly as ``numpy.array`` would.
"""

from __future__ import annotations

from typing import Any

import numpy as _np

from ..tracer import box_types
from . import manipulation as _shape
from ._wrap import export, shape_of


def _holds_box(obj) -> bool:
    for x in obj:
        if type(x) in box_types:
            return True
        if isinstance(x, (list, tuple)) and _holds_box(x):
            return True
    return False


def _build(obj):
    """Stack a nested sequence that holds traced values; plain parts stay plain."""
    if not _holds_box(obj):
        return _np.array(obj)
    items = [_build(x) if isinstance(x, (list, tuple)) else x for x in obj]
    shapes = {tuple(shape_of(x)) for x in items}
    if len(shapes) > 1:
        raise ValueError(
            f"array: the elements of a sequence have different shapes {sorted(shapes)}; "
            "a traced array must be rectangular (pad or reshape the elements first)"
        )
    return _shape._stack(0, *items)


def _traced(obj, dtype, ndmin):
    out = obj if type(obj) in box_types else _build(obj)
    if dtype is not None:
        out = _shape.astype(out, dtype)
    nd = len(shape_of(out))
    if ndmin > nd:
        out = _shape.reshape(out, (1,) * (ndmin - nd) + tuple(shape_of(out)))
    return out


@export
def array(object: Any, dtype=None, *, copy=True, order="K", subok=False, ndmin=0, like=None) -> Any:
    """``numpy.array`` that keeps derivatives: lists of traced values become a traced array.

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> grad(lambda x: np.sum(np.array([x, 2.0 * x, [x, x][1]]) ** 2))(1.0)
    np.float64(12.0)
    """
    if type(object) in box_types or (isinstance(object, (list, tuple)) and _holds_box(object)):
        return _traced(object, dtype, ndmin)
    kwargs = {"dtype": dtype, "copy": copy, "order": order, "subok": subok, "ndmin": ndmin}
    if like is not None:
        kwargs["like"] = like
    return _np.array(object, **kwargs)


@export
def asarray(a: Any, dtype=None, order=None, **kwargs) -> Any:
    """``numpy.asarray`` that keeps derivatives: a traced value is returned as it is.

    >>> import matdiff.numpy as np
    >>> np.asarray([1.0, 2.0])
    array([1., 2.])
    """
    if type(a) in box_types or (isinstance(a, (list, tuple)) and _holds_box(a)):
        return _traced(a, dtype, 0)
    return _np.asarray(a, dtype=dtype, order=order, **kwargs)


@export
def asanyarray(a: Any, dtype=None, order=None, **kwargs) -> Any:
    """``numpy.asanyarray``, as :func:`asarray`.

    >>> import matdiff.numpy as np
    >>> np.asanyarray((1.0, 2.0)).shape
    (2,)
    """
    return asarray(a, dtype=dtype, order=order, **kwargs)
