"""Derivatives the user chooses: stop_gradient, custom_vjp, custom_jvp and checkpoint.

Each is a function that traces differently from the primitives it calls. Under a
reverse trace, a custom rule or a checkpoint records one call on the tape (through
:meth:`~matdiff.core.ReverseTrace.record`) whose VJP is the user's backward function, or
a second forward and backward pass; under the other traces it differentiates the
function itself, or applies the user's JVP rule.

>>> import matdiff.numpy as np
>>> from matdiff import grad
>>> from matdiff.custom_rules import stop_gradient
>>> float(grad(lambda x: np.sin(x) * stop_gradient(np.cos(x)))(0.0))
1.0
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as _np

from . import numpy as mnp
from .batching import BatchedForwardTrace, tangent_of
from .checks import name_of
from .core import EveryPosition, ForwardTrace, ReverseTrace, vjp_rules, vspace
from .operators import trace_vjp
from .tracer import box_types, getval, new_box, nondifferentiable
from .tree import tree_flatten, tree_map, tree_unflatten

__all__ = ["stop_gradient", "custom_vjp", "custom_jvp", "checkpoint"]


# ---------------------------------------------------------------- stop_gradient


def _identity(x):
    return x


_stop = nondifferentiable(_identity, "stop_gradient")


def stop_gradient(x: Any) -> Any:
    """The value of ``x`` (a pytree) with its derivative treated as zero, at every level.

    >>> from matdiff import grad
    >>> grad(lambda x: x * stop_gradient(x))(3.0)
    np.float64(3.0)
    """
    return tree_map(_stop, x)


# ---------------------------------------------------------------- custom rules
#
# A function with a custom rule is recorded on a reverse tape as one *hub* node, whose
# parents are the traced input leaves, and one node per output leaf whose parent is the
# hub. An output node passes its cotangent up as a sparse {output index: cotangent}; the
# hub sums those and calls the rule's backward function once for all inputs.


def _custom_hub(*args):  # pragma: no cover - a tape marker, never called
    raise AssertionError("_custom_hub is a tape marker")


def _custom_out(*args):  # pragma: no cover - a tape marker, never called
    raise AssertionError("_custom_out is a tape marker")


class _OutCotangents(dict):
    """Cotangents of some outputs of a custom-rule call; missing outputs are zero."""

    __slots__ = ()

    def __add__(self, other):
        res = _OutCotangents(self)
        for k, v in other.items():
            res[k] = res[k] + v if k in res else v
        return res


class _CustomRule:
    """The hub node's answer: the flat backward function, called once per backward pass.

    The backward pass asks for each traced input's cotangent in turn, with the same
    ``g``; the results of one call serve them all, and are dropped after the last so
    that the tape does not keep them alive.
    """

    __slots__ = ("bwd", "out_vals", "n_traced", "_g", "_cts", "_left")

    def __init__(self, bwd: Callable, out_vals: list, n_traced: int) -> None:
        self.bwd = bwd
        self.out_vals = out_vals
        self.n_traced = n_traced
        self._g = self._cts = None
        self._left = 0

    def cotangent(self, i: int, g: _OutCotangents, args: tuple) -> Any:
        if g is not self._g or self._left == 0:
            cts = [g.get(k) for k in range(len(self.out_vals))]
            cts = [vspace(o).zeros() if c is None else c for c, o in zip(cts, self.out_vals)]
            self._cts = self.bwd(cts)
            self._g = g
            self._left = self.n_traced
        ct = self._cts[i]
        self._left -= 1
        if self._left == 0:
            self._g = self._cts = None
        return vspace(args[i]).zeros() if ct is None else ct


# The hub's VJP table: one maker for every input position.
vjp_rules[_custom_hub] = EveryPosition(
    lambda i: lambda rule, *args: lambda g: rule.cotangent(i, g, args)
)
vjp_rules[_custom_out] = [lambda ans, k: lambda g: _OutCotangents({k: g})]


def _top_trace(leaves: list):
    top = None
    for a in leaves:
        if type(a) in box_types:
            t = a._trace
            if top is None or t.level > top.level:
                top = t
    return top


def _unbox_at(leaves: list, top) -> list:
    return [a._value if type(a) in box_types and a._trace is top else a for a in leaves]


def _bind_custom(top: ReverseTrace, leaves: list, vals: list, outs: list, bwd: Callable) -> list:
    """Record a custom-rule call on ``top``'s tape; the boxed outputs."""
    argnums = tuple(i for i, a in enumerate(leaves) if type(a) in box_types and a._trace is top)
    parents = [leaves[i]._node for i in argnums]
    rule = _CustomRule(bwd, outs, len(argnums))
    hub = top.record(_custom_hub, rule, tuple(vals), argnums, parents)
    boxes = []
    for k, o in enumerate(outs):
        node = top.record(_custom_out, o, (k,), (0,), [hub])
        boxes.append(new_box(o, top, node))
    return boxes


def _check_closure(fname: str, out_leaves: list, top) -> None:
    for o in out_leaves:
        if type(o) in box_types and o._trace is top:
            raise TypeError(
                f"{fname}: the function's output depends on a traced value it closes over "
                "(not one of its arguments), which its custom rule cannot see. Pass that "
                "value as an argument instead."
            )


def _primal_fallback(call_custom: Callable, fun: Callable, args: tuple, kwargs, leaves, top):
    """Under a trace that does not use the custom rule (a forward trace for ``custom_vjp``,
    a staging trace for any custom function): payloads (tangents, staged variables) from
    ``fun`` itself, values from the custom path, so lower reverse traces still use the
    custom rule. With nothing traced below ``top`` this is just ``fun(*args)``."""
    vals = _unbox_at(leaves, top)
    if not any(type(v) in box_types for v in vals):
        return fun(*args, **kwargs)
    inner = call_custom(vals)
    traced = fun(*args, **kwargs)
    inner_leaves, inner_def = tree_flatten(inner)
    traced_leaves = tree_flatten(traced)[0]
    res = []
    for v, t in zip(inner_leaves, traced_leaves):
        if type(t) in box_types and t._trace is top:
            res.append(new_box(v, top, t._node))
        else:
            res.append(v)
    return tree_unflatten(inner_def, res)


class custom_vjp:
    """A function with a user-defined VJP (JAX's interface).

    ``f.defvjp(f_fwd, f_bwd)``: ``f_fwd(*args) -> (out, residuals)`` and
    ``f_bwd(residuals, out_cotangent) -> tuple of argument cotangents`` (``None`` for zero).
    Reverse mode of any order uses the rule (the backward function is itself
    differentiated); forward mode differentiates the original function.

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> @custom_vjp
    ... def clip_grad(x):
    ...     return x
    >>> clip_grad.defvjp(lambda x: (x, None), lambda res, g: (np.clip(g, -1.0, 1.0),))
    >>> grad(lambda x: 5.0 * clip_grad(x))(2.0)
    np.float64(1.0)
    """

    def __init__(self, fun: Callable, nondiff_argnums: Sequence[int] = ()) -> None:
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.fwd: Callable | None = None
        self.bwd: Callable | None = None
        self.nondiff_argnums = tuple(nondiff_argnums)

    def defvjp(self, fwd: Callable, bwd: Callable) -> None:
        self.fwd, self.bwd = fwd, bwd

    def _split(self, args: tuple) -> tuple[tuple, list]:
        static = tuple(args[i] for i in self.nondiff_argnums)
        dyn = [a for i, a in enumerate(args) if i not in self.nondiff_argnums]
        return static, dyn

    def _merge(self, static: tuple, dyn: Sequence) -> list:
        full, si, di = [], iter(static), iter(dyn)
        for i in range(len(static) + len(dyn)):
            full.append(next(si) if i in self.nondiff_argnums else next(di))
        return full

    def __call__(self, *args, **kwargs):
        name = name_of(self.fun)
        if self.fwd is None:
            raise TypeError(
                f"custom_vjp function {name} has no rule: call {name}.defvjp(fwd, bwd) first"
            )
        static, dyn = self._split(args)
        leaves, treedef = tree_flatten(tuple(dyn))
        top = _top_trace(leaves)
        if top is None:
            return self.fun(*args, **kwargs)

        def call_custom(vals):
            return self(*self._merge(static, tree_unflatten(treedef, vals)), **kwargs)

        if not isinstance(top, ReverseTrace):
            return _primal_fallback(call_custom, self.fun, args, kwargs, leaves, top)
        vals = _unbox_at(leaves, top)
        fwd_out = self.fwd(*self._merge(static, tree_unflatten(treedef, vals)), **kwargs)
        if not (isinstance(fwd_out, tuple) and len(fwd_out) == 2):
            raise TypeError(
                f"custom_vjp {name}: the forward function must return a pair (output, "
                f"residuals), got {type(fwd_out).__name__}"
            )
        out, residuals = fwd_out
        out_leaves, out_def = tree_flatten(out)
        _check_closure(f"custom_vjp {name}", out_leaves, top)
        n_dyn = len(dyn)

        def bwd_flat(cts: list) -> list:
            in_cts = self.bwd(*static, residuals, tree_unflatten(out_def, cts))
            if not isinstance(in_cts, (tuple, list)) or len(in_cts) != n_dyn:
                raise TypeError(
                    f"custom_vjp {name}: the backward function must return a tuple with one "
                    f"cotangent per differentiable argument ({n_dyn}), got {in_cts!r:.80}"
                )
            flat = []
            for d, c in zip(dyn, in_cts):
                d_leaves, d_def = tree_flatten(d)
                if c is None:
                    flat += [None] * len(d_leaves)
                    continue
                c_leaves, c_def = tree_flatten(c)
                if c_def != d_def:
                    raise ValueError(
                        f"custom_vjp {name}: a cotangent's structure {c_def} differs from "
                        f"its argument's {d_def}"
                    )
                for cl, dl in zip(c_leaves, d_leaves):
                    cs, ds = _np.shape(getval(cl)), _np.shape(getval(dl))
                    if cs != ds:
                        raise ValueError(
                            f"custom_vjp {name}: the backward function returned a cotangent "
                            f"of shape {cs} for an argument of shape {ds}; sum it over the "
                            "broadcast axes (each cotangent has its argument's shape)"
                        )
                flat += c_leaves
            return flat

        return tree_unflatten(out_def, _bind_custom(top, leaves, vals, out_leaves, bwd_flat))


class custom_jvp:
    """A function with a user-defined JVP (JAX's interface).

    ``f.defjvp(f_jvp)`` with ``f_jvp(primals, tangents) -> (out, tangent_out)``, linear in
    the tangents. Reverse mode transposes the rule: it reverse-differentiates ``f_jvp``
    with respect to the tangents.

    >>> import matdiff.numpy as np
    >>> from matdiff import grad, jvp
    >>> @custom_jvp
    ... def f(x):
    ...     return np.sin(x)
    >>> @f.defjvp
    ... def f_jvp(primals, tangents):
    ...     return np.sin(primals[0]), np.cos(primals[0]) * tangents[0]
    >>> float(grad(f)(0.0)), float(jvp(f, (0.0,), (1.0,))[1])
    (1.0, 1.0)
    """

    def __init__(self, fun: Callable) -> None:
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.jvp: Callable | None = None

    def defjvp(self, jvp: Callable) -> Callable:
        """Set the JVP rule; returns it, so this also works as a decorator."""
        self.jvp = jvp
        return jvp

    def _rule(self, primals: tuple, tangents: tuple):
        res = self.jvp(primals, tangents)
        if not (isinstance(res, (tuple, list)) and len(res) == 2):
            raise TypeError(
                f"custom_jvp {name_of(self.fun)}: the JVP rule must return a pair "
                f"(primal_out, tangent_out), got {type(res).__name__}"
            )
        p_leaves, p_def = tree_flatten(res[0])
        t_leaves, t_def = tree_flatten(res[1])
        if p_def != t_def:
            raise ValueError(
                f"custom_jvp {name_of(self.fun)}: the JVP rule's tangent_out structure {t_def} "
                f"differs from its primal_out's {p_def}"
            )
        return p_leaves, t_leaves, p_def

    def __call__(self, *args):
        name = name_of(self.fun)
        if self.jvp is None:
            raise TypeError(
                f"custom_jvp function {name} has no rule: call {name}.defjvp(jvp_rule) first"
            )
        leaves, treedef = tree_flatten(args)
        top = _top_trace(leaves)
        if top is None:
            return self.fun(*args)
        if not isinstance(top, (ReverseTrace, ForwardTrace, BatchedForwardTrace)):
            # Staging (jit) records the primal computation; a derivative taken inside the
            # staged function traces above it and meets the rule in the branches below.
            return _primal_fallback(
                lambda vals: self(*tree_unflatten(treedef, vals)), self.fun, args, {}, leaves, top
            )
        vals = _unbox_at(leaves, top)
        primals = tree_unflatten(treedef, vals)
        if isinstance(top, ReverseTrace):
            out = self(*primals)
            out_leaves, out_def = tree_flatten(out)
            zeros = [vspace(v).zeros() for v in vals]

            def bwd_flat(cts: list) -> list:
                def tangent_out(*t_leaves):
                    return self._rule(primals, tree_unflatten(treedef, list(t_leaves)))[1]

                _, vjp_fn, _ = trace_vjp(
                    f"custom_jvp {name}", tangent_out, tuple(zeros), check=False
                )
                return list(vjp_fn(cts))

            return tree_unflatten(out_def, _bind_custom(top, leaves, vals, out_leaves, bwd_flat))
        payload = [a._node if type(a) in box_types and a._trace is top else None for a in leaves]
        if isinstance(top, ForwardTrace):
            tangents = [vspace(v).zeros() if t is None else t for v, t in zip(vals, payload)]
            p_leaves, t_leaves, p_def = self._rule(primals, tree_unflatten(treedef, tangents))
        else:
            # A batched forward trace: the user's rule sees one direction at a time.
            payload = [tangent_of(t) for t in payload]
            size = top.size
            per = []
            for b in range(size):
                tangents = [vspace(v).zeros() if t is None else t[b] for v, t in zip(vals, payload)]
                p_leaves, t_b, p_def = self._rule(primals, tree_unflatten(treedef, tangents))
                per.append(t_b)
            t_leaves = [mnp.stack([p[k] for p in per]) for k in range(len(p_leaves))]
        res = [new_box(p, top, t) for p, t in zip(p_leaves, t_leaves)]
        return tree_unflatten(p_def, res)


def checkpoint(fun: Callable) -> Callable:
    """``fun`` whose intermediate values are not kept for reverse mode but recomputed.

    The forward pass records only the call; the backward pass runs ``fun`` again under
    its own reverse trace. Memory for residuals drops to the inputs and outputs, at the
    cost of a second forward pass (autograd's and JAX's ``checkpoint``).

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> g = checkpoint(lambda x: np.sin(np.sin(x)))
    >>> float(grad(g)(0.0))
    1.0
    """

    @functools.wraps(fun)
    def checkpointed(*args, **kwargs):
        leaves, treedef = tree_flatten(args)
        top = _top_trace(leaves)
        if not isinstance(top, ReverseTrace):
            return fun(*args, **kwargs)
        vals = _unbox_at(leaves, top)
        out = checkpointed(*tree_unflatten(treedef, vals), **kwargs)
        out_leaves, out_def = tree_flatten(out)
        idx = [i for i, a in enumerate(leaves) if type(a) in box_types and a._trace is top]

        def bwd_flat(cts: list) -> list:
            def f_dyn(*dyn):
                full = list(vals)
                for i, d in zip(idx, dyn):
                    full[i] = d
                return fun(*tree_unflatten(treedef, full), **kwargs)

            dyn_vals = tuple(vals[i] for i in idx)
            _, vjp_fn, _ = trace_vjp("checkpoint", f_dyn, dyn_vals, check=False)
            grads = vjp_fn(tree_unflatten(out_def, cts))
            res: list = [None] * len(leaves)
            for i, g in zip(idx, grads):
                res[i] = g
            return res

        return tree_unflatten(out_def, _bind_custom(top, leaves, vals, out_leaves, bwd_flat))

    return checkpointed
