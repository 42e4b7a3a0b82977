"""``jit`` never returns a stale or wrong number silently: captured arrays are read at
call time, static arguments are keyed by type, compiled functions pickle and their
cache is bounded, and any function name compiles."""

from __future__ import annotations

import numpy as onp
import pytest

import matdiff.numpy as np
from matdiff import grad
from matdiff.compile import jit

# ---------------------------------------------------------------- captured arrays


@pytest.mark.parametrize("start", [0.0, 1.0, 2.0])
def test_jit_reads_a_captured_array_at_call_time(start):
    W = onp.full(3, start)
    f = jit(lambda x: np.sum(x * W))
    x = onp.ones(3)
    assert f(x) == pytest.approx(3 * start)
    W += 1.5
    assert f(x) == pytest.approx(3 * (start + 1.5))
    W[1] = -4.0
    assert f(x) == pytest.approx(onp.sum(W))
    assert f.trace_count == 1


@pytest.mark.parametrize("start", [0.0, 1.0, 2.0])
def test_jit_grad_reads_a_captured_array_at_call_time(start):
    W = onp.full(3, start)
    loss = lambda x: np.sum(np.sin(x) * W)  # noqa: E731
    g = jit(grad(loss))
    x = onp.array([0.1, 0.5, -0.3])
    onp.testing.assert_allclose(g(x), grad(loss)(x))
    W += 1.5
    onp.testing.assert_allclose(g(x), onp.cos(x) * (start + 1.5))
    W[2] = 7.0
    onp.testing.assert_allclose(g(x), grad(loss)(x))
    assert g.trace_count == 1


@pytest.mark.parametrize("start", [0.0, 1.0, 2.0])
def test_jit_grad_of_a_product_with_a_captured_matrix(start):
    A = onp.full((2, 3), start)
    loss = lambda x: np.sum((A @ x) ** 2) + np.sum(x * A[0])  # noqa: E731
    g = jit(grad(loss))
    x = onp.array([0.2, -0.4, 0.9])
    onp.testing.assert_allclose(g(x), grad(loss)(x))
    A[...] = onp.arange(6.0).reshape(2, 3) - start
    onp.testing.assert_allclose(g(x), grad(loss)(x))


def test_captured_zero_dimensional_array_is_read_at_call_time():
    c = onp.array(0.0)
    f = jit(lambda x: x * c + 1.0)
    assert f(onp.ones(2)).tolist() == [1.0, 1.0]
    c[...] = 3.0
    assert f(onp.ones(2)).tolist() == [4.0, 4.0]


def test_numbers_and_arrays_made_inside_are_still_folded():
    # Python numbers, and arrays made while staging that nothing else holds, cannot
    # change: x * 1.0 and x * ones(3) compile to nothing.
    f = jit(lambda x: x * 1.0 + x * onp.ones(3))
    f(onp.ones(3))
    assert [e.prim.__name__ for e in f.program.eqns] == ["add"]
