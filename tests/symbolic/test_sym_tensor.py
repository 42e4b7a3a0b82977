"""Index-notation tensor expressions: parse, differentiate, print, generate einsum code.

Every derivative is compared with central differences and with the numeric engine
(``TensorDerivative.check``), and every value function with NumPy written by hand, so
that a parse that misreads the summation cannot hide behind both engines agreeing.
"""

from __future__ import annotations

import inspect
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import matdiff
import matdiff.numpy as mnp
from matdiff.symbolic import (
    CheckError,
    SymbolicError,
    lambdify,
    tensor_derivative,
    tensor_parse,
)

rng = np.random.default_rng(0)
I, J, K = 2, 3, 4
A = rng.normal(size=(J, J))
B = rng.normal(size=(J, K))
T = rng.normal(size=(J, J, J))
T3 = rng.normal(size=(I, J, K))
W = rng.normal(size=(I, J))
x = rng.normal(size=J)
y = rng.normal(size=J)
b = rng.normal(size=I)

# (expression, arrays, value computed by hand in NumPy)
VALUES = [
    ("f = A[i,j]*x[i]*x[j]", {"A": A, "x": x}, x @ A @ x),
    ("y[i] = A[i,j]*x[j]", {"A": A, "x": x}, A @ x),
    ("y[i] = x[i]*y2[i]", {"x": x, "y2": y}, x * y),
    ("f = T[i,j,k]*x[i]*x[j]*x[k]", {"T": T, "x": x}, np.einsum("ijk,i,j,k", T, x, x, x)),
    ("y[i] = T[i,j,k]*x[j]*x[k]", {"T": T, "x": x}, np.einsum("ijk,j,k->i", T, x, x)),
    ("f = exp(W[i,j]*x[j])", {"W": W, "x": x}, np.sum(np.exp(W @ x))),
    ("f = exp(sum(W[i,j]*x[j]))", {"W": W, "x": x}, np.exp(np.sum(W @ x))),
    ("f = (W[i,j]*x[j] - b[i])^2", {"W": W, "x": x, "b": b}, np.sum((W @ x - b) ** 2)),
    ("f = (x[i]*y2[i])*x[j]", {"x": x, "y2": y}, (x @ y) * np.sum(x)),
    ("f = A[i,i]", {"A": A}, np.trace(A)),
    ("f = log(1 + exp(W[i,j]*x[j]))/2", {"W": W, "x": x}, np.sum(np.log1p(np.exp(W @ x))) / 2),
    ("y[i] = tanh(W[i,j]*x[j]) - 3", {"W": W, "x": x}, np.tanh(W @ x) - 3),
    ("C[i,k] = A[i,j]*B[j,k]", {"A": A, "B": B}, A @ B),
    ("f = sqrt(x[i]*x[i])", {"x": x}, np.linalg.norm(x)),
    ("f = sin(x[i])*cos(y2[i])", {"x": x, "y2": y}, np.sin(x) @ np.cos(y)),
    ("f = T3[i,j,k]*W[i,j]*B[j,k]", {"T3": T3, "W": W, "B": B}, np.einsum("ijk,ij,jk", T3, W, B)),
    ("f = a*x[i]*x[i]", {"a": np.float64(2.5), "x": x}, 2.5 * x @ x),
]


@pytest.mark.parametrize("source,arrays,expected", VALUES, ids=[v[0] for v in VALUES])
def test_tensor_values_match_numpy_by_hand(source, arrays, expected):
    wrt = next(iter(arrays))
    value, _ = tensor_derivative(source, wrt=wrt).function()(**arrays)
    np.testing.assert_allclose(value, expected, rtol=1e-12, atol=1e-12)


# (expression, variable, order, index form, matrix form or None)
CASES = [
    ("f = A[i,j]*x[i]*x[j]", "x", 1, "df[a] = A[a,i]*x[i] + A[i,a]*x[i]", "(A + A')*x"),
    ("f = A[i,j]*x[i]*x[j]", "x", 2, "ddf[a,b] = A[a,b] + A[b,a]", "A + A'"),
    ("f = A[i,j]*x[i]*x[j]", "A", 1, "df[a,b] = x[a]*x[b]", "x*x'"),
    ("y[i] = A[i,j]*x[j]", "x", 1, "dy[i,a] = A[i,a]", "A"),
    ("y[i] = A[i,j]*x[j]", "A", 1, "dy[i,a,b] = x[b]*delta[i,a]", None),
    ("f = A[i,j]*B[j,i]", "A", 1, "df[a,b] = B[b,a]", "B'"),
    (
        "f = (A[i,j]*x[j] - b[i])^2",
        "x",
        1,
        "df[a] = 2*A[i,j]*A[i,a]*x[j] - 2*A[i,a]*b[i]",
        "2*A'*(A*x - b)",
    ),
    ("f = (A[i,j]*x[j] - b[i])^2", "x", 2, "ddf[a,b] = 2*A[i,a]*A[i,b]", "2*A'*A"),
    ("f = x[i]*A[i,j]*y[j]", "A", 1, "df[a,b] = x[a]*y[b]", "x*y'"),
    ("f = A[i,i]", "A", 1, "df[a,b] = delta[a,b]", "eye"),
    (
        "f = T[i,j,k]*x[i]*x[j]*x[k]",
        "x",
        1,
        "df[a] = T[a,i,j]*x[i]*x[j] + T[i,a,j]*x[i]*x[j] + T[i,j,a]*x[i]*x[j]",
        None,
    ),
    ("f = T[i,j,k]*x[i]*x[j]*x[k]", "T", 1, "df[a,b,c] = x[a]*x[b]*x[c]", None),
    (
        "f = T[i,j,k]*x[i]*x[j]*x[k]",
        "x",
        2,
        "ddf[a,b] = T[a,b,i]*x[i] + T[a,i,b]*x[i] + T[b,a,i]*x[i] + T[i,a,b]*x[i]"
        " + T[b,i,a]*x[i] + T[i,b,a]*x[i]",
        None,
    ),
    ("y[i] = T[i,j,k]*x[j]*x[k]", "x", 1, "dy[i,a] = T[i,a,j]*x[j] + T[i,j,a]*x[j]", None),
    ("y[i] = T[i,j,k]*x[j]*x[k]", "x", 2, "ddy[i,a,b] = T[i,a,b] + T[i,b,a]", None),
    ("y[i] = T[i,j,k]*x[j]*x[k]", "T", 1, "dy[i,a,b,c] = x[b]*x[c]*delta[i,a]", None),
    ("f = exp(W[i,j]*x[j])", "W", 1, "df[a,b] = x[b]*exp(W[a,i]*x[i])", "exp(W*x)*x'"),
    ("f = x[i]*x[i]", "x", 2, "ddf[a,b] = 2*delta[a,b]", "2*eye"),
    ("f = exp(sum(x[i]))", "x", 2, "ddf[a,b] = exp(sum[i](x[i]))", "exp(sum(x))*matrix(1)"),
]


@pytest.mark.parametrize("source,wrt,order,text,matrix", CASES, ids=[c[0] for c in CASES])
def test_tensor_derivative_text_matrix_form_and_check(source, wrt, order, text, matrix):
    d = tensor_derivative(source, wrt=wrt, order=order)
    assert d.text == text
    assert d.matrix == matrix
    assert d.check(seed=0) < 1e-6
    assert d.check(seed=1) < 1e-6
    # The printed result parses back to itself.
    assert tensor_parse(d.text).text == text


MORE = [
    ("f = log(1 + exp(W[i,j]*x[j]))", "x", 2),
    ("f = log(1 + exp(W[i,j]*x[j]))", "W", 2),
    ("y[i] = tanh(W[i,j]*x[j])", "W", 1),
    ("y[i] = tanh(W[i,j]*x[j])", "x", 2),
    ("f = sin(x[i])*cos(x[i])/2", "x", 2),
    ("f = sqrt(x[i]*x[i])", "x", 2),
    ("f = T3[i,j,k]*W[i,j]*B[j,k]", "T3", 1),
    ("f = T3[i,j,k]*W[i,j]*B[j,k]", "W", 2),
    ("y[i] = x[i]*z[i]", "x", 1),
    ("y[i] = exp(x[i]) + 1", "x", 2),
    ("f = a*x[i]*x[i]", "a", 1),
    ("f = a^3*x[i]", "a", 2),
    ("y[i] = exp(sum[j](A[i,j]*x[j]*x[j]))", "x", 2),
    ("C[i,k] = A[i,j]*B[j,k]", "A", 1),
    ("f = (x[i] - y[i])^2/(1 + x[j]*x[j])", "x", 2),
    ("y[i] = 1/x[i]", "x", 2),
    ("f = A[i,j]*x[j]/A[k,k]", "A", 2),
    ("f = tanh(W3[i,j]*tanh(W2[j,k]*tanh(W1[k,l]*x[l])))", "W1", 1),
]


@pytest.mark.parametrize("source,wrt,order", MORE, ids=[f"{m[0]} d{m[1]}^{m[2]}" for m in MORE])
def test_tensor_derivatives_check_against_differences_and_the_numeric_engine(source, wrt, order):
    d = tensor_derivative(source, wrt=wrt, order=order)
    assert d.check(seed=3) < 1e-6
    assert tensor_parse(d.text).text == d.text


ALL = [c[:3] for c in CASES] + MORE


@pytest.mark.parametrize("source,wrt,order", ALL, ids=[f"{m[0]} d{m[1]}^{m[2]}" for m in ALL])
def test_tensor_matrix_form_evaluates_to_the_index_form(source, wrt, order):
    d = tensor_derivative(source, wrt=wrt, order=order)
    if d.matrix is None:
        return
    sizes = d._sizes()
    gen = np.random.default_rng(5)
    arrays = {name: gen.uniform(0.5, 1.0, shape) for name, shape in sizes.items()}
    _, deriv = d.function()(**arrays)
    kinds = {n: ("scalar", "vector", "matrix")[r] for n, r in d.expr.ranks.items()}
    # A constant (eye, matrix(1)) takes its size from the variable it is a derivative in.
    dims: dict[str, int] = {}
    while True:
        try:
            fn = lambdify(d.matrix, kinds=kinds, dims=dims)
            break
        except SymbolicError as err:
            missing = re.search(r"dims=\{'([^']+)'", str(err))
            assert missing and missing.group(1) not in dims, str(err)
            dims[missing.group(1)] = sizes[wrt][0]
    used = inspect.signature(fn).parameters
    got = fn(**{k: v for k, v in arrays.items() if k in used})
    np.testing.assert_allclose(got, deriv, rtol=1e-12, atol=1e-12)
    assert np.shape(got) == deriv.shape


def test_tensor_hessian_of_a_cubic_form_is_jacfwd_of_jacrev():
    d = tensor_derivative("f = T[i,j,k]*x[i]*x[j]*x[k]", wrt="x", order=2)
    f = d.value_function(mnp)

    def value(v):
        return f(T=T, x=v)

    _, hess = d.function()(T=T, x=x)
    np.testing.assert_allclose(hess, matdiff.hessian(value)(x), rtol=1e-12, atol=1e-12)
    sym = T + T.transpose(0, 2, 1) + T.transpose(1, 0, 2)
    sym = sym + T.transpose(1, 2, 0) + T.transpose(2, 0, 1) + T.transpose(2, 1, 0)
    np.testing.assert_allclose(hess, sym @ x, rtol=1e-12, atol=1e-12)


def test_tensor_jacobian_layout_is_out_shape_then_var_shape():
    d = tensor_derivative("y[i] = T3[i,j,k]*B[j,k]", wrt="B")
    _, jac = d.function()(T3=T3, B=B)
    assert jac.shape == (I, J, K)
    np.testing.assert_allclose(jac, T3)
    h = tensor_derivative("y[i] = T[i,j,k]*x[j]*x[k]", wrt="x", order=2)
    assert h.function()(T=T, x=x)[1].shape == (J, J, J)


def test_tensor_code_uses_einsum_with_an_optimised_path():
    d = tensor_derivative("f = T[i,j,k]*x[i]*x[j]*x[k]", wrt="x")
    src = d.numpy_source
    assert "np.einsum('abc,a,b,c->', T, x, x, x, optimize=True)" in src
    assert src.startswith("def derivative(T, x):")


def test_tensor_shared_subexpressions_are_computed_once():
    d = tensor_derivative("f = log(1 + exp(W[i,j]*x[j]))", wrt="x", order=2)
    assert d.numpy_source.count("np.exp(") == 1


def test_tensor_latex():
    assert tensor_derivative("f = A[i,j]*x[i]*x[j]", wrt="x").latex == (
        r"\frac{\partial f}{\partial x_{a}} = A_{ai} x_{i} + A_{ia} x_{i}"
    )
    h = tensor_derivative("y[i] = exp(W[i,j]*x[j])", wrt="x", order=2)
    assert h.latex == (
        r"\frac{\partial^2 y_{i}}{\partial x_{a} \partial x_{b}} = "
        r"W_{ia} W_{ib} \exp\left(W_{ij} x_{j}\right)"
    )


def test_tensor_parse_prints_canonical_text():
    assert tensor_parse("f = x[i]*A[i,j]*x[j]").text == "f = A[i,j]*x[i]*x[j]"
    assert tensor_parse("f = x[i]*x[i] + x[j]*x[j]").text == "f = 2*x[i]*x[i]"
    assert tensor_parse("y[i] = -(A[i,j]*x[j])").text == "y[i] = -A[i,j]*x[j]"
    assert tensor_parse("f = 2^3*x[i]/4").text == "f = 2*x[i]"
    assert tensor_parse("A[i,j]*x[i]*x[j]").text == "f = A[i,j]*x[i]*x[j]"
    assert tensor_parse("y[i] =\n  A[i,j]*x[j]\n  - b[i]").text == "y[i] = A[i,j]*x[j] - b[i]"


def test_tensor_dims_choose_the_check_sizes():
    d = tensor_derivative("y[i] = T[i,j,k]*x[j]*x[k]", wrt="x", dims={"T": (5, 3, 3)})
    assert d.check() < 1e-6
    assert d._sizes()["x"] == (3,)


ERRORS = [
    ("f = A[i,j]*x[i", "line 1, column 15: expected ']', found end of input"),
    ("f = A[i,j]*x[i]*", "expected a number, a name or '(', found end of input"),
    ("f = A[i,j]*x[i] $ 2", "line 1, column 17: unexpected character '$'"),
    ("f = A[i,j]*A[i]", "line 1, column 12: A has 1 indices here but 2 before"),
    ("f = foo(x[i])", "line 1, column 5: unknown function foo; known: exp, log,"),
    ("f = exp*x[i]", "exp is a function: write exp(...)"),
    ("y[i,i] = A[i,i]", "line 1, column 2: an index occurs twice on the left side"),
    ("f = x[i]/0", "line 1, column 10: division by zero"),
    ("f = delta[i]*x[i]", "delta takes two indices"),
    ("f = x[i]^y", "line 1, column 10: expected a number, found 'y'"),
    ("f = x[i]\n  + y[j] )", "line 2, column 10: unexpected ')'"),
    ("f = x[_i]", "line 1, column 7: unexpected character '_'"),
]


@pytest.mark.parametrize("source,message", ERRORS, ids=[e[0] for e in ERRORS])
def test_tensor_parse_errors_name_line_and_column(source, message):
    with pytest.raises(SymbolicError) as err:
        tensor_parse(source)
    assert message in str(err.value)


def test_tensor_api_errors():
    with pytest.raises(
        SymbolicError, match="z is not a variable of the expression; its variables: A, x"
    ):
        tensor_derivative("f = A[i,j]*x[i]*x[j]", wrt="z")
    with pytest.raises(SymbolicError, match="order must be 1 or 2, not 3"):
        tensor_derivative("f = x[i]", wrt="x", order=3)
    with pytest.raises(SymbolicError, match="wrt must be a variable's name, not list"):
        tensor_derivative("f = x[i]", wrt=["x"])
    with pytest.raises(SymbolicError, match="order must be 1 or 2, not True"):
        tensor_derivative("f = x[i]", wrt="x", order=True)
    with pytest.raises(SymbolicError, match="an expression must be a string, not int"):
        tensor_parse(3)
    with pytest.raises(SymbolicError, match=r"dims\['x'\] has 2 sizes but x has 1 indices"):
        tensor_derivative("f = x[i]", wrt="x", dims={"x": (2, 3)})
    with pytest.raises(SymbolicError, match="dims names q, which is not a variable"):
        tensor_derivative("f = x[i]", wrt="x", dims={"q": (2,)})
    with pytest.raises(SymbolicError, match=r"dims\['x'\] must be a tuple of positive integers"):
        tensor_derivative("f = x[i]", wrt="x", dims={"x": (2.5,)})
    with pytest.raises(SymbolicError, match="another axis over the same index has size 2"):
        tensor_derivative("f = A[i,j]*x[i]*x[j]", wrt="x", dims={"A": (2, 3), "x": (3,)}).check()
    f = tensor_derivative("f = A[i,j]*x[i]*x[j]", wrt="x").function()
    with pytest.raises(SymbolicError, match="missing argument x"):
        f(A=A)
    with pytest.raises(SymbolicError, match="unknown argument q; expected A, x"):
        f(A=A, x=x, q=x)
    with pytest.raises(
        SymbolicError, match=r"x has 1 indices, so it needs a 1-D array, not one of shape \(3, 3\)"
    ):
        f(A=A, x=A)
    with pytest.raises(SymbolicError, match="so its size is unknown"):
        _ = tensor_derivative("f[a] = x[i]", wrt="x").numpy_source


def test_tensor_check_raises_on_a_wrong_derivative():
    d = tensor_derivative("f = x[i]*x[i]*x[i]", wrt="x")
    d.sum = tensor_derivative("f = x[i]*x[i]*x[i]*x[i]", wrt="x").sum
    with pytest.raises(CheckError, match="disagrees with the numeric engine"):
        d.check()


def test_tensor_limits_refuse_hostile_input_with_a_message():
    with pytest.raises(SymbolicError, match="nested more than 100 deep"):
        tensor_parse("f = " + "(" * 150 + "x[i]" + ")" * 150)
    with pytest.raises(SymbolicError, match="the product expands to more than 10000 terms"):
        tensor_parse("f = " + "*".join(["(x[i] + y[i])"] * 20))
    with pytest.raises(SymbolicError, match=r"column 6: 0\^-1 is not a finite real number"):
        tensor_parse("f = 0^-1*x[i]")
    with pytest.raises(SymbolicError, match=r"10\^400 is not a finite real number"):
        tensor_parse("f = 10^400*x[i]")


ALPHABET = "ijkxyATs0123456789.*+-/^()[],=\n _eplogsqrtdeltasum"
FAST = settings(max_examples=200, deadline=None, derandomize=True)


@FAST
@given(st.text(alphabet=ALPHABET, max_size=60))
def test_tensor_random_text_only_raises_symbolic_error(text):
    try:
        e = tensor_parse(text)
    except SymbolicError as err:
        assert err.message
        return
    assert tensor_parse(e.text).text == e.text
    for name in e.variables:
        try:
            tensor_derivative(text, wrt=name)
        except SymbolicError:
            pass


@FAST
@given(st.text(max_size=40))
def test_tensor_arbitrary_unicode_only_raises_symbolic_error(text):
    try:
        tensor_parse(text)
    except SymbolicError:
        pass


# Random well-formed expressions over a matrix, a vector, a 3-way tensor and a scalar.
VARIABLES = {"A": 2, "x": 1, "T": 3, "s": 0}


@st.composite
def factors(draw, depth=0):
    kind = draw(st.sampled_from(["var", "var", "func", "square"] if depth < 2 else ["var"]))
    if kind == "var":
        name = draw(st.sampled_from(sorted(VARIABLES)))
        idx = draw(
            st.lists(st.sampled_from("ijk"), min_size=VARIABLES[name], max_size=VARIABLES[name])
        )
        return f"{name}[{','.join(idx)}]" if idx else name
    inner = draw(products(depth + 1))
    if kind == "func":
        return f"{draw(st.sampled_from(['exp', 'sin', 'cos', 'tanh']))}(0.3*{inner})"
    return f"({inner} - 1)^2"


@st.composite
def products(draw, depth=0):
    return "*".join(draw(st.lists(factors(depth), min_size=1, max_size=3)))


@settings(
    max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(st.lists(products(), min_size=1, max_size=3), st.booleans(), st.data())
def test_tensor_random_expressions_check_numerically(terms, vector, data):
    source = ("y[i] = x[i]*(" if vector else "f = (") + " + ".join(terms) + ")"
    e = tensor_parse(source)
    assert tensor_parse(e.text).text == e.text
    wrt = data.draw(st.sampled_from(e.variables))
    order = data.draw(st.sampled_from([1, 2]))
    d = tensor_derivative(source, wrt=wrt, order=order)
    assert tensor_parse(d.text).text == d.text
    assert d.check(seed=0) < 1e-6


def test_tensor_names_that_generated_code_could_not_use_are_refused_or_kept_apart():
    # a variable called np is the user's, not NumPy: generated code reaches NumPy as _np
    d = tensor_derivative("f = np[i]*x[i]", "x")
    value, deriv = d.function()(np=np.arange(3.0), x=np.ones(3))
    assert value == 3.0 and deriv.tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(SymbolicError, match="'lambda' is a reserved word"):
        tensor_derivative("f = x[i]*lambda[i]", "x").function()


def test_a_lone_delta_summed_over_both_indices_is_refused():
    # its value would be the size of an axis no variable has; it used to count as 1
    with pytest.raises(SymbolicError, match=r"delta\[i,j\] sums indices .* size is unknown"):
        tensor_derivative("f = delta[i,j]*x[k]*x[k]", "x")
