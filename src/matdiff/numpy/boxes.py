"""The traced array: operators, ``.T``, methods, and NumPy's dispatch protocols.

``ArrayBox`` makes a traced value behave like an ndarray. Raw NumPy calls on it
(``numpy.sin(box)``, ``ndarray + box``) reach ``__array_ufunc__``/``__array_function__``
and are routed to matdiff's wrapper of the same function, or refused with a message
that names the function, never computed on a silently untraced value.
"""

from __future__ import annotations

import numpy as _np

from .. import backends as _backends
from ..core import VSpace, register_vspace
from ..errors import ConcreteValueError
from ..tracer import Box, box_types, getval, register_box
from . import _wrap
from . import fft as _fft
from . import indexing as _ix
from . import linalg as _linalg
from . import manipulation as _shape
from . import nondiff as _nd
from . import products as _prod
from . import reductions as _red
from . import ufuncs as _uf


class ArrayBox(Box):
    """A traced NumPy array or scalar: what a function under ``grad`` or ``jvp`` receives.

    It has NumPy's operators, attributes and common methods. ``bool(x)`` and ``x.item()``
    give the concrete value, so Python control flow works, but what they return is a
    constant: the derivative does not flow through it. ``float(x)``, ``int(x)`` and
    ``complex(x)`` are refused, as in JAX: ``math.exp(x)`` and storing ``x`` into a plain
    NumPy array call them, and would drop the derivative without a word.

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> float(grad(lambda x: (x.T @ x).sum())(np.ones((2, 2)))[0, 0])
    4.0
    """

    __slots__ = ()
    __array_priority__ = 100.0

    # -- attributes (read from the innermost value: boxes of outer levels may nest)
    @property
    def shape(self) -> tuple:
        return _np.shape(getval(self))

    @property
    def ndim(self) -> int:
        return _np.ndim(getval(self))

    @property
    def size(self) -> int:
        # The array's own size: numpy.size on a Dask array would compute the array.
        s = getattr(getval(self), "size", None)
        if s is None:
            return _np.size(getval(self))
        if s != s:
            # Dask's size after boolean-mask indexing: unknown until computed.
            raise _backends.unsupported(
                "an array of unknown size (boolean-mask indexing)",
                _backends.backend_name(getval(self)),
            )
        return int(s)

    @property
    def dtype(self) -> _np.dtype:
        return _np.result_type(getval(self))

    @property
    def T(self):
        return _shape.transpose(self)

    @property
    def mT(self):
        return _shape.swapaxes(self, -1, -2)

    @property
    def real(self):
        return _uf.real(self)

    @property
    def imag(self):
        return _uf.imag(self)

    def __len__(self) -> int:
        return len(getval(self))

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    # -- concrete values: eager traces have them
    def __bool__(self) -> bool:
        """Truth of the concrete value, so ``if x > 0:`` works while tracing."""
        return bool(getval(self))

    def __float__(self) -> float:
        raise _concrete_value_error("float")

    def __int__(self) -> int:
        raise _concrete_value_error("int")

    def __index__(self) -> int:
        return _np.asarray(getval(self)).__index__()

    def __complex__(self) -> complex:
        raise _concrete_value_error("complex")

    def __hash__(self):
        return id(self)

    # -- arithmetic
    def __neg__(self):
        return _uf.negative(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _uf.absolute(self)

    def __add__(self, other):
        return _uf.add(self, other)

    def __radd__(self, other):
        return _uf.add(other, self)

    def __sub__(self, other):
        return _uf.subtract(self, other)

    def __rsub__(self, other):
        return _uf.subtract(other, self)

    def __mul__(self, other):
        if other is self:
            # x * x as square(x): the same values, and derivative rules that make one
            # product of the tangent (2x * g) instead of two products and a sum.
            return _uf.square(self)
        return _uf.multiply(self, other)

    def __rmul__(self, other):
        return _uf.multiply(other, self)

    def __truediv__(self, other):
        return _uf.divide(self, other)

    def __rtruediv__(self, other):
        return _uf.divide(other, self)

    def __floordiv__(self, other):
        return _nd.floor_divide(self, other)

    def __rfloordiv__(self, other):
        return _nd.floor_divide(other, self)

    def __mod__(self, other):
        return _uf.mod(self, other)

    def __rmod__(self, other):
        return _uf.mod(other, self)

    def __pow__(self, other):
        return _uf.power(self, other)

    def __rpow__(self, other):
        return _uf.power(other, self)

    def __matmul__(self, other):
        return _prod.matmul_traced(self, other)

    def __rmatmul__(self, other):
        return _prod.matmul_traced(other, self)

    # -- comparisons carry no derivative
    def __eq__(self, other):
        return _nd.equal(self, other)

    def __ne__(self, other):
        return _nd.not_equal(self, other)

    def __lt__(self, other):
        return _nd.less(self, other)

    def __le__(self, other):
        return _nd.less_equal(self, other)

    def __gt__(self, other):
        return _nd.greater(self, other)

    def __ge__(self, other):
        return _nd.greater_equal(self, other)

    # -- indexing
    def __getitem__(self, idx):
        return _ix.getitem(self, idx)

    def __setitem__(self, idx, value):
        raise TypeError(
            "matdiff: assignment into a traced array (x[idx] = v) is not supported: the "
            "derivative of an overwritten value would be lost. Build a new array instead, "
            "e.g. x = np.where(mask, v, x), x = np.concatenate([x[:i], v[None], x[i+1:]]), "
            "or collect values in a Python list and call np.stack(...)."
        )

    # -- methods
    def sum(self, axis=None, dtype=None, keepdims=False):
        return _red.sum(self, axis=axis, dtype=dtype, keepdims=keepdims)

    def mean(self, axis=None, dtype=None, keepdims=False):
        return _red.mean(self, axis=axis, dtype=dtype, keepdims=keepdims)

    def prod(self, axis=None, keepdims=False):
        return _red.prod(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        return _red.max(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        return _red.min(self, axis=axis, keepdims=keepdims)

    def var(self, axis=None, ddof=0, keepdims=False):
        return _red.var(self, axis=axis, ddof=ddof, keepdims=keepdims)

    def std(self, axis=None, ddof=0, keepdims=False):
        return _red.std(self, axis=axis, ddof=ddof, keepdims=keepdims)

    def cumsum(self, axis=None):
        return _red.cumsum(self, axis=axis)

    def reshape(self, *shape, order="C"):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _ix.reshape(self, shape, order=order)

    def transpose(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return _shape.transpose(self, axes or None)

    def swapaxes(self, a, b):
        return _shape.swapaxes(self, a, b)

    def ravel(self, order="C"):
        return _shape.ravel(self, order=order)

    def flatten(self, order="C"):
        return _shape.ravel(self, order=order)

    def squeeze(self, axis=None):
        return _shape.squeeze(self, axis=axis)

    def dot(self, other):
        return _prod.dot(self, other)

    def diagonal(self, offset=0, axis1=0, axis2=1):
        return _shape.diagonal(self, offset, axis1, axis2)

    def trace(self, offset=0, axis1=0, axis2=1, dtype=None):
        return _shape.trace(self, offset, axis1, axis2, dtype)

    def take(self, indices, axis=None, mode="raise"):
        return _ix.take(self, indices, axis=axis, mode=mode)

    def repeat(self, repeats, axis=None):
        return _shape.repeat(self, repeats, axis=axis)

    def any(self, axis=None, keepdims=False):
        return _np.any(getval(self), axis=axis, keepdims=keepdims)

    def all(self, axis=None, keepdims=False):
        return _np.all(getval(self), axis=axis, keepdims=keepdims)

    def clip(self, a_min=None, a_max=None):
        return _uf.clip(self, a_min, a_max)

    def astype(self, dtype, **kwargs):
        return _uf.astype(self, dtype)

    def conj(self):
        return _uf.conj(self)

    conjugate = conj

    def argmax(self, axis=None):
        return _np.argmax(getval(self), axis=axis)

    def argmin(self, axis=None):
        return _np.argmin(getval(self), axis=axis)

    def argsort(self, axis=-1):
        return _np.argsort(getval(self), axis=axis)

    @property
    def itemsize(self) -> int:
        return self.dtype.itemsize

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def copy(self, order="C"):
        return _shape.copy(self, order=order)

    def compress(self, condition, axis=None):
        return _ix.compress(condition, self, axis=axis)

    def argpartition(self, kth, axis=-1):
        return _np.argpartition(getval(self), kth, axis=axis)

    # In-place methods cannot write into a traced array; each names its pure counterpart.
    def sort(self, *args, **kwargs):
        raise TypeError(_in_place_message("x.sort()", "x = np.sort(x, axis)"))

    def partition(self, *args, **kwargs):
        raise TypeError(_in_place_message("x.partition(k)", "x = np.partition(x, k, axis)"))

    def fill(self, value):
        raise TypeError(_in_place_message("x.fill(v)", "x = np.full_like(x, v)"))

    def put(self, *args, **kwargs):
        raise TypeError(_in_place_message("x.put(ind, v)", "x = np.where(mask, v, x)"))

    def resize(self, *args, **kwargs):
        raise TypeError(_in_place_message("x.resize(shape)", "x = np.resize(x, shape)"))

    def cumprod(self, axis=None):
        return _red.cumprod(self, axis=axis)

    def round(self, decimals=0):
        """Rounded concrete values (no derivative: rounding is piecewise constant)."""
        return _nd.round(self, decimals)

    def nonzero(self):
        return _np.nonzero(getval(self))

    def searchsorted(self, v, side="left", sorter=None):
        return _np.searchsorted(getval(self), getval(v), side=side, sorter=sorter)

    def item(self, *args):
        """The concrete element as a Python scalar (no derivative)."""
        return _np.asarray(getval(self)).item(*args)

    def tolist(self):
        """The concrete value as nested lists (no derivative)."""
        return _np.asarray(getval(self)).tolist()

    # -- raw NumPy calls on traced values
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        name = f"numpy.{ufunc.__name__}"
        if kwargs.get("out") is not None:
            raise TypeError(
                f"matdiff: {name} was called with out= on a traced value: writing into an "
                "existing array (including x += y on a NumPy array) cannot carry a derivative. "
                "Use the returned value instead, e.g. x = x + y."
            )
        kwargs.pop("out", None)
        f = _wrap.wrapped_for.get(ufunc)
        if f is not None:
            # reduce, accumulate, outer, reduceat and at are the wrapper's own methods
            # (matdiff.numpy.ufunc_methods), so raw NumPy and matdiff.numpy agree.
            f = f if method == "__call__" else getattr(f, method, None)
            if f is not None:
                return f(*inputs, **kwargs)
        raise TypeError(_raw_numpy_message(name, method))

    def __array_function__(self, func, types, args, kwargs):
        f = _wrap.wrapped_for.get(func)
        if f is None:
            f = _find_wrapper(func)
        if f is not None:
            return f(*args, **kwargs)
        module = getattr(func, "__module__", "numpy") or "numpy"
        if func in _WRITERS and args and type(args[0]) not in box_types:
            raise ConcreteValueError(_store_message(f"numpy.{func.__name__}"))
        raise TypeError(_raw_numpy_message(f"{module}.{func.__name__}", None))

    def __array__(self, dtype=None, copy=None):
        if dtype is not None and _np.dtype(dtype).kind in "iub":
            # An integer or boolean conversion (np.int64(x), x.astype(int) in raw NumPy) is
            # piecewise constant: its derivative is zero, as for int(x), so the value is right.
            return _np.asarray(getval(self)).astype(dtype)
        raise TypeError(
            "matdiff: a traced value was converted to a plain NumPy array, which would drop "
            "its derivative. Use matdiff.numpy (import matdiff.numpy as np) for every function "
            "on the path from the inputs to the output, or matdiff.stop_gradient(x) where the "
            "derivative is meant to be dropped."
        )


def _in_place_message(call: str, fix: str) -> str:
    return (
        f"matdiff: {call} changes a traced array in place, which would lose the derivative "
        f"of the values it overwrites; use the function that returns a new array: {fix}"
    )


# Functions whose result does not depend differentiably on the values (dtype and shape
# queries, arrays of the same shape): run on the concrete values.
VALUE_QUERIES = {
    _np.result_type,
    _np.iscomplexobj,
    _np.isrealobj,
    _np.shape,
    _np.ndim,
    _np.size,
    _np.zeros_like,
    _np.ones_like,
    _np.empty_like,
}


def _on_values(func):
    def f(*args, **kwargs):
        return func(*[getval(a) for a in args], **kwargs)

    return f


def _find_wrapper(func):
    """The matdiff function for a raw NumPy function that was not registered by identity.

    Composite wrappers are registered under NumPy's name, so look the name up in the
    matdiff namespace of the same module; remember the answer for the next call.
    """
    name = getattr(func, "__name__", "")
    module = getattr(func, "__module__", "")
    f = None
    if module == "numpy" and getattr(_np, name, None) is func:
        f = _wrap.all_wrapped.get(name)
    elif module in ("numpy.linalg", "numpy.fft"):
        # Read the module's own namespace: its __getattr__ falls through to NumPy's.
        f = vars({"numpy.linalg": _linalg, "numpy.fft": _fft}[module]).get(name)
    if f is None and func in VALUE_QUERIES:
        f = _on_values(func)
    if f is None or f is func:
        return None
    _wrap.wrapped_for[func] = f
    return f


# NumPy functions that write their other arguments into their first, a plain array.
_WRITERS = {_np.copyto, _np.put, _np.putmask, _np.place, _np.put_along_axis, _np.fill_diagonal}


_BUILD_INSTEAD = (
    "Build the array from traced values instead: y = np.stack([...]) or np.array([...]) with "
    "matdiff.numpy, y = np.concatenate([x[:1], y[1:]]), or y = np.where(mask, x, y)."
)


def _store_message(route: str) -> str:
    return (
        f"matdiff: a traced value was stored into a plain NumPy array ({route}), which "
        f"would drop its derivative silently. {_BUILD_INSTEAD}"
    )


def _concrete_value_error(kind: str) -> ConcreteValueError:
    # One refusal for every route to a Python number: an explicit float(x), math.exp(x),
    # and NumPy storing x into a plain array (y[i] = x, y.fill(x), operator.setitem(y, i, x)),
    # which converts with float() from C.
    return ConcreteValueError(
        f"matdiff: {kind}() of a traced value would drop its derivative silently. NumPy "
        f"calls {kind}() when a traced value is stored into a plain NumPy array "
        f"(y[i] = x, y.fill(x)): {_BUILD_INSTEAD} For math.exp(x) and the like, use "
        "matdiff.numpy's function (np.exp(x)). To drop the derivative on purpose, convert "
        f"an untraced value: {kind}(matdiff.stop_gradient(x))."
    )


def _raw_numpy_message(name, method):
    what = f"{name}.{method}" if method and method != "__call__" else name
    return (
        f"matdiff: {what} was called on a traced value, and matdiff has no derivative rule "
        f"for it. Call the matdiff.numpy version if there is one (import matdiff.numpy as np), "
        "or define a primitive with matdiff.extend.primitive and defvjp/defjvp."
    )


_scalar_types = [float, int, complex, bool, _np.ndarray]
_scalar_types += [t for t in set(_np.sctypeDict.values()) if issubclass(t, (_np.number, _np.bool_))]
register_box(ArrayBox, *_scalar_types)
_backends.use_box(ArrayBox)


class ArrayVSpace(VSpace):
    """The space of arrays of one shape and dtype."""

    __slots__ = ()

    def __init__(self, value):
        # Every grad call makes the spaces of its output and inputs: an array or NumPy
        # scalar answers at once, without numpy.shape's and result_type's dispatch.
        if type(value) is _np.ndarray or isinstance(value, _np.generic):
            self.shape = value.shape
            dt = value.dtype
        else:
            self.shape = _np.shape(value)
            dt = _np.result_type(value)
        if dt.kind in "iub":
            dt = _np.dtype(float)
        self.dtype = dt

    @property
    def size(self):
        return int(_np.prod(self.shape))

    def zeros(self):
        return _np.zeros(self.shape, self.dtype)

    def ones(self):
        return _np.ones(self.shape, self.dtype)


register_vspace(ArrayVSpace, *_scalar_types)
