"""The cheaper rules and assembly behind dense Hessians: ``x * x`` is ``square(x)``,
``x ** 2`` differentiates as ``2x``, square's VJP scales the cotangent, and jacfwd writes
its chunks straight into the result. Values and derivatives are unchanged."""

import numpy as onp
import pytest

import matdiff.numpy as np
from matdiff import grad, hessian, jacfwd, jacrev, make_program
from matdiff.extend import defjvp, defvjp, primitive
from matdiff.test_util import check_grads
from matdiff.tracer import NotDifferentiableError, isbox

rng = onp.random.default_rng(3)
M = rng.standard_normal((3, 4))
R, C = rng.standard_normal((1, 4)), rng.standard_normal((3, 1))

SQUARES = {
    "x*x": lambda x: x * x,
    "x**2": lambda x: x**2,
    "x**2.0": lambda x: x**2.0,
    "square": np.square,
    "(x*x)*y": lambda x: (x * x) * C,
    "x**2+row": lambda x: x**2 + R,
}


@pytest.mark.parametrize("name", SQUARES)
@pytest.mark.parametrize("x", [M, 0.7, M[:, :1]], ids=["matrix", "scalar", "column"])
def test_square_forms_to_third_order(name, x):
    check_grads(SQUARES[name], modes=("fwd", "rev"), order=3)(x)


@pytest.mark.parametrize("dtype", [onp.float32, onp.float64])
def test_square_forms_keep_dtype_and_values(dtype):
    x = M.astype(dtype)
    for name in ("x*x", "x**2", "x**2.0", "square"):  # the others mix in float64 constants
        f = SQUARES[name]
        g = grad(lambda x, f=f: np.sum(np.sin(f(x))))(x)
        assert g.dtype == dtype
    # Doubling is exact, so the product form's g*x + x*g equals square's (2g)*x bitwise.
    onp.testing.assert_array_equal(grad(lambda x: np.sum(x * x))(x), 2 * x)
    onp.testing.assert_array_equal(grad(lambda x: np.sum(x**2))(x), 2 * x)


def test_x_times_x_records_square():
    text = str(make_program(lambda x: x * x)(M))
    assert "square" in text and "multiply" not in text
    # A product of two different values stays a product.
    assert "multiply" in str(make_program(lambda x: x * (x + 1.0))(M))


def test_matrix_factorisation_hessian_is_the_closed_form():
    n, k = 12, 3
    T, U, V = rng.standard_normal((n, n)), rng.standard_normal((n, k)), rng.standard_normal((n, k))

    def loss(U):
        r = T - U @ V.T
        return np.sum(r * r)

    want = 2 * onp.einsum("ac,bd->abcd", onp.eye(n), V.T @ V)
    for chunk in (None, 1, 5, n * k):
        onp.testing.assert_allclose(hessian(loss, chunk_size=chunk)(U), want, atol=1e-12)


def test_chunked_jacfwd_assembles_several_outputs_and_traced_chunks():
    def f(x):
        return {"a": np.sin(x) * x[0], "b": np.sum(x**3), "c": np.outer(x, x)}

    x = rng.standard_normal(7)
    for chunk in (1, 3, 7):
        got, want = jacfwd(f, chunk_size=chunk)(x), jacrev(f)(x)
        for key in want:
            assert got[key].shape == want[key].shape
            onp.testing.assert_allclose(got[key], want[key], atol=1e-12)
    # Under an outer grad the chunks are traced: they go through the differentiable path.
    outer = grad(lambda x: np.sum(jacfwd(lambda y: np.sin(y) * y, chunk_size=3)(x) ** 2))
    check_grads(lambda x: np.sum(jacfwd(lambda y: np.sin(y) * y, chunk_size=3)(x) ** 2))(x)
    assert outer(x).shape == x.shape


# ---------------------------------------------------------------- deferred batched tangents


def _counted_cube():
    calls = {"jvp": 0}
    cube = primitive(lambda x: x**3)
    defvjp(cube, lambda ans, x: lambda g: g * 3.0 * x**2)

    def jvp_rule(g, ans, x):
        calls["jvp"] += 1
        return g * 3.0 * x**2

    defjvp(cube, jvp_rule)
    return cube, calls


def test_hessian_skips_the_tangent_of_the_function_value():
    # Forward-over-reverse: the value's tangent is read by nothing, so cube's JVP never runs.
    cube, calls = _counted_cube()
    x = rng.standard_normal(4)
    h = hessian(lambda x: np.sum(cube(x)))(x)
    onp.testing.assert_allclose(h, onp.diag(6.0 * x), atol=1e-12)
    assert calls["jvp"] == 0
    # Where the tangent is the result, it is computed (once per element of the chain).
    onp.testing.assert_allclose(jacfwd(cube)(x), onp.diag(3.0 * x**2), atol=1e-12)
    assert calls["jvp"] > 0


def test_missing_jvp_rule_is_reported_where_the_primitive_is_called():
    no_jvp = primitive(lambda x: x * 2.0, name="no_jvp")
    defvjp(no_jvp, lambda ans, x: lambda g: 2.0 * g)
    with pytest.raises(NotDifferentiableError, match="no_jvp: no JVP .* argument 0"):
        jacfwd(lambda x: np.sum(no_jvp(x)) * 0.0)(onp.ones(3))


def test_zero_tangents_and_long_chains():
    step = primitive(lambda x: (x > 0) * 1.0, name="step")
    defvjp(step, None)
    defjvp(step, None)
    seen = []

    def f(x):
        seen.append(isbox(step(x)))  # a known-zero tangent: the answer stays a constant
        # sign's JVP rule says zero only when called: its answer is traced, tangent zero.
        x = x + np.sign(x) * x[::-1]
        for _ in range(3000):  # far deeper than Python's recursion limit
            x = x * 1.0001
        return x

    x = rng.standard_normal(3)
    want = (onp.eye(3) + onp.sign(x)[:, None] * onp.eye(3)[::-1]) * 1.0001**3000
    onp.testing.assert_allclose(jacfwd(f)(x), want, rtol=1e-10)
    assert seen == [False]
    onp.testing.assert_allclose(jacfwd(np.sign)(x), onp.zeros((3, 3)))
