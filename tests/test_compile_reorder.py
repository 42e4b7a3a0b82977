"""reorder_products: chains of matrix products are multiplied in the cheaper order.

Reordering changes rounding, so values are compared with the bound of the products'
rounding errors: each entry of a computed ``A @ B @ C`` is within ``k eps (|A| |B| |C|)``
of the exact one, k the inner dimensions together (Higham, Accuracy and Stability of
Numerical Algorithms, 3.5), so the two orders differ by at most twice that.
"""

from __future__ import annotations

import numpy as onp
import pytest

import matdiff
import matdiff.numpy as np
from matdiff.compile import cse, optimize
from matdiff.compile import make_program as mp
from matdiff.compile.passes import reorder_products

RNG = onp.random.default_rng(3)


def shapes_of(program):
    return [e.out.shape for e in program.eqns]


def within_rounding(got, want, a, b, c, scale=1.0):
    eps = onp.finfo(onp.result_type(got)).eps
    k = a.shape[1] + b.shape[1] + 2
    bound = 2 * k * eps * abs(scale) * (abs(a) @ abs(b) @ abs(c))
    assert got.shape == want.shape and got.dtype == want.dtype
    assert onp.all(abs(got - want) <= bound)


@pytest.mark.parametrize(
    "fn, scale",
    [
        (lambda a, b, c: (a @ b) @ c, 1.0),
        (lambda a, b, c: (-(a @ b)) @ c, -1.0),
        (lambda a, b, c: (2.5 * (a @ b)) @ c, 2.5),
        (lambda a, b, c: np.reshape(-np.reshape(a @ b, (10, 6, 50)) * 3.0, (60, 50)) @ c, -3.0),
        (lambda a, b, c: ((a @ b) * onp.full((60, 50), 0.5)) @ c, 0.5),
    ],
    ids=["plain", "negated", "scaled", "reshaped", "uniform-array"],
)
def test_a_product_times_a_thin_factor_is_computed_from_the_right(fn, scale):
    a, b, c = (
        RNG.standard_normal((60, 3)),
        RNG.standard_normal((3, 50)),
        RNG.standard_normal((50, 2)),
    )
    before = mp(fn)(a, b, c)
    after = reorder_products(before)
    assert (60, 50) in shapes_of(before)
    assert (60, 50) not in shapes_of(after)  # the large product is gone
    assert (3, 2) in shapes_of(after)
    within_rounding(after(a, b, c)[0], before(a, b, c)[0], a, b, c, scale)
    within_rounding(after(a, b, c)[0], scale * (a @ (b @ c)), a, b, c, scale)


def test_a_thin_factor_times_a_product_is_computed_from_the_left():
    c, a, b = (
        RNG.standard_normal((2, 60)),
        RNG.standard_normal((60, 3)),
        RNG.standard_normal((3, 50)),
    )
    fn = lambda c, a, b: c @ (-(a @ b))
    before = mp(fn)(c, a, b)
    after = reorder_products(before)
    assert (60, 50) not in shapes_of(after) and (2, 3) in shapes_of(after)
    within_rounding(after(c, a, b)[0], before(c, a, b)[0], c, a, b)


def test_float32_stays_float32():
    a, b, c = (RNG.standard_normal(s).astype(onp.float32) for s in [(60, 3), (3, 50), (50, 2)])
    before = mp(lambda a, b, c: (-(a @ b) * 2.0) @ c)(a, b, c)
    after = reorder_products(before)
    assert (60, 50) not in shapes_of(after)
    got = after(a, b, c)[0]
    assert got.dtype == onp.float32
    within_rounding(got, before(a, b, c)[0], a, b, c, 2.0)


@pytest.mark.parametrize(
    "fn",
    [
        # the product is read elsewhere too: reordering would compute more, not less
        lambda a, b, c: ((a @ b) @ c, a @ b),
        lambda a, b, c: (-(a @ b)) @ c + np.sum(-(a @ b)),
        # not a multiple of the product: an entrywise product with varying weights
        lambda a, b, c: ((a @ b) * onp.arange(50.0)) @ c,
        lambda a, b, c: np.sin(a @ b) @ c,
        # a reshape that does not come back to the product's shape
        lambda a, b, c: np.reshape(a @ b, (50, 60))[:, :50] @ np.ones((50, 2)),
    ],
    ids=["shared", "shared-negation", "weights", "nonlinear", "reshaped-away"],
)
def test_other_chains_are_left_alone(fn):
    a, b, c = (
        RNG.standard_normal((60, 3)),
        RNG.standard_normal((3, 50)),
        RNG.standard_normal((50, 2)),
    )
    before = cse(mp(fn)(a, b, c))  # one product, read twice
    assert shapes_of(reorder_products(before)) == shapes_of(before)


def test_an_order_that_is_not_cheaper_is_kept():
    a, b, c = (RNG.standard_normal((20, 20)) for _ in range(3))
    before = mp(lambda a, b, c: (a @ b) @ c)(a, b, c)
    assert reorder_products(before) is before


def test_integer_products_are_kept():
    a = onp.arange(180).reshape(60, 3)
    b = onp.arange(150).reshape(3, 50)
    c = onp.arange(100).reshape(50, 2)
    before = mp(lambda a, b, c: (-(a @ b)) @ c)(a, b, c)
    assert reorder_products(before) is before


def _mf(U, T, V):
    return np.sum((T - U @ V.T) ** 2)


def test_a_chunked_hessian_no_longer_builds_each_directions_outer_product():
    # d/dU of the gradient -2 (T - U V') V, in a block of directions D: 2 (D V') V, which is
    # 2 D (V'V); the directions' n x n products are gone, V'V is made once.
    n, k = 30, 3
    U, V, T = RNG.standard_normal((n, k)), RNG.standard_normal((n, k)), RNG.standard_normal((n, n))
    h = matdiff.hessian(_mf, chunk_size=7)
    program = optimize(mp(h)(U, T, V))
    assert all(s[-2:] != (n, n) for s in shapes_of(program) if len(s) >= 2)
    H = matdiff.jit(h)(U, T, V)
    want = 2 * onp.einsum("ac,bd->abcd", onp.eye(n), V.T @ V)
    bound = (
        4
        * (n + 2)
        * onp.finfo(float).eps
        * onp.einsum("ac,bd->abcd", onp.eye(n), abs(V).T @ abs(V))
    )
    assert onp.all(abs(H - want) <= bound)
    onp.testing.assert_allclose(H, matdiff.hessian(_mf)(U, T, V), rtol=1e-12, atol=1e-12)
