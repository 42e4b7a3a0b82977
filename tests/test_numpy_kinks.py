"""The conventions at kinks and edges, as docs/conventions.md states them, in both modes.

Each convention is checked with reverse mode (grad) and forward mode (jvp); numerical
care (large and tiny inputs, zeros in products and powers) is checked where a naive rule
would give inf or nan.
"""

from __future__ import annotations

import math

import numpy as onp
import pytest

import matdiff.numpy as np
from matdiff import grad, hessian, jacobian, jvp
from matdiff.test_util import check_grads


def fwd_grad(f, x):
    """The gradient of scalar f by forward mode, one basis direction at a time."""
    x = onp.asarray(x, dtype=float)
    out = onp.empty(x.shape)
    for i in onp.ndindex(x.shape):
        e = onp.zeros(x.shape)
        e[i] = 1.0
        out[i] = jvp(f, (x,), (e,))[1]
    return out


def both_modes(f, x):
    """grad f(x) from reverse mode and from forward mode, checked equal, returned."""
    g_rev = onp.asarray(grad(f)(onp.asarray(x, dtype=float)))
    g_fwd = fwd_grad(f, x)
    onp.testing.assert_array_equal(g_rev, g_fwd)
    return g_rev


# ---------------------------------------------------------------- abs, sign


def test_abs_at_zero_is_zero():
    g = both_modes(lambda x: np.sum(np.abs(x)), [-2.0, 0.0, 3.0])
    onp.testing.assert_array_equal(g, [-1.0, 0.0, 1.0])
    assert both_modes(lambda x: np.sum(np.fabs(x)), [0.0])[0] == 0.0


def test_complex_abs_at_zero_is_zero():
    assert grad(lambda z: np.abs(z))(0j) == 0


def test_sign_has_zero_derivative():
    g = both_modes(lambda x: np.sum(np.sign(x) * x), [-2.0, 0.0, 3.0])
    onp.testing.assert_array_equal(g, [-1.0, 0.0, 1.0])


# ---------------------------------------------------------------- ties


@pytest.mark.parametrize("f", [np.maximum, np.minimum, np.fmax, np.fmin])
def test_binary_ties_split_evenly(f):
    x = onp.array([1.0, 2.0, 3.0])
    y = onp.array([1.0, 0.0, 5.0])
    gx = both_modes(lambda a: np.sum(f(a, y)), x)
    gy = both_modes(lambda b: np.sum(f(x, b)), y)
    assert gx[0] == gy[0] == 0.5
    onp.testing.assert_array_equal(gx + gy, [1.0, 1.0, 1.0])


def test_nan_goes_to_the_nan_in_maximum_and_to_the_number_in_fmax():
    x = onp.array([onp.nan, 1.0])
    y = onp.array([2.0, onp.nan])
    onp.testing.assert_array_equal(grad(lambda a: np.sum(np.maximum(a, y)))(x), [1.0, 0.0])
    onp.testing.assert_array_equal(grad(lambda a: np.nansum(np.fmax(a, y)))(x), [0.0, 1.0])


@pytest.mark.parametrize("name", ["max", "min", "amax", "amin"])
def test_reduction_ties_split_evenly(name):
    f = getattr(np, name)
    v = 3.0 if name in ("max", "amax") else -3.0
    x = onp.array([[v, 1.0, v], [0.0, v, v]])
    g = both_modes(lambda a: f(a), x)
    onp.testing.assert_allclose(g, onp.where(x == v, 1 / 4, 0.0))
    g = both_modes(lambda a: np.sum(f(a, axis=1)), x)
    onp.testing.assert_allclose(g, [[0.5, 0.0, 0.5], [0.0, 0.5, 0.5]])
    g = both_modes(lambda a: np.sum(f(a, axis=-2, keepdims=True)), x)
    onp.testing.assert_allclose(g, [[1.0, 0.0, 0.5], [0.0, 1.0, 0.5]])


def test_median_shares_between_middle_and_tied_entries():
    onp.testing.assert_allclose(both_modes(np.median, [4.0, 1.0, 3.0, 2.0]), [0, 0, 0.5, 0.5])
    onp.testing.assert_allclose(both_modes(np.median, [2.0, 1.0, 2.0]), [0.5, 0.0, 0.5])
    onp.testing.assert_allclose(both_modes(np.median, [2.0, 2.0, 2.0]), [1 / 3] * 3)


def _logsumexp(x):
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m)))


@pytest.mark.parametrize("x", [[0.5, -1.0, 2.0], [2.0, 2.0, 0.0], [1000.0, 1000.0, 999.0]])
def test_logsumexp_through_max_is_exact(x):
    # The max's share cancels in m + log(sum(exp(x - m))) only if the shares sum to 1.
    x = onp.array(x)
    softmax = onp.exp(x - x.max()) / onp.exp(x - x.max()).sum()
    onp.testing.assert_allclose(both_modes(_logsumexp, x), softmax, rtol=1e-14)
    expected_hessian = onp.diag(softmax) - onp.outer(softmax, softmax)
    onp.testing.assert_allclose(hessian(_logsumexp)(x), expected_hessian, atol=1e-15)


# ---------------------------------------------------------------- clip


def test_clip_passes_the_closed_interval_to_x():
    x = onp.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    g = both_modes(lambda a: np.sum(np.clip(a, -1.0, 1.0)), x)
    onp.testing.assert_array_equal(g, [0.0, 1.0, 1.0, 1.0, 0.0])


def test_clip_bounds_get_the_rest():
    x = onp.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    lo, hi = onp.array(-1.0), onp.array(1.0)
    assert both_modes(lambda b: np.sum(np.clip(x, b, hi)), lo) == 1.0  # only x = -2
    assert both_modes(lambda b: np.sum(np.clip(x, lo, b)), hi) == 1.0  # only x = 2


def test_clip_with_crossed_bounds_follows_numpy():
    # NumPy gives a_max everywhere when a_min > a_max; so does the derivative.
    x = onp.array([-1.0, 0.5, 3.0])
    assert onp.all(np.clip(x, 2.0, 1.0) == 1.0)
    onp.testing.assert_array_equal(grad(lambda a: np.sum(np.clip(a, 2.0, 1.0)))(x), [0, 0, 0])
    assert grad(lambda b: np.sum(np.clip(x, 2.0, b)))(1.0) == 3.0


# ---------------------------------------------------------------- sqrt at 0


def test_sqrt_at_zero_is_infinite():
    with onp.errstate(divide="ignore"):
        assert grad(np.sqrt)(0.0) == onp.inf
        assert jvp(np.sqrt, (0.0,), (1.0,))[1] == onp.inf
    assert grad(np.sqrt)(1e-300) == pytest.approx(0.5 / math.sqrt(1e-300))


# ---------------------------------------------------------------- where with a NaN branch


def _naive(x):
    return np.sum(np.where(x > 0, np.log(x), 0.0))


def _double_where(x):
    safe = np.where(x > 0, x, 1.0)
    return np.sum(np.where(x > 0, np.log(safe), 0.0))


def test_naive_where_gives_nan_as_documented():
    # The untaken branch's cotangent is an exact 0, but log's rule divides it by x = 0,
    # and 0 / 0 = nan.
    x = onp.array([0.0, 4.0])
    with onp.errstate(invalid="ignore", divide="ignore"):
        g = grad(_naive)(x)
    assert onp.isnan(g[0]) and g[1] == 0.25


def test_double_where_gives_a_finite_gradient():
    x = onp.array([-1.0, 0.0, 4.0])
    g = both_modes(_double_where, x)
    onp.testing.assert_array_equal(g, [0.0, 0.0, 0.25])
    check_grads(_double_where, order=2)(onp.array([-1.0, 4.0]))


# ---------------------------------------------------------------- powers at 0


@pytest.mark.parametrize(
    "p, d1, d2", [(0, 0.0, 0.0), (1, 1.0, 0.0), (2, 0.0, 2.0), (3, 0.0, 0.0), (2.0, 0.0, 2.0)]
)
def test_integer_powers_at_zero(p, d1, d2):
    def f(x):
        return np.sum(x**p)

    assert both_modes(f, [0.0])[0] == d1
    assert hessian(f)(onp.array([0.0]))[0, 0] == d2


def test_power_with_traced_exponent_at_zero_base():
    # d/dy 0 ** y = 0 for y > 0 (not log(0) * 0 = nan); d/dx x ** y at x = 0, y = 0 is 0.
    assert grad(lambda y: np.power(0.0, y), argnums=0)(2.0) == 0.0
    x = onp.array([0.0, 0.0, 2.0])
    y = onp.array([0.0, 2.0, 3.0])
    onp.testing.assert_array_equal(grad(lambda a: np.sum(np.power(a, y)))(x), [0.0, 0.0, 12.0])
    jac = jacobian(lambda a: np.power(a, y))(x)
    onp.testing.assert_array_equal(onp.diag(jac), [0.0, 0.0, 12.0])


def test_square_of_negative_numbers():
    x = onp.array([-3.0, -0.5])
    onp.testing.assert_array_equal(both_modes(lambda a: np.sum(a**2), x), 2 * x)
    onp.testing.assert_array_equal(both_modes(lambda a: np.sum(a**3), x), 3 * x**2)


# ---------------------------------------------------------------- numerical care


def test_logaddexp_is_stable_for_large_inputs():
    assert grad(np.logaddexp, argnums=(0, 1))(0.0, 1000.0) == (0.0, 1.0)
    assert grad(np.logaddexp, argnums=(0, 1))(1000.0, 1000.0) == pytest.approx((0.5, 0.5))
    assert grad(np.logaddexp2, argnums=(0, 1))(-2000.0, 0.0) == (0.0, 1.0)
    assert jvp(np.logaddexp, (0.0, 1000.0), (1.0, 1.0))[1] == 1.0
    check_grads(np.logaddexp, order=2)(onp.array([500.0, -700.0]), onp.array([499.0, -710.0]))


def test_expm1_and_log1p_are_accurate_near_zero_and_far_out():
    assert grad(np.expm1)(1e-12) == 1.0 + 1e-12
    assert grad(np.log1p)(1e-12) == pytest.approx(1.0 - 1e-12, rel=1e-15)
    assert grad(np.expm1)(-1000.0) == 0.0
    assert grad(np.log1p)(1e300) == pytest.approx(1e-300)


def test_sinc_is_exact_at_and_near_zero_to_any_order():
    def d(k):
        f = np.sinc
        for _ in range(k):
            f = grad(f)
        return f

    # sinc'(0) = 0, sinc''(0) = -pi^2 / 3, sinc''''(0) = pi^4 / 5
    assert d(1)(0.0) == 0.0
    assert d(2)(0.0) == pytest.approx(-(math.pi**2) / 3, rel=1e-14)
    assert d(3)(0.0) == 0.0
    assert d(4)(0.0) == pytest.approx(math.pi**4 / 5, rel=1e-13)
    for x in (1e-9, 1e-3, 0.3, 0.9, 2.5):
        check_grads(np.sinc, order=2)(onp.array([x, -x]))


def test_prod_with_zeros():
    x = onp.array([2.0, 0.0, 3.0])
    onp.testing.assert_array_equal(both_modes(np.prod, x), [0.0, 6.0, 0.0])
    onp.testing.assert_array_equal(both_modes(np.prod, [0.0, 2.0, 0.0]), [0.0, 0.0, 0.0])
    h = hessian(np.prod)(onp.array([0.0, 2.0, 0.0]))
    onp.testing.assert_array_equal(h, [[0.0, 0.0, 2.0], [0.0, 0.0, 0.0], [2.0, 0.0, 0.0]])


def test_cumprod_with_zeros():
    x = onp.array([2.0, 0.0, 3.0, 4.0])
    jac = jacobian(np.cumprod)(x)
    expected = onp.array([[1, 0, 0, 0], [0, 2, 0, 0], [0, 6, 0, 0], [0, 24, 0, 0]], dtype=float)
    onp.testing.assert_array_equal(jac, expected)
