"""A forward-mode ``A @ x`` or ``x @ A`` with a large constant matrix makes its value and
tangent in one pass (``matdiff.numpy.products.matmul_traced``): the same derivatives as two
products, in every mode and order, and the plain product wherever the pairing does not
apply."""

import numpy as onp
import pytest

import matdiff
import matdiff.numpy as np
from matdiff import grad, hessian, hvp, jacobian, jvp
from matdiff.numpy import products
from matdiff.test_util import check_grads

pytest.importorskip("numba")

RNG = onp.random.default_rng(0)
A = RNG.standard_normal((7, 5))
W = RNG.standard_normal(5)
V = RNG.standard_normal(5)
AT = onp.ascontiguousarray(A.T)
# Sums of five products of O(1) numbers, reassociated: a few ulps.
RTOL = 1e-13


@pytest.fixture
def paired(monkeypatch):
    """Pair every product (the size threshold off), and count the paired calls."""
    calls = []

    def counting(kernel, side):
        def run(*args):
            calls.append(side)
            return kernel(*args)

        return run

    kernels = tuple(counting(k, side) for k, side in zip(products._pair_kernels(), "rl"))
    monkeypatch.setattr(products, "PAIR_MIN_SIZE", 0)
    monkeypatch.setattr(products, "_pair_kernels", lambda: kernels)
    return calls


def _loss(w):
    return np.sum(np.log(1.0 + np.exp(A @ w))) + 0.5 * np.dot(w, w)


def test_jvp_and_hvp_equal_the_unpaired_ones(paired):
    with_pairs = jvp(_loss, (W,), (V,))[1], hvp(_loss, W, V), jvp(lambda w: A @ w, (W,), (V,))
    assert len(paired) == 3  # one product each
    products.PAIR_MIN_SIZE = 1 << 62
    plain = jvp(_loss, (W,), (V,))[1], hvp(_loss, W, V), jvp(lambda w: A @ w, (W,), (V,))
    assert len(paired) == 3
    onp.testing.assert_allclose(with_pairs[0], plain[0], rtol=RTOL)
    onp.testing.assert_allclose(with_pairs[1], plain[1], rtol=RTOL)
    onp.testing.assert_allclose(with_pairs[1], hessian(_loss)(W) @ V, rtol=RTOL)
    for a, b in zip(with_pairs[2], plain[2]):
        onp.testing.assert_allclose(a, b, rtol=RTOL)


@pytest.mark.parametrize(
    "f",
    [
        _loss,
        lambda w: np.sin(A @ w),
        lambda w: np.sum(np.tanh(A @ np.sin(w)) * (A @ w)),
        lambda w: onp.matmul(A, w) ** 2,
        lambda w: np.cos(np.sin(w) @ AT),
        lambda w: np.sum(np.exp((A @ w) @ A) * w),
    ],
    ids=["logistic", "vector_out", "two_products", "numpy_matmul", "vector_left", "both"],
)
def test_check_grads_in_both_modes_to_order_two(paired, f):
    check_grads(f, modes=["fwd", "rev"], order=2)(W)
    assert paired


def test_jvp_of_grad_pairs_the_transposed_product(paired):
    # Forward over reverse: the cotangent of A @ w carries a tangent, and its VJP g @ A
    # (as the rule writes it) is paired on the left.
    out = jvp(grad(_loss), (W,), (V,))[1]
    assert "l" in paired
    onp.testing.assert_allclose(out, hessian(_loss)(W) @ V, rtol=RTOL)


def test_grad_of_jvp_is_paired_and_hessian_of_it_is_not_confused(paired):
    # Reverse over forward pairs the product and records it as a plain matmul node; a
    # third level (the Hessian of the slope) sees a boxed value and takes plain products.
    slope = lambda w: jvp(_loss, (w,), (V,))[1]  # noqa: E731
    onp.testing.assert_allclose(grad(slope)(W), hessian(_loss)(W) @ V, rtol=RTOL)
    assert paired
    third = jacobian(lambda w: grad(slope)(w))(W)
    eps = 1e-6
    fd = (grad(slope)(W + eps * V) - grad(slope)(W - eps * V)) / (2 * eps)
    onp.testing.assert_allclose(third @ V, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(
    "case",
    ["small", "float32", "matrix_operand", "strided", "batched", "traced_matrix"],
)
def test_products_that_are_not_paired_are_plain(monkeypatch, case):
    kernel_calls = []
    real = products._pair_kernels
    monkeypatch.setattr(products, "_pair_kernels", lambda: kernel_calls.append(1) or real())
    a, w, v = A, W, V
    f = lambda w: np.sum(np.sin(a @ w))  # noqa: E731
    if case != "small":
        monkeypatch.setattr(products, "PAIR_MIN_SIZE", 0)
    if case == "float32":
        a, w, v = A.astype(onp.float32), W.astype(onp.float32), V.astype(onp.float32)
    elif case == "matrix_operand":
        w, v = onp.stack([W, W]).T, onp.stack([V, V]).T
    elif case == "traced_matrix":
        f = lambda w: np.sum(np.sin((a * w[0]) @ w))  # noqa: E731
    elif case == "strided":
        a = onp.asfortranarray(A)
    if case == "batched":
        out = matdiff.batching.batch_jvp(f, (w,), (onp.stack([v, 2 * v]),))[1]
        slope = onp.sum(onp.cos(a @ w) * (a @ v))
        expected = onp.stack([slope, 2 * slope])
    elif case == "traced_matrix":
        out = jvp(f, (w,), (v,))[1]
        z = (a * w[0]) @ w
        expected = onp.sum(onp.cos(z) * ((a * v[0]) @ w + (a * w[0]) @ v))
    else:
        out = jvp(f, (w,), (v,))[1]
        expected = onp.sum(onp.cos(a @ w) * (a @ v))
    onp.testing.assert_allclose(out, expected, rtol=1e-5 if case == "float32" else RTOL)
    assert kernel_calls == []


def test_a_matrix_of_the_threshold_size_is_paired(monkeypatch):
    calls = []
    kernels = products._pair_kernels()
    monkeypatch.setattr(products, "_pair_kernels", lambda: calls.append(1) or kernels)
    big = RNG.standard_normal((products.PAIR_MIN_SIZE // 256, 256)) / 16.0
    w, v = RNG.standard_normal(256), RNG.standard_normal(256)
    f = lambda w: np.sum(np.log(1.0 + np.exp(big @ w)))  # noqa: E731
    s = 1.0 / (1.0 + onp.exp(-(big @ w)))
    onp.testing.assert_allclose(hvp(f, w, v), big.T @ (s * (1 - s) * (big @ v)), rtol=1e-12)
    assert calls == [1]


def test_without_numba_the_products_stay_plain(monkeypatch):
    monkeypatch.setattr(products, "PAIR_MIN_SIZE", 0)
    monkeypatch.setattr(products, "_pair_kernels", lambda: None)
    onp.testing.assert_allclose(hvp(_loss, W, V), hessian(_loss)(W) @ V, rtol=RTOL)


def test_hvp_pairs_products_on_either_side(paired):
    f = lambda w: np.sum(np.exp(0.1 * ((A @ w) @ A)) * w)  # noqa: E731
    out = hvp(f, W, V)
    assert sorted(set(paired)) == ["l", "r"]
    onp.testing.assert_allclose(out, hessian(f)(W) @ V, rtol=RTOL)
