"""Array attributes and dtype-dependent code read through nested boxes: inside third- and
fourth-order derivatives, in every mix of forward and reverse mode, a traced value's
``.dtype``, ``.shape``, ``.ndim``, ``.size``, ``.real`` and ``.T`` behave as the array's."""

import itertools

import numpy as onp
import pytest

import matdiff.numpy as np
from matdiff import grad, hessian, jit, jvp
from matdiff.test_util import check_grads

X = onp.array([[0.3, -0.4, 0.8], [0.5, 0.1, -0.2]])


def _fwd(f):
    """The directional derivative of scalar f along ones, by forward mode."""
    return lambda x: jvp(f, (x,), (onp.ones_like(x),))[1]


def _rev(f):
    """The sum of the gradient of scalar f, by reverse mode."""
    return lambda x: np.sum(grad(f)(x))


def attribute_user(x):
    # Each line fails if an attribute gives a box's view instead of the array's.
    assert x.dtype == onp.float64, x.dtype
    assert x.shape == X.shape and x.ndim == 2 and x.size == X.size and len(x) == len(X)
    ones = np.ones(x.shape, dtype=x.dtype)
    y = x.real * ones + x.T.T.astype(x.dtype)
    y = np.reshape(y, (x.size,))[: x.shape[1]]
    return np.sum(np.sin(y) * y**2) + np.sum(np.exp(x.real) * x.T.T)


@pytest.mark.parametrize(
    "outer",
    list(itertools.product([_fwd, _rev], repeat=2)),
    ids=lambda ms: "-".join(m.__name__ for m in ms),
)
def test_attributes_inside_fourth_order_mixed_modes(outer):
    # check_grads(order=2) of a second derivative checks third and fourth derivatives.
    f = attribute_user
    for make in outer:
        f = make(f)
    check_grads(f, modes=("fwd", "rev"), order=2)(X)


@pytest.mark.parametrize("dtype", [onp.float32, onp.float64])
def test_dtype_is_the_inputs_at_every_level(dtype):
    seen = []

    def f(x):
        seen.append((x.dtype, x.shape, x.ndim, x.real.dtype))
        return np.sum(x**4)

    x = X.astype(dtype)
    third = _rev(_fwd(_rev(f)))(x)
    onp.testing.assert_allclose(third, onp.sum(24 * x), rtol=1e-5)
    assert seen == [(onp.dtype(dtype), X.shape, 2, onp.dtype(dtype))]


def test_attributes_under_jit_of_third_order():
    f = _rev(_fwd(_rev(attribute_user)))
    onp.testing.assert_allclose(jit(f)(X), f(X), rtol=1e-12)


def test_attributes_inside_batched_hessian_of_a_derivative():
    # hessian pushes a batch of directions forward over a reverse pass: three levels here.
    f = _fwd(attribute_user)
    h = hessian(f)(X)
    assert h.shape == X.shape * 2
    eps = 1e-4
    for k in range(X.size):
        dx = onp.zeros(X.size)
        dx[k] = eps
        dx = dx.reshape(X.shape)
        fd = (grad(f)(X + dx) - grad(f)(X - dx)) / (2 * eps)
        onp.testing.assert_allclose(h.reshape(X.size, X.size)[k], fd.ravel(), atol=1e-6)
