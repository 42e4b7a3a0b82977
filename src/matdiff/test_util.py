"""``check_grads``: one numeric checker for every derivative rule, ours and users'.

Both modes are compared with central finite differences along random directions, and
then the derivative functions themselves are checked the same way, recursively to
``order``: order 2 checks reverse-over-reverse, forward-over-reverse and so on, so a rule
that is right at first order but not differentiable itself (a raw NumPy call in a VJP,
say) is caught too.

Arguments may be pytrees; only their floating-point and complex leaves are perturbed,
the others are held fixed. For complex values the pairing is the real part of the
bilinear sum Σ a·b, which matches matdiff's (and JAX's and autograd's) convention that
``grad`` of a real function of complex ``z = x + iy`` is ∂f/∂x − i ∂f/∂y, so that
``grad(|z|²) = 2 conj(z)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import product
from typing import Any

import numpy as _np

from . import backends
from .checks import dtype_of, normalize_argnums
from .operators import trace_jvp, trace_vjp
from .tracer import getval
from .tree import tree_flatten, tree_unflatten

__all__ = ["check_grads", "combo_check", "check_vjp", "check_jvp", "numerical_jvp"]

# Finite-difference step and (rtol, atol), by the precision of the real component.
_EPS = {8: 1e-6, 4: 1e-3, 2: 1e-2}
_TOL = {8: (1e-5, 1e-6), 4: (2e-3, 2e-3), 2: (5e-2, 5e-2)}


def _real_itemsize(dt: _np.dtype) -> int:
    return dt.itemsize // 2 if dt.kind == "c" else dt.itemsize


def _is_diff(x: Any) -> bool:
    v = getval(x)
    if isinstance(v, (bool, int)):
        return False
    return dtype_of(v).kind in "fc"


def _random_like(x: Any, rng: _np.random.Generator) -> Any:
    v = getval(x)
    shape = _np.shape(v)
    dt = dtype_of(v) if _is_diff(v) else _np.dtype(float)
    if dt.kind == "c":
        r = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    else:
        r = rng.standard_normal(shape)
    r = _np.asarray(r).astype(dt)
    if not backends.is_numpy(v):
        # A direction of the argument's own library (Dask chunks, an array-API array).
        return backends.native(backends.like(v, r))
    return r if shape else dt.type(r)


def _inner(a: list, b: list) -> float:
    """Real part of the bilinear pairing Σ a·b over matching leaves."""
    total = 0.0
    for x, y in zip(a, b):
        # Other libraries' arrays are compared as NumPy arrays here, at the very end.
        xv, yv = backends.to_numpy(getval(x)), backends.to_numpy(getval(y))
        prod = _np.asarray(xv, dtype=complex) * _np.asarray(yv, dtype=complex)
        total += float(_np.real(_np.sum(prod)))
    return total


def _eps_and_tol(leaves: list) -> tuple[float, float, float]:
    eps, rtol, atol = _EPS[8], *_TOL[8]
    for x in leaves:
        size = _real_itemsize(dtype_of(getval(x)))
        e = _EPS.get(size, _EPS[8])
        r, a = _TOL.get(size, _TOL[8])
        eps, rtol, atol = max(eps, e), max(rtol, r), max(atol, a)
    return eps, rtol, atol


def numerical_jvp(f: Callable, args: Sequence, tangents: Sequence, eps: float = 1e-6) -> list:
    """Central difference (f(x + eps v) - f(x - eps v)) / 2 eps, as a list of output leaves.

    >>> import matdiff.numpy as np
    >>> [round(float(d), 6) for d in numerical_jvp(np.sin, (0.0,), (1.0,))]
    [1.0]
    """
    leaves, treedef = tree_flatten(tuple(args))
    t_leaves, _ = tree_flatten(tuple(tangents))

    def shifted(s):
        moved = [getval(x) + s * eps * getval(v) for x, v in zip(leaves, t_leaves)]
        return tree_flatten(f(*tree_unflatten(treedef, moved)))[0]

    fp, fm = shifted(1.0), shifted(-1.0)
    as_np = backends.to_numpy
    return [(as_np(getval(a)) - as_np(getval(b))) / (2 * eps) for a, b in zip(fp, fm)]


def _fail(what: str, label: str, a: float, b: float, rtol: float, atol: float) -> AssertionError:
    return AssertionError(
        f"check_grads: {what} check failed for {label}: the derivative gives {a!r}, finite "
        f"differences give {b!r} (difference {abs(a - b):.3g}; "
        f"rtol={rtol}, atol={atol}). The rule for a primitive on this path is wrong, or not "
        "itself differentiable (a raw NumPy call on a traced value) if this is order 2 or more."
    )


def _close(what: str, label: str, a: float, b: float, rtol: float, atol: float) -> None:
    both_finite = _np.isfinite(a) and _np.isfinite(b)
    if not both_finite or not _np.isclose(a, b, rtol=rtol, atol=atol):
        raise _fail(what, label, a, b, rtol, atol)


def _check_shapes(what: str, label: str, got: list, want: list, kind: str) -> None:
    for k, (g, w) in enumerate(zip(got, want)):
        gs, ws = _np.shape(getval(g)), _np.shape(getval(w))
        if gs != ws:
            raise AssertionError(
                f"check_grads: {what} check failed for {label}: it returned a {kind} of shape "
                f"{gs} for leaf {k}, which has shape {ws}; a rule returns the wrong shape"
            )


def _tols(leaves, eps, rtol, atol):
    e, r, a = _eps_and_tol(leaves)
    return eps or e, rtol or r, atol or a


def check_jvp(f, args, rng=None, eps=None, rtol=None, atol=None, label="f") -> None:
    """Forward mode against finite differences along one random direction.

    >>> import matdiff.numpy as np
    >>> check_jvp(np.sin, (0.3,))
    """
    rng = rng or _np.random.default_rng(0)
    leaves, treedef = tree_flatten(tuple(args))
    eps, rtol, atol = _tols(leaves, eps, rtol, atol)
    tangents = tree_unflatten(treedef, [_random_like(x, rng) for x in leaves])
    out, t_out = trace_jvp("check_grads", f, tuple(args), tuple(tangents))
    out_leaves, t_leaves = tree_flatten(out)[0], tree_flatten(t_out)[0]
    _check_shapes("forward-mode (JVP)", label, t_leaves, out_leaves, "tangent")
    num = numerical_jvp(f, args, tangents, eps)
    u = [_random_like(n, rng) for n in num]
    _close("forward-mode (JVP)", label, _inner(u, t_leaves), _inner(u, num), rtol, atol)


def check_vjp(f, args, rng=None, eps=None, rtol=None, atol=None, label="f") -> None:
    """Reverse mode against finite differences: ⟨vjp(u), v⟩ against ⟨u, (f(x+εv)-f(x-εv))/2ε⟩.

    >>> import matdiff.numpy as np
    >>> check_vjp(np.sin, (0.3,))
    """
    rng = rng or _np.random.default_rng(1)
    leaves, treedef = tree_flatten(tuple(args))
    eps, rtol, atol = _tols(leaves, eps, rtol, atol)
    out, vjp_fn, _ = trace_vjp("check_grads", f, tuple(args))
    out_leaves, out_def = tree_flatten(out)
    u = [_random_like(o, rng) for o in out_leaves]
    ct = tree_flatten(vjp_fn(tree_unflatten(out_def, u)))[0]
    _check_shapes("reverse-mode (VJP)", label, ct, leaves, "cotangent")
    v = [_random_like(x, rng) for x in leaves]
    num = numerical_jvp(f, args, tree_unflatten(treedef, v), eps)
    _close("reverse-mode (VJP)", label, _inner(ct, v), _inner(u, num), rtol, atol)


def check_grads(
    f: Callable,
    argnum: int | Sequence[int] | None = None,
    modes: Sequence[str] = ("fwd", "rev"),
    order: int = 2,
    *,
    eps: float | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    seed: int = 0,
) -> Callable:
    """Check ``f``'s derivatives in each mode against finite differences, to ``order``.

    Returns a function of ``f``'s arguments (pytrees of arrays and numbers; keyword
    arguments are passed to ``f`` as they are) that raises ``AssertionError`` naming the
    mode and derivative order on a mismatch (autograd's calling convention). Every
    floating-point and complex leaf is perturbed unless ``argnum`` (a position or a tuple
    of them) names the arguments to check, as autograd's ``check_grads(f, argnum, modes,
    order)`` does; integer and boolean leaves are held fixed. Tolerances follow the
    arguments' precision (float64, float32, float16) unless given.

    >>> import matdiff.numpy as np
    >>> check_grads(lambda x: np.sin(x) * x, modes=("fwd", "rev"), order=2)(np.array([0.3, 1.2]))
    >>> check_grads(lambda x, y: np.sin(x) * y, 1, ["rev"], 1)(0.3, 2.0)
    """
    if isinstance(argnum, str) or (
        isinstance(argnum, (tuple, list)) and argnum and isinstance(argnum[0], str)
    ):
        # check_grads(f, modes, order): the modes given where autograd puts argnum.
        if isinstance(modes, int):
            modes, order = argnum, modes
        elif tuple(modes) == ("fwd", "rev"):
            modes = argnum
        else:
            raise TypeError(
                "check_grads: modes were given both as the second argument and after it; "
                "call check_grads(f, argnum, modes, order) or check_grads(f, modes=..., "
                "order=...)"
            )
        argnum = None
    modes = (modes,) if isinstance(modes, str) else tuple(modes)
    for m in modes:
        if m not in ("fwd", "rev"):
            raise ValueError(f"check_grads: unknown mode {m!r}; use 'fwd' and/or 'rev'")
    if not isinstance(order, int) or order < 1:
        raise ValueError(f"check_grads: order={order!r} must be a positive integer")
    name = getattr(f, "__name__", "f")

    def run(*args: Any, **kwargs: Any) -> None:
        rng = _np.random.default_rng(seed)
        if argnum is None:
            nums = tuple(range(len(args)))
        else:
            nums = normalize_argnums("check_grads", argnum, len(args))[0]
        leaves, treedef = tree_flatten(tuple(args[i] for i in nums))
        diff = [i for i, x in enumerate(leaves) if _is_diff(x)]
        if not diff:
            raise ValueError(
                f"check_grads: {name} has no floating-point or complex argument to perturb"
            )

        def f_flat(*dyn):
            full = list(leaves)
            for i, d in zip(diff, dyn):
                full[i] = d
            call = list(args)
            for i, a in zip(nums, tree_unflatten(treedef, full)):
                call[i] = a
            return f(*call, **kwargs)

        dyn = tuple(leaves[i] for i in diff)
        _check(f_flat, dyn, modes, order, rng, eps, rtol, atol, name)

    return run


def combo_check(fun: Callable, *check_args: Any, **check_kwargs: Any) -> Callable:
    """``check_grads`` over every combination of argument values (autograd's ``combo_check``).

    ``combo_check(fun, argnum, modes, order)`` (any of ``check_grads``' arguments) returns
    a function that takes, per positional argument of ``fun``, a sequence of values to try,
    and per keyword argument a sequence of values; ``fun`` is checked at each combination.

    >>> import matdiff.numpy as np
    >>> combo_check(np.sum, [0], order=1)([np.ones(3), np.ones((2, 2))], axis=[None, 0])
    """
    check = check_grads(fun, *check_args, **check_kwargs)

    def run(*arg_choices: Sequence, **kwarg_choices: Sequence) -> None:
        kw_items = [[(k, v) for v in vs] for k, vs in kwarg_choices.items()]
        for args in product(*arg_choices):
            for kwargs in product(*kw_items):
                check(*args, **dict(kwargs))

    return run


def _check(f, args, modes, order, rng, eps, rtol, atol, label) -> None:
    for mode in modes:
        if mode == "fwd":
            check_jvp(f, args, rng, eps, rtol, atol, label)
            if order > 1:
                v = tuple(_random_like(x, rng) for x in args)

                def f_jvp(*a, _v=v):
                    return trace_jvp("check_grads", f, tuple(a), _v)[1]

                sub = f"the JVP of {label}"
                _check(f_jvp, args, modes, order - 1, rng, eps, rtol, atol, sub)
        else:
            check_vjp(f, args, rng, eps, rtol, atol, label)
            if order > 1:
                out = trace_vjp("check_grads", f, tuple(args))[0]
                out_leaves, out_def = tree_flatten(out)
                u = tree_unflatten(out_def, [_random_like(o, rng) for o in out_leaves])

                def f_vjp(*a, _u=u):
                    return trace_vjp("check_grads", f, tuple(a))[1](_u)

                sub = f"the VJP of {label}"
                _check(f_vjp, args, modes, order - 1, rng, eps, rtol, atol, sub)
