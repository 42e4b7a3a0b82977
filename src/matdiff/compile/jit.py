"""``jit`` and ``make_program``: stage once, optimize, generate NumPy source, cache.

A jitted function is staged on its first call for each input structure, shape, dtype and
value of its static arguments; later calls with the same signature run the generated
function directly. Called on values traced by an enclosing ``grad``, ``jvp`` or ``jit``,
it runs the function itself under that transformation, which differentiates (or
stages, inlining it) exactly as it would the eager function: ``custom_vjp`` rules, which
a staged program does not carry, are kept. (A ``Program`` is differentiable too:
running it with ``eval_program`` under ``grad`` differentiates its equations.)

Derivative rules may branch on values for speed (``if np.any(x == 0): ...``). Staging
takes the example's branch and records a guard; a call whose guard fails runs the
original function instead (``fallback_count`` counts those calls), so it is always right.
"""

from __future__ import annotations

import functools
import linecache
import math
import sys
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as _np

from .. import backends
from .. import batching as _batching
from .. import operators as _operators
from ..tracer import box_types, getval, known_type
from ..tree import TreeDef, tree_flatten, tree_unflatten
from .codegen import generate, identifier
from .fuse import fuse as _fuse
from .ir import GuardFailed, Program, Var, eval_program
from .passes import optimize
from .staging import CapturedTracedValue, stage

__all__ = ["jit", "make_program", "Compiled", "JittedFunction", "DEFAULT_CACHE_SIZE"]

# Compilations kept per jitted function; the least recently used is dropped beyond it.
DEFAULT_CACHE_SIZE = 256

# With ``fuse=None``, the call of a compilation that compiles its fused kernels: numba
# takes 0.1-3 s per program, worth paying for a function that is called again, not for
# one called once (most calls in a test suite; a function called on many shapes).
FUSE_ON_CALL = 2

_ndarray = _np.ndarray
_SCALARS = (float, int, complex, bool)
_FAST_SCALARS = frozenset(_SCALARS)  # Python numbers a fast-path key holds by type
_NUMBERS = (float, int, complex, bool, _np.generic)
_SLOW = object()  # in a fast-path key: an argument that is not an ndarray


class Compiled:
    """One compilation of a jitted function for one input signature.

    ``program`` is the optimized program, ``staged`` the program as recorded, ``source``
    the generated Python. When elementwise chains were fused, ``fused`` is the program
    that calls them, ``kernels`` the :class:`~matdiff.compile.fuse.Kernel` objects, and
    ``source`` ends with each kernel's source.
    """

    __slots__ = (
        "program",
        "staged",
        "source",
        "fn",
        "out_tree",
        "single",
        "fast_sig",
        "release",
        "fused",
        "kernels",
        "on_fused",
        "__weakref__",
    )

    def __init__(
        self,
        staged: Program,
        program: Program,
        out_tree: TreeDef,
        name: str,
        fallback: Callable | None = None,
        fuse_on: list | None = None,
        fuse_now: bool = True,
    ) -> None:
        self.staged = staged
        self.program = program
        self.out_tree = out_tree
        self.single = out_tree.kind == "leaf"
        self.fast_sig = None
        self.fused = None
        self.kernels: list = []
        self.on_fused: Callable | None = None
        if fuse_on is not None and fuse_now and self._fuse(name, fallback, fuse_on)[0]:
            return
        self.source, self.fn = generate(program, name, self.single, fallback)
        self._track_source()
        if fuse_on is not None and not fuse_now:
            self._fuse_later(name, fallback)

    def _fuse_later(self, name: str, fallback: Callable | None) -> None:
        """Run the plain function until call ``FUSE_ON_CALL``, which compiles the kernels."""
        plain = self.fn
        left = [FUSE_ON_CALL]
        # By weak reference: a cycle would keep each compilation (and its source lines in
        # linecache) alive until the cyclic garbage collector runs.
        ref = weakref.ref(self)

        def warming(*leaves):
            left[0] -= 1
            me = ref()
            if left[0] > 0 or me is None:
                return plain(*leaves)
            me.fn = plain  # from now on, unless fusing succeeds
            fused, out = me._fuse(name, fallback, list(leaves), quiet=False)
            if not fused:
                return plain(*leaves)
            if me.on_fused is not None:
                me.on_fused(me)
            return out

        warming.source_file = plain.source_file
        self.fn = warming

    def _fuse(
        self, name: str, fallback: Callable | None, example: list, quiet: bool = True
    ) -> tuple[bool, Any]:
        """Compile with fused kernels and run on ``example``: ``(True, outputs)`` if it worked.

        The run compiles each kernel for the example's types. If it fails in any way (numba
        cannot compile a kernel, or the call itself raises, which the plain program then
        raises again), the program stays unfused: ``(False, None)``. ``quiet`` runs with
        warnings and floating-point errors off (a check before the real call); otherwise
        this run is the call.
        """
        try:
            fused, kernels = _fuse(self.program)
            if not kernels:
                return False, None
            source, fn = generate(fused, name, self.single, fallback)
        except Exception:
            return False, None
        try:
            if quiet:
                with warnings.catch_warnings(), _np.errstate(all="ignore"):
                    warnings.simplefilter("ignore")
                    out = fn(*example)
            else:
                out = fn(*example)
        except Exception:
            linecache.cache.pop(fn.source_file, None)
            return False, None
        if getattr(self, "release", None) is not None:
            self.release()  # the plain function's lines
        self.fused, self.kernels, self.fn = fused, kernels, fn
        self.source = "\n".join([source] + [k.source for k in kernels])
        self._track_source()
        return True, out

    def _track_source(self) -> None:
        # The generated source's lines stay in linecache (for tracebacks) while this
        # compilation lives; release() drops them when the cache evicts it.
        self.release = weakref.finalize(self, linecache.cache.pop, self.fn.source_file, None)

    def __call__(self, *leaves: Any) -> Any:
        if self.single:
            return self.fn(*leaves)
        return tree_unflatten(self.out_tree, list(self.fn(*leaves)))

    def __repr__(self) -> str:
        return f"Compiled({len(self.program.eqns)} equations)\n{self.source}"


def _static_key(v: Any) -> Any:
    """``v`` as a cache key that tells apart what Python's ``==`` does not.

    ``1 == 1.0 == True`` and ``0.0 == -0.0``, but a function may branch on the type or
    the sign, so each is keyed by its type and exact value; NaNs are one key.
    """
    t = type(v)
    if isinstance(v, tuple):
        return (t, tuple(_static_key(x) for x in v))
    if isinstance(v, frozenset):
        return (t, frozenset(_static_key(x) for x in v))
    if t is float:
        return (t, v.hex())
    if t is complex:
        return (t, v.real.hex(), v.imag.hex())
    if isinstance(v, _np.generic) and v.dtype.kind in "fcb":
        return (t, v.tobytes())
    return (t, v)


def _leaf_sig(x: Any, where: Callable[[], str]) -> Any:
    t = type(x)
    if t is _ndarray:
        return (x.shape, x.dtype)
    if t in _SCALARS:
        return t
    if t in box_types:
        return _leaf_sig(getval(x), where)
    if isinstance(x, _np.generic):
        return t
    if isinstance(x, _np.ndarray):
        return (t, x.shape, x.dtype)
    if backends.foreign(x) or known_type(t):
        # An array of another library: keyed by its type (and Dask's chunks) too.
        return (t, tuple(x.shape), backends.dtype_of(x), getattr(x, "chunks", None))
    raise TypeError(
        f"jit: {where()} is a {t.__name__}, which cannot be traced: only arrays and numbers "
        "(and tuples, lists and dicts of them) can. Mark the argument static with "
        "jit(f, static_argnums=(...)) if its value should be fixed at compile time."
    )


def _stand_in(v: Any) -> _np.ndarray:
    """A NumPy array shaped like ``v``, an array of another library, to stage on."""
    return _np.full(tuple(v.shape), 0.5, backends.dtype_of(v) or _np.result_type(v))


def _on_namespace(program: Program, single: bool, fallback: Callable) -> Callable:
    """The program run equation by equation on the inputs' own library.

    The generated NumPy source reuses buffers with ``out=``, which Dask and the array API
    do not have; each primitive called on the inputs reaches their library by dispatch.
    """

    def run(*leaves):
        args = [backends.adapt(v) for v in leaves]
        try:
            outs = [backends.native(o) for o in eval_program(program, *args)]
        except GuardFailed:
            return fallback(*leaves)
        return outs[0] if single else tuple(outs)

    return run


# A program staged with whole bases (see ``operators.whole_basis``) is kept if no
# intermediate exceeds this many bytes, or twice its outputs: otherwise it is staged
# again with the Jacobians' directions in cache-sized chunks.
_WHOLE_BASIS_BYTES = 16 * 2**20


def _stage_optimized(flat_fun: Callable, leaves: list) -> tuple[Program, TreeDef, Program]:
    """Stage ``flat_fun`` and optimize it; Jacobians are staged over whole bases when
    the optimized program stays small (the structure pass removed the per-direction work).
    """
    wb = _operators.whole_basis
    if wb.on:  # staging inside a staging: the outer call decides
        staged, out_tree = stage(flat_fun, leaves)
        return staged, out_tree, optimize(staged)
    wb.on, wb.used = True, False
    try:
        staged, out_tree = stage(flat_fun, leaves)
    except _batching.BatchTooLarge:
        staged = None
    finally:
        wb.on = False
    if staged is None:
        staged, out_tree = stage(flat_fun, leaves)
        return staged, out_tree, optimize(staged)
    program = optimize(staged)
    if wb.used and _largest(program) > max(_WHOLE_BASIS_BYTES, 2 * _output_bytes(program)):
        staged, out_tree = stage(flat_fun, leaves)
        program = optimize(staged)
    return staged, out_tree, program


def _nbytes(v: Any) -> int:
    return math.prod(v.shape) * v.dtype.itemsize


def _largest(program: Program) -> int:
    return max((_nbytes(e.out) for e in program.eqns), default=0)


def _output_bytes(program: Program) -> int:
    return sum(_nbytes(v) for v in program.outvars if isinstance(v, Var))


def _any_traced(tree: Any) -> bool:
    return any(type(x) in box_types for x in tree_flatten(tree)[0])


class JittedFunction:
    """A function compiled to straight-line NumPy on first call per input signature.

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> f = jit(grad(lambda x: np.sum(np.tanh(x) ** 2)))
    >>> f(np.array([0.5, -1.0]))
    array([ 0.72686198, -0.63970001])
    >>> f.trace_count
    1

    It keeps the ``cache_size`` most recently used compilations. It pickles by reference
    to the function it compiles (which must pickle), and compiles again after loading.
    Chains of elementwise operations run as compiled loops when numba is installed
    (see :func:`jit`'s ``fuse`` and :mod:`matdiff.compile.fuse`).
    """

    def __init__(
        self,
        fun: Callable,
        static_argnums: int | Sequence[int] = (),
        optimize: bool = True,
        cache_size: int = DEFAULT_CACHE_SIZE,
        fuse: bool | None = None,
    ):
        if not callable(fun):
            raise TypeError(f"jit: expected a function, got {type(fun).__name__}")
        if isinstance(static_argnums, int):
            static_argnums = (static_argnums,)
        for a in static_argnums:
            if not isinstance(a, int):
                raise TypeError(
                    f"jit: static_argnums must be integers (positions of arguments), got {a!r}"
                )
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 1:
            raise ValueError(
                f"jit: cache_size must be a positive integer (compilations kept), got "
                f"{cache_size!r}"
            )
        self.fun = fun
        self.static_argnums = tuple(static_argnums)
        self._plain = not self.static_argnums
        self.optimize = optimize
        self.cache_size = cache_size
        if fuse not in (None, True, False):
            raise ValueError(f"jit: fuse must be None, True or False, got {fuse!r}")
        self.fuse = fuse
        self.trace_count = 0
        self.fallback_count = 0
        self._cache: OrderedDict = OrderedDict()
        self._fast: dict = {}  # signature of positional ndarrays -> (run, cache key)
        self._last: Compiled | None = None
        self.__name__ = f"jit({getattr(fun, '__name__', 'f')})"
        self.__doc__ = getattr(fun, "__doc__", None)
        self.__wrapped__ = fun
        # Where a module-level ``@jit`` function is found again when unpickled.
        self.__module__ = getattr(fun, "__module__", None)
        self.__qualname__ = getattr(fun, "__qualname__", self.__name__)

    def __reduce__(self):
        # The compilations (generated code, cached programs) are not pickled: the function
        # and the options are, and the copy compiles again on its first call.
        module = sys.modules.get(self.__module__ or "")
        found = module
        for part in self.__qualname__.split("."):
            found = getattr(found, part, None)
        if found is self:
            return self.__qualname__  # a module-level @jit function: pickled by name
        return (
            _rebuild,
            (self.fun, self.static_argnums, self.optimize, self.cache_size, self.fuse),
        )

    # -- the hot path: positional ndarrays, nothing static
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._plain and not kwargs:
            if len(args) == 1:
                a = args[0]
                t = type(a)
                if t is _ndarray:
                    sig = ((a.shape, a.dtype),)
                else:
                    sig = (t,) if t in _FAST_SCALARS else _SLOW
            else:
                sig = []
                for a in args:
                    t = type(a)
                    if t is _ndarray:
                        sig.append((a.shape, a.dtype))
                    else:
                        sig.append(t if t in _FAST_SCALARS else _SLOW)
                sig = tuple(sig)
            hit = self._fast.get(sig)
            if hit is not None:
                self._cache.move_to_end(hit[1])
                return hit[0](*args)
        return self._call(args, kwargs)

    def _call(self, args: tuple, kwargs: dict) -> Any:
        if _any_traced(args) or _any_traced(kwargs):
            # An enclosing grad, jvp or jit is tracing: run the function itself under it, so
            # its derivative is exactly the eager one (custom_vjp rules included).
            return self.fun(*args, **kwargs)
        try:
            compiled, leaves = self._lookup(args, kwargs)
        except CapturedTracedValue:
            # The function closes over a value an enclosing grad or jvp is tracing: this
            # call's result depends on it, so run the function itself, traced, uncached.
            return self.fun(*args, **kwargs)
        return compiled(*leaves)

    def _lookup(self, args: tuple, kwargs: dict) -> tuple[Compiled, list]:
        """The compilation for these arguments (compiling it if new) and their leaves."""
        key, leaves, flat_fun = self._flatten(args, kwargs)
        compiled = self._cache.get(key)
        if compiled is None:
            compiled = self._compile(flat_fun, [getval(x) for x in leaves])
            self._cache[key] = compiled
            positional = not kwargs and not self.static_argnums and len(leaves) == len(args)
            if positional and all(type(x) is _ndarray or type(x) in _FAST_SCALARS for x in leaves):
                run = compiled.fn if compiled.single else compiled
                compiled.fast_sig = tuple(
                    (x.shape, x.dtype) if type(x) is _ndarray else type(x) for x in leaves
                )
                self._fast[compiled.fast_sig] = (run, key)
                if compiled.single:
                    compiled.on_fused = functools.partial(_refresh_fast, weakref.ref(self), key)
            while len(self._cache) > self.cache_size:
                self._evict()
        else:
            self._cache.move_to_end(key)
        self._last = compiled
        return compiled, leaves

    def _evict(self) -> None:
        """Drop the least recently used compilation, and its generated source's lines."""
        _, old = self._cache.popitem(last=False)
        if old.fast_sig is not None:
            self._fast.pop(old.fast_sig, None)
        if old is not self._last:
            old.release()

    def _flatten(self, args: tuple, kwargs: dict) -> tuple[tuple, list, Callable]:
        """The cache key, the traced leaves, and ``fun`` as a function of those leaves."""
        n = len(args)
        static = []
        for a in self.static_argnums:
            if not -n <= a < n:
                raise ValueError(
                    f"jit: static_argnums={self.static_argnums!r} names argument {a}, but the "
                    f"function was called with {n} positional argument{'s' if n != 1 else ''}"
                )
            static.append(a % n)
        static_vals = tuple(args[i] for i in static)
        for i, v in zip(static, static_vals):
            try:
                hash(_static_key(v))
            except TypeError:
                raise TypeError(
                    f"jit: static argument {i} is a {type(v).__name__}, which is not hashable, "
                    "so it cannot key the compilation cache. Pass a tuple instead of a list, "
                    "or leave the argument out of static_argnums to trace it."
                ) from None
        dyn = tuple(a for i, a in enumerate(args) if i not in static)
        has_kwargs = bool(kwargs)
        leaves, treedef = tree_flatten((dyn, kwargs) if has_kwargs else dyn)
        sig = tuple(
            _leaf_sig(x, lambda k=k: f"input leaf {k} of argument tree {treedef}")
            for k, x in enumerate(leaves)
        )
        fun = self.fun

        def flat_fun(*flat):
            tree = tree_unflatten(treedef, list(flat))
            dyn, kw = tree if has_kwargs else (tree, {})
            full = list(dyn)
            for i, v in zip(static, static_vals):
                full.insert(i, v)
            return fun(*full, **kw)

        static_key = tuple(_static_key(v) for v in static_vals)
        return (treedef, sig, tuple(static), static_key), leaves, flat_fun

    def _compile(self, flat_fun: Callable, leaves: list) -> Compiled:
        foreign = [backends.foreign(v) for v in leaves]
        if any(foreign):
            # Staged on NumPy stand-ins of the same shapes and dtypes: staging reads its
            # example's values, which on Dask would compute the graph.
            leaves = [_stand_in(v) if f else v for v, f in zip(leaves, foreign)]
        if self.optimize:
            staged, out_tree, program = _stage_optimized(flat_fun, leaves)
        else:
            staged, out_tree = stage(flat_fun, leaves)
            program = staged
        self.trace_count += 1

        counter = weakref.ref(self)  # no cycle through the compilations this one caches

        def fallback(*flat):
            # A guard failed: run the function itself, and return what the compiled one would.
            me = counter()
            if me is not None:
                me.fallback_count += 1
            outs = tree_flatten(flat_fun(*flat))[0]
            return outs[0] if out_tree.kind == "leaf" else tuple(outs)

        # Kernels are compiled for NumPy arrays and numbers only; other array types run the
        # program on their own namespace.
        numpy_only = not any(foreign) and all(
            type(x) is _ndarray or isinstance(x, _NUMBERS) for x in leaves
        )
        compiled = Compiled(
            staged,
            program,
            out_tree,
            identifier(self.__name__[4:-1]),
            fallback,
            fuse_on=leaves if self.fuse is not False and numpy_only else None,
            fuse_now=self.fuse is True,
        )
        if any(foreign):
            compiled.fn = _on_namespace(program, compiled.single, fallback)
        return compiled

    def lower(self, *args: Any, **kwargs: Any) -> Compiled:
        """The :class:`Compiled` for these arguments (compiling if needed), without running it.

        >>> import matdiff.numpy as np
        >>> print(jit(lambda x: np.sin(x) * 2.0).lower(np.zeros(3)).source, end="")
        def compiled(a):
            b = np_sin(a)
            c = np_multiply(b, c_0, out=b)
            return c
        # c_0 = 2.0:f64
        """
        return self._lookup(args, kwargs)[0]

    @property
    def source(self) -> str:
        """The generated Python of the most recent compilation used."""
        return self._require_last().source

    @property
    def program(self) -> Program:
        """The optimized program of the most recent compilation used."""
        return self._require_last().program

    def _require_last(self) -> Compiled:
        if self._last is None:
            raise AttributeError(
                f"{self.__name__}: nothing has been compiled yet; call the function (or "
                ".lower(*args)) first"
            )
        return self._last

    def __repr__(self) -> str:
        return f"<{self.__name__}: {len(self._cache)} compiled>"


def _refresh_fast(jitted: weakref.ref, key: tuple, compiled: Compiled) -> None:
    """Point the fast path at a compilation's function once it has been fused."""
    self = jitted()
    if self is not None and self._fast.get(compiled.fast_sig, (None, None))[1] == key:
        self._fast[compiled.fast_sig] = (compiled.fn, key)


def _rebuild(fun, static_argnums, optimize, cache_size, fuse=None) -> JittedFunction:
    return JittedFunction(fun, static_argnums, optimize, cache_size, fuse)


def jit(
    fun: Callable,
    static_argnums: int | Sequence[int] = (),
    *,
    optimize: bool = True,
    cache_size: int = DEFAULT_CACHE_SIZE,
    fuse: bool | None = None,
) -> JittedFunction:
    """Compile ``fun`` to straight-line NumPy, once per input signature (JAX's ``jit``).

    Arguments in ``static_argnums`` are not traced: their types and values are part of the
    cache key (``1``, ``1.0`` and ``True`` compile apart) and Python control flow may
    depend on them. The ``cache_size`` most recently used compilations are kept.

    ``fuse`` chooses whether chains of elementwise operations on NumPy values run as loops
    compiled by numba (``pip install matdiff[fast]``; see :mod:`matdiff.compile.fuse`),
    which removes NumPy's per-call cost and temporaries: ``False`` keeps the generated
    program plain NumPy, one call per operation; ``True`` compiles the loops on a
    compilation's first call; the default ``None`` on its second call (``FUSE_ON_CALL``),
    since numba takes 0.1-3 s per program. Results agree with the plain program up to
    the last bits of transcendental functions. Without numba every setting runs plain
    NumPy.
    ``jit`` composes with every transformation:
    ``jit(grad(f))`` compiles the whole backward pass; under an enclosing ``grad`` (as in
    ``grad(jit(f))``) the function runs traced, as it would without ``jit``.

    >>> import matdiff.numpy as np
    >>> f = jit(lambda x, n: np.sum(x ** n), static_argnums=1)
    >>> f(np.array([1.0, 2.0]), 3)
    np.float64(9.0)
    """
    return JittedFunction(fun, static_argnums, optimize, cache_size, fuse)


def make_program(fun: Callable, static_argnums: int | Sequence[int] = ()) -> Callable[..., Program]:
    """A function of example arguments returning ``fun``'s staged (unoptimized) program.

    >>> import matdiff.numpy as np
    >>> print(make_program(lambda A, x: np.sum(A @ x))(np.eye(3), np.ones(3)))
    { lambda a:f64[3,3], b:f64[3] .
        c:f64[3] = matmul a b
        d:f64[] = sum c
      in (d) }
    """
    j = JittedFunction(fun, static_argnums)

    def program_of(*args: Any, **kwargs: Any) -> Program:
        _, leaves, flat_fun = j._flatten(args, kwargs)
        return stage(flat_fun, [getval(x) for x in leaves])[0]

    program_of.__name__ = f"make_program({getattr(fun, '__name__', 'f')})"
    return program_of
