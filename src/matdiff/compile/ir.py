"""The staged program: variables, literals, equations, and a printable ``Program``.

A :class:`Program` is straight-line code: input variables, a list of equations
``out = prim(inputs..., **params)`` and output atoms. ``prim`` is either a matdiff
primitive (a wrapped NumPy function with derivative rules) or a raw NumPy callable that
was recorded on a value with no derivative (a comparison, a mask, ``argmax``).
Running a program with :func:`eval_program` calls the primitives again, so an enclosing
``grad``/``jvp``/staging traces through it: running a program is differentiable.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as _np

from ..tracer import getval

__all__ = [
    "Var",
    "Lit",
    "Eqn",
    "Program",
    "eval_program",
    "prim_name",
    "raw_callable",
    "guard",
    "GuardFailed",
]

_ids = itertools.count()


class Var:
    """A value computed by the program (or one of its inputs): shape and dtype are known.

    ``weak`` marks an input that is a Python scalar (its NumPy type rules differ).
    """

    __slots__ = ("id", "shape", "dtype", "weak")

    def __init__(self, shape: tuple, dtype: _np.dtype, weak: bool = False) -> None:
        self.id = next(_ids)
        self.shape = tuple(shape)
        self.dtype = _np.dtype(dtype)
        self.weak = weak

    @property
    def aval(self) -> str:
        return f"{short_dtype(self.dtype)}[{','.join(map(str, self.shape))}]"

    def __repr__(self) -> str:
        return f"Var({self.id}:{self.aval})"


class Lit:
    """A constant operand: a number, an array, or static data such as an index or a shape.

    ``ref`` marks a value the program holds by reference (an array, a list: anything that
    can change in place after staging, such as an array captured by closure). It is read
    when the program runs, so no pass may fold, simplify or share it by its current value.
    """

    __slots__ = ("value", "ref")

    def __init__(self, value: Any, ref: bool = False) -> None:
        self.value = value
        self.ref = ref

    @classmethod
    def of(cls, value: Any) -> Lit:
        """The literal for an operand met while staging: by reference unless immutable."""
        return cls(value, not is_immutable(value))

    def __repr__(self) -> str:
        return f"Lit({show_value(self.value)})"


Atom = Var | Lit

_IMMUTABLE = (type(None), bool, int, float, complex, str, bytes, slice, type(Ellipsis), _np.dtype)


def is_immutable(v: Any) -> bool:
    """``v`` cannot change after staging, so its value may be folded into the program."""
    if isinstance(v, (_IMMUTABLE, _np.generic)) or isinstance(v, type):
        return True
    if type(v) is tuple:
        return all(is_immutable(x) for x in v)
    return False


@dataclass
class Eqn:
    """``out = prim(*inputs, **params)``; ``params`` are static keyword arguments."""

    prim: Callable
    inputs: tuple
    params: dict
    out: Var


@dataclass
class Program:
    """A staged function: ``invars`` in, ``eqns`` in order, ``outvars`` out.

    ``print(program)`` shows one equation a line, ``name:dtype[shape] = prim operands``.
    """

    invars: list
    eqns: list
    outvars: list

    def __str__(self) -> str:
        return pretty(self)

    def __call__(self, *args: Any) -> list:
        return eval_program(self, *args)


class GuardFailed(Exception):
    """A value that staging assumed (a branch taken inside a derivative rule) differs now."""


def guard(value: Any, expected: bool) -> bool:
    """Check that ``bool(value)`` is still what it was while staging.

    Derivative rules may branch on values for speed (``if np.any(x == 0): ...``); staging
    takes the branch the example takes and records this check, and a compiled function
    whose check fails falls back to running the original function.
    """
    if bool(value) != expected:
        raise GuardFailed(f"a branch taken while staging (bool = {expected}) differs now")
    return expected


def is_primitive(prim: Callable) -> bool:
    return getattr(prim, "_is_primitive", False)


def raw_callable(prim: Callable) -> Callable:
    """The NumPy callable behind ``prim`` (itself when it was recorded raw)."""
    return prim.fun if is_primitive(prim) else prim


def prim_name(prim: Callable) -> str:
    if isinstance(prim, _np.ufunc):
        return prim.__name__
    self_ = getattr(prim, "__self__", None)
    if isinstance(self_, _np.ufunc):
        return f"{self_.__name__}.{prim.__name__}"
    return getattr(prim, "__name__", repr(prim))


_signatures: dict[int, Any] = {}


def bind_args(eqn: Eqn) -> tuple[Any, dict] | None:
    """``(first operand, {parameter name: atom})`` for ``eqn``, defaults included.

    Names come from the raw callable's signature, so rewrites and code generation stay
    right if a wrapper's parameters are reordered. ``None`` if it cannot be bound.
    """
    raw = raw_callable(eqn.prim)
    sig = _signatures.get(id(raw))
    if sig is None:
        try:
            sig = inspect.signature(raw)
        except (TypeError, ValueError):
            sig = False
        _signatures[id(raw)] = sig
    if sig is False:
        return None
    try:
        bound = sig.bind(*eqn.inputs, **{k: Lit(v) for k, v in eqn.params.items()})
    except TypeError:
        return None
    bound.apply_defaults()
    for name, p in sig.parameters.items():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            if bound.arguments.get(name):
                return None
            bound.arguments.pop(name, None)
    names = list(bound.arguments)
    if not names:
        return None
    args = {k: (v if type(v) in (Var, Lit) else Lit(v)) for k, v in bound.arguments.items()}
    first = args.pop(names[0])
    return first, args


def eval_program(program: Program, *args: Any) -> list:
    """Run ``program`` on ``args`` by calling its primitives: the list of outputs.

    Traced arguments stay traced (an enclosing ``grad`` records every equation);
    equations recorded raw carry no derivative and are run on the untraced values.

    >>> import matdiff.numpy as np
    >>> from matdiff.compile import make_program
    >>> prog = make_program(lambda x: np.sin(x) * 2.0)(np.zeros(2))
    >>> prog(np.array([0.0, np.pi / 2]))
    [array([0., 2.])]
    """
    if len(args) != len(program.invars):
        raise TypeError(
            f"eval_program: the program takes {len(program.invars)} inputs, got {len(args)}"
        )
    env = {v.id: a for v, a in zip(program.invars, args)}

    def read(atom):
        return env[atom.id] if type(atom) is Var else atom.value

    for eqn in program.eqns:
        vals = [read(a) for a in eqn.inputs]
        if is_primitive(eqn.prim):
            env[eqn.out.id] = eqn.prim(*vals, **eqn.params)
        else:
            env[eqn.out.id] = eqn.prim(*[getval(v) for v in vals], **eqn.params)
    # A constant output is copied: the caller may write into it, the program must not change.
    return [_np.array(a.value) if _is_const_array(a) else read(a) for a in program.outvars]


def _is_const_array(atom) -> bool:
    return type(atom) is Lit and isinstance(atom.value, _np.ndarray)


# ---------------------------------------------------------------- printing

_KIND = {"f": "f", "c": "c", "i": "i", "u": "u"}


def short_dtype(dt: _np.dtype) -> str:
    if dt.kind == "b":
        return "bool"
    if dt.kind in _KIND:
        return f"{_KIND[dt.kind]}{dt.itemsize * 8}"
    return str(dt)


def _var_names() -> Any:
    letters = "abcdefghijklmnopqrstuvwxyz"
    for n in itertools.count(1):
        for combo in itertools.product(letters, repeat=n):
            yield "".join(combo)


def show_value(v: Any) -> str:
    if isinstance(v, _np.ndarray) and v.ndim > 0:
        dt = short_dtype(v.dtype)
        if v.size <= 4:
            return f"{dt}{_np.array2string(v, separator=',')}".replace("\n", "")
        return f"{dt}[{','.join(map(str, v.shape))}]{{const}}"
    if isinstance(v, _np.ndarray):
        return f"{v.item()!r}:{short_dtype(v.dtype)}"
    if isinstance(v, _np.generic):
        return repr(v.item())
    if isinstance(v, _np.dtype):
        return str(v)
    return repr(v)


def pretty(program: Program) -> str:
    names: dict[int, str] = {}
    gen = _var_names()

    def name(v: Var) -> str:
        if v.id not in names:
            names[v.id] = next(gen)
        return names[v.id]

    def atom(a) -> str:
        return name(a) if type(a) is Var else show_value(a.value)

    ins = ", ".join(f"{name(v)}:{v.aval}" for v in program.invars)
    lines = [f"{{ lambda {ins} ."]
    for e in program.eqns:
        operands = " ".join(atom(a) for a in e.inputs)
        params = " ".join(f"{k}={show_value(v)}" for k, v in e.params.items())
        rhs = " ".join(p for p in (prim_name(e.prim), operands, params) if p)
        lines.append(f"    {name(e.out)}:{e.out.aval} = {rhs}")
    outs = ", ".join(atom(a) for a in program.outvars)
    lines.append(f"  in ({outs}) }}")
    return "\n".join(lines)
