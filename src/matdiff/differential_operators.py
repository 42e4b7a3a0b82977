"""The derivative operators users call: grad, vjp, jvp, jacobian, hessian, hvp, ...

Built on the core's traces. Names and meanings follow JAX where it has them and
autograd otherwise, so either library's users can switch by changing an import.
Arguments and results may be pytrees of arrays and numbers.
"""

from __future__ import annotations

import functools
import inspect
import sys
import warnings
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as _np

from . import numpy as mnp
from .batching import BatchedForwardTrace, batch_jvp_trace, identity_seed, tangent_of
from .core import _MISSING as _MISSING_RULE
from .core import (
    ForwardTrace,
    ReverseTrace,
    VJPNode,
    _missing_rule,
    backward_pass,
    jvp_rules,
    vjp_rules,
    vspace,
)
from .tracer import box_types, getval, new_box, nondifferentiable
from .tree import tree_flatten, tree_map, tree_unflatten

__all__ = [
    "grad",
    "value_and_grad",
    "vjp",
    "jvp",
    "linearize",
    "jacobian",
    "jacrev",
    "jacfwd",
    "hessian",
    "hvp",
    "elementwise_grad",
    "stop_gradient",
    "custom_vjp",
    "custom_jvp",
    "checkpoint",
    "make_vjp",
    "make_jvp",
    "make_hvp",
    "make_jvp_reversemode",
    "hessian_tensor_product",
    "hessian_vector_product",
    "tensor_jacobian_product",
    "vector_jacobian_product",
    "make_ggnvp",
    "grad_and_aux",
    "grad_named",
    "deriv",
    "holomorphic_grad",
    "multigrad_dict",
]


# ---------------------------------------------------------------- argument handling


def _fname(fun: Callable) -> str:
    return getattr(fun, "__name__", type(fun).__name__)


def _normalize_argnums(fname: str, argnums, nargs: int) -> tuple[tuple[int, ...], bool]:
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


def _dtype_of(v: Any) -> _np.dtype:
    if isinstance(v, bool):
        return _np.dtype(bool)
    if isinstance(v, int):
        return _np.dtype(int)
    return _np.result_type(v)


def _check_float(fname: str, what: str, leaf: Any) -> None:
    dt = _dtype_of(getval(leaf))
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


class _LeafNames:
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


def _strip(x: Any, trace) -> Any:
    """The value of ``x`` at ``trace``'s level (outer levels stay boxed)."""
    if type(x) in box_types and x._trace is trace:
        return x._value
    return x


def _split_aux(fname: str, result: Any) -> tuple[Any, Any]:
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise TypeError(
            f"{fname}: has_aux=True needs the function to return a pair (output, aux), but it "
            f"returned a {type(getval(result)).__name__}. Return (output, aux), or drop "
            "has_aux=True."
        )
    return result[0], result[1]


def _check_cotangent(fname: str, i: int, ct: Any, out: Any) -> None:
    cs, os_ = _np.shape(getval(ct)), _np.shape(getval(out))
    if cs != os_:
        raise ValueError(
            f"{fname}: cotangent {i} has shape {cs} but the output it belongs to has shape "
            f"{os_}; a cotangent must have its output's shape"
        )
    cdt = _dtype_of(getval(ct))
    if cdt.kind == "c" and _dtype_of(getval(out)).kind != "c":
        raise TypeError(
            f"{fname}: cotangent {i} is complex ({cdt}) but its output is real; pass a real "
            "cotangent"
        )
    if cdt.kind not in "fciub":
        raise TypeError(f"{fname}: cotangent {i} has dtype {cdt}; pass a float array")


def _check_tangents(fname: str, leaves: list, t_leaves: list) -> None:
    for i, (x, t) in enumerate(zip(leaves, t_leaves)):
        _check_float(fname, f"primal {i}", x)
        xs, ts = _np.shape(getval(x)), _np.shape(getval(t))
        if xs != ts:
            raise ValueError(
                f"{fname}: tangent {i} has shape {ts} but its primal has shape {xs}; "
                "a tangent must have its primal's shape"
            )
        tdt = _dtype_of(getval(t))
        if tdt.kind not in "fc":
            raise TypeError(
                f"{fname}: tangent {i} has dtype {tdt}; tangents must be floating point like "
                "their primals (e.g. 1.0 instead of 1, or v.astype(float))"
            )
        if tdt.kind == "c" and _dtype_of(getval(x)).kind != "c":
            raise TypeError(
                f"{fname}: tangent {i} is complex but its primal is real; pass a real tangent"
            )


# ---------------------------------------------------------------- reverse mode


def _vjp(fname: str, fun: Callable, primals: tuple, has_aux: bool = False, names=None, check=True):
    """Trace ``fun(*primals)`` in reverse mode: ``(out, vjp_fn, aux)``."""
    leaves, treedef = tree_flatten(primals)
    if check:
        for i, leaf in enumerate(leaves):
            if _dtype_of(getval(leaf)).kind not in "fc":
                _check_float(fname, names[i] if names else f"input leaf {i}", leaf)
    trace = ReverseTrace()
    boxes = [trace.leaf(x) for x in leaves]
    result = fun(*tree_unflatten(treedef, boxes))
    if has_aux:
        result, aux = _split_aux(fname, result)
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
                f"{fname}: the cotangent's structure {ct_def} differs from the output's "
                f"{out_def}; pass one cotangent per output, of the same shape"
            )
        seeds: dict = {}
        for i, (o, v, ct) in enumerate(zip(out_leaves, out_vals, ct_leaves)):
            _check_cotangent(fname, i, ct, v)
            if type(o) in box_types and o._trace is trace:
                prev = seeds.get(o._node)
                seeds[o._node] = ct if prev is None else prev + ct
        grads = backward_pass(trace, seeds) if seeds else {}
        res = []
        for b, x in zip(boxes, leaves):
            g = grads.get(b._node)
            res.append(vspace(x).zeros() if g is None else g)
        return tree_unflatten(treedef, res)

    vjp_fn.trace = trace
    # Whether any output is traced at this level: an output that is not cannot depend on
    # the inputs, which grad reports instead of returning a silent zero.
    vjp_fn.depends = any(type(o) in box_types and o._trace is trace for o in out_leaves)
    return out, vjp_fn, aux


def vjp(fun: Callable, *primals, has_aux: bool = False):
    """``(out, vjp_fn)`` with ``vjp_fn(cotangent)`` the tuple of input cotangents (JAX's).

    With ``has_aux=True`` the function returns ``(out, aux)`` and so does this, as
    ``(out, vjp_fn, aux)``.

    >>> import matdiff.numpy as np
    >>> out, f_vjp = vjp(lambda x: np.sin(x) * 2.0, np.array([0.0, 1.0]))
    >>> f_vjp(np.ones(2))[0]
    array([2.        , 1.08060461])
    """
    out, fn, aux = _vjp("vjp", fun, primals, has_aux)
    return (out, fn, aux) if has_aux else (out, fn)


def _user_stacklevel() -> int:
    """The ``stacklevel`` of the first frame outside this module, for a warning raised
    by the caller of this function: the warning then points at the user's line."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        frame, level = frame.f_back, level + 1
    return level


def _check_float_output(fname: str, out: Any) -> None:
    """Refuse a bool or integer output: it is not a float that depends on the input."""
    for leaf in tree_flatten(out)[0]:
        _check_float_leaf(fname, leaf)


def _check_float_leaf(fname: str, leaf: Any) -> None:
    v = getval(leaf)
    dt = _dtype_of(v)
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


def _scalar_output_check(fname: str, ans: Any) -> None:
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
    _check_float_leaf(fname, ans)
    v = getval(ans)
    shape = _np.shape(v)
    if shape != ():
        raise TypeError(
            f"{fname}: the function must return a scalar, but it returned an array of shape "
            f"{shape}. For a vector- or matrix-valued function use jacobian (all partial "
            "derivatives), elementwise_grad (the sum of the rows of the Jacobian), or vjp "
            "(a vector-Jacobian product)."
        )
    if _dtype_of(v).kind == "c":
        raise TypeError(
            f"{fname}: the function returned a complex number; grad needs a real scalar. "
            "Use holomorphic_grad for a holomorphic function, or differentiate the real "
            "part (np.real) or the squared modulus."
        )


def value_and_grad(fun: Callable, argnums=0, has_aux: bool = False, *, argnum=None) -> Callable:
    """``(f(x), grad f(x))`` in one pass; with ``has_aux``, ``((f(x), aux), grad f(x))``.

    >>> import matdiff.numpy as np
    >>> value_and_grad(lambda x: np.sum(x**2))(np.array([1.0, 2.0]))
    (np.float64(5.0), array([2., 4.]))
    """
    if argnum is not None:
        argnums = argnum
    name = _fname(fun)

    def value_and_grad_f(*args, **kwargs):
        nums, single = _normalize_argnums("grad", argnums, len(args))
        f = _partial(fun, args, kwargs, nums)
        dyn = tuple(args[i] for i in nums)
        ans, vjp_fn, aux = _vjp("grad", f, dyn, has_aux, _LeafNames(dyn, nums))
        _scalar_output_check("grad", ans)
        if not vjp_fn.depends:
            warnings.warn(
                f"grad: the output of {name} does not depend on the input (it is not "
                "traced), so the gradient is zero",
                UserWarning,
                stacklevel=_user_stacklevel(),
            )
        g = vjp_fn(vspace(ans).ones())
        g = g[0] if single else g
        return ((ans, aux), g) if has_aux else (ans, g)

    value_and_grad_f.__name__ = f"value_and_grad({name})"
    return value_and_grad_f


def grad(fun: Callable, argnums=0, has_aux: bool = False, *, argnum=None) -> Callable:
    """The gradient of a scalar function, shaped like the argument(s) in ``argnums``.

    ``argnum`` is accepted as autograd's name for ``argnums``. With ``has_aux=True`` the
    function returns ``(output, aux)`` and the gradient function ``(gradient, aux)``.

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
    f.__name__ = f"grad({_fname(fun)})"
    f.__doc__ = f"Gradient of {_fname(fun)}."
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
        _check_float_output("elementwise_grad", ans)
        if any(_dtype_of(getval(a)).kind == "c" for a in tree_flatten(ans)[0]):
            raise TypeError(
                "elementwise_grad: the function's output is complex; elementwise_grad needs "
                "a real output. Differentiate np.real(...) or np.abs(...)**2 instead."
            )
        g = vjp_fn(tree_map(lambda a: vspace(a).ones(), ans))
        return g[0] if single else g

    egrad.__name__ = f"elementwise_grad({_fname(fun)})"
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
    _check_tangents(fname, leaves, t_leaves)
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


def _check_tuple_args(fname: str, primals, tangents) -> None:
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError(
            f"{fname}: primals and tangents must be tuples (or lists) of the function's "
            "arguments, e.g. jvp(f, (x,), (v,))"
        )
    if len(primals) != len(tangents):
        raise ValueError(
            f"{fname}: got {len(primals)} primals but {len(tangents)} tangents; pass one each"
        )


def jvp(fun: Callable, primals: Sequence, tangents: Sequence):
    """``(f(*primals), J tangents)`` by forward mode (JAX's signature).

    >>> import matdiff.numpy as np
    >>> jvp(np.sin, (0.0,), (2.0,))
    (np.float64(0.0), np.float64(2.0))
    """
    _check_tuple_args("jvp", primals, tangents)
    return _jvp("jvp", fun, tuple(primals), tuple(tangents))


def linearize(fun: Callable, *primals) -> tuple[Any, Callable]:
    """``(f(*primals), f_jvp)`` where ``f_jvp(*tangents)`` is the JVP at ``primals`` (JAX's).

    The forward pass runs once and is recorded; each ``f_jvp`` call pushes its tangents
    along the record with the JVP rules, without re-running ``fun``.

    >>> import matdiff.numpy as np
    >>> y, f_jvp = linearize(np.sin, 0.0)
    >>> f_jvp(2.0)
    np.float64(2.0)
    """
    leaves, treedef = tree_flatten(primals)
    for i, leaf in enumerate(leaves):
        _check_float("linearize", f"primal {i}", leaf)
    trace = ReverseTrace()
    boxes = [trace.leaf(x) for x in leaves]
    out_leaves, out_def = tree_flatten(fun(*tree_unflatten(treedef, boxes)))
    out_vals = [_strip(o, trace) for o in out_leaves]
    tape = trace.tape
    replayable = all(node.fun in jvp_rules for node in tape)

    def f_jvp(*tangents):
        _check_tuple_args("linearize", primals, tangents)
        t_leaves, t_def = tree_flatten(tuple(tangents))
        if t_def != treedef:
            raise ValueError(
                f"linearize: the tangents' structure {t_def} differs from the primals' "
                f"{treedef}; pass one tangent per primal, of the same shape"
            )
        _check_tangents("linearize", leaves, t_leaves)
        if not replayable:
            # A custom rule or checkpoint on the tape has no JVP of its own: re-trace.
            return _jvp("linearize", fun, tuple(primals), tuple(tangents))[1]
        tan = {b._node: t for b, t in zip(boxes, t_leaves)}
        for node in tape:
            table = jvp_rules[node.fun]
            t = None
            for argnum, parent in zip(node.argnums, node.parents):
                g = tan.get(parent)
                if g is None:
                    continue
                rule = table[argnum] if argnum < len(table) else _MISSING_RULE
                if rule is _MISSING_RULE:
                    raise _missing_rule(node.fun, argnum, "fwd")
                if rule is None:
                    continue
                r = rule(g, node.ans, *node.args, **node.kwargs)
                t = r if t is None else t + r
            if t is not None:
                tan[node] = t
        res = []
        for o, v in zip(out_leaves, out_vals):
            t = tan.get(o._node) if type(o) in box_types and o._trace is trace else None
            res.append(vspace(v).zeros() if t is None else t)
        return tree_unflatten(out_def, res)

    return tree_unflatten(out_def, out_vals), f_jvp


# ---------------------------------------------------------------- Jacobians


def _basis(x: Any):
    """Unit vectors of ``x``'s space, each shaped like ``x``."""
    v = getval(x)
    shape = _np.shape(v)
    dtype = vspace(v).dtype
    n = int(_np.prod(shape))
    eye = _np.eye(n, dtype=dtype)
    return [eye[i].reshape(shape) for i in range(n)], shape


def jacobian(fun: Callable, argnums=0, has_aux: bool = False, *, argnum=None) -> Callable:
    """The Jacobian by reverse mode, shaped ``out.shape + in.shape`` (``jacrev``).

    One VJP per output element, all on one recorded forward pass. With ``has_aux=True``
    the function returns ``(output, aux)`` and the Jacobian function ``(jacobian, aux)``,
    as JAX's does.

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
        out, vjp_fn, aux = _vjp("jacobian", f, dyn, has_aux, names=_LeafNames(dyn, nums))
        _check_float_output("jacobian", out)
        out_leaves, out_def = tree_flatten(out)
        in_leaves, in_def = tree_flatten(dyn)
        zeros = [vspace(p).zeros() for p in out_leaves]
        per_out = []
        for k, o in enumerate(out_leaves):
            basis, oshape = _basis(o)
            rows = []
            for e in basis:
                ct = list(zeros)
                ct[k] = e
                rows.append(tree_flatten(vjp_fn(tree_unflatten(out_def, ct)))[0])
            blocks = []
            for i, x in enumerate(in_leaves):
                xshape = _np.shape(getval(x))
                if rows:
                    stacked = mnp.stack([r[i] for r in rows])
                else:
                    stacked = _np.zeros((0,) + xshape, vspace(x).dtype)
                blocks.append(mnp.reshape(stacked, oshape + xshape))
            per_out.append(tree_unflatten(in_def, blocks))
        res = [r[0] if single else r for r in per_out]
        jac = tree_unflatten(out_def, res)
        return (jac, aux) if has_aux else jac

    jac_f.__name__ = f"jacobian({_fname(fun)})"
    return jac_f


jacrev = jacobian


def jacfwd(
    fun: Callable, argnums=0, has_aux: bool = False, *, chunk_size: int | None = None
) -> Callable:
    """The Jacobian by forward mode, shaped ``out.shape + in.shape``.

    With ``has_aux=True`` the function returns ``(output, aux)`` and the Jacobian
    function ``(jacobian, aux)``, as JAX's does.

    The basis directions of an input go through batched forward passes
    (:mod:`matdiff.batching`), ``chunk_size`` at a time. By default the chunk is sized so
    that each batched intermediate stays near 4 MB, measured on a first chunk of 32
    directions and remembered for later calls with the same shapes; where that allows
    all directions at once, one pass does everything.

    >>> import matdiff.numpy as np
    >>> jacfwd(lambda x: x**2)(np.array([1.0, 2.0]))
    array([[2., 0.],
           [0., 4.]])
    """
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"jacfwd: chunk_size={chunk_size!r} must be a positive integer or None")
    peaks: dict = {}  # per input leaf and shape: the largest intermediate per direction

    def jac_f(*args, **kwargs):
        nums, single = _normalize_argnums("jacfwd", argnums, len(args))
        f = _partial(fun, args, kwargs, nums)
        auxes: list = []  # the aux of each batched pass, read at that pass's level
        if has_aux:
            f_aux = f

            def f(*dyn):
                out, aux = _split_aux("jacfwd", f_aux(*dyn))
                auxes.append(aux)
                return out

        dyn = tuple(args[i] for i in nums)
        in_leaves, in_def = tree_flatten(dyn)
        names = _LeafNames(dyn, nums)
        for i, x in enumerate(in_leaves):
            if _dtype_of(getval(x)).kind not in "fc":
                _check_float("jacfwd", names[i], x)
        if not in_leaves:
            raise ValueError(
                "jacfwd: the differentiated arguments hold no arrays or numbers; pass at "
                "least one float array"
            )
        out_def = None
        columns = []  # per input leaf: list over output leaves of out.shape + in.shape
        for j, x in enumerate(in_leaves):

            def f_j(xj, _j=j):
                leaves = list(in_leaves)
                leaves[_j] = xj
                return f(*tree_unflatten(in_def, leaves))

            xv = getval(x)
            key = (nums, j, _np.shape(xv), _dtype_of(xv))
            out, blocks, trace = _jacfwd_leaf(f_j, x, chunk_size, peaks, key)
            if j == 0:
                _check_float_output("jacfwd", out)
                if has_aux:
                    aux = tree_map(lambda a, _t=trace: _strip(a, _t), auxes[-1])
            out_def = tree_flatten(out)[1]
            columns.append(blocks)
        per_out = []
        for k in range(len(columns[0])):
            per_out.append(tree_unflatten(in_def, [col[k] for col in columns]))
        res = [r[0] if single else r for r in per_out]
        jac = tree_unflatten(out_def, res)
        return (jac, aux) if has_aux else jac

    jac_f.__name__ = f"jacfwd({_fname(fun)})"
    return jac_f


# Without a chunk_size, a batch is sized so that each batched intermediate stays near
# this many bytes: past the caches, elementwise work on (B, ...) blocks slows down faster
# than the Python cost per pass falls.
_CHUNK_BYTES = 4 * 2**20
_PROBE_ABOVE = 32  # up to this many directions go in one pass; more are sized first


def _directions(n: int, start: int, rows: int, xshape: tuple, dtype) -> _np.ndarray:
    """Rows ``start:start + rows`` of the identity, each shaped like ``x``."""
    if len(xshape) == 1:
        # Directions of a vector: the batch rules may use the identity's structure.
        return identity_seed(n, dtype, start, rows)
    d = _np.zeros((rows, n), dtype)
    d[_np.arange(rows), start + _np.arange(rows)] = 1
    return d.reshape((rows,) + xshape)


def _jacfwd_leaf(f: Callable, x: Any, chunk_size: int | None, peaks: dict, key: Any):
    """``f(x)`` and, per output leaf, its Jacobian in ``x`` as ``out.shape + x.shape``.

    ``peaks[key]`` remembers the largest intermediate per direction seen for this input,
    so that a later call with the same shapes sizes its chunks without measuring again.
    """
    xv = getval(x)
    xshape = _np.shape(xv)
    dtype = vspace(xv).dtype
    n = int(_np.prod(xshape))

    def fitting(peak: int) -> int:
        return max(1, _CHUNK_BYTES // (peak * dtype.itemsize))

    sized = True
    if chunk_size is None:
        if n <= _PROBE_ABOVE:
            chunk_size = n
        elif key in peaks:
            chunk_size = fitting(peaks[key])
        else:
            # A first small chunk measures the largest intermediate per direction.
            chunk_size = _PROBE_ABOVE
            sized = False
    step = max(1, min(chunk_size, n))
    out = None
    chunks: list[list] = []
    start = 0
    while start < n or not chunks:
        rows = min(step, n - start)
        directions = _directions(n, start, rows, xshape, dtype)
        out, t_out, trace = batch_jvp_trace(f, (x,), (directions,), "jacfwd")
        chunks.append(tree_flatten(t_out)[0])
        start += rows
        peaks[key] = max(peaks.get(key, 1), trace.peak)
        if not sized:
            step = fitting(peaks[key])
            sized = True
    out_leaves = tree_flatten(out)[0]
    blocks = []
    for k, o in enumerate(out_leaves):
        oshape = _np.shape(getval(o))
        parts = [c[k] for c in chunks]
        if all(type(p) is _np.ndarray for p in parts):
            # Untraced (the common case): each chunk goes straight to its place in the
            # result, one copy instead of a concatenation and a transposing reshape.
            blocks.append(_assemble_columns(parts, oshape, xshape, n))
            continue
        t = parts[0] if len(parts) == 1 else mnp.concatenate(parts, axis=0)
        # (n,) + out.shape  ->  out.shape + (n,)  ->  out.shape + x.shape
        nd = len(oshape)
        if nd:
            t = mnp.transpose(t, tuple(range(1, nd + 1)) + (0,))
        blocks.append(mnp.reshape(t, oshape + xshape))
    return out, blocks, trace


def _assemble_columns(parts: list, oshape: tuple, xshape: tuple, n: int) -> _np.ndarray:
    """Chunks of ``(rows,) + out.shape`` tangents as one ``out.shape + x.shape`` array."""
    dtype = _np.result_type(*parts)
    res = _np.empty(oshape + (n,), dtype)
    start = 0
    for p in parts:
        rows = p.shape[0]
        res[..., start : start + rows] = _np.moveaxis(p, 0, -1)
        start += rows
    return res.reshape(oshape + xshape)


def hessian(
    fun: Callable, argnums=0, has_aux: bool = False, *, chunk_size: int | None = None
) -> Callable:
    """The Hessian, forward-over-reverse: ``out.shape + in.shape + in.shape``.

    With ``has_aux=True`` the function returns ``(output, aux)`` and the Hessian
    function ``(hessian, aux)``.

    The reverse-mode Jacobian is differentiated by batched forward passes over the
    basis directions (``chunk_size`` at a time, sized to memory by default, as in
    :func:`jacfwd`), not a Python loop of one pass per direction.

    >>> import matdiff.numpy as np
    >>> hessian(lambda x: np.sum(x**3))(np.array([1.0, 2.0]))
    array([[ 6.,  0.],
           [ 0., 12.]])
    """
    h = jacfwd(jacobian(fun, argnums, has_aux), argnums, has_aux, chunk_size=chunk_size)
    h.__name__ = f"hessian({_fname(fun)})"
    return h


def hvp(fun: Callable, x: Any, v: Any) -> Any:
    """The Hessian-vector product H(x) v, forward-over-reverse, without forming H.

    ``x`` and ``v`` may be pytrees of the same structure.

    >>> import matdiff.numpy as np
    >>> hvp(lambda x: np.sum(x**3), np.array([1.0, 2.0]), np.array([1.0, 0.0]))
    array([6., 0.])

    ``v`` is a direction, so an integer or boolean ``v`` (as SciPy's optimizers may pass
    to ``hessp``) is read as floating point in ``x``'s dtype.
    """
    v = tree_map(_float_direction, v, x) if _tree_matches(v, x) else v
    return _jvp("hvp", grad(fun), (x,), (v,))[1]


def _tree_matches(a: Any, b: Any) -> bool:
    return tree_flatten(a)[1] == tree_flatten(b)[1]


def _float_direction(v: Any, x: Any) -> Any:
    vv = getval(v)
    if _dtype_of(vv).kind in "biu" and _dtype_of(getval(x)).kind in "fc":
        return _np.asarray(vv).astype(vspace(x).dtype)
    return v


# ---------------------------------------------------------------- stop_gradient


def _identity(x):
    return x


_stop = nondifferentiable(_identity, "stop_gradient")


def stop_gradient(x: Any) -> Any:
    """The value of ``x`` (a pytree) with its derivative treated as zero, at every level.

    >>> import matdiff.numpy as np
    >>> grad(lambda x: x * stop_gradient(x))(3.0)
    np.float64(3.0)
    """
    return tree_map(_stop, x)


# ---------------------------------------------------------------- custom rules
#
# A function with a custom rule is recorded on a reverse tape as one *hub* node, whose
# parents are the traced input leaves, and one node per output leaf whose parent is the
# hub. An output node passes its cotangent up as a sparse {output index: cotangent}; the
# hub sums those and calls the rule's backward function once for all inputs.


def _custom_hub(*args):  # pragma: no cover - a tape marker, never called
    raise AssertionError("_custom_hub is a tape marker")


def _custom_out(*args):  # pragma: no cover - a tape marker, never called
    raise AssertionError("_custom_out is a tape marker")


class _OutCotangents(dict):
    """Cotangents of some outputs of a custom-rule call; missing outputs are zero."""

    __slots__ = ()

    def __add__(self, other):
        res = _OutCotangents(self)
        for k, v in other.items():
            res[k] = res[k] + v if k in res else v
        return res


class _CustomRule:
    """The hub node's answer: the flat backward function, called once per backward pass.

    The backward pass asks for each traced input's cotangent in turn, with the same
    ``g``; the results of one call serve them all, and are dropped after the last so
    that the tape does not keep them alive.
    """

    __slots__ = ("bwd", "out_vals", "n_traced", "_g", "_cts", "_left")

    def __init__(self, bwd: Callable, out_vals: list, n_traced: int) -> None:
        self.bwd = bwd
        self.out_vals = out_vals
        self.n_traced = n_traced
        self._g = self._cts = None
        self._left = 0

    def cotangent(self, i: int, g: _OutCotangents, args: tuple) -> Any:
        if g is not self._g or self._left == 0:
            cts = [g.get(k) for k in range(len(self.out_vals))]
            cts = [vspace(o).zeros() if c is None else c for c, o in zip(cts, self.out_vals)]
            self._cts = self.bwd(cts)
            self._g = g
            self._left = self.n_traced
        ct = self._cts[i]
        self._left -= 1
        if self._left == 0:
            self._g = self._cts = None
        return vspace(args[i]).zeros() if ct is None else ct


class _HubTable(list):
    """The hub's VJP table: one maker for every input position."""

    def __getitem__(self, i):
        return lambda rule, *args: lambda g: rule.cotangent(i, g, args)


vjp_rules[_custom_hub] = _HubTable()
vjp_rules[_custom_out] = [lambda ans, k: lambda g: _OutCotangents({k: g})]


def _top_trace(leaves: list):
    top = None
    for a in leaves:
        if type(a) in box_types:
            t = a._trace
            if top is None or t.level > top.level:
                top = t
    return top


def _unbox_at(leaves: list, top) -> list:
    return [a._value if type(a) in box_types and a._trace is top else a for a in leaves]


def _bind_custom(top: ReverseTrace, leaves: list, vals: list, outs: list, bwd: Callable) -> list:
    """Record a custom-rule call on ``top``'s tape; the boxed outputs."""
    argnums = tuple(i for i, a in enumerate(leaves) if type(a) in box_types and a._trace is top)
    parents = [leaves[i]._node for i in argnums]
    rule = _CustomRule(bwd, outs, len(argnums))
    hub = VJPNode(_custom_hub, rule, tuple(vals), {}, argnums, parents)
    top.tape.append(hub)
    boxes = []
    for k, o in enumerate(outs):
        node = VJPNode(_custom_out, o, (k,), {}, (0,), [hub])
        top.tape.append(node)
        boxes.append(new_box(o, top, node))
    return boxes


def _check_closure(fname: str, out_leaves: list, top) -> None:
    for o in out_leaves:
        if type(o) in box_types and o._trace is top:
            raise TypeError(
                f"{fname}: the function's output depends on a traced value it closes over "
                "(not one of its arguments), which its custom rule cannot see. Pass that "
                "value as an argument instead."
            )


def _primal_fallback(call_custom: Callable, fun: Callable, args: tuple, kwargs, leaves, top):
    """Under a trace that does not use the custom rule (a forward trace for ``custom_vjp``,
    a staging trace for any custom function): payloads (tangents, staged variables) from
    ``fun`` itself, values from the custom path, so lower reverse traces still use the
    custom rule. With nothing traced below ``top`` this is just ``fun(*args)``."""
    vals = _unbox_at(leaves, top)
    if not any(type(v) in box_types for v in vals):
        return fun(*args, **kwargs)
    inner = call_custom(vals)
    traced = fun(*args, **kwargs)
    inner_leaves, inner_def = tree_flatten(inner)
    traced_leaves = tree_flatten(traced)[0]
    res = []
    for v, t in zip(inner_leaves, traced_leaves):
        if type(t) in box_types and t._trace is top:
            res.append(new_box(v, top, t._node))
        else:
            res.append(v)
    return tree_unflatten(inner_def, res)


class custom_vjp:
    """A function with a user-defined VJP (JAX's interface).

    ``f.defvjp(f_fwd, f_bwd)``: ``f_fwd(*args) -> (out, residuals)`` and
    ``f_bwd(residuals, out_cotangent) -> tuple of argument cotangents`` (``None`` for zero).
    Reverse mode of any order uses the rule (the backward function is itself
    differentiated); forward mode differentiates the original function.

    >>> import matdiff.numpy as np
    >>> @custom_vjp
    ... def clip_grad(x):
    ...     return x
    >>> clip_grad.defvjp(lambda x: (x, None), lambda res, g: (np.clip(g, -1.0, 1.0),))
    >>> grad(lambda x: 5.0 * clip_grad(x))(2.0)
    np.float64(1.0)
    """

    def __init__(self, fun: Callable, nondiff_argnums: Sequence[int] = ()) -> None:
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.fwd: Callable | None = None
        self.bwd: Callable | None = None
        self.nondiff_argnums = tuple(nondiff_argnums)

    def defvjp(self, fwd: Callable, bwd: Callable) -> None:
        self.fwd, self.bwd = fwd, bwd

    def _split(self, args: tuple) -> tuple[tuple, list]:
        static = tuple(args[i] for i in self.nondiff_argnums)
        dyn = [a for i, a in enumerate(args) if i not in self.nondiff_argnums]
        return static, dyn

    def _merge(self, static: tuple, dyn: Sequence) -> list:
        full, si, di = [], iter(static), iter(dyn)
        for i in range(len(static) + len(dyn)):
            full.append(next(si) if i in self.nondiff_argnums else next(di))
        return full

    def __call__(self, *args, **kwargs):
        name = _fname(self.fun)
        if self.fwd is None:
            raise TypeError(
                f"custom_vjp function {name} has no rule: call {name}.defvjp(fwd, bwd) first"
            )
        static, dyn = self._split(args)
        leaves, treedef = tree_flatten(tuple(dyn))
        top = _top_trace(leaves)
        if top is None:
            return self.fun(*args, **kwargs)

        def call_custom(vals):
            return self(*self._merge(static, tree_unflatten(treedef, vals)), **kwargs)

        if not isinstance(top, ReverseTrace):
            return _primal_fallback(call_custom, self.fun, args, kwargs, leaves, top)
        vals = _unbox_at(leaves, top)
        fwd_out = self.fwd(*self._merge(static, tree_unflatten(treedef, vals)), **kwargs)
        if not (isinstance(fwd_out, tuple) and len(fwd_out) == 2):
            raise TypeError(
                f"custom_vjp {name}: the forward function must return a pair (output, "
                f"residuals), got {type(fwd_out).__name__}"
            )
        out, residuals = fwd_out
        out_leaves, out_def = tree_flatten(out)
        _check_closure(f"custom_vjp {name}", out_leaves, top)
        n_dyn = len(dyn)

        def bwd_flat(cts: list) -> list:
            in_cts = self.bwd(*static, residuals, tree_unflatten(out_def, cts))
            if not isinstance(in_cts, (tuple, list)) or len(in_cts) != n_dyn:
                raise TypeError(
                    f"custom_vjp {name}: the backward function must return a tuple with one "
                    f"cotangent per differentiable argument ({n_dyn}), got {in_cts!r:.80}"
                )
            flat = []
            for d, c in zip(dyn, in_cts):
                d_leaves, d_def = tree_flatten(d)
                if c is None:
                    flat += [None] * len(d_leaves)
                    continue
                c_leaves, c_def = tree_flatten(c)
                if c_def != d_def:
                    raise ValueError(
                        f"custom_vjp {name}: a cotangent's structure {c_def} differs from "
                        f"its argument's {d_def}"
                    )
                for cl, dl in zip(c_leaves, d_leaves):
                    cs, ds = _np.shape(getval(cl)), _np.shape(getval(dl))
                    if cs != ds:
                        raise ValueError(
                            f"custom_vjp {name}: the backward function returned a cotangent "
                            f"of shape {cs} for an argument of shape {ds}; sum it over the "
                            "broadcast axes (each cotangent has its argument's shape)"
                        )
                flat += c_leaves
            return flat

        return tree_unflatten(out_def, _bind_custom(top, leaves, vals, out_leaves, bwd_flat))


class custom_jvp:
    """A function with a user-defined JVP (JAX's interface).

    ``f.defjvp(f_jvp)`` with ``f_jvp(primals, tangents) -> (out, tangent_out)``, linear in
    the tangents. Reverse mode transposes the rule: it reverse-differentiates ``f_jvp``
    with respect to the tangents.

    >>> import matdiff.numpy as np
    >>> @custom_jvp
    ... def f(x):
    ...     return np.sin(x)
    >>> @f.defjvp
    ... def f_jvp(primals, tangents):
    ...     return np.sin(primals[0]), np.cos(primals[0]) * tangents[0]
    >>> float(grad(f)(0.0)), float(jvp(f, (0.0,), (1.0,))[1])
    (1.0, 1.0)
    """

    def __init__(self, fun: Callable) -> None:
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.jvp: Callable | None = None

    def defjvp(self, jvp: Callable) -> Callable:
        """Set the JVP rule; returns it, so this also works as a decorator."""
        self.jvp = jvp
        return jvp

    def _rule(self, primals: tuple, tangents: tuple):
        res = self.jvp(primals, tangents)
        if not (isinstance(res, (tuple, list)) and len(res) == 2):
            raise TypeError(
                f"custom_jvp {_fname(self.fun)}: the JVP rule must return a pair "
                f"(primal_out, tangent_out), got {type(res).__name__}"
            )
        p_leaves, p_def = tree_flatten(res[0])
        t_leaves, t_def = tree_flatten(res[1])
        if p_def != t_def:
            raise ValueError(
                f"custom_jvp {_fname(self.fun)}: the JVP rule's tangent_out structure {t_def} "
                f"differs from its primal_out's {p_def}"
            )
        return p_leaves, t_leaves, p_def

    def __call__(self, *args):
        name = _fname(self.fun)
        if self.jvp is None:
            raise TypeError(
                f"custom_jvp function {name} has no rule: call {name}.defjvp(jvp_rule) first"
            )
        leaves, treedef = tree_flatten(args)
        top = _top_trace(leaves)
        if top is None:
            return self.fun(*args)
        if not isinstance(top, (ReverseTrace, ForwardTrace, BatchedForwardTrace)):
            # Staging (jit) records the primal computation; a derivative taken inside the
            # staged function traces above it and meets the rule in the branches below.
            return _primal_fallback(
                lambda vals: self(*tree_unflatten(treedef, vals)), self.fun, args, {}, leaves, top
            )
        vals = _unbox_at(leaves, top)
        primals = tree_unflatten(treedef, vals)
        if isinstance(top, ReverseTrace):
            out = self(*primals)
            out_leaves, out_def = tree_flatten(out)
            zeros = [vspace(v).zeros() for v in vals]

            def bwd_flat(cts: list) -> list:
                def tangent_out(*t_leaves):
                    return self._rule(primals, tree_unflatten(treedef, list(t_leaves)))[1]

                _, vjp_fn, _ = _vjp(f"custom_jvp {name}", tangent_out, tuple(zeros), check=False)
                return list(vjp_fn(cts))

            return tree_unflatten(out_def, _bind_custom(top, leaves, vals, out_leaves, bwd_flat))
        payload = [a._node if type(a) in box_types and a._trace is top else None for a in leaves]
        if isinstance(top, ForwardTrace):
            tangents = [vspace(v).zeros() if t is None else t for v, t in zip(vals, payload)]
            p_leaves, t_leaves, p_def = self._rule(primals, tree_unflatten(treedef, tangents))
        else:
            # A batched forward trace: the user's rule sees one direction at a time.
            payload = [tangent_of(t) for t in payload]
            size = top.size
            per = []
            for b in range(size):
                tangents = [vspace(v).zeros() if t is None else t[b] for v, t in zip(vals, payload)]
                p_leaves, t_b, p_def = self._rule(primals, tree_unflatten(treedef, tangents))
                per.append(t_b)
            t_leaves = [mnp.stack([p[k] for p in per]) for k in range(len(p_leaves))]
        res = [new_box(p, top, t) for p, t in zip(p_leaves, t_leaves)]
        return tree_unflatten(p_def, res)


def checkpoint(fun: Callable) -> Callable:
    """``fun`` whose intermediate values are not kept for reverse mode but recomputed.

    The forward pass records only the call; the backward pass runs ``fun`` again under
    its own reverse trace. Memory for residuals drops to the inputs and outputs, at the
    cost of a second forward pass (autograd's and JAX's ``checkpoint``).

    >>> import matdiff.numpy as np
    >>> g = checkpoint(lambda x: np.sin(np.sin(x)))
    >>> float(grad(g)(0.0))
    1.0
    """

    @functools.wraps(fun)
    def checkpointed(*args, **kwargs):
        leaves, treedef = tree_flatten(args)
        top = _top_trace(leaves)
        if not isinstance(top, ReverseTrace):
            return fun(*args, **kwargs)
        vals = _unbox_at(leaves, top)
        out = checkpointed(*tree_unflatten(treedef, vals), **kwargs)
        out_leaves, out_def = tree_flatten(out)
        idx = [i for i, a in enumerate(leaves) if type(a) in box_types and a._trace is top]

        def bwd_flat(cts: list) -> list:
            def f_dyn(*dyn):
                full = list(vals)
                for i, d in zip(idx, dyn):
                    full[i] = d
                return fun(*tree_unflatten(treedef, full), **kwargs)

            dyn_vals = tuple(vals[i] for i in idx)
            _, vjp_fn, _ = _vjp("checkpoint", f_dyn, dyn_vals, check=False)
            grads = vjp_fn(tree_unflatten(out_def, cts))
            res: list = [None] * len(leaves)
            for i, g in zip(idx, grads):
                res[i] = g
            return res

        return tree_unflatten(out_def, _bind_custom(top, leaves, vals, out_leaves, bwd_flat))

    return checkpointed


# ---------------------------------------------------------------- autograd's names


def _unary(fname: str, argnum):
    """Adapt autograd's ``op(fun, argnum)(*args)`` to a function of the one argument."""

    def run(fun, args, kwargs, body):
        nums, single = _normalize_argnums(fname, argnum, len(args))
        if single:
            x = args[nums[0]]
            f = _partial(fun, args, kwargs, nums)
        else:
            x = tuple(args[i] for i in nums)

            def f(xs):
                return _partial(fun, args, kwargs, nums)(*xs)

        return body(f, x)

    return run


def make_vjp(fun: Callable, argnum=0) -> Callable:
    """autograd's ``make_vjp``: ``make_vjp(f, argnum)(*args) -> (vjp_fn, f(*args))``.

    >>> import matdiff.numpy as np
    >>> vjp_fn, ans = make_vjp(lambda x: x**2)(3.0)
    >>> float(ans), float(vjp_fn(1.0))
    (9.0, 6.0)
    """
    run = _unary("make_vjp", argnum)

    def body(f, x):
        ans, fn, _ = _vjp("make_vjp", f, (x,))
        return (lambda g: fn(g)[0]), ans

    return lambda *args, **kwargs: run(fun, args, kwargs, body)


def make_jvp(fun: Callable, argnum=0) -> Callable:
    """autograd's ``make_jvp``: ``make_jvp(f, argnum)(*args)(v) -> (f(*args), J v)``.

    >>> float(make_jvp(lambda x: x**2)(3.0)(1.0)[1])
    6.0
    """
    run = _unary("make_jvp", argnum)

    def body(f, x):
        return lambda v: _jvp("make_jvp", f, (x,), (v,))

    return lambda *args, **kwargs: run(fun, args, kwargs, body)


def make_jvp_reversemode(fun: Callable, argnum=0) -> Callable:
    """autograd's: ``make_jvp_reversemode(f, argnum)(*args)(v) = J v`` by transposing the VJP.

    The VJP is linear in its cotangent, so its own VJP is the JVP: two reverse passes,
    no forward-mode rules needed.

    >>> float(make_jvp_reversemode(lambda x: x**3)(2.0)(1.0))
    12.0
    """
    run = _unary("make_jvp_reversemode", argnum)

    def body(f, x):
        y, vjp_fn, _ = _vjp("make_jvp_reversemode", f, (x,))
        zeros = tree_map(lambda o: vspace(o).zeros(), y)
        _, vjp_vjp, _ = _vjp("make_jvp_reversemode", lambda ct: vjp_fn(ct)[0], (zeros,))
        return lambda v: vjp_vjp(v)[0]

    return lambda *args, **kwargs: run(fun, args, kwargs, body)


def make_hvp(fun: Callable, argnum=0) -> Callable:
    """autograd's ``make_hvp``: ``make_hvp(f, argnum)(*args) -> (hvp_fn, grad f(*args))``.

    The forward and gradient passes are recorded once; each ``hvp_fn(v)`` is one
    backward pass through them.

    >>> import matdiff.numpy as np
    >>> hvp_fn, g = make_hvp(lambda x: np.sum(x**3))(np.array([1.0, 2.0]))
    >>> hvp_fn(np.array([1.0, 0.0]))
    array([6., 0.])
    """
    run = _unary("make_hvp", argnum)

    def body(f, x):
        g, fn, _ = _vjp("make_hvp", grad(f), (x,))
        return (lambda v: fn(v)[0]), g

    return lambda *args, **kwargs: run(fun, args, kwargs, body)


def hessian_tensor_product(fun: Callable, argnum=0) -> Callable:
    """autograd's: ``(*args, tensor) -> H tensor``, the Hessian contracted with ``tensor``.

    >>> import matdiff.numpy as np
    >>> hessian_tensor_product(lambda x: np.sum(x**3))(np.array([1.0, 2.0]), np.ones(2))
    array([ 6., 12.])
    """
    fun_grad = grad(fun, argnum)

    def vector_dot_grad(*args, **kwargs):
        args, tensor = args[:-1], args[-1]
        g = fun_grad(*args, **kwargs)
        return mnp.sum(g * tensor)

    def htp(*args, **kwargs):
        if len(args) < 2:
            raise TypeError(
                "hessian_tensor_product: call it as h(*args, tensor) with the tensor last"
            )
        return grad(vector_dot_grad, argnum)(*args, **kwargs)

    return htp


hessian_vector_product = hessian_tensor_product


def tensor_jacobian_product(fun: Callable, argnum=0) -> Callable:
    """autograd's: ``(*args, tensor) -> tensor · J``, contracting over the output's axes.

    >>> import matdiff.numpy as np
    >>> tensor_jacobian_product(lambda x: x**2)(np.array([1.0, 2.0]), np.ones(2))
    array([2., 4.])
    """

    def tjp(*args, **kwargs):
        if len(args) < 2:
            raise TypeError(
                "tensor_jacobian_product: call it as t(*args, tensor) with the tensor last"
            )
        args, tensor = args[:-1], args[-1]
        nums, single = _normalize_argnums("tensor_jacobian_product", argnum, len(args))
        f = _partial(fun, args, kwargs, nums)
        _, fn, _ = _vjp("tensor_jacobian_product", f, tuple(args[i] for i in nums))
        g = fn(tensor)
        return g[0] if single else g

    return tjp


vector_jacobian_product = tensor_jacobian_product


def _half_sq(x):
    return 0.5 * mnp.sum(x**2, axis=-1)


def make_ggnvp(f: Callable, g: Callable = _half_sq, f_argnum=0) -> Callable:
    """autograd's: ``make_ggnvp(f, g)(*args)(v) = Jᵀ H_g J v``, the generalized
    Gauss-Newton product of ``g ∘ f`` (``J`` the Jacobian of ``f``, ``H_g`` g's Hessian).

    >>> import matdiff.numpy as np
    >>> make_ggnvp(lambda x: x**2)(np.array([1.0, 2.0]))(np.ones(2))
    array([ 4., 16.])
    """
    run = _unary("make_ggnvp", f_argnum)

    def body(f1, x):
        # f's reverse pass is recorded once; each product adds a JVP and an HVP of g.
        fx, f_vjp, _ = _vjp("make_ggnvp", f1, (x,))

        def ggnvp(v):
            jv = _jvp("make_ggnvp", f1, (x,), (v,))[1]
            return f_vjp(hvp(g, fx, jv))[0]

        return ggnvp

    return lambda *args, **kwargs: run(f, args, kwargs, body)


def grad_and_aux(fun: Callable, argnum=0) -> Callable:
    """autograd's: ``fun`` returns ``(output, aux)``; gives ``(grad of output, aux)``.

    >>> g, aux = grad_and_aux(lambda x: (x**2, "note"))(3.0)
    >>> float(g), aux
    (6.0, 'note')
    """
    return grad(fun, argnum, has_aux=True)


def grad_named(fun: Callable, argname: str) -> Callable:
    """autograd's: the gradient with respect to the argument called ``argname``.

    >>> float(grad_named(lambda x, y: x * y, "y")(2.0, 3.0))
    2.0
    """
    params = list(inspect.signature(fun).parameters)
    if argname not in params:
        raise ValueError(
            f"grad_named: {_fname(fun)} has no argument named {argname!r}; its arguments "
            f"are {params}"
        )
    return grad(fun, params.index(argname))


def deriv(fun: Callable, argnum=0) -> Callable:
    """autograd's: the forward-mode derivative along a direction of ones.

    >>> float(deriv(lambda x: x**3)(2.0))
    12.0
    """
    run = _unary("deriv", argnum)

    def body(f, x):
        out, t = _jvp("deriv", f, (x,), (tree_map(lambda a: vspace(a).ones(), x),))
        _check_float_output("deriv", out)
        return t

    return lambda *args, **kwargs: run(fun, args, kwargs, body)


def holomorphic_grad(fun: Callable, argnum=0) -> Callable:
    """The complex derivative f'(z) of a holomorphic function, elementwise.

    The same as JAX's ``grad(f, holomorphic=True)`` and autograd's ``holomorphic_grad``.

    >>> holomorphic_grad(lambda z: z**2)(3.0 + 4.0j)
    np.complex128(6+8j)
    """

    def hgrad(*args, **kwargs):
        nums, _ = _normalize_argnums("holomorphic_grad", argnum, len(args))
        for i in nums:
            for leaf in tree_flatten(args[i])[0]:
                if _dtype_of(getval(leaf)).kind != "c":
                    warnings.warn(
                        f"holomorphic_grad: argument {i} is not complex; the result is the "
                        "derivative of the real part",
                        stacklevel=2,
                    )
        return grad(lambda *a, **k: mnp.real(fun(*a, **k)), argnum)(*args, **kwargs)

    return hgrad


def multigrad_dict(fun: Callable) -> Callable:
    """autograd's: gradients with respect to all arguments, as ``{name: gradient}``.

    >>> g = multigrad_dict(lambda x, y=2.0: x * y)(3.0)
    >>> {k: float(v) for k, v in g.items()}
    {'x': 2.0, 'y': 3.0}
    """
    sig = inspect.signature(fun)
    params = sig.parameters

    def gradfun(*args, **kwargs):
        bound = sig.bind(*args, **kwargs)
        bound.apply_defaults()
        arguments = dict(bound.arguments)

        def from_dict(d):
            b = inspect.BoundArguments(sig, OrderedDict(d))
            return fun(*b.args, **b.kwargs)

        g = grad(from_dict)(arguments)
        return OrderedDict((name, g[name]) for name in params if name in g)

    return gradfun
