"""Array construction from traced values: ``np.array([a, b, c])`` and ``np.asarray``.

A list (or nested lists and tuples) that holds traced scalars or arrays becomes one
traced array, built by stacking, so each element receives its part of the derivative.
Plain data gives a plain NumPy array, exactly as ``numpy.array`` would.
"""

from __future__ import annotations

from typing import Any

import numpy as _np

from ..tracer import box_types, branch, getval
from . import manipulation as _shape
from . import ufuncs as _uf
from ._wrap import all_wrapped, export, holds_traced, shape_of


def _build(obj):
    """Stack a nested sequence that holds traced values; plain parts stay plain."""
    if not holds_traced(obj):
        return _np.array(obj)
    items = [_build(x) if isinstance(x, (list, tuple)) else x for x in obj]
    shapes = {tuple(shape_of(x)) for x in items}
    if len(shapes) > 1:
        raise ValueError(
            f"array: the elements of a sequence have different shapes {sorted(shapes)}; "
            "a traced array must be rectangular (pad or reshape the elements first)"
        )
    return _shape.stack(items)


def _traced(obj, dtype, ndmin):
    out = obj if type(obj) in box_types else _build(obj)
    if dtype is not None:
        out = _uf.astype(out, dtype)
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
    if type(object) in box_types or (isinstance(object, (list, tuple)) and holds_traced(object)):
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
    if type(a) in box_types or (isinstance(a, (list, tuple)) and holds_traced(a)):
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


def _traced_in(*objs) -> bool:
    for x in objs:
        if type(x) in box_types or (isinstance(x, (list, tuple)) and holds_traced(x)):
            return True
    return False


@export
def full(shape, fill_value: Any, dtype=None, order="C", *, like=None) -> Any:
    """``numpy.full``: a traced ``fill_value`` keeps its derivative in every entry.

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> float(grad(lambda v: np.sum(np.full((2, 3), v)))(2.0))
    6.0
    """
    if not _traced_in(fill_value):
        kwargs = {} if like is None else {"like": like}
        return _np.full(shape, fill_value, dtype=dtype, order=order, **kwargs)
    fill_value = asarray(fill_value)  # a list of traced values becomes one traced array
    value = getval(fill_value)
    # The dtype is read from metadata, never from the value, so that staging (jit) can
    # record this function: NumPy's default is the fill value's own dtype.
    dt = _np.result_type(value) if dtype is None else _np.dtype(dtype)
    zeros = _np.zeros(shape, dt, order=order)
    if dt.kind not in "fc":
        # An integer or boolean array is a constant, cast unsafely as numpy.full does.
        out = _np.add(zeros, value)
        return out if out.dtype == dt else out.astype(dt)
    # 0 + v is v exactly; the sum carries v's derivative to every entry.
    out = _uf.add(zeros, fill_value)
    return out if _np.result_type(getval(out)) == dt else _uf.astype(out, dt)


@export
def append(arr: Any, values: Any, axis=None) -> Any:
    """``numpy.append``: ``values`` joined after ``arr``; both are traced.

    >>> import matdiff.numpy as np
    >>> np.append(np.array([1.0, 2.0]), 3.0)
    array([1., 2., 3.])
    """
    arr, values = asarray(arr), asarray(values)
    if axis is None:
        return _shape.concatenate([_shape.ravel(arr), _shape.ravel(values)])
    return _shape.concatenate([arr, values], axis=axis)


@export
def linspace(
    start: Any,
    stop: Any,
    num: int = 50,
    endpoint: bool = True,
    retstep: bool = False,
    dtype=None,
    axis: int = 0,
    *,
    device=None,
) -> Any:
    """``numpy.linspace``, differentiable in ``start`` and ``stop`` (scalars or arrays).

    >>> import matdiff.numpy as np
    >>> from matdiff import jacobian
    >>> jacobian(lambda ab: np.linspace(ab[0], ab[1], 3))(np.array([0.0, 1.0]))
    array([[1. , 0. ],
           [0.5, 0.5],
           [0. , 1. ]])
    """
    if num < 0:
        raise ValueError(f"linspace: num must be non-negative, got {num}")
    if not _traced_in(start, stop):
        return _np.linspace(start, stop, num, endpoint, retstep, dtype, axis)
    # NumPy's result dtype, read before Python numbers become arrays (they are weak).
    dt = _np.result_type(getval(start), getval(stop), float(num))
    start, stop = _uf.astype(asarray(start), dt), _uf.astype(asarray(stop), dt)
    div = num - 1 if endpoint else num
    delta = _uf.subtract(stop, start)
    dshape = tuple(_np.broadcast_shapes(shape_of(start), shape_of(stop)))
    # The same steps as NumPy: y = start + k * step, with the last point exactly stop.
    k = _np.arange(num, dtype=dt).reshape((-1,) + (1,) * len(dshape))
    if div > 0:
        step = _uf.divide(delta, div)
        y = _uf.add(_uf.multiply(k, step), start)
    else:
        # One point (or none): NumPy's step is NaN and the point is start.
        step = _uf.multiply(delta, _np.nan)
        y = _uf.add(_uf.multiply(k, delta), start)
    if endpoint and num > 1:
        head = y[: num - 1]
        y = _shape.concatenate([head, _shape.broadcast_to(stop, (1,) + dshape)], axis=0)
    if axis != 0:
        y = _shape.moveaxis(y, 0, axis)
    if dtype is not None:
        y = _uf.astype(y, dtype)
    return (y, step) if retstep else y


@export
def logspace(
    start: Any, stop: Any, num: int = 50, endpoint: bool = True, base=10.0, dtype=None, axis=0
) -> Any:
    """``numpy.logspace``: ``base ** linspace(start, stop)``, differentiable in ``start``,
    ``stop`` and ``base``.

    >>> import matdiff.numpy as np
    >>> np.logspace(0.0, 2.0, 3)
    array([  1.,  10., 100.])
    """
    if not _traced_in(start, stop, base):
        return _np.logspace(start, stop, num, endpoint, base, dtype, axis)
    y = linspace(start, stop, num, endpoint, axis=axis)
    if len(shape_of(base)) > 0:
        base = _shape.expand_dims(base, axis)
    out = _uf.power(base, y)
    return out if dtype is None else _uf.astype(out, dtype)


@export
def geomspace(
    start: Any, stop: Any, num: int = 50, endpoint: bool = True, dtype=None, axis: int = 0
) -> Any:
    """``numpy.geomspace``: a geometric progression, differentiable in ``start`` and ``stop``
    (real, nonzero, of one sign); the end points are exactly ``start`` and ``stop``.

    >>> import matdiff.numpy as np
    >>> np.geomspace(1.0, 1000.0, 4)
    array([   1.,   10.,  100., 1000.])
    """
    if not _traced_in(start, stop):
        return _np.geomspace(start, stop, num, endpoint, dtype, axis)
    start, stop = asarray(start), asarray(stop)
    # Plain NumPy on the values, never a conversion: under jit these are recorded, so the
    # signs are recomputed on every call, and the checks below are rechecked on every call.
    sv, ev = getval(start), getval(stop)
    s_dt, e_dt = _np.result_type(sv), _np.result_type(ev)
    if s_dt.kind == "c" or e_dt.kind == "c":
        raise NotImplementedError(
            "geomspace: complex end points are not supported with traced values; "
            "use np.exp(np.linspace(np.log(start), np.log(stop), num))"
        )
    if branch(_np.any(sv == 0)) or branch(_np.any(ev == 0)):
        raise ValueError("geomspace: a geometric sequence cannot include zero")
    sign = _np.sign(sv)
    if branch(_np.any(_np.sign(ev) != sign)):
        raise ValueError(
            "geomspace: start and stop must have the same sign; the sequence would pass zero"
        )
    log_y = linspace(
        _uf.log(_uf.multiply(sign, start)), _uf.log(_uf.multiply(sign, stop)), num, endpoint
    )
    y = _uf.multiply(sign, _uf.exp(log_y))
    # NumPy pins the end points to the given values, free of exp(log(.)) rounding.
    dshape = tuple(shape_of(y)[1:])
    parts = []
    if num > 0:
        parts.append(_shape.broadcast_to(start, (1,) + dshape))
    mid_end = num - 1 if endpoint else num
    if mid_end > 1:
        parts.append(y[1:mid_end])
    if endpoint and num > 1:
        parts.append(_shape.broadcast_to(stop, (1,) + dshape))
    if parts:
        y = _shape.concatenate(parts, axis=0) if len(parts) > 1 else parts[0]
    if axis != 0:
        y = _shape.moveaxis(y, 0, axis)
    if dtype is None:
        # NumPy's result dtype: at least double precision.
        dtype = _np.result_type(s_dt, e_dt, _np.float64)
    return _uf.astype(y, dtype)


@export
def vander(x: Any, N: int | None = None, increasing: bool = False) -> Any:
    """``numpy.vander``: columns of powers of ``x``, differentiable in ``x``.

    >>> import matdiff.numpy as np
    >>> np.vander(np.array([2.0, 3.0]), 3)
    array([[4., 2., 1.],
           [9., 3., 1.]])
    """
    x = asarray(x)
    if len(shape_of(x)) != 1:
        raise ValueError(f"vander: x must be 1-D, got shape {shape_of(x)}")
    n = shape_of(x)[0] if N is None else N
    powers = _np.arange(n) if increasing else _np.arange(n - 1, -1, -1)
    # Integer exponents: power's rules are exact at x == 0 for each of them.
    return _uf.power(_shape.reshape(x, (-1, 1)), powers)


@export
def meshgrid(*xi: Any, copy: bool = True, sparse: bool = False, indexing: str = "xy") -> tuple:
    """``numpy.meshgrid``: coordinate arrays from coordinate vectors, each traced.

    >>> import matdiff.numpy as np
    >>> [g.shape for g in np.meshgrid(np.ones(2), np.ones(3))]
    [(3, 2), (3, 2)]
    """
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    nd = len(xi)
    out = []
    for i, x in enumerate(xi):
        s = [1] * nd
        s[i] = -1
        if indexing == "xy" and nd > 1 and i < 2:
            s[0], s[1] = s[1], s[0]
        out.append(_shape.reshape(asarray(x), tuple(s)))
    if not sparse:
        out = _shape.broadcast_arrays(*out)
    return tuple(out)


class _Concatenator:
    """``r_`` and ``c_``: NumPy's index tricks for joining arrays, with traced parts.

    Slices become ranges as in NumPy; string directives ('r', '0,2,1', ...) are
    supported for plain data only.
    """

    def __init__(self, name: str, raw, columns: bool):
        self.name = name
        self.raw = raw
        self.columns = columns

    def __getitem__(self, key):
        items = key if isinstance(key, tuple) else (key,)
        if not holds_traced(items):
            return self.raw[key]
        parts = []
        for item in items:
            if isinstance(item, str):
                raise ValueError(
                    f"{self.name}: string directives ({item!r}) are not supported with traced "
                    "values; use np.concatenate or np.stack with an axis instead"
                )
            if isinstance(item, slice):
                item = self.raw[item]
            item = asarray(item)
            if self.columns:
                # NumPy's c_: at least 2-D, a 1-D array standing as a column.
                nd = len(shape_of(item))
                if nd < 2:
                    item = _shape.reshape(item, (-1, 1))
            else:
                item = _shape.atleast_1d(item)
            parts.append(item)
        return _shape.concatenate(parts, axis=-1 if self.columns else 0)

    def __len__(self) -> int:
        return 0


r_ = _Concatenator("r_", _np.r_, columns=False)
c_ = _Concatenator("c_", _np.c_, columns=True)
all_wrapped["r_"] = r_
all_wrapped["c_"] = c_
