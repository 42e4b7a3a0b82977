"""jit stages functions with custom rules: the primal is recorded, and a derivative taken
inside the jitted function still uses the custom rule (regression: custom_jvp treated the
staging trace as a batching trace and failed with AttributeError)."""

import numpy as onp
import pytest

import matdiff.numpy as np
from matdiff import (
    checkpoint,
    custom_jvp,
    custom_vjp,
    grad,
    hessian,
    jacfwd,
    jacobian,
    jit,
    jvp,
    make_program,
    value_and_grad,
)

X = onp.array([0.3, -0.7, 1.1])
V = onp.array([0.5, 1.0, -2.0])


@custom_jvp
def twice_sin(x):
    """sin, with a JVP deliberately twice the true one, so that using the rule shows."""
    return np.sin(x)


@twice_sin.defjvp
def _twice_sin_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return np.sin(x), 2.0 * np.cos(x) * t


@custom_vjp
def thrice_sin(x):
    return np.sin(x)


thrice_sin.defvjp(lambda x: (np.sin(x), np.cos(x)), lambda c, g: (3.0 * c * g,))

sin_sin = checkpoint(lambda x: np.sin(np.sin(x)))


def loss_of(fn):
    return lambda x: np.sum(fn(x) * x)


def close(a, b):
    onp.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("fn", [twice_sin, thrice_sin, sin_sin], ids=["jvp", "vjp", "ckpt"])
def test_jit_of_custom_function_records_the_primal(fn):
    f = loss_of(fn)
    close(jit(f)(X), f(X))
    # The program holds the primal computation only: no custom-rule marker equations.
    text = str(make_program(f)(X))
    assert "sin" in text and "custom" not in text


@pytest.mark.parametrize("fn", [twice_sin, thrice_sin, sin_sin], ids=["jvp", "vjp", "ckpt"])
@pytest.mark.parametrize(
    "op",
    [grad, lambda f: lambda x: value_and_grad(f)(x)[1], hessian, jacobian],
    ids=["grad", "value_and_grad", "hessian", "jacobian"],
)
def test_jit_of_derivative_agrees_with_eager(fn, op):
    f = loss_of(fn)
    close(jit(op(f))(X), op(f)(X))


def test_custom_jvp_rule_applies_inside_jit():
    # Reverse (transposed rule), forward and batched forward all see the doubled JVP.
    f = lambda x: np.sum(twice_sin(x))
    close(jit(grad(f))(X), 2.0 * onp.cos(X))
    close(jit(lambda x, v: jvp(twice_sin, (x,), (v,))[1])(X, V), 2.0 * onp.cos(X) * V)
    close(jit(jacfwd(twice_sin))(X), onp.diag(2.0 * onp.cos(X)))
    close(jit(grad(lambda x: np.sum(thrice_sin(x))))(X), 3.0 * onp.cos(X))


def test_custom_jvp_under_jit_inside_grad_runs_eagerly_with_the_rule():
    f = lambda x: np.sum(twice_sin(x))
    close(grad(jit(f))(X), 2.0 * onp.cos(X))
