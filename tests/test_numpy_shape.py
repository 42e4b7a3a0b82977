"""Shape functions of matdiff.numpy: one spec table drives value and derivative checks.

Each row names a matdiff.numpy function and its arguments. ``A(shape)`` is a random
float64 array (differentiated), ``Z(shape)`` a random complex one, ``L(...)`` a list of
such arrays (every element differentiated); anything else is passed as is (static).
Every row checks the value against NumPy's function of the same name, then
``check_grads`` in both modes to order 2. ``test_numpy_products.py`` and
``test_numpy_indexing.py`` reuse this runner with their own tables.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any

import numpy as onp
import pytest

import matdiff.numpy as np
from matdiff import grad, jacobian, jvp
from matdiff.numpy._wrap import all_wrapped
from matdiff.test_util import check_grads
from matdiff.tracer import isbox


@dataclass(frozen=True)
class A:
    """A random real array argument that is differentiated."""

    shape: tuple

    def __init__(self, *shape):
        object.__setattr__(self, "shape", shape)

    def make(self, rng):
        return rng.standard_normal(self.shape)


class Z(A):
    """A random complex array argument that is differentiated."""

    def make(self, rng):
        return rng.standard_normal(self.shape) + 1j * rng.standard_normal(self.shape)


@dataclass(frozen=True)
class L:
    """A list of array arguments, each differentiated (``concatenate([x, y])``)."""

    items: tuple

    def __init__(self, *items):
        object.__setattr__(self, "items", items)

    def make(self, rng):
        return [a.make(rng) for a in self.items]


@dataclass
class Spec:
    """One row: ``fun`` (a matdiff.numpy name or a callable) applied to ``args``."""

    fun: Any
    args: tuple
    kwargs: dict = field(default_factory=dict)
    ref: Any = None
    id: str = ""

    @property
    def name(self) -> str:
        return self.fun if isinstance(self.fun, str) else self.fun.__name__


def S(fun, *args, ref=None, id="", **kwargs) -> Spec:
    return Spec(fun, args, kwargs, ref, id)


def spec_id(spec: Spec) -> str:
    return spec.id or spec.name + "(" + ",".join(_describe(a) for a in spec.args) + ")"


def _describe(a) -> str:
    if isinstance(a, Z):
        return "c" + "x".join(map(str, a.shape))
    if isinstance(a, A):
        return "x".join(map(str, a.shape)) or "0d"
    if isinstance(a, L):
        return "[" + ";".join(_describe(b) for b in a.items) + "]"
    return repr(a)


def _leaves(x):
    if isinstance(x, (list, tuple)):
        out = []
        for y in x:
            out += _leaves(y)
        return out
    return [x]


def run_spec(spec: Spec, seed: int = 0) -> None:
    """Check the value against NumPy, then both modes to order 2 with check_grads."""
    rng = onp.random.default_rng(seed)
    dyn_pos = [i for i, a in enumerate(spec.args) if isinstance(a, (A, L))]
    values = [a.make(rng) if i in dyn_pos else a for i, a in enumerate(spec.args)]
    mfun = getattr(np, spec.fun) if isinstance(spec.fun, str) else spec.fun
    ref = spec.ref or (getattr(onp, spec.fun) if isinstance(spec.fun, str) else spec.fun)

    def f(*dyn):
        full = list(values)
        for i, d in zip(dyn_pos, dyn):
            full[i] = d
        return mfun(*full, **spec.kwargs)

    ours, theirs = _leaves(f(*[values[i] for i in dyn_pos])), _leaves(ref(*values, **spec.kwargs))
    assert len(ours) == len(theirs)
    for o, t in zip(ours, theirs):
        assert not isbox(o)
        assert onp.shape(o) == onp.shape(t), (onp.shape(o), onp.shape(t))
        assert onp.result_type(o) == onp.result_type(t)
        onp.testing.assert_allclose(o, t, rtol=1e-12, atol=1e-12)
    check_grads(f, modes=("fwd", "rev"), order=2)(*[values[i] for i in dyn_pos])


def _geomspace_exp(a, b, *args, **kwargs):
    # Positive end points, as geomspace needs; traced through exp.
    return np.geomspace(np.exp(a), np.exp(b), *args, **kwargs)


def _geomspace_exp_ref(a, b, *args, **kwargs):
    return onp.geomspace(onp.exp(a), onp.exp(b), *args, **kwargs)


def _geomspace_neg_ref(a, b):
    return onp.geomspace(-a * a - 1, -b * b - 1, 5)


SHAPE_SPECS = [
    S("reshape", A(2, 3), (3, 2)),
    S("reshape", A(2, 3), (-1,), order="F"),
    S("reshape", A(), (1, 1)),
    S("reshape", A(0, 3), (3, 0)),
    S("ravel", A(2, 3)),
    S("ravel", A(2, 3), order="F"),
    S("transpose", A(2, 3)),
    S("transpose", A(2, 3, 4), (2, 0, 1)),
    S("transpose", A(2, 3, 4), (-1, 0, -2)),
    S("moveaxis", A(2, 3, 4), 0, -1),
    S("moveaxis", A(2, 3, 4), (0, -1), (2, 0)),
    S("swapaxes", A(2, 3, 4), 0, -1),
    S("expand_dims", A(2, 3), 1),
    S("expand_dims", A(2, 3), (0, -1)),
    S("expand_dims", A(), 0),
    S("squeeze", A(1, 3, 1)),
    S("squeeze", A(1, 3, 1), axis=-1),
    S("squeeze", A(1, 1)),
    S("broadcast_to", A(3, 1), (2, 3, 4)),
    S("broadcast_to", A(), (2, 2)),
    S("broadcast_to", A(1, 3), (2, 3)),
    S("broadcast_arrays", A(2, 1), A(3), A()),
    S("matrix_transpose", A(4, 2, 3)),
    S("concatenate", L(A(2, 3), A(1, 3), A(0, 3))),
    S("concatenate", L(A(2, 3), A(2, 1)), axis=-1),
    S("concatenate", L(A(2, 3), A(4)), axis=None),
    S("concatenate", L(A(2, 3))),
    S("stack", L(A(2, 3), A(2, 3))),
    S("stack", L(A(2, 3), A(2, 3), A(2, 3)), axis=-1),
    S("stack", L(A(), A())),
    S("hstack", L(A(2), A(3))),
    S("hstack", L(A(2, 3), A(2, 1))),
    S("vstack", L(A(3), A(2, 3))),
    S("vstack", L(A(), A(1))),
    S("dstack", L(A(2, 3), A(2, 3, 2))),
    S("dstack", L(A(3), A(3))),
    S("column_stack", L(A(3), A(3, 2))),
    S("split", A(6, 2), 3),
    S("split", A(2, 5), [1, 3], axis=-1),
    S("split", A(4), [1, 1, 9]),
    S("array_split", A(5, 2), 2),
    S("array_split", A(2, 7), 3, axis=1),
    S("hsplit", A(2, 4), 2),
    S("hsplit", A(4), [1]),
    S("vsplit", A(4, 2), [1]),
    S("dsplit", A(1, 2, 4), 2),
    S("tile", A(2, 3), 2),
    S("tile", A(2, 3), (2, 1, 3)),
    S("tile", A(3), (2, 2)),
    S("tile", A(), 3),
    S("repeat", A(2, 3), 2),
    S("repeat", A(2, 3), 2, axis=0),
    S("repeat", A(2, 3), [1, 0, 3], axis=-1),
    S("repeat", A(), 3),
    S("flip", A(2, 3)),
    S("flip", A(2, 3, 4), axis=(0, -1)),
    S("flip", A()),
    S("fliplr", A(2, 3)),
    S("flipud", A(3)),
    S("roll", A(5), 2),
    S("roll", A(2, 3), -1),
    S("roll", A(3, 4), (1, -1), axis=(0, 1)),
    S("roll", A(3, 4), (1, 2), axis=(1, 1)),
    S("roll", A(3, 4), 3, axis=0),
    S("rot90", A(2, 3)),
    S("rot90", A(2, 3), 2),
    S("rot90", A(2, 3, 4), 3, axes=(2, 0)),
    S("rot90", A(2, 3), -1, axes=(1, 0)),
    S("pad", A(3), 2),
    S("pad", A(2, 3), ((1, 0), (2, 1))),
    S("pad", A(2, 3), 1, constant_values=1.5),
    S("pad", A(2, 3), ((0, 1), (2, 0)), mode="edge"),
    S("pad", A(3, 4), 2, mode="reflect"),
    S("pad", A(3, 4), (1, 3), mode="symmetric"),
    S("pad", A(3, 4), 5, mode="wrap"),
    S("diag", A(3)),
    S("diag", A(3), 1),
    S("diag", A(3), -2),
    S("diag", A(3, 4)),
    S("diag", A(3, 4), 2),
    S("diag", A(4, 3), -1),
    S("diagonal", A(3, 3)),
    S("diagonal", A(3, 4), 1),
    S("diagonal", A(3, 2, 4), -1, 0, 2),
    S("diagonal", A(2, 3, 3), 0, -1, -2),
    S("diagonal", A(2, 2), 5),
    S("diagflat", A(2, 2)),
    S("diagflat", A(3), -1),
    S("trace", A(3, 3)),
    S("trace", A(3, 4), 1),
    S("trace", A(2, 3, 3), 0, 1, 2),
    S("tril", A(3, 3)),
    S("tril", A(2, 3, 4), -1),
    S("tril", A(3)),
    S("triu", A(3, 4), 1),
    S("triu", A(2, 3, 3)),
    S("atleast_1d", A()),
    S("atleast_1d", A(2, 3)),
    S("atleast_1d", A(), A(3)),
    S("atleast_2d", A()),
    S("atleast_2d", A(3)),
    S("atleast_2d", A(2, 3, 4)),
    S("atleast_3d", A()),
    S("atleast_3d", A(3)),
    S("atleast_3d", A(2, 3)),
    S("astype", A(2, 3), onp.complex128),
    S("astype", Z(2, 3), onp.float64),
    S("astype", A(3), onp.float64),
    S("copy", A(2, 3)),
    S("copy", A()),
    S("rollaxis", A(2, 3, 4), 2),
    S("rollaxis", A(2, 3, 4), -1, 1),
    S("rollaxis", A(2, 3, 4), 0, 3),
    S("rollaxis", A(2, 3), 1, 1),
    S("diff", A(5)),
    S("diff", A(4, 5), 2, axis=0),
    S("diff", A(3, 4), axis=-1, prepend=0.5),
    S("diff", A(3, 4), 1, 0, A(1, 4), A(2, 4)),
    S("diff", A(3), 0),
    S("ediff1d", A(2, 3)),
    S("ediff1d", A(4), A(2), A()),
    S("gradient", A(5)),
    S("gradient", A(4, 5), 0.5),
    S("gradient", A(4, 5), A(), A(), edge_order=2),
    S("gradient", A(3, 4), axis=-1, edge_order=2),
    S("gradient", A(3, 4), onp.array([0.0, 0.5, 1.75, 2.0]), axis=1),
    S("gradient", A(3, 4), onp.array([0.0, 0.5, 1.75, 2.0]), axis=1, edge_order=2),
    S("gradient", A(2, 3)),
    S("append", A(3), A()),
    S("append", A(2, 3), A(1, 3), axis=0),
    S("append", A(2, 3), A(4)),
    S("meshgrid", A(3), A(2)),
    S("meshgrid", A(3), A(2), A(4), indexing="ij"),
    S("meshgrid", A(3), A(2, 2), sparse=True),
    S("linspace", A(), A(), 5),
    S("linspace", A(), A(), 4, endpoint=False),
    S("linspace", A(), A(), 1),
    S("linspace", A(), A(), 0),
    S("linspace", A(2), A(3, 1), 3, axis=-1),
    S("linspace", A(), A(), 4, retstep=True),
    S("logspace", A(), A(), 4),
    S("logspace", A(2), A(), 3, base=2.0, axis=1),
    S(_geomspace_exp, A(), A(), 4, ref=_geomspace_exp_ref, id="geomspace"),
    S(
        _geomspace_exp,
        A(2),
        A(),
        3,
        endpoint=False,
        axis=-1,
        ref=_geomspace_exp_ref,
        id="geomspace-axis",
    ),
    S(
        lambda a, b: np.geomspace(-a * a - 1, -b * b - 1, 5),
        A(),
        A(),
        ref=_geomspace_neg_ref,
        id="geomspace-negative",
    ),
    S("vander", A(3)),
    S("vander", A(3), 4, increasing=True),
    S("vander", A(2), 1),
    S("resize", A(3), (2, 2)),
    S("resize", A(2, 3), (4, 5)),
    S("resize", A(2, 3), 4),
    S("resize", A(3), (0, 2)),
    S("full", (2, 3), A()),
    S("full", (2, 3), A(3)),
    S("make_diagonal", A(4), ref=lambda d: onp.diag(d)),
    S(
        "make_diagonal",
        A(3, 4),
        1,
        -1,
        -2,
        ref=lambda d, k, a1, a2: onp.stack([onp.diag(r, k).T for r in d]),
    ),
]

SHAPE_FUNCTIONS = """reshape ravel transpose moveaxis swapaxes expand_dims squeeze broadcast_to
concatenate stack hstack vstack dstack column_stack split array_split tile repeat flip fliplr
flipud roll rot90 pad diag diagonal trace tril triu atleast_1d atleast_2d atleast_3d astype
copy rollaxis diff ediff1d gradient append meshgrid linspace logspace full make_diagonal
resize vander""".split()


@pytest.mark.filterwarnings("ignore:Casting complex values to real")
@pytest.mark.parametrize("spec", SHAPE_SPECS, ids=spec_id)
def test_shape_function(spec):
    run_spec(spec)


def test_table_covers_every_shape_function():
    covered = {s.name for s in SHAPE_SPECS}
    assert set(SHAPE_FUNCTIONS) - covered == set()
    for name in SHAPE_FUNCTIONS:
        assert name in all_wrapped, name


def test_astype_float32_round_trip_keeps_dtypes():
    x = onp.array([1.0, 2.0], dtype=onp.float32)
    g = grad(lambda x: np.sum(np.astype(x, onp.float64) ** 2))(x)
    assert g.dtype == onp.float32
    onp.testing.assert_allclose(g, 2 * x)


def test_astype_to_integer_is_a_constant():
    def f(x):
        k = np.astype(x, onp.int64)
        assert not isbox(k) and k.dtype == onp.int64
        return np.sum(x * k)

    x = onp.array([1.5, 2.5])
    onp.testing.assert_allclose(grad(f)(x), [1.0, 2.0])


def test_split_returns_traced_pieces_each_differentiated():
    def f(x):
        a, b, c = np.split(x, 3)
        return np.sum(a * 1.0 + b * 2.0 + c * 3.0)

    onp.testing.assert_allclose(grad(f)(onp.zeros(6)), [1, 1, 2, 2, 3, 3])


def test_repeated_pieces_accumulate():
    # x appears twice in the concatenation and tile copies it: cotangents add up.
    x = onp.array([1.0, 2.0])
    onp.testing.assert_allclose(grad(lambda x: np.sum(np.concatenate([x, x, 2.0 * x])))(x), [4, 4])
    onp.testing.assert_allclose(grad(lambda x: np.sum(np.tile(x, (2, 3))))(x), [6, 6])


def test_stack_of_a_traced_and_a_constant_forward_mode():
    out, t = jvp(lambda x: np.stack([x, onp.ones(2)]), (onp.zeros(2),), (onp.ones(2),))
    onp.testing.assert_allclose(out, [[0, 0], [1, 1]])
    onp.testing.assert_allclose(t, [[1, 1], [0, 0]])


def test_pad_traced_constant_values():
    f = lambda c: np.sum(np.pad(onp.ones((2, 2)), 1, constant_values=c))
    assert float(grad(f)(0.5)) == 12.0
    check_grads(lambda x, c: np.pad(x, ((1, 2), (0, 1)), constant_values=c), order=2)(
        onp.ones((2, 3)), 0.3
    )


def test_pad_other_modes_work_untraced():
    x = onp.arange(4.0)
    onp.testing.assert_array_equal(np.pad(x, 2, mode="mean"), onp.pad(x, 2, mode="mean"))


def test_jacobian_of_transpose_is_a_permutation():
    J = jacobian(lambda x: np.transpose(x))(onp.zeros((2, 3)))
    assert J.shape == (3, 2, 2, 3)
    assert J.sum() == 6 and J[1, 0, 0, 1] == 1


def test_methods_match_functions():
    x = onp.random.default_rng(0).standard_normal((2, 3))
    check_grads(lambda x: x.reshape(3, 2).T.ravel(), order=2)(x)
    check_grads(lambda x: x.reshape((1, 6)).squeeze().flatten(), order=2)(x)
    check_grads(lambda x: x.transpose(1, 0).swapaxes(0, 1), order=2)(x)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda x: np.squeeze(x, axis=0), r"squeeze: axis 0 has length 2.*reshape"),
        (lambda x: np.concatenate([x, x[0, 0]]), r"concatenate: element 1 is 0-dimensional.*stack"),
        (lambda x: np.concatenate([]), r"concatenate: need at least one array"),
        (lambda x: np.stack([]), r"stack: need at least one array"),
        (lambda x: np.pad(x, 1, mode="mean"), r"pad: mode='mean'.*'constant', 'edge'"),
        (
            lambda x: np.pad(x, 1, mode="reflect", reflect_type="odd"),
            r"pad: mode='reflect'.*reflect_type='even'",
        ),
        (lambda x: np.pad(x, 1, constant_values=x[0]), r"pad: a traced constant_values must be"),
        (lambda x: np.diag(x[None]), r"diag: the input must be 1-D or 2-D, got 3"),
        (lambda x: np.diagonal(x[0]), r"diagonal: needs an array of at least 2 dimensions"),
        (lambda x: np.diagonal(x, 0, 1, -1), r"diagonal: axis1 and axis2 must be different"),
        (lambda x: np.fliplr(x[0]), r"fliplr: the input must have at least 2 dimensions"),
        (lambda x: np.flipud(x[0, 0]), r"flipud: the input must have at least 1 dimension"),
        (lambda x: np.rot90(x, axes=(1, 1)), r"rot90: the two axes must be different"),
        (lambda x: np.rot90(x, axes=(0,)), r"rot90: len\(axes\) must be 2"),
        (lambda x: np.rot90(x, axes=(0, 5)), r"rot90: axes=\(0, 5\) are out of range"),
        (lambda x: np.repeat(x, -1), r"repeat: repeats must be non-negative"),
        (lambda x: np.tril(x[0, 0]), r"tril: needs an array of at least 1 dimension"),
        (lambda x: np.moveaxis(x, (0, 1), 0), r"moveaxis: `source` and `destination`"),
        (lambda x: np.split(x, 3), r"array split does not result in an equal division"),
        (lambda x: np.dsplit(x, 2), r"dsplit: needs an array of at least 3 dimensions, got 2"),
    ],
)
def test_shape_errors_name_the_function_and_the_fix(call, match):
    with pytest.raises((ValueError, TypeError, NotImplementedError), match=match):
        grad(lambda x: np.sum(call(x)))(onp.ones((2, 2)))


def test_squeeze_methods_and_operator_getitem_are_the_same_rule():
    # operator.getitem on a traced value goes through the getitem primitive.
    x = onp.arange(6.0).reshape(2, 3)
    g = grad(lambda x: np.sum(operator.getitem(x, (slice(None), 1)) ** 2))(x)
    onp.testing.assert_allclose(g, [[0, 2, 0], [0, 8, 0]])


def test_every_primitive_here_has_both_rules():
    import importlib

    from matdiff.core import jvp_rules, vjp_rules

    seen = set()
    for name in ("manipulation", "products", "indexing", "construction"):
        module = importlib.import_module(f"matdiff.numpy.{name}")
        for f in vars(module).values():
            if getattr(f, "_is_primitive", False):
                seen.add(f.__name__)
                assert f in vjp_rules and f in jvp_rules, f"{f.__name__} lacks a rule table"
    # The primitives the rest is built from; all others are compositions of these.
    assert {"reshape", "transpose", "getitem", "scatter_add", "_einsum", "matmul"} <= seen


@pytest.mark.parametrize("join", [np.stack, np.concatenate, np.hstack, np.vstack, np.column_stack])
def test_a_real_array_joined_with_a_complex_one_has_a_real_gradient(join):
    x, z = onp.array([1.0, 2.0]), onp.array([1j, 2.0])
    g = grad(lambda x: np.real(np.sum(join([x, z]) ** 2)))(x)
    assert g.dtype == onp.float64
    onp.testing.assert_allclose(g, 2 * x)
    check_grads(lambda x: np.real(join([x, z]) ** 2), order=2)(x)


@pytest.mark.parametrize("join", ["stack", "concatenate"])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_joining_one_array_differentiates_as_the_array(join, axis):
    # One array joined is the whole answer: its tangent is joined as it is, no zeros.
    x = onp.random.default_rng(1).standard_normal((2, 3))
    f = getattr(np, join)
    check_grads(lambda x: np.sin(f([x], axis=axis)), modes=("fwd", "rev"), order=2)(x)
    t = jvp(lambda x: f([x], axis=axis), (x,), (onp.ones_like(x),))[1]
    onp.testing.assert_array_equal(t, getattr(onp, join)([onp.ones_like(x)], axis=axis))
