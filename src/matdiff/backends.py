"""Other array libraries: Dask, CuPy, and any library of the Python array API.

The rules of :mod:`matdiff.numpy` are written once, with ``numpy`` calls on their operands.
NumPy arrays take the fast path and meet nothing of this module. A value of another
library reaches its own library by one of two routes:

* **Dask and CuPy** implement NumPy's dispatch protocols (``__array_ufunc__``,
  ``__array_function__``): ``numpy.sin(x)`` on a Dask array *is* ``dask.array.sin(x)``,
  lazy, and the derivative's tasks join the same graph. matdiff only registers a box and
  a vector space for the type (lazily, the first time a value of it is met, so that
  importing matdiff imports neither library) and refuses Dask's fallback that would
  compute a NumPy function it does not implement (:func:`refusing_fallbacks`).
* **Libraries of the Python array API only** (``array_api_strict``, the conformance check)
  have no dispatch protocol. Their arrays are traced inside :class:`ApiArray`, a thin
  adapter that implements NumPy's protocols on top of the array's namespace
  (``array_api_compat.array_namespace``): ``numpy.sin(a)`` becomes ``xp.sin(a)``. The
  derivative operators hand back the library's own arrays (:func:`native`).

A NumPy function a library lacks raises :class:`BackendError`, naming the function, the
library and the way out; nothing is converted to NumPy behind the user's back.

Measured on W1 (300 elementwise operations under ``grad``): the NumPy path is unchanged,
since the per-call cost is two dictionary look-ups per operator call and none per
primitive; the dispatch of Dask and CuPy costs what NumPy's protocols cost, and the
array-API adapter one Python call per operation.

>>> import numpy
>>> backend_name(numpy.ones(2))
'NumPy'
"""

from __future__ import annotations

import contextlib
import re
import sys
import warnings
from collections.abc import Callable
from typing import Any

import numpy as _np
from numpy.lib.mixins import NDArrayOperatorsMixin

from .core import VSpace, register_vspace
from .tracer import box_types, raw_error_hooks, register_box, register_branch, type_hooks

__all__ = [
    "ApiArray",
    "BackendError",
    "backend_name",
    "dtype_of",
    "native",
    "adapt",
    "like",
    "to_numpy",
    "refusing_fallbacks",
    "is_numpy",
    "foreign",
    "unsupported",
]

_NUMPY_TYPES = (_np.ndarray, _np.generic, float, int, complex, bool)


class BackendError(TypeError):
    """A NumPy function that the array library of the operands does not provide."""


def unsupported(function: str, backend: str, alternative: str | None = None) -> BackendError:
    """The error for ``function`` missing from ``backend``, with the way out.

    >>> print(unsupported("numpy.linalg.det", "Dask"))  # doctest: +ELLIPSIS
    matdiff: numpy.linalg.det is not available for Dask arrays: ...
    """
    alternative = alternative or _ALTERNATIVES.get(backend, _ALTERNATIVES["array API"])
    return BackendError(
        f"matdiff: {function} is not available for {backend} arrays: {backend} does not "
        f"implement it, and matdiff does not convert the values to NumPy silently. "
        f"{alternative} See docs/backends.md for what each library supports."
    )


_ALTERNATIVES = {
    "Dask": (
        "Compute the operand first and differentiate on the NumPy array (x.compute()), "
        "or apply the function per block with dask.array.map_blocks inside a primitive "
        "(matdiff.extend.primitive) with its own rule."
    ),
    "CuPy": "Move the operand to the host explicitly (x.get()) if a NumPy result is wanted.",
    "array API": (
        "Convert the operand explicitly (numpy.asarray(x)) and differentiate on NumPy, or "
        "write the function with array-API operations only."
    ),
}


def is_numpy(x: Any) -> bool:
    """Whether ``x`` is a NumPy array, a NumPy scalar or a Python number."""
    return isinstance(x, _NUMPY_TYPES)


def foreign(x: Any) -> bool:
    """Whether ``x`` is an array of another library that matdiff has met (Dask, CuPy, an
    array-API library, or the adapter around one)."""
    return type(x) in _registered


def backend_name(x: Any) -> str:
    """The library of the array ``x``, as error messages and the coverage table name it."""
    if isinstance(x, ApiArray):
        x = x.a
    if is_numpy(x):
        return "NumPy"
    top = type(x).__module__.split(".")[0]
    return {"dask": "Dask", "cupy": "CuPy"}.get(top, top)


# ---------------------------------------------------------------- Dask's fallback

_DASK_FALLBACK = re.compile(r"The `([\w.]+)` function is not implemented by Dask array")


class ComputeRefused(BackendError):
    """A Dask graph was about to be computed inside a derivative operator."""


def _refuse_compute(dsk, keys, **kwargs):
    # The scheduler of every compute inside a derivative operator: a rule or a NumPy
    # function reached a conversion (numpy.asarray, bool(), a LAPACK call) on a Dask array.
    raise ComputeRefused(
        "matdiff: a Dask array was converted to NumPy inside a derivative operator "
        "(numpy.asarray, bool(x), float(x)), which would compute its graph; matdiff does not "
        f"compute a Dask graph or convert the values to NumPy silently. {_ALTERNATIVES['Dask']}"
    )


_MISSING = object()


class _RefusingDaskFallbacks:
    """Inside: Dask's fallback warning is an error and every compute is refused.

    Written out rather than with ``warnings.catch_warnings`` and ``dask.config.set``
    (measured: 1.4 us per derivative-operator call against their 3.0 us). Like those, it
    changes process-wide state for its duration.
    """

    __slots__ = ("config", "saved", "entry")

    def __enter__(self):
        import dask.config

        self.config = dask.config.config
        self.saved = self.config.get("scheduler", _MISSING)
        self.config["scheduler"] = _refuse_compute
        warnings.filterwarnings(
            "error", "The `.*` function is not implemented by Dask array", FutureWarning
        )
        self.entry = warnings.filters[0]
        return self

    def __exit__(self, typ, value, tb):
        try:
            warnings.filters.remove(self.entry)
        except ValueError:  # pragma: no cover - someone reset the filters meanwhile
            pass
        if self.saved is _MISSING:
            self.config.pop("scheduler", None)
        else:
            self.config["scheduler"] = self.saved
        if typ is not None and issubclass(typ, FutureWarning):
            m = _DASK_FALLBACK.search(str(value))
            if m is not None:
                raise unsupported(m.group(1), "Dask") from None
        return False


def refusing_fallbacks():
    """A context in which a NumPy function that Dask does not implement raises
    :class:`BackendError` instead of computing the graph and calling NumPy.

    Dask warns and computes; the derivative operators run the function and its rules in
    this context. It costs nothing (a null context) until Dask has been imported.
    """
    if "dask.array" in sys.modules:
        return _RefusingDaskFallbacks()
    return _NULL


_NULL = contextlib.nullcontext()


# ---------------------------------------------------------------- dtypes

_xp_dtypes: dict[Any, dict] = {}


def _dtype_tables(xp) -> tuple[dict, dict]:
    """``(to_numpy, from_numpy)`` dtype maps of the namespace ``xp``."""
    tables = _xp_dtypes.get(xp)
    if tables is None:
        to_np, from_np = {}, {}
        for name in (
            "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
            "float32", "float64", "complex64", "complex128",
        ):  # fmt: skip
            d = getattr(xp, name, None)
            if d is not None:
                to_np[d] = _np.dtype(name)
                from_np[_np.dtype(name)] = d
        tables = _xp_dtypes[xp] = (to_np, from_np)
    return tables


def dtype_of(v: Any) -> _np.dtype | None:
    """The NumPy dtype matching the dtype of an array of another library, or ``None``."""
    if isinstance(v, ApiArray):
        return v.dtype
    ns = _namespace_or_none(v)
    if ns is None:
        return None
    return _dtype_tables(ns)[0].get(v.dtype)


def _is_api_array(v) -> bool:
    """An array of an array-API library other than NumPy (NumPy's arrays, scalars and
    scalar types have ``__array_namespace__`` too)."""
    return hasattr(v, "__array_namespace__") and not isinstance(
        v, (_np.ndarray, _np.generic, type, ApiArray)
    )


def _namespace_or_none(v):
    if not _is_api_array(v):
        return None
    try:
        import array_api_compat
    except ImportError:  # the array's own namespace, without compat's fixes
        return v.__array_namespace__()
    return array_api_compat.array_namespace(v)


# ---------------------------------------------------------------- the array-API adapter


class ApiArray(NDArrayOperatorsMixin):
    """An array of a library of the Python array API, seen through NumPy's protocols.

    ``numpy.sin(ApiArray(a))`` is ``ApiArray(xp.sin(a))`` with ``xp`` the namespace of
    ``a``: the rules, written with NumPy calls, run unchanged on the library. A NumPy
    function without an array-API counterpart raises :class:`BackendError`.

    >>> import array_api_strict as xp
    >>> import numpy
    >>> y = numpy.sin(ApiArray(xp.asarray([0.0])))
    >>> type(native(y)).__module__.split(".")[0]
    'array_api_strict'
    """

    __slots__ = ("a", "xp")
    __array_priority__ = 50.0

    def __init__(self, a, xp=None):
        self.a = a
        self.xp = xp if xp is not None else _namespace_or_none(a)

    def __repr__(self) -> str:
        return f"ApiArray({self.a!r})"

    @property
    def backend(self) -> str:
        return self.xp.__name__

    # -- attributes
    @property
    def shape(self) -> tuple:
        return tuple(self.a.shape)

    @property
    def ndim(self) -> int:
        return self.a.ndim

    @property
    def size(self) -> int:
        return int(_np.prod(self.a.shape))

    @property
    def dtype(self) -> _np.dtype:
        return _dtype_tables(self.xp)[0][self.a.dtype]

    @property
    def T(self):
        return _wrap_result(self.xp.permute_dims(self.a, tuple(range(self.a.ndim))[::-1]), self.xp)

    @property
    def mT(self):
        return _wrap_result(self.xp.matrix_transpose(self.a), self.xp)

    @property
    def real(self):
        return _wrap_result(self.xp.real(self.a), self.xp)

    @property
    def imag(self):
        return _wrap_result(self.xp.imag(self.a), self.xp)

    def __len__(self) -> int:
        return self.a.shape[0]

    def __bool__(self) -> bool:
        return bool(self.a)

    def __float__(self) -> float:
        return float(self.a)

    def __index__(self) -> int:
        return int(self.a)

    def __getitem__(self, idx):
        return _wrap_result(self.a[_index(_unwrap(idx, self.xp), self.a.ndim)], self.xp)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __setitem__(self, idx, value):
        self.a[_index(_unwrap(idx, self.xp), self.a.ndim)] = _unwrap(value, self.xp)

    def __array__(self, dtype=None, copy=None):
        raise unsupported("numpy.asarray", self.xp.__name__)

    # -- methods the rules call
    def astype(self, dtype, copy=True):
        return _wrap_result(self.xp.astype(self.a, _xp_dtype(dtype, self.xp)), self.xp)

    def reshape(self, *shape, order="C"):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _reshape(self.xp, self.a, shape, order)

    def transpose(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return _wrap_result(_transpose(self.xp, self.a, axes or None), self.xp)

    def sum(self, axis=None, dtype=None, keepdims=False):
        return _np.sum(self, axis=axis, keepdims=keepdims)

    def conj(self):
        return _np.conjugate(self)

    def any(self, axis=None, keepdims=False):
        return _wrap_result(self.xp.any(self.a, axis=axis, keepdims=keepdims), self.xp)

    def all(self, axis=None, keepdims=False):
        return _wrap_result(self.xp.all(self.a, axis=axis, keepdims=keepdims), self.xp)

    def copy(self):
        return ApiArray(self.xp.asarray(self.a, copy=True), self.xp)

    def item(self):
        return self.a[()].__float__() if self.a.ndim == 0 else float(self.a)

    # -- NumPy's protocols
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if any(type(v) in box_types for v in inputs):
            return NotImplemented  # the traced operand's box routes the call to matdiff
        xp = self.xp
        name = f"numpy.{ufunc.__name__}"
        if method != "__call__":
            raise unsupported(f"{name}.{method}", xp.__name__)
        if kwargs.get("out") is not None:
            raise unsupported(f"{name} with out=", xp.__name__)
        kwargs.pop("out", None)
        dtype = kwargs.pop("dtype", None)
        if kwargs:
            raise unsupported(f"{name} with {', '.join(kwargs)}=", xp.__name__)
        f = getattr(xp, _UFUNC_NAMES.get(ufunc.__name__, ufunc.__name__), None)
        if f is None:
            raise unsupported(name, xp.__name__)
        args = _operands(inputs, xp)
        out = f(*args)
        if dtype is not None:
            out = xp.astype(out, _xp_dtype(dtype, xp))
        return _wrap_result(out, xp)

    def __array_function__(self, func, types, args, kwargs):
        if any(t in box_types for t in types):
            return NotImplemented
        xp = self.xp
        module = getattr(func, "__module__", "numpy") or "numpy"
        name = f"{module}.{func.__name__}"
        impl = _FUNCTIONS.get(name)
        if impl is None:
            raise unsupported(name, xp.__name__)
        return impl(xp, *_unwrap(args, xp), **_unwrap(kwargs, xp))


def _index(idx, ndim):
    """NumPy's index with the trailing ``...`` that the array API wants spelled out."""
    parts = idx if type(idx) is tuple else (idx,)
    if any(p is Ellipsis or _is_api_array(p) for p in parts):
        return idx
    if sum(p is not None for p in parts) < ndim or None in parts:
        return parts + (Ellipsis,)
    return idx


def _xp_dtype(dtype, xp):
    if dtype is None:
        return None
    if isinstance(dtype, (_np.dtype, type, str)):
        return _dtype_tables(xp)[1][_np.dtype(dtype)]
    return dtype


def _unwrap(x, xp):
    """``x`` with every ApiArray replaced by its array, NumPy arrays brought to ``xp``."""
    t = type(x)
    if t is ApiArray:
        return x.a
    if t is _np.ndarray:
        return xp.asarray(x)
    if isinstance(x, _np.generic):
        return x.item()
    if t is tuple or t is list:
        return t(_unwrap(v, xp) for v in x)
    if t is dict:
        return {k: _unwrap(v, xp) for k, v in x.items()}
    return x


def _operands(inputs, xp):
    """Operands of an elementwise function: arrays of ``xp``; Python scalars stay."""
    return [_unwrap(v, xp) for v in inputs]


def _wrap_result(r, xp):
    if isinstance(r, (tuple, list)):
        return (
            type(r)(_wrap_result(v, xp) for v in r)
            if type(r) in (tuple, list)
            else (type(r)(*[_wrap_result(v, xp) for v in r]))
        )
    if _is_api_array(r):
        return ApiArray(r, xp)
    return r


_UFUNC_NAMES = {
    "absolute": "abs",
    "power": "pow",
    "arcsin": "asin",
    "arccos": "acos",
    "arctan": "atan",
    "arcsinh": "asinh",
    "arccosh": "acosh",
    "arctanh": "atanh",
    "arctan2": "atan2",
    "conjugate": "conj",
    "true_divide": "divide",
    "invert": "bitwise_invert",
    "left_shift": "bitwise_left_shift",
    "right_shift": "bitwise_right_shift",
    "bitwise_not": "bitwise_invert",
    "fabs": "abs",
    "mod": "remainder",
}


def _reshape(xp, a, shape, order="C"):
    shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    if order == "F":
        # Column-major order is row-major order of the reversed axes; the array API's
        # reshape knows only row-major order.
        flipped = xp.reshape(_transpose(xp, a), shape[::-1])
        return ApiArray(_transpose(xp, flipped), xp)
    if order not in ("C", "A", "K"):
        raise ValueError(f"reshape: order must be 'C', 'F', 'A' or 'K', not {order!r}")
    return ApiArray(xp.reshape(a, shape), xp)


def _transpose(xp, a, axes=None):
    axes = tuple(range(a.ndim))[::-1] if axes is None else tuple(ax % a.ndim for ax in axes)
    return xp.permute_dims(a, axes)


def _reduction(xp_name):
    def f(xp, a, axis=None, dtype=None, out=None, keepdims=False, **kw):
        if out is not None or kw.get("where") is not None:
            raise unsupported(f"numpy.{xp_name} with out= or where=", xp.__name__)
        if isinstance(axis, list):
            axis = tuple(axis)
        r = getattr(xp, xp_name)(a, axis=axis, keepdims=keepdims, **_ddof(kw))
        return _wrap_result(r if dtype is None else xp.astype(r, _xp_dtype(dtype, xp)), xp)

    return f


def _ddof(kw):
    return {"correction": kw["ddof"]} if kw.get("ddof") else {}


def _like(fill):
    def f(xp, a, dtype=None, order="K", subok=True, shape=None, **kw):
        shape = tuple(a.shape) if shape is None else shape
        dt = a.dtype if dtype is None else _xp_dtype(dtype, xp)
        if fill is None:
            r = xp.full(shape, kw["fill_value"], dtype=dt)
        else:
            r = xp.full(shape, fill, dtype=dt)
        return ApiArray(r, xp)

    return f


def _full_like(xp, a, fill_value, dtype=None, **kw):
    return _like(None)(xp, a, dtype=dtype, fill_value=_scalar(fill_value), **kw)


def _scalar(v):
    return v.item() if isinstance(v, _np.generic) else v


def _moveaxis(xp, a, source, destination):
    return ApiArray(xp.moveaxis(a, source, destination), xp)


def _swapaxes(xp, a, i, j):
    axes = list(range(a.ndim))
    axes[i], axes[j] = axes[j], axes[i]
    return ApiArray(xp.permute_dims(a, tuple(axes)), xp)


def _squeeze(xp, a, axis=None):
    if axis is None:
        axis = tuple(i for i, n in enumerate(a.shape) if n == 1)
    return ApiArray(xp.squeeze(a, axis=axis), xp)


def _expand_dims(xp, a, axis):
    if isinstance(axis, (tuple, list)):
        for ax in sorted(ax % (a.ndim + len(axis)) for ax in axis):
            a = xp.expand_dims(a, axis=ax)
        return ApiArray(a, xp)
    return ApiArray(xp.expand_dims(a, axis=axis), xp)


def _matmul(xp, a, b, **kw):
    a, b = _same_kind(xp, a, b)
    return _wrap_result(xp.matmul(a, b), xp)


def _same_kind(xp, *arrays):
    """Python scalars and NumPy values as arrays of ``xp``, of the arrays' common dtype."""
    out = [v if _is_api_array(v) else xp.asarray(v) for v in arrays]
    return out


def _dot(xp, a, b):
    a, b = _same_kind(xp, a, b)
    if a.ndim == 0 or b.ndim == 0:
        return ApiArray(a * b, xp)
    if b.ndim == 1 or a.ndim == 1:
        return ApiArray(
            xp.tensordot(a, b, axes=((a.ndim - 1,), (0 if b.ndim == 1 else b.ndim - 2,))), xp
        )
    if b.ndim == 2:
        return ApiArray(xp.matmul(a, b), xp)
    raise unsupported("numpy.dot of arrays of more than two dimensions", xp.__name__)


def _tensordot(xp, a, b, axes=2):
    a, b = _same_kind(xp, a, b)
    return ApiArray(xp.tensordot(a, b, axes=axes), xp)


def _outer(xp, a, b):
    a, b = _same_kind(xp, a, b)
    return ApiArray(xp.reshape(a, (-1, 1)) * xp.reshape(b, (1, -1)), xp)


def _concatenate(xp, arrays, axis=0, **kw):
    return ApiArray(xp.concat(list(_same_kind(xp, *arrays)), axis=axis), xp)


def _stack(xp, arrays, axis=0, **kw):
    return ApiArray(xp.stack(list(_same_kind(xp, *arrays)), axis=axis), xp)


def _where(xp, cond, x=None, y=None):
    if x is None:
        raise unsupported("numpy.where with one argument", xp.__name__)
    cond = cond if _is_api_array(cond) else xp.asarray(cond)
    if not _is_api_array(x) and not _is_api_array(y):
        x = xp.asarray(x)
    return _wrap_result(xp.where(cond, x, y), xp)


def _broadcast_to(xp, a, shape, subok=False):
    return ApiArray(
        xp.broadcast_to(a, tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)), xp
    )


def _result_type(xp, *arrays):
    dts = []
    for a in arrays:
        if _is_api_array(a):
            dts.append(_dtype_tables(xp)[0][a.dtype])
        elif not isinstance(a, (_np.dtype, type, str, int, float, complex)):
            dts.append(_dtype_tables(xp)[0][a])
        else:
            dts.append(a)
    return _np.result_type(*dts)


def _clip(xp, a, a_min=None, a_max=None, **kw):
    return ApiArray(xp.clip(a, _scalar(a_min), _scalar(a_max)), xp)


def _cumsum(xp, a, axis=None, dtype=None):
    if axis is None:
        a, axis = xp.reshape(a, (-1,)), 0
    return ApiArray(xp.cumulative_sum(a, axis=axis), xp)


def _asarray(xp, a, dtype=None, **kw):
    return _wrap_result(xp.asarray(a, dtype=_xp_dtype(dtype, xp)), xp)


def _astype(xp, a, dtype, copy=True):
    return ApiArray(xp.astype(a, _xp_dtype(dtype, xp)), xp)


def _linalg(name):
    def f(xp, a, *args, **kw):
        if not hasattr(xp, "linalg"):
            raise unsupported(f"numpy.linalg.{name}", xp.__name__)
        return _wrap_result(getattr(xp.linalg, name)(a, *args, **kw), xp)

    return f


def _solve(xp, a, b):
    if b.ndim == a.ndim - 1:
        return ApiArray(xp.linalg.solve(a, b[..., None])[..., 0], xp)
    return ApiArray(xp.linalg.solve(a, b), xp)


def _slogdet(xp, a):
    r = xp.linalg.slogdet(a)
    return type(r)(ApiArray(r.sign, xp), ApiArray(r.logabsdet, xp))


def _diagonal(xp, a, offset=0, axis1=0, axis2=1):
    if (axis1 % a.ndim, axis2 % a.ndim) != (a.ndim - 2, a.ndim - 1):
        a = xp.moveaxis(a, (axis1, axis2), (-2, -1))
    return ApiArray(xp.linalg.diagonal(a, offset=offset), xp)


def _trace(xp, a, offset=0, axis1=0, axis2=1, dtype=None):
    return ApiArray(xp.sum(_diagonal(xp, a, offset, axis1, axis2).a, axis=-1), xp)


def _flip(xp, a, axis=None):
    return ApiArray(xp.flip(a, axis=axis), xp)


def _sort(xp, a, axis=-1, kind=None, order=None, stable=None):
    return ApiArray(xp.sort(a, axis=axis), xp)


def _argsort(xp, a, axis=-1, kind=None, order=None, stable=None):
    return ApiArray(xp.argsort(a, axis=axis), xp)


def _take(xp, a, indices, axis=None, **kw):
    if axis is None:
        a, axis = xp.reshape(a, (-1,)), 0
    return ApiArray(xp.take(a, xp.asarray(indices), axis=axis), xp)


_FUNCTIONS: dict[str, Callable] = {
    "numpy.shape": lambda xp, a: tuple(a.shape) if hasattr(a, "shape") else _np.shape(a),
    "numpy.ndim": lambda xp, a: a.ndim if hasattr(a, "ndim") else _np.ndim(a),
    "numpy.size": lambda xp, a: int(_np.prod(a.shape)) if hasattr(a, "shape") else 1,
    "numpy.result_type": _result_type,
    "numpy.iscomplexobj": lambda xp, a: _result_type(xp, a).kind == "c",
    "numpy.isrealobj": lambda xp, a: _result_type(xp, a).kind != "c",
    "numpy.sum": _reduction("sum"),
    "numpy.prod": _reduction("prod"),
    "numpy.mean": _reduction("mean"),
    "numpy.max": _reduction("max"),
    "numpy.amax": _reduction("max"),
    "numpy.min": _reduction("min"),
    "numpy.amin": _reduction("min"),
    "numpy.var": _reduction("var"),
    "numpy.std": _reduction("std"),
    "numpy.any": _reduction("any"),
    "numpy.all": _reduction("all"),
    "numpy.zeros_like": _like(0),
    "numpy.ones_like": _like(1),
    "numpy.empty_like": _like(0),
    "numpy.full_like": _full_like,
    "numpy.reshape": lambda xp, a, shape=None, order="C", newshape=None: _reshape(
        xp, a, shape if shape is not None else newshape, order
    ),
    "numpy.ravel": lambda xp, a, order="C": _reshape(xp, a, (-1,), order),
    "numpy.transpose": lambda xp, a, axes=None: ApiArray(_transpose(xp, a, axes), xp),
    "numpy.matrix_transpose": lambda xp, a: ApiArray(xp.matrix_transpose(a), xp),
    "numpy.swapaxes": _swapaxes,
    "numpy.moveaxis": _moveaxis,
    "numpy.squeeze": _squeeze,
    "numpy.expand_dims": _expand_dims,
    "numpy.broadcast_to": _broadcast_to,
    "numpy.concatenate": _concatenate,
    "numpy.stack": _stack,
    "numpy.where": _where,
    "numpy.matmul": _matmul,
    "numpy.dot": _dot,
    "numpy.tensordot": _tensordot,
    "numpy.outer": _outer,
    "numpy.clip": _clip,
    "numpy.cumsum": _cumsum,
    "numpy.asarray": _asarray,
    "numpy.array": _asarray,
    "numpy.astype": _astype,
    "numpy.copy": lambda xp, a, **kw: ApiArray(xp.asarray(a, copy=True), xp),
    "numpy.flip": _flip,
    "numpy.sort": _sort,
    "numpy.argsort": _argsort,
    "numpy.take": _take,
    "numpy.diagonal": _diagonal,
    "numpy.trace": _trace,
    "numpy.real": lambda xp, a: ApiArray(xp.real(a), xp),
    "numpy.imag": lambda xp, a: ApiArray(xp.imag(a), xp),
    "numpy.linalg.inv": _linalg("inv"),
    "numpy.linalg.det": _linalg("det"),
    "numpy.linalg.slogdet": _slogdet,
    "numpy.linalg.cholesky": _linalg("cholesky"),
    "numpy.linalg.solve": _solve,
    "numpy.linalg.eigh": _linalg("eigh"),
    "numpy.linalg.eigvalsh": _linalg("eigvalsh"),
    "numpy.linalg.svd": _linalg("svd"),
    "numpy.linalg.qr": _linalg("qr"),
    "numpy.linalg.pinv": _linalg("pinv"),
    "numpy.linalg.matrix_rank": _linalg("matrix_rank"),
}


def zeros(shape: tuple, dtype: Any, like: Any) -> Any:
    """``numpy.zeros(shape, dtype)`` as an array of ``like``'s library: for the rules that
    build a new array to write into (the adjoint of indexing).

    >>> import numpy
    >>> zeros((2,), float, numpy.ones(3))
    array([0., 0.])
    """
    t = type(like)
    if t not in _registered:
        return _np.zeros(shape, dtype=dtype)
    if t is ApiArray:
        return ApiArray(like.xp.zeros(shape, dtype=_xp_dtype(dtype, like.xp)), like.xp)
    return _np.zeros_like(like, shape=shape, dtype=dtype)


def adapt(x: Any) -> Any:
    """``x``, or the :class:`ApiArray` around it for an array-API-only library's array."""
    return ApiArray(x) if type(x) in _adapted else x


def native(x: Any) -> Any:
    """``x`` as its own library's array: the array inside an :class:`ApiArray`."""
    return x.a if type(x) is ApiArray else x


def like(x: Any, value: Any) -> Any:
    """The NumPy array ``value`` as an array of ``x``'s library (and, for Dask, chunks).

    For the places that make a new array beside ``x`` (a random direction, a unit vector):
    a NumPy array for NumPy ``x``.

    >>> import numpy
    >>> like(numpy.zeros(2), numpy.ones(2))
    array([1., 1.])
    """
    if type(value) in _adapted:
        return ApiArray(value)
    if is_numpy(x) or not isinstance(value, (_np.ndarray, _np.generic)):
        return value
    if type(x) is ApiArray:
        return ApiArray(x.xp.asarray(_np.asarray(value)), x.xp)
    top = type(x).__module__.split(".")[0]
    if top == "dask":
        import dask.array as da

        value = _np.asarray(value)
        if value.shape == tuple(x.shape):
            return da.from_array(value, chunks=x.chunks)
        return da.from_array(value)
    if top == "cupy":
        import cupy

        return cupy.asarray(value)
    ns = _namespace_or_none(x)
    if ns is not None:
        return ns.asarray(_np.asarray(value))
    return value


def to_numpy(x: Any) -> Any:
    """``x`` as a NumPy array, computed if lazy, copied from the device if on one.

    For comparisons in tests and for the user who asks explicitly; matdiff never calls it
    on the way to a derivative.
    """
    x = native(x)
    if is_numpy(x):
        return x
    top = type(x).__module__.split(".")[0]
    if top == "dask":
        return _np.asarray(x.compute())
    if top == "cupy":
        return x.get()
    if hasattr(x, "__dlpack__"):
        try:
            return _np.from_dlpack(x)
        except (TypeError, RuntimeError, BufferError):
            pass
    return _np.asarray(x)


# ---------------------------------------------------------------- registration


class LikeVSpace(VSpace):
    """The space of arrays shaped like one array of another library (chunks and device
    included): its zeros and ones are made with ``numpy.zeros_like``, which the library's
    dispatch turns into its own."""

    __slots__ = ("like",)

    def __init__(self, value):
        self.like = value
        self.shape = tuple(value.shape)
        dt = dtype_of(value) if type(value) is ApiArray else _np.result_type(value)
        self.dtype = _np.dtype(float) if dt.kind in "iub" else dt

    @property
    def size(self):
        return int(_np.prod(self.shape))

    def zeros(self):
        return _np.zeros_like(self.like, dtype=self.dtype)

    def ones(self):
        return _np.ones_like(self.like, dtype=self.dtype)


#: Filled by matdiff.numpy: the box class of traced arrays.
_box_class: list = []
#: Called with each newly registered array type and a maker ``(x, numpy_value) -> value``
#: of arrays of its library (the derivative operators' seeds).
on_register: list[Callable[[type, Callable], None]] = []
_registered: set[type] = set()
_adapted: set[type] = set()  # the types traced inside ApiArray


def use_box(box_class: type) -> None:
    """Box the arrays of other libraries with ``box_class`` (matdiff.numpy's ``ArrayBox``)."""
    _box_class.append(box_class)
    register_box(box_class, ApiArray)
    register_vspace(LikeVSpace, ApiArray)
    _registered.add(ApiArray)


def _register(t: type) -> bool:
    """Register the array type ``t`` of another library, if it is one: the hook that the
    tracer and the vector spaces call for a type they do not know."""
    if t in _registered or not _box_class:
        return t in _registered
    top = t.__module__.split(".")[0]
    box = _box_class[0]
    if top in ("dask", "cupy") and hasattr(t, "__array_function__") and hasattr(t, "shape"):
        if top == "dask":
            import dask.array as da

            if not issubclass(t, da.Array):
                return False
            # Lazy: a rule's shortcut on the data (``if any(x == 0)``) takes the general
            # path rather than computing the graph to decide.
            register_branch(t, lambda cond: True)
        register_box(box, t)
        register_vspace(LikeVSpace, t)
    elif hasattr(t, "__array_namespace__") and not issubclass(t, (_np.ndarray, _np.generic)):
        # Only the array API: traced inside the adapter.
        def adapting_box(v, trace, node):
            return box(ApiArray(v), trace, node)

        register_box(adapting_box, t)
        _adapted.add(t)
        box_types.discard(adapting_box)  # a maker of boxes, not a type of box
        register_vspace(lambda v: LikeVSpace(ApiArray(v)), t)
    else:
        return False
    _registered.add(t)
    for hook in on_register:
        hook(t, like)
    return True


type_hooks.append(_register)


def _lacking(name: str, args, e: BaseException) -> BackendError | None:
    """The error of a library that refused an operation on its arrays (a hook of the
    tracer, called only when a primitive's computation failed)."""
    if isinstance(e, BackendError) and type(e) is not ComputeRefused:
        return None
    for a in args:
        t = type(a)
        if t in _registered or (t in (list, tuple) and any(type(v) in _registered for v in a)):
            backend = backend_name(
                a if t not in (list, tuple) else next(v for v in a if type(v) in _registered)
            )
            if backend == "NumPy":
                continue
            alt = _ALTERNATIVES.get(backend, _ALTERNATIVES["array API"])
            if type(e) is ComputeRefused:
                return BackendError(
                    f"matdiff: {name} is not available for {backend} arrays: it needs the "
                    f"values, and matdiff does not compute a {backend} graph or convert the "
                    f"values to NumPy silently while it differentiates. {alt} See "
                    "docs/backends.md for what each library supports."
                )
            return BackendError(
                f"matdiff: {name} is not available for {backend} arrays with these arguments "
                f"({backend} raised {type(e).__name__}: {e}). matdiff does not convert the "
                f"values to NumPy silently. {alt} See docs/backends.md for what each "
                "library supports."
            )
    return None


raw_error_hooks.append(_lacking)
