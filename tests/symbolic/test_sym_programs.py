"""Long flat sums and products, and programs: definitions over several lines."""

import time

import numpy as np
import pytest

from matdiff import symbolic as sym
from matdiff.symbolic import SymbolicError
from matdiff.symbolic import expr as E
from matdiff.symbolic.parser import MAX_DEPTH


def quadratic_forms(n):
    return " + ".join(f"x'*A{i}*x" for i in range(n))


# ---------------------------------------------------------------- long sums and products


def test_eighty_quadratic_forms_parse_and_differentiate():
    d = sym.derivative(quadratic_forms(80), wrt="x")
    assert d.text.count("A") == 160  # (A_i + A_i')*x for each i, nothing dropped
    d.check(seed=0)


def test_a_thousand_terms_are_one_flat_sum():
    text = quadratic_forms(1000)
    start = time.thread_time()
    e = sym.parse(text)
    d = sym.derivative(text, wrt="x")
    elapsed = time.thread_time() - start
    assert isinstance(e, E.Add) and len(e.args) == 1000
    assert d.result.size < 20 * 1000  # linear in the number of terms
    # measured 0.8 s of this thread's CPU time; a sum built pairwise (quadratic in the
    # number of terms) takes several times that, so this bound still tells them apart
    assert elapsed < 5.0, elapsed


def test_long_products_are_flat():
    e = sym.parse("*".join(f"a{i}" for i in range(1000)))
    assert isinstance(e, E.Mul) and len(e.args) == 1000
    e = sym.parse(".*".join(f"y{i}" for i in range(500)))
    assert isinstance(e, E.Had) and len(e.args) == 500
    e = sym.parse("x'*" + "*".join(f"A{i}" for i in range(300)) + "*x")
    assert isinstance(e, E.Mul) and len(e.args) == 302
    d = sym.derivative("-" + " - ".join(f"{i + 1}*a/b" for i in range(500)), wrt="b")
    assert d.text == "125250*a/b^2"


def test_products_with_a_scalar_stretch_read_left_to_right():
    # x'*y is 1x1 before A' comes: the product is a scaling, not a bad chain
    assert str(sym.parse("x'*y*A'*z + a*A'*z")) == "a*A'*z + x'*y*A'*z"
    assert str(sym.parse("A*x/2./y")) == "0.5*(A*x)./y"


def test_the_nesting_limit_is_about_nesting_and_gives_the_number():
    for text in [
        "-" * 300 + "x",
        "(" * 200 + "x" + ")" * 200 + "'" * 200,
        "exp(" * 90 + "a" + ")" * 90,
    ]:
        with pytest.raises(SymbolicError) as info:
            sym.parse(text)
        assert "nested too deeply" in info.value.message
        assert f"more than {MAX_DEPTH} levels" in info.value.message
    # alternating * and .* nest (each change of operator is a level)
    with pytest.raises(SymbolicError, match=f"more than {MAX_DEPTH} levels"):
        sym.parse("x" + "".join(f"*a{i}.*y{i}" for i in range(100)))


# ---------------------------------------------------------------- programs


def test_let_style_definitions():
    expected = str(sym.parse("(A*x - b)'*(A*x - b)", ["b: vector"]))
    for text in [
        "t = A*x - b; f = t'*t",
        "t = A*x - b\nf = t'*t",
        "t = A*x - b\nt'*t",
        "\n  t = A*x - b ;\n\n  loss = t'*t\n",
    ]:
        parsed = sym.parse(text, ["b: vector"], _with_info=True)
        assert parsed.text == expected, text
        assert list(parsed.variables) == ["A", "x", "b"]
    assert sym.parse("t = x; f = t'*t", _with_info=True).name == "f"
    assert sym.parse("t = x; t'*t", _with_info=True).name is None


def test_an_expression_over_several_lines():
    text = "x'*A*x +\n  sum(log(1 +\n            exp(B*x)))"
    assert str(sym.parse(text)) == str(sym.parse(text.replace("\n", " ")))
    text = "f = norm2(A*x -\n          b)^2"
    assert str(sym.parse(text, ["b: vector"])) == "norm2(A*x - b)^2"
    text = "sum(exp(\n  A*x\n))"
    assert str(sym.parse(text)) == "sum(exp(A*x))"


def test_a_program_differentiates_and_checks():
    program = "r = A*x - b\nw = exp(-r.^2)\nloss = sum(w) + 0.5*x'*x"
    d = sym.derivative(program, wrt="x", kinds=["b: vector"])
    assert d.variables == ["A", "x", "b"]
    d.check(seed=0)
    h = sym.derivative(program, wrt="x", order=2, kinds=["b: vector"])
    h.check(seed=0)


@pytest.mark.parametrize(
    "source,line,column,message",
    [
        ("t = A*x\nu = t + y\nf = u'*z*", 3, 10, "unexpected end of input"),
        ("t = A*x\nf = t*t", 2, 6, "inner dimensions disagree"),
        ("t = A*x\n\n  f = t + B", 3, 9, "cannot add a vector"),
        ("r = x\nr'*r\nr", 2, 1, "only the last statement is the function"),
        ("t = x; t = y; f = t", 1, 8, "already defined"),
        ("t = x\nsum = t'*t", 2, 1, "function of the language"),
        ("t = x\nf = t'*\n  (y +\n   A)", 3, 6, "cannot add"),
    ],
)
def test_errors_point_at_the_line_and_column(source, line, column, message):
    with pytest.raises(SymbolicError) as info:
        sym.parse(source)
    err = info.value
    assert (err.line, err.column) == (line, column), str(err)
    assert message in err.message
    assert str(err).split("\n")[2].index("^") - 2 == column - 1


def test_a_definition_is_not_a_variable_to_differentiate():
    with pytest.raises(SymbolicError, match="'t' is not a variable"):
        sym.derivative("t = x; f = t'*t", wrt="t")
    # the derivative with respect to the variable is that of the substituted function
    d = sym.derivative("t = 2*x; f = t'*t", wrt="x")
    assert d.text == "8*x"
    value, grad = d.function()(x=np.array([1.0, 2.0]))
    assert value == 20.0 and np.allclose(grad, [8.0, 16.0])
