"""Products sharing one operand computed as one product of stacked operands: the merged
program gives the unmerged one's values, shapes and dtypes, on many shapes of program."""

from __future__ import annotations

import numpy as onp
import pytest

import matdiff as md
import matdiff.numpy as np
from matdiff.compile import cse, dce, merge_products, optimize
from matdiff.compile import make_program as mp

RNG = onp.random.default_rng(1)


def forced(program):
    """Merge whatever is correct to merge, whatever it costs (after sharing the transposes
    that staging records once per use, as the default passes do first)."""
    return merge_products(cse(program), min_free=1, min_shared=0, min_ratio=0)


def names(program):
    return [getattr(e.prim, "__name__", str(e.prim)) for e in program.eqns]


def check(fn, *shapes, merge=forced, dtype=onp.float64):
    before = mp(fn)(*[onp.ones(s, dtype) for s in shapes])
    after = merge(before)
    for _ in range(2):
        args = [RNG.standard_normal(s).astype(dtype) for s in shapes]
        want, got = before(*args), after(*args)
        assert len(want) == len(got)
        for a, b in zip(want, got):
            a, b = onp.asarray(a), onp.asarray(b)
            assert a.shape == b.shape and a.dtype == b.dtype
            onp.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)
    return before, after


def matmuls(program):
    return names(program).count("matmul")


@pytest.mark.parametrize(
    "fn, shapes",
    [
        (lambda s, b, c: (s @ b, s @ c), [(5, 4), (4, 2), (4, 3)]),
        (lambda s, b, c: (b @ s, c @ s), [(4, 5), (2, 4), (3, 4)]),
        (lambda s, b, c: (s @ b, s @ c), [(3, 5, 4), (3, 4, 2), (3, 4, 3)]),
        (lambda s, b, c: (s @ b, s @ c), [(5, 4), (3, 4, 2), (3, 4, 3)]),
        (lambda s, b, c: (s @ b, s @ c), [(3, 5, 4), (4, 2), (4, 3)]),
        (lambda s, b, c: (s @ b, s @ c), [(2, 1, 5, 4), (3, 4, 2), (3, 4, 3)]),
        (lambda s, b, c: (b @ s, c @ s), [(2, 4, 5), (2, 2, 4), (2, 3, 4)]),
        (lambda s, b, c: (s.T @ b, s.T @ c), [(4, 5), (4, 2), (4, 3)]),
        (lambda s, b, c: (s @ b.T, s @ c.T), [(5, 4), (2, 4), (3, 4)]),
        (lambda s, b, c: (b.T @ s, c.T @ s), [(4, 5), (4, 2), (4, 3)]),
        (lambda s, b, c: (s @ b, s @ c, s @ b), [(5, 4), (4, 2), (4, 3)]),
        (lambda s, b, c: np.sum(s @ b) + np.sum(s @ c) * 2.0, [(5, 4), (4, 1), (4, 1)]),
    ],
)
def test_products_sharing_an_operand_merge_into_one(fn, shapes):
    before, after = check(fn, *shapes)
    assert matmuls(before) >= 2
    assert matmuls(after) == 1


@pytest.mark.parametrize(
    "fn, shapes",
    [
        # One product's other operand is another's result: neither can wait for the other.
        (lambda s, b: s @ (s @ b), [(4, 4), (4, 2)]),
        (lambda s, b: s @ np.tanh(s @ b), [(4, 4), (4, 2)]),
        # The stacked operands differ in more than the stacked axis.
        (lambda s, b, c: (s @ b, s @ c), [(3, 5, 4), (3, 4, 2), (4, 3)]),
        (lambda s, b, c: (s @ b, s @ c), [(3, 5, 4), (3, 4, 2), (1, 4, 3)]),
        # Vectors: matmul of 1-D operands is never stacked.
        (lambda s, b, c: (s @ b, s @ c), [(5, 4), (4,), (4,)]),
        (lambda s, b, c: (b @ s, c @ s), [(4, 5), (4,), (4,)]),
    ],
)
def test_products_that_cannot_merge_stay_apart(fn, shapes):
    before, after = check(fn, *shapes)
    assert matmuls(after) == matmuls(before)


def test_of_three_products_the_two_that_can_merge_do():
    def f(s, b, c):
        p = s @ b
        q = s @ c
        r = s @ np.tanh(p)  # needs p, so it is computed after the merged product
        return p, q, r

    before, after = check(f, (4, 4), (4, 2), (4, 3))
    assert matmuls(before) == 3 and matmuls(after) == 2


def test_operands_of_different_dtypes_stay_apart():
    def f(s, b, c):
        return s @ b, s @ c.astype(onp.float32)

    before, after = check(f, (4, 4), (4, 2), (4, 3))
    assert matmuls(after) == 2


def test_a_captured_array_is_shared_by_reference():
    s = RNG.standard_normal((6, 5))

    def f(b, c):
        return s @ b, s @ c

    prog = mp(f)(onp.ones((5, 2)), onp.ones((5, 3)))
    merged = forced(prog)
    assert matmuls(merged) == 1
    b, c = RNG.standard_normal((5, 2)), RNG.standard_normal((5, 3))
    s[...] = RNG.standard_normal((6, 5))  # read when the program runs, not when staged
    for want, got in zip(f(b, c), merged(b, c)):
        onp.testing.assert_allclose(got, want, rtol=1e-13)


def test_merged_program_differentiates_like_the_unmerged_one():
    def f(s, b, c):
        return np.sum(np.sin(s @ b) @ c.T) + np.sum((s @ c) ** 2)

    shapes = [(5, 4), (4, 3), (4, 3)]
    prog = mp(f)(*[onp.ones(s) for s in shapes])
    merged = forced(prog)
    assert matmuls(merged) < matmuls(prog)
    args = [RNG.standard_normal(s) for s in shapes]
    for k in range(3):
        want = md.grad(lambda *a: prog(*a)[0], k)(*args)
        got = md.grad(lambda *a: merged(*a)[0], k)(*args)
        onp.testing.assert_allclose(got, want, rtol=1e-12)


def test_the_default_rule_merges_thin_products_of_a_large_operand():
    s = onp.ones((300, 200))
    prog = optimize(mp(lambda s, b, c: (s @ b, s @ c))(s, onp.ones((200, 4)), onp.ones((200, 3))))
    assert matmuls(prog) == 1


@pytest.mark.parametrize(
    "shapes",
    [
        [(3000, 100), (100,), (100,)],  # matrix-vector products: stacking measured slower
        [(30, 20), (20, 4), (20, 3)],  # small: the extra calls cost more than they save
        [(300, 200), (200, 200), (200, 200)],  # copying the operands costs what it saves
    ],
)
def test_the_default_rule_leaves_products_apart_where_stacking_does_not_pay(shapes):
    prog = mp(lambda s, b, c: (s @ b, s @ c))(*[onp.ones(s) for s in shapes])
    assert matmuls(merge_products(prog)) == 2


def test_jit_of_hvp_and_hessian_agree_with_eager_when_products_merge(monkeypatch):
    from matdiff.compile import passes

    monkeypatch.setattr(passes, "_MIN_FREE", 1)
    monkeypatch.setattr(passes, "_MIN_SHARED", 0)
    monkeypatch.setattr(passes, "_MIN_RATIO", 0)
    X = RNG.standard_normal((40, 6))
    Y = RNG.standard_normal((40, 3))
    y = onp.sign(RNG.standard_normal(40))

    def loss(W, X, Y):
        return np.sum(np.log1p(np.exp(-(X @ W) * Y))) + np.sum((X @ W) ** 2 @ (W.T @ W))

    W, V = RNG.standard_normal((6, 3)), RNG.standard_normal((6, 3))
    h = md.jit(lambda W, V, X, Y: md.hvp(lambda U: loss(U, X, Y), W, V))
    onp.testing.assert_allclose(h(W, V, X, Y), md.hvp(lambda U: loss(U, X, Y), W, V), rtol=1e-12)
    assert "_concatenate" in names(h.program)
    H = md.jit(md.hessian(loss))
    onp.testing.assert_allclose(H(W, X, Y), md.hessian(loss)(W, X, Y), rtol=1e-12)

    def logreg(w, X, y):
        return np.sum(np.log1p(np.exp(-y * (X @ w))))

    w = RNG.standard_normal(6)
    H = md.jit(md.hessian(logreg))
    onp.testing.assert_allclose(H(w, X, y), md.hessian(logreg)(w, X, y), rtol=1e-12)


def test_merge_is_idempotent_and_dce_keeps_it():
    before = mp(lambda s, b, c: (s @ b, s @ c))(
        onp.ones((5, 4)), onp.ones((4, 2)), onp.ones((4, 3))
    )
    once = forced(before)
    assert names(forced(once)) == names(once) == names(dce(once))


def _random_program(seed):
    """A function of a square ``s`` and three matrices that mixes products of ``s``, of its
    transpose, from either side, with elementwise steps between them."""
    rng = onp.random.default_rng(seed)
    steps = [
        (int(rng.integers(5)), int(rng.integers(100)), int(rng.integers(100))) for _ in range(8)
    ]

    def f(s, a, b, c):
        pool = [a, b, c]
        for op, i, j in steps:
            m, n = pool[i % len(pool)], pool[j % len(pool)]
            if op == 0:
                pool.append(s @ m)
            elif op == 1:
                pool.append((m.T @ s).T)
            elif op == 2:
                pool.append(s.T @ m)
            elif op == 3:
                pool.append(np.tanh(m))
            elif m.shape == n.shape:
                pool.append(m * n)
        return pool[3:] or [a]

    return f


@pytest.mark.parametrize("seed", range(40))
def test_random_programs_of_products_give_the_same_values_merged(seed):
    check(_random_program(seed), (4, 4), (4, 2), (4, 3), (4, 2))
