"""Tracing: boxes, trace levels and the primitive wrapper.

Knows nothing of NumPy. A *trace* is one running transformation (one ``grad``, one
``jvp``, one staging pass); each gets a level higher than every trace alive when it
starts. A traced value is a :class:`Box` holding the underlying value, its trace and a
per-mode payload (a reverse-mode node, or a forward-mode tangent). A primitive called on
boxes unboxes the arguments of the highest trace among them, calls itself again on the
unboxed values (so lower traces are handled by the recursion), and boxes the answer for
that trace. A value traced at an outer level is thus a constant to every inner one,
which is what makes nested derivatives exact.
"""

from __future__ import annotations

import itertools
import sys
import warnings
from collections.abc import Callable
from typing import Any

from .errors import NotDifferentiableError

__all__ = [
    "Box",
    "Trace",
    "deeper_stack",
    "Node",
    "trace",
    "primitive",
    "nondifferentiable",
    "getval",
    "values_from_trace",
    "asks_trace",
    "branch",
    "register_branch",
    "isbox",
    "box_types",
    "register_box",
    "NotDifferentiableError",
]

_level_counter = itertools.count(1)

box_types: set[type] = set()
_box_for_type: dict[type, type] = {}


class Trace:
    """One transformation in progress. Subclasses say how a primitive's answer is boxed."""

    __slots__ = ("level",)

    #: Whether the trace computes its primitives' answers itself (:meth:`apply`): vmap's
    #: values hold a whole batch, which the raw function would misread as one example.
    applies = False

    def __init__(self) -> None:
        self.level = next(_level_counter)

    def apply(self, fun, args, kwargs, argnums, boxes):  # pragma: no cover
        raise NotImplementedError

    def process(self, fun, ans, argvals, kwargs, argnums, boxes):  # pragma: no cover
        raise NotImplementedError

    def concrete(self, box: Box) -> Any:
        """The value under ``box`` when code asks for it as data (:func:`getval`).

        Eager traces have it. Staging has only an example, and overrides this to hand
        out a value whose uses are recorded instead.
        """
        return box._value


class Box:
    """A value being traced. ``_node`` is the mode's payload (node or tangent)."""

    __slots__ = ("_value", "_trace", "_node")

    def __init__(self, value: Any, trace: Trace, node: Any) -> None:
        self._value = value
        self._trace = trace
        self._node = node

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._value!r}, level={self._trace.level})"

    @classmethod
    def register(cls, value_type: type) -> None:
        """Box values of ``value_type`` with ``cls`` (autograd's :func:`register_box`)."""
        register_box(cls, value_type)


def register_box(box_class: type, *value_types: type) -> None:
    """Use ``box_class`` to box values of ``value_types``."""
    box_types.add(box_class)
    for t in value_types:
        _box_for_type[t] = box_class


#: Called with a value type that has no box yet; a hook that registers one returns True.
#: How arrays of other libraries (matdiff.backends) are registered on first sight.
type_hooks: list[Callable[[type], bool]] = []


def known_type(t: type) -> bool:
    """Whether a hook of :data:`type_hooks` registered ``t`` just now."""
    return any(hook(t) for hook in type_hooks)


def new_box(value: Any, trace: Trace, node: Any) -> Box:
    try:
        return _box_for_type[type(value)](value, trace, node)
    except KeyError:
        if known_type(type(value)):
            return _box_for_type[type(value)](value, trace, node)
        if isinstance(value, Box):
            # A box holding a box (a derivative of a derivative) is boxed by its own
            # class: remembered, so that every higher-order node is not a failed lookup.
            _box_for_type[type(value)] = type(value)
            return type(value)(value, trace, node)
        for t, cls in _box_for_type.items():
            if isinstance(value, t):
                return cls(value, trace, node)
        raise TypeError(
            f"matdiff cannot trace a value of type {type(value).__name__}: only arrays and "
            "numbers (and pytrees of them) can be differentiated, and types whose box and "
            "vector space are registered (MyBox.register(MyType), MyVSpace.register(MyType))"
        ) from None


def isbox(x: Any) -> bool:
    return type(x) in box_types


# Box types whose trace hands out something other than the stored value (staging's);
# getval reads every other box's value directly, which is the hot path's case.
_asks_trace: set[type] = set()


def values_from_trace(box_class: type) -> None:
    """Make :func:`getval` ask ``Trace.concrete`` for the values of ``box_class``."""
    _asks_trace.add(box_class)


def asks_trace(x: Any) -> bool:
    """Whether ``x`` is a box whose trace hands out its value (staging's, under jit)."""
    return type(x) in _asks_trace


def getval(x: Any) -> Any:
    """The untraced value under every level of boxing, as each trace hands it out."""
    while type(x) in box_types:
        x = x._trace.concrete(x) if type(x) in _asks_trace else x._value
    return x


# Types of the values that getval hands out for a box holding a whole batch (vmap's):
# a function without derivative applied to one is batched by the box's trace, not run on
# the batch as if it were one example. Each has ``.box``, the box it stands for.
_batched_values: set[type] = set()


def values_batched(value_type: type) -> None:
    """Make derivative-free functions hand values of ``value_type`` to their trace."""
    _batched_values.add(value_type)


def _apply_batched(f_wrapped: Callable, vals: list, kwargs: dict) -> Any:
    args = [v.box if type(v) in _batched_values else v for v in vals]
    top = None
    for a in args:
        if type(a) in box_types and (top is None or a._trace.level > top.level):
            top = a._trace
    argnums = [i for i, a in enumerate(args) if type(a) in box_types and a._trace is top]
    return top.apply(f_wrapped, args, kwargs, argnums, [args[i] for i in argnums])


_branch_for_type: dict[type, Callable[[Any], bool]] = {}


def register_branch(value_type: type, truth: Callable[[Any], bool]) -> None:
    """Let :func:`branch` ask ``truth(value)`` for values of ``value_type``."""
    _branch_for_type[value_type] = truth


def branch(cond: Any) -> bool:
    """The truth of ``cond`` where a derivative rule branches on data to save work.

    ``if np.any(mask):`` in a rule reads a value computed from a traced input. Eagerly that
    is ``bool(cond)``; under staging the example's branch is taken and checked again at
    run time, where a plain ``bool()`` would be refused as user control flow. Rules say
    which they mean by calling this.

    >>> branch(3 > 2)
    True
    """
    truth = _branch_for_type.get(type(cond))
    return bool(cond) if truth is None else truth(cond)


def primitive(f_raw: Callable, name: str | None = None) -> Callable:
    """Wrap ``f_raw`` so that it can be traced; its rules go in the core's tables.

    >>> import math
    >>> from matdiff.extend import primitive, defvjp, defjvp
    >>> log1 = primitive(math.log)
    >>> defvjp(log1, lambda ans, x: lambda g: g / x)
    >>> defjvp(log1, lambda g, ans, x: g / x)
    """

    def f_wrapped(*args, **kwargs):
        # One scan, for the common case: the boxed arguments met first belong to the
        # highest trace among them. A higher trace seen after a lower one (rare) takes
        # the general path below.
        top = None
        argnums = boxes = None
        lower = False
        i = 0
        for a in args:
            if type(a) in box_types:
                t = a._trace
                if top is None:
                    top = t
                    argnums = [i]
                    boxes = [a]
                elif t is top:
                    argnums.append(i)
                    boxes.append(a)
                elif t.level < top.level:
                    lower = True
                else:
                    return _mixed_levels(f_wrapped, f_raw, args, kwargs)
            i += 1
        if top is None:
            try:
                return f_raw(*args, **kwargs)
            except (NotImplementedError, TypeError, ValueError, IndexError) as e:
                better = _raw_failed(f_wrapped, args, e)
                if better is None:
                    raise
                raise better from e
        if kwargs and kwargs.get("out") is not None:
            raise _out_error(f_wrapped.__name__)
        if top.applies:
            return top.apply(f_wrapped, args, kwargs, argnums, boxes)
        argvals = list(args)
        if len(boxes) == 1:
            # One traced argument, the common case (x * 1.01, sin(x)): no zip to build.
            v = argvals[argnums[0]] = boxes[0]._value
            if type(v) in box_types:
                lower = True
        else:
            for i, b in zip(argnums, boxes):
                v = b._value
                argvals[i] = v
                if type(v) in box_types:
                    lower = True
        # Only recurse when a lower trace is still boxed in; else call NumPy directly.
        if lower:
            ans = f_wrapped(*argvals, **kwargs)
        else:
            try:
                ans = f_raw(*argvals, **kwargs)
            except (NotImplementedError, TypeError, ValueError, IndexError) as e:
                better = _raw_failed(f_wrapped, argvals, e)
                if better is None:
                    raise
                raise better from e
        return top.process(f_wrapped, ans, argvals, kwargs, argnums, boxes)

    f_wrapped.fun = f_raw
    f_wrapped._is_primitive = True
    f_wrapped.__name__ = name or getattr(f_raw, "__name__", "primitive")
    f_wrapped.__qualname__ = f_wrapped.__name__
    f_wrapped.__doc__ = getattr(f_raw, "__doc__", None)
    f_wrapped.__wrapped__ = f_raw
    return f_wrapped


#: Called with ``(name, args, error)`` when a primitive's own computation fails; a hook
#: may return a clearer error to raise instead (matdiff.backends: an operation that the
#: array library of the arguments lacks), or ``None``.
raw_error_hooks: list[Callable[[str, Any, BaseException], BaseException | None]] = []


def _raw_failed(f_wrapped: Callable, args, e: BaseException) -> BaseException | None:
    for hook in raw_error_hooks:
        better = hook(f_wrapped.__name__, args, e)
        if better is not None:
            return better
    return None


def _out_error(name: str) -> TypeError:
    return TypeError(
        f"{name}: out= is not supported on a traced value: writing into an existing array "
        f"would lose the derivative; use the returned value instead (y = {name}(x) rather "
        f"than {name}(x, out=y))."
    )


def _mixed_levels(f_wrapped: Callable, f_raw: Callable, args: tuple, kwargs: dict) -> Any:
    """A primitive's call on boxes of several traces, in any order: unbox the highest."""
    top = None
    for a in args:
        if type(a) in box_types:
            t = a._trace
            if top is None or t.level > top.level:
                top = t
    argvals = list(args)
    argnums = []
    boxes = []
    for i, a in enumerate(args):
        if type(a) in box_types and a._trace is top:
            argvals[i] = a._value
            argnums.append(i)
            boxes.append(a)
    if top.applies:
        return top.apply(f_wrapped, args, kwargs, argnums, boxes)
    # Lower traces are still boxed in: the recursion handles them.
    ans = f_wrapped(*argvals, **kwargs)
    return top.process(f_wrapped, ans, argvals, kwargs, argnums, boxes)


def nondifferentiable(f_raw: Callable, name: str | None = None) -> Callable:
    """Wrap a function whose result carries no derivative (comparisons, argmax, floor...).

    Traced arguments are replaced by their values, so the result is an ordinary constant.
    """

    def f_wrapped(*args, **kwargs):
        for a in args:
            if type(a) in box_types:
                vals = [getval(x) for x in args]
                for v in vals:
                    if type(v) in _batched_values:
                        return _apply_batched(f_wrapped, vals, kwargs)
                return f_raw(*vals, **kwargs)
        return f_raw(*args, **kwargs)

    f_wrapped.fun = f_raw
    f_wrapped._is_primitive = False
    f_wrapped._nondifferentiable = True
    f_wrapped.__name__ = name or getattr(f_raw, "__name__", "function")
    f_wrapped.__qualname__ = f_wrapped.__name__
    f_wrapped.__doc__ = getattr(f_raw, "__doc__", None)
    f_wrapped.__wrapped__ = f_raw
    return f_wrapped


class _StackAllowance:
    """``with deeper_stack:`` raises Python's recursion limit by ``frames`` while it runs.

    A traced call puts a constant number of frames between the user's code and the
    NumPy call (the operator's entry, the primitive wrapper, the trace's ``process``, a
    rule), so a user recursion that plain NumPy runs just under the limit would fail
    under ``grad``. Each transformation's forward and backward pass runs under this
    allowance, which covers its own frames: user code keeps the depth it has without
    tracing, however the transformations nest. The limit is raised and lowered by the
    same amount (not saved and restored), so that threads tracing at once leave it
    where it was.
    """

    __slots__ = ("frames",)

    def __init__(self, frames: int) -> None:
        self.frames = frames

    def __enter__(self) -> None:
        sys.setrecursionlimit(sys.getrecursionlimit() + self.frames)

    def __exit__(self, *exc: object) -> None:
        sys.setrecursionlimit(max(sys.getrecursionlimit() - self.frames, 1))


# Several times the frames a trace level adds (about 10 for reverse mode and 20 for a
# batched forward pass over a reverse one), so that nested calls inside rules fit too.
deeper_stack = _StackAllowance(100)


# ---------------------------------------------------------------- autograd's tracer API


class Node:
    """A record of one primitive call, made by :func:`trace` (autograd's extension API).

    Subclass it and define ``__init__(self, value, fun, args, kwargs, parent_argnums,
    parents)``, called for every primitive applied to a traced value (``parents`` are
    the nodes of its traced arguments, at positions ``parent_argnums``), and
    ``initialize_root(self, *args)``, called by ``new_root``. Printing a trace or
    drawing a graph is a few lines this way; :mod:`matdiff.graph` does the latter with
    forward values and adjoints.

    >>> import matdiff.numpy as np
    >>> class Names(Node):
    ...     def __init__(self, value, fun, args, kwargs, parent_argnums, parents):
    ...         self.name = f"{fun.__name__}({', '.join(p.name for p in parents)})"
    ...     def initialize_root(self):
    ...         self.name = "x"
    >>> value, node = trace(Names.new_root(), lambda x: np.sin(x) + x, 1.0)
    >>> node.name
    'add(sin(x), x)'
    """

    __slots__ = ()

    def __init__(self, value, fun, args, kwargs, parent_argnums, parents) -> None:
        raise NotImplementedError(
            f"{type(self).__name__} must define __init__(self, value, fun, args, kwargs, "
            "parent_argnums, parents) to record a primitive call"
        )

    def initialize_root(self, *args, **kwargs) -> None:
        raise NotImplementedError(
            f"{type(self).__name__} must define initialize_root(self, ...) to start a trace"
        )

    @classmethod
    def new_root(cls, *args, **kwargs) -> Node:
        """A node for the traced input: ``initialize_root(*args, **kwargs)``, not ``__init__``."""
        root = cls.__new__(cls)
        root.initialize_root(*args, **kwargs)
        return root


class NodeTrace(Trace):
    """The trace of :func:`trace`: each primitive's answer gets a node of the root's class."""

    __slots__ = ()

    def process(self, fun, ans, argvals, kwargs, argnums, boxes):
        parents = tuple(b._node for b in boxes)
        node = type(parents[0])(ans, fun, tuple(argvals), kwargs, tuple(argnums), parents)
        return new_box(ans, self, node)


def trace(start_node: Node, fun: Callable, x: Any) -> tuple[Any, Node | None]:
    """Run ``fun(x)`` with ``x`` traced from ``start_node``: ``(fun(x), end node)``.

    autograd's ``tracer.trace``: every primitive ``fun`` applies to a value that depends
    on ``x`` makes a node of ``start_node``'s class. Traces nest, so ``fun`` may itself
    be ``grad(f)``. An output that does not depend on ``x`` gives ``(output, None)``
    with a warning.
    """
    t = NodeTrace()
    start_box = new_box(x, t, start_node)
    with deeper_stack:
        end_box = fun(start_box)
    if type(end_box) in box_types and end_box._trace is t:
        return end_box._value, end_box._node
    warnings.warn("trace: the output does not depend on the input (it is not traced)", stacklevel=2)
    return end_box, None
