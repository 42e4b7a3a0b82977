"""``odeint`` solves with SciPy's own defaults and keywords, so its states are SciPy's.

autograd's ``odeint`` is SciPy's function made a primitive; a program switching from it
must see the same numbers, also at loose tolerances where a different default shows.
"""

import inspect

import autograd.numpy as anp
import autograd.scipy.integrate
import numpy as onp
import pytest
import scipy.integrate as si

import matdiff
import matdiff.numpy as np
from matdiff.scipy.integrate import odeint
from matdiff.test_util import check_grads

Y0 = onp.array([1.0, 0.0, 0.5])
T = onp.linspace(0.0, 3.0, 7)
K = onp.array([0.8, 0.3])


def lorenzish(y, t, k):
    """Nonlinear, time-dependent dynamics; written once for both NumPys via ``np_``."""
    return _dynamics(np, y, t, k)


def _dynamics(np_, y, t, k):
    return np_.stack(
        [
            -k[0] * y[0] + y[1] * y[2],
            k[1] * (y[0] - y[1]) + np_.sin(t),
            -y[0] * y[1] - 0.5 * y[2],
        ]
    )


def plain(y, t, k):
    return _dynamics(onp, onp.asarray(y), t, k)


def test_defaults_are_scipys():
    ours = inspect.signature(odeint).parameters
    scipys = inspect.signature(si.odeint).parameters
    assert ours["rtol"].default is scipys["rtol"].default is None
    assert ours["atol"].default is scipys["atol"].default is None
    assert ours["tfirst"].default is scipys["tfirst"].default


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"rtol": 1e-3},
        {"rtol": 1e-3, "atol": 1e-3},
        {"rtol": 1e-2, "atol": 1e-4, "h0": 0.01, "hmax": 0.5, "mxordn": 3, "mxords": 2},
        {"rtol": 1e-3, "tcrit": onp.array([1.5, 2.5])},
        {"rtol": 1e-3, "hmin": 1e-6, "mxstep": 2000, "mxhnil": 1, "ixpr": 0},
    ],
    ids=repr,
)
def test_states_equal_scipys(options):
    theirs = si.odeint(plain, Y0, T, args=(K,), **options)
    ours = odeint(lorenzish, Y0, T, K, **options)
    onp.testing.assert_array_equal(ours, theirs)


def test_states_equal_autograds_at_loose_tolerance():
    def a_dyn(y, t, k):
        return _dynamics(anp, y, t, k)

    theirs = autograd.scipy.integrate.odeint(a_dyn, Y0, T, tuple((K,)), rtol=1e-3)
    onp.testing.assert_array_equal(odeint(lorenzish, Y0, T, K, rtol=1e-3), theirs)


def test_default_tolerance_is_visible_at_loose_rtol():
    # The reason for the exact defaults: 1.4e-8 against SciPy's 1.49012e-8 is another run.
    with_old_default = odeint(lorenzish, Y0, T, K, rtol=1e-3, atol=1.4e-8)
    scipy_default = si.odeint(plain, Y0, T, args=(K,), rtol=1e-3)
    assert onp.max(onp.abs(with_old_default - scipy_default)) > 0
    onp.testing.assert_array_equal(odeint(lorenzish, Y0, T, K, rtol=1e-3), scipy_default)


def robertson(np_, y, t, k):
    """Robertson's chemical kinetics: stiff, so LSODA switches to BDF and calls Dfun."""
    return np_.stack(
        [
            -k[0] * y[0] + k[1] * y[1] * y[2],
            k[0] * y[0] - k[1] * y[1] * y[2] - k[2] * y[1] ** 2,
            k[2] * y[1] ** 2,
        ]
    )


def robertson_jac(y, t, k):
    return onp.array(
        [
            [-k[0], k[1] * y[2], k[1] * y[1]],
            [k[0], -k[1] * y[2] - 2 * k[2] * y[1], -k[1] * y[1]],
            [0.0, 2 * k[2] * y[1], 0.0],
        ]
    )


def test_jacobian_keywords_reach_scipy():
    k = onp.array([0.04, 1e4, 3e7])
    y0 = onp.array([1.0, 0.0, 0.0])
    t = onp.array([0.0, 1.0, 10.0, 40.0])
    calls = []

    def counting_jac(y, t, k):
        calls.append(t)
        return robertson_jac(y, t, k)

    options = {"rtol": 1e-6, "atol": 1e-10}
    f = lambda y, t, k: robertson(np, y, t, k)
    ours, info = odeint(f, y0, t, k, Dfun=counting_jac, full_output=True, **options)
    theirs, their_info = si.odeint(
        lambda y, t, k: robertson(onp, y, t, k),
        y0,
        t,
        args=(k,),
        Dfun=robertson_jac,
        full_output=True,
        **options,
    )
    assert calls and their_info["nje"][-1] > 0
    onp.testing.assert_array_equal(ours, theirs)
    onp.testing.assert_array_equal(info["nje"], their_info["nje"])
    assert info["message"] == their_info["message"]


def lorenzish_jac(y, t, k):
    return onp.array([[-k[0], y[2], y[1]], [k[1], -k[1], 0.0], [-y[1], -y[0], -0.5]])


def test_jacobian_is_the_user_systems_only():
    # The adjoint and tangent systems are larger: given Dfun, SciPy would refuse them.
    options = {"rtol": 1e-10, "atol": 1e-10}
    with_jac = lambda k: np.sum(odeint(lorenzish, Y0, T, k, Dfun=lorenzish_jac, **options))
    without = lambda k: np.sum(odeint(lorenzish, Y0, T, k, **options))
    onp.testing.assert_allclose(matdiff.grad(with_jac)(K), matdiff.grad(without)(K), rtol=1e-7)
    tangent = matdiff.jvp(with_jac, (K,), (onp.array([1.0, -1.0]),))[1]
    expected = matdiff.jvp(without, (K,), (onp.array([1.0, -1.0]),))[1]
    assert float(tangent) == pytest.approx(float(expected), rel=1e-7)


def test_tfirst_jacobian_and_banded():
    jac_t = lambda t, y: onp.diag([-1.0, -2.0, -3.0])
    decay = lambda t, y: -np.array([1.0, 2.0, 3.0]) * y
    ours = odeint(decay, Y0, T, Dfun=jac_t, tfirst=True, ml=0, mu=0, rtol=1e-3)
    theirs = si.odeint(
        lambda t, y: -onp.array([1.0, 2.0, 3.0]) * y,
        Y0,
        T,
        Dfun=lambda t, y: onp.array([[-1.0, -2.0, -3.0]]),
        tfirst=True,
        ml=0,
        mu=0,
        rtol=1e-3,
    )
    onp.testing.assert_array_equal(ours, theirs)


def test_full_output_returns_scipys_info():
    ys, info = odeint(lorenzish, Y0, T, K, full_output=True, rtol=1e-3)
    theirs, their_info = si.odeint(plain, Y0, T, args=(K,), full_output=True, rtol=1e-3)
    onp.testing.assert_array_equal(ys, theirs)
    assert set(info) == set(their_info)
    onp.testing.assert_array_equal(info["nfe"], their_info["nfe"])
    _, single = odeint(lorenzish, Y0, T[:1], K, full_output=True)
    assert "message" in single


def test_derivatives_with_passed_through_keywords():
    f = lambda k: odeint(lorenzish, Y0, T[:4], k, rtol=1e-10, atol=1e-10, tcrit=[1.2], h0=1e-4)
    check_grads(f, modes=["fwd", "rev"], order=1)(K)


def test_unknown_keyword_names_scipys():
    with pytest.raises(TypeError, match="unsupported keyword arguments \\['method'\\].*Dfun"):
        odeint(lorenzish, Y0, T, K, method="RK45")
