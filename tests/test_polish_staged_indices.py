"""take_along_axis, sort, partition and select stage when their indices or conditions
are computed from traced values: the index computation is part of the program, so a
second call at another point does not reuse the first point's permutation."""

import numpy as onp
import pytest
from test_compile_tables import CASES as TABLE_CASES
from test_compile_tables import _assert_close, _loss

import matdiff.numpy as np
from matdiff import grad, hessian, jacfwd, jacrev, jit
from matdiff.test_util import check_grads
from matdiff.tree import tree_flatten

rng = onp.random.default_rng(0)
P, Q = rng.standard_normal((3, 5)), rng.standard_normal((3, 5))


def close(a, b):
    onp.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def top2(x):
    # Indices from the traced value itself: the case that could not be staged before.
    return np.take_along_axis(x, np.argsort(x, axis=1)[:, -2:], axis=1)


def piecewise(x):
    return np.select([x < -0.5, x > 0.5], [x**2, np.sin(x)], default=x)


CASES = [
    top2,
    lambda x: np.sort(x, axis=0),
    lambda x: np.partition(x, 2, axis=1),
    lambda x: np.take_along_axis(x, np.argmax(x, axis=0, keepdims=True), axis=0),
    piecewise,
]


@pytest.mark.parametrize("f", CASES, ids=["top2", "sort", "partition", "argmax", "select"])
def test_staged_gather_recomputes_its_index(f):
    jf = jit(f)
    loss = lambda x: np.sum(np.sin(f(x)) * x[:, :1])
    jg = jit(grad(loss))
    for x in (P, Q):
        close(jf(x), f(x))
        close(jg(x), grad(loss)(x))
    assert jf.trace_count == 1 and jg.trace_count == 1


@pytest.mark.parametrize("f", CASES[:4], ids=["top2", "sort", "partition", "argmax"])
def test_batched_forward_matches_reverse(f):
    # jacfwd pushes all directions at once through the gather's and scatter's batch rules.
    close(jacfwd(f)(P), jacrev(f)(P))
    loss = lambda x: np.sum(f(x) ** 3)
    close(hessian(loss)(P), jacrev(jacrev(loss))(P))
    close(jit(hessian(loss))(Q), hessian(loss)(Q))


def test_repeated_indices_accumulate_in_the_vjp():
    idx = onp.array([[0, 0, 0], [2, 1, 2]])
    f = lambda x: np.take_along_axis(x, idx, axis=1) ** 2
    check_grads(f, modes=("fwd", "rev"), order=2)(P[:2])
    g = grad(lambda x: np.sum(np.take_along_axis(x, idx, axis=1)))(P[:2])
    close(g, onp.array([[3, 0, 0, 0, 0], [0, 1, 2, 0, 0]], float))


def test_take_along_axis_refuses_float_indices():
    with pytest.raises(TypeError, match="take_along_axis: indices must be an integer array"):
        np.take_along_axis(P, onp.zeros((3, 1)), axis=1)


def test_select_refuses_non_boolean_conditions_under_jit():
    with pytest.raises(TypeError, match="select: conditions must be boolean arrays"):
        jit(lambda x: np.select([x], [x]))(P)


STAGED_ROWS = [
    c
    for c in TABLE_CASES
    if c.name.split("(")[0].split("-")[0] in ("take_along_axis", "select", "sort", "partition")
]


@pytest.mark.parametrize("case", STAGED_ROWS, ids=repr)
def test_indexing_table_rows_stage_strictly(case):
    # The tables' own jit run marks unstageable rows xfail; these rows must not be.
    assert len(STAGED_ROWS) >= 12
    args = case.make(onp.random.default_rng(0))
    _assert_close(jit(case.fun)(*args), case.fun(*args))
    if all(onp.result_type(a).kind == "f" for a in tree_flatten(args)[0]):
        g = grad(_loss(case.fun), argnums=tuple(range(len(args))))
        _assert_close(jit(g)(*args), g(*args))
