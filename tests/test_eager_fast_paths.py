"""The eager engine's shortcuts give what the general path gives, to the last bit.

* ``grad`` of a function of one float array (or float) skips the pytree handling: the
  same gradient, value, warnings and errors as the general path, which ``argnums=(0,)``
  takes;
* a VJP written as ``DirectVJP(rule)`` is called by the backward pass without a closure,
  and is still an ordinary maker to everything else;
* a linear JVP rule under a batched forward pass (a Hessian's) calls its primitive's
  batching rule without a vmap trace;
* the 0-d cotangent of a full reduction is broadcast without ``numpy.broadcast_to``, and
  a mean's is divided as a NumPy scalar;
* ``dot`` of a scalar or of two vectors takes the product's cotangent directly.
"""

from __future__ import annotations

import warnings

import numpy as onp
import pytest

import matdiff
import matdiff.numpy as np
from matdiff.batching import batch_jvp
from matdiff.core import DirectVJP, vjp_rules
from matdiff.extend import defjvp, defvjp, primitive
from matdiff.test_util import check_grads
from matdiff.vmapping import map_argument

RNG = onp.random.default_rng(1)
X = RNG.standard_normal((3, 4))


def _general(f, argnums=0):
    """``grad(f)`` by the general path, which ``has_aux`` takes."""
    g = matdiff.grad(lambda *a, **k: (f(*a, **k), None), argnums=argnums, has_aux=True)
    return lambda *a, **k: g(*a, **k)[0]


def loss(x):
    return np.sum(np.tanh(x) * np.sin(x)) + np.mean(x**2)


INPUTS = [
    ("array", X),
    ("float32 array", X.astype(onp.float32)),
    ("complex array", X + 1j * X[::-1]),
    ("0-d array", onp.asarray(0.7)),
    ("float", 0.7),
    ("numpy float64", onp.float64(0.7)),
]


def _real_loss(x):
    return np.real(np.sum(x * np.conj(x) * np.sin(x)))


@pytest.mark.parametrize("name, x", INPUTS, ids=[i[0] for i in INPUTS])
def test_grad_of_one_argument_is_the_general_path(name, x):
    f = _real_loss if onp.iscomplexobj(x) else loss
    fast = matdiff.grad(f)(x)
    slow = _general(f)(x)
    assert type(fast) is type(slow)
    assert onp.asarray(fast).dtype == onp.asarray(slow).dtype
    onp.testing.assert_array_equal(fast, slow)


def test_value_and_grad_of_one_argument_is_the_general_path():
    v1, g1 = matdiff.value_and_grad(loss)(X)
    (v2, _), g2 = matdiff.value_and_grad(lambda x: (loss(x), None), has_aux=True)(X)
    assert type(v1) is type(v2) and v1 == v2
    onp.testing.assert_array_equal(g1, g2)


def test_grad_of_one_argument_among_others_and_keywords():
    def f(a, x, scale=1.0):
        return np.sum(a * np.sin(x)) * scale

    a = RNG.standard_normal(4)
    for argnums in (1, -1):
        fast = matdiff.grad(f, argnums=argnums)(a, X, scale=2.0)
        slow = _general(f, argnums)(a, X, scale=2.0)
        onp.testing.assert_array_equal(fast, slow)


def test_nested_grads_take_the_same_values():
    f = np.tanh
    for n in range(1, 5):
        fast = slow = f
        for _ in range(n):
            fast, slow = matdiff.grad(fast), _general(slow)
        assert fast(0.3) == slow(0.3)


def test_grad_of_a_subclass_or_integer_takes_the_general_path():
    class Sub(onp.ndarray):
        pass

    s = X.view(Sub)
    onp.testing.assert_array_equal(matdiff.grad(loss)(s), _general(loss)(s))
    with pytest.raises(TypeError, match="argument 0 has dtype int64"):
        matdiff.grad(loss)(onp.arange(3))


def test_an_output_that_does_not_depend_warns_at_the_callers_line():
    g = matdiff.grad(lambda x: 2.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = g(X)
    assert [w.filename for w in caught] == [__file__]
    assert "does not depend on the input" in str(caught[0].message)
    onp.testing.assert_array_equal(out, onp.zeros_like(X))


def test_a_non_scalar_output_is_refused_as_before():
    with pytest.raises(TypeError, match=r"returned an array of shape \(3, 4\)"):
        matdiff.grad(np.sin)(X)
    with pytest.raises(TypeError, match="returned a tuple"):
        matdiff.grad(lambda x: (np.sum(x), np.sum(x)))(X)


def test_the_gradient_of_a_mean_is_a_read_only_broadcast_as_before():
    g = matdiff.grad(np.mean)(X)
    onp.testing.assert_array_equal(g, onp.full(X.shape, 1 / X.size))
    assert not g.flags.writeable


def test_a_direct_vjp_is_also_a_maker():
    cube = primitive(lambda x: x**3)
    rule = DirectVJP(lambda g, ans, x: 3.0 * x**2 * g)
    defvjp(cube, rule)
    defjvp(cube, lambda g, ans, x: 3.0 * x**2 * g)
    assert rule(8.0, 2.0)(1.0) == 12.0
    assert matdiff.grad(cube)(2.0) == 12.0
    check_grads(cube, modes=("fwd", "rev"), order=2)(1.3)
    # A rule set later replaces it, as any maker.
    defvjp(cube, lambda ans, x: lambda g: 0.0 * g)
    assert matdiff.grad(cube)(2.0) == 0.0
    assert type(vjp_rules[cube][0]) is not DirectVJP


@pytest.mark.parametrize(
    "f",
    [
        lambda x: np.sum(x, axis=1),
        lambda x: np.transpose(x) @ x,
        lambda x: np.reshape(x, (4, 3)),
        lambda x: np.broadcast_to(x[0], (5, 4)),
        lambda x: np.dot(x, x.T),
    ],
    ids=["sum", "matmul", "reshape", "broadcast_to", "dot"],
)
def test_linear_rules_batched_directly_match_one_direction_at_a_time(f):
    dirs = RNG.standard_normal((6,) + X.shape)
    _, batched = batch_jvp(f, (X,), (dirs,))
    for b in range(len(dirs)):
        _, t = matdiff.jvp(f, (X,), (dirs[b],))
        onp.testing.assert_allclose(batched[b], t, rtol=1e-13, atol=1e-13)


def test_map_argument_is_map_batch():
    from matdiff.vmapping import map_batch

    xs = RNG.standard_normal((5, 3, 4))
    for fun, args in [(np.sum, [None]), (np.transpose, [None]), (np.matmul, [None, X.T])]:
        direct = map_argument(fun, 0, xs, args, {}, 5)
        traced = map_batch(lambda x, fun=fun, args=args: fun(x, *args[1:]), xs, 5)
        onp.testing.assert_array_equal(direct, traced)


def test_hessians_through_linear_rules_check():
    A = RNG.standard_normal((4, 4))

    def f(x):
        return np.sum(np.tanh(np.reshape(x, (2, 2)) @ np.reshape(x, (2, 2)).T)) + x @ A @ x

    x = RNG.standard_normal(4)
    h = matdiff.hessian(f)(x)
    cols = [matdiff.jvp(matdiff.grad(f), (x,), (e,))[1] for e in onp.eye(4)]
    onp.testing.assert_allclose(h, onp.stack(cols, axis=-1), rtol=1e-12, atol=1e-12)
    check_grads(f, modes=("fwd", "rev"), order=2)(x)
    hv = matdiff.vmap(matdiff.hessian(f))(RNG.standard_normal((3, 4)))
    assert hv.shape == (3, 4, 4)


@pytest.mark.parametrize(
    "x, y",
    [(0.7, 1.3), (onp.float64(0.7), 1.3), (0.7, onp.float64(1.3)), (onp.float64(0.7), 2j)],
    ids=["floats", "float64 and float", "float and float64", "float64 and complex"],
)
def test_products_of_scalars_at_every_order(x, y):
    def f(x, y):
        return np.real(x * np.sin(x * y) * y)

    for argnums in (0, 1):
        d = _general(f, argnums)
        fast = matdiff.grad(f, argnums)
        assert fast(x, y) == d(x, y)
    third = matdiff.grad(matdiff.grad(matdiff.grad(f)))
    third_general = _general(_general(_general(f)))
    assert third(x, y) == third_general(x, y)
    if not isinstance(y, complex):
        check_grads(f, modes=("fwd", "rev"), order=2)(x, y)


def test_unbroadcast_shortcuts_match_the_general_rule():
    from itertools import product

    from matdiff.numpy._broadcast import match_realness, shape_of, sum_to_shape, unbroadcast

    values = [
        1.5,
        1j,
        onp.float64(2.0),
        onp.float32(1.0),
        onp.complex128(1j),
        onp.ones(()),
        onp.ones(()) * 1j,
        onp.ones(3),
        onp.ones(3, onp.float32),
        onp.ones(3) * 1j,
        onp.ones((2, 3)),
        onp.ones((1, 3)),
        onp.ones((2, 3)) * 1j,
    ]
    for x, g in product(values, values):
        try:
            expected = match_realness(x, sum_to_shape(g, shape_of(x)))
        except (ValueError, IndexError) as e:
            # a cotangent of lower rank than its input: refused the same way
            with pytest.raises(type(e)):
                unbroadcast(x, g)
            continue
        got = unbroadcast(x, g)
        assert type(got) is type(expected)
        assert onp.asarray(got).dtype == onp.asarray(expected).dtype
        assert onp.shape(got) == onp.shape(expected)
        onp.testing.assert_array_equal(got, expected)


def test_the_mean_shortcut_matches_the_general_rule():
    from itertools import product

    from matdiff.numpy import _broadcast, reductions

    cotangents = [
        onp.ones(()) * 0.3,
        onp.float64(0.3),
        onp.float32(0.3),
        onp.ones((), onp.float32) * 0.3,
        onp.ones(()) * 0.3j,
    ]
    inputs = [X, X.astype(onp.float32), X + 1j, onp.ones(()), onp.ones((0, 3))]
    for g, x in product(cotangents, inputs):
        with onp.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # the mean of no entries
            expected = _broadcast.expand_to(np.divide(g, x.size), x.shape, None, False)
            got = reductions._mean_vjp(g, onp.mean(x), x)
        assert onp.asarray(got).dtype == onp.asarray(expected).dtype
        assert onp.shape(got) == x.shape
        onp.testing.assert_array_equal(got, expected)
        assert getattr(got, "flags", None) is None or not got.flags.writeable
    check_grads(lambda x: np.mean(np.sin(x)), modes=("fwd", "rev"), order=2)(X)


@pytest.mark.parametrize(
    "a, b",
    [
        (0.7, RNG.standard_normal(3)),
        (RNG.standard_normal(3), onp.float64(0.7)),
        (RNG.standard_normal(3), RNG.standard_normal(3)),
        (RNG.standard_normal(3), RNG.standard_normal(3) + 2j),
        (onp.asarray(0.7), RNG.standard_normal((2, 3, 4))),
        (RNG.standard_normal((2, 3)), onp.asarray(-1.2)),
    ],
    ids=["scalar-vector", "vector-scalar", "vectors", "real-complex", "0d-3d", "2d-0d"],
)
def test_dot_of_scalars_and_vectors_takes_products_directly(a, b):
    from matdiff.numpy._broadcast import unbroadcast

    g = onp.ones(onp.shape(onp.dot(a, b))) * (0.5 + 0.25j)
    for argnum, (x, other) in enumerate([(a, b), (b, a)]):
        got = vjp_rules[np.dot][argnum].rule(g, onp.dot(a, b), a, b)
        expected = unbroadcast(x, g * other)
        assert onp.asarray(got).dtype == onp.asarray(expected).dtype
        onp.testing.assert_array_equal(got, expected)
    if not onp.iscomplexobj(b):
        check_grads(np.dot, modes=("fwd", "rev"), order=2)(onp.asarray(a, float), b)
