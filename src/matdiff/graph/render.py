"""Drawing a computation graph: the table of both passes, Graphviz DOT and pictures.

Reads the nodes and edges of a :class:`~matdiff.graph.Graph` (names, operations, values,
adjoints, the user function calls they were made in) and knows nothing of how they
were traced. :class:`~matdiff.graph.Graph`'s ``table``, ``to_dot`` and ``render`` hand
over to the functions here.

>>> from matdiff.graph.render import summarize
>>> summarize(None), summarize(2.5), summarize([[1.0, 0.0], [0.0, 1.0]])
('—', '2.5', '[[1, 0], [0, 1]]')
"""

from __future__ import annotations

import html
import html as _html
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as _np

from ..tracer import getval

_INSTALL_HINT = (
    "Install both with `pip install 'matdiff[graph]'` (the graphviz Python package) and "
    "your system's Graphviz package (`apt-get install graphviz`, `brew install graphviz` or "
    "`conda install graphviz`). Without them, Graph.to_dot() still returns the DOT text and "
    "Graph.table() the forward and backward passes."
)


class GraphvizNotFoundError(RuntimeError):
    """Rendering needs the ``graphviz`` Python package and Graphviz's ``dot`` program."""


# ---------------------------------------------------------------- the table


def table(graph, max_nodes: int | None = None) -> str:
    """The text of :meth:`Graph.table`: both passes, one row per node."""
    shown, hidden = _truncate(graph.nodes, max_nodes)
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


# ---------------------------------------------------------------- Graphviz


def to_dot(
    graph,
    max_nodes: int | None = 200,
    group: bool = True,
    collapse: bool = False,
    rankdir: str = "TB",
) -> str:
    """The text of :meth:`Graph.to_dot`: Graphviz DOT source of the nodes, grouped or not."""
    out = [
        "digraph matdiff {",
        f"  rankdir={rankdir};",
        '  node [fontname="Helvetica", fontsize=10, shape=box, style="rounded,filled", '
        'fillcolor="#ffffff"];',
        '  edge [fontname="Helvetica", fontsize=9, color="#555555"];',
    ]
    if collapse:
        hidden = _collapsed_dot(graph, out, max_nodes)
    else:
        hidden = _full_dot(graph, out, max_nodes, group)
    if hidden:
        note = html.escape(_truncation_note(hidden, max_nodes), quote=True)
        out.append(f'  truncated [shape=note, style=filled, fillcolor="#fff3c4", label="{note}"];')
    out.append("}")
    return "\n".join(out) + "\n"


def _full_dot(graph, out: list[str], max_nodes: int | None, group: bool) -> int:
    shown, hidden = _truncate(graph.nodes, max_nodes)
    ids = {id(n): f"n{n.index}" for n in shown}
    tree = _group_tree(shown) if group else {"nodes": shown, "sub": {}}
    _emit_groups(tree, ids, out, "  ", [0])
    for e in graph.edges:
        if id(e.source) in ids and id(e.target) in ids:
            label = f' [label="{e.argnum}"]' if len(e.target.in_edges) > 1 else ""
            out.append(f"  {ids[id(e.source)]} -> {ids[id(e.target)]}{label};")
    return hidden


def _collapsed_dot(graph, out: list[str], max_nodes: int | None) -> int:
    # A unit is a top-level user function call (below the common prefix) or a node
    # made outside any such call; units keep the order of their first node.
    depth = _common_depth(graph.nodes)
    units: dict = {}
    unit_of: dict[int, Any] = {}
    for n in graph.nodes:
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
    for e in graph.edges:
        a, b = unit_of[id(e.source)], unit_of[id(e.target)]
        if a != b and a in ids and b in ids and (a, b) not in drawn:
            drawn.add((a, b))
            out.append(f"  {ids[a]} -> {ids[b]};")
    return hidden


def write(graph, path: str | os.PathLike, format: str | None = None, **dot_options) -> Path:
    """What :meth:`Graph.render` does: pipe the DOT text through Graphviz into ``path``."""
    path = Path(path)
    fmt = (format or path.suffix.lstrip(".") or "svg").lower()
    if fmt not in ("svg", "png", "pdf"):
        raise ValueError(
            f"Graph.render: cannot write format {fmt!r} (from {str(path)!r}); "
            "give the path a .svg, .png or .pdf suffix, or pass format='svg'"
        )
    data = _pipe(to_dot(graph, **dot_options), fmt, "Graph.render")
    path.write_bytes(data)
    return path


def svg(graph) -> str | None:
    """The SVG text of the picture, or ``None`` without Graphviz (for Jupyter's display)."""
    try:
        return _pipe(to_dot(graph), "svg", "Graph._repr_svg_").decode("utf-8")
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


def _truncate(nodes: list, max_nodes: int | None) -> tuple[list, int]:
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


def _dot_node(n, node_id: str) -> str:
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


def _common_depth(nodes: list) -> int:
    """How many outer calls all operations share (usually just the traced function)."""
    groups = [n.group for n in nodes if n.kind == "operation"]
    common = len(groups[0]) if groups else 0
    for gr in groups[1:]:
        k = 0
        while k < min(common, len(gr)) and gr[k] == groups[0][k]:
            k += 1
        common = k
    return common


def _group_tree(nodes: list) -> dict:
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


def _esc(text) -> str:
    return _html.escape(str(text))


def graph_html(g, max_nodes: int | None = 200) -> str:
    """A computation graph as two HTML tables: the forward values, then the adjoints."""
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
