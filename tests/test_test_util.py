"""check_grads itself: it passes correct rules and CATCHES wrong ones, in each mode and
at second order, with a message that says where."""

import numpy
import pytest

import matdiff.numpy as np
from matdiff.extend import defjvp, defvjp, getval, primitive
from matdiff.test_util import check_grads, check_jvp, check_vjp, numerical_jvp

x3 = numpy.array([0.3, -1.2, 2.0])


def _sin(vjp_scale=1.0, jvp_scale=1.0, raw_second_order=False, jvp_shape_bug=False):
    """A sin primitive whose rules can be broken on purpose."""
    f = primitive(lambda x: numpy.sin(x), "test_sin")

    def dcos(x):
        if raw_second_order:
            # Right value, but computed on the raw value: invisible to outer traces.
            return numpy.cos(getval(x))
        return np.cos(x)

    defvjp(f, lambda ans, x: lambda g: vjp_scale * g * dcos(x))
    if jvp_shape_bug:
        defjvp(f, lambda g, ans, x: np.sum(g * dcos(x)))
    else:
        defjvp(f, lambda g, ans, x: jvp_scale * g * dcos(x))
    return f


def test_correct_rule_passes_both_modes_to_order_two():
    check_grads(_sin(), modes=("fwd", "rev"), order=2)(x3)


def test_wrong_vjp_is_caught_in_reverse_mode_only():
    f = _sin(vjp_scale=1.01)
    check_grads(f, modes=("fwd",), order=1)(x3)
    with pytest.raises(
        AssertionError,
        match=r"reverse-mode \(VJP\) check failed for test_sin: the derivative gives",
    ):
        check_grads(f, modes=("rev",), order=1)(x3)


def test_wrong_jvp_is_caught_in_forward_mode_only():
    f = _sin(jvp_scale=0.99)
    check_grads(f, modes=("rev",), order=1)(x3)
    with pytest.raises(AssertionError, match=r"forward-mode \(JVP\) check failed for test_sin"):
        check_grads(f, modes=("fwd",), order=1)(x3)


@pytest.mark.parametrize("mode,inner", [("rev", "VJP"), ("fwd", "JVP")])
def test_rule_that_is_not_differentiable_is_caught_at_order_two(mode, inner):
    f = _sin(raw_second_order=True)
    check_grads(f, modes=(mode,), order=1)(x3)
    with pytest.raises(AssertionError, match=rf"check failed for the {inner} of test_sin"):
        check_grads(f, modes=(mode,), order=2)(x3)


def test_tangent_of_wrong_shape_is_caught():
    with pytest.raises(
        AssertionError,
        match=r"forward-mode \(JVP\) check failed for test_sin: it returned a tangent of shape \(\) for leaf 0, which has shape \(3,\)",
    ):
        check_grads(_sin(jvp_shape_bug=True), modes=("fwd",), order=1)(x3)


def test_wrong_rule_is_caught_in_float32_too():
    x = x3.astype(numpy.float32)
    check_grads(_sin(), order=2)(x)
    with pytest.raises(AssertionError, match="reverse-mode"):
        check_grads(_sin(vjp_scale=1.2), modes=("rev",), order=1)(x)


def test_pytrees_with_fixed_integer_leaves_and_complex():
    f = lambda p, n: np.sum(p["a"] ** n) * p["b"][0]
    check_grads(f)({"a": x3, "b": (1.5, None)}, 3)
    check_grads(lambda z: np.real(z**2 * np.conj(z)))(numpy.array([1.0 + 0.5j, -0.3j]))
    broken = _sin(vjp_scale=-1.0)
    with pytest.raises(AssertionError, match="reverse-mode"):
        check_grads(lambda p: broken(p[0]) * p[1], modes=("rev",), order=1)((x3, 2.0))


def test_numerical_jvp_and_single_checks():
    d = numerical_jvp(lambda x: x**3, (2.0,), (1.0,))
    assert d[0] == pytest.approx(12.0, rel=1e-8)
    check_jvp(np.sin, (x3,))
    check_vjp(np.sin, (x3,))
    with pytest.raises(AssertionError):
        check_vjp(_sin(vjp_scale=2.0), (x3,))
