"""Property tests: random and mutated input never escapes as anything but SymbolicError.

Valid random expressions are also differentiated and checked numerically, so the engine
is exercised on shapes of expressions nobody wrote by hand.
"""

import contextlib
import io
import re
import time

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matdiff import symbolic as sym
from matdiff.cli import main
from matdiff.symbolic import SymbolicError

ALPHABET = "abcxyzAXS0123456789.*+-/^'(),;=\n eptrsdgolinvmkqu_"
KINDS = {"A": "n x n", "B": "n x n", "S": "symmetric n", "x": "vector n", "y": "vector n"}
FAST = settings(max_examples=150, deadline=None, derandomize=True)
CHECKED = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def parse_timed(text, kinds=None):
    start = time.thread_time()
    try:
        return sym.parse(text, kinds)
    finally:
        assert time.thread_time() - start < 1.0, f"parse took too long on {text!r}"


@FAST
@given(st.text(alphabet=ALPHABET, max_size=60))
def test_random_text_only_raises_symbolic_error(text):
    try:
        parse_timed(text, KINDS)
    except SymbolicError as err:
        assert err.message
        return
    try:
        sym.derivative(text, wrt="x", kinds=KINDS)
    except SymbolicError:
        pass


@FAST
@given(st.text(max_size=40))
def test_arbitrary_unicode_only_raises_symbolic_error(text):
    try:
        parse_timed(text)
    except SymbolicError:
        pass


# ---------------------------------------------------------------- well-typed expressions

_SCALAR_FN = st.sampled_from(["exp", "sin", "cos", "tanh", "arctan", "sinh"])


def _exprs(depth=3):
    """(scalar, vector, matrix) expression texts over n-vectors and n x n matrices."""
    scalar_leaf = st.sampled_from(["a", "b", "2", "0.5", "x'*y", "tr(A)", "sum(x)"])
    vector_leaf = st.sampled_from(["x", "y", "A*x", "S*y"])
    matrix_leaf = st.sampled_from(["A", "B", "S", "eye"])
    if depth == 0:
        return st.tuples(scalar_leaf, vector_leaf, matrix_leaf)
    sub = _exprs(depth - 1)
    s = sub.map(lambda t: t[0])
    v = sub.map(lambda t: t[1])
    m = sub.map(lambda t: t[2])
    scalar = st.one_of(
        scalar_leaf,
        st.builds("({}) + ({})".format, s, s),
        st.builds("({})*({})".format, s, s),
        st.builds("{}({})".format, _SCALAR_FN, s),
        st.builds("sum({})".format, v),
        st.builds("({})'*({})".format, v, v),
        st.builds("tr({})".format, m),
        st.builds("norm2({})".format, v),
    )
    vector = st.one_of(
        vector_leaf,
        st.builds("({}) + ({})".format, v, v),
        st.builds("({}) - ({})".format, v, v),
        st.builds("({})*({})".format, m, v),
        st.builds("({}).*({})".format, v, v),
        st.builds("({})*({})".format, s, v),
        st.builds("{}({})".format, _SCALAR_FN, v),
    )
    matrix = st.one_of(
        matrix_leaf,
        st.builds("({}) + ({})".format, m, m),
        st.builds("({})*({})".format, m, m),
        st.builds("({})'".format, m),
        st.builds("({})*({})'".format, v, v),
        st.builds("diag({})".format, v),
        st.builds("({})*({})".format, s, m),
    )
    return st.tuples(scalar, vector, matrix)


@CHECKED
@given(_exprs(), st.sampled_from([1, 2]))
def test_random_expressions_differentiate_correctly(parts, order):
    scalar_expr = parts[0]
    names = sym.parse(scalar_expr, KINDS, _with_info=True).variables
    for wrt in [v for v in ("x", "A", "a", "S") if v in names]:
        try:
            d = sym.derivative(scalar_expr, wrt=wrt, order=order, kinds=KINDS, dims={"n": 3})
        except SymbolicError as err:
            # refusing is allowed, but only for want of a matrix form
            assert "cannot write the derivative" in err.message, err.message
            continue
        try:
            report = d.check(seed=0, sizes={"n": 3})
        except SymbolicError as err:
            assert "finite value" in err.message or "cannot be inferred" in err.message
            continue
        assert report.fd_error < (1e-5 if order == 1 else 1e-4)


@CHECKED
@given(_exprs())
def test_printed_text_parses_back_to_the_same_expression(parts):
    """Printing is canonical and faithful: the text of a parse parses to the same text and
    evaluates to the same numbers, for scalar, vector and matrix expressions alike."""
    rng = np.random.default_rng(0)
    values = {
        "a": 0.7,
        "b": -0.4,
        "x": rng.normal(size=3),
        "y": rng.normal(size=3),
        "A": rng.normal(size=(3, 3)),
        "B": rng.normal(size=(3, 3)),
        "S": np.eye(3) + 0.1,
    }
    for text in parts:
        e = sym.parse(text, KINDS)
        printed = str(e)
        assert str(sym.parse(printed, KINDS)) == printed
        try:
            f1 = sym.lambdify(text, KINDS, dims={"n": 3})
            f2 = sym.lambdify(printed, KINDS, dims={"n": 3})
        except SymbolicError as err:
            # tr(eye) or a zero vector(0) has no variable to take its size from
            assert "cannot be inferred" in err.message
            continue
        names = sym.parse(text, KINDS, _with_info=True).variables
        names2 = sym.parse(printed, KINDS, _with_info=True).variables
        with np.errstate(all="ignore"):
            v1 = f1(**{k: values[k] for k in names})
            v2 = f2(**{k: values[k] for k in names2})
        assert np.allclose(v1, v2, equal_nan=True), (text, printed)


@CHECKED
@given(_exprs(), st.data())
def test_mutated_expressions_only_raise_symbolic_error(parts, data):
    text = " ".join(parts)  # three expressions side by side: never valid as is
    chars = list(text)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(chars)))
        op = data.draw(st.sampled_from(["insert", "delete", "replace"]))
        c = data.draw(st.sampled_from(ALPHABET))
        if op == "insert":
            chars.insert(i, c)
        elif chars and i < len(chars):
            if op == "delete":
                del chars[i]
            else:
                chars[i] = c
    mutated = "".join(chars)
    for candidate in (mutated, parts[0] + mutated[:5], mutated.replace(" ", "+")):
        try:
            parse_timed(candidate, KINDS)
            sym.derivative(candidate, wrt="x", kinds=KINDS, dims={"n": 3})
        except SymbolicError:
            pass


def test_deep_nesting_is_refused_quickly():
    for text in [
        "(" * 500 + "x" + ")" * 500,
        "-" * 2000 + "a",
        "x" + "'" * 3000,
        "exp(" * 300 + "a" + ")" * 300,
    ]:
        start = time.thread_time()
        try:
            sym.derivative(text, wrt="x")
        except SymbolicError:
            pass
        assert time.thread_time() - start < 1.0


def test_large_expansion_is_bounded():
    # a product of many sums would expand to 2**12 terms: the budget keeps it bounded
    text = "*".join(["(a + b)"] * 12)
    start = time.thread_time()
    d = sym.derivative(text, wrt="a")
    assert time.thread_time() - start < 5.0
    value, deriv = d.function()(a=0.3, b=0.2)
    assert np.isclose(deriv, 12 * 0.5**11)


# ---------------------------------------------------------------- programs and long sums

VALUES = {
    "a": 0.7,
    "b": -0.4,
    "x": np.array([0.3, -1.1, 0.8]),
    "y": np.array([1.2, 0.5, -0.7]),
    "A": np.array([[1.0, 0.2, -0.3], [0.4, -0.8, 0.5], [0.1, 0.6, 0.9]]),
    "B": np.array([[0.3, -0.5, 0.2], [0.7, 0.1, -0.4], [-0.2, 0.8, 0.6]]),
    "S": np.eye(3) + 0.1,
}


def _value(text):
    parsed = sym.parse(text, KINDS, _with_info=True)
    f = sym.lambdify(text, KINDS, dims={"n": 3})
    with np.errstate(all="ignore"):
        return f(**{k: VALUES[k] for k in parsed.variables})


@st.composite
def _programs(draw):
    """(program, the same function as one expression): definitions on lines or after ;."""
    s, v, m = draw(_exprs(2))
    s2, v2, _ = draw(_exprs(1))
    defs = [("t", v), ("u", f"({s})*t + {v2}"), ("M", m)]
    body = draw(st.sampled_from(["t'*u + {s2}", "sum(M*u) - {s2}", "f = norm2(t - u)^2"]))
    body = body.format(s2=s2)
    seps = [draw(st.sampled_from(["\n", ";", " ;\n", "\n\n"])) for _ in defs]
    program = "".join(f"{name} = {text}{sep}" for (name, text), sep in zip(defs, seps)) + body
    inline = body.removeprefix("f = ")
    for name, text in reversed(defs):
        inline = re.sub(rf"\b{name}\b", f"({text})", inline)
    return program, inline


@CHECKED
@given(_programs())
def test_programs_are_their_substituted_expression(case):
    program, inline = case
    try:
        printed = str(sym.parse(program, KINDS))
    except SymbolicError as err:
        assert "cannot be inferred" in err.message or "too large" in err.message
        return
    assert printed == str(sym.parse(inline, KINDS))
    assert str(sym.parse(printed, KINDS)) == printed
    try:
        v1, v2 = _value(program), _value(inline)
    except SymbolicError as err:
        assert "cannot be inferred" in err.message
        return
    assert np.allclose(v1, v2, equal_nan=True)


@CHECKED
@given(_programs(), st.data())
def test_mutated_programs_only_raise_symbolic_error(case, data):
    chars = list(case[0])
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(chars)))
        c = data.draw(st.sampled_from(ALPHABET))
        if data.draw(st.booleans()) or i == len(chars):
            chars.insert(i, c)
        else:
            chars[i] = c
    try:
        parse_timed("".join(chars), KINDS)
        d = sym.derivative("".join(chars), wrt="x", kinds=KINDS, dims={"n": 3})
        assert d.steps[-1].expression == d.text
    except SymbolicError as err:
        assert err.message


@CHECKED
@given(st.lists(st.tuples(st.sampled_from(["+", "-"]), _exprs(1)), min_size=1, max_size=120))
def test_long_sums_print_and_parse_back(terms):
    """A flat sum of many terms (scalars, then vectors filling in) parses back to itself."""
    text = "".join(f" {sign} {parts[0]}" for sign, parts in terms).strip(" +")
    vec = "".join(f" {sign} {parts[1]}" for sign, parts in terms).strip(" +")
    for source in (text, vec, f"{text} + {vec}"):
        try:
            printed = str(parse_timed(source, KINDS))
        except SymbolicError as err:
            assert "too large" in err.message
            continue
        assert str(sym.parse(printed, KINDS)) == printed


@CHECKED
@given(_exprs(), st.sampled_from([1, 2]))
def test_derivative_text_parses_back(parts, order):
    """A result's text, temporaries and all, is a program that parses; the last step is it."""
    for wrt in ("x", "A"):
        try:
            d = sym.derivative(parts[0], wrt=wrt, order=order, kinds=KINDS, dims={"n": 3})
        except SymbolicError:
            continue
        assert d.steps[-1].expression == d.text
        if d.form == "tensor":
            continue
        kinds = dict(KINDS)
        printed = sym.parse(d.text, kinds)
        assert str(sym.parse(str(printed), kinds)) == str(printed)


@FAST
@given(
    st.text(alphabet=ALPHABET, max_size=30),
    st.lists(st.text(alphabet="nmk=0123456789²x: ", max_size=8), max_size=2),
    st.lists(st.text(alphabet="AxbS: 0123456789mnxvectorsymi", max_size=14), max_size=2),
)
def test_the_command_fails_in_one_line(expression, dims, declares):
    """Whatever the arguments, matdiff diff answers with a status, never a traceback."""
    argv = ["diff", expression, "--wrt", "x"]
    for item in dims:
        argv += ["--dim", item]
    for item in declares:
        argv += ["--declare", item]
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(argv)
    except SystemExit as exit:  # argparse: an argument that looks like an option
        status = exit.code
    assert status in (0, 2)
    if status == 2:
        lines = err.getvalue().splitlines()
        assert lines and "error: " in lines[0] and "Traceback" not in err.getvalue()
