"""A declared variable that the expression does not use differentiates to zero."""

import numpy as np
import pytest

from matdiff import symbolic as sym
from matdiff.cli import main

RNG = np.random.default_rng(0)
A, X, B = (RNG.normal(size=(3, 3)) for _ in range(3))
c = 0.7
v = RNG.normal(size=3)


def test_a_matrix_expression_in_a_declared_scalar():
    d = sym.derivative("A*(X + B)*c", wrt="i", kinds={"i": "scalar"})
    assert d.note == "the expression does not depend on i: the derivative is zero"
    assert d.text == "matrix(0)"
    assert d.variables == ["A", "X", "B", "c", "i"]
    value, deriv = d.function()(A=A, X=X, B=B, c=c, i=0.5)
    assert np.allclose(value, A @ (X + B) * c, rtol=1e-14)
    assert deriv.shape == (3, 3) and not deriv.any()
    d.check(seed=0)
    assert d.steps[-2].rule == "note" and d.steps[-1].expression == d.text
    assert d.note in d.notes


@pytest.mark.parametrize(
    "text, wrt, kinds, values, shape",
    [
        ("X", "A", {"A": "matrix"}, {"X": X, "A": np.ones((2, 4))}, (3, 3, 2, 4)),
        ("k", "A", {"A": "matrix"}, {"k": v, "A": np.ones((2, 4))}, (3, 2, 4)),
        ("x'*x", "A", {"A": "m x n"}, {"x": v, "A": np.ones((2, 4))}, (2, 4)),
        ("x'*x", "y", {"y": "vector"}, {"x": v, "y": np.ones(5)}, (5,)),
        ("x'*x", "y", {"x": "vector n", "y": "vector n"}, {"x": v, "y": v}, (3,)),
        ("A*x", "y", {"y": "vector"}, {"A": A, "x": v, "y": np.ones(2)}, (3, 2)),
        ("A*x", "b", {"b": "scalar"}, {"A": A, "x": v, "b": 2.0}, (3,)),
        ("x'*x", "S", {"S": "symmetric"}, {"x": v, "S": np.eye(2)}, (2, 2)),
        ("a^2", "b", {"b": "scalar"}, {"a": 0.3, "b": 2.0}, ()),
    ],
)
def test_the_zero_derivative_has_the_usual_layout(text, wrt, kinds, values, shape):
    d = sym.derivative(text, wrt=wrt, kinds=kinds)
    assert d.note == f"the expression does not depend on {wrt}: the derivative is zero"
    _, deriv = d.function()(**values)
    assert np.shape(deriv) == shape and not np.any(deriv)
    d.check(seed=0)


@pytest.mark.parametrize("wrt, kind", [("y", "vector"), ("A", "m x n"), ("b", "scalar")])
def test_the_zero_hessian_has_the_usual_layout(wrt, kind):
    d = sym.derivative("x'*x", wrt=wrt, kinds={wrt: kind}, order=2)
    assert d.what == "hessian" and d.note is not None
    d.check(seed=0)


def test_a_variable_that_is_used_has_no_note():
    assert sym.derivative("x'*x", wrt="x").note is None


def test_an_undeclared_absent_name_is_refused_with_how_to_declare_it():
    with pytest.raises(sym.SymbolicError) as err:
        sym.derivative("A*(X + B)*c", wrt="i")
    assert err.value.message == (
        "'i' is not a variable of the expression (variables: A, X, B, c); to "
        "differentiate with respect to a variable the expression does not use, declare "
        "it: kinds={'i': 'vector'} (--declare 'i: vector' on the command line)"
    )


def test_the_command_line_prints_the_note(capsys):
    assert main(["diff", "x'*x", "--wrt", "A", "--declare", "A: matrix"]) == 0
    out, err = capsys.readouterr()
    assert out == "matrix(0)\n"
    assert (
        err == "matdiff diff: note: the expression does not depend on A: the derivative is zero\n"
    )
    assert main(["diff", "x'*x", "--wrt", "A"]) == 2
    assert "declare it: kinds={'A': 'matrix'} (--declare 'A: matrix'" in capsys.readouterr().err
