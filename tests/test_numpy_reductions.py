"""Reductions and scans: every rule checked by check_grads, both modes, to order 2.

One table: each row is a reduction with its keyword arguments (axis as int, negative
int, tuple and None; keepdims; ddof) and the shapes and argument generator it runs on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as onp
import pytest

import matdiff.numpy as np
from matdiff import grad, jvp
from matdiff.test_util import check_grads


def real(rng, shape):
    return rng.standard_normal(shape)


def pos(rng, shape):
    return rng.uniform(0.5, 2.0, shape)


def with_nans(rng, shape):
    x = rng.standard_normal(shape)
    x.flat[::7] = onp.nan  # on NAN_SHAPE: at most one NaN in any slice the tests reduce
    return x


def with_zeros(rng, shape):
    """Entries of 0 (one, or several, per reduced slice): prod must not divide by x."""
    x = rng.standard_normal(shape)
    x.flat[::3] = 0.0
    return x


def cplx(rng, shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


class Red(NamedTuple):
    name: str
    kwargs: dict
    shape: tuple
    gen: Callable


AXES = [
    {},
    {"axis": 0},
    {"axis": -1},
    {"axis": (0, 2)},
    {"axis": 1, "keepdims": True},
    {"axis": None, "keepdims": True},
    {"axis": (-1, 0), "keepdims": True},
]
SCAN_AXES = [{}, {"axis": 0}, {"axis": -1}, {"axis": 1}]
SHAPE = (2, 3, 4)
NAN_SHAPE = (3, 4, 5)


def rows(name, variants=AXES, shape=SHAPE, gen=real, **extra):
    return [Red(name, {**v, **extra}, shape, gen) for v in variants]


REDUCTIONS = [
    *rows("sum"),
    *rows("mean"),
    *rows("prod"),
    *rows("prod", [{}, {"axis": 1}, {"axis": (0, 2)}], gen=with_zeros),
    *rows("max"),
    *rows("min"),
    *rows("amax", [{"axis": 1}]),
    *rows("amin", [{"axis": (0, 1)}]),
    *rows("ptp"),
    *rows("var"),
    *rows("var", [{"axis": 1}, {}], ddof=1),
    *rows("std"),
    *rows("std", [{"axis": -1, "keepdims": True}], ddof=1),
    *rows("median"),
    *rows("median", [{"axis": 1}], shape=(2, 5, 3)),
    *rows("nansum", shape=NAN_SHAPE, gen=with_nans),
    *rows("nanmean", shape=NAN_SHAPE, gen=with_nans),
    *rows("nanvar", shape=NAN_SHAPE, gen=with_nans),
    *rows("nanvar", [{"axis": 2}], shape=NAN_SHAPE, gen=with_nans, ddof=1),
    *rows("nanstd", shape=NAN_SHAPE, gen=with_nans),
    *rows("nansum", [{"axis": 1}]),
    *rows("cumsum", SCAN_AXES),
    *rows("cumprod", SCAN_AXES),
    *rows("cumprod", SCAN_AXES, gen=with_zeros),
    *rows("average", [{}, {"axis": 1}, {"axis": (0, 2), "keepdims": True}]),
    *rows("nanmax", shape=NAN_SHAPE, gen=with_nans),
    *rows("nanmin", shape=NAN_SHAPE, gen=with_nans),
    *rows("nanprod", shape=NAN_SHAPE, gen=with_nans),
    *rows("nancumsum", SCAN_AXES, shape=NAN_SHAPE, gen=with_nans),
    *rows("nancumprod", SCAN_AXES, shape=NAN_SHAPE, gen=with_nans),
    *rows("cumulative_sum", [{"axis": 0}, {"axis": -1}, {"axis": 1, "include_initial": True}]),
    *rows("cumulative_prod", [{"axis": 2}, {"axis": 0, "include_initial": True}]),
    *rows("cumulative_sum", [{}, {"include_initial": True}], shape=(5,)),
    *rows("trapezoid", [{}, {"axis": 0}, {"axis": 1, "dx": 0.5}]),
    *rows("trapezoid", [{}], shape=(5,)),
    *rows("quantile", [{"q": 0.3}, {"q": 0.3, "axis": 1}, {"q": 0.5, "axis": (0, 2)}]),
    *rows("quantile", [{"q": [0.1, 0.9], "axis": -1, "keepdims": True}, {"q": [[0.0, 1.0]]}]),
    *rows("percentile", [{"q": 40.0, "axis": 0}, {"q": [25.0, 75.0], "keepdims": True}]),
    *rows("cov", [{}, {"rowvar": False}, {"ddof": 0}, {"bias": True}], shape=(3, 5)),
    *rows("cov", [{}], shape=(5,)),
    *rows("corrcoef", [{}, {"rowvar": False}], shape=(3, 5)),
    # scalars and vectors
    *rows("sum", [{}], shape=()),
    *rows("prod", [{}], shape=()),
    *rows("max", [{}], shape=()),
    *rows("prod", [{}, {"axis": 0, "keepdims": True}], shape=(5,), gen=with_zeros),
    *rows("cumprod", [{}], shape=(1,)),
    *rows("cumprod", [{}], shape=(7,)),
]

COMPLEX_REDUCTIONS = [
    *rows("sum", [{"axis": 1}], gen=cplx),
    *rows("mean", [{}], gen=cplx),
    *rows("prod", [{"axis": -1}], gen=cplx),
    *rows("cumsum", [{"axis": 0}], gen=cplx),
    *rows("cumprod", [{"axis": 2}], gen=cplx),
    *rows("var", [{"axis": 1}, {"ddof": 1}], gen=cplx),
    *rows("std", [{"axis": 0}], gen=cplx),
    *rows("cov", [{}, {"rowvar": False}], shape=(2, 4), gen=cplx),
    *rows("corrcoef", [{}], shape=(2, 4), gen=cplx),
    *rows("trapezoid", [{"axis": 1}], gen=cplx),
    *rows("cumulative_sum", [{"axis": 0, "include_initial": True}], gen=cplx),
]


def _cases(table, tag):
    for k, r in enumerate(table):
        kw = ",".join(f"{a}={v}" for a, v in r.kwargs.items()) or "default"
        shape = "x".join(map(str, r.shape)) or "scalar"
        yield pytest.param(r, k, id=f"{tag}{r.name}-{shape}-{kw}-{r.gen.__name__}")


def _fun(r):
    f = getattr(np, r.name)
    return lambda x: f(x, **r.kwargs)


@pytest.mark.parametrize("r, k", list(_cases(REDUCTIONS, "")))
def test_grads(r, k):
    x = r.gen(onp.random.default_rng(2000 + k), r.shape)
    check_grads(_fun(r), modes=("fwd", "rev"), order=2)(x)


@pytest.mark.parametrize("r, k", list(_cases(COMPLEX_REDUCTIONS, "complex-")))
def test_complex_grads(r, k):
    x = r.gen(onp.random.default_rng(3000 + k), r.shape)
    check_grads(_fun(r), modes=("fwd", "rev"), order=2)(x)


@pytest.mark.parametrize("r, k", list(_cases(REDUCTIONS, "")))
def test_value_is_numpys(r, k):
    x = r.gen(onp.random.default_rng(2000 + k), r.shape)
    expected = getattr(onp, r.name)(x, **r.kwargs)
    onp.testing.assert_allclose(_fun(r)(x), expected, rtol=1e-13, atol=1e-15)
    # and under tracing too: the forward value is NumPy's, not a re-derivation
    out, _ = jvp(_fun(r), (x,), (onp.ones_like(x),))
    onp.testing.assert_allclose(out, expected, rtol=1e-13, atol=1e-15)


# ---------------------------------------------------------------- average's weights

A = onp.random.default_rng(5).standard_normal((3, 4))


@pytest.mark.parametrize(
    "kwargs, w_shape",
    [({}, (3, 4)), ({"axis": 1}, (4,)), ({"axis": -2}, (3,)), ({"axis": 0}, (3, 4))],
)
def test_average_weights_differentiable(kwargs, w_shape):
    w = onp.random.default_rng(6).uniform(0.5, 2.0, w_shape)
    check_grads(lambda a, w: np.average(a, weights=w, **kwargs), order=2)(A, w)
    onp.testing.assert_allclose(
        np.average(A, weights=w, **kwargs), onp.average(A, weights=w, **kwargs)
    )


def test_average_returned():
    w = onp.array([1.0, 2.0, 3.0, 4.0])
    avg, scl = np.average(A, axis=1, weights=w, returned=True)
    e_avg, e_scl = onp.average(A, axis=1, weights=w, returned=True)
    onp.testing.assert_allclose(avg, e_avg)
    onp.testing.assert_allclose(scl, e_scl)
    check_grads(lambda a, w: np.average(a, axis=1, weights=w, returned=True)[0] * 2.0)(A, w)
    avg, scl = np.average(A, axis=0, returned=True)
    onp.testing.assert_allclose(scl, [3.0] * 4)


# ---------------------------------------------------------------- errors


def test_average_weights_shape_without_axis():
    with pytest.raises(TypeError, match=r"average: a has shape \(3, 4\) and weights \(4,\).*axis="):
        np.average(A, weights=onp.ones(4))


def test_average_weights_length():
    with pytest.raises(ValueError, match=r"average: weights has length 3 but a has 4 entries"):
        np.average(A, axis=1, weights=onp.ones(3))


def test_average_weights_not_1d():
    with pytest.raises(TypeError, match=r"average: weights of shape \(2, 2\).*must be 1-D"):
        np.average(A, axis=1, weights=onp.ones((2, 2)))


def test_average_weights_sum_to_zero():
    with pytest.raises(ZeroDivisionError, match=r"average: the weights sum to zero"):
        np.average(A, axis=1, weights=onp.array([1.0, -1.0, 2.0, -2.0]))


@pytest.mark.parametrize("name", ["mean", "max", "var", "std", "cumsum", "prod"])
def test_out_is_refused(name):
    f = getattr(np, name)
    with pytest.raises(TypeError, match=rf"{name}: out= is not supported.*use the returned value"):
        grad(lambda x: f(x, out=onp.zeros(3)))(onp.ones(3))


# ---------------------------------------------------------------- methods and raw NumPy


def test_array_methods_reach_these_rules():
    x = onp.array([[1.0, 4.0, 2.0], [3.0, -1.0, 5.0]])
    check_grads(lambda v: v.prod(axis=1) + v.max(axis=1) + v.std(axis=1, ddof=1), order=2)(x)
    check_grads(lambda v: v.cumsum(axis=0) * v.var(axis=0, keepdims=True), order=2)(x)


def test_raw_numpy_reductions_route_to_ours():
    # numpy.sum(traced) reaches __array_function__ and must differentiate, not fail or
    # silently drop the derivative.
    x = onp.array([[1.0, 4.0, 2.0], [3.0, -1.0, 5.0]])
    g = grad(lambda v: onp.sum(onp.max(v, axis=0) * onp.mean(v, axis=1, keepdims=True)))(x)
    expected = grad(lambda v: np.sum(np.max(v, axis=0) * np.mean(v, axis=1, keepdims=True)))(x)
    onp.testing.assert_allclose(g, expected)
    check_grads(lambda v: onp.prod(v, axis=1) + onp.median(v, axis=1), order=2)(x)


@pytest.mark.parametrize(
    "name, kwargs",
    [("max", {"initial": 0.0}), ("sum", {"where": True}), ("sum", {"initial": 0.0})],
)
def test_unsupported_keywords_name_the_function(name, kwargs):
    f = getattr(np, name)
    key = next(iter(kwargs))
    with pytest.raises(
        TypeError, match=rf"matdiff\.numpy\.{name}\(\) got an unexpected keyword argument '{key}'"
    ):
        grad(lambda x: f(x, **kwargs))(onp.ones(3))


# Each reduction that takes dtype=, cast to complex: the cast is linear, so a real input's
# gradient is real (check_grads cannot see this: it pairs by the real part).
COMPLEX_DTYPE_REDUCTIONS = {
    "sum": lambda x: np.sum(x, axis=0, dtype=complex),
    "mean": lambda x: np.mean(x, axis=0, dtype=complex),
    "nansum": lambda x: np.nansum(x, axis=0, dtype=complex),
    "nanmean": lambda x: np.nanmean(x, axis=0, dtype=complex),
    "var": lambda x: np.var(x, axis=0, dtype=complex),
    "nanvar": lambda x: np.nanvar(x, axis=0, dtype=complex),
    "std": lambda x: np.std(x, axis=0, dtype=complex),
    "prod": lambda x: np.prod(x, axis=0, dtype=complex),
    "cumsum": lambda x: np.cumsum(x, axis=0, dtype=complex),
    "cumprod": lambda x: np.cumprod(x, axis=0, dtype=complex),
    "cumulative_sum": lambda x: np.cumulative_sum(x, axis=0, dtype=complex),
    "positional_dtype": lambda x: np.sum(x, 0, complex),
}


@pytest.mark.parametrize("name", list(COMPLEX_DTYPE_REDUCTIONS))
def test_a_complex_dtype_gives_a_real_input_a_real_gradient(name):
    f = COMPLEX_DTYPE_REDUCTIONS[name]
    x = onp.array([[1.0, 2.0], [0.5, 3.0]])
    z = onp.array([1j, 2.0])
    g = grad(lambda x: np.sum(np.abs(f(x) * z) ** 2))(x)
    assert g.dtype == onp.float64
    check_grads(lambda x: f(x) * z, order=2)(x)
