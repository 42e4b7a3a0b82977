"""Indexing: ``x[idx]`` and its scatter-add VJP; take, take_along_axis, select, sort.

``getitem`` is the one primitive: every gather (``take``, ``sort``, ``diagonal``,
``flip``...) is a ``getitem`` with a computed index, so its VJP is one scatter-add.
Repeated indices accumulate (``numpy.add.at``); indices that cannot repeat (ints,
slices, ``None``, ``...``, a single boolean mask) use a plain assignment, which is faster.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as _np

from ..core import def_linear, defvjp
from ..tracer import box_types, getval
from . import manipulation as _shape
from . import ufuncs as _uf
from ._wrap import export, is_complex, shape_of, wrap

try:  # NumPy >= 2
    from numpy.lib.array_utils import normalize_axis_index
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core.multiarray import normalize_axis_index


#: What these functions accept for an array: an ndarray, a number, or a traced value.
ArrayLike = Any


def _getitem_raw(x, idx):
    """``x[idx]`` for any NumPy index: ints, slices, ``...``, ``None``, integer and boolean
    arrays, and mixes of them.

    >>> import matdiff.numpy as np
    >>> np.getitem(np.arange(6.0).reshape(2, 3), (Ellipsis, [0, 0]))
    array([[0., 0.],
           [3., 3.]])
    """
    try:
        return x[idx]
    except TypeError:
        # A Python scalar (a 0-d value) is not subscriptable; its array is.
        if isinstance(x, (float, int, complex)):
            return _np.asarray(x)[idx]
        raise


getitem = wrap(_getitem_raw, "getitem")

_BASIC = (int, slice, type(None), type(Ellipsis), _np.integer)


def _writes_once(idx) -> bool:
    """Whether ``idx`` can select no element twice (so a scatter may assign, not add)."""
    if type(idx) is not tuple:
        idx = (idx,)
    masks = 0
    for i in idx:
        if isinstance(i, _BASIC):
            continue
        if isinstance(i, _np.ndarray) and i.dtype == bool:
            masks += 1
            continue
        return False
    # Two masks combine by broadcasting their nonzero indices, which may repeat.
    return masks <= 1


def _scatter_add_raw(g, shape, idx, dtype, once=False):
    out = _np.zeros(shape, dtype=_np.result_type(dtype, g))
    if once:
        out[idx] = g
    else:
        _np.add.at(out, idx, g)
    return out


scatter_add = wrap(_scatter_add_raw, "scatter_add")
scatter_add.__doc__ = """``zeros(shape)`` with ``g`` added at ``idx`` (repeated indices accumulate).

>>> import matdiff.numpy as np
>>> np.scatter_add(np.ones(3), (2,), np.array([0, 1, 0]), np.float64)
array([2., 1.])
"""


def _getitem_vjp(ans, x, idx):
    shape = shape_of(x)
    x_real = not is_complex(x)
    dtype = _np.result_type(getval(x))
    once = _writes_once(idx)

    def vjp(g):
        if x_real and is_complex(g):
            g = _uf.real(g)
        return scatter_add(g, shape, idx, dtype, once)

    return vjp


defvjp(getitem, _getitem_vjp, None)
def_linear(getitem)
defvjp(scatter_add, lambda ans, g, shape, idx, dtype, once=False: lambda h: getitem(h, idx))
def_linear(scatter_add)


# ---------------------------------------------------------------- gathers


@export
def take(a: ArrayLike, indices: ArrayLike, axis=None, out=None, mode="raise") -> Any:
    """``numpy.take``: elements at ``indices`` along ``axis`` (of the flattened array if None).

    >>> import matdiff.numpy as np
    >>> np.take(np.array([[1.0, 2.0], [3.0, 4.0]]), [1, 1], axis=1)
    array([[2., 2.],
           [4., 4.]])
    """
    if out is not None:
        raise TypeError("take: out= is not supported on traced values; use the return value")
    if axis is None:
        a = _shape.ravel(a)
        axis = 0
    s = shape_of(a)
    ax = normalize_axis_index(axis, len(s))
    idx = _np.asarray(getval(indices))
    if mode == "wrap":
        idx = idx % s[ax]
    elif mode == "clip":
        idx = _np.clip(idx, 0, s[ax] - 1)
    elif mode != "raise":
        raise ValueError(f"take: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
    return getitem(a, (slice(None),) * ax + (idx,))


@export
def take_along_axis(arr: ArrayLike, indices: ArrayLike, axis=-1) -> Any:
    """``numpy.take_along_axis``: gather with an index array shaped like ``arr``.

    >>> import matdiff.numpy as np
    >>> x = np.array([[3.0, 1.0], [2.0, 5.0]])
    >>> np.take_along_axis(x, np.argsort(x, axis=1), axis=1)
    array([[1., 3.],
           [2., 5.]])
    """
    indices = _np.asarray(getval(indices))
    if axis is None:
        arr = _shape.ravel(arr)
        axis = 0
    s = shape_of(arr)
    nd = len(s)
    if indices.ndim != nd:
        raise ValueError(
            f"take_along_axis: indices has {indices.ndim} dimensions but arr has {nd}; "
            "they must have the same number of dimensions"
        )
    ax = normalize_axis_index(axis, nd)
    idx = []
    for d in range(nd):
        if d == ax:
            idx.append(indices)
        else:
            shape = [1] * nd
            shape[d] = s[d]
            idx.append(_np.arange(s[d]).reshape(shape))
    return getitem(arr, tuple(idx))


@export
def select(condlist: Sequence[ArrayLike], choicelist: Sequence[ArrayLike], default=0) -> Any:
    """``numpy.select``: the first choice whose condition holds, else ``default``.

    >>> import matdiff.numpy as np
    >>> x = np.array([-1.0, 0.5, 2.0])
    >>> np.select([x < 0, x > 1], [-x, x**2], default=x)
    array([1. , 0.5, 4. ])
    """
    condlist, choicelist = list(condlist), list(choicelist)
    if len(condlist) != len(choicelist):
        raise ValueError(
            f"select: got {len(condlist)} conditions but {len(choicelist)} choices; "
            "pass one choice per condition"
        )
    if not condlist:
        raise ValueError("select: the list of conditions is empty")
    result = default
    for cond, choice in zip(reversed(condlist), reversed(choicelist)):
        c = _np.asarray(getval(cond))
        if c.dtype != bool:
            raise TypeError(f"select: conditions must be boolean arrays, got dtype {c.dtype}")
        result = _uf.where(c, choice, result)
    shape = _np.broadcast_shapes(*[shape_of(x) for x in condlist + choicelist + [default]])
    if shape_of(result) != shape:
        result = _shape.broadcast_to(result, shape)
    return result


@export
def sort(a: ArrayLike, axis=-1, kind=None, order=None, *, stable=None) -> Any:
    """``numpy.sort``, differentiable: a gather by the ``argsort`` permutation.

    The VJP sends each cotangent back to the element that landed there; among equal
    elements it follows the order ``argsort`` chose.

    >>> import matdiff.numpy as np
    >>> np.sort(np.array([3.0, 1.0, 2.0]))
    array([1., 2., 3.])
    """
    if order is not None:
        raise TypeError("sort: order= (structured arrays) is not differentiable")
    if axis is None:
        a = _shape.ravel(a)
        axis = -1
    if type(a) not in box_types:
        return _np.sort(a, axis=axis, kind=kind, stable=stable)
    perm = _np.argsort(getval(a), axis=axis, kind=kind, stable=stable)
    return take_along_axis(a, perm, axis=axis)


@export
def partition(a: ArrayLike, kth, axis=-1, kind="introselect", order=None) -> Any:
    """``numpy.partition``, differentiable: a gather by the ``argpartition`` permutation.

    >>> import matdiff.numpy as np
    >>> float(np.partition(np.array([3.0, 1.0, 2.0]), 1)[1])
    2.0
    """
    if order is not None:
        raise TypeError("partition: order= (structured arrays) is not differentiable")
    if axis is None:
        a = _shape.ravel(a)
        axis = -1
    if type(a) not in box_types:
        return _np.partition(a, kth, axis=axis, kind=kind)
    perm = _np.argpartition(getval(a), kth, axis=axis, kind=kind)
    return take_along_axis(a, perm, axis=axis)
