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


# Each optimizer's update, written again in plain NumPy from its paper. It reads the
# gradients the optimizer itself was given, so the comparison involves no matrix product
# and no BLAS kernel: only the few elementwise operations of one step.


def _sgd_steps(xs, gs, steps, mass=0.9):
    velocity = onp.zeros_like(xs[0])
    for x, g, a in zip(xs, gs, steps):
        velocity = mass * velocity - (1.0 - mass) * g
        yield x + a * velocity


def _rmsprop_steps(xs, gs, steps, gamma=0.9, eps=1e-8):
    avg_sq = onp.ones_like(xs[0])
    for x, g, a in zip(xs, gs, steps):
        avg_sq = gamma * avg_sq + (1 - gamma) * g**2
        yield x - a * g / (onp.sqrt(avg_sq) + eps)


def _adam_steps(xs, gs, steps, b1=0.9, b2=0.999, eps=1e-8):
    m = onp.zeros_like(xs[0])
    v = onp.zeros_like(xs[0])
    for t, (x, g, a) in enumerate(zip(xs, gs, steps), start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        yield x - a * (m / (1 - b1**t)) / (onp.sqrt(v / (1 - b2**t)) + eps)


def _curved_gradient(x, i):
    # Not a fixed linear map, and changing with i, so that every term of each rule
    # (momentum, running moments, bias correction) moves from step to step.
    return SPD @ (x - QUADRATIC_TARGET) + onp.sin(3.0 * x) * (1 + i % 3)


@pytest.mark.parametrize(
    "opt, reference", [(sgd, _sgd_steps), (rmsprop, _rmsprop_steps), (adam, _adam_steps)]
)
@pytest.mark.parametrize(
    "step_size", [0.05, lambda i: 0.1 / (1 + i / 5)], ids=["constant", "schedule"]
)
def test_each_optimizer_takes_the_step_its_rule_defines(opt, reference, step_size):
    xs, gs = [], []

    def record(x, i, g):
        xs.append(onp.array(x["w"], copy=True))
        gs.append(onp.array(g["w"], copy=True))

    num_iters = 40
    final = opt(
        lambda p, i: {"w": _curved_gradient(p["w"], i)},
        {"w": onp.linspace(-1.0, 2.0, 3)},
        record,
        num_iters=num_iters,
        step_size=step_size,
    )
    steps = [step_size(i) if callable(step_size) else step_size for i in range(num_iters)]
    want = list(reference(xs, gs, steps))
    got = xs[1:] + [final["w"]]
    assert len(got) == len(want) == num_iters
    # Each prediction starts from the optimizer's own iterate and repeats one step's
    # elementwise arithmetic, perhaps in another order: a few rounding errors of the
    # iterate's size, nothing that grows with the number of steps.
    scale = max(onp.max(onp.abs(x)) for x in xs)
    for k, (g, w) in enumerate(zip(got, want)):
        onp.testing.assert_allclose(g, w, rtol=0, atol=64 * EPS * scale, err_msg=f"step {k}")


EPS = onp.finfo(float).eps


def _sgd_error_bound(num_iters, step_size, mass=0.9):
    """How far momentum SGD can still be from the minimum of the quadratic.

    On this quadratic the iteration is linear in (x - x*, velocity); its matrix raised to
    the number of steps bounds the error left from the start, and rounding leaves the
    iterate within a few ulps of the condition number times |x*| at the end.
    """
    n = len(QUADRATIC_TARGET)
    step = onp.block(
        [
            [onp.eye(n) - step_size * (1 - mass) * SPD, step_size * mass * onp.eye(n)],
            [-(1 - mass) * SPD, mass * onp.eye(n)],
        ]
    )
    start = onp.concatenate([-QUADRATIC_TARGET, onp.zeros(n)])
    left = onp.linalg.norm(onp.linalg.matrix_power(step, num_iters), 2) * onp.linalg.norm(start)
    rounding = 64 * EPS * onp.linalg.cond(SPD) * onp.max(onp.abs(QUADRATIC_TARGET))
    return left + rounding


def _harmonic(first, tau):
    return lambda i: first / (1 + i / tau)


# Adam and RMSprop do not settle on a constant step: near the minimum their steps have the
# size of the step size whatever the gradient (g / sqrt(running mean of g^2) is about 1),
# so they hover within a step of it, and where they are on the last step depends on the
# last bits of every earlier gradient. The tolerance is therefore the last step size, and
# the rows use a decaying step so that it is small.
OPTIMIZER_ROWS = [
    # name, optimizer, loss, start, options, minimum, tolerance
    (
        "adam-quadratic",
        adam,
        _quadratic,
        onp.zeros(3),
        {"num_iters": 2000, "step_size": _harmonic(0.05, 20)},
        QUADRATIC_TARGET,
        _harmonic(0.05, 20)(1999),
    ),
    (
        "sgd-quadratic",
        sgd,
        _quadratic,
        onp.zeros(3),
        {"num_iters": 800, "step_size": 0.05},
        QUADRATIC_TARGET,
        _sgd_error_bound(800, 0.05),
    ),
    (
        "rmsprop-quadratic",
        rmsprop,
        _quadratic,
        onp.zeros(3),
        {"num_iters": 3000, "step_size": _harmonic(0.01, 50)},
        QUADRATIC_TARGET,
        _harmonic(0.01, 50)(2999),
    ),
    (
        "adam-rosenbrock-dict",
        adam,
        _rosenbrock,
        {"x": -1.0, "y": 1.0},
        {"num_iters": 5000, "step_size": _harmonic(0.02, 500)},
        {"x": 1.0, "y": 1.0},
        _harmonic(0.02, 500)(4999),
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
    start_flat, _ = flatten(x0)
    assert onp.max(onp.abs(start_flat - want_flat)) > 100 * tol  # the row tests something
    onp.testing.assert_allclose(got_flat, want_flat, rtol=0, atol=tol)
    assert type(got) is type(x0)


def test_the_sgd_bound_is_tight_enough_to_mean_convergence():
    assert _sgd_error_bound(800, 0.05) < 1e-12
    assert _sgd_error_bound(10, 0.05) > 1e-2  # and it is a bound that depends on the steps


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
