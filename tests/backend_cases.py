"""The spec tables that drive check_grads, as cases for other array libraries.

Shared by ``test_backends.py`` (each case on Dask and on ``array_api_strict``, both modes,
to order 2) and ``test_backends_doc.py`` (the primitive x library table of
``docs/backends.md``). A case either passes on a library or raises
:class:`matdiff.backends.BackendError`; anything else is a bug.
"""

from __future__ import annotations

import numpy as onp
import test_api_checkgrads_table as table
import test_numpy_reductions as red
import test_numpy_ufuncs as uf

from matdiff.backends import BackendError
from matdiff.test_util import check_grads

BACKENDS = ("NumPy", "Dask", "array_api_strict", "CuPy")


def _ufunc_cases(ops, tag, base):
    for k, o in enumerate(ops):
        shapes = o.shapes[-1]  # one shape set per row: the widest broadcast
        rng = onp.random.default_rng(base + k)
        args = tuple(gen(rng, s) for gen, s in zip(o.gens, shapes))
        yield o.name, f"{tag}{o.name}-{k}", o.fun, args


def _reduction_cases(rows, tag, base):
    for k, r in enumerate(rows):
        kw = ",".join(f"{a}={v}" for a, v in r.kwargs.items()) or "default"
        x = r.gen(onp.random.default_rng(base + k), r.shape)
        yield r.name, f"{tag}{r.name}-{k}-{kw}", red._fun(r), (x,)


def _table_cases():
    for name, f, args in table.BATCHED:
        g = table.jacfwd(f, argnums=tuple(range(len(args))))
        yield f"jacfwd: {name}", f"batched-{name}", g, args
    for name, f, args in table.CUSTOM:
        yield name, f"custom-{name}", f, args


#: (primitive, case id, function, NumPy arguments)
CASES = [
    *_ufunc_cases(uf.OPS, "", 1000),
    *_ufunc_cases(uf.COMPLEX_OPS, "complex-", 1500),
    *_reduction_cases(red.REDUCTIONS, "", 2000),
    *_reduction_cases(red.COMPLEX_REDUCTIONS, "complex-", 3000),
    *_table_cases(),
]


def to_backend(backend: str, x):
    """The NumPy argument ``x`` as an array of ``backend`` (Python scalars stay)."""
    if not isinstance(x, (onp.ndarray, onp.generic)) or backend == "NumPy":
        return x
    x = onp.asarray(x)
    if backend == "Dask":
        import dask.array as da

        # Two chunks along each axis where it has two elements: the rules meet block edges.
        return da.from_array(x, chunks=tuple(max(1, (n + 1) // 2) for n in x.shape))
    if backend == "array_api_strict":
        import array_api_strict as xp

        return xp.asarray(x)
    if backend == "CuPy":
        import cupy

        return cupy.asarray(x)
    raise ValueError(backend)


def run_case(backend: str, fun, args, order: int = 2):
    """check_grads of ``fun`` on ``backend``: ``None`` if it passes, the BackendError if
    the library lacks a function on the path; any other failure propagates."""
    call = tuple(to_backend(backend, a) for a in args)
    try:
        check_grads(fun, modes=("fwd", "rev"), order=order)(*call)
    except BackendError as e:
        return e
    return None
