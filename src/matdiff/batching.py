"""Batched forward mode: many tangent directions pushed through one forward pass.

A :class:`BatchedForwardTrace` is a forward trace whose tangents carry a leading batch
axis: the tangent of a value of shape ``s`` has shape ``(B,) + s``, one row per
direction. ``jacfwd`` and ``hessian`` use it to push many basis directions through
one pass (all of them, where memory allows), so the per-primitive Python cost is paid
once rather than ``B`` times and NumPy sees whole ``(B, ...)`` blocks (one matrix
product instead of ``B``).

It has no batching rules of its own: a primitive's batched tangent is its ordinary JVP
rule run under :func:`matdiff.vmap` over the directions, so the batching rules
registered beside each primitive's VJP and JVP (``wrap(..., batch=...)``) serve both
transformations. A JVP rule that cannot run batched (one that reads a tangent as a
Python number) runs once per direction instead: always correct, only slower.
:func:`register_batch_rule` still lets an extension give a primitive a batched tangent
rule of its own, or send it to the per-direction loop.

>>> import numpy
>>> import matdiff.numpy as np
>>> out, t = batch_jvp(np.sin, (numpy.zeros(2),), (numpy.eye(2),))
>>> t
array([[1., 0.],
       [0., 1.]])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as _np

from . import numpy as mnp
from .core import jvp_rule, linear_jvps, vspace
from .errors import ConcreteValueError
from .numpy._batch import _pad, identity_seed
from .numpy._wrap import shape_of
from .tracer import Trace, box_types, getval, new_box
from .tree import tree_flatten, tree_unflatten
from .vmapping import map_argument, map_batch

__all__ = [
    "BatchedForwardTrace",
    "batch_jvp",
    "batch_rules",
    "register_batch_rule",
    "identity_seed",
    "batch_jvp_trace",
    "tangent_of",
]

#: Batched tangent rules an extension registered (:func:`register_batch_rule`); the
#: primitives matdiff defines need none.
batch_rules: dict[Callable, Callable | None] = {}
_VMAP = object()  # no rule registered: the JVP rule under vmap


def register_batch_rule(fun: Callable, rule: Callable | None) -> None:
    """Use ``rule(tangents, ans, args, kwargs)`` for ``fun`` in batched forward mode.

    Optional: without one, ``fun``'s JVP rule runs under ``vmap`` over the directions.
    ``None`` makes ``fun`` always use the per-direction loop of its JVP rule.

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


class BatchTooLarge(Exception):
    """A batched tangent would exceed its trace's ``limit`` (raised before computing it)."""


class BatchedForwardTrace(Trace):
    """A forward trace whose tangents have a leading axis of ``size`` directions.

    ``peak`` is the most elements any traced answer had: each direction's share of the
    largest batched tangent, which is what sizing a batch needs.

    A tangent is computed when it is first read (:func:`tangent_of`), not when its
    primitive runs: under a Hessian's forward-over-reverse, the tangents of the inner
    function's value and of other values no derivative reads are never computed.
    Missing rules and known-zero tangents are still found when the primitive runs.
    """

    __slots__ = ("size", "peak", "limit")

    def __init__(self, size: int, limit: int = 0) -> None:
        super().__init__()
        self.size = size
        self.peak = 1
        self.limit = limit  # most elements of one batched tangent; 0: no limit

    def process(self, fun, ans, argvals, kwargs, argnums, boxes):
        n = getattr(ans, "size", 1)
        if n > self.peak:
            self.peak = n
            if self.limit and n * self.size > self.limit:
                raise BatchTooLarge(n * self.size)
        rule = batch_rules.get(fun, _VMAP) if batch_rules else _VMAP
        # Raise a missing rule here, where the primitive is called, and leave an answer
        # whose tangent is known to be zero unboxed.
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
        if rule is _VMAP:
            t = _vmapped_rule(fun, size, tangents, ans, args, kwargs)
        elif rule is None:
            t = NotImplemented
        else:
            t = rule(tangents, ans, args, kwargs)
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


def _rules(fun, tangents):
    """``(tangent, JVP rule)`` of each argument that has both."""
    for i, g in enumerate(tangents):
        if g is not None:
            rule = jvp_rule(fun, i)
            if rule is not None:
                yield g, rule


def _vmapped_rule(fun, size, tangents, ans, args, kwargs):
    """The JVP rule of each traced argument mapped over the directions by ``vmap``,
    or ``NotImplemented`` where a rule reads a tangent as a number."""
    total = None
    direct = _elementwise.get(fun)
    if direct is None:
        raw = getattr(fun, "fun", None)
        # Generalized ufuncs (matmul) have core dimensions: they are not elementwise.
        direct = _elementwise[fun] = isinstance(raw, _np.ufunc) and raw.signature is None
    for g, rule in _rules(fun, tangents):
        if direct:
            # vmap's elementwise rule pads each batched operand to the answer's rank and
            # lets NumPy broadcast. A ufunc's JVP rule is elementwise in its tangent, so
            # padding the tangent once and calling the rule is what vmap would do,
            # without dispatching each of the rule's operations through a batch trace.
            t = rule(_pad(g, len(shape_of(ans))), ans, *args, **kwargs)
        else:
            linear = linear_jvps.get(rule)
            try:
                if linear is not None and linear[0] is fun:
                    # The rule is fun itself with the tangent at ``linear[1]``: its vmap
                    # is fun's batching rule, called without a trace.
                    t = map_argument(fun, linear[1], g, args, kwargs, size)
                else:
                    t = map_batch(lambda gb, _rule=rule: _rule(gb, ans, *args, **kwargs), g, size)
            except ConcreteValueError:
                return NotImplemented
        total = t if total is None else total + t
    return total


_elementwise: dict[Callable, bool] = {}


def _loop_rule(fun, size, tangents, ans, args, kwargs):
    """The ordinary JVP rule applied to one direction at a time, then stacked."""
    total = None
    for g, rule in _rules(fun, tangents):
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


# The names of the elementwise functions that are not ufuncs, as matdiff.numpy exports
# them (their batching, like every primitive's, is their vmap rule's).
ELEMENTWISE = ("where", "real", "imag", "clip", "sinc", "angle", "copy")


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


def batch_jvp_trace(
    fun: Callable, primals: tuple, tangents: tuple, fname: str = "batch_jvp", limit: int = 0
):
    """:func:`batch_jvp`, and the finished trace (whose ``peak`` sizes later batches).

    With ``limit``, a batched tangent of more elements raises :class:`BatchTooLarge`.
    """
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
    trace = BatchedForwardTrace(size, limit)
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
