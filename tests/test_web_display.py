"""Notebook displays: every ``_repr_*`` of the symbolic objects and of ``Graph`` is well formed.

HTML outputs are parsed as XML (wrapped in one root), so an unclosed tag or a stray ``&``
fails; MathML and SVG are checked for their namespaces.
"""

import shutil
import xml.etree.ElementTree as ET

import pytest

import matdiff.numpy as mnp
from matdiff.graph import graph, render
from matdiff.symbolic import CheckError, derivative, display, parse

MATHML = "{http://www.w3.org/1998/Math/MathML}math"
SVG = "{http://www.w3.org/2000/svg}svg"
HAS_DOT = shutil.which("dot") is not None


def xml(html: str) -> ET.Element:
    return ET.fromstring(f"<root>{html}</root>")


def test_derivative_html_shows_result_declarations_code_and_steps():
    d = derivative("x'*S*x", wrt="x", kinds={"S": "symmetric"})
    root = xml(d._repr_html_())
    assert root.find(f".//{MATHML}") is not None
    text = "".join(root.itertext())
    assert "2*S*x" in text and "symmetric" in text and "def derivative(x, S):" in text
    assert "not checked yet" in text
    cells = [[td.text or "".join(td.itertext()) for td in tr] for tr in root.iter("tr")]
    assert cells[1][:2] == ["x (wrt)", "vector"] and cells[2][:2] == ["S", "symmetric"]
    assert len(root.findall(".//ol/li")) == len(d.steps)


def test_derivative_html_shows_the_last_check():
    d = derivative("log(det(X))", wrt="X")
    d.check(seed=0)
    text = "".join(xml(d._repr_html_()).itertext())
    assert "finite differences: relative error" in text and "not checked yet" not in text


def test_derivative_html_shows_a_failed_check(monkeypatch):
    d = derivative("x'*x", wrt="x")
    import matdiff.symbolic.derivation as derivation

    def failing(*args, **kwargs):
        raise CheckError('gradient of "x\'*x" wrt x disagrees with finite differences')

    monkeypatch.setattr(derivation, "check_derivative", failing)
    with pytest.raises(CheckError):
        d.check()
    text = "".join(xml(d._repr_html_()).itertext())
    assert "disagrees with finite differences" in text


def test_derivative_mimebundle():
    d = derivative("A*X*B", wrt="X")
    bundle = d._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html", "text/latex"}
    assert bundle["text/latex"] == f"$${d.latex}$$"
    assert bundle["text/plain"] == repr(d)
    xml(bundle["text/html"])


def test_tensor_derivative_html_is_well_formed():
    d = derivative("X .* inv(X)", wrt="X")
    xml(d._repr_html_())


def test_expr_latex_and_html():
    e = parse("log(det(X)) + x'*A*x")
    assert e._repr_latex_().startswith("$$") and e._repr_latex_().endswith("$$")
    root = xml(e._repr_html_())
    assert root.find(f".//{MATHML}") is not None
    assert "(scalar)" in "".join(root.itertext())


def test_steps_and_step_html():
    d = derivative("sum(exp(A*x))", wrt="x", order=2)
    root = xml(d.steps._repr_html_())
    items = root.findall("./ol/li")
    assert [li.find("code").text for li in items] == [s.expression for s in d.steps]
    one = xml(d.steps[0]._repr_html_())
    assert one.find("./ol/li/code").text == "f = sum(exp(A*x))"


def test_math_html_without_latex2mathml(monkeypatch):
    monkeypatch.setattr(display, "mathml", lambda latex: None)
    root = xml(display.math_html(r"A^\top < B"))
    assert "".join(root.itertext()) == r"$$A^\top < B$$"


def loss_graph():
    def loss(w, x):
        return mnp.sum(mnp.tanh(x * w) ** 2)

    return graph(loss)(mnp.array([0.5, -1.0]), mnp.array([2.0, 1.0]))


@pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot is not installed")
def test_graph_displays_svg_with_graphviz():
    g = loss_graph()
    bundle = g._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html", "image/svg+xml"}
    assert ET.fromstring(bundle["image/svg+xml"]).tag == SVG
    root = ET.fromstring(bundle["text/html"])
    assert root.tag == "div" and root[0].tag == SVG
    assert ET.fromstring(g._repr_svg_()).tag == SVG


def test_graph_displays_a_table_without_graphviz(monkeypatch):
    monkeypatch.setattr(render.shutil, "which", lambda name: None)
    g = loss_graph()
    assert g._repr_svg_() is None
    bundle = g._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}
    root = ET.fromstring(bundle["text/html"])
    forward, backward = root.findall("table")
    names = [tr[0].text for tr in forward.find("tbody")]
    assert names == [n.name for n in g.nodes]
    adjoints = {tr[0].text: tr[1].find("code").text for tr in backward.find("tbody")}
    assert adjoints["w"] == render.summarize(g["w"].adjoint)
    assert g._repr_html_() == bundle["text/html"]
