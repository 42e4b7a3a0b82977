"""The node vocabulary: every node kind is complete, and the order of nodes is structural."""

import ast
import inspect

import pytest

from matdiff.symbolic import expr as E
from matdiff.symbolic import parse
from matdiff.symbolic.differentials import DIFFERENTIALS, differential
from matdiff.symbolic.printers import LATEX, NUMPY, TEXT

KINDS = E.node_kinds()

# One written expression per node kind, so that each kind is printed and rebuilt below.
SAMPLES = {
    E.Var: "x",
    E.Const: "2",
    E.Fill: "vector(3)",
    E.Eye: "eye",
    E.Add: "x + y",
    E.Mul: "A*x",
    E.Had: "x.*y",
    E.Pow: "x.^3",
    E.Fn: "exp(x)",
    E.T: "A'",
    E.Kron: "kron(A, B)",
    E.Sum: "sum(x)",
    E.Tr: "tr(A)",
    E.Det: "det(A)",
    E.LogDet: "logdet(A)",
    E.Inv: "inv(A)",
    E.Adj: "adj(A)",
    E.DiagM: "diag(x)",
    E.DiagV: "diag(A)",
    E.Norm1: "norm1(x)",
    E.Norm2: "norm2(x)",
    E.MatPow: "X^a",
    E.VarPow: "x.^y",
}


def _sample(kind):
    if kind is E.Delta:
        x = parse("x")
        return differential(x, x)
    if kind is E.PowSum:  # the differential of X^a, which the language cannot write
        p = parse("X^a", _with_info=True)
        return differential(p.expr, p.variables["X"])
    return parse(SAMPLES[kind])


TABLES = {"text": TEXT, "latex": LATEX, "numpy": NUMPY, "differential": DIFFERENTIALS}


@pytest.mark.parametrize("name", TABLES)
def test_every_node_kind_has_an_entry_in_every_table(name):
    table = TABLES[name]
    missing = [k.__name__ for k in KINDS if k not in table]
    assert not missing, f"node kinds without an entry: {missing}"


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
def test_every_node_kind_prints_and_rebuilds(kind):
    node = _sample(kind)
    assert type(node) is kind
    assert node.rebuild(node.args) is node
    assert isinstance(TEXT[kind](node, False)[0], str)
    assert isinstance(LATEX[kind](node)[0], str)
    assert all(isinstance(part, str) for part in node.sort_key())
    if kind not in (E.Delta, E.PowSum):  # differentials, which the language cannot write
        assert str(parse(str(node))) == str(node)


def test_nodes_have_named_fields():
    v = parse("x")
    assert (v.name, v.declared) == ("x", "vector")
    p = parse("x.^3")
    assert p.p == 3.0 and p.args[0] is v
    m = parse("2*a*A*x")
    assert [str(f) for f in m.scalars] == ["2", "a"] and [str(f) for f in m.chain] == ["A", "x"]


def test_order_is_structural_and_reads_like_the_text():
    # the order is the reading order of names and operators, without printing
    assert str(parse("A' + A")) == "A + A'"
    assert str(parse("x'*y*A'*z + a*A'*z")) == "a*A'*z + x'*y*A'*z"
    assert str(parse("(A + B)*x + A*x")) == "(A + B)*x + A*x"


def test_the_node_module_does_not_import_the_printers():
    tree = ast.parse(inspect.getsource(E))
    imported = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module is not None
    }
    assert "printers" not in imported


def test_the_product_constructor_is_thin_and_rewrites_live_in_simplify():
    from matdiff.symbolic.simplify import rewrite

    A = E.var("A", "matrix", ("n", "n"))
    x, v = (E.var(name, "vector", ("n", 1)) for name in "xv")
    assert str(E.mul(A, E.inv(A), x)) == "A*inv(A)*x"
    assert str(rewrite(E.mul(A, E.inv(A), x))) == "x"
    assert str(rewrite(E.mul(E.eye("n"), A))) == "A"
    assert str(rewrite(E.mul(E.diagm(x), E.diagm(v)))) == "diag(v.*x)"
    # the parser applies the rewrites to what it builds
    assert str(parse("A*inv(A)*x", {"A": "n x n"})) == "x"
