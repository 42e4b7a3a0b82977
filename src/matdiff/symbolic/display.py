"""HTML for notebooks and the page: derivatives, expressions and derivations.

The ``_repr_html_`` and ``_repr_mimebundle_`` methods of the symbolic engine's objects call
these functions, which read the objects' attributes and import nothing of the engine (the
printers and the derivation build on this module), and need nothing beyond the core
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


def expr_html(latex: str, text: str, kind: str) -> str:
    """One expression: typeset, with its text form and its kind."""
    return (
        f'<div class="matdiff-expr">{math_html(latex)}'
        f"<code>{_esc(text)}</code> <small>({_esc(kind)})</small></div>"
    )


def numpy_module_source(d) -> str:
    """``d.numpy_source`` with its import: a function to paste into any NumPy program."""
    return d.code("numpy")


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
