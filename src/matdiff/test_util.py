"""``check_grads``: one numeric checker for every derivative rule, ours and users'.

Both modes are compared with central finite differences along random directions, and
then the derivative functions themselves are checked the same way, recursively to
``order``: order 2 checks reverse-over-reverse, forward-over-reverse and so on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as _np

from .differential_operators import _jvp, _vjp
from .tracer import getval
from .tree import tree_flatten, tree_unflatten

__all__ = ["check_grads", "check_vjp", "check_jvp", "numerical_jvp"]

_EPS = {"f": {8: 1e-6, 4: 1e-3, 2: 1e-2}, "c": {16: 1e-6, 8: 1e-3}}
_TOL = {8: (1e-5, 1e-6), 4: (2e-2, 2e-2), 2: (1e-1, 1e-1), 16: (1e-5, 1e-6)}


def _random_like(x: Any, rng: _np.random.Generator) -> Any:
    v = getval(x)
    shape = _np.shape(v)
    dt = _np.result_type(v)
    if dt.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dt)
    if dt.kind != "f":
        dt = _np.dtype(float)
    r = rng.standard_normal(shape).astype(dt)
    return r if shape else dt.type(r)


def _inner(a: list, b: list) -> float:
    """Real part of the bilinear pairing sum(a * b) over matching leaves."""
    total = 0.0
    for x, y in zip(a, b):
        total += float(_np.real(_np.sum(_np.asarray(getval(x)) * _np.asarray(getval(y)))))
    return total


def _add_scaled(xs: list, vs: list, s: float) -> list:
    return [getval(x) + s * v for x, v in zip(xs, vs)]


def _eps_and_tol(leaves: list) -> tuple[float, float, float]:
    eps, rtol, atol = 1e-6, 1e-5, 1e-6
    for x in leaves:
        dt = _np.result_type(getval(x))
        if dt.kind in "fc":
            size = dt.itemsize if dt.kind == "f" else dt.itemsize // 2
            e = _EPS["f"].get(size, 1e-6)
            r, a = _TOL.get(size, (1e-5, 1e-6))
            eps, rtol, atol = max(eps, e), max(rtol, r), max(atol, a)
    return eps, rtol, atol


def numerical_jvp(f: Callable, args: Sequence, tangents: Sequence, eps: float = 1e-6) -> list:
    """Central difference (f(x + eps v) - f(x - eps v)) / 2 eps, as a list of output leaves."""
    leaves, treedef = tree_flatten(tuple(args))
    t_leaves, _ = tree_flatten(tuple(tangents))
    fp = tree_flatten(f(*tree_unflatten(treedef, _add_scaled(leaves, t_leaves, eps))))[0]
    fm = tree_flatten(f(*tree_unflatten(treedef, _add_scaled(leaves, t_leaves, -eps))))[0]
    return [(_np.asarray(getval(a)) - _np.asarray(getval(b))) / (2 * eps) for a, b in zip(fp, fm)]


def _close(name: str, a: float, b: float, rtol: float, atol: float) -> None:
    if not _np.isclose(a, b, rtol=rtol, atol=atol) or not _np.isfinite(a) == _np.isfinite(b):
        raise AssertionError(
            f"{name} check failed: derivative gives {a!r}, finite differences give {b!r} "
            f"(difference {abs(a - b):.3g}, rtol={rtol}, atol={atol})"
        )


def check_jvp(f: Callable, args: Sequence, rng=None, eps=None, rtol=None, atol=None) -> None:
    """Forward mode against finite differences along one random direction."""
    rng = rng or _np.random.default_rng(0)
    leaves, treedef = tree_flatten(tuple(args))
    e, r, a = _eps_and_tol(leaves)
    eps, rtol, atol = eps or e, rtol or r, atol or a
    v = [_random_like(x, rng) for x in leaves]
    tangents = tree_unflatten(treedef, v)
    _, t_out = _jvp("check_grads", f, tuple(args), tuple(tangents))
    num = numerical_jvp(f, args, tangents, eps)
    u = [_random_like(n, rng) for n in num]
    _close("forward-mode (JVP)", _inner(u, tree_flatten(t_out)[0]), _inner(u, num), rtol, atol)


def check_vjp(f: Callable, args: Sequence, rng=None, eps=None, rtol=None, atol=None) -> None:
    """Reverse mode against finite differences: <u, J v> both ways."""
    rng = rng or _np.random.default_rng(1)
    leaves, treedef = tree_flatten(tuple(args))
    e, r, a = _eps_and_tol(leaves)
    eps, rtol, atol = eps or e, rtol or r, atol or a
    out, vjp_fn, _ = _vjp("check_grads", f, tuple(args))
    out_leaves, out_def = tree_flatten(out)
    u = [_random_like(o, rng) for o in out_leaves]
    ct = vjp_fn(tree_unflatten(out_def, u))
    v = [_random_like(x, rng) for x in leaves]
    num = numerical_jvp(f, args, tree_unflatten(treedef, v), eps)
    _close("reverse-mode (VJP)", _inner(tree_flatten(ct)[0], v), _inner(u, num), rtol, atol)


def check_grads(
    f: Callable,
    modes: Sequence[str] = ("fwd", "rev"),
    order: int = 2,
    *,
    eps: float | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    seed: int = 0,
) -> Callable:
    """Check ``f``'s derivatives in each mode against finite differences, to ``order``.

    Returns a function of ``f``'s arguments that raises ``AssertionError`` on a mismatch
    (autograd's calling convention).

    >>> import matdiff.numpy as np
    >>> check_grads(lambda x: np.sin(x) * x, modes=("fwd", "rev"), order=2)(np.array([0.3, 1.2]))
    """
    for m in modes:
        if m not in ("fwd", "rev"):
            raise ValueError(f"check_grads: unknown mode {m!r}; use 'fwd' and/or 'rev'")

    def run(*args: Any) -> None:
        rng = _np.random.default_rng(seed)
        _check(f, args, tuple(modes), order, rng, eps, rtol, atol)

    return run


def _check(f, args, modes, order, rng, eps, rtol, atol) -> None:
    if order < 1:
        return
    leaves, treedef = tree_flatten(tuple(args))
    for mode in modes:
        if mode == "fwd":
            check_jvp(f, args, rng, eps, rtol, atol)
            if order > 1:
                v = tree_unflatten(treedef, [_random_like(x, rng) for x in leaves])

                def f_jvp(*a, _v=v):
                    return _jvp("check_grads", f, tuple(a), tuple(_v))[1]

                _check(f_jvp, args, modes, order - 1, rng, eps, rtol, atol)
        else:
            check_vjp(f, args, rng, eps, rtol, atol)
            if order > 1:
                out = _vjp("check_grads", f, tuple(args))[0]
                out_leaves, out_def = tree_flatten(out)
                u = tree_unflatten(out_def, [_random_like(o, rng) for o in out_leaves])

                def f_vjp(*a, _u=u):
                    return _vjp("check_grads", f, tuple(a))[1](_u)

                _check(f_vjp, args, modes, order - 1, rng, eps, rtol, atol)
