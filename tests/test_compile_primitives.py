"""Every primitive again, through ``jit``: compiled values and gradients agree with eager.

Each op is checked at two input points with one compilation, so a value frozen at its
example (a mask, a sign) would show at the second point. The optimized program of each
is checked with ``check_grads`` in both modes to order 2: running a compiled program is
differentiable.
"""

from __future__ import annotations

import numpy as onp
import pytest

import matdiff.numpy as np
from matdiff import grad
from matdiff.compile import eval_program, jit
from matdiff.numpy._wrap import all_wrapped
from matdiff.test_util import check_grads


class A:
    """An input spec: shape, and the domain its values come from."""

    def __init__(self, *shape, pos=False, kind="f"):
        self.shape = shape
        self.pos = pos
        self.kind = kind

    def make(self, rng):
        if self.kind == "i":
            return rng.integers(0, 3, self.shape)
        if self.kind == "b":
            return rng.standard_normal(self.shape) > 0
        x = rng.standard_normal(self.shape)
        if self.pos:
            x = onp.abs(x) + 0.5
        return x if self.shape else float(x)


class Op:
    def __init__(self, name, fn, *specs, needs=None):
        self.name = name
        self.fn = fn
        self.specs = specs
        self.needs = needs or [name]

    def __repr__(self):
        return self.name


def _wrapped(name):
    return name in all_wrapped


OPS = [
    # elementwise unary
    Op("sin", lambda x: np.sin(x), A(3, 2)),
    Op("cos", lambda x: np.cos(x), A(4)),
    Op("tan", lambda x: np.tan(x), A(4)),
    Op("exp", lambda x: np.exp(x), A(2, 3)),
    Op("log", lambda x: np.log(x), A(3, pos=True)),
    Op("tanh", lambda x: np.tanh(x), A(3, 2)),
    Op("sqrt", lambda x: np.sqrt(x), A(4, pos=True)),
    Op("square", lambda x: np.square(x), A(4)),
    Op("negative", lambda x: -x, A(3), needs=["negative"]),
    Op("absolute", lambda x: np.abs(x), A(5)),
    Op("scalar-input", lambda x: np.sin(x) * x, A(), needs=["sin", "multiply"]),
    # binary, with broadcasting
    Op("add", lambda x, y: x + y, A(3), A(3)),
    Op("add-row-col", lambda x, y: x + y, A(1, 3), A(2, 1), needs=["add"]),
    Op("subtract", lambda x, y: x - y, A(2, 3), A(3)),
    Op("multiply", lambda x, y: x * y, A(3, 2), A(3, 2)),
    Op("multiply-scalar-matrix", lambda x, y: x * y, A(), A(2, 2), needs=["multiply"]),
    Op("divide", lambda x, y: x / y, A(3), A(3, pos=True)),
    Op("divide-col-row", lambda x, y: x / y, A(2, 1), A(1, 3, pos=True), needs=["divide"]),
    Op("power", lambda x, y: x**y, A(3, pos=True), A(3)),
    Op("power-int", lambda x: x**3, A(2, 2), needs=["power"]),
    Op("maximum", lambda x, y: np.maximum(x, y), A(4), A(4)),
    Op("minimum", lambda x, y: np.minimum(x, y), A(2, 3), A(3)),
    Op("maximum-const", lambda x: np.maximum(x, 0.0), A(6), needs=["maximum"]),
    Op("where", lambda x, y: np.where(x > 0, x, y), A(5), A(5), needs=["where", "greater"]),
    Op("where-scalar", lambda x: np.where(x < 0.1, 0.5 * x, x**2), A(3, 2), needs=["where"]),
    # reductions
    Op("sum", lambda x: np.sum(x), A(3, 4)),
    Op("sum-axis0", lambda x: np.sum(x, axis=0), A(3, 4), needs=["sum"]),
    Op("sum-neg-axis", lambda x: np.sum(x, axis=-1, keepdims=True), A(3, 4), needs=["sum"]),
    Op("sum-tuple-axis", lambda x: np.sum(x, axis=(0, 2)), A(2, 3, 2), needs=["sum"]),
    Op("mean", lambda x: np.mean(x, axis=1), A(3, 4)),
    Op("mean-keepdims", lambda x: np.mean(x, axis=-2, keepdims=True), A(3, 4), needs=["mean"]),
    Op("max", lambda x: np.max(x, axis=1), A(3, 4)),
    Op("min", lambda x: np.min(x), A(5)),
    Op("prod", lambda x: np.prod(x, axis=0), A(3, 2)),
    Op("var", lambda x: np.var(x, axis=0), A(4, 2)),
    Op("std", lambda x: np.std(x), A(5)),
    Op("cumsum", lambda x: np.cumsum(x, axis=0), A(4, 2)),
    # products
    Op("matmul", lambda x, y: x @ y, A(2, 3), A(3, 4)),
    Op("matmul-vec", lambda x, y: x @ y, A(3, 3), A(3), needs=["matmul"]),
    Op("matmul-vecvec", lambda x, y: x @ y, A(3), A(3), needs=["matmul"]),
    Op("matmul-batch", lambda x, y: x @ y, A(2, 2, 3), A(3, 2), needs=["matmul"]),
    Op("dot", lambda x, y: np.dot(x, y), A(2, 3), A(3)),
    Op("outer", lambda x, y: np.outer(x, y), A(3), A(2)),
    Op("trace", lambda x: np.trace(x), A(3, 3)),
    # shapes and indexing
    Op("transpose", lambda x: np.transpose(x), A(2, 3)),
    Op("transpose-axes", lambda x: np.transpose(x, (1, 2, 0)), A(2, 3, 4), needs=["transpose"]),
    Op("T", lambda x: x.T @ x, A(3, 2), needs=["transpose", "matmul"]),
    Op("reshape", lambda x: np.reshape(x, (3, 2)), A(2, 3)),
    Op("reshape-method", lambda x: x.reshape(-1), A(2, 3), needs=["reshape"]),
    Op("broadcast_to", lambda x: np.broadcast_to(x, (4, 3)), A(3)),
    Op("getitem-slice", lambda x: x[1:, ::2], A(3, 4), needs=["getitem"]),
    Op("getitem-neg", lambda x: x[-1] * x[0], A(4, 2), needs=["getitem"]),
    Op("getitem-fancy", lambda x: x[onp.array([0, 2, 0])], A(3, 2), needs=["getitem"]),
    Op("stack", lambda x, y: np.stack([x, y, x], axis=1), A(3), A(3)),
    Op("concatenate", lambda x, y: np.concatenate([x, y]), A(2), A(3)),
    Op("squeeze", lambda x: np.squeeze(x, axis=0), A(1, 3)),
    Op("expand_dims", lambda x: np.expand_dims(x, -1), A(3)),
    Op("swapaxes", lambda x: np.swapaxes(x, 0, 1), A(2, 3)),
    # more elementwise functions, when the NumPy front end has them
    Op("log1p", lambda x: np.log1p(x), A(3, pos=True)),
    Op("expm1", lambda x: np.expm1(x), A(3)),
    Op("sinh", lambda x: np.sinh(x), A(3)),
    Op("cosh", lambda x: np.cosh(x), A(3)),
    Op("arctan", lambda x: np.arctan(x), A(3)),
    Op("clip", lambda x: np.clip(x, -0.5, 0.5), A(6)),
    # derivative-free values inside a differentiable function
    Op("sign", lambda x: np.sign(x) * x**2, A(5), needs=["sign", "power"]),
    Op("mask", lambda x: x * (x > 0.2), A(6), needs=["greater", "multiply"]),
]


def _available(op):
    missing = [n for n in op.needs if not _wrapped(n)]
    assert not missing, f"matdiff.numpy does not wrap {', '.join(missing)}"


def _points(op):
    points = []
    for seed in (0, 1):
        rng = onp.random.default_rng(seed)
        points.append([s.make(rng) for s in op.specs])
    return points


def _float_argnums(op):
    return tuple(i for i, s in enumerate(op.specs) if s.kind == "f")


def _loss(op):
    def loss(*args):
        return np.sum(np.sin(op.fn(*args)))

    return loss


def _assert_close(got, want):
    got, want = onp.asarray(got), onp.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype
    scale = float(onp.max(onp.abs(want))) if want.size else 0.0
    onp.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * scale)


@pytest.mark.parametrize("op", OPS, ids=repr)
def test_jit_value_matches_eager(op):
    _available(op)
    f = jit(op.fn)
    for args in _points(op):
        _assert_close(f(*args), op.fn(*args))
    assert f.trace_count == 1


@pytest.mark.parametrize("op", OPS, ids=repr)
def test_jit_grad_matches_eager(op):
    _available(op)
    g = grad(_loss(op), argnums=_float_argnums(op))
    jg = jit(g)
    for args in _points(op):
        for got, want in zip(jg(*args), g(*args)):
            _assert_close(got, want)
    assert jg.trace_count == 1


@pytest.mark.parametrize("op", OPS, ids=repr)
def test_compiled_program_is_differentiable(op):
    # The optimized program, run through the primitives, has the eager derivatives.
    _available(op)
    args = _points(op)[0]
    nums = _float_argnums(op)
    program = jit(_loss(op)).lower(*args).program

    def f(*dyn):
        full = list(args)
        for i, a in zip(nums, dyn):
            full[i] = a
        return eval_program(program, *full)[0]

    check_grads(f, modes=("fwd", "rev"), order=2)(*[args[i] for i in nums])
