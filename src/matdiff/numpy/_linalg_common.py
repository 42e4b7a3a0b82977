"""Traced helpers on stacks of matrices that ``numpy.linalg`` and ``scipy.linalg`` share.

The last two axes of an array hold the matrices; any axes before them are a batch.
Primitives here (``solve_triangular``, the last-axis ``concat``/``slice``/``pad`` that
carry several results packed side by side) are documented as ``matdiff.numpy.linalg``'s.

>>> import numpy
>>> mT(numpy.arange(6.0).reshape(1, 2, 3)).shape
(1, 3, 2)
>>> tril(numpy.ones((2, 2)))
array([[1., 0.],
       [1., 1.]])
"""

from __future__ import annotations

import functools

import numpy as _np
import scipy.linalg as _scipy_linalg

from ..core import defjvp, defvjp
from ..tracer import box_types, getval
from ._broadcast import match_realness, unbroadcast
from ._wrap import shape_of, wrap
from .manipulation import transpose
from .products import matmul
from .ufuncs import conj, multiply, negative

_HERE = "matdiff.numpy.linalg"


def traced(*xs) -> bool:
    """Whether any of ``xs`` is a traced value."""
    return any(type(x) in box_types for x in xs)


def iscomplexobj(x) -> bool:
    """``numpy.iscomplexobj`` of the value under ``x``'s boxes."""
    return _np.iscomplexobj(getval(x))


def mT(x):
    """Swap the last two axes (the matrix transpose of a stack)."""
    nd = len(shape_of(x))
    axes = list(range(nd))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return transpose(x, tuple(axes))


def mH(x):
    """The conjugate transpose of each matrix in a stack."""
    t = mT(x)
    return conj(t) if iscomplexobj(x) else t


@functools.lru_cache(maxsize=128)
def tri_mask(rows: int, cols: int, k: int, lower: bool) -> _np.ndarray:
    """A read-only 0/1 mask of the lower (or upper) triangle from diagonal ``k`` on."""
    ones = _np.ones((rows, cols))
    t = _np.tril(ones, k) if lower else _np.triu(ones, k)
    t.flags.writeable = False
    return t


def tril(x, k=0):
    """The lower triangle of each matrix in a stack (from diagonal ``k`` down)."""
    s = shape_of(x)
    return multiply(x, tri_mask(s[-2], s[-1], k, True))


def triu(x, k=0):
    """The upper triangle of each matrix in a stack (from diagonal ``k`` up)."""
    s = shape_of(x)
    return multiply(x, tri_mask(s[-2], s[-1], k, False))


def _concat_last_raw(*xs):
    return _np.concatenate(xs, axis=-1)


def _slice_last_raw(x, start, stop):
    return x[..., start:stop]


def _pad_last_raw(g, start, total, like_dtype):
    s = _np.shape(g)
    out = _np.zeros(s[:-1] + (total,), dtype=_np.result_type(g, like_dtype))
    out[..., start : start + s[-1]] = g
    return out


# Several results travel as one primitive's answer, packed side by side along the last
# axis: these three cut and join the packs, each the other's transpose.
concat_last = wrap(_concat_last_raw, "_concat_last", module=_HERE)
slice_last = wrap(_slice_last_raw, "_slice_last", module=_HERE)
pad_last = wrap(_pad_last_raw, "_pad_last", module=_HERE)


def _concat_argnum_vjp(i):
    def maker(ans, *xs):
        start = sum(shape_of(x)[-1] for x in xs[:i])
        stop = start + shape_of(xs[i])[-1]
        return lambda g: match_realness(xs[i], slice_last(g, start, stop))

    return maker


def _concat_argnum_jvp(i):
    def rule(g, ans, *xs):
        start = sum(shape_of(x)[-1] for x in xs[:i])
        return pad_last(g, start, shape_of(ans)[-1], getval(ans).dtype)

    return rule


defvjp(concat_last, *[_concat_argnum_vjp(i) for i in range(4)])
defjvp(concat_last, *[_concat_argnum_jvp(i) for i in range(4)])
defvjp(
    slice_last,
    lambda ans, x, start, stop: lambda g: pad_last(g, start, shape_of(x)[-1], getval(x).dtype),
)
defjvp(slice_last, "same")
defvjp(
    pad_last,
    lambda ans, g, start, total, dt: (
        lambda h: match_realness(g, slice_last(h, start, start + shape_of(g)[-1]))
    ),
)
defjvp(pad_last, "same")


def take_cols(x, start, stop):
    """Columns ``start:stop`` of each matrix in a stack."""
    return slice_last(x, start, stop) if start or stop != shape_of(x)[-1] else x


def take_rows(x, start, stop):
    """Rows ``start:stop`` of each matrix in a stack."""
    return mT(slice_last(mT(x), start, stop)) if start or stop != shape_of(x)[-2] else x


def concat_cols(x, y):
    """The columns of ``y`` after those of ``x``, matrix by matrix."""
    return concat_last(x, y)


def concat_rows(x, y):
    """The rows of ``y`` below those of ``x``, matrix by matrix."""
    return mT(concat_last(mT(x), mT(y)))


def _solve_tri_raw(a, b, lower=True):
    return _scipy_linalg.solve_triangular(a, b, lower=lower, check_finite=False)


solve_triangular = wrap(_solve_tri_raw, "solve_triangular", module=_HERE)
"""``a x = b`` with ``a`` triangular (only its ``lower``/upper triangle is read)."""


def _tri_part(x, lower):
    return tril(x) if lower else triu(x)


def _solve_tri_vjp_a(ans, a, b, lower=True):
    def vjp(g):
        gb = solve_triangular(mT(a), g, lower=not lower)
        return unbroadcast(a, _tri_part(negative(matmul(gb, mT(ans))), lower))

    return vjp


defvjp(
    solve_triangular,
    _solve_tri_vjp_a,
    lambda ans, a, b, lower=True: (
        lambda g: unbroadcast(b, solve_triangular(mT(a), g, lower=not lower))
    ),
)
defjvp(
    solve_triangular,
    lambda g, ans, a, b, lower=True: negative(
        solve_triangular(a, matmul(_tri_part(g, lower), ans), lower=lower)
    ),
    lambda g, ans, a, b, lower=True: solve_triangular(a, g, lower=lower),
)
