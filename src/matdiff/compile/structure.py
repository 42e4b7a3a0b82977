"""Identity seeds carried as structure: Jacobians and Hessians without per-direction work.

``jacobian`` and ``hessian`` push a whole basis of directions through a program at once:
the seed is the identity matrix, reshaped to ``(n, *shape)``. Staged under ``jit``, the
seed is a constant and every tangent computed from it is linear in it, so each one is an
*embedded diagonal*: a small dense factor ``D`` spread over a larger array by Kronecker
deltas. The seed itself is ``δ(k, m)`` with ``D = 1``; ``-dU @ V.T``, for ``dU`` the seed
of an ``n x r`` matrix, is ``δ(i, a) · (-V.T)[j, c]`` in place of an ``(n r, n, n)``
array. :func:`carry_structure` rewrites such tangents as equations on ``D`` alone and
builds the dense array once, where an equation needs it or at the outputs.

A value is described digit by digit: each axis is a row-major sequence of *labels*
(``(k1, k2, m1)`` for an axis of size ``k1 * k2 * m1``); a label that appears twice is a
Kronecker delta between those digits, and the dense factor has one axis per label it
depends on (along the others the value is constant). Products with dense operands
become contractions of ``D`` (one ``matmul`` or one broadcast ``multiply``), reshapes and
transposes only relabel. The pass applies only where its estimated work is smaller than
the program's; otherwise the program is returned unchanged.

>>> import math, matdiff, matdiff.numpy as np
>>> V = np.ones((30, 3))
>>> h = matdiff.jit(matdiff.hessian(lambda U: np.sum((U @ V.T) ** 2)))
>>> compiled = h.lower(np.ones((30, 3)))
>>> largest = lambda p: max(math.prod(e.out.shape) for e in p.eqns)
>>> largest(compiled.staged), largest(compiled.program)  # a 30 x 30 tangent per direction
(81000, 8100)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as _np

from ..numpy import manipulation as _shape
from ..numpy import products as _products
from ..numpy import reductions as _reductions
from ..numpy import ufuncs as _ufuncs
from .ir import Eqn, Lit, Program, Var, bind_args

__all__ = ["carry_structure", "seed_labels"]

# Below this many dense elements (program-wide) the bookkeeping equations cost more than
# the per-direction work they save.
MIN_WORK = 4096


class _Abort(Exception):
    """The structure cannot be carried further here; keep the program as it is."""


class _S:
    """An embedded diagonal: ``axes`` (labels per axis), dense factor ``dense`` whose axes
    are ``dlabels``."""

    __slots__ = ("axes", "dense", "dlabels")

    def __init__(self, axes: tuple, dense: Any, dlabels: tuple) -> None:
        self.axes = axes
        self.dense = dense
        self.dlabels = dlabels

    def digits(self) -> list:
        return [lab for ax in self.axes for lab in ax]


def seed_labels(value: Any, new_label: Callable[[int], int]) -> tuple | None:
    """Labels per axis if ``value`` is ``eye(n)`` in row-major order (any reshape of it).

    The flat index is ``k * n + m`` with ``k == m``; each axis boundary of ``value`` must
    fall on a digit boundary of ``k`` or of ``m``, and ``k`` and ``m`` are split into the
    same digits so that one label names a digit of both.
    """
    if not isinstance(value, _np.ndarray) or value.ndim == 0 or value.dtype.kind not in "fc":
        return None
    n = math.isqrt(value.size)
    if n < 2 or n * n != value.size:
        return None
    flat = value.reshape(-1)
    if _np.count_nonzero(flat) != n or not bool(_np.all(flat[:: n + 1] == 1)):
        return None
    suffix = [math.prod(value.shape[j:]) for j in range(value.ndim + 1)]
    marks = {1, n}
    for p in suffix:
        if p <= n:
            if n % p:
                return None
            marks.add(p)
        else:
            if p % n:
                return None
            marks.add(p // n)
    chain = sorted(marks)
    if any(b % a for a, b in zip(chain, chain[1:])):
        return None
    sizes = [b // a for a, b in zip(chain, chain[1:])][::-1]  # most significant first
    labels = [new_label(s) for s in sizes]
    digits = [(lab, s) for lab, s in zip(labels, sizes)] * 2
    axes = []
    pos = 0
    for size in value.shape:
        ax = []
        left = size
        while left > 1:
            lab, s = digits[pos]
            if left % s:
                return None
            ax.append(lab)
            left //= s
            pos += 1
        axes.append(tuple(ax))
    if pos != len(digits):
        return None
    return tuple(axes)


def _dtype(atom: Any) -> _np.dtype:
    if type(atom) is Var:
        return atom.dtype
    return _np.asarray(atom.value).dtype


def _shape_of(atom: Any) -> tuple:
    if type(atom) is Var:
        return atom.shape
    return _np.shape(atom.value)


def _is_one(a: Any) -> bool:
    return (
        type(a) is Lit and isinstance(a.value, _np.ndarray) and a.value.shape == () and a.value == 1
    )


def _cost(e: Eqn) -> int:
    size = math.prod(e.out.shape)
    if e.prim is _products.matmul:
        a, b = (_shape_of(x) for x in e.inputs[:2])
        k = a[-1] if a else 1
        return size * max(k, 1)
    return size


class _Pass:
    def __init__(self) -> None:
        self.sizes: dict[int, int] = {}
        self.labels = itertools.count()
        self.eqns: list[Eqn] = []
        self.new_cost = 0
        self.old_cost = 0

    def label(self, size: int) -> int:
        lab = next(self.labels)
        self.sizes[lab] = size
        return lab

    # ------------------------------------------------------------ emitting

    def emit(self, prim: Callable, inputs: tuple, params: dict, shape: tuple, dtype) -> Var:
        out = Var(shape, dtype)
        e = Eqn(prim, tuple(inputs), params, out)
        self.eqns.append(e)
        self.new_cost += _cost(e)
        return out

    def transpose(self, atom: Any, labels: tuple, order: tuple) -> Any:
        if tuple(order) == tuple(labels):
            return atom
        perm = tuple(labels.index(lab) for lab in order)
        shape = tuple(self.sizes[lab] for lab in order)
        return self.emit(_shape.transpose, (atom, Lit(perm)), {}, shape, _dtype(atom))

    def reshape(self, atom: Any, shape: tuple) -> Any:
        shape = tuple(int(s) for s in shape)
        if tuple(_shape_of(atom)) == shape:
            return atom
        return self.emit(_shape.reshape, (atom, Lit(shape)), {}, shape, _dtype(atom))

    # ------------------------------------------------------------ the dense factor

    def diagonal(self, atom: Any, labels: list) -> tuple[Any, tuple]:
        """``atom`` with axes ``labels`` (repeats allowed), as unique labels."""
        uniq = tuple(dict.fromkeys(labels))
        if len(uniq) == len(labels):
            return atom, uniq
        letters = {lab: chr(ord("a") + i) for i, lab in enumerate(uniq)}
        sub = "".join(letters[lab] for lab in labels) + "->" + "".join(letters[u] for u in uniq)
        shape = tuple(self.sizes[u] for u in uniq)
        out = self.emit(
            _products._einsum, (Lit(sub), atom), {"optimize": False}, shape, _dtype(atom)
        )
        return out, uniq

    def reduce(self, atom: Any, labels: tuple, drop: set) -> tuple[Any, tuple]:
        axes = tuple(i for i, lab in enumerate(labels) if lab in drop)
        if not axes:
            return atom, labels
        keep = tuple(lab for lab in labels if lab not in drop)
        shape = tuple(self.sizes[lab] for lab in keep)
        out = self.emit(
            _reductions.sum, (atom,), {"axis": axes, "keepdims": False}, shape, _dtype(atom)
        )
        return out, keep

    def combine(self, d, dl: tuple, c, cl: list, keep: set, op: Callable) -> tuple[Any, tuple]:
        """``op`` (multiply, divide, add) or, for labels in both and not in ``keep``, the
        contraction of ``d`` (axes ``dl``) with ``c`` (axes ``cl``)."""
        c, cl = self.diagonal(c, cl)
        if op is _ufuncs.multiply and _is_one(d) and _dtype(c) == _dtype(d):
            c, cl = self.reduce(c, tuple(cl), {lab for lab in cl if lab not in keep})
            return c, tuple(cl)
        if op is _ufuncs.multiply:
            d, dl = self.reduce(d, dl, {lab for lab in dl if lab not in keep and lab not in cl})
            c, cl = self.reduce(c, cl, {lab for lab in cl if lab not in keep and lab not in dl})
        batch = tuple(lab for lab in dl if lab in cl and lab in keep)
        contract = tuple(lab for lab in dl if lab in cl and lab not in keep)
        f1 = tuple(lab for lab in dl if lab not in cl)
        f2 = tuple(lab for lab in cl if lab not in dl)
        dtype = _np.result_type(_dtype(d), _dtype(c))
        size = self.sizes.__getitem__
        if contract:
            if op is not _ufuncs.multiply:
                raise _Abort
            bshape = tuple(size(lab) for lab in batch)
            n1 = math.prod(size(lab) for lab in f1)
            n2 = math.prod(size(lab) for lab in f2)
            nk = math.prod(size(lab) for lab in contract)
            d = self.reshape(self.transpose(d, dl, batch + f1 + contract), (*bshape, n1, nk))
            c = self.reshape(self.transpose(c, tuple(cl), batch + contract + f2), (*bshape, nk, n2))
            out = self.emit(_products.matmul, (d, c), {}, (*bshape, n1, n2), dtype)
            labels = batch + f1 + f2
            return self.reshape(out, tuple(size(lab) for lab in labels)), labels
        labels = batch + f1 + f2
        d = self.transpose(d, dl, batch + f1)
        d = self.reshape(d, tuple(size(lab) for lab in batch + f1) + (1,) * len(f2))
        c = self.transpose(c, tuple(cl), batch + f2)
        c = self.reshape(
            c, tuple(size(lab) for lab in batch) + (1,) * len(f1) + tuple(size(x) for x in f2)
        )
        shape = tuple(size(lab) for lab in labels)
        return self.emit(op, (d, c), {}, shape, dtype), labels

    def dense_on(self, c: Any, digits: list) -> tuple[Any, list]:
        """Dense ``c`` whose axes match ``digits`` (a list of per-axis label tuples, or
        ``None`` for an axis ``c`` broadcasts): split into one axis per label."""
        shape = []
        labels: list = []
        for ax in digits:
            if ax is None:
                continue
            for lab in ax:
                shape.append(self.sizes[lab])
                labels.append(lab)
        return self.reshape(c, tuple(shape)), labels

    # ------------------------------------------------------------ building the array

    def materialize(self, s: _S, shape: tuple, dtype: _np.dtype) -> Var:
        """The dense array ``s`` describes: one broadcast product of its dense factor with
        an identity matrix per repeated label (ones for a label it is constant along)."""
        digits = s.digits()
        first: dict = {}
        for p, lab in enumerate(digits):
            first.setdefault(lab, p)
        dshape = [1] * len(digits)
        for lab in s.dlabels:
            dshape[first[lab]] = self.sizes[lab]
        order = tuple(sorted(s.dlabels, key=first.__getitem__))
        d = self.reshape(self.transpose(s.dense, s.dlabels, order), tuple(dshape))
        real = _np.zeros((), dtype).real.dtype
        factors = []
        for p, lab in enumerate(digits):
            n = self.sizes[lab]
            fshape = [1] * len(digits)
            if first[lab] != p:
                fshape[first[lab]] = fshape[p] = n
                factors.append(_np.eye(n, dtype=real).reshape(fshape))
            elif lab not in s.dlabels and digits.count(lab) == 1:
                fshape[p] = n
                factors.append(_np.ones(fshape, real))
        if not factors:
            raise _Abort  # a view of the dense factor: no array of its own to hand out
        full = tuple(self.sizes[lab] for lab in digits)
        out = d
        for f in factors:
            sh = _np.broadcast_shapes(_shape_of(out), f.shape)
            out = self.emit(_ufuncs.multiply, (out, Lit(f)), {}, sh, dtype)
        if out.shape != full or out.dtype != _np.dtype(dtype):
            raise _Abort
        return self.reshape(out, shape)

    # ------------------------------------------------------------ relabelling

    def split(self, s: _S, lab: int, hi: int) -> _S:
        """``s`` with label ``lab`` split into two digits, the first of size ``hi``."""
        n = self.sizes[lab]
        a, b = self.label(hi), self.label(n // hi)
        axes = tuple(tuple(x for y in ax for x in ((a, b) if y == lab else (y,))) for ax in s.axes)
        dense, dl = s.dense, s.dlabels
        if lab in dl:
            i = dl.index(lab)
            dl = dl[:i] + (a, b) + dl[i + 1 :]
            dense = self.reshape(dense, tuple(self.sizes[x] for x in dl))
        return _S(axes, dense, dl)

    def broadcast_axes(self, s: _S, shape: tuple) -> list:
        """Labels per axis of ``s`` broadcast to ``shape`` (new labels where it is
        constant)."""
        own = [math.prod(self.sizes[x] for x in ax) for ax in s.axes]
        lead = len(shape) - len(own)
        if lead < 0:
            raise _Abort
        axes = []
        for i, n in enumerate(shape):
            j = i - lead
            if j >= 0 and own[j] == n:
                axes.append(s.axes[j])
            elif (j < 0 or own[j] == 1) and n >= 1:
                axes.append((self.label(n),) if n > 1 else ())
            else:
                raise _Abort
        return axes

    def run(self, program: Program, min_work: int, min_ratio: float) -> Program:
        structs: dict[int, _S] = {}
        dense: dict[int, Any] = {}  # materialized structured variables
        seeds: dict[int, tuple] = {}

        def seed(a: Any) -> _S | None:
            if type(a) is not Lit or a.ref or not isinstance(a.value, _np.ndarray):
                return None
            key = id(a.value)
            if key not in seeds:
                seeds[key] = (seed_labels(a.value, self.label), a.value)
            axes = seeds[key][0]
            if axes is None:
                return None
            one = Lit(_np.ones((), a.value.dtype))
            return _S(axes, one, ())

        def struct_of(a: Any) -> _S | None:
            if type(a) is Var:
                return structs.get(a.id)
            return seed(a)

        def densify(a: Any) -> Any:
            if type(a) is not Var or a.id not in structs:
                return a
            if a.id not in dense:
                dense[a.id] = self.materialize(structs[a.id], a.shape, a.dtype)
            return dense[a.id]

        for e in program.eqns:
            ss = [struct_of(a) for a in e.inputs]
            rule = _RULES.get(e.prim)
            if rule is not None and any(s is not None for s in ss):
                mark, cost = len(self.eqns), self.new_cost
                try:
                    out = rule(self, e, ss)
                    if _dtype(out.dense) != e.out.dtype or self.shape(out) != e.out.shape:
                        raise _Abort
                except _Abort:
                    del self.eqns[mark:]
                    self.new_cost = cost
                else:
                    structs[e.out.id] = out
                    self.old_cost += _cost(e)
                    continue
            ins = tuple(densify(a) for a in e.inputs)
            self.eqns.append(Eqn(e.prim, ins, e.params, e.out))
        outs = [densify(a) for a in program.outvars]
        if (
            not self.old_cost
            or self.old_cost < min_work
            or min_ratio * self.new_cost > self.old_cost
        ):
            raise _Abort
        return Program(list(program.invars), self.eqns, outs)

    def shape(self, s: _S) -> tuple:
        return tuple(math.prod(self.sizes[x] for x in ax) for ax in s.axes)


def carry_structure(program: Program, min_work: int = MIN_WORK, min_ratio: float = 2.0) -> Program:
    """``program`` with identity seeds and the tangents linear in them carried as embedded
    diagonals (see the module's text), or ``program`` itself where that saves too little:
    the work replaced (elements written, multiply-adds of products) must be at least
    ``min_work`` and ``min_ratio`` times the work that replaces it."""
    try:
        return _Pass().run(program, min_work, min_ratio)
    except _Abort:
        return program


# ---------------------------------------------------------------- rules


def _unary(p: _Pass, e: Eqn, ss: list) -> _S:
    s = ss[0]
    if e.params or len(e.inputs) != 1:
        raise _Abort
    shape = tuple(p.sizes[x] for x in s.dlabels)
    d = p.emit(e.prim, (s.dense,), {}, shape, e.out.dtype)
    return _S(s.axes, d, s.dlabels)


def _copy(p: _Pass, e: Eqn, ss: list) -> _S:
    if e.params or len(e.inputs) != 1:
        raise _Abort
    return ss[0]


def _elementwise(p: _Pass, e: Eqn, ss: list) -> _S:
    if e.params or len(e.inputs) != 2:
        raise _Abort
    (a, b), (sa, sb) = e.inputs, ss
    if e.prim in (_ufuncs.add, _ufuncs.subtract):
        return _sum_of(p, e, sa, sb)
    if sa is not None and sb is not None:
        raise _Abort
    if e.prim is _ufuncs.divide and sb is not None:
        raise _Abort
    s, c = (sa, b) if sa is not None else (sb, a)
    axes = p.broadcast_axes(s, e.out.shape)
    cshape = _shape_of(c)
    lead = len(axes) - len(cshape)
    if lead < 0:
        raise _Abort
    cdig = []
    for j, n in enumerate(cshape):
        ax = axes[j + lead]
        if n == 1:
            cdig.append(None)
        elif n == math.prod(p.sizes[x] for x in ax):
            cdig.append(ax)
        else:
            raise _Abort
    c, cl = p.dense_on(c, cdig)
    keep = {x for ax in axes for x in ax}
    d, dl = p.combine(s.dense, s.dlabels, c, cl, keep, e.prim)
    return _S(tuple(axes), d, dl)


def _sum_of(p: _Pass, e: Eqn, sa: _S | None, sb: _S | None) -> _S:
    if sa is None or sb is None or p.shape(sa) != e.out.shape or p.shape(sb) != e.out.shape:
        raise _Abort
    rename: dict = {}
    for ax1, ax2 in zip(sa.axes, sb.axes):
        if [p.sizes[x] for x in ax1] != [p.sizes[x] for x in ax2]:
            raise _Abort
        for x, y in zip(ax1, ax2):
            if rename.setdefault(y, x) != x:
                raise _Abort
    if len(set(rename.values())) != len(rename):
        raise _Abort
    cl = [rename[y] for y in sb.dlabels]
    keep = set(rename.values())
    d, dl = p.combine(sa.dense, sa.dlabels, sb.dense, cl, keep, e.prim)
    return _S(sa.axes, d, dl)


def _matmul(p: _Pass, e: Eqn, ss: list) -> _S:
    if e.params or len(e.inputs) != 2:
        raise _Abort
    (a, b), (sa, sb) = e.inputs, ss
    if sa is not None and sb is not None:
        raise _Abort
    s, c = (sa, b) if sa is not None else (sb, a)
    cs = _shape_of(c)
    t = s.axes
    if len(cs) not in (1, 2) or not t:
        raise _Abort

    def fresh(n: int) -> tuple:
        return (p.label(n),) if n > 1 else ()

    if sa is not None:  # T @ C
        k = t[-1]
        if len(cs) == 1:
            cdig, out = [k], t[:-1]
        else:
            nl = fresh(cs[1])
            cdig, out = [k, nl], t[:-1] + (nl,)
    else:  # C @ T
        k = t[-2] if len(t) >= 2 else t[0]
        rest = t[:-2] + (t[-1],) if len(t) >= 2 else ()
        if len(cs) == 1:
            cdig, out = [k], rest
        else:
            ml = fresh(cs[0])
            cdig = [ml, k]
            out = t[:-2] + (ml, t[-1]) if len(t) >= 2 else (ml,)
    if (cs[0] if sa is not None else cs[-1]) != math.prod(p.sizes[x] for x in k):
        raise _Abort
    c, cl = p.dense_on(c, cdig)
    keep = {x for ax in out for x in ax}
    d, dl = p.combine(s.dense, s.dlabels, c, cl, keep, _ufuncs.multiply)
    return _S(tuple(out), d, dl)


def _sum(p: _Pass, e: Eqn, ss: list) -> _S:
    s = ss[0]
    b = bind_args(e)
    if b is None or len(e.inputs) != 1:
        raise _Abort
    _, args = b
    if any(args[k].value is not None for k in ("dtype", "out") if k in args):
        raise _Abort
    axis, keepdims = args["axis"].value, bool(args["keepdims"].value)
    nd = len(s.axes)
    if axis is None:
        axis = tuple(range(nd))
    elif isinstance(axis, (int, _np.integer)):
        axis = (int(axis),)
    axis = {int(x) % nd for x in axis}
    out = tuple(() if i in axis else ax for i, ax in enumerate(s.axes) if keepdims or i not in axis)
    keep = {x for ax in out for x in ax}
    gone = {x for i in axis for x in s.axes[i] if x not in keep}
    d, dl = p.reduce(s.dense, s.dlabels, {x for x in gone if x in s.dlabels})
    factor = math.prod(p.sizes[x] for x in gone if x not in s.dlabels)
    if factor != 1:
        shape = tuple(p.sizes[x] for x in dl)
        d = p.emit(_ufuncs.multiply, (d, Lit(factor)), {}, shape, _dtype(d))
    return _S(out, d, dl)


def _reshape(p: _Pass, e: Eqn, ss: list) -> _S:
    s = ss[0]
    b = bind_args(e)
    if b is None or len(e.inputs) != 2 or e.params:
        raise _Abort
    _, args = b
    if args.get("order") is not None and args["order"].value not in ("C", None):
        raise _Abort
    pos = 0
    axes = []
    for size in e.out.shape:
        ax = []
        left = size
        while left > 1:
            digits = s.digits()
            if pos >= len(digits):
                raise _Abort
            lab = digits[pos]
            n = p.sizes[lab]
            if left % n == 0:
                ax.append(lab)
                left //= n
                pos += 1
            elif n % left == 0:
                s = p.split(s, lab, left)
            else:
                raise _Abort
        axes.append(tuple(ax))
    if pos != len(s.digits()):
        raise _Abort
    return _S(tuple(axes), s.dense, s.dlabels)


def _transpose(p: _Pass, e: Eqn, ss: list) -> _S:
    s = ss[0]
    if e.params or len(e.inputs) not in (1, 2):
        raise _Abort
    perm = e.inputs[1].value if len(e.inputs) == 2 else None
    nd = len(s.axes)
    perm = tuple(reversed(range(nd))) if perm is None else tuple(int(x) % nd for x in perm)
    return _S(tuple(s.axes[i] for i in perm), s.dense, s.dlabels)


_RULES: dict[Callable, Callable] = {
    _ufuncs.negative: _unary,
    _ufuncs.multiply: _elementwise,
    _ufuncs.divide: _elementwise,
    _ufuncs.add: _elementwise,
    _ufuncs.subtract: _elementwise,
    _products.matmul: _matmul,
    _reductions.sum: _sum,
    _shape.reshape: _reshape,
    _shape.transpose: _transpose,
    _np.array: _copy,
}
