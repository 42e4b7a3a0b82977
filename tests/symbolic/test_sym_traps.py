"""The traps a new user falls into, each refused or pointed out with a message."""

import numpy as np
import pytest

from matdiff import symbolic as sym
from matdiff.symbolic import SymbolicError
from matdiff.symbolic.check import MAX_CHECK_ENTRIES

# ---------------------------------------------------------------- function() arguments


def test_an_array_for_a_scalar_variable_is_refused_naming_it():
    f = sym.derivative("a*x'*x", wrt="x").function()
    with pytest.raises(SymbolicError) as info:
        f(a=np.ones(3), x=np.ones(3))
    assert "a is a scalar, so it needs a number, not an array of shape (3,)" in str(info.value)
    value, grad = f(a=2.0, x=np.ones(3))  # a number is fine
    assert value == 6.0 and np.allclose(grad, 4.0)


def test_a_missing_argument_is_named_as_missing():
    f = sym.derivative("norm2(A*x - b)^2", wrt="x", kinds=["b: vector"]).function()
    with pytest.raises(SymbolicError) as info:
        f(A=np.ones((6, 3)), x=np.ones(3))
    assert "the argument b is missing; pass A, x, b" in str(info.value)
    with pytest.raises(SymbolicError, match="the arguments A, b are missing"):
        f(x=np.ones(3))


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (
            {"A": np.ones(3), "x": np.ones(3)},
            "A is a matrix, so it needs a 2-D array, not an array of shape (3,)",
        ),
        (
            {"A": np.ones((3, 3)), "x": np.ones((3, 3))},
            "x is a vector, so it needs a 1-D array, not an array of shape (3, 3)",
        ),
        ({"A": np.ones((3, 3)), "x": 1.0}, "x is a vector, so it needs a 1-D array, not a number"),
        (
            {"A": np.ones((3, 3)), "x": np.ones(3), "z": 1.0},
            "z is not a variable of the expression (its variables: x, A)",
        ),
        ({"A": np.ones((3, 4)), "x": np.ones(3)}, "A.shape[1] is 4 but x.shape[0] is 3"),
    ],
)
def test_every_argument_is_checked_against_its_kind(kwargs, message):
    f = sym.derivative("x'*A*x", wrt="x").function()
    with pytest.raises(SymbolicError) as info:
        f(**kwargs)
    assert message in str(info.value)


def test_too_many_positional_arguments():
    f = sym.derivative("x'*x", wrt="x").function()
    with pytest.raises(SymbolicError, match=r"takes 1 arguments \(x\), not 2"):
        f(np.ones(2), np.ones(2))
    with pytest.raises(SymbolicError, match="x is a vector, so it needs a 1-D array"):
        f(np.ones((2, 1)))  # vectors are 1-D arrays, as in the numeric engine


def test_sizes_given_in_dims_are_checked():
    f = sym.derivative("x'*x", wrt="x", kinds=["x: n"], dims={"n": 3}).function()
    with pytest.raises(SymbolicError, match=r"x.shape\[0\] is 4 but dims\['n'\] is 3"):
        f(x=np.ones(4))


# ---------------------------------------------------------------- the letter rule


def test_a_letter_scalar_added_to_a_vector_is_pointed_out():
    d = sym.derivative("norm2(A*x - b)^2", wrt="x")
    assert d.text == "2*A'*(A*x - b*vector(1))"
    (note,) = d.notes
    assert note.startswith("b is a scalar by the letter rule (names starting with a-g are scalars)")
    assert "added to a vector of length rows(A) entry by entry" in note
    assert "kinds={'b': 'vector'}" in note and '--declare "b: vector"' in note
    # declared, or added to a scalar, or a number: nothing to point out
    assert sym.derivative("norm2(A*x - b)^2", wrt="x", kinds=["b: vector"]).notes == []
    assert sym.derivative("x'*x + b", wrt="x").notes == []
    assert sym.derivative("sum(x + 1)", wrt="x").notes == []
    assert sym.derivative("sum(x - b)", wrt="x", kinds={"b": "scalar"}).notes == []
    # through a definition too
    assert "c is a scalar" in sym.derivative("t = 2*c; sum(x + t)", wrt="x").notes[0]


# ---------------------------------------------------------------- dims and declarations


@pytest.mark.parametrize("value", [2.5, "3", True, 0, -1, None])
def test_a_dims_value_that_is_no_positive_integer_is_refused(value):
    with pytest.raises(SymbolicError) as info:
        sym.derivative("x'*x", wrt="x", kinds=["x: n"], dims={"n": value})
    assert f"dims['n'] is {value!r}; a dimension's size is a positive integer" in str(info.value)
    with pytest.raises(SymbolicError, match="a dimension's size is a positive integer"):
        sym.lambdify("x'*x", kinds=["x: n"], dims={"n": value})


def test_dims_must_be_a_dict():
    with pytest.raises(SymbolicError, match="dims must be a dict of dimension sizes"):
        sym.derivative("x'*x", wrt="x", dims=[3])


def test_numbers_in_a_declaration_get_the_dims_hint():
    for decl in ["A: 3 x 4", "A: 3x4", "A: matrix 3 x 4"]:
        with pytest.raises(SymbolicError) as info:
            sym.parse("A", [decl])
        message = info.value.message
        assert "dimension 3 in declaration of A is a number" in message
        assert "dims={'m': 3, 'n': 4}" in message and "--dim m=3 --dim n=4" in message
    with pytest.raises(SymbolicError, match="'S: symmetric n' with dims={'n': 5}"):
        sym.parse("S", {"S": "symmetric 5"})


# ---------------------------------------------------------------- check size


def test_a_check_too_large_for_memory_is_refused_before_allocating():
    d = sym.derivative("x'*A*x", wrt="x", kinds=["A: n x n"], dims={"n": 100_000})
    with pytest.raises(SymbolicError) as info:
        d.check()
    assert "the check would need 10,000,000,000 entries (74.5 GiB) for A at sizes n=100000" in str(
        info.value
    )
    assert f"{MAX_CHECK_ENTRIES:,}" in str(info.value)
    h = sym.derivative("x'*x", wrt="x", order=2, kinds=["x: n"], dims={"n": 10_000})
    with pytest.raises(SymbolicError, match="100,000,000 entries .* for the derivative"):
        h.check()


# ---------------------------------------------------------------- LaTeX labels


@pytest.mark.parametrize(
    "expression,wrt,order,label",
    [
        ("x'*A*x", "x", 1, r"\nabla_{x} f = "),
        ("x'*A*x", "x", 2, r"\nabla^2_{x} f = "),
        ("exp(A*x)", "x", 1, r"\frac{\partial f}{\partial x} = "),
        ("a*x", "a", 1, r"\frac{\partial f}{\partial a} = "),
        ("a^3", "a", 2, r"\frac{\partial^2 f}{\partial a^2} = "),
        (
            "A*X*B",
            "X",
            1,
            r"\frac{\partial \operatorname{vec} f}{\partial \operatorname{vec} X} = ",
        ),
        ("norm2(T - U*V')^2", "U", 2, r"\nabla^2_{\operatorname{vec} U} f = "),
        ("log(det(X))", "X", 2, r"\mathrm{d}(\nabla_{X} f) = "),
        ("diag(x)", "x", 1, r"\mathrm{d}f = "),
    ],
)
def test_latex_says_what_the_result_is(expression, wrt, order, label):
    d = sym.derivative(expression, wrt=wrt, order=order)
    assert d.latex.startswith(label), d.latex
    assert d.latex_label + " = " == label
    if d.what not in ("gradient", "hessian"):
        assert r"\nabla" not in d.latex


def test_latex_names_a_named_function():
    d = sym.derivative("r = A*x - b\nloss = r'*r", wrt="x", kinds=["b: vector"])
    assert d.latex == r"\nabla_{x} \mathit{loss} = 2 A^\top \left(A x - b\right)"


def test_the_memory_guard_counts_a_hessian_of_an_array_in_full():
    # X*X by X has the Hessian out x var x var: n**6 entries, not n**4
    d = sym.derivative("X*X", wrt="X", order=2)
    n = 64  # 64**6 = 6.9e10 entries would be refused; 64**4 = 1.7e7 would not
    with pytest.raises(sym.SymbolicError, match=r"would need 68,719,476,736 entries"):
        d.check(sizes=dict.fromkeys(d.parsed.dim_names, n))
