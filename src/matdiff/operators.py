"""The derivative operators of JAX's interface: grad, vjp, jvp, jacobian, hessian, hvp, ...

Built on the core's traces, with the argument checks of :mod:`matdiff.checks`. Names
and meanings follow JAX, so its users can switch by changing an import; autograd's
names are in :mod:`matdiff.autograd_names` and the custom-rule machinery in
:mod:`matdiff.custom_rules` (all three are importable together from
:mod:`matdiff.differential_operators`). Arguments and results may be pytrees of arrays
and numbers.

>>> import matdiff.numpy as np
>>> from matdiff.operators import grad, jacobian
>>> grad(lambda x: np.sum(x**3))(np.array([1.0, 2.0]))
array([ 3., 12.])
>>> jacobian(lambda x: x**3)(np.array([1.0, 2.0]))
array([[ 3.,  0.],
       [ 0., 12.]])
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as _np

from . import backends
from . import numpy as mnp
from .batching import batch_jvp_trace, identity_seed
from .checks import (
    LeafNames,
    check_cotangent,
    check_float,
    check_float_output,
    check_scalar_output,
    check_tangents,
    check_tuple_args,
    dtype_of,
    name_of,
    normalize_argnums,
    partial_at,
    split_aux,
)
from .core import ForwardTrace, ReverseTrace, backward_pass, jvp_rule, jvp_rules, vspace
from .errors import ConcreteValueError
from .progress import progress_bar
from .tracer import asks_trace, box_types, deeper_stack, getval, known_type, new_box
from .tree import tree_flatten, tree_map, tree_unflatten
from .vmapping import vmap

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
]


# How an array a derivative operator made or was given (a seed, a unit vector, a plain
# tangent) becomes an operand beside a value, by the type of the value's getval: under
# jit, an equation of the program (registered by matdiff.compile), so that its products
# with a captured array are recorded rather than computed once while staging.
constant_makers: dict[type, Callable[[Any, Any], Any]] = {}


def as_operand(x: Any, value: Any) -> Any:
    """``value``, an array made for ``x``'s space, as an operand beside ``x``.

    Eagerly it is ``value`` itself; under ``jit`` it is recorded in the program.

    >>> import numpy
    >>> as_operand(numpy.zeros(2), numpy.ones(2))
    array([1., 1.])
    """
    v = getval(x)
    make = constant_makers.get(type(v))
    if make is None and not backends.is_numpy(v) and known_type(type(v)):
        # The first array of another library met: registered just now.
        make = constant_makers.get(type(v))
    return value if make is None else make(v, value)


# Seeds made as NumPy arrays beside an array of another library become that library's.
constant_makers[backends.ApiArray] = backends.like
backends.on_register.append(lambda t, make: constant_makers.setdefault(t, make))


def _strip(x: Any, trace) -> Any:
    """The value of ``x`` at ``trace``'s level (outer levels stay boxed)."""
    if type(x) in box_types and x._trace is trace:
        return x._value
    return x


# ---------------------------------------------------------------- reverse mode


def trace_vjp(
    fname: str, fun: Callable, primals: tuple, has_aux: bool = False, names=None, check=True
):
    """Trace ``fun(*primals)`` in reverse mode: ``(out, vjp_fn, aux)``.

    What every reverse-mode operator is built on; ``fname`` is the operator's name in
    error messages and ``names`` those of the input leaves. ``vjp_fn.depends`` says
    whether any output depends on the inputs.
    """
    leaves, treedef = tree_flatten(primals)
    if check:
        for i, leaf in enumerate(leaves):
            if dtype_of(getval(leaf)).kind not in "fc":
                check_float(fname, names[i] if names else f"input leaf {i}", leaf)
    trace = ReverseTrace()
    boxes = [trace.leaf(x) for x in leaves]
    with deeper_stack, backends.refusing_fallbacks():
        result = fun(*tree_unflatten(treedef, boxes))
    return _vjp_of(fname, trace, result, has_aux, leaves, treedef, boxes)


def _vjp_of(fname: str, trace, result, has_aux: bool, leaves: list, treedef, boxes: list):
    """:func:`trace_vjp`'s answer once ``result`` was computed from the leaf ``boxes``."""
    if has_aux:
        result, aux = split_aux(fname, result)
        aux = tree_map(lambda a: _strip(a, trace), aux)
    else:
        aux = None
    out_leaves, out_def = tree_flatten(result)
    out_vals = [_strip(o, trace) for o in out_leaves]
    out = tree_unflatten(out_def, [backends.native(v) for v in out_vals])

    def vjp_fn(cotangent):
        ct_leaves, ct_def = tree_flatten(cotangent)
        if ct_def != out_def:
            raise ValueError(
                f"{fname}: the cotangent's structure {ct_def} differs from the output's "
                f"{out_def}; pass one cotangent per output, of the same shape"
            )
        seeds: dict = {}
        for i, (o, v, ct) in enumerate(zip(out_leaves, out_vals, ct_leaves)):
            check_cotangent(fname, i, ct, v)
            if type(o) in box_types and o._trace is trace:
                ct = as_operand(v, ct)
                prev = seeds.get(o._node)
                seeds[o._node] = ct if prev is None else prev + ct
        with deeper_stack, backends.refusing_fallbacks():
            grads = backward_pass(trace, seeds) if seeds else {}
        res = []
        for b, x in zip(boxes, leaves):
            g = grads.get(b._node)
            res.append(backends.native(vspace(x).zeros() if g is None else g))
        return tree_unflatten(treedef, res)

    vjp_fn.trace = trace
    # Whether any output is traced at this level: an output that is not cannot depend on
    # the inputs, which grad reports instead of returning a silent zero.
    vjp_fn.depends = any(type(o) in box_types and o._trace is trace for o in out_leaves)
    return out, vjp_fn, aux


def _scalar_as_array(leaf: Any) -> Any:
    if type(leaf) is float or isinstance(leaf, _np.generic):
        return _np.asarray(leaf)
    return leaf


def container_leaves_as_arrays(grads: tuple, single: bool) -> Any:
    """Gradients by argument as autograd returns them: ``grads[0]`` when ``single``.

    autograd differentiates a tuple of arguments, or an argument that is a container,
    through the container's own rules, and those give each scalar leaf's gradient as a
    0-d array (``array(2.)``); a lone scalar argument's gradient stays a NumPy scalar.
    Printing and ``isinstance`` see the difference, so the types follow autograd's.
    """
    if single:
        g = grads[0]
        if type(g) is _np.ndarray or type(g) in box_types or tree_flatten(g)[1].kind == "leaf":
            return g
        return tree_map(_scalar_as_array, g)
    return tree_map(_scalar_as_array, grads)


def vjp(fun: Callable, *primals, has_aux: bool = False):
    """``(out, vjp_fn)`` with ``vjp_fn(cotangent)`` the tuple of input cotangents (JAX's).

    With ``has_aux=True`` the function returns ``(out, aux)`` and so does this, as
    ``(out, vjp_fn, aux)``.

    >>> import matdiff.numpy as np
    >>> out, f_vjp = vjp(lambda x: np.sin(x) * 2.0, np.array([0.0, 1.0]))
    >>> f_vjp(np.ones(2))[0]
    array([2.        , 1.08060461])
    """
    out, fn, aux = trace_vjp("vjp", fun, primals, has_aux)
    return (out, fn, aux) if has_aux else (out, fn)


def _value_and_grad(fun: Callable, name: str, argnums, has_aux: bool, args, kwargs):
    """The work of the functions that value_and_grad and grad return, called by them."""
    if type(argnums) is int and not has_aux and -len(args) <= argnums < len(args):
        x = args[argnums]
        t = type(x)
        if t in box_types and not asks_trace(x):
            v = getval(x)
            t = type(v)
        else:
            v = x
        if t is float or ((t is _np.ndarray or t is _np.float64) and v.dtype.kind in "fc"):
            return _value_and_grad_leaf(fun, name, argnums % len(args), args, kwargs)
    nums, single = normalize_argnums("grad", argnums, len(args))
    f = partial_at(fun, args, kwargs, nums)
    dyn = tuple(args[i] for i in nums)
    ans, vjp_fn, aux = trace_vjp("grad", f, dyn, has_aux, LeafNames(dyn, nums))
    check_scalar_output("grad", ans)
    if not vjp_fn.depends:
        # The line that called the function grad or value_and_grad returned, which calls
        # this one directly.
        _warn_independent(name, stacklevel=4)
    g = container_leaves_as_arrays(vjp_fn(vspace(ans).ones()), single)
    return ((ans, aux), g) if has_aux else (ans, g)


def _warn_independent(name: str, stacklevel: int) -> None:
    warnings.warn(
        f"grad: the output of {name} does not depend on the input (it is not traced), so "
        "the gradient is zero",
        UserWarning,
        stacklevel=stacklevel,
    )


#: The structure of the tuple of one argument that grad differentiates most often.
_ONE_LEAF = tree_flatten((0.0,))[1]


def _value_and_grad_leaf(fun: Callable, name: str, i: int, args: tuple, kwargs: dict):
    """:func:`_value_and_grad` of a function of one float array (or float) argument ``i``.

    The common call, whose fixed cost is much of a small gradient's: the argument is its
    own only leaf, so the pytree handling of :func:`trace_vjp` and the checks of a seed
    made here (ones shaped as the output) have nothing to do. The same steps otherwise,
    and an output that is not traced takes the general path.
    """
    x = args[i]
    trace = ReverseTrace()
    start = trace.leaf(x)
    full = list(args)
    full[i] = start
    with deeper_stack, backends.refusing_fallbacks():
        result = fun(*full, **kwargs)
    if type(result) not in box_types or result._trace is not trace:
        ans, vjp_fn, _ = _vjp_of("grad", trace, result, False, [x], _ONE_LEAF, [start])
        check_scalar_output("grad", ans)
        if not vjp_fn.depends:
            _warn_independent(name, stacklevel=5)
        return ans, container_leaves_as_arrays(vjp_fn(vspace(ans).ones()), True)
    v = result._value
    ans = backends.native(v)
    check_scalar_output("grad", ans)
    seed = as_operand(v, vspace(ans).ones())
    with deeper_stack, backends.refusing_fallbacks():
        g = backward_pass(trace, {result._node: seed}).get(start._node)
    g = backends.native(vspace(x).zeros() if g is None else g)
    return ans, container_leaves_as_arrays((g,), True)


def value_and_grad(fun: Callable, argnums=0, has_aux: bool = False, *, argnum=None) -> Callable:
    """``(f(x), grad f(x))`` in one pass; with ``has_aux``, ``((f(x), aux), grad f(x))``.

    >>> import matdiff.numpy as np
    >>> value_and_grad(lambda x: np.sum(x**2))(np.array([1.0, 2.0]))
    (np.float64(5.0), array([2., 4.]))
    """
    if argnum is not None:
        argnums = argnum
    name = name_of(fun)

    def value_and_grad_f(*args, **kwargs):
        return _value_and_grad(fun, name, argnums, has_aux, args, kwargs)

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
    if argnum is not None:
        argnums = argnum
    name = name_of(fun)

    def grad_f_plain(*args, **kwargs):
        return _value_and_grad(fun, name, argnums, False, args, kwargs)[1]

    def grad_f_aux(*args, **kwargs):
        (_, aux), g = _value_and_grad(fun, name, argnums, True, args, kwargs)
        return g, aux

    f = grad_f_aux if has_aux else grad_f_plain
    f.__name__ = f"grad({name})"
    f.__doc__ = f"Gradient of {name}."
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
        nums, single = normalize_argnums("elementwise_grad", argnums, len(args))
        f = partial_at(fun, args, kwargs, nums)
        ans, vjp_fn, _ = trace_vjp("elementwise_grad", f, tuple(args[i] for i in nums))
        check_float_output("elementwise_grad", ans)
        if any(dtype_of(getval(a)).kind == "c" for a in tree_flatten(ans)[0]):
            raise TypeError(
                "elementwise_grad: the function's output is complex; elementwise_grad needs "
                "a real output. Differentiate np.real(...) or np.abs(...)**2 instead."
            )
        g = vjp_fn(tree_map(lambda a: vspace(a).ones(), ans))
        return container_leaves_as_arrays(g, single)

    egrad.__name__ = f"elementwise_grad({name_of(fun)})"
    return egrad


# ---------------------------------------------------------------- forward mode


def trace_jvp(fname: str, fun: Callable, primals: tuple, tangents: tuple):
    """``(fun(*primals), J tangents)`` by one forward trace, both as pytrees.

    What every forward-mode operator is built on; ``fname`` is the operator's name in
    error messages.
    """
    leaves, treedef = tree_flatten(primals)
    t_leaves, t_def = tree_flatten(tangents)
    if t_def != treedef:
        raise ValueError(
            f"{fname}: the tangents' structure {t_def} differs from the primals' {treedef}; "
            "pass one tangent per primal, of the same shape"
        )
    check_tangents(fname, leaves, t_leaves)
    trace = ForwardTrace()
    # A tangent given as a plain array is an operand beside its primal (under jit,
    # recorded, so that its products with captured arrays are too).
    boxes = [new_box(x, trace, as_operand(x, t)) for x, t in zip(leaves, t_leaves)]
    with deeper_stack, backends.refusing_fallbacks():
        result = fun(*tree_unflatten(treedef, boxes))
    out_leaves, out_def = tree_flatten(result)
    outs, touts = [], []
    native = backends.native
    for o in out_leaves:
        if type(o) in box_types and o._trace is trace:
            outs.append(native(o._value))
            touts.append(native(o._node))
        else:
            outs.append(native(o))
            touts.append(native(vspace(o).zeros()))
    return tree_unflatten(out_def, outs), tree_unflatten(out_def, touts)


def jvp(fun: Callable, primals: Sequence, tangents: Sequence):
    """``(f(*primals), J tangents)`` by forward mode (JAX's signature).

    >>> import matdiff.numpy as np
    >>> jvp(np.sin, (0.0,), (2.0,))
    (np.float64(0.0), np.float64(2.0))
    """
    check_tuple_args("jvp", primals, tangents)
    return trace_jvp("jvp", fun, tuple(primals), tuple(tangents))


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
        check_float("linearize", f"primal {i}", leaf)
    trace = ReverseTrace()
    boxes = [trace.leaf(x) for x in leaves]
    with deeper_stack:
        out_leaves, out_def = tree_flatten(fun(*tree_unflatten(treedef, boxes)))
    out_vals = [_strip(o, trace) for o in out_leaves]
    tape = trace.tape
    replayable = all(node.fun in jvp_rules for node in tape)

    def f_jvp(*tangents):
        check_tuple_args("linearize", primals, tangents)
        t_leaves, t_def = tree_flatten(tuple(tangents))
        if t_def != treedef:
            raise ValueError(
                f"linearize: the tangents' structure {t_def} differs from the primals' "
                f"{treedef}; pass one tangent per primal, of the same shape"
            )
        check_tangents("linearize", leaves, t_leaves)
        if not replayable:
            # A custom rule or checkpoint on the tape has no JVP of its own: re-trace.
            return trace_jvp("linearize", fun, tuple(primals), tuple(tangents))[1]
        tan = {b._node: t for b, t in zip(boxes, t_leaves)}
        for node in tape:
            t = None
            for argnum, parent in zip(node.argnums, node.parents):
                g = tan.get(parent)
                if g is None:
                    continue
                rule = jvp_rule(node.fun, argnum)
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


def jacobian(
    fun: Callable, argnums=0, has_aux: bool = False, *, argnum=None, progress: bool = False
) -> Callable:
    """The Jacobian by reverse mode, shaped ``out.shape + in.shape`` (``jacrev``).

    All the output elements' VJPs in one batched backward pass (``vmap`` of the VJP) over
    one recorded forward pass. With ``has_aux=True``
    the function returns ``(output, aux)`` and the Jacobian function ``(jacobian, aux)``,
    as JAX's does. ``progress=True`` shows a bar over the output elements (``tqdm``).

    >>> import matdiff.numpy as np
    >>> jacobian(lambda x: x**2)(np.array([1.0, 2.0]))
    array([[2., 0.],
           [0., 4.]])
    """
    if argnum is not None:
        argnums = argnum

    def jac_f(*args, **kwargs):
        nums, single = normalize_argnums("jacobian", argnums, len(args))
        f = partial_at(fun, args, kwargs, nums)
        dyn = tuple(args[i] for i in nums)
        out, vjp_fn, aux = trace_vjp("jacobian", f, dyn, has_aux, names=LeafNames(dyn, nums))
        check_float_output("jacobian", out)
        out_leaves, out_def = tree_flatten(out)
        in_leaves, in_def = tree_flatten(dyn)
        zeros = [vspace(p).zeros() for p in out_leaves]
        per_out = []
        total = sum(int(_np.prod(_np.shape(getval(o)))) for o in out_leaves)
        bar = progress_bar(total, "jacobian: output elements", progress, "jacobian")
        for k, o in enumerate(out_leaves):
            oshape = _np.shape(getval(o))
            n = int(_np.prod(oshape))
            blocks = []
            if n:
                grads = _pull_back_basis(vjp_fn, out_def, zeros, k, o, oshape, n)
            for i, x in enumerate(in_leaves):
                xshape = _np.shape(getval(x))
                if n:
                    stacked = grads[i]
                else:
                    stacked = _np.zeros((0,) + xshape, vspace(x).dtype)
                blocks.append(mnp.reshape(stacked, oshape + xshape))
            bar.update(n)
            per_out.append(tree_unflatten(in_def, blocks))
        bar.close()
        res = [r[0] if single else r for r in per_out]
        jac = tree_map(backends.native, tree_unflatten(out_def, res))
        return (jac, aux) if has_aux else jac

    jac_f.__name__ = f"jacobian({name_of(fun)})"
    return jac_f


jacrev = jacobian


def _pull_back_basis(vjp_fn, out_def, zeros, k, o, oshape, n):
    """Every unit cotangent of output leaf ``k`` pulled back in one batched backward
    pass (``vmap`` of the VJP): the input cotangents' leaves, each with ``n`` rows.

    A scalar output (the inner Jacobian of ``hessian``) needs no batch. A derivative rule
    that reads a cotangent as a Python number (a tolerance's scale, say) cannot run on a
    batch; the basis vectors then go back one at a time, as they always may.
    """
    space = vspace(o)
    # Its own array, not a view of an identity: under jit a private constant is folded.
    eye = _np.zeros((n,) + tuple(oshape), space.dtype)
    eye.reshape(n, n)[_np.arange(n), _np.arange(n)] = 1

    def pull(e):
        ct = list(zeros)
        ct[k] = e
        return tuple(tree_flatten(vjp_fn(tree_unflatten(out_def, ct)))[0])

    if n > 1:
        try:
            return vmap(pull)(as_operand(o, eye))
        except ConcreteValueError:
            pass
    rows = []
    for j in range(n):
        e = _np.zeros(oshape, space.dtype)  # its own array, as above
        e.flat[j] = 1
        rows.append(pull(as_operand(o, e)))
    return tuple(mnp.stack(col) for col in zip(*rows))


def jacfwd(
    fun: Callable,
    argnums=0,
    has_aux: bool = False,
    *,
    chunk_size: int | None = None,
    progress: bool = False,
    _who: str = "jacfwd",
) -> Callable:
    """The Jacobian by forward mode, shaped ``out.shape + in.shape``.

    With ``has_aux=True`` the function returns ``(output, aux)`` and the Jacobian
    function ``(jacobian, aux)``, as JAX's does.

    The basis directions of an input go through batched forward passes
    (:mod:`matdiff.batching`), ``chunk_size`` at a time. By default the chunk is sized so
    that each batched intermediate stays near 4 MB, measured on a first chunk of 32
    directions and remembered for later calls with the same shapes; where that allows
    all directions at once, one pass does everything. ``progress=True`` shows a bar over
    the directions (``tqdm``).

    >>> import matdiff.numpy as np
    >>> jacfwd(lambda x: x**2)(np.array([1.0, 2.0]))
    array([[2., 0.],
           [0., 4.]])
    """
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"jacfwd: chunk_size={chunk_size!r} must be a positive integer or None")
    peaks: dict = {}  # per input leaf and shape: the largest intermediate per direction

    def jac_f(*args, **kwargs):
        nums, single = normalize_argnums("jacfwd", argnums, len(args))
        f = partial_at(fun, args, kwargs, nums)
        auxes: list = []  # the aux of each batched pass, read at that pass's level
        if has_aux:
            f_aux = f

            def f(*dyn):
                out, aux = split_aux("jacfwd", f_aux(*dyn))
                auxes.append(aux)
                return out

        dyn = tuple(args[i] for i in nums)
        in_leaves, in_def = tree_flatten(dyn)
        # Leaves held fixed while another is traced meet traced values as operands.
        in_leaves = [backends.adapt(x) for x in in_leaves]
        names = LeafNames(dyn, nums)
        for i, x in enumerate(in_leaves):
            if dtype_of(getval(x)).kind not in "fc":
                check_float("jacfwd", names[i], x)
        if not in_leaves:
            raise ValueError(
                "jacfwd: the differentiated arguments hold no arrays or numbers; pass at "
                "least one float array"
            )
        out_def = None
        columns = []  # per input leaf: list over output leaves of out.shape + in.shape
        total = sum(int(_np.prod(_np.shape(getval(x)))) for x in in_leaves)
        bar = progress_bar(total, f"{_who}: directions", progress, _who)
        for j, x in enumerate(in_leaves):

            def f_j(xj, _j=j):
                leaves = list(in_leaves)
                leaves[_j] = xj
                return f(*tree_unflatten(in_def, leaves))

            xv = getval(x)
            key = (nums, j, _np.shape(xv), dtype_of(xv))
            out, blocks, trace = _jacfwd_leaf(f_j, x, chunk_size, peaks, key, bar)
            if j == 0:
                check_float_output("jacfwd", out)
                if has_aux:
                    aux = tree_map(lambda a, _t=trace: _strip(a, _t), auxes[-1])
            out_def = tree_flatten(out)[1]
            columns.append(blocks)
        bar.close()
        per_out = []
        for k in range(len(columns[0])):
            per_out.append(tree_unflatten(in_def, [col[k] for col in columns]))
        res = [r[0] if single else r for r in per_out]
        jac = tree_map(backends.native, tree_unflatten(out_def, res))
        return (jac, aux) if has_aux else jac

    jac_f.__name__ = f"jacfwd({name_of(fun)})"
    return jac_f


# Without a chunk_size, a batch is sized so that each batched intermediate stays near
# this many bytes: past the caches, elementwise work on (B, ...) blocks slows down faster
# than the Python cost per pass falls.
_CHUNK_BYTES = 4 * 2**20
_PROBE_ABOVE = 32  # up to this many directions go in one pass; more are sized first


class _WholeBasis(threading.local):
    """While ``jit`` stages (``on``, per thread), forward Jacobians push every basis
    direction in one batch: the identity seed is then one constant that ``jit``'s structure
    pass can carry as structure, where chunks would be blocks of it. ``used`` records that
    it mattered, so that ``jit`` can stage again in chunks if the program it got is too
    large."""

    def __init__(self) -> None:
        self.on = False
        self.used = False
        # The seed is an n x n constant: past this size (n = 5,792 in float64) the
        # directions stay in chunks.
        self.max_bytes = 2**28
        # Staging computes every batched tangent once: one past this size stops the
        # whole-basis staging (``batching.BatchTooLarge``), and ``jit`` stages in chunks.
        self.max_tangent_bytes = 2**30


whole_basis = _WholeBasis()


def _directions(x: Any, n: int, start: int, rows: int, xshape: tuple, dtype) -> Any:
    """Rows ``start:start + rows`` of the identity, each shaped like ``x``, as operands
    beside ``x`` (under jit, constants of the program)."""
    if len(xshape) == 1:
        # Directions of a vector: the batch rules may use the identity's structure.
        d = identity_seed(n, dtype, start, rows)
    else:
        # Made in its final shape (not a reshaped view), so that jit may fold it.
        d = _np.zeros((rows,) + xshape, dtype)
        d.reshape(rows, n)[_np.arange(rows), start + _np.arange(rows)] = 1
    return as_operand(x, d)


def _jacfwd_leaf(f: Callable, x: Any, chunk_size: int | None, peaks: dict, key: Any, bar: Any):
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
    limit = 0
    if (
        chunk_size is None
        and whole_basis.on
        and n > _PROBE_ABOVE
        and n * n * dtype.itemsize <= whole_basis.max_bytes
    ):
        chunk_size = n
        whole_basis.used = True
        limit = whole_basis.max_tangent_bytes // dtype.itemsize
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
        directions = _directions(x, n, start, rows, xshape, dtype)
        with deeper_stack:
            out, t_out, trace = batch_jvp_trace(f, (x,), (directions,), "jacfwd", limit)
        chunks.append(tree_flatten(t_out)[0])
        start += rows
        bar.update(rows)
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
    fun: Callable,
    argnums=0,
    has_aux: bool = False,
    *,
    chunk_size: int | None = None,
    progress: bool = False,
) -> Callable:
    """The Hessian, forward-over-reverse: ``out.shape + in.shape + in.shape``.

    With ``has_aux=True`` the function returns ``(output, aux)`` and the Hessian
    function ``(hessian, aux)``.

    The reverse-mode Jacobian is differentiated by batched forward passes over the
    basis directions (``chunk_size`` at a time, sized to memory by default, as in
    :func:`jacfwd`), not a Python loop of one pass per direction. ``progress=True``
    shows a bar over the directions (``tqdm``).

    >>> import matdiff.numpy as np
    >>> hessian(lambda x: np.sum(x**3))(np.array([1.0, 2.0]))
    array([[ 6.,  0.],
           [ 0., 12.]])
    """
    h = jacfwd(
        jacobian(fun, argnums, has_aux),
        argnums,
        has_aux,
        chunk_size=chunk_size,
        progress=progress,
        _who="hessian",
    )
    h.__name__ = f"hessian({name_of(fun)})"
    return h


def hvp(fun: Callable, x: Any, v: Any) -> Any:
    """The Hessian-vector product H(x) v, without forming H.

    For real floating ``x`` it is the gradient of the directional derivative,
    ``grad(x -> jvp(fun, x, v))`` (reverse-over-forward): each matrix product of the
    function is met three times (primal, tangent, and one transposed product for the
    gradient), where forward-over-reverse also computes the gradient's own primal, one
    more pass over every large operand (``X @ w``, ``X @ v``, ``X.T g`` and ``X.T ġ``
    for a linear model). With numba, the primal and tangent products of a large constant
    matrix and a vector are one pass over the matrix (``X @ w`` with ``X @ v``), so a
    linear model's data is read twice. Other inputs go forward-over-reverse.

    ``x`` and ``v`` may be pytrees of the same structure.

    >>> import matdiff.numpy as np
    >>> hvp(lambda x: np.sum(x**3), np.array([1.0, 2.0]), np.array([1.0, 0.0]))
    array([6., 0.])

    ``v`` is a direction, so an integer or boolean ``v`` (as SciPy's optimizers may pass
    to ``hessp``) is read as floating point in ``x``'s dtype.
    """
    v = tree_map(_float_direction, v, x) if _tree_matches(v, x) else v
    if _tree_matches(v, x) and all(_real_floating(a) for a in tree_flatten(x)[0]):
        return _hvp_reverse_over_forward(fun, x, v)
    return trace_jvp("hvp", grad(fun), (x,), (v,))[1]


def _hvp_reverse_over_forward(fun: Callable, x: Any, v: Any) -> Any:
    def slope(y):
        return trace_jvp("hvp", fun, (y,), (v,))[1]

    ans, vjp_fn, _ = trace_vjp("grad", slope, (x,))
    check_scalar_output("grad", ans)
    if not vjp_fn.depends:
        # A linear or constant function: forward-over-reverse gives the zero in the dtype
        # of the gradient, and warns as grad does where the function ignores its input.
        return trace_jvp("hvp", grad(fun), (x,), (v,))[1]
    return container_leaves_as_arrays(vjp_fn(vspace(ans).ones()), True)


def _real_floating(x: Any) -> bool:
    return dtype_of(getval(x)).kind == "f"


def _tree_matches(a: Any, b: Any) -> bool:
    return tree_flatten(a)[1] == tree_flatten(b)[1]


def _float_direction(v: Any, x: Any) -> Any:
    vv = getval(v)
    if dtype_of(vv).kind in "biu" and dtype_of(getval(x)).kind in "fc":
        return _np.asarray(vv).astype(vspace(x).dtype)
    return v
