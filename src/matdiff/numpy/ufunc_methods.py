"""The ufunc methods ``reduce``, ``accumulate``, ``outer``, ``reduceat`` and ``at``.

NumPy's ufuncs carry methods (``numpy.add.reduce`` is ``sum``, ``numpy.multiply.outer``
a broadcast product). matdiff.numpy's ufuncs are wrapped functions, so each gets the
same methods as attributes here, written over differentiable operations: the reductions
of the same meaning where there is one (``add.reduce`` is ``sum``, ``maximum.accumulate``
a running ``max``), else a fold of the binary function itself along the axis, so every
binary ufunc's methods have derivatives in both modes. A raw call on a traced value
(``numpy.add.reduce(x)``) reaches the same methods through ``ArrayBox.__array_ufunc__``.
``at`` changes an array in place and is refused with the functional form to use.

On untraced arguments each method is NumPy's own. On traced ones NumPy's method first
runs on the values, so that arguments NumPy refuses raise NumPy's error.

>>> import matdiff.numpy as np
>>> from matdiff import grad
>>> grad(lambda x: np.sum(np.maximum.accumulate(x)))(np.array([1.0, 3.0, 2.0]))
array([1., 2., 0.])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as _np

from ..tracer import box_types, getval
from . import construction as _construction
from . import indexing as _indexing
from . import manipulation as _shape
from . import reductions as _red
from . import ufuncs as _u
from ._broadcast import normalize_axis
from ._wrap import all_wrapped, holds_traced, is_concrete, shape_of

_NO_VALUE = _np._NoValue

# ufunc methods with a matdiff reduction of the same meaning (faster than a fold, and
# with the reductions' conventions: ties of max share evenly, zeros in prod are exact).
_REDUCE = {"add": _red.sum, "multiply": _red.prod, "maximum": _red.max, "minimum": _red.min}
_ACCUMULATE = {"add": _red.cumsum, "multiply": _red.cumprod}
_TAKE_DTYPE = {"add", "multiply"}


def _is_traced(x) -> bool:
    return type(x) in box_types or (isinstance(x, (list, tuple)) and holds_traced(x))


def _values(x):
    if isinstance(x, (list, tuple)):
        return type(x)(_values(e) for e in x)
    return getval(x)


def _refuse(call: str, what: str, fix: str) -> TypeError:
    return TypeError(f"matdiff: {call} on a traced value does not support {what}. {fix}")


def _check(call: str, out, where=True) -> None:
    if out is not None:
        fix = "Writing into an existing array cannot carry a derivative: use the result."
        raise _refuse(call, "out=", fix)
    if where is not True:
        fix = "Select the entries first, e.g. with np.where(mask, x, identity)."
        raise _refuse(call, "where=", fix)


def _slab(a, axis: int, i: int):
    return a[(slice(None),) * axis + (i,)]


def _fold(f: Callable, a, axis: int, start=_NO_VALUE, partials: bool = False):
    """``f(...f(f(start, a[0]), a[1])..., a[n-1])`` along ``axis``: the meaning of
    ``ufunc.reduce`` for any binary ufunc, and (keeping each step) of ``accumulate``."""
    n = shape_of(a)[axis]
    acc = start
    steps = []
    for i in range(n):
        x = _slab(a, axis, i)
        acc = x if acc is _NO_VALUE else f(acc, x)
        steps.append(acc)
    return _shape.stack(steps, axis=axis) if partials else acc


def _running_extremum(raw: _np.ufunc, a, axis: int):
    """``maximum.accumulate``: entry ``k`` is ``max(a[:k + 1])``, so its derivative goes to
    the prefix's maximum, shared evenly between ties as for ``max``.

    The value is NumPy's own; the derivative is the linear map L, in O(n) per slice: the
    entries equal to their running extremum, summed from the start of the extremum's
    current stretch and divided by how many there are so far. L is applied to
    ``x - value(x)``, which is zero (so the result's value is exactly NumPy's) but has
    ``x``'s derivative at every level.
    """
    x = _shape.moveaxis(a, axis, -1)
    xv = getval(x)  # under jit a recording value: every step below is recorded
    r = raw.accumulate(xv, axis=-1)
    n = shape_of(xv)[-1]
    hits = xv == r  # entries that are their prefix's extremum (NaN never is)
    first = _np.ones(shape_of(xv)[:-1] + (1,), bool)
    starts = _np.concatenate([first, r[..., 1:] != r[..., :-1]], axis=-1)
    start = _np.maximum.accumulate(_np.where(starts, _np.arange(n), 0), axis=-1)
    before = _np.maximum(start - 1, 0)
    count = _np.cumsum(hits, axis=-1)
    count = count - _np.where(start > 0, _np.take_along_axis(count, before, -1), 0)
    # an infinite extremum carries no derivative (and inf - inf must not make a NaN)
    finite = _np.isfinite(xv)
    z = _u.where(
        hits & finite, _u.subtract(_u.where(finite, x, 0.0), _np.where(finite, xv, 0.0)), 0.0
    )
    total = _red.cumsum(z, axis=-1)
    prior = _u.where(start > 0, _indexing.take_along_axis(total, before, axis=-1), 0.0)
    linear = _u.divide(_u.subtract(total, prior), _np.maximum(count, 1))
    return _shape.moveaxis(_u.add(r, linear), -1, axis)


def _make_methods(name: str, raw: _np.ufunc, f: Callable) -> dict[str, Callable]:
    on_values = getattr(f, "_nondifferentiable", False)

    def reduce(
        array, axis=0, dtype=None, out=None, keepdims=False, initial=_NO_VALUE, where=True
    ) -> Any:
        kwargs = {"axis": axis, "dtype": dtype, "keepdims": keepdims, "where": where}
        if initial is not _NO_VALUE:
            kwargs["initial"] = initial
        if not (_is_traced(array) or _is_traced(initial)):
            return raw.reduce(array, out=out, **kwargs)
        _check(f"{name}.reduce", out, where)
        if initial is not _NO_VALUE:
            kwargs["initial"] = getval(initial)
        value = raw.reduce(_values(array), **kwargs)
        if on_values:
            return value
        a = _construction.asarray(array)
        if dtype is not None:
            a = a.astype(dtype)
        axes = normalize_axis(axis, len(shape_of(a)))
        if name in _REDUCE and 0 not in [shape_of(a)[i] for i in axes]:
            extra = {"dtype": dtype} if name in _TAKE_DTYPE else {}
            r = _REDUCE[name](a, axis=axis, keepdims=keepdims, **extra)
            return r if initial is _NO_VALUE else f(initial, r)
        if any(shape_of(a)[i] == 0 for i in axes):
            return value  # nothing traced reaches an empty reduction's result
        # NumPy accepted several axes, so the ufunc is reorderable: fold them in turn.
        r = a
        start = initial
        for i in sorted(axes, reverse=True):
            r = _fold(f, r, i, start)
            start = _NO_VALUE
        if keepdims:
            r = _shape.reshape(r, shape_of(value))
        if is_concrete(value) and not _np.allclose(getval(r), value, rtol=1e-9, equal_nan=True):
            raise ValueError(
                f"matdiff: numpy.{name}.reduce returns a value here that is not the fold "
                f"{name}({name}(a[0], a[1]), a[2])... that it is documented to be (NumPy "
                "reorders it), so matdiff cannot give its derivative. Write the fold that is "
                f"meant, e.g. functools.reduce(np.{name}, a), or use np.{name}.accumulate(a)[-1]."
            )
        return r

    def accumulate(array, axis=0, dtype=None, out=None) -> Any:
        if not _is_traced(array):
            return raw.accumulate(array, axis=axis, dtype=dtype, out=out)
        _check(f"{name}.accumulate", out)
        value = raw.accumulate(_values(array), axis=axis, dtype=dtype)
        if on_values:
            return value
        a = _construction.asarray(array)
        if dtype is not None:
            a = a.astype(dtype)
        axis = normalize_axis(axis, len(shape_of(a)))[0]
        if shape_of(a)[axis] == 0:
            return value
        if name in _ACCUMULATE:
            return _ACCUMULATE[name](a, axis=axis)
        if name in ("maximum", "minimum"):
            return _running_extremum(raw, a, axis)
        return _fold(f, a, axis, partials=True)

    def outer(A, B, /, **kwargs) -> Any:
        if not (_is_traced(A) or _is_traced(B)):
            return raw.outer(A, B, **kwargs)
        _check(f"{name}.outer", kwargs.pop("out", None), kwargs.pop("where", True))
        value = raw.outer(_values(A), _values(B), **kwargs)
        if on_values:
            return value
        a, b = _construction.asarray(A), _construction.asarray(B)
        extra = (1,) * len(shape_of(b))
        return f(_shape.reshape(a, shape_of(a) + extra), b, **kwargs)

    def reduceat(array, indices, axis=0, dtype=None, out=None) -> Any:
        if not (_is_traced(array) or _is_traced(indices)):
            return raw.reduceat(array, indices, axis=axis, dtype=dtype, out=out)
        _check(f"{name}.reduceat", out)
        value = raw.reduceat(_values(array), _values(indices), axis=axis, dtype=dtype)
        if on_values:
            return value
        a = _construction.asarray(array)
        axis = normalize_axis(axis, len(shape_of(a)))[0]
        idx = [int(i) for i in _np.asarray(getval(indices)).ravel()]
        n = shape_of(a)[axis]
        pieces = []
        # NumPy's rule: a[i:j] reduced where i < j (j the next index, or n), else a[i].
        for k, i in enumerate(idx):
            j = idx[k + 1] if k + 1 < len(idx) else n
            if i < j:
                piece = a[(slice(None),) * axis + (slice(i, j),)]
                pieces.append(reduce(piece, axis=axis, dtype=dtype))
            else:
                pieces.append(_slab(a, axis, i))
        return _shape.stack(pieces, axis=axis)

    def at(a, indices, b=None, /) -> Any:
        if not (_is_traced(a) or _is_traced(b)):
            return raw.at(a, indices) if b is None else raw.at(a, indices, b)
        fix = (
            "a = a + np.scatter_add(b, a.shape, indices, a.dtype) (repeated indices "
            "accumulate, as in numpy.add.at)"
            if name == "add"
            else f"a = np.where(mask, np.{name}(a, b), a) with a boolean mask of the entries "
            "(or gather, combine and rebuild with np.concatenate/np.stack)"
        )
        raise TypeError(
            f"matdiff: numpy.{name}.at changes its first argument in place, which cannot "
            f"carry a derivative. Build a new array instead: {fix}."
        )

    return {
        "reduce": reduce,
        "accumulate": accumulate,
        "outer": outer,
        "reduceat": reduceat,
        "at": at,
    }


#: NumPy's read-only ufunc attributes, copied onto the wrappers.
_ATTRIBUTES = ("nin", "nout", "nargs", "ntypes", "types", "identity", "signature")


def install() -> None:
    """Attach the methods to every ufunc of ``matdiff.numpy``."""
    for name, f in list(all_wrapped.items()):
        raw = getattr(_np, name, None)
        if not isinstance(raw, _np.ufunc) or hasattr(f, "reduce"):
            continue
        for attr in _ATTRIBUTES:
            setattr(f, attr, getattr(raw, attr))
        for method, impl in _make_methods(raw.__name__, raw, f).items():
            impl.__name__ = impl.__qualname__ = method
            impl.__doc__ = getattr(raw, method).__doc__
            setattr(f, method, impl)


install()
