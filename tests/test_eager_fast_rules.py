"""The rules that compute on NumPy directly when every operand is a plain ndarray.

sin, cos, exp, log and multiply, and the broadcast back of a reduction's cotangent (sum,
mean), skip the primitive wrappers at first order; any other
operand (a box of an outer trace, a staged value) takes the wrapped path. Both paths are
checked: the first-order gradient against the same NumPy operations in the same order
(so exactly), higher orders and forward mode with ``check_grads``.
"""

from __future__ import annotations

import numpy as onp
import pytest

import matdiff
import matdiff.numpy as np
from matdiff.test_util import check_grads

RNG = onp.random.default_rng(0)
X = RNG.standard_normal((3, 4))
POS = RNG.uniform(0.5, 2.0, (3, 4))

UNARY = [
    ("sin", np.sin, X, lambda x: onp.multiply(onp.ones_like(x), onp.cos(x))),
    ("cos", np.cos, X, lambda x: onp.negative(onp.multiply(onp.ones_like(x), onp.sin(x)))),
    ("exp", np.exp, X, lambda x: onp.multiply(onp.ones_like(x), onp.exp(x))),
    ("log", np.log, POS, lambda x: onp.divide(onp.ones_like(x), x)),
]


@pytest.mark.parametrize("name, f, x, closed", UNARY, ids=[u[0] for u in UNARY])
def test_first_order_is_the_numpy_expression(name, f, x, closed):
    # The same NumPy calls in the same order as the rule: equal to the last bit.
    g = matdiff.grad(lambda x: np.sum(f(x)))(x)
    onp.testing.assert_array_equal(g, closed(x))


@pytest.mark.parametrize("name, f, x, closed", UNARY, ids=[u[0] for u in UNARY])
def test_unary_rules_check_to_order_two(name, f, x, closed):
    check_grads(f, modes=("fwd", "rev"), order=2)(x)


@pytest.mark.parametrize(
    "y",
    [1.5, RNG.standard_normal((3, 4)), RNG.standard_normal((1, 4)), RNG.standard_normal(())],
    ids=["python float", "same shape", "broadcast row", "0-d array"],
)
def test_multiply_rules_check_to_order_two(y):
    check_grads(lambda x: x * y, modes=("fwd", "rev"), order=2)(X)
    if not isinstance(y, float):
        check_grads(lambda x, y: x * y, modes=("fwd", "rev"), order=2)(X, y)


def test_multiply_first_order_sums_back_to_each_shape():
    y = RNG.standard_normal((1, 4))
    gx, gy = matdiff.grad(lambda x, y: np.sum(x * y), argnums=(0, 1))(X, y)
    onp.testing.assert_array_equal(gx, onp.broadcast_to(y, X.shape))
    onp.testing.assert_allclose(gy, X.sum(axis=0, keepdims=True), rtol=1e-15, atol=1e-15)
    assert gy.shape == (1, 4)


@pytest.mark.parametrize("f", [np.sin, np.cos, np.exp, lambda x: x * 1.5])
def test_float32_stays_float32_on_the_direct_path(f):
    x = X.astype(onp.float32)
    assert matdiff.grad(lambda x: np.sum(f(x)))(x).dtype == onp.float32
    assert matdiff.grad(lambda x: np.sum(np.log(x)))(POS.astype(onp.float32)).dtype == onp.float32


def test_chain_of_the_per_operation_workload():
    # W1's chain, whose backward pass takes the direct rules throughout.
    def chain(x):
        for _ in range(5):
            x = np.sin(x) * 1.01 + 0.1
        return np.sum(x)

    check_grads(chain, modes=("fwd", "rev"), order=2)(RNG.standard_normal(8))


def test_inputs_are_left_alone():
    x, y = X.copy(), POS.copy()
    matdiff.grad(lambda x, y: np.sum(np.exp(x) * np.log(y)), argnums=(0, 1))(x, y)
    onp.testing.assert_array_equal(x, X)
    onp.testing.assert_array_equal(y, POS)


@pytest.mark.parametrize("reduce", [np.sum, np.mean])
@pytest.mark.parametrize("axis", [None, 0, (0, 2), -1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions_expand_their_cotangent_on_numpy_directly(reduce, axis, keepdims):
    # The reduced cotangent is broadcast back by NumPy itself when it is a plain array.
    x = RNG.standard_normal((2, 3, 4))
    w = RNG.standard_normal(onp.shape(onp.sum(x, axis=axis, keepdims=keepdims)))

    def f(x):
        return np.sum(reduce(x, axis=axis, keepdims=keepdims) * w)

    count = x.size // w.size
    kept = onp.sum(x, axis=axis, keepdims=True).shape
    expected = onp.broadcast_to(w.reshape(kept), x.shape)
    if reduce is np.mean:
        expected = expected / count
    onp.testing.assert_allclose(matdiff.grad(f)(x), expected, rtol=1e-15, atol=0)
    check_grads(f, modes=("fwd", "rev"), order=2)(x)
