"""Elementwise functions and their rules, each right under its wrapper.

VJP makers: ``(ans, *args) -> g -> cotangent``; JVP rules: ``(g, ans, *args) -> tangent``.
Binary functions broadcast, so their VJPs sum back to each argument's shape
(``_ub``, i.e. ``unbroadcast``) and their JVPs broadcast up to the answer's shape (``_bt``).

Complex numbers follow autograd and JAX: a cotangent rule is the transpose of the
holomorphic derivative (``g * f'(z)``, no conjugate); for a real-valued function of
complex ``z`` the gradient is ``df/dx - i df/dy`` (so ``grad(|z|**2) == 2 * conj(z)``);
a real input keeps the real part of its cotangent. The conventions at kinks (``abs`` at
0, ``maximum`` at ties, ``clip`` at its bounds, ``sqrt`` at 0, ``where``) are set out in
``docs/conventions.md``.

Rules only ever call raw NumPy on values that were explicitly ``getval``'d to build
constant masks and weights; everything else goes through the wrapped functions so that
the rules can themselves be differentiated.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as _np

from .. import backends as _backends
from ..core import DirectVJP, defjvp, defvjp
from ..errors import StagingError, user_site
from ..tracer import box_types
from ..tracer import getval as _getval
from . import _batch
from ._broadcast import broadcast_tangent as _bt
from ._broadcast import multiply, real
from ._broadcast import real_part_for as _real_part_for
from ._broadcast import unbroadcast as _ub
from ._wrap import alias, export, is_complex, is_concrete, wrap

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_PI = math.pi


def _real_dtype(like):
    """The real floating dtype for constant weights derived from ``like``.

    Reads ``.dtype`` rather than calling NumPy, so that it works on the duck arrays that
    staging passes as values; float32 stays float32.
    """
    dt = getattr(like, "dtype", None)
    if dt is None or dt.kind not in "fc":
        return _np.dtype(float)
    return _np.finfo(dt).dtype if dt.kind == "c" else dt


def _unary(raw, scale):
    """The elementwise primitive for ``raw`` whose derivative acts as ``scale(g, ans, x)``.

    ``scale`` is g times f'(x), written once: a one-argument elementwise derivative is a
    scalar at each entry, so the same product is both the JVP and the VJP (for complex x,
    the transpose of the holomorphic derivative, with no conjugate).
    """
    return wrap(raw, vjp=DirectVJP(scale), jvp=scale, batch=_batch.elementwise)


# ---------------------------------------------------------------- arithmetic
# add, subtract, multiply, divide and negative are the per-operation hot path: their
# rules are one or two wrapped calls and never test dtypes beyond what ``_ub`` does.

add = wrap(
    _np.add,
    vjp=(DirectVJP(lambda g, ans, x, y: _ub(x, g)), DirectVJP(lambda g, ans, x, y: _ub(y, g))),
    jvp=(lambda g, ans, x, y: _bt(g, ans), lambda g, ans, x, y: _bt(g, ans)),
)

negative = wrap(_np.negative, vjp=lambda ans, x: negative, linear=True)

positive = wrap(_np.positive, vjp=lambda ans, x: positive, linear=True)

subtract = wrap(
    _np.subtract,
    vjp=(
        DirectVJP(lambda g, ans, x, y: _ub(x, g)),
        DirectVJP(lambda g, ans, x, y: _ub(y, negative(g))),
    ),
    jvp=(lambda g, ans, x, y: _bt(g, ans), lambda g, ans, x, y: _bt(negative(g), ans)),
)

# multiply is made in _broadcast, with real: the broadcasting rules are written with them.

divide = wrap(
    _np.divide,
    vjp=(
        lambda ans, x, y: lambda g: _ub(x, divide(g, y)),
        lambda ans, x, y: lambda g: _ub(y, negative(divide(multiply(g, ans), y))),
    ),
    jvp=(
        lambda g, ans, x, y: _bt(divide(g, y), ans),
        lambda g, ans, x, y: _bt(negative(divide(multiply(g, ans), y)), ans),
    ),
)
true_divide = alias("true_divide", divide)

reciprocal = _unary(_np.reciprocal, lambda g, ans, x: negative(multiply(g, square(ans))))

# (2g) x rather than g (2x): the same values, and under forward-over-reverse (Hessians)
# x is the traced one, so its tangent is scaled once rather than twice.
square = wrap(
    _np.square,
    vjp=lambda ans, x: lambda g: multiply(multiply(g, 2.0), x),
    jvp=lambda g, ans, x: multiply(g, multiply(2.0, x)),
)


def _scaled_power_raw(g, a, p, c):
    """``c * g * a**p``, exactly 0 where ``g`` is 0 even where ``a**p`` is infinite."""
    if not _backends.foreign(a) and _np.count_nonzero(a) == _np.size(a):
        # no zero base, so no infinite power: the common case, without the fix-up (not
        # looked for in a lazy array, where it would compute the graph)
        return _np.multiply(_np.multiply(c, g), _np.power(a, float(p)))
    with _np.errstate(divide="ignore", invalid="ignore"):
        r = _np.multiply(_np.multiply(c, g), _np.power(a, float(p)))
    return _np.where(_np.equal(g, 0), _np.zeros((), r.dtype), r)[()]


def _product_zero_wins(t, g):
    """``t * g``, but 0 wherever either factor is 0, even where the other is infinite."""
    return multiply(
        where(_np.equal(_getval(g), 0), 0.0, t), where(_np.equal(_getval(t), 0), 0.0, g)
    )


# The derivatives of sqrt and cbrt are infinite at 0. A zero tangent (or cotangent) is
# no change at all, and gives 0 rather than 0 * inf = nan; keeping that at every order,
# in both modes, is what makes a Hessian through sqrt(0) symmetric and its entries along
# directions that leave the 0 alone exact (docs/conventions.md). ``p`` and ``c`` are
# plain numbers; the rules are the same product one power lower.
scaled_power = wrap(
    _scaled_power_raw,
    "scaled_power",
    module="matdiff.numpy.ufuncs",
    vjp=(
        lambda ans, g, a, p, c: lambda t: _ub(g, scaled_power(t, a, p, c)),
        lambda ans, g, a, p, c: (
            lambda t: _ub(a, scaled_power(_product_zero_wins(t, g), a, p - 1, c * p))
        ),
    ),
    jvp=(
        lambda t, ans, g, a, p, c: _bt(scaled_power(t, a, p, c), ans),
        lambda t, ans, g, a, p, c: _bt(
            scaled_power(_product_zero_wins(t, g), a, p - 1, c * p), ans
        ),
    ),
    batch=_batch.elementwise,
)

# At 0 a nonzero g gives g / 0 = inf: the true one-sided derivative (docs/conventions.md).
sqrt = _unary(_np.sqrt, lambda g, ans, x: scaled_power(g, ans, -1, 0.5))

cbrt = _unary(_np.cbrt, lambda g, ans, x: scaled_power(g, ans, -2, 1.0 / 3.0))


def _make_power_rules(pow_fun):
    """Rules of ``x ** y`` for ``power`` and ``float_power``, exact at ``x == 0``."""

    def dx(x, y):
        # y * x**(y-1). A plain-number exponent (x ** 2, x ** 0.5) is the common case.
        if type(y) in (int, float):
            if y == 0:
                return multiply(0.0, x)
            if y == 2 and pow_fun is power:
                # x ** 2, the commonest power: 2x, without a second power to trace.
                return multiply(y, x)
            return multiply(y, pow_fun(x, y - 1))
        # 0 ** 0 has derivative 0 in x, but y * x**(y-1) would be 0 * inf = nan there;
        # any other exponent at x == 0 gets its true limit (0, y, or inf) from pow itself.
        yv = _getval(y)
        both_zero = _np.logical_and(_np.equal(_getval(x), 0), _np.equal(yv, 0))
        return multiply(y, pow_fun(x, where(both_zero, 1.0, subtract(y, 1))))

    def dy(x, y, ans):
        # log(x) * x**y. At x == 0 the limit (y > 0) is 0; log(0) * 0 would be nan.
        if type(x) in (int, float):
            # A Python base stays a Python number, so float32 exponents stay float32.
            return multiply(ans, math.log(x if x != 0 else 1.0))
        safe_x = where(_np.equal(_getval(x), 0), 1.0, x)
        return multiply(ans, log(safe_x))

    def g_dx(g, x, y):
        # (g y) x**(y-1) for a plain-number exponent: under forward-over-reverse x is
        # the traced one, so its tangent is scaled once (as square's VJP does).
        if type(y) in (int, float) and y != 0:
            return multiply(multiply(g, y), x if y == 2 and pow_fun is power else pow_fun(x, y - 1))
        return multiply(g, dx(x, y))

    defvjp(
        pow_fun,
        lambda ans, x, y: lambda g: _ub(x, g_dx(g, x, y)),
        lambda ans, x, y: lambda g: _ub(y, multiply(g, dy(x, y, ans))),
    )
    defjvp(
        pow_fun,
        lambda g, ans, x, y: _bt(multiply(g, dx(x, y)), ans),
        lambda g, ans, x, y: _bt(multiply(g, dy(x, y, ans)), ans),
    )


power = wrap(_np.power)
_make_power_rules(power)

float_power = wrap(_np.float_power)
_make_power_rules(float_power)

# mod(x, y) = x - y * floor(x / y) and fmod(x, y) = x - y * trunc(x / y): slope 1 in x,
# and -floor(x / y) (resp. -trunc) in y, away from the jumps.


def _mod_rules(fun, quotient):
    """Rules of ``x - y * quotient(x, y)``: slope 1 in x, -quotient in y (a constant)."""

    def dy_vjp(ans, x, y):
        q = quotient(_getval(x), _getval(y))
        return lambda g: _ub(y, negative(multiply(g, q)))

    def dy_jvp(g, ans, x, y):
        q = quotient(_getval(x), _getval(y))
        return _bt(negative(multiply(g, q)), ans)

    defvjp(fun, lambda ans, x, y: lambda g: _ub(x, g), dy_vjp)
    defjvp(fun, lambda g, ans, x, y: _bt(g, ans), dy_jvp)


def _trunc_quotient(x, y):
    return _np.trunc(_np.divide(x, y))


mod = wrap(_np.mod, "mod")
remainder = alias("remainder", mod)
_mod_rules(mod, _np.floor_divide)

fmod = wrap(_np.fmod)
_mod_rules(fmod, _trunc_quotient)


# ---------------------------------------------------------------- exp and log

# The rules of the commonest functions below compute on NumPy directly when every operand
# is a plain ndarray: no trace can hold one, so the primitive would make the same raw
# call, and a first-order backward pass (W2's exp and log, W1's sin) skips its wrapper.
# Any other operand (a box of an outer trace, a staged value, another library's array)
# takes the wrapped path, which keeps higher derivatives and staging.
_nd = _np.ndarray


def _exp_scale(g, ans, x):
    if type(g) is _nd and type(ans) is _nd:
        return _np.multiply(g, ans)
    return multiply(g, ans)


exp = _unary(_np.exp, _exp_scale)


def _log_scale(g, ans, x):
    if type(g) is _nd and type(x) is _nd:
        return _np.divide(g, x)
    return divide(g, x)


log = _unary(_np.log, _log_scale)

exp2 = _unary(_np.exp2, lambda g, ans, x: multiply(g, multiply(ans, _LN2)))

# expm1 and log1p: the derivatives use the accurate answer (ans + 1 = exp(x)) or 1 + x,
# which stay exact where exp(x) - 1 or log(1 + x) would cancel.
expm1 = _unary(_np.expm1, lambda g, ans, x: multiply(g, add(ans, 1.0)))

log2 = _unary(_np.log2, lambda g, ans, x: divide(g, multiply(x, _LN2)))

log10 = _unary(_np.log10, lambda g, ans, x: divide(g, multiply(x, _LN10)))

log1p = _unary(_np.log1p, lambda g, ans, x: divide(g, add(1.0, x)))


def _def_logaddexp(fun, base_power) -> None:
    """Rules of log_b(b^x + b^y), with ``base_power(t) = b^t``.

    d/dx = b^(x - ans) <= 1, never b^x / (b^x + b^y), which overflows to inf / inf for
    large inputs.
    """

    def weight(v, ans):
        return base_power(subtract(v, ans))

    defvjp(
        fun,
        lambda ans, x, y: lambda g: _ub(x, multiply(g, weight(x, ans))),
        lambda ans, x, y: lambda g: _ub(y, multiply(g, weight(y, ans))),
    )
    defjvp(
        fun,
        lambda g, ans, x, y: _bt(multiply(g, weight(x, ans)), ans),
        lambda g, ans, x, y: _bt(multiply(g, weight(y, ans)), ans),
    )


logaddexp = wrap(_np.logaddexp)
_def_logaddexp(logaddexp, exp)
logaddexp2 = wrap(_np.logaddexp2)
_def_logaddexp(logaddexp2, exp2)

# ---------------------------------------------------------------- trigonometric


def _sin_scale(g, ans, x):
    if type(g) is _nd and type(x) is _nd:
        return _np.multiply(g, _np.cos(x))
    return multiply(g, cos(x))


sin = _unary(_np.sin, _sin_scale)


def _cos_scale(g, ans, x):
    if type(g) is _nd and type(x) is _nd:
        return _np.negative(_np.multiply(g, _np.sin(x)))
    return negative(multiply(g, sin(x)))


cos = _unary(_np.cos, _cos_scale)

tan = _unary(_np.tan, lambda g, ans, x: multiply(g, add(1.0, square(ans))))

arcsin = _unary(_np.arcsin, lambda g, ans, x: divide(g, sqrt(subtract(1.0, square(x)))))

arccos = _unary(_np.arccos, lambda g, ans, x: negative(divide(g, sqrt(subtract(1.0, square(x))))))

arctan = _unary(_np.arctan, lambda g, ans, x: divide(g, add(1.0, square(x))))

# ---------------------------------------------------------------- hyperbolic

sinh = _unary(_np.sinh, lambda g, ans, x: multiply(g, cosh(x)))

cosh = _unary(_np.cosh, lambda g, ans, x: multiply(g, sinh(x)))

tanh = _unary(_np.tanh, lambda g, ans, x: multiply(g, subtract(1.0, square(ans))))

arcsinh = _unary(_np.arcsinh, lambda g, ans, x: divide(g, sqrt(add(square(x), 1.0))))


def _arccosh_denominator(x):
    # sqrt(x - 1) * sqrt(x + 1), not sqrt(x**2 - 1): the two agree for real x > 1, and
    # only the product follows arccosh's principal branch for complex x.
    return multiply(sqrt(subtract(x, 1.0)), sqrt(add(x, 1.0)))


arccosh = _unary(_np.arccosh, lambda g, ans, x: divide(g, _arccosh_denominator(x)))

arctanh = _unary(_np.arctanh, lambda g, ans, x: divide(g, subtract(1.0, square(x))))

# ---------------------------------------------------------------- two-argument geometry

hypot = wrap(
    _np.hypot,
    vjp=(
        lambda ans, x, y: lambda g: _ub(x, multiply(g, divide(x, ans))),
        lambda ans, x, y: lambda g: _ub(y, multiply(g, divide(y, ans))),
    ),
    jvp=(
        lambda g, ans, x, y: _bt(multiply(g, divide(x, ans)), ans),
        lambda g, ans, x, y: _bt(multiply(g, divide(y, ans)), ans),
    ),
)


def _arctan2_scale(y, x):
    return add(square(x), square(y))


arctan2 = wrap(
    _np.arctan2,
    vjp=(
        lambda ans, y, x: lambda g: _ub(y, divide(multiply(g, x), _arctan2_scale(y, x))),
        lambda ans, y, x: lambda g: _ub(x, negative(divide(multiply(g, y), _arctan2_scale(y, x)))),
    ),
    jvp=(
        lambda g, ans, y, x: _bt(divide(multiply(g, x), _arctan2_scale(y, x)), ans),
        lambda g, ans, y, x: _bt(negative(divide(multiply(g, y), _arctan2_scale(y, x))), ans),
    ),
)

deg2rad = wrap(_np.deg2rad, vjp=lambda ans, x: deg2rad, linear=True)
radians = alias("radians", deg2rad)

rad2deg = wrap(_np.rad2deg, vjp=lambda ans, x: rad2deg, linear=True)
degrees = alias("degrees", rad2deg)

# ---------------------------------------------------------------- sinc
# sinc(x) = sin(pi x) / (pi x). Its derivatives are removable singularities at 0, so
# a rule like (cos(pi x) - sinc(x)) / x would be nan there at first order and wrong at
# second. ``_sinc_derivative(x, k)`` is the k-th derivative, exact at and near 0, and its
# own rule is the (k+1)-th: any order stays exact.

_SINC_SERIES_TERMS = 18


def _sinc_derivative_raw(x, k):
    # With u = pi x and f(u) = sin(u) / u: u f = sin u, so (Leibniz)
    # u f^(k) + k f^(k-1) = sin(u + k pi / 2), a recurrence that is accurate for |u| >= 1.
    # For |u| < 1 the Maclaurin series f^(k)(u) = sum_m (-1)^m u^(2m-k) / ((2m+1)(2m-k)!)
    # over 2m >= k converges fast and has no cancellation.
    x = _np.asarray(x)
    u = _PI * x
    small = _np.abs(u) < 1.0
    us = _np.where(small, u, 0.0)
    series = _np.zeros_like(us)
    for m in range((k + 1) // 2, _SINC_SERIES_TERMS):
        p = 2 * m - k
        series = series + (-1) ** m * us**p / ((2 * m + 1) * math.factorial(p))
    ub = _np.where(small, 1.0, u)
    f = _np.sin(ub) / ub
    for j in range(1, k + 1):
        f = (_np.sin(ub + j * _PI / 2) - j * f) / ub
    return _np.where(small, series, f) * _PI**k


# Private: a primitive with rules, but not a NumPy name, so it is not exported.
_sinc_derivative = wrap(
    _sinc_derivative_raw,
    "_sinc_derivative",
    public=False,
    vjp=lambda ans, x, k: lambda g: multiply(g, _sinc_derivative(x, k + 1)),
    jvp=lambda g, ans, x, k: multiply(g, _sinc_derivative(x, k + 1)),
    batch=_batch.elementwise,
)

sinc = _unary(_np.sinc, lambda g, ans, x: multiply(g, _sinc_derivative(x, 1)))

# ---------------------------------------------------------------- complex parts
# real is made in _broadcast, beside multiply.

# imag(z) = y, so its gradient is df/dx - i df/dy = -i; a real input has no imaginary part.
imag = wrap(
    _np.imag,
    vjp=lambda ans, x: lambda g: _real_part_for(x, multiply(-1j, g)),
    linear=True,
    batch=_batch.elementwise,
)

# Re(u conj(v)) = Re(conj(u) v): the cotangent of conj is the conjugate cotangent.
conj = wrap(_np.conj, "conj", vjp=lambda ans, x: conj, linear=True, batch=_batch.elementwise)
conjugate = alias("conjugate", conj)


def _angle_vjp(ans, x):
    # angle(z) = atan2(y, x): gradient (-y - i x) / |z|^2 = -i / z. A real input's angle is
    # piecewise constant (0 or pi), so its derivative is zero.
    if not is_complex(x):
        return lambda g: multiply(0.0, g)
    return lambda g: divide(multiply(-1j, g), x)


def _angle_jvp(g, ans, x):
    if not is_complex(x):
        return None
    return imag(divide(g, x))


angle = wrap(_np.angle, vjp=_angle_vjp, jvp=_angle_jvp, batch=_batch.elementwise)

# ---------------------------------------------------------------- abs and sign


def _safe_modulus(ans):
    # |z| with 0 replaced by 1: the derivatives below are taken as 0 at z == 0.
    return where(_np.equal(_getval(ans), 0), 1.0, ans)


def _abs_vjp(ans, x):
    if is_complex(x):
        # |z|: gradient (x - i y) / |z| = conj(z) / |z|.
        return lambda g: multiply(g, divide(conj(x), _safe_modulus(ans)))
    # d|x|/dx = sign(x), and 0 at 0: the minimum-norm subgradient.
    s = _np.sign(_getval(x))
    return lambda g: multiply(g, s)


def _abs_jvp(g, ans, x):
    if is_complex(x):
        return divide(real(multiply(conj(x), g)), _safe_modulus(ans))
    return multiply(g, _np.sign(_getval(x)))


absolute = wrap(_np.absolute, "absolute", vjp=_abs_vjp, jvp=_abs_jvp)
abs = alias("abs", absolute)

fabs = wrap(_np.fabs, vjp=_abs_vjp, jvp=_abs_jvp)


def _sign_vjp(ans, x):
    # Real sign is piecewise constant: zero derivative. Complex sign(z) = z / |z| is not:
    # its JVP is i s Im(conj(s) dz) / |z|, whose transpose is i Im(g s) conj(s) / |z|.
    if not is_complex(x):
        return lambda g: multiply(0.0, g)
    return lambda g: divide(
        multiply(1j, multiply(imag(multiply(g, ans)), conj(ans))), _safe_modulus(absolute(x))
    )


def _sign_jvp(g, ans, x):
    if not is_complex(x):
        return None
    return divide(
        multiply(1j, multiply(ans, imag(multiply(conj(ans), g)))), _safe_modulus(absolute(x))
    )


sign = wrap(_np.sign, vjp=_sign_vjp, jvp=_sign_jvp)

# ---------------------------------------------------------------- maximum and minimum
# The cotangent goes to the selected argument; at a tie it is split evenly (0.5 each),
# so the two shares always sum to the cotangent. NaN: maximum/minimum propagate a NaN
# and give it the cotangent; fmax/fmin ignore a NaN and give the other argument all of it.


def _weight_of_first(wins):
    def weight(x, y):
        xv, yv = _getval(x), _getval(y)
        t = _real_dtype(xv).type
        return _np.where(_np.equal(xv, yv), t(0.5), _np.where(wins(xv, yv), t(1), t(0)))

    return weight


def _max_wins(x, y):
    return _np.logical_or(_np.greater(x, y), _np.isnan(x))


def _min_wins(x, y):
    return _np.logical_or(_np.less(x, y), _np.isnan(x))


def _fmax_wins(x, y):
    return _np.logical_or(_np.greater(x, y), _np.isnan(y))


def _fmin_wins(x, y):
    return _np.logical_or(_np.less(x, y), _np.isnan(y))


def _select_rules(fun, wins):
    weight = _weight_of_first(wins)
    defvjp(
        fun,
        lambda ans, x, y: lambda g: _ub(x, multiply(g, weight(x, y))),
        lambda ans, x, y: lambda g: _ub(y, multiply(g, 1.0 - weight(x, y))),
    )
    defjvp(
        fun,
        lambda g, ans, x, y: _bt(multiply(g, weight(x, y)), ans),
        lambda g, ans, x, y: _bt(multiply(g, 1.0 - weight(x, y)), ans),
    )


maximum = wrap(_np.maximum)
_select_rules(maximum, _max_wins)

minimum = wrap(_np.minimum)
_select_rules(minimum, _min_wins)

fmax = wrap(_np.fmax)
_select_rules(fmax, _fmax_wins)

fmin = wrap(_np.fmin)
_select_rules(fmin, _fmin_wins)

# ---------------------------------------------------------------- clip
# clip(a, lo, hi) = minimum(maximum(a, lo), hi). The cotangent passes to ``a`` on the
# closed interval lo <= a <= hi (as PyTorch's clamp), to ``lo`` where a < lo and to ``hi``
# where maximum(a, lo) > hi (so when lo > hi, as in NumPy, everything goes to hi).


def _clip_masks(a, lo, hi):
    av = _getval(a)
    lov = -_np.inf if lo is None else _getval(lo)
    hiv = _np.inf if hi is None else _getval(hi)
    to_hi = _np.greater(_np.maximum(av, lov), hiv)
    to_lo = _np.logical_and(_np.less(av, lov), _np.logical_not(to_hi))
    to_a = _np.logical_not(_np.logical_or(to_hi, to_lo))
    return to_a, to_lo, to_hi


def _clip_vjp(k):
    def maker(ans, a, lo, hi):
        arg = (a, lo, hi)[k]
        return lambda g: _ub(arg, where(_clip_masks(a, lo, hi)[k], g, 0.0))

    return maker


def _clip_jvp(k):
    def rule(g, ans, a, lo, hi):
        return _bt(where(_clip_masks(a, lo, hi)[k], g, 0.0), ans)

    return rule


def _clip_raw(a, a_min, a_max):
    return _np.clip(a, a_min, a_max)


_clip = wrap(
    _clip_raw,
    "clip",
    public=False,
    vjp=(_clip_vjp(0), _clip_vjp(1), _clip_vjp(2)),
    jvp=(_clip_jvp(0), _clip_jvp(1), _clip_jvp(2)),
    batch=_batch.elementwise,
)


@export
def clip(a: Any, a_min: Any = None, a_max: Any = None, *, min: Any = None, max: Any = None) -> Any:
    """``numpy.clip``, differentiable in ``a`` and in both bounds (each may be traced).

    At a bound the derivative passes to ``a`` (see docs/conventions.md).

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> grad(lambda x: np.sum(np.clip(x, 0.0, 1.0)))(np.array([-1.0, 0.0, 0.5, 2.0]))
    array([0., 1., 1., 0.])
    """
    lo = min if a_min is None else a_min
    hi = max if a_max is None else a_max
    return _clip(a, lo, hi)


# ---------------------------------------------------------------- where
# where(c, x, y) passes the cotangent to x where c holds and to y elsewhere. The
# untaken branch gets an exact zero cotangent, but its own derivative is still computed,
# and 0 * inf = nan: see the double-where pattern in docs/conventions.md.


def _where_raw(condition, x=None, y=None):
    """``numpy.where``: differentiable in ``x`` and ``y``; ``where(c)`` is ``nonzero(c)``.

    ``where`` is one primitive (so staged programs see it whole); for the one-argument
    form on a *traced* condition in reverse mode, call ``np.nonzero(c)`` instead.

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> grad(lambda x: np.sum(np.where(x > 0, x**2, -x)))(np.array([-2.0, 3.0]))
    array([-1.,  6.])
    """
    if x is None and y is None:
        return _np.nonzero(condition)
    if x is None or y is None:
        raise ValueError("where: pass both x and y, or neither (where(c) is nonzero(c))")
    return _np.where(condition, x, y)


where = wrap(
    _where_raw,
    "where",
    vjp=(
        None,
        lambda ans, c, x, y: lambda g: _ub(x, where(c, g, 0.0)),
        lambda ans, c, x, y: lambda g: _ub(y, where(c, 0.0, g)),
    ),
    jvp=(
        None,
        lambda g, ans, c, x, y: _bt(where(c, g, 0.0), ans),
        lambda g, ans, c, x, y: _bt(where(c, 0.0, g), ans),
    ),
    batch=_batch.elementwise,
)
alias("where", where)


# ---------------------------------------------------------------- signs, scaling, cleanup

copysign = wrap(_np.copysign)
# copysign(x, y) is |x| with y's sign: in x the slope is +1 where the signs agree and -1
# where they differ; in y it is piecewise constant.


def _same_sign(x, y):
    xv, yv = _getval(x), _getval(y)
    return _np.where(_np.signbit(xv) == _np.signbit(yv), 1.0, -1.0).astype(_real_dtype(xv))


defvjp(copysign, lambda ans, x, y: lambda g: _ub(x, multiply(g, _same_sign(x, y))), None)
defjvp(copysign, lambda g, ans, x, y: _bt(multiply(g, _same_sign(x, y)), ans), None)


def _ldexp_raw(x, n):
    """``numpy.ldexp``: ``x * 2**n`` for an integer ``n``, exactly.

    >>> import matdiff.numpy as np
    >>> np.ldexp(np.array([1.5, -0.25]), 3)
    array([12., -2.])
    """
    # A Python function rather than the ufunc itself: the integer exponent is not a
    # float operand, which is what elementwise machinery (batching) assumes of ufuncs.
    return _np.ldexp(x, n)


# ldexp(x, n) = x * 2**n with an integer exponent n: linear in x, no derivative in n.
ldexp = wrap(
    _ldexp_raw,
    "ldexp",
    vjp=(lambda ans, x, n: lambda g: _ub(x, ldexp(g, n)), None),
    jvp=(lambda g, ans, x, n: _bt(ldexp(g, n), ans), None),
    batch=_batch.elementwise,
)
alias("ldexp", ldexp)  # numpy.ldexp on a traced value comes here


# ---------------------------------------------------------------- casts
# A cast acts entry by entry: it lives with the elementwise functions.


def _astype_raw(x, dtype):
    # A derivative-free staged value (jit) records its own astype; np.asarray would
    # demand its concrete value.
    if not hasattr(x, "astype"):
        x = _np.asarray(x)
    return x.astype(dtype)


_astype = wrap(_astype_raw, "_astype", batch=_batch.elementwise)


def _astype_vjp(ans, x, dtype):
    x_dtype = _np.result_type(_getval(x))
    x_complex = x_dtype.kind == "c"

    def vjp(g):
        if is_complex(g) and not x_complex:
            g = real(g)
        if x_dtype.kind in "fc" and _np.result_type(_getval(g)) != x_dtype:
            g = _astype(g, x_dtype)
        return g

    return vjp


defvjp(_astype, _astype_vjp)


def _astype_jvp(g, ans, x, dtype):
    target = _np.result_type(_getval(ans))
    if is_complex(g) and target.kind != "c":
        g = real(g)  # the tangent of dropping the imaginary part
    return _astype(g, target)


defjvp(_astype, _astype_jvp)


@export
def astype(x: Any, dtype, /, *, copy=True, device=None) -> Any:
    """``numpy.astype``: cast to ``dtype``.

    Casting to a floating or complex dtype is differentiable (the VJP casts back).
    Casting to an integer or boolean dtype is piecewise constant, so the result is an
    untraced constant: its derivative is zero wherever it exists.

    >>> import matdiff.numpy as np
    >>> np.astype(np.array([1.5, 2.5]), np.float32).dtype
    dtype('float32')
    """
    dt = _np.dtype(dtype)
    if type(x) not in box_types:
        return _np.asarray(x).astype(dt, copy=copy)
    if dt.kind not in "fc":
        return _np.asarray(_getval(x)).astype(dt)
    return _astype(x, dt)


def _array_value(x: Any) -> Any:
    """The value under ``x``'s boxes, as an array (a list or Python number is converted)."""
    v = _getval(x)
    # A value recorded by jit's staging has a dtype but must not be converted.
    return v if hasattr(v, "dtype") else _np.asarray(v)


@export
def nan_to_num(x: Any, copy: bool = True, nan=0.0, posinf=None, neginf=None) -> Any:
    """``numpy.nan_to_num``: NaN and infinities replaced by finite numbers.

    Replaced entries are constants (their derivative is zero); finite entries pass their
    derivative through unchanged. Complex values are cleaned part by part.

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> grad(lambda x: np.sum(np.nan_to_num(x + np.array([0.0, np.inf]))))(np.ones(2))
    array([1., 0.])
    """
    xv = _array_value(x)
    if xv.dtype.kind not in "fc":
        return _np.nan_to_num(xv, copy=copy)
    if xv.dtype.kind == "c":
        kw = {"nan": nan, "posinf": posinf, "neginf": neginf}
        re, im = nan_to_num(real(x), **kw), nan_to_num(imag(x), **kw)
        return add(re, multiply(1j, im))
    bad = ~_np.isfinite(xv)
    # Only a value that can be read takes this shortcut: under jit ``bad`` is recorded, not
    # known, and a compiled program that always selects needs no branch on the data.
    if is_concrete(xv) and not bad.any():
        return x
    # The replacement values, computed by NumPy itself; used only where ``bad`` holds.
    if (nan, posinf, neginf) == (0.0, None, None):
        fill = _np.nan_to_num(xv)  # the only form Dask's nan_to_num takes
    elif _backends.foreign(xv):
        raise _backends.unsupported(
            "numpy.nan_to_num with nan=, posinf= or neginf=", _backends.backend_name(xv)
        )
    else:
        fill = _np.nan_to_num(xv, nan=nan, posinf=posinf, neginf=neginf)
    return where(bad, fill, x)


@export
def real_if_close(a: Any, tol: float = 100) -> Any:
    """``numpy.real_if_close``: the real part if every imaginary part is within ``tol``
    machine epsilons of zero, otherwise ``a`` unchanged.

    >>> import matdiff.numpy as np
    >>> np.real_if_close(np.array([1.0 + 1e-18j, 2.0]))
    array([1., 2.])
    """
    av = _array_value(a)
    if _backends.foreign(av):
        # Lazy or remote values: the dtype of the result would need them computed.
        raise _backends.unsupported("numpy.real_if_close", _backends.backend_name(av))
    if av.dtype.kind != "c":
        return a
    if not is_concrete(av):
        # Under jit the values are not known, and neither is the dtype of the result.
        raise StagingError(
            "jit: real_if_close returns a real array when every imaginary part is negligible "
            "and a complex array otherwise, so the dtype of its result depends on the values "
            f"of a traced argument, which a compiled function cannot have ({user_site()}). "
            "Use np.real(a) where the imaginary parts are known to be negligible, keep the "
            "complex array, or call real_if_close outside the jitted function."
        )
    # NumPy's rule: a tol above 1 counts machine epsilons of the dtype.
    limit = tol * _np.finfo(av.dtype).eps if tol > 1 else tol
    if _np.all(_np.absolute(av.imag) < limit):
        return real(a)
    return a
