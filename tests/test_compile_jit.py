"""``jit``: the compilation cache, composition with every transformation, errors, and the
generated code's buffer reuse."""

from __future__ import annotations

import re

import numpy as onp
import pytest

import matdiff.numpy as np
from matdiff import (
    checkpoint,
    custom_vjp,
    grad,
    hessian,
    hvp,
    jacobian,
    jvp,
    linearize,
    stop_gradient,
    value_and_grad,
    vjp,
)
from matdiff.compile import StagingError, jit, make_program
from matdiff.test_util import check_grads

RNG = onp.random.default_rng(0)
X = RNG.standard_normal(5)
V = RNG.standard_normal(5)
M = RNG.standard_normal((5, 5))


def loss(x):
    return np.sum(np.tanh(M @ x) ** 2) + np.sum(np.sin(x) * x)


def close(a, b):
    onp.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


# ---------------------------------------------------------------- cache


def test_same_shapes_do_not_retrace():
    f = jit(grad(loss))
    for _ in range(3):
        f(RNG.standard_normal(5))
    assert f.trace_count == 1


def test_new_shape_or_dtype_retraces_once():
    f = jit(lambda x: np.sum(np.sin(x)))
    f(onp.ones(3))
    f(onp.ones(4))
    assert f.trace_count == 2
    f(onp.ones(4, dtype=onp.float32))
    assert f.trace_count == 3
    f(onp.ones(3))
    f(onp.ones(4, dtype=onp.float32))
    assert f.trace_count == 3
    assert f(onp.ones(4, dtype=onp.float32)).dtype == onp.float32


def test_static_argument_change_retraces_once():
    def f(x, n, mode):
        for _ in range(n):
            x = np.sin(x)
        return x * 2.0 if mode == "double" else x

    jf = jit(f, static_argnums=(1, 2))
    close(jf(X, 2, "double"), f(X, 2, "double"))
    close(jf(X, 3, "double"), f(X, 3, "double"))
    assert jf.trace_count == 2
    close(jf(X, 3, "single"), f(X, 3, "single"))
    close(jf(X + 1.0, 2, "double"), f(X + 1.0, 2, "double"))
    assert jf.trace_count == 3


def test_python_scalars_and_pytrees_are_traced():
    def f(params, x, scale=1.0):
        return np.sum(np.tanh(params["w"] @ x + params["b"]) * scale)

    p = {"w": M, "b": X}
    jf = jit(f)
    close(jf(p, X, scale=2.0), f(p, X, scale=2.0))
    close(jf(p, V, scale=3.0), f(p, V, scale=3.0))
    assert jf.trace_count == 1
    g = jit(grad(f))
    for got, want in zip(g(p, X).values(), grad(f)(p, X).values()):
        close(got, want)


def test_traced_integer_index_and_boolean_outputs():
    g = jit(grad(lambda x, i: x[i] ** 2))
    close(g(X, 2), onp.eye(5)[2] * 2 * X[2])
    close(g(X, 4), onp.eye(5)[4] * 2 * X[4])
    assert g.trace_count == 1
    f = jit(lambda x: (x > 0.1, np.where(x > 0.1, x, 0.0)))
    for point in (X, V):
        mask, kept = f(point)
        assert mask.dtype == bool
        onp.testing.assert_array_equal(mask, point > 0.1)
        close(kept, onp.where(point > 0.1, point, 0.0))


def test_multiple_outputs_keep_their_structure():
    f = jit(lambda x: {"s": np.sin(x), "pair": (np.sum(x), x * 2.0)})
    out = f(X)
    close(out["s"], onp.sin(X))
    close(out["pair"][0], onp.sum(X))
    close(out["pair"][1], X * 2.0)


def test_constant_outputs_and_unused_inputs():
    c = onp.arange(3.0)
    f = jit(lambda x, y: (c * 2.0, x))
    a, b = f(X, V)
    close(a, c * 2.0)
    a[0] = 100.0  # the caller owns what it gets
    close(f(X, V)[0], c * 2.0)
    assert b is X


# ---------------------------------------------------------------- composition


def test_jit_of_grad_and_grad_of_jit():
    close(jit(grad(loss))(X), grad(loss)(X))
    close(grad(jit(loss))(X), grad(loss)(X))
    close(jit(grad(jit(loss)))(X), grad(loss)(X))


def test_higher_order():
    close(jit(hessian(loss))(X), hessian(loss)(X))
    close(hvp(jit(loss), X, V), hvp(loss, X, V))
    close(jit(lambda x, v: hvp(loss, x, v))(X, V), hvp(loss, X, V))
    close(grad(grad(lambda t: jit(loss)(X * t)))(0.7), grad(grad(lambda t: loss(X * t)))(0.7))
    close(jacobian(jit(lambda x: np.sin(M @ x)))(X), jacobian(lambda x: np.sin(M @ x))(X))


def test_jit_of_vjp_and_jvp():
    f = lambda x: np.sin(M @ x) * x
    jv = jit(lambda x, u: vjp(f, x)[1](u)[0])
    close(jv(X, V), vjp(f, X)[1](V)[0])
    jj = jit(lambda x, v: jvp(f, (x,), (v,)))
    for got, want in zip(jj(X, V), jvp(f, (X,), (V,))):
        close(got, want)


def test_jit_inside_jit_and_value_and_grad():
    inner = jit(lambda x: np.sin(x) * 2.0)
    outer = jit(lambda x: np.sum(inner(x) ** 2))
    close(outer(X), onp.sum((onp.sin(X) * 2.0) ** 2))
    v, g = jit(value_and_grad(loss))(X)
    close(v, loss(X))
    close(g, grad(loss)(X))


def test_custom_vjp_checkpoint_and_linearize_compose_with_jit():
    @custom_vjp
    def clipped_sin(x):
        return np.sin(x)

    clipped_sin.defvjp(
        lambda x: (np.sin(x), np.cos(x)), lambda res, g: (np.clip(g * res, -0.5, 0.5),)
    )
    f = lambda x: np.sum(5.0 * clipped_sin(x))
    close(jit(grad(f))(X), grad(f)(X))
    close(grad(jit(f))(X), grad(f)(X))
    g = lambda x: np.sum(checkpoint(lambda y: np.sin(M @ y) ** 2)(x))
    close(jit(grad(g))(X), grad(g)(X))
    h = lambda x: np.sin(x) * x
    close(jit(lambda x, v: linearize(h, x)[1](v))(X, V), linearize(h, X)[1](V))


def test_check_grads_through_jit():
    check_grads(jit(loss), modes=("fwd", "rev"), order=2)(X)


def test_stop_gradient_is_recomputed_not_frozen():
    f = lambda x: np.sum(x * stop_gradient(x))
    jg = jit(grad(f))
    close(jg(X), X)
    close(jg(V), V)
    close(grad(jit(f))(V), V)


# ---------------------------------------------------------------- control flow


def branchy(x):
    if np.sum(x) > 0:  # branch on a traced value
        return x
    return -x


def test_branch_on_traced_value_names_the_line():
    close(branchy(X), X if X.sum() > 0 else -X)  # eager still works
    with pytest.raises(StagingError) as info:
        jit(branchy)(X)
    msg = str(info.value)
    assert "test_compile_jit.py" in msg and "if np.sum(x) > 0" in msg
    assert "np.where" in msg and "static_argnums" in msg


@pytest.mark.parametrize(
    "fn, what",
    [
        (lambda x: float(np.sum(x)) * x, "float()"),
        (lambda x: x[int(np.sum(x > 0))], "int()"),
        (lambda x: x * np.sum(x).item(), ".item()"),
        (lambda x: x if x[0] > 0 else -x, "truth value"),
        (lambda x: x * onp.asarray(stop_gradient(x)), "conversion to a NumPy array"),
    ],
)
def test_concrete_values_are_refused(fn, what):
    with pytest.raises(StagingError, match=re.escape(what)):
        jit(fn)(X)


def test_concrete_values_refused_inside_grad():
    with pytest.raises(StagingError, match="truth value"):
        jit(grad(branchy_loss))(X)


def branchy_loss(x):
    return np.sum(branchy(x))


def test_branch_on_static_argument_is_resolved_at_trace_time():
    f = jit(lambda x, flip: -x if flip else x, static_argnums=1)
    close(f(X, True), -X)
    close(f(X, False), X)


def test_data_dependent_shapes_are_refused():
    with pytest.raises(StagingError, match="np.where"):
        jit(lambda x: np.sum(x[x > 0]))(X)


def test_writes_into_recorded_values_are_refused():
    def f(x):
        m = stop_gradient(x)
        onp.add.at(onp.zeros(5), onp.arange(5), m)
        return x

    with pytest.raises(StagingError, match="writes into an array"):
        jit(f)(X)


def test_closed_over_traced_value_is_differentiated():
    def outer(y):
        inner = jit(lambda x: np.sum(np.sin(x * y)))
        return inner(X) + np.sum(jit(lambda x: y * 2.0)(X))

    close(grad(outer)(0.7), onp.sum(X * onp.cos(X * 0.7)) + 2.0)
    close(grad(grad(outer))(0.7), -onp.sum(X**2 * onp.sin(X * 0.7)))

    # make_program has no function to fall back on: it refuses, naming the fix.
    def staged(y):
        make_program(lambda x: x * y)(X)
        return y

    with pytest.raises(StagingError, match="pass that value as an argument"):
        grad(staged)(0.7)


def test_escaped_value_is_refused():
    leaked = []

    def f(x):
        leaked.append(x)
        return x

    jit(f)(X)
    with pytest.raises(StagingError, match="escaped"):
        jit(lambda y: y * leaked[0])(X)


# ---------------------------------------------------------------- argument errors


def test_unhashable_static_argument():
    with pytest.raises(TypeError, match="static argument 1 is a list.*tuple"):
        jit(lambda x, s: x, static_argnums=1)(X, [1, 2])


def test_static_argnums_out_of_range():
    with pytest.raises(ValueError, match="static_argnums=\\(3,\\) names argument 3"):
        jit(lambda x: x, static_argnums=3)(X)


def test_static_argnums_must_be_integers():
    with pytest.raises(TypeError, match="static_argnums must be integers"):
        jit(lambda x: x, static_argnums=("x",))


def test_non_array_argument_suggests_static():
    with pytest.raises(TypeError, match="is a str.*static_argnums"):
        jit(lambda x, s: x)(X, "name")


def test_source_before_compiling():
    with pytest.raises(AttributeError, match="nothing has been compiled yet"):
        _ = jit(loss).source


def test_not_callable():
    with pytest.raises(TypeError, match="expected a function"):
        jit(3)


# ---------------------------------------------------------------- generated code


def chain(x):
    for _ in range(100):
        x = np.sin(x) * 1.01 + 0.1
    return np.sum(x)


def test_generated_code_calls_numpy_directly():
    f = jit(grad(chain))
    close(f(X), grad(chain)(X))
    lines = f.source.splitlines()
    body = [ln for ln in lines[1:] if ln.startswith("    ") and not ln.startswith("    return")]
    notes = [ln for ln in lines if ln.startswith("# c_")]
    assert "# c_0 = 1.01:f64" in notes and "# c_1 = 0.1:f64" in notes and len(notes) <= 3
    assert len(body) == len(f.program.eqns)
    call = re.compile(r"^    [a-z]+ = np_[a-z_]+\((?:[a-z0-9_.]+(?:, )?)+(?:, out=[a-z]+)?\)$")
    assert all(call.match(line) for line in body), [ln for ln in body if not call.match(ln)]
    assert sum("out=" in line for line in body) > len(body) // 2
    for value in f.lower(X).fn.__globals__.values():
        assert not getattr(value, "_is_primitive", False)


def test_buffer_reuse_respects_views_and_outputs():
    def f(x):
        a = np.sin(x)
        view = a.T  # a view of a's buffer: a must not be overwritten while it lives
        b = np.cos(a) * 2.0
        c = np.exp(b) + 1.0
        return view @ c, a, np.tanh(c)

    X2 = RNG.standard_normal((4, 4))
    jf = jit(f)
    for point in (X2, X2 + 1.0):
        for got, want in zip(jf(point), f(point)):
            close(got, want)


def test_python_numbers_keep_numpy_typing():
    # Constants are made 0-d arrays of the dtype NumPy computes in: the same bits.
    f = lambda x: np.sin(x) * 1.01 + 0.1 - 2 * x
    x32 = (onp.arange(4) / 3.0).astype(onp.float32)
    got = jit(f)(x32)
    assert got.dtype == onp.float32
    onp.testing.assert_array_equal(got, f(x32))
    xi = onp.arange(4)
    onp.testing.assert_array_equal(jit(lambda x: x * 2 + 1.5)(xi), xi * 2 + 1.5)


def test_results_survive_later_calls_and_inputs_are_untouched():
    f = jit(lambda x: np.sin(x) * 2.0 + 1.0)
    x0 = X.copy()
    r1 = f(X)
    r2 = f(V)
    close(r1, onp.sin(X) * 2.0 + 1.0)
    close(r2, onp.sin(V) * 2.0 + 1.0)
    assert r1 is not r2
    close(X, x0)


def test_optimized_gradient_program_is_smaller():
    def mlp_loss(params, x, y):
        w1, b1, w2 = params
        h = np.tanh(x @ w1 + b1)
        z = h @ w2
        return np.mean(np.sum((z - y) ** 2, axis=1))

    params = (RNG.standard_normal((3, 4)), RNG.standard_normal(4), RNG.standard_normal((4, 2)))
    x, y = RNG.standard_normal((6, 3)), RNG.standard_normal((6, 2))
    jg = jit(grad(mlp_loss))
    for got, want in zip(jg(params, x, y), grad(mlp_loss)(params, x, y)):
        close(got, want)
    c = jg.lower(params, x, y)
    assert len(c.program.eqns) < len(c.staged.eqns)
    assert len(make_program(grad(mlp_loss))(params, x, y).eqns) == len(c.staged.eqns)


def test_function_named_like_a_bound_callable():
    def np_sin(x):
        return np.sin(x) * 2.0

    f = jit(np_sin)
    close(f(X), onp.sin(X) * 2.0)
    assert f.source.startswith("def compiled_np_sin(a):")
