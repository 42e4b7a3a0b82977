"""Compatibility with autograd's NumPy tests: the same behaviours, restated as one table.

autograd's ``test_numpy.py`` and ``test_systematic.py`` check that code written for
``autograd.numpy`` differentiates: mixed-dimension products, reductions over tuples of
axes, indexing forms, ``np.array`` of traced values, ``r_``/``c_``, ties in ``max``,
``linspace`` with traced endpoints, and every unary and binary ufunc on real and complex
input. Each row here is one such call; ``check_grads`` checks it in both modes to order 2.
Rows whose values can be compared with NumPy (the same call on plain arrays) are.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as onp
import pytest

import matdiff.numpy as np
from matdiff import grad, jvp
from matdiff.test_util import check_grads

rng = onp.random.default_rng(0)


def R(*shape):
    return rng.standard_normal(shape)


def U(lo, hi, *shape):
    return rng.uniform(lo, hi, shape)


def P(*shape):
    """Positive entries away from 0, where prod and division are smooth."""
    return rng.uniform(0.5, 1.5, shape)


class Row(NamedTuple):
    id: str
    fun: Callable
    args: tuple


def row(id: str, fun: Callable, *args: Any) -> Row:
    return Row(id, fun, args)


C32 = R(3, 2)
MASK45 = R(4, 5) > 0
CONST10 = R(10)
NON_FINITE = onp.array([0.0, onp.nan, onp.inf, -onp.inf])
H = R(4, 4)
X_WIDE = onp.arange(-20.0, 20.0, 0.1)
XP10 = onp.arange(10.0)

NUMPY_ROWS = [
    # products with mixed dimensions and Python floats
    row("dot-mat-vec", np.dot, R(4, 5), R(5)),
    row("dot-mat-mat", np.dot, R(4, 5), R(5, 3)),
    row("dot-vec-mat", np.dot, R(4), R(4, 5)),
    row("dot-vec-vec", np.dot, R(5), R(5)),
    row("dot-mat-float", np.dot, R(4, 5), 1.3),
    row("dot-float-vec", np.dot, -0.7, R(4)),
    row("dot-method", lambda x, y: x.dot(y), R(3, 4), R(4)),
    row("outer", np.outer, R(4), R(3)),
    row("outer-2d-flattens", np.outer, R(2, 2), R(3)),
    row("tensordot-positional-axes", lambda x: np.tensordot(x * np.ones((2, 2)), x, 2), R(2, 2)),
    row("tensordot-1-0", lambda a, b: np.tensordot(a, b, axes=[(1,), (0,)]), R(2, 3, 2), R(3, 4)),
    row("tensordot-0-1", lambda a, b: np.tensordot(a, b, axes=[(0,), (1,)]), R(3, 4), R(1, 3)),
    row("tensordot-01-12", lambda a, b: np.tensordot(a, b, [(0, 1), (1, 2)]), R(2, 3), R(1, 2, 3)),
    row(
        "tensordot-10-21", lambda a, b: np.tensordot(a, b, [(1, 0), (2, 1)]), R(2, 3, 4), R(5, 2, 3)
    ),
    row("tensordot-int-1", lambda a, b: np.tensordot(a, b, axes=1), R(4, 2, 2), R(2, 2, 4)),
    row("tensordot-int-2", lambda a, b: np.tensordot(a, b, axes=2), R(4, 2, 2), R(2, 2, 4)),
    row("einsum-transpose", lambda a: np.einsum("ij->ji", a), R(3, 4)),
    row("einsum-matmul", lambda a, b: np.einsum("ij,jk->ik", a, b), R(2, 3), R(3, 4)),
    row("einsum-covsum", lambda a, b: np.einsum("ijk,lji->lki", a, b), R(3, 4, 4), R(4, 4, 3)),
    row(
        "einsum-ellipsis",
        lambda a, b: np.einsum("...jk,...lj->...lk", a, b),
        R(3, 4, 4),
        R(3, 4, 4),
    ),
    row("einsum-ellipsis-only", lambda a, b: np.einsum("...,...->...", a, b), R(3, 4), R(3, 4)),
    row(
        "einsum-three",
        lambda a, b, c: np.einsum("ijk,lji,lli->lki", a, b, c),
        R(3, 4, 4),
        R(4, 4, 3),
        R(4, 4, 3),
    ),
    # reductions
    row("max", np.max, R(4, 5)),
    row("max-axis", lambda x: np.max(x, axis=1), R(3, 4, 5)),
    row("max-axis-keepdims", lambda x: np.max(x, axis=1, keepdims=True), R(3, 4, 5)),
    row("min-axis-keepdims", lambda x: np.min(x, axis=1, keepdims=True), R(3, 4, 5)),
    row("sum-axis-0-keepdims", lambda x: np.sum(x, axis=0, keepdims=True), R(4, 5)),
    row("sum-tuple-axes", lambda x: np.sum(x, axis=(1, 2)), R(4, 5, 3)),
    row(
        "sum-negative-tuple-keepdims", lambda x: np.sum(x, axis=(0, -1), keepdims=True), R(4, 5, 3)
    ),
    row("mean-axis-keepdims", lambda x: np.mean(x, axis=0, keepdims=True), R(4, 5)),
    row("prod", np.prod, P(2, 3)),
    row("prod-axis-keepdims", lambda x: np.prod(x, axis=0, keepdims=True), P(2, 3)),
    row("cumsum-axis-0", lambda x: np.cumsum(x, axis=0), R(4, 5)),
    row("cumsum-flat", np.cumsum, R(4, 5)),
    row("python-sum-of-arrays", lambda x, y: sum([x, y]), R(4, 5), R(4, 5)),
    row("var-ddof-1-keepdims", lambda x: np.var(x, ddof=1, keepdims=True), R(3, 4)),
    row("var-ddof-2-axis", lambda x: np.var(x, axis=1, ddof=2), R(3, 4)),
    row("std-ddof-1", lambda x: np.std(x, ddof=1), R(1, 3)),
    row("std-ddof-2-axis-keepdims", lambda x: np.std(x, axis=1, ddof=2, keepdims=True), R(3, 4)),
    # ties: the derivative is shared between equal entries
    row("max-of-equal-values", lambda x: np.max(np.array([x, x])), 1.0),
    row("max-equal-2d", lambda x: np.max(np.array([[x, x], [x, 0.5]]), axis=1), -1.0),
    row(
        "min-three-way-tie",
        lambda x: np.min(np.array([[x, x, x], [x, 0.5, 0.5], [0.5, 0.5, 0.5]]), axis=0),
        1.0,
    ),
    row("maximum-of-equal-values", lambda x: np.maximum(x, x), 1.0),
    row(
        "maximum-equal-broadcast",
        lambda x: np.maximum(np.array([x, x, 0.5]), np.array([[x, 0.5, x], [x, x, 0.5]])),
        2.0,
    ),
    # indexing
    row("index-ints", lambda x: x[3, 0, 1], R(5, 6, 4)),
    row("index-slices", lambda x: x[::-1, 2:4, :], R(5, 6, 4)),
    row("index-list", lambda x: x[[0, 1, 2], :, :], R(5, 6, 4)),
    row("index-mixed", lambda x: x[3, 2:, [1, 3]], R(5, 6, 4)),
    row("index-fanout", lambda x: x[::-1, 2:4, :] + x[::-1, 3:5, :], R(5, 6, 4)),
    row("index-twice", lambda x: x[2:6][1:3], R(7)),
    row("index-repeated", lambda x: np.sum(x[[0, 1, 0]]), R(3)),
    row("index-dot-of-slices", lambda x: np.dot(x[:2], x[2:]), R(4)),
    row("index-mask", lambda x: x[x > 0], R(3, 4)),
    row("index-newaxis-ellipsis", lambda x: x[..., None, 1], R(2, 3)),
    row("len", lambda x: x * float(len(x)), R(3, 2)),
    # shapes
    row("reshape-method-tuple", lambda x: x.reshape((20, 6)), R(5, 6, 4)),
    row("reshape-method-ints", lambda x: x.reshape(20, 6), R(5, 6, 4)),
    row("reshape-function", lambda x: np.reshape(x, (20, 6)), R(5, 6, 4)),
    row("ravel-method", lambda x: x.ravel(), R(3, 4)),
    row("flatten-method", lambda x: x.flatten(), R(3, 4)),
    row("transpose-attribute", lambda x: x.T, R(3, 4)),
    row("transpose-axes", lambda x: np.transpose(x, [2, 0, 1]), R(2, 3, 4)),
    row("transpose-method-ints", lambda x: x.transpose(1, 2, 0), R(2, 3, 4)),
    row("squeeze", np.squeeze, R(5, 1, 4)),
    row("squeeze-method", lambda x: x.squeeze(), R(5, 1, 4)),
    row("expand_dims", lambda x: np.expand_dims(x, 2), R(5, 1, 4)),
    row("flipud", np.flipud, R(4, 5)),
    row("fliplr", np.fliplr, R(4, 5)),
    row("rot90", np.rot90, R(4, 5)),
    row("roll-axis", lambda x: np.roll(x, 2, axis=1), R(4, 5)),
    row("roll-flat", lambda x: np.roll(x, 2), R(4, 5)),
    row("rollaxis", lambda x: np.rollaxis(x, 2, 1), R(2, 3, 4)),
    row("triu", lambda x: np.triu(x, k=2), R(5, 5)),
    row("tril", lambda x: np.tril(x, k=2), R(5, 5)),
    row("trace-offset", lambda x: np.trace(x, offset=3), R(5, 6)),
    row("trace-negative-offset", lambda x: np.trace(x, offset=-2), R(6, 5)),
    row("trace-extra-dims", lambda x: np.trace(x, offset=1), R(5, 6, 4, 3)),
    row("diag-of-matrix", np.diag, R(4, 4)),
    row("diagonal-last-axes", lambda x: np.diagonal(x, axis1=-1, axis2=-2), R(3, 4, 4)),
    row("make_diagonal", lambda d: np.make_diagonal(d, axis1=-1, axis2=-2), R(3, 4)),
    row("split-first-piece", lambda x: np.split(x, 2)[0], R(10)),
    row("repeat-axis-1", lambda x: np.repeat(x, 2, axis=1), R(5, 3, 4)),
    row("repeat-once", lambda x: np.repeat(x, 1, axis=0), R(5, 1)),
    row("repeat-flat", lambda x: np.repeat(x, 2), R(2, 3)),
    row("tile", lambda x: np.tile(x, (2, 1, 3)), R(2, 3)),
    row("clip-keywords", lambda x: np.clip(x, a_min=0.1, a_max=1.1), R(5, 5)),
    row("sort", np.sort, R(7)),
    row("partition", lambda x: np.partition(x, 3), R(7)),
    row("atleast_1d-scalar", np.atleast_1d, 1.2),
    row("atleast_2d-vector", np.atleast_2d, R(7)),
    row("atleast_3d-matrix", np.atleast_3d, R(2, 4)),
    row("where-constant-mask", lambda x, y: np.where(MASK45, x, y), R(4, 5), R(4, 5)),
    row("where-scalar-branch", lambda x: np.where(MASK45, x, 0.0), R(4, 5)),
    # joining, traced and untraced parts together
    row("concatenate-constant-first", lambda x: np.concatenate((C32, x)), R(4, 2)),
    row("concatenate-axis-positional", lambda x: np.concatenate((C32, x, C32), 1), R(3, 2)),
    row("append-flat", np.append, R(3), 4.0),
    row("append-axis", lambda a, b: np.append(a, b, axis=0), R(2, 3), R(1, 3)),
    row("append-list-of-traced-floats", lambda a, b, c: np.append([a, b], c), 1.0, 2.0, 3.0),
    row("r_-one", lambda x: np.r_[x], R(3, 2)),
    row("r_-mixed", lambda x: np.r_[x, C32, x], R(3, 2)),
    row("r_-with-slice", lambda x: np.r_[x, CONST10, 1:10], R(10)),
    row("r_-scalars", lambda x, y: np.r_[x, 2.0, y], 1.0, 3.0),
    row("c_-mixed", lambda x: np.c_[x, C32, x], R(3, 2)),
    row("c_-vectors", lambda x: np.c_[x, x * 2.0], R(4)),
    # np.array of traced values
    row("array-1d", lambda x: np.array([x, x * 1.0, x + 2.5]), 3.0),
    row("array-2d", lambda x: np.array([[x, x * 1.0, x + 2.5], [x**2, x, x / 2.0]]), 3.0),
    row("array-fanout", lambda x: np.array([x, x * 1.0]) + np.array([x, x * 1.0]), 3.0),
    row("array-of-scalar", np.array, 3.0),
    row("array-of-arrays", lambda x: np.array([x, x]), R(3, 2)),
    row("array-of-arrays-2d", lambda x: np.array([[2 * x, x + 1], [x, x]]), R(3, 2)),
    # functions autograd supports that NumPy users reach for
    row("nan_to_num", lambda x: np.sum(np.sin(np.nan_to_num(x + NON_FINITE))), R(4)),
    row("linspace-5", lambda a, b: np.linspace(a, b, 5), 1.2, 3.4),
    row("linspace-descending", lambda a, b: np.linspace(a, b, 5), 1.2, -3.4),
    row("linspace-equal-ends", lambda a, b: np.linspace(a, b, 5), 1.2, 1.2),
    row("linspace-1", lambda a, b: np.linspace(a, b, 1), 1.2, 3.4),
    row("linspace-0", lambda a, b: np.linspace(a, b, 0), 1.2, 3.4),
    row("diff", lambda x: np.diff(x, 2), R(6)),
    row("ediff1d", np.ediff1d, R(5)),
    row("gradient", np.gradient, R(5)),
    row("cumprod", lambda x: np.cumprod(x, axis=1), R(2, 3)),
    row("meshgrid-product", lambda x, y: np.prod(np.stack(np.meshgrid(x, y)), axis=0), R(3), R(4)),
    row("interp-in-y", lambda y: np.interp(onp.array([0.5, 1.5, 2.2]), onp.arange(4.0), y), R(4)),
    row("interp-wide-range", lambda y: np.interp(X_WIDE, XP10, y), R(10)),
    row("interp-int-edges", lambda y: np.interp(X_WIDE, XP10, y, left=-1, right=-1), R(10)),
    row("convolve", np.convolve, R(5), R(3)),
    row("correlate", lambda a, v: np.correlate(a, v, "full"), R(5), R(3)),
    row("polyval", np.polyval, R(3), R(4)),
    row("trapezoid", lambda y, x: np.trapezoid(y, x), R(5), onp.sort(R(5))),
    row("logspace", lambda a, b: np.logspace(a, b, 4), 0.1, 0.5),
    row("full", lambda v: np.full((2, 3), v), 1.3),
    row("nanmax", np.nanmax, onp.array([0.3, onp.nan, -1.0, 2.0])),
    row("copysign", np.copysign, R(3), R(3)),
    row("ldexp", lambda x: np.ldexp(x, 2), R(3)),
    row("diff-complex", np.diff, R(5) + 1j * R(5)),
    row("gradient-complex", np.gradient, R(5) + 1j * R(5)),
    row("linspace-complex", lambda v: np.linspace(v[0], v[1], 4), R(2) + 1j * R(2)),
    row("polyval-complex", lambda p: np.polyval(p, 0.3 + 0.1j), R(4) + 1j * R(4)),
    row("vander-complex", lambda v: np.vander(v, 3), R(3) + 1j * R(3)),
    row("quantile-traced-q", lambda v, q: np.quantile(v, q, axis=1), R(3, 5), 0.37),
    row("percentile-traced-q", lambda v, q: np.percentile(v, q), R(6), onp.array([10.0, 55.0])),
    row("cov-with-y-and-aweights", lambda x, y, w: np.cov(x, y, aweights=w), R(2, 5), R(5), P(5)),
    row("cov-fweights", lambda x: np.cov(x, fweights=onp.array([1, 2, 1, 3, 1])), R(2, 5)),
]


@pytest.mark.parametrize("r", NUMPY_ROWS, ids=[r.id for r in NUMPY_ROWS])
def test_numpy_function(r):
    check_grads(r.fun, modes=("fwd", "rev"), order=2)(*r.args)


# ---------------------------------------------------------------- ufuncs, as test_systematic

UNARY = [
    # name, domain (lo, hi), also checked on complex input
    ("sin", (-2, 2), True),
    ("abs", (0.1, 4), True),
    ("absolute", (0.1, 4), True),
    ("arccosh", (1.1, 4), True),
    ("arcsinh", (-0.9, 0.9), True),
    ("arctanh", (-0.9, 0.9), True),
    ("ceil", (-1.5, 1.5), False),
    ("floor", (-1.5, 1.5), False),
    ("cos", (-2, 2), True),
    ("cosh", (-2, 2), True),
    ("deg2rad", (-2, 2), False),
    ("degrees", (-2, 2), False),
    ("rad2deg", (-2, 2), False),
    ("radians", (-2, 2), False),
    ("exp", (-2, 2), True),
    ("exp2", (-2, 2), True),
    ("expm1", (-2, 2), True),
    ("fabs", (0.1, 2), False),
    ("log", (0.2, 2), True),
    ("log10", (0.2, 2), True),
    ("log1p", (0.2, 2), True),
    ("log2", (0.2, 2), True),
    ("sign", (0.1, 2), False),
    ("sinh", (-2, 2), True),
    ("sqrt", (1.0, 3.0), True),
    ("square", (-2, 2), False),
    ("tan", (-1.1, 1.1), True),
    ("tanh", (-2, 2), True),
    ("real", (-2, 2), True),
    ("real_if_close", (-2, 2), True),
    ("imag", (-2, 2), True),
    ("conj", (-2, 2), True),
    ("angle", (0.1, 2), True),
]


def _unary_cases():
    for name, (lo, hi), cplx in UNARY:
        yield pytest.param(name, U(lo, hi, 2, 3), id=f"{name}-real")
        if cplx:
            z = U(lo, hi, 2, 3) + 1j * U(lo, hi, 2, 3)
            yield pytest.param(name, z, id=f"{name}-complex")


@pytest.mark.parametrize("name, x", list(_unary_cases()))
def test_unary_ufunc(name, x):
    f = getattr(np, name)
    onp.testing.assert_allclose(f(x), getattr(onp, name)(x), rtol=1e-14)
    check_grads(f, modes=("fwd", "rev"), order=2)(x)
    # scaled, as autograd's scalar tests do: a Python float times the function
    check_grads(lambda v: 3.0 * f(v), modes=("rev",), order=2)(x)


SHAPES = [(), (6,), (7, 6), (1, 6)]

BINARY = [
    # name, function, domain of x, domain of y
    ("add", np.add, (-1, 1), (-1, 1)),
    ("logaddexp", np.logaddexp, (-1, 1), (-1, 1)),
    ("logaddexp2", np.logaddexp2, (-1, 1), (-1, 1)),
    ("remainder", np.remainder, (-0.9, 0.9), (0.7, 1.9)),
    ("true_divide", np.true_divide, (-1, 1), (0.3, 2.0)),
    ("true_divide-negative", np.true_divide, (-1, 1), (-2.0, -0.3)),
    ("mod", np.mod, (-0.7, 0.7), (0.8, 2.1)),
    ("mod-negative", np.mod, (-0.2, 0.2), (-2.0, -0.3)),
    ("op.mul", operator.mul, (-1, 1), (-1, 1)),
    ("op.add", operator.add, (-1, 1), (-1, 1)),
    ("op.sub", operator.sub, (-1, 1), (-1, 1)),
    ("op.mod", operator.mod, (-0.2, 0.2), (0.3, 2.0)),
    ("op.truediv", operator.truediv, (-1, 1), (0.5, 2.0)),
    ("op.pow", operator.pow, (0.7, 2.0), (-1, 1)),
    ("maximum", np.maximum, (-1, 1), (-1, 1)),
    ("minimum", np.minimum, (-1, 1), (-1, 1)),
]


def _sample(lim, shape):
    v = U(*lim, *shape)
    return float(v) if shape == () else v


def _binary_cases():
    for name, f, lx, ly in BINARY:
        for sx in SHAPES:
            for sy in SHAPES:
                sid = f"{name}-{'x'.join(map(str, sx)) or 'scalar'}-{'x'.join(map(str, sy)) or 'scalar'}"
                yield pytest.param(f, _sample(lx, sx), _sample(ly, sy), id=sid)


@pytest.mark.parametrize("f, x, y", list(_binary_cases()))
def test_binary_ufunc_broadcasting_matrix(f, x, y):
    check_grads(f, modes=("fwd", "rev"), order=2)(x, y)


# ---------------------------------------------------------------- values and dtypes


def test_new_functions_agree_with_numpy_on_plain_and_traced_input():
    x = onp.array([0.5, 1.5, -2.0, 3.0])
    calls = [
        (lambda v: np.linspace(v[0], v[1], 7), lambda v: onp.linspace(v[0], v[1], 7)),
        (lambda v: np.r_[v, 1.0, v], lambda v: onp.r_[v, 1.0, v]),
        (lambda v: np.c_[v, v], lambda v: onp.c_[v, v]),
        (lambda v: np.nan_to_num(v + NON_FINITE), lambda v: onp.nan_to_num(v + NON_FINITE)),
        (lambda v: np.append(v, v[:2]), lambda v: onp.append(v, v[:2])),
    ]
    for ours, numpys in calls:
        expected = numpys(x)
        onp.testing.assert_array_equal(ours(x), expected)
        # traced, the forward value is the same
        out, _ = jvp(ours, (x,), (onp.ones_like(x),))
        onp.testing.assert_array_equal(out, expected)


def test_integer_conversion_of_a_traced_value_is_a_constant():
    # autograd's test_cast_to_int: indices read from a traced array select rows.
    inds = onp.ones(5)[:, None]

    def fun(W):
        glued = np.concatenate((W, inds), axis=1)
        idx = np.int64(glued[:, -1])
        assert idx.dtype == onp.int64
        return W[:, :-1][idx].sum()

    check_grads(fun, modes=("fwd", "rev"), order=2)(R(5, 10))
    g = grad(fun)(R(5, 10))
    onp.testing.assert_allclose(g[1, :-1], 5.0)
    assert onp.count_nonzero(g) == 9


def test_astype_gradient_keeps_the_input_dtype():
    x = onp.arange(3, dtype="float32")
    assert grad(lambda v: np.sum(np.sin(v.astype("float64"))))(x).dtype == onp.float32


@pytest.mark.parametrize("dtype", [onp.float32, onp.float16])
def test_gradient_dtype_follows_the_input(dtype):
    y = R(4, 4).astype(dtype)
    assert grad(lambda v: np.sum(v**2))(y).dtype == dtype


def test_real_of_complex_input_has_a_complex_gradient():
    df = grad(lambda v: np.sum(np.real(v)))
    assert onp.isrealobj(df(2.0))
    assert onp.iscomplexobj(df(1.0j))
    onp.testing.assert_allclose(df(onp.array([1.0j, 2.0])), [1.0, 1.0])


def test_string_directives_with_traced_values_are_refused():
    with pytest.raises(ValueError, match=r"r_: string directives \('0,2'\).*np\.concatenate"):
        grad(lambda v: np.sum(np.r_["0,2", v, v]))(R(3))


def test_linspace_jacobian_is_the_interpolation_weights():
    from matdiff import jacobian

    J = jacobian(lambda ab: np.linspace(ab[0], ab[1], 5))(onp.array([1.0, 3.0]))
    t = onp.linspace(0.0, 1.0, 5)
    onp.testing.assert_allclose(J, onp.stack([1 - t, t], axis=1), atol=1e-15)


def test_interp_at_sample_points_takes_the_segment_to_the_right():
    xp, fp = onp.array([0.0, 1.0, 3.0]), onp.array([0.0, 2.0, 3.0])
    # slopes 2 on [0, 1) and 0.5 on [1, 3] (the last point keeps the last segment);
    # outside the samples the value is constant
    g = [float(grad(lambda x: np.interp(x, xp, fp))(x)) for x in (0.0, 1.0, 3.0, -1.0, 4.0)]
    assert g == [2.0, 0.5, 0.5, 0.0, 0.0]


def test_raw_integer_conversion_of_a_traced_value_is_a_constant():
    def f(x):
        k = onp.asarray(x, dtype=int)
        assert type(k) is onp.ndarray and k.dtype.kind == "i"
        return np.sum(x * k)

    onp.testing.assert_array_equal(grad(f)(onp.array([1.5, 2.5])), [1.0, 2.0])
    # a float conversion would drop the derivative, so it is still refused
    with pytest.raises(TypeError, match=r"converted to a plain NumPy array"):
        grad(lambda x: np.sum(onp.asarray(x, dtype=float)))(onp.ones(2))


@pytest.mark.parametrize("edges", [{}, {"left": -1, "right": -1}], ids=["default", "int-edges"])
def test_interp_values_are_numpys(edges):
    x, yp = onp.arange(-100.0, 100.0, 0.1), XP10**2
    onp.testing.assert_allclose(np.interp(x, XP10, yp, **edges), onp.interp(x, XP10, yp, **edges))
    out, _ = jvp(lambda y: np.interp(x, XP10, y, **edges), (yp,), (onp.ones(10),))
    onp.testing.assert_allclose(out, onp.interp(x, XP10, yp, **edges), rtol=1e-14)


def test_quantile_of_a_slice_with_nan_is_nan_without_derivative():
    x = onp.array([[1.0, onp.nan, 3.0], [1.0, 2.0, 4.0]])
    onp.testing.assert_array_equal(np.quantile(x, 0.5, axis=1), onp.quantile(x, 0.5, axis=1))
    g = grad(lambda v: np.nansum(np.quantile(v, 0.5, axis=1)))(x)
    onp.testing.assert_array_equal(g, [[0.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


# ---------------------------------------------------------------- raw NumPy calls

# autograd code sometimes calls plain numpy on a traced value; NumPy's dispatch protocol
# routes each of these to the matdiff function of the same name.
RAW_ROUTED = [
    ("diff", lambda x: onp.diff(x, 2)),
    ("ediff1d", lambda x: onp.ediff1d(x, to_end=1.0)),
    ("gradient", lambda x: onp.gradient(x, 0.5)),
    ("linspace", lambda x: onp.linspace(x[0], x[1], 4)),
    ("interp", lambda x: onp.interp([0.5, 1.5], [0.0, 1.0, 2.0, 3.0, 4.0], x)),
    ("nan_to_num", lambda x: onp.nan_to_num(x + NON_FINITE[[0, 1, 2, 3, 0]])),
    ("append", lambda x: onp.append(x, 1.0)),
    ("convolve", lambda x: onp.convolve(x, [1.0, 2.0])),
    ("correlate", lambda x: onp.correlate(x, x, "full")),
    ("cov", lambda x: onp.cov(x)),
    ("corrcoef", lambda x: onp.corrcoef(x, x**2)),
    ("quantile", lambda x: onp.quantile(x, 0.3)),
    ("percentile", lambda x: onp.percentile(x, [30.0, 80.0])),
    ("trapezoid", lambda x: onp.trapezoid(x)),
    ("meshgrid", lambda x: onp.meshgrid(x, x[:2])[1]),
    ("polyval", lambda x: onp.polyval(x, 0.5)),
    ("rollaxis", lambda x: onp.rollaxis(x.reshape(5, 1), 1)),
    ("resize", lambda x: onp.resize(x, (3, 3))),
    ("compress", lambda x: onp.compress([1, 0, 1], x)),
    ("nanmax", lambda x: onp.nanmax(x)),
    ("nancumsum", lambda x: onp.nancumsum(x)),
    ("cumulative_sum", lambda x: onp.cumulative_sum(x, include_initial=True)),
    ("copysign", lambda x: onp.copysign(x, -1.0)),
    ("ldexp", lambda x: onp.ldexp(x, 3)),
    ("logspace", lambda x: onp.logspace(x[0], x[1], 3)),
]


@pytest.mark.parametrize("f", [f for _, f in RAW_ROUTED], ids=[n for n, _ in RAW_ROUTED])
def test_raw_numpy_call_reaches_matdiff(f):
    check_grads(f, modes=("fwd", "rev"), order=2)(R(5))


# ---------------------------------------------------------------- dtypes follow NumPy's

F32 = R(5).astype(onp.float32)

DTYPE_ROWS = [
    ("linspace", lambda m, x: m.linspace(x[0], x[1], 4)),
    ("linspace-python-start", lambda m, x: m.linspace(1.0, x[1], 4)),
    ("logspace", lambda m, x: m.logspace(x[0], x[1], 3)),
    ("geomspace", lambda m, x: m.geomspace(m.exp(x[0]), m.exp(x[1]), 3)),
    ("geomspace-dtype", lambda m, x: m.geomspace(m.exp(x[0]), 2.0, 3, dtype=onp.float32)),
    ("interp", lambda m, x: m.interp(onp.float32([0.5, 2.5]), onp.arange(5, dtype="f4"), x)),
    ("cov", lambda m, x: m.cov(x)),
    ("corrcoef", lambda m, x: m.corrcoef(x, x * 2)),
    ("quantile", lambda m, x: m.quantile(x, 0.3)),
    ("quantile-array-q", lambda m, x: m.quantile(x, onp.array([0.3, 0.6]))),
    ("percentile", lambda m, x: m.percentile(x, 30.0)),
    ("diff", lambda m, x: m.diff(x)),
    ("gradient", lambda m, x: m.gradient(x, edge_order=2)),
    ("convolve", lambda m, x: m.convolve(x, x[:2])),
    ("trapezoid", lambda m, x: m.trapezoid(x)),
    ("nan_to_num", lambda m, x: m.nan_to_num(x)),
    ("vander", lambda m, x: m.vander(x)),
    ("power-of-python-base", lambda m, x: 2.0**x),
]


@pytest.mark.parametrize("f", [f for _, f in DTYPE_ROWS], ids=[n for n, _ in DTYPE_ROWS])
def test_value_and_tangent_dtypes_are_numpys(f):
    expected = f(onp, F32)
    out, tangent = jvp(lambda x: f(np, x), (F32,), (F32,))
    assert onp.result_type(out) == expected.dtype
    assert onp.result_type(tangent) == expected.dtype
    onp.testing.assert_allclose(out, expected, rtol=1e-6)
