"""Sparsity patterns read off a staged program: which inputs each element depends on, and
which pairs of inputs interact nonlinearly.

Each value of the program gets a *dependency pattern*: a boolean ``scipy.sparse`` matrix
with one row per element (in C order) and one column per input element, true where the
element may depend on that input. The patterns of the outputs are the Jacobian's pattern.

For Hessians the walk also collects the *interactions*: an element ``phi(u)`` with ``phi``
nonlinear adds ``pattern(u) x pattern(u)``; a product ``u * v`` adds
``pattern(u) x pattern(v)`` and its transpose; a linear operation (a sum, a slice, a
reshape, a product with a constant) adds nothing. The union over the program contains every
nonzero of the Hessian of a scalar output (the second-order chain rule has no other terms).

Every rule over-estimates rather than under-estimates: a missed nonzero would be a silently
wrong derivative. A primitive without a rule of its own takes the dense one, in which every
element of its result depends on every input its operands depend on, and all of those
interact. A constant array held by reference (one captured by closure, which may change
between calls) counts as dense; one known by value counts by its nonzeros.

>>> import matdiff.numpy as np
>>> from matdiff.compile import make_program
>>> f = lambda x: np.sum((x[1:] - x[:-1] ** 2) ** 2)
>>> jac, hess = patterns(make_program(f)(np.zeros(4)), hessian=True)
>>> hess.toarray().astype(int)
array([[1, 1, 0, 0],
       [1, 1, 1, 0],
       [0, 1, 1, 1],
       [0, 0, 1, 1]])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as _np
import scipy.sparse as _sp

from ..numpy._wrap import all_wrapped
from .ir import Lit, Program, Var, bind_args, is_primitive, raw_callable
from .passes import dce

__all__ = ["patterns", "jacobian_pattern", "hessian_pattern"]

Pattern = Any  # a boolean scipy.sparse csr_array, rows: elements, columns: inputs


# ---------------------------------------------------------------- helpers


def _size(shape: tuple) -> int:
    return int(_np.prod(shape, dtype=_np.int64))


def _selection(idx: _np.ndarray, n_in: int) -> Pattern:
    """Row ``k`` picks input element ``idx[k]``; ``idx[k]`` outside ``[0, n_in)`` picks none."""
    idx = _np.asarray(idx, _np.int64).ravel()
    valid = (idx >= 0) & (idx < n_in)
    indptr = _np.concatenate(([0], _np.cumsum(valid)))
    cols = idx[valid]
    return _sp.csr_array((_np.ones(cols.size, bool), cols, indptr), shape=(idx.size, n_in))


def _from_pairs(rows: _np.ndarray, cols: _np.ndarray, shape: tuple) -> Pattern:
    """The pattern true at ``(rows[k], cols[k])``, built in CSR order directly."""
    order = _np.argsort(rows, kind="stable")
    indptr = _np.concatenate(([0], _np.cumsum(_np.bincount(rows, minlength=shape[0]))))
    out = _sp.csr_array((_np.ones(rows.size, bool), cols[order], indptr), shape=shape)
    out.sum_duplicates()
    return out


def _union(pats: list) -> Pattern | None:
    pats = [p for p in pats if p is not None]
    if not pats:
        return None
    out = pats[0]
    for p in pats[1:]:
        out = out + p
    return out


def _broadcast(p: Pattern | None, shape: tuple, out_shape: tuple) -> Pattern | None:
    """The pattern of ``broadcast_to(value, out_shape)``."""
    if p is None or shape == out_shape:
        return p
    idx = _np.broadcast_to(_np.arange(_size(shape)).reshape(shape), out_shape)
    return _selection(idx, _size(shape)) @ p


def _mask(atom) -> _np.ndarray | None:
    """Where a constant operand is nonzero; ``None`` (dense) for a traced or mutable one."""
    if type(atom) is Lit and not atom.ref:
        return _np.asarray(atom.value) != 0
    return None


class _Walk:
    """The state of one pass over a program: patterns by variable, interactions so far."""

    def __init__(self, n: int, hessian: bool) -> None:
        self.n = n
        self.hessian = hessian
        self.pats: dict[int, Pattern] = {}
        self.rows: list = []
        self.cols: list = []

    def pattern(self, atom) -> Pattern | None:
        if type(atom) is Var:
            return self.pats.get(atom.id)
        return None

    def interact(self, a: Pattern | None, b: Pattern | None) -> None:
        """Every input under a row of ``a`` interacts with every one under that row of ``b``."""
        if not self.hessian or a is None or b is None:
            return
        h = (a.T @ b).tocoo()
        self.rows += [h.row, h.col]
        self.cols += [h.col, h.row]

    def hessian_pattern(self) -> Pattern:
        if not self.rows:
            return _sp.csr_array((self.n, self.n), dtype=bool)
        rows = _np.concatenate(self.rows)
        cols = _np.concatenate(self.cols)
        return _from_pairs(rows, cols, (self.n, self.n))


def _differentiable(atom) -> bool:
    return type(atom) is Var and atom.dtype.kind in "fc"


def _operand_shapes(eqn) -> list:
    return [a.shape if type(a) is Var else _np.shape(a.value) for a in eqn.inputs]


# ---------------------------------------------------------------- rules
# rule(walk, eqn, pats) -> the output's pattern (None: depends on nothing)


def _dense(walk: _Walk, eqn, pats: list) -> Pattern | None:
    """Every element depends on everything any operand depends on; all of it interacts."""
    present = [p.tocsr() for p in pats if p is not None]
    if not present:
        return None
    cols = _np.unique(_np.concatenate([p.indices for p in present]))
    if cols.size == 0:
        return None
    u = _sp.csr_array((_np.ones(cols.size, bool), cols, [0, cols.size]), shape=(1, walk.n))
    walk.interact(u, u)
    return _selection(_np.zeros(_size(eqn.out.shape), _np.int64), 1) @ u


def _elementwise(kind: str) -> Callable:
    def rule(walk: _Walk, eqn, pats: list) -> Pattern | None:
        shapes = _operand_shapes(eqn)
        out = eqn.out.shape
        b = [_broadcast(p, s, out) for p, s in zip(pats, shapes)]
        k = kind
        if k == "power" and type(eqn.inputs[1]) is Lit:
            e = eqn.inputs[1].value
            if not eqn.inputs[1].ref and _np.ndim(e) == 0 and e == 1:
                k = "linear"
        if k == "multiply" and len(b) == 2:
            walk.interact(b[0], b[1])
        elif k == "divide" and len(b) == 2:
            walk.interact(b[0], b[1])
            walk.interact(b[1], b[1])
        elif k not in ("linear", "multiply", "divide"):
            u = _union(b)
            walk.interact(u, u)
        return _union(b)

    return rule


def _gather(walk: _Walk, eqn, pats: list) -> Pattern | None:
    """Data movement (slicing, reshaping, joining...): each element of the result is one
    element of an operand or a constant. Found by running the function on element numbers."""
    raw = raw_callable(eqn.prim)
    args = []
    stacked = []
    offset = 0
    for a, p in zip(eqn.inputs, pats):
        if type(a) is Var:
            if a.dtype.kind not in "fc":
                return _dense(walk, eqn, pats)  # an index computed from the data
            size = _size(a.shape)
            args.append(_np.arange(offset + 1, offset + size + 1).reshape(a.shape))
            stacked.append(p if p is not None else _sp.csr_array((size, walk.n), dtype=bool))
            offset += size
        else:
            v = a.value
            if isinstance(v, (float, complex, _np.ndarray, _np.generic)) and (
                _np.asarray(v).dtype.kind in "fc"
            ):
                v = _np.zeros(_np.shape(v), _np.int64)  # a constant operand: no dependency
            args.append(v)
    try:
        ids = _np.asarray(raw(*args, **eqn.params))
    except Exception:
        return _dense(walk, eqn, pats)
    if ids.shape != eqn.out.shape or ids.dtype.kind not in "iuf":
        return _dense(walk, eqn, pats)
    if not stacked:
        return None
    all_pats = stacked[0] if len(stacked) == 1 else _sp.vstack(stacked, format="csr")
    return _selection(ids.astype(_np.int64) - 1, offset) @ all_pats


def _normalize_axes(axis, ndim: int) -> tuple | None:
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, tuple) else (axis,)
    try:
        return tuple(sorted(int(a) % ndim for a in axes)) if ndim else ()
    except (TypeError, ValueError):
        return None


def _reduction(nonlinear: bool) -> Callable:
    def rule(walk: _Walk, eqn, pats: list) -> Pattern | None:
        bound = bind_args(eqn)
        a = eqn.inputs[0]
        if bound is None or any(p is not None for p in pats[1:]) or type(a) is not Var:
            return _dense(walk, eqn, pats)
        args = bound[1]
        axis = args.get("axis")
        if axis is not None and type(axis) is not Lit:
            return _dense(walk, eqn, pats)
        axes = _normalize_axes(axis.value if axis is not None else None, len(a.shape))
        if axes is None:
            return _dense(walk, eqn, pats)
        kept = tuple(1 if i in axes else d for i, d in enumerate(a.shape))
        if _size(kept) != _size(eqn.out.shape) or pats[0] is None:
            return _dense(walk, eqn, pats) if pats[0] is not None else None
        # Input element i goes to output element target[i].
        target = _np.broadcast_to(_np.arange(_size(kept)).reshape(kept), a.shape).ravel()
        reduce = _from_pairs(target, _np.arange(target.size), (_size(kept), target.size))
        out = reduce @ pats[0]
        if nonlinear:
            walk.interact(out, out)
        return out

    return rule


def _cumulative(nonlinear: bool) -> Callable:
    def rule(walk: _Walk, eqn, pats: list) -> Pattern | None:
        bound = bind_args(eqn)
        a = eqn.inputs[0]
        if bound is None or type(a) is not Var or pats[0] is None:
            return _dense(walk, eqn, pats)
        axis = bound[1].get("axis")
        if axis is not None and type(axis) is not Lit:
            return _dense(walk, eqn, pats)
        axis = None if axis is None else axis.value
        ids = _np.arange(_size(a.shape)).reshape(a.shape)
        if axis is None:
            ids = ids.ravel()
            axis = 0
        try:
            moved = _np.moveaxis(ids, int(axis), -1)
        except Exception:
            return _dense(walk, eqn, pats)
        if _size(moved.shape) != _size(eqn.out.shape):
            return _dense(walk, eqn, pats)
        moved = moved.reshape(-1, moved.shape[-1])
        later, earlier = _np.tril_indices(moved.shape[1])
        rows = moved[:, later].ravel()
        cols = moved[:, earlier].ravel()
        n_el = ids.size
        prefix = _from_pairs(rows, cols, (_size(eqn.out.shape), n_el))
        out = prefix @ pats[0]
        if nonlinear:
            walk.interact(out, out)
        return out

    return rule


def _product_maps(a_shape: tuple, b_shape: tuple, ma, mb) -> tuple | None:
    """``(R_a, R_b)`` for a matrix product of operands of rank 1 or 2: row ``r`` of
    ``R_a`` marks the elements of ``a`` that output element ``r`` is linear in, given
    where ``b`` may be nonzero (``mb``; ``None`` for anywhere), and likewise ``R_b``."""
    ma = _np.ones(a_shape, bool) if ma is None else _np.broadcast_to(ma, a_shape)
    mb = _np.ones(b_shape, bool) if mb is None else _np.broadcast_to(mb, b_shape)
    A = _sp.csr_array(ma.reshape(1, -1) if ma.ndim == 1 else ma)
    B = _sp.csr_array(mb.reshape(1, -1) if mb.ndim == 1 else mb)
    if len(a_shape) == 1 and len(b_shape) == 1:
        return B, A
    if len(a_shape) == 2 and len(b_shape) == 1:
        return _sp.kron(_sp.eye_array(a_shape[0], dtype=bool), B, format="csr"), A
    if len(a_shape) == 1 and len(b_shape) == 2:
        return B.T.tocsr(), _sp.kron(A, _sp.eye_array(b_shape[1], dtype=bool), format="csr")
    if len(a_shape) == 2 and len(b_shape) == 2:
        eye_m = _sp.eye_array(a_shape[0], dtype=bool)
        eye_p = _sp.eye_array(b_shape[1], dtype=bool)
        return _sp.kron(eye_m, B.T, format="csr"), _sp.kron(A, eye_p, format="csr")
    return None


def _matmul(walk: _Walk, eqn, pats: list) -> Pattern | None:
    if len(eqn.inputs) != 2 or eqn.params:
        return _dense(walk, eqn, pats)
    a, b = eqn.inputs
    sa, sb = _operand_shapes(eqn)
    if len(sa) == 0 or len(sb) == 0:
        return _elementwise("multiply")(walk, eqn, pats)
    maps = _product_maps(sa, sb, _mask(a), _mask(b))
    if maps is None or maps[0].shape[0] != _size(eqn.out.shape):
        return _dense(walk, eqn, pats)
    pa = None if pats[0] is None else (maps[0] @ pats[0]).tocsr()
    pb = None if pats[1] is None else (maps[1] @ pats[1]).tocsr()
    if pa is not None and pb is not None:
        pairs = _product_pairs(sa, sb)
        if pairs is None:
            walk.interact(pa, pb)  # each output's a-part with its b-part: a superset
        else:
            ia, ib = pairs
            walk.interact(_selection(ia, _size(sa)) @ pats[0], _selection(ib, _size(sb)) @ pats[1])
    return _union([pa, pb])


# Above this many products a matrix product of two traced operands counts its interactions
# per output element (a superset) rather than per product.
_MAX_PAIRS = 4_000_000


def _product_pairs(sa: tuple, sb: tuple) -> tuple | None:
    """The flat indices ``(ia, ib)`` of the factors of every product ``a[..k] * b[k..]``."""
    k = sa[-1]
    m = sa[0] if len(sa) == 2 else 1
    p = sb[1] if len(sb) == 2 else 1
    if m * k * p > _MAX_PAIRS:
        return None
    i, kk, j = (g.ravel() for g in _np.indices((m, k, p)))
    return i * k + kk, kk * p + j


def _inner(walk: _Walk, eqn, pats: list) -> Pattern | None:
    # For vectors the dot product; for matrices a @ b.T, which has no rule here.
    if all(len(s) == 1 for s in _operand_shapes(eqn)):
        return _matmul(walk, eqn, pats)
    return _dense(walk, eqn, pats)


def _outer(walk: _Walk, eqn, pats: list) -> Pattern | None:
    if len(eqn.inputs) != 2 or eqn.params:
        return _dense(walk, eqn, pats)
    m, p = (_size(s) for s in _operand_shapes(eqn))
    if _size(eqn.out.shape) != m * p:
        return _dense(walk, eqn, pats)
    rows = _np.arange(m * p)
    pa = None if pats[0] is None else _selection(rows // p, m) @ pats[0]
    pb = None if pats[1] is None else _selection(rows % p, p) @ pats[1]
    walk.interact(pa, pb)
    return _union([pa, pb])


def _nothing(walk: _Walk, eqn, pats: list) -> None:
    return None


_LINEAR_UFUNCS = (
    "add subtract negative positive deg2rad rad2deg degrees radians "
    # piecewise linear: no second derivative (their rules take it as zero everywhere)
    "absolute abs fabs maximum minimum fmax fmin sign floor ceil rint trunc fix round around"
).split()
_GATHERS = (
    "getitem reshape transpose permute_dims matrix_transpose _concatenate concatenate "
    "_stack stack hstack vstack dstack column_stack row_stack append broadcast_to "
    "expand_dims squeeze ravel flip fliplr flipud roll rot90 swapaxes moveaxis rollaxis "
    "diagonal diag _diag_from_vector diagflat make_diagonal _tril _triu tril triu "
    "atleast_1d atleast_2d atleast_3d copy asarray asanyarray array _pad_constant "
    "_gather_along_axis take_along_axis"
).split()
_REDUCTIONS = {
    **dict.fromkeys("sum nansum mean nanmean max min amax amin nanmax nanmin ptp".split(), False),
    **dict.fromkeys("prod nanprod std var nanstd nanvar".split(), True),
}
_CUMULATIVE = {
    **dict.fromkeys("cumsum nancumsum cumulative_sum".split(), False),
    **dict.fromkeys("cumprod nancumprod cumulative_prod".split(), True),
}

_rules: dict[int, Callable] = {}
_known: set = set()


def _rule_for(prim: Callable) -> Callable:
    """The rule for ``prim``: a library primitive's by name, the dense one otherwise."""
    rule = _rules.get(id(prim))
    if rule is not None:
        return rule
    if len(_known) != len(all_wrapped):
        _index_library()
        rule = _rules.get(id(prim))
        if rule is not None:
            return rule
    raw = getattr(prim, "fun", None)
    if (
        isinstance(raw, _np.ufunc)
        and raw.signature is None
        and getattr(prim, "__module__", "").startswith("matdiff.scipy.")
    ):
        # matdiff.scipy's ufuncs (expit, erf, gammaln...) act elementwise too.
        return _elementwise("nonlinear")
    return _dense


def _index_library() -> None:
    """Rules for the library's primitives, keyed by the primitive itself (a user's primitive
    of the same name, whose derivative rule may be anything, takes the dense rule)."""
    by_name: dict[str, Callable] = {}
    for name in _LINEAR_UFUNCS:
        by_name[name] = _elementwise("linear")
    by_name.update(multiply=_elementwise("multiply"), divide=_elementwise("divide"))
    by_name.update(true_divide=_elementwise("divide"), power=_elementwise("power"))
    by_name.update(where=_elementwise("linear"), clip=_elementwise("linear"))
    by_name.update(_astype=_elementwise("linear"), astype=_elementwise("linear"))
    by_name.update(real=_elementwise("linear"), stop_gradient=_nothing)
    for name in _GATHERS:
        by_name[name] = _gather
    for name, nonlinear in _REDUCTIONS.items():
        by_name[name] = _reduction(nonlinear)
    for name, nonlinear in _CUMULATIVE.items():
        by_name[name] = _cumulative(nonlinear)
    by_name.update(dot=_matmul, matmul=_matmul, inner=_inner, outer=_outer)
    for name, prim in list(all_wrapped.items()):
        _known.add(name)
        rule = by_name.get(name)
        if rule is None:
            raw = getattr(prim, "fun", None)
            # Any other ufunc of the library acts elementwise: taken as nonlinear.
            if isinstance(raw, _np.ufunc) and raw.signature is None:
                rule = _elementwise("nonlinear")
        if rule is not None:
            _rules[id(prim)] = rule
    from ..custom_rules import stop_gradient

    _rules[id(stop_gradient)] = _nothing


# ---------------------------------------------------------------- the walk


def patterns(program: Program, hessian: bool = False) -> tuple[list, Pattern | None]:
    """``(output patterns, interaction pattern)`` of ``program``.

    The columns number the elements of all inputs, the first input's first. Each output's
    pattern has a row per element (``None`` for an output that depends on no input); the
    interaction pattern (with ``hessian=True``) is symmetric, ``n x n``.
    """
    program = dce(program)
    offsets = _np.cumsum([0] + [_size(v.shape) for v in program.invars])
    n = int(offsets[-1])
    walk = _Walk(n, hessian)
    for v, start in zip(program.invars, offsets[:-1]):
        if v.dtype.kind in "fc":
            size = _size(v.shape)
            walk.pats[v.id] = _selection(_np.arange(start, start + size), n)
    for eqn in program.eqns:
        pats = [walk.pattern(a) for a in eqn.inputs]
        if not _differentiable(eqn.out) or all(p is None for p in pats):
            continue
        if not is_primitive(eqn.prim):
            continue  # recorded raw: no derivative
        try:
            out = _rule_for(eqn.prim)(walk, eqn, pats)
        except Exception:
            # Operands a rule did not foresee (a shape, a parameter): the dense rule holds.
            out = _dense(walk, eqn, pats)
        if out is not None:
            out = out.tocsr()
            if out.shape != (_size(eqn.out.shape), n):
                out = _dense(walk, eqn, pats)
            walk.pats[eqn.out.id] = out
    outs = [walk.pattern(a) for a in program.outvars]
    return outs, (walk.hessian_pattern() if hessian else None)


def jacobian_pattern(program: Program) -> Pattern:
    """The pattern of the Jacobian of the program's one output in its inputs, ``m x n``.

    >>> import matdiff.numpy as np
    >>> from matdiff.compile import make_program
    >>> prog = make_program(lambda x: x[1:] - x[:-1])(np.zeros(3))
    >>> jacobian_pattern(prog).toarray().astype(int)
    array([[1, 1, 0],
           [0, 1, 1]])
    """
    outs, _ = patterns(program)
    n = sum(_size(v.shape) for v in program.invars)
    out = program.outvars[0]
    m = _size(out.shape if type(out) is Var else _np.shape(out.value))
    return outs[0] if outs[0] is not None else _sp.csr_array((m, n), dtype=bool)


def hessian_pattern(program: Program) -> Pattern:
    """The pattern of the Hessian of the program's scalar output, ``n x n``, symmetric.

    >>> import matdiff.numpy as np
    >>> from matdiff.compile import make_program
    >>> prog = make_program(lambda x: np.sum(x[0] * x[1:]))(np.zeros(3))
    >>> hessian_pattern(prog).toarray().astype(int)
    array([[0, 1, 1],
           [1, 0, 0],
           [1, 0, 0]])
    """
    return patterns(program, hessian=True)[1]
