"""The NumPy front end's own spec tables, run a second time through ``jit``.

Every row of the ufunc, reduction, shape, product and indexing tables is compiled once
and evaluated at two points: ``jit(f)`` and ``jit(grad(loss))`` must agree with eager
evaluation to 1e-12, and the second point must neither recompile nor fall back to eager
evaluation (so no value may be frozen at the first, and no branch taken on it). A row
whose derivative rule reads a traced value concretely cannot be staged; staging refuses it
with an error naming the rule. Rules known to do so (``KNOWN_GAPS``) have their rows
marked xfail with that location so the gap stays visible; any other rule doing so fails.
A function whose result dtype depends on the values (``real_if_close`` on complex input)
cannot be compiled at all: a row reaching one is xfail with that reason (these real tables
reach none; ``test_compile_value_reads.py`` checks that error).
"""

from __future__ import annotations

import re

import numpy as onp
import pytest
from test_numpy_indexing import INDEXING_SPECS
from test_numpy_products import PRODUCT_SPECS
from test_numpy_reductions import REDUCTIONS
from test_numpy_shape import SHAPE_SPECS, A, L, spec_id
from test_numpy_ufuncs import OPS

import matdiff.numpy as np
from matdiff import grad
from matdiff.compile import StagingError, jit
from matdiff.tree import tree_flatten

# A row of the shape table casts complex to real on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:Casting complex values to real")


class Case:
    """``fun`` of the traced arguments that ``make(rng)`` draws."""

    def __init__(self, name, fun, make):
        self.name = name
        self.fun = fun
        self.make = make

    def __repr__(self):
        return self.name


def _ufunc_cases():
    for op in OPS:
        for shapes in op.shapes:
            make = lambda rng, op=op, shapes=shapes: [g(rng, s) for g, s in zip(op.gens, shapes)]
            ident = "-".join("x".join(map(str, s)) or "0d" for s in shapes)
            yield Case(f"{op.name}-{ident}", op.fun, make)


def _reduction_cases():
    for r in REDUCTIONS:
        f = getattr(np, r.name)
        fun = lambda x, f=f, kw=r.kwargs: f(x, **kw)
        kw = ",".join(f"{k}={v}" for k, v in r.kwargs.items()) or "default"
        shape = "x".join(map(str, r.shape)) or "0d"
        yield Case(
            f"{r.name}-{shape}-{kw}-{r.gen.__name__}", fun, lambda rng, r=r: [r.gen(rng, r.shape)]
        )


def _spec_cases(specs):
    for spec in specs:
        dyn = [i for i, a in enumerate(spec.args) if isinstance(a, (A, L))]
        mfun = getattr(np, spec.fun) if isinstance(spec.fun, str) else spec.fun

        def fun(*d, spec=spec, dyn=dyn, mfun=mfun):
            full = list(spec.args)
            for i, v in zip(dyn, d):
                full[i] = v
            return mfun(*full, **spec.kwargs)

        make = lambda rng, spec=spec, dyn=dyn: [spec.args[i].make(rng) for i in dyn]
        yield Case(spec_id(spec), fun, make)


CASES = [
    *_ufunc_cases(),
    *_reduction_cases(),
    *_spec_cases(SHAPE_SPECS),
    *_spec_cases(PRODUCT_SPECS),
    *_spec_cases(INDEXING_SPECS),
]


def _real_float(x) -> bool:
    return onp.result_type(x).kind == "f"


def _assert_close(got, want):
    got_leaves, want_leaves = tree_flatten(got)[0], tree_flatten(want)[0]
    assert len(got_leaves) == len(want_leaves)
    for g, w in zip(got_leaves, want_leaves):
        g, w = onp.asarray(g), onp.asarray(w)
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, w.shape, g.dtype, w.dtype)
        scale = float(onp.max(onp.abs(w))) if w.size and w.dtype.kind in "fc" else 0.0
        onp.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12 * scale)


def _loss(fun):
    def loss(*args):
        total = 0.0
        for leaf in tree_flatten(fun(*args))[0]:
            if onp.result_type(leaf).kind == "f":
                total = total + np.sum(np.sin(leaf))
        return total

    return loss


# Rules known to read a traced value concretely, so that their rows cannot be staged yet:
# those rows xfail, naming the rule. Any other rule doing so is a regression, and fails.
KNOWN_GAPS = ("take_along_axis", "select")


def _staged_or_xfail(call):
    try:
        return call()
    except StagingError as e:
        msg = str(e)
        dtype_gap = re.search(r"jit: (\w+) .*the dtype of its result depends on the values", msg)
        if dtype_gap is not None:
            pytest.xfail(
                f"{dtype_gap.group(1)}'s result dtype depends on its argument's values, which a "
                "compiled function cannot have"
            )
        where = re.search(r"asked inside matdiff \((.*? in (\w+))\)", msg)
        if where is None or where.group(2) not in KNOWN_GAPS:
            raise
        pytest.xfail(f"the derivative rule at {where.group(1)} reads a traced value concretely")


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_table_row_through_jit(case):
    points = [case.make(onp.random.default_rng(seed)) for seed in (0, 1)]
    jf = jit(case.fun)
    for args in points:
        _assert_close(_staged_or_xfail(lambda args=args: jf(*args)), case.fun(*args))
    assert jf.trace_count == 1
    assert jf.fallback_count == 0

    leaves = tree_flatten(points[0])[0]
    if not leaves or not all(_real_float(x) for x in leaves):
        return  # complex and integer rows are checked for values above
    if not any(_real_float(o) for o in tree_flatten(case.fun(*points[0]))[0]):
        return
    g = grad(_loss(case.fun), argnums=tuple(range(len(points[0]))))
    jg = jit(g)
    for args in points:
        _assert_close(_staged_or_xfail(lambda args=args: jg(*args)), g(*args))
    assert jg.trace_count == 1
    assert jg.fallback_count == 0
