"""No silent wrong answers in matdiff.numpy: points where a derivative is infinite,
undefined or easy to get subtly wrong, checked in both modes and at second order.

The conventions held here are set out in docs/conventions.md.
"""

from __future__ import annotations

import numpy as onp
import pytest

import matdiff.numpy as np
from matdiff import grad, hessian, jacfwd, jvp
from matdiff.test_util import check_grads

pytestmark = pytest.mark.filterwarnings(
    "ignore:divide by zero", "ignore:invalid value", "ignore:Degrees of freedom"
)


def both_modes(f, x):
    """grad f(x) by reverse mode and by forward mode, checked equal (NaN equal to NaN)."""
    x = onp.asarray(x, dtype=float)
    g_rev = onp.asarray(grad(f)(x))
    g_fwd = onp.asarray(jacfwd(f)(x))
    onp.testing.assert_array_equal(g_rev, g_fwd)
    return g_rev


# ---------------------------------------------------------------- sqrt and cbrt at 0


@pytest.mark.parametrize("f", [np.sqrt, np.cbrt], ids=["sqrt", "cbrt"])
def test_infinite_slope_at_zero_agrees_in_both_modes(f):
    assert grad(f)(0.0) == onp.inf
    assert jvp(f, (0.0,), (1.0,))[1] == onp.inf
    assert jvp(f, (0.0,), (-1.0,))[1] == -onp.inf
    # A zero tangent is no change: 0, not 0 * inf = nan.
    assert jvp(f, (0.0,), (0.0,))[1] == 0.0
    onp.testing.assert_array_equal(both_modes(lambda x: np.sum(f(x)), [0.0, 4.0])[0], onp.inf)


def test_sqrt_hessian_at_zero_is_symmetric():
    def f(x):
        return np.sum(np.sqrt(x)) + x[0] * x[1]

    h = hessian(f)(onp.array([0.0, 4.0]))
    # d2/dx0^2 sqrt(x0) = -1 / (4 x0^1.5) -> -inf; the mixed term is exactly 1.
    onp.testing.assert_array_equal(h, [[-onp.inf, 1.0], [1.0, -1.0 / 32.0]])
    onp.testing.assert_array_equal(jacfwd(jacfwd(f))(onp.array([0.0, 4.0])), h)


def test_sqrt_of_untaken_where_branch_gets_zero():
    # The untaken branch's cotangent is an exact 0, and sqrt keeps it 0 even at x < 0.
    def f(x):
        return np.sum(np.where(x > 0, np.sqrt(x), 0.0))

    onp.testing.assert_array_equal(both_modes(f, [-1.0, 0.0, 4.0]), [0.0, 0.0, 0.25])


@pytest.mark.parametrize("f", [np.sqrt, np.cbrt], ids=["sqrt", "cbrt"])
def test_infinite_slope_rules_check_to_third_order(f):
    check_grads(f, modes=["fwd", "rev"], order=3)(onp.array([0.3, 2.0]))
    if f is np.sqrt:
        check_grads(f, modes=["fwd", "rev"], order=2)(onp.array([0.3 + 1.0j, 2.0 - 0.5j]))
    else:
        check_grads(f, modes=["fwd", "rev"], order=3)(onp.array([-0.3, -2.0]))


# ---------------------------------------------------------------- std and var


@pytest.mark.parametrize("f", [np.std, np.var, np.nanstd, np.nanvar])
def test_spread_of_one_entry_is_constant(f):
    x = onp.array([2.0])
    assert f(x) == 0.0
    onp.testing.assert_array_equal(both_modes(f, x), [0.0])
    onp.testing.assert_array_equal(hessian(f)(x), [[0.0]])
    # Along an axis of length 1, every slice is one entry.
    a = onp.arange(3.0).reshape(1, 3)
    onp.testing.assert_array_equal(grad(lambda a: np.sum(f(a, axis=0)))(a), onp.zeros((1, 3)))
    onp.testing.assert_array_equal(jacfwd(lambda a: f(a, axis=0))(a), onp.zeros((3, 1, 3)))


@pytest.mark.parametrize("f", [np.nanstd, np.nanvar])
def test_nan_spread_of_one_number_is_constant(f):
    x = onp.array([[1.0, onp.nan], [1.0, 3.0]])
    g = grad(lambda x: np.sum(f(x, axis=1)))(x)
    onp.testing.assert_array_equal(jacfwd(lambda x: np.sum(f(x, axis=1)))(x), g)
    onp.testing.assert_allclose(
        g, [[0.0, 0.0], [-1.0 if f is np.nanvar else -0.5, 1.0 if f is np.nanvar else 0.5]]
    )


@pytest.mark.parametrize("f", [np.std, np.var, np.nanstd, np.nanvar])
@pytest.mark.parametrize("x, ddof", [([2.0], 1), ([1.0, 3.0], 2), ([1.0, 3.0], 3), ([2.0, 2.0], 3)])
def test_spread_with_no_degrees_of_freedom_has_no_derivative(f, x, ddof):
    # NumPy divides by max(n - ddof, 0): the value is nan or inf whatever the data, so
    # the derivative is nan in both modes, never a finite number from a negative count.
    def fun(x):
        return f(x, ddof=ddof)

    x = onp.array(x)
    assert not onp.isfinite(fun(x))
    assert onp.isnan(both_modes(fun, x)).all()
    assert onp.isnan(hessian(fun)(x)).all()


@pytest.mark.parametrize("f", [np.std, np.var, np.nanstd, np.nanvar])
def test_spread_rules_still_check(f):
    check_grads(lambda x: f(x, ddof=1), modes=["fwd", "rev"], order=2)(onp.array([1.0, 3.0, 2.5]))
    check_grads(lambda x: f(x, axis=0), modes=["fwd", "rev"], order=2)(
        onp.array([[1.0, 3.0], [0.5, -1.0]])
    )
