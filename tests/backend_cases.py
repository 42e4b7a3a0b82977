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
from test_numpy_indexing import INDEXING_SPECS
from test_numpy_products import PRODUCT_SPECS
from test_numpy_shape import SHAPE_SPECS, A, L, spec_id

import matdiff.numpy as mnp
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


def _spec_cases(specs, tag, base):
    # A spec names its primitive and holds its array arguments (A, L) among constants.
    for k, spec in enumerate(specs):
        dyn = [i for i, a in enumerate(spec.args) if isinstance(a, (A, L))]
        mfun = getattr(mnp, spec.fun) if isinstance(spec.fun, str) else spec.fun
        name = spec.fun if isinstance(spec.fun, str) else getattr(spec.fun, "__name__", "?")

        def fun(*d, spec=spec, dyn=dyn, mfun=mfun):
            full = list(spec.args)
            for i, v in zip(dyn, d):
                full[i] = v
            return mfun(*full, **spec.kwargs)

        rng = onp.random.default_rng(base + k)
        args = tuple(spec.args[i].make(rng) for i in dyn)
        if args:
            yield name, f"{tag}{spec_id(spec)}-{k}", fun, args


#: (primitive, case id, function, NumPy arguments)
CASES = [
    *_ufunc_cases(uf.OPS, "", 1000),
    *_ufunc_cases(uf.COMPLEX_OPS, "complex-", 1500),
    *_reduction_cases(red.REDUCTIONS, "", 2000),
    *_reduction_cases(red.COMPLEX_REDUCTIONS, "complex-", 3000),
    *_table_cases(),
    *_spec_cases(SHAPE_SPECS, "shape-", 4000),
    *_spec_cases(PRODUCT_SPECS, "product-", 5000),
    *_spec_cases(INDEXING_SPECS, "indexing-", 6000),
]


#: Cases where the library raises its own error (Dask's chunks or slicing assertions,
#: array_api_strict's indexing and conversion rules) instead of matdiff's BackendError
#: naming the primitive: loud, never a wrong value, but not yet the clear message. Each is
#: an expected failure that turns into a test failure once fixed.
UNNAMED_REFUSALS = {
    ("array_api_strict", "shape-resize(3,(0, 2))-151"),
    ("array_api_strict", "shape-make_diagonal(4)-154"),
    ("array_api_strict", "shape-make_diagonal(3x4,1,-1,-2)-155"),
    ("array_api_strict", "product-convolve(5,3)-76"),
    ("array_api_strict", "product-convolve(3,6)-77"),
    ("array_api_strict", "product-convolve(5,4,'same')-78"),
    ("array_api_strict", "product-convolve(4,7,'same')-79"),
    ("array_api_strict", "product-convolve(6,3,'valid')-80"),
    ("array_api_strict", "product-convolve(2,5,'valid')-81"),
    ("array_api_strict", "product-convolve(0d,3)-82"),
    ("array_api_strict", "product-convolve(c4,2)-83"),
    ("array_api_strict", "product-correlate(5,3)-84"),
    ("array_api_strict", "product-correlate(6,4,'same')-86"),
    ("array_api_strict", "product-correlate(c4,c3,'full')-87"),
    ("array_api_strict", "indexing-getitem-repeated-ints-8"),
    ("array_api_strict", "indexing-getitem-broadcast-arrays-10"),
    ("array_api_strict", "indexing-getitem-mask-13"),
    ("array_api_strict", "indexing-getitem-row-mask-14"),
    ("array_api_strict", "indexing-getitem-complex-17"),
    ("array_api_strict", "indexing-select-broadcast-27"),
    ("Dask", "shape-linspace(0d,0d,5)-134"),
    ("Dask", "shape-linspace(0d,0d,4)-135"),
    ("Dask", "shape-linspace(0d,0d,1)-136"),
    ("Dask", "shape-linspace(0d,0d,0)-137"),
    ("Dask", "shape-linspace(2,3x1,3)-138"),
    ("Dask", "shape-linspace(0d,0d,4)-139"),
    ("Dask", "shape-geomspace-142"),
    ("Dask", "shape-geomspace-axis-143"),
    ("Dask", "shape-geomspace-negative-144"),
    ("Dask", "product-inner(2x5x3,3)-28"),
    ("Dask", "product-convolve(0d,3)-82"),
    ("Dask", "indexing-getitem-0d-newaxis-6"),
    ("Dask", "indexing-getitem-mask-13"),
    ("Dask", "indexing-take(3x4,7)-22"),
    ("Dask", "indexing-interp(2x3,array([0.  , 1.  , 1.5 , 2.25, 3.  ]),5)-52"),
    ("Dask", "indexing-interp-traced-sample-points-53"),
}


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
