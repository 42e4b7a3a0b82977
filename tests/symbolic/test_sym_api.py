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
        ("tr(X^a)", "a", 1, "needs a matrix logarithm"),
    ],
)
def test_refusals(expr, wrt, order, needle):
    with pytest.raises(SymbolicError, match=needle):
        sym.derivative(expr, wrt=wrt, order=order)


def test_refusals_are_positioned():
    # the caret goes under the smallest written part that fails: the power X^a, whose
    # derivative in its exponent needs a matrix logarithm
    with pytest.raises(SymbolicError, match="needs a matrix logarithm") as info:
        sym.derivative("x'*A*x*a + tr(X^a)", wrt="a")
    assert (info.value.line, info.value.column) == (1, 16), str(info.value)
    assert str(info.value).split("\n")[-1].index("^") == 16 + 1


@pytest.mark.parametrize(
    "expr,wrt,kinds",
    [
        ("diag(x)", "x", None),  # a diagonal 3-tensor
        ("A*diag(x)*B", "x", None),
        ("diag(X)", "X", None),
        ("exp(X)*p", "X", None),
        ("diag(x)*A*diag(x)", "x", None),
        ("diag(S).*x", "S", {"S": "symmetric"}),
    ],
)
def test_no_matrix_form_is_evaluated_exactly_and_said_so(expr, wrt, kinds):
    d = sym.derivative(expr, wrt=wrt, kinds=kinds)
    assert d.form == "tensor" and "no closed matrix form" in d.text
    assert "for _k, _l in _np.ndindex" in d.numpy_source
    assert d.check(seed=0).fd_error < 1e-6


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
