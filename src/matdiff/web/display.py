"""HTML for the page: the symbolic engine's and the graph's own displays, in one place.

The display code lives beside what it shows (``matdiff.symbolic.display`` and
``matdiff.graph.render``), so that notebooks need nothing of the web package.

>>> "<ol" in steps_html([]) and graph_html.__module__ == "matdiff.graph.render"
True
"""

from ..graph.render import graph_html
from ..symbolic.display import (
    derivative_html,
    math_html,
    mathml,
    numpy_module_source,
    steps_html,
)

__all__ = [
    "derivative_html",
    "graph_html",
    "math_html",
    "mathml",
    "numpy_module_source",
    "steps_html",
]
