"""The computation graph's data: nodes with their forward values and adjoints, edges with
the cotangents the backward pass sent along them.

:func:`matdiff.graph.graph` builds a :class:`Graph`; its ``table``, ``to_dot`` and
``render`` methods hand over to :mod:`matdiff.graph.render`.

>>> import matdiff.numpy as np
>>> from matdiff.graph import graph
>>> g = graph(lambda x: np.exp(2.0 * x))(0.0)
>>> [(n.name, n.kind, float(n.adjoint)) for n in g if n.kind != "constant"]
[('x', 'input', 2.0), ('v1', 'operation', 1.0), ('v2', 'operation', 1.0)]
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import render as _render
from .render import summarize

__all__ = ["Graph", "Node", "Edge"]


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
        return _render.table(self, max_nodes)

    def __str__(self) -> str:
        return self.table()

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
        return _render.to_dot(self, max_nodes, group, collapse, rankdir)

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
        return _render.write(self, path, format, **dot_options)

    def _repr_svg_(self) -> str | None:
        # Jupyter calls this to display the graph; without Graphviz it falls back to repr.
        return _render.svg(self)

    def _repr_html_(self) -> str:
        # Notebooks rank HTML above SVG, so the HTML is the picture itself where Graphviz
        # draws one, and the table of values and adjoints where it cannot.
        return self._html(_render.svg(self))

    def _html(self, svg: str | None) -> str:
        if svg is None:
            return _render.graph_html(self)
        return f'<div class="matdiff-graph">{svg[svg.find("<svg") :]}</div>'

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        svg = _render.svg(self)
        bundle = {"text/plain": repr(self), "text/html": self._html(svg)}
        if svg is not None:
            bundle["image/svg+xml"] = svg
        return bundle
