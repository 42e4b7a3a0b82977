"""Compatibility with autograd's graph, scalar, binary-op, direct and FFT tests.

Restates ``test_graphs.py`` (fan-out, constants, nested grads that close over an outer
traced value, cotangents accumulated into shared nodes, third derivatives, singleton
outputs), ``test_scalar_ops.py`` and ``test_binary_ops.py`` (Python numbers with traced
values, every operator over the scalar/vector/matrix/row broadcasting pairs, and the
gradients of those gradients), in-place-looking updates (``y += x`` rebinds), the explicit
values of ``test_direct.py``, and ``test_fft.py``'s calls.
"""

from __future__ import annotations

import itertools
import operator

import numpy as onp
import pytest

import matdiff
import matdiff.numpy as np
from matdiff import grad
from matdiff.test_util import check_grads

rng = onp.random.default_rng(7)


def R(*shape):
    return rng.standard_normal(shape)


def check(f, *args):
    check_grads(f, modes=("fwd", "rev"), order=2)(*args)


def sin_fanout(x):
    return np.sin(np.sin(x) + np.sin(x))


def two_args(x, y):
    return np.sin(np.sin(x) + np.sin(y))


RANDV = R(10)


def hvp_by_composition(x, v):
    # grad of a function of grad: autograd's test_hess_vector_prod
    df = grad(lambda x: np.sin(np.dot(x, RANDV)))
    return np.sin(np.dot(v, df(x)))


def enclosing_scope(x):
    # The inner grad's function closes over the outer traced x (perturbation confusion).
    return x * grad(lambda y: x * y)(2.0)


def enclosing_scope_2(x):
    return x * grad(lambda y: y * x)(2.0)


def shared_nodes(a):
    b = a + 1.0
    c = b + 1.5
    return np.sum(a + b + c)


def shared_nodes_indexing(a):
    b = a + 1.0
    return np.sum(a + b + (b[0] + 1.5))


def shared_nodes_complex(a):
    b = a + 1.0j
    return np.real(np.sum(a + b + (b[0] + 1.5)))


def real_and_imag_apart(a):
    return np.sum(np.abs(np.real(a)) ** 1.4 + np.abs(np.imag(a)) ** 1.3)


def in_place_looking(x):
    # Augmented assignment on a traced value rebinds the name; nothing is written.
    y = x * 1.0
    y += 1.0
    y *= x
    y -= 0.5 * x
    y /= 3.0
    y **= 2
    return y


def python_builtins(x, y):
    return sum([x, y, 2.0]) * abs(x) + max(1.0, 2.0) * -y


GRAPH_ROWS = [
    ("fanout", sin_fanout, (0.3,)),
    ("fanout-grad", grad(sin_fanout), (0.7,)),
    ("fanout-grad-grad", grad(grad(sin_fanout)), (0.7,)),
    ("third-derivative-other-args", grad(grad(two_args, 1)), (0.4, -0.6)),
    ("third-derivative-other-args-2", grad(grad(two_args), 1), (0.4, -0.6)),
    ("hvp-by-composition", hvp_by_composition, (R(10), R(10))),
    ("enclosing-scope", enclosing_scope, (1.0,)),
    ("enclosing-scope-2", enclosing_scope_2, (1.0,)),
    ("shared-nodes", shared_nodes, (R(5),)),
    ("shared-nodes-from-indexing", shared_nodes_indexing, (R(5),)),
    ("shared-nodes-complex", shared_nodes_complex, (R(5),)),
    ("shared-nodes-complex-grad", lambda x: np.sum(grad(shared_nodes_complex)(x)), (R(5),)),
    ("real-and-imag-apart", real_and_imag_apart, (R(5, 3) + 0.1j * R(5, 3),)),
    ("singleton-keepdims", lambda x: np.sum(np.sin(x), keepdims=True), (R(3, 3),)),
    ("singleton-axis-0", lambda x: np.sum(np.sin(x), axis=0, keepdims=True), (R(3, 1),)),
    ("singleton-axis-1-dropped", lambda x: np.sum(np.sin(x), axis=1), (R(1, 3),)),
    (
        "singleton-grad",
        lambda x: np.sum(grad(lambda v: np.sum(np.sin(v), axis=1)[0])(x)),
        (R(1, 3),),
    ),
    ("in-place-looking-updates", in_place_looking, (R(4),)),
    ("python-builtins", python_builtins, (0.8, -1.3)),
]


@pytest.mark.parametrize("fun, args", [r[1:] for r in GRAPH_ROWS], ids=[r[0] for r in GRAPH_ROWS])
def test_graph(fun, args):
    check(fun, *args)


def test_gradient_of_a_constant_function_is_zero_with_a_warning():
    # As autograd: a float output that does not depend on the input gives zero and a warning.
    with pytest.warns(UserWarning, match=r"grad: the output of .* does not depend") as record:
        assert grad(lambda x: 1.0)(2.0) == 0.0
    assert record[0].filename == __file__  # the warning points at the caller's line


def test_gradient_of_an_integer_constant_is_refused():
    # autograd returns 0 here; an integer output cannot depend on the input, so matdiff
    # refuses it as JAX does rather than return a zero that may hide a bug.
    with pytest.raises(TypeError, match=r"grad: the function returned a value of dtype int"):
        grad(lambda x: 1)(2.0)


def test_gradient_of_the_identity():
    assert grad(lambda x: x)(2.0) == 1.0
    with pytest.warns(UserWarning, match=r"does not depend on the input"):
        assert grad(grad(lambda x: x))(2.0) == 0.0


# ---------------------------------------------------------------- scalars and Python numbers

SCALAR_FUNS = [
    ("abs", lambda x: 3.0 * np.abs(x)),
    ("sign", lambda x: 3.0 * np.sign(x)),
    ("sin", lambda x: 3.0 * np.sin(x)),
    ("exp", lambda x: 3.0 * np.exp(x)),
    ("log", lambda x: 3.0 * np.log(np.abs(x))),
    ("neg", lambda x: 3.0 * -x),
    ("cos", lambda x: 3.0 * np.cos(x)),
    ("tan", lambda x: 3.0 * np.tan(x)),
    ("cosh", lambda x: 3.0 * np.cosh(x)),
    ("sinh", lambda x: 3.0 * np.sinh(x)),
    ("tanh", lambda x: 3.0 * np.tanh(x)),
    ("int-times", lambda x: 3 * x),
    ("times-int", lambda x: x * 3),
    ("int-minus", lambda x: 3 - x),
    ("int-over", lambda x: 2 / x),
    ("int-power-base", lambda x: 2**x),
    ("int-power-exponent", lambda x: x**2),
    ("float-power-exponent", lambda x: np.abs(x) ** 2.5),
    ("builtin-abs", lambda x: abs(x)),
    ("unary-plus", lambda x: +x),
    ("mod-float", lambda x: x % 0.7),
    ("float-mod", lambda x: 1.5 % x),
    ("numpy-scalar", lambda x: onp.float64(2.0) * x + onp.float32(0.5)),
]


@pytest.mark.parametrize("x", [1.1, -1.1, onp.array([1.1, -1.3])], ids=["pos", "neg", "vec"])
@pytest.mark.parametrize("fun", [f for _, f in SCALAR_FUNS], ids=[n for n, _ in SCALAR_FUNS])
def test_scalar_op(fun, x):
    check(fun, x)
    check(grad(lambda v: np.sum(fun(v))), x)


# ---------------------------------------------------------------- binary operators


SCALAR, VECTOR, MATRIX, ROW = 2.0, R(6), R(7, 6), R(1, 6)
PAIRS = list(itertools.product([SCALAR, VECTOR, MATRIX, ROW], repeat=2))
PAIR_IDS = [
    f"{a}-{b}" for a, b in itertools.product(["scalar", "vector", "matrix", "row"], repeat=2)
]


def gap_from_zero(x):
    return np.sqrt(x**2 + 0.5)


def positive(x):
    return np.abs(x) + 1.1


OPERATORS = [
    ("mul", operator.mul, None, None),
    ("add", operator.add, None, None),
    ("sub", operator.sub, None, None),
    ("div", operator.truediv, gap_from_zero, gap_from_zero),
    ("pow", operator.pow, positive, np.round),
]


@pytest.mark.parametrize("a, b", PAIRS, ids=PAIR_IDS)
@pytest.mark.parametrize("name, op, fix_a, fix_b", OPERATORS, ids=[o[0] for o in OPERATORS])
def test_binary_operator_and_its_gradients(name, op, fix_a, fix_b, a, b):
    a = fix_a(a) if fix_a else a
    b = fix_b(b) if fix_b else b

    def fun(x, y):
        return np.sum(op(x, y))

    check(fun, a, b)
    for argnum in (0, 1):
        d_fun = lambda x, y, k=argnum: np.sum(grad(fun, k)(x, y))  # noqa: E731
        check_grads(d_fun, modes=("rev",), order=1)(a, b)


# ---------------------------------------------------------------- explicit values


def test_explicit_values_in_case_the_checker_breaks():
    def fun(x):
        return (x + np.sin(x**2)) * x

    assert abs(grad(fun)(1.3) - 3.190948746871) < 1e-6
    assert abs(matdiff.deriv(fun)(1.3) - 3.190948746871) < 1e-6
    g = matdiff.holomorphic_grad(lambda z: z * (1.0 + 0.2j))(1.0 + 0.0j)
    assert abs(g - (1.0 + 0.2j)) < 1e-12
    with pytest.raises(TypeError, match=r"grad: the function returned a complex number"):
        grad(lambda x: x * (1.0 + 0.2j))(1.0)


# ---------------------------------------------------------------- FFT

FFT_ROWS = [
    ("fft", lambda x: np.fft.fft(x), R(5)),
    ("fft-n-axis", lambda x: np.fft.fft(x, n=6, axis=0), R(4, 3)),
    ("ifft", lambda x: np.fft.ifft(x), R(5)),
    ("fft2", lambda x: np.fft.fft2(x), R(3, 4)),
    ("ifft2", lambda x: np.fft.ifft2(x), R(3, 4)),
    ("fftn-axes", lambda x: np.fft.fftn(x, axes=(0, 2)), R(2, 3, 4)),
    ("rfft", lambda x: np.fft.rfft(x), R(6)),
    ("irfft", lambda x: np.fft.irfft(np.fft.rfft(x)), R(6)),
    ("rfft2", lambda x: np.fft.rfft2(x), R(4, 4)),
    ("fftshift", lambda x: np.fft.fftshift(x), R(5)),
    ("ifftshift", lambda x: np.fft.ifftshift(x, axes=1), R(2, 5)),
]


@pytest.mark.parametrize("fun, x", [r[1:] for r in FFT_ROWS], ids=[r[0] for r in FFT_ROWS])
def test_fft(fun, x):
    check(lambda v: np.real(fun(v)) + 2.0 * np.imag(fun(v)), x)
