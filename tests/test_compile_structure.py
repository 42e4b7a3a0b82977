"""Identity seeds carried as structure: the rewritten program gives the original's values,
shapes and dtypes, it applies where the tangents stay linear in the seed, and ``jit``
stages Jacobians over whole bases only when the result stays small."""

from __future__ import annotations

import itertools
import sys

import numpy as onp
import pytest

import matdiff as md
import matdiff.numpy as np
from matdiff.compile import carry_structure, jit
from matdiff.compile import make_program as mp
from matdiff.compile.ir import Lit
from matdiff.compile.structure import seed_labels

RNG = onp.random.default_rng(3)
jit_module = sys.modules["matdiff.compile.jit"]


def forced(program):
    return carry_structure(program, min_work=0, min_ratio=0)


def labels_of(value):
    counter = itertools.count()
    sizes = {}

    def new(size):
        k = next(counter)
        sizes[k] = size
        return k

    axes = seed_labels(value, new)
    return axes, sizes


# ---------------------------------------------------------------- seeds


@pytest.mark.parametrize(
    "shape", [(6, 6), (6, 2, 3), (6, 3, 2), (12, 3), (2, 3, 6), (36,), (3, 2, 3, 2), (1, 6, 6)]
)
def test_a_reshaped_identity_is_a_seed_whose_labels_rebuild_it(shape):
    value = onp.eye(6).reshape(shape)
    axes, sizes = labels_of(value)
    assert axes is not None
    digits = [lab for ax in axes for lab in ax]
    # Each label names one digit of the row index and the same digit of the column index.
    assert all(digits.count(lab) == 2 for lab in digits)
    for ax, n in zip(axes, shape):
        assert onp.prod([sizes[lab] for lab in ax], dtype=int) == n
    # Rebuild the array from the labels: 1 where the repeated digits agree.
    idx = onp.indices([sizes[lab] for lab in digits]).reshape(len(digits), -1).T
    first = {}
    for p, lab in enumerate(digits):
        first.setdefault(lab, p)
    ones = onp.all([idx[:, p] == idx[:, first[lab]] for p, lab in enumerate(digits)], axis=0)
    onp.testing.assert_array_equal(ones.astype(float), value.reshape(-1))


@pytest.mark.parametrize(
    "value",
    [
        onp.eye(6)[:3],  # a block of rows: not the whole identity
        onp.eye(6) * 2.0,
        onp.eye(6)[::-1].copy(),
        onp.ones((3, 3)),
        onp.eye(1),
        onp.eye(4, dtype=int),
        onp.eye(6).reshape(4, 9),  # axes cross the row/column digits unevenly
    ],
)
def test_other_arrays_are_not_seeds(value):
    assert labels_of(value)[0] is None


# ---------------------------------------------------------------- rewritten programs

B = RNG.standard_normal((3, 5))
C = RNG.standard_normal((5, 4))
W = RNG.standard_normal((4, 3))
c3 = RNG.standard_normal(3)
c43 = RNG.standard_normal((4, 3)) + 3.0


CASES = {
    "X @ B": (md.jacobian(lambda X: X @ B), [(4, 3)]),
    "W @ X": (md.jacobian(lambda X: W @ X), [(3, 5)]),
    "X @ vector": (md.jacobian(lambda X: X @ c3), [(4, 3)]),
    "vector @ X": (md.jacobian(lambda X: c3 @ X), [(3, 5)]),
    "x @ B (1-d)": (md.jacobian(lambda x: x @ B), [(3,)]),
    "W @ x (1-d)": (md.jacobian(lambda x: W @ x), [(3,)]),
    "batched X @ B": (md.jacobian(lambda X: X @ B), [(2, 4, 3)]),
    "X * c broadcast": (md.jacobian(lambda X: X * c3), [(4, 3)]),
    "X * c full": (md.jacobian(lambda X: c43 * X), [(4, 3)]),
    "X / c": (md.jacobian(lambda X: X / c43), [(4, 3)]),
    "x[:, None] * c": (md.jacobian(lambda x: x[:, None] * c3), [(4,)]),
    "sum axis 0": (md.jacobian(lambda X: np.sum(X @ B, axis=0)), [(4, 3)]),
    "sum axis 1 keepdims": (md.jacobian(lambda X: np.sum(X @ B, axis=1, keepdims=True)), [(4, 3)]),
    "sum all": (md.jacobian(lambda X: np.sum(X * c3)), [(4, 3)]),
    "transpose reshape": (md.jacobian(lambda X: (X @ B).T.reshape(-1)), [(4, 3)]),
    "reshape split": (md.jacobian(lambda X: (X @ B).reshape(2, 10) * 2.0), [(4, 3)]),
    "sum of two": (md.jacobian(lambda X: X @ B + (X * c3) @ B), [(4, 3)]),
    "difference": (md.jacobian(lambda X: X @ B - 3.0 * (X @ B)), [(4, 3)]),
    "negative": (md.jacobian(lambda X: -(X @ B)), [(4, 3)]),
    "tanh (dense factor)": (md.jacobian(lambda X: np.tanh(X @ B)), [(4, 3)]),
    "mf hessian": (md.hessian(lambda U: np.sum((C.T - U @ B) ** 2)), [(4, 3)]),
    "quadratic form": (md.hessian(lambda x: x @ (W.T @ W) @ x), [(3,)]),
    "logistic hessian": (md.hessian(lambda w: np.sum(np.log1p(np.exp(C @ w)))), [(4,)]),
    "unsupported op after the seed": (md.jacobian(lambda x: np.sort(x * c3)), [(3,)]),
    "float32": (md.jacobian(lambda X: X @ B.astype(onp.float32)), [(4, 3), onp.float32]),
    "tanh features": (md.hessian(lambda x: np.sum(np.tanh(C @ x) ** 2)), [(4,)]),
    "logsumexp": (md.hessian(lambda x: np.log(np.sum(np.exp(W @ x)))), [(3,)]),
    "product of sums": (md.hessian(lambda x: (x @ x) * np.sum(x)), [(5,)]),
    "outer": (md.jacobian(lambda x: np.outer(x, c3).ravel()), [(4,)]),
    "einsum": (md.hessian(lambda X: np.einsum("ij,jk,ik->", X, B, np.tanh(X @ B))), [(4, 3)]),
    "strided slices": (md.hessian(lambda x: x[::2] @ x[1::2]), [(6,)]),
    "cumsum": (md.jacobian(lambda X: np.cumsum(X @ B, axis=1)), [(4, 3)]),
    "max": (md.hessian(lambda x: np.max(x * c3) ** 2), [(3,)]),
    "log det": (md.hessian(lambda X: np.linalg.slogdet(X @ X.T + onp.eye(3))[1]), [(3, 3)]),
    "matrix inverse": (md.jacobian(lambda X: np.linalg.inv(X + 4 * onp.eye(3)) @ W.T), [(3, 3)]),
    "broadcast to rows": (md.jacobian(lambda x: np.broadcast_to(x, (4, 3)) * c43), [(3,)]),
    "mean keepdims": (md.jacobian(lambda X: np.mean(X @ B, axis=0, keepdims=True)), [(4, 3)]),
}


def _inputs(spec):
    shapes = [s for s in spec if isinstance(s, tuple)]
    dtypes = [s for s in spec if not isinstance(s, tuple)] or [onp.float64]
    return [RNG.standard_normal(s).astype(dtypes[0]) for s in shapes]


@pytest.mark.parametrize("name", list(CASES))
def test_the_structured_program_computes_the_same_values(name):
    fn, spec = CASES[name]
    args = _inputs(spec)
    before = mp(fn)(*args)
    after = forced(before)
    for _ in range(2):
        args = _inputs(spec)
        want, got = before(*args), after(*args)
        for a, b in zip(want, got):
            a, b = onp.asarray(a), onp.asarray(b)
            assert a.shape == b.shape and a.dtype == b.dtype
            tol = 1e-5 if a.dtype == onp.float32 else 1e-12
            onp.testing.assert_allclose(b, a, rtol=tol, atol=tol)


def _seeds(program):
    return [
        a
        for e in program.eqns
        for a in e.inputs
        if type(a) is Lit and not a.ref and labels_of(onp.asarray(a.value))[0] is not None
    ]


@pytest.mark.parametrize(
    "name",
    [
        "X @ B",
        "W @ X",
        "batched X @ B",
        "X * c full",
        "X / c",
        "sum axis 0",
        "transpose reshape",
        "reshape split",
        "sum of two",
        "tanh (dense factor)",
        "mf hessian",
    ],
)
def test_the_seed_is_gone_where_every_tangent_stays_linear_in_it(name):
    fn, spec = CASES[name]
    before = mp(fn)(*_inputs(spec))
    assert _seeds(before), "the case must stage an identity seed to test anything"
    after = forced(before)
    assert after is not before
    staged = {id(a.value) for a in _seeds(before)}
    assert not staged & {id(a.value) for a in _seeds(after)}


def test_unprofitable_programs_are_returned_unchanged():
    fn, spec = CASES["X @ B"]
    before = mp(fn)(*_inputs(spec))
    assert carry_structure(before) is before  # 60 elements of work: below MIN_WORK
    assert carry_structure(before, min_work=0, min_ratio=1e9) is before


def test_a_result_that_would_be_a_view_of_a_constant_is_left_alone():
    # The Jacobian of A @ x is A itself: structure would hand out a view of the constant.
    A = RNG.standard_normal((4, 3))
    before = mp(md.jacobian(lambda x: A @ x))(onp.ones(3))
    out = forced(before)(onp.ones(3))[0]
    onp.testing.assert_array_equal(out, A)
    out[0, 0] = 99.0
    assert A[0, 0] != 99.0


# ---------------------------------------------------------------- jit


def _mf(U, T, V):
    R = T - U @ V.T
    return np.sum(R * R)


def test_jit_hessian_of_a_low_rank_fit_does_no_per_direction_work():
    n, r = 40, 4
    U, V = RNG.standard_normal((n, r)), RNG.standard_normal((n, r))
    T = RNG.standard_normal((n, n))
    h = jit(md.hessian(_mf), fuse=False)
    H = h(U, T, V)
    want = 2 * onp.einsum("ac,bd->abcd", onp.eye(n), V.T @ V)
    onp.testing.assert_allclose(H, want, rtol=1e-12, atol=1e-12)
    onp.testing.assert_allclose(H, md.hessian(_mf)(U, T, V), rtol=1e-12, atol=1e-12)
    # Per direction, the staged Hessian pushes an n x n tangent: (n r) n^2 elements.
    largest = max(onp.prod(e.out.shape) for e in h.program.eqns)
    assert largest <= H.size
    assert h.trace_count == 1
    # Closure constants are read when the program runs, not folded at compile time.
    V2 = RNG.standard_normal((n, r))
    H2 = h(U, T, V2)
    onp.testing.assert_allclose(H2, 2 * onp.einsum("ac,bd->abcd", onp.eye(n), V2.T @ V2))


def _nonlinear(x):
    return np.sum(np.sort(x) ** 3) + np.sum(np.sin(x[:-1] * x[1:]))


@pytest.mark.parametrize("limit", [None, 0])
def test_jit_stages_again_in_chunks_when_the_whole_basis_program_is_large(monkeypatch, limit):
    monkeypatch.setattr(md.operators, "_CHUNK_BYTES", 4096)
    if limit is not None:
        monkeypatch.setattr(jit_module, "_WHOLE_BASIS_BYTES", limit)
        monkeypatch.setattr(jit_module, "_output_bytes", lambda program: 0)
    x = RNG.standard_normal(45)
    h = jit(md.hessian(_nonlinear), fuse=False)
    onp.testing.assert_allclose(h(x), md.hessian(_nonlinear)(x), rtol=1e-12, atol=1e-12)
    assert h.trace_count == 1
    chunked = any("concatenate" in getattr(e.prim, "__name__", "") for e in h.program.eqns)
    # 45 directions in chunks of a few kilobytes, unless staged over the whole basis.
    assert chunked == (limit is not None)


def test_nested_jit_stages_its_jacobians_as_the_outer_call_decides():
    V = RNG.standard_normal((40, 4))

    def outer(U):
        return jit(md.hessian(lambda U: np.sum((U @ V.T) ** 2)))(U) * 2.0

    U = RNG.standard_normal((40, 4))
    got = jit(outer, fuse=False)(U)
    want = 4 * onp.einsum("ac,bd->abcd", onp.eye(40), V.T @ V)
    onp.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert not md.operators.whole_basis.on


def test_a_basis_too_large_to_hold_stays_in_chunks(monkeypatch):
    monkeypatch.setattr(md.operators.whole_basis, "max_bytes", 45 * 45 * 8 - 1)
    monkeypatch.setattr(md.operators, "_CHUNK_BYTES", 4096)
    x = RNG.standard_normal(45)
    h = jit(md.hessian(_nonlinear), fuse=False)
    onp.testing.assert_allclose(h(x), md.hessian(_nonlinear)(x), rtol=1e-12, atol=1e-12)
    assert any("concatenate" in getattr(e.prim, "__name__", "") for e in h.program.eqns)


def test_whole_basis_staging_stops_before_a_tangent_past_its_budget(monkeypatch):
    # Staging computes each batched tangent once: past the budget it stops and stages
    # again in chunks, whose tangents stay small.
    monkeypatch.setattr(md.operators.whole_basis, "max_tangent_bytes", 45 * 44 * 8 * 10)
    monkeypatch.setattr(md.operators, "_CHUNK_BYTES", 4096)
    x = RNG.standard_normal(45)
    f = lambda x: np.sum(np.outer(x, x[1:]) ** 3)  # noqa: E731 - a 45 x 44 primal
    h = jit(md.hessian(f), fuse=False)
    onp.testing.assert_allclose(h(x), md.hessian(f)(x), rtol=1e-12, atol=1e-12)
    assert h.trace_count == 1
    assert any("concatenate" in getattr(e.prim, "__name__", "") for e in h.program.eqns)
    assert not md.operators.whole_basis.on
    # Under the budget the same function is staged over its whole basis.
    monkeypatch.setattr(md.operators.whole_basis, "max_tangent_bytes", 2**30)
    h = jit(md.hessian(f), fuse=False)
    onp.testing.assert_allclose(h(x), md.hessian(f)(x), rtol=1e-12, atol=1e-12)
    assert not any("concatenate" in getattr(e.prim, "__name__", "") for e in h.program.eqns)
