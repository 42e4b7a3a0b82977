"""Tracing a function into a :class:`~matdiff.graph.Graph`: forward values and adjoints.

:func:`graph` runs the function under a reverse trace, runs the core's backward pass
keeping every adjoint and every cotangent sent along an edge, and turns the tape into
nodes and edges. The user function calls each node was made in, and the names of the
user's variables, come from :mod:`matdiff.graph._frames`.

>>> import matdiff.numpy as np
>>> from matdiff.graph.build import graph
>>> g = graph(lambda x: np.sum(x**2))(np.array([1.0, 2.0]))
>>> g["x"].adjoint
array([2., 4.])
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable
from typing import Any

import numpy as _np

from ..checks import check_float, normalize_argnums
from ..core import ReverseTrace, backward_pass, vspace
from ..tracer import box_types, getval
from ..tree import TreeDef, tree_flatten, tree_unflatten
from ._frames import NAMEABLE, UserCalls
from .model import Edge, Graph, Node

__all__ = ["graph"]


class _GraphTrace(ReverseTrace):
    """A reverse trace that also notes, per node, the user function calls that made it.

    None of this touches the ordinary ReverseTrace used by ``grad``.
    """

    __slots__ = ("groups", "calls")

    def __init__(self, harvest_names: bool) -> None:
        super().__init__()
        self.groups: dict = {}
        self.calls = UserCalls(self._node_of, harvest_names)

    def process(self, fun, ans, argvals, kwargs, argnums, boxes):
        box = ReverseTrace.process(self, fun, ans, argvals, kwargs, argnums, boxes)
        self.groups[box._node] = self.calls.path
        return box

    def _node_of(self, value: Any) -> Any:
        if type(value) in box_types and value._trace is self:
            return value._node
        return None


def graph(
    fun: Callable, argnums: int | tuple[int, ...] = 0, *, cotangent: Any = None, names: bool = True
) -> Callable[..., Graph]:
    """Trace ``fun`` and run its backward pass, keeping every value and adjoint.

    Returns a function of ``fun``'s arguments that returns a :class:`Graph`. The arguments
    in ``argnums`` (pytrees of float arrays) are the inputs; the other arguments, and any
    array ``fun`` uses without it depending on the inputs, are constants. A scalar output
    is seeded with v̄ = 1, so the inputs' adjoints are the gradient; for any other output
    pass ``cotangent`` (shaped like the output), which gives a vector-Jacobian product.
    ``names=False`` skips reading local variable names from ``fun``'s frames.

    >>> import matdiff.numpy as np
    >>> from matdiff.graph import graph
    >>> def loss(w, X, y):
    ...     r = X @ w - y
    ...     return 0.5 * np.sum(r**2)
    >>> X, y, w = np.eye(2), np.array([1.0, 0.0]), np.array([3.0, 4.0])
    >>> g = graph(loss)(w, X, y)
    >>> g["r"].value, g["w"].adjoint
    (array([2., 4.]), array([2., 4.]))
    >>> [n.name for n in g.nodes if n.kind == "constant"]
    ['X', 'y', 'c1']
    >>> [n.operation for n in g.operations]
    ['matmul', 'subtract', 'power(2)', 'sum', 'multiply']
    """
    fname = getattr(fun, "__name__", "f")

    def build(*args, **kwargs) -> Graph:
        nums, _ = normalize_argnums("graph", argnums, len(args))
        arg_names = _argument_names(fun, len(args))
        leaves: list = []
        leaf_names: list[str] = []
        treedefs = []
        for i in nums:
            ls, td = tree_flatten(args[i])
            treedefs.append(td)
            for leaf, path in zip(ls, _leaf_paths(td, arg_names[i])):
                check_float("graph", f"argument {path}", leaf)
                leaves.append(leaf)
                leaf_names.append(path)
        trace = _GraphTrace(names)
        boxes = [trace.leaf(x) for x in leaves]
        full = list(args)
        start = 0
        for i, td in zip(nums, treedefs):
            full[i] = tree_unflatten(td, boxes[start : start + td.num_leaves])
            start += td.num_leaves
        calls = trace.calls
        for i, a in enumerate(args):
            if i not in nums and isinstance(a, NAMEABLE):
                calls.const_names[id(a)] = (a, arg_names[i])
        with calls.watching():
            result = fun(*full, **kwargs)
        out_leaves, out_def = tree_flatten(result)
        seeds = _seeds(out_leaves, out_def, trace, cotangent)
        adjoints, sent = backward_pass(trace, seeds, keep=True)
        return _assemble(trace, boxes, leaf_names, out_leaves, adjoints, sent, fname)

    build.__name__ = f"graph({fname})"
    return build


def _argument_names(fun: Callable, nargs: int) -> list[str]:
    default = ["x"] if nargs == 1 else [f"x{i}" for i in range(nargs)]
    try:
        params = list(inspect.signature(fun).parameters.values())
    except (TypeError, ValueError):
        return default
    names = []
    for p in params:
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            names.append(p.name)
        elif p.kind == p.VAR_POSITIONAL:
            names += [f"{p.name}[{j}]" for j in range(nargs - len(names))]
            break
    if len(names) < nargs:
        return default
    return names[:nargs]


def _leaf_paths(td: TreeDef, prefix: str) -> list[str]:
    if td.kind == "leaf":
        return [prefix]
    if td.kind is dict:
        keys = [f"[{k!r}]" for k in td.aux]
    elif hasattr(td.kind, "_fields"):
        keys = [f".{f}" for f in td.kind._fields]
    else:
        keys = [f"[{i}]" for i in range(len(td.children))]
    out = []
    for k, child in zip(keys, td.children):
        out += _leaf_paths(child, prefix + k)
    return out


def _seeds(out_leaves: list, out_def: TreeDef, trace: _GraphTrace, cotangent: Any) -> dict:
    if cotangent is None:
        cts = []
        for o in out_leaves:
            v = getval(o)
            shape = _np.shape(v)
            if shape != () or _np.iscomplexobj(v):
                what = f"value of shape {shape}" if shape != () else "complex value"
                raise ValueError(
                    f"graph: the function returned a {what}, "
                    "so the backward pass needs a seed: pass cotangent= shaped like the output "
                    "(e.g. cotangent=np.ones(shape) for the adjoints of its sum), or return a "
                    "real scalar"
                )
            cts.append(vspace(v).ones())
    else:
        cts, ct_def = tree_flatten(cotangent)
        if ct_def != out_def:
            raise ValueError(
                f"graph: cotangent has structure {ct_def} but the output has {out_def}; "
                "pass one cotangent per output leaf"
            )
        for o, ct in zip(out_leaves, cts):
            if _np.shape(getval(ct)) != _np.shape(getval(o)):
                raise ValueError(
                    f"graph: a cotangent has shape {_np.shape(getval(ct))} but its output has "
                    f"shape {_np.shape(getval(o))}; they must match"
                )
    seeds: dict = {}
    for o, ct in zip(out_leaves, cts):
        if type(o) in box_types and o._trace is trace:
            prev = seeds.get(o._node)
            seeds[o._node] = ct if prev is None else prev + ct
    return seeds


def _is_constant_value(v: Any) -> bool:
    """A value drawn as a constant node; other arguments are static parameters.

    Integers are parameters (``power(2)``, ``getitem(0)``, an axis): they can never be
    differentiated, and as nodes they would crowd the picture.
    """
    v = getval(v)
    if isinstance(v, (numbers.Integral, _np.integer, _np.bool_)):
        return False
    return isinstance(v, (numbers.Number, _np.ndarray, _np.generic))


def _static_text(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 30 else text[:27] + "..."


def _assemble(trace, boxes, leaf_names, out_leaves, adjoints, sent, fname) -> Graph:
    nodes: list[Node] = []
    edges: list[Edge] = []
    by_vjp: dict = {}
    taken: set[str] = set(leaf_names)
    wanted: dict = {}  # node -> harvested name, made unique below
    calls = trace.calls

    def add(kind, op, params, value, adjoint, group, name=None) -> Node:
        v = getval(value)
        a = _np.asarray(v)
        n = Node(
            index=len(nodes),
            name=name or "",
            kind=kind,
            op=op,
            params=params,
            shape=tuple(a.shape),
            dtype=_dtype_name(a.dtype),
            value=v,
            adjoint=None if adjoint is None else getval(adjoint),
            group=tuple(group),
        )
        nodes.append(n)
        return n

    for b, name in zip(boxes, leaf_names):
        by_vjp[b._node] = add("input", "input", "", b._value, adjoints.get(b._node), (), name)

    constants: dict[int, Node] = {}
    counters = {"constant": 0, "operation": 0}
    for vn in trace.tape:
        group = tuple(_group_label(q, k, calls.counts) for q, k in trace.groups.get(vn, ()))
        traced = dict(zip(vn.argnums, vn.parents))
        in_edges: list[tuple[Node, int, Any]] = []
        static = []
        for i, a in enumerate(vn.args):
            if i in traced:
                in_edges.append((by_vjp[traced[i]], i, sent.get((vn, i))))
            elif _is_constant_value(a):
                # One node per array or named variable however often it is used; an
                # unnamed number is a new node at each use, as a literal in the code is.
                named = id(a) in calls.const_names
                shared = named or isinstance(a, _np.ndarray)
                c = constants.get(id(a)) if shared else None
                if c is None:
                    c = add("constant", "constant", "", a, None, group)
                    if shared:
                        constants[id(a)] = c
                    if named:
                        wanted[c] = calls.const_names[id(a)][1]
                in_edges.append((c, i, None))
            else:
                static.append(_static_text(a))
        static += [f"{k}={_static_text(v)}" for k, v in vn.kwargs.items()]
        n = add("operation", vn.fun.__name__, ", ".join(static), vn.ans, adjoints.get(vn), group)
        n.primitive = vn.fun
        n.args = tuple(getval(a) for a in vn.args)
        n.kwargs = dict(vn.kwargs)
        if vn in calls.names:
            wanted[n] = calls.names[vn]
        for src, argnum, ct in in_edges:
            e = Edge(src, n, argnum, None if ct is None else getval(ct))
            src.out_edges.append(e)
            n.in_edges.append(e)
            edges.append(e)
        by_vjp[vn] = n

    # A constant belongs to the innermost call that all its uses are in: W used by every
    # call of a layer function is drawn outside them all, not in the first call's box.
    for c in constants.values():
        groups = [e.target.group for e in c.out_edges]
        k = 0
        while all(len(gr) > k and gr[k] == groups[0][k] for gr in groups):
            k += 1
        c.group = groups[0][:k]

    outputs = []
    for o in out_leaves:
        if type(o) in box_types and o._trace is trace:
            node = by_vjp[o._node]
        else:
            # The output does not depend on the inputs: show it as the constant it is.
            node = add("constant", "constant", "", o, None, ())
        node.is_output = True
        outputs.append(node)

    # Names: inputs keep their argument names; harvested names come next (deduplicated
    # with _2, _3 ...); the rest are numbered v1, v2 ... and c1, c2 ... in order.
    for n in nodes:
        if n in wanted:
            base = wanted[n]
            name, k = base, 1
            while name in taken:
                k += 1
                name = f"{base}_{k}"
            n.name = name
            taken.add(name)
    for n in nodes:
        if n.kind == "input" or n.name:
            continue
        counters[n.kind] += 1
        prefix = "v" if n.kind == "operation" else "c"
        name = f"{prefix}{counters[n.kind]}"
        while name in taken:
            name += "'"
        n.name = name
        taken.add(name)
    return Graph(nodes, edges, outputs, fname)


def _group_label(qualname: str, call: int, calls: dict[str, int]) -> str:
    # "model.<locals>.sigmoid" reads as "model.sigmoid"; the call number keeps two calls
    # of one function apart (two boxes in the picture).
    label = qualname.replace(".<locals>.", ".")
    return label if calls.get(qualname, 1) == 1 else f"{label} (call {call})"


def _dtype_name(dt: _np.dtype) -> str:
    """``f64``, ``c128``, ``i64``, ``bool``: JAX's short spelling."""
    if dt.kind == "b":
        return "bool"
    if dt.kind in "fciu":
        return f"{dt.kind}{dt.itemsize * 8}"
    return str(dt)
