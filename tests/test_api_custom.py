"""custom_vjp, custom_jvp and checkpoint, composed with every other transformation."""

import math

import numpy
import pytest

import matdiff.numpy as np
from matdiff import (
    checkpoint,
    custom_jvp,
    custom_vjp,
    grad,
    hessian,
    hvp,
    jacfwd,
    jacobian,
    jvp,
    linearize,
    vjp,
)
from matdiff.extend import defjvp, defvjp, primitive
from matdiff.test_util import check_grads

x3 = numpy.array([0.3, -1.2, 2.0])

# ---------------------------------------------------------------- custom_vjp


@custom_vjp
def clip_gradient(x):
    return x


clip_gradient.defvjp(lambda x: (x, None), lambda res, g: (np.clip(g, -1.0, 1.0),))


def test_custom_vjp_rule_is_used_in_reverse_mode():
    # The true derivative of 5 x is 5; the rule clips the cotangent to 1.
    assert grad(lambda x: 5.0 * clip_gradient(x))(2.0) == 1.0
    assert grad(lambda x: 0.5 * clip_gradient(x))(2.0) == 0.5


def test_forward_mode_through_custom_vjp_differentiates_the_original_function():
    assert jvp(lambda x: 5.0 * clip_gradient(x), (2.0,), (1.0,))[1] == 5.0
    numpy.testing.assert_allclose(jacfwd(lambda x: 5.0 * clip_gradient(x))(x3), 5 * numpy.eye(3))


@custom_vjp
def sin_mul(x, y):
    return np.sin(x) * y


def _sin_mul_fwd(x, y):
    return sin_mul(x, y), (x, y)


def _sin_mul_bwd(res, g):
    x, y = res
    return g * np.cos(x) * y, g * np.sin(x)


sin_mul.defvjp(_sin_mul_fwd, _sin_mul_bwd)


def test_custom_vjp_two_arguments_and_second_order():
    x, y = 0.7, 1.3
    assert grad(sin_mul, argnums=(0, 1))(x, y) == pytest.approx((math.cos(x) * y, math.sin(x)))
    # grad of grad differentiates the backward function itself.
    assert grad(grad(sin_mul))(x, y) == pytest.approx(-math.sin(x) * y)
    assert hvp(lambda x: sin_mul(x, y), x, 1.0) == pytest.approx(-math.sin(x) * y)
    assert hessian(lambda x: sin_mul(x, y))(x) == pytest.approx(-math.sin(x) * y)
    check_grads(sin_mul, modes=("fwd", "rev"), order=2)(x3, x3[::-1])
    with pytest.raises(
        ValueError,
        match=r"returned a cotangent of shape \(3,\) for an argument of shape \(\); sum it",
    ):
        grad(lambda x: np.sum(sin_mul(x, 2.0)), argnums=0)(x3)


def test_reverse_over_forward_through_custom_vjp():
    # jvp falls back to the function itself; the outer grad differentiates that.
    x, y = 0.7, 1.3
    d_jvp = grad(lambda x: jvp(lambda u: sin_mul(u, y), (x,), (1.0,))[1])
    assert d_jvp(x) == pytest.approx(-math.sin(x) * y)
    # The tangent 5 s depends on an outer traced value; the outer grad sees it.
    outer = grad(lambda s: jvp(lambda u: 5.0 * clip_gradient(u * s), (2.0,), (1.0,))[1])
    assert outer(3.0) == pytest.approx(5.0)


def test_custom_vjp_through_hessian_uses_the_rule_in_the_batched_pass():
    f = lambda x: np.sum(sin_mul(x, x))
    numpy.testing.assert_allclose(hessian(f)(x3), jacobian(jacobian(f))(x3), rtol=1e-12)


@custom_vjp
def polar(r, theta):
    return {"x": r * np.cos(theta), "y": r * np.sin(theta)}


def _polar_fwd(r, theta):
    return polar(r, theta), (r, theta)


def _polar_bwd(res, g):
    r, t = res
    gr = g["x"] * np.cos(t) + g["y"] * np.sin(t)
    gt = -g["x"] * r * np.sin(t) + g["y"] * r * np.cos(t)
    return gr, gt


polar.defvjp(_polar_fwd, _polar_bwd)


def test_custom_vjp_with_pytree_output_and_unused_output():
    r, t = 2.0, 0.4
    assert grad(lambda r, t: polar(r, t)["y"], argnums=1)(r, t) == pytest.approx(r * math.cos(t))
    J = jacobian(lambda p: polar(p[0], p[1]))(numpy.array([r, t]))
    numpy.testing.assert_allclose(J["x"], [math.cos(t), -r * math.sin(t)])
    check_grads(lambda r, t: polar(r, t), order=2)(r, t)


def test_custom_vjp_nondiff_argnums_and_none_cotangent():
    def f_raw(n, x, y):
        return x**n + 0.0 * y

    f = custom_vjp(f_raw, nondiff_argnums=(0,))
    f.defvjp(lambda n, x, y: (f(n, x, y), x), lambda n, x, g: (g * n * x ** (n - 1), None))
    assert grad(f, argnums=(1, 2))(3, 2.0, 5.0) == (12.0, 0.0)


def test_custom_vjp_without_trace_calls_the_function():
    assert sin_mul(0.5, 2.0) == pytest.approx(2 * math.sin(0.5))


def test_custom_vjp_errors_name_the_function_and_the_fix():
    @custom_vjp
    def f(x):
        return x

    with pytest.raises(
        TypeError, match=r"custom_vjp function f has no rule: call f.defvjp\(fwd, bwd\)"
    ):
        f(1.0)
    f.defvjp(lambda x: x, lambda res, g: (g,))
    with pytest.raises(TypeError, match="forward function must return a pair"):
        grad(f)(1.0)
    f.defvjp(lambda x: (x, None), lambda res, g: g)
    with pytest.raises(TypeError, match="one cotangent per differentiable argument"):
        grad(f)(1.0)
    f.defvjp(lambda x: (x, None), lambda res, g: ((g, g),))
    with pytest.raises(ValueError, match="a cotangent's structure"):
        grad(f)(1.0)


def test_custom_vjp_closing_over_a_traced_value_is_refused():
    def outer(y, arg):
        @custom_vjp
        def f(x):
            return x * y

        f.defvjp(lambda x: (x * y, None), lambda res, g: (g,))
        return f(arg(y))

    # Called on a constant, the function is differentiated as written: d(1 y)/dy = 1.
    assert grad(outer)(2.0, lambda y: 1.0) == 1.0
    # Called on a value traced at the closure's level, the rule could not see y.
    with pytest.raises(TypeError, match="closes over.*Pass that value as an argument"):
        grad(outer)(2.0, lambda y: 3.0 * y)


# ---------------------------------------------------------------- custom_jvp


@custom_jvp
def softplus(x):
    return np.log(1.0 + np.exp(x))


@softplus.defjvp
def _softplus_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return softplus(x), t / (1.0 + np.exp(-x))


def test_custom_jvp_rule_is_used_in_both_modes():
    # The original function's derivative overflows to nan at x = 1000; the rule does not.
    with numpy.errstate(over="ignore", invalid="ignore"):
        assert jvp(softplus, (1000.0,), (1.0,))[1] == 1.0
        assert grad(softplus)(1000.0) == 1.0
        numpy.testing.assert_allclose(elementwise_sigmoid(numpy.array([-1000.0, 1000.0])), [0, 1])


def elementwise_sigmoid(x):
    return jacfwd(lambda x: np.sum(softplus(x)))(x)


def test_custom_jvp_higher_order_in_mixed_modes():
    # softplus'' = sigmoid (1 - sigmoid) = 1/4 at 0
    assert grad(grad(softplus))(0.0) == pytest.approx(0.25)
    assert jvp(grad(softplus), (0.0,), (1.0,))[1] == pytest.approx(0.25)
    assert grad(lambda x: jvp(softplus, (x,), (1.0,))[1])(0.0) == pytest.approx(0.25)
    numpy.testing.assert_allclose(
        hessian(lambda x: np.sum(softplus(x)))(x3),
        numpy.diag(numpy.exp(-x3) / (1 + numpy.exp(-x3)) ** 2),
        rtol=1e-12,
    )
    check_grads(softplus, modes=("fwd", "rev"), order=2)(x3)


@custom_jvp
def two_out(x, y):
    return x * y, x + y


@two_out.defjvp
def _two_out_jvp(primals, tangents):
    (x, y), (tx, ty) = primals, tangents
    return two_out(x, y), (tx * y + x * ty, tx + ty)


def test_custom_jvp_several_inputs_and_outputs_transposed():
    J = jacobian(lambda p: two_out(p[0], p[1]))(numpy.array([2.0, 3.0]))
    numpy.testing.assert_allclose(J[0], [3.0, 2.0])
    numpy.testing.assert_allclose(J[1], [1.0, 1.0])
    check_grads(two_out, order=2)(2.0, 3.0)


def test_custom_jvp_errors():
    @custom_jvp
    def f(x):
        return x

    with pytest.raises(TypeError, match=r"custom_jvp function f has no rule: call f.defjvp"):
        f(1.0)
    f.defjvp(lambda p, t: p[0])
    with pytest.raises(TypeError, match="JVP rule must return a pair"):
        jvp(f, (1.0,), (1.0,))
    f.defjvp(lambda p, t: (p[0], (t[0], t[0])))
    with pytest.raises(ValueError, match="tangent_out structure"):
        jvp(f, (1.0,), (1.0,))


# ---------------------------------------------------------------- checkpoint


def _counting_sin():
    calls = []

    def raw(x):
        calls.append(1)
        return numpy.sin(x)

    f = primitive(raw, "counting_sin")
    defvjp(f, lambda ans, x: lambda g: g * np.cos(x))
    defjvp(f, lambda g, ans, x: g * np.cos(x))
    return f, calls


def _deep(f, x):
    for _ in range(10):
        x = f(x) * 1.1
    return np.sum(x)


def test_checkpoint_keeps_no_residuals_and_recomputes():
    sin_c, calls = _counting_sin()
    plain = lambda x: _deep(sin_c, x)
    _, f_vjp = vjp(plain, x3)
    assert len(f_vjp.trace.tape) == 21  # 10 sin, 10 multiply, 1 sum
    calls.clear()
    out, f_vjp = vjp(checkpoint(plain), x3)
    # Only the call and its output are recorded: no intermediate values are kept.
    assert len(f_vjp.trace.tape) == 2
    assert len(calls) == 10
    (g,) = f_vjp(1.0)
    assert len(calls) == 20  # the forward pass ran again for the backward pass
    numpy.testing.assert_allclose(g, grad(plain)(x3), rtol=1e-14)
    # Nor does the tape keep the backward pass's results once they are handed on.
    hub = f_vjp.trace.tape[0].ans
    assert hub._cts is None and hub._g is None
    (g2,) = f_vjp(2.0)
    numpy.testing.assert_allclose(g2, 2 * g, rtol=1e-14)


def test_checkpoint_composes_with_higher_order_and_forward_mode():
    f = checkpoint(lambda x, y: {"a": np.sin(x) * y, "b": y**2})
    loss = lambda x: np.sum(f(x, 2.0 * x)["a"]) + np.sum(f(x, x)["b"])
    ref = lambda x: np.sum(np.sin(x) * 2.0 * x) + np.sum(x**2)
    numpy.testing.assert_allclose(grad(loss)(x3), grad(ref)(x3), rtol=1e-13)
    numpy.testing.assert_allclose(hessian(loss)(x3), hessian(ref)(x3), rtol=1e-12, atol=1e-14)
    numpy.testing.assert_allclose(
        hvp(loss, x3, numpy.ones(3)), hvp(ref, x3, numpy.ones(3)), rtol=1e-12
    )
    check_grads(loss, modes=("fwd", "rev"), order=2)(x3)


def test_linearize_through_custom_rules_retraces():
    y, f_jvp = linearize(lambda x: np.sum(sin_mul(x, x)) + checkpoint(np.sum)(x), x3)
    expected = jvp(lambda x: np.sum(np.sin(x) * x) + np.sum(x), (x3,), (numpy.ones(3),))[1]
    assert f_jvp(numpy.ones(3)) == pytest.approx(expected)
