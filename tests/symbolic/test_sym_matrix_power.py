"""Matrix powers X^k whose integer exponent k is given at evaluation time."""

import numpy as np
import pytest

from matdiff import symbolic as sym

KINDS = {"k": "scalar", "m": "scalar", "n": "scalar"}
RNG = np.random.default_rng(0)
X = RNG.normal(size=(3, 3)) + 3 * np.eye(3)  # invertible, for negative powers
A, P, Q = (RNG.normal(size=(3, 3)) for _ in range(3))
POWERS = [-3, -1, 0, 1, 2, 4]


def central_differences(f, x, h=1e-6):
    """d f / d x in the layout out.shape + x.shape; truncation error is h^2 f''' ~ 1e-12."""
    x = np.asarray(x, dtype=float)
    cols = []
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = h
        cols.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * h))
    out = np.stack(cols, axis=-1)
    return out.reshape(np.shape(f(x)) + x.shape)


@pytest.mark.parametrize(
    "text, closed_form",
    [
        ("tr(X^k)", "k*X'^(k - 1)"),
        ("det(X^k)", "k*det(X^k)*inv(X)'"),
        ("logdet(X^k)", "k*inv(X)'"),
        ("x'*X^k*x", "x*x'"),
    ],
)
def test_trace_and_determinant_have_closed_forms(text, closed_form):
    d = sym.derivative(text, wrt="X", kinds=KINDS)
    if text.startswith("x'"):
        # no closed form: the sum over i, which the note explains
        assert d.text == "sum(X'^i*(x*x')*X'^(k - 1 - i), i = 0..k - 1)"
        assert "for k < 0 it runs over i = k..-1" in d.note
    else:
        assert d.text == closed_form and d.note is None
    d.check(seed=0)
    d.check(seed=1)


@pytest.mark.parametrize("k", POWERS)
@pytest.mark.parametrize("text", ["tr(X^k)", "det(X^k)", "logdet(X^k)", "tr(A*X^k)"])
def test_the_gradient_matches_finite_differences_for_every_sign_of_k(text, k):
    d = sym.derivative(text, wrt="X", kinds=KINDS)
    fn = d.function()
    values = {"X": X, "k": k, "A": A} if "A" in text else {"X": X, "k": k}
    value, grad = fn(**values)
    expected = {
        "tr(X^k)": np.trace(np.linalg.matrix_power(X, k)),
        "det(X^k)": np.linalg.det(X) ** k,
        "logdet(X^k)": k * np.log(abs(np.linalg.det(X))),
        "tr(A*X^k)": np.trace(A @ np.linalg.matrix_power(X, k)),
    }[text]
    assert np.isclose(value, expected, rtol=1e-12)
    fd = central_differences(lambda Y: fn(**{**values, "X": Y})[0], X)
    # rounding in the differences is eps*|f|/h, about 1e-10 relative to the value
    assert np.allclose(grad, fd, rtol=1e-6, atol=1e-7 * (1 + abs(value)))


def test_a_matrix_expression_in_x_k_uses_the_sum_form_with_matrix_power():
    d = sym.derivative("tr(A*X^k)", wrt="X", kinds=KINDS)
    assert d.text == "sum(X'^i*A'*X'^(k - 1 - i), i = 0..k - 1)"
    assert d.latex == (
        r"\nabla_{X} f = \sum_{i=0}^{k - 1} \left(X^\top\right)^{i} A^\top \left(X^\top\right)^{k - 1 - i}"
    )
    assert "_np.linalg.matrix_power" in d.numpy_source
    d.check(seed=0)


@pytest.mark.parametrize("k", POWERS)
def test_a_power_of_a_sum_in_a_scalar(k):
    d = sym.derivative("(m*P + n*Q)^k", wrt="m", kinds=KINDS)
    assert d.text == "sum((m*P + n*Q)^i*P*(m*P + n*Q)^(k - 1 - i), i = 0..k - 1)"
    fn = d.function()
    values = {"m": 0.7, "n": 0.4, "P": P + 3 * np.eye(3), "Q": Q, "k": k}
    value, deriv = fn(**values)
    assert np.allclose(value, np.linalg.matrix_power(0.7 * values["P"] + 0.4 * Q, k))
    fd = central_differences(lambda m: fn(**{**values, "m": m})[0], 0.7)
    assert np.allclose(deriv, fd, rtol=1e-6, atol=1e-7 * (1 + np.abs(value).max()))
    d.check(seed=0)


@pytest.mark.parametrize("wrt", ["P", "Q", "n"])
def test_a_power_of_a_sum_in_its_other_variables(wrt):
    d = sym.derivative("(m*P + n*Q)^k", wrt=wrt, kinds=KINDS)
    d.check(seed=0)


@pytest.mark.parametrize(
    "text, wrt, order",
    [
        ("X^k", "X", 1),
        ("X^k*x", "X", 1),
        ("X^k*x", "x", 1),
        ("x'*X^k*x", "x", 1),
        ("x'*X^k*x", "x", 2),
        ("tr(X^k)", "X", 2),
        ("det(X^k)", "X", 2),
        ("a*tr(X^k)", "a", 2),
        ("sum(exp(X^k*x))", "x", 2),
    ],
)
def test_other_derivatives_through_a_matrix_power(text, wrt, order):
    d = sym.derivative(text, wrt=wrt, kinds=KINDS, order=order)
    d.check(seed=0)
    d.check(seed=1)


@pytest.mark.parametrize(
    "text, printed",
    [
        ("X^k", "X^k"),
        ("X^(k - 1)", "X^(k - 1)"),
        ("X^k*X^2*inv(X)", "X^(1 + k)"),
        ("(X^k)'", "X'^k"),
        ("inv(X^k)*X^k", "eye"),
        ("X^k*X^(-k)", "eye"),
        ("(X^k)^n", "X^(k*n)"),
        ("inv(X)^k", "X^(-k)"),
        ("eye^k", "eye"),
        ("logdet(X^k)", "k*logdet(X)"),
    ],
)
def test_powers_print_canonically_and_parse_back(text, printed):
    e = sym.parse(text, KINDS)
    assert str(e) == printed
    assert str(sym.parse(printed, KINDS)) == printed


def test_the_exponent_has_no_derivative():
    with pytest.raises(sym.SymbolicError) as err:
        sym.derivative("tr(X^k)", wrt="k", kinds=KINDS)
    assert err.value.message == (
        "the derivative of X^k in its exponent needs a matrix logarithm, "
        "which the language does not have"
    )
    assert (err.value.line, err.value.column) == (1, 5)


def test_a_second_derivative_through_the_sum_form_is_refused():
    with pytest.raises(sym.SymbolicError) as err:
        sym.derivative("tr(A*X^k)", wrt="X", kinds=KINDS, order=2)
    assert err.value.message == (
        "cannot differentiate sum(X'^i*A'*X'^(k - 1 - i), i = 0..k - 1) again in the "
        "matrix it sums powers of: that needs a double sum, which has no rule"
    )


def test_the_exponent_must_be_an_integer_at_evaluation_time():
    fn = sym.derivative("tr(X^k)", wrt="X", kinds=KINDS).function()
    assert np.isclose(fn(X=X, k=2.0)[0], np.trace(X @ X), rtol=1e-14)
    with pytest.raises(sym.SymbolicError) as err:
        fn(X=X, k=2.5)
    assert err.value.message == (
        "derivative of 'tr(X^k)': k is the exponent of a matrix power, so it must be an "
        "integer, not 2.5"
    )


def test_the_exponent_must_be_a_scalar():
    with pytest.raises(sym.SymbolicError) as err:
        sym.parse("X^x")
    assert "an exponent must be a scalar" in err.value.message


def test_the_constructors_refuse_what_is_not_a_power():
    from matdiff.symbolic import expr as E

    Xs = E.var("X", "matrix", ("n", "n"))
    C = E.var("C", "matrix", ("n", "m"))
    k = E.var("k", "scalar", E.SCALAR)
    x = E.var("x", "vector", ("n", 1))
    cases = [
        (lambda: E.matpow(Xs, x), "an exponent must be a scalar, got nx1"),
        (lambda: E.matpow(Xs, E.const(2.5)), "a matrix power needs an integer exponent"),
        (lambda: E.matpow(C, k), "a matrix power needs a square matrix, got nxm"),
        (lambda: E.powsum(Xs, k, C), "a sum of matrix powers needs nxn, got nxm"),
    ]
    for build, message in cases:
        with pytest.raises(sym.SymbolicError) as err:
            build()
        assert err.value.message == message
    assert E.matpow(Xs, E.const(2.0)) is E.mul(Xs, Xs)
    assert E.matpow(Xs, E.const(-1.0)) is E.inv(Xs)
