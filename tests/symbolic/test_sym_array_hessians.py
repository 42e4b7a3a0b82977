"""Second derivatives of vector and matrix expressions: out.shape + in.shape + in.shape."""

import numpy as np
import pytest

import matdiff
import matdiff.numpy as mnp
from matdiff import symbolic as sym

RNG = np.random.default_rng(0)
VALUES = {
    "x": RNG.uniform(0.5, 1.5, size=3),  # positive: the base of x.^y
    "y": RNG.uniform(0.5, 1.5, size=3),
    "a": 0.7,
    "A": RNG.normal(size=(4, 3)),
    "B": RNG.normal(size=(3, 2)),
    "W": RNG.normal(size=(4, 3)),
    "X": RNG.normal(size=(3, 3)) + 3 * np.eye(3),  # invertible
}


def _numeric_hessian(d):
    """jacfwd(jacrev(f)) of the value, traced by the numeric engine."""
    traced = d.value_function(np_module=mnp, fast=False)
    names = d.variables

    def f(v):
        return traced(**{n: VALUES[n] for n in names if n != d.wrt}, **{d.wrt: v})

    return matdiff.jacfwd(matdiff.jacrev(f))(VALUES[d.wrt])


@pytest.mark.parametrize(
    "text, wrt, form, text_out",
    [
        # a scalar variable: the second derivative, in matrix notation
        ("exp(a*x)", "a", "matrix", "x.^2.*exp(a*x)"),
        ("a^2*A", "a", "matrix", "2*A"),
        # f: R^n -> R^m: the derivative of the Jacobian, a 3-tensor
        ("exp(W*x)", "x", "tensor", "d(J) = diag((W*dx).*exp(W*x))*W"),
        ("tanh(W*x)", "x", "tensor", "d(J) = -2*diag((W*dx).*tanh(W*x).*(1 - tanh(W*x).^2))*W"),
        ("x.*x", "x", "tensor", "d(J) = 2*diag(dx)"),
        ("(x'*x)*x", "x", "tensor", None),
        ("x.^y", "y", "tensor", "d(J) = diag(dy.*log(x).^2.*x.^y)"),
        # matrix-valued, or a matrix variable: the second differential
        ("x*x'", "x", "tensor", "d2f = 2*dx*dx'"),
        ("X*X", "X", "tensor", "d2f = 2*dX^2"),
        ("inv(X)", "X", "tensor", "d2f = 2*inv(X)*dX*inv(X)*dX*inv(X)"),
        ("X*B", "X", "tensor", "d2f = matrix(0)"),
        ("A*x*x'*B", "x", "tensor", "d2f = 2*A*dx*dx'*B"),
    ],
)
def test_hessians_of_arrays_match_jacfwd_of_jacrev(text, wrt, form, text_out):
    d = sym.derivative(text, wrt=wrt, order=2)
    assert d.what == "hessian" and d.form == form
    if text_out is not None:
        assert d.text.split("  (")[0] == text_out
    value, hess = d.function()(**{n: VALUES[n] for n in d.variables})
    x = np.asarray(VALUES[wrt])
    assert hess.shape == np.shape(value) + x.shape + x.shape
    ref = np.asarray(_numeric_hessian(d))
    # both are exact up to rounding in a few products: a relative 1e-12 is ample
    assert np.allclose(hess, ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())
    d.check(seed=0)
    d.check(seed=1)


def test_the_slices_are_the_hessians_of_the_entries():
    d = sym.derivative("exp(W*x)", wrt="x", order=2)
    _, hess = d.function()(W=VALUES["W"], x=VALUES["x"])
    for i in range(4):
        entry = sym.derivative("exp(w'*x)", wrt="x", order=2, kinds={"w": "vector"})
        _, h = entry.function()(w=VALUES["W"][i], x=VALUES["x"])
        assert np.allclose(hess[i], h, rtol=1e-13)


def test_a_symmetric_variable_projects_both_direction_pairs():
    d = sym.derivative("S*S", wrt="S", order=2, kinds={"S": "symmetric"})
    S = VALUES["X"] + VALUES["X"].T
    _, hess = d.function()(S=S)
    assert np.allclose(hess, hess.swapaxes(-1, -2)) and np.allclose(hess, hess.swapaxes(-3, -4))
    d.check(seed=0)


def test_the_second_differential_is_shown_in_the_steps_and_latex():
    d = sym.derivative("X*X", wrt="X", order=2)
    assert (
        d.steps[-2].rule == "no matrix form: the tensor is evaluated from the second differential"
    )
    assert d.steps[-2].expression == "d2f = 2*dX^2"
    assert d.steps[-1].expression == d.text  # the derivation ends in the printed result
    assert d.latex == r"\mathrm{d}^2 f = 2 \mathrm{d}X \mathrm{d}X"
    assert "for _a, _b, _k, _l in _np.ndindex(" in d.numpy_source


def test_the_derivative_of_the_jacobian_is_labelled_so():
    d = sym.derivative("exp(W*x)", wrt="x", order=2)
    assert d.latex.startswith(r"\mathrm{d}(J) = \operatorname{diag}")


def test_a_second_derivative_through_a_symbolic_matrix_power_is_refused():
    with pytest.raises(sym.SymbolicError) as info:
        sym.derivative("X^k", wrt="X", order=2, kinds={"k": "scalar"})
    assert info.value.message == (
        "cannot differentiate sum(X^i*dX*X^(k - 1 - i), i = 0..k - 1) again in the matrix "
        "it sums powers of: that needs a double sum, which has no rule"
    )
    assert (info.value.line, info.value.column) == (1, 2)


def test_a_gradient_with_no_matrix_form_gives_its_hessian_from_the_second_differential():
    d = sym.derivative("x'*kron(X, A)*y", wrt="X", order=2)
    assert d.form == "tensor" and d.text.startswith("d2f = 0")
    d.check(seed=0)


@pytest.mark.parametrize(
    "text, wrt, order, kron_form",
    [
        # the Jacobian 2*b*y' is linear in y: vec(dJ) = 2*kron(eye, b)*dy
        ("(y'*y)*b", "y", 2, "2*kron(eye, b)"),
        # vec(P*dx'*Q) = kron(Q', P)*dx for a vector x, since vec(dx') = dx
        ("a*x'", "x", 1, "kron(eye, a)"),
        ("A*x*x'*B", "x", 1, "kron(B'*x, A) + kron(B', A*x)"),
    ],
)
def test_kronecker_forms_in_a_vector_variable(text, wrt, order, kron_form):
    d = sym.derivative(text, wrt=wrt, order=order, kinds={"a": "vector", "b": "vector"})
    assert d.form == "kron" and d.text == kron_form
    d.check(seed=0)
    d.check(seed=1)


def test_a_refusal_inside_the_second_differential_names_the_direction_as_dx():
    # the first direction is an internal variable; the message speaks of dX, and leaves a
    # user's own name that merely contains it alone
    with pytest.raises(sym.SymbolicError) as info:
        sym.derivative("A_U*X^k", wrt="X", order=2, kinds={"k": "scalar"})
    assert "X^i*dX*X^(k - 1 - i)" in info.value.message
