"""Optimization passes over a :class:`Program`; each returns a new program.

* :func:`dce` drops equations whose results are never used (guards are always kept);
* :func:`cse` shares equations that apply the same primitive to the same operands;
* :func:`fold_constants` evaluates equations whose operands are all literals;
* :func:`simplify` applies identities that a backward pass makes common: ``x * 1``,
  ``x + 0``, ``x ** 1``, multiplication by a symbolic zero, double transpose, ``sum`` of a
  ``broadcast_to``, the transpose of a matrix product, reshape chains, ``stack`` of one
  array;
* :func:`reorder_products` multiplies chains of matrix products in the cheaper order;
* :func:`merge_products` computes matrix products that share one large operand as one
  product of stacked operands (``A @ [B C]``), so that operand is read once;
* :func:`optimize` runs them to a fixed point.

Every rewrite keeps each variable's shape and dtype, so the code generator's buffer
reuse stays valid. Multiplication by a literal zero gives zero even where the other
factor is infinite or NaN: a zero cotangent is exactly zero, as in every AD system.
"""

from __future__ import annotations

import inspect
import math as _math
from collections.abc import Callable
from typing import Any

import numpy as _np

from ..numpy import manipulation as _shape
from ..numpy import products as _products
from ..numpy import reductions as _reductions
from ..numpy import ufuncs as _ufuncs
from ..numpy.indexing import getitem as _getitem
from .ir import Eqn, Lit, Program, Var, bind_args, guard, is_immutable, raw_callable
from .structure import carry_structure

__all__ = [
    "dce",
    "cse",
    "fold_constants",
    "simplify",
    "reorder_products",
    "merge_products",
    "optimize",
]


def _subst(atom, sub: dict):
    if type(atom) is Var:
        return sub.get(atom.id, atom)
    return atom


def _rebuild(program: Program, eqns: list, sub: dict) -> Program:
    outs = [_subst(a, sub) for a in program.outvars]
    return Program(list(program.invars), eqns, outs)


# ---------------------------------------------------------------- dead code


def dce(program: Program) -> Program:
    """Drop equations whose outputs no output depends on (every primitive is pure).

    >>> import matdiff.numpy as np
    >>> from matdiff.compile import make_program
    >>> def f(x):
    ...     unused = np.exp(x)
    ...     return np.sin(x)
    >>> len(dce(make_program(f)(1.0)).eqns)
    1
    """
    live = {a.id for a in program.outvars if type(a) is Var}
    kept = []
    for e in reversed(program.eqns):
        if e.out.id in live or e.prim is guard:
            kept.append(e)
            live.update(a.id for a in e.inputs if type(a) is Var)
    kept.reverse()
    return Program(list(program.invars), kept, list(program.outvars))


# ---------------------------------------------------------------- common subexpressions


def _lit_key(v: Any) -> Any:
    if not is_immutable(v):
        # Held by reference (a captured array may change after staging): two such
        # operands are the same only if they are the same object.
        return ("id", id(v))
    t = type(v)
    if v is None or t in (bool, int, float, complex, str):
        return (t, repr(v))
    if isinstance(v, _np.generic):
        return (t, v.tobytes())
    if t is tuple:
        return (t, tuple(_lit_key(x) for x in v))
    if t is slice:
        return (t, _lit_key(v.start), _lit_key(v.stop), _lit_key(v.step))
    if t is _np.dtype or v is Ellipsis:
        return (t, repr(v))
    return ("id", id(v))


def _atom_key(a) -> Any:
    if type(a) is Var:
        return ("v", a.id)
    if a.ref or type(a.value) is not _np.ndarray:
        return ("l", _lit_key(a.value))
    # An array the passes made themselves (a folded constant): nothing else holds it.
    v = a.value
    return ("a", v.dtype.str, v.shape, v.tobytes()) if v.size <= 64 else ("id", id(v))


def _eqn_key(e: Eqn) -> Any:
    params = tuple(sorted((k, _lit_key(v)) for k, v in e.params.items()))
    return (e.prim, tuple(_atom_key(a) for a in e.inputs), params)


def cse(program: Program) -> Program:
    """Compute each distinct ``prim(operands, params)`` once.

    >>> import matdiff.numpy as np
    >>> from matdiff.compile import make_program
    >>> prog = make_program(lambda x: np.sin(x) + np.sin(x))(1.0)
    >>> [e.prim.__name__ for e in cse(prog).eqns]
    ['sin', 'add']
    """
    seen: dict = {}
    sub: dict = {}
    eqns = []
    for e in program.eqns:
        ins = tuple(_subst(a, sub) for a in e.inputs)
        e = Eqn(e.prim, ins, e.params, e.out)
        key = _eqn_key(e)
        prev = seen.get(key)
        if prev is not None and prev.out.shape == e.out.shape and prev.out.dtype == e.out.dtype:
            sub[e.out.id] = prev.out
            continue
        seen[key] = e
        eqns.append(e)
    return _rebuild(program, eqns, sub)


# ---------------------------------------------------------------- constants


def _foldable(e: Eqn) -> bool:
    """Every operand of ``e`` is a literal known by value (none is held by reference)."""
    return all(type(a) is Lit and not a.ref for a in e.inputs) and all(
        is_immutable(v) for v in e.params.values()
    )


def _evaluate(e: Eqn) -> Lit | None:
    """The literal value of ``e`` when all its operands are literals known by value."""
    try:
        value = raw_callable(e.prim)(*[a.value for a in e.inputs], **e.params)
    except Exception:  # noqa: BLE001 - a failure here is reported when the program runs
        return None
    if _np.shape(value) != e.out.shape or _np.result_type(value) != e.out.dtype:
        return None
    return Lit(value)


def fold_constants(program: Program) -> Program:
    """Evaluate equations whose operands are all literals.

    >>> import matdiff.numpy as np
    >>> from matdiff.compile import make_program
    >>> prog = make_program(lambda x: x * np.exp(np.zeros(2)))(np.ones(2))
    >>> [e.prim.__name__ for e in fold_constants(prog).eqns]
    ['multiply']
    """
    sub: dict = {}
    eqns = []
    for e in program.eqns:
        ins = tuple(_subst(a, sub) for a in e.inputs)
        e = Eqn(e.prim, ins, e.params, e.out)
        if _foldable(e):
            lit = _evaluate(e)
            if lit is not None:
                sub[e.out.id] = lit
                continue
        eqns.append(e)
    return _rebuild(program, eqns, sub)


# ---------------------------------------------------------------- algebraic identities


def _is_const(a, c: float) -> bool:
    if type(a) is not Lit or a.ref:
        return False
    v = a.value
    if type(v) in (int, float, complex):
        return v == c
    if isinstance(v, (_np.ndarray, _np.generic)) and v.dtype.kind in "iufc":
        return bool(v.size) and bool(_np.all(v == c))
    return False


def _same_aval(a, out: Var) -> bool:
    """``a`` can stand for ``out``: a variable of the same shape and dtype."""
    return type(a) is Var and not a.weak and a.shape == out.shape and a.dtype == out.dtype


def _zeros(out: Var) -> Lit:
    return Lit(_np.broadcast_to(_np.zeros((), out.dtype), out.shape))


def _bind(e: Eqn, *names: str) -> dict | None:
    """``e``'s arguments by name, the first operand as ``"x"``; None unless the raw
    callable takes ``names`` and any other parameter it has is ``None`` (unused)."""
    b = bind_args(e)
    if b is None:
        return None
    first, rest = b
    if any(n not in rest for n in names):
        return None
    for k, a in rest.items():
        if k not in names and not (type(a) is Lit and a.value is None):
            return None
    return {"x": first, **rest}


def _takes(prim: Callable, *names: str) -> bool:
    """``prim`` takes one operand and then ``names`` (the rest defaulting to ``None``):
    rewrites may build equations of it with those keywords."""
    try:
        params = list(inspect.signature(raw_callable(prim)).parameters.values())
    except (TypeError, ValueError):
        return False
    have = {p.name for p in params[1:]}
    others_unused = all(
        p.name in names or p.default is None or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        for p in params[1:]
    )
    return set(names) <= have and others_unused


def _lit(args: dict, name: str) -> Any:
    a = args[name]
    if type(a) is Lit:
        return a.value
    if type(a) is Var:
        raise _NotStatic
    return a


class _NotStatic(Exception):
    pass


def _perm(axes, ndim: int) -> tuple:
    return tuple(reversed(range(ndim))) if axes is None else tuple(a % ndim for a in axes)


def _normalize_axes(axis, ndim: int) -> tuple:
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (int, _np.integer)):
        axis = (axis,)
    return tuple(sorted(int(a) % ndim for a in axis))


class _Rewriter:
    """One forward sweep: each equation is kept, replaced by an atom, or by new equations."""

    def __init__(self) -> None:
        self.producer: dict[int, Eqn] = {}

    def rewrite(self, e: Eqn):
        raw = raw_callable(e.prim)
        rule = _RULES.get(raw)
        if rule is None:
            return None
        try:
            return rule(self, e)
        except _NotStatic:
            return None

    def made_by(self, a, prim: Callable) -> Eqn | None:
        if type(a) is not Var:
            return None
        e = self.producer.get(a.id)
        return e if e is not None and e.prim is prim else None


def _r_multiply(rw: _Rewriter, e: Eqn):
    x, y = e.inputs
    if _is_const(x, 0) or _is_const(y, 0):
        return _zeros(e.out)
    if _is_const(y, 1) and _same_aval(x, e.out):
        return x
    if _is_const(x, 1) and _same_aval(y, e.out):
        return y
    return None


def _r_add(rw: _Rewriter, e: Eqn):
    x, y = e.inputs
    if _is_const(y, 0) and _same_aval(x, e.out):
        return x
    if _is_const(x, 0) and _same_aval(y, e.out):
        return y
    # x + (-a) is x - a to the bit (negation is exact): one pass instead of two, which
    # backward passes make common (the adjoint of a quotient is negated, then summed).
    a = _negated(rw, y, e.out)
    if a is not None:
        return [Eqn(_ufuncs.subtract, (x, a), {}, e.out)]
    a = _negated(rw, x, e.out)
    if a is not None:
        return [Eqn(_ufuncs.subtract, (y, a), {}, e.out)]
    return None


def _r_subtract(rw: _Rewriter, e: Eqn):
    x, y = e.inputs
    if _is_const(y, 0) and _same_aval(x, e.out):
        return x
    a = _negated(rw, y, e.out)
    if a is not None:
        return [Eqn(_ufuncs.add, (x, a), {}, e.out)]
    return None


def _negated(rw: _Rewriter, v, out: Var):
    """``a`` where ``v = negative(a)`` of an inexact ``a`` of ``out``'s dtype."""
    neg = rw.made_by(v, _ufuncs.negative)
    if neg is None or len(neg.inputs) != 1 or neg.params or out.dtype.kind not in "fc":
        return None
    a = neg.inputs[0]
    return a if type(a) is Var and not a.weak and a.dtype == out.dtype else None


def _r_divide(rw: _Rewriter, e: Eqn):
    x, y = e.inputs
    if _is_const(y, 1) and _same_aval(x, e.out):
        return x
    if (
        _is_const(x, 0)
        and type(y) is Lit
        and not y.ref
        and bool(_np.all(_np.asarray(y.value) != 0))
    ):
        return _zeros(e.out)
    return None


def _r_power(rw: _Rewriter, e: Eqn):
    x, y = e.inputs
    if _is_const(y, 1) and _same_aval(x, e.out):
        return x
    return None


def _r_negative(rw: _Rewriter, e: Eqn):
    (x,) = e.inputs
    inner = rw.made_by(x, e.prim)
    if inner is not None and _same_aval(inner.inputs[0], e.out):
        return inner.inputs[0]
    return None


def _r_matmul(rw: _Rewriter, e: Eqn):
    x, y = e.inputs[:2]
    if _is_const(x, 0) or _is_const(y, 0):
        return _zeros(e.out)
    rows = _identity_rows(x)
    if rows is not None and len(e.inputs) == 2 and not e.params:
        # Rows of the identity (jacfwd's unit vectors) times y: those rows of y, as the
        # batch rules read it off where y is traced; here y is an array held by reference.
        ys = _np.shape(y.value) if type(y) is Lit else y.shape
        ydt = _np.result_type(y.value) if type(y) is Lit else y.dtype
        if 1 <= len(ys) <= 2 and ys[0] == x.value.shape[1] and ydt == e.out.dtype:
            if type(y) is Var:
                return [Eqn(_getitem, (y, Lit(rows)), {}, e.out)]
            # A copy, as the product was: the result must not be a view of an array the
            # caller holds.
            part = Var(e.out.shape, e.out.dtype)
            return [Eqn(_getitem, (y, Lit(rows)), {}, part), Eqn(_np.array, (part,), {}, e.out)]
    return None


def _identity_rows(a) -> slice | None:
    """The rows ``start:stop`` of the identity that literal ``a`` is, if it is."""
    if type(a) is not Lit or a.ref or type(a.value) is not _np.ndarray:
        return None
    v = a.value
    if v.ndim != 2 or v.shape[0] == 0 or v.shape[0] > v.shape[1] or v.dtype.kind not in "fc":
        return None
    r = v.shape[0]
    start = int(_np.argmax(v[0] != 0))
    if start + r > v.shape[1] or _np.count_nonzero(v) != r:
        return None
    if not bool(_np.all(v[_np.arange(r), start + _np.arange(r)] == 1)):
        return None
    return slice(start, start + r)


def _r_transpose(rw: _Rewriter, e: Eqn):
    args = _bind(e, "axes")
    if args is None:
        return None
    x = args["x"]
    if type(x) is not Var:
        return None
    nd = len(x.shape)
    perm = _perm(_lit(args, "axes"), nd)
    if perm == tuple(range(nd)) and _same_aval(x, e.out):
        return x
    inner = rw.made_by(x, e.prim)
    if inner is not None:
        iargs = _bind(inner, "axes")
        if iargs is not None and type(iargs["x"]) is Var:
            base = iargs["x"]
            p1 = _perm(_lit(iargs, "axes"), nd)
            composed = tuple(p1[i] for i in perm)
            if composed == tuple(range(nd)):
                return base if _same_aval(base, e.out) else None
            return [Eqn(e.prim, (base,), {"axes": composed}, e.out)]
    prod = rw.made_by(x, _products.matmul)
    if prod is not None and nd == 2 and perm == (1, 0) and _TRANSPOSE_OK:
        return _transpose_of_product(rw, e, prod)
    return None


def _is_matrix_transpose(rw: _Rewriter, a) -> Var | None:
    """The matrix ``b`` if ``a = transpose(b)`` of a 2-D ``b``."""
    t = rw.made_by(a, _shape.transpose)
    if t is None:
        return None
    args = _bind(t, "axes")
    if args is None or type(args["x"]) is not Var or len(args["x"].shape) != 2:
        return None
    return args["x"] if _perm(_lit(args, "axes"), 2) == (1, 0) else None


def _transpose_of_product(rw: _Rewriter, e: Eqn, prod: Eqn):
    # (A B)^T = B^T A^T pays off when A or B is itself a transpose, which then cancels.
    a, b = prod.inputs[:2]
    if prod.params or type(a) is not Var or type(b) is not Var:
        return None
    if len(a.shape) != 2 or len(b.shape) != 2:
        return None
    at = _is_matrix_transpose(rw, a)
    bt = _is_matrix_transpose(rw, b)
    if at is None and bt is None:
        return None
    new = []
    if bt is None:
        bt = Var((b.shape[1], b.shape[0]), b.dtype)
        new.append(Eqn(_shape.transpose, (b,), {"axes": None}, bt))
    if at is None:
        at = Var((a.shape[1], a.shape[0]), a.dtype)
        new.append(Eqn(_shape.transpose, (a,), {"axes": None}, at))
    new.append(Eqn(_products.matmul, (bt, at), {}, e.out))
    return new


def _r_reshape(rw: _Rewriter, e: Eqn):
    args = _bind(e, "shape", "order")
    if args is None or type(args["x"]) is not Var or _lit(args, "order") != "C":
        return None
    x = args["x"]
    if x.shape == e.out.shape and _same_aval(x, e.out):
        return x
    inner = rw.made_by(x, e.prim)
    if inner is not None:
        iargs = _bind(inner, "shape", "order")
        if iargs is not None and _lit(iargs, "order") == "C" and type(iargs["x"]) is Var:
            base = iargs["x"]
            if base.shape == e.out.shape:
                return base if _same_aval(base, e.out) else None
            return [Eqn(e.prim, (base,), {"shape": e.out.shape}, e.out)]
    return None


def _r_broadcast_to(rw: _Rewriter, e: Eqn):
    x = e.inputs[0]
    if _same_aval(x, e.out):
        return x
    return None


def _r_sum(rw: _Rewriter, e: Eqn):
    args = _bind(e, "axis", "dtype", "keepdims")
    if args is None or _lit(args, "dtype") is not None or not _RESHAPE_OK:
        return None
    bc = rw.made_by(args["x"], _shape.broadcast_to)
    if bc is None or type(bc.inputs[0]) is not Var:
        return None
    x = bc.inputs[0]
    big = bc.out.shape
    lead = len(big) - len(x.shape)
    axes = _normalize_axes(_lit(args, "axis"), len(big))
    stretched = {i for i in range(len(big)) if i < lead or (x.shape[i - lead] == 1 and big[i] != 1)}
    # Only the case where the sum undoes exactly the broadcast: each summed axis was made
    # by broadcasting, and every axis broadcasting made is summed.
    if not stretched <= set(axes) or not all(i < lead or x.shape[i - lead] == 1 for i in axes):
        return None
    n = 1
    for i in axes:
        n *= big[i]
    if x.dtype != e.out.dtype:
        return None
    if n == 1 and x.shape == e.out.shape:
        return x if _same_aval(x, e.out) else None
    if x.shape == e.out.shape:
        return [Eqn(_ufuncs.multiply, (x, Lit(e.out.dtype.type(n))), {}, e.out)]
    new = []
    cur = x
    if n != 1:
        cur = Var(x.shape, x.dtype)
        new.append(Eqn(_ufuncs.multiply, (x, Lit(e.out.dtype.type(n))), {}, cur))
    new.append(Eqn(_shape.reshape, (cur,), {"shape": e.out.shape}, e.out))
    return new


def _r_stack(rw: _Rewriter, e: Eqn):
    # Stacking one array only inserts an axis: a reshape (a view), not a copy. Batched
    # Jacobians end in one of these per chunk of directions.
    if len(e.inputs) != 2 or e.params or not _RESHAPE_OK:
        return None
    axis, x = e.inputs
    if type(axis) is not Lit or type(x) is not Var or x.weak or x.dtype != e.out.dtype:
        return None
    return [Eqn(_shape.reshape, (x,), {"shape": e.out.shape}, e.out)]


_TRANSPOSE_OK = _takes(_shape.transpose, "axes")
_RESHAPE_OK = _takes(_shape.reshape, "shape", "order")

_RULES: dict[Callable, Callable] = {
    _np.multiply: _r_multiply,
    _np.add: _r_add,
    _np.subtract: _r_subtract,
    _np.divide: _r_divide,
    _np.negative: _r_negative,
    _np.power: _r_power,
    _np.matmul: _r_matmul,
    _shape.transpose.fun: _r_transpose,
    _shape.reshape.fun: _r_reshape,
    _shape.broadcast_to.fun: _r_broadcast_to,
    _reductions.sum.fun: _r_sum,
    _shape._stack.fun: _r_stack,
}


def simplify(program: Program) -> Program:
    """Apply algebraic identities and fold constants in one forward sweep.

    >>> import matdiff.numpy as np
    >>> from matdiff.compile import make_program
    >>> prog = make_program(lambda x: np.transpose(np.transpose(x)) * 1.0 + 0.0)(np.ones((2, 3)))
    >>> len(simplify(prog).eqns) < len(prog.eqns)
    True
    """
    rw = _Rewriter()
    sub: dict = {}
    eqns: list[Eqn] = []
    for e in program.eqns:
        ins = tuple(_subst(a, sub) for a in e.inputs)
        e = Eqn(e.prim, ins, e.params, e.out)
        if _foldable(e):
            lit = _evaluate(e)
            if lit is not None:
                sub[e.out.id] = lit
                continue
        r = rw.rewrite(e)
        if r is None:
            r = [e]
        elif not isinstance(r, list):
            sub[e.out.id] = r
            continue
        for new in r:
            rw.producer[new.out.id] = new
            eqns.append(new)
    return _rebuild(program, eqns, sub)


# ---------------------------------------------------------------- product order

# A chain is reordered when the new order takes at most this fraction of the
# multiplications: a different order rounds differently, so it must pay.
_REORDER_GAIN = 0.5


def _uniform_scalar(a) -> float | None:
    """The real number that literal ``a`` holds in every entry, if it does."""
    if type(a) is not Lit or a.ref:
        return None
    v = a.value
    if type(v) in (int, float):
        return float(v)
    if type(v) is _np.ndarray and v.dtype.kind in "fi" and v.size:
        first = v.flat[0]
        if bool(_np.all(v == first)) and _np.isfinite(first):
            return float(first)
    return None


def _scaled_from(e: Eqn) -> tuple[Var, float] | None:
    """``(x, s)`` where ``e``'s result is ``s * x`` entry for entry, in the same order
    and dtype (a negation, a product with a uniform literal, a C-order reshape)."""
    raw = raw_callable(e.prim)
    if raw is _np.negative and len(e.inputs) == 1 and not e.params:
        x, s = e.inputs[0], -1.0
    elif raw is _np.multiply and len(e.inputs) == 2 and not e.params:
        x, y = e.inputs
        s = _uniform_scalar(y)
        if s is None:
            x, y = y, x
            s = _uniform_scalar(y)
        if s is None or type(x) is not Var or x.shape != e.out.shape:
            return None
    elif raw is _shape.reshape.fun:
        args = _bind(e, "shape", "order")
        if args is None:
            return None
        try:
            if _lit(args, "order") != "C":
                return None
        except _NotStatic:
            return None
        x, s = args["x"], 1.0
    else:
        return None
    if type(x) is not Var or x.weak or x.dtype != e.out.dtype:
        return None
    return x, s


def _plain_matmul(e: Eqn | None) -> tuple | None:
    """``(x, y)`` of ``matmul(x, y)`` of two matrices of one inexact dtype, else None."""
    if e is None or raw_callable(e.prim) is not _np.matmul or len(e.inputs) != 2 or e.params:
        return None
    if e.out.dtype.kind not in "fc":
        return None
    x, y = e.inputs
    xs, ys = _aval_shape(x), _aval_shape(y)
    if xs is None or ys is None or len(xs) != 2 or len(ys) != 2:
        return None
    if _aval_dtype(x) != e.out.dtype or _aval_dtype(y) != e.out.dtype:
        return None
    return x, y


def reorder_products(program: Program) -> Program:
    """Compute ``(A @ B) @ C`` as ``A @ (B @ C)``, or ``C @ (A @ B)`` as ``(C @ A) @ B``,
    where that takes at most half the multiplications.

    ``A @ B`` may reach the outer product through negations, products with a number
    and reshapes that come back to its shape (a Hessian's tangents do: the product of a
    block of seed directions with a factor, scaled, then multiplied by another factor),
    as long as nothing else reads the values on the way. The scale is applied to the new
    product. Matrices only, of one dtype.

    >>> import numpy as onp
    >>> import matdiff.numpy as np
    >>> from matdiff.compile import make_program
    >>> prog = make_program(lambda a, b, c: (-(a @ b) * 2.0) @ c)(
    ...     onp.ones((300, 4)), onp.ones((4, 300)), onp.ones((300, 4)))
    >>> [e.prim.__name__ for e in reorder_products(prog).eqns][-3:]
    ['matmul', 'matmul', 'multiply']
    """
    producer: dict[int, Eqn] = {}
    uses: dict[int, int] = {}
    for e in program.eqns:
        producer[e.out.id] = e
        for a in e.inputs:
            if type(a) is Var:
                uses[a.id] = uses.get(a.id, 0) + 1
    for a in program.outvars:
        if type(a) is Var:
            uses[a.id] = uses.get(a.id, 0) + 2

    def scaled_product(v) -> tuple | None:
        """``(a, b, s)`` where ``v`` is ``s * (a @ b)`` and nothing else reads the way."""
        if type(v) is not Var:
            return None
        s = 1.0
        shape, dtype = v.shape, v.dtype
        while True:
            if type(v) is not Var or uses.get(v.id, 0) != 1:
                return None
            e = producer.get(v.id)
            ab = _plain_matmul(e)
            if ab is not None:
                ok = v.shape == shape and v.dtype == dtype
                return (*ab, s) if ok else None
            step = None if e is None else _scaled_from(e)
            if step is None:
                return None
            v, f = step
            s *= f

    eqns: list[Eqn] = []
    changed = False
    for e in program.eqns:
        xy = _plain_matmul(e)
        new = None
        if xy is not None:
            new = _reordered(e, *xy, scaled_product)
        if new is None:
            eqns.append(e)
        else:
            eqns.extend(new)
            changed = True
    if not changed:
        return program
    return dce(Program(list(program.invars), eqns, list(program.outvars)))


def _reordered(e: Eqn, x, y, scaled_product) -> list | None:
    left = scaled_product(x)  # x is s (a @ b): (a b) y
    if left is not None:
        a, b, s = left
        r = _regrouped(a, b, y, s, e.out, True)
        if r is not None:
            return r
    right = scaled_product(y)  # y is s (a @ b): x (a b)
    if right is not None:
        a, b, s = right
        return _regrouped(x, a, b, s, e.out, False)
    return None


def _regrouped(P, Q, R, s: float, out: Var, grouped_left: bool) -> list | None:
    """``out = s (P Q R)`` grouped the other way than it is, where that pays."""
    (p, q), (_, r), (_, t) = _aval_shape(P), _aval_shape(Q), _aval_shape(R)
    pq_r, p_qr = p * q * r + p * r * t, q * r * t + p * q * t
    old, new = (pq_r, p_qr) if grouped_left else (p_qr, pq_r)
    if new > _REORDER_GAIN * old:
        return None
    if grouped_left:
        inner = Var((q, t), out.dtype)
        return [Eqn(_products.matmul, (Q, R), {}, inner), *_scaled_eqns((P, inner), s, out)]
    inner = Var((p, r), out.dtype)
    return [Eqn(_products.matmul, (P, Q), {}, inner), *_scaled_eqns((inner, R), s, out)]


def _scaled_eqns(operands: tuple, s: float, out: Var) -> list:
    """``out = s * (operands[0] @ operands[1])``."""
    if s == 1.0:
        return [Eqn(_products.matmul, operands, {}, out)]
    prod = Var(out.shape, out.dtype)
    first = Eqn(_products.matmul, operands, {}, prod)
    if s == -1.0:
        return [first, Eqn(_ufuncs.negative, (prod,), {}, out)]
    return [first, Eqn(_ufuncs.multiply, (prod, Lit(s)), {}, out)]


# ---------------------------------------------------------------- stacked products

# Measured with OpenBLAS at one core (numpy 2.4): two matrix-vector products of one
# 100000 x 100 matrix take 4.6 ms, the product with the two vectors stacked 8.1 ms (the
# matrix-matrix kernel packs the whole matrix for a two-column result), so vectors are
# never stacked. From two columns on, stacking wins: 100000 x 100 times two 100 x 10
# matrices 47 ms apart, 23 ms stacked; 2000 x 1000 times two 1000 x 10, 2.9 ms and 2.1 ms.
# Where the other operands are as large as the shared one (600 x 300 times two 300 x 300),
# copying them into one costs what reading the shared one once saves: no gain, so the
# shared operand must be the larger by _MIN_RATIO.
_MIN_FREE = 2
_INF = _math.inf
_MIN_SHARED = 1 << 14
_MIN_RATIO = 4


def _matmul_operands(e: Eqn):
    """``(x, y)`` of a plain ``matmul`` equation of two operands of 2 or more dimensions."""
    if e.prim is not _products.matmul or len(e.inputs) != 2 or e.params:
        return None
    x, y = e.inputs
    xs, ys = _aval_shape(x), _aval_shape(y)
    if xs is None or ys is None or len(xs) < 2 or len(ys) < 2:
        return None
    return x, y


def _aval_shape(a) -> tuple | None:
    if type(a) is Var:
        return None if a.weak else a.shape
    v = a.value
    return v.shape if type(v) is _np.ndarray else None


def _aval_dtype(a) -> _np.dtype:
    return a.dtype if type(a) is Var else a.value.dtype


def _size(shape: tuple) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def merge_products(
    program: Program,
    min_free: int | None = None,
    min_shared: int | None = None,
    min_ratio: float | None = None,
) -> Program:
    """Compute ``S @ B1, S @ B2, ...`` as ``S @ concatenate([B1, B2, ...], -1)`` split by
    columns (and ``A1 @ S, A2 @ S`` by stacked rows), so the shared ``S`` is read once.

    Products merge when they share one operand (the same variable, or the same literal
    object), the other operands differ only in the axis that is stacked, every product
    is already available where the first of them is computed, and the measured rule of
    thumb says stacking wins: the other operands have ``min_free`` or more columns (rows)
    each, ``S`` has ``min_shared`` or more elements and ``min_ratio`` times as many as the
    other operands together (by default the measured ``_MIN_FREE``, ``_MIN_SHARED`` and
    ``_MIN_RATIO``). Each result is a view of the one product, of its old shape.

    >>> import numpy as onp
    >>> import matdiff.numpy as np
    >>> from matdiff.compile import make_program
    >>> prog = make_program(lambda s, b, c: (s @ b, s @ c))(
    ...     onp.ones((300, 200)), onp.ones((200, 4)), onp.ones((200, 3)))
    >>> [e.prim.__name__ for e in merge_products(prog).eqns]
    ['_concatenate', 'matmul', 'getitem', 'getitem']
    """
    min_free = _MIN_FREE if min_free is None else min_free
    min_shared = _MIN_SHARED if min_shared is None else min_shared
    min_ratio = _MIN_RATIO if min_ratio is None else min_ratio
    eqns = program.eqns
    # Positions: equation j is at j; what is computed just before equation p, at p - 0.5.
    # A merged product goes after every operand of its products is defined and before any
    # of their results is used; both move as products merge.
    defined: dict[int, float] = {v.id: -1 for v in program.invars}
    used: dict[int, float] = {}
    for i, e in enumerate(eqns):
        defined[e.out.id] = i
        for a in e.inputs:
            if type(a) is Var:
                used.setdefault(a.id, i)
    groups: dict = {}
    for i, e in enumerate(eqns):
        ops = _matmul_operands(e)
        if ops is None:
            continue
        x, y = ops
        groups.setdefault(("L", _atom_key(x)), []).append(i)
        groups.setdefault(("R", _atom_key(y)), []).append(i)
    taken: set[int] = set()
    plans: dict[int, list] = {}  # position -> equations computed just before it
    for (side, _), members in groups.items():
        members = [i for i in members if i not in taken]
        while len(members) > 1:
            batch, p = _mergeable(eqns, members, side, defined, used)
            members = [i for i in members if i not in batch]
            if len(batch) < 2 or not _pays(eqns, batch, side, min_free, min_shared, min_ratio):
                continue
            taken.update(batch)
            plans.setdefault(p, []).extend(_stacked(eqns, batch, side))
            for i in batch:
                defined[eqns[i].out.id] = p - 0.5
                for a in eqns[i].inputs:
                    if type(a) is Var:
                        used[a.id] = min(used.get(a.id, _INF), p - 0.5)
    if not plans:
        return program
    out = []
    for i, e in enumerate(eqns):
        out.extend(plans.get(i, ()))
        if i not in taken:
            out.append(e)
    out.extend(plans.get(len(eqns), ()))
    return Program(list(program.invars), out, list(program.outvars))


def _where(a, defined: dict) -> int:
    """The first position a product of operand ``a`` may go."""
    return int(_math.floor(defined.get(a.id, -1))) + 1 if type(a) is Var else 0


def _mergeable(eqns: list, members: list, side: str, defined: dict, used: dict):
    """The first member and those that stack with it, and where their product goes."""
    k = 1 if side == "L" else 0  # the position of the operand that is stacked
    axis = -1 if side == "L" else -2
    e0 = eqns[members[0]]
    ref = _aval_shape(e0.inputs[k])
    nd = len(ref)
    p = max(_where(a, defined) for a in e0.inputs)
    first_use = used.get(e0.out.id, _INF)
    out = [members[0]]
    for i in members[1:]:
        e = eqns[i]
        o = e.inputs[k]
        shape = _aval_shape(o)
        if len(shape) != nd or e.out.dtype != e0.out.dtype:
            continue
        if _aval_dtype(o) != _aval_dtype(e0.inputs[k]):
            continue
        if any(shape[j] != ref[j] for j in range(nd) if j != nd + axis):
            continue
        if type(o) is Var and any(eqns[m].out.id == o.id for m in out):
            continue  # a product of another's result: the one product cannot hold both
        p2 = max(p, _where(o, defined))
        use2 = min(first_use, used.get(e.out.id, _INF))
        if p2 - 0.5 < use2:
            out.append(i)
            p, first_use = p2, use2
    return out, p


def _pays(eqns, batch, side, min_free, min_shared, min_ratio) -> bool:
    k = 1 if side == "L" else 0
    axis = -1 if side == "L" else -2
    shared = _size(_aval_shape(eqns[batch[0]].inputs[1 - k]))
    others = [_aval_shape(eqns[i].inputs[k]) for i in batch]
    if any(s[axis] < min_free for s in others):
        return False
    return shared >= min_shared and shared >= min_ratio * sum(_size(s) for s in others)


def _stacked(eqns: list, batch: list, side: str) -> list:
    """``concatenate``, one ``matmul`` and one slice per member, in place of ``batch``."""
    k = 1 if side == "L" else 0
    axis = -1 if side == "L" else -2
    e0 = eqns[batch[0]]
    parts = [eqns[i].inputs[k] for i in batch]
    widths = [_aval_shape(p)[axis] for p in parts]
    cshape = list(_aval_shape(parts[0]))
    cshape[axis] = sum(widths)
    cat = Var(tuple(cshape), _aval_dtype(parts[0]))
    oshape = list(e0.out.shape)
    oshape[axis] = sum(widths)
    prod = Var(tuple(oshape), e0.out.dtype)
    shared = e0.inputs[1 - k]
    pair = (shared, cat) if side == "L" else (cat, shared)
    new = [
        Eqn(_shape._concatenate, (Lit(axis), *parts), {}, cat),
        Eqn(_products.matmul, pair, {}, prod),
    ]
    start = 0
    for i, w in zip(batch, widths):
        cut = slice(start, start + w)
        index = (Ellipsis, cut) if side == "L" else (Ellipsis, cut, slice(None))
        new.append(Eqn(_getitem, (prod, Lit(index)), {}, eqns[i].out))
        start += w
    return new


DEFAULT_PASSES = (simplify, cse, reorder_products, dce, carry_structure, merge_products)


def optimize(program: Program, passes=DEFAULT_PASSES, max_rounds: int = 8) -> Program:
    """Run ``passes`` in turn until the program stops shrinking.

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> from matdiff.compile import make_program
    >>> prog = make_program(grad(lambda x: np.sum(np.sin(x) * 1.0)))(np.ones(3))
    >>> len(optimize(prog).eqns) < len(prog.eqns)
    True
    """
    for _ in range(max_rounds):
        before = _signature(program)
        for p in passes:
            program = p(program)
        if _signature(program) == before:
            break
    return program


def _signature(program: Program) -> tuple:
    return (
        tuple(id(e.prim) for e in program.eqns),
        tuple(_atom_key(a) for e in program.eqns for a in e.inputs),
        tuple(_atom_key(a) for a in program.outvars),
    )
