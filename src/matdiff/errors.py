"""The errors that several layers raise, and where in the user's code they happened.

The bottom of the package: it imports nothing of matdiff and no NumPy, so the tracer,
the NumPy front end and staging can all raise these without importing each other.

>>> from matdiff.errors import StagingError, NotDifferentiableError
>>> issubclass(StagingError, TypeError), issubclass(NotDifferentiableError, NotImplementedError)
(True, True)
"""

from __future__ import annotations

import os
import sys
import traceback

__all__ = [
    "NotDifferentiableError",
    "ConcreteValueError",
    "StagingError",
    "user_site",
    "library_site",
]


class NotDifferentiableError(TypeError, NotImplementedError):
    """A primitive met a traced value for which it has no derivative rule.

    A ``NotImplementedError`` too, as autograd raises for a primitive without a rule, so
    that ``except NotImplementedError`` in code written for autograd still catches it.
    """


class ConcreteValueError(ValueError):
    """A traced value was turned into a Python number, which would drop its derivative.

    A ``ValueError``, not a ``TypeError``: NumPy converts a value stored into a plain array
    (``y[i] = x``, ``y.fill(x)``) with ``float()``, and replaces a ``TypeError`` raised
    there with its own "setting an array element with a sequence", hiding the reason.
    """


class StagingError(TypeError):
    """A traced value was used in a way that cannot be recorded in a program."""


# -- source sites, for error messages only -------------------------------------------
#
# The one place in matdiff that reads the call stack. It names the user's line in a
# message; no behaviour depends on it.

_PKG_DIR = os.path.dirname(os.path.abspath(__file__))


def _numpy_dir() -> str | None:
    np = sys.modules.get("numpy")
    return os.path.dirname(np.__file__) if np is not None else None


def _outside(filename: str, *dirs: str | None) -> bool:
    fn = os.path.abspath(filename)
    return not any(d and fn.startswith(d) for d in dirs)


def user_site() -> str:
    """The innermost stack frame outside matdiff and NumPy, as ``File ..., line ...: code``."""
    numpy_dir = _numpy_dir()
    for fr in reversed(traceback.extract_stack()):
        if _outside(fr.filename, _PKG_DIR, numpy_dir):
            return (
                f'File "{fr.filename}", line {fr.lineno}, in {fr.name}: {(fr.line or "").strip()}'
            )
    return "(no user frame found)"


def library_site(skip: str) -> str | None:
    """The innermost frame in matdiff's own code outside the folder ``skip``, if the
    innermost frame outside ``skip`` and NumPy is matdiff's (a rule asked, not the user)."""
    numpy_dir = _numpy_dir()
    for fr in reversed(traceback.extract_stack()[:-1]):
        if not _outside(fr.filename, skip, numpy_dir):
            continue
        if _outside(fr.filename, _PKG_DIR):
            return None
        rel = os.path.relpath(os.path.abspath(fr.filename), os.path.dirname(_PKG_DIR))
        return f"{rel}:{fr.lineno} in {fr.name}"
    return None
