"""Every transformation under ``jit`` reads a captured array when the program runs.

The unit vectors of ``jacobian``, ``jacfwd`` and ``hessian`` and the seeds of the other
transformations are recorded in the program, so their products with an array captured
by closure are recorded too, not computed once while staging (docs/compile.md,
"Captured arrays are read at call time"). Each case starts the captured array at 0, 1
and 2 (the values a fold by value would mistake for constants), changes it in place
between calls, and compares with the eager transformation each time.
"""

from __future__ import annotations

import numpy as onp
import pytest

import matdiff.numpy as np
from matdiff import (
    elementwise_grad,
    grad,
    hessian,
    hvp,
    jacfwd,
    jacobian,
    jacrev,
    jvp,
    vjp,
)
from matdiff.compile import jit

STARTS = [0.0, 1.0, 2.0]
X = onp.array([0.3, -0.7, 1.1])


def _check_each_call(compiled, eager, W, *args):
    """``compiled`` agrees with ``eager`` as ``W`` changes in place; one compilation."""
    for change in _CHANGES:
        change(W)
        onp.testing.assert_allclose(compiled(*args), eager(*args), rtol=1e-12, atol=1e-12)
    assert compiled.trace_count == 1


def _shift(W):
    W += 1.5


def _set_last(W):
    W.flat[-1] = -4.0


_CHANGES = (lambda W: None, _shift, _set_last)


def _elementwise(W):
    return lambda x: np.sin(x) * W + x * W


def _scalar(W):
    return lambda x: np.sum(np.sin(x) * W) + np.sum((x * W) ** 2)


@pytest.mark.parametrize("start", STARTS)
@pytest.mark.parametrize("op", [jacobian, jacrev, jacfwd], ids=["jacobian", "jacrev", "jacfwd"])
def test_jacobians_read_a_captured_vector(op, start):
    W = onp.full(3, start)
    f = _elementwise(W)
    _check_each_call(jit(op(f)), op(f), W, X)


@pytest.mark.parametrize("start", STARTS)
@pytest.mark.parametrize("op", [jacobian, jacfwd], ids=["jacobian", "jacfwd"])
def test_jacobians_read_a_captured_matrix(op, start):
    # A matrix product with the unit vectors: jacfwd's batch rule reads rows of the
    # identity, which must come from the captured matrix as it is when the program runs.
    A = onp.full((2, 3), start)
    f = lambda x: A @ x + np.tanh(x @ A.T)  # noqa: E731
    _check_each_call(jit(op(f)), op(f), A, X)


@pytest.mark.parametrize("start", STARTS)
def test_jacfwd_of_a_matrix_input_reads_a_captured_array(start):
    W = onp.full((2, 2), start)
    f = lambda x: np.sum(x * W, axis=0)  # noqa: E731
    x = X[:2, None] * onp.ones((2, 2))
    _check_each_call(jit(jacfwd(f)), jacfwd(f), W, x)


@pytest.mark.parametrize("start", STARTS)
def test_hessian_reads_a_captured_array(start):
    W = onp.full(3, start)
    A = onp.full((3, 3), start)
    f = lambda x: np.sum(np.sin(x) * W) + x @ A @ x  # noqa: E731
    h = jit(hessian(f))
    for change in (lambda: None, lambda: _shift(W), lambda: _set_last(A)):
        change()
        onp.testing.assert_allclose(h(X), hessian(f)(X), rtol=1e-12, atol=1e-12)
    assert h.trace_count == 1


@pytest.mark.parametrize("start", STARTS)
def test_hvp_reads_a_captured_array(start):
    W = onp.full(3, start)
    f = _scalar(W)
    v = onp.array([1.0, -2.0, 0.5])
    _check_each_call(jit(lambda x, v: hvp(f, x, v)), lambda x, v: hvp(f, x, v), W, X, v)


@pytest.mark.parametrize("start", STARTS)
def test_elementwise_grad_reads_a_captured_array(start):
    W = onp.full(3, start)
    f = _elementwise(W)
    _check_each_call(jit(elementwise_grad(f)), elementwise_grad(f), W, X)


@pytest.mark.parametrize("start", STARTS)
def test_jvp_and_vjp_inside_jit_read_a_captured_array(start):
    W = onp.full(3, start)
    f = _elementwise(W)
    t = onp.array([1.0, 0.0, -1.0])

    def forward(x):
        return jvp(f, (x,), (t,))[1]

    def backward(x):
        out, f_vjp = vjp(f, x)
        return f_vjp(onp.ones(3))[0]

    _check_each_call(jit(forward), forward, W, X)
    W[...] = start
    _check_each_call(jit(backward), backward, W, X)


@pytest.mark.parametrize("start", STARTS)
def test_jvp_and_vjp_of_a_jitted_function_read_a_captured_array(start):
    # Under an enclosing transformation a jitted function runs itself, traced; its own
    # calls stay compiled once.
    W = onp.full(3, start)
    f = _elementwise(W)
    fj = jit(f)
    t = onp.array([1.0, 0.0, -1.0])
    for change in _CHANGES:
        change(W)
        onp.testing.assert_allclose(fj(X), f(X))
        onp.testing.assert_allclose(jvp(fj, (X,), (t,))[1], jvp(f, (X,), (t,))[1])
        onp.testing.assert_allclose(vjp(fj, X)[1](t)[0], vjp(f, X)[1](t)[0])
        onp.testing.assert_allclose(jacobian(fj)(X), jacobian(f)(X))
        onp.testing.assert_allclose(jacfwd(fj)(X), jacfwd(f)(X))
    assert fj.trace_count == 1


@pytest.mark.parametrize("start", STARTS)
def test_grad_of_a_captured_scalar_array(start):
    c = onp.array(start)
    f = lambda x: np.sum(x * c) * c  # noqa: E731
    _check_each_call(jit(grad(f)), grad(f), c, X)


def test_arrays_made_inside_are_still_folded():
    # The unit vectors are constants of the program, and so is a product of them with an
    # array the function makes while staging: the compiled Jacobian of x * ones(3) is
    # the identity, computed once.
    J = jit(jacobian(lambda x: x * onp.ones(3)))
    onp.testing.assert_array_equal(J(X), onp.eye(3))
    assert J.program.eqns == []
    H = jit(jacfwd(lambda x: x * onp.ones(3)))
    onp.testing.assert_array_equal(H(X), onp.eye(3))
    assert H.program.eqns == []


def test_a_captured_tangent_is_read_at_call_time():
    t = onp.zeros(3)
    f = jit(lambda x: jvp(np.sin, (x,), (t,))[1])
    onp.testing.assert_array_equal(f(X), onp.zeros(3))
    t += 2.0
    onp.testing.assert_allclose(f(X), 2.0 * onp.cos(X))
    assert f.trace_count == 1


def _prims(program):
    return [e.prim.__name__ for e in program.eqns]


def test_jacfwd_reads_products_with_unit_vectors_off_as_rows():
    # x @ A with A traced or captured: rows of A, not a product with the identity.
    A = onp.arange(6.0).reshape(3, 2)
    J = jit(jacfwd(lambda x, A: x @ A))
    onp.testing.assert_array_equal(J(X, A), A.T)
    assert "matmul" not in _prims(J.program)
    Jc = jit(jacfwd(lambda x: x @ A))
    onp.testing.assert_array_equal(Jc(X), A.T)
    assert "matmul" not in _prims(Jc.program)
    A[0, 0] = 10.0
    onp.testing.assert_array_equal(Jc(X), A.T)


def test_a_compiled_jacobian_is_not_a_view_of_a_captured_array():
    W = onp.arange(6.0).reshape(2, 3)
    for op in (jacfwd, jacobian):
        J = jit(op(lambda x: W @ x))
        res = J(X)
        onp.testing.assert_array_equal(res, W)
        assert not onp.shares_memory(res, W)


def test_unit_vectors_of_a_matrix_input_are_folded():
    J = jit(jacfwd(lambda x: x * onp.ones((2, 2))))
    onp.testing.assert_array_equal(J(onp.ones((2, 2))), onp.eye(4).reshape(2, 2, 2, 2))
    assert J.program.eqns == []
