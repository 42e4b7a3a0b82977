"""Elementwise functions and their rules, each right under its wrapper.

VJP makers: ``(ans, *args) -> g -> cotangent``; JVP rules: ``(g, ans, *args) -> tangent``.
Binary functions broadcast, so their VJPs sum back to each argument's shape
(``unbroadcast``) and their JVPs broadcast up to the answer's shape.
"""

from __future__ import annotations

import numpy as _np

from ..core import def_linear, defjvp, defvjp
from ..tracer import getval as _getval
from ._wrap import alias, wrap, wrap_nondiff
from ._wrap import broadcast_tangent as _bt
from ._wrap import unbroadcast as _ub

# ---------------------------------------------------------------- arithmetic

add = wrap(_np.add)
defvjp(add, lambda ans, x, y: lambda g: _ub(x, g), lambda ans, x, y: lambda g: _ub(y, g))
defjvp(add, lambda g, ans, x, y: _bt(g, ans), lambda g, ans, x, y: _bt(g, ans))

subtract = wrap(_np.subtract)
defvjp(
    subtract,
    lambda ans, x, y: lambda g: _ub(x, g),
    lambda ans, x, y: lambda g: _ub(y, negative(g)),
)

multiply = wrap(_np.multiply)
defvjp(
    multiply,
    lambda ans, x, y: lambda g: _ub(x, multiply(g, y)),
    lambda ans, x, y: lambda g: _ub(y, multiply(g, x)),
)
defjvp(
    multiply,
    lambda g, ans, x, y: _bt(multiply(g, y), ans),
    lambda g, ans, x, y: _bt(multiply(x, g), ans),
)

divide = wrap(_np.divide)
true_divide = alias("true_divide", divide)
defvjp(
    divide,
    lambda ans, x, y: lambda g: _ub(x, divide(g, y)),
    lambda ans, x, y: lambda g: _ub(y, negative(divide(multiply(g, ans), y))),
)
defjvp(
    divide,
    lambda g, ans, x, y: _bt(divide(g, y), ans),
    lambda g, ans, x, y: _bt(negative(divide(multiply(g, ans), y)), ans),
)

negative = wrap(_np.negative)
defvjp(negative, lambda ans, x: negative)
def_linear(negative)
defjvp(subtract, lambda g, ans, x, y: _bt(g, ans), lambda g, ans, x, y: _bt(negative(g), ans))

square = wrap(_np.square)
defvjp(square, lambda ans, x: lambda g: multiply(g, multiply(2.0, x)))
defjvp(square, lambda g, ans, x: multiply(g, multiply(2.0, x)))

sqrt = wrap(_np.sqrt)
defvjp(sqrt, lambda ans, x: lambda g: divide(g, multiply(2.0, ans)))
defjvp(sqrt, lambda g, ans, x: divide(g, multiply(2.0, ans)))


def _pow_dx(x, y, ans):
    # y * x**(y-1), written so that x = 0 with y >= 1 gives the limit, not 0 * inf.
    return multiply(y, power(x, subtract(y, 1)))


def _pow_dy(x, y, ans):
    # d/dy x**y = log(x) x**y; where x == 0 the limit (for y > 0) is 0, not nan.
    safe_x = where(_np.equal(_getval(x), 0), 1.0, x)
    return multiply(ans, log(safe_x))


power = wrap(_np.power)
defvjp(
    power,
    lambda ans, x, y: lambda g: _ub(x, multiply(g, _pow_dx(x, y, ans))),
    lambda ans, x, y: lambda g: _ub(y, multiply(g, _pow_dy(x, y, ans))),
)
defjvp(
    power,
    lambda g, ans, x, y: _bt(multiply(g, _pow_dx(x, y, ans)), ans),
    lambda g, ans, x, y: _bt(multiply(g, _pow_dy(x, y, ans)), ans),
)

# ---------------------------------------------------------------- exp and log

exp = wrap(_np.exp)
defvjp(exp, lambda ans, x: lambda g: multiply(g, ans))
defjvp(exp, lambda g, ans, x: multiply(g, ans))

log = wrap(_np.log)
defvjp(log, lambda ans, x: lambda g: divide(g, x))
defjvp(log, lambda g, ans, x: divide(g, x))

# ---------------------------------------------------------------- trigonometric

sin = wrap(_np.sin)
defvjp(sin, lambda ans, x: lambda g: multiply(g, cos(x)))
defjvp(sin, lambda g, ans, x: multiply(g, cos(x)))

cos = wrap(_np.cos)
defvjp(cos, lambda ans, x: lambda g: negative(multiply(g, sin(x))))
defjvp(cos, lambda g, ans, x: negative(multiply(g, sin(x))))

tan = wrap(_np.tan)
defvjp(tan, lambda ans, x: lambda g: multiply(g, add(1.0, square(ans))))
defjvp(tan, lambda g, ans, x: multiply(g, add(1.0, square(ans))))

tanh = wrap(_np.tanh)
defvjp(tanh, lambda ans, x: lambda g: multiply(g, subtract(1.0, square(ans))))
defjvp(tanh, lambda g, ans, x: multiply(g, subtract(1.0, square(ans))))

# ---------------------------------------------------------------- complex parts


def _match_complex(x, g):
    # A real input gets the real part of its cotangent.
    return g if _np.iscomplexobj(_getval(x)) else real(g)


real = wrap(_np.real)
defvjp(real, lambda ans, x: lambda g: _match_complex(x, g))
def_linear(real)

imag = wrap(_np.imag)
defvjp(imag, lambda ans, x: lambda g: _match_complex(x, multiply(-1j, g)))
def_linear(imag)

conj = wrap(_np.conj, "conj")
conjugate = alias("conjugate", conj)
defvjp(conj, lambda ans, x: conj)
def_linear(conj)

# ---------------------------------------------------------------- kinks


def _sign_nonzero(x):
    # d|x|/dx at 0 is taken as 0: the minimum-norm subgradient.
    return _np.sign(_getval(x))


absolute = wrap(_np.absolute, "absolute")
abs = alias("abs", absolute)
defvjp(absolute, lambda ans, x: lambda g: multiply(g, _abs_dir(x, ans)))
defjvp(absolute, lambda g, ans, x: real(multiply(g, _abs_dir(x, ans))))


def _abs_dir(x, ans):
    if _np.iscomplexobj(_getval(x)):
        safe = where(_np.equal(_getval(ans), 0), 1.0, ans)
        return divide(conj(x), safe)
    return _sign_nonzero(x)


def _select_grad(mask_fn):
    # maximum/minimum: at ties the cotangent is split evenly between the arguments.
    def maker(argnum):
        def m(ans, x, y):
            xv, yv = _getval(x), _getval(y)
            win = mask_fn(xv, yv) if argnum == 0 else mask_fn(yv, xv)
            tie = _np.equal(xv, yv)
            w = _np.where(tie, 0.5, win.astype(float))
            arg = x if argnum == 0 else y
            return lambda g: _ub(arg, multiply(g, w))

        return m

    def jmaker(argnum):
        def j(g, ans, x, y):
            xv, yv = _getval(x), _getval(y)
            win = mask_fn(xv, yv) if argnum == 0 else mask_fn(yv, xv)
            w = _np.where(_np.equal(xv, yv), 0.5, win.astype(float))
            return _bt(multiply(g, w), ans)

        return j

    return maker, jmaker


maximum = wrap(_np.maximum)
_mk, _jmk = _select_grad(_np.greater)
defvjp(maximum, _mk(0), _mk(1))
defjvp(maximum, _jmk(0), _jmk(1))

minimum = wrap(_np.minimum)
_mk, _jmk = _select_grad(_np.less)
defvjp(minimum, _mk(0), _mk(1))
defjvp(minimum, _jmk(0), _jmk(1))


def _where_raw(c, x=None, y=None):
    if x is None and y is None:
        return _np.where(c)
    return _np.where(c, x, y)


where = wrap(_where_raw, "where")
defvjp(
    where,
    None,
    lambda ans, c, x, y: lambda g: _ub(x, where(c, g, 0.0)),
    lambda ans, c, x, y: lambda g: _ub(y, where(c, 0.0, g)),
)
defjvp(
    where,
    None,
    lambda g, ans, c, x, y: _bt(where(c, g, 0.0), ans),
    lambda g, ans, c, x, y: _bt(where(c, 0.0, g), ans),
)

# ---------------------------------------------------------------- no derivative

sign = wrap_nondiff(_np.sign)
floor = wrap_nondiff(_np.floor)
ceil = wrap_nondiff(_np.ceil)
equal = wrap_nondiff(_np.equal)
not_equal = wrap_nondiff(_np.not_equal)
greater = wrap_nondiff(_np.greater)
greater_equal = wrap_nondiff(_np.greater_equal)
less = wrap_nondiff(_np.less)
less_equal = wrap_nondiff(_np.less_equal)
floor_divide = wrap_nondiff(_np.floor_divide)
logical_and = wrap_nondiff(_np.logical_and)
logical_or = wrap_nondiff(_np.logical_or)
logical_not = wrap_nondiff(_np.logical_not)
isnan = wrap_nondiff(_np.isnan)
isfinite = wrap_nondiff(_np.isfinite)
isinf = wrap_nondiff(_np.isinf)
