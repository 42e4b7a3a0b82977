"""Each optimization pass on small programs: what it removes, and that the program still
computes the same values (checked by running both programs at fresh points)."""

from __future__ import annotations

import numpy as onp
import pytest

import matdiff.numpy as np
from matdiff import grad
from matdiff.compile import Eqn, Lit, Program, Var, cse, dce, fold_constants, optimize, simplify
from matdiff.compile import make_program as mp
from matdiff.numpy import manipulation, products

RNG = onp.random.default_rng(0)


def simp(program):
    """Simplification leaves the rewritten-away producers for dead-code elimination."""
    return dce(simplify(program))


def names(program):
    return [getattr(e.prim, "__name__", str(e.prim)) for e in program.eqns]


def same_values(before, after, *shapes):
    """Both programs give the same outputs, of the same shapes and dtypes, at fresh points."""
    for _ in range(2):
        args = [RNG.standard_normal(s) for s in shapes]
        for a, b in zip(before(*args), after(*args)):
            a, b = onp.asarray(a), onp.asarray(b)
            assert a.shape == b.shape and a.dtype == b.dtype
            onp.testing.assert_allclose(b, a, rtol=1e-13, atol=1e-13)


def check(pass_, fn, *shapes):
    before = mp(fn)(*[onp.ones(s) for s in shapes])
    after = pass_(before)
    same_values(before, after, *shapes)
    return before, after


# ---------------------------------------------------------------- dce


def test_dce_drops_unused_equations():
    def f(x):
        np.exp(x) * 2.0  # noqa: B018 - computed and dropped
        return np.sin(x)

    before, after = check(dce, f, (3,))
    assert names(before) == ["exp", "multiply", "sin"]
    assert names(after) == ["sin"]


def test_dce_keeps_everything_an_output_needs():
    before, after = check(dce, lambda x: (np.sin(x), np.cos(np.sin(x))), (3,))
    assert names(after) == names(before)


# ---------------------------------------------------------------- cse


def test_cse_shares_identical_equations():
    before, after = check(cse, lambda x: np.sin(x) * np.sin(x) + np.sin(x), (3,))
    assert names(before).count("sin") == 3
    assert names(after) == ["sin", "multiply", "add"]


def test_cse_keeps_different_params_and_literals_apart():
    _, after = check(cse, lambda x: np.sum(x, axis=0) + np.sum(x, axis=1), (3, 3))
    assert names(after).count("sum") == 2
    _, after = check(cse, lambda x: x * 2.0 + x * 3.0, (3,))
    assert names(after).count("multiply") == 2


def test_cse_matches_equal_small_array_literals():
    # Literals known by value (made by the passes, or built by hand) are shared by value.
    x = Var((3,), onp.float64)
    a, b, d = (Var((3,), onp.float64) for _ in range(3))
    prog = Program(
        [x],
        [
            Eqn(np.multiply, (x, Lit(onp.arange(3.0))), {}, a),
            Eqn(np.multiply, (x, Lit(onp.arange(3.0))), {}, b),
            Eqn(np.subtract, (a, b), {}, d),
        ],
        [d],
    )
    assert names(cse(prog)) == ["multiply", "subtract"]


def test_cse_keeps_captured_arrays_apart_unless_the_same_object():
    # Captured arrays are held by reference: equal now, they may differ at the next call.
    c1, c2 = onp.arange(3.0), onp.arange(3.0)
    _, after = check(cse, lambda x: x * c1 - x * c2, (3,))
    assert names(after) == ["multiply", "multiply", "subtract"]
    _, after = check(cse, lambda x: x * c1 - x * c1, (3,))
    assert names(after) == ["multiply", "subtract"]


# ---------------------------------------------------------------- constant folding


def test_fold_constants_evaluates_literal_only_equations():
    # Staging computes constant-only operations eagerly, so such equations come from
    # hand-built programs and from other passes' rewrites.
    x = Var((3,), onp.float64)
    e, y, s, z = (Var(sh, onp.float64) for sh in [(3,), (3,), (), (3,)])
    prog = Program(
        [x],
        [
            Eqn(np.exp, (Lit(onp.zeros(3)),), {}, e),
            Eqn(np.multiply, (x, e), {}, y),
            Eqn(np.sum, (Lit(onp.ones(2)),), {}, s),
            Eqn(np.add, (y, s), {}, z),
        ],
        [z],
    )
    after = fold_constants(prog)
    assert names(after) == ["multiply", "add"]
    assert onp.array_equal(after.eqns[0].inputs[1].value, onp.ones(3))
    assert after.eqns[1].inputs[1].value == 2.0
    same_values(prog, after, (3,))


def test_constants_made_by_rewrites_are_folded():
    before, after = check(simplify, lambda x: (x, np.sin(x * 0.0) + 1.0), (2,))
    assert after.eqns == [] and type(after.outvars[1]) is Lit


# ---------------------------------------------------------------- algebraic identities


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x * 1.0,
        lambda x: 1.0 * x,
        lambda x: x + 0.0,
        lambda x: 0.0 + x,
        lambda x: x - 0.0,
        lambda x: x / 1.0,
        lambda x: x**1,
        lambda x: x * onp.ones(3),
        lambda x: np.negative(np.negative(x)),
        lambda x: np.transpose(np.transpose(x)),
        lambda x: np.reshape(x, (3,)),
        lambda x: np.broadcast_to(x, (3,)),
        lambda x: np.reshape(np.reshape(x, (1, 3)), (3,)),
    ],
)
def test_identities_vanish(fn):
    before, after = check(simp, fn, (3,))
    assert len(before.eqns) >= 1 and after.eqns == []
    assert after.outvars[0] is after.invars[0]


def test_identity_that_broadcasts_is_kept():
    # x * ones((2, 3)) has a bigger shape than x: not an identity.
    before, after = check(simplify, lambda x: x * onp.ones((2, 3)), (3,))
    assert names(after) == ["multiply"]


def test_identity_that_changes_dtype_is_kept():
    prog = mp(lambda x: x * 1.0)(onp.ones(3, dtype=onp.int64))
    assert names(simplify(prog)) == ["multiply"]
    prog32 = mp(lambda x: x * 1.0)(onp.ones(3, dtype=onp.float32))
    assert simplify(prog32).eqns == []


def test_multiplication_by_a_symbolic_zero():
    before, after = check(simplify, lambda x, y: x * 0.0 + y, (3,), (3,))
    assert after.eqns == []
    before, after = check(simp, lambda x, y: np.sin(x) @ (y * 0.0), (3, 3), (3,))
    assert after.eqns == [] and type(after.outvars[0]) is Lit
    assert after.outvars[0].value.shape == (3,)


def test_double_transpose_with_axes_composes():
    before, after = check(
        simp, lambda x: np.transpose(np.transpose(x, (1, 2, 0)), (2, 0, 1)), (2, 3, 4)
    )
    assert after.eqns == []
    before, after = check(
        simp, lambda x: np.transpose(np.transpose(x, (1, 2, 0)), (1, 0, 2)), (2, 3, 4)
    )
    assert names(after) == ["transpose"] and after.eqns[0].inputs[0] is after.invars[0]


def test_reshape_chain_collapses():
    before, after = check(simp, lambda x: np.reshape(np.reshape(x, (6,)), (3, 2)), (2, 3))
    assert names(after) == ["reshape"] and after.eqns[0].inputs[0] is after.invars[0]


def test_sum_of_broadcast_to():
    before, after = check(simp, lambda x: np.sum(np.broadcast_to(x, (4, 3)), axis=0), (3,))
    assert names(after) == ["multiply"]
    before, after = check(
        simp, lambda x: np.sum(np.broadcast_to(x, (2, 4, 3)), axis=(0, 2), keepdims=True), (4, 1)
    )
    assert names(after) == ["multiply", "reshape"]
    before, after = check(simp, lambda x: np.sum(np.broadcast_to(x, (4, 3)), axis=0), (1, 3))
    assert names(after) == ["multiply", "reshape"]


def test_sum_of_broadcast_to_over_other_axes_is_kept():
    # Summing an axis that x already had is a real sum.
    _, after = check(simplify, lambda x: np.sum(np.broadcast_to(x, (4, 3)), axis=1), (3,))
    assert names(after) == ["broadcast_to", "sum"]
    _, after = check(simplify, lambda x: np.sum(np.broadcast_to(x, (4, 3))), (3,))
    assert names(after) == ["broadcast_to", "sum"]


def test_transpose_of_a_product_cancels_a_transpose():
    # (A^T B)^T = B^T A: three equations become two.
    before, after = check(simp, lambda a, b: np.transpose(np.transpose(a) @ b), (3, 2), (3, 4))
    assert names(before) == ["transpose", "matmul", "transpose"]
    assert names(after) == ["transpose", "matmul"]
    assert after.eqns[1].inputs[1] is after.invars[0]


def test_transpose_of_a_product_without_transposed_factor_is_kept():
    _, after = check(simplify, lambda a, b: np.transpose(a @ b), (2, 3), (3, 4))
    assert names(after) == ["matmul", "transpose"]


def test_simplify_works_on_hand_built_programs():
    a = Var((2, 3), onp.float64)
    t = Var((3, 2), onp.float64)
    tt = Var((2, 3), onp.float64)
    prog = Program(
        [a],
        [
            Eqn(manipulation.transpose, (a,), {}, t),
            Eqn(manipulation.transpose, (t,), {}, tt),
        ],
        [tt],
    )
    assert dce(simplify(prog)).eqns == []
    m = Var((2, 2), onp.float64)
    prog = Program([a], [Eqn(products.matmul, (a, Lit(onp.zeros((3, 2)))), {}, m)], [m])
    out = simplify(prog).outvars[0]
    assert type(out) is Lit and out.value.shape == (2, 2) and not out.value.any()


# ---------------------------------------------------------------- all together


def test_optimize_reaches_a_fixed_point_and_shrinks_a_gradient():
    def f(w, x):
        return np.sum(np.tanh(x @ w) ** 2) / 4.0

    before = mp(grad(f))(onp.ones((3, 2)), onp.ones((4, 3)))
    after = optimize(before)
    assert len(after.eqns) < len(before.eqns)
    assert len(optimize(after).eqns) == len(after.eqns)
    same_values(before, after, (3, 2), (4, 3))


def test_simplify_makes_a_stack_of_one_array_a_reshape():
    def f(x):
        return np.stack([np.sin(x)], 1), np.stack([x], 0), np.stack([x * 2.0], -1)

    before, after = check(simp, f, (3, 4))
    assert "_stack" in names(before)
    assert "_stack" not in names(after) and names(after).count("reshape") == 3


def test_simplify_keeps_a_stack_of_several_arrays():
    before, after = check(simp, lambda x: np.stack([x, np.sin(x)], 1), (3, 4))
    assert "_stack" in names(after)


@pytest.mark.parametrize(
    "fn, want",
    [
        (lambda x, y: x + (-np.sin(y)), ["sin", "subtract"]),
        (lambda x, y: -np.cos(x) + y, ["cos", "subtract"]),
        (lambda x, y: x - (-np.sin(y)), ["sin", "add"]),
        (lambda x, y: np.reshape(x, (1, 3)) + (-y), ["reshape", "subtract"]),
    ],
)
def test_simplify_folds_a_negation_into_the_sum_that_uses_it(fn, want):
    before, after = check(simp, fn, (3,), (3,))
    assert names(after) == want


def test_a_negation_used_elsewhere_is_still_computed_once():
    before, after = check(simp, lambda x, y: (x + (-y), -y), (3,), (3,))
    assert sorted(names(after)) == ["negative", "subtract"]


def test_simplify_keeps_the_negation_of_integers():
    prog = mp(lambda x, y: x + (-y))(onp.ones(3, int), onp.ones(3, int))
    assert names(simp(prog)) == ["negative", "add"]
