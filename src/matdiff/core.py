"""Rule tables, reverse and forward traces, the backward pass, vector spaces.

Knows nothing of NumPy (``tests/test_core.py`` proves it). A rule is a row in a table
keyed by the wrapped primitive, one entry per argument position:

* VJP entry: ``maker(ans, *args, **kwargs) -> (g -> cotangent)`` as in autograd, or
  ``None`` for an argument with a zero derivative;
* JVP entry: ``rule(g, ans, *args, **kwargs) -> tangent``, or ``None`` for zero.

Rules are written with wrapped functions, so the backward and forward passes are traced
by any enclosing transformation: derivatives of derivatives cost nothing extra.
Known-zero cotangents and tangents are never materialised: a cotangent that never
arrives is zero, and a forward-mode answer whose tangent is zero is simply not boxed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import ConcreteValueError
from .tracer import (
    NotDifferentiableError,
    Trace,
    _box_for_type,
    box_types,
    deeper_stack,
    getval,
    known_type,
    new_box,
    primitive,
)

__all__ = [
    "defvjp",
    "DirectVJP",
    "defjvp",
    "def_linear",
    "defvjp_argnum",
    "defvjp_argnums",
    "defjvp_argnum",
    "defjvp_argnums",
    "vjp_rules",
    "jvp_rules",
    "vmap_rules",
    "defvmap",
    "jvp_rule",
    "ReverseTrace",
    "ForwardTrace",
    "backward_pass",
    "make_vjp",
    "make_jvp",
    "VSpace",
    "vspace",
    "register_vspace",
]

_MISSING = object()

vjp_rules: dict[Callable, list] = {}
jvp_rules: dict[Callable, list] = {}
#: Batching rules (vmap's), one per primitive: ``rule(args, batched, kwargs) -> answer``.
vmap_rules: dict[Callable, Callable] = {}
#: ``fallback(rule, g, ans, args, kwargs)``: what the backward pass does with a VJP rule
#: that read a batched value as a number (vmap installs one: the rule per example).
concrete_vjp_fallback: list[Callable] = []


def _fname(fun: Callable) -> str:
    return getattr(fun, "__name__", repr(fun))


def defvjp(fun: Callable, *makers, argnums=None) -> None:
    """Define the VJP makers of ``fun``, one per argument position (autograd's convention).

    >>> from matdiff.extend import primitive, defvjp
    >>> cube = primitive(lambda x: x**3)
    >>> defvjp(cube, lambda ans, x: lambda g: 3 * x**2 * g)
    """
    argnums = range(len(makers)) if argnums is None else argnums
    table = vjp_rules.setdefault(fun, [])
    for i, maker in zip(argnums, makers):
        while len(table) <= i:
            table.append(_MISSING)
        table[i] = maker


class DirectVJP:
    """A VJP maker written as the cotangent itself: ``rule(g, ans, *args, **kwargs)``.

    Called as a maker it behaves as ``lambda ans, *args, **kwargs: lambda g: rule(g, ans,
    *args, **kwargs)``; the backward pass calls ``rule`` directly instead, which saves
    building and calling a closure per node (the per-operation cost of eager gradients).

    >>> from matdiff.extend import primitive, defvjp
    >>> from matdiff.core import DirectVJP
    >>> cube = primitive(lambda x: x**3)
    >>> defvjp(cube, DirectVJP(lambda g, ans, x: 3 * x**2 * g))
    >>> import matdiff
    >>> float(matdiff.grad(cube)(2.0))
    12.0
    """

    __slots__ = ("rule",)

    def __init__(self, rule: Callable) -> None:
        self.rule = rule

    def __call__(self, ans, *args, **kwargs):
        rule = self.rule
        return lambda g: rule(g, ans, *args, **kwargs)


class EveryPosition(list):
    """A rule table for a function of any arity: ``make(i)`` builds the rule of position
    ``i`` on first use (a linear function, autograd's ``*_argnum(s)`` definers, a custom
    rule's hub). A rule set later with ``defvjp``/``defjvp`` takes its position's place."""

    def __init__(self, make):
        super().__init__()
        self.make = make
        self.cache = {}

    def __len__(self):
        return 1 << 30

    def __getitem__(self, i):
        rule = self.cache.get(i)
        if rule is None:
            rule = self.cache[i] = self.make(i)
        return rule

    def __setitem__(self, i, rule):
        self.cache[i] = rule


def defvjp_argnum(fun: Callable, maker_argnum: Callable, nargs: int | None = None) -> None:
    """Define VJPs with one function ``maker_argnum(argnum, ans, args, kwargs)``.

    Without ``nargs`` the rule serves every argument position, as autograd's does.

    >>> import matdiff
    >>> from matdiff.extend import primitive, defvjp_argnum
    >>> mul = primitive(lambda x, y: x * y)
    >>> defvjp_argnum(mul, lambda i, ans, args, kw: lambda g: g * args[1 - i])
    >>> [float(d) for d in matdiff.grad(mul, argnums=(0, 1))(2.0, 3.0)]
    [3.0, 2.0]
    """

    def maker_for(i):
        return lambda ans, *args, **kw: maker_argnum(i, ans, args, kw)

    if nargs is None:
        vjp_rules[fun] = EveryPosition(maker_for)
    else:
        defvjp(fun, *[maker_for(i) for i in range(nargs)])


def defvjp_argnums(fun: Callable, maker_argnums: Callable) -> None:
    """Define VJPs with one ``maker_argnums(argnums, ans, args, kwargs)`` (autograd's).

    The maker returns ``g -> cotangents``, one per position in ``argnums``. matdiff
    makes each argument's cotangent on its own, so the maker is called with one
    position at a time; it must, as in autograd, accept any subset of positions.

    >>> import matdiff
    >>> from matdiff.extend import primitive, defvjp_argnums
    >>> mul = primitive(lambda x, y: x * y)
    >>> defvjp_argnums(mul, lambda nums, ans, args, kw: lambda g: [g * args[1 - i] for i in nums])
    >>> [float(d) for d in matdiff.grad(mul, argnums=(0, 1))(2.0, 3.0)]
    [3.0, 2.0]
    """

    def maker_for(i):
        def maker(ans, *args, **kw):
            vjp = maker_argnums((i,), ans, args, kw)
            return lambda g: next(iter(vjp(g)))

        return maker

    vjp_rules[fun] = EveryPosition(maker_for)


def defjvp_argnum(fun: Callable, rule_argnum: Callable) -> None:
    """Define JVPs with one ``rule_argnum(argnum, g, ans, args, kwargs)`` (autograd's).

    >>> import matdiff
    >>> from matdiff.extend import primitive, defjvp_argnum
    >>> mul = primitive(lambda x, y: x * y)
    >>> defjvp_argnum(mul, lambda i, g, ans, args, kw: g * args[1 - i])
    >>> matdiff.jvp(mul, (2.0, 3.0), (1.0, 1.0))
    (6.0, 5.0)
    """

    def rule_for(i):
        return lambda g, ans, *args, **kw: rule_argnum(i, g, ans, args, kw)

    jvp_rules[fun] = EveryPosition(rule_for)


def defjvp_argnums(fun: Callable, rule_argnums: Callable) -> None:
    """Define JVPs with one ``rule_argnums(argnums, gs, ans, args, kwargs)`` (autograd's).

    The rule returns the summed tangent of the positions in ``argnums``; matdiff calls it
    with one position at a time and sums, so it must accept any subset, as in autograd.

    >>> import matdiff
    >>> from matdiff.extend import primitive, defjvp_argnums
    >>> mul = primitive(lambda x, y: x * y)
    >>> def mul_jvp(nums, gs, ans, args, kw):
    ...     return sum(g * args[1 - i] for i, g in zip(nums, gs))
    >>> defjvp_argnums(mul, mul_jvp)
    >>> matdiff.jvp(mul, (2.0, 3.0), (1.0, 1.0))
    (6.0, 5.0)
    """

    def rule_for(i):
        return lambda g, ans, *args, **kw: rule_argnums((i,), (g,), ans, args, kw)

    jvp_rules[fun] = EveryPosition(rule_for)


def defjvp(fun: Callable, *rules, argnums=None) -> None:
    """Define the JVP rules of ``fun``: ``rule(g, ans, *args, **kwargs)`` per argument.

    The string ``"same"`` marks an argument in which ``fun`` is linear: its JVP is ``fun``
    applied with the tangent in that position.

    >>> from matdiff.extend import primitive, defjvp
    >>> cube = primitive(lambda x: x**3)
    >>> defjvp(cube, lambda g, ans, x: 3 * x**2 * g)
    """
    argnums = range(len(rules)) if argnums is None else argnums
    table = jvp_rules.setdefault(fun, [])
    for i, rule in zip(argnums, rules):
        if rule == "same":
            rule = _linear_jvp(fun, i)
        while len(table) <= i:
            table.append(_MISSING)
        table[i] = rule


def defvmap(fun: Callable, rule: Callable | None) -> None:
    """Define how ``fun`` runs on a batch (under ``vmap``): ``rule(args, batched, kwargs)``.

    ``batched[i]`` says whether ``args[i]`` carries the batch, as its axis 0; the rule
    returns the answer for every example, with the batch as axis 0, or
    ``NotImplemented`` to have ``fun`` called once per example instead. ``None`` removes
    the rule: ``fun`` is then always called once per example.

    >>> from matdiff.extend import primitive
    >>> cube = primitive(lambda x: x**3)
    >>> defvmap(cube, lambda args, batched, kwargs: cube(args[0]))  # elementwise
    """
    if rule is None:
        vmap_rules.pop(fun, None)
    else:
        vmap_rules[fun] = rule


#: The JVP rules that are their primitive applied with the tangent in its argument's
#: place (``"same"``, :func:`def_linear`), each with ``(primitive, argument position)``:
#: a batched forward pass applies the primitive's batching rule to them directly.
linear_jvps: dict[Callable, tuple[Callable, int]] = {}


def _linear_jvp(fun: Callable, argnum: int) -> Callable:
    def rule(g, ans, *args, **kwargs):
        args = list(args)
        args[argnum] = g
        return fun(*args, **kwargs)

    linear_jvps[rule] = (fun, argnum)
    return rule


def def_linear(fun: Callable) -> None:
    """Declare ``fun`` linear in each argument: its JVPs are ``fun`` itself (autograd's)."""
    jvp_rules[fun] = EveryPosition(lambda i: _linear_jvp(fun, i))


def _missing_rule(fun: Callable, argnum: int, mode: str) -> NotDifferentiableError:
    kind = "VJP (reverse mode)" if mode == "rev" else "JVP (forward mode)"
    definer = "defvjp" if mode == "rev" else "defjvp"
    return NotDifferentiableError(
        f"{_fname(fun)}: no {kind} rule for argument {argnum}, which is being "
        f"differentiated. Define one with matdiff.extend.{definer}({_fname(fun)}, ...), "
        "or pass the argument through matdiff.stop_gradient if its derivative is not needed."
    )


def jvp_rule(fun: Callable, argnum: int) -> Callable | None:
    """The JVP rule of ``fun`` for argument ``argnum``; ``None`` for a zero derivative.

    A missing rule raises :class:`~matdiff.tracer.NotDifferentiableError` naming ``fun``
    and how to define one, as tracing ``fun`` in forward mode would.

    >>> import matdiff.numpy as np
    >>> from matdiff.core import jvp_rule
    >>> float(jvp_rule(np.sin, 0)(2.0, np.sin(0.0), 0.0))
    2.0
    """
    table = jvp_rules.get(fun)
    rule = _MISSING if table is None or argnum >= len(table) else table[argnum]
    if rule is _MISSING:
        raise _missing_rule(fun, argnum, "fwd")
    return rule


# ---------------------------------------------------------------- reverse mode


class VJPNode:
    """A primitive application recorded in the forward pass; VJPs are made backward."""

    __slots__ = ("fun", "ans", "args", "kwargs", "argnums", "parents")

    def __init__(self, fun, ans, args, kwargs, argnums, parents):
        self.fun = fun
        self.ans = ans
        self.args = args
        self.kwargs = kwargs
        self.argnums = argnums
        self.parents = parents


class ReverseTrace(Trace):
    """Records a tape of :class:`VJPNode` in the order they were made."""

    __slots__ = ("tape",)

    def __init__(self) -> None:
        super().__init__()
        self.tape: list[VJPNode] = []

    def process(self, fun, ans, argvals, kwargs, argnums, boxes):
        table = vjp_rules.get(fun)
        if table is None:
            raise _missing_rule(fun, argnums[0], "rev")
        n = len(table)
        for i in argnums:
            if i >= n or table[i] is _MISSING:
                raise _missing_rule(fun, i, "rev")
        # A loop, not a comprehension: on Python 3.11 a comprehension is a function call.
        parents = []
        for b in boxes:
            parents.append(b._node)
        node = VJPNode(fun, ans, argvals, kwargs, argnums, parents)
        self.tape.append(node)
        cls = _box_for_type.get(type(ans))
        return new_box(ans, self, node) if cls is None else cls(ans, self, node)

    def leaf(self, value):
        return new_box(value, self, VJPNode(None, value, (), {}, (), ()))

    def record(self, fun, ans, args, argnums, parents, kwargs=None) -> VJPNode:
        """Append the node of ``fun(*args, **kwargs) == ans`` to the tape and return it.

        The arguments at ``argnums`` are the traced ones and ``parents`` their nodes.
        :meth:`process` records every primitive call itself; this is for a call that is
        not one primitive (a custom rule, a checkpoint), whose ``fun`` is a key of
        ``vjp_rules`` like any primitive. Box an answer with ``new_box(ans, trace, node)``.

        >>> from matdiff.core import ReverseTrace
        >>> trace = ReverseTrace()
        >>> x = trace.leaf(2.0)
        >>> node = trace.record(abs, 2.0, (2.0,), (0,), [x._node])
        >>> trace.tape == [node], node.parents == [x._node]
        (True, True)
        """
        node = VJPNode(fun, ans, args, {} if kwargs is None else kwargs, argnums, parents)
        self.tape.append(node)
        return node


def backward_pass(trace: ReverseTrace, seeds: dict, keep: bool = False):
    """Propagate the cotangents ``seeds`` (by node) back over the tape: adjoints by node.

    Implements v̄_i = Σ over children j of v̄_j ∂v_j/∂v_i by visiting the tape in reverse
    creation order, which is a reverse topological order. Nodes that no cotangent
    reaches are skipped: their adjoint is the symbolic zero.

    An adjoint is dropped once it has been passed on, so the result holds those of the
    leaves. ``keep=True`` keeps every node's adjoint, and gives besides each cotangent
    sent along an edge, v̄_j ∂v_j/∂v_i, keyed by ``(node j, argnum of v_i)``:
    ``(adjoints, edge_cotangents)``, to show what the pass computed.

    >>> import matdiff.numpy as np
    >>> from matdiff.core import ReverseTrace, backward_pass
    >>> trace = ReverseTrace()
    >>> x, w = trace.leaf(3.0), trace.leaf(5.0)
    >>> y = x * w
    >>> z = 2.0 * y
    >>> float(backward_pass(trace, {z._node: 1.0})[x._node])
    10.0
    >>> adjoints, sent = backward_pass(trace, {z._node: 1.0}, keep=True)
    >>> float(adjoints[y._node]), float(sent[y._node, 0]), float(sent[y._node, 1])
    (2.0, 10.0, 6.0)
    """
    outgrads = dict(seeds)
    sent: dict | None = {} if keep else None
    # Chosen once, not per node: popping frees each adjoint as soon as it is passed on.
    take = outgrads.get if keep else outgrads.pop
    rules = vjp_rules
    for node in reversed(trace.tape):
        g = take(node, None)
        if g is None:
            continue
        table = rules[node.fun]
        ans = node.ans
        args = node.args
        kwargs = node.kwargs
        for argnum, parent in zip(node.argnums, node.parents):
            maker = table[argnum]
            if maker is None:
                continue
            try:
                if type(maker) is DirectVJP:
                    rule = maker.rule
                    pg = rule(g, ans, *args, **kwargs) if kwargs else rule(g, ans, *args)
                else:
                    pg = (maker(ans, *args, **kwargs) if kwargs else maker(ans, *args))(g)
            except ConcreteValueError:
                pg = NotImplemented
                if concrete_vjp_fallback:
                    pg = concrete_vjp_fallback[0](maker, g, ans, args, kwargs)
                if pg is NotImplemented:
                    raise
            if sent is not None:
                sent[node, argnum] = pg
            prev = outgrads.get(parent)
            if prev is None:
                outgrads[parent] = pg
            else:
                try:
                    outgrads[parent] = prev + pg
                except (TypeError, AttributeError):
                    # A user's vector space may define its sum only through VSpace.add.
                    outgrads[parent] = vspace(prev).add(prev, pg)
    return (outgrads, sent) if keep else outgrads


def make_vjp(fun: Callable, x: Any) -> tuple[Callable, Any]:
    """autograd's ``make_vjp`` for a single array argument: ``(vjp_fn, ans)``."""
    trace = ReverseTrace()
    start = trace.leaf(x)
    with deeper_stack:
        out = fun(start)
    if type(out) in box_types and out._trace is trace:
        end_node = out._node
        ans = out._value

        def vjp_fn(g):
            with deeper_stack:
                grads = backward_pass(trace, {end_node: g})
            res = grads.get(start._node)
            return vspace(x).zeros() if res is None else res
    else:
        ans = out

        def vjp_fn(g):
            return vspace(x).zeros()

    return vjp_fn, ans


# ---------------------------------------------------------------- forward mode


class ForwardTrace(Trace):
    """Pushes tangents alongside values; the box payload is the tangent itself."""

    __slots__ = ()

    def process(self, fun, ans, argvals, kwargs, argnums, boxes):
        table = jvp_rules.get(fun)
        if table is None:
            raise _missing_rule(fun, argnums[0], "fwd")
        n = len(table)
        tangent = None
        for i, b in zip(argnums, boxes):
            rule = table[i] if i < n else _MISSING
            if rule is _MISSING:
                raise _missing_rule(fun, i, "fwd")
            if rule is None:
                continue
            t = rule(b._node, ans, *argvals, **kwargs)
            tangent = t if tangent is None else _add_any(tangent, t)
        if tangent is None:
            return ans
        return new_box(ans, self, tangent)


def make_jvp(fun: Callable, x: Any) -> Callable:
    """autograd's ``make_jvp``: ``make_jvp(f, x)(v) -> (f(x), J v)``."""

    def jvp_fn(v):
        trace = ForwardTrace()
        with deeper_stack:
            out = fun(new_box(x, trace, v))
        if type(out) in box_types and out._trace is trace:
            return out._value, out._node
        return out, vspace(out).zeros()

    return jvp_fn


# ---------------------------------------------------------------- vector spaces


class VSpace:
    """What the operators need to know of a value's space: zeros, ones, basis, inner."""

    __slots__ = ("shape", "dtype")

    def zeros(self):  # pragma: no cover
        raise NotImplementedError

    def ones(self):  # pragma: no cover
        raise NotImplementedError

    # autograd's VSpace API, for users who differentiate with respect to their own types:
    # subclass VSpace, define zeros and the underscored operations, and call
    # MyVSpace.register(MyType). The public operations are primitives, so a rule written
    # with them (f * g, an inner product) is differentiable again.

    def __init__(self, value: Any = None) -> None:
        pass

    def standard_basis(self):
        raise NotImplementedError(f"{type(self).__name__} defines no standard_basis")

    def randn(self):
        raise NotImplementedError(f"{type(self).__name__} defines no randn")

    @primitive
    def mut_add(self, x_prev, x_new):
        """``x_prev + x_new``, which may reuse ``x_prev`` (``None`` is the zero)."""
        return self._mut_add(self.zeros() if x_prev is None else x_prev, x_new)

    @primitive
    def add(self, x, y):
        return self._add(x, y)

    @primitive
    def scalar_mul(self, x, a):
        return self._scalar_mul(x, a)

    @primitive
    def inner_prod(self, x, y):
        return self._inner_prod(x, y)

    @primitive
    def covector(self, x):
        """The element that pairs with others as ``x`` does under the inner product."""
        return self._covector(x)

    def _add(self, x, y):
        return x + y

    def _mut_add(self, x, y):
        x += y
        return x

    def _scalar_mul(self, x, a):
        return x * a

    def _inner_prod(self, x, y):
        raise NotImplementedError(f"{type(self).__name__} defines no _inner_prod")

    def _covector(self, x):
        return x

    def flatten(self, value):
        """``value``'s coordinates as a 1-D float array, inverse of :meth:`unflatten`.

        Not autograd's: optimizers that scale each coordinate on its own (``adam``,
        ``rmsprop``) need coordinates, which only the space knows.
        """
        raise NotImplementedError(f"{type(self).__name__} defines no flatten")

    def unflatten(self, vector):
        """The element of this space with coordinates ``vector`` (see :meth:`flatten`)."""
        raise NotImplementedError(f"{type(self).__name__} defines no unflatten")

    @classmethod
    def register(cls, value_type: type, vspace_maker: Callable | None = None) -> None:
        """Make ``cls(value)`` (or ``vspace_maker(value)``) the space of ``value_type``'s values.

        autograd's spelling of :func:`register_vspace`.
        """
        register_vspace(vspace_maker or cls, value_type)


def _identity_vjp(ans, vs, x, y=None):
    return lambda g: g


defvjp(VSpace.mut_add, None, _identity_vjp, _identity_vjp)
defvjp(VSpace.add, None, _identity_vjp, _identity_vjp)
defvjp(
    VSpace.inner_prod,
    None,
    lambda ans, vs, x, y: lambda g: vs.covector(vs.scalar_mul(y, g)),
    lambda ans, vs, x, y: lambda g: vs.covector(vs.scalar_mul(x, g)),
)
defvjp(VSpace.covector, None, lambda ans, vs, x: lambda g: vs.covector(g))
defvjp(
    VSpace.scalar_mul,
    None,
    lambda ans, vs, x, a: lambda g: vs.covector(vs.scalar_mul(vs.covector(g), a)),
    lambda ans, vs, x, a: lambda g: vs.inner_prod(g, vs.covector(x)),
)
defjvp(VSpace.mut_add, None, lambda g, ans, vs, x, y: g, lambda g, ans, vs, x, y: g)
defjvp(VSpace.add, None, lambda g, ans, vs, x, y: g, lambda g, ans, vs, x, y: g)
defjvp(VSpace.scalar_mul, None, "same", "same")
defjvp(VSpace.inner_prod, None, "same", "same")
defjvp(VSpace.covector, None, "same")


def _add_any(x, y):
    """``x + y`` for cotangents and tangents, through their space where ``+`` is not defined."""
    try:
        return x + y
    except (TypeError, AttributeError):
        # no +, or a box of a user's type inheriting a + that reads what only the value
        # has (autograd's RKHS example): the space's add is the sum either way
        return vspace(x).add(x, y)


_vspace_for_type: dict[type, Callable[[Any], VSpace]] = {}


def register_vspace(maker: Callable[[Any], VSpace], *types: type) -> None:
    for t in types:
        _vspace_for_type[t] = maker


def has_vspace(value: Any) -> bool:
    """Whether ``value``'s type, or a base of it, has a registered vector space."""
    if type(value) in _vspace_for_type or known_type(type(value)):
        return True
    return any(isinstance(value, t) for t in _vspace_for_type)


def vspace(value: Any) -> VSpace:
    value = getval(value)
    try:
        return _vspace_for_type[type(value)](value)
    except KeyError:
        if known_type(type(value)):
            return _vspace_for_type[type(value)](value)
        for t, maker in _vspace_for_type.items():
            if isinstance(value, t):
                return maker(value)
        raise TypeError(
            f"matdiff cannot differentiate a value of type {type(value).__name__}: "
            "expected an array, a float or a pytree of them, or a type whose space is "
            "registered (MyVSpace.register(MyType))"
        ) from None
