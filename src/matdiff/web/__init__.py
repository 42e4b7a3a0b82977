"""A local web page for matrix calculus, its JSON API, and HTML for notebooks.

``matdiff serve`` (or :func:`make_server`) starts the page; :mod:`matdiff.web.api` is the
JSON API behind it and :mod:`matdiff.web.display` the HTML that notebooks show. Nothing
here is imported by ``import matdiff``; the optional ``web`` extra adds ``latex2mathml``
for typeset results.

>>> from matdiff.web import compute
>>> compute({"expression": "log(det(X))", "wrt": "X", "check": False,
...          "graph": False})["result"]["text"]
"inv(X)'"
"""

from importlib import import_module

_EXPORTS = {
    "ApiError": "api",
    "analyze": "api",
    "compute": "api",
    "make_server": "server",
    "serve_in_thread": "server",
    "MatdiffServer": "server",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    # `matdiff serve` imports this package for its arguments; the server and the
    # engine load only when used
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'matdiff.web' has no attribute {name!r}")
