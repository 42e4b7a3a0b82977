"""The derivative operators users call: grad, vjp, jvp, jacobian, hessian, hvp, ...

Built on the core's two traces. Names and meanings follow JAX where it has them and
autograd otherwise, so either library's users can switch by changing an import.
Arguments and results may be pytrees of arrays and numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as _np

from . import numpy as mnp
from .core import ForwardTrace, ReverseTrace, backward_pass, vspace
from .tracer import box_types, getval, new_box, nondifferentiable
from .tree import tree_flatten, tree_map, tree_unflatten

__all__ = [
    "grad",
    "value_and_grad",
    "vjp",
    "jvp",
    "jacobian",
    "jacrev",
    "jacfwd",
    "hessian",
    "hvp",
    "elementwise_grad",
    "stop_gradient",
]


# ---------------------------------------------------------------- argument handling


def _normalize_argnums(fname: str, argnums, nargs: int) -> tuple[tuple[int, ...], bool]:
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)
    for a in nums:
        if not isinstance(a, int) or not -nargs <= a < nargs:
            raise ValueError(
                f"{fname}: argnums={argnums!r} is out of range for a call with {nargs} "
                f"positional argument{'s' if nargs != 1 else ''}; pass positions from 0 to "
                f"{nargs - 1}"
            )
    return tuple(a % nargs for a in nums), single


def _check_float(fname: str, what: str, leaf: Any) -> None:
    v = getval(leaf)
    dt = _np.result_type(v) if not isinstance(v, (bool, int)) else _np.dtype(type(v))
    if dt.kind not in "fc":
        raise TypeError(
            f"{fname}: {what} has dtype {dt}, and only floating-point or complex values can be "
            f"differentiated. Pass a float instead (e.g. 1.0 instead of 1, or "
            f"x.astype(float)), or leave this argument out of argnums."
        )


def _partial(fun: Callable, args: tuple, kwargs: dict, argnums: tuple[int, ...]) -> Callable:
    def f(*dyn):
        full = list(args)
        for i, a in zip(argnums, dyn):
            full[i] = a
        return fun(*full, **kwargs)

    return f


# ---------------------------------------------------------------- reverse mode


def _vjp(fname: str, fun: Callable, primals: tuple, has_aux: bool = False, names=None):
    """Trace ``fun(*primals)`` in reverse mode: ``(out, vjp_fn, aux)``."""
    leaves, treedef = tree_flatten(primals)
    for i, leaf in enumerate(leaves):
        _check_float(fname, names[i] if names else f"input leaf {i}", leaf)
    trace = ReverseTrace()
    boxes = [trace.leaf(x) for x in leaves]
    result = fun(*tree_unflatten(treedef, boxes))
    if has_aux:
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
            raise TypeError(
                f"{fname}: has_aux=True needs the function to return a pair (output, aux), "
                f"got {type(result).__name__}"
            )
        result, aux = result
        aux = tree_map(lambda a: _strip(a, trace), aux)
    else:
        aux = None
    out_leaves, out_def = tree_flatten(result)
    out_vals = [_strip(o, trace) for o in out_leaves]
    out = tree_unflatten(out_def, out_vals)

    def vjp_fn(cotangent):
        ct_leaves, ct_def = tree_flatten(cotangent)
        if ct_def != out_def:
            raise ValueError(
                f"{fname}: the cotangent's structure {ct_def} differs from the output's {out_def}"
            )
        seeds: dict = {}
        for o, v, ct in zip(out_leaves, out_vals, ct_leaves):
            if _np.shape(getval(ct)) != _np.shape(getval(v)):
                raise ValueError(
                    f"{fname}: a cotangent has shape {_np.shape(getval(ct))} but the output it "
                    f"belongs to has shape {_np.shape(getval(v))}; they must match"
                )
            if type(o) in box_types and o._trace is trace:
                prev = seeds.get(o._node)
                seeds[o._node] = ct if prev is None else prev + ct
        grads = backward_pass(trace, seeds) if seeds else {}
        res = []
        for b, x in zip(boxes, leaves):
            g = grads.get(b._node)
            res.append(vspace(x).zeros() if g is None else g)
        return tree_unflatten(treedef, res)

    return out, vjp_fn, aux


def _strip(x: Any, trace) -> Any:
    """The value of ``x`` at ``trace``'s level (outer levels stay boxed)."""
    if type(x) in box_types and x._trace is trace:
        return x._value
    return x


def vjp(fun: Callable, *primals, has_aux: bool = False):
    """``(out, vjp_fn)`` with ``vjp_fn(cotangent)`` the tuple of input cotangents (JAX's).

    >>> import matdiff.numpy as np
    >>> out, f_vjp = vjp(lambda x: np.sin(x) * 2.0, np.array([0.0, 1.0]))
    >>> f_vjp(np.ones(2))[0]
    array([2.        , 1.08060461])
    """
    out, fn, aux = _vjp("vjp", fun, primals, has_aux)
    return (out, fn, aux) if has_aux else (out, fn)


def _scalar_output_check(fname: str, ans: Any) -> None:
    v = getval(ans)
    shape = _np.shape(v)
    if shape != ():
        raise TypeError(
            f"{fname}: the function must return a scalar, but it returned an array of shape "
            f"{shape}. For a vector- or matrix-valued function use jacobian (all partial "
            "derivatives), elementwise_grad (the sum of the rows of the Jacobian), or vjp "
            "(a vector-Jacobian product)."
        )


def value_and_grad(fun: Callable, argnums=0, has_aux: bool = False, *, argnum=None) -> Callable:
    """``(f(x), grad f(x))`` in one pass.

    >>> import matdiff.numpy as np
    >>> value_and_grad(lambda x: np.sum(x**2))(np.array([1.0, 2.0]))
    (np.float64(5.0), array([2., 4.]))
    """
    if argnum is not None:
        argnums = argnum

    def value_and_grad_f(*args, **kwargs):
        nums, single = _normalize_argnums("grad", argnums, len(args))
        f = _partial(fun, args, kwargs, nums)
        names = [f"argument {i}" for i in nums]
        dyn = tuple(args[i] for i in nums)
        leaf_names = _leaf_names(dyn, names)
        ans, vjp_fn, aux = _vjp("grad", f, dyn, has_aux, leaf_names)
        _scalar_output_check("grad", ans)
        if _np.iscomplexobj(getval(ans)):
            raise TypeError(
                "grad: the function returned a complex number; grad needs a real scalar. "
                "Use holomorphic_grad for a holomorphic function, or differentiate the real "
                "part (np.real) or the squared modulus."
            )
        g = vjp_fn(vspace(ans).ones())
        g = g[0] if single else g
        return ((ans, aux), g) if has_aux else (ans, g)

    value_and_grad_f.__name__ = f"value_and_grad({getattr(fun, '__name__', 'f')})"
    return value_and_grad_f


def _leaf_names(dyn: tuple, names: list[str]) -> list[str]:
    out = []
    for d, n in zip(dyn, names):
        leaves, _ = tree_flatten(d)
        out += [n] if len(leaves) == 1 else [f"{n} (leaf {k})" for k in range(len(leaves))]
    return out


def grad(fun: Callable, argnums=0, has_aux: bool = False, *, argnum=None) -> Callable:
    """The gradient of a scalar function, shaped like the argument(s) in ``argnums``.

    ``argnum`` is accepted as autograd's name for ``argnums``.

    >>> import matdiff.numpy as np
    >>> grad(lambda x: np.sum(np.tanh(x)))(np.array([0.0, 1.0]))
    array([1.        , 0.41997434])
    """
    vg = value_and_grad(fun, argnums, has_aux, argnum=argnum)

    def grad_f_plain(*args, **kwargs):
        return vg(*args, **kwargs)[1]

    def grad_f_aux(*args, **kwargs):
        (_, aux), g = vg(*args, **kwargs)
        return g, aux

    f = grad_f_aux if has_aux else grad_f_plain
    f.__name__ = f"grad({getattr(fun, '__name__', 'f')})"
    f.__doc__ = f"Gradient of {getattr(fun, '__name__', 'f')}."
    return f


def elementwise_grad(fun: Callable, argnums=0, *, argnum=None) -> Callable:
    """The VJP with a cotangent of ones: for elementwise functions, the derivative at each point.

    >>> import matdiff.numpy as np
    >>> elementwise_grad(np.sin)(np.array([0.0, np.pi]))
    array([ 1., -1.])
    """
    if argnum is not None:
        argnums = argnum

    def egrad(*args, **kwargs):
        nums, single = _normalize_argnums("elementwise_grad", argnums, len(args))
        f = _partial(fun, args, kwargs, nums)
        ans, vjp_fn, _ = _vjp("elementwise_grad", f, tuple(args[i] for i in nums))
        g = vjp_fn(tree_map(lambda a: vspace(a).ones(), ans))
        return g[0] if single else g

    return egrad


# ---------------------------------------------------------------- forward mode


def _jvp(fname: str, fun: Callable, primals: tuple, tangents: tuple):
    leaves, treedef = tree_flatten(primals)
    t_leaves, t_def = tree_flatten(tangents)
    if t_def != treedef:
        raise ValueError(
            f"{fname}: the tangents' structure {t_def} differs from the primals' {treedef}; "
            "pass one tangent per primal, of the same shape"
        )
    for i, (x, t) in enumerate(zip(leaves, t_leaves)):
        _check_float(fname, f"primal {i}", x)
        xs, ts = _np.shape(getval(x)), _np.shape(getval(t))
        if xs != ts:
            raise ValueError(
                f"{fname}: tangent {i} has shape {ts} but its primal has shape {xs}; "
                "a tangent must have its primal's shape"
            )
        xc = _np.iscomplexobj(getval(x))
        tc = _np.iscomplexobj(getval(t))
        if tc and not xc:
            raise TypeError(
                f"{fname}: tangent {i} is complex but its primal is real; pass a real tangent"
            )
    trace = ForwardTrace()
    boxes = [new_box(x, trace, t) for x, t in zip(leaves, t_leaves)]
    result = fun(*tree_unflatten(treedef, boxes))
    out_leaves, out_def = tree_flatten(result)
    outs, touts = [], []
    for o in out_leaves:
        if type(o) in box_types and o._trace is trace:
            outs.append(o._value)
            touts.append(o._node)
        else:
            outs.append(o)
            touts.append(vspace(o).zeros())
    return tree_unflatten(out_def, outs), tree_unflatten(out_def, touts)


def jvp(fun: Callable, primals: Sequence, tangents: Sequence):
    """``(f(*primals), J tangents)`` by forward mode (JAX's signature).

    >>> import matdiff.numpy as np
    >>> jvp(np.sin, (0.0,), (2.0,))
    (np.float64(0.0), np.float64(2.0))
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError(
            "jvp: primals and tangents must be tuples (or lists) of the function's arguments, "
            "e.g. jvp(f, (x,), (v,))"
        )
    if len(primals) != len(tangents):
        raise ValueError(
            f"jvp: got {len(primals)} primals but {len(tangents)} tangents; pass one each"
        )
    return _jvp("jvp", fun, tuple(primals), tuple(tangents))


# ---------------------------------------------------------------- Jacobians


def _basis(x: Any):
    """Unit vectors of ``x``'s space, each shaped like ``x``."""
    v = getval(x)
    shape = _np.shape(v)
    dtype = vspace(v).dtype
    n = int(_np.prod(shape))
    eye = _np.eye(n, dtype=dtype)
    return [eye[i].reshape(shape) for i in range(n)], shape


def jacobian(fun: Callable, argnums=0, *, argnum=None) -> Callable:
    """The Jacobian by reverse mode, shaped ``out.shape + in.shape`` (``jacrev``).

    >>> import matdiff.numpy as np
    >>> jacobian(lambda x: x**2)(np.array([1.0, 2.0]))
    array([[2., 0.],
           [0., 4.]])
    """
    if argnum is not None:
        argnums = argnum

    def jac_f(*args, **kwargs):
        nums, single = _normalize_argnums("jacobian", argnums, len(args))
        f = _partial(fun, args, kwargs, nums)
        dyn = tuple(args[i] for i in nums)
        out, vjp_fn, _ = _vjp("jacobian", f, dyn)
        out_leaves, out_def = tree_flatten(out)
        in_leaves, in_def = tree_flatten(dyn)
        per_out = []
        for k, o in enumerate(out_leaves):
            basis, oshape = _basis(o)
            rows = []
            for e in basis:
                ct = [e if j == k else vspace(p).zeros() for j, p in enumerate(out_leaves)]
                rows.append(tree_flatten(vjp_fn(tree_unflatten(out_def, ct)))[0])
            blocks = []
            for i, x in enumerate(in_leaves):
                xshape = _np.shape(getval(x))
                stacked = mnp.stack([r[i] for r in rows]) if rows else _np.zeros((0,) + xshape)
                blocks.append(mnp.reshape(stacked, oshape + xshape))
            per_out.append(tree_unflatten(in_def, blocks))
        res = [r[0] if single else r for r in per_out]
        return tree_unflatten(out_def, res)

    return jac_f


jacrev = jacobian


def jacfwd(fun: Callable, argnums=0) -> Callable:
    """The Jacobian by forward mode, one JVP per input direction; ``out.shape + in.shape``.

    >>> import matdiff.numpy as np
    >>> jacfwd(lambda x: x**2)(np.array([1.0, 2.0]))
    array([[2., 0.],
           [0., 4.]])
    """

    def jac_f(*args, **kwargs):
        nums, single = _normalize_argnums("jacfwd", argnums, len(args))
        if not single:
            return tuple(jacfwd(fun, i)(*args, **kwargs) for i in nums)
        (i,) = nums
        x = args[i]
        f = _partial(fun, args, kwargs, nums)
        basis, xshape = _basis(x)
        cols = [_jvp("jacfwd", f, (x,), (e,))[1] for e in basis]
        out = _jvp("jacfwd", f, (x,), (vspace(x).zeros(),))[0] if not cols else None

        def assemble(*leaf_cols):
            oshape = _np.shape(getval(leaf_cols[0]))
            st = mnp.stack(list(leaf_cols), axis=-1)
            return mnp.reshape(st, oshape + xshape)

        if not cols:
            return tree_map(lambda o: _np.zeros(_np.shape(o) + xshape), out)
        return tree_map(assemble, *cols)

    return jac_f


def hessian(fun: Callable, argnums=0) -> Callable:
    """The Hessian, forward-over-reverse: ``out.shape + in.shape + in.shape``.

    >>> import matdiff.numpy as np
    >>> hessian(lambda x: np.sum(x**3))(np.array([1.0, 2.0]))
    array([[ 6.,  0.],
           [ 0., 12.]])
    """
    return jacfwd(jacobian(fun, argnums), argnums)


def hvp(fun: Callable, x: Any, v: Any) -> Any:
    """The Hessian-vector product H(x) v, forward-over-reverse, without forming H.

    >>> import matdiff.numpy as np
    >>> hvp(lambda x: np.sum(x**3), np.array([1.0, 2.0]), np.array([1.0, 0.0]))
    array([6., 0.])
    """
    return _jvp("hvp", grad(fun), (x,), (v,))[1]


# ---------------------------------------------------------------- stop_gradient


def _identity(x):
    return x


stop_gradient = nondifferentiable(_identity, "stop_gradient")
stop_gradient.__doc__ = """The value of ``x`` with its derivative treated as zero, at every level.

>>> import matdiff.numpy as np
>>> grad(lambda x: x * stop_gradient(x))(3.0)
np.float64(3.0)
"""
