"""Shape manipulation: reshape, transpose, broadcasting, and their rules."""

from __future__ import annotations

import numpy as _np

from ..core import def_linear, defvjp
from ._wrap import export, shape_of, wrap, wrap_nondiff


def _reshape_raw(x, shape, order="C"):
    return _np.reshape(x, shape, order=order)


reshape = wrap(_reshape_raw, "reshape")
defvjp(reshape, lambda ans, x, shape, order="C": lambda g: reshape(g, shape_of(x), order=order))
def_linear(reshape)


def _transpose_raw(x, axes=None):
    return _np.transpose(x, axes)


transpose = wrap(_transpose_raw, "transpose")


def _transpose_vjp(ans, x, axes=None):
    if axes is None:
        return lambda g: transpose(g)
    return lambda g: transpose(g, tuple(_np.argsort(axes)))


defvjp(transpose, _transpose_vjp)
def_linear(transpose)


def _broadcast_to_raw(x, shape):
    return _np.broadcast_to(x, shape)


broadcast_to = wrap(_broadcast_to_raw, "broadcast_to")


def _broadcast_to_vjp(ans, x, shape):
    from ._wrap import unbroadcast

    return lambda g: unbroadcast(x, g)


defvjp(broadcast_to, _broadcast_to_vjp)
def_linear(broadcast_to)


shape = wrap_nondiff(_np.shape)
ndim = wrap_nondiff(_np.ndim)
size = wrap_nondiff(_np.size)


def _stack_raw(axis, *arrays):
    return _np.stack(arrays, axis=axis)


_stack = wrap(_stack_raw, "_stack")


@export
def stack(arrays, axis=0):
    """``numpy.stack`` over a sequence that may hold traced values."""
    return _stack(axis, *arrays)


def _stack_vjp(i):
    def maker(ans, axis, *arrays):
        return lambda g: _np_take(g, i - 1, axis)

    return maker


def _np_take(g, k, axis):
    from . import indexing

    nd = len(shape_of(g))
    idx = [slice(None)] * nd
    idx[axis % nd] = k
    return indexing.getitem(g, tuple(idx))


def _stack_jvp(i):
    def rule(g, ans, axis, *arrays):
        from ..core import vspace

        parts = [g if j == i - 1 else vspace(a).zeros() for j, a in enumerate(arrays)]
        return _stack(axis, *parts)

    return rule


class _VarargTable(list):
    """A rule table for a function of any number of array arguments after a static one."""

    def __init__(self, make):
        super().__init__()
        self.make = make

    def __len__(self):
        return 1 << 30

    def __getitem__(self, i):
        return None if i == 0 else self.make(i)


from ..core import jvp_rules as _jvp_rules  # noqa: E402
from ..core import vjp_rules as _vjp_rules  # noqa: E402

_vjp_rules[_stack] = _VarargTable(_stack_vjp)
_jvp_rules[_stack] = _VarargTable(_stack_jvp)
