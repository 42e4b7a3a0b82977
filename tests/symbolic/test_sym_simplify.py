"""The simplifier: canonical forms, so that equal results print the same."""

import pytest

from matdiff.symbolic import parse
from matdiff.symbolic.simplify import expand, simplify, with_temporaries


def canon(text, kinds=None):
    return str(simplify(parse(text, kinds)))


@pytest.mark.parametrize(
    "text,expected",
    [
        ("A*x + A'*x", "(A + A')*x"),
        ("x'*A + x'*A'", "x'*(A + A')"),
        ("(x'*A)'", "A'*x"),
        ("2*x + 3*x", "5*x"),
        ("0*x + x", "x"),
        ("x - x", "vector(0)"),
        ("x.*x", "x.^2"),
        ("x.*x./x", "x"),
        ("tr(A*B) - tr(B*A)", "0"),
        ("x'*y - y'*x", "0"),
        ("(A + B)'", "A' + B'"),
        ("y - y.*t", "y.*(1 - t)"),
        ("2*x - 2*y", "2*(x - y)"),
        ("a*x + a*y", "a*(x + y)"),
        ("diag(u) + diag(v)", "diag(u + v)"),
        ("X'*diag(s)*X - X'*diag(s.^2)*X", "X'*diag(s.*(1 - s))*X"),
        ("vector(1)'*diag(x)", "x'"),
        ("diag(x)*vector(1)", "x"),
        ("diag(x*y')", "x.*y"),
        ("eye*A*eye", "A"),
        ("inv(X)*X*A", "A"),
        ("X'*inv(X)'", "eye"),
        ("det(inv(X))", "1/det(X)"),
        ("logdet(inv(X))", "-logdet(X)"),
        ("inv(S)'", "inv(S)"),
        ("(x - m)'*(x - m)", "m'*m - 2*m'*x + x'*x"),  # expanded: no square completion
    ],
)
def test_canonical(text, expected):
    assert canon(text, {"S": "symmetric"}) == expected


@pytest.mark.parametrize(
    "a,b",
    [
        ("A*(x + y)", "A*x + A*y"),
        ("(A + B)*(C + D)", "A*C + A*D + B*C + B*D"),
        ("y.*(1 - t)", "y - y.*t"),
        ("(A + A')*x", "A'*x + A*x"),
        ("x'*A*x", "(x'*A*x)'"),
        ("tr(A*B*C)", "tr(C*A*B)"),
        ("2*(x - y)", "-2*(y - x)"),
        ("inv(X)'", "inv(X')"),
        ("a*b*x", "b*(a*x)"),
    ],
)
def test_equal_results_print_the_same(a, b):
    assert canon(a) == canon(b)


def test_expand_distributes_products():
    assert str(expand(parse("A*(x + y)"))) == "A*x + A*y"


def test_simplify_is_idempotent():
    for text in ["A*x + A'*x", "X'*diag(s)*X - X'*diag(s.^2)*X", "y - y.*t + 2*x"]:
        once = simplify(parse(text))
        assert simplify(once) is once


def test_temporaries_name_shared_subexpressions():
    e = parse("exp(-y.*(X*w)) ./ (1 + exp(-y.*(X*w)))")
    defs, (body,) = with_temporaries([e], {"X", "w", "y"})
    assert [(n, str(d)) for n, d in defs] == [("t0", "exp(-y.*(X*w))")]
    assert str(body) == "t0./(1 + t0)"


def test_temporaries_avoid_variable_names():
    e = parse("exp(t0) .* exp(t0)")
    assert str(e) == "exp(t0).^2"  # merged power: nothing is shared
    e = parse("exp(t0 + 1) + sin(exp(t0 + 1))")
    defs, _ = with_temporaries([e], {"t0"})
    assert defs[0][0] == "t1"


def test_temporaries_name_elementwise_subproducts():
    # t0.*t1 has no node of its own inside the flat product, but it is shared
    e = parse("diag(a1 .* u .* v .* (1 - u .* v))")
    defs, (body,) = with_temporaries([e], {"u", "v", "a1"})
    assert [(n, str(d)) for n, d in defs] == [("t0", "u.*v")]
    assert str(body) == "diag(a1*t0.*(1 - t0))"
