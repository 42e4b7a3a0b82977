"""Code generation: a :class:`Program` becomes the source of one plain Python function.

Each equation becomes one line that calls NumPy directly (``e = np_sin(d, out=b)``): the
NumPy callables and the program's array constants are bound into the generated module's
globals by name, so the function has no per-operation cost beyond the NumPy call.

Buffers are reused with ``out=`` where it is safe: an elementwise NumPy ufunc writes into
an array that this call allocated, of the same shape and dtype, once every variable that
may refer to it (the array itself and any view of it) is dead. Inputs, constants and
outputs are never written into, and each call allocates its own arrays, so results
returned by one call are not changed by the next.
"""

from __future__ import annotations

import itertools
import keyword
import linecache
import math
import operator
import unicodedata
from collections.abc import Callable
from typing import Any

import numpy as _np

from ..differential_operators import stop_gradient
from ..numpy import indexing as _indexing
from ..numpy import manipulation as _shape
from ..numpy import reductions as _reductions
from ..numpy import ufuncs as _ufuncs
from .fuse import take
from .ir import (
    GuardFailed,
    Lit,
    Program,
    Var,
    bind_args,
    guard,
    prim_name,
    raw_callable,
    show_value,
)

__all__ = ["generate", "identifier"]

_INF = math.inf
_counter = itertools.count()


def identifier(name: str, default: str = "compiled") -> str:
    """An ASCII Python identifier made from ``name``, for generated code.

    Python reads identifiers in NFKC normal form (``ﬁ`` is ``fi``) and refuses characters
    such as ``²``, so a name from ``__name__`` is never used as it is.

    >>> identifier("ﬁt"), identifier("x²"), identifier("my model"), identifier("<lambda>")
    ('fit', 'x2', 'my_model', 'compiled')
    """
    text = unicodedata.normalize("NFKC", str(name))
    ident = "".join(c if c.isascii() and (c.isalnum() or c == "_") else "_" for c in text)
    while "__" in ident:
        ident = ident.replace("__", "_")
    ident = ident.strip("_")
    if ident[:1].isdigit():
        ident = f"{default}_{ident}"
    if not ident or not ident.isidentifier() or keyword.iskeyword(ident):
        return default
    return ident


def _python_names():
    letters = "abcdefghijklmnopqrstuvwxyz"
    for n in itertools.count(1):
        for combo in itertools.product(letters, repeat=n):
            name = "".join(combo)
            if not keyword.iskeyword(name):
                yield name


class _Emitter:
    def __init__(self) -> None:
        self.globals: dict[str, Any] = {"np_array": _np.array}
        self.by_obj: dict[int, str] = {}
        self.names: dict[int, str] = {}
        self.gen = _python_names()
        self.nconst = 0
        self.scalars: dict[tuple, Lit] = {}

    def var(self, v: Var) -> str:
        name = self.names.get(v.id)
        if name is None:
            name = self.names[v.id] = next(self.gen)
        return name

    def bind(self, obj: Any, hint: str) -> str:
        """A global name for ``obj``; callables keep a readable name."""
        key = id(obj)
        name = self.by_obj.get(key)
        if name is None:
            base = "np_" + identifier(hint, "fn")
            name = base
            k = 2
            while name in self.globals:
                name = f"{base}_{k}"
                k += 1
            self.globals[name] = obj
            self.by_obj[key] = name
        return name

    def const(self, value: Any) -> str:
        src = _literal_source(value)
        if src is not None:
            return src
        key = id(value)
        name = self.by_obj.get(key)
        if name is None:
            name = f"c_{self.nconst}"
            self.nconst += 1
            self.globals[name] = value
            self.by_obj[key] = name
        return name

    def scalar(self, value: float | int, dtype: _np.dtype) -> Lit:
        """One 0-d array constant per number and dtype."""
        key = (type(value), value, dtype)
        lit = self.scalars.get(key)
        if lit is None:
            lit = self.scalars[key] = Lit(_np.asarray(value, dtype=dtype))
        return lit

    def const_notes(self) -> list[str]:
        """Comments saying what each bound constant is, for people reading the source."""
        notes = []
        for name, value in self.globals.items():
            if name.startswith("c_"):
                text = " ".join(show_value(value).split())  # one comment line each
                notes.append(f"# {name} = {text[:80] + ' ...' if len(text) > 80 else text}")
        return notes

    def atom(self, a) -> str:
        return self.var(a) if type(a) is Var else self.const(a.value)


def _literal_source(v: Any) -> str | None:
    """Python source for small static values whose type NumPy treats the same."""
    t = type(v)
    if v is None or t is bool or t is str:
        return repr(v)
    if t is int:
        return repr(v)
    if t is float:
        return repr(v) if math.isfinite(v) else None
    if t is tuple:
        parts = [_literal_source(x) for x in v]
        if any(p is None for p in parts):
            return None
        return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"
    return None


# ---------------------------------------------------------------- per-primitive lines


def _kw(em: _Emitter, params: dict) -> str:
    return "".join(f", {k}={em.const(v)}" for k, v in params.items())


def _call(em: _Emitter, fn: Callable, hint: str, args: list[str], params: dict, out=None) -> str:
    name = em.bind(fn, hint)
    out_s = f", out={out}" if out else ""
    return f"{name}({', '.join(args)}{_kw(em, params)}{out_s})"


def _is_array_var(a) -> bool:
    return type(a) is Var and not a.weak and len(a.shape) > 0


def _static(b, *names) -> bool:
    """``b`` binds each of ``names`` to a literal, and every other parameter to ``None``."""
    if b is None:
        return False
    kw = b[1]
    if any(type(kw.get(n)) is not Lit for n in names):
        return False
    return all(type(a) is Lit and a.value is None for k, a in kw.items() if k not in names)


def _emit_sum(em, e):
    b = bind_args(e)
    if not _static(b, "axis", "dtype", "keepdims"):
        return None
    x, kw = b
    if type(x) is not Var or x.weak or x.dtype.kind not in "fc" or kw["dtype"].value is not None:
        return None
    red = em.bind(_np.add.reduce, "add.reduce")
    axis = em.const(kw["axis"].value)
    return f"{red}({em.var(x)}, {axis}, None, None, {bool(kw['keepdims'].value)!r})"


def _emit_mean(em, e):
    b = bind_args(e)
    if not _static(b, "axis", "dtype", "keepdims"):
        return None
    x, kw = b
    fn = em.bind(_np.mean, "mean")
    params = {k: kw[k].value for k in ("axis", "dtype", "keepdims")}
    return f"{fn}({em.atom(x)}{_kw(em, params)})"


def _emit_transpose(em, e):
    b = bind_args(e)
    if not _static(b, "axes") or not _is_array_var(b[0]):
        return None
    axes = b[1]["axes"].value
    x = em.var(b[0])
    return f"{x}.T" if axes is None else f"{x}.transpose({em.const(tuple(axes))})"


def _emit_reshape(em, e):
    b = bind_args(e)
    if not _static(b, "shape", "order") or not _is_array_var(b[0]):
        return None
    if b[1]["order"].value != "C":
        return None
    return f"{em.var(b[0])}.reshape({em.const(tuple(e.out.shape))})"


def _emit_getitem(em, e):
    if len(e.inputs) != 2 or e.params or not _is_array_var(e.inputs[0]):
        return None
    x, idx = e.inputs
    return f"{em.var(x)}[{em.atom(idx)}]"


def _emit_broadcast_to(em, e):
    b = bind_args(e)
    if not _static(b, "shape"):
        return None
    fn = em.bind(_np.broadcast_to, "broadcast_to")
    return f"{fn}({em.atom(b[0])}, {em.const(tuple(e.out.shape))})"


def _emit_where(em, e):
    if len(e.inputs) != 3 or e.params:
        return None
    fn = em.bind(_np.where, "where")
    return f"{fn}({', '.join(em.atom(a) for a in e.inputs)})"


def _emit_alias(em, e):
    return em.atom(e.inputs[0]) if len(e.inputs) == 1 and not e.params else None


def _emit_take(em, e):
    # One output of a fused kernel; a kernel returns plain Python numbers for 0-d values,
    # which become the NumPy scalars that the unfused program would have computed.
    pack, k = e.inputs
    text = f"{em.var(pack)}[{k.value}]"
    if len(e.out.shape) == 0:
        return f"{em.bind(e.out.dtype.type, e.out.dtype.type.__name__)}({text})"
    return text


# np.where itself when the three-argument where is a primitive around it.
_WHERE = getattr(_ufuncs.where, "fun", _np.where)

_EMITTERS: dict[Callable, Callable] = {
    _WHERE: _emit_where,
    stop_gradient: _emit_alias,
    _reductions.sum.fun: _emit_sum,
    _reductions.mean.fun: _emit_mean,
    _shape.transpose.fun: _emit_transpose,
    _shape.reshape.fun: _emit_reshape,
    _indexing.getitem.fun: _emit_getitem,
    operator.getitem: _emit_getitem,
    _shape.broadcast_to.fun: _emit_broadcast_to,
    take: _emit_take,
}

# Equations whose result is a new array that aliases none of its operands.
_FRESH = {_np.where, _WHERE}


def _strong_scalars(em: _Emitter, e) -> list:
    """A ufunc's Python-number operands as 0-d arrays of the dtype NumPy computes in.

    NumPy converts a Python number on every call (it is "weak": it takes the array's
    dtype), which costs about as much as the operation on a small array. When every
    traced operand has one inexact dtype, the number is converted to it in that dtype
    anyway, so a 0-d array of that dtype, made once, gives the same bits.
    """
    inputs = list(e.inputs)
    dtypes = {a.dtype for a in inputs if type(a) is Var and not a.weak}
    if len(dtypes) != 1 or any(type(a) is Var and a.weak for a in inputs):
        return inputs
    (dt,) = dtypes
    if dt.kind not in "fc":
        return inputs
    for k, a in enumerate(inputs):
        if type(a) is Lit and type(a.value) in (float, int):
            if _np.result_type(dt, a.value) == dt:
                inputs[k] = em.scalar(a.value, dt)
    return inputs


# ---------------------------------------------------------------- buffer planning


def _plan_buffers(program: Program) -> dict[int, int]:
    """Which earlier equation's array each ufunc equation may write into: ``{i: j}``."""
    eqns = program.eqns
    last_use: dict[int, float] = {}
    for i, e in enumerate(eqns):
        for a in e.inputs:
            if type(a) is Var:
                last_use[a.id] = i
    for a in program.outvars:
        if type(a) is Var:
            last_use[a.id] = _INF
    # Each fresh array is a virtual buffer, named by the equation that made it; a view
    # (any other equation's result) may refer to the buffers of all its operands.
    holds: dict[int, frozenset] = {}
    end: dict[int, float] = {}
    fresh = []
    for i, e in enumerate(eqns):
        raw = raw_callable(e.prim)
        if (isinstance(raw, _np.ufunc) or raw in _FRESH) and len(e.out.shape) > 0:
            holds[e.out.id] = frozenset((i,))
            fresh.append(i)
        else:
            held = frozenset()
            for a in e.inputs:
                if type(a) is Var:
                    held |= holds.get(a.id, frozenset())
            holds[e.out.id] = held
        for b in holds[e.out.id]:
            end[b] = max(end.get(b, i), last_use.get(e.out.id, i))
    ending: dict[float, list[int]] = {}
    for b, t in end.items():
        ending.setdefault(t, []).append(b)

    plan: dict[int, int] = {}
    host: dict[int, int] = {}  # virtual buffer -> equation whose array holds it
    free: dict[tuple, list[int]] = {}
    released: set[int] = set()

    def release(i):
        for b in ending.get(i, ()):
            if b in host and b not in released:
                released.add(b)
                h = host[b]
                out = eqns[h].out
                free.setdefault((out.shape, out.dtype), []).append(h)

    for i, e in enumerate(eqns):
        raw = raw_callable(e.prim)
        usable = (
            isinstance(raw, _np.ufunc)
            and i in holds.get(e.out.id, ())
            and "out" not in e.params
            and e.out.dtype.kind != "O"
        )
        early = usable and raw.signature is None
        if early:
            release(i)  # elementwise: writing into a dying operand is safe
        if i in fresh:
            pool = free.get((e.out.shape, e.out.dtype)) if usable else None
            if pool:
                h = pool.pop()
                plan[i] = h
                host[i] = h
            else:
                host[i] = i
        if not early:
            release(i)
    return plan


# ---------------------------------------------------------------- the function


def _raise_guard_failed(*inputs):
    raise GuardFailed("a branch taken while staging differs now, and no fallback was given")


def generate(
    program: Program, name: str = "compiled", single: bool = False, fallback=None
) -> tuple[str, Callable]:
    """Python source and function for ``program``: ``(source, fn)``.

    ``fn(*inputs)`` returns the tuple of outputs, or the only output when ``single``.
    A failed guard returns ``fallback(*inputs)`` instead (it must return the same form).

    >>> import matdiff.numpy as np
    >>> from matdiff.compile import make_program
    >>> src, fn = generate(make_program(lambda x: np.sin(x) * 2.0)(np.zeros(3)))
    >>> print(src, end="")
    def compiled(a):
        b = np_sin(a)
        c = np_multiply(b, c_0, out=b)
        return (c,)
    # c_0 = 2.0:f64
    >>> fn(np.zeros(3))
    (array([0., 0., 0.]),)
    """
    name = identifier(name)
    em = _Emitter()
    params = [em.var(v) for v in program.invars]
    plan = _plan_buffers(program)
    lines = [f"def {name}({', '.join(params)}):"]
    for i, e in enumerate(program.eqns):
        raw = raw_callable(e.prim)
        if raw is guard:
            fb = em.bind(fallback or _raise_guard_failed, "fallback")
            test = em.atom(e.inputs[0])
            negate = "not " if e.params["expected"] else ""
            lines.append(f"    if {negate}{test}:")
            lines.append(f"        return {fb}({', '.join(params)})")
            continue
        target = em.var(e.out)
        rhs = None
        emit = _EMITTERS.get(raw)
        if emit is not None:
            rhs = emit(em, e)
        if rhs is None:
            if isinstance(raw, _np.ufunc):
                args = [em.atom(a) for a in _strong_scalars(em, e)]
            else:
                args = [em.atom(a) for a in e.inputs]
            out = em.var(program.eqns[plan[i]].out) if i in plan else None
            rhs = _call(em, raw, prim_name(e.prim), args, e.params, out)
        lines.append(f"    {target} = {rhs}")
    outs = []
    for a in program.outvars:
        if type(a) is Lit and isinstance(a.value, _np.ndarray):
            # A constant output is copied, so the caller may write into what it gets.
            outs.append(f"np_array({em.const(a.value)})")
        else:
            outs.append(em.atom(a))
    if single and len(outs) == 1:
        lines.append(f"    return {outs[0]}")
    else:
        lines.append(f"    return ({''.join(o + ', ' for o in outs).rstrip(' ')})")
    if name in em.globals or "_" in name and name.split("_")[0] in ("np", "c"):
        name = f"compiled_{name}"  # never shadow a bound callable or constant
    lines[0] = f"def {name}({', '.join(params)}):"
    lines += em.const_notes()
    source = "\n".join(lines) + "\n"
    filename = f"<matdiff.jit {name} #{next(_counter)}>"
    code = compile(source, filename, "exec")
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = dict(em.globals)
    exec(code, namespace)  # noqa: S102 - our own generated source
    fn = namespace[name]
    # Tracebacks show the generated lines while linecache holds them; the owner of the
    # function removes this entry when it drops the function.
    fn.source_file = filename
    return source, fn
