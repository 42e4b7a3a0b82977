"""What the derivative operators check in their arguments and in the function's results.

Shared by :mod:`matdiff.operators`, :mod:`matdiff.autograd_names`,
:mod:`matdiff.custom_rules` and :mod:`matdiff.graph`, so that every operator refuses a bad
argument with the same words: the operator's name first, then what is wrong, then the way
out. Not part of the public API.

>>> from matdiff.checks import check_float, normalize_argnums
>>> normalize_argnums("grad", -1, 3)
((2,), True)
>>> check_float("grad", "argument 0", 1)
Traceback (most recent call last):
...
TypeError: grad: argument 0 has dtype int..., and only floating-point or complex values ...
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as _np

from . import backends
from .core import has_vspace
from .tracer import getval
from .tree import tree_flatten


def name_of(fun: Callable) -> str:
    return getattr(fun, "__name__", type(fun).__name__)


def normalize_argnums(fname: str, argnums, nargs: int) -> tuple[tuple[int, ...], bool]:
    """``argnums`` as non-negative positions, and whether it was one position (not a tuple)."""
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)
    if not nums:
        raise ValueError(f"{fname}: argnums is empty; name at least one argument position")
    for a in nums:
        if not isinstance(a, int) or not -nargs <= a < nargs:
            raise ValueError(
                f"{fname}: argnums={argnums!r} is out of range for a call with {nargs} "
                f"positional argument{'s' if nargs != 1 else ''}; pass positions from 0 to "
                f"{nargs - 1}"
            )
    return tuple(a % nargs for a in nums), single


_FLOAT64 = _np.dtype(float)


def dtype_of(v: Any) -> _np.dtype:
    # Every grad call asks this of its inputs, its output and its cotangent: an array, a
    # NumPy scalar or a float answers at once, without numpy.result_type's general walk.
    t = type(v)
    if t is _np.ndarray or isinstance(v, _np.generic):
        return v.dtype
    if t is float:
        return _FLOAT64
    if isinstance(v, bool):
        return _np.dtype(bool)
    if isinstance(v, int):
        return _np.dtype(int)
    try:
        return _np.result_type(v)
    except (TypeError, ValueError):
        dt = backends.dtype_of(v)
        if dt is not None:
            return dt
        if not has_vspace(v):
            raise
        # A value of a user's registered vector space, not an array: its space answers
        # for it, and it is differentiable as a real space's values are.
        return _np.dtype(float)


def check_float(fname: str, what: str, leaf: Any) -> None:
    dt = dtype_of(getval(leaf))
    if dt.kind not in "fc":
        raise TypeError(
            f"{fname}: {what} has dtype {dt}, and only floating-point or complex values can be "
            f"differentiated. Pass a float instead (e.g. 1.0 instead of 1, or "
            f"x.astype(float)), or leave this argument out of argnums."
        )


def partial_at(fun: Callable, args: tuple, kwargs: dict, argnums: tuple[int, ...]) -> Callable:
    """``fun`` as a function of the arguments at ``argnums``, the others fixed to ``args``."""

    def f(*dyn):
        full = list(args)
        for i, a in zip(argnums, dyn):
            full[i] = a
        return fun(*full, **kwargs)

    return f


class LeafNames:
    """Names of the leaves of the differentiated arguments, for error messages only:
    built on first use, so the common (error-free) call pays nothing for them."""

    __slots__ = ("dyn", "nums", "_names")

    def __init__(self, dyn: tuple, nums: tuple[int, ...]) -> None:
        self.dyn, self.nums, self._names = dyn, nums, None

    def __getitem__(self, i: int) -> str:
        if self._names is None:
            names = []
            for d, n in zip(self.dyn, self.nums):
                k = len(tree_flatten(d)[0])
                arg = f"argument {n}"
                names += [arg] if k == 1 else [f"{arg} (leaf {j})" for j in range(k)]
            self._names = names
        return self._names[i]


def split_aux(fname: str, result: Any) -> tuple[Any, Any]:
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise TypeError(
            f"{fname}: has_aux=True needs the function to return a pair (output, aux), but it "
            f"returned a {type(getval(result)).__name__}. Return (output, aux), or drop "
            "has_aux=True."
        )
    return result[0], result[1]


def _shape(v: Any) -> tuple:
    # numpy.shape converts what has no .shape; an array's is read directly (hot path).
    return v.shape if type(v) is _np.ndarray or isinstance(v, _np.generic) else _np.shape(v)


def check_cotangent(fname: str, i: int, ct: Any, out: Any) -> None:
    cs, os_ = _shape(getval(ct)), _shape(getval(out))
    if cs != os_:
        raise ValueError(
            f"{fname}: cotangent {i} has shape {cs} but the output it belongs to has shape "
            f"{os_}; a cotangent must have its output's shape"
        )
    cdt = dtype_of(getval(ct))
    if cdt.kind == "c" and dtype_of(getval(out)).kind != "c":
        raise TypeError(
            f"{fname}: cotangent {i} is complex ({cdt}) but its output is real; pass a real "
            "cotangent"
        )
    if cdt.kind not in "fciub":
        raise TypeError(f"{fname}: cotangent {i} has dtype {cdt}; pass a float array")


def check_tangents(fname: str, leaves: list, t_leaves: list) -> None:
    for i, (x, t) in enumerate(zip(leaves, t_leaves)):
        check_float(fname, f"primal {i}", x)
        xs, ts = _np.shape(getval(x)), _np.shape(getval(t))
        if xs != ts:
            raise ValueError(
                f"{fname}: tangent {i} has shape {ts} but its primal has shape {xs}; "
                "a tangent must have its primal's shape"
            )
        tdt = dtype_of(getval(t))
        if tdt.kind not in "fc":
            raise TypeError(
                f"{fname}: tangent {i} has dtype {tdt}; tangents must be floating point like "
                "their primals (e.g. 1.0 instead of 1, or v.astype(float))"
            )
        if tdt.kind == "c" and dtype_of(getval(x)).kind != "c":
            raise TypeError(
                f"{fname}: tangent {i} is complex but its primal is real; pass a real tangent"
            )


def check_float_output(fname: str, out: Any) -> None:
    """Refuse a bool or integer output: it is not a float that depends on the input."""
    for leaf in tree_flatten(out)[0]:
        check_float_leaf(fname, leaf)


def check_float_leaf(fname: str, leaf: Any) -> None:
    v = getval(leaf)
    dt = dtype_of(v)
    if dt.kind not in "fc":
        kind = "bool" if dt.kind == "b" else f"value of dtype {dt}"
        shape = _np.shape(v)
        what = f"{v!r}" if shape == () else f"shape {shape}"
        raise TypeError(
            f"{fname}: the function returned a {kind} ({what}), not a float that "
            "depends on the input, so it has no derivative (a comparison such as "
            "np.allclose, or an integer, is constant wherever it is defined). Return a "
            "floating-point value computed from the input."
        )


def check_scalar_output(fname: str, ans: Any) -> None:
    if isinstance(ans, (tuple, list, dict)):
        # A pytree output would otherwise be read as an array by np.shape below.
        raise TypeError(
            f"{fname}: the function must return a scalar, but it returned a "
            f"{type(ans).__name__} (a pytree of {len(tree_flatten(ans)[0])} outputs). Use "
            "jacobian for the derivatives of every output, or vjp with a cotangent per "
            "output; to return extra values alongside a scalar, pass has_aux=True."
        )
    if ans is None:
        raise TypeError(
            f"{fname}: the function returned None; it must return a scalar (is a return "
            "statement missing?)"
        )
    check_float_leaf(fname, ans)
    v = getval(ans)
    shape = _shape(v)
    # autograd accepts any output of one element (shape (1,), (1, 1), ...): an objective
    # ending in x @ A @ x with x of shape (1, n) is a scalar in all but shape. math.prod,
    # not numpy.prod: the shape is a tuple of ints, and this runs on every grad call.
    if math.prod(shape) != 1:
        raise TypeError(
            f"{fname}: the function must return a scalar (or an array of one element), but "
            f"it returned an array of shape {shape}. For a vector- or matrix-valued function "
            "use jacobian (all partial derivatives), elementwise_grad (the sum of the rows of "
            "the Jacobian), or vjp (a vector-Jacobian product)."
        )
    if dtype_of(v).kind == "c":
        raise TypeError(
            f"{fname}: the function returned a complex number; grad needs a real scalar. "
            "Use holomorphic_grad for a holomorphic function, or differentiate the real "
            "part (np.real) or the squared modulus."
        )


def check_tuple_args(fname: str, primals, tangents) -> None:
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError(
            f"{fname}: primals and tangents must be tuples (or lists) of the function's "
            "arguments, e.g. jvp(f, (x,), (v,))"
        )
    if len(primals) != len(tangents):
        raise ValueError(
            f"{fname}: got {len(primals)} primals but {len(tangents)} tangents; pass one each"
        )
