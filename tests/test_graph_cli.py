"""``matdiff graph``: the graph of a symbolic expression at random inputs."""

import argparse
import html
import importlib
import shutil
import sys

import numpy as onp
import pytest

from matdiff import graph_cli


def _has_symbolic() -> bool:
    try:
        return hasattr(importlib.import_module("matdiff.symbolic"), "derivative")
    except ImportError:
        return False


needs_symbolic = pytest.mark.skipif(
    not _has_symbolic(), reason="needs the symbolic engine (matdiff.symbolic.derivative)"
)
needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None or importlib.util.find_spec("graphviz") is None,
    reason="needs Graphviz's dot and the graphviz package (apt-get install graphviz; "
    "pip install -e '.[graph]'), which .ci/run installs",
)


def matdiff(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="matdiff")
    graph_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["graph", *argv])
    return args._run(args)


def test_register_adds_the_subcommand():
    parser = argparse.ArgumentParser(prog="matdiff")
    sub = graph_cli.register(parser.add_subparsers(dest="command"))
    assert sub.prog == "matdiff graph"
    args = parser.parse_args(["graph", "x'*x", "--wrt", "x", "-o", "g.svg", "--dim", "n=4"])
    assert (args.expression, args.wrt, args.output, args.dim) == ("x'*x", "x", "g.svg", ["n=4"])
    assert args._run is graph_cli.run and args.max_nodes == 200 and args.seed == 0
    with pytest.raises(SystemExit):
        parser.parse_args(["graph", "x'*x"])  # --wrt is required


def test_without_the_symbolic_engine(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matdiff.symbolic", None)  # `import` now fails
    assert matdiff("x'*x", "--wrt", "x") == 2
    err = capsys.readouterr().err
    assert (
        "matdiff graph: error: the symbolic engine (matdiff.symbolic) is not in this build" in err
    )
    assert "matdiff.graph.graph(f)(x)" in err


@needs_symbolic
def test_table_of_the_logistic_loss(capsys):
    assert matdiff("sum(log(1+exp(-y.*(X*w))))", "--wrt", "w") == 0
    out = capsys.readouterr().out
    assert out.startswith("forward pass (topological order)")
    rows = [line.split()[:2] for line in out.splitlines()]
    assert ["w", "input"] in rows and ["X", "constant"] in rows
    assert {"matmul", "exp", "log", "sum"} <= {r[1] for r in rows if len(r) > 1}


@needs_symbolic
def test_adjoints_are_the_symbolic_gradient():
    from matdiff.symbolic import derivative

    expression = "sum(log(1+exp(-y.*(X*w))))"
    g = graph_cli.build_graph(expression, "w", seed=3)
    d, inputs = graph_cli.random_point(expression, "w", seed=3)
    assert d.source == derivative(expression, wrt="w").source
    onp.testing.assert_array_equal(g["w"].value, inputs["w"])
    _, gradient = d.function()(**inputs)
    onp.testing.assert_allclose(g["w"].adjoint, gradient, rtol=1e-10)


@needs_symbolic
def test_declared_kinds_and_dims():
    g = graph_cli.build_graph("x'*S*x", "x", declare=["S: symmetric n"], dims={"n": 5})
    S = g["S"].value
    assert S.shape == (5, 5) and onp.allclose(S, S.T)
    onp.testing.assert_allclose(g["x"].adjoint, 2 * S @ g["x"].value, rtol=1e-12)


@needs_symbolic
def test_vector_expression_is_seeded_with_ones(capsys):
    assert matdiff("A*x", "--wrt", "x") == 0
    out = capsys.readouterr().out
    assert "the backward pass is seeded with ones" in out
    g = graph_cli.build_graph("A*x", "x")
    onp.testing.assert_allclose(g["x"].adjoint, g["A"].value.sum(axis=0))


@needs_symbolic
def test_dot_output_needs_no_graphviz(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot program
    target = tmp_path / "quad.dot"
    assert matdiff("x'*A*x", "--wrt", "x", "-o", str(target)) == 0
    dot = target.read_text(encoding="utf-8")
    assert dot.startswith("digraph matdiff {") and "matmul" in dot
    assert f"written to {target}" in capsys.readouterr().out


@needs_symbolic
@needs_dot
def test_svg_output(tmp_path, capsys):
    target = tmp_path / "loss.svg"
    code = matdiff("sum(log(1+exp(-y.*(X*w))))", "--wrt", "w", "-o", str(target), "--table")
    assert code == 0
    svg = html.unescape(target.read_text(encoding="utf-8"))
    assert "<svg" in svg and ">w</text>" in svg and "v̄ = " in svg
    out = capsys.readouterr().out
    assert "forward pass" in out and f"written to {target}" in out


@needs_symbolic
def test_svg_without_graphviz_says_how_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    assert matdiff("x'*x", "--wrt", "x", "-o", str(tmp_path / "g.svg")) == 1
    err = capsys.readouterr().err
    assert "Graphviz's `dot` program is not on the PATH" in err
    assert "apt-get install graphviz" in err and "-o g.dot" in err


@needs_symbolic
@pytest.mark.parametrize(
    "argv,message",
    [
        (["A*x +", "--wrt", "x"], "matdiff graph: error: line 1, column 6"),
        (["A*x", "--wrt", "q"], "'q' is not a variable of the expression"),
        (["x'*x", "--wrt", "x", "--dim", "n=zero"], "--dim takes NAME=SIZE"),
        (["x'*x", "--wrt", "x", "-o", "g.gif"], "cannot write format 'gif'"),
    ],
)
def test_errors(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert matdiff(*argv) == 2
    assert message in capsys.readouterr().err
