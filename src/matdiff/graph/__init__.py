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

The package has three parts: :mod:`~matdiff.graph.build` traces the function into the
data of :mod:`~matdiff.graph.model`, which :mod:`~matdiff.graph.render` draws.
:mod:`~matdiff.graph._frames` is the debugging aid that reads the user's frames for the
labels.
"""

from .build import graph
from .model import Edge, Graph, Node
from .render import GraphvizNotFoundError, summarize

__all__ = ["graph", "Graph", "Node", "Edge", "GraphvizNotFoundError", "summarize"]
