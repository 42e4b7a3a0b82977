"""Shape manipulation: reshape, transpose, joining, splitting, padding, diagonals.

Few primitives, the rest composed. The primitives are ``reshape`` and ``broadcast_to``
(made in ``_broadcast.py``, which every rule needs), ``transpose``, ``_concatenate``,
``_stack``, ``_pad_constant``, ``_diag_from_vector``, ``_tril``, ``_triu`` and ``copy``
(plus ``getitem`` in ``indexing.py`` and the cast ``astype`` in ``ufuncs.py``); each
is linear in its array arguments, so its JVP is itself applied to the tangent and its VJP
is its transpose.
Everything else (``moveaxis``, ``tile``, ``repeat``, ``roll``, ``rot90``, ``diagonal``...)
is a Python function over those primitives, so its derivatives of every order follow.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as _np

from ..core import def_linear, defjvp, defvjp, jvp_rules, vjp_rules
from ..tracer import box_types, getval
from . import _batch
from . import indexing as _ix
from . import ufuncs as _uf
from ._broadcast import broadcast_to, no_out, reshape, unbroadcast
from ._broadcast import sum as _sum
from ._wrap import VarargTable, alias, export, shape_of, wrap

try:  # NumPy >= 2
    from numpy.lib.array_utils import normalize_axis_index, normalize_axis_tuple
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core.multiarray import normalize_axis_index
    from numpy.core.numeric import normalize_axis_tuple


#: What these functions accept for an array: an ndarray, a number, or a traced value.
ArrayLike = Any


def _ndim(x) -> int:
    return len(shape_of(x))


# ---------------------------------------------------------------- reshape and transpose
# reshape is made in _broadcast.


@export
def ravel(a: ArrayLike, order="C") -> Any:
    """``numpy.ravel``: the elements of ``a`` as a 1-D array.

    >>> import matdiff.numpy as np
    >>> np.ravel(np.array([[1.0, 2.0], [3.0, 4.0]]), order="F")
    array([1., 3., 2., 4.])
    """
    if order in ("A", "K"):
        # NumPy reads memory order here; follow the value's layout so results agree.
        v = getval(a)
        f_only = getattr(getattr(v, "flags", None), "f_contiguous", False) and not getattr(
            v.flags, "c_contiguous", True
        )
        order = "F" if f_only else "C"
    return reshape(a, (-1,), order=order)


def _transpose_raw(x, axes=None):
    """``numpy.transpose``: permute the axes (reverse them by default).

    >>> import matdiff.numpy as np
    >>> np.transpose(np.zeros((2, 3, 4)), (1, 2, 0)).shape
    (3, 4, 2)
    """
    return _np.transpose(x, axes)


transpose = wrap(_transpose_raw, "transpose", batch=_batch.transpose)
alias("transpose", transpose)
alias("permute_dims", transpose)


def _transpose_vjp(ans, x, axes=None):
    if axes is None:
        return transpose
    nd = _ndim(x)
    inverse = tuple(_np.argsort([a % nd for a in axes]))
    return lambda g: transpose(g, inverse)


defvjp(transpose, _transpose_vjp)
def_linear(transpose)


@export
def moveaxis(a: ArrayLike, source, destination) -> Any:
    """``numpy.moveaxis``: move axes to new positions, keeping the others in order.

    >>> import matdiff.numpy as np
    >>> np.moveaxis(np.zeros((2, 3, 4)), 0, -1).shape
    (3, 4, 2)
    """
    nd = _ndim(a)
    src = normalize_axis_tuple(source, nd, "source")
    dst = normalize_axis_tuple(destination, nd, "destination")
    if len(src) != len(dst):
        raise ValueError(
            "moveaxis: `source` and `destination` must have the same number of elements"
        )
    order = [n for n in range(nd) if n not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    if order == list(range(nd)):
        return a
    return transpose(a, tuple(order))


@export
def swapaxes(a: ArrayLike, axis1, axis2) -> Any:
    """``numpy.swapaxes``: interchange two axes.

    >>> import matdiff.numpy as np
    >>> np.swapaxes(np.zeros((2, 3, 4)), 0, -1).shape
    (4, 3, 2)
    """
    nd = _ndim(a)
    i, j = normalize_axis_index(axis1, nd), normalize_axis_index(axis2, nd)
    order = list(range(nd))
    order[i], order[j] = order[j], order[i]
    return transpose(a, tuple(order))


@export
def matrix_transpose(x: ArrayLike, /) -> Any:
    """``numpy.matrix_transpose``: swap the last two axes.

    >>> import matdiff.numpy as np
    >>> np.matrix_transpose(np.zeros((4, 2, 3))).shape
    (4, 3, 2)
    """
    return swapaxes(x, -1, -2)


@export
def expand_dims(a: ArrayLike, axis) -> Any:
    """``numpy.expand_dims``: insert axes of length one at ``axis`` (an int or a tuple).

    >>> import matdiff.numpy as np
    >>> np.expand_dims(np.zeros((2, 3)), (0, -1)).shape
    (1, 2, 3, 1)
    """
    s = shape_of(a)
    if not isinstance(axis, (tuple, list)):
        axis = (axis,)
    out_nd = len(s) + len(axis)
    axes = normalize_axis_tuple(axis, out_nd)
    it = iter(s)
    new = tuple(1 if k in axes else next(it) for k in range(out_nd))
    return reshape(a, new)


@export
def squeeze(a: ArrayLike, axis=None) -> Any:
    """``numpy.squeeze``: remove axes of length one (all of them, or those in ``axis``).

    >>> import matdiff.numpy as np
    >>> np.squeeze(np.zeros((1, 3, 1)), axis=-1).shape
    (1, 3)
    """
    s = shape_of(a)
    if axis is None:
        axes = tuple(k for k, n in enumerate(s) if n == 1)
    else:
        axes = normalize_axis_tuple(axis, len(s))
        for k in axes:
            if s[k] != 1:
                raise ValueError(
                    f"squeeze: axis {k} has length {s[k]}, and only axes of length one can be "
                    "squeezed out; pick another axis or use reshape"
                )
    return reshape(a, tuple(n for k, n in enumerate(s) if k not in axes))


# ---------------------------------------------------------------- broadcasting
# broadcast_to is made in _broadcast.


@export
def broadcast_arrays(*args: ArrayLike) -> Any:
    """``numpy.broadcast_arrays``: every argument broadcast to their common shape.

    >>> import matdiff.numpy as np
    >>> [a.shape for a in np.broadcast_arrays(np.zeros((2, 1)), np.zeros(3))]
    [(2, 3), (2, 3)]
    """
    shape = _np.broadcast_shapes(*[shape_of(a) for a in args])
    return tuple(a if shape_of(a) == shape else broadcast_to(a, shape) for a in args)


shape = wrap(_np.shape, nondiff=True, batch=_batch.query)
ndim = wrap(_np.ndim, nondiff=True, batch=_batch.query)
size = wrap(_np.size, nondiff=True, batch=_batch.query)


# ---------------------------------------------------------------- joining


def _concatenate_raw(axis, *arrays):
    return _np.concatenate(arrays, axis=axis)


_concatenate = wrap(_concatenate_raw, "_concatenate", batch=_batch.join)


def _concatenate_piece(i, ans, axis, arrays):
    """Where argument ``i`` (``arrays[i - 1]``) lies in the answer of ``_concatenate``."""
    ax = normalize_axis_index(axis, _ndim(ans))
    start = 0
    for a in arrays[: i - 1]:
        start += shape_of(a)[ax]
    stop = start + shape_of(arrays[i - 1])[ax]
    return (slice(None),) * ax + (slice(start, stop),)


def _def_join_rules(fun, piece) -> None:
    """Rules of a primitive ``fun(axis, *arrays)`` that joins its arrays into one answer.

    ``piece(i, ans, axis, arrays)`` is the index of argument ``i`` in the answer. A tangent
    is placed in a zero answer: one allocation, not a join of zero pieces (which would cost
    O(n^2) over n traced pieces).
    """

    def vjp(i):
        def maker(ans, axis, *arrays):
            idx = piece(i, ans, axis, arrays)
            x = arrays[i - 1]
            return lambda g: unbroadcast(x, _ix.getitem(g, idx))

        return maker

    def jvp(i):
        def rule(g, ans, axis, *arrays):
            if len(arrays) == 1:
                # The tangent is the whole answer: joined as the array was, no zeros
                # (jacfwd and hessian stack a lone gradient this way, batched).
                return fun(axis, g)
            idx = piece(i, ans, axis, arrays)
            return _ix.scatter_add(g, shape_of(ans), idx, _np.result_type(getval(g)), True)

        return rule

    vjp_rules[fun] = VarargTable(vjp)
    jvp_rules[fun] = VarargTable(jvp)


_def_join_rules(_concatenate, _concatenate_piece)


def _cast_all(name, arrays, dtype, casting):
    """``arrays`` cast to ``dtype`` under NumPy's ``casting`` rule, as the joins' ``dtype=``."""
    if dtype is None:
        return arrays
    dt = _np.dtype(dtype)
    out = []
    for a in arrays:
        src = _np.result_type(getval(a))
        if not _np.can_cast(src, dt, casting=casting):
            raise TypeError(
                f"{name}: cannot cast array data from {src!r} to {dt!r} according to the "
                f"rule {casting!r}"
            )
        out.append(_uf.astype(a, dt))
    return out


@export
def concatenate(
    arrays: Sequence[ArrayLike], axis=0, out=None, *, dtype=None, casting="same_kind"
) -> Any:
    """``numpy.concatenate``; every element of ``arrays`` is traced.

    ``axis=None`` flattens the arrays first, as NumPy does; ``dtype`` casts every array
    first under the ``casting`` rule, as NumPy does.

    >>> import matdiff.numpy as np
    >>> np.concatenate([np.ones(2), np.zeros(1)])
    array([1., 1., 0.])
    """
    no_out("concatenate", out)
    arrays = _cast_all("concatenate", list(arrays), dtype, casting)
    if not arrays:
        raise ValueError("concatenate: need at least one array to concatenate")
    if axis is None:
        arrays = [ravel(a) for a in arrays]
        axis = 0
    for k, a in enumerate(arrays):
        if _ndim(a) == 0:
            raise ValueError(
                f"concatenate: element {k} is 0-dimensional and cannot be concatenated; "
                "use np.stack for scalars, or np.atleast_1d first"
            )
    if len(arrays) == 1:
        return copy(arrays[0])
    return _concatenate(axis, *arrays)


def _stack_raw(axis, *arrays):
    return _np.stack(arrays, axis=axis)


_stack = wrap(_stack_raw, "_stack", batch=_batch.join)


def _stack_piece(i, ans, axis, arrays):
    """Where argument ``i`` lies in the answer of ``_stack``: one index of the new axis."""
    ax = normalize_axis_index(axis, _ndim(ans))
    return (slice(None),) * ax + (i - 1,)


# A real array stacked with complex ones gets a real cotangent, as in concatenate.
_def_join_rules(_stack, _stack_piece)


@export
def stack(arrays: Sequence[ArrayLike], axis=0, out=None, *, dtype=None, casting="same_kind") -> Any:
    """``numpy.stack``: join same-shaped arrays along a new axis; every element is traced.

    >>> import matdiff.numpy as np
    >>> np.stack([np.ones(2), np.zeros(2)], axis=-1).shape
    (2, 2)
    """
    no_out("stack", out)
    arrays = _cast_all("stack", list(arrays), dtype, casting)
    if not arrays:
        raise ValueError("stack: need at least one array to stack")
    return _stack(axis, *arrays)


def _atleast(nd_min, make_shape, arys):
    out = []
    for a in arys:
        s = shape_of(a)
        out.append(a if len(s) >= nd_min else reshape(a, make_shape(s)))
    return out[0] if len(out) == 1 else tuple(out)


@export
def atleast_1d(*arys: ArrayLike) -> Any:
    """``numpy.atleast_1d``: scalars become arrays of shape ``(1,)``.

    >>> import matdiff.numpy as np
    >>> np.atleast_1d(2.0)
    array([2.])
    """
    return _atleast(1, lambda s: (1,), arys)


@export
def atleast_2d(*arys: ArrayLike) -> Any:
    """``numpy.atleast_2d``: ``(n,)`` becomes ``(1, n)``, scalars ``(1, 1)``.

    >>> import matdiff.numpy as np
    >>> np.atleast_2d(np.ones(3)).shape
    (1, 3)
    """
    return _atleast(2, lambda s: (1,) * (2 - len(s)) + s, arys)


@export
def atleast_3d(*arys: ArrayLike) -> Any:
    """``numpy.atleast_3d``: ``(n,)`` becomes ``(1, n, 1)``, ``(m, n)`` becomes ``(m, n, 1)``.

    >>> import matdiff.numpy as np
    >>> np.atleast_3d(np.ones((2, 3))).shape
    (2, 3, 1)
    """

    def make(s):
        if len(s) == 0:
            return (1, 1, 1)
        if len(s) == 1:
            return (1, s[0], 1)
        return s + (1,)

    return _atleast(3, make, arys)


@export
def hstack(tup: Sequence[ArrayLike], *, dtype=None, casting="same_kind") -> Any:
    """``numpy.hstack``: concatenate along the second axis (the first for 1-D arrays).

    >>> import matdiff.numpy as np
    >>> np.hstack([np.ones(2), np.zeros(3)]).shape
    (5,)
    """
    arrs = [atleast_1d(a) for a in tup]
    axis = 0 if arrs and _ndim(arrs[0]) == 1 else 1
    return concatenate(arrs, axis=axis, dtype=dtype, casting=casting)


@export
def vstack(tup: Sequence[ArrayLike], *, dtype=None, casting="same_kind") -> Any:
    """``numpy.vstack`` (and ``row_stack``): concatenate along the first axis, 1-D arrays
    as rows.

    >>> import matdiff.numpy as np
    >>> np.vstack([np.ones(2), np.zeros(2)], dtype=np.float32).dtype
    dtype('float32')
    """
    return concatenate([atleast_2d(a) for a in tup], axis=0, dtype=dtype, casting=casting)


alias("row_stack", vstack)


@export
def dstack(tup: Sequence[ArrayLike]) -> Any:
    """``numpy.dstack``: concatenate along the third axis.

    >>> import matdiff.numpy as np
    >>> np.dstack([np.ones((2, 2)), np.zeros((2, 2))]).shape
    (2, 2, 2)
    """
    return concatenate([atleast_3d(a) for a in tup], axis=2)


@export
def column_stack(tup: Sequence[ArrayLike]) -> Any:
    """``numpy.column_stack``: 1-D arrays become columns, then concatenate along axis 1.

    >>> import matdiff.numpy as np
    >>> np.column_stack([np.ones(3), np.zeros(3)]).shape
    (3, 2)
    """
    cols = []
    for a in tup:
        s = shape_of(a)
        cols.append(reshape(a, (s[0], 1)) if len(s) == 1 else atleast_2d(a))
    return concatenate(cols, axis=1)


# ---------------------------------------------------------------- splitting


def _split(fname, ary, indices_or_sections, axis, np_split):
    s = shape_of(ary)
    ax = normalize_axis_index(axis, len(s))
    # Let NumPy decide the piece boundaries (and raise its own errors) on a cheap stand-in.
    pieces = np_split(_np.arange(s[ax]), indices_or_sections)
    out = []
    start = 0
    lead = (slice(None),) * ax
    for p in pieces:
        stop = start + len(p)
        out.append(_ix.getitem(ary, lead + (slice(start, stop),)))
        start = stop
    return out


@export
def split(ary: ArrayLike, indices_or_sections, axis=0) -> Any:
    """``numpy.split``: a list of traced pieces (sections must divide the axis evenly).

    >>> import matdiff.numpy as np
    >>> [p.shape for p in np.split(np.zeros(6), [1, 4])]
    [(1,), (3,), (2,)]
    """
    return _split("split", ary, indices_or_sections, axis, _np.split)


@export
def array_split(ary: ArrayLike, indices_or_sections, axis=0) -> Any:
    """``numpy.array_split``: like ``split``, allowing sections that do not divide evenly.

    >>> import matdiff.numpy as np
    >>> [p.shape for p in np.array_split(np.zeros(5), 2)]
    [(3,), (2,)]
    """
    return _split("array_split", ary, indices_or_sections, axis, _np.array_split)


def _split_along(ary, indices_or_sections, axis, name):
    nd = _ndim(ary)
    if axis == 1 and nd == 1:
        axis = 0  # hsplit splits a 1-D array along its only axis
    elif nd <= axis:
        raise ValueError(f"{name}: needs an array of at least {axis + 1} dimensions, got {nd}")
    return split(ary, indices_or_sections, axis=axis)


@export
def hsplit(ary: ArrayLike, indices_or_sections) -> Any:
    """``numpy.hsplit``: ``split`` along axis 1 (axis 0 for 1-D arrays).

    >>> import matdiff.numpy as np
    >>> [p.shape for p in np.hsplit(np.zeros((2, 4)), 2)]
    [(2, 2), (2, 2)]
    """
    return _split_along(ary, indices_or_sections, 1, "hsplit")


@export
def vsplit(ary: ArrayLike, indices_or_sections) -> Any:
    """``numpy.vsplit``: ``split`` along axis 0.

    >>> import matdiff.numpy as np
    >>> [p.shape for p in np.vsplit(np.zeros((4, 2)), [1])]
    [(1, 2), (3, 2)]
    """
    return _split_along(ary, indices_or_sections, 0, "vsplit")


@export
def dsplit(ary: ArrayLike, indices_or_sections) -> Any:
    """``numpy.dsplit``: ``split`` along axis 2.

    >>> import matdiff.numpy as np
    >>> [p.shape for p in np.dsplit(np.zeros((1, 1, 4)), 2)]
    [(1, 1, 2), (1, 1, 2)]
    """
    return _split_along(ary, indices_or_sections, 2, "dsplit")


# ---------------------------------------------------------------- repetition


@export
def tile(A: ArrayLike, reps) -> Any:
    """``numpy.tile``: repeat the whole array ``reps`` times along each axis.

    Built as reshape, broadcast and reshape, so the VJP sums the copies.

    >>> import matdiff.numpy as np
    >>> np.tile(np.array([1.0, 2.0]), 2)
    array([1., 2., 1., 2.])
    """
    reps = tuple(reps) if isinstance(reps, (tuple, list)) else (int(reps),)
    s = shape_of(A)
    d = max(len(reps), len(s))
    s = (1,) * (d - len(s)) + tuple(s)
    reps = (1,) * (d - len(reps)) + reps
    inter = tuple(n for k in s for n in (1, k))
    big = tuple(n for r, k in zip(reps, s) for n in (r, k))
    x = broadcast_to(reshape(A, inter), big)
    return reshape(x, tuple(r * k for r, k in zip(reps, s)))


@export
def repeat(a: ArrayLike, repeats, axis=None) -> Any:
    """``numpy.repeat``: repeat each element; ``repeats`` an int or one count per element.

    >>> import matdiff.numpy as np
    >>> np.repeat(np.array([1.0, 2.0]), [1, 2])
    array([1., 2., 2.])
    """
    if axis is None:
        a = ravel(a)
        axis = 0
    s = shape_of(a)
    ax = normalize_axis_index(axis, len(s))
    reps = _np.asarray(getval(repeats))
    if reps.size == 1:
        r = int(reps.reshape(()))
        if r < 0:
            raise ValueError(f"repeat: repeats must be non-negative, got {r}")
        head, tail = s[: ax + 1], s[ax + 1 :]
        x = broadcast_to(reshape(a, head + (1,) + tail), head + (r,) + tail)
        return reshape(x, s[:ax] + (s[ax] * r,) + s[ax + 1 :])
    idx = _np.repeat(_np.arange(s[ax]), reps)
    return _ix.getitem(a, (slice(None),) * ax + (idx,))


# ---------------------------------------------------------------- flips and rolls


@export
def flip(m: ArrayLike, axis=None) -> Any:
    """``numpy.flip``: reverse the order of elements along ``axis`` (all axes by default).

    >>> import matdiff.numpy as np
    >>> np.flip(np.array([1.0, 2.0, 3.0]))
    array([3., 2., 1.])
    """
    nd = _ndim(m)
    axes = tuple(range(nd)) if axis is None else normalize_axis_tuple(axis, nd)
    if not axes:
        return m
    rev = slice(None, None, -1)
    return _ix.getitem(m, tuple(rev if k in axes else slice(None) for k in range(nd)))


@export
def fliplr(m: ArrayLike) -> Any:
    """``numpy.fliplr``: reverse the columns (axis 1) of an array of two or more dimensions.

    >>> import matdiff.numpy as np
    >>> np.fliplr(np.array([[1.0, 2.0]]))
    array([[2., 1.]])
    """
    if _ndim(m) < 2:
        raise ValueError("fliplr: the input must have at least 2 dimensions; use np.flip for 1-D")
    return flip(m, 1)


@export
def flipud(m: ArrayLike) -> Any:
    """``numpy.flipud``: reverse the rows (axis 0).

    >>> import matdiff.numpy as np
    >>> np.flipud(np.array([1.0, 2.0]))
    array([2., 1.])
    """
    if _ndim(m) < 1:
        raise ValueError("flipud: the input must have at least 1 dimension")
    return flip(m, 0)


@export
def roll(a: ArrayLike, shift, axis=None) -> Any:
    """``numpy.roll``: shift elements cyclically along ``axis`` (of the flattened array if None).

    >>> import matdiff.numpy as np
    >>> np.roll(np.array([1.0, 2.0, 3.0]), 1)
    array([3., 1., 2.])
    """
    if axis is None:
        return reshape(roll(ravel(a), shift, 0), shape_of(a))
    s = shape_of(a)
    shifts, axes = _np.broadcast_arrays(_np.asarray(shift), _np.asarray(axis))
    total = {}
    for sh, ax in zip(shifts.ravel(), axes.ravel()):
        k = normalize_axis_index(int(ax), len(s))
        total[k] = total.get(k, 0) + int(sh)
    for k, sh in total.items():
        n = s[k]
        if n == 0 or sh % n == 0:
            continue
        cut = n - sh % n
        lead = (slice(None),) * k
        back = _ix.getitem(a, lead + (slice(cut, None),))
        front = _ix.getitem(a, lead + (slice(None, cut),))
        a = _concatenate(k, back, front)
    return a


@export
def rot90(m: ArrayLike, k=1, axes=(0, 1)) -> Any:
    """``numpy.rot90``: rotate by 90 degrees ``k`` times in the plane of ``axes``.

    >>> import matdiff.numpy as np
    >>> np.rot90(np.array([[1.0, 2.0], [3.0, 4.0]]))
    array([[2., 4.],
           [1., 3.]])
    """
    axes = tuple(axes)
    nd = _ndim(m)
    if len(axes) != 2:
        raise ValueError("rot90: len(axes) must be 2")
    if axes[0] == axes[1] or abs(axes[0] - axes[1]) == nd:
        raise ValueError("rot90: the two axes must be different")
    if not (-nd <= axes[0] < nd and -nd <= axes[1] < nd):
        raise ValueError(f"rot90: axes={axes} are out of range for an array of {nd} dimensions")
    k %= 4
    if k == 0:
        return m
    if k == 2:
        return flip(flip(m, axes[0]), axes[1])
    perm = list(range(nd))
    a0, a1 = axes[0] % nd, axes[1] % nd
    perm[a0], perm[a1] = perm[a1], perm[a0]
    if k == 1:
        return transpose(flip(m, axes[1]), tuple(perm))
    return flip(transpose(m, tuple(perm)), axes[1])


# ---------------------------------------------------------------- padding


def _pad_constant_raw(x, pad_width, constant_values):
    return _np.pad(x, pad_width, mode="constant", constant_values=constant_values)


_pad_constant = wrap(_pad_constant_raw, "_pad_constant")


def _interior(pad_width, out_shape):
    return tuple(slice(b, n - a) for (b, a), n in zip(pad_width, out_shape))


def _pad_vjp_cv(ans, x, pad_width, cv):
    # The constant fills everything outside the interior: its cotangent is the sum there.
    inner = _interior(pad_width, shape_of(ans))
    return lambda g: unbroadcast(cv, _uf.subtract(_sum(g), _sum(_ix.getitem(g, inner))))


def _pad_jvp_cv(g, ans, x, pad_width, cv):
    border = _np.pad(_np.zeros(shape_of(x)), pad_width, constant_values=1.0)
    return _uf.multiply(g, border)


defvjp(
    _pad_constant,
    lambda ans, x, pad_width, cv: lambda g: _ix.getitem(g, _interior(pad_width, shape_of(ans))),
    None,
    _pad_vjp_cv,
)
defjvp(
    _pad_constant,
    lambda g, ans, x, pad_width, cv: _pad_constant(g, pad_width, 0),
    None,
    _pad_jvp_cv,
)


_GATHER_MODES = ("edge", "reflect", "symmetric", "wrap")


@export
def pad(array: ArrayLike, pad_width, mode="constant", **kwargs) -> Any:
    """``numpy.pad``; differentiable in modes constant, edge, reflect, symmetric and wrap.

    A traced scalar ``constant_values`` is differentiated too. The other modes
    (``mean``, ``linear_ramp``...) work on untraced arrays only.

    >>> import matdiff.numpy as np
    >>> np.pad(np.array([1.0, 2.0]), 1, mode="edge")
    array([1., 1., 2., 2.])
    """
    cv = kwargs.get("constant_values", 0)
    if type(array) not in box_types and type(cv) not in box_types:
        return _np.pad(array, pad_width, mode=mode, **kwargs)
    s = shape_of(array)
    pw = _np.broadcast_to(_np.asarray(pad_width, dtype=_np.intp), (len(s), 2))
    pw = tuple((int(b), int(a)) for b, a in pw)
    if mode == "constant":
        extra = set(kwargs) - {"constant_values"}
        if extra:
            raise TypeError(
                f"pad: unexpected keyword arguments {sorted(extra)} for mode='constant'"
            )
        if type(cv) in box_types and _ndim(cv) != 0:
            raise NotImplementedError(
                "pad: a traced constant_values must be a scalar; pass per-axis constants as "
                "plain numbers, or pad with 0 and add the traced border yourself"
            )
        return _pad_constant(array, pw, cv)
    if mode in _GATHER_MODES and kwargs.get("reflect_type", "even") == "even":
        # These modes only copy elements: pad the element indices, then gather.
        idx = _np.pad(_np.arange(int(_np.prod(s))).reshape(s), pw, mode=mode)
        return _ix.getitem(ravel(array), idx)
    raise NotImplementedError(
        f"pad: mode={mode!r} (with {kwargs}) has no derivative rule in matdiff; differentiable "
        "modes are 'constant', 'edge', 'reflect', 'symmetric' and 'wrap' (reflect_type='even')"
    )


# ---------------------------------------------------------------- diagonals and triangles


def _diag_from_vector_raw(v, k=0):
    return _np.diag(v, k)


_diag_from_vector = wrap(
    _diag_from_vector_raw,
    "_diag_from_vector",
    vjp=lambda ans, v, k=0: lambda g: diagonal(g, k),
    linear=True,
)


@export
def diag(v: ArrayLike, k=0) -> Any:
    """``numpy.diag``: a 1-D ``v`` becomes a matrix with ``v`` on diagonal ``k``; a 2-D ``v``
    gives its diagonal ``k``.

    >>> import matdiff.numpy as np
    >>> np.diag(np.array([1.0, 2.0]))
    array([[1., 0.],
           [0., 2.]])
    """
    nd = _ndim(v)
    if nd == 1:
        return _diag_from_vector(v, k)
    if nd == 2:
        return diagonal(v, k)
    raise ValueError(f"diag: the input must be 1-D or 2-D, got {nd} dimensions")


@export
def diagflat(v: ArrayLike, k=0) -> Any:
    """``numpy.diagflat``: the flattened input on diagonal ``k`` of a matrix.

    >>> import matdiff.numpy as np
    >>> np.diagflat(np.array([[1.0, 2.0]])).shape
    (2, 2)
    """
    return _diag_from_vector(ravel(v), k)


@export
def diagonal(a: ArrayLike, offset=0, axis1=0, axis2=1) -> Any:
    """``numpy.diagonal``: the diagonal ``offset`` over ``axis1``/``axis2``, as the last axis.

    >>> import matdiff.numpy as np
    >>> np.diagonal(np.arange(9.0).reshape(3, 3), 1)
    array([1., 5.])
    """
    s = shape_of(a)
    if len(s) < 2:
        raise ValueError(f"diagonal: needs an array of at least 2 dimensions, got {len(s)}")
    i1, i2 = normalize_axis_index(axis1, len(s)), normalize_axis_index(axis2, len(s))
    if i1 == i2:
        raise ValueError("diagonal: axis1 and axis2 must be different")
    n1, n2 = s[i1], s[i2]
    if offset >= 0:
        length = max(0, min(n1, n2 - offset))
        rows, cols = _np.arange(length), _np.arange(offset, offset + length)
    else:
        length = max(0, min(n1 + offset, n2))
        rows, cols = _np.arange(-offset, -offset + length), _np.arange(length)
    a = moveaxis(a, (i1, i2), (-2, -1))
    return _ix.getitem(a, (Ellipsis, rows, cols))


@export
def trace(a: ArrayLike, offset=0, axis1=0, axis2=1, dtype=None) -> Any:
    """``numpy.trace``: the sum along a diagonal.

    >>> import matdiff.numpy as np
    >>> float(np.trace(np.eye(3)))
    3.0
    """
    return _sum(diagonal(a, offset, axis1, axis2), axis=-1, dtype=dtype)


def _tri_raw(np_fun):
    def raw(m, k=0):
        return np_fun(m, k)

    return raw


_tril = wrap(_tri_raw(_np.tril), "_tril", batch=_batch.trailing)
_triu = wrap(_tri_raw(_np.triu), "_triu", batch=_batch.trailing)
# A triangle is a projection: it is its own transpose.
defvjp(_tril, lambda ans, m, k=0: lambda g: _tril(g, k))
defvjp(_triu, lambda ans, m, k=0: lambda g: _triu(g, k))
def_linear(_tril)
def_linear(_triu)


def _triangle(prim, name, m, k):
    s = shape_of(m)
    if len(s) == 0:
        raise ValueError(f"{name}: needs an array of at least 1 dimension")
    if len(s) == 1:
        # NumPy broadcasts a 1-D input against the square mask.
        m = broadcast_to(m, (s[0], s[0]))
    return prim(m, k)


@export
def tril(m: ArrayLike, k=0) -> Any:
    """``numpy.tril``: zero the entries above diagonal ``k`` (of the last two axes).

    >>> import matdiff.numpy as np
    >>> np.tril(np.ones((2, 2)))
    array([[1., 0.],
           [1., 1.]])
    """
    return _triangle(_tril, "tril", m, k)


@export
def triu(m: ArrayLike, k=0) -> Any:
    """``numpy.triu``: zero the entries below diagonal ``k`` (of the last two axes).

    >>> import matdiff.numpy as np
    >>> np.triu(np.ones((2, 2)))
    array([[1., 1.],
           [0., 1.]])
    """
    return _triangle(_triu, "triu", m, k)


# ---------------------------------------------------------------- copies
# astype, a cast entry by entry, is in ufuncs.


def _copy_raw(a, order="K"):
    """``numpy.copy``: a new array with the same values (the derivative passes through).

    >>> import matdiff.numpy as np
    >>> np.copy(np.ones(2))
    array([1., 1.])
    """
    return _np.copy(a, order=order)


copy = wrap(
    _copy_raw,
    "copy",
    vjp=lambda ans, a, order="K": lambda g: g,
    linear=True,
    batch=_batch.elementwise,
)
alias("copy", copy)


# ---------------------------------------------------------------- axes, differences


@export
def rollaxis(a: ArrayLike, axis: int, start: int = 0) -> Any:
    """``numpy.rollaxis``: move ``axis`` so that it lies before position ``start``.

    >>> import matdiff.numpy as np
    >>> np.rollaxis(np.ones((2, 3, 4)), 2).shape
    (4, 2, 3)
    """
    nd = _ndim(a)
    ax = normalize_axis_index(axis, nd)
    if not -nd <= start <= nd:
        raise ValueError(
            f"rollaxis: start={start} is out of range for an array of {nd} dimensions; "
            f"pass -{nd} <= start <= {nd}"
        )
    if start < 0:
        start += nd
    if ax < start:
        start -= 1
    if ax == start:
        return a
    order = [k for k in range(nd) if k != ax]
    order.insert(start, ax)
    return transpose(a, tuple(order))


_NOT_GIVEN = object()


def _edge(a, extra, ax, name):
    """``prepend``/``append`` of ``diff``: a scalar is broadcast to one slice along ``ax``."""
    if _ndim(extra) == 0:
        s = list(shape_of(a))
        s[ax] = 1
        return broadcast_to(extra, tuple(s))
    if _ndim(extra) != _ndim(a):
        raise ValueError(
            f"diff: {name} must be a scalar or have as many dimensions as the array "
            f"({_ndim(a)}), got {_ndim(extra)}"
        )
    return extra


@export
def diff(a: ArrayLike, n: int = 1, axis: int = -1, prepend=_NOT_GIVEN, append=_NOT_GIVEN) -> Any:
    """``numpy.diff``: the ``n``-th forward difference along ``axis``; differentiable in
    ``a``, ``prepend`` and ``append``.

    >>> import matdiff.numpy as np
    >>> np.diff(np.array([1.0, 4.0, 9.0]))
    array([3., 5.])
    """
    if n < 0:
        raise ValueError(f"diff: order n must be non-negative, got {n}")
    if n == 0:
        return a
    if type(a) not in box_types:
        a = _np.asanyarray(a)
    nd = _ndim(a)
    if nd == 0:
        raise ValueError("diff: needs an array of at least 1 dimension, got a scalar")
    ax = normalize_axis_index(axis, nd)
    if prepend is not _NOT_GIVEN or append is not _NOT_GIVEN:
        parts = [a]
        if prepend is not _NOT_GIVEN:
            parts.insert(0, _edge(a, prepend, ax, "prepend"))
        if append is not _NOT_GIVEN:
            parts.append(_edge(a, append, ax, "append"))
        a = concatenate(parts, axis=ax)
    lo = (slice(None),) * ax + (slice(None, -1),)
    hi = (slice(None),) * ax + (slice(1, None),)
    for _ in range(n):
        a = _uf.subtract(_ix.getitem(a, hi), _ix.getitem(a, lo))
    return a


@export
def ediff1d(ary: ArrayLike, to_end: ArrayLike = None, to_begin: ArrayLike = None) -> Any:
    """``numpy.ediff1d``: differences of the flattened array, with optional ends.

    >>> import matdiff.numpy as np
    >>> np.ediff1d(np.array([1.0, 4.0, 9.0]), to_begin=0.0)
    array([0., 3., 5.])
    """
    d = diff(ravel(ary))
    parts = [ravel(e) for e in (to_begin,) if e is not None]
    parts += [d] + [ravel(e) for e in (to_end,) if e is not None]
    return concatenate(parts) if len(parts) > 1 else d


def _along(nd, ax, s):
    return (slice(None),) * ax + (s,)


def _weighted(f, nd, ax, terms, h):
    """``sum(c * f[s] for c, s in terms) / h`` along ``ax``, with scalar weights ``c``."""
    total = None
    for c, s in terms:
        t = _uf.multiply(c, _ix.getitem(f, _along(nd, ax, s)))
        total = t if total is None else _uf.add(total, t)
    return _uf.divide(total, h)


def _gradient_uniform(f, nd, ax, h, edge_order):
    interior = _weighted(f, nd, ax, [(0.5, slice(2, None)), (-0.5, slice(None, -2))], h)
    if edge_order == 1:
        first = _weighted(f, nd, ax, [(1.0, slice(1, 2)), (-1.0, slice(0, 1))], h)
        last = _weighted(f, nd, ax, [(1.0, slice(-1, None)), (-1.0, slice(-2, -1))], h)
    else:
        first = [(-1.5, slice(0, 1)), (2.0, slice(1, 2)), (-0.5, slice(2, 3))]
        last = [(0.5, slice(-3, -2)), (-2.0, slice(-2, -1)), (1.5, slice(-1, None))]
        first, last = _weighted(f, nd, ax, first, h), _weighted(f, nd, ax, last, h)
    return first, interior, last


def _three_point(f, nd, ax, s0, s1, s2, a, b, c):
    """``a f[s0] + b f[s1] + c f[s2]`` with coefficient vectors laid along ``ax``."""
    shape = [1] * nd
    shape[ax] = -1
    terms = [
        _uf.multiply(reshape(w, tuple(shape)), _ix.getitem(f, _along(nd, ax, s)))
        for w, s in ((a, s0), (b, s1), (c, s2))
    ]
    return _uf.add(_uf.add(terms[0], terms[1]), terms[2])


def _gradient_coordinates(f, nd, ax, x, edge_order):
    # NumPy's second-order formulas for uneven spacing, written with wrapped functions so
    # that the sample coordinates are differentiable too.
    dx = diff(x)
    h1, h2 = _ix.getitem(dx, slice(None, -1)), _ix.getitem(dx, slice(1, None))
    s12 = _uf.add(h1, h2)
    a = _uf.negative(_uf.divide(h2, _uf.multiply(h1, s12)))
    b = _uf.divide(_uf.subtract(h2, h1), _uf.multiply(h1, h2))
    c = _uf.divide(h1, _uf.multiply(h2, s12))
    interior = _three_point(f, nd, ax, slice(None, -2), slice(1, -1), slice(2, None), a, b, c)
    if edge_order == 1:
        sl = lambda s: _ix.getitem(f, _along(nd, ax, s))  # noqa: E731
        first = _uf.divide(_uf.subtract(sl(slice(1, 2)), sl(slice(0, 1))), _ix.getitem(dx, 0))
        last = _uf.divide(_uf.subtract(sl(slice(-1, None)), sl(slice(-2, -1))), _ix.getitem(dx, -1))
        return first, interior, last
    d1, d2 = _ix.getitem(dx, slice(0, 1)), _ix.getitem(dx, slice(1, 2))
    s = _uf.add(d1, d2)
    a = _uf.negative(_uf.divide(_uf.add(_uf.multiply(2.0, d1), d2), _uf.multiply(d1, s)))
    b = _uf.divide(s, _uf.multiply(d1, d2))
    c = _uf.negative(_uf.divide(d1, _uf.multiply(d2, s)))
    first = _three_point(f, nd, ax, slice(0, 1), slice(1, 2), slice(2, 3), a, b, c)
    d1, d2 = _ix.getitem(dx, slice(-2, -1)), _ix.getitem(dx, slice(-1, None))
    s = _uf.add(d1, d2)
    a = _uf.divide(d2, _uf.multiply(d1, s))
    b = _uf.negative(_uf.divide(s, _uf.multiply(d1, d2)))
    c = _uf.divide(_uf.add(_uf.multiply(2.0, d2), d1), _uf.multiply(d2, s))
    last = _three_point(f, nd, ax, slice(-3, -2), slice(-2, -1), slice(-1, None), a, b, c)
    return first, interior, last


@export
def gradient(f: ArrayLike, *varargs, axis=None, edge_order: int = 1) -> Any:
    """``numpy.gradient``: central differences inside, one-sided differences at the ends.

    Spacing is one scalar for all axes, one scalar per axis, or one coordinate array per
    axis; ``f``, the spacings and the coordinates are all differentiable. As in NumPy, one
    axis gives one array and several give a tuple.

    >>> import matdiff.numpy as np
    >>> np.gradient(np.array([1.0, 4.0, 9.0, 16.0]))
    array([3., 4., 6., 7.])
    """
    if type(f) not in box_types:
        f = _np.asanyarray(f)
        if f.dtype.kind not in "fc":
            f = f.astype(float)
    nd = _ndim(f)
    axes = tuple(range(nd)) if axis is None else normalize_axis_tuple(axis, nd)
    if edge_order not in (1, 2):
        raise ValueError(f"gradient: edge_order must be 1 or 2, got {edge_order}")
    if not varargs:
        spacing = [1.0] * len(axes)
    elif len(varargs) == 1 and _ndim(varargs[0]) == 0:
        spacing = list(varargs) * len(axes)
    elif len(varargs) == len(axes):
        spacing = list(varargs)
    else:
        raise TypeError(
            f"gradient: got {len(varargs)} spacing arguments for {len(axes)} axes; pass "
            "none, one scalar, or one scalar or coordinate array per axis"
        )
    out = []
    for ax, h in zip(axes, spacing):
        n = shape_of(f)[ax]
        if n < edge_order + 1:
            raise ValueError(
                f"gradient: axis {ax} has {n} entries, too few for edge_order={edge_order}; "
                f"it needs at least {edge_order + 1}"
            )
        if _ndim(h) == 0:
            parts = _gradient_uniform(f, nd, ax, h, edge_order)
        elif _ndim(h) == 1 and shape_of(h)[0] == n:
            parts = _gradient_coordinates(f, nd, ax, h, edge_order)
        else:
            raise ValueError(
                f"gradient: the spacing for axis {ax} must be a scalar or a 1-D array of "
                f"length {n}, got shape {shape_of(h)}"
            )
        out.append(concatenate(list(parts), axis=ax))
    return out[0] if len(out) == 1 else tuple(out)


@export
def make_diagonal(D: ArrayLike, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """The inverse of ``diagonal`` (autograd's ``make_diagonal``): an array whose
    diagonal over ``axis1``, ``axis2`` is the last axis of ``D`` and is zero elsewhere.

    >>> import matdiff.numpy as np
    >>> np.make_diagonal(np.array([[1.0, 2.0]]), axis1=-1, axis2=-2)
    array([[[1., 0.],
            [0., 2.]]])
    """
    s = shape_of(D)
    if not s:
        raise ValueError("make_diagonal: D must have at least 1 dimension, got a scalar")
    n = s[-1]
    m = n + abs(offset)
    out_nd = len(s) + 1
    a1, a2 = normalize_axis_index(axis1, out_nd), normalize_axis_index(axis2, out_nd)
    if a1 == a2:
        raise ValueError("make_diagonal: axis1 and axis2 must be different")
    # place[i, r, c] is 1 where entry i of D lands: row i + max(-offset, 0), column
    # i + max(offset, 0), so that diagonal(result, offset, axis1, axis2) gives D back.
    dtype = _np.result_type(
        getval(D), _np.float64 if _np.result_type(getval(D)).kind in "iub" else getval(D)
    )
    place = _np.zeros((n, m, m), dtype=dtype)
    i = _np.arange(n)
    place[i, i + max(-offset, 0), i + max(offset, 0)] = 1
    spread = _uf.multiply(reshape(D, s + (1, 1)), place)
    return moveaxis(_sum(spread, axis=-3), (-2, -1), (a1, a2))


@export
def resize(a: ArrayLike, new_shape) -> Any:
    """``numpy.resize``: the flattened array repeated cyclically to fill ``new_shape``.

    >>> import matdiff.numpy as np
    >>> np.resize(np.array([1.0, 2.0, 3.0]), (2, 2))
    array([[1., 2.],
           [3., 1.]])
    """
    shape = (new_shape,) if isinstance(new_shape, int) else tuple(new_shape)
    if any(n < 0 for n in shape):
        raise ValueError(f"resize: all dimensions of new_shape must be non-negative, got {shape}")
    flat = ravel(a)
    total = int(_np.prod(shape, dtype=int))
    n = shape_of(flat)[0]
    if n == 0 or total == 0:
        # NumPy fills from an empty array with zeros: nothing of ``a`` is used.
        return _np.zeros(shape, dtype=_np.result_type(getval(a)))
    return reshape(_ix.getitem(flat, _np.arange(total) % n), shape)
