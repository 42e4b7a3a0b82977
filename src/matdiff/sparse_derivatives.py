"""Sparse Jacobians and Hessians by colouring: as many JVPs or HVPs as colours, not inputs.

``sparse_jacobian(f)`` and ``sparse_hessian(f)`` return functions whose results are
``scipy.sparse.csr_array`` s. On the first call for an input shape and dtype they stage
``f`` (as ``jit`` does), read the sparsity pattern off the program
(:mod:`matdiff.compile.sparsity`), colour the columns so that no two columns of one colour
share a row, and compile the compressed product: the JVPs (Jacobian) or Hessian-vector
products (Hessian) along one seed direction per colour, all pushed through one batched
forward pass. Later calls with the same shapes run the compiled product and scatter its
columns into the pattern. A banded Hessian of any size costs as many HVPs as its band is
wide.

The pattern is structural: it holds every entry that may be nonzero for any input of that
shape, so it does not change with the values. A function whose staging fails (Python
control flow on traced values) raises :class:`matdiff.compile.StagingError`, whose message
points to ``matdiff.hessian`` or ``matdiff.jacobian`` for a dense result; it is not
silently computed densely, which at the sizes where sparsity matters would not fit in
memory.

>>> import numpy
>>> import matdiff.numpy as np
>>> from matdiff import sparse_hessian
>>> f = lambda x: np.sum((x[1:] - x[:-1] ** 2) ** 2)
>>> H = sparse_hessian(f)(numpy.array([1.0, 2.0, 3.0]))
>>> H.toarray()
array([[ 4., -4.,  0.],
       [-4., 38., -8.],
       [ 0., -8.,  2.]])
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as _np
import scipy.sparse as _sp

from . import numpy as mnp
from .batching import batch_jvp
from .checks import name_of
from .compile import StagingError, jit
from .compile.sparsity import hessian_pattern, jacobian_pattern
from .compile.staging import stage
from .operators import as_operand, grad
from .tracer import box_types

__all__ = [
    "sparse_jacobian",
    "sparse_hessian",
    "column_colouring",
    "star_colouring",
    "SparsePlan",
]


# ---------------------------------------------------------------- colouring


def column_colouring(pattern: Any) -> _np.ndarray:
    """A colour per column of ``pattern`` such that no two columns of a colour share a row.

    Columns of one colour may then be summed into one seed direction: each row of the
    product sees at most one of them, which can be read back directly. A band of width
    ``2b + 1`` (``|i - j| <= b``) gets the ``2b + 1`` colours ``j mod (2b + 1)``; other
    patterns are coloured greedily, columns with the most conflicts first.

    >>> import numpy
    >>> column_colouring(numpy.eye(4, k=1) + numpy.eye(4))
    array([0, 1, 0, 1])
    """
    p = _sp.csr_array(pattern, dtype=bool)
    n = p.shape[1]
    if n == 0:
        return _np.zeros(0, _np.int64)
    conflicts = (p.T @ p).tocsr(copy=True)
    conflicts.setdiag(False)
    conflicts.eliminate_zeros()
    coo = conflicts.tocoo()
    if coo.nnz == 0:
        return _np.zeros(n, _np.int64)
    width = int(_np.max(_np.abs(coo.row - coo.col)))
    degrees = _np.diff(conflicts.indptr)
    if width <= int(degrees.max()):
        # A band: j mod (width + 1) separates every conflicting pair, with no more
        # colours than the greedy colouring's bound.
        return _np.arange(n, dtype=_np.int64) % (width + 1)
    return _greedy(conflicts.indptr.tolist(), conflicts.indices.tolist(), degrees)


def _greedy(indptr: list, indices: list, degrees: _np.ndarray) -> _np.ndarray:
    """Largest-first greedy colouring of the graph with adjacency ``indptr, indices``."""
    colours = [-1] * len(degrees)
    for v in _np.argsort(-degrees, kind="stable").tolist():
        used = {colours[u] for u in indices[indptr[v] : indptr[v + 1]]}
        c = 0
        while c in used:
            c += 1
        colours[v] = c
    return _np.asarray(colours, _np.int64)


# ---------------------------------------------------------------- plans


@dataclass
class SparsePlan:
    """What the first call for one input signature found, kept for later calls.

    ``pattern`` is the boolean structure of the result (``m x n``), ``colours`` a colour
    per column, ``seeds`` the ``(colours, n)`` directions, ``compressed`` the compiled
    function giving the ``(colours, m)`` products along them.
    """

    pattern: Any
    colours: _np.ndarray
    seeds: _np.ndarray
    compressed: Callable
    eager: Callable
    take: _np.ndarray
    template: Any = field(default=None, repr=False)

    @property
    def n_colours(self) -> int:
        return int(self.seeds.shape[0])

    def assemble(self, products: _np.ndarray) -> Any:
        data = _np.take(_np.asarray(products).ravel(), self.take)
        t = self.template
        if t is None:
            # The constructor's checks (index dtypes, formats) cost most of what the gather
            # does at n = 10,000: they run once, on a matrix kept only to be copied.
            # Its index arrays are as narrow as they may be: they are copied at every call.
            p = self.pattern
            i = _np.int32 if max(p.nnz, *p.shape) < _np.iinfo(_np.int32).max else _np.int64
            indices, indptr = p.indices.astype(i), p.indptr.astype(i)
            t = self.template = _sp.csr_array((data, indices, indptr), shape=p.shape)
        h = copy.copy(t)
        # Each result owns its index arrays: scipy edits them in place (eliminate_zeros),
        # which must not reach the pattern that later calls reuse.
        h.data, h.indices, h.indptr = data, t.indices.copy(), t.indptr.copy()
        return h


def star_colouring(pattern: Any) -> _np.ndarray:
    """A star colouring of the symmetric ``pattern``'s graph: neighbours differ in colour
    and every path on four vertices has at least three colours.

    A symmetric matrix is then read back directly from one product per colour, each
    off-diagonal pair from the end of it whose colour is unique around the other, with
    fewer colours than :func:`column_colouring` needs (about half, for a band). Greedy
    (Gebremedhin, Manne and Pothen, SIAM Review 2005, algorithm 4.1), columns with the most
    neighbours first.

    >>> import numpy
    >>> band = numpy.eye(6) + numpy.eye(6, k=1) + numpy.eye(6, k=-1)
    >>> band += numpy.eye(6, k=2) + numpy.eye(6, k=-2)
    >>> int(star_colouring(band).max()) + 1, int(column_colouring(band).max()) + 1
    (4, 5)
    """
    p = _sp.csr_array(pattern, dtype=bool, copy=True)
    p.setdiag(False)
    p.eliminate_zeros()
    n = p.shape[0]
    indptr, indices = p.indptr.tolist(), p.indices.tolist()
    adj = [indices[indptr[v] : indptr[v + 1]] for v in range(n)]
    colours = [-1] * n
    # around[x][c]: how many neighbours of x have colour c.
    around: list[dict] = [{} for _ in range(n)]
    forbidden: dict = {}
    for v in _np.argsort(-_np.diff(p.indptr), kind="stable").tolist():
        for w in adj[v]:
            cw = colours[w]
            if cw >= 0:
                forbidden[cw] = v
            for x in adj[w]:
                cx = colours[x]
                if x == v or cx < 0:
                    continue
                # The path v-w-x-y with colour(y) == colour(w), y != w, would be 2-coloured
                # if v took x's colour: w itself is one neighbour of x with w's colour.
                if cw < 0 or around[x].get(cw, 0) > 1:
                    forbidden[cx] = v
        c = 0
        while forbidden.get(c) == v:
            c += 1
        colours[v] = c
        for w in adj[v]:
            around[w][c] = around[w].get(c, 0) + 1
    return _np.asarray(colours, _np.int64)


def _direct_take(pattern: Any, colours: _np.ndarray, symmetric: bool) -> _np.ndarray | None:
    """Where each entry of ``pattern`` (in CSR order) is read in the flat ``(colours, m)``
    products: row ``i`` of the product along ``j``'s colour, or for a symmetric matrix
    row ``j`` along ``i``'s; ``None`` if some entry is in neither alone."""
    m = pattern.shape[0]
    rows = _np.repeat(_np.arange(m), _np.diff(pattern.indptr))
    cols = pattern.indices
    # How many columns of each colour row i holds, looked up by (colour, row).
    take = colours[cols] * m + rows
    keys, counts = _np.unique(take, return_counts=True)

    def alone(flat):
        at = _np.minimum(_np.searchsorted(keys, flat), keys.size - 1)
        return (keys[at] == flat) & (counts[at] == 1)

    direct = alone(take)
    if direct.all():
        return take
    if not symmetric:
        return None
    mirrored = colours[rows] * m + cols
    if not (direct | alone(mirrored)).all():
        return None
    return _np.where(direct, take, mirrored)


# The greedy star colouring walks the neighbours of neighbours of every vertex, in
# Python (sum of squared degrees steps): tried where that is at most this many (about a
# second); a hub coupled to more variables than its square root keeps distance-2 colours.
_STAR_WORK = 2_000_000


def _star_may_help(pattern: Any, colours: _np.ndarray) -> bool:
    """Whether to try a star colouring. It saves colours where a few rows are much fuller
    than the rest (a hub coupled to many variables); on a band, whose rows are all alike,
    it needs as many colours as the distance-2 colouring, and only costs time."""
    degrees = _np.diff(pattern.indptr).astype(_np.int64)
    if colours.max() + 1 <= 1.5 * degrees.mean():
        return False
    return int(_np.sum(degrees * degrees)) <= _STAR_WORK


def _plan(pattern: Any, dtype, compile_products: Callable, symmetric: bool) -> SparsePlan:
    pattern = _sp.csr_array(pattern, dtype=bool)
    pattern.sort_indices()
    m, n = pattern.shape
    colours = column_colouring(pattern)
    take = _direct_take(pattern, colours, False) if pattern.nnz else None
    if symmetric and pattern.nnz and _star_may_help(pattern, colours):
        star = star_colouring(pattern)
        if star.max() < colours.max():
            star_take = _direct_take(pattern, star, True)
            if star_take is not None:
                colours, take = star, star_take
    k = int(colours.max()) + 1 if pattern.nnz else 0
    seeds = _np.zeros((k, n), dtype)
    if k:
        seeds[colours, _np.arange(n)] = 1
    compiled, eager = compile_products(seeds)
    return SparsePlan(pattern, colours, seeds, compiled, eager, take)


def _signature(args: tuple, argnum: int) -> tuple | None:
    """The cache key of a call: shapes and dtypes of arrays, values of the rest
    (``None`` when a value cannot be a key: the call is then planned afresh)."""
    key = []
    for a in args:
        if isinstance(a, _np.ndarray):
            key.append((a.shape, a.dtype))
        else:
            try:
                hash(a)
            except TypeError:
                return None
            key.append((type(a), a))
    return (argnum, tuple(key))


def _static_positions(args: tuple, argnum: int) -> tuple:
    return tuple(
        i
        for i, a in enumerate(args)
        # Python integers are sizes and indices more often than data: compiled as constants.
        if i != argnum and not isinstance(a, (_np.ndarray, _np.generic, float, complex))
    )


class _SparseDerivative:
    """The function ``sparse_jacobian`` or ``sparse_hessian`` returns."""

    def __init__(self, fun: Callable, argnum: int, who: str) -> None:
        if not callable(fun):
            raise TypeError(f"{who}: expected a function, got {type(fun).__name__}")
        if isinstance(argnum, bool) or not isinstance(argnum, int):
            raise TypeError(f"{who}: argnum must be an integer position, got {argnum!r}")
        self.fun = fun
        self.argnum = argnum
        self.who = who
        self.plans: dict = {}
        self.__name__ = f"{who}({name_of(fun)})"

    def _argument(self, args: tuple) -> _np.ndarray:
        who = self.who
        if not -len(args) <= self.argnum < len(args):
            raise TypeError(
                f"{who}: argnum={self.argnum} but the function was called with "
                f"{len(args)} positional arguments"
            )
        if any(type(a) in box_types for a in args):
            raise TypeError(
                f"{who}: called on a traced value (inside grad, jvp or jit); its result is a "
                "scipy.sparse matrix, which cannot be traced. Call it outside the "
                "transformation (it compiles its own products), or use the dense "
                f"matdiff.{who.removeprefix('sparse_')}"
            )
        x = args[self.argnum]
        if not isinstance(x, _np.ndarray):
            x = _np.asarray(x)
        if x.ndim != 1 or x.dtype.kind != "f":
            raise ValueError(
                f"{who}: the differentiated argument must be a 1-D float array, got "
                f"shape {x.shape} and dtype {x.dtype}. Flatten it: "
                f"{who}(lambda v: f(v.reshape(shape)))(x.ravel())"
            )
        return x

    def plan(self, *args: Any) -> SparsePlan:
        """The plan for arguments like ``args``: pattern, colours, seeds (made once)."""
        return self._plan_for(args)[0]

    def _plan_for(self, args: tuple) -> tuple[SparsePlan, tuple]:
        x = self._argument(args)
        argnum = self.argnum % len(args)
        args = args[:argnum] + (x,) + args[argnum + 1 :]
        key = _signature(args, argnum)
        plan = self.plans.get(key) if key is not None else None
        if plan is None:
            plan = self._make_plan(args, argnum, x)
            if key is None:
                plan.compressed = plan.eager  # an unhashable argument cannot be static
            else:
                self.plans[key] = plan
        return plan, args

    def __call__(self, *args: Any) -> Any:
        plan, args = self._plan_for(args)
        if plan.n_colours == 0:
            return _sp.csr_array(plan.pattern.shape, dtype=plan.seeds.dtype)
        if plan.compressed is plan.eager:
            return plan.assemble(plan.eager(*args))
        try:
            products = plan.compressed(*args)
        except StagingError:
            # A derivative rule that cannot be staged: the same products, run eagerly.
            plan.compressed = plan.eager
            products = plan.eager(*args)
        return plan.assemble(products)

    def _stage(self, args: tuple, argnum: int, x: _np.ndarray):
        fun = self.fun

        def of_x(v):
            return fun(*args[:argnum], v, *args[argnum + 1 :])

        try:
            program, _ = stage(of_x, [x])
        except StagingError as e:
            dense = self.who.removeprefix("sparse_")
            raise StagingError(
                f"{self.who}: the sparsity pattern is read from the function staged as jit "
                f"stages it, and staging {name_of(fun)} failed: {e}\nUse the dense "
                f"matdiff.{dense} for functions that branch on their input's values."
            ) from e
        return program

    def _compile(self, seeds: _np.ndarray, args: tuple, argnum: int, inner: Callable):
        """``(compiled, eager)``: the ``(colours, m)`` products of ``inner``'s derivative
        along ``seeds``, all in one batched forward pass."""

        def along(directions, *call_args):
            x = call_args[argnum]

            def of_x(v):
                return inner(*call_args[:argnum], v, *call_args[argnum + 1 :])

            _, t = batch_jvp(of_x, (x,), (as_operand(x, directions),), self.who)
            return mnp.reshape(t, (seeds.shape[0], -1))

        # The seeds are an argument of the compiled function, not a constant of it, so
        # that it reads them in place rather than copying them at every call.
        statics = tuple(i + 1 for i in _static_positions(args, argnum))
        compiled = jit(along, static_argnums=statics)

        def run_compiled(*call_args):
            return compiled(seeds, *call_args)

        def run_eagerly(*call_args):
            return along(seeds, *call_args)

        run_compiled.jitted = compiled
        return run_compiled, run_eagerly


class _SparseJacobian(_SparseDerivative):
    def _make_plan(self, args: tuple, argnum: int, x: _np.ndarray) -> SparsePlan:
        program = self._stage(args, argnum, x)
        if len(program.outvars) != 1:
            raise TypeError(
                f"{self.who}: the function must return one array, got "
                f"{len(program.outvars)} outputs"
            )
        pattern = jacobian_pattern(program)
        return self._finish(pattern, args, argnum, x, self.fun)

    def _finish(self, pattern, args, argnum, x, inner, symmetric=False) -> SparsePlan:
        return _plan(
            pattern,
            x.dtype,
            lambda seeds: self._compile(seeds, args, argnum, inner),
            symmetric,
        )


class _SparseHessian(_SparseJacobian):
    def _make_plan(self, args: tuple, argnum: int, x: _np.ndarray) -> SparsePlan:
        program = self._stage(args, argnum, x)
        out = program.outvars[0] if len(program.outvars) == 1 else None
        if out is None or (out.shape if hasattr(out, "shape") else _np.shape(out.value)) != ():
            raise TypeError(f"{self.who}: the function must return a scalar (its Hessian is n x n)")
        pattern = hessian_pattern(program)
        # The Hessian is the Jacobian of the gradient: its products are HVPs.
        return self._finish(pattern, args, argnum, x, grad(self.fun, argnum), symmetric=True)


def sparse_jacobian(fun: Callable, argnum: int = 0) -> Callable:
    """The Jacobian of ``fun`` in its 1-D argument ``argnum``, as a ``scipy.sparse.csr_array``.

    One JVP per colour of the columns (the seed directions all go through one batched
    forward pass), with the pattern and colouring found on the first call for each input
    shape and dtype and reused after. The output may have any shape; the Jacobian's rows
    number its elements in C order. ``.plan(*args)`` shows the pattern and the colours.

    >>> import numpy
    >>> import matdiff.numpy as np
    >>> stencil = lambda u: u[:-2] - 2.0 * u[1:-1] + u[2:] + u[1:-1] ** 3
    >>> J = sparse_jacobian(stencil)(numpy.array([1.0, 2.0, 3.0, 4.0]))
    >>> J.toarray()
    array([[ 1., 10.,  1.,  0.],
           [ 0.,  1., 25.,  1.]])
    >>> sparse_jacobian(stencil).plan(numpy.zeros(4)).n_colours
    3
    """
    return _SparseJacobian(fun, argnum, "sparse_jacobian")


def sparse_hessian(fun: Callable, argnum: int = 0) -> Callable:
    """The Hessian of scalar ``fun`` in its 1-D argument ``argnum``, as a ``csr_array``.

    One Hessian-vector product (forward over reverse) per colour, all in one batched
    pass, compiled with ``jit`` on the first call for each input shape and dtype; the
    pattern comes from the staged program and its columns are coloured so that no two
    columns of a colour share a row. A tridiagonal Hessian takes three products whatever
    its size. Called on a traced value, or on a function whose staging fails, it raises
    (use ``matdiff.hessian`` there).

    >>> import numpy
    >>> import matdiff.numpy as np
    >>> rosen = lambda x: np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)
    >>> h = sparse_hessian(rosen)
    >>> H = h(numpy.ones(5))
    >>> H.toarray()[:3, :3]
    array([[ 802., -400.,    0.],
           [-400., 1002., -400.],
           [   0., -400., 1002.]])
    >>> h.plan(numpy.ones(5)).n_colours
    3
    """
    return _SparseHessian(fun, argnum, "sparse_hessian")
