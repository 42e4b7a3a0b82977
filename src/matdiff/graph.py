"""Computation graphs with forward values and adjoints: see what reverse mode computes.

The forward pass computes each value v_i from its parents; the backward pass computes
each adjoint v̄_i = Σ over children j of v̄_j ∂v_j/∂v_i, starting from v̄ = 1 at the
output. :func:`graph` runs both passes of a function and keeps every intermediate, so
they can be printed as a table, drawn with Graphviz, or inspected node by node.

>>> import matdiff.numpy as np
>>> from matdiff.graph import graph
>>> def f(x):
...     s = np.sin(x)
...     return np.sum(s * x)
>>> g = graph(f)(np.array([0.5, 1.0]))
>>> [(n.name, n.op) for n in g.nodes]
[('x', 'input'), ('s', 'sin'), ('v1', 'multiply'), ('v2', 'sum')]
>>> bool(np.allclose(g["x"].adjoint, np.sin([0.5, 1.0]) + np.cos([0.5, 1.0]) * [0.5, 1.0]))
True

Local variable names (``s`` above) are read from the user's frames as they return;
nodes without one are numbered ``v1, v2, ...`` (operations) and ``c1, c2, ...`` (constants).
"""

from __future__ import annotations

import functools
import html
import importlib.util
import inspect
import numbers
import os
import shutil
import sys
import sysconfig
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as _np

from .checks import check_float as _check_float
from .checks import normalize_argnums as _normalize_argnums
from .core import ReverseTrace, backward_pass, vspace
from .tracer import box_types, getval
from .tree import TreeDef, tree_flatten, tree_unflatten

__all__ = ["graph", "Graph", "Node", "Edge", "GraphvizNotFoundError", "summarize"]

_INSTALL_HINT = (
    "Install both with `pip install 'matdiff[graph]'` (the graphviz Python package) and "
    "your system's Graphviz package (`apt-get install graphviz`, `brew install graphviz` or "
    "`conda install graphviz`). Without them, Graph.to_dot() still returns the DOT text and "
    "Graph.table() the forward and backward passes."
)


class GraphvizNotFoundError(RuntimeError):
    """Rendering needs the ``graphviz`` Python package and Graphviz's ``dot`` program."""


# ---------------------------------------------------------------- the graph


@dataclass(eq=False)
class Edge:
    """``source`` is argument ``argnum`` of ``target``.

    ``cotangent`` is what the backward pass sent along the edge, v̄_target ∂target/∂source
    (``None`` when nothing was sent: a zero derivative or a target with no adjoint).
    """

    source: Node
    target: Node
    argnum: int
    cotangent: Any = None

    def __repr__(self) -> str:
        return f"Edge({self.source.name} -> {self.target.name}, argnum={self.argnum})"


@dataclass(eq=False)
class Node:
    """One value of the computation: an input, a constant or a primitive's answer.

    ``adjoint`` is v̄ = ∂out/∂v as the backward pass left it, or ``None`` where no
    cotangent reached the node (a symbolic zero). ``group`` is the chain of user functions,
    outermost first, that were running when the node was made.
    """

    index: int
    name: str
    kind: str  # "input", "constant" or "operation"
    op: str  # the primitive's name, or "input" / "constant"
    params: str
    shape: tuple
    dtype: str
    value: Any
    adjoint: Any = None
    group: tuple = ()
    is_output: bool = False
    in_edges: list = field(default_factory=list)
    out_edges: list = field(default_factory=list)
    # The call that made an operation: primitive(*args, **kwargs) == value.
    primitive: Callable | None = None
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)

    @property
    def parents(self) -> list[Node]:
        return [e.source for e in sorted(self.in_edges, key=lambda e: e.argnum)]

    @property
    def children(self) -> list[Node]:
        return [e.target for e in self.out_edges]

    @property
    def type(self) -> str:
        """Short dtype and shape, as in ``f64[3,2]``."""
        return f"{self.dtype}[{','.join(map(str, self.shape))}]"

    @property
    def operation(self) -> str:
        """The primitive with its static parameters, e.g. ``sum(axis=1)``."""
        if self.kind != "operation":
            return self.kind
        return f"{self.op}({self.params})" if self.params else self.op

    def __repr__(self) -> str:
        return (
            f"Node({self.name!r}, {self.operation}, {self.type}, value={summarize(self.value)}, "
            f"adjoint={summarize(self.adjoint)})"
        )


class Graph:
    """The forward values and adjoints of one evaluation, nodes in topological order.

    Made by :func:`graph`. ``g["name"]`` is a node; ``g.table()`` prints both passes,
    ``g.to_dot()`` is Graphviz DOT and ``g.render("f.svg")`` draws it.

    >>> import matdiff.numpy as np
    >>> from matdiff.graph import graph
    >>> g = graph(lambda w, x: np.tanh(w * x), argnums=(0, 1))(0.5, 2.0)
    >>> g.outputs[0].op, float(g["w"].adjoint) == float(2.0 * (1 - np.tanh(1.0) ** 2))
    ('tanh', True)
    """

    def __init__(self, nodes: list[Node], edges: list[Edge], outputs: list[Node], name: str):
        self.nodes = nodes
        self.edges = edges
        self.outputs = outputs
        self.name = name
        self._by_name = {n.name: n for n in nodes}

    @property
    def inputs(self) -> list[Node]:
        return [n for n in self.nodes if n.kind == "input"]

    @property
    def operations(self) -> list[Node]:
        return [n for n in self.nodes if n.kind == "operation"]

    def __len__(self) -> int:
        return len(self.nodes)

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __getitem__(self, name: str) -> Node:
        try:
            return self._by_name[name]
        except KeyError:
            names = ", ".join(self._by_name)
            raise KeyError(f"Graph: no node named {name!r}; the nodes are: {names}") from None

    def __repr__(self) -> str:
        kinds = [n.kind for n in self.nodes]
        outs = ", ".join(n.name for n in self.outputs)
        return (
            f"<Graph of {self.name}: {kinds.count('input')} inputs, "
            f"{kinds.count('constant')} constants, {kinds.count('operation')} operations; "
            f"output {outs}. Print .table() or draw with .render('graph.svg')>"
        )

    # -------------------------------------------------------------- the table

    def table(self, max_nodes: int | None = None) -> str:
        """The forward pass in topological order, then the backward pass in reverse.

        The backward pass lists, for each input and operation, its adjoint v̄ and the
        children whose contributions were summed into it; ``—`` marks a symbolic zero (no
        cotangent arrived). Constants are not differentiated, so they have no row there.

        >>> import matdiff.numpy as np
        >>> from matdiff.graph import graph
        >>> print(graph(lambda x: np.sin(x) * 2.0)(0.0).table())  # doctest: +NORMALIZE_WHITESPACE
        forward pass (topological order)
        node  operation  parents  type   value
        x     input               f64[]  0
        v1    sin        x        f64[]  0
        c1    constant            f64[]  2
        v2    multiply   v1, c1   f64[]  0
        <BLANKLINE>
        backward pass (reverse order): v̄ = Σ over children of v̄_child ∂child/∂v
        node  adjoint v̄  from children
        v2    1          (output seed)
        v1    2          v2
        x     2          v1
        """
        shown, hidden = _truncate(self.nodes, max_nodes)
        fwd = [("node", "operation", "parents", "type", "value")]
        for n in shown:
            parents = ", ".join(p.name for p in n.parents)
            fwd.append((n.name, n.operation, parents, n.type, summarize(n.value)))
        bwd = [("node", "adjoint v̄", "from children")]
        for n in reversed(shown):
            if n.kind == "constant" and not n.is_output:
                continue  # never differentiated, so never an adjoint
            if n.is_output:
                source = "(output seed)"
            else:
                source = ", ".join(e.target.name for e in n.out_edges if e.cotangent is not None)
            bwd.append((n.name, summarize(n.adjoint), source))
        lines = ["forward pass (topological order)", *_columns(fwd)]
        if hidden:
            lines.append(_truncation_note(hidden, max_nodes))
        lines += ["", "backward pass (reverse order): v̄ = Σ over children of v̄_child ∂child/∂v"]
        lines += _columns(bwd)
        return "\n".join(line.rstrip() for line in lines)

    def __str__(self) -> str:
        return self.table()

    # -------------------------------------------------------------- Graphviz

    def to_dot(
        self,
        max_nodes: int | None = 200,
        group: bool = True,
        collapse: bool = False,
        rankdir: str = "TB",
    ) -> str:
        """Graphviz DOT source: values and adjoints in the nodes, argument positions on edges.

        ``group`` draws the nodes made inside each user function call as a box labelled
        with the function's name; ``collapse`` draws each such call as a single node
        instead (for graphs too large to read node by node); ``max_nodes`` keeps the
        first nodes in topological order and says how many were left out.

        >>> import matdiff.numpy as np
        >>> from matdiff.graph import graph
        >>> dot = graph(np.exp)(1.0).to_dot()
        >>> dot.startswith("digraph") and "exp" in dot
        True
        """
        out = [
            "digraph matdiff {",
            f"  rankdir={rankdir};",
            '  node [fontname="Helvetica", fontsize=10, shape=box, style="rounded,filled", '
            'fillcolor="#ffffff"];',
            '  edge [fontname="Helvetica", fontsize=9, color="#555555"];',
        ]
        if collapse:
            hidden = self._collapsed_dot(out, max_nodes)
        else:
            hidden = self._full_dot(out, max_nodes, group)
        if hidden:
            note = html.escape(_truncation_note(hidden, max_nodes), quote=True)
            out.append(
                f'  truncated [shape=note, style=filled, fillcolor="#fff3c4", label="{note}"];'
            )
        out.append("}")
        return "\n".join(out) + "\n"

    def _full_dot(self, out: list[str], max_nodes: int | None, group: bool) -> int:
        shown, hidden = _truncate(self.nodes, max_nodes)
        ids = {id(n): f"n{n.index}" for n in shown}
        tree = _group_tree(shown) if group else {"nodes": shown, "sub": {}}
        _emit_groups(tree, ids, out, "  ", [0])
        for e in self.edges:
            if id(e.source) in ids and id(e.target) in ids:
                label = f' [label="{e.argnum}"]' if len(e.target.in_edges) > 1 else ""
                out.append(f"  {ids[id(e.source)]} -> {ids[id(e.target)]}{label};")
        return hidden

    def _collapsed_dot(self, out: list[str], max_nodes: int | None) -> int:
        # A unit is a top-level user function call (below the common prefix) or a node
        # made outside any such call; units keep the order of their first node.
        depth = _common_depth(self.nodes)
        units: dict = {}
        unit_of: dict[int, Any] = {}
        for n in self.nodes:
            key = n.group[depth] if len(n.group) > depth else n.index
            units.setdefault(key, []).append(n)
            unit_of[id(n)] = key
        keys, hidden = _truncate(list(units), max_nodes)
        ids = {key: f"u{k}" for k, key in enumerate(keys)}
        for key in keys:
            members = units[key]
            if isinstance(key, int):
                out.append("  " + _dot_node(members[0], ids[key]))
                continue
            ops = [n for n in members if n.kind == "operation"]
            last = ops[-1]  # what the call computed last: usually what it returned
            rows = [
                f"<b>{html.escape(key)}</b>",
                f'<font point-size="9">{len(ops)} operations; last {html.escape(last.op)}</font>',
                f'<font point-size="9">{html.escape(last.type)}  '
                f"{html.escape(summarize(last.value))}</font>",
                f'<font point-size="9" color="#b91c1c">v̄ = '
                f"{html.escape(summarize(last.adjoint))}</font>",
            ]
            extra = ", peripheries=2" if any(n.is_output for n in members) else ""
            out.append(
                f"  {ids[key]} [label=<{'<br/>'.join(rows)}>, "
                f'style="rounded,filled", fillcolor="#ede9fe", color="#7c3aed"{extra}];'
            )
        drawn = set()
        for e in self.edges:
            a, b = unit_of[id(e.source)], unit_of[id(e.target)]
            if a != b and a in ids and b in ids and (a, b) not in drawn:
                drawn.add((a, b))
                out.append(f"  {ids[a]} -> {ids[b]};")
        return hidden

    def render(self, path: str | os.PathLike, format: str | None = None, **dot_options) -> Path:
        """Write the picture to ``path`` (SVG, PNG or PDF, from the suffix or ``format``).

        Needs the ``graphviz`` Python package and Graphviz's ``dot`` program (the ``graph``
        extra); without them it raises :class:`GraphvizNotFoundError` saying how to
        install them. ``dot_options`` go to :meth:`to_dot`.

        >>> import tempfile, shutil, matdiff.numpy as np
        >>> from matdiff.graph import graph
        >>> if shutil.which("dot"):
        ...     with tempfile.TemporaryDirectory() as d:
        ...         p = graph(np.exp)(1.0).render(d + "/exp.svg")
        ...         assert p.read_text().lstrip().startswith("<?xml")
        """
        path = Path(path)
        fmt = (format or path.suffix.lstrip(".") or "svg").lower()
        if fmt not in ("svg", "png", "pdf"):
            raise ValueError(
                f"Graph.render: cannot write format {fmt!r} (from {str(path)!r}); "
                "give the path a .svg, .png or .pdf suffix, or pass format='svg'"
            )
        data = _pipe(self.to_dot(**dot_options), fmt, "Graph.render")
        path.write_bytes(data)
        return path

    def _repr_svg_(self) -> str | None:
        # Jupyter calls this to display the graph; without Graphviz it falls back to repr.
        try:
            return _pipe(self.to_dot(), "svg", "Graph._repr_svg_").decode("utf-8")
        except GraphvizNotFoundError:
            return None


def _pipe(dot: str, fmt: str, where: str) -> bytes:
    try:
        import graphviz
    except ImportError:
        raise GraphvizNotFoundError(
            f"{where}: the graphviz Python package is not installed. {_INSTALL_HINT}"
        ) from None
    if shutil.which("dot") is None:
        raise GraphvizNotFoundError(
            f"{where}: Graphviz's `dot` program is not on the PATH. {_INSTALL_HINT}"
        )
    try:
        return graphviz.Source(dot).pipe(format=fmt)
    except (graphviz.ExecutableNotFound, PermissionError):
        raise GraphvizNotFoundError(
            f"{where}: Graphviz's `dot` program could not be run. {_INSTALL_HINT}"
        ) from None


def _truncate(nodes: list[Node], max_nodes: int | None) -> tuple[list[Node], int]:
    if max_nodes is None or len(nodes) <= max_nodes:
        return nodes, 0
    if max_nodes < 1:
        raise ValueError(f"Graph: max_nodes must be at least 1 (or None for all), got {max_nodes}")
    return nodes[:max_nodes], len(nodes) - max_nodes


def _truncation_note(hidden: int, max_nodes: int | None) -> str:
    return (
        f"… {hidden} more node{'s' if hidden != 1 else ''} not shown (max_nodes={max_nodes}; "
        "pass a larger max_nodes, or None, to see all)"
    )


def _columns(rows: list[tuple]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]


# DOT styles by node kind; an output gets a double border, a node no cotangent reached
# a dashed one.
_STYLE = {
    "input": 'shape=ellipse, fillcolor="#dbeafe"',
    "constant": 'shape=box, style="filled", fillcolor="#eeeeee", color="#999999"',
    "operation": "",
}


def _dot_node(n: Node, node_id: str) -> str:
    name = html.escape(n.name)
    head = f"<b>{name}</b>"
    if n.kind == "operation":
        head += f" = {html.escape(n.operation)}"
    value = html.escape(f"{n.type}  {summarize(n.value)}")
    if n.kind == "constant" and n.shape == ():
        rows = [f'{head} <font point-size="9">= {html.escape(summarize(n.value))}</font>']
    else:
        rows = [head, f'<font point-size="9">{value}</font>']
    if n.kind != "constant":
        adj = html.escape(summarize(n.adjoint))
        rows.append(f'<font point-size="9" color="#b91c1c">v̄ = {adj}</font>')
    attrs = [f"label=<{'<br/>'.join(rows)}>"]
    if _STYLE[n.kind]:
        attrs.append(_STYLE[n.kind])
    if n.is_output:
        attrs.append("peripheries=2")
    if n.adjoint is None and n.kind != "constant":
        attrs.append('style="rounded,dashed"' if n.kind == "operation" else 'style="dashed"')
    return f"{node_id} [{', '.join(attrs)}];"


def _common_depth(nodes: list[Node]) -> int:
    """How many outer calls all operations share (usually just the traced function)."""
    groups = [n.group for n in nodes if n.kind == "operation"]
    common = len(groups[0]) if groups else 0
    for gr in groups[1:]:
        k = 0
        while k < min(common, len(gr)) and gr[k] == groups[0][k]:
            k += 1
        common = k
    return common


def _group_tree(nodes: list[Node]) -> dict:
    """Nest the nodes by their user-function call chains below the common prefix."""
    common = _common_depth(nodes)
    root: dict = {"nodes": [], "sub": {}}
    for n in nodes:
        t = root
        for call in n.group[common:]:
            t = t["sub"].setdefault(call, {"nodes": [], "sub": {}})
        t["nodes"].append(n)
    return root


def _emit_groups(tree: dict, ids: dict, out: list, indent: str, counter: list) -> None:
    for n in tree["nodes"]:
        out.append(indent + _dot_node(n, ids[id(n)]))
    for label, sub in tree["sub"].items():
        counter[0] += 1
        out.append(f"{indent}subgraph cluster_{counter[0]} {{")
        out.append(
            f'{indent}  label="{html.escape(label, quote=True)}"; style="rounded,dashed"; '
            'color="#7c3aed"; fontname="Helvetica"; fontsize=10;'
        )
        _emit_groups(sub, ids, out, indent + "  ", counter)
        out.append(f"{indent}}}")


# ---------------------------------------------------------------- value summaries


def _dtype_name(dt: _np.dtype) -> str:
    """``f64``, ``c128``, ``i64``, ``bool``: JAX's short spelling."""
    if dt.kind == "b":
        return "bool"
    if dt.kind in "fciu":
        return f"{dt.kind}{dt.itemsize * 8}"
    return str(dt)


def _num(x: Any) -> str:
    if isinstance(x, complex):
        return f"{x.real:.4g}{x.imag:+.4g}j"
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


def summarize(value: Any, max_items: int = 4) -> str:
    """A short text for a value: the number, a small array, or the range of a large one.

    ``None`` (a symbolic zero) is ``—``.

    >>> import numpy
    >>> summarize(0.123456), summarize(numpy.array([1.0, 2.5])), summarize(None)
    ('0.1235', '[1, 2.5]', '—')
    >>> summarize(numpy.arange(10.0))
    'in [0, 9]'
    """
    if value is None:
        return "—"
    a = _np.asarray(getval(value))
    if a.dtype.kind not in "biufc":
        text = repr(value)
        return text if len(text) <= 24 else text[:21] + "..."
    if a.ndim == 0:
        return _num(a.item())
    if a.size == 0:
        return "[]"
    if a.size <= max_items:
        return _nested(a.tolist())
    if a.dtype.kind == "c":
        mag = _np.abs(a)
        return f"|.| in [{_num(float(_np.nanmin(mag)))}, {_num(float(_np.nanmax(mag)))}]"
    if a.dtype.kind == "b":
        return f"{int(a.sum())} of {a.size} true"
    finite = a[_np.isfinite(a)]
    text = f"in [{_num(finite.min().item())}, {_num(finite.max().item())}]" if finite.size else ""
    bad = a.size - finite.size
    if bad:
        text += f"{', ' if text else ''}{bad} not finite"
    return text


def _nested(x: Any) -> str:
    if isinstance(x, list):
        return "[" + ", ".join(_nested(v) for v in x) + "]"
    return _num(x)


# ---------------------------------------------------------------- tracing


@functools.cache
def _dirs() -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(libraries, standard library, site-packages) directory prefixes."""

    def prefixes(paths) -> tuple[str, ...]:
        return tuple(os.path.abspath(p) + os.sep for p in paths if p)

    libs = [os.path.dirname(os.path.abspath(__file__)), os.path.dirname(_np.__file__)]
    scipy = importlib.util.find_spec("scipy")
    if scipy is not None and scipy.origin:
        libs.append(os.path.dirname(scipy.origin))
    paths = sysconfig.get_paths()
    stdlib = [paths.get("stdlib"), paths.get("platstdlib")]
    site = [paths.get("purelib"), paths.get("platlib")]
    return prefixes(libs), prefixes(stdlib), prefixes(site)


@functools.cache
def _is_library(filename: str) -> bool:
    """Whether code in ``filename`` is library code rather than a user function to group by.

    matdiff, NumPy, SciPy and the standard library are; other installed packages and
    "<...>" code (doctests, exec'd and generated code, notebooks) are the user's, except
    "<frozen ...>" import machinery.
    """
    libs, stdlib, site = _dirs()
    if filename.startswith(libs) or filename.startswith("<frozen"):
        return True
    # site-packages usually lies inside the standard library's directory
    return filename.startswith(stdlib) and not filename.startswith(site)


# Constants are named by identity with a user's variable. Not Python numbers: equal
# literals are often one shared object (`t = 1.0` would name an unrelated literal 1.0).
_NAMEABLE = (_np.ndarray, _np.generic)


class _GraphTrace(ReverseTrace):
    """A reverse trace that also notes, per node, which user function call made it.

    While :func:`graph` traces the function, a profile hook follows the user's Python
    calls (library frames are skipped); when a user frame returns, the names of its local
    variables that hold traced values are kept to name the nodes. None of this touches
    the ordinary ReverseTrace used by ``grad``.
    """

    __slots__ = ("groups", "path", "calls", "frames", "names", "const_names", "harvest")

    def __init__(self, harvest_names: bool) -> None:
        super().__init__()
        self.groups: dict = {}
        self.path: tuple = ()
        self.calls: dict[str, int] = {}
        self.frames: list = []
        self.names: dict = {}
        self.const_names: dict[int, tuple[Any, str]] = {}
        self.harvest = harvest_names

    def process(self, fun, ans, argvals, kwargs, argnums, boxes):
        box = ReverseTrace.process(self, fun, ans, argvals, kwargs, argnums, boxes)
        self.groups[box._node] = self.path
        return box

    def profile(self, frame, event, arg) -> None:
        if event == "call":
            code = frame.f_code
            if _is_library(code.co_filename):
                return
            qualname = getattr(code, "co_qualname", code.co_name)
            k = self.calls[qualname] = self.calls.get(qualname, 0) + 1
            self.frames.append(frame)
            self.path = self.path + ((qualname, k),)
        elif event == "return" and self.frames and self.frames[-1] is frame:
            self.frames.pop()
            self.path = self.path[:-1]
            if self.harvest:
                self._harvest(frame)

    def _harvest(self, frame) -> None:
        code = frame.f_code
        nparams = code.co_argcount + code.co_kwonlyargcount
        nparams += bool(code.co_flags & inspect.CO_VARARGS)
        nparams += bool(code.co_flags & inspect.CO_VARKEYWORDS)
        params = set(code.co_varnames[:nparams])
        for name, val in frame.f_locals.items():
            if type(val) in box_types and val._trace is self:
                # A parameter is a name for the caller's value; the caller names it better.
                # Frames return innermost first, so an outer function's name wins.
                if name not in params:
                    self.names[val._node] = name
            elif isinstance(val, _NAMEABLE):
                # Keep the value alive so that its id cannot be reused by another one.
                self.const_names[id(val)] = (val, name)


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
        nums, _ = _normalize_argnums("graph", argnums, len(args))
        arg_names = _argument_names(fun, len(args))
        leaves: list = []
        leaf_names: list[str] = []
        treedefs = []
        for i in nums:
            ls, td = tree_flatten(args[i])
            treedefs.append(td)
            for leaf, path in zip(ls, _leaf_paths(td, arg_names[i])):
                _check_float("graph", f"argument {path}", leaf)
                leaves.append(leaf)
                leaf_names.append(path)
        trace = _GraphTrace(names)
        boxes = [trace.leaf(x) for x in leaves]
        full = list(args)
        start = 0
        for i, td in zip(nums, treedefs):
            full[i] = tree_unflatten(td, boxes[start : start + td.num_leaves])
            start += td.num_leaves
        for i, a in enumerate(args):
            if i not in nums and isinstance(a, _NAMEABLE):
                trace.const_names[id(a)] = (a, arg_names[i])
        previous = sys.getprofile()
        sys.setprofile(trace.profile)
        try:
            result = fun(*full, **kwargs)
        finally:
            sys.setprofile(previous)
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
        group = tuple(_group_label(q, k, trace.calls) for q, k in trace.groups.get(vn, ()))
        traced = dict(zip(vn.argnums, vn.parents))
        in_edges: list[tuple[Node, int, Any]] = []
        static = []
        for i, a in enumerate(vn.args):
            if i in traced:
                in_edges.append((by_vjp[traced[i]], i, sent.get((vn, i))))
            elif _is_constant_value(a):
                # One node per array or named variable however often it is used; an
                # unnamed number is a new node at each use, as a literal in the code is.
                named = id(a) in trace.const_names
                shared = named or isinstance(a, _np.ndarray)
                c = constants.get(id(a)) if shared else None
                if c is None:
                    c = add("constant", "constant", "", a, None, group)
                    if shared:
                        constants[id(a)] = c
                    if named:
                        wanted[c] = trace.const_names[id(a)][1]
                in_edges.append((c, i, None))
            else:
                static.append(_static_text(a))
        static += [f"{k}={_static_text(v)}" for k, v in vn.kwargs.items()]
        n = add("operation", vn.fun.__name__, ", ".join(static), vn.ans, adjoints.get(vn), group)
        n.primitive = vn.fun
        n.args = tuple(getval(a) for a in vn.args)
        n.kwargs = dict(vn.kwargs)
        if vn in trace.names:
            wanted[n] = trace.names[vn]
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
