"""The language: precedence, kinds, declarations, definitions, and every error path."""

import pytest

from matdiff import symbolic as sym
from matdiff.symbolic import SymbolicError, parse
from matdiff.symbolic.parser import default_kind, parse_declaration


@pytest.mark.parametrize(
    "source,text",
    [
        ("x'*A*x", "x'*A*x"),
        ("(x'*A)'", "A'*x"),
        ("a*b + c", "a*b + c"),
        ("a + b*c", "a + b*c"),
        ("(a + b)*c", "c*(a + b)"),
        ("-a^2", "-a^2"),
        ("a^-1", "1/a"),
        ("x.^2", "x.^2"),
        ("x./y", "x./y"),
        ("2.*x", "2*x"),  # 2 .* x: scaling, not the number 2.
        ("x/2", "0.5*x"),
        ("1 + x", "1 + x"),
        ("x - 1", "x - 1"),
        ("c .* X", "c*X"),
        ("A''", "A"),
        ("A^2", "A^2"),
        ("A^-2", "inv(A)^2"),
        ("A^0", "eye"),
        ("diag(diag(x))", "x"),
        ("diag(x)'", "diag(x)"),
        ("det(A')", "det(A)"),
        ("inv(inv(A))", "A"),
        ("A*inv(A)", "eye"),
        ("exp(log(x))", "x"),
        ("tr(x*y')", "x'*y"),
        ("sum(vector(2))", "sum(vector(2))"),
        ("norm2(x')", "norm2(x)"),
        ("3e-2*x", "0.03*x"),
        ("t = A*x; t'*t", "x'*A'*A*x"),
        ("t = A*x\nu = t + 1\nsum(u)", "sum(A*x) + sum(vector(1))"),
    ],
)
def test_canonical_text(source, text):
    assert str(parse(source)) == text
    # canonical text re-parses to itself
    assert str(parse(text)) == text


def test_default_kinds_by_first_letter():
    assert [default_kind(n) for n in ("a", "g", "h", "z", "A", "Z", "beta", "Xtrain")] == [
        "scalar",
        "scalar",
        "vector",
        "vector",
        "matrix",
        "matrix",
        "scalar",
        "matrix",
    ]


def test_declarations():
    assert parse_declaration("A: m x n") == sym.parser.Declaration("A", "matrix", ("m", "n"))
    assert parse_declaration("S: symmetric").kind == "symmetric"
    assert parse_declaration("x: vector n").dims == ("n",)
    assert parse_declaration("a: vector").kind == "vector"
    assert parse_declaration("w: scalar").kind == "scalar"
    info = parse("x'*S*x", {"S": "symmetric n", "x": "n"}, _with_info=True)
    assert info.variables["S"].shape == ("n", "n")
    assert info.variables["x"].shape == ("n", 1)


def test_declared_kinds_override_letters():
    # a is a vector here, so a'*x is an inner product
    assert str(parse("a'*x", {"a": "vector"})) == "a'*x"
    # S' is S for a symmetric matrix
    assert str(parse("S'*x", {"S": "symmetric"})) == "S*x"


def test_declaration_list_form():
    e = parse("x'*S*x", ["S: symmetric", "x: vector"])
    assert str(e) == "x'*S*x"


@pytest.mark.parametrize(
    "source,kinds,line,column,message",
    [
        ("x*y", None, 1, 2, "inner dimensions disagree"),
        ("x*y", None, 1, 2, "x'*y"),
        ("A*", None, 1, 3, "expected"),
        ("A*", None, 1, 3, "a name"),
        ("det(x)", None, 1, 1, "square matrix"),
        ("foo(x)", None, 1, 1, "unknown function 'foo'"),
        ("x + A", None, 1, 3, "cannot add"),
        ("(x", None, 1, 3, "expected ')'"),
        ("x @ y", None, 1, 3, "unexpected character '@'"),
        ("tr", None, 1, 1, "tr is a function"),
        ("x/y", None, 1, 2, "divide by a scalar"),
        ("x^2", None, 1, 2, "use .^"),
        ("A^0.5", None, 1, 3, "integer exponent"),
        ("A^100", None, 1, 2, "limited"),
        ("x^y", None, 1, 3, "exponent must be a scalar; for an elementwise power write .^"),
        ("x.^A", None, 1, 2, "elementwise .^ needs equal shapes or a scalar side"),
        ("(-2).^x", None, 1, 5, "needs a positive base, not -2"),
        ("vector(x)", None, 1, 8, "scalar constant"),
        ("vector(a)", None, 1, 1, "need a number"),
        (
            "A*B",
            {"A": "m x n", "B": "k x m"},
            1,
            2,
            "with n columns, right is a kxm matrix with k rows",
        ),
        ("A + B", {"A": "m x n", "B": "n x m"}, 1, 3, "cannot add"),
        ("A.*B", {"A": "m x n", "B": "n x m"}, 1, 2, "equal shapes"),
        ("inv(A)", {"A": "m x n"}, 1, 1, "square"),
        ("lambda + x", None, 1, 1, "reserved word"),
        ("t = x; t = y; t", None, 1, 8, "already defined"),
        ("sum(x, y)", None, 1, 1, "takes 1 argument"),
        ("kron(A)", None, 1, 1, "takes 2 arguments"),
        ("t = x'*A*x\nt + y*", None, 2, 7, "unexpected end of input"),
        ("t = x\n t*z", None, 2, 3, "inner dimensions"),
        ("x\n+ y", None, 1, 1, "only the last statement is the function"),
        ("1e999*x", None, 1, 1, "out of range"),
        ("x(1)", None, 1, 1, "unknown function 'x'"),
        ("t = 1; t(2)", None, 1, 8, "variable, not a function"),
        ("sum = x; sum", None, 1, 1, "function of the language"),
        ("x ++ y'", None, 1, 3, "cannot add"),  # x + (+y'): unary plus is allowed
        ("diag(A)", {"A": "m x n"}, 1, 1, "square"),
    ],
)
def test_error_positions(source, kinds, line, column, message):
    with pytest.raises(SymbolicError) as info:
        parse(source, kinds)
    err = info.value
    assert (err.line, err.column) == (line, column), str(err)
    assert message in err.message
    # the rendered message shows the line and a caret under the column
    rendered = str(err).split("\n")
    assert rendered[0].startswith(f"line {line}, column {column}:")
    assert rendered[2].index("^") - 2 == column - 1


def test_empty_and_non_string():
    with pytest.raises(SymbolicError, match="empty"):
        parse("   ")
    with pytest.raises(SymbolicError, match="string"):
        parse(None)


def test_too_long_and_too_deep():
    with pytest.raises(SymbolicError, match="longer"):
        parse("x+" * 50_000 + "x")
    with pytest.raises(SymbolicError, match="nested too deeply"):
        parse("-" * 300 + "x")
    with pytest.raises(SymbolicError, match="nested too deeply"):
        parse("(" * 200 + "x" + ")" * 200 + "'" * 200)


def test_bad_declarations():
    with pytest.raises(SymbolicError, match="cannot read declaration"):
        parse_declaration("A m x n")
    with pytest.raises(SymbolicError, match="takes"):
        parse_declaration("a: scalar n")
    with pytest.raises(SymbolicError, match="function of the language"):
        parse_declaration("tr: matrix")
    with pytest.raises(SymbolicError, match="reserved"):
        parse_declaration("def: matrix")


def test_kron_parses_with_product_dimensions():
    e = parse("kron(A, B)", {"A": "m x n", "B": "p x q"})
    assert e.shape == ("m*p", "n*q")
