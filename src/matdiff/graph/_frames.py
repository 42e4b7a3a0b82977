"""A debugging aid of :func:`matdiff.graph.graph` that reads the user's frames for labels.

While ``graph`` runs the user's function, a profile hook (``sys.setprofile``) follows the
user's own Python calls, library code skipped, so that each node can be drawn inside
the box of the function call that made it. As each user frame returns, its local
variables are read, so that nodes are called by the user's names (``r`` rather than
``v3``). Nothing else in matdiff reads frames: ``grad``, ``jit`` and the rest never come
here, and the labels change no value or adjoint.

>>> import os
>>> from matdiff.graph._frames import UserCalls, is_library
>>> is_library(os.__file__), is_library("<doctest example>")
(True, False)
>>> calls = UserCalls(node_of=lambda value: None, harvest=False)
>>> def outer():
...     return inner()
>>> def inner():
...     return calls.path
>>> with calls.watching():
...     path = outer()
>>> path
(('outer', 1), ('inner', 1))
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import inspect
import os
import sys
import sysconfig
from collections.abc import Callable, Iterator
from typing import Any

import numpy as _np

# Constants are named by identity with a user's variable. Not Python numbers: equal
# literals are often one shared object (`t = 1.0` would name an unrelated literal 1.0).
NAMEABLE = (_np.ndarray, _np.generic)


@functools.cache
def library_dirs() -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(libraries, standard library, site-packages) directory prefixes."""

    def prefixes(paths) -> tuple[str, ...]:
        return tuple(os.path.abspath(p) + os.sep for p in paths if p)

    matdiff_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    libs = [matdiff_dir, os.path.dirname(_np.__file__)]
    scipy = importlib.util.find_spec("scipy")
    if scipy is not None and scipy.origin:
        libs.append(os.path.dirname(scipy.origin))
    paths = sysconfig.get_paths()
    stdlib = [paths.get("stdlib"), paths.get("platstdlib")]
    site = [paths.get("purelib"), paths.get("platlib")]
    return prefixes(libs), prefixes(stdlib), prefixes(site)


@functools.cache
def is_library(filename: str) -> bool:
    """Whether code in ``filename`` is library code rather than a user function to group by.

    matdiff, NumPy, SciPy and the standard library are; other installed packages and
    "<...>" code (doctests, exec'd and generated code, notebooks) are the user's, except
    "<frozen ...>" import machinery.
    """
    libs, stdlib, site = library_dirs()
    if filename.startswith(libs) or filename.startswith("<frozen"):
        return True
    # site-packages usually lies inside the standard library's directory
    return filename.startswith(stdlib) and not filename.startswith(site)


class UserCalls:
    """The user's function calls while a function runs, followed by a profile hook.

    ``path`` is the chain of user calls running now, outermost first, each as
    ``(qualname, k)`` for the k-th call of that function, and ``counts`` the number of
    calls of each function so far. With ``harvest``, as a user frame returns, ``names``
    gets the name of each local variable holding a traced value (keyed by
    ``node_of(value)``, which is ``None`` for a value not traced by this graph), and
    ``const_names`` that of each NumPy array or scalar (keyed by ``id``).
    """

    __slots__ = ("node_of", "harvest", "path", "counts", "names", "const_names", "_frames")

    def __init__(self, node_of: Callable[[Any], Any], harvest: bool) -> None:
        self.node_of = node_of
        self.harvest = harvest
        self.path: tuple = ()
        self.counts: dict[str, int] = {}
        self.names: dict = {}
        self.const_names: dict[int, tuple[Any, str]] = {}
        self._frames: list = []

    @contextlib.contextmanager
    def watching(self) -> Iterator[UserCalls]:
        """Follow the calls made inside the ``with`` block."""
        previous = sys.getprofile()
        sys.setprofile(self._profile)
        try:
            yield self
        finally:
            sys.setprofile(previous)

    def _profile(self, frame, event, arg) -> None:
        if event == "call":
            code = frame.f_code
            if is_library(code.co_filename):
                return
            qualname = getattr(code, "co_qualname", code.co_name)
            k = self.counts[qualname] = self.counts.get(qualname, 0) + 1
            self._frames.append(frame)
            self.path = self.path + ((qualname, k),)
        elif event == "return" and self._frames and self._frames[-1] is frame:
            self._frames.pop()
            self.path = self.path[:-1]
            if self.harvest:
                self._harvest(frame)

    def _harvest(self, frame) -> None:
        code = frame.f_code
        nparams = code.co_argcount + code.co_kwonlyargcount
        nparams += bool(code.co_flags & inspect.CO_VARARGS)
        nparams += bool(code.co_flags & inspect.CO_VARKEYWORDS)
        params = set(code.co_varnames[:nparams])
        for name, val in frame.f_locals.items():
            node = self.node_of(val)
            if node is not None:
                # A parameter is a name for the caller's value; the caller names it better.
                # Frames return innermost first, so an outer function's name wins.
                if name not in params:
                    self.names[node] = name
            elif isinstance(val, NAMEABLE):
                # Keep the value alive so that its id cannot be reused by another one.
                self.const_names[id(val)] = (val, name)
