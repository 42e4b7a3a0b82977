"""Products: matmul, dot, tensordot, einsum (primitives), and vdot, inner, outer, kron,
cross composed from them.

Each product is linear in each argument, so its JVP is the product with the tangent in
that argument's place, and its VJP is another product of the cotangent with the other
argument. As in autograd and JAX the transposes do not conjugate: for complex inputs the
VJP is the transpose, not the adjoint, of the JVP.
"""

from __future__ import annotations

import string
from typing import Any

import numpy as _np

from ..core import (
    DirectVJP,
    ForwardTrace,
    ReverseTrace,
    def_linear,
    defvjp,
    jvp_rules,
    vjp_rules,
)
from ..tracer import box_types, getval, new_box
from . import _batch, _kernels
from . import indexing as _ix
from . import manipulation as _shape
from . import ufuncs as _uf
from ._broadcast import match_realness, sum_to_shape, times_to
from ._wrap import VarargTable, export, is_complex, shape_of, wrap, wrapped_for
from .manipulation import ArrayLike

try:  # NumPy >= 2
    from numpy.lib.array_utils import normalize_axis_index
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core.multiarray import normalize_axis_index


# ---------------------------------------------------------------- matmul

matmul = wrap(_np.matmul, batch=_batch.matmul)


def _matmul_vjp_x(g, ans, x, y):
    nx, ny = len(shape_of(x)), len(shape_of(y))
    # The common cases are direct products, with no reshapes.
    if nx == 2 and ny == 2:
        return match_realness(x, matmul(g, _shape.transpose(y)))
    if nx == 1 and ny == 2:
        return match_realness(x, matmul_traced(y, g))
    if nx == 2 and ny == 1:
        return match_realness(x, _uf.multiply(_shape.reshape(g, (-1, 1)), y))
    if nx == 1 and ny == 1:
        return match_realness(x, _uf.multiply(g, y))
    return _matmul_batched_vjp(g, x, y, 0)


def _matmul_vjp_y(g, ans, x, y):
    nx, ny = len(shape_of(x)), len(shape_of(y))
    if nx == 2 and ny == 2:
        return match_realness(y, matmul(_shape.transpose(x), g))
    if nx == 1 and ny == 2:
        return match_realness(y, _uf.multiply(_shape.reshape(x, (-1, 1)), g))
    if nx == 2 and ny == 1:
        return match_realness(y, matmul_traced(g, x))
    if nx == 1 and ny == 1:
        return match_realness(y, _uf.multiply(g, x))
    return _matmul_batched_vjp(g, x, y, 1)


def _matmul_batched_vjp(g, x, y, argnum):
    """Batched matmul: promote 1-D operands as matmul does, transpose, sum the batch."""
    xs, ys = shape_of(x), shape_of(y)
    x2 = _shape.reshape(x, (1,) + xs) if len(xs) == 1 else x
    y2 = _shape.reshape(y, ys + (1,)) if len(ys) == 1 else y
    gs = shape_of(g)
    if len(xs) == 1:
        gs = gs[:-1] + (1,) + gs[-1:]
    if len(ys) == 1:
        gs = gs + (1,)
    g2 = _shape.reshape(g, gs) if gs != shape_of(g) else g
    if argnum == 0:
        r = matmul(g2, _shape.swapaxes(y2, -1, -2))
        target2 = shape_of(x2)
    else:
        r = matmul(_shape.swapaxes(x2, -1, -2), g2)
        target2 = shape_of(y2)
    r = sum_to_shape(r, target2)
    target = xs if argnum == 0 else ys
    if target2 != target:
        r = _shape.reshape(r, target)
    return match_realness(x if argnum == 0 else y, r)


defvjp(matmul, DirectVJP(_matmul_vjp_x), DirectVJP(_matmul_vjp_y))
def_linear(matmul)


# ---------------------------------------------------------------- matrix @ vector, paired

# A forward-mode ``A @ x``, with ``A`` a constant matrix and ``x`` carrying a tangent ``t``,
# is two matrix-vector products (``A @ x`` and ``A @ t``), each a pass over ``A``; so is
# ``x @ A`` (the VJP ``g @ A`` of a matmul, when the cotangent ``g`` carries a tangent).
# BLAS has no product that makes both in one pass (a GEMM with two columns packs ``A`` and
# takes longer than two GEMVs). Above this many elements of ``A`` (where each pass reads it
# from memory) one compiled loop makes both; smaller products keep BLAS.
PAIR_MIN_SIZE = 1 << 20


def _pair_kernels():
    """The compiled loops ``(A, x, t) -> (A @ x, A @ t)`` and ``(x, t, A) -> (x @ A,
    t @ A)`` for float64, or ``None`` without numba."""
    if not _kernels.available():
        return None
    return _kernels.matvecs(2, _np.float64), _kernels.vecmats(2, _np.float64)


def _paired(a, b, right: bool):
    """``a @ b`` as one pass over the constant matrix for its value and tangent, where
    that applies: the vector (``b`` if ``right``, else ``a``) a forward-mode value whose
    value (or, under reverse mode, the value it boxes) and tangent are float64 arrays,
    the matrix a large C-ordered float64 array with no derivative. ``None`` elsewhere."""
    box, m = (b, a) if right else (a, b)
    trace = box._trace
    if type(trace) is not ForwardTrace or type(m) is not _np.ndarray:
        return None
    x, t = box._value, box._node
    rev = None
    if type(x) in box_types:
        if type(x._trace) is not ReverseTrace:
            return None
        rev, x = x, x._value
    if (
        type(x) is not _np.ndarray
        or type(t) is not _np.ndarray
        or m.ndim != 2
        or x.ndim != 1
        or t.shape != x.shape
        or m.shape[1 if right else 0] != x.shape[0]
        or m.size < PAIR_MIN_SIZE
        or not (m.dtype == x.dtype == t.dtype == _np.float64)
        or not m.flags.c_contiguous
    ):
        return None
    kernels = _pair_kernels()
    if kernels is None:
        return None
    if right:
        p, q = kernels[0](m, x, t)
        args, argnum = [m, x], 1
    else:
        p, q = kernels[1](x, t, m)
        args, argnum = [x, m], 0
    if rev is not None:
        # Recorded as the product it is, so reverse mode meets a plain matmul node.
        p = rev._trace.process(matmul, p, args, {}, [argnum], [rev])
    return new_box(p, trace, q)


def matmul_traced(a, b):
    """``matmul(a, b)`` for ``a @ b`` with a traced operand: a forward-mode product of a
    vector and a large constant matrix makes its value and tangent in one pass."""
    ta, tb = type(a) in box_types, type(b) in box_types
    if ta != tb:
        out = _paired(a, b, tb)
        if out is not None:
            return out
    return matmul(a, b)


# ``ndarray @ box`` and ``numpy.matmul`` on a traced value reach matmul through here.
wrapped_for[_np.matmul] = matmul_traced


# ---------------------------------------------------------------- tensordot


def _tensordot_axes(axes, na, nb):
    """``axes`` as two lists of non-negative axis numbers (NumPy's conventions)."""
    if isinstance(axes, (int, _np.integer)):
        axes = int(axes)
        return list(range(na - axes, na)), list(range(axes))
    ax_a, ax_b = axes
    ax_a = [ax_a] if isinstance(ax_a, (int, _np.integer)) else list(ax_a)
    ax_b = [ax_b] if isinstance(ax_b, (int, _np.integer)) else list(ax_b)
    return [normalize_axis_index(a, na) for a in ax_a], [normalize_axis_index(b, nb) for b in ax_b]


def _permute_back(r, order):
    """Transpose ``r``, whose axes are ``order`` of the operand's, into the operand's order."""
    if order == sorted(order):
        return r
    return _shape.transpose(r, tuple(int(i) for i in _np.argsort(order)))


def _tensordot_vjp_a(g, a, b, ax_a, ax_b):
    na, nb = len(shape_of(a)), len(shape_of(b))
    free_a = [i for i in range(na) if i not in ax_a]
    free_b = [j for j in range(nb) if j not in ax_b]
    g_b_axes = list(range(len(free_a), len(free_a) + len(free_b)))
    r = tensordot(g, b, (g_b_axes, free_b))
    # r's axes: a's free axes, then a's contracted axes in the order of b's axes.
    order = free_a + [ax_a[ax_b.index(j)] for j in sorted(ax_b)]
    return match_realness(a, _permute_back(r, order))


def _tensordot_vjp_b(g, a, b, ax_a, ax_b):
    na, nb = len(shape_of(a)), len(shape_of(b))
    free_a = [i for i in range(na) if i not in ax_a]
    free_b = [j for j in range(nb) if j not in ax_b]
    r = tensordot(a, g, (free_a, list(range(len(free_a)))))
    order = [ax_b[ax_a.index(i)] for i in sorted(ax_a)] + free_b
    return match_realness(b, _permute_back(r, order))


def _tensordot_raw(a, b, axes=2):
    return _np.tensordot(a, b, axes)


tensordot = wrap(_tensordot_raw, "tensordot")
tensordot.__doc__ = """``numpy.tensordot``: sum products over ``axes`` (an int or two lists).

>>> import matdiff.numpy as np
>>> np.tensordot(np.ones((2, 3)), np.ones((3, 4)), axes=1).shape
(2, 4)
"""
export(tensordot, "tensordot")


def _tensordot_vjp(argnum):
    def maker(ans, a, b, axes=2):
        ax_a, ax_b = _tensordot_axes(axes, len(shape_of(a)), len(shape_of(b)))
        if argnum == 0:
            return lambda g: _tensordot_vjp_a(g, a, b, ax_a, ax_b)
        return lambda g: _tensordot_vjp_b(g, a, b, ax_a, ax_b)

    return maker


defvjp(tensordot, _tensordot_vjp(0), _tensordot_vjp(1))
def_linear(tensordot)


# ---------------------------------------------------------------- dot

dot = wrap(_np.dot, batch=_batch.dot)


def _dot_vjp(argnum):
    def rule(g, ans, a, b):
        na, nb = len(shape_of(a)), len(shape_of(b))
        if not (na and nb) or (na == 1 and nb == 1):
            # A scalar times an array, or the inner product of two vectors (g is 0-d).
            x, other = (a, b) if argnum == 0 else (b, a)
            return times_to(x, g, other)
        if na <= 2 and nb <= 2:
            # On 1-D and 2-D operands dot is matmul.
            return (_matmul_vjp_x if argnum == 0 else _matmul_vjp_y)(g, ans, a, b)
        ax_a, ax_b = [na - 1], [max(nb - 2, 0)]
        if argnum == 0:
            return _tensordot_vjp_a(g, a, b, ax_a, ax_b)
        return _tensordot_vjp_b(g, a, b, ax_a, ax_b)

    return DirectVJP(rule)


defvjp(dot, _dot_vjp(0), _dot_vjp(1))
def_linear(dot)


@export
def vdot(a: ArrayLike, b: ArrayLike) -> Any:
    """``numpy.vdot``: the flattened inner product, conjugating ``a`` as NumPy does.

    >>> import matdiff.numpy as np
    >>> complex(np.vdot(np.array([1j, 1.0]), np.array([1j, 2.0])))
    (3+0j)
    """
    a = _shape.ravel(a)
    if is_complex(a):
        a = _uf.conj(a)
    return dot(a, _shape.ravel(b))


@export
def inner(a: ArrayLike, b: ArrayLike) -> Any:
    """``numpy.inner``: sum of products over the last axes of ``a`` and ``b``.

    >>> import matdiff.numpy as np
    >>> np.inner(np.ones((2, 3)), np.ones((4, 3))).shape
    (2, 4)
    """
    if len(shape_of(a)) == 0 or len(shape_of(b)) == 0:
        return _uf.multiply(a, b)
    return tensordot(a, b, ([-1], [-1]))


@export
def outer(a: ArrayLike, b: ArrayLike, out=None) -> Any:
    """``numpy.outer``: ``a`` and ``b`` are flattened; entry ``[i, j]`` is ``a[i] * b[j]``.

    >>> import matdiff.numpy as np
    >>> np.outer(np.array([1.0, 2.0]), np.array([3.0, 4.0, 5.0])).shape
    (2, 3)
    """
    if out is not None:
        raise TypeError("outer: out= is not supported on traced values; use the return value")
    return _uf.multiply(_shape.reshape(a, (-1, 1)), _shape.reshape(b, (1, -1)))


@export
def kron(a: ArrayLike, b: ArrayLike) -> Any:
    """``numpy.kron``: the Kronecker product, as a broadcast product and a reshape.

    >>> import matdiff.numpy as np
    >>> np.kron(np.eye(2), np.ones((2, 3))).shape
    (4, 6)
    """
    sa, sb = tuple(shape_of(a)), tuple(shape_of(b))
    nd = max(len(sa), len(sb))
    sa = (1,) * (nd - len(sa)) + sa
    sb = (1,) * (nd - len(sb)) + sb
    a2 = _shape.reshape(a, tuple(n for k in sa for n in (k, 1)))
    b2 = _shape.reshape(b, tuple(n for k in sb for n in (1, k)))
    return _shape.reshape(_uf.multiply(a2, b2), tuple(p * q for p, q in zip(sa, sb)))


@export
def cross(a: ArrayLike, b: ArrayLike, axisa=-1, axisb=-1, axisc=-1, axis=None) -> Any:
    """``numpy.cross``: cross products of 2- or 3-vectors along the given axes.

    Two 2-vectors give the scalar z-component; a 2-vector is otherwise taken as having z = 0.

    >>> import matdiff.numpy as np
    >>> np.cross(np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]))
    array([0., 0., 1.])
    """
    if axis is not None:
        axisa = axisb = axisc = axis
    a = _shape.moveaxis(a, axisa, -1)
    b = _shape.moveaxis(b, axisb, -1)
    da, db = shape_of(a)[-1], shape_of(b)[-1]
    if da not in (2, 3) or db not in (2, 3):
        raise ValueError(
            f"cross: vectors must have 2 or 3 components along the chosen axes, got {da} and {db}"
        )
    mul, sub, neg = _uf.multiply, _uf.subtract, _uf.negative
    a0, a1 = _ix.getitem(a, (Ellipsis, 0)), _ix.getitem(a, (Ellipsis, 1))
    b0, b1 = _ix.getitem(b, (Ellipsis, 0)), _ix.getitem(b, (Ellipsis, 1))
    c2 = sub(mul(a0, b1), mul(a1, b0))
    if da == 2 and db == 2:
        return c2
    if da == 2:
        b2 = _ix.getitem(b, (Ellipsis, 2))
        c0, c1 = mul(a1, b2), neg(mul(a0, b2))
    elif db == 2:
        a2 = _ix.getitem(a, (Ellipsis, 2))
        c0, c1 = neg(mul(a2, b1)), mul(a2, b0)
    else:
        a2, b2 = _ix.getitem(a, (Ellipsis, 2)), _ix.getitem(b, (Ellipsis, 2))
        c0, c1 = sub(mul(a1, b2), mul(a2, b1)), sub(mul(a2, b0), mul(a0, b2))
    c = _shape.stack(_shape.broadcast_arrays(c0, c1, c2), axis=-1)
    return _shape.moveaxis(c, -1, axisc)


# ---------------------------------------------------------------- einsum

_LETTERS = string.ascii_letters


def _implicit_output(subscripts: str) -> str:
    """NumPy's output for implicit mode: broadcast dims, then labels seen once, sorted."""
    labels = [c for c in subscripts if c in _LETTERS]
    once = sorted(c for c in set(labels) if labels.count(c) == 1)
    return ("..." if "..." in subscripts else "") + "".join(once)


def _expand_ellipsis(subscripts: str, shapes) -> tuple[list[str], str]:
    """Input and output labels of an explicit ``subscripts``, with ``...`` spelled out.

    The broadcast dimensions get fresh letters, right-aligned as NumPy aligns them.
    """
    ins, out = subscripts.split("->")
    ins = ins.split(",")
    used = set(subscripts)
    fresh = [c for c in _LETTERS if c not in used]
    counts = [
        len(shp) - len(s.replace("...", "")) if "..." in s else 0 for s, shp in zip(ins, shapes)
    ]
    emax = max(counts, default=0)
    if emax > len(fresh):
        raise ValueError(
            f"einsum: the broadcast dimensions (...) need {emax} labels besides those in "
            f"{subscripts!r}, and only {len(fresh)} of the 52 are free"
        )
    ell = fresh[:emax]
    labels = [s.replace("...", "".join(ell[emax - e :])) for s, e in zip(ins, counts)]
    return labels, out.replace("...", "".join(ell))


def _delta(n: int, order: int, dtype) -> _np.ndarray:
    """The tensor with ones where all ``order`` indices are equal (an identity for order 2)."""
    d = _np.zeros((n,) * order, dtype=dtype)
    i = _np.arange(n)
    d[(i,) * order] = 1
    return d


def _einsum_raw(subscripts, *operands, optimize=False):
    return _np.einsum(subscripts, *operands, optimize=optimize)


_einsum = wrap(_einsum_raw, "_einsum")


def _einsum_vjp(i):
    k = i - 1

    def maker(ans, subscripts, *operands, optimize=False):
        shapes = [shape_of(o) for o in operands]
        labels, out = _expand_ellipsis(subscripts, shapes)
        target, tshape = labels[k], tuple(shapes[k])
        used = set("".join(labels) + out)
        fresh = [c for c in _LETTERS if c not in used]
        n_repeats = len(target) - len(set(target))
        if n_repeats > len(fresh):
            raise ValueError(
                f"einsum: operand {k} repeats {n_repeats} labels, and the VJP needs a fresh "
                f"label for each but only {len(fresh)} of the 52 are free; use fewer labels"
            )
        fresh = iter(fresh)
        # A label repeated in the operand (a diagonal, 'ii') is made distinct in the result
        # and tied back with a delta tensor: the cotangent lands on the diagonal only.
        result, groups = [], {}
        for c in target:
            if c in groups:
                f = next(fresh)
                groups[c].append(f)
                result.append(f)
            else:
                groups[c] = [c]
                result.append(c)
        deltas = [
            (tuple(grp), tshape[target.index(c)]) for c, grp in groups.items() if len(grp) > 1
        ]
        others = [(labels[j], operands[j]) for j in range(len(operands)) if j != k]
        present = set(out).union(*[set(lab) for lab, _ in others], *[set(g) for g, _ in deltas])
        # A label found only in this operand was summed away: the cotangent is constant
        # along it, so it is left out of the product and broadcast back afterwards.
        kept = [c for c in result if c in present]
        spec = ",".join([out] + [lab for lab, _ in others] + ["".join(g) for g, _ in deltas])
        spec += "->" + "".join(kept)
        other_ops = [o for _, o in others]
        x = operands[k]

        def vjp(g):
            dtype = _np.result_type(getval(g))
            ds = [_delta(n, len(grp), dtype) for grp, n in deltas]
            r = _einsum(spec, g, *other_ops, *ds, optimize=optimize)
            if len(kept) != len(result):
                rs = iter(shape_of(r))
                r = _shape.reshape(r, tuple(next(rs) if c in present else 1 for c in result))
            # Size-1 dimensions of the operand that broadcast in the product: sum them.
            r = sum_to_shape(r, tshape)
            if shape_of(r) != tshape:
                r = _shape.broadcast_to(r, tshape)
            return match_realness(x, r)

        return vjp

    return maker


def _einsum_jvp(i):
    def rule(g, ans, subscripts, *operands, optimize=False):
        ops = list(operands)
        ops[i - 1] = g
        return _einsum(subscripts, *ops, optimize=optimize)

    return rule


vjp_rules[_einsum] = VarargTable(_einsum_vjp)
jvp_rules[_einsum] = VarargTable(_einsum_jvp)


def _from_sublists(args):
    """Convert einsum's interleaved form ``(op, [0, 1], op, [1, 2], [0, 2])`` to a string."""

    def letters(sub):
        out = []
        for s in sub:
            if s is Ellipsis:
                out.append("...")
            elif isinstance(s, (int, _np.integer)) and 0 <= s < len(_LETTERS):
                out.append(_LETTERS[s])
            else:
                raise ValueError(f"einsum: subscript {s!r} must be an int in [0, 52) or Ellipsis")
        return "".join(out)

    args = list(args)
    out = args.pop() if len(args) % 2 == 1 else None
    ops, subs = args[0::2], args[1::2]
    spec = ",".join(letters(s) for s in subs)
    if out is not None:
        spec += "->" + letters(out)
    return spec, ops


@export
def einsum(*operands: Any, optimize=False, **kwargs) -> Any:
    """``numpy.einsum``, with any subscripts: explicit or implicit, ellipsis, repeated labels.

    Every operand is traced; the VJP of each is another einsum of the cotangent with the
    other operands.

    >>> import matdiff.numpy as np
    >>> A, x = np.arange(6.0).reshape(2, 3), np.ones(3)
    >>> np.einsum("ij,j->i", A, x)
    array([ 3., 12.])
    """
    if "out" in kwargs:
        raise TypeError("einsum: out= is not supported on traced values; use the return value")
    dtype = kwargs.pop("dtype", None)
    if kwargs:
        raise TypeError(f"einsum: unsupported keyword arguments {sorted(kwargs)}")
    if isinstance(operands[0], str):
        subscripts, ops = operands[0].replace(" ", ""), list(operands[1:])
    else:
        subscripts, ops = _from_sublists(operands)
    if not any(type(o) in box_types for o in ops):
        return _np.einsum(subscripts, *ops, optimize=optimize, dtype=dtype)
    if "->" not in subscripts:
        subscripts += "->" + _implicit_output(subscripts)
    ans = _einsum(subscripts, *ops, optimize=optimize)
    if dtype is not None:
        ans = _uf.astype(ans, dtype)
    return ans


# ---------------------------------------------------------------- 1-D convolution


def _full_convolution(a, v):
    """The full discrete convolution of 1-D ``a`` and ``v`` as one gather and one matmul:
    ``out[k] = sum_j a[k - j] v[j]``, with the shorter input as ``v`` (less memory)."""
    if shape_of(v)[0] > shape_of(a)[0]:
        a, v = v, a
    n, m = shape_of(a)[0], shape_of(v)[0]
    zeros = _np.zeros(m - 1, dtype=_np.result_type(getval(a)))
    padded = _shape.concatenate([zeros, a, zeros]) if m > 1 else a
    k = _np.arange(n + m - 1)[:, None]
    j = _np.arange(m)[None, :]
    return matmul(_ix.getitem(padded, k - j + (m - 1)), v)


def _convolve_checked(fname, a, v, mode):
    a, v = _shape.atleast_1d(a), _shape.atleast_1d(v)
    for name, x in (("a", a), ("v", v)):
        if len(shape_of(x)) != 1:
            raise ValueError(f"{fname}: {name} must be 1-D, got shape {shape_of(x)}")
        if shape_of(x)[0] == 0:
            raise ValueError(f"{fname}: {name} cannot be empty")
    if mode not in ("full", "same", "valid"):
        raise ValueError(f"{fname}: mode must be 'full', 'same' or 'valid', got {mode!r}")
    n, m = shape_of(a)[0], shape_of(v)[0]
    full = _full_convolution(a, v)
    if mode == "full":
        return full
    long, short = max(n, m), min(n, m)
    if mode == "same":
        start = (short - 1) // 2
        return _ix.getitem(full, slice(start, start + long))
    return _ix.getitem(full, slice(short - 1, long))


@export
def convolve(a: ArrayLike, v: ArrayLike, mode: str = "full") -> Any:
    """``numpy.convolve``: the discrete linear convolution of two 1-D arrays, both traced.

    >>> import matdiff.numpy as np
    >>> np.convolve(np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, 0.5]))
    array([0. , 1. , 2.5, 4. , 1.5])
    """
    return _convolve_checked("convolve", a, v, mode)


@export
def correlate(a: ArrayLike, v: ArrayLike, mode: str = "valid") -> Any:
    """``numpy.correlate``: ``sum_n a[n + k] conj(v[n])``, the convolution of ``a`` with
    ``v`` reversed and conjugated; both traced.

    >>> import matdiff.numpy as np
    >>> np.correlate(np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, 0.5]))
    array([3.5])
    """
    v = _shape.atleast_1d(v)
    rev = _ix.getitem(v, slice(None, None, -1)) if len(shape_of(v)) == 1 else v
    return _convolve_checked("correlate", a, _uf.conj(rev), mode)


@export
def polyval(p: ArrayLike, x: ArrayLike) -> Any:
    """``numpy.polyval``: the polynomial with coefficients ``p`` (highest power first) at
    ``x``, by Horner's rule; differentiable in both.

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> float(grad(lambda x: np.polyval(np.array([1.0, 0.0, -2.0]), x))(3.0))
    6.0
    """
    if type(p) not in box_types and not isinstance(p, (list, tuple)):
        p = _np.asarray(p)
    if type(x) not in box_types:
        x = _np.asanyarray(x)
    y = _np.zeros_like(getval(x))
    for k in range(len(p)):
        y = _uf.add(_uf.multiply(y, x), p[k])
    return y
