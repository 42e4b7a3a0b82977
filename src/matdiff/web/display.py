"""HTML for notebooks and the page: derivatives, expressions, derivations and graphs.

The ``_repr_html_`` and ``_repr_mimebundle_`` methods of the symbolic engine's objects and
of :class:`matdiff.graph.Graph` call these functions, which need nothing beyond the core
dependencies. Mathematics is MathML (which browsers and Jupyter render natively) when the
``latex2mathml`` package of the ``web`` extra is installed, and ``$$...$$`` LaTeX, which
Jupyter typesets, when it is not.

>>> from matdiff.symbolic import derivative
>>> html = derivative_html(derivative("x'*A*x", wrt="x"))
>>> "(A + A&#x27;)*x" in html
True
"""

from __future__ import annotations

import html
from typing import Any


def mathml(latex: str) -> str | None:
    """``latex`` as a ``<math display="block">`` element, or None without ``latex2mathml``.

    >>> m = mathml(r"A^\\top x")
    >>> m is None or m.startswith("<math")
    True
    """
    try:
        from latex2mathml.converter import convert
    except ImportError:
        return None
    try:
        return convert(latex, display="block")
    except Exception:  # a construct the converter lacks: the caller shows the LaTeX instead
        return None


def math_html(latex: str) -> str:
    """Typeset mathematics for an HTML output: MathML, or LaTeX for Jupyter's MathJax."""
    m = mathml(latex)
    if m is not None:
        return m
    return f'<div class="matdiff-latex">$${html.escape(latex)}$$</div>'


def _esc(text: Any) -> str:
    return html.escape(str(text))


def _pre(text: str) -> str:
    return f"<pre>{_esc(text)}</pre>"


def steps_html(steps) -> str:
    """A derivation as an ordered list: each rule, and the expression after it."""
    items = "".join(
        f"<li><div>{_esc(s.rule)}</div><code>{_esc(s.expression)}</code></li>" for s in steps
    )
    return f'<ol class="matdiff-steps">{items}</ol>'


def expr_latex(e) -> str:
    """One expression as ``$$...$$`` LaTeX, for notebooks' ``text/latex``."""
    from matdiff.symbolic.printers import to_latex

    return f"$${to_latex(e)}$$"


def expr_html(e) -> str:
    """One expression: typeset, with its text form and its kind."""
    from matdiff.symbolic.printers import to_latex, to_text

    return (
        f'<div class="matdiff-expr">{math_html(to_latex(e))}'
        f"<code>{_esc(to_text(e))}</code> <small>({_esc(e.kind)})</small></div>"
    )


def _declarations_html(d) -> str:
    rows = []
    for name, v in d.parsed.variables.items():
        dims = " × ".join(str(x) for x in v.shape if x != 1)
        if v.declared == "symmetric":
            dims = f"{v.shape[0]} × {v.shape[0]}"
        mark = " (wrt)" if name == d.wrt else ""
        rows.append(
            f"<tr><td><code>{_esc(name)}</code>{mark}</td><td>{_esc(v.declared)}</td>"
            f"<td>{_esc(dims)}</td></tr>"
        )
    return (
        "<table><thead><tr><th>variable</th><th>kind</th><th>dimensions</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def derivative_html(d, check: Any = None) -> str:
    """A ``Derivative``: the result, the declarations, the code, the derivation, the check.

    ``check`` is a ``CheckReport``, a ``CheckError`` or None (the check is then not shown:
    displaying an object does not run it).
    """
    from .api import numpy_module_source

    parts = [
        '<div class="matdiff-derivative">',
        f"<p>The {_esc(d.what)} of <code>{_esc(d.source)}</code> with respect to "
        f"<code>{_esc(d.wrt)}</code>:</p>",
        math_html(d.latex),
        _pre(d.text),
        _declarations_html(d),
        f"<details><summary>NumPy code</summary>{_pre(numpy_module_source(d))}</details>",
        f"<details><summary>derivation ({len(d.steps)} steps)</summary>"
        f"{steps_html(d.steps)}</details>",
    ]
    if check is not None:
        parts.append(f"<details open='open'><summary>check</summary>{_pre(str(check))}</details>")
    else:
        parts.append("<p><small>not checked yet: <code>.check()</code> runs it</small></p>")
    parts.append("</div>")
    return "".join(parts)


def graph_html(g, max_nodes: int | None = 200) -> str:
    """A computation graph as two HTML tables: the forward values, then the adjoints."""
    from matdiff.graph.render import summarize

    nodes = g.nodes if max_nodes is None else g.nodes[:max_nodes]
    fwd = "".join(
        f"<tr><td>{_esc(n.name)}</td><td>{_esc(n.operation)}</td>"
        f"<td>{_esc(', '.join(p.name for p in n.parents))}</td><td>{_esc(n.type)}</td>"
        f"<td><code>{_esc(summarize(n.value))}</code></td></tr>"
        for n in nodes
    )
    bwd = "".join(
        f"<tr><td>{_esc(n.name)}</td><td><code>{_esc(summarize(n.adjoint))}</code></td></tr>"
        for n in reversed(nodes)
        if n.kind != "constant" or n.is_output
    )
    more = ""
    if len(nodes) < len(g.nodes):
        more = f"<p>… {len(g.nodes) - len(nodes)} more nodes not shown</p>"
    return (
        f'<div class="matdiff-graph"><p>forward pass of {_esc(g.name)} (topological order)</p>'
        "<table><thead><tr><th>node</th><th>operation</th><th>parents</th><th>type</th>"
        f"<th>value</th></tr></thead><tbody>{fwd}</tbody></table>{more}"
        "<p>backward pass (reverse order): adjoint v̄ = ∂out/∂v</p>"
        "<table><thead><tr><th>node</th><th>adjoint v̄</th></tr></thead>"
        f"<tbody>{bwd}</tbody></table></div>"
    )
