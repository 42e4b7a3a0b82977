"""Fusion: chains of elementwise equations become one compiled loop each (with numba).

Straight-line NumPy pays one call, one temporary array and one pass over memory per
operation; on small arrays the call is most of the cost (a length-8 ``sin`` is ~0.3 us of
dispatch and a few ns of arithmetic). :func:`fuse` groups the elementwise equations of a
program that share one result shape into *kernels*: one loop over that shape whose body
computes every equation of the group on scalars, writing only the values the rest of the
program reads. Other equations (matrix products, reductions, indexing) stay NumPy calls,
so BLAS keeps the heavy work.

A kernel is Python source compiled by ``numba.njit``; ``Kernel.source`` shows it. Without
numba, or when numba cannot compile a kernel, ``jit`` runs the unfused program instead.
With ``MATDIFF_KERNEL_CACHE`` set to a folder, kernels are written there as modules so that
numba's on-disk cache keeps their machine code for later processes.

What fusion keeps from NumPy, and what it does not:

* each equation computes in the dtypes NumPy's ufunc would (``ufunc.resolve_dtypes``):
  operands are cast to the loop's dtypes, ``float32`` and ``complex64`` results are
  rounded to their dtype after every operation, weak Python scalars follow NEP 50;
* only floating, complex and boolean loops are fused: integer arithmetic (wrapping,
  floor division by zero) stays with NumPy;
* transcendental functions come from the platform's math library through LLVM, not from
  NumPy's SIMD implementations: results may differ in the last bits (as JAX's do);
* a division by zero gives ``inf``/``nan`` as in NumPy, without NumPy's ``RuntimeWarning``
  (and ``np.errstate`` does not reach a kernel);
* kernels allocate their results, and never write into their operands, so no result
  aliases an input or another result.

An operand that is a basic slice of another array (``x[1:]``, ``X[:, :-1]``: step 1, the
same rank) is read from that array at shifted indices (``x0[i0 + 1]``): a stencil's
kernels then read contiguous memory, which the compiler vectorizes, where a strided view
would not be. The adjoint of such a slice (``scatter_add`` of the cotangent into
zeros) is read the same way, zero outside the slice, so it joins the kernels of its
shape.

Matrix-vector products that share their matrix, ``X @ a`` and ``X @ b`` (a Hessian-vector
product's forward pass computes both), become one kernel too: one pass over ``X`` instead
of one per product, for a matrix past the caches, where each pass is a read of memory.
Its sums are taken in an order of the compiler's choosing (as BLAS's are), so they may
differ from NumPy's in the last bits.
"""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import math
import os
import sys
import tempfile
from collections.abc import Callable
from typing import Any

import numpy as _np

from ..numpy import _kernels
from ..numpy import ufuncs as _ufuncs
from .ir import Eqn, Lit, Program, Var, guard, raw_callable
from .passes import dce

__all__ = [
    "Kernel",
    "MatvecKernel",
    "fuse",
    "available",
    "take",
    "MIN_KERNEL_EQNS",
    "MAX_LIBM_SIZE",
]

# Fewest equations worth a kernel: a kernel call costs about as much as two small NumPy
# calls (argument type dispatch in numba), so shorter chains stay NumPy.
MIN_KERNEL_EQNS = 3

_WHERE = getattr(_ufuncs.where, "fun", _np.where)

# Scalar forms of the ufuncs a kernel computes; ``{0}``, ``{1}`` are the operands.
_OPERATORS = {
    "add": "{0} + {1}",
    "subtract": "{0} - {1}",
    "multiply": "{0} * {1}",
    "divide": "{0} / {1}",
    "true_divide": "{0} / {1}",
    "power": "{0} ** {1}",
    "negative": "-{0}",
    "positive": "+{0}",
    "square": "{0} * {0}",
    "absolute": "abs({0})",
    "greater": "{0} > {1}",
    "greater_equal": "{0} >= {1}",
    "less": "{0} < {1}",
    "less_equal": "{0} <= {1}",
    "equal": "{0} == {1}",
    "not_equal": "{0} != {1}",
    "logical_and": "bool({0}) and bool({1})",
    "logical_or": "bool({0}) or bool({1})",
    "logical_not": "not {0}",
}
# Ufuncs numba implements on scalars with NumPy's semantics, called as ``np.<name>``.
_FUNCTIONS = frozenset(
    "sin cos tan arcsin arccos arctan sinh cosh tanh arcsinh arccosh arctanh exp exp2 "
    "expm1 log log2 log10 log1p sqrt reciprocal sign floor ceil trunc rint conjugate "
    "arctan2 hypot logaddexp logaddexp2 maximum minimum fmax fmin copysign deg2rad "
    "rad2deg degrees radians isnan isinf isfinite".split()
)
# Their operands may be of another kind than their result (complex -> float, -> bool).
_MIXED = frozenset(
    "absolute greater greater_equal less less_equal equal not_equal logical_and "
    "logical_or logical_not isnan isinf isfinite".split()
)
# Defined here for real numbers only (numba's complex versions differ, or are missing).
_REAL_ONLY = frozenset(
    "sign floor ceil trunc rint arctan2 hypot logaddexp logaddexp2 maximum minimum fmax fmin "
    "copysign deg2rad rad2deg degrees radians isnan isinf isfinite".split()
)
# Correctly rounded in both NumPy and numba, so fused in float32 too.
_EXACT = frozenset(
    "sqrt reciprocal sign floor ceil trunc rint conjugate maximum minimum fmax fmin "
    "copysign isnan isinf isfinite deg2rad rad2deg degrees radians".split()
)
# Above this many elements a transcendental function (not in _EXACT) stays a NumPy call:
# NumPy's SIMD tanh, exp, sin beat the scalar libm calls in a loop (tanh by ~20x at 10^5
# elements), while below it the call overhead NumPy pays per operation dominates.
MAX_LIBM_SIZE = 32
# Dtypes NumPy's scalar types give numba directly; the narrow ones are rounded after
# every operation, since numba widens float32 arithmetic mixed with Python numbers.
_WIDE = frozenset(map(_np.dtype, ("float64", "complex128", "bool")))
_NARROW = frozenset(map(_np.dtype, ("float32", "complex64")))
_KINDS = {"b": bool, "i": int, "u": int, "f": float, "c": complex}


def available() -> bool:
    """Whether numba can be imported (it is imported on the first fusion only)."""
    return _kernels.available()


def take(values: tuple, k: int) -> Any:
    """Output ``k`` of a kernel's results (generated code indexes the tuple directly)."""
    return values[k]


# ---------------------------------------------------------------- which equations fuse


def _operand_type(a) -> Any:
    """What ``ufunc.resolve_dtypes`` is given for an operand: a dtype, or a weak Python type."""
    if type(a) is Var:
        return _KINDS.get(a.dtype.kind) if a.weak else a.dtype
    v = a.value
    if type(v) in (bool, int, float, complex):
        return type(v)
    if isinstance(v, (_np.ndarray, _np.generic)):
        return v.dtype
    return None


def _loop_dtypes(e: Eqn) -> tuple | None:
    """The dtypes NumPy computes ``e`` in, ``(operands..., result)``, if a kernel should."""
    raw = raw_callable(e.prim)
    if e.params or e.out.dtype not in _WIDE | _NARROW:
        return None
    if raw is _WHERE or raw is _np.where:
        if len(e.inputs) != 3:
            return None
        types = [_operand_type(a) for a in e.inputs]
        if any(t is None for t in types):
            return None
        return (_np.dtype(bool), e.out.dtype, e.out.dtype, e.out.dtype)
    if not isinstance(raw, _np.ufunc) or raw.nout != 1 or raw.nin != len(e.inputs):
        return None
    name = raw.__name__
    if name not in _OPERATORS and name not in _FUNCTIONS:
        return None
    if name in _FUNCTIONS and name not in _EXACT and math.prod(e.out.shape) > MAX_LIBM_SIZE:
        return None
    types = tuple(_operand_type(a) for a in e.inputs)
    if any(t is None for t in types):
        return None
    try:
        loop = raw.resolve_dtypes(types + (None,))
    except (TypeError, ValueError, AttributeError):
        return None
    if loop[-1] != e.out.dtype:
        return None
    kinds = "fcb" if name in _MIXED else "fc"
    if any(d.kind not in kinds for d in loop):
        return None
    if name in _MIXED and any(d.kind == "c" for d in loop[:-1]) and name != "absolute":
        return None  # numba orders no complex numbers
    if name in _REAL_ONLY and any(d.kind == "c" for d in loop):
        return None
    if name in _FUNCTIONS and name not in _EXACT and any(d in _NARROW for d in loop):
        return None  # NumPy's float32 sin is not libm's: rounding would differ
    return loop


def _pad_ranges(e: Eqn) -> tuple | None:
    """``(start, stop)`` per axis if ``e`` puts ``g`` into zeros at basic step-1 slices
    (``scatter_add``, the VJP of slicing): an elementwise read of ``g`` at shifted
    indices, zero outside. None otherwise."""
    if e.params or len(e.inputs) != 5 or raw_callable(e.prim) is not _scatter_raw():
        return None
    g, shape, index, dtype, _ = e.inputs
    if type(g) is not Var or not all(type(a) is Lit for a in (shape, index, dtype)):
        return None
    if g.dtype != e.out.dtype or e.out.dtype not in _WIDE or e.out.dtype.kind not in "fc":
        return None
    idx = index.value if type(index.value) is tuple else (index.value,)
    out = e.out.shape
    if len(g.shape) != len(out) or len(idx) > len(out):
        return None
    if not all(type(i) is slice for i in idx) or tuple(shape.value) != out:
        return None
    ranges = []
    for d, n in enumerate(out):
        start, stop, step = (idx[d] if d < len(idx) else slice(None)).indices(n)
        if step != 1 or stop - start != g.shape[d]:
            return None
        ranges.append((start, stop))
    return tuple(ranges)


_SCATTER: list = []


def _scatter_raw() -> Callable:
    if not _SCATTER:
        from ..numpy import indexing as _indexing

        _SCATTER.append(_indexing.scatter_add.fun)
    return _SCATTER[0]


def _operand_ok(a, shape: tuple) -> bool:
    if type(a) is Var:
        return a.dtype.kind in "biufc" and len(a.shape) <= len(shape)
    v = a.value
    if isinstance(v, _np.ndarray):
        return v.dtype.kind in "biufc" and v.ndim <= len(shape)
    return type(v) in (bool, int, float, complex) or isinstance(v, _np.generic)


# ---------------------------------------------------------------- grouping


def _groups(program: Program) -> list:
    """The program as a list of items in run order: an equation, or a group (a list) of them.

    Each group holds elementwise equations of one result shape. A group is placed where it
    closes: just before the first other equation that reads one of its values (or at the
    end), so everything between its first member and that point that it does not feed
    runs before it.
    """
    items: list = []
    open_: dict[tuple, list] = {}  # result shape -> its open group
    member: dict[int, tuple] = {}  # variable id -> shape of the open group computing it

    def close(shape):
        group = open_.pop(shape)
        for e in group:
            member.pop(e.out.id, None)
        items.append(group)

    def close_readers_of(e):
        for a in e.inputs:
            if type(a) is Var and a.id in member:
                close(member[a.id])

    for e in program.eqns:
        fusible = _pad_ranges(e) is not None or (
            raw_callable(e.prim) is not guard
            and _loop_dtypes(e) is not None
            and all(_operand_ok(a, e.out.shape) for a in e.inputs)
        )
        if not fusible:
            if raw_callable(e.prim) is guard:
                for shape in list(open_):
                    close(shape)
            else:
                close_readers_of(e)
            items.append(e)
            continue
        shape = e.out.shape
        for a in e.inputs:  # values of other shapes' groups must exist before this one runs
            if type(a) is Var and a.id in member and member[a.id] != shape:
                close(member[a.id])
        open_.setdefault(shape, []).append(e)
        member[e.out.id] = shape
    for shape in list(open_):
        close(shape)
    return items


# ---------------------------------------------------------------- kernel source


def _float_source(x: float) -> str:
    if math.isnan(x):
        return "np.nan"
    if math.isinf(x):
        return "np.inf" if x > 0 else "-np.inf"
    return repr(float(x))


def _literal(v: Any, dt: _np.dtype) -> str:
    """Source for the number ``v`` as a value of dtype ``dt`` (as NumPy converts it)."""
    x = _np.asarray(v).astype(dt)[()]
    if dt.kind == "b":
        return repr(bool(x))
    if dt.kind == "c":
        text = f"complex({_float_source(x.real)}, {_float_source(x.imag)})"
    else:
        text = _float_source(float(x))
    return text if dt in _WIDE else f"np.{dt.name}({text})"


def _cast(text: str, have: _np.dtype | None, want: _np.dtype) -> str:
    if have == want:
        return text
    return f"np.{want.name}({text})" if want.kind != "b" else f"bool({text})"


class Kernel:
    """One fused group: ``source`` (Python for ``numba.njit``) and the compiled ``fn``.

    ``fn(*operands)`` returns the tuple of the group's values that the program reads
    elsewhere, arrays of the group's shape (or numbers when that shape is ``()``).
    """

    __slots__ = ("name", "source", "fn", "operands", "outputs", "eqns")

    def __init__(self, name: str, group: list, live: set, views: dict | None = None) -> None:
        self.name = name
        self.eqns = list(group)
        views = views or {}
        shape = group[0].out.shape
        ndim = len(shape)
        idx = [f"i{d}" for d in range(ndim)]
        names: dict[int, str] = {}  # in-group variable id -> scalar name
        counter = itertools.count()
        operands: list = []  # atoms passed in
        positions: dict[tuple, int] = {}  # variable (or literal) -> position among operands
        params: list[str] = []
        preamble: list[str] = []
        body: list[str] = []
        loaded: dict[tuple, str] = {}  # (operand position, index form) -> scalar name

        def operand(a) -> tuple[str, _np.dtype | None]:
            """Scalar source for operand ``a`` inside the loop, and its dtype."""
            if type(a) is Var and a.id in names:
                return names[a.id], a.dtype
            if type(a) is Lit:
                v = a.value
                if not (isinstance(v, _np.ndarray) and (v.ndim or a.ref)):
                    return ("L", v), None  # a number, written in the dtype it is used in
            starts = None
            if type(a) is Var and a.id in views:
                # A slice of a contiguous array: read the array at shifted indices, so
                # the loop reads contiguous memory (a strided view does not vectorize).
                a_shape, a_dtype = a.shape, a.dtype
                a, starts = views[a.id]
            key = ("var", a.id) if type(a) is Var else ("lit", id(a))
            k = positions.get(key)
            if k is None:
                k = positions[key] = len(operands)
                operands.append(a)
                params.append(f"x{k}")
            if starts is None:
                a_shape = a.shape if type(a) is Var else a.value.shape
                a_dtype = a.dtype if type(a) is Var else a.value.dtype
                starts = (0,) * len(a_shape)
            if len(a_shape) == 0:
                key = (k, "scalar")
                if key not in loaded:
                    loaded[key] = f"s{k}"
                    weak = type(a) is Var and a.weak
                    preamble.append(f"s{k} = x{k}" if weak else f"s{k} = as_scalar(x{k})")
                return loaded[key], a_dtype
            lead = ndim - len(a_shape)
            sub = [
                str(starts[d])
                if a_shape[d] == 1 and shape[lead + d] != 1
                else (f"{idx[lead + d]} + {starts[d]}" if starts[d] else idx[lead + d])
                for d in range(len(a_shape))
            ]
            return f"x{k}[{', '.join(sub)}]", a_dtype

        for e in group:
            pad = _pad_ranges(e)
            if pad is not None:
                g = e.inputs[0]
                key = ("var", g.id)
                k = positions.get(key)
                if k is None:
                    k = positions[key] = len(operands)
                    operands.append(g)
                    params.append(f"x{k}")
                at = ", ".join(f"{i} - {a}" if a else i for i, (a, _) in zip(idx, pad))
                inside = " and ".join(
                    f"{a} <= {i} < {b}" for i, (a, b), n in zip(idx, pad, shape) if (a, b) != (0, n)
                )
                text = f"x{k}[{at}]"
                if not (type(e.inputs[4]) is Lit and e.inputs[4].value):
                    text = f"({_literal(0, e.out.dtype)} + {text})"  # -0.0 added to zeros
                expr = f"({text} if {inside} else {_literal(0, e.out.dtype)})" if inside else text
                var = names[e.out.id] = f"t{next(counter)}"
                body.append(f"{var} = {expr}")
                continue
            loop = _loop_dtypes(e)
            raw = raw_callable(e.prim)
            args = []
            for a, want in zip(e.inputs, loop[:-1]):
                text, have = operand(a)
                if type(text) is tuple:
                    args.append(_literal(text[1], want))
                else:
                    args.append(_cast(text, have, want))
            if raw is _WHERE or raw is _np.where:
                expr = f"{args[1]} if {args[0]} else {args[2]}"
            else:
                fmt = _OPERATORS.get(raw.__name__)
                expr = fmt.format(*args) if fmt else f"np.{raw.__name__}({', '.join(args)})"
            if e.out.dtype in _NARROW:
                expr = f"np.{e.out.dtype.name}({expr})"
            elif raw.__name__ in _MIXED and e.out.dtype.kind == "b":
                expr = f"({expr})"
            var = names[e.out.id] = f"t{next(counter)}"
            body.append(f"{var} = {expr}")

        self.outputs = [e.out for e in group if e.out.id in live]
        self.operands = operands
        lines = [f"def {self.name}({', '.join(params)}):"]
        lines += [f"    {ln}" for ln in preamble]
        indent = "    "
        if ndim:
            for k, v in enumerate(self.outputs):
                dt = "np.bool_" if v.dtype.kind == "b" else f"np.{v.dtype.name}"
                lines.append(f"    o{k} = np.empty({shape!r}, {dt})")
            for d in range(ndim):
                lines.append(f"{indent}for {idx[d]} in range({shape[d]}):")
                indent += "    "
            at = ", ".join(idx)
            body += [f"o{k}[{at}] = {names[v.id]}" for k, v in enumerate(self.outputs)]
            result = [f"o{k}" for k in range(len(self.outputs))]
        else:
            result = [names[v.id] for v in self.outputs]
        lines += [indent + ln for ln in body]
        lines.append(f"    return ({''.join(r + ', ' for r in result).rstrip(' ')})")
        self.source = "\n".join(lines) + "\n"
        self.fn = None

    def compile(self) -> Callable:
        """The ``numba.njit`` function of ``source`` (compiled for types on its first call).

        With a kernel cache folder (``MATDIFF_KERNEL_CACHE``), the source is written there
        as a module named by its hash, so that numba's own cache (which needs a source
        file) keeps the machine code for later processes.
        """
        _register_as_scalar()
        folder = os.environ.get("MATDIFF_KERNEL_CACHE")
        fn = _cached_module_function(self, folder) if folder else None
        if fn is None:
            namespace = {"np": _np, "as_scalar": as_scalar}
            code = compile(self.source, f"<matdiff.jit kernel {self.name}>", "exec")
            exec(code, namespace)  # noqa: S102 - our own generated source
            fn = _kernels.numba().njit(error_model="numpy", nogil=True)(namespace[self.name])
        self.fn = fn
        return fn


_HEADER = "# Generated by matdiff.compile.fuse; safe to delete.\nimport numpy as np\n\n"
_HEADER += "from matdiff.compile.fuse import as_scalar\n\n\n"


def _cached_module_function(kernel: Kernel, folder: str) -> Callable | None:
    """``kernel``'s function from a module file in ``folder``, njit with numba's cache."""
    text = _HEADER + kernel.source
    digest = hashlib.sha256(text.encode()).hexdigest()[:24]
    path = os.path.join(folder, f"matdiff_kernel_{digest}.py")
    try:
        if not os.path.exists(path):
            os.makedirs(folder, exist_ok=True)
            # Written whole and renamed, so a process never reads a half-written file (and
            # an unchanged file keeps the time stamp numba's cache index checks).
            fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
            with os.fdopen(fd, "w") as f:
                f.write(text)
            os.replace(tmp, path)
        name = f"matdiff_kernel_{digest}"
        module = sys.modules.get(name)
        if module is None:
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            # numba's cache finds the module again by name when it loads the machine code.
            sys.modules[name] = module
        py_fn = getattr(module, kernel.name)
    except (OSError, ImportError, SyntaxError, AttributeError):
        return None
    return _kernels.numba().njit(error_model="numpy", nogil=True, cache=True)(py_fn)


def as_scalar(x):  # pragma: no cover - numba compiles its overload instead
    """The number in a 0-d array or a NumPy scalar (called inside kernels)."""
    return x[()]


_registered = False


def _register_as_scalar() -> None:
    global _registered
    if _registered:
        return
    from numba.extending import overload

    @overload(as_scalar)
    def _as_scalar_impl(x):
        if isinstance(x, _kernels.numba().types.Array):
            return lambda x: x[()]
        return lambda x: x

    _registered = True


# ---------------------------------------------------------------- slices read in place

_GETITEMS: tuple = ()


def _getitems() -> tuple:
    global _GETITEMS
    if not _GETITEMS:
        import operator

        from ..numpy import indexing as _indexing

        _GETITEMS = (_indexing.getitem, _indexing.getitem.fun, operator.getitem)
    return _GETITEMS


def _slice_views(program: Program) -> dict:
    """Variables that are basic slices ``x[a:b, c:d]`` (step 1) of a variable of the same
    rank: variable id -> (the sliced variable, start per axis)."""
    views: dict = {}
    for e in program.eqns:
        if e.prim not in _getitems() or e.params or len(e.inputs) != 2:
            continue
        base, index = e.inputs
        if type(base) is not Var or type(index) is not Lit or base.dtype != e.out.dtype:
            continue
        idx = index.value if type(index.value) is tuple else (index.value,)
        if len(idx) > len(base.shape) or not all(type(i) is slice for i in idx):
            continue
        starts = []
        for d, n in enumerate(base.shape):
            start, stop, step = (idx[d] if d < len(idx) else slice(None)).indices(n)
            if step != 1 or stop - start != e.out.shape[d]:
                break
            starts.append(start)
        else:
            if len(e.out.shape) == len(base.shape):
                views[e.out.id] = (base, tuple(starts))
    return views


# ---------------------------------------------------------------- shared matrices

# Smallest matrix whose products with several vectors share one pass: below it the matrix
# stays in cache between BLAS's passes, which then beat the kernel's loop.
MIN_SHARED_MATRIX = 2**18


class MatvecKernel:
    """``X @ a1, X @ a2, ...`` in one pass over the rows of ``X`` (``source``, ``fn``)."""

    __slots__ = ("name", "source", "fn", "operands", "outputs", "eqns")

    def __init__(self, name: str, group: list) -> None:
        self.name = name
        self.eqns = list(group)
        matrix = group[0].inputs[0]
        self.operands = [matrix] + [e.inputs[1] for e in group]
        self.outputs = [e.out for e in group]
        self.source = _kernels.matvecs_source(name, len(group), group[0].out.dtype)
        self.fn = None

    def compile(self) -> Callable:
        self.fn = _kernels.matvecs(len(self.eqns), self.eqns[0].out.dtype)
        return self.fn


def _matvec(e: Eqn) -> Any:
    """The shared-matrix key of ``e`` if it is ``X @ v``: 2-d ``X``, 1-d ``v``, one real
    floating dtype and no other arguments; else None."""
    if raw_callable(e.prim) is not _np.matmul or e.params or len(e.inputs) != 2:
        return None
    x, v = e.inputs
    xs, vs = (a.shape if type(a) is Var else _np.shape(a.value) for a in (x, v))
    if len(xs) != 2 or len(vs) != 1 or math.prod(xs) < MIN_SHARED_MATRIX:
        return None
    dts = {a.dtype if type(a) is Var else _np.asarray(a.value).dtype for a in (x, v)}
    if dts != {e.out.dtype} or e.out.dtype.kind != "f":
        return None
    return ("var", x.id) if type(x) is Var else ("lit", id(x.value))


def _call(kernel: Any, kernels: list, eqns: list) -> None:
    """Compile ``kernel`` and append its call: one equation for the tuple of its results,
    one :func:`take` per result."""
    kernel.compile()
    kernels.append(kernel)
    pack = Var((), _np.dtype(object))
    eqns.append(Eqn(kernel.fn, tuple(kernel.operands), {}, pack))
    for k, v in enumerate(kernel.outputs):
        eqns.append(Eqn(take, (pack, Lit(k)), {}, v))


def _share_matrices(program: Program, kernels: list) -> Program:
    """Products ``X @ v`` sharing ``X`` as one :class:`MatvecKernel` call each. A later
    product joins if its vector exists where the kernel runs, or if the kernel can move
    down to it (no earlier result is read before it)."""
    groups: dict = {}
    made_at: dict[int, int] = {}
    first_reader: dict[int, int] = {}
    for n, e in enumerate(program.eqns):
        made_at[e.out.id] = n
        for a in e.inputs:
            if type(a) is Var:
                first_reader.setdefault(a.id, n)
        key = _matvec(e)
        if key is not None:
            groups.setdefault(key, []).append(n)

    def ready_at(a) -> int:
        return made_at.get(a.id, -1) if type(a) is Var else -1

    place: dict[int, list] = {}
    drop: set = set()
    for idx in groups.values():
        at, chosen = idx[0], [idx[0]]
        for n in idx[1:]:
            if ready_at(program.eqns[n].inputs[1]) < at:
                chosen.append(n)
            elif all(first_reader.get(program.eqns[c].out.id, n + 1) > n for c in chosen):
                chosen.append(n)
                at = n
        if len(chosen) < 2:
            continue
        place[at] = [program.eqns[c] for c in chosen]
        drop.update(chosen)
    if not place:
        return program
    eqns: list[Eqn] = []
    for n, e in enumerate(program.eqns):
        if n in place:
            _call(MatvecKernel(f"matvecs_{len(kernels)}", place[n]), kernels, eqns)
        elif n not in drop:
            eqns.append(e)
    return Program(list(program.invars), eqns, list(program.outvars))


# ---------------------------------------------------------------- the rewrite


def fuse(program: Program, min_eqns: int = MIN_KERNEL_EQNS) -> tuple[Program, list[Kernel]]:
    """``program`` with each elementwise group of ``min_eqns`` or more as one kernel call.

    Returns the rewritten program and its kernels (compiled with numba; none if numba is
    missing). A kernel's equation produces the tuple of its outputs; :func:`take`
    equations read them out.

    >>> import matdiff.numpy as np
    >>> from matdiff.compile import make_program
    >>> prog = make_program(lambda x: np.sum(np.exp(np.sin(x) * 2.0 + 1.0)))(np.ones(3))
    >>> fused, kernels = fuse(prog)
    >>> fused.eqns[-1] is prog.eqns[-1]  # the sum stays a NumPy call
    True
    >>> [k.name for k in kernels] == (["fused_0"] if available() else [])
    True
    >>> print(kernels[0].source, end="")  # doctest: +SKIP
    def fused_0(x0):
        o0 = np.empty((3,), np.float64)
        for i0 in range(3):
            t0 = np.sin(x0[i0])
            t1 = t0 * 2.0
            t2 = t1 + 1.0
            t3 = np.exp(t2)
            o0[i0] = t3
        return (o0,)
    """
    if not available():
        return program, []
    kernels: list = []
    program = _share_matrices(program, kernels)
    views = _slice_views(program)
    items = _groups(program)
    # Values read outside the group that computes them.
    readers: dict[int, set] = {}
    for n, item in enumerate(items):
        for e in item if type(item) is list else [item]:
            for a in e.inputs:
                if type(a) is Var:
                    readers.setdefault(a.id, set()).add(n)
    outs = {a.id for a in program.outvars if type(a) is Var}
    eqns: list[Eqn] = []
    for n, item in enumerate(items):
        if type(item) is not list:
            eqns.append(item)
            continue
        if len(item) < min_eqns:
            eqns.extend(item)
            continue
        live = {e.out.id for e in item if e.out.id in outs or readers.get(e.out.id, set()) - {n}}
        name = f"fused_{sum(type(k) is Kernel for k in kernels)}"
        _call(Kernel(name, item, live, views), kernels, eqns)
    # Slices that every reader now reads in place are dropped.
    return dce(Program(list(program.invars), eqns, list(program.outvars))), kernels
