"""autograd's public SciPy behaviour (special, linalg, integrate, signal), restated: each
test calls matdiff as an autograd program would, and compares with SciPy and with the
installed autograd where it runs.

Derivatives are checked by ``check_grads`` (finite differences, both modes, order 2).
"""

from __future__ import annotations

import numpy as onp
import pytest
import scipy.linalg as sl

import matdiff.numpy as np
from matdiff import grad, jacobian, jvp
from matdiff.scipy import integrate, linalg, signal, special
from matdiff.test_util import check_grads, combo_check

autograd = pytest.importorskip("autograd")
import autograd.numpy as anp  # noqa: E402
import autograd.scipy.integrate as a_integrate  # noqa: E402
import autograd.scipy.linalg as a_linalg  # noqa: E402
import autograd.scipy.signal as a_signal  # noqa: E402
import autograd.scipy.special as a_special  # noqa: E402

ORDER2 = {"modes": ("fwd", "rev"), "order": 2}


def rng(seed=0):
    return onp.random.default_rng(seed)


# ---------------------------------------------------------------- special


def test_gammasgn_is_scipys_sign_with_a_zero_derivative_as_in_autograd():
    x = onp.array([-2.5, -1.5, -0.5, 0.5, 3.0])
    onp.testing.assert_array_equal(special.gammasgn(x), a_special.gammasgn(x))
    ours = grad(lambda x: np.sum(special.gammasgn(x) * x))(x)
    theirs = autograd.grad(lambda x: anp.sum(a_special.gammasgn(x) * x))(x)
    onp.testing.assert_array_equal(ours, theirs)
    assert float(jvp(special.gammasgn, (0.5,), (1.0,))[1]) == 0.0
    check_grads(special.gammasgn, **ORDER2)(x)


def R(*shape, seed=0):
    return rng(seed).standard_normal(shape)


def test_logsumexp_of_shape_1_1_as_in_autograd():
    # autograd's own checks of logsumexp, scalar and (1, n) inputs with keepdims included.
    combo_check(special.logsumexp, [0], **ORDER2)(
        [1.1, R(4), R(3, 4)], axis=[None, 0], keepdims=[True, False]
    )
    combo_check(special.logsumexp, [0], **ORDER2)(
        [R(3, 4), R(4, 5, 6), R(1, 5)], axis=[None, 0, 1], keepdims=[True, False]
    )
    x = R(1, 5)

    def f(a):
        return special.logsumexp(a, axis=1, keepdims=True)

    assert f(x).shape == (1, 1)
    check_grads(f, **ORDER2)(x)
    check_grads(lambda a: grad(f)(a), **ORDER2)(x)
    onp.testing.assert_allclose(
        grad(f)(x), autograd.grad(lambda a: a_special.logsumexp(a, axis=1, keepdims=True))(x)
    )
    assert jacobian(f)(x).shape == (1, 1, 1, 5)
    # A scalar with keepdims: SciPy's shape (1,), a scalar derivative.
    assert special.logsumexp(1.1, keepdims=True).shape == (1,)
    assert onp.shape(grad(lambda a: special.logsumexp(a, keepdims=True))(1.1)) == ()


# ---------------------------------------------------------------- linalg.solve_banded


def _banded(lo, up, n=5, seed=3):
    ab = R(lo + up + 1, n, seed=seed)
    ab[up] += 4.0  # diagonally dominant: well conditioned
    return ab


@pytest.mark.parametrize("lo, up", [(1, 1), (2, 1), (0, 2), (1, 0)])
@pytest.mark.parametrize("bshape", [(5,), (5, 2)])
def test_solve_banded_values_and_derivatives(lo, up, bshape):
    ab, b = _banded(lo, up), R(*bshape, seed=4)
    onp.testing.assert_allclose(
        linalg.solve_banded((lo, up), ab, b), sl.solve_banded((lo, up), ab, b), rtol=1e-13
    )
    check_grads(lambda ab, b: linalg.solve_banded((lo, up), ab, b), **ORDER2)(ab, b)


def test_solve_banded_gradients_match_autograd():
    ab, b = _banded(1, 1), R(5, seed=4)
    ab[0, 0] = ab[2, -1] = 0.0  # the corners autograd's rule reads as zero

    def loss(mod):
        return lambda ab, b: mod.solve_banded((1, 1), ab, b)[2] ** 2

    for i in (0, 1):
        ours = grad(loss(linalg), argnums=i)(ab, b)
        theirs = autograd.grad(loss(a_linalg), argnum=i)(ab, b)
        onp.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-15)


def test_solve_banded_checks_the_band_count():
    with pytest.raises(ValueError, match=r"l\+u\+1 \(4\) does not equal ab.shape\[0\] \(3\)"):
        grad(lambda b: np.sum(linalg.solve_banded((2, 1), _banded(1, 1), b)))(onp.ones(5))


# ---------------------------------------------------------------- integrate.odeint's args tuple


def _dyn(y, t, k, c):
    return -k * y + c * np.sin(t)


Y0, T = onp.array([1.0, -0.5]), onp.array([0.0, 0.4, 1.1])
TIGHT = {"rtol": 1e-10, "atol": 1e-10}


def test_odeint_takes_scipys_args_tuple_as_autograd_does():
    args = (0.7, onp.array([0.3, -0.2]))
    ours = integrate.odeint(_dyn, Y0, T, args)
    onp.testing.assert_array_equal(ours, a_integrate.odeint(_dyn, Y0, T, args))
    onp.testing.assert_array_equal(ours, integrate.odeint(_dyn, Y0, T, args=args))
    onp.testing.assert_array_equal(ours, integrate.odeint(_dyn, Y0, T, *args))  # matdiff's *args


def test_odeint_derivatives_in_the_args_tuple():
    args = (0.7, onp.array([0.3, -0.2]))

    def loss(a):
        return np.sum(integrate.odeint(_dyn, Y0, T, a, **TIGHT) ** 2)

    def a_loss(a):
        return anp.sum(a_integrate.odeint(_dyn, Y0, T, a, **TIGHT) ** 2)

    ours, theirs = grad(loss)(args), autograd.grad(a_loss)(args)
    for o, t in zip(ours, theirs):
        onp.testing.assert_allclose(o, t, rtol=1e-7)
    check_grads(lambda k, c: integrate.odeint(_dyn, Y0, T, (k, c), **TIGHT), **ORDER2)(*args)


def test_odeint_tuple_then_more_positionals_is_refused():
    with pytest.raises(
        TypeError, match="odeint: a tuple of parameters followed by more positional"
    ):
        integrate.odeint(_dyn, Y0, T, (0.7, 0.3), None)


# ---------------------------------------------------------------- signal.convolve's axes


CONV_CASES = [
    ((3, 5, 4), (4, 2, 6), ([1], [2]), ([2], [0])),
    ((5, 3, 6, 6), (3, 2, 2, 3), ([2, 3], [2, 3]), ([1], [0])),
    ((4, 3), (2,), ([0], [0]), ([], [])),
    ((6,), (3,), ([0], [0]), None),
]


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("s1, s2, axes, dot_axes", CONV_CASES)
def test_convolve_axes_and_dot_axes_match_autograd(s1, s2, axes, dot_axes, mode):
    a, b = R(*s1, seed=5), R(*s2, seed=6)
    dots = dot_axes if dot_axes is not None else [(), ()]
    theirs = a_signal.convolve(a, b, axes=axes, dot_axes=dots, mode=mode)
    ours = signal.convolve(a, b, axes=axes, dot_axes=dot_axes, mode=mode)
    onp.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)
    # autograd's positional order: convolve(A, B, axes, dot_axes, mode).
    onp.testing.assert_allclose(signal.convolve(a, b, axes, dots, mode), theirs, atol=1e-12)
    check_grads(
        lambda a, b: signal.convolve(a, b, axes=axes, dot_axes=dot_axes, mode=mode), **ORDER2
    )(a, b)


def test_convolve_axes_gradient_matches_autograd():
    a, b = R(3, 5, 4, seed=5), R(4, 2, 6, seed=6)
    kw = {"axes": ([1], [2]), "dot_axes": ([2], [0]), "mode": "valid"}
    for i in (0, 1):
        ours = grad(lambda a, b: np.sum(np.sin(signal.convolve(a, b, **kw))), argnums=i)(a, b)
        theirs = autograd.grad(
            lambda a, b: anp.sum(anp.sin(a_signal.convolve(a, b, **kw))), argnum=i
        )(a, b)
        onp.testing.assert_allclose(ours, theirs, rtol=1e-10)


def test_convolve_axes_errors():
    a, b = onp.ones((3, 4)), onp.ones((4, 2))
    with pytest.raises(ValueError, match="dot axis 0 of in1 \\(length 3\\) and 0 of in2"):
        signal.convolve(a, b, axes=([1], [1]), dot_axes=([0], [0]))
    with pytest.raises(ValueError, match="'valid' mode, one input must be at least as large"):
        signal.convolve(onp.ones((3, 2)), onp.ones((2, 3)), axes=([0, 1], [0, 1]), mode="valid")
    with pytest.raises(TypeError, match="axes must be a pair of axis lists"):
        signal.convolve(a, b, axes=3)
