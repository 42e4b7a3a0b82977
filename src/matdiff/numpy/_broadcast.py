"""Broadcasting and its transpose, and the five primitives their rules are written with.

A binary function broadcasts its arguments, so its VJP sums each cotangent back to its
argument's shape (:func:`unbroadcast`) and its JVP broadcasts each tangent up to the
answer's (:func:`broadcast_tangent`). Those two are written with ``sum``,
``broadcast_to``, ``reshape``, ``real`` and ``multiply``, whose own rules need them in
turn: the five primitives live here, below every other module of ``matdiff.numpy``,
and ``ufuncs``, ``manipulation`` and ``reductions`` export them with their kin.

>>> import numpy
>>> unbroadcast(numpy.zeros((1, 3)), numpy.ones((2, 3)))
array([[2., 2., 2.]])
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as _np

from ..core import DirectVJP, def_linear, defjvp, defvjp
from . import _batch
from ._wrap import alias, is_complex, shape_of, wrap

# ---------------------------------------------------------------- axes and names


def normalize_axis(axis, ndim):
    """``axis`` (int, tuple or None) as a tuple of non-negative axes of an ``ndim`` array."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, int):
        axis = (axis,)
    return tuple(a % ndim if ndim else a for a in axis)


def expand_to(g, x_shape, axis, keepdims):
    """Broadcast a reduced cotangent ``g`` back to ``x_shape``."""
    if type(g) is _np.ndarray or isinstance(g, _np.generic):
        # A plain array, which no trace holds: NumPy directly, as the primitives would
        # call it. A loss ends in a full reduction, whose 0-d cotangent needs no reshape.
        if not g.ndim and g.dtype.kind in "fc":
            return broadcast_scalar(g, x_shape)
        if g.ndim and not keepdims and x_shape:
            axes = normalize_axis(axis, len(x_shape))
            g = _np.reshape(g, tuple(1 if i in axes else n for i, n in enumerate(x_shape)))
        return _np.broadcast_to(g, x_shape)
    if not keepdims and x_shape:
        axes = normalize_axis(axis, len(x_shape))
        kept = tuple(1 if i in axes else n for i, n in enumerate(x_shape))
        g = reshape(g, kept)
    return broadcast_to(g, x_shape)


def broadcast_scalar(g, shape):
    """``numpy.broadcast_to(g, shape)`` for a 0-d float array or NumPy float ``g``: the same
    read-only view, made directly (NumPy's builds an iterator to check a broadcast that a
    single element cannot break, several times the cost, once per loss in every gradient).

    >>> broadcast_scalar(_np.float64(0.5), (2, 3))
    array([[0.5, 0.5, 0.5],
           [0.5, 0.5, 0.5]])
    """
    a = _np.asarray(g)
    view = _np.ndarray(shape, a.dtype, a, 0, (0,) * len(shape))
    view.flags.writeable = False
    return view


def numpy_name(name):
    """Name a raw function after its NumPy function, so that Python's own errors about
    its arguments (an unknown keyword, too many positions) say which function it is."""

    def name_it(raw):
        raw.__qualname__ = f"matdiff.numpy.{name}"
        return raw

    return name_it


def no_out(fname, out):
    """Refuse ``out=``: writing into an existing array would lose the derivative."""
    if out is not None:
        raise TypeError(
            f"{fname}: out= is not supported by matdiff.numpy, because writing into an "
            f"existing array would lose its derivative; use the returned value instead "
            f"(y = np.{fname}(x, ...))"
        )


# ---------------------------------------------------------------- reshape and broadcast_to


def _reshape_raw(x, shape, order="C"):
    """``numpy.reshape``: the same elements in a new shape.

    >>> import matdiff.numpy as np
    >>> np.reshape(np.arange(6.0), (2, -1)).shape
    (2, 3)
    """
    # order only when asked: Dask's reshape has no such argument.
    return _np.reshape(x, shape) if order == "C" else _np.reshape(x, shape, order=order)


reshape = wrap(
    _reshape_raw,
    "reshape",
    vjp=lambda ans, x, shape, order="C": lambda g: reshape(g, shape_of(x), order=order),
    linear=True,
    batch=_batch.reshape,
)
alias("reshape", reshape)


def _broadcast_to_raw(x, shape):
    """``numpy.broadcast_to``: a read-only view of ``x`` broadcast to ``shape``.

    >>> import matdiff.numpy as np
    >>> np.broadcast_to(np.ones(3), (2, 3)).shape
    (2, 3)
    """
    return _np.broadcast_to(x, shape)


broadcast_to = wrap(
    _broadcast_to_raw,
    "broadcast_to",
    vjp=lambda ans, x, shape: lambda g: unbroadcast(x, g),
    linear=True,
    batch=_batch.broadcast_to,
)
alias("broadcast_to", broadcast_to)


# ---------------------------------------------------------------- sum


@numpy_name("sum")
def _sum_raw(x, axis=None, dtype=None, out=None, keepdims=False):
    """``numpy.sum`` over ``axis`` (int, tuple or None), with ``keepdims``.

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> grad(lambda x: np.sum(np.sum(x, axis=1) ** 2))(np.array([[1.0, 2.0], [0.0, 1.0]]))
    array([[6., 6.],
           [2., 2.]])
    """
    no_out("sum", out)
    return _np.sum(x, axis=axis, dtype=dtype, keepdims=keepdims)


sum = wrap(_sum_raw, "sum", lists=True, batch=_batch.reduction)
alias("sum", sum)


def real_for_real_input(maker):
    """``maker``, except that a real ``x`` reduced with a complex ``dtype`` gets a real
    cotangent: the dtype is a cast, and the cotangent of a real input is real (as with
    ``astype``). Every maker here takes ``(ans, x, axis, dtype, ...)``."""

    def wrapped(ans, x, *args, **kwargs):
        vjp = maker(ans, x, *args, **kwargs)
        dtype = kwargs.get("dtype", args[1] if len(args) > 1 else None)
        if dtype is None or is_complex(x):
            return vjp
        return lambda g: match_realness(x, vjp(g))

    return wrapped


def _sum_vjp(g, ans, x, axis=None, dtype=None, out=None, keepdims=False):
    g = expand_to(g, shape_of(x), axis, keepdims)
    return g if dtype is None else match_realness(x, g)


defvjp(sum, DirectVJP(_sum_vjp))
def_linear(sum)


# ---------------------------------------------------------------- multiply and real

_ndarray = _np.ndarray
_float64 = _np.float64


def times_to(like, g, factor):
    """``unbroadcast(like, multiply(g, factor))``, on NumPy directly in one call when all
    are plain arrays (or float scalars) of one shape and dtype: no trace holds those, so
    the primitive would make the same call (a product's cotangent, once per product in
    every backward pass)."""
    tg, tf = type(g), type(factor)
    if (tg is _ndarray or tg is _float64) and (tf is _ndarray or tf is float or tf is _float64):
        # NumPy's scalar product skips the ufunc machinery (a scalar loss's last factors).
        r = g * factor if tg is _float64 and tf is not _ndarray else _np.multiply(g, factor)
        tl = type(like)
        if (tl is _ndarray or tl is _float64) and r.shape == like.shape and r.dtype == like.dtype:
            return r
        return unbroadcast(like, r)
    return unbroadcast(like, multiply(g, factor))


multiply = wrap(
    _np.multiply,
    vjp=(
        DirectVJP(lambda g, ans, x, y: times_to(x, g, y)),
        DirectVJP(lambda g, ans, x, y: times_to(y, g, x)),
    ),
    jvp=(
        lambda g, ans, x, y: broadcast_tangent(multiply(g, y), ans),
        lambda g, ans, x, y: broadcast_tangent(multiply(x, g), ans),
    ),
)


def real_part_for(x, g):
    """The cotangent of ``x`` from ``g``, that of a real part taken of ``x``."""
    # A real input keeps the real part of its cotangent; a complex input gets a complex
    # one even where every path to it was real (grad of sum(real(z)) is 1 + 0j, not 1.0).
    if is_complex(x):
        return g if is_complex(g) else multiply(g, 1 + 0j)
    return real(g)


real = wrap(
    _np.real,
    vjp=lambda ans, x: lambda g: real_part_for(x, g),
    linear=True,
    batch=_batch.elementwise,
)

# ---------------------------------------------------------------- broadcasting rules


def sum_to_shape(g, target: tuple):
    """Sum ``g`` over the axes that broadcasting added or stretched to reach its shape."""
    gshape = shape_of(g)
    if gshape == target:
        return g
    extra = len(gshape) - len(target)
    if extra > 0:
        g = sum(g, axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(target) if n == 1 and gshape[extra + i] != 1)
    if axes:
        g = sum(g, axis=axes, keepdims=True)
    return g


def unbroadcast(x, g):
    """Sum ``g`` down to the shape of ``x`` (undoing broadcasting) and match realness."""
    # The backward pass of every binary op comes through here: plain arrays and float
    # scalars of one shape (the common case) return at once, without the general shape
    # and dtype tests, unless a complex cotangent meets a real input.
    tg, tx = type(g), type(x)
    if tg is _ndarray or tg is _float64:
        if tx is _ndarray or tx is _float64:
            if g.shape == x.shape and (g.dtype.kind != "c" or x.dtype.kind == "c"):
                return g
        elif tx is float and g.shape == () and g.dtype.kind != "c":
            return g
    elif tg is float and (tx is float or tx is _float64):
        return g
    return match_realness(x, sum_to_shape(g, shape_of(x)))


def match_realness(like, g):
    """``g`` as the cotangent of ``like``: its real part when ``like`` is real and ``g``
    complex (a real input's cotangent is real, whatever complex values it met)."""
    if is_complex(g) and not is_complex(like):
        return real(g)
    return g


def broadcast_tangent(g, ans):
    """A tangent of a broadcast argument, made the shape of the answer.

    A batched tangent (``matdiff.batching``) has leading batch axes beyond the answer's
    rank; they are kept.
    """
    gshape, ashape = shape_of(g), shape_of(ans)
    if gshape == ashape:
        return g
    extra = len(gshape) - len(ashape)
    if extra > 0:
        ashape = gshape[:extra] + ashape
        if gshape == ashape:
            # A batched tangent already of the answer's shape (a Hessian's sums).
            return g
    return broadcast_to(g, ashape)


def defvjp_unbroadcast(fun: Callable, *makers) -> None:
    """VJPs of a broadcasting binary function, each summed to its argument's shape."""

    def ub(argnum, maker):
        if maker is None:
            return None

        def m(ans, *args, **kwargs):
            vjp = maker(ans, *args, **kwargs)
            x = args[argnum]
            return lambda g: unbroadcast(x, vjp(g))

        return m

    defvjp(fun, *[ub(i, m) for i, m in enumerate(makers)])


def defjvp_broadcast(fun: Callable, *rules) -> None:
    """JVPs of a broadcasting function, each broadcast to the answer's shape."""

    def bc(rule):
        if rule is None:
            return None
        return lambda g, ans, *args, **kwargs: broadcast_tangent(rule(g, ans, *args, **kwargs), ans)

    defjvp(fun, *[bc(r) for r in rules])
