"""NumPy's names and documentation on the functions of ``matdiff.numpy``.

autograd's wrappers carry NumPy's ``__name__`` and ``__doc__``, and code written for it
reads them (``help(np.sum)``, a dispatch table keyed by ``f.__name__``). Each public
function of ``matdiff.numpy``, ``matdiff.numpy.linalg`` and ``matdiff.numpy.fft`` that
stands for a NumPy function takes NumPy's name, and its documentation is matdiff's own
(how the derivative is taken, with a runnable example) followed by NumPy's, whose
examples are marked to be skipped by doctest: they are written for NumPy. Where one
matdiff function stands for two NumPy functions (``max`` and ``amax``), the second name
gets a thin function of its own, so that each carries its own name and documentation.

>>> import matdiff.numpy as np
>>> np.amax.__name__, np.max.__name__
('amax', 'max')
"""

from __future__ import annotations

import inspect
import re
import types
from collections.abc import Callable

import numpy as _np

from ._wrap import all_wrapped, wrapped_for

_PROMPT = re.compile(r"^(\s*>>>.*)$", re.MULTILINE)


def numpy_doc(g: Callable) -> str:
    """NumPy's documentation of ``g``, dedented, its examples marked ``+SKIP``."""

    def skip(m: re.Match) -> str:
        line = m.group(1)
        code = line.split(">>>", 1)[1].strip()
        # doctest drops a comment-only prompt, and refuses a directive on one.
        if "doctest:" in line or not code or code.startswith("#"):
            return line
        return line + "  # doctest: +SKIP"

    return _PROMPT.sub(skip, inspect.cleandoc(g.__doc__ or ""))


def _documented(own: str | None, g: Callable) -> str:
    theirs = g.__doc__ or ""
    if not own or inspect.cleandoc(own) == inspect.cleandoc(theirs):
        return theirs
    name = f"{getattr(g, '__module__', None) or 'numpy'}.{g.__name__}"
    return f"{inspect.cleandoc(own)}\n\nNumPy's documentation of ``{name}``:\n\n{numpy_doc(g)}"


def _named(f: Callable, name: str) -> Callable:
    def named(*args, **kwargs):
        return f(*args, **kwargs)

    # a ufunc's methods and attributes (np.radians.outer, .nin) come along
    named.__dict__.update(
        (k, v) for k, v in vars(f).items() if not k.startswith("_") and k != "fun"
    )
    named.__module__ = f.__module__
    named.__name__ = named.__qualname__ = name
    named.__wrapped__ = f
    return named


def _stands_for(f, g) -> bool:
    return (
        g is not None
        and g is not f
        and callable(g)
        and not isinstance(g, type)
        and hasattr(g, "__name__")
        and callable(f)
        and not isinstance(f, (type, types.ModuleType))
    )


def install(namespaces: list[tuple[dict, types.ModuleType]]) -> None:
    """Give each function in ``namespaces`` (a name -> function table, and the NumPy module
    it stands for) the name and documentation of its NumPy function."""
    given: dict[int, Callable] = {}  # id(f) -> the NumPy function f documents
    own_docs: dict[int, str | None] = {}
    for table, numpy_module in namespaces:
        for name, f in list(table.items()):
            g = getattr(numpy_module, name, None) if not name.startswith("_") else None
            if not _stands_for(f, g):
                continue
            before = given.get(id(f))
            if before is not None and before is not g:
                if before.__name__ == g.__name__ and before.__doc__ == g.__doc__:
                    continue
                own = own_docs[id(f)]
                f = _named(f, g.__name__)
                table[name] = f
                if wrapped_for.get(g) is None or wrapped_for[g] is f.__wrapped__:
                    wrapped_for[g] = f
            else:
                own = f.__doc__
            given[id(f)] = g
            own_docs[id(f)] = own
            f.__name__ = g.__name__
            if hasattr(f, "__qualname__"):
                f.__qualname__ = g.__name__
            f.__doc__ = _documented(own, g)


def install_all(linalg: types.ModuleType, fft: types.ModuleType) -> None:
    """:func:`install` over ``matdiff.numpy`` and its ``linalg`` and ``fft`` modules."""
    install([(all_wrapped, _np), (vars(linalg), _np.linalg), (vars(fft), _np.fft)])
