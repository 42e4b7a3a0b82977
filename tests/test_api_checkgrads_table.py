"""One table of one-line specs drives check_grads (both modes, to order 2) through the
operators that add derivative rules of their own: the batch rules behind jacfwd and
hessian, and the custom-rule nodes behind custom_vjp, custom_jvp and checkpoint.

Shapes exercise broadcasting: scalar with matrix, row with column, keepdims, negative
axes, every kind of index.
"""

import numpy
import pytest

import matdiff.numpy as np
from matdiff import checkpoint, custom_jvp, custom_vjp, hessian, jacfwd, linearize
from matdiff.test_util import check_grads

rng = numpy.random.default_rng(7)
M23 = rng.uniform(0.5, 1.5, (2, 3))
ROW = rng.uniform(0.5, 1.5, (1, 3))
COL = rng.uniform(0.5, 1.5, (2, 1))
V3 = rng.uniform(0.5, 1.5, 3)
T234 = rng.uniform(0.5, 1.5, (2, 3, 4))
S = 0.7

# (name, function, arguments): jacfwd(function) is checked in both modes to order 2.
BATCHED = [
    ("scalar * matrix", lambda s, m: s * np.sin(m), (S, M23)),
    ("row * column", lambda r, c: np.exp(r) * c**2, (ROW, COL)),
    ("row / column", lambda r, c: r / c, (ROW, COL)),
    ("power broadcast", lambda m, r: m**r, (M23, ROW)),
    ("sum keepdims", lambda t: np.sum(t**2, axis=-1, keepdims=True), (T234,)),
    ("sum negative axes", lambda t: np.sum(np.sin(t), axis=(-3, -1)), (T234,)),
    ("mean", lambda t: np.mean(t * t, axis=1), (T234,)),
    ("reshape", lambda t: np.reshape(t, (6, 4)) ** 2, (T234,)),
    ("transpose negative", lambda t: np.transpose(np.sin(t), (-1, 0, 1)), (T234,)),
    ("broadcast_to", lambda c: np.broadcast_to(c, (2, 3)) * M23, (COL,)),
    ("getitem basic", lambda t: t[..., None, 1:3] * t[0, :, 2:], (T234,)),
    ("getitem array", lambda v: v[numpy.array([2, 0, 2])] ** 3, (V3,)),
    ("getitem mask", lambda m: np.sin(m[m > 1.0]), (M23,)),
    ("getitem two arrays", lambda m: m[[0, 1], [2, 0]] * m[1, [0, 1]], (M23,)),
    ("stack", lambda v: np.stack([v, v**2, numpy.ones(3)], axis=-1), (V3,)),
    ("matmul matrix vector", lambda m, v: np.tanh(np.matmul(m, v)), (M23, V3)),
    ("matmul vector matrix", lambda v, m: np.matmul(v, np.transpose(m)), (V3, M23)),
    ("matmul batched", lambda t, m: np.matmul(m, t) ** 2, (T234, M23)),
    ("matmul vector vector", lambda a, b: np.matmul(np.sin(a), b), (V3, V3[::-1])),
    ("where", lambda m: np.where(m > 1.0, m**2, -m), (M23,)),
]


@pytest.mark.parametrize("name,f,args", BATCHED, ids=[b[0] for b in BATCHED])
def test_batched_forward_rules(name, f, args):
    argnums = tuple(range(len(args)))
    check_grads(jacfwd(f, argnums=argnums), modes=("fwd", "rev"), order=2)(*args)


@custom_vjp
def _log1pexp(x):
    return np.log(1.0 + np.exp(x))


_log1pexp.defvjp(lambda x: (_log1pexp(x), x), lambda x, g: (g / (1.0 + np.exp(-x)),))


@custom_jvp
def _cube_sum(x, y):
    return np.sum(x**3) * y


@_cube_sum.defjvp
def _cube_sum_jvp(p, t):
    (x, y), (tx, ty) = p, t
    return _cube_sum(x, y), np.sum(3.0 * x**2 * tx) * y + np.sum(x**3) * ty


_ckpt = checkpoint(lambda m, c: np.sin(m) * c)

# (name, function, arguments): the function itself is checked in both modes to order 2.
CUSTOM = [
    ("custom_vjp", lambda m: _log1pexp(m) * 2.0, (M23,)),
    ("custom_jvp", _cube_sum, (V3, S)),
    ("checkpoint broadcast", _ckpt, (M23, COL)),
    ("checkpoint nested", checkpoint(lambda v: _ckpt(v, v) + _log1pexp(v)), (V3,)),
    ("hessian", hessian(lambda v: np.sum(np.exp(v) * v[::-1])), (V3,)),
    ("linearize", lambda v: linearize(lambda u: np.sin(u) * u, v)[1](V3), (V3,)),
]


@pytest.mark.parametrize("name,f,args", CUSTOM, ids=[c[0] for c in CUSTOM])
def test_custom_rule_nodes(name, f, args):
    check_grads(f, modes=("fwd", "rev"), order=2)(*args)
