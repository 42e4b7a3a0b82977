"""grad, value_and_grad, vjp, jvp, linearize, elementwise_grad: values, pytrees, nesting."""

import collections
import math

import numpy
import pytest

import matdiff.numpy as np
from matdiff import (
    elementwise_grad,
    grad,
    holomorphic_grad,
    jvp,
    linearize,
    register_pytree_node,
    stop_gradient,
    value_and_grad,
    vjp,
)
from matdiff.test_util import check_grads
from matdiff.tracer import isbox

x3 = numpy.array([0.3, -1.2, 2.0])


def test_grad_of_sum_of_squares_is_twice_x():
    numpy.testing.assert_allclose(grad(lambda x: np.sum(x**2))(x3), 2 * x3)


def test_gradient_has_the_shape_of_a_matrix_variable():
    X = numpy.arange(6.0).reshape(2, 3)
    A = numpy.arange(6.0).reshape(3, 2) / 7
    g = grad(lambda X: np.sum(np.matmul(X, A) ** 2))(X)
    assert g.shape == (2, 3)
    numpy.testing.assert_allclose(g, 2 * (X @ A) @ A.T)


def test_value_and_grad_returns_both():
    v, g = value_and_grad(lambda x: np.sum(np.sin(x)))(x3)
    assert v == pytest.approx(numpy.sum(numpy.sin(x3)))
    numpy.testing.assert_allclose(g, numpy.cos(x3))


def test_argnums_tuple_and_autograd_argnum():
    f = lambda a, b, c: a * b**2 + c
    ga, gb = grad(f, argnums=(0, 1))(2.0, 3.0, 5.0)
    assert (ga, gb) == (9.0, 12.0)
    assert grad(f, argnum=1)(2.0, 3.0, 5.0) == 12.0
    assert grad(f, argnums=-1)(2.0, 3.0, 5.0) == 1.0


def test_kwargs_are_static():
    f = lambda x, scale=1.0: scale * x**2
    assert grad(f)(3.0, scale=2.0) == 12.0


def test_has_aux_returns_aux_untraced():
    def f(x):
        y = np.sum(x**2)
        return y, {"y": y, "x": x}

    g, aux = grad(f, has_aux=True)(x3)
    numpy.testing.assert_allclose(g, 2 * x3)
    assert not isbox(aux["y"]) and float(aux["y"]) == pytest.approx(numpy.sum(x3**2))
    assert isinstance(aux["x"], numpy.ndarray)
    (v, aux2), g2 = value_and_grad(f, has_aux=True)(x3)
    assert v == pytest.approx(numpy.sum(x3**2)) and set(aux2) == {"x", "y"}
    out, f_vjp, aux3 = vjp(f, x3, has_aux=True)
    numpy.testing.assert_allclose(f_vjp(1.0)[0], 2 * x3)


Params = collections.namedtuple("Params", ["w", "b"])


class Pair:
    def __init__(self, a, b):
        self.a, self.b = a, b


register_pytree_node(Pair, lambda p: ((p.a, p.b), None), lambda aux, c: Pair(*c))


def test_pytree_arguments_and_gradients_keep_their_structure():
    params = {
        "layer": Params(w=numpy.ones((2, 2)), b=numpy.zeros(2)),
        "extra": [1.5, None, (2.0,)],
        "pair": Pair(0.5, numpy.array([1.0, 2.0])),
    }

    def loss(p):
        h = np.matmul(p["layer"].w, numpy.array([1.0, 2.0])) + p["layer"].b
        return np.sum(h**2) * p["extra"][0] + p["extra"][2][0] + p["pair"].a * np.sum(p["pair"].b)

    g = grad(loss)(params)
    assert isinstance(g["layer"], Params) and g["extra"][1] is None and isinstance(g["pair"], Pair)
    h = numpy.ones((2, 2)) @ numpy.array([1.0, 2.0])
    numpy.testing.assert_allclose(g["layer"].b, 2 * h * 1.5)
    numpy.testing.assert_allclose(g["layer"].w, 1.5 * 2 * numpy.outer(h, [1.0, 2.0]))
    assert g["extra"][0] == pytest.approx(numpy.sum(h**2)) and g["extra"][2][0] == 1.0
    assert g["pair"].a == 3.0
    numpy.testing.assert_allclose(g["pair"].b, [0.5, 0.5])
    check_grads(loss)(params)


def test_python_float_arguments_give_float_gradients():
    g = grad(lambda t: t[0] * t[1])((2.0, 3.0))
    assert isinstance(g, tuple) and g == (3.0, 2.0)


def test_input_not_on_the_path_gets_zero_gradient():
    with pytest.warns(UserWarning, match=r"does not depend on the input"):
        g = grad(lambda x, y: np.sum(x**2), argnums=1)(x3, numpy.ones(2))
    numpy.testing.assert_array_equal(g, numpy.zeros(2))


@pytest.mark.parametrize(
    "make",
    [
        lambda f: grad(f),
        lambda f: value_and_grad(f),
        lambda f: grad(lambda x: (f(x), "aux"), has_aux=True),
        lambda f: value_and_grad(lambda x: (f(x), "aux"), has_aux=True),
    ],
    ids=["grad", "value_and_grad", "grad-has_aux", "value_and_grad-has_aux"],
)
def test_the_zero_gradient_warning_points_at_the_callers_line(make):
    with pytest.warns(UserWarning, match=r"does not depend on the input") as record:
        make(lambda x: 1.0)(2.0)
    assert record[0].filename == __file__


def test_vjp_with_pytree_output():
    out, f_vjp = vjp(lambda x: {"s": np.sin(x), "c": (np.cos(x),)}, x3)
    (ct,) = f_vjp({"s": numpy.ones(3), "c": (2 * numpy.ones(3),)})
    numpy.testing.assert_allclose(ct, numpy.cos(x3) - 2 * numpy.sin(x3))


def test_jvp_with_pytrees():
    f = lambda p: p["a"] * p["b"]
    out, t = jvp(f, ({"a": 2.0, "b": 3.0},), ({"a": 1.0, "b": 0.0},))
    assert (out, t) == (6.0, 3.0)


def test_linearize_pushes_tangents_without_retracing():
    calls = []

    def f(x):
        calls.append(1)
        return np.sin(x) * x

    y, f_jvp = linearize(f, x3)
    assert len(calls) == 1
    for v in (numpy.ones(3), x3):
        expected = jvp(f, (x3,), (v,))[1]
        numpy.testing.assert_allclose(f_jvp(v), expected)
    assert len(calls) == 3  # only the two jvp reference calls ran f again
    numpy.testing.assert_allclose(y, numpy.sin(x3) * x3)


def test_linearize_with_several_arguments_and_pytree_output():
    y, f_jvp = linearize(lambda a, b: (a * b, a + b), 2.0, 3.0)
    assert y == (6.0, 5.0)
    assert f_jvp(1.0, 0.0) == (3.0, 1.0)


def test_elementwise_grad_is_the_derivative_at_each_point():
    numpy.testing.assert_allclose(elementwise_grad(np.tanh)(x3), 1 - numpy.tanh(x3) ** 2)


def test_stop_gradient_on_pytrees():
    f = lambda p: np.sum(p[0] * stop_gradient(p)[1]) + np.sum(stop_gradient(p[0]) ** 2)
    g = grad(f)((x3, 2 * x3))
    numpy.testing.assert_allclose(g[0], 2 * x3)
    numpy.testing.assert_array_equal(g[1], numpy.zeros(3))


# ---------------------------------------------------------------- nesting


def test_nested_grad_has_no_perturbation_confusion():
    assert grad(lambda x: x * grad(lambda y: x + y)(1.0))(1.0) == 1.0


def test_jvp_inside_grad_and_grad_inside_jvp():
    inner_jvp = lambda x: x * jvp(lambda y: x + y, (1.0,), (1.0,))[1]
    assert grad(inner_jvp)(1.0) == 1.0
    inner_grad = lambda x: x * grad(lambda y: x + y)(1.0)
    assert jvp(inner_grad, (1.0,), (1.0,))[1] == 1.0


def test_closure_over_outer_traced_value():
    # d/dx [ d/dy (x y^2) at y = x ] = d/dx [2 x^2] = 4x
    f = lambda x: grad(lambda y: x * y**2)(x)
    assert grad(f)(3.0) == pytest.approx(12.0)
    assert jvp(f, (3.0,), (1.0,))[1] == pytest.approx(12.0)


def _d(f, mode):
    if mode == "rev":
        return grad(f)
    return lambda x: jvp(f, (x,), (1.0,))[1]


@pytest.mark.parametrize("modes", ["rrr", "fff", "rfr", "frf", "rrff", "ffrr", "rfrf", "frrf"])
def test_third_and_fourth_derivatives_in_mixed_modes(modes):
    f = lambda x: np.sin(x) * np.exp(x)
    # d^n/dx^n e^x sin x = 2^(n/2) e^x sin(x + n pi / 4)
    x = 0.4
    g = f
    for m in modes:
        g = _d(g, m)
    n = len(modes)
    expected = 2 ** (n / 2) * math.exp(x) * math.sin(x + n * math.pi / 4)
    assert g(x) == pytest.approx(expected, rel=1e-12)


# ---------------------------------------------------------------- complex


def test_grad_of_real_function_of_complex_input_is_conjugate_convention():
    z = 3.0 + 4.0j
    assert grad(lambda z: np.abs(z) ** 2)(z) == pytest.approx(2 * numpy.conj(z))
    zs = numpy.array([1.0 + 2.0j, -0.5j])
    g = grad(lambda z: np.sum(np.real(z * np.conj(z))))(zs)
    numpy.testing.assert_allclose(g, 2 * numpy.conj(zs))


def test_holomorphic_grad_is_the_complex_derivative():
    z = 0.3 + 0.8j
    assert holomorphic_grad(lambda z: z**3)(z) == pytest.approx(3 * z**2)
    assert holomorphic_grad(np.exp)(z) == pytest.approx(numpy.exp(z))
    with pytest.warns(UserWarning, match="holomorphic_grad: argument 0 is not complex"):
        holomorphic_grad(lambda x: x**2)(2.0)


def test_check_grads_on_complex_inputs():
    check_grads(lambda z: np.real(z * np.exp(z)))(numpy.array([0.3 + 0.1j, -0.2 + 1j]))
