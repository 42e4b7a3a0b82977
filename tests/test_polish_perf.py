"""The cheaper rules and assembly behind dense Hessians: ``x * x`` is ``square(x)``,
``x ** 2`` differentiates as ``2x``, square's VJP scales the cotangent, and jacfwd writes
its chunks straight into the result. Values and derivatives are unchanged."""

import numpy as onp
import pytest

import matdiff.numpy as np
from matdiff import grad, hessian, jacfwd, jacrev, make_program
from matdiff.test_util import check_grads

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
