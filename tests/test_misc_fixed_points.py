"""``fixed_point`` (autograd's ``misc.fixed_points``): the solution of x = f(a)(x) and its
derivatives in ``a`` by implicit differentiation, checked against finite differences,
against differentiating the unrolled iteration, and against autograd itself."""

import autograd
import autograd.misc.fixed_points
import autograd.numpy as anp
import numpy
import pytest

import matdiff
import matdiff.numpy as np
from matdiff.misc import fixed_point as exported
from matdiff.misc.fixed_points import fixed_point
from matdiff.test_util import check_grads

W = numpy.array([[0.3, -0.2, 0.1], [0.1, 0.2, 0.0], [-0.1, 0.05, 0.25]])
A0 = numpy.array([0.4, -0.7, 1.1])
TOL = 1e-14


def max_dist(x, y):
    return np.max(np.abs(x - y))


def tanh_layer(a):
    """A contraction in x (‖W‖ < 1, tanh' ≤ 1): x* = tanh(W x* + a)."""
    return lambda x: np.tanh(np.dot(W, x) + a)


def newton_sqrt(a):
    return lambda x: 0.5 * (x + a / x)


def solve(a):
    return fixed_point(tanh_layer, a, np.zeros(3), max_dist, TOL)


def unrolled(a, steps=200):
    x = np.zeros(3)
    for _ in range(steps):
        x = tanh_layer(a)(x)
    return x


def test_exported_from_misc():
    assert exported is fixed_point


def test_the_answer_is_a_fixed_point():
    x = solve(A0)
    assert numpy.max(numpy.abs(tanh_layer(A0)(x) - x)) <= 1e-14


@pytest.mark.parametrize("order", [1, 2])
def test_check_grads_both_modes_vector(order):
    check_grads(solve, modes=["fwd", "rev"], order=order)(A0)


def test_check_grads_both_modes_scalar_newton():
    sqrt = lambda a: fixed_point(newton_sqrt, a, 1.0, lambda x, y: np.abs(x - y), 1e-13)
    check_grads(sqrt, modes=["fwd", "rev"], order=2)(2.0)
    assert matdiff.grad(sqrt)(4.0) == pytest.approx(0.25, rel=1e-12)


def test_jacobian_equals_the_unrolled_iteration_both_modes():
    implicit_rev = matdiff.jacrev(solve)(A0)
    implicit_fwd = matdiff.jacfwd(solve)(A0)
    through_loop = matdiff.jacobian(unrolled)(A0)
    numpy.testing.assert_allclose(implicit_rev, through_loop, rtol=1e-12, atol=1e-13)
    numpy.testing.assert_allclose(implicit_fwd, through_loop, rtol=1e-12, atol=1e-13)


def test_hessian_equals_the_unrolled_iteration():
    loss = lambda a: np.sum(solve(a) ** 2)
    loss_unrolled = lambda a: np.sum(unrolled(a) ** 2)
    numpy.testing.assert_allclose(
        matdiff.hessian(loss)(A0), matdiff.hessian(loss_unrolled)(A0), rtol=1e-10, atol=1e-12
    )


def test_pytree_parameters_and_state():
    def f(params):
        w, b = params["w"], params["b"]
        return lambda state: {"x": np.tanh(w * state["x"] + b), "n": state["n"]}

    def dist(s, t):
        return np.max(np.abs(s["x"] - t["x"]))

    def loss(w, b):
        params = {"w": w, "b": b}
        out = fixed_point(f, params, {"x": np.zeros(2), "n": np.ones(1)}, dist, TOL)
        assert set(out) == {"x", "n"}
        return np.sum(out["x"] ** 2) + np.sum(out["n"])

    check_grads(loss, modes=["fwd", "rev"], order=2)(0.5, numpy.array([0.3, -0.8]))


def test_matches_autograd():
    def a_layer(a):
        return lambda x: anp.tanh(anp.dot(W, x) + a)

    def a_solve(a):
        return autograd.misc.fixed_points.fixed_point(
            a_layer, a, anp.zeros(3), lambda x, y: anp.max(anp.abs(x - y)), TOL
        )

    weights = numpy.array([1.0, -2.0, 0.5])
    numpy.testing.assert_allclose(solve(A0), a_solve(A0), rtol=0, atol=1e-15)
    ours = matdiff.grad(lambda a: np.dot(weights, solve(a)))(A0)
    theirs = autograd.grad(lambda a: anp.dot(weights, a_solve(a)))(A0)
    numpy.testing.assert_allclose(ours, theirs, rtol=1e-13, atol=1e-15)


def test_stops_where_autograd_stops():
    # autograd's rule: one step at least, then stop at the first distance <= tol.
    def counting(calls):
        def f(a):
            def step(x):
                calls.append(x)
                return 0.5 * x + a

            return step

        return f

    for tol in [1.0, 0.25, 0.0625]:
        ours, theirs = [], []
        fixed_point(counting(ours), 1.0, 0.0, lambda x, y: abs(x - y), tol)
        autograd.misc.fixed_points.fixed_point(
            counting(theirs), 1.0, 0.0, lambda x, y: abs(x - y), tol
        )
        assert len(ours) == len(theirs), tol


def test_not_differentiable_in_x0_is_zero():
    # A converged fixed point does not depend on where the iteration started.
    g = matdiff.grad(lambda x0: np.sum(fixed_point(tanh_layer, A0, x0, max_dist, TOL)))(
        numpy.ones(3)
    )
    numpy.testing.assert_array_equal(g, numpy.zeros(3))


def test_f_must_be_callable():
    with pytest.raises(TypeError, match="f must be a function of a"):
        fixed_point(3.0, A0, numpy.zeros(3), max_dist, TOL)
