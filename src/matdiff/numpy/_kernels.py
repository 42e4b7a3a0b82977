"""Compiled loops (numba) for products that BLAS makes in one pass over a matrix each.

A matrix met by several vectors (``X @ w`` and ``X @ v`` in a Hessian-vector product) is
read from memory once per BLAS call, and BLAS has no product that takes the vectors
together in one pass: a GEMM with the vectors as columns packs the matrix and is slower
than the GEMVs. These loops read each row once for every vector. Their sums are
reassociated (numba's ``reassoc`` and ``contract``, not the rest of fastmath, so NaN and
inf stay exact) so that they vectorize, as BLAS's sums do; results agree with NumPy's to
the rounding of a sum of ``n`` terms.

>>> import numpy as np
>>> source = matvecs_source("pair", 2, np.dtype(np.float64))
>>> print(source.splitlines()[0])
def pair(x, v0, v1):
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as _np

__all__ = ["matvecs", "vecmats", "matvecs_source", "vecmats_source", "available", "numba"]

_numba = None
_compiled: dict[tuple, Callable] = {}


def available() -> bool:
    """Whether numba can be imported (it is imported on first use only)."""
    global _numba
    if _numba is None:
        try:
            import numba
        except ImportError:
            _numba = False
        else:
            _numba = numba
    return _numba is not False


def numba():
    """The numba module (after :func:`available` said it imports)."""
    available()
    return _numba


def matvecs_source(name: str, k: int, dtype: _np.dtype) -> str:
    """Source of ``name(x, v0, ..., v{k-1}) -> (x @ v0, ...)`` for a 2-d ``x``."""
    dt = f"np.{_np.dtype(dtype).name}"
    vecs = ", ".join(f"v{j}" for j in range(k))
    lines = [f"def {name}(x, {vecs}):", "    m, n = x.shape"]
    lines += [f"    o{j} = np.empty(m, {dt})" for j in range(k)]
    lines += ["    for i in range(m):"]
    lines += [f"        s{j} = {dt}(0)" for j in range(k)]
    lines += ["        for c in range(n):", "            xc = x[i, c]"]
    lines += [f"            s{j} += xc * v{j}[c]" for j in range(k)]
    lines += [f"        o{j}[i] = s{j}" for j in range(k)]
    lines.append(f"    return ({''.join(f'o{j}, ' for j in range(k)).rstrip(' ')})")
    return "\n".join(lines) + "\n"


def vecmats_source(name: str, k: int, dtype: _np.dtype) -> str:
    """Source of ``name(v0, ..., v{k-1}, x) -> (v0 @ x, ...)`` for a 2-d ``x``."""
    dt = f"np.{_np.dtype(dtype).name}"
    vecs = ", ".join(f"v{j}" for j in range(k))
    lines = [f"def {name}({vecs}, x):", "    m, n = x.shape"]
    lines += [f"    o{j} = np.zeros(n, {dt})" for j in range(k)]
    lines += ["    for i in range(m):"]
    lines += [f"        a{j} = v{j}[i]" for j in range(k)]
    lines += ["        for c in range(n):", "            xc = x[i, c]"]
    lines += [f"            o{j}[c] += a{j} * xc" for j in range(k)]
    lines.append(f"    return ({''.join(f'o{j}, ' for j in range(k)).rstrip(' ')})")
    return "\n".join(lines) + "\n"


def _compile(kind: str, source: Callable, k: int, dtype) -> Callable | None:
    key = (kind, k, _np.dtype(dtype))
    fn = _compiled.get(key)
    if fn is None:
        if not available():
            return None
        namespace = {"np": _np}
        code = compile(source(kind, k, dtype), f"<matdiff kernel {kind}>", "exec")
        exec(code, namespace)  # noqa: S102 - our own generated source
        fast = {"reassoc", "contract"}
        fn = _numba.njit(error_model="numpy", nogil=True, fastmath=fast)(namespace[kind])
        _compiled[key] = fn
    return fn


def matvecs(k: int, dtype) -> Callable | None:
    """The compiled :func:`matvecs_source` loop for ``k`` vectors, or None without numba."""
    return _compile("matvecs", matvecs_source, k, dtype)


def vecmats(k: int, dtype) -> Callable | None:
    """The compiled :func:`vecmats_source` loop for ``k`` vectors, or None without numba."""
    return _compile("vecmats", vecmats_source, k, dtype)
