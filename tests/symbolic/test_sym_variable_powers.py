"""Powers whose exponent is a variable: a^b, x.^y, c.^x, 2.^x, in every argument."""

import numpy as np
import pytest

import matdiff
import matdiff.numpy as mnp
from matdiff import symbolic as sym
from matdiff.test_util import check_grads

RNG = np.random.default_rng(0)
X = RNG.uniform(0.5, 1.5, size=3)  # positive: the base of a power with a variable exponent
Y = RNG.normal(size=3)


@pytest.mark.parametrize(
    "text, wrt, first, second",
    [
        ("a^b", "a", "b*a^(b - 1)", "-b*(1 - b)*a^(b - 2)"),
        ("a^b", "b", "log(a)*a^b", "a^b*log(a)^2"),
        ("a^(b + 1)", "b", "log(a)*a^(1 + b)", "log(a)^2*a^(1 + b)"),
        ("sum(x.^y)", "y", "log(x).*x.^y", "diag(log(x).^2.*x.^y)"),
        ("sum(2.^x)", "x", "0.6931471805599453*2.^x", "0.4804530139182014*diag(2.^x)"),
        ("exp(a*log(b))", "b", "a*exp(a*log(b))/b", "-a*(1 - a)*exp(a*log(b))/b^2"),
        ("x'*(A.^b)*x", "b", "x'*(log(A).*A.^b)*x", "x'*(A.^b.*log(A).^2)*x"),
    ],
)
def test_first_and_second_derivatives_in_every_argument(text, wrt, first, second):
    d1 = sym.derivative(text, wrt=wrt)
    d2 = sym.derivative(text, wrt=wrt, order=2)
    assert (d1.text, d2.text) == (first, second)
    for d in (d1, d2):
        for seed in (0, 1):
            d.check(seed=seed)  # finite differences and the numeric engine


@pytest.mark.parametrize(
    "text, wrt, jacobian",
    [
        ("x.^y", "x", "diag(y.*x.^(y - 1))"),
        ("x.^y", "y", "diag(log(x).*x.^y)"),
        ("c.^x", "x", "log(c)*diag(c.^x)"),
        ("c.^x", "c", "x.*c.^(x - 1)"),
        ("x.^c", "c", "log(x).*x.^c"),
    ],
)
def test_jacobians_of_elementwise_powers(text, wrt, jacobian):
    d = sym.derivative(text, wrt=wrt)
    assert d.text == jacobian
    d.check(seed=0)
    d.check(seed=1)


def test_the_value_and_jacobian_match_numpy():
    d = sym.derivative("x.^y", wrt="y")
    value, jac = d.function()(x=X, y=Y)
    assert np.allclose(value, X**Y, rtol=1e-15)
    assert np.allclose(jac, np.diag(np.log(X) * X**Y), rtol=1e-14)


def test_the_numeric_reference_differentiates_the_generated_value():
    """The value code the check traces with matdiff.numpy, checked in both modes to order 2."""
    d = sym.derivative("sum(x.^y) + a^b", wrt="y")
    traced = d.value_function(np_module=mnp, fast=False)
    check_grads(lambda x, y, a, b: traced(x=x, y=y, a=a, b=b), modes=("fwd", "rev"), order=2)(
        X, Y, 1.3, 0.7
    )
    f = lambda y: traced(x=X, y=y, a=1.3, b=0.7)  # noqa: E731
    _, grad = d.function()(x=X, y=Y, a=1.3, b=0.7)
    assert np.allclose(grad, matdiff.grad(f)(Y), rtol=1e-13)


def test_printed_powers_parse_back():
    for text in ["a^b", "x.^y", "2.^x", "c.^x", "x.^c", "(a + b)^(c*d)", "a^(b^c)", "a^(-b)"]:
        e = sym.parse(text)
        assert sym.parse(str(e)) is e, text
    assert str(sym.parse("a^b^c")) == "a^(b^c)"  # ^ groups to the right
    assert str(sym.parse("x.^2")) == "x.^2"  # a number is the power it always was
    assert str(sym.parse("1.^x")) == "vector(1)"
    assert sym.derivative("x.^y", wrt="y").latex == (
        r"\frac{\partial f}{\partial y} = \operatorname{diag}\left(\log\left(x\right) \odot x^{\circ y}\right)"
    )


@pytest.mark.parametrize(
    "text, column, message",
    [
        ("(-2).^x", 5, "a power with a variable exponent needs a positive base, not -2"),
        ("0^a", 2, "a power with a variable exponent needs a positive base, not 0"),
        ("x^y", 3, "an exponent must be a scalar; for an elementwise power write .^"),
        ("x.^A", 2, "elementwise .^ needs equal shapes or a scalar side"),
    ],
)
def test_refusals_say_why(text, column, message):
    with pytest.raises(sym.SymbolicError) as info:
        sym.parse(text)
    assert message in info.value.message
    assert (info.value.line, info.value.column) == (1, column)
