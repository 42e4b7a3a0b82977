"""Gradients through a general kron, and the matrix derivatives computer algebra gets wrong.

The second half is SymPy's open issues on matrix derivatives, each a passing test here:
d/dE (tr(E) + 1) (SymPy returns 0), d log(det(A)) (SymPy raises), d det(X) and d X^k for
an integer k (SymPy crashes), and the derivative of a matrix with respect to itself (a
4-tensor, inconsistent in SymPy).
"""

import numpy as np
import pytest

import matdiff
import matdiff.numpy as mnp
from matdiff import symbolic as sym

RNG = np.random.default_rng(0)
X = RNG.normal(size=(3, 3)) + 3 * np.eye(3)  # invertible, det > 0
A = RNG.normal(size=(2, 2)) + 3 * np.eye(2)


def numeric(d, values, order=1):
    """The numeric engine's derivative of the value code, in the out + in layout."""
    traced = d.value_function(np_module=mnp, fast=False)

    def f(v):
        return traced(**{**values, d.wrt: v})

    if order == 2:
        return matdiff.jacfwd(matdiff.jacrev(f))(values[d.wrt])
    return matdiff.jacobian(f)(values[d.wrt])


# ---------------------------------------------------------------- kron


@pytest.mark.parametrize(
    "text, closed_form",
    [
        # det(kron(X, X)) = det(X)^(2n): its gradient is 2n det(kron(X, X)) inv(X)'
        ("det(kron(X, X))", "2*tr(eye)*det(kron(X, X))*inv(X)'"),
        ("logdet(kron(X, X))", "2*tr(eye)*inv(X)'"),
        ("logdet(kron(A, X))", "tr(eye)*inv(X)'"),
        ("tr(kron(X, A)*kron(B, C))", "tr(A*C)*B'"),
        ("sum(kron(X, A).^2)", "2*sum(A.^2)*X"),
    ],
)
def test_gradients_through_kron_with_kronecker_structure_have_closed_forms(text, closed_form):
    d = sym.derivative(text, wrt="X")
    assert d.form == "matrix" and d.text == closed_form
    d.check(seed=0)
    d.check(seed=1)


def test_det_of_kron_has_the_value_of_its_closed_form():
    d = sym.derivative("det(kron(X, X))", wrt="X")
    value, grad = d.function()(X=X)
    n = X.shape[0]
    assert np.isclose(value, np.linalg.det(X) ** (2 * n), rtol=1e-10)
    assert np.allclose(grad, 2 * n * value * np.linalg.inv(X).T, rtol=1e-10)
    assert np.allclose(grad, numeric(d, {"X": X}), rtol=1e-10)
    assert d.steps[-1].rule.endswith("and <kron(P, Q), kron(F, B)> = <P, F>*<Q, B>")


@pytest.mark.parametrize(
    "text, differential",
    [
        ("x'*kron(X, A)*y", "d(f) = x'*kron(dX, A)*y"),
        ("tr(kron(A, X)*B)", "d(f) = tr(B*kron(A, dX))"),
    ],
)
def test_other_gradients_through_kron_are_evaluated_as_tensors(text, differential):
    d = sym.derivative(text, wrt="X")
    assert d.form == "tensor" and d.what == "gradient"
    assert d.text == differential + "  (no closed matrix form; function() evaluates the tensor)"
    d.check(seed=0)
    d.check(seed=1)


def test_hessian_through_kron():
    d = sym.derivative("det(kron(X, X))", wrt="X", order=2)
    _, hess = d.function()(X=X)
    ref = numeric(d, {"X": X}, order=2)
    assert np.allclose(hess, ref, rtol=1e-9, atol=1e-9 * np.abs(ref).max())
    d.check(seed=0)


# ---------------------------------------------------------------- where SymPy fails


def test_trace_plus_one():
    d = sym.derivative("tr(E) + 1", wrt="E")  # SymPy: 0
    assert d.text == "eye"
    _, grad = d.function()(E=X)
    assert np.array_equal(grad, np.eye(3))
    d.check(seed=0)


def test_log_det():
    d = sym.derivative("log(det(A))", wrt="A")  # SymPy raises
    assert d.text == "inv(A)'"
    _, grad = d.function()(A=X)
    assert np.allclose(grad, np.linalg.inv(X).T, rtol=1e-13)
    d.check(seed=0)
    h = sym.derivative("log(det(A))", wrt="A", order=2)
    assert h.text.startswith("d(grad) = -inv(A)'*dA'*inv(A)'")
    _, hess = h.function()(A=X)
    iX = np.linalg.inv(X)
    assert np.allclose(hess, -np.einsum("li,jk->ijkl", iX, iX), rtol=1e-12)
    h.check(seed=0)


def test_det():
    d = sym.derivative("det(X)", wrt="X")  # SymPy crashes
    assert d.text == "det(X)*inv(X)'"
    _, grad = d.function()(X=X)
    assert np.allclose(grad, np.linalg.det(X) * np.linalg.inv(X).T, rtol=1e-12)
    d.check(seed=0)


@pytest.mark.parametrize(
    "k, kron_form",
    [
        (2, "kron(X', eye) + kron(eye, X)"),
        (3, "kron(X', X) + kron(X'^2, eye) + kron(eye, X^2)"),
        (-1, "-kron(inv(X)', inv(X))"),
    ],
)
def test_integer_matrix_powers(k, kron_form):
    d = sym.derivative(f"X^{k}", wrt="X")  # SymPy crashes
    assert d.form == "kron" and d.text == kron_form
    value, deriv = d.function()(X=X)
    assert np.allclose(value, np.linalg.matrix_power(X, k), rtol=1e-12)
    assert deriv.shape == (3, 3, 3, 3)
    assert np.allclose(deriv, numeric(d, {"X": X}), rtol=1e-11, atol=1e-11)
    d.check(seed=0)


def test_a_symbolic_integer_power():
    d = sym.derivative("X^k", wrt="X", kinds={"k": "scalar"})
    assert d.form == "tensor"
    _, deriv = d.function()(X=X, k=4)
    ref = sym.derivative("X^4", wrt="X").function()(X=X)[1]
    assert np.allclose(deriv, ref, rtol=1e-12)
    d.check(seed=0)


@pytest.mark.parametrize("kinds", [None, {"X": "m x n"}])
def test_a_matrix_with_respect_to_itself_is_the_identity_4_tensor(kinds):
    d = sym.derivative("X", wrt="X", kinds=kinds)  # SymPy: inconsistent
    assert d.form == "kron" and d.text == "eye"  # vec(dX) = eye*vec(dX)
    M = RNG.normal(size=(2, 3))
    _, deriv = d.function()(X=M)
    assert np.array_equal(deriv, np.einsum("ik,jl->ijkl", np.eye(2), np.eye(3)))
    d.check(seed=0)
