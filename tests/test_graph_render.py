"""Graph.render and Jupyter display through Graphviz, and the errors without it."""

import html
import shutil
import sys

import numpy as onp
import pytest

import matdiff.numpy as np
from matdiff.graph import GraphvizNotFoundError, graph

try:
    import graphviz  # noqa: F401

    HAVE_GRAPHVIZ = shutil.which("dot") is not None
except ImportError:
    HAVE_GRAPHVIZ = False

needs_dot = pytest.mark.skipif(
    not HAVE_GRAPHVIZ,
    reason="needs Graphviz's dot program and the graphviz Python package "
    "(apt-get install graphviz; pip install -e '.[graph]'), which .ci/run installs",
)


def model(w, x):
    def sigmoid(z):
        return 1.0 / (1.0 + np.exp(-z))

    y = sigmoid(w * x)
    return np.sum((y - 1.0) ** 2)


@pytest.fixture
def g():
    return graph(model)(onp.array([0.5, -1.0]), onp.array([2.0, 3.0]))


@needs_dot
def test_render_svg_has_every_node_value_and_adjoint(g, tmp_path):
    path = g.render(tmp_path / "model.svg")
    assert path == tmp_path / "model.svg"
    svg = html.unescape(path.read_text(encoding="utf-8"))
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and svg.rstrip().endswith("</svg>")
    assert svg.count('class="node"') == len(g.nodes)
    assert svg.count('class="edge"') == len(g.edges)
    assert svg.count('class="cluster"') == 1  # sigmoid
    assert ">model.sigmoid</text>" in svg
    for name in ("w", "x", "y"):
        assert f">{name}</text>" in svg or f">{name} = " in svg
    adjoint_w = onp.asarray(g["w"].adjoint)
    assert f"v̄ = [{adjoint_w[0]:.4g}, {adjoint_w[1]:.4g}]" in svg


@needs_dot
def test_render_png_and_format_argument(g, tmp_path):
    png = g.render(tmp_path / "model.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    other = g.render(tmp_path / "no_suffix", format="svg").read_text(encoding="utf-8")
    assert "<svg" in other


@needs_dot
def test_repr_svg_for_jupyter(g):
    svg = g._repr_svg_()
    assert svg is not None and "<svg" in svg and "sigmoid" in svg


@needs_dot
def test_truncated_picture_shows_the_note(g, tmp_path):
    svg = g.render(tmp_path / "small.svg", max_nodes=3).read_text(encoding="utf-8")
    assert svg.count('class="node"') == 4  # three nodes and the note
    assert f"{len(g.nodes) - 3} more nodes not shown" in svg


def test_render_rejects_unknown_format(g, tmp_path):
    with pytest.raises(ValueError, match=r"Graph.render: cannot write format 'gif'.*\.svg, \.png"):
        g.render(tmp_path / "model.gif")


def test_missing_dot_program_on_path(g, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(GraphvizNotFoundError) as info:
        g.render(tmp_path / "model.svg")
    msg = str(info.value)
    assert msg.startswith("Graph.render: Graphviz's `dot` program is not on the PATH")
    assert "apt-get install graphviz" in msg and "pip install 'matdiff[graph]'" in msg
    assert "Graph.to_dot()" in msg
    assert not (tmp_path / "model.svg").exists()
    # Jupyter falls back to the text repr instead of showing an error
    assert g._repr_svg_() is None


def test_missing_dot_found_by_which(g, tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    with pytest.raises(GraphvizNotFoundError, match="`dot` program is not on the PATH"):
        g.render(tmp_path / "model.png")


def test_missing_graphviz_package(g, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "graphviz", None)  # makes `import graphviz` fail
    with pytest.raises(GraphvizNotFoundError) as info:
        g.render(tmp_path / "model.svg")
    msg = str(info.value)
    assert msg.startswith("Graph.render: the graphviz Python package is not installed")
    assert "pip install 'matdiff[graph]'" in msg


@needs_dot
def test_dot_that_cannot_run(g, tmp_path, monkeypatch):
    # `dot` on the PATH but not runnable: the graphviz package's error becomes ours.
    fake = tmp_path / "dot"
    fake.write_text("not a program")
    fake.chmod(0o644)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: str(fake))
    with pytest.raises(GraphvizNotFoundError, match="`dot` program could not be run"):
        g.render(tmp_path / "model.svg")
