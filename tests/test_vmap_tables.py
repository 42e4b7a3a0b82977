"""The NumPy front end's spec tables, run through ``vmap`` against a Python loop.

Every row of the ufunc, reduction, shape, product and indexing tables is evaluated on a
batch of three draws: with every argument batched along axis 0, with every argument
batched along its last axis, and (for rows of several arguments) with the first batched
and the others shared (``in_axes=None``). ``vmap(f)`` must agree with ``f`` called once
per example, and so must ``vmap(grad(loss))``: per-example gradients. A batched
primitive computes the same sums in another order than its per-example calls (one
matrix product over the whole batch, say), so values agree to rounding, 1e-12 relative.
"""

from __future__ import annotations

import numpy as onp
import pytest
from test_compile_tables import CASES, _loss, _real_float

from matdiff import grad, vmap
from matdiff.tree import tree_flatten, tree_unflatten

pytestmark = pytest.mark.filterwarnings("ignore:Casting complex values to real")

SIZE = 3


def _stack(points: list, axis: int):
    """The examples' pytrees stacked leaf by leaf along ``axis``."""
    leaves = [tree_flatten(p)[0] for p in points]
    treedef = tree_flatten(points[0])[1]
    return tree_unflatten(treedef, [onp.stack(col, axis=axis) for col in zip(*leaves)])


def _assert_close(got, want):
    got_leaves, want_leaves = tree_flatten(got)[0], tree_flatten(want)[0]
    assert len(got_leaves) == len(want_leaves)
    for g, w in zip(got_leaves, want_leaves):
        g, w = onp.asarray(g), onp.asarray(w)
        assert g.shape == w.shape, (g.shape, w.shape)
        assert g.dtype == w.dtype or w.dtype.kind == g.dtype.kind, (g.dtype, w.dtype)
        scale = float(onp.max(onp.abs(w))) if w.size and w.dtype.kind in "fc" else 0.0
        onp.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12 * scale)


def _looped(fun, points: list):
    outs = [fun(*p) for p in points]
    leaves = [tree_flatten(o)[0] for o in outs]
    treedef = tree_flatten(outs[0])[1]
    return tree_unflatten(treedef, [onp.stack(col) for col in zip(*leaves)])


def _check(fun, points: list, mode: str):
    n = len(points[0])
    if mode == "none":
        shared = points[0][1:]
        points = [[p[0], *shared] for p in points]
        args = [_stack([[p[0]] for p in points], 0)[0], *shared]
        in_axes = (0,) + (None,) * (n - 1)
    else:
        axis = 0 if mode == "axis 0" else -1
        args = _stack(points, axis)
        in_axes = axis
    _assert_close(vmap(fun, in_axes=in_axes)(*args), _looped(fun, points))
    if not all(_real_float(x) for x in tree_flatten(points[0])[0]):
        return
    if not any(_real_float(o) for o in tree_flatten(fun(*points[0]))[0]):
        return
    g = grad(_loss(fun), argnums=tuple(range(n)))
    _assert_close(vmap(g, in_axes=in_axes)(*args), _looped(g, points))


def _arity(case) -> int:
    return len(case.make(onp.random.default_rng(0)))


# Rows of one argument have nothing to share, so they run in the two batched modes only.
ROWS = [
    pytest.param(case, mode, id=f"{case!r}-{mode}")
    for case in CASES
    if _arity(case)
    for mode in ("axis 0", "last axis", "none")
    if mode != "none" or _arity(case) >= 2
]


@pytest.mark.parametrize("case, mode", ROWS)
def test_table_row_through_vmap(case, mode):
    points = [case.make(onp.random.default_rng(seed)) for seed in range(SIZE)]
    _check(case.fun, points, mode)
