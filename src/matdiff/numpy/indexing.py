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

from .. import backends as _backends
from ..core import def_linear, defjvp, defvjp
from ..tracer import box_types, branch, getval
from . import _batch
from . import ufuncs as _uf
from ._broadcast import broadcast_to, reshape
from ._broadcast import sum as _sum
from ._wrap import example_value, export, is_complex, is_concrete, shape_of, wrap


def _ravel(a):
    # ravel(a), which manipulation builds on indexing, written with reshape.
    return reshape(a, (-1,))


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
        # An index computed by jit from traced values (x[np.argmax(x)]): index the example
        # here, while the recorded equation keeps the index itself.
        example = example_value(idx)
        if example is not idx:
            return x[example]
        raise


getitem = wrap(_getitem_raw, "getitem", batch=_batch.getitem)

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


def _is_duck(g) -> bool:
    """Whether ``g`` is a duck array (jit's staged value), not an array or a number (nor an
    array of another library, which is written into like NumPy's)."""
    return (
        not isinstance(g, (_np.ndarray, _np.generic))
        and hasattr(g, "__array_function__")
        and not _backends.foreign(g)
    )


def _scatter_add_raw(g, shape, idx, dtype, once=False):
    if _is_duck(g):
        # A duck array (jit's staged value, from a rule's mask and a constant seed) cannot be
        # written into ``out``; let it handle the whole call, as NumPy's own functions do.
        return g.__array_function__(_scatter_add_raw, (type(g),), (g, shape, idx, dtype, once), {})
    idx = example_value(idx)
    out = _backends.zeros(shape, _np.result_type(dtype, g), g)
    if once:
        out[idx] = g
    else:
        _np.add.at(out, idx, g)
    return out


scatter_add = wrap(_scatter_add_raw, "scatter_add", batch=_batch.scatter_add)
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
# An index may be traced (interp's segments under jit): it has no derivative.
defvjp(
    scatter_add,
    lambda ans, g, shape, idx, dtype, once=False: lambda h: getitem(h, idx),
    None,
    None,
)
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
        a = _ravel(a)
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


def _along_axis_index(indices, shape: tuple, axis: int) -> tuple:
    """The fancy index that picks ``indices`` along ``axis`` and every position elsewhere."""
    nd = len(shape)
    idx = []
    for d in range(nd):
        if d == axis:
            idx.append(indices)
        else:
            where = [1] * nd
            where[d] = shape[d]
            idx.append(_np.arange(shape[d]).reshape(where))
    return tuple(idx)


def _gather_along_axis_raw(arr, indices, *, axis: int):
    indices = example_value(indices)
    return arr[_along_axis_index(indices, arr.shape, axis)]


def _scatter_along_axis_raw(g, indices, *, shape: tuple, axis: int, dtype):
    if _is_duck(g):
        # As in _scatter_add_raw: a staged cotangent records the call instead.
        return g.__array_function__(
            _scatter_along_axis_raw,
            (type(g),),
            (g, indices),
            {"shape": shape, "axis": axis, "dtype": dtype},
        )
    indices = example_value(indices)
    out = _backends.zeros(shape, _np.result_type(dtype, g), g)
    # Indices given by the user may repeat along the axis: accumulate.
    _np.add.at(out, _along_axis_index(indices, shape, axis), g)
    return out


# The index array is a positional argument, so that staging (jit) records it as an
# operand: an index computed from traced values (argsort) stays part of the program.
_gather_along_axis = wrap(
    _gather_along_axis_raw, "_gather_along_axis", batch=_batch.gather_along_axis
)
_scatter_along_axis = wrap(
    _scatter_along_axis_raw, "_scatter_along_axis", batch=_batch.scatter_along_axis
)


def _gather_along_axis_vjp(ans, arr, indices, *, axis):
    shape = shape_of(arr)
    x_real = not is_complex(arr)
    dtype = _np.result_type(getval(arr))

    def vjp(g):
        if x_real and is_complex(g):
            g = _uf.real(g)
        return _scatter_along_axis(g, indices, shape=shape, axis=axis, dtype=dtype)

    return vjp


defvjp(_gather_along_axis, _gather_along_axis_vjp, None)
defjvp(_gather_along_axis, "same", None)
defvjp(
    _scatter_along_axis,
    lambda ans, g, indices, **kw: lambda h: _gather_along_axis(h, indices, axis=kw["axis"]),
    None,
)
defjvp(_scatter_along_axis, "same", None)


@export
def take_along_axis(arr: ArrayLike, indices: ArrayLike, axis=-1) -> Any:
    """``numpy.take_along_axis``: gather with an index array shaped like ``arr``.

    >>> import matdiff.numpy as np
    >>> x = np.array([[3.0, 1.0], [2.0, 5.0]])
    >>> np.take_along_axis(x, np.argsort(x, axis=1), axis=1)
    array([[1., 3.],
           [2., 5.]])
    """
    if type(indices) in box_types:
        # An index carries no derivative; drop any differentiation trace from it.
        indices = getval(indices)
    if not hasattr(indices, "dtype"):
        indices = _np.asarray(indices)
    if indices.dtype.kind not in "iu":
        raise TypeError(
            f"take_along_axis: indices must be an integer array, got dtype {indices.dtype}; "
            "compute them with argsort, argmax or an integer array"
        )
    if axis is None:
        arr = _ravel(arr)
        axis = 0
    s = shape_of(arr)
    nd = len(s)
    if indices.ndim != nd:
        raise ValueError(
            f"take_along_axis: indices has {indices.ndim} dimensions but arr has {nd}; "
            "they must have the same number of dimensions"
        )
    ax = normalize_axis_index(axis, nd)
    if type(arr) not in box_types:
        arr = _np.asarray(arr)
    return _gather_along_axis(arr, indices, axis=ax)


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
        # Conditions stay as given (they may be staged by jit): only their dtype is read.
        c = getval(cond)
        if not hasattr(c, "dtype"):
            c = _np.asarray(c)
        if c.dtype != bool:
            raise TypeError(f"select: conditions must be boolean arrays, got dtype {c.dtype}")
        result = _uf.where(c, choice, result)
    shape = _np.broadcast_shapes(*[shape_of(x) for x in condlist + choicelist + [default]])
    if shape_of(result) != shape:
        result = broadcast_to(result, shape)
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
        a = _ravel(a)
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
        a = _ravel(a)
        axis = -1
    if type(a) not in box_types:
        return _np.partition(a, kth, axis=axis, kind=kind)
    perm = _np.argpartition(getval(a), kth, axis=axis, kind=kind)
    return take_along_axis(a, perm, axis=axis)


@export
def compress(condition: ArrayLike, a: ArrayLike, axis=None, out=None) -> Any:
    """``numpy.compress``: the slices of ``a`` along ``axis`` where ``condition`` holds.

    >>> import matdiff.numpy as np
    >>> np.compress([True, False, True], np.array([1.0, 2.0, 3.0]))
    array([1., 3.])
    """
    if out is not None:
        raise TypeError("compress: out= is not supported on traced values; use the return value")
    cond = _np.asarray(getval(condition), dtype=bool)
    if cond.ndim != 1:
        raise ValueError(f"compress: condition must be 1-D, got shape {cond.shape}")
    if axis is None:
        a = _ravel(a)
        axis = 0
    s = shape_of(a)
    ax = normalize_axis_index(axis, len(s))
    if cond.shape[0] > s[ax]:
        raise ValueError(
            f"compress: condition has {cond.shape[0]} entries but axis {axis} of the array has "
            f"only {s[ax]}"
        )
    # NumPy reads a shorter condition as False beyond its end.
    idx = _np.flatnonzero(cond)
    return getitem(a, (slice(None),) * ax + (idx,))


@export
def piecewise(x: ArrayLike, condlist, funclist, *args, **kw) -> Any:
    """``numpy.piecewise``: ``funclist[k]`` applied where ``condlist[k]`` holds (a later
    condition wins where several hold; an extra function covers the rest; entries no
    condition covers are 0). Differentiable in ``x`` and in traced constants in ``funclist``.

    Each function must act elementwise, as NumPy requires of it. It receives ``x``
    flattened, with the entries its condition does not hold for replaced by one it does
    hold for (so it sees only values NumPy would give it), and is not called when its
    condition holds nowhere. This keeps every shape independent of the values, so
    ``jit`` can compile it.

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> x = np.array([-2.0, 3.0])
    >>> grad(lambda x: np.sum(np.piecewise(x, [x < 0, x >= 0], [lambda v: -v, lambda v: v**2])))(x)
    array([-1.,  6.])
    """
    if type(x) not in box_types and not any(type(f) in box_types for f in funclist):
        return _np.piecewise(x, condlist, funclist, *args, **kw)
    xv = getval(x)
    x_shape, x_dtype = _np.shape(xv), _np.result_type(xv)
    # NumPy's reading of condlist: one condition may be given bare.
    if _is_bare_condition(condlist, len(x_shape)):
        condlist = [condlist]
    conds = [_as_bool_mask(c, x_shape) for c in condlist]
    if len(funclist) == len(conds) + 1:
        if conds:
            covered = conds[0]
            for c in conds[1:]:
                covered = covered | c
            conds.append(~covered)
        else:
            conds.append(_np.ones(x_shape, bool))
    elif len(funclist) != len(conds):
        raise ValueError(
            f"piecewise: got {len(conds)} conditions and {len(funclist)} functions; pass one "
            "function (or value) per condition, plus optionally one for everything else"
        )
    # Each piece is selected with where, in order, so a later condition wins as in NumPy's
    # sequential assignment. No index depends on the data, so jit can record it all.
    flat = _ravel(x)
    flat_shape = (int(_np.prod(x_shape)),)
    out = _np.zeros(flat_shape, x_dtype)
    for c, f in zip(conds, funclist):
        c = _np.ravel(c)
        if not branch(_np.any(c)):
            continue  # NumPy does not call a function that owns no entry
        if callable(f):
            # f sees every entry, but those c does not own are replaced by one it owns (the
            # first), so f runs only on values NumPy would give it: no spurious NaN in the
            # result or in its derivative (where's cotangent there is an exact zero). Under
            # jit the first owned value is picked by a mask and a sum, exactly, with no
            # index read from the data.
            k = _np.argmax(c)
            if is_concrete(k):
                owned = getitem(flat, int(k))
            else:
                owned = _sum(_uf.where(_np.arange(flat_shape[0]) == k, flat, 0))
            vals = f(_uf.where(c, flat, owned), *args, **kw)
        else:
            vals = f
        if _np.result_type(getval(vals)) != x_dtype:
            vals = _uf.astype(vals, x_dtype)  # NumPy writes into an array like x
        out = _uf.where(c, vals, out)
    return reshape(out, x_shape)


def _is_bare_condition(condlist, x_ndim: int) -> bool:
    """NumPy's test for one condition given alone rather than a list of conditions: it is a
    scalar, or its first entry is a scalar (and ``x`` is not 0-d)."""
    if isinstance(condlist, list | tuple):
        if x_ndim == 0:
            return False
        c = condlist[0]
        if isinstance(c, list | _np.ndarray) or type(c) in box_types:
            return False
        # A condition computed under jit is recorded, not an ndarray, but is an array all
        # the same; a NumPy scalar (np.True_) is not.
        return not hasattr(c, "shape") or isinstance(c, _np.generic)
    # One array of conditions (NumPy's x < 0, or one recorded under jit): its first entry
    # is a scalar exactly when it is 1-D; a 0-d one is the scalar NumPy would see.
    nd = _np.ndim(getval(condlist))
    return nd == 0 or (nd == 1 and x_ndim != 0)


def _as_bool_mask(c, shape: tuple):
    """A piecewise condition as a boolean mask of ``shape`` (recorded under jit, not read)."""
    v = getval(c)
    if not hasattr(v, "dtype"):
        v = _np.asarray(v, dtype=bool)
    elif v.dtype != bool:
        v = v.astype(bool)
    return _np.broadcast_to(v, shape)


@export
def interp(x: ArrayLike, xp: ArrayLike, fp: ArrayLike, left=None, right=None, period=None) -> Any:
    """``numpy.interp``: piecewise-linear interpolation, differentiable in ``x``, ``xp``,
    ``fp``, ``left`` and ``right``.

    Each point uses the segment ``xp[i] <= x < xp[i + 1]`` (found on the values), so the
    derivative in ``x`` at a sample point is the slope to its right (at the last sample
    point, the last segment's).

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> grad(lambda fp: np.interp(1.5, np.array([0.0, 1.0, 2.0]), fp))(np.zeros(3))
    array([0. , 0.5, 0.5])
    """
    if not any(type(a) in box_types for a in (x, xp, fp, left, right)):
        return _np.interp(x, xp, fp, left=left, right=right, period=period)
    # Plain sample points or values given as lists are indexed below as arrays.
    x, xp, fp = (a if type(a) in box_types else _np.asarray(a) for a in (x, xp, fp))
    if period is not None:
        raise NotImplementedError(
            "interp: period= is not supported with traced arguments; reduce x and xp modulo "
            "the period and sort them first (np.mod, np.argsort), then call interp without it"
        )
    # Values are read for their shapes and in NumPy calls only, never converted: under jit
    # those calls are recorded, so the segments are found again on every call.
    xv, xpv = getval(x), getval(xp)
    xp_shape, fp_shape = _np.shape(xpv), _np.shape(getval(fp))
    if len(xp_shape) != 1 or xp_shape != fp_shape:
        raise ValueError(
            f"interp: xp and fp must be 1-D arrays of the same length, got shapes "
            f"{xp_shape} and {fp_shape}"
        )
    n = xp_shape[0]
    if n == 0:
        raise ValueError("interp: xp and fp are empty; give at least one sample point")
    first, last = _getitem_raw_of(fp, 0), _getitem_raw_of(fp, -1)
    if n == 1:
        val = _uf.add(_uf.multiply(0.0, x), first)
    else:
        if is_concrete(xv) and is_concrete(xpv):
            i = _interp_segment_raw(xv, xpv)
            j = i + 1
        else:
            # Under jit the segments are a primitive's answer, recorded in the program.
            i = _interp_segment(x, xp)
            j = _uf.add(i, 1)
        x0, x1 = getitem(xp, i), getitem(xp, j)
        f0, f1 = getitem(fp, i), getitem(fp, j)
        slope = _uf.divide(_uf.subtract(f1, f0), _uf.subtract(x1, x0))
        val = _uf.add(_uf.multiply(slope, _uf.subtract(x, x0)), f0)
    below, above = xv < xpv[0], xv > xpv[-1]
    # Values that cannot be read (under jit) are always selected: no branch on the data.
    concrete = is_concrete(below)
    if not concrete or below.any():
        val = _uf.where(below, first if left is None else left, val)
    if not concrete or above.any():
        val = _uf.where(above, last if right is None else right, val)
    # NumPy interpolates in double precision whatever the inputs' precision.
    out_dtype = _np.complex128 if is_complex(val) else _np.float64
    if _np.result_type(getval(val)) != out_dtype:
        val = _uf.astype(val, out_dtype)
    return val


def _interp_segment_raw(x, xp):
    """The segment ``xp[i] <= x < xp[i + 1]`` of each point, clipped to the first and last."""
    return _np.clip(_np.searchsorted(xp, x, side="right") - 1, 0, len(xp) - 2)


# A primitive (with no derivative: the segment is piecewise constant) rather than NumPy on
# values: its answer is traced like any other, so jit records the index and getitem can
# take it as an operand, where an index read from the values could not be recorded.
_interp_segment = wrap(_interp_segment_raw, "_interp_segment", vjp=(None, None), jvp=(None, None))


def _getitem_raw_of(a, i):
    return getitem(a, i) if type(a) in box_types else _np.asarray(a)[i]
