"""Reductions and scans with ``axis`` (int, tuple, negative or None) and ``keepdims``.

Each primitive computes its value with NumPy itself and has its rules right under it.
A reduced cotangent is broadcast back over the reduced axes (``expand_to``); a tangent
is reduced the way the value was. Conventions (ties of ``max``, the median of an even
count, zeros in ``prod``) are set out in ``docs/conventions.md``.
"""

from __future__ import annotations

from typing import Any

import numpy as _np

from ..core import DirectVJP, defjvp, defvjp
from ..tracer import box_types as _box_types
from ..tracer import branch
from ..tracer import getval as _getval
from . import _batch
from . import indexing as _ix
from . import manipulation as _shape
from . import products as _products
from . import ufuncs as _u
from ._broadcast import broadcast_scalar as _broadcast_scalar
from ._broadcast import expand_to, sum
from ._broadcast import match_realness as _match_realness
from ._broadcast import no_out as _no_out
from ._broadcast import normalize_axis as _normalize_axis
from ._broadcast import numpy_name as _numpy_name
from ._broadcast import real_for_real_input as _real_for_real_input
from ._wrap import alias, export, is_complex, lift_list, shape_of, wrap

# ``a`` and the results are arrays, numbers or traced values of them.
Axis = int | tuple[int, ...] | None


def _count(x_shape, axis):
    n = 1
    for a in _normalize_axis(axis, len(x_shape)):
        n *= x_shape[a]
    return n


def _real_dtype(xv):
    """The real floating dtype of ``xv``'s derivative weights (float32 stays float32).

    Reads ``.dtype`` rather than calling NumPy, so that it works on the duck arrays that
    staging passes as values.
    """
    dt = getattr(xv, "dtype", None)
    if dt is None:
        dt = _np.result_type(xv)
    if dt.kind == "c":
        return _np.finfo(dt).dtype
    return dt if dt.kind == "f" else _np.dtype(float)


def _as_weights(mask, xv):
    """A boolean mask as 0/1 weights in ``xv``'s real dtype, without a data-dependent branch."""
    dt = _real_dtype(xv)
    return _np.where(mask, dt.type(1), dt.type(0))


def _weighted_rules(fun, weights):
    """Rules of a reduction whose derivative is a constant weight array over ``x``.

    ``weights(x, ans, axis)`` (values only) gives d ans / d x; the VJP is the expanded
    cotangent times the weights and the JVP the reduction of the weighted tangent.
    """

    def vjp(ans, x, axis=None, out=None, overwrite_input=False, *, keepdims=False):
        w = weights(_getval(x), _getval(ans), axis, keepdims)
        return lambda g: _u.multiply(expand_to(g, shape_of(x), axis, keepdims), w)

    def jvp(g, ans, x, axis=None, out=None, overwrite_input=False, *, keepdims=False):
        w = weights(_getval(x), _getval(ans), axis, keepdims)
        return sum(_u.multiply(g, w), axis=axis, keepdims=keepdims)

    defvjp(fun, vjp)
    defjvp(fun, jvp)


# ---------------------------------------------------------------- sum and mean
# sum is made in _broadcast: the broadcasting rules are written with it.


@_numpy_name("mean")
def _mean_raw(x, axis=None, dtype=None, out=None, keepdims=False):
    """``numpy.mean`` over ``axis``, with ``keepdims``.

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> grad(lambda x: np.mean(x))(np.array([1.0, 5.0]))
    array([0.5, 0.5])
    """
    _no_out("mean", out)
    return _np.mean(x, axis=axis, dtype=dtype, keepdims=keepdims)


_ndarray = _np.ndarray
_PLAIN_0D = (_np.ndarray, _np.float64, _np.float32)


def _mean_vjp(g, ans, x, axis=None, dtype=None, out=None, keepdims=False):
    if axis is None and dtype is None and type(x) is _ndarray and type(g) in _PLAIN_0D:
        if not g.ndim and g.dtype.kind == "f":
            # The mean a loss ends in: its 0-d cotangent, divided, as a stride-0 view.
            return _broadcast_scalar(g[()] / x.size, x.shape)
    xs = shape_of(x)
    # Divide the reduced cotangent, then broadcast: one small division, not a pass over
    # the whole input.
    g = expand_to(_u.divide(g, _count(xs, axis)), xs, axis, keepdims)
    return g if dtype is None else _match_realness(x, g)


mean = wrap(
    _mean_raw,
    "mean",
    lists=True,
    vjp=DirectVJP(_mean_vjp),
    linear=True,
    batch=_batch.reduction,
)
alias("mean", mean)

# ---------------------------------------------------------------- NaN-ignoring sums


@_numpy_name("nansum")
def _nansum_raw(x, axis=None, dtype=None, out=None, keepdims=False):
    """``numpy.nansum``: NaN entries count as 0 and get a zero derivative.

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> grad(lambda x: np.nansum(x))(np.array([1.0, np.nan]))
    array([1., 0.])
    """
    _no_out("nansum", out)
    return _np.nansum(x, axis=axis, dtype=dtype, keepdims=keepdims)


def _zero_nans(x, g):
    # NaN entries of x are left out of the value, so they get no share of the derivative.
    return _u.where(_np.isnan(_getval(x)), 0.0, g)


nansum = wrap(
    _nansum_raw,
    "nansum",
    lists=True,
    vjp=_real_for_real_input(
        lambda ans, x, axis=None, dtype=None, out=None, keepdims=False: (
            lambda g: _zero_nans(x, expand_to(g, shape_of(x), axis, keepdims))
        )
    ),
    jvp=lambda g, ans, x, axis=None, dtype=None, out=None, keepdims=False: sum(
        _zero_nans(x, g), axis=axis, keepdims=keepdims
    ),
    batch=_batch.reduction,
)
alias("nansum", nansum)


def _nan_count(x, axis, keepdims):
    """How many non-NaN entries each reduction covers (values only, float)."""
    xv = _getval(x)
    return _np.sum(_as_weights(~_np.isnan(xv), xv), axis=axis, keepdims=keepdims)


@_numpy_name("nanmean")
def _nanmean_raw(x, axis=None, dtype=None, out=None, keepdims=False):
    """``numpy.nanmean``: the mean of the non-NaN entries; NaN entries get a zero derivative.

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> grad(lambda x: np.nanmean(x))(np.array([1.0, np.nan, 3.0]))
    array([0.5, 0. , 0.5])
    """
    _no_out("nanmean", out)
    return _np.nanmean(x, axis=axis, dtype=dtype, keepdims=keepdims)


nanmean = wrap(
    _nanmean_raw,
    "nanmean",
    lists=True,
    vjp=_real_for_real_input(
        lambda ans, x, axis=None, dtype=None, out=None, keepdims=False: (
            lambda g: _zero_nans(
                x,
                _u.divide(
                    expand_to(g, shape_of(x), axis, keepdims),
                    _nan_count(x, axis, keepdims=True),
                ),
            )
        )
    ),
    jvp=lambda g, ans, x, axis=None, dtype=None, out=None, keepdims=False: _u.divide(
        sum(_zero_nans(x, g), axis=axis, keepdims=keepdims), _nan_count(x, axis, keepdims)
    ),
    batch=_batch.reduction,
)
alias("nanmean", nanmean)

# ---------------------------------------------------------------- variance


@_numpy_name("var")
def _var_raw(x, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    """``numpy.var`` with ``ddof``; for complex ``x``, the variance of ``|x - mean|``.

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> grad(lambda x: np.var(x, ddof=1))(np.array([1.0, 3.0]))
    array([-2.,  2.])
    """
    _no_out("var", out)
    return _np.var(x, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims)


def _deviation_pairing(x, d, g):
    # var = sum |d|^2 / (n - ddof) with d = x - mean(x), and sum(d) = 0, so the gradient
    # is 2 d / (n - ddof) (2 conj(d) for complex x, by the df/dx - i df/dy convention)
    # and the JVP 2 Re(conj(d) dx) / (n - ddof).
    if is_complex(x):
        return _u.multiply(2.0, _u.real(_u.multiply(_u.conj(d), g)))
    return _u.multiply(2.0, _u.multiply(d, g))


def _deviation_cotangent(x, d, g):
    if is_complex(x):
        return _u.multiply(2.0, _u.multiply(g, _u.conj(d)))
    return _u.multiply(2.0, _u.multiply(g, d))


def _divisor(n, ddof):
    """``n - ddof``, or NaN where that is not positive.

    NumPy divides by ``max(n - ddof, 0)`` there, so the variance is NaN or infinite
    whatever the data: it has no derivative, and both modes say so with NaN rather than
    dividing by zero or by a negative count (docs/conventions.md).
    """
    if isinstance(n, int):
        return n - ddof if n - ddof > 0 else _np.nan
    c = n - ddof
    return _np.where(c > 0, c, _np.nan)


def _var_vjp(ans, x, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    def vjp(g):
        d = _u.subtract(x, mean(x, axis=axis, keepdims=True))
        ge = expand_to(g, shape_of(x), axis, keepdims)
        return _u.divide(_deviation_cotangent(x, d, ge), _divisor(_count(shape_of(x), axis), ddof))

    return vjp


def _var_jvp(g, ans, x, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    d = _u.subtract(x, mean(x, axis=axis, keepdims=True))
    t = sum(_deviation_pairing(x, d, g), axis=axis, keepdims=keepdims)
    return _u.divide(t, _divisor(_count(shape_of(x), axis), ddof))


var = wrap(
    _var_raw,
    "var",
    lists=True,
    vjp=_real_for_real_input(_var_vjp),
    jvp=_var_jvp,
    batch=_batch.reduction,
)
alias("var", var)


@_numpy_name("nanvar")
def _nanvar_raw(x, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    """``numpy.nanvar``: the variance of the non-NaN entries; NaN entries get a zero derivative.

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> grad(lambda x: np.nanvar(x))(np.array([1.0, np.nan, 3.0]))
    array([-1.,  0.,  1.])
    """
    _no_out("nanvar", out)
    return _np.nanvar(x, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims)


def _nan_deviation(x, axis):
    return _zero_nans(x, _u.subtract(x, nanmean(x, axis=axis, keepdims=True)))


def _nanvar_vjp(ans, x, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    def vjp(g):
        d = _nan_deviation(x, axis)
        ge = expand_to(g, shape_of(x), axis, keepdims)
        return _u.divide(_deviation_cotangent(x, d, ge), _divisor(_nan_count(x, axis, True), ddof))

    return vjp


def _nanvar_jvp(g, ans, x, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    d = _nan_deviation(x, axis)
    t = sum(_deviation_pairing(x, d, _zero_nans(x, g)), axis=axis, keepdims=keepdims)
    return _u.divide(t, _divisor(_nan_count(x, axis, keepdims), ddof))


nanvar = wrap(
    _nanvar_raw,
    "nanvar",
    lists=True,
    vjp=_real_for_real_input(_nanvar_vjp),
    jvp=_nanvar_jvp,
    batch=_batch.reduction,
)
alias("nanvar", nanvar)


@export
def std(
    a: Any,
    axis: Axis = None,
    dtype=None,
    out: None = None,
    ddof: int = 0,
    keepdims: bool = False,
) -> Any:
    """``numpy.std``: ``sqrt(var(a, ...))``, which is how NumPy computes it too.

    The standard deviation of one entry is identically 0, and so is its derivative.
    Elsewhere, where the variance is 0 (a kink: every entry equal), the derivative of
    the square root is infinite and the result NaN (see docs/conventions.md), as in JAX
    and autograd.

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> grad(lambda x: np.std(x))(np.array([1.0, 3.0]))
    array([-0.5,  0.5])
    """
    _no_out("std", out)
    a = lift_list(a)
    v = var(a, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims)
    if _count(shape_of(a), axis) == 1 and ddof < 1:
        # var is the constant 0 here, with derivative 0 at every order: sqrt(0) would
        # multiply that 0 by sqrt's infinite slope.
        return v
    return _u.sqrt(v)


@export
def nanstd(
    a: Any,
    axis: Axis = None,
    dtype=None,
    out: None = None,
    ddof: int = 0,
    keepdims: bool = False,
) -> Any:
    """``numpy.nanstd``: ``sqrt(nanvar(a, ...))``; NaN entries get a zero derivative.

    A slice with one number is identically 0 (as ``std`` of one entry), with derivative 0.

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> grad(lambda x: np.nanstd(x))(np.array([1.0, np.nan, 3.0]))
    array([-0.5,  0. ,  0.5])
    """
    _no_out("nanstd", out)
    a = lift_list(a)
    v = nanvar(a, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims)
    if ddof >= 1:
        return _u.sqrt(v)
    # Slices with one number have variance identically 0: they keep nanvar's 0 (and
    # its zero derivative) instead of going through sqrt's infinite slope at 0.
    single = _np.equal(_nan_count(a, axis, keepdims), 1)
    return _u.where(single, v, _u.sqrt(_u.where(single, 1.0, v)))


# ---------------------------------------------------------------- max and min


def _extremum_weights(xv, av, axis, keepdims):
    # Every entry equal to the extremum shares the cotangent evenly, so the shares sum
    # to 1 and max-subtraction tricks (logsumexp) keep an exact gradient. A NaN answer
    # (NaN propagates) is shared among the NaN entries.
    if not keepdims:
        av = _np.expand_dims(av, _normalize_axis(axis, len(_np.shape(xv))))
    hit = _np.logical_or(_np.equal(xv, av), _np.logical_and(_np.isnan(xv), _np.isnan(av)))
    w = _as_weights(hit, xv)
    return w / _np.sum(w, axis=axis, keepdims=True)


@_numpy_name("max")
def _max_raw(x, axis=None, out=None, *, keepdims=False):
    """``numpy.max``; entries tied for the maximum share the derivative evenly.

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> grad(lambda x: np.max(x))(np.array([3.0, 1.0, 3.0]))
    array([0.5, 0. , 0.5])
    """
    _no_out("max", out)
    return _np.max(x, axis=axis, keepdims=keepdims)


@_numpy_name("min")
def _min_raw(x, axis=None, out=None, *, keepdims=False):
    """``numpy.min``; entries tied for the minimum share the derivative evenly.

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> grad(lambda x: np.sum(np.min(x, axis=0)))(np.array([[1.0, 4.0], [2.0, 0.0]]))
    array([[1., 0.],
           [0., 1.]])
    """
    _no_out("min", out)
    return _np.min(x, axis=axis, keepdims=keepdims)


max = wrap(_max_raw, "max", lists=True, batch=_batch.reduction)
alias("max", max)
amax = alias("amax", max)
_weighted_rules(max, _extremum_weights)

min = wrap(_min_raw, "min", lists=True, batch=_batch.reduction)
alias("min", min)
amin = alias("amin", min)
_weighted_rules(min, _extremum_weights)


@export
def ptp(a: Any, axis: Axis = None, out: None = None, keepdims: bool = False) -> Any:
    """``numpy.ptp``: ``max(a) - min(a)`` (ties share as in ``max``).

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> grad(lambda x: np.ptp(x))(np.array([1.0, 4.0, 2.0]))
    array([-1.,  1.,  0.])
    """
    _no_out("ptp", out)
    return _u.subtract(max(a, axis=axis, keepdims=keepdims), min(a, axis=axis, keepdims=keepdims))


# ---------------------------------------------------------------- median


def _median_weights(xv, av, axis, keepdims):
    # The median is the middle entry (odd count) or the mean of the two middle ones
    # (even count). Each middle value's share (1, or 1/2 each) is split evenly among the
    # entries equal to it, as ties are in max. A NaN median is shared among the NaNs.
    shape = _np.shape(xv)
    axes = _normalize_axis(axis, len(shape))
    rest = [i for i in range(len(shape)) if i not in axes]
    perm = rest + list(axes)
    n = _count(shape, axis)
    moved_shape = tuple(shape[i] for i in perm)
    flat = _np.reshape(_np.transpose(xv, perm), moved_shape[: len(rest)] + (n,))
    s = _np.sort(flat, axis=-1)
    eq_lo = _as_weights(_np.equal(flat, s[..., (n - 1) // 2 : (n - 1) // 2 + 1]), xv)
    eq_hi = _as_weights(_np.equal(flat, s[..., n // 2 : n // 2 + 1]), xv)
    nan = _as_weights(_np.isnan(flat), xv)
    nan_count = _np.sum(nan, axis=-1, keepdims=True)
    with _np.errstate(invalid="ignore", divide="ignore"):
        w = 0.5 * eq_lo / _np.sum(eq_lo, axis=-1, keepdims=True)
        w = w + 0.5 * eq_hi / _np.sum(eq_hi, axis=-1, keepdims=True)
    w = _np.where(nan_count > 0, nan / _np.maximum(nan_count, 1), w)
    return _np.transpose(_np.reshape(w, moved_shape), tuple(int(i) for i in _np.argsort(perm)))


@_numpy_name("median")
def _median_raw(x, axis=None, out=None, overwrite_input=False, *, keepdims=False):
    """``numpy.median``: the derivative goes to the middle entry (or half to each of two).

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> grad(lambda x: np.median(x))(np.array([4.0, 1.0, 3.0, 2.0]))
    array([0. , 0. , 0.5, 0.5])
    """
    _no_out("median", out)
    return _np.median(x, axis=axis, keepdims=keepdims)


median = wrap(_median_raw, "median", lists=True, batch=_batch.reduction)
alias("median", median)
_weighted_rules(median, _median_weights)

# ---------------------------------------------------------------- average


@export
def average(
    a: Any,
    axis: Axis = None,
    weights: Any = None,
    returned: bool = False,
    *,
    keepdims: bool = False,
) -> Any:
    """``numpy.average``, differentiable in ``a`` and in ``weights``.

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> w = np.array([1.0, 3.0])
    >>> grad(lambda w: np.average(np.array([2.0, 4.0]), weights=w))(w)
    array([-0.375,  0.125])
    """
    if weights is None:
        avg = mean(a, axis=axis, keepdims=keepdims)
        scl = _np.full(shape_of(avg), float(_count(shape_of(a), axis)))
        return (avg, scl) if returned else avg
    a_shape, w_shape = shape_of(a), shape_of(weights)
    w = weights
    if a_shape != w_shape:
        if axis is None:
            raise TypeError(
                f"average: a has shape {a_shape} and weights {w_shape}; when they differ, "
                "pass axis= to say which axis of a the 1-D weights run along"
            )
        if len(w_shape) != 1 or not isinstance(axis, int):
            raise TypeError(
                f"average: weights of shape {w_shape} differ from a's shape {a_shape}, so "
                "they must be 1-D and axis a single int; broadcast them to a's shape instead"
            )
        ax = axis % len(a_shape)
        if w_shape[0] != a_shape[ax]:
            raise ValueError(
                f"average: weights has length {w_shape[0]} but a has {a_shape[ax]} entries "
                f"along axis {axis}; they must match"
            )
        w = _shape.reshape(w, tuple(n if i == ax else 1 for i, n in enumerate(a_shape)))
    scl = sum(w, axis=axis, keepdims=keepdims)
    scl_value = _getval(scl)
    # NumPy's check; a value that is not concrete (a staged program) cannot be tested.
    if isinstance(scl_value, _np.ndarray | _np.generic) and _np.any(scl_value == 0):
        raise ZeroDivisionError("average: the weights sum to zero, so they cannot be normalized")
    avg = _u.divide(sum(_u.multiply(a, w), axis=axis, keepdims=keepdims), scl)
    if not returned:
        return avg
    if shape_of(scl) != shape_of(avg):
        scl = _shape.broadcast_to(scl, shape_of(avg))
    return avg, scl


# ---------------------------------------------------------------- scans and products
# cumsum is linear: its VJP is the reversed cumulative sum. cumprod and prod must stay
# exact where entries are 0, so their rules never divide by x. They are written with
# a Hillis-Steele scan of the linear recurrence h_i = a_i h_(i-1) + b_i over wrapped
# primitives (O(n log n) work, log n steps), which keeps them differentiable to any order.


def _along(nd, axis, index):
    return (slice(None),) * axis + (index,) + (slice(None),) * (nd - axis - 1)


def _flip(x, axis):
    return _ix.getitem(x, _along(len(shape_of(x)), axis, slice(None, None, -1)))


def _shift(x, s, fill, axis):
    """``x`` moved ``s`` places forward along ``axis``; the first ``s`` entries are ``fill``."""
    shape = shape_of(x)
    n = shape[axis]
    positions = _np.arange(n)
    taken = _ix.getitem(x, _along(len(shape), axis, _np.maximum(positions - s, 0)))
    keep = (positions >= s).reshape((n,) + (1,) * (len(shape) - axis - 1))
    return _u.where(keep, taken, fill)


def _linear_recurrence(a, b, axis):
    """h with h_i = a_i h_(i-1) + b_i along ``axis`` and h_(-1) = 0."""
    n = shape_of(b)[axis]
    s = 1
    while s < n:
        # Compose each affine map with the one covering the s entries before it.
        b = _u.add(_u.multiply(a, _shift(b, s, 0.0, axis)), b)
        if 2 * s < n:
            a = _u.multiply(a, _shift(a, s, 1.0, axis))
        s *= 2
    return b


def _scan_axis(x, axis):
    """``(x, axis)`` for a scan: ``axis=None`` scans the flattened array."""
    if axis is None:
        return _shape.reshape(x, (-1,)), 0
    return x, axis % len(shape_of(x))


@_numpy_name("cumsum")
def _cumsum_raw(x, axis=None, dtype=None, out=None):
    """``numpy.cumsum`` along ``axis`` (``None``: the flattened array).

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> grad(lambda x: np.sum(np.cumsum(x)))(np.array([1.0, 1.0, 1.0]))
    array([3., 2., 1.])
    """
    _no_out("cumsum", out)
    return _np.cumsum(x, axis=axis, dtype=dtype)


def _cumsum_vjp(ans, x, axis=None, dtype=None, out=None):
    def vjp(g):
        ax = 0 if axis is None else axis % len(shape_of(x))
        rev = _flip(cumsum(_flip(g, ax), axis=ax), ax)
        return _shape.reshape(rev, shape_of(x)) if axis is None else rev

    return vjp


cumsum = wrap(
    _cumsum_raw,
    "cumsum",
    lists=True,
    vjp=_real_for_real_input(_cumsum_vjp),
    linear=True,
    batch=_batch.cumulative,
)
alias("cumsum", cumsum)


@_numpy_name("cumprod")
def _cumprod_raw(x, axis=None, dtype=None, out=None):
    """``numpy.cumprod``; its derivatives never divide by ``x``, so zeros are fine.

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> grad(lambda x: np.sum(np.cumprod(x)))(np.array([2.0, 0.0, 3.0]))
    array([1., 8., 0.])
    """
    _no_out("cumprod", out)
    return _np.cumprod(x, axis=axis, dtype=dtype)


def _cumprod_jvp(g, ans, x, axis=None, dtype=None, out=None):
    # C_i = C_(i-1) x_i, so dC_i = x_i dC_(i-1) + C_(i-1) dx_i.
    xs, ax = _scan_axis(x, axis)
    gs, _ = _scan_axis(g, axis)
    return _linear_recurrence(xs, _u.multiply(_shift(ans, 1, 1.0, ax), gs), ax)


def _cumprod_vjp(ans, x, axis=None, dtype=None, out=None):
    # Transpose of the JVP: xbar_j = C_(j-1) T_j with T_j = g_j + x_(j+1) T_(j+1), the
    # same recurrence run backwards.
    def vjp(g):
        xs, ax = _scan_axis(x, axis)
        rx = _flip(xs, ax)
        t = _flip(_linear_recurrence(_shift(rx, 1, 0.0, ax), _flip(g, ax), ax), ax)
        ct = _u.multiply(_shift(ans, 1, 1.0, ax), t)
        return _shape.reshape(ct, shape_of(x)) if axis is None else ct

    return vjp


cumprod = wrap(
    _cumprod_raw,
    "cumprod",
    lists=True,
    vjp=_real_for_real_input(_cumprod_vjp),
    jvp=_cumprod_jvp,
    batch=_batch.cumulative,
)
alias("cumprod", cumprod)


def _product_of_others(x, axis):
    """For each entry, the product of the other entries it is reduced with (no division)."""
    shape = shape_of(x)
    axes = _normalize_axis(axis, len(shape))
    rest = [i for i in range(len(shape)) if i not in axes]
    perm = tuple(rest + list(axes))
    moved = x if perm == tuple(range(len(shape))) else _shape.transpose(x, perm)
    n = _count(shape, axis)
    flat = _shape.reshape(moved, tuple(shape[i] for i in rest) + (n,))
    ax = len(rest)
    before = _shift(cumprod(flat, axis=ax), 1, 1.0, ax)
    after = _flip(_shift(cumprod(_flip(flat, ax), axis=ax), 1, 1.0, ax), ax)
    others = _shape.reshape(_u.multiply(before, after), tuple(shape[i] for i in perm))
    if moved is x:
        return others
    return _shape.transpose(others, tuple(int(i) for i in _np.argsort(perm)))


@_numpy_name("prod")
def _prod_raw(x, axis=None, dtype=None, out=None, keepdims=False):
    """``numpy.prod``; exact where entries are 0 (the derivative never divides by ``x``).

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> grad(lambda x: np.prod(x))(np.array([2.0, 0.0, 3.0]))
    array([0., 6., 0.])
    """
    _no_out("prod", out)
    return _np.prod(x, axis=axis, dtype=dtype, keepdims=keepdims)


def _prod_vjp(ans, x, axis=None, dtype=None, out=None, keepdims=False):
    return lambda g: _u.multiply(
        expand_to(g, shape_of(x), axis, keepdims), _product_of_others(x, axis)
    )


def _prod_jvp(g, ans, x, axis=None, dtype=None, out=None, keepdims=False):
    return sum(_u.multiply(g, _product_of_others(x, axis)), axis=axis, keepdims=keepdims)


prod = wrap(
    _prod_raw,
    "prod",
    lists=True,
    vjp=_real_for_real_input(_prod_vjp),
    jvp=_prod_jvp,
    batch=_batch.reduction,
)
alias("prod", prod)


# ---------------------------------------------------------------- NaN-skipping variants
# Each fills the NaN entries with the operation's neutral value (a constant, so they get
# no share of the derivative) and runs the ordinary reduction or scan.


def _nan_filled(x, fill):
    xv = _getval(x)
    mask = _np.isnan(xv)
    return _u.where(mask, fill, x) if branch(mask.any()) else x


def _nan_extremum(fname, reduce, fill, a, axis, out, keepdims):
    _no_out(fname, out)
    res = reduce(_nan_filled(a, fill), axis=axis, keepdims=keepdims)
    all_nan = _np.all(_np.isnan(_getval(a)), axis=axis, keepdims=keepdims)
    if branch(_np.any(all_nan)):
        # NumPy's value for a slice with no numbers (it also warns); no derivative.
        res = _u.where(all_nan, _np.nan, res)
    return res


@export
def nanmax(a: Any, axis: Axis = None, out: None = None, keepdims: bool = False) -> Any:
    """``numpy.nanmax``: the maximum ignoring NaN; the derivative goes to the maximum.

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> grad(lambda x: np.nanmax(x))(np.array([1.0, np.nan, 3.0]))
    array([0., 0., 1.])
    """
    return _nan_extremum("nanmax", max, -_np.inf, a, axis, out, keepdims)


@export
def nanmin(a: Any, axis: Axis = None, out: None = None, keepdims: bool = False) -> Any:
    """``numpy.nanmin``: the minimum ignoring NaN; the derivative goes to the minimum.

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> grad(lambda x: np.nanmin(x))(np.array([1.0, np.nan, 3.0]))
    array([1., 0., 0.])
    """
    return _nan_extremum("nanmin", min, _np.inf, a, axis, out, keepdims)


@export
def nanprod(a: Any, axis: Axis = None, dtype=None, out: None = None, keepdims: bool = False) -> Any:
    """``numpy.nanprod``: the product with NaN entries counted as 1.

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> grad(lambda x: np.nanprod(x))(np.array([2.0, np.nan, 3.0]))
    array([3., 0., 2.])
    """
    _no_out("nanprod", out)
    return prod(_nan_filled(a, 1.0), axis=axis, dtype=dtype, keepdims=keepdims)


@export
def nancumsum(a: Any, axis: int | None = None, dtype=None, out: None = None) -> Any:
    """``numpy.nancumsum``: the running sum with NaN entries counted as 0.

    >>> import matdiff.numpy as np
    >>> np.nancumsum(np.array([1.0, np.nan, 2.0]))
    array([1., 1., 3.])
    """
    _no_out("nancumsum", out)
    return cumsum(_nan_filled(a, 0.0), axis=axis, dtype=dtype)


@export
def nancumprod(a: Any, axis: int | None = None, dtype=None, out: None = None) -> Any:
    """``numpy.nancumprod``: the running product with NaN entries counted as 1.

    >>> import matdiff.numpy as np
    >>> np.nancumprod(np.array([2.0, np.nan, 3.0]))
    array([2., 2., 6.])
    """
    _no_out("nancumprod", out)
    return cumprod(_nan_filled(a, 1.0), axis=axis, dtype=dtype)


# ---------------------------------------------------------------- array-API scans


def _cumulative(fname, scan, initial, x, axis, dtype, out, include_initial):
    _no_out(fname, out)
    nd = len(shape_of(x))
    if axis is None:
        if nd > 1:
            raise ValueError(
                f"{fname}: axis must be given for an array of {nd} dimensions; pass axis=k "
                f"(or np.ravel(x) first)"
            )
        axis = 0
    if nd == 0:
        raise ValueError(f"{fname}: needs an array of at least 1 dimension, got a scalar")
    res = scan(x, axis=axis, dtype=dtype)
    if not include_initial:
        return res
    s = list(shape_of(res))
    s[axis % nd] = 1
    start = _np.full(s, initial, dtype=_np.result_type(_getval(res)))
    return _shape.concatenate([start, res], axis=axis)


@export
def cumulative_sum(
    x: Any, /, *, axis: int | None = None, dtype=None, out: None = None, include_initial=False
) -> Any:
    """``numpy.cumulative_sum``: ``cumsum`` with an optional leading 0 (``include_initial``).

    >>> import matdiff.numpy as np
    >>> np.cumulative_sum(np.array([1.0, 2.0]), include_initial=True)
    array([0., 1., 3.])
    """
    return _cumulative("cumulative_sum", cumsum, 0, x, axis, dtype, out, include_initial)


@export
def cumulative_prod(
    x: Any, /, *, axis: int | None = None, dtype=None, out: None = None, include_initial=False
) -> Any:
    """``numpy.cumulative_prod``: ``cumprod`` with an optional leading 1 (``include_initial``).

    >>> import matdiff.numpy as np
    >>> np.cumulative_prod(np.array([2.0, 3.0]), include_initial=True)
    array([1., 2., 6.])
    """
    return _cumulative("cumulative_prod", cumprod, 1, x, axis, dtype, out, include_initial)


# ---------------------------------------------------------------- integration


@export
def trapezoid(y: Any, x: Any = None, dx: Any = 1.0, axis: int = -1) -> Any:
    """``numpy.trapezoid``: the trapezoidal rule along ``axis``, differentiable in ``y``,
    in the sample points ``x`` and in the spacing ``dx``.

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> grad(lambda y: np.trapezoid(y))(np.array([1.0, 2.0, 4.0]))
    array([0.5, 1. , 0.5])
    """
    nd = len(shape_of(y))
    ax = axis % nd if nd else 0
    if nd == 0:
        raise ValueError("trapezoid: y must have at least 1 dimension, got a scalar")
    if x is None:
        d = dx
    elif len(shape_of(x)) == 1:
        d = _shape.diff(x)
        s = [1] * nd
        s[ax] = shape_of(d)[0]
        d = _shape.reshape(d, tuple(s))
    else:
        d = _shape.diff(x, axis=axis)
    lo = (slice(None),) * ax + (slice(None, -1),)
    hi = (slice(None),) * ax + (slice(1, None),)
    pairs = _u.add(_ix.getitem(y, hi), _ix.getitem(y, lo))
    return sum(_u.divide(_u.multiply(d, pairs), 2.0), axis=ax)


trapz = alias("trapz", trapezoid)


# ---------------------------------------------------------------- statistics of samples


def _as_rows(x, rowvar):
    """``x`` as a 2-D array of variables (rows) by observations (columns), as NumPy's cov."""
    x = _shape.atleast_2d(x if _is_traced(x) else _np.asarray(x))
    if not rowvar and shape_of(x)[0] != 1:
        x = _shape.transpose(x)
    return x


def _is_traced(x) -> bool:
    return type(x) in _box_types


@export
def cov(
    m: Any,
    y: Any = None,
    rowvar: bool = True,
    bias: bool = False,
    ddof: int | None = None,
    fweights: Any = None,
    aweights: Any = None,
    *,
    dtype=None,
) -> Any:
    """``numpy.cov``: the covariance matrix, differentiable in ``m``, ``y`` and ``aweights``
    (``fweights`` are integer counts, constants).

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> grad(lambda x: np.cov(x))(np.array([1.0, 2.0, 3.0]))  # 2 (x - mean) / (n - 1)
    array([-1.,  0.,  1.])
    """
    x = _as_rows(m, rowvar)
    if y is not None:
        x = _shape.concatenate([x, _as_rows(y, rowvar)], axis=0)
    # NumPy computes a covariance in at least double precision.
    x = _u.astype(x, dtype if dtype is not None else _np.result_type(_getval(x), _np.float64))
    if ddof is None:
        ddof = 0 if bias else 1
    n = shape_of(x)[1]
    w = None
    if fweights is not None:
        fw = _np.asarray(_getval(fweights))
        if fw.ndim != 1 or fw.shape[0] != n or _np.any(fw < 0) or fw.dtype.kind not in "iu":
            raise ValueError(
                f"cov: fweights must be 1-D non-negative integers of length {n} (one per "
                f"observation), got shape {fw.shape} and dtype {fw.dtype}"
            )
        w = fw.astype(float)
    if aweights is not None:
        if len(shape_of(aweights)) != 1 or shape_of(aweights)[0] != n:
            raise ValueError(
                f"cov: aweights must be 1-D of length {n} (one per observation), got shape "
                f"{shape_of(aweights)}"
            )
        if _np.any(_np.asarray(_getval(aweights)) < 0):
            raise ValueError("cov: aweights cannot be negative")
        w = aweights if w is None else _u.multiply(w, aweights)
    if w is None:
        avg = mean(x, axis=1, keepdims=True)
        fact = n - ddof
    else:
        avg, w_sum = average(x, axis=1, weights=w, returned=True, keepdims=True)
        w_sum = _ix.getitem(w_sum, (0, 0))
        if ddof == 0:
            fact = w_sum
        elif aweights is None:
            fact = _u.subtract(w_sum, ddof)
        else:
            spread = _u.divide(sum(_u.multiply(w, aweights)), w_sum)
            fact = _u.subtract(w_sum, _u.multiply(ddof, spread))
    if _np.all(_np.asarray(_getval(fact)) <= 0):
        raise ValueError(
            f"cov: the degrees of freedom are {_getval(fact)} (observations minus ddof={ddof}); "
            "pass more observations or a smaller ddof"
        )
    xc = _u.subtract(x, avg)
    xw = xc if w is None else _u.multiply(xc, w)
    c = _u.divide(_products.matmul(xc, _u.conj(_shape.transpose(xw))), fact)
    return _shape.squeeze(c)


@export
def corrcoef(x: Any, y: Any = None, rowvar: bool = True, *, dtype=None) -> Any:
    """``numpy.corrcoef``: Pearson correlation coefficients, differentiable in ``x`` and ``y``.

    The values are clipped to [-1, 1] as NumPy does; at the bounds the derivative passes
    (``clip``'s convention), which matters only for rounding on the diagonal.

    >>> import matdiff.numpy as np
    >>> np.corrcoef(np.array([[1.0, 2.0, 4.0], [2.0, 4.0, 8.0]]))
    array([[1., 1.],
           [1., 1.]])
    """
    c = cov(x, y, rowvar, dtype=dtype)
    if len(shape_of(c)) == 0:
        return _u.divide(c, c)
    sd = _u.sqrt(_u.real(_shape.diagonal(c)))
    c = _u.divide(_u.divide(c, _shape.reshape(sd, (-1, 1))), _shape.reshape(sd, (1, -1)))
    if is_complex(c):
        return _u.add(_u.clip(_u.real(c), -1, 1), _u.multiply(1j, _u.clip(_u.imag(c), -1, 1)))
    return _u.clip(c, -1, 1)


def _lerp(a, b, t, tv):
    # NumPy's two-sided lerp: from a for t < 0.5 and from b above, for the same rounding.
    d = _u.subtract(b, a)
    low = _u.add(a, _u.multiply(d, t))
    high = _u.subtract(b, _u.multiply(d, _u.subtract(1.0, t)))
    return _u.where(tv >= 0.5, high, low)


@export
def quantile(
    a: Any,
    q: Any,
    axis: Axis = None,
    out: None = None,
    overwrite_input: bool = False,
    method: str = "linear",
    keepdims: bool = False,
    *,
    weights: Any = None,
    interpolation: str | None = None,
) -> Any:
    """``numpy.quantile`` with the default ``method='linear'``, differentiable in ``a`` and
    ``q``: the two order statistics around each position share the derivative in the
    interpolation's proportion.

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> grad(lambda x: np.quantile(x, 0.25))(np.array([3.0, 1.0, 2.0]))
    array([0. , 0.5, 0.5])
    """
    _no_out("quantile", out)
    method = interpolation or method
    if not (_is_traced(a) or _is_traced(q)):
        return _np.quantile(a, q, axis=axis, method=method, keepdims=keepdims, weights=weights)
    if method != "linear" or weights is not None:
        raise NotImplementedError(
            f"quantile: only method='linear' without weights is differentiable here, got "
            f"method={method!r}{' with weights' if weights is not None else ''}; sort the "
            "values (np.sort) and index the order statistics you need instead"
        )
    qv = _np.asarray(_getval(q), dtype=float)
    if _np.any((qv < 0) | (qv > 1)):
        raise ValueError(f"quantile: q must be in [0, 1], got {qv}")
    a_shape = shape_of(a)
    nd = len(a_shape)
    axes = _normalize_axis(axis, nd)
    if len(axes) == 1:
        x, ax = a, axes[0]
    else:
        # Several axes (or all): move them last and merge them into one.
        k = len(axes)
        x = _shape.moveaxis(a, axes, tuple(range(nd - k, nd)))
        x = _shape.reshape(x, shape_of(x)[: nd - k] + (-1,))
        ax = nd - k
    n = shape_of(x)[ax]
    s = _ix.sort(x, axis=ax)
    pos_v = qv * (n - 1)
    lo = _np.clip(_np.floor(pos_v).astype(int), 0, n - 1)
    hi = _np.minimum(lo + 1, n - 1)
    # NumPy's result dtype: the data's and q's, with a Python number for q being weak.
    out_dtype = _np.result_type(_getval(x), q if isinstance(q, float | int) else qv)
    t = _u.astype(_u.subtract(_u.multiply(q, n - 1), lo), out_dtype)
    tv = pos_v - lo
    # Order statistics gathered at q's positions (q's axes where ``ax`` was), then q's
    # axes moved to the front, as NumPy lays out the result.
    qnd = qv.ndim
    lead = (slice(None),) * ax
    lo_vals, hi_vals = _ix.getitem(s, lead + (lo,)), _ix.getitem(s, lead + (hi,))
    if qnd:
        moved = tuple(range(ax, ax + qnd))
        lo_vals = _shape.moveaxis(lo_vals, moved, tuple(range(qnd)))
        hi_vals = _shape.moveaxis(hi_vals, moved, tuple(range(qnd)))
    rest = len(shape_of(lo_vals)) - qnd
    t_b = _shape.reshape(t, qv.shape + (1,) * rest)
    res = _lerp(lo_vals, hi_vals, t_b, _np.reshape(tv, qv.shape + (1,) * rest))
    has_nan = _np.any(_np.isnan(_getval(x)), axis=ax)
    if branch(_np.any(has_nan)):
        res = _u.where(has_nan, _np.nan, res)  # NumPy's answer for a slice with NaN
    if keepdims:
        kept = [1 if i in axes else n_i for i, n_i in enumerate(a_shape)]
        res = _shape.reshape(res, qv.shape + tuple(kept))
    return res


@export
def percentile(
    a: Any,
    q: Any,
    axis: Axis = None,
    out: None = None,
    overwrite_input: bool = False,
    method: str = "linear",
    keepdims: bool = False,
    *,
    weights: Any = None,
    interpolation: str | None = None,
) -> Any:
    """``numpy.percentile``: :func:`quantile` with ``q`` in percent.

    >>> import matdiff.numpy as np
    >>> np.percentile(np.array([1.0, 2.0, 3.0, 4.0]), 50.0)
    np.float64(2.5)
    """
    _no_out("percentile", out)
    if not (_is_traced(a) or _is_traced(q)):
        return _np.percentile(
            a, q, axis=axis, method=interpolation or method, keepdims=keepdims, weights=weights
        )
    # A Python number stays one, so that it stays weak in the result's dtype.
    q100 = q / 100 if isinstance(q, float | int) else _u.true_divide(q, 100)
    return quantile(
        a,
        q100,
        axis=axis,
        method=method,
        keepdims=keepdims,
        weights=weights,
        interpolation=interpolation,
    )
