"""``vmap``: a function written for one example, run on a batch of them at once.

A :class:`VmapTrace` boxes each batched value with the batch as its axis 0 (the axis a
user names is moved there on the way in and back on the way out). Its boxes report
one example's shape, so code and rules written for one example read the shapes they
expect. When a primitive meets one, the trace computes the answer itself
(``Trace.applies``): the primitive's batching rule (``matdiff.core.vmap_rules``,
registered by ``wrap(..., batch=...)``) runs it on the whole batch in one call, and a
primitive without a rule is called once per example and the answers stacked: always
correct, only slower (``docs/vmap.md`` lists those primitives).

Traces nest in either order, so ``vmap(grad(f))`` gives per-example gradients (the
backward pass runs on batched values, one pass for the whole batch) and
``grad(vmap(f))``, ``jit(vmap(f))``, ``vmap(vmap(f))`` work as they read.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable

import numpy as _np

from . import numpy as mnp
from .core import concrete_vjp_fallback, defvmap, register_vspace, vmap_rules
from .errors import ConcreteValueError
from .numpy import _batch
from .numpy._wrap import shape_of
from .numpy.boxes import VALUE_QUERIES, ArrayBox, ArrayVSpace
from .tracer import (
    Trace,
    box_types,
    deeper_stack,
    getval,
    nondifferentiable,
    register_box,
    register_branch,
    values_batched,
    values_from_trace,
)
from .tree import tree_flatten, tree_unflatten

__all__ = ["vmap", "VmapTrace", "BatchBox", "map_batch"]


class VmapTrace(Trace):
    """One ``vmap`` in progress over ``size`` examples."""

    __slots__ = ("size",)

    applies = True

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def apply(self, fun, args, kwargs, argnums, boxes):
        for a in args:
            if type(a) is BatchedValue:
                # A value read out of a batched box (getval) and passed on: it is that box,
                # and may belong to a higher trace, so the call is dispatched again.
                return fun(*_boxes(args), **kwargs)
        vals = list(args)
        batched = [False] * len(args)
        for i, b in zip(argnums, boxes):
            vals[i] = b._value
            batched[i] = True
        rule = vmap_rules.get(fun)
        out = NotImplemented if rule is None else rule(vals, batched, kwargs)
        if out is NotImplemented:
            out = _loop(fun, self.size, vals, batched, kwargs)
        elif type(out) is _batch.Unbatched:
            return out.value
        return self.box(out)

    def box(self, out):
        if isinstance(out, tuple):
            return tuple(self.box(o) for o in out)
        return BatchBox(out, self, None)

    def concrete(self, box):
        return BatchedValue(box)


def _loop(fun, size, vals, batched, kwargs):
    """``fun`` called once per example, the answers stacked along a new axis 0."""
    outs = []
    for b in range(size):
        outs.append(fun(*[v[b] if bt else v for v, bt in zip(vals, batched)], **kwargs))
    if isinstance(outs[0], tuple):
        return tuple(mnp.stack([o[k] for o in outs]) for k in range(len(outs[0])))
    return mnp.stack(outs)


# Masks computed under vmap are batched too, and rules combine them with NumPy's bitwise
# operators, which a traced value otherwise never needs.
_bitwise = {}
for _name in ("invert", "bitwise_and", "bitwise_or", "bitwise_xor"):
    _bitwise[_name] = nondifferentiable(getattr(_np, _name), _name)
    defvmap(_bitwise[_name], _batch.elementwise(_bitwise[_name]))
del _name


class BatchBox(ArrayBox):
    """A batched value under ``vmap``: it reads as one example (``shape``, ``ndim``)."""

    __slots__ = ()

    def __invert__(self):
        return _bitwise["invert"](self)

    def __and__(self, other):
        return _bitwise["bitwise_and"](self, other)

    def __rand__(self, other):
        return _bitwise["bitwise_and"](other, self)

    def __or__(self, other):
        return _bitwise["bitwise_or"](self, other)

    def __ror__(self, other):
        return _bitwise["bitwise_or"](other, self)

    def __xor__(self, other):
        return _bitwise["bitwise_xor"](self, other)

    def __rxor__(self, other):
        return _bitwise["bitwise_xor"](other, self)

    def __repr__(self) -> str:
        return f"BatchBox(shape={self.shape}, batch={self._trace.size})"


class BatchedValue:
    """What :func:`getval` hands out for a :class:`BatchBox`: one example's shape and
    dtype, and NumPy calls on it go back to the box (so they are batched too). Its
    numbers are not available: each example has its own."""

    __slots__ = ("box",)

    def __init__(self, box: BatchBox) -> None:
        self.box = box

    @property
    def shape(self) -> tuple:
        return tuple(shape_of(self.box._value)[1:])

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(_np.prod(self.shape))

    @property
    def dtype(self):
        return _np.result_type(getval(self.box._value))

    def __len__(self) -> int:
        return self.shape[0]

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return getattr(ufunc, method)(*_boxes(inputs), **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        if func in VALUE_QUERIES:
            # Shape and dtype queries: one example's stand-in answers them.
            return func(*[a.example() if type(a) is BatchedValue else a for a in args], **kwargs)
        routing = _routing.__dict__.setdefault("funcs", set())
        if func in routing:
            # matdiff's function of this name read the value and called NumPy's on it (for
            # a constant such as nan_to_num's fill): NumPy's runs on each example's value.
            wrapped = _raw_per_example.get(func)
            if wrapped is None:
                wrapped = _raw_per_example[func] = nondifferentiable(func)
            return wrapped(*_boxes(args), **kwargs)
        routing.add(func)
        try:
            return func(*_boxes(args), **kwargs)
        finally:
            routing.discard(func)

    def example(self):
        """An array of one example's shape and dtype (not its numbers)."""
        return _np.broadcast_to(_np.zeros((), self.dtype), self.shape)

    def __array__(self, *args, **kwargs):
        raise _concrete("a NumPy array")

    def __bool__(self) -> bool:
        raise _concrete("bool()")

    def __float__(self) -> float:
        raise _concrete("float()")

    def __int__(self) -> int:
        raise _concrete("int()")

    def __index__(self) -> int:
        raise _concrete("an index")


# The NumPy functions whose call on a batched value is being routed to matdiff's (per
# thread, as traces are), and the derivative-free wrappers that run a NumPy function on
# each example's value.
_routing = threading.local()
_raw_per_example: dict = {}


def _delegate(name: str):
    def method(self, *args):
        return getattr(self.box, name)(*_boxes(args))

    method.__name__ = name
    return method


# Arithmetic, comparisons and indexing on a value read out of a batched box are the box's.
for _name in (
    "__getitem__ __add__ __radd__ __sub__ __rsub__ __mul__ __rmul__ __truediv__ "
    "__rtruediv__ __pow__ __rpow__ __neg__ __abs__ __lt__ __le__ __gt__ __ge__ __eq__ "
    "__ne__ __invert__ __and__ __rand__ __or__ __ror__ __xor__ __rxor__ __matmul__ "
    "__rmatmul__ any all sum max min reshape astype"
).split():
    setattr(BatchedValue, _name, _delegate(_name))
del _name
BatchedValue.__hash__ = None


def _boxes(args):
    out = []
    for a in args:
        if type(a) is BatchedValue:
            a = a.box
        elif isinstance(a, (list, tuple)):
            a = type(a)(_boxes(a))
        out.append(a)
    return out


def _concrete(what: str) -> ConcreteValueError:
    return ConcreteValueError(
        f"vmap: a batched value was read as {what}, but under vmap each example has its own "
        "value, so Python code cannot branch on it or convert it. Choose values elementwise "
        "with np.where(condition, a, b), or pass the argument as unbatched (in_axes=None)."
    )


register_box(BatchBox)
values_from_trace(BatchBox)
values_batched(BatchedValue)
# An outer trace boxes a batched answer as any traced array.
register_box(ArrayBox, BatchBox)
register_vspace(ArrayVSpace, BatchedValue)


def _any_example(c) -> bool:
    # A rule branches on data only to skip work that changes nothing where the condition
    # is false: taking the branch when any example asks for it is right for all.
    while type(c) in box_types:
        c = c._value
    return bool(_np.any(c))


register_branch(BatchBox, _any_example)


def _vjp_per_example(maker, g, ans, args, kwargs):
    """A VJP rule that read a batched value as a number, run once per example of the
    innermost batch among its operands, the cotangents stacked: that primitive alone
    loops, and the rest of the backward pass stays batched."""
    batched = [v for v in (g, ans, *args) if type(v) is BatchBox]
    if not batched:
        return NotImplemented  # not vmap's value that was read
    trace = max((b._trace for b in batched), key=lambda t: t.level)

    def pick(v, b):
        return v._value[b] if type(v) is BatchBox and v._trace is trace else v

    outs = []
    for b in range(trace.size):
        ans_b, args_b, g_b = pick(ans, b), [pick(a, b) for a in args], pick(g, b)
        try:
            outs.append(maker(ans_b, *args_b, **kwargs)(g_b))
        except ConcreteValueError:
            # Batched by an outer vmap as well: that batch loops in turn.
            out = _vjp_per_example(maker, g_b, ans_b, args_b, kwargs)
            if out is NotImplemented:
                raise
            outs.append(out)
    return BatchBox(mnp.stack(outs), trace, None)


concrete_vjp_fallback.append(_vjp_per_example)


# ---------------------------------------------------------------- the transformation


def map_batch(fun: Callable, xs, size: int):
    """``fun`` of one argument over axis 0 of ``xs`` (``size`` examples), the answer's
    batch on its axis 0: :func:`vmap`'s core, for callers inside matdiff that map often
    (the batched forward pass maps each JVP rule over its directions).

    >>> import numpy
    >>> map_batch(lambda x: x * 2.0, numpy.arange(3.0), 3)
    array([0., 2., 4.])
    """
    trace = VmapTrace(size)
    with deeper_stack:
        out = fun(BatchBox(xs, trace, None))
    if type(out) is BatchBox and out._trace is trace:
        return out._value
    if out is None:  # a rule's zero tangent
        return None
    return mnp.broadcast_to(out, (size,) + tuple(shape_of(out)))


def map_argument(fun: Callable, argnum: int, xs, args: list, kwargs: dict, size: int):
    """``map_batch(lambda x: fun(*args with x at argnum, **kwargs), xs, size)`` for a
    primitive ``fun``, by its batching rule directly rather than through a trace.

    The batched forward pass maps each linear JVP rule (the primitive itself, applied to
    the tangent) this way: a trace per primitive was most of a small Hessian's time.
    Where the trace would do anything else (a value read out of a batched box among
    ``args``, an answer that is a tuple), the trace does it.

    >>> import numpy
    >>> import matdiff.numpy as np
    >>> map_argument(np.sum, 0, numpy.ones((3, 2)), [None], {}, 3)
    array([2., 2., 2.])
    """
    for a in args:
        if type(a) is BatchedValue:
            return _map_argument_traced(fun, argnum, xs, args, kwargs, size)
    vals = list(args)
    vals[argnum] = xs
    batched = [False] * len(vals)
    batched[argnum] = True
    rule = vmap_rules.get(fun)
    out = NotImplemented if rule is None else rule(vals, batched, kwargs)
    if out is NotImplemented:
        out = _loop(fun, size, vals, batched, kwargs)
    elif type(out) is _batch.Unbatched:
        out = out.value
        return None if out is None else mnp.broadcast_to(out, (size,) + tuple(shape_of(out)))
    if isinstance(out, tuple):
        return _map_argument_traced(fun, argnum, xs, args, kwargs, size)
    return out


def _map_argument_traced(fun, argnum, xs, args, kwargs, size):
    def at(x):
        vals = list(args)
        vals[argnum] = x
        return fun(*vals, **kwargs)

    return map_batch(at, xs, size)


def _prefix_axes(axes, tree, what: str) -> list:
    """The axis of each leaf of ``tree``, given ``axes`` as a prefix of ``tree``'s
    structure (an int or ``None`` covers the whole subtree)."""
    if axes is None or isinstance(axes, (int, _np.integer)):
        return [axes] * len(tree_flatten(tree)[0])
    if isinstance(axes, (list, tuple)) and isinstance(tree, (list, tuple)):
        if len(axes) != len(tree):
            raise ValueError(
                f"vmap: {what} has {len(axes)} entries but the value it describes has "
                f"{len(tree)}; give one axis (an int or None) per entry, or one for all"
            )
        return [a for sub_axes, sub in zip(axes, tree) for a in _prefix_axes(sub_axes, sub, what)]
    if isinstance(axes, dict) and isinstance(tree, dict):
        if set(axes) != set(tree):
            raise ValueError(
                f"vmap: {what} has keys {sorted(axes)} but the value has {sorted(tree)}"
            )
        return [a for k in sorted(tree) for a in _prefix_axes(axes[k], tree[k], what)]
    raise ValueError(
        f"vmap: {what} must be an int, None, or a list, tuple or dict matching the value's "
        f"structure; got {axes!r} for a value of type {type(tree).__name__}"
    )


def _leaf_names(fun: Callable, args: tuple, kwargs: dict) -> list[str]:
    try:
        params = list(inspect.signature(fun).parameters)
    except (TypeError, ValueError):
        params = []
    names = []
    for i, a in enumerate(args):
        base = params[i] if i < len(params) and not params[i].startswith("*") else f"argument {i}"
        leaves = tree_flatten(a)[0]
        if len(leaves) == 1:
            names.append(base)
        else:
            names.extend(f"{base} (leaf {j})" for j in range(len(leaves)))
    for k in sorted(kwargs):
        leaves = tree_flatten(kwargs[k])[0]
        if len(leaves) == 1:
            names.append(f"keyword argument {k}")
        else:
            names.extend(f"keyword argument {k} (leaf {j})" for j in range(len(leaves)))
    return names


def _axis_error(axis: int, shape: tuple, name: str) -> ValueError:
    ndim = len(shape)
    return ValueError(
        f"vmap: in_axes gives axis {axis} for {name}, which has shape {shape}; the "
        f"axis must lie in [{-ndim}, {ndim - 1}]"
    )


def vmap(
    fun: Callable,
    in_axes=0,
    out_axes=0,
    axis_size: int | None = None,
    chunk_size: int | None = None,
) -> Callable:
    """``fun`` mapped over an axis of its arguments, run on the whole batch at once.

    As in JAX: ``in_axes`` gives the batched axis of each argument (an int, ``None`` for
    an argument shared by every example, or a pytree of those matching the
    arguments); ``out_axes`` likewise places the batch in the outputs; ``axis_size`` is
    the batch size where no argument is batched. ``chunk_size`` runs the batch that many
    examples at a time, to bound memory. Keyword arguments are batched along their
    axis 0, whatever ``in_axes`` says (as in JAX): pass a value every example shares
    positionally with ``in_axes=None``, or close over it.

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> xs = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    >>> vmap(lambda x, w: np.dot(x, w), in_axes=(0, None))(xs, np.array([1.0, -1.0]))
    array([-1., -1., -1.])
    >>> vmap(lambda x, scale: scale * x[0])(xs, scale=np.array([1.0, 10.0, 100.0]))
    array([  1.,  30., 500.])
    >>> vmap(grad(lambda x: np.sum(x**2)))(xs)  # per-example gradients
    array([[ 2.,  4.],
           [ 6.,  8.],
           [10., 12.]])
    """
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"vmap: chunk_size must be a positive int, got {chunk_size!r}")

    def vmapped(*args, **kwargs):
        leaves, treedef = tree_flatten((args, kwargs))
        if isinstance(in_axes, list) and not isinstance(args, list):
            axes = _prefix_axes(tuple(in_axes), args, "in_axes")
        else:
            axes = _prefix_axes(in_axes, args, "in_axes")
        # As in JAX, in_axes describes the positional arguments; keyword arguments are
        # batched along their axis 0.
        axes = axes + [0] * (len(leaves) - len(axes))
        sizes = {}
        norm = []
        for i, (x, a) in enumerate(zip(leaves, axes)):
            if a is None:
                norm.append(None)
                continue
            s = shape_of(x)
            if not -len(s) <= a < len(s):
                raise _axis_error(int(a), tuple(s), _leaf_names(fun, args, kwargs)[i])
            a = int(a) % len(s)
            norm.append(a)
            sizes.setdefault(s[a], []).append(i)
        if axis_size is not None:
            sizes.setdefault(axis_size, []).append(None)
        if len(sizes) > 1:
            # Named only now: reading the signature costs more than the call.
            names = _leaf_names(fun, args, kwargs)
            described = [
                f"axis_size is {n}"
                if i is None
                else f"{names[i]} has size {n} along axis {norm[i]}"
                for n, idx in sizes.items()
                for i in idx
            ]
            raise ValueError("vmap: the batched axes have different sizes: " + "; ".join(described))
        if not sizes:
            raise ValueError(
                "vmap: no argument is batched (every in_axes is None) and axis_size is not "
                "given, so the batch size is unknown; pass axis_size=n"
            )
        size = next(iter(sizes))
        if chunk_size is None or chunk_size >= size:
            return _run(fun, leaves, treedef, norm, size, 0, size)
        parts = [
            _run(fun, leaves, treedef, norm, size, start, min(start + chunk_size, size))
            for start in range(0, size, chunk_size)
        ]
        out_leaves0, out_def = tree_flatten(parts[0])
        oaxes = _out_axes(out_def, parts[0])
        cols = [tree_flatten(p)[0] for p in parts]
        joined = []
        for k, a in enumerate(oaxes):
            if a is None:
                joined.append(out_leaves0[k])
            else:
                a = a % len(shape_of(out_leaves0[k]))
                joined.append(mnp.concatenate([c[k] for c in cols], axis=a))
        return tree_unflatten(out_def, joined)

    def _out_axes(out_def, out):
        return _prefix_axes(out_axes, out, "out_axes")

    def _run(fun, leaves, treedef, norm, size, start, stop):
        n = stop - start
        trace = VmapTrace(n)
        boxed = []
        for x, a in zip(leaves, norm):
            if a is None:
                boxed.append(x)
                continue
            v = mnp.moveaxis(x, a, 0) if a else x
            if start or stop != size:
                v = v[start:stop]
            boxed.append(BatchBox(v, trace, None))
        with deeper_stack:
            a, kw = tree_unflatten(treedef, boxed)
            out = fun(*a, **kw)
        out_leaves, out_def = tree_flatten(out)
        oaxes = _prefix_axes(out_axes, out, "out_axes")
        res = []
        for k, (o, a) in enumerate(zip(out_leaves, oaxes)):
            mine = type(o) is BatchBox and o._trace is trace
            if a is None:
                if mine:
                    raise ValueError(
                        f"vmap: out_axes is None for output leaf {k}, but that output depends "
                        "on the batched arguments (it differs between examples); give the "
                        "axis to place the batch along"
                    )
                res.append(o)
                continue
            if mine:
                v = o._value
            else:
                s = tuple(shape_of(o))
                v = mnp.broadcast_to(o, (n,) + s)
            nd = len(shape_of(v))
            if not -nd <= a < nd:
                raise ValueError(
                    f"vmap: out_axes gives axis {a} for output leaf {k}, which has shape "
                    f"{tuple(shape_of(v))[1:]} per example, so the batch axis must lie in "
                    f"[{-nd}, {nd - 1}]"
                )
            a = a % nd
            res.append(mnp.moveaxis(v, 0, a) if a else v)
        return tree_unflatten(out_def, res)

    vmapped.__name__ = f"vmap({getattr(fun, '__name__', 'function')})"
    vmapped.__doc__ = getattr(fun, "__doc__", None)
    return vmapped
