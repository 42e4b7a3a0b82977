"""Batched forward mode: many tangent directions pushed through one forward pass.

A :class:`BatchedForwardTrace` is a forward trace whose tangents carry a leading batch
axis: the tangent of a value of shape ``s`` has shape ``(B,) + s``, one row per
direction. ``jacfwd`` and ``hessian`` use it to push many basis directions through
one pass (all of them, where memory allows), so the per-primitive Python cost is paid
once rather than ``B`` times and NumPy sees whole ``(B, ...)`` blocks (one matrix
product instead of ``B``).

Each primitive is handled by a *batch rule* from :data:`batch_rules`, keyed by the
wrapped primitive: ``rule(tangents, ans, args, kwargs) -> tangent``, where
``tangents[i]`` is the batched tangent of argument ``i`` or ``None``. A rule may return
``NotImplemented`` for arguments it cannot batch (an unusual index, say). Primitives
with no batch rule, or whose rule declines, fall back to a loop over the directions of
their ordinary JVP rule: always correct, only slower. Elementwise ufuncs need no rule
of their own: once a tangent is padded to the answer's rank, their ordinary JVP rules
broadcast over the batch axis.

>>> import numpy
>>> import matdiff.numpy as np
>>> out, t = batch_jvp(np.sin, (numpy.zeros(2),), (numpy.eye(2),))
>>> t
array([[1., 0.],
       [0., 1.]])
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable
from typing import Any

import numpy as _np

from . import numpy as mnp
from .core import jvp_rule, jvp_rules, vspace
from .numpy import _broadcast, indexing, manipulation, products, reductions, ufuncs
from .numpy._wrap import shape_of
from .tracer import Trace, asks_trace, box_types, getval, new_box
from .tree import tree_flatten, tree_unflatten

__all__ = [
    "BatchedForwardTrace",
    "batch_jvp",
    "batch_rules",
    "register_batch_rule",
    "identity_seed",
    "batch_jvp_trace",
    "tangent_of",
]

batch_rules: dict[Callable, Callable] = {}
_no_rule = object()
_rule_cache: dict[Callable, Any] = {}

# Identity seeds: rows start:start + rows of the n x n identity, the basis directions of
# a vector. A matrix product with one is a slice of the matrix, so the rules can skip an
# n x n x m product.
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
    which is the identity still): a slice of a plain ``other`` (an
    array captured by closure) would be taken once while staging and frozen, so the
    product is left to the matrix product, which is recorded.
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


def register_batch_rule(fun: Callable, rule: Callable | None) -> None:
    """Use ``rule(tangents, ans, args, kwargs)`` for ``fun`` in batched forward mode.

    ``None`` makes ``fun`` always use the per-direction loop of its JVP rule (for an
    elementwise ufunc whose JVP rule does not broadcast over a leading batch axis).

    >>> import matdiff.numpy as np
    >>> from matdiff.extend import primitive, defjvp
    >>> cube = primitive(lambda x: x**3)
    >>> defjvp(cube, lambda g, ans, x: 3.0 * x**2 * g)
    >>> register_batch_rule(cube, lambda tangents, ans, args, kw: 3.0 * args[0] ** 2 * tangents[0])
    >>> batch_jvp(cube, (np.array([1.0, 2.0]),), (np.eye(2),))[1]
    array([[ 3.,  0.],
           [ 0., 12.]])
    """
    batch_rules[fun] = rule
    _rule_cache.pop(fun, None)


class BatchedForwardTrace(Trace):
    """A forward trace whose tangents have a leading axis of ``size`` directions.

    ``peak`` is the most elements any traced answer had: each direction's share of the
    largest batched tangent, which is what sizing a batch needs.

    A tangent is computed when it is first read (:func:`tangent_of`), not when its
    primitive runs: under a Hessian's forward-over-reverse, the tangents of the inner
    function's value and of other values no derivative reads are never computed.
    Missing rules and known-zero tangents are still found when the primitive runs.
    """

    __slots__ = ("size", "peak")

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size
        self.peak = 1

    def process(self, fun, ans, argvals, kwargs, argnums, boxes):
        n = getattr(ans, "size", 1)
        if n > self.peak:
            self.peak = n
        rule = _rule_cache.get(fun)
        if rule is None:
            rule = _rule_cache[fun] = _find_rule(fun)
        if rule is _no_rule or fun in jvp_rules:
            # Raise a missing rule here, where the primitive is called, and leave an
            # answer whose tangent is known to be zero unboxed.
            if all(jvp_rule(fun, i) is None for i in argnums):
                return ans
        tangents: list = [None] * len(argvals)
        for i, b in zip(argnums, boxes):
            tangents[i] = b._node
        return new_box(ans, self, _Deferred(self, fun, rule, tangents, ans, argvals, kwargs))


class _Deferred:
    """A batched tangent not computed yet: the rule of ``fun`` and what it will read."""

    __slots__ = ("trace", "fun", "rule", "tangents", "ans", "args", "kwargs", "value")

    def __init__(self, trace, fun, rule, tangents, ans, args, kwargs) -> None:
        self.trace = trace
        self.fun = fun
        self.rule = rule
        self.tangents = tangents
        self.ans = ans
        self.args = args
        self.kwargs = kwargs
        self.value = None

    def compute(self) -> None:
        """Apply the rule to the (computed) input tangents; drop what it read."""
        size = self.trace.size
        tangents = [t.value if type(t) is _Deferred else t for t in self.tangents]
        if all(t is None for t in tangents):
            # Every input's tangent turned out zero (a rule such as sign's said so).
            self.value = None
            self.tangents = self.rule = self.ans = self.args = self.kwargs = None
            return
        fun, rule, ans, args, kwargs = self.fun, self.rule, self.ans, self.args, self.kwargs
        t = NotImplemented if rule is _no_rule else rule(tangents, ans, args, kwargs)
        if t is NotImplemented:
            t = _loop_rule(fun, size, tangents, ans, args, kwargs)
        if t is not None:
            target = (size,) + shape_of(ans)
            if shape_of(t) != target:
                t = mnp.broadcast_to(t, target)
        self.value = t
        self.tangents = self.rule = self.ans = self.args = self.kwargs = None


def tangent_of(t: Any) -> Any:
    """A batched tangent's value (``None`` for zero), computing it and what it needs.

    Iterative, so that a long chain of primitives does not exhaust Python's stack.
    """
    if type(t) is not _Deferred:
        return t
    if t.tangents is None:
        return t.value
    stack = [t]
    while stack:
        d = stack[-1]
        if d.tangents is None:  # computed since it was pushed
            stack.pop()
            continue
        waiting = [u for u in d.tangents if type(u) is _Deferred and u.tangents is not None]
        if waiting:
            stack.extend(waiting)
            continue
        stack.pop()
        d.compute()
    return t.value


def _find_rule(fun: Callable):
    if fun in batch_rules:
        rule = batch_rules[fun]
        return _no_rule if rule is None else rule
    raw = getattr(fun, "fun", None)
    # Generalized ufuncs (matmul) have core dimensions: they are not elementwise.
    if isinstance(raw, _np.ufunc) and raw.signature is None:
        return _elementwise_rule(fun)
    return _no_rule


def _loop_rule(fun, size, tangents, ans, args, kwargs):
    """The ordinary JVP rule applied to one direction at a time, then stacked."""
    total = None
    for i, g in enumerate(tangents):
        if g is None:
            continue
        rule = jvp_rule(fun, i)
        if rule is None:
            continue
        ashape = shape_of(ans)
        cols = []
        for b in range(size):
            c = rule(g[b], ans, *args, **kwargs)
            if shape_of(c) != ashape:
                c = mnp.broadcast_to(c, ashape)
            cols.append(c)
        t = mnp.stack(cols)
        total = t if total is None else total + t
    return total


def _pad(g, rank: int):
    """Insert unit axes after the batch axis so that ``g`` has ``rank`` + 1 axes."""
    gshape = shape_of(g)
    missing = rank + 1 - len(gshape)
    if missing <= 0:
        return g
    return mnp.reshape(g, gshape[:1] + (1,) * missing + gshape[1:])


def _sum_tangents(ts: list):
    total = None
    for t in ts:
        if t is not None:
            total = t if total is None else total + t
    return total


def _elementwise_rule(fun: Callable) -> Callable:
    """Pad each tangent to the answer's rank; the ordinary JVP rule then broadcasts."""

    def rule(tangents, ans, args, kwargs):
        rank = len(shape_of(ans))
        out = []
        for i, g in enumerate(tangents):
            if g is None:
                continue
            jvp = jvp_rule(fun, i)
            if jvp is not None:
                out.append(jvp(_pad(g, rank), ans, *args, **kwargs))
        return _sum_tangents(out)

    return rule


# ---------------------------------------------------------------- structural rules


def _bind(fun: Callable, args: tuple, kwargs: dict) -> inspect.BoundArguments:
    sig = _signatures.get(fun)
    if sig is None:
        sig = _signatures[fun] = inspect.signature(fun.fun)
    bound = sig.bind(*args, **kwargs)
    bound.apply_defaults()
    return bound


_signatures: dict[Callable, inspect.Signature] = {}


def _shift_axis(axis, ndim: int):
    """``axis`` of an unbatched array as the axis of its batched tangent."""
    if axis is None:
        return tuple(range(1, ndim + 1))
    if isinstance(axis, (tuple, list)):
        return tuple(a % ndim + 1 for a in axis)
    return axis % ndim + 1


def _axis_reduction(fun: Callable) -> Callable:
    """A reduction linear in its first argument whose JVP is itself (sum, mean)."""

    def rule(tangents, ans, args, kwargs):
        g = tangents[0]
        if g is None or any(t is not None for t in tangents[1:]):
            return NotImplemented
        bound = _bind(fun, args, kwargs)
        names = list(bound.arguments)
        if "axis" not in bound.arguments or bound.arguments.get("where", True) is not True:
            return NotImplemented  # a mask would need the batch axis too: use the loop
        x = bound.arguments[names[0]]
        ndim = len(shape_of(x))
        if ndim == 0:
            return g
        bound.arguments[names[0]] = g
        bound.arguments["axis"] = _shift_axis(bound.arguments["axis"], ndim)
        return fun(*bound.args, **bound.kwargs)

    return rule


def _reshape_rule(tangents, ans, args, kwargs):
    g = tangents[0]
    if kwargs.get("order", "C") != "C" or (len(args) > 2 and args[2] != "C"):
        return NotImplemented
    return mnp.reshape(g, shape_of(g)[:1] + shape_of(ans))


def _transpose_rule(tangents, ans, args, kwargs):
    g = tangents[0]
    ndim = len(shape_of(args[0]))
    axes = args[1] if len(args) > 1 else kwargs.get("axes")
    if axes is None:
        perm = (0,) + tuple(range(ndim, 0, -1))
    else:
        perm = (0,) + tuple(a % ndim + 1 for a in axes)
    return mnp.transpose(g, perm)


def _broadcast_to_rule(tangents, ans, args, kwargs):
    g = tangents[0]
    target = shape_of(ans)
    return mnp.broadcast_to(_pad(g, len(target)), shape_of(g)[:1] + target)


def _basic_index(idx) -> tuple | None:
    """``idx`` as a tuple that stays correct with a batch axis in front, or ``None``.

    Slices, integers, ``None`` and ``Ellipsis`` qualify, as does one array index with
    no integers beside it (NumPy places advanced-index axes first otherwise). A traced
    index (one computed under ``jit``) does not: inside a tuple it would not be traced.
    """
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
        else:
            advanced += 1
    if advanced > 1 or (advanced == 1 and ints):
        return None
    return (slice(None),) + idx


def _getitem_rule(tangents, ans, args, kwargs):
    idx = _basic_index(args[1])
    if idx is None or tangents[1] is not None:
        return NotImplemented
    return mnp.getitem(tangents[0], idx)


def _scatter_add_rule(tangents, ans, args, kwargs):
    g = tangents[0]
    idx = _basic_index(args[2])
    if idx is None or any(t is not None for t in tangents[1:]):
        return NotImplemented
    return indexing.scatter_add(g, shape_of(g)[:1] + tuple(args[1]), idx, *args[3:], **kwargs)


def _gather_along_axis_rule(tangents, ans, args, kwargs):
    """take_along_axis's gather: the index gains a unit batch axis that broadcasts."""
    if tangents[1] is not None:
        return NotImplemented
    return indexing._gather_along_axis(tangents[0], args[1][None], axis=kwargs["axis"] + 1)


def _scatter_along_axis_rule(tangents, ans, args, kwargs):
    """Its transpose, the scatter-add, batched the same way."""
    if tangents[1] is not None:
        return NotImplemented
    g = tangents[0]
    shape = shape_of(g)[:1] + tuple(kwargs["shape"])
    return indexing._scatter_along_axis(
        g, args[1][None], shape=shape, axis=kwargs["axis"] + 1, dtype=kwargs["dtype"]
    )


def _join_rule(join: Callable) -> Callable:
    """``_stack(axis, *arrays)`` and ``_concatenate(axis, *arrays)``: zeros for the
    untraced arrays, the axis shifted past the batch axis."""

    def rule(tangents, ans, args, kwargs):
        axis = args[0]
        if tangents[0] is not None or not isinstance(axis, (int, _np.integer)):
            return NotImplemented
        return _join(join, axis, tangents, args)

    return rule


def _join(join: Callable, axis: int, tangents: list, args: tuple):
    size = next(shape_of(t)[0] for t in tangents if t is not None)
    parts = []
    for t, a in zip(tangents[1:], args[1:]):
        if t is None:
            v = vspace(a)
            t = _np.zeros((size,) + v.shape, v.dtype)
        parts.append(t)
    return join(axis + 1 if axis >= 0 else axis, *parts)


def _dot_rule(tangents, ans, args, kwargs):
    # dot is matmul for vectors and matrices; scalars and stacks are left to the loop.
    if kwargs or not all(1 <= len(shape_of(a)) <= 2 for a in args[:2]):
        return NotImplemented
    return _matmul_rule(tangents, ans, args, kwargs)


def _matmul_rule(tangents, ans, args, kwargs):
    x, y = args[0], args[1]
    gx, gy = tangents[0], tangents[1]
    out = []
    if gx is not None:
        out.append(_matmul_left(gx, y, ans))
    if gy is not None:
        out.append(_matmul_right(x, gy, ans))
    return _sum_tangents(out)


def _matmul_left(g, y, ans):
    """The batched tangent ``g @ y`` of ``x @ y`` for ``x``'s tangent ``g``."""
    matmul = products.matmul
    gshape, ys = shape_of(g), shape_of(y)
    size = gshape[0]
    target = (size,) + shape_of(ans)
    rows = _identity_rows(g, y) if len(ys) <= 2 else None
    if rows is not None:
        return mnp.getitem(y, rows)  # e_i @ y is row i of y
    if len(ys) == 1:
        # (B, ..., n) @ (n,): NumPy broadcasts the batch axis as a stack axis.
        return matmul(g, y)
    if len(ys) == 2:
        # All directions in one matrix product: (B * ..., n) @ (n, p).
        return mnp.reshape(matmul(mnp.reshape(g, (-1, ys[0])), y), target)
    if len(gshape) == 2:  # x is a vector: (B, n) -> (B, 1, ..., 1, n)
        g = mnp.reshape(g, (size,) + (1,) * (len(ys) - 2) + (1, gshape[1]))
    else:
        g = _pad(g, len(ys))
    return mnp.reshape(matmul(g, y), target)


def _matmul_right(x, g, ans):
    """The batched tangent ``x @ g`` of ``x @ y`` for ``y``'s tangent ``g``."""
    matmul = products.matmul
    gshape, xs = shape_of(g), shape_of(x)
    size = gshape[0]
    target = (size,) + shape_of(ans)
    rows = _identity_rows(g, x) if len(xs) <= 2 else None
    if rows is not None:
        # x @ e_i is column i of x (entry i of a vector x)
        return mnp.getitem(x if len(xs) == 1 else mnp.transpose(x), rows)
    if len(xs) == 1:
        if len(gshape) == 2:  # vector @ vector: (B, n) @ (n,)
            return matmul(g, x)
        return matmul(x, g)  # (n,) @ (B, ..., n, p)
    if len(xs) == 2:
        n = xs[1]
        if len(gshape) == 2:  # (m, n) @ (n,) per direction: (B, n) @ (n, m)
            return matmul(g, mnp.transpose(x))
        if len(gshape) == 3 and gshape[2] == 1:
            # (m, n) @ (B, n, 1): all directions in one product (B, n) @ (n, m).
            prod = matmul(mnp.reshape(g, (size, n)), mnp.transpose(x))
            return mnp.reshape(prod, target)
    if len(gshape) == 2:  # y is a vector: (B, n) -> (B, 1, ..., n, 1)
        g = mnp.reshape(g, (size,) + (1,) * (len(xs) - 2) + (gshape[1], 1))
    else:
        g = _pad(g, len(xs))
    return mnp.reshape(matmul(x, g), target)


def _install() -> None:
    # Keyed by the primitives themselves, not their names: a renamed primitive fails here,
    # at import, instead of silently losing its rule.
    table = {
        _broadcast.reshape: _reshape_rule,
        manipulation.transpose: _transpose_rule,
        _broadcast.broadcast_to: _broadcast_to_rule,
        indexing.getitem: _getitem_rule,
        indexing.scatter_add: _scatter_add_rule,
        indexing._gather_along_axis: _gather_along_axis_rule,
        indexing._scatter_along_axis: _scatter_along_axis_rule,
        manipulation._stack: _join_rule(manipulation._stack),
        manipulation._concatenate: _join_rule(manipulation._concatenate),
        products.matmul: _matmul_rule,
        products.dot: _dot_rule,
    }
    for fun, rule in table.items():
        register_batch_rule(fun, rule)
    for fun in (_broadcast.sum, reductions.mean):
        register_batch_rule(fun, _axis_reduction(fun))
    # Elementwise primitives that are not NumPy ufuncs (ufuncs are recognised by type).
    for fun in _ELEMENTWISE_PRIMITIVES:
        register_batch_rule(fun, _elementwise_rule(fun))
    for fun in mnp.fft.TRAILING_AXES_LINEAR:
        register_batch_rule(fun, _trailing_linear_rule(fun))


# The names of the elementwise functions that are not ufuncs, as matdiff.numpy exports
# them (clip among them: a composite of the primitive _clip, which loops).
ELEMENTWISE = ("where", "real", "imag", "clip", "sinc", "angle", "copy")
_ELEMENTWISE_PRIMITIVES = (
    ufuncs.where,
    _broadcast.real,
    ufuncs.imag,
    ufuncs.sinc,
    ufuncs.angle,
    manipulation.copy,
)


def _trailing_linear_rule(fun: Callable) -> Callable:
    """``fun(a, ...)`` linear in ``a`` and acting on axes counted from the end (the FFTs):
    the batched tangent goes through one call, its batch axis riding in front."""

    def rule(tangents, ans, args, kwargs):
        return fun(tangents[0], *args[1:], **kwargs)

    return rule


_install()


# ---------------------------------------------------------------- entry point


def batch_jvp(fun: Callable, primals: tuple, tangents: tuple, fname: str = "batch_jvp"):
    """``(f(*primals), tangents_out)`` for a batch of tangent directions at once.

    Each tangent leaf has shape ``(B,) + primal.shape``; each output tangent leaf has
    shape ``(B,) + out.shape`` (zeros where the output does not depend on the inputs).

    >>> import matdiff.numpy as np
    >>> out, tangents = batch_jvp(lambda x: 2.0 * np.sin(x), (np.zeros(2),), (np.eye(2),))
    >>> tangents  # one row per direction: the Jacobian, in one pass
    array([[2., 0.],
           [0., 2.]])
    """
    out, touts, _ = batch_jvp_trace(fun, primals, tangents, fname)
    return out, touts


def batch_jvp_trace(fun: Callable, primals: tuple, tangents: tuple, fname: str = "batch_jvp"):
    """:func:`batch_jvp`, and the finished trace (whose ``peak`` sizes later batches)."""
    leaves, treedef = tree_flatten(primals)
    t_leaves, t_def = tree_flatten(tangents)
    if t_def != treedef:
        raise ValueError(
            f"{fname}: the tangents' structure {t_def} differs from the primals' {treedef}"
        )
    sizes = set()
    for i, (x, t) in enumerate(zip(leaves, t_leaves)):
        xs, ts = _np.shape(getval(x)), _np.shape(getval(t))
        if ts[1:] != xs or not ts:
            raise ValueError(
                f"{fname}: batched tangent {i} has shape {ts}; it must be (B,) + the primal's "
                f"shape {xs}"
            )
        sizes.add(ts[0])
    if len(sizes) > 1:
        raise ValueError(f"{fname}: batched tangents disagree on the batch size: {sorted(sizes)}")
    size = sizes.pop() if sizes else 0
    trace = BatchedForwardTrace(size)
    boxes = [new_box(x, trace, t) for x, t in zip(leaves, t_leaves)]
    out_leaves, out_def = tree_flatten(fun(*tree_unflatten(treedef, boxes)))
    outs, touts = [], []
    for o in out_leaves:
        t = tangent_of(o._node) if type(o) in box_types and o._trace is trace else None
        if t is not None:
            outs.append(o._value)
            touts.append(t)
        else:
            v = vspace(o)
            outs.append(o._value if type(o) in box_types and o._trace is trace else o)
            touts.append(_np.zeros((size,) + v.shape, v.dtype))
    return tree_unflatten(out_def, outs), tree_unflatten(out_def, touts), trace
