"""The derivative() contract: results, forms, steps, and refusals."""

import numpy as np
import pytest

from matdiff import symbolic as sym
from matdiff.symbolic import SymbolicError


def test_contract_example():
    d = sym.derivative("x'*A*x", wrt="x")
    assert d.text == "(A + A')*x" and str(d) == d.text
    assert d.what == "gradient" and d.form == "matrix"
    d = sym.derivative("log(det(S))", wrt="S", kinds={"S": "symmetric"})
    assert d.text == "inv(S)"
    h = sym.derivative("x'*A*x", wrt="x", order=2)
    assert h.text == "A + A'" and h.what == "hessian"
    assert "def derivative(x, A)" in h.numpy_source


def test_steps_are_printable():
    d = sym.derivative("x'*A*x", wrt="x")
    rules = [s.rule for s in d.steps]
    assert rules[0] == "expression"
    assert any("d(XY) = dX Y + X dY" in r for r in rules)
    assert any(r.startswith("read off") for r in rules)
    assert d.steps[-1].expression == "(A + A')*x"
    assert "df = dx'*A*x + x'*A*dx" in str(d.steps)


def test_symmetric_gradient_is_symmetrized():
    # tr(A*S) on symmetric S: the gradient is sym(A') = (A + A')/2
    d = sym.derivative("tr(A*S)", wrt="S", kinds={"S": "symmetric"})
    assert d.text == "0.5*(A + A')"
    d.check(seed=0)


def test_tensor_form_is_honest():
    h = sym.derivative("log(det(X))", wrt="X", order=2)
    assert h.form == "tensor"
    assert "no closed matrix form" in h.text
    X = np.array([[2.0, 0.5], [0.1, 1.0]])
    _, H = h.function()(X=X)
    Xi = np.linalg.inv(X)
    # d/dX_kl of inv(X)'_ij = -inv(X)_li inv(X)_jk
    assert np.allclose(H, -np.einsum("li,jk->ijkl", Xi, Xi))


def test_scalar_variable_derivatives():
    d = sym.derivative("x*a", wrt="a")
    assert d.text == "x"
    _, J = d.function()(x=np.arange(3.0), a=2.0)
    assert np.allclose(J, np.arange(3.0))
    h = sym.derivative("exp(2*a)", wrt="a", order=2)
    assert h.text == "4*exp(2*a)"


@pytest.mark.parametrize(
    "expr,wrt,order,needle",
    [
        ("x'*x", "y", 1, "not a variable"),
        ("x'*x", "x", 3, "order must be"),
        ("A*x", "x", 2, "scalar expression"),
    ],
)
def test_refusals(expr, wrt, order, needle):
    with pytest.raises(SymbolicError, match=needle):
        sym.derivative(expr, wrt=wrt, order=order)


@pytest.mark.parametrize(
    "expr,wrt,order,column,needle",
    [
        # the caret goes under the smallest written part that has no matrix form
        ("exp(X)*p", "X", 1, 7, "cannot write the derivative"),
        ("B + A*diag(x)*B", "x", 1, 7, "cannot write the derivative of A\\*diag\\(dx\\)\\*B"),
        ("sum(kron(A, X))", "X", 1, 5, "cannot differentiate kron"),
    ],
)
def test_refusals_are_positioned(expr, wrt, order, column, needle):
    with pytest.raises(SymbolicError, match=needle) as info:
        sym.derivative(expr, wrt=wrt, order=order)
    assert (info.value.line, info.value.column) == (1, column), str(info.value)
    assert str(info.value).split("\n")[-1].index("^") == column + 1


def test_derivative_of_a_constant_is_zero():
    d = sym.derivative("a*sum(x) - a*sum(x) + b", wrt="a")
    assert d.text == "0"


def test_outer_term_tensor():
    # a scalar factor depending on A times a matrix: the tensor's outer-product form
    kinds = {"A": "n x n", "x": "vector n", "y": "vector n"}
    h = sym.derivative("norm2(sum(A*x)*exp(y))", wrt="A", order=2, kinds=kinds)
    assert h.form in ("kron", "tensor")
    h.check(seed=0, sizes={"n": 3})


def test_zero_hessian_of_a_linear_function():
    h = sym.derivative("tr(A)", wrt="A", order=2)
    assert h.text == "0"
    _, H = h.function()(A=np.eye(2))
    assert H.shape == (2, 2, 2, 2) and not H.any()
