"""Indexing and construction in matdiff.numpy: a spec table (values against NumPy, both
modes to order 2), scatter-add accumulation, sort and partition, np.array of traced values."""

from __future__ import annotations

import operator

import numpy as onp
import pytest
from test_numpy_shape import A, L, S, Z, run_spec, spec_id

import matdiff.numpy as np
from matdiff import grad, jvp
from matdiff.numpy._wrap import all_wrapped
from matdiff.numpy.indexing import _writes_once
from matdiff.test_util import check_grads
from matdiff.tracer import isbox

get = operator.getitem
I = onp.array
MASK = I([[True, False, True, False], [False, False, True, True], [True, True, False, False]])


def _select(x, y):
    return np.select([x < -0.5, x > 0.5], [x * y, y], default=x)


def _select_ref(x, y):
    return onp.select([x < -0.5, x > 0.5], [x * y, y], default=x)


def _array3(x, y):
    return np.array([x[0], y, 2.0, x[1] * y])


def _array3_ref(x, y):
    return onp.array([x[0], y, 2.0, x[1] * y])


def _nested(x, y):
    return np.array([[x, y], [y * x, (1.0, 2.0)]])


def _nested_ref(x, y):
    return onp.array([[x, y], [y * x, (1.0, 2.0)]])


# Query points inside, outside and exactly on the sample points XP.
XQ = onp.array([-1.0, 0.0, 0.3, 1.0, 1.7, 2.5, 3.0, 4.2])
XP = onp.array([0.0, 1.0, 1.5, 2.25, 3.0])


def _interp_xp(fp, d):
    # Sample points traced through a map that keeps them increasing.
    return np.interp(XQ, np.cumsum(np.exp(d)), fp)


def _interp_xp_ref(fp, d):
    return onp.interp(XQ, onp.cumsum(onp.exp(d)), fp)


def _piecewise_two(x):
    return np.piecewise(x, [x < 0, x >= 0], [lambda t: -t, lambda t: t**2])


def _piecewise_two_ref(x):
    return onp.piecewise(x, [x < 0, x >= 0], [lambda t: -t, lambda t: t**2])


def _piecewise_default(x, a):
    # a traced constant for one piece, and a function for everything else
    return np.piecewise(x, [x < -0.5, x > 0.5], [lambda t: 3 * t, a, np.sin])


def _piecewise_default_ref(x, a):
    return onp.piecewise(x, [x < -0.5, x > 0.5], [lambda t: 3 * t, a, onp.sin])


def _piecewise_overlap(x):
    return np.piecewise(x, [x > -1, x > 0], [lambda t: t, lambda t: 2 * t])


def _piecewise_overlap_ref(x):
    return onp.piecewise(x, [x > -1, x > 0], [lambda t: t, lambda t: 2 * t])


INDEXING_SPECS = [
    S(get, A(5), 2, id="getitem-int"),
    S(get, A(5), -1, id="getitem-negative-int"),
    S(get, A(3, 4), (1, slice(None, None, -2)), id="getitem-int-and-step"),
    S(get, A(3, 4), (Ellipsis, None, 1), id="getitem-ellipsis-newaxis"),
    S(get, A(2, 3, 4), (slice(1, None), Ellipsis), id="getitem-slice-ellipsis"),
    S(get, A(), (), id="getitem-0d"),
    S(get, A(), None, id="getitem-0d-newaxis"),
    S(get, A(5), slice(3, 1), id="getitem-empty-slice"),
    S(get, A(5), I([0, 3, 3, 1, 0]), id="getitem-repeated-ints"),
    S(get, A(5), [4, -1], id="getitem-list"),
    S(get, A(3, 4), (I([[0, 1], [2, 2]]), I([1, 3])), id="getitem-broadcast-arrays"),
    S(get, A(3, 4, 2), (slice(None), I([0, 0, 3])), id="getitem-slice-then-array"),
    S(get, A(3, 4, 2), (I([0, 2]), slice(None), I([1, 1])), id="getitem-split-advanced"),
    S(get, A(3, 4), MASK, id="getitem-mask"),
    S(get, A(3, 4), (MASK[:, 0],), id="getitem-row-mask"),
    S(get, A(3, 4), (slice(None), I([True, False, True, True])), id="getitem-column-mask"),
    S(get, A(3, 4), (I([0, 0]), I([True, False, True, False])), id="getitem-mask-and-ints"),
    S(get, Z(3, 4), (I([0, 0]), 1), id="getitem-complex"),
    S("take", A(3, 4), [0, 2, 2]),
    S("take", A(3, 4), [[0, 1], [3, 3]], axis=1),
    S("take", A(3, 4), [5, -1], axis=-1, mode="wrap"),
    S("take", A(3, 4), [5, -1], axis=0, mode="clip"),
    S("take", A(3, 4), 7),
    S("take_along_axis", A(3, 4), I([[0, 0], [3, 1], [2, 2]]), axis=1),
    S("take_along_axis", A(3, 4), I([[2, 0, 0, 1]]), axis=0),
    S("take_along_axis", A(2, 3, 4), I([[[1]], [[0]]]), axis=-1),
    S("take_along_axis", A(6), I([5, 0, 0]), axis=None),
    S(_select, A(3, 4), A(4), ref=_select_ref, id="select-broadcast"),
    S("select", [I([True, False])], L(A(2)), A()),
    S("select", [I([True, False]), I([False, True])], L(A(2), A(2, 2))),
    S("sort", A(5)),
    S("sort", A(3, 4), axis=0),
    S("sort", A(3, 4), axis=None),
    S("sort", A(3, 4), kind="stable"),
    S("partition", A(5), 2),
    S("partition", A(3, 4), (0, 2), axis=1),
    S("partition", A(3, 4), 5, axis=None),
    S(_array3, A(2), A(), ref=_array3_ref, id="array-of-traced-scalars"),
    S(_nested, A(2), A(2), ref=_nested_ref, id="array-nested"),
    S("array", A(2, 3)),
    S("array", A(2, 3), dtype=onp.complex128),
    S("array", A(3), ndmin=3),
    S("asarray", A(3)),
    S("asanyarray", A(2, 2), dtype=onp.complex128),
    S(_piecewise_two, A(3, 4), ref=_piecewise_two_ref, id="piecewise-two-branches"),
    S(_piecewise_default, A(3, 4), A(), ref=_piecewise_default_ref, id="piecewise-default"),
    S(_piecewise_overlap, A(5), ref=_piecewise_overlap_ref, id="piecewise-later-wins"),
    S("compress", [True, False, True], A(3, 4)),
    S("compress", I([False, True]), A(3, 4), axis=-1),
    S("compress", [1, 0, 1, 1], A(3, 4), axis=1),
    S("interp", XQ, XP, A(5)),
    S("interp", XQ, XP, A(5), -3.0, A()),
    S("interp", A(2, 3), XP, A(5)),
    S(_interp_xp, A(5), A(5), ref=_interp_xp_ref, id="interp-traced-sample-points"),
    S("interp", A(), onp.array([0.5]), A(1)),
    S("interp", XQ, XP, Z(5)),
]

INDEXING_FUNCTIONS = "getitem take take_along_axis select sort partition array asarray interp compress piecewise".split()


@pytest.mark.parametrize("spec", INDEXING_SPECS, ids=spec_id)
def test_indexing(spec):
    run_spec(spec)


def test_table_covers_every_indexing_function():
    covered = {s.id.split("-")[0] or s.name for s in INDEXING_SPECS}
    assert set(INDEXING_FUNCTIONS) - covered == set()
    for name in INDEXING_FUNCTIONS:
        assert name in all_wrapped, name


def test_repeated_indices_accumulate():
    g = grad(lambda x: np.sum(x[I([0, 2, 0, 0])] * I([1.0, 2.0, 3.0, 4.0])))(onp.zeros(3))
    onp.testing.assert_array_equal(g, [8.0, 0.0, 2.0])


def test_mask_and_slice_scatter_into_place():
    x = onp.arange(12.0).reshape(3, 4)
    g = grad(lambda x: np.sum(x[MASK] ** 2))(x)
    onp.testing.assert_array_equal(g, onp.where(MASK, 2 * x, 0.0))
    g = grad(lambda x: np.sum(x[1:, ::2]))(x)
    onp.testing.assert_array_equal(g, [[0, 0, 0, 0], [1, 0, 1, 0], [1, 0, 1, 0]])


@pytest.mark.parametrize(
    "idx, once",
    [
        (3, True),
        ((slice(1, None), Ellipsis, None), True),
        (MASK, True),
        (onp.int64(2), True),
        (I([0, 0]), False),
        ([0, 1], False),
        ((MASK[0], MASK[1]), False),
    ],
)
def test_scatter_assigns_only_where_no_index_can_repeat(idx, once):
    assert _writes_once(idx) is once


def test_sort_gradient_follows_the_permutation():
    x = onp.array([3.0, 1.0, 2.0])
    g = grad(lambda x: np.sum(np.sort(x) * onp.array([1.0, 10.0, 100.0])))(x)
    onp.testing.assert_array_equal(g, [100.0, 1.0, 10.0])


def test_array_of_traced_scalars_forward_and_reverse():
    f = lambda t: np.array([[t, t**2], [1.0, 2.0 * t]])
    val, tan = jvp(f, (3.0,), (1.0,))
    onp.testing.assert_allclose(val, [[3.0, 9.0], [1.0, 6.0]])
    onp.testing.assert_allclose(tan, [[1.0, 6.0], [0.0, 2.0]])
    assert float(grad(lambda t: np.sum(f(t)))(3.0)) == 1.0 + 6.0 + 2.0


def test_array_of_plain_data_is_plain():
    a = np.array([[1, 2], [3, 4]])
    assert type(a) is onp.ndarray and a.dtype == onp.array([1]).dtype
    assert not isbox(np.asarray((1.0, 2.0)))


def test_traced_value_iterates_to_traced_elements():
    check_grads(lambda x: np.array([r * i for i, r in enumerate(x)]), order=2)(onp.ones((3, 2)))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda x: np.array([x, x[:1]]), r"array: the elements of a sequence have different"),
        (lambda x: np.take(x, [0], out=x), r"take: out= is not supported"),
        (lambda x: np.take(x, [0], mode="nearest"), r"take: mode must be 'raise', 'wrap'"),
        (lambda x: np.take_along_axis(x, I([0]), axis=0), r"take_along_axis: indices has 1"),
        (lambda x: np.select([x > 0], [x, x]), r"select: got 1 conditions but 2 choices"),
        (lambda x: np.select([], []), r"select: the list of conditions is empty"),
        (lambda x: np.select([I([1, 0])], [x]), r"select: conditions must be boolean arrays"),
        (lambda x: np.sort(x, order="a"), r"sort: order= .* is not differentiable"),
        (lambda x: np.partition(x, 0, order="a"), r"partition: order= .* is not"),
    ],
)
def test_indexing_errors(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        grad(lambda x: np.sum(call(x)))(onp.ones((2, 2)))
