"""Staging: one more trace level, which records equations into a :class:`Program`.

Staging computes every value eagerly on the example arguments (so shapes and dtypes come
for free) and records each primitive application as an equation. Traced values are
:class:`StagedBox` es, which refuse to become Python booleans or numbers: a branch on a
traced value cannot be recorded, and the error names the user's line.

Rules compute masks and other derivative-free values with raw NumPy on ``getval(x)``
(``maximum``'s tie mask, ``abs``'s sign, comparisons, ``stop_gradient``). Under staging
``getval`` of a staged box returns a :class:`StagedValue`, a duck array that records the
raw NumPy calls made on it, so those values are recomputed at run time instead of being
frozen at their example values. What cannot be recorded (a value whose shape depends on
the data, a write into an array) is refused with an error, never silently frozen.
"""

from __future__ import annotations

import operator
import os
import sys
from collections.abc import Callable
from typing import Any

import numpy as _np

from ..core import register_vspace
from ..differential_operators import stop_gradient
from ..errors import StagingError, library_site, user_site
from ..numpy._wrap import example_readers
from ..numpy.boxes import ArrayBox, ArrayVSpace
from ..numpy.indexing import getitem as _getitem
from ..operators import constant_makers
from ..tracer import Trace, box_types, register_box, register_branch, values_from_trace
from .ir import Eqn, Lit, Program, Var, guard, prim_name

__all__ = [
    "StagingError",
    "CapturedTracedValue",
    "StagingTrace",
    "StagedBox",
    "StagedValue",
    "stage",
]

_COMPILE_DIR = os.path.dirname(os.path.abspath(__file__))


def concrete_error(what: str) -> StagingError:
    rule = library_site(_COMPILE_DIR)
    inside = (
        f" It was asked inside matdiff ({rule}): that derivative rule reads a traced value "
        "concretely, so functions using it cannot be compiled (docs/compile.md lists the known "
        "ones; please report any other)."
        if rule
        else ""
    )
    return StagingError(
        f"jit: {what} of a traced value is not known while the function is being compiled "
        f"({user_site()}).{inside} Python control flow (if, while, and, or, int(), float()) on a "
        "value computed from the jitted function's inputs cannot be recorded. Choose values "
        "elementwise with np.where(condition, a, b) instead, or pass the argument this value "
        "depends on as static, e.g. jit(f, static_argnums=(1,)), so it is known at compile time."
        + (
            " A derivative rule that branches on data to save work says so with "
            "matdiff.extend.branch(cond), which compiles to a check at run time."
            if what == _TRUTH
            else ""
        )
    )


_TRUTH = "the truth value (bool)"


# ---------------------------------------------------------------- the trace


class StagingTrace(Trace):
    """Records each primitive application as an equation; computes values eagerly."""

    __slots__ = ("eqns", "done")

    def __init__(self) -> None:
        super().__init__()
        self.eqns: list[Eqn] = []
        self.done = False

    def process(self, fun, ans, argvals, kwargs, argnums, boxes):
        self._check_open()
        inputs = []
        k = 0
        for i, a in enumerate(argvals):
            if k < len(argnums) and argnums[k] == i:
                inputs.append(boxes[k]._node)
                k += 1
            else:
                inputs.append(self.atom(a, fun))
        if type(ans) is StagedValue:
            # The eager computation ran raw NumPy on a staged operand and recorded that too;
            # the equation below supersedes it, and dead-code elimination drops it.
            ans = ans.value
        if kwargs:
            _check_static(kwargs, fun)
        if fun is _getitem:
            _check_index(inputs[1] if len(inputs) > 1 else None, "getitem")
        var = Var(_np.shape(ans), _dtype_of(ans, fun))
        self.eqns.append(Eqn(fun, tuple(inputs), dict(kwargs), var))
        return StagedBox(ans, self, var)

    def concrete(self, box: StagedBox) -> StagedValue:
        # getval() asks for the value as data: hand out a recording duck array, so that
        # masks computed from it are recomputed at run time rather than frozen.
        return StagedValue(self, box._node, box._value, stop=True)

    def _check_open(self) -> None:
        if self.done:
            raise StagingError(
                "jit: a traced value escaped the function being compiled (it was stored "
                "outside, e.g. in a global or a list, and used after jit returned). Return it "
                "from the jitted function instead."
            )

    def atom(self, a: Any, fun: Callable):
        """The operand for an argument ``a`` of ``fun``: its variable if staged, else a literal."""
        t = type(a)
        if t is StagedValue:
            if a.trace is not self:
                raise _foreign(prim_name(fun))
            return self.value_var(a)
        if t in box_types:
            if t is StagedBox and a._trace is self:
                return a._node
            raise _foreign(prim_name(fun))
        if _contains_traced(a):
            raise StagingError(
                f"jit: {prim_name(fun)} got a traced value inside a {t.__name__}; only top-level "
                "array arguments can be traced. Pass the traced values as separate arguments."
            )
        return Lit.of(a)

    def value_var(self, a: StagedValue) -> Var:
        """The variable for a derivative-free value used as an operand or an output."""
        if a.var is None:
            raise StagingError(a.error)
        if a.stop:
            # getval(x) of a staged x is x's value with its derivative dropped: say so in
            # the program, or running it under grad would differentiate through it.
            var = Var(a.var.shape, a.var.dtype)
            self.eqns.append(Eqn(stop_gradient, (a.var,), {}, var))
            a.var = var
            a.stop = False
        return a.var

    def guard(self, a: StagedValue, expected: bool) -> bool:
        """Record that ``bool(a)`` must stay ``expected``; return it."""
        self._check_open()
        if a.var is None:
            raise StagingError(a.error)
        self.eqns.append(Eqn(guard, (a.var,), {"expected": expected}, Var((), _np.bool_)))
        return expected

    def record_raw(self, prim: Callable, args: tuple, kwargs: dict) -> Any:
        """Record a raw NumPy call on staged values (no derivative); a staged result."""
        self._check_open()
        name = prim_name(prim)
        if any(type(a) in (tuple, list) and _contains_traced(a) for a in args):
            prim, args = _flatten_sequences(prim, args)
        inputs = []
        error = None
        for a in args:
            if type(a) is StagedValue:
                if a.trace is not self:
                    raise _foreign(name)
                if a.var is None:
                    error = a.error
                inputs.append(a.var)
            elif _contains_traced(a):
                error = (
                    f"jit: numpy.{name} got a traced value inside a {type(a).__name__}, which "
                    "cannot be recorded; pass the traced values as separate arguments"
                )
                inputs.append(None)
            else:
                inputs.append(Lit.of(a))
        for key, v in kwargs.items():
            if _contains_traced(v):
                error = f"jit: numpy.{name}: keyword argument {key} must not be traced"
        if prim is operator.getitem and error is None:
            try:
                _check_index(inputs[1], name)
            except StagingError as e:
                error = str(e)
        value = prim(*_plain(args), **_plain(kwargs))
        if isinstance(value, (tuple, list)) and error is None and name in _FIXED_SHAPE_TUPLES:
            # Results of fixed shape (slogdet's sign, eigh's vectors...): one equation per part.
            fixed = _FIXED_SHAPE_TUPLES[name]
            parts = [
                self.record_raw(_part_of(prim, name, k), args, kwargs)
                if fixed is None or k in fixed
                else StagedValue(self, None, v, _VARIABLE_PARTS[name])
                for k, v in enumerate(value)
            ]
            return type(value)(*parts) if hasattr(value, "_fields") else type(value)(parts)
        if isinstance(value, (tuple, list)):
            msg = error or (
                f"jit: numpy.{name} returns several arrays whose shapes depend on the traced "
                "values; this cannot be compiled. Use np.where(condition, a, b) with a fixed shape."
            )
            parts = [StagedValue(self, None, v, msg) for v in value]
            # NumPy's result namedtuples (SlogdetResult, EighResult...) take fields, not a list.
            return type(value)(*parts) if hasattr(value, "_fields") else type(value)(parts)
        if value is None or not _is_arraylike(value):
            raise StagingError(
                f"jit: numpy.{name} on a traced value returned {type(value).__name__}, which "
                "cannot be recorded"
            )
        if error is not None:
            return StagedValue(self, None, value, error)
        var = Var(_np.shape(value), _np.result_type(value))
        self.eqns.append(Eqn(prim, tuple(inputs), dict(kwargs), var))
        return StagedValue(self, var, value)

    def out_atom(self, o: Any, k: int):
        t = type(o)
        if t is StagedBox and o._trace is self:
            return o._node
        if t is StagedValue and o.trace is self:
            return self.value_var(o)
        if t in box_types or t is StagedValue:
            raise _foreign(f"output {k}")
        if not _is_arraylike(o):
            raise StagingError(
                f"jit: output {k} is a {t.__name__}; a jitted function must return arrays, "
                "numbers, or pytrees (tuples, lists, dicts) of them"
            )
        return Lit.of(o)


class _SequenceCall:
    """``prim`` called with some arguments packed into tuples or lists again.

    NumPy takes several arrays as one sequence (``np.stack((a, b))``); an equation's
    operands are atoms. Recorded as ``_SequenceCall(np.stack, ((tuple, 2),))(a, b)``,
    each array is an operand of its own. One object per layout, so equal calls are shared.
    """

    __slots__ = ("prim", "layout", "__name__")

    def __init__(self, prim: Callable, layout: tuple) -> None:
        self.prim = prim
        self.layout = layout
        self.__name__ = prim_name(prim)

    def __call__(self, *flat, **kwargs):
        args = []
        k = 0
        for part in self.layout:
            if part is None:
                args.append(flat[k])
                k += 1
            else:
                kind, n = part
                args.append(kind(flat[k : k + n]))
                k += n
        return self.prim(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<{self.__name__} of sequences>"


_sequence_calls: dict[tuple, _SequenceCall] = {}


def _flatten_sequences(prim: Callable, args: tuple) -> tuple[Callable, tuple]:
    """``(prim', flat)`` with ``prim'(*flat) == prim(*args)``, each tuple or list argument
    that holds traced values spread into separate operands (one level deep)."""
    layout = []
    flat: list = []
    for a in args:
        if type(a) in (tuple, list) and _contains_traced(a):
            if any(type(x) in (tuple, list, dict) and _contains_traced(x) for x in a):
                return prim, args  # nested deeper: refused with the usual message
            layout.append((type(a), len(a)))
            flat.extend(a)
        else:
            layout.append(None)
            flat.append(a)
    key = (prim, tuple(layout))
    call = _sequence_calls.get(key)
    if call is None:
        call = _sequence_calls[key] = _SequenceCall(prim, key[1])
    return call, tuple(flat)


class CapturedTracedValue(StagingError):
    """The function closes over a value traced by an enclosing transformation."""


def _foreign(where: str) -> StagingError:
    return CapturedTracedValue(
        f"jit: {where} got a value traced by an enclosing transformation (grad, jvp, or an "
        "outer jit), captured from outside the jitted function. A jitted function sees only "
        "its arguments as traced: pass that value as an argument of the jitted function."
    )


def _is_arraylike(v: Any) -> bool:
    return isinstance(v, (_np.ndarray, _np.generic, float, int, complex, bool))


def _dtype_of(ans: Any, fun: Callable) -> _np.dtype:
    if not _is_arraylike(ans):
        raise StagingError(
            f"jit: {prim_name(fun)} returned a {type(ans).__name__}, which cannot be recorded; "
            "only array results can be staged"
        )
    return _np.result_type(ans)


def _contains_traced(v: Any) -> bool:
    t = type(v)
    if t is StagedValue or t in box_types:
        return True
    if t in (tuple, list):
        return any(_contains_traced(x) for x in v)
    if t is dict:
        return any(_contains_traced(x) for x in v.values())
    return False


def _check_static(kwargs: dict, fun: Callable) -> None:
    for key, v in kwargs.items():
        if _contains_traced(v):
            raise StagingError(
                f"jit: {prim_name(fun)}: keyword argument {key} is traced, but keyword "
                "arguments of primitives are static; pass it positionally or make it a constant"
            )


def _check_index(idx_atom, where: str) -> None:
    if type(idx_atom) is Var and idx_atom.dtype.kind == "b":
        raise StagingError(
            f"jit: {where} with a boolean mask computed from traced values has a shape that "
            f"depends on the data ({user_site()}), which cannot be compiled. Use "
            "np.where(mask, x, 0.0) to keep the shape fixed."
        )


def _plain(v: Any) -> Any:
    t = type(v)
    if t is StagedValue:
        return v.value
    if t in (tuple, list):
        return t(_plain(x) for x in v)
    if t is dict:
        return {k: _plain(x) for k, x in v.items()}
    return v


# ---------------------------------------------------------------- staged values

_METADATA = {
    _np.shape,
    _np.ndim,
    _np.size,
    _np.result_type,
    _np.iscomplexobj,
    _np.isrealobj,
    _np.can_cast,
}


class _NoConcreteValue:
    """The conversions that need a concrete value, which a staged value does not have."""

    __slots__ = ()

    def __float__(self):
        raise concrete_error("float()")

    def __int__(self):
        raise concrete_error("int()")

    def __complex__(self):
        raise concrete_error("complex()")

    def __index__(self):
        raise concrete_error("the integer value (used as an index or a size)")

    def item(self, *args):
        raise concrete_error(".item()")

    def tolist(self):
        raise concrete_error(".tolist()")


class StagedBox(_NoConcreteValue, ArrayBox):
    """A value traced by staging: the payload is its :class:`Var`."""

    __slots__ = ()

    def __init__(self, value: Any, trace: StagingTrace, var: Var) -> None:
        self._value = value
        self._trace = trace
        self._node = var

    def __bool__(self):
        raise concrete_error(_TRUTH)

    def __array__(self, dtype=None, copy=None):
        raise concrete_error("conversion to a NumPy array (np.asarray, np.array, indexing)")

    def __array_function__(self, func, types, args, kwargs):
        # An enclosing box asks for its value's dtype or shape with np.result_type(box).
        if func in _METADATA:
            return func(*_plain_boxes(args), **_plain_boxes(kwargs))
        return super().__array_function__(func, types, args, kwargs)


def _plain_boxes(v: Any) -> Any:
    t = type(v)
    if t is StagedBox:
        return v._value
    if t in (tuple, list):
        return t(_plain_boxes(x) for x in v)
    if t is dict:
        return {k: _plain_boxes(x) for k, x in v.items()}
    return v


register_box(StagedBox)
values_from_trace(StagedBox)
# An enclosing-level box around a staged value is an ordinary ArrayBox.
register_box(ArrayBox, StagedBox)


class StagedValue(_NoConcreteValue):
    """A derivative-free value computed from staged ones: raw NumPy calls on it are recorded.

    ``var`` is ``None`` for a value that could not be recorded; ``error`` says why, and any
    use of it raises that error.
    """

    __slots__ = ("trace", "var", "value", "error", "stop")
    __array_priority__ = 50.0

    def __init__(
        self, trace: StagingTrace, var: Var | None, value: Any, error: str = "", stop: bool = False
    ) -> None:
        self.trace = trace
        self.var = var
        self.value = value
        self.error = error
        # True for getval() of a staged box: ``var`` is the box's own, differentiable one.
        self.stop = stop

    def __repr__(self) -> str:
        return f"StagedValue({self.value!r})"

    # -- metadata is known at compile time
    @property
    def shape(self):
        return _np.shape(self.value)

    @property
    def dtype(self):
        return _np.result_type(self.value)

    @property
    def ndim(self):
        return _np.ndim(self.value)

    @property
    def size(self):
        return _np.size(self.value)

    def __len__(self):
        return len(self.value)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    # -- concrete values are not
    def __bool__(self):
        # User control flow on data cannot be recorded; a rule asks with branch().
        raise concrete_error(_TRUTH)

    def guarded_truth(self) -> bool:
        """A rule branching for speed (``if branch(np.any(mask))``): take the example's
        branch and check it at run time; user code branching on data is refused."""
        return self.trace.guard(self, bool(self.value))

    def __array__(self, dtype=None, copy=None):
        raise concrete_error("conversion to a NumPy array (np.asarray, np.array)")

    # -- NumPy dispatch: record the call
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if any(type(x) in box_types for x in inputs):
            return NotImplemented
        if kwargs.get("out") is not None or method == "at":
            raise StagingError(
                f"jit: numpy.{ufunc.__name__} writes into an array computed from traced values "
                f"({user_site()}), which cannot be recorded; compute a new array instead"
            )
        prim = ufunc if method == "__call__" else getattr(ufunc, method)
        return self.trace.record_raw(prim, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        if func in _METADATA:
            return func(*_plain(args), **_plain(kwargs))
        if any(t in box_types for t in types):
            return NotImplemented
        return self.trace.record_raw(func, args, kwargs)

    # -- operators and methods, all through NumPy so that they are recorded
    def __getitem__(self, idx):
        return self.trace.record_raw(operator.getitem, (self, idx), {})

    def astype(self, dtype, copy=True):
        return self.trace.record_raw(_np.asarray, (self,), {"dtype": _np.dtype(dtype)})

    @property
    def T(self):
        return _np.transpose(self)

    def reshape(self, *shape):
        return _np.reshape(self, shape[0] if len(shape) == 1 else shape)

    def transpose(self, *axes):
        return _np.transpose(self, axes or None)

    def sum(self, axis=None, keepdims=False):
        return _np.sum(self, axis=axis, keepdims=keepdims)

    def any(self, axis=None):
        return _np.any(self, axis=axis)

    def all(self, axis=None):
        return _np.all(self, axis=axis)

    def max(self, axis=None, keepdims=False):
        return _np.max(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        return _np.min(self, axis=axis, keepdims=keepdims)

    def argmax(self, axis=None):
        return _np.argmax(self, axis=axis)

    def argmin(self, axis=None):
        return _np.argmin(self, axis=axis)

    def ravel(self):
        return _np.ravel(self)

    def conj(self):
        return _np.conj(self)

    @property
    def real(self):
        return _np.real(self)

    @property
    def imag(self):
        return _np.imag(self)

    def copy(self):
        return _np.copy(self)

    def flatten(self):
        return _np.ravel(self)

    def squeeze(self, axis=None):
        return _np.squeeze(self, axis=axis)

    def swapaxes(self, a, b):
        return _np.swapaxes(self, a, b)

    def mean(self, axis=None, keepdims=False):
        return _np.mean(self, axis=axis, keepdims=keepdims)

    def cumsum(self, axis=None):
        return _np.cumsum(self, axis=axis)

    def clip(self, a_min=None, a_max=None):
        return _np.clip(self, a_min, a_max)

    def round(self, decimals=0):
        return _np.round(self, decimals)

    def nonzero(self):
        return _np.nonzero(self)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        raise _UnsupportedAttribute(
            f"jit: .{name} of a derivative-free traced value (one computed by NumPy from "
            f"getval or stop_gradient) is not supported while staging ({user_site()}); "
            f"call the NumPy function instead, e.g. np.{name}(x), which is recorded"
        )

    def __neg__(self):
        return _np.negative(self)

    def __abs__(self):
        return _np.absolute(self)

    def __invert__(self):
        return _np.invert(self)


register_branch(StagedValue, StagedValue.guarded_truth)


class _UnsupportedAttribute(StagingError, AttributeError):
    """Also an AttributeError, so that getattr(x, name, default) probes still work."""


def _binary(ufunc):
    def op(self, other):
        return ufunc(self, other)

    def rop(self, other):
        return ufunc(other, self)

    return op, rop


for _name, _uf in [
    ("add", _np.add),
    ("sub", _np.subtract),
    ("mul", _np.multiply),
    ("truediv", _np.true_divide),
    ("floordiv", _np.floor_divide),
    ("mod", _np.mod),
    ("pow", _np.power),
    ("matmul", _np.matmul),
    ("and", _np.logical_and),
    ("or", _np.logical_or),
    ("xor", _np.logical_xor),
]:
    _op, _rop = _binary(_uf)
    setattr(StagedValue, f"__{_name}__", _op)
    setattr(StagedValue, f"__r{_name}__", _rop)

for _name, _uf in [
    ("eq", _np.equal),
    ("ne", _np.not_equal),
    ("lt", _np.less),
    ("le", _np.less_equal),
    ("gt", _np.greater),
    ("ge", _np.greater_equal),
]:
    setattr(StagedValue, f"__{_name}__", _binary(_uf)[0])
StagedValue.__hash__ = None


class _StagedVSpace(ArrayVSpace):
    """The space of a staged value. Its ``ones`` (the seed of ``grad``) is a staged value
    made by an equation, not a plain array: the backward pass computed from it is then
    recorded, as it is for ``vjp`` with a traced cotangent, so the arrays it meets (one
    captured by closure, say) are read when the program runs, not frozen while staging."""

    __slots__ = ("trace",)

    def __init__(self, sv: StagedValue) -> None:
        super().__init__(sv.value)
        self.trace = sv.trace

    def ones(self):
        value = super().ones()
        trace = self.trace
        if trace.done:
            return value
        var = Var(self.shape, self.dtype)
        trace.eqns.append(Eqn(_np.ones, (), {"shape": self.shape, "dtype": self.dtype}, var))
        return StagedBox(value, trace, var)


register_vspace(_StagedVSpace, StagedValue)


def _constant(sv: StagedValue, value: Any) -> Any:
    """The unit vectors of jacobian, jacfwd and hessian, or a tangent or cotangent given as
    a plain array, beside a staged value: an equation that copies it, so that its products
    with a captured array are recorded as the seed's are. The array is held by reference
    (a tangent may be captured too); one made for the transformation alone is known by
    value after staging (_know_private_arrays) and folded."""
    trace = sv.trace
    if type(value) is not _np.ndarray or trace.done:
        return value
    var = Var(value.shape, value.dtype)
    trace.eqns.append(Eqn(_np.array, (Lit.of(value),), {}, var))
    return StagedBox(value, trace, var)


constant_makers[StagedValue] = _constant
# A unit-vector seed recorded as a constant of the program is still the identity: the
# batch rules may read products with it off as slices of operands that are recorded.
# A primitive whose raw function indexes with a staged operand (take_along_axis's
# indices) computes its example answer from the example value; its equation keeps the
# operand, so the program recomputes the index at run time.
example_readers[StagedValue] = lambda sv: sv.value


# ---------------------------------------------------------------- driver


def stage(fun: Callable, leaves: list) -> tuple[Program, Any]:
    """Stage ``fun(*boxes)``, one box per example leaf: ``(program, out_treedef)``.

    >>> import matdiff.numpy as np
    >>> prog, out_tree = stage(lambda x: np.sin(x), [np.zeros(3)])
    >>> print(prog)
    { lambda a:f64[3] .
        b:f64[3] = sin a
      in (b) }
    """
    from ..tree import tree_flatten

    trace = StagingTrace()
    invars = []
    boxes = []
    for leaf in leaves:
        weak = type(leaf) in (float, int, complex, bool)
        var = Var(_np.shape(leaf), _np.result_type(leaf), weak=weak)
        invars.append(var)
        boxes.append(StagedBox(leaf, trace, var))
    try:
        out = fun(*boxes)
        out_leaves, out_tree = tree_flatten(out)
        outvars = [trace.out_atom(o, k) for k, o in enumerate(out_leaves)]
    finally:
        trace.done = True
    del out, out_leaves, boxes
    _know_private_arrays(trace.eqns)
    return Program(invars, trace.eqns, outvars), out_tree


# The count below is exact on CPython with the GIL up to 3.13, where it was checked; a
# later or free-threaded interpreter may count a reference the program does not hold
# (3.14 borrows stack references), and then a captured array could pass for private.
_EXACT_REFCOUNTS = (
    sys.implementation.name == "cpython"
    and sys.version_info < (3, 14)
    and getattr(sys, "_is_gil_enabled", lambda: True)()
)


def _know_private_arrays(eqns: list) -> None:
    """Let the passes fold arrays that nothing outside the program can reach.

    Every array operand is first held by reference, as one captured by closure must be
    (it may change in place before the next call). An array made while staging (a
    constant ``np.ones(3)`` in the function, an identity a derivative rule built) that owns
    its data and is referred to by the program alone cannot change: it is known by value.
    """
    if not _EXACT_REFCOUNTS:
        return  # everything stays by reference: less folding, never a stale value
    held: dict[int, list] = {}
    for e in eqns:
        for a in e.inputs:
            if type(a) is Lit and a.ref and type(a.value) is _np.ndarray:
                entry = held.get(id(a.value))
                if entry is None:
                    held[id(a.value)] = [a.value, a]
                else:
                    entry.append(a)
    for entry in held.values():
        value, lits = entry[0], entry[1:]
        # References: one per literal, the entry's, the loop's ``value`` and the call's own.
        if value.base is None and sys.getrefcount(value) == len(lits) + 3:
            for lit in lits:
                lit.ref = False
        del value


# NumPy functions returning several arrays whose shapes follow from the inputs' shapes
# alone: all of them (None), or those listed (the others are refused when used).
_FIXED_SHAPE_TUPLES: dict[str, tuple | None] = {
    "slogdet": None,
    "eigh": None,
    "eig": None,
    "svd": None,
    "qr": None,
    "lu_factor": None,
    "cho_factor": None,
    "frexp": None,
    "modf": None,
    "divmod": None,
    "broadcast_arrays": None,
    # (x, residuals, rank, s): residuals is empty unless the rank is full.
    "lstsq": (0, 2, 3),
}
_VARIABLE_PARTS = {
    "lstsq": (
        "jit: the residuals of numpy.linalg.lstsq have a shape that depends on the rank of "
        "the traced matrix (empty unless it is full), which cannot be compiled; compute "
        "np.sum((b - a @ x) ** 2, axis=0) from the solution x instead"
    ),
}


def _part_of(prim: Callable, name: str, k: int) -> Callable:
    def part(*args, **kwargs):
        return prim(*args, **kwargs)[k]

    part.__name__ = f"{name}_{k}"
    part.__qualname__ = part.__name__
    return part
