"""``matdiff.scipy.special``: SciPy's special functions with VJP and JVP rules.

Each function is a primitive whose value comes from ``scipy.special`` and whose rules,
right under it, are written with wrapped functions (often other special functions:
the derivative of ``gammaln`` is ``digamma``, of ``digamma`` is ``polygamma(1, .)``),
so derivatives of any order come from the same table. Raw ``scipy.special`` ufuncs
called on a traced value are routed here too.

Arguments that are orders or counts (the ``v`` of ``jv``, ``yv``, ``iv``, ``ive``, the
``n`` of ``polygamma``, the ``d`` of ``multigammaln``) have no derivative here: tracing
them raises :class:`matdiff.NotDifferentiableError` at the call, naming the argument.

>>> import matdiff.numpy as np
>>> from matdiff import grad
>>> from matdiff.scipy.special import gammaln
>>> float(grad(lambda x: np.sum(gammaln(x)))(np.array([1.0, 2.0]))[1])  # digamma(2)
0.42278433509846713
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as _np
import scipy.special as _sp

from .. import numpy as _mnp
from ..core import defjvp, defvjp
from ..numpy import _batch
from ..numpy._broadcast import (
    broadcast_tangent,
    defjvp_broadcast,
    defvjp_unbroadcast,
    expand_to,
    unbroadcast,
)
from ..numpy._wrap import export, shape_of, wrap
from ..tracer import NotDifferentiableError, branch, getval, isbox

__all__ = [
    "expit",
    "logit",
    "log_expit",
    "softplus",
    "logsumexp",
    "softmax",
    "log_softmax",
    "log1p",
    "expm1",
    "erf",
    "erfc",
    "erfinv",
    "erfcinv",
    "erfcx",
    "gamma",
    "rgamma",
    "gammaln",
    "gammasgn",
    "digamma",
    "psi",
    "polygamma",
    "multigammaln",
    "beta",
    "betaln",
    "xlogy",
    "xlog1py",
    "entr",
    "rel_entr",
    "kl_div",
    "i0",
    "i1",
    "i0e",
    "i1e",
    "iv",
    "ive",
    "jv",
    "yv",
    "jn",
    "yn",
    "j0",
    "j1",
    "y0",
    "y1",
    "kv",
    "kve",
    "k0",
    "k1",
    "k0e",
    "k1e",
    "ndtr",
    "ndtri",
    "log_ndtr",
    "sinc",
    "gammainc",
    "gammaincc",
    "betainc",
    "stdtr",
]

_multiply = _mnp.multiply
_divide = _mnp.divide
_add = _mnp.add
_subtract = _mnp.subtract
_exp = _mnp.exp
_log = _mnp.log
_where = _mnp.where

_SQRT_PI = math.sqrt(math.pi)
_SQRT_2PI = math.sqrt(2.0 * math.pi)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


# Every function here is named in matdiff.scipy.special, and a raw call of its SciPy
# counterpart on a traced value routes to it. Only ufuncs (and NumPy's dispatched
# ``sinc``, which keeps its matdiff.numpy wrapper) reach the routes, through the array
# protocols; SciPy's plain Python functions never do, and their routes are inert.
_HERE = "matdiff.scipy.special"


def _unary(raw: Callable, name: str, deriv: Callable, doc: str) -> Callable:
    """A primitive ``f(x)`` with f'(x) = ``deriv(ans, x)`` (written with wrapped functions)."""
    f = wrap(
        raw,
        name,
        module=_HERE,
        routes=(raw,),
        vjp=lambda ans, x: lambda g: _multiply(g, deriv(ans, x)),
        jvp=lambda g, ans, x: _multiply(g, deriv(ans, x)),
        batch=_batch.elementwise,
    )
    f.__doc__ = doc
    return f


def _binary(raw: Callable, name: str, dx: Callable, dy: Callable, doc: str) -> Callable:
    """A broadcasting primitive ``f(x, y)`` with partials ``dx(ans, x, y)``, ``dy(ans, x, y)``."""
    f = wrap(raw, name, module=_HERE, routes=(raw,), batch=_batch.elementwise)
    defvjp_unbroadcast(
        f,
        lambda ans, x, y: lambda g: _multiply(g, dx(ans, x, y)),
        lambda ans, x, y: lambda g: _multiply(g, dy(ans, x, y)),
    )
    defjvp_broadcast(
        f,
        lambda g, ans, x, y: _multiply(g, dx(ans, x, y)),
        lambda g, ans, x, y: _multiply(g, dy(ans, x, y)),
    )
    f.__doc__ = doc
    return f


def _no_derivative(fname: str, argname: str, what: str) -> NotDifferentiableError:
    return NotDifferentiableError(
        f"{fname}: argument {argname!r} is being differentiated, but {what} has no "
        f"derivative in matdiff. Pass {argname} as a constant (a plain number or array, "
        f"or matdiff.stop_gradient({argname}))."
    )


def _with_static_order(prim: Callable, raw: Callable, name: str, argname: str, what: str, doc):
    """A public ``f(order, x)`` that refuses a traced order before calling ``prim``."""

    def f(v, x):
        if isbox(v):
            raise _no_derivative(name, argname, what)
        return prim(v, x)

    f.__doc__ = doc
    return export(f, name, module=_HERE, routes=(raw,))


gammasgn = wrap(_sp.gammasgn, "gammasgn", module=_HERE, routes=(_sp.gammasgn,), nondiff=True)
gammasgn.__doc__ = """The sign of Γ(x): piecewise constant, so its derivative is 0 (autograd's).

    Where Γ changes sign (at the poles 0, -1, -2, ...) there is no derivative; matdiff
    gives 0 there as well, as for ``floor`` and ``sign``.

    >>> from matdiff import grad
    >>> float(gammasgn(-0.5)), float(grad(lambda x: gammasgn(x) * x)(-0.5))
    (-1.0, -1.0)
    """


def _sign(x):
    # Kinks of exp(-|x|) take the minimum-norm subgradient at 0 (sign(0) = 0).
    return _np.sign(getval(x))


# ---------------------------------------------------------------- logistic family

expit = _unary(
    _sp.expit,
    "expit",
    lambda ans, x: _multiply(ans, _subtract(1.0, ans)),
    """The logistic sigmoid 1 / (1 + exp(-x)); derivative expit(x) (1 - expit(x)).

    >>> from matdiff import grad
    >>> float(grad(expit)(0.0))
    0.25
    """,
)

logit = _unary(
    _sp.logit,
    "logit",
    lambda ans, x: _divide(1.0, _multiply(x, _subtract(1.0, x))),
    """log(p / (1 - p)), the inverse of ``expit``; derivative 1 / (p (1 - p)).

    >>> from matdiff import grad
    >>> float(grad(logit)(0.5))
    4.0
    """,
)

log_expit = _unary(
    _sp.log_expit,
    "log_expit",
    lambda ans, x: expit(_mnp.negative(x)),
    """log(expit(x)), finite for any x; its derivative expit(-x) is too.

    >>> from matdiff import grad
    >>> float(grad(log_expit)(-1000.0))
    1.0
    """,
)

softplus = _unary(
    _sp.softplus,
    "softplus",
    lambda ans, x: expit(x),
    """log(1 + exp(x)) without overflow; derivative expit(x).

    >>> from matdiff import grad
    >>> float(grad(softplus)(1000.0))
    1.0
    """,
)

log1p = _unary(
    _sp.log1p,
    "log1p",
    lambda ans, x: _divide(1.0, _add(1.0, x)),
    """log(1 + x), accurate near 0; derivative 1 / (1 + x).

    >>> from matdiff import grad
    >>> float(grad(log1p)(1.0))
    0.5
    """,
)

expm1 = _unary(
    _sp.expm1,
    "expm1",
    lambda ans, x: _add(ans, 1.0),
    """exp(x) - 1, accurate near 0; derivative exp(x).

    >>> from matdiff import grad
    >>> float(grad(expm1)(0.0))
    1.0
    """,
)

# ---------------------------------------------------------------- error functions


def _gauss(x):
    return _exp(_multiply(-1.0, _mnp.square(x)))


erf = _unary(
    _sp.erf,
    "erf",
    lambda ans, x: _multiply(2.0 / _SQRT_PI, _gauss(x)),
    """The error function; derivative 2/sqrt(pi) exp(-x^2).

    >>> from matdiff import grad
    >>> round(float(grad(erf)(0.0)), 12)
    1.128379167096
    """,
)

erfc = _unary(
    _sp.erfc,
    "erfc",
    lambda ans, x: _multiply(-2.0 / _SQRT_PI, _gauss(x)),
    """1 - erf(x); derivative -2/sqrt(pi) exp(-x^2).

    >>> from matdiff import grad
    >>> round(float(grad(erfc)(0.0)), 12)
    -1.128379167096
    """,
)

erfinv = _unary(
    _sp.erfinv,
    "erfinv",
    lambda ans, x: _multiply(_SQRT_PI / 2.0, _exp(_mnp.square(ans))),
    """The inverse of ``erf`` on (-1, 1); derivative sqrt(pi)/2 exp(erfinv(x)^2).

    >>> from matdiff import grad
    >>> round(float(grad(erfinv)(0.0)), 12)
    0.886226925453
    """,
)

erfcinv = _unary(
    _sp.erfcinv,
    "erfcinv",
    lambda ans, x: _multiply(-_SQRT_PI / 2.0, _exp(_mnp.square(ans))),
    """The inverse of ``erfc`` on (0, 2); derivative -sqrt(pi)/2 exp(erfcinv(x)^2).

    >>> from matdiff import grad
    >>> round(float(grad(erfcinv)(1.0)), 12)
    -0.886226925453
    """,
)

erfcx = _unary(
    _sp.erfcx,
    "erfcx",
    lambda ans, x: _subtract(_multiply(_multiply(2.0, x), ans), 2.0 / _SQRT_PI),
    """exp(x^2) erfc(x), the scaled erfc; derivative 2x erfcx(x) - 2/sqrt(pi).

    >>> from matdiff import grad
    >>> round(float(grad(erfcx)(0.0)), 12)
    -1.128379167096
    """,
)

# ---------------------------------------------------------------- normal distribution

ndtr = _unary(
    _sp.ndtr,
    "ndtr",
    lambda ans, x: _multiply(1.0 / _SQRT_2PI, _exp(_multiply(-0.5, _mnp.square(x)))),
    """The standard normal CDF; derivative the standard normal density.

    >>> from matdiff import grad
    >>> round(float(grad(ndtr)(0.0)), 12)
    0.398942280401
    """,
)

ndtri = _unary(
    _sp.ndtri,
    "ndtri",
    lambda ans, x: _multiply(_SQRT_2PI, _exp(_multiply(0.5, _mnp.square(ans)))),
    """The inverse of ``ndtr``; derivative sqrt(2 pi) exp(ndtri(p)^2 / 2).

    >>> from matdiff import grad
    >>> round(float(grad(ndtri)(0.5)), 12)
    2.506628274631
    """,
)


def _log_ndtr_deriv(ans, x):
    # phi(x) / Phi(x) = exp(-x^2/2 - log Phi(x) - log sqrt(2 pi)): the exponent stays
    # moderate in both tails, where phi and Phi alone under- or overflow.
    return _exp(_subtract(_multiply(-0.5, _mnp.square(x)), _add(ans, _LOG_SQRT_2PI)))


log_ndtr = _unary(
    _sp.log_ndtr,
    "log_ndtr",
    _log_ndtr_deriv,
    """log of the standard normal CDF, finite far in both tails, and so is its derivative.

    >>> from matdiff import grad
    >>> round(float(grad(log_ndtr)(-1000.0)), 6)
    1000.001
    """,
)

# ---------------------------------------------------------------- gamma family


def _polygamma_raw(n, x):
    return _sp.polygamma(n, x)


# The static n may broadcast x to a larger shape: the VJP sums back to x's shape.
_polygamma = wrap(
    _polygamma_raw,
    "polygamma",
    module=_HERE,
    vjp=(
        None,
        lambda ans, n, x: lambda g: unbroadcast(x, _multiply(g, _polygamma(_np.add(n, 1), x))),
    ),
    jvp=(
        None,
        lambda g, ans, n, x: broadcast_tangent(_multiply(g, _polygamma(_np.add(n, 1), x)), ans),
    ),
    batch=_batch.elementwise,
)

polygamma = _with_static_order(
    _polygamma,
    _sp.polygamma,
    "polygamma",
    "n",
    "the order of polygamma",
    """The n-th derivative of ``digamma``; its derivative in x is polygamma(n + 1, x).

    >>> from matdiff import grad
    >>> round(float(grad(lambda x: polygamma(0, x))(1.0)), 12)  # pi^2 / 6
    1.644934066848
    """,
)

digamma = _unary(
    _sp.digamma,
    "digamma",
    lambda ans, x: _polygamma(1, x),
    """The logarithmic derivative of ``gamma``; derivative polygamma(1, x).

    >>> from matdiff import grad
    >>> round(float(grad(digamma)(1.0)), 12)
    1.644934066848
    """,
)
psi = digamma

gammaln = _unary(
    _sp.gammaln,
    "gammaln",
    lambda ans, x: digamma(x),
    """log |gamma(x)|; derivative digamma(x).

    >>> from matdiff import grad
    >>> round(float(grad(gammaln)(1.0)), 12)  # minus the Euler-Mascheroni constant
    -0.577215664902
    """,
)

rgamma = _unary(
    _sp.rgamma,
    "rgamma",
    lambda ans, x: _mnp.negative(_multiply(ans, digamma(x))),
    """1 / gamma(x), entire; derivative -rgamma(x) digamma(x) (NaN at the poles of
    digamma, x = 0, -1, -2, ..., where rgamma itself is 0).

    >>> from matdiff import grad
    >>> round(float(grad(rgamma)(1.0)), 12)  # the Euler-Mascheroni constant
    0.577215664902
    """,
)

gamma = _unary(
    _sp.gamma,
    "gamma",
    lambda ans, x: _multiply(ans, digamma(x)),
    """The gamma function; derivative gamma(x) digamma(x).

    >>> from matdiff import grad
    >>> round(float(grad(gamma)(1.0)), 12)
    -0.577215664902
    """,
)


def _multigammaln_raw(a, d):
    return _sp.multigammaln(a, d)


_multigammaln = wrap(_multigammaln_raw, "multigammaln", module=_HERE, batch=_batch.elementwise)


def _multigammaln_deriv(a, d):
    total = digamma(a)
    for j in range(1, int(d)):
        total = _add(total, digamma(_subtract(a, 0.5 * j)))
    return total


defvjp(_multigammaln, lambda ans, a, d: lambda g: _multiply(g, _multigammaln_deriv(a, d)))
defjvp(_multigammaln, lambda g, ans, a, d: _multiply(g, _multigammaln_deriv(a, d)))


def multigammaln(a: Any, d: int) -> Any:
    """The log of the multivariate gamma function of dimension ``d``.

    Its derivative in ``a`` is the sum of digamma(a - j/2) for j < d; ``d`` is an integer.

    >>> from matdiff import grad
    >>> round(float(grad(lambda a: multigammaln(a, 1))(1.0)), 12)
    -0.577215664902
    """
    if isbox(d):
        raise _no_derivative("multigammaln", "d", "the dimension of multigammaln")
    return _multigammaln(a, d)


export(multigammaln, "multigammaln", module=_HERE, routes=(_sp.multigammaln,))


def _digamma_diff(x, y):
    return _subtract(digamma(x), digamma(_add(x, y)))


betaln = _binary(
    _sp.betaln,
    "betaln",
    lambda ans, a, b: _digamma_diff(a, b),
    lambda ans, a, b: _digamma_diff(b, a),
    """log |beta(a, b)|; partials digamma(a) - digamma(a + b) and likewise in b.

    >>> from matdiff import grad
    >>> round(float(grad(betaln)(1.0, 1.0)), 12)
    -1.0
    """,
)

beta = _binary(
    _sp.beta,
    "beta",
    lambda ans, a, b: _multiply(ans, _digamma_diff(a, b)),
    lambda ans, a, b: _multiply(ans, _digamma_diff(b, a)),
    """The beta function; partials beta(a, b) (digamma(a) - digamma(a + b)) and likewise.

    >>> from matdiff import grad
    >>> round(float(grad(beta)(1.0, 1.0)), 12)
    -1.0
    """,
)

# ---------------------------------------------------------------- x log y and entropies


def _safe_where_both_zero(x, y, fill):
    # Where x == 0 and y == 0 the functions are 0 by convention and their partial in y
    # is taken as 0: replace y by ``fill`` there, so x / y is 0 / fill and no NaN appears.
    xv, yv = getval(x), getval(y)
    both = _np.logical_and(_np.equal(xv, 0), _np.equal(yv, 0))
    if branch(_np.any(both)):
        return _where(both, fill, y)
    return y


xlogy = _binary(
    _sp.xlogy,
    "xlogy",
    lambda ans, x, y: _log(y),
    lambda ans, x, y: _divide(x, _safe_where_both_zero(x, y, 1.0)),
    """x log(y), 0 where x = 0; partials log(y) and x / y.

    >>> from matdiff import grad
    >>> round(float(grad(xlogy, 1)(2.0, 4.0)), 12)
    0.5
    """,
)


xlog1py = _binary(
    _sp.xlog1py,
    "xlog1py",
    lambda ans, x, y: log1p(y),
    lambda ans, x, y: _divide(x, _safe_where_both_zero(x, _add(1.0, y), 1.0)),
    """x log(1 + y), 0 where x = 0; partials log1p(y) and x / (1 + y).

    >>> from matdiff import grad
    >>> round(float(grad(xlog1py, 1)(2.0, 3.0)), 12)
    0.5
    """,
)


def _positive_or_one(x):
    # Outside the domain (x < 0) the value is a constant (-inf or inf): derivative 0,
    # computed on a placeholder so that no NaN is made in an untaken branch.
    xv = getval(x)
    bad = _np.less(xv, 0)
    return (_where(bad, 1.0, x), bad) if branch(_np.any(bad)) else (x, None)


def _entr_deriv(ans, x):
    xs, bad = _positive_or_one(x)
    d = _mnp.negative(_add(_log(xs), 1.0))
    return d if bad is None else _where(bad, 0.0, d)


entr = _unary(
    _sp.entr,
    "entr",
    _entr_deriv,
    """-x log(x) for x > 0, 0 at 0, -inf below; derivative -(log(x) + 1) (-inf at 0).

    >>> from matdiff import grad
    >>> round(float(grad(entr)(1.0)), 12)
    -1.0
    """,
)

rel_entr = _binary(
    _sp.rel_entr,
    "rel_entr",
    lambda ans, x, y: _add(_log(_divide(x, y)), 1.0),
    lambda ans, x, y: _mnp.negative(_divide(x, y)),
    """x log(x / y) for x, y > 0; partials log(x / y) + 1 and -x / y.

    >>> from matdiff import grad
    >>> round(float(grad(rel_entr, 1)(1.0, 2.0)), 12)
    -0.5
    """,
)

kl_div = _binary(
    _sp.kl_div,
    "kl_div",
    lambda ans, x, y: _log(_divide(x, y)),
    lambda ans, x, y: _subtract(1.0, _divide(x, y)),
    """x log(x / y) - x + y for x, y > 0; partials log(x / y) and 1 - x / y.

    >>> from matdiff import grad
    >>> round(float(grad(kl_div, 1)(1.0, 2.0)), 12)
    0.5
    """,
)

# ---------------------------------------------------------------- Bessel functions
# Orders are static: v +- 1 is computed on plain numbers, so each rule is a Bessel
# function of the same family and differentiates again without limit.


def _order_primitive(raw, name, deriv):
    # An array of orders may broadcast x to a larger shape: the VJP sums back to x's shape.
    p = wrap(raw, "_" + name, module=_HERE)
    defvjp(p, None, lambda ans, v, x: lambda g: unbroadcast(x, _multiply(g, deriv(ans, v, x))))
    defjvp(p, None, lambda g, ans, v, x: broadcast_tangent(_multiply(g, deriv(ans, v, x)), ans))
    return p


_iv = _order_primitive(
    _sp.iv,
    "iv",
    lambda ans, v, x: _multiply(0.5, _add(_iv(_np.subtract(v, 1), x), _iv(_np.add(v, 1), x))),
)
_ive = _order_primitive(
    _sp.ive,
    "ive",
    lambda ans, v, x: _subtract(
        _multiply(0.5, _add(_ive(_np.subtract(v, 1), x), _ive(_np.add(v, 1), x))),
        _multiply(_sign(x), ans),
    ),
)
_jv = _order_primitive(
    _sp.jv,
    "jv",
    lambda ans, v, x: _multiply(0.5, _subtract(_jv(_np.subtract(v, 1), x), _jv(_np.add(v, 1), x))),
)
_yv = _order_primitive(
    _sp.yv,
    "yv",
    lambda ans, v, x: _multiply(0.5, _subtract(_yv(_np.subtract(v, 1), x), _yv(_np.add(v, 1), x))),
)

iv = _with_static_order(
    _iv,
    _sp.iv,
    "iv",
    "v",
    "the order of a Bessel function",
    """The modified Bessel function of the first kind; d/dx = (iv(v-1, x) + iv(v+1, x)) / 2.

    >>> from matdiff import grad
    >>> round(float(grad(lambda x: iv(1, x))(0.0)), 12)
    0.5
    """,
)
ive = _with_static_order(
    _ive,
    _sp.ive,
    "ive",
    "v",
    "the order of a Bessel function",
    """iv(v, x) exp(-|x|); d/dx = (ive(v-1, x) + ive(v+1, x)) / 2 - sign(x) ive(v, x).

    >>> from matdiff import grad
    >>> round(float(grad(lambda x: ive(1, x))(0.0)), 12)
    0.5
    """,
)
jv = _with_static_order(
    _jv,
    _sp.jv,
    "jv",
    "v",
    "the order of a Bessel function",
    """The Bessel function of the first kind; d/dx = (jv(v-1, x) - jv(v+1, x)) / 2.

    >>> from matdiff import grad
    >>> round(float(grad(lambda x: jv(1, x))(0.0)), 12)
    0.5
    """,
)
yv = _with_static_order(
    _yv,
    _sp.yv,
    "yv",
    "v",
    "the order of a Bessel function",
    """The Bessel function of the second kind; d/dx = (yv(v-1, x) - yv(v+1, x)) / 2.

    >>> from matdiff import grad
    >>> round(float(grad(lambda x: yv(0, x))(1.0)), 12)  # -yv(1, 1)
    0.7812128213
    """,
)

i0 = _unary(
    _sp.i0,
    "i0",
    lambda ans, x: i1(x),
    """The modified Bessel function of order 0; derivative i1(x).

    >>> from matdiff import grad
    >>> round(float(grad(i0)(0.0)), 12)
    0.0
    """,
)
i1 = _unary(
    _sp.i1,
    "i1",
    lambda ans, x: _multiply(0.5, _add(i0(x), _iv(2, x))),
    """The modified Bessel function of order 1; derivative (i0(x) + iv(2, x)) / 2.

    >>> from matdiff import grad
    >>> round(float(grad(i1)(0.0)), 12)
    0.5
    """,
)
i0e = _unary(
    _sp.i0e,
    "i0e",
    lambda ans, x: _subtract(i1e(x), _multiply(_sign(x), ans)),
    """i0(x) exp(-|x|); derivative i1e(x) - sign(x) i0e(x) (0 at the kink x = 0).

    >>> from matdiff import grad
    >>> round(float(grad(i0e)(0.0)), 12)
    0.0
    """,
)
i1e = _unary(
    _sp.i1e,
    "i1e",
    lambda ans, x: _subtract(_multiply(0.5, _add(i0e(x), _ive(2, x))), _multiply(_sign(x), ans)),
    """i1(x) exp(-|x|); derivative (i0e(x) + ive(2, x)) / 2 - sign(x) i1e(x).

    >>> from matdiff import grad
    >>> round(float(grad(i1e)(0.0)), 12)
    0.5
    """,
)

# Integer-order and order-0/1 Bessel functions (autograd's j0, j1, y0, y1, jn, yn) and
# the modified functions of the second kind. Each derivative is again a Bessel function
# of the same family (DLMF 10.6.2 and 10.29.2), so every order differentiates again.

_yn = _order_primitive(
    _sp.yn,
    "yn",
    lambda ans, n, x: _multiply(0.5, _subtract(_yv(_np.subtract(n, 1), x), _yv(_np.add(n, 1), x))),
)
_kv = _order_primitive(
    _sp.kv,
    "kv",
    lambda ans, v, x: _multiply(-0.5, _add(_kv(_np.subtract(v, 1), x), _kv(_np.add(v, 1), x))),
)
_kve = _order_primitive(
    _sp.kve,
    "kve",
    lambda ans, v, x: _add(
        _multiply(-0.5, _add(_kve(_np.subtract(v, 1), x), _kve(_np.add(v, 1), x))), ans
    ),
)


def _integer_order(prim: Callable, name: str) -> Callable:
    """``prim`` for an order that SciPy truncates to an integer: refuse a fractional one."""

    def f(n, x):
        if _np.any(_np.asarray(getval(n)) % 1 != 0):
            raise ValueError(
                f"{name}: the order n={getval(n)!r} is not an integer; {name} takes integer "
                f"orders (SciPy would truncate it). Use {name.replace('n', 'v', 1)} for a real "
                "order."
            )
        return prim(n, x)

    return f


jn = _with_static_order(
    _jv,
    _sp.jn,
    "jn",
    "n",
    "the order of a Bessel function",
    """The Bessel function of the first kind of integer order (SciPy's alias of jv).

    >>> from matdiff import grad
    >>> round(float(grad(lambda x: jn(1, x))(0.0)), 12)
    0.5
    """,
)
yn = _with_static_order(
    _integer_order(_yn, "yn"),
    _sp.yn,
    "yn",
    "n",
    "the order of a Bessel function",
    """The Bessel function of the second kind of integer order; d/dx = (yn(n-1, x) -
    yn(n+1, x)) / 2.

    >>> from matdiff import grad
    >>> round(float(grad(lambda x: yn(0, x))(1.0)), 12)  # -y1(1)
    0.7812128213
    """,
)
kv = _with_static_order(
    _kv,
    _sp.kv,
    "kv",
    "v",
    "the order of a Bessel function",
    """The modified Bessel function of the second kind; d/dx = -(kv(v-1, x) + kv(v+1, x)) / 2.

    >>> from matdiff import grad
    >>> round(float(grad(lambda x: kv(0, x))(1.0)), 12)  # -kv(1, 1)
    -0.601907230197
    """,
)
kve = _with_static_order(
    _kve,
    _sp.kve,
    "kve",
    "v",
    "the order of a Bessel function",
    """kv(v, x) exp(x); d/dx = kve(v, x) - (kve(v-1, x) + kve(v+1, x)) / 2.

    >>> from matdiff import grad
    >>> round(float(grad(lambda x: kve(0, x))(1.0)), 12)  # kve(0, 1) - kve(1, 1)
    -0.491690406456
    """,
)

j0 = _unary(
    _sp.j0,
    "j0",
    lambda ans, x: _mnp.negative(j1(x)),
    """The Bessel function of the first kind of order 0; derivative -j1(x).

    >>> from matdiff import grad
    >>> round(float(grad(j0)(1.0)), 12)  # -j1(1)
    -0.440050585745
    """,
)
j1 = _unary(
    _sp.j1,
    "j1",
    lambda ans, x: _multiply(0.5, _subtract(j0(x), _jv(2, x))),
    """The Bessel function of the first kind of order 1; derivative (j0(x) - jv(2, x)) / 2.

    >>> from matdiff import grad
    >>> round(float(grad(j1)(0.0)), 12)
    0.5
    """,
)
y0 = _unary(
    _sp.y0,
    "y0",
    lambda ans, x: _mnp.negative(y1(x)),
    """The Bessel function of the second kind of order 0; derivative -y1(x).

    >>> from matdiff import grad
    >>> round(float(grad(y0)(1.0)), 12)
    0.7812128213
    """,
)
y1 = _unary(
    _sp.y1,
    "y1",
    lambda ans, x: _multiply(0.5, _subtract(y0(x), _yv(2, x))),
    """The Bessel function of the second kind of order 1; derivative (y0(x) - yv(2, x)) / 2.

    >>> from matdiff import grad
    >>> round(float(grad(y1)(1.0)), 12)
    0.869469785516
    """,
)
k0 = _unary(
    _sp.k0,
    "k0",
    lambda ans, x: _mnp.negative(k1(x)),
    """The modified Bessel function of the second kind of order 0; derivative -k1(x).

    >>> from matdiff import grad
    >>> round(float(grad(k0)(1.0)), 12)
    -0.601907230197
    """,
)
k1 = _unary(
    _sp.k1,
    "k1",
    lambda ans, x: _multiply(-0.5, _add(k0(x), _kv(2, x))),
    """The modified Bessel function of the second kind of order 1; derivative
    -(k0(x) + kv(2, x)) / 2.

    >>> from matdiff import grad
    >>> round(float(grad(k1)(1.0)), 12)
    -1.022931668438
    """,
)
k0e = _unary(
    _sp.k0e,
    "k0e",
    lambda ans, x: _subtract(ans, k1e(x)),
    """k0(x) exp(x); derivative k0e(x) - k1e(x).

    >>> from matdiff import grad
    >>> round(float(grad(k0e)(1.0)), 12)
    -0.491690406456
    """,
)
k1e = _unary(
    _sp.k1e,
    "k1e",
    lambda ans, x: _add(ans, _multiply(-0.5, _add(k0e(x), _kve(2, x)))),
    """k1(x) exp(x); derivative k1e(x) - (k0e(x) + kve(2, x)) / 2.

    >>> from matdiff import grad
    >>> round(float(grad(k1e)(1.0)), 12)
    -1.144463079807
    """,
)

# ---------------------------------------------------------------- sinc


def _sinc_deriv_raw(n, x):
    """The n-th derivative of sin(pi x) / (pi x), by series near 0 and recurrence elsewhere."""
    x = _np.asarray(x, dtype=_np.result_type(x, float))  # complex stays complex
    out = _np.empty_like(x)
    small = _np.abs(x) < 1.0
    xs = x[small]
    # sinc(x) = sum_k (-1)^k (pi x)^(2k) / (2k+1)!; differentiate each term n times.
    acc = _np.zeros_like(xs)
    for k in range((n + 1) // 2, (n + 1) // 2 + 40):
        p = 2 * k
        coef = (-1) ** k * math.pi**p / math.factorial(p + 1) * math.perm(p, n)
        acc = acc + coef * xs ** (p - n)
    out[small] = acc
    # Away from 0: x f^(n) + n f^(n-1) = pi^(n-1) sin(pi x + n pi / 2), upward in n.
    xl = x[~small]
    f = _np.sinc(xl)
    for m in range(1, n + 1):
        f = (math.pi ** (m - 1) * _np.sin(math.pi * xl + m * math.pi / 2) - m * f) / xl
    out[~small] = f
    return out if out.ndim else out[()]


_sinc_deriv = wrap(
    _sinc_deriv_raw,
    "_sinc_deriv",
    module=_HERE,
    vjp=(None, lambda ans, n, x: lambda g: _multiply(g, _sinc_deriv(n + 1, x))),
    jvp=(None, lambda g, ans, n, x: _multiply(g, _sinc_deriv(n + 1, x))),
    batch=_batch.elementwise,
)

sinc = _unary(
    _np.sinc,
    "sinc",
    lambda ans, x: _sinc_deriv(1, x),
    """sin(pi x) / (pi x), 1 at 0 (NumPy's, as re-exported by SciPy); smooth at 0 to any order.

    >>> from matdiff import grad
    >>> float(grad(sinc)(0.0)), float(grad(sinc)(1.0))
    (0.0, -1.0)
    """,
)

# ---------------------------------------------------------------- logsumexp and softmax


def _lse_raw(a, b, axis, keepdims):
    return _sp.logsumexp(a, axis=axis, b=b, keepdims=keepdims, return_sign=True)[0]


_lse = wrap(_lse_raw, "logsumexp", module=_HERE, batch=_batch.reduction)


def _lse_sign(a, b, axis, keepdims):
    """The sign of sum(b * exp(a)) (no derivative), by raw NumPy calls that jit records:
    SciPy's own return_sign converts its input to a concrete array."""
    av, bv = getval(a), getval(b)
    m = _np.max(av, axis=axis, keepdims=True)
    m = _np.where(_np.isfinite(m), m, 0.0)  # all -inf: any shift will do
    return _np.sign(
        _np.sum(_np.multiply(bv, _np.exp(_np.subtract(av, m))), axis, keepdims=keepdims)
    )


def _lse_weights(ans, a, b, axis, keepdims):
    """exp(a - logsumexp) times the sign of the sum, broadcast to the shape of a (and b)."""
    full = _np.broadcast_shapes(shape_of(a), shape_of(b)) if b is not None else shape_of(a)
    w = _exp(_subtract(a, expand_to(ans, full, axis, keepdims)))
    if b is not None:
        s = _lse_sign(a, b, axis, True)
        w = _multiply(w, s)
    return w, full


def _lse_vjp_a(ans, a, b, axis, keepdims):
    def vjp(g):
        w, full = _lse_weights(ans, a, b, axis, keepdims)
        if b is not None:
            w = _multiply(w, b)
        return unbroadcast(a, _multiply(expand_to(g, full, axis, keepdims), w))

    return vjp


def _lse_vjp_b(ans, a, b, axis, keepdims):
    def vjp(g):
        w, full = _lse_weights(ans, a, b, axis, keepdims)
        return unbroadcast(b, _multiply(expand_to(g, full, axis, keepdims), w))

    return vjp


def _lse_jvp_a(g, ans, a, b, axis, keepdims):
    w, _ = _lse_weights(ans, a, b, axis, keepdims)
    if b is not None:
        w = _multiply(w, b)
    return _mnp.sum(_multiply(g, w), axis=axis, keepdims=keepdims)


def _lse_jvp_b(g, ans, a, b, axis, keepdims):
    w, _ = _lse_weights(ans, a, b, axis, keepdims)
    return _mnp.sum(_multiply(g, w), axis=axis, keepdims=keepdims)


defvjp(_lse, _lse_vjp_a, _lse_vjp_b)
defjvp(_lse, _lse_jvp_a, _lse_jvp_b)


def logsumexp(
    a: Any,
    axis: int | tuple[int, ...] | None = None,
    b: Any = None,
    keepdims: bool = False,
    return_sign: bool = False,
) -> Any:
    """log(sum(b * exp(a))) over ``axis`` without overflow, differentiable in ``a`` and ``b``.

    With ``return_sign=True`` returns ``(log|sum|, sign)`` (the sign is a constant);
    otherwise a negative sum gives NaN, as in SciPy. The gradient in ``a`` is the softmax
    weights, finite for inputs like +-1000.

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> grad(logsumexp)(np.array([1000.0, 1000.0]))
    array([0.5, 0.5])
    """
    if b is not None and not isbox(b):
        b = _np.asarray(b)
    if keepdims and not shape_of(a):
        # SciPy reads a scalar as shape (1,), so keepdims gives shape (1,); reshaping
        # here keeps the rules' shapes consistent and the derivative scalar like ``a``.
        a = _mnp.reshape(a, (1,))
    val = _lse(a, b, axis, keepdims)
    if b is None:
        if return_sign:
            return val, _np.ones_like(getval(val))
        return val
    sign = _lse_sign(a, b, axis, keepdims)
    if return_sign:
        return val, sign
    negative = _np.less(sign, 0)
    if branch(_np.any(negative)):
        val = _where(negative, _np.nan, val)
    return val


export(logsumexp, "logsumexp", module=_HERE, routes=(_sp.logsumexp,))


def _softmax_raw(x, axis):
    return _sp.softmax(x, axis=axis)


def _log_softmax_raw(x, axis):
    return _sp.log_softmax(x, axis=axis)


def _ksum(g, axis):
    return _mnp.sum(g, axis=axis, keepdims=True)


# The Jacobian diag(s) - s s^T is symmetric, so the VJP and JVP share one formula.
_softmax = wrap(
    _softmax_raw,
    "softmax",
    module=_HERE,
    vjp=lambda ans, x, axis: lambda g: _softmax_jac(g, ans, axis),
    jvp=lambda g, ans, x, axis: _softmax_jac(g, ans, axis),
    batch=_batch.reduction,
)


def _softmax_jac(g, s, axis):
    return _multiply(s, _subtract(g, _ksum(_multiply(g, s), axis)))


_log_softmax = wrap(
    _log_softmax_raw,
    "log_softmax",
    module=_HERE,
    vjp=lambda ans, x, axis: lambda g: _subtract(g, _multiply(_exp(ans), _ksum(g, axis))),
    jvp=lambda g, ans, x, axis: _subtract(g, _ksum(_multiply(_exp(ans), g), axis)),
    batch=_batch.reduction,
)


def softmax(x: Any, axis: int | tuple[int, ...] | None = None) -> Any:
    """exp(x) / sum(exp(x)) over ``axis`` (all axes when None), as ``scipy.special.softmax``.

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> grad(lambda x: softmax(x)[0])(np.array([0.0, 0.0]))
    array([ 0.25, -0.25])
    """
    return _softmax(x, axis)


def log_softmax(x: Any, axis: int | tuple[int, ...] | None = None) -> Any:
    """x - logsumexp(x) over ``axis``, finite for large inputs, as ``scipy.special.log_softmax``.

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> grad(lambda x: log_softmax(x)[0])(np.array([1000.0, 1000.0]))
    array([ 0.5, -0.5])
    """
    return _log_softmax(x, axis)


export(softmax, "softmax", module=_HERE, routes=(_sp.softmax,))
export(log_softmax, "log_softmax", module=_HERE, routes=(_sp.log_softmax,))


# ---------------------------------------------------------------- incomplete gamma and beta
# Derivatives in the integration limit only: SciPy has no derivatives of these in their
# shape parameters, so traced shapes are refused at the call rather than given zero.


def _shape_static(prim: Callable, raw: Callable, name: str, shapes: tuple[str, ...], doc: str):
    """A public ``f(*shapes, x)`` that refuses traced shape parameters before calling ``prim``."""

    def f(*args):
        if len(args) != len(shapes) + 1:
            raise TypeError(f"{name} takes {len(shapes) + 1} arguments ({', '.join(shapes)}, x)")
        for argname, value in zip(shapes, args):
            if isbox(value):
                raise _no_derivative(name, argname, f"the shape parameter of {name}")
        return prim(*args)

    f.__doc__ = doc
    return export(f, name, module=_HERE, routes=(raw,))


def _in_x_only(raw: Callable, name: str, nshapes: int, deriv: Callable) -> Callable:
    # Shape parameters may broadcast x to a larger shape: the VJP sums back to x's shape.
    p = wrap(raw, "_" + name, module=_HERE)
    none = [None] * nshapes

    def vjp_x(ans, *args):
        return lambda g: unbroadcast(args[-1], _multiply(g, deriv(ans, *args)))

    defvjp(p, *none, vjp_x)
    defjvp(p, *none, lambda g, ans, *args: broadcast_tangent(_multiply(g, deriv(ans, *args)), ans))
    return p


def _gamma_density(ans, a, x):
    # x^(a-1) e^(-x) / Gamma(a), in logs so that large a and x do not overflow.
    return _exp(_subtract(xlogy(_np.subtract(a, 1.0), x), _add(x, _sp.gammaln(a))))


def _beta_density(ans, a, b, x):
    log_density = _add(
        xlogy(_np.subtract(a, 1.0), x), xlog1py(_np.subtract(b, 1.0), _mnp.negative(x))
    )
    return _exp(_subtract(log_density, _sp.betaln(a, b)))


def _t_density(ans, df, t):
    half = 0.5 * (_np.asarray(df) + 1.0)
    const = _sp.gammaln(half) - _sp.gammaln(0.5 * _np.asarray(df)) - 0.5 * _np.log(_np.pi * df)
    return _exp(_subtract(const, _multiply(half, log1p(_divide(_mnp.square(t), df)))))


_gammainc = _in_x_only(_sp.gammainc, "gammainc", 1, _gamma_density)
_gammaincc = _in_x_only(
    _sp.gammaincc, "gammaincc", 1, lambda ans, a, x: _mnp.negative(_gamma_density(ans, a, x))
)
_betainc = _in_x_only(_sp.betainc, "betainc", 2, _beta_density)
_stdtr = _in_x_only(_sp.stdtr, "stdtr", 1, _t_density)

gammainc = _shape_static(
    _gammainc,
    _sp.gammainc,
    "gammainc",
    ("a",),
    """The regularized lower incomplete gamma function P(a, x), differentiable in x.

    d/dx = x^(a-1) e^(-x) / gamma(a); ``a`` is not differentiable (refused if traced).

    >>> from matdiff import grad
    >>> round(float(grad(lambda x: gammainc(1.0, x))(0.5)), 12)  # e^(-x)
    0.606530659713
    """,
)
gammaincc = _shape_static(
    _gammaincc,
    _sp.gammaincc,
    "gammaincc",
    ("a",),
    """The regularized upper incomplete gamma function Q(a, x) = 1 - P(a, x), in x.

    >>> from matdiff import grad
    >>> round(float(grad(lambda x: gammaincc(1.0, x))(0.5)), 12)
    -0.606530659713
    """,
)
betainc = _shape_static(
    _betainc,
    _sp.betainc,
    "betainc",
    ("a", "b"),
    """The regularized incomplete beta function I_x(a, b), differentiable in x.

    d/dx = x^(a-1) (1-x)^(b-1) / beta(a, b); ``a`` and ``b`` are refused if traced.

    >>> from matdiff import grad
    >>> round(float(grad(lambda x: betainc(2.0, 2.0, x))(0.5)), 12)  # 6 x (1 - x)
    1.5
    """,
)
stdtr = _shape_static(
    _stdtr,
    _sp.stdtr,
    "stdtr",
    ("df",),
    """The Student t CDF with ``df`` degrees of freedom, differentiable in t (not in df).

    >>> from matdiff import grad
    >>> round(float(grad(lambda t: stdtr(1.0, t))(0.0)), 12)  # Cauchy density at 0: 1/pi
    0.318309886184
    """,
)
