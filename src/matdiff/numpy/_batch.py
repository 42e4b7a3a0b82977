"""Batching rules (``vmap``) for the kinds of primitive ``matdiff.numpy`` wraps.

A batching rule is ``rule(args, batched, kwargs) -> answer``: ``batched[i]`` says whether
``args[i]`` holds a whole batch as its axis 0, and the answer holds the batch as its
axis 0 too. ``NotImplemented`` hands the call to the loop over the examples. Rules are
written with ``numpy``-named calls on their operands (wrapped primitives), like VJP and
JVP rules, so that they run on any backend and under any enclosing transformation.

Each maker here takes the primitive and returns its rule; :func:`matdiff.numpy._wrap.wrap`
calls the maker passed as ``batch=``. Rules reach other primitives through NumPy's own
functions (``numpy.reshape`` on a traced value dispatches to matdiff's), and their own
primitive as ``fun``, so this module imports nothing of matdiff.numpy.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable

import numpy as _np

from ..tracer import asks_trace, box_types, getval


def shape_of(x) -> tuple:
    s = getattr(x, "shape", None)
    return _np.shape(x) if s is None else s


def _ndim(x) -> int:
    return len(shape_of(x))


def _pad(v, rank: int):
    """Batched ``v`` with unit axes after the batch axis, up to ``rank`` per-example axes."""
    s = shape_of(v)
    missing = rank + 1 - len(s)
    if missing <= 0:
        return v
    return _np.reshape(v, s[:1] + (1,) * missing + s[1:])


def _shift(axis, ndim: int):
    """A per-example ``axis`` (of ``ndim`` axes) as the axis of the batched array."""
    if axis is None:
        return tuple(range(1, ndim + 1))
    if isinstance(axis, (tuple, list)):
        return tuple(int(a) % ndim + 1 for a in axis)
    return int(axis) % max(ndim, 1) + 1


_signatures: dict[Callable, inspect.Signature] = {}


def _bind(fun: Callable, args, kwargs) -> inspect.BoundArguments | None:
    sig = _signatures.get(fun)
    if sig is None:
        try:
            sig = _signatures[fun] = inspect.signature(fun.fun)
        except (TypeError, ValueError):
            return None
    bound = sig.bind(*args, **kwargs)
    bound.apply_defaults()
    return bound


def elementwise(fun: Callable) -> Callable:
    """Functions applied elementwise with broadcasting (ufuncs, ``where``, ``clip``):
    batched operands get unit axes up to the widest example's rank, and then NumPy's
    broadcasting lines the batch up against unbatched operands.

    >>> import numpy
    >>> rule = elementwise(numpy.add)  # a batch of 2 scalars plus one unbatched vector
    >>> rule([numpy.array([0.0, 10.0]), numpy.array([1.0, 2.0, 3.0])], [True, False], {})
    array([[ 1.,  2.,  3.],
           [11., 12., 13.]])
    """

    def rule(args, batched, kwargs):
        rank = 0
        for a, b in zip(args, batched):
            n = _ndim(a) - b
            if n > rank:
                rank = n
        return fun(*[_pad(a, rank) if b else a for a, b in zip(args, batched)], **kwargs)

    return rule


def first_only(rule: Callable) -> Callable:
    """A rule for a function batched in its first argument only; others go to the loop."""

    def checked(args, batched, kwargs):
        if any(batched[1:]):
            return NotImplemented
        return rule(args, batched, kwargs)

    return checked


def reduction(fun: Callable) -> Callable:
    """Functions of ``(x, axis=None, ...)`` acting on the axes ``axis`` (sum, max, var):
    the axes move past the batch axis; ``axis=None`` means every per-example axis."""

    def rule(args, batched, kwargs):
        bound = _bind(fun, args, kwargs)
        if bound is None or "axis" not in bound.arguments:
            return NotImplemented
        if bound.arguments.get("where", True) is not True:
            return NotImplemented
        names = list(bound.arguments)
        x = bound.arguments[names[0]]
        bound.arguments["axis"] = _shift(bound.arguments["axis"], _ndim(x) - 1)
        return fun(*bound.args, **bound.kwargs)

    return first_only(rule)


def cumulative(fun: Callable) -> Callable:
    """``cumsum``-like (and ``argmax``-like): ``axis=None`` means each example flattened."""

    def rule(args, batched, kwargs):
        bound = _bind(fun, args, kwargs)
        names = list(bound.arguments)
        x = bound.arguments[names[0]]
        axis = bound.arguments["axis"]
        if axis is None:
            bound.arguments[names[0]] = _np.reshape(x, (shape_of(x)[0], -1))
            bound.arguments["axis"] = 1
        else:
            bound.arguments["axis"] = _shift(axis, _ndim(x) - 1)
        return fun(*bound.args, **bound.kwargs)

    return first_only(rule)


def trailing(fun: Callable) -> Callable:
    """Functions of ``(x, ...)`` acting on axes counted from the end (``tril``, the
    FFTs over trailing axes): the batch axis rides in front, if examples have the axes."""

    def rule(args, batched, kwargs):
        return fun(*args, **kwargs)

    return first_only(rule)


class Unbatched:
    """A rule's answer that is the same for every example (a shape), returned as it is."""

    __slots__ = ("value",)

    def __init__(self, value) -> None:
        self.value = value


def query(fun: Callable) -> Callable:
    """Shape queries (``shape``, ``ndim``, ``size``): one example's answer, unbatched."""

    def rule(args, batched, kwargs):
        examples = []
        for a, b in zip(args, batched):
            if b:
                s = tuple(shape_of(a))[1:]
                a = _np.broadcast_to(_np.zeros((), _np.result_type(getval(a))), s)
            examples.append(a)
        return Unbatched(fun(*examples, **kwargs))

    return rule


# ---------------------------------------------------------------- structural rules

# Identity seeds: rows start:start + rows of the n x n identity, the basis directions of
# a vector that jacfwd and hessian push through a batched pass. A matrix product with
# one is a slice of the other operand, so the matmul rule skips an n x n x m product.
_identities: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
_identity_start: dict[int, int] = {}


def identity_seed(n: int, dtype, start: int = 0, rows: int | None = None) -> _np.ndarray:
    """Rows ``start:start + rows`` of the ``n x n`` identity, marked as such.

    >>> identity_seed(3, float, start=1, rows=2)
    array([[0., 1., 0.],
           [0., 0., 1.]])
    """
    rows = n - start if rows is None else rows
    seed = _np.zeros((rows, n), dtype)
    seed[_np.arange(rows), start + _np.arange(rows)] = 1
    key = id(seed)
    _identities[key] = seed
    _identity_start[key] = start
    weakref.finalize(seed, _identity_start.pop, key, None)
    return seed


def _identity_rows(g, other) -> slice | None:
    """The rows of the identity that ``g`` is, or ``None`` if it is not an identity seed
    whose product with ``other`` may be read off as a slice of ``other``.

    Under jit the seed is a constant of the program (a staged box around the identity,
    which is the identity still): a slice of a plain ``other`` (an array captured by
    closure) would be taken once while staging and frozen, so the product is left to the
    matrix product, which is recorded.
    """
    if asks_trace(g):
        if isinstance(getval(other), _np.ndarray):
            return None
        g = g._value
    key = id(g)
    if _identities.get(key) is not g:
        return None
    start = _identity_start[key]
    return slice(start, start + g.shape[0])


def reshape(fun: Callable) -> Callable:
    def rule(args, batched, kwargs):
        x, shape = args[0], args[1]
        order = args[2] if len(args) > 2 else kwargs.get("order", "C")
        if order != "C":
            return NotImplemented
        shape = (shape,) if isinstance(shape, (int, _np.integer)) else tuple(shape)
        return fun(x, shape_of(x)[:1] + shape)

    return first_only(rule)


def transpose(fun: Callable) -> Callable:
    def rule(args, batched, kwargs):
        x = args[0]
        axes = args[1] if len(args) > 1 else kwargs.get("axes")
        n = _ndim(x) - 1
        if axes is None:
            perm = (0,) + tuple(range(n, 0, -1))
        else:
            perm = (0,) + tuple(int(a) % n + 1 for a in axes)
        return fun(x, perm)

    return first_only(rule)


def broadcast_to(fun: Callable) -> Callable:
    def rule(args, batched, kwargs):
        x = args[0]
        shape = args[1] if len(args) > 1 else kwargs["shape"]
        shape = (shape,) if isinstance(shape, (int, _np.integer)) else tuple(shape)
        return fun(_pad(x, len(shape)), shape_of(x)[:1] + shape)

    return first_only(rule)


def _basic_index(idx) -> tuple | None:
    """``idx`` as an index of the batched array, or ``None`` where that is not a prefix
    away: one array index beside integers (NumPy then moves the advanced axes first),
    several array indices, or a traced index."""
    if type(idx) in box_types:
        return None
    if not isinstance(idx, tuple):
        idx = (idx,)
    advanced = 0
    ints = False
    for k in idx:
        if k is None or k is Ellipsis or isinstance(k, slice):
            continue
        if isinstance(k, (int, _np.integer)):
            ints = True
        elif type(k) in box_types:
            return None
        else:
            advanced += 1
    if advanced > 1 or (advanced == 1 and ints):
        return None
    return (slice(None),) + idx


def getitem(fun: Callable) -> Callable:
    def rule(args, batched, kwargs):
        idx = _basic_index(args[1])
        if idx is None or batched[1]:
            return NotImplemented
        return fun(args[0], idx)

    return rule


def join(fun: Callable) -> Callable:
    """``_stack(axis, *arrays)``, ``_concatenate(axis, *arrays)``: unbatched arrays are
    repeated along the batch, and the axis moves past it."""
    stacks = fun.__name__ == "_stack"

    def rule(args, batched, kwargs):
        axis = args[0]
        if batched[0] or not isinstance(axis, (int, _np.integer)):
            return NotImplemented
        size = next(shape_of(a)[0] for a, b in zip(args, batched) if b)
        parts = []
        ndim = None
        for a, b in zip(args[1:], batched[1:]):
            if not b:
                s = shape_of(a)
                a = _np.broadcast_to(a, (size,) + tuple(s))
            parts.append(a)
            ndim = _ndim(a) - 1
        out_ndim = ndim + 1 if stacks else ndim
        axis = int(axis) % out_ndim + 1 if out_ndim else 1
        return fun(axis, *parts)

    return rule


def matmul(fun: Callable) -> Callable:
    """``x @ y`` for every example: vectors become one-row or one-column matrices, stack
    axes are lined up, and NumPy's stacked product does the rest in one call."""

    def rule(args, batched, kwargs):
        if kwargs:
            return NotImplemented
        return _matmul(fun, args, batched)

    return rule


def _matmul(mm, args, batched):
    x, y = args[0], args[1]
    bx, by = batched[0], batched[1]
    nx, ny = _ndim(x) - bx, _ndim(y) - by
    if nx == 0 or ny == 0:
        return NotImplemented
    if bx and not by and nx == 1 and ny <= 2:
        rows = _identity_rows(x, y)
        if rows is not None:
            return y[rows]  # e_i @ y is row i of y
    if by and not bx and ny == 1 and nx <= 2:
        rows = _identity_rows(y, x)
        if rows is not None:
            # x @ e_i is column i of x (entry i of a vector x)
            return (x if nx == 1 else _np.transpose(x))[rows]
    if bx and not by and ny == 2:
        # (B, ..., m) @ (m, p): the batch is more rows of one matrix product.
        xs = shape_of(x)
        out = mm(_np.reshape(x, (-1, xs[-1])), y)
        return _np.reshape(out, xs[:-1] + shape_of(out)[-1:])
    if by and not bx and nx == 2 and ny == 1:
        # (n, m) @ v for a batch of vectors: one product (B, m) @ (m, n).
        return mm(y, _np.swapaxes(x, -1, -2))
    # Vectors become one-row (x) or one-column (y) matrices; the batched operands get
    # unit stack axes after the batch axis, so NumPy lines every stack axis up.
    row, col = nx == 1, ny == 1
    if row:
        xs = shape_of(x)
        x = _np.reshape(x, xs[:-1] + (1,) + xs[-1:])
    if col:
        y = _np.reshape(y, tuple(shape_of(y)) + (1,))
    rank = max(nx + row, ny + col)
    if bx:
        x = _pad(x, rank)
    if by:
        y = _pad(y, rank)
    if shape_of(x)[-1] == 1 and not (row and col):
        # A contraction over one entry (outer products, as in a per-example weight
        # gradient) is a broadcast product: NumPy's stacked matmul would make one tiny
        # matrix product per example.
        out = _np.multiply(x, y)
    else:
        out = mm(x, y)
    s = tuple(shape_of(out))
    if row and col:
        return _np.reshape(out, s[:-2])
    if row:
        return _np.reshape(out, s[:-2] + s[-1:])
    if col:
        return _np.reshape(out, s[:-1])
    return out


def dot(fun: Callable) -> Callable:
    def rule(args, batched, kwargs):
        # dot is matmul for vectors and matrices; scalars and stacks are left to the loop.
        if kwargs:
            return NotImplemented
        for a, b in zip(args[:2], batched[:2]):
            if not 1 <= _ndim(a) - b <= 2:
                return NotImplemented
        return _matmul(_np.matmul, args, batched)

    return rule


def scatter_add(fun: Callable) -> Callable:
    def rule(args, batched, kwargs):
        idx = _basic_index(args[2])
        if idx is None or any(batched[1:]):
            return NotImplemented
        g = args[0]
        return fun(g, shape_of(g)[:1] + tuple(args[1]), idx, *args[3:], **kwargs)

    return rule


def gather_along_axis(fun: Callable) -> Callable:
    def rule(args, batched, kwargs):
        return _gather(fun, args, batched, kwargs)

    return rule


def _gather(fun, args, batched, kwargs):
    arr, indices = args[0], args[1]
    axis = kwargs["axis"]
    n = _ndim(arr) - batched[0]
    if not batched[1]:
        indices = _np.reshape(indices, (1,) + tuple(shape_of(indices)))
    elif not batched[0]:
        arr = _np.reshape(arr, (1,) + tuple(shape_of(arr)))
    return fun(arr, indices, axis=int(axis) % n + 1)


def scatter_along_axis(fun: Callable) -> Callable:
    def rule(args, batched, kwargs):
        return _scatter(fun, args, batched, kwargs)

    return rule


def _scatter(fun, args, batched, kwargs):
    if batched[1]:
        return NotImplemented
    g, indices = args[0], args[1]
    shape = tuple(kwargs["shape"])
    axis = int(kwargs["axis"]) % len(shape) + 1
    size = shape_of(g)[0]
    idx = _np.reshape(indices, (1,) + tuple(shape_of(indices)))
    return fun(g, idx, shape=(size,) + shape, axis=axis, dtype=kwargs["dtype"])
