"""Elementwise functions: every rule checked by check_grads, both modes, to order 2.

One table drives the tests (as JAX's LAX_GRAD_OPS): each row names the function, the
generators of its arguments (which carry the function's domain) and the shapes, chosen
to exercise broadcasting: scalar with matrix, row (1, n) with column (m, 1), (3,) with
(2, 3). Complex rows cover the holomorphic functions and the real-valued functions of a
complex variable (abs, real, imag, angle), whose convention is also checked directly
against autograd below.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import autograd
import autograd.numpy as anp
import numpy as onp
import pytest

import matdiff.numpy as np
from matdiff import grad
from matdiff.test_util import check_grads

# ---------------------------------------------------------------- argument generators


def real(rng, shape):
    return rng.standard_normal(shape)


def pos(rng, shape):
    return rng.uniform(0.5, 2.0, shape)


def unit(rng, shape):
    """Inside (-1, 1), the domain of arcsin, arccos and arctanh."""
    return rng.uniform(-0.9, 0.9, shape)


def gt1(rng, shape):
    """Above 1, the domain of arccosh."""
    return rng.uniform(1.1, 3.0, shape)


def nonzero(rng, shape):
    """Away from 0, where abs, sign and 1/x have their kink or pole."""
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.5, 2.0, shape)


def dividend(rng, shape):
    """With ``divisor``, keeps x / y inside (-1, 1) and away from 0: mod's jumps are far."""
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.3, 2.3, shape)


def divisor(rng, shape):
    return rng.uniform(2.5, 3.0, shape)


def cplx(rng, shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def cplx_small(rng, shape):
    """Complex values of modulus < 0.9: inside the unit disc, off every branch cut."""
    r = rng.uniform(0.1, 0.8, shape)
    t = rng.uniform(-3.0, 3.0, shape)
    return r * onp.exp(1j * t)


def cplx_right(rng, shape):
    """Complex values with real part > 1.5: off the branch cuts of arccosh, log and sqrt."""
    return rng.uniform(1.5, 3.0, shape) + 1j * rng.uniform(-1.0, 1.0, shape)


# ---------------------------------------------------------------- the table


class Op(NamedTuple):
    name: str
    fun: Callable
    gens: tuple
    shapes: tuple


UNARY_SHAPES = ((), (3,), (2, 3))
BINARY_SHAPES = (((), (2, 3)), ((2, 3), ()), ((1, 3), (2, 1)), ((3,), (2, 3)))
COMPLEX_SHAPES = ((), (3,))


def unary(name, gen, shapes=UNARY_SHAPES):
    return Op(name, getattr(np, name), (gen,), tuple((s,) for s in shapes))


def binary(name, gen_x, gen_y, shapes=BINARY_SHAPES):
    return Op(name, getattr(np, name), (gen_x, gen_y), shapes)


def op(name, fun, gens, shapes):
    """A row for any function; a one-argument function takes a plain list of shapes."""
    if len(gens) == 1:
        shapes = tuple((s,) for s in shapes)
    return Op(name, fun, gens, shapes)


OPS = [
    # arithmetic
    binary("add", real, real),
    binary("subtract", real, real),
    binary("multiply", real, real),
    binary("divide", real, nonzero),
    binary("true_divide", real, nonzero),
    unary("negative", real),
    unary("positive", real),
    unary("reciprocal", nonzero),
    binary("power", pos, real),
    binary("float_power", pos, real),
    op("power_int_exponent", lambda x: np.power(x, 3), (real,), ((3,),)),
    op("power_negative_base_square", lambda x: x**2, (real,), ((2, 3),)),
    op("power_constant_base", lambda y: np.power(2.5, y), (real,), ((3,),)),
    unary("square", real),
    unary("sqrt", pos),
    unary("cbrt", nonzero),
    binary("mod", dividend, divisor),
    binary("remainder", dividend, divisor),
    binary("fmod", dividend, divisor),
    # exponentials and logarithms
    unary("exp", real),
    unary("exp2", real),
    unary("expm1", real),
    unary("log", pos),
    unary("log2", pos),
    unary("log10", pos),
    unary("log1p", pos),
    binary("logaddexp", real, real),
    binary("logaddexp2", real, real),
    # trigonometric and hyperbolic
    unary("sin", real),
    unary("cos", real),
    unary("tan", unit),
    unary("arcsin", unit),
    unary("arccos", unit),
    unary("arctan", real),
    unary("sinh", real),
    unary("cosh", real),
    unary("tanh", real),
    unary("arcsinh", real),
    unary("arccosh", gt1),
    unary("arctanh", unit),
    binary("hypot", nonzero, nonzero),
    binary("arctan2", nonzero, nonzero),
    unary("sinc", real),
    unary("deg2rad", real),
    unary("radians", real),
    unary("rad2deg", real),
    unary("degrees", real),
    # kinks, away from them (the kinks themselves are in test_numpy_kinks.py)
    unary("abs", nonzero),
    unary("absolute", nonzero),
    unary("fabs", nonzero),
    unary("sign", nonzero),
    binary("maximum", real, real),
    binary("minimum", real, real),
    binary("fmax", real, real),
    binary("fmin", real, real),
    op("clip", lambda x: np.clip(x, -0.5, 0.5), (real,), ((2, 3),)),
    op("clip", np.clip, (real, real, real), (((2, 3), (), (3,)), ((3,), (2, 1), (1, 3)))),
    op("clip_keywords", lambda x, lo: np.clip(x, a_min=lo), (real, real), (((2, 3), (3,)),)),
    op("clip_upper_only", lambda x, hi: np.clip(x, None, hi), (real, real), (((2, 3), ()),)),
    op(
        "where",
        lambda x, y: np.where(onp.array([True, False, True]), x, y),
        (real, real),
        (((2, 3), ()), ((3,), (2, 1))),
    ),
    unary("real", real),
    unary("imag", real),
    unary("conj", real),
    unary("conjugate", real),
    unary("angle", nonzero),
    binary("copysign", nonzero, nonzero),
    op("ldexp", lambda x: np.ldexp(x, onp.array([-1, 0, 3])), (real,), ((3,), (2, 3))),
    op("nan_to_num", lambda x: np.nan_to_num(x + NON_FINITE), (real,), ((4,), (2, 4))),
    op(
        "nan_to_num_fills",
        lambda x: np.nan_to_num(x * 1.0 + NON_FINITE, nan=-1.0, posinf=9.0, neginf=-9.0),
        (real,),
        ((4,),),
    ),
    unary("real_if_close", real),
]

# NaN and both infinities, where nan_to_num replaces entries by constants.
NON_FINITE = onp.array([0.0, onp.nan, onp.inf, -onp.inf])
NON_FINITE_IMAG = onp.array([complex(0.0, v) for v in NON_FINITE])

COMPLEX_OPS = [
    binary("add", cplx, cplx, (((), (3,)), ((3,), ()))),
    binary("subtract", cplx, real, (((3,), (3,)),)),
    binary("multiply", cplx, cplx, (((), (3,)), ((3,), ()))),
    binary("multiply", real, cplx, (((3,), (3,)),)),
    binary("divide", cplx, cplx_right, (((3,), ()),)),
    binary("power", cplx_right, cplx_small, (((3,), (3,)),)),
    op("power_int_exponent", lambda z: z**3, (cplx,), ((3,),)),
    unary("negative", cplx, COMPLEX_SHAPES),
    unary("reciprocal", cplx_right, COMPLEX_SHAPES),
    unary("square", cplx, COMPLEX_SHAPES),
    unary("sqrt", cplx_right, COMPLEX_SHAPES),
    unary("exp", cplx, COMPLEX_SHAPES),
    unary("exp2", cplx, COMPLEX_SHAPES),
    unary("expm1", cplx, COMPLEX_SHAPES),
    unary("log", cplx_right, COMPLEX_SHAPES),
    unary("log2", cplx_right, COMPLEX_SHAPES),
    unary("log10", cplx_right, COMPLEX_SHAPES),
    unary("log1p", cplx_right, COMPLEX_SHAPES),
    unary("sin", cplx, COMPLEX_SHAPES),
    unary("cos", cplx, COMPLEX_SHAPES),
    unary("tan", cplx_small, COMPLEX_SHAPES),
    unary("arcsin", cplx_small, COMPLEX_SHAPES),
    unary("arccos", cplx_small, COMPLEX_SHAPES),
    unary("arctan", cplx_small, COMPLEX_SHAPES),
    unary("sinh", cplx, COMPLEX_SHAPES),
    unary("cosh", cplx, COMPLEX_SHAPES),
    unary("tanh", cplx_small, COMPLEX_SHAPES),
    unary("arcsinh", cplx_small, COMPLEX_SHAPES),
    unary("arccosh", cplx_right, COMPLEX_SHAPES),
    unary("arctanh", cplx_small, COMPLEX_SHAPES),
    # not holomorphic: real-valued functions of z, and conj
    unary("abs", cplx, COMPLEX_SHAPES),
    unary("absolute", cplx, COMPLEX_SHAPES),
    unary("real", cplx, COMPLEX_SHAPES),
    unary("imag", cplx, COMPLEX_SHAPES),
    unary("angle", cplx, COMPLEX_SHAPES),
    unary("conj", cplx, COMPLEX_SHAPES),
    unary("sign", cplx, COMPLEX_SHAPES),
    op("abs_squared", lambda z: np.abs(z) ** 2, (cplx,), ((3,),)),
    unary("real_if_close", cplx, COMPLEX_SHAPES),
    op("real_if_close_drops_tiny_imag", lambda x: np.real_if_close(x + 1e-20j), (real,), ((3,),)),
    op("nan_to_num", lambda z: np.nan_to_num(z + NON_FINITE_IMAG), (cplx,), ((4,),)),
]


def _cases(ops, tag):
    for k, o in enumerate(ops):
        for shapes in o.shapes:
            sid = "-".join("x".join(map(str, s)) or "scalar" for s in shapes)
            yield pytest.param(o, shapes, k, id=f"{tag}{o.name}-{sid}")


def _args(o, shapes, k):
    rng = onp.random.default_rng(1000 + k)
    return [gen(rng, shape) for gen, shape in zip(o.gens, shapes)]


@pytest.mark.parametrize("o, shapes, k", list(_cases(OPS, "")))
def test_grads(o, shapes, k):
    check_grads(o.fun, modes=("fwd", "rev"), order=2)(*_args(o, shapes, k))


@pytest.mark.parametrize("o, shapes, k", list(_cases(COMPLEX_OPS, "complex-")))
def test_complex_grads(o, shapes, k):
    check_grads(o.fun, modes=("fwd", "rev"), order=2)(*_args(o, shapes, k))


def test_every_argument_is_differentiated():
    # Each binary row differentiates both arguments: check_grads perturbs all of them,
    # and a cotangent with the wrong shape (a missed unbroadcast) would fail here.
    x, y = onp.ones((1, 3)), onp.ones((2, 1))
    from matdiff import vjp

    out, f_vjp = vjp(np.multiply, x, y)
    gx, gy = f_vjp(onp.ones(out.shape))
    assert gx.shape == (1, 3) and gy.shape == (2, 1)
    onp.testing.assert_allclose(gx, [[2.0, 2.0, 2.0]])
    onp.testing.assert_allclose(gy, [[3.0], [3.0]])


# ---------------------------------------------------------------- the complex convention

Z = onp.array([1.0 + 2.0j, -0.5 + 0.3j, 2.0 - 1.0j])


@pytest.mark.parametrize(
    "name, f_ours, f_autograd",
    [
        ("abs_squared", lambda z: np.sum(np.abs(z) ** 2), lambda z: anp.sum(anp.abs(z) ** 2)),
        ("abs", lambda z: np.sum(np.abs(z)), lambda z: anp.sum(anp.abs(z))),
        ("real", lambda z: np.sum(np.real(z)), lambda z: anp.sum(anp.real(z))),
        ("imag", lambda z: np.sum(np.imag(z)), lambda z: anp.sum(anp.imag(z))),
        ("angle", lambda z: np.sum(np.angle(z)), lambda z: anp.sum(anp.angle(z))),
        (
            "real_of_conj_product",
            lambda z: np.real(np.sum(np.conj(z) * np.sin(z))),
            lambda z: anp.real(anp.sum(anp.conj(z) * anp.sin(z))),
        ),
    ],
)
def test_complex_convention_matches_autograd(name, f_ours, f_autograd):
    onp.testing.assert_allclose(grad(f_ours)(Z), autograd.grad(f_autograd)(Z), rtol=1e-12)


def test_grad_of_squared_modulus_is_twice_conjugate():
    onp.testing.assert_allclose(grad(lambda z: np.sum(np.abs(z) ** 2))(Z), 2 * onp.conj(Z))
    onp.testing.assert_allclose(grad(lambda z: np.sum(np.real(z * np.conj(z))))(Z), 2 * onp.conj(Z))


def test_real_input_keeps_real_cotangent():
    g = grad(lambda x: np.real(np.sum(x * (1.0 + 2.0j))))(onp.array([1.0, 2.0]))
    assert g.dtype == onp.float64
    onp.testing.assert_allclose(g, [1.0, 1.0])


# ---------------------------------------------------------------- dtypes and errors


def test_float32_stays_float32():
    x = onp.array([0.5, 1.5], dtype=onp.float32)
    for f in (np.exp2, np.log2, np.log10, np.sin, lambda v: np.maximum(v, 1.0), np.abs):
        g = grad(lambda v, f=f: np.sum(f(v)))(x)
        assert g.dtype == onp.float32, f


def test_where_needs_both_branches():
    with pytest.raises(ValueError, match=r"where: pass both x and y, or neither"):
        np.where(onp.array([True]), onp.array([1.0]))


def test_where_with_one_argument_is_nonzero():
    x = onp.array([0.0, 2.0, 0.0, 3.0])
    out = grad(lambda v: np.sum(v[np.where(v > 1.0)]))(x)
    onp.testing.assert_allclose(out, [0.0, 1.0, 0.0, 1.0])


@pytest.mark.parametrize(
    "name, gen",
    [("power", pos), ("sinc", real), ("logaddexp", real), ("arccosh", gt1), ("tan", unit)],
)
def test_third_order(name, gen):
    f = getattr(np, name)
    rng = onp.random.default_rng(11)
    args = [gen(rng, (3,)) for _ in range(2 if name in ("power", "logaddexp") else 1)]
    check_grads(f, modes=("fwd", "rev"), order=3)(*args)
