"""How NumPy functions become matdiff primitives, and the predicates the rules share.

Every differentiable NumPy function is wrapped explicitly by :func:`wrap`, with its rules
written right under the wrapper. This module performs no array operation of its own, so
every other module of ``matdiff.numpy`` can build on it (``_broadcast`` comes next).
``wrapped_for`` maps the raw NumPy callable to its wrapper so that a raw call on a traced
value (``numpy.sin(box)``) can be routed through ``__array_ufunc__``/``__array_function__``
to the same rules, or refused clearly.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as _np

from ..core import def_linear, defjvp, defvjp, defvmap
from ..tracer import box_types, getval, nondifferentiable, primitive
from . import _batch

#: The wrapper of each raw NumPy (or SciPy) callable: a raw call on a traced value
#: (``numpy.sin(box)``) is routed here through ``__array_ufunc__``/``__array_function__``.
wrapped_for: dict[Callable, Callable] = {}
#: Everything ``matdiff.numpy`` exports, by name.
all_wrapped: dict[str, Callable] = {}
#: Every function :func:`wrap` made, public or not (the batching coverage test reads it).
made: list[Callable] = []


def wrap(
    raw: Callable,
    name: str | None = None,
    *,
    vjp=None,
    jvp=None,
    linear: bool = False,
    nondiff: bool = False,
    module: str = "matdiff.numpy",
    routes: tuple | None = None,
    public: bool | None = None,
    lists: bool = False,
    batch=None,
) -> Callable:
    """The primitive computing ``raw``, with its rules, registered where it is reached.

    Every primitive of ``matdiff.numpy`` and ``matdiff.scipy`` is made here, so that what
    a primitive carries is declared in one place:

    * ``vjp``: its VJP row, one maker ``(ans, *args, **kwargs) -> (g -> cotangent)`` per
      argument position (``None`` where the derivative is zero), or one maker for a
      one-argument function;
    * ``jvp``: its JVP row likewise, ``rule(g, ans, *args, **kwargs) -> tangent``; or
      ``linear=True`` for a function linear in every argument (its JVP is itself).
      Rules may also follow with ``defvjp``/``defjvp`` when they are written below;
    * ``nondiff``: its result carries no derivative (traced arguments are read as values);
    * ``module``: the namespace it is documented in;
    * ``public``: exported from ``matdiff.numpy`` under ``name`` (by default, when that is
      its ``module``);
    * ``routes``: the raw callables whose calls on a traced value come to it (``raw``
      itself for a public function, none otherwise); a raw callable already routed keeps
      its first wrapper;
    * ``lists``: its first argument may be a Python list of traced values
      (``np.mean([x, y])``), made into a traced array first;
    * ``batch``: the maker of its batching rule under ``vmap``: ``batch(f)`` is the rule
      ``rule(args, batched, kwargs)`` (see :func:`matdiff.core.defvmap`); the makers for
      the common kinds (elementwise, reductions over ``axis``...) are in
      :mod:`matdiff.numpy._batch`. An elementwise NumPy ufunc gets one by default.

    >>> import numpy
    >>> from matdiff import grad
    >>> cube = wrap(lambda x: x**3, "cube", module="example",
    ...             vjp=lambda ans, x: lambda g: 3 * x**2 * g)
    >>> float(grad(cube)(2.0))
    12.0
    """
    name = name or raw.__name__
    if public is None:
        public = module == "matdiff.numpy"
    if routes is None:
        routes = (raw,) if public else ()
    if lists:
        raw = _lifting_lists(raw, lambda: f)
    if batch is None and isinstance(raw, _np.ufunc) and raw.signature is None:
        batch = _batch.elementwise
    f = (nondifferentiable if nondiff else primitive)(raw, name=name)
    made.append(f)
    if batch is not None:
        defvmap(f, batch(f))
    if vjp is not None:
        defvjp(f, *((vjp,) if callable(vjp) else vjp))
    if linear:
        def_linear(f)
    elif jvp is not None:
        defjvp(f, *((jvp,) if callable(jvp) else jvp))
    return export(f, name, module=module, routes=routes, public=public)


def holds_traced(obj) -> bool:
    """Whether the nested list or tuple ``obj`` holds a traced value."""
    for x in obj:
        if type(x) in box_types or (isinstance(x, (list, tuple)) and holds_traced(x)):
            return True
    return False


def lift_list(x):
    """``x``, or the array made from ``x`` when it is a list (traced if it holds traced
    values: ``numpy.asarray`` would refuse them, as it cannot hold a derivative)."""
    if isinstance(x, (list, tuple)):
        return all_wrapped["asarray"](x)
    return x


def _lifting_lists(raw: Callable, primitive_of: Callable) -> Callable:
    # No box is at the top level of a list argument, so the primitive calls raw with the
    # list: build the traced array and call the primitive again.
    def lifted(x, *args, **kwargs):
        if isinstance(x, (list, tuple)) and holds_traced(x):
            return primitive_of()(all_wrapped["asarray"](x), *args, **kwargs)
        return raw(x, *args, **kwargs)

    functools.update_wrapper(lifted, raw)
    return lifted


def export(
    f: Callable | None = None,
    name: str | None = None,
    *,
    module: str | None = None,
    routes: tuple | None = None,
    public: bool | None = None,
) -> Callable:
    """Register ``f`` (a primitive from :func:`wrap`, or a composite: a Python function
    over primitives) in ``module``; the raw callables in ``routes`` come to it.

    By default ``f`` is exported from ``matdiff.numpy`` and NumPy's function of the same
    name routes to it. Given a ``module`` other than ``matdiff.numpy``, ``f`` is named
    ``name`` there and is not exported from ``matdiff.numpy`` unless ``public``.
    Without ``f``, a decorator with these settings.
    """
    if f is None:
        return lambda f: export(f, name, module=module, routes=routes, public=public)
    name = name or f.__name__
    if module is not None:
        f.__module__ = module
        f.__name__ = f.__qualname__ = name
    if public is None:
        public = module in (None, "matdiff.numpy")
    if public:
        all_wrapped[name] = f
    if routes is None:
        raw = getattr(_np, name, None) if public else None
        routes = () if raw is None else (raw,)
    for raw in routes:
        if raw is not None:
            wrapped_for.setdefault(raw, f)
    return f


def alias(name: str, f: Callable) -> Callable:
    """Export ``f`` from matdiff.numpy under another NumPy name too."""
    all_wrapped[name] = f
    raw = getattr(_np, name, None)
    if raw is not None:
        wrapped_for.setdefault(raw, f)
    return f


class VarargTable(list):
    """A rule table for ``f(static, *arrays)``: one rule per array position, made on demand.

    ``make(i)`` builds the rule for argument position ``i`` (``i >= 1``); rules are cached
    so that recording a node does not build a closure each time.
    """

    def __init__(self, make):
        super().__init__()
        self.make = make
        self.cache = {}

    def __len__(self):
        return 1 << 30

    def __getitem__(self, i):
        if i == 0:
            return None
        rule = self.cache.get(i)
        if rule is None:
            rule = self.cache[i] = self.make(i)
        return rule


#: Reader of the example array behind a derivative-free operand that is not an array
#: (a value staged by ``jit``), keyed by its type; the staging module registers its own.
#: A primitive's raw function that must index with an operand reads it through
#: :func:`example_value`: the equation staging records keeps the operand itself.
example_readers: dict[type, Callable] = {}


def example_value(x):
    """``x``, or the example array that a staged derivative-free operand stands for."""
    read = example_readers.get(type(x))
    return x if read is None else read(x)


def shape_of(x) -> tuple:
    s = getattr(x, "shape", None)
    return _np.shape(x) if s is None else s


def is_complex(x) -> bool:
    if type(x) in box_types:
        # Read the innermost value: at third order a box holds a box.
        x = getval(x)
    dt = getattr(x, "dtype", None)
    if dt is None:
        return type(x) is complex
    return dt.kind == "c"


def is_concrete(v) -> bool:
    """Whether ``v`` (a value under the boxes, from ``getval``) holds known numbers.

    Under ``jit`` it is a value being recorded instead: a rule may take a shortcut that
    depends on the numbers (``if not mask.any(): return x``) only when this holds, so
    that a compiled program needs no branch on the data.
    """
    return isinstance(v, (_np.ndarray, _np.generic, float, int, complex))
