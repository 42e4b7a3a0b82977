"""matdiff.scipy.signal: convolve and correlate in every mode and dimension, both modes, order 2."""

import numpy as onp
import pytest
import scipy.signal as ssig

import matdiff.numpy as np
from matdiff import grad, jvp
from matdiff.scipy import signal
from matdiff.test_util import check_grads

# (in1 shape, in2 shape): longer first, shorter first, equal, 2-D mixed, 3-D, length-1 kernel
SHAPES = [
    ((5,), (3,)),
    ((3,), (5,)),
    ((4,), (4,)),
    ((4, 5), (2, 3)),
    ((2, 3), (4, 5)),
    ((3, 2, 4), (2, 2, 3)),
    ((6,), (1,)),
]
SPECS = [
    (fname, mode, s1, s2, method)
    for fname in ("convolve", "correlate")
    for mode in ("full", "valid", "same")
    for s1, s2 in SHAPES
    for method in ("direct", "fft")
]


def _id(spec):
    fname, mode, s1, s2, method = spec
    return f"{fname}-{mode}-{s1}x{s2}-{method}"


@pytest.mark.parametrize("fname, mode, s1, s2, method", SPECS, ids=[_id(s) for s in SPECS])
def test_rules_against_finite_differences(fname, mode, s1, s2, method):
    rng = onp.random.default_rng(len(s1) * 7 + s1[0] + 3 * s2[0])
    a, b = rng.standard_normal(s1), rng.standard_normal(s2)
    f = getattr(signal, fname)

    def fun(a, b):
        return f(a, b, mode=mode, method=method)

    onp.testing.assert_allclose(fun(a, b), getattr(ssig, fname)(a, b, mode=mode), atol=1e-12)
    check_grads(fun, modes=("fwd", "rev"), order=2)(a, b)


@pytest.mark.parametrize("fname", ["convolve", "correlate"])
@pytest.mark.parametrize("mode", ["full", "valid", "same"])
def test_complex_inputs(fname, mode):
    rng = onp.random.default_rng(3)
    a = rng.standard_normal((5,)) + 1j * rng.standard_normal((5,))
    b = rng.standard_normal((3,)) + 1j * rng.standard_normal((3,))
    f = getattr(signal, fname)
    onp.testing.assert_allclose(f(a, b, mode), getattr(ssig, fname)(a, b, mode), atol=1e-12)
    check_grads(lambda a, b: f(a, b, mode), modes=("fwd", "rev"), order=2)(a, b)


def test_gradient_is_the_correlation_of_the_cotangent():
    # d/da sum(w * (a * k)) is the correlation of w with k, valid mode.
    rng = onp.random.default_rng(0)
    a, k = rng.standard_normal(6), rng.standard_normal(3)
    w = rng.standard_normal(8)
    g = grad(lambda a: np.sum(w * signal.convolve(a, k)))(a)
    onp.testing.assert_allclose(g, ssig.correlate(w, k, mode="valid"), atol=1e-12)


def test_forward_mode_is_convolution_with_the_tangent():
    rng = onp.random.default_rng(1)
    a, k, t = rng.standard_normal(5), rng.standard_normal(3), rng.standard_normal(5)
    _, tangent = jvp(lambda a: signal.convolve(a, k, "same"), (a,), (t,))
    onp.testing.assert_allclose(tangent, ssig.convolve(t, k, "same"), atol=1e-12)


def test_bad_mode_and_shapes_raise_as_scipy():
    a = np.ones(3)
    with pytest.raises(ValueError, match="convolve: mode must be 'full', 'valid' or 'same'"):
        signal.convolve(a, a, mode="circular")
    with pytest.raises(ValueError, match="correlate: mode must be"):
        grad(lambda x: np.sum(signal.correlate(x, a, mode="wrap")))(a)
    with pytest.raises(ValueError, match="one must be at least as large as the other"):
        grad(lambda x: np.sum(signal.convolve(x, onp.ones((2, 3)), mode="valid")))(onp.ones((4, 2)))
    with pytest.raises(ValueError, match="same dimensionality"):
        grad(lambda x: np.sum(signal.convolve(x, onp.ones((2, 2)))))(onp.ones(3))
