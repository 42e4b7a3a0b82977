"""Products: matmul, dot, and their rules."""

from __future__ import annotations

import numpy as _np

from ..core import defjvp, defvjp
from . import manipulation as _shape
from . import ufuncs
from ._wrap import is_complex, shape_of, sum_to_shape, wrap

matmul = wrap(_np.matmul)


def _swap_last(a):
    nd = len(shape_of(a))
    axes = list(range(nd))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return _shape.transpose(a, tuple(axes))


def _as_matrices(x, y, g):
    """Promote 1-D operands (and the cotangent) to the 2-D case matmul reduces them to."""
    xs, ys, gs = shape_of(x), shape_of(y), shape_of(g)
    if len(xs) == 1:
        x = _shape.reshape(x, (1,) + xs)
        g = _shape.reshape(g, gs[:-1] + (1,) + gs[-1:]) if len(ys) > 1 else g
    if len(ys) == 1:
        y = _shape.reshape(y, ys + (1,))
        g = _shape.reshape(g, shape_of(g) + (1,))
    if len(xs) == 1 and len(ys) == 1:
        g = _shape.reshape(g, (1, 1))
    return x, y, g


def _finish(g, shape2, target, like):
    """Sum a matrix cotangent to the operand's 2-D shape, then restore its real shape."""
    g = sum_to_shape(g, shape2)
    if shape2 != target:
        g = _shape.reshape(g, target)
    if is_complex(g) and not is_complex(like):
        g = ufuncs.real(g)
    return g


def _matmul_vjp_x(ans, x, y):
    xs = shape_of(x)

    def vjp(g):
        _, y2, g2 = _as_matrices(x, y, g)
        gx = matmul(g2, _swap_last(y2))
        return _finish(gx, (1,) + xs if len(xs) == 1 else xs, xs, x)

    return vjp


def _matmul_vjp_y(ans, x, y):
    ys = shape_of(y)

    def vjp(g):
        x2, _, g2 = _as_matrices(x, y, g)
        gy = matmul(_swap_last(x2), g2)
        return _finish(gy, ys + (1,) if len(ys) == 1 else ys, ys, y)

    return vjp


defvjp(matmul, _matmul_vjp_x, _matmul_vjp_y)
defjvp(matmul, lambda g, ans, x, y: matmul(g, y), lambda g, ans, x, y: matmul(x, g))
