"""matdiff.misc: autograd's flatten and optimizers (sgd, rmsprop, adam) on pytrees."""

import numpy as onp
import pytest

import matdiff.numpy as np
from matdiff import grad, hessian
from matdiff.misc import flatten
from matdiff.misc.optimizers import adam, rmsprop, sgd
from matdiff.test_util import check_grads
from matdiff.tracer import isbox

rng = onp.random.default_rng(7)


def R(*shape):
    return rng.standard_normal(shape)


# ---------------------------------------------------------------- flatten


def test_flatten_round_trip_keeps_structure_shapes_and_order():
    x = {"a": (1.5, R(2, 3)), "b": [R(4), None, {"c": R(1, 1)}]}
    flat, unflatten = flatten(x)
    assert flat.shape == (1 + 6 + 4 + 1,)
    onp.testing.assert_array_equal(flat[1:7], x["a"][1].ravel())
    back = unflatten(flat)
    assert back["b"][1] is None and back["a"][0] == 1.5 and back["b"][2]["c"].shape == (1, 1)
    onp.testing.assert_array_equal(back["b"][0], x["b"][0])
    onp.testing.assert_array_equal(flatten(back)[0], flat)


def test_flatten_of_an_empty_pytree_and_of_complex_leaves():
    flat, unflatten = flatten({"none": None, "empty": ()})
    assert flat.shape == (0,) and unflatten(flat) == {"empty": (), "none": None}
    flat, _ = flatten([1.0, onp.array([1j, 2.0])])
    assert flat.dtype == complex and flat[1] == 1j


def test_flatten_and_unflatten_are_differentiable():
    x = (R(3), {"w": R(2, 2)})
    flat0, unflatten = flatten(x)

    def through_tree(v):
        t = unflatten(v)
        return np.sum(np.sin(t[0])) * np.sum(t[1]["w"] ** 2)

    check_grads(through_tree, modes=("fwd", "rev"), order=2)(flat0)

    def through_vector(t):
        v, _ = flatten(t)
        return np.sum(np.tanh(v) * np.arange(7.0))

    check_grads(through_vector, modes=("fwd", "rev"), order=2)(x)
    g = grad(through_vector)(x)
    onp.testing.assert_allclose(flatten(g)[0], (1 - onp.tanh(flat0) ** 2) * onp.arange(7.0))


def test_a_loss_of_the_pytree_has_the_hessian_of_the_flat_loss():
    x = {"a": R(2), "b": 0.3}
    flat, unflatten = flatten(x)
    H = hessian(lambda v: np.sum(unflatten(v)["a"] ** 3) * unflatten(v)["b"])(flat)
    a, b = x["a"], x["b"]
    expected = onp.zeros((3, 3))
    expected[:2, :2] = onp.diag(6 * a * b)
    expected[:2, 2] = expected[2, :2] = 3 * a**2
    onp.testing.assert_allclose(H, expected, rtol=1e-12)


def test_unflatten_refuses_a_vector_of_the_wrong_size():
    _, unflatten = flatten((R(2), R(3)))
    with pytest.raises(ValueError, match=r"unflatten: the vector has shape \(4,\).*\(5,\)"):
        unflatten(onp.zeros(4))


# ---------------------------------------------------------------- optimizers


def _rosenbrock(p, i):
    x, y = p["x"], p["y"]
    return (1.0 - x) ** 2 + 100.0 * (y - x**2) ** 2


QUADRATIC_TARGET = R(3)
A = R(3, 3)
SPD = A @ A.T + 3.0 * onp.eye(3)


def _quadratic(w, i):
    d = w - QUADRATIC_TARGET
    return 0.5 * np.dot(d, np.dot(SPD, d))


OPTIMIZER_ROWS = [
    # name, optimizer, loss, start, options, minimum, tolerance
    (
        "adam-quadratic",
        adam,
        _quadratic,
        onp.zeros(3),
        {"num_iters": 2000, "step_size": 0.05},
        QUADRATIC_TARGET,
        1e-4,
    ),
    (
        "sgd-quadratic",
        sgd,
        _quadratic,
        onp.zeros(3),
        {"num_iters": 800, "step_size": 0.05},
        QUADRATIC_TARGET,
        1e-6,
    ),
    (
        "rmsprop-quadratic",
        rmsprop,
        _quadratic,
        onp.zeros(3),
        {"num_iters": 3000, "step_size": 0.002},
        QUADRATIC_TARGET,
        5e-3,
    ),
    (
        "adam-rosenbrock-dict",
        adam,
        _rosenbrock,
        {"x": -1.0, "y": 1.0},
        {"num_iters": 5000, "step_size": 0.02},
        {"x": 1.0, "y": 1.0},
        1e-3,
    ),
]


@pytest.mark.parametrize(
    "opt, loss, x0, options, minimum, tol",
    [r[1:] for r in OPTIMIZER_ROWS],
    ids=[r[0] for r in OPTIMIZER_ROWS],
)
def test_optimizers_reach_the_minimum(opt, loss, x0, options, minimum, tol):
    got = opt(grad(loss), x0, **options)
    got_flat, _ = flatten(got)
    want_flat, _ = flatten(minimum)
    onp.testing.assert_allclose(got_flat, want_flat, atol=tol)
    assert type(got) is type(x0)


@pytest.mark.parametrize("opt", [sgd, rmsprop, adam])
def test_the_callback_sees_each_iterate_and_gradient_as_pytrees(opt):
    seen = []

    def callback(x, i, g):
        assert not isbox(x) and set(x) == {"w", "b"}
        onp.testing.assert_allclose(g["w"], 2 * x["w"])
        seen.append((i, float(np.sum(x["w"] ** 2) + x["b"] ** 2)))

    loss = grad(lambda p, i: np.sum(p["w"] ** 2) + p["b"] ** 2)
    opt(loss, {"w": onp.ones(2), "b": 1.0}, callback, num_iters=30, step_size=0.05)
    assert [i for i, _ in seen] == list(range(30))
    assert seen[-1][1] < seen[0][1]


def test_the_iteration_number_reaches_grad():
    # A stochastic gradient reads its minibatch from i: here the target moves with i.
    targets = onp.array([1.0, 3.0])
    w = sgd(
        grad(lambda w, i: (w - targets[i % 2]) ** 2), 0.0, num_iters=400, step_size=0.05, mass=0.0
    )
    assert 1.5 < w < 2.5  # the average of the two targets


OPTIMIZER_ERRORS = [
    (
        "not-callable",
        lambda: adam(onp.ones(2), onp.zeros(2)),
        TypeError,
        r"adam: grad must be a function grad\(x, i\)",
    ),
    (
        "integer-start",
        lambda: sgd(lambda x, i: x, onp.zeros(2, int)),
        TypeError,
        r"sgd: the starting point x0 has dtype int64.*floating-point",
    ),
    (
        "wrong-structure",
        lambda: rmsprop(lambda x, i: onp.ones(3), onp.zeros(2)),
        ValueError,
        r"rmsprop: grad returned 3 entries for a starting point of 2",
    ),
]


@pytest.mark.parametrize(
    "call, exc, match", [r[1:] for r in OPTIMIZER_ERRORS], ids=[r[0] for r in OPTIMIZER_ERRORS]
)
def test_optimizer_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
