"""ufunc methods on traced values: ``np.add.reduce``, ``np.maximum.accumulate``,
``np.multiply.outer``, ``np.add.reduceat`` have NumPy's values and derivatives in both
modes, from matdiff.numpy and from raw NumPy alike; ``at`` is refused by name."""

from __future__ import annotations

import numpy as onp
import pytest

import matdiff.numpy as np
from matdiff import grad, jacfwd, jit
from matdiff.test_util import check_grads

RNG = onp.random.default_rng(0)
A = RNG.uniform(0.5, 2.0, (3, 4))
B = RNG.uniform(0.5, 2.0, (2,))

pytestmark = pytest.mark.filterwarnings("ignore:grad. the output of")

DIFFERENTIABLE = ["add", "subtract", "multiply", "divide", "maximum", "minimum", "hypot",
                  "logaddexp", "power", "fmax", "arctan2"]  # fmt: skip

REDUCE_ARGS = [{}, {"axis": 1}, {"axis": -1, "keepdims": True}, {"axis": None}, {"axis": (0, 1)}]


def _reorderable(name, kwargs):
    # NumPy reduces over several axes only for reorderable ufuncs.
    try:
        getattr(onp, name).reduce(A, **kwargs)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("kwargs", REDUCE_ARGS, ids=str)
@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_reduce(name, kwargs):
    if not _reorderable(name, kwargs):
        pytest.skip("NumPy refuses several axes for this ufunc")

    def f(a):
        return getattr(np, name).reduce(a, **kwargs)

    onp.testing.assert_allclose(f(A), getattr(onp, name).reduce(A, **kwargs), rtol=1e-13)
    axis = kwargs.get("axis", 0)
    u = getattr(onp, name)
    if isinstance(axis, int) and not onp.allclose(
        u.reduce(A, axis=axis), onp.take(u.accumulate(A, axis=axis), -1, axis=axis)
    ):
        # NumPy 2 reorders power's and arctan2's folds: its value is not the documented one.
        with pytest.raises(ValueError, match=f"numpy.{name}.reduce returns a value here that is "
                           "not the fold"):  # fmt: skip
            grad(lambda a: onp.sum(f(a)))(A)
        return
    check_grads(f, modes=["fwd", "rev"], order=2)(A)


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_accumulate(name, axis):
    def f(a):
        return getattr(np, name).accumulate(a, axis=axis)

    onp.testing.assert_allclose(f(A), getattr(onp, name).accumulate(A, axis=axis), rtol=1e-13)
    check_grads(f, modes=["fwd", "rev"], order=2)(A)


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_outer(name):
    def f(a, b):
        return getattr(np, name).outer(a, b)

    onp.testing.assert_allclose(f(A, B), getattr(onp, name).outer(A, B), rtol=1e-13)
    check_grads(f, modes=["fwd", "rev"], order=2)(A, B)


@pytest.mark.parametrize("indices", [[0, 2], [1, 3, 3, 0], [3]])
@pytest.mark.parametrize("name", ["add", "multiply", "maximum", "subtract"])
def test_reduceat(name, indices):
    def f(a):
        return getattr(np, name).reduceat(a, indices, axis=1)

    expected = getattr(onp, name).reduceat(A, indices, axis=1)
    onp.testing.assert_allclose(f(A), expected, rtol=1e-13)
    check_grads(f, modes=["fwd", "rev"], order=2)(A)


def test_reduce_with_initial_and_dtype():
    def f(a, s):
        return np.add.reduce(a, axis=0, initial=s) + np.multiply.reduce(a, initial=s)

    onp.testing.assert_allclose(
        f(A, 3.0), onp.add.reduce(A, axis=0, initial=3.0) + onp.multiply.reduce(A, initial=3.0)
    )
    check_grads(f, modes=["fwd", "rev"], order=2)(A, 3.0)
    check_grads(lambda a: np.subtract.reduce(a, initial=1.5), modes=["fwd", "rev"], order=2)(A)
    assert np.add.reduce(A, dtype=onp.float32).dtype == onp.float32


def test_running_max_shares_ties_as_max():
    x = onp.array([3.0, 1.0, 3.0, 2.0])
    # out = [3, 3, 3, 3]; out[2] and out[3] see the tie of x[0] and x[2] and split evenly.
    for f in (np.maximum.accumulate, onp.maximum.accumulate):
        onp.testing.assert_array_equal(grad(lambda x, f=f: np.sum(f(x)))(x), [3, 0, 1, 0])
        onp.testing.assert_array_equal(jacfwd(lambda x, f=f: np.sum(f(x)))(x), [3, 0, 1, 0])
    onp.testing.assert_array_equal(
        grad(lambda x: np.sum(np.minimum.accumulate(-x)))(x), [-3.0, 0.0, -1.0, 0.0]
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda m, a, b: m.add.reduce(a, axis=1),
        lambda m, a, b: m.multiply.reduce(a),
        lambda m, a, b: m.maximum.reduce(a, axis=0),
        lambda m, a, b: m.subtract.reduce(a, axis=1),
        lambda m, a, b: m.add.accumulate(a, axis=1),
        lambda m, a, b: m.multiply.accumulate(a),
        lambda m, a, b: m.maximum.accumulate(a, axis=1),
        lambda m, a, b: m.minimum.accumulate(a),
        lambda m, a, b: m.add.outer(a, b),
        lambda m, a, b: m.multiply.outer(b, a),
        lambda m, a, b: m.add.reduceat(a, [0, 2], axis=1),
    ],
)
def test_raw_numpy_methods_match_matdiff(call):
    # numpy.add.reduce(box) reaches ArrayBox.__array_ufunc__ with method "reduce".
    def ours(a, b):
        return np.sum(call(np, a, b) ** 2)

    def raw(a, b):
        return np.sum(call(onp, a, b) ** 2)

    for argnum in (0, 1):
        onp.testing.assert_array_equal(
            grad(raw, argnum)(A, B), grad(ours, argnum)(A, B), err_msg=f"argnum {argnum}"
        )


@pytest.mark.parametrize("module", [np, onp], ids=["matdiff", "numpy"])
def test_at_is_refused_with_the_functional_form(module):
    with pytest.raises(TypeError, match=r"numpy\.add\.at changes its first argument in place.*"
                       r"np\.scatter_add\(b, a\.shape, indices, a\.dtype\)"):  # fmt: skip
        grad(lambda x: np.sum(module.add.at(x, [0, 0], 1.0)))(onp.ones(3))
    with pytest.raises(TypeError, match=r"numpy\.multiply\.at changes .* np\.where\(mask"):
        grad(lambda x: module.multiply.at(onp.ones(3), [0], x))(2.0)


def test_functional_form_named_for_add_at():
    x = onp.array([1.0, 2.0, 3.0])
    idx = onp.array([0, 0, 2])

    def f(x):
        b = x[:3] ** 2
        return np.sum((x + np.scatter_add(b, x.shape, idx, x.dtype)) ** 2)

    ref = x.copy()
    onp.add.at(ref, idx, x**2)
    onp.testing.assert_allclose(f(x), onp.sum(ref**2))
    check_grads(f, modes=["fwd", "rev"], order=2)(x)


def test_out_and_where_are_refused():
    with pytest.raises(TypeError, match=r"add\.reduce on a traced value does not support out="):
        grad(lambda x: np.add.reduce(x, out=onp.zeros(())))(onp.ones(3))
    with pytest.raises(TypeError, match=r"add\.reduce on a traced value does not support where="):
        grad(lambda x: np.add.reduce(x, where=onp.array([True, False, True])))(onp.ones(3))


def test_plain_values_are_numpy_and_nondifferentiable_ufuncs_are_constants():
    onp.testing.assert_array_equal(
        np.add.reduceat(A, [0, 2], axis=1), onp.add.reduceat(A, [0, 2], axis=1)
    )
    y = onp.zeros(3)
    np.add.at(y, [0, 0], 1.0)  # in place on a plain array, as NumPy
    onp.testing.assert_array_equal(y, [2.0, 0.0, 0.0])
    assert (np.add.nin, np.add.nout, np.add.identity, np.maximum.identity) == (2, 1, 0, None)

    def f(x):
        mask = np.greater.outer(x, x)  # a constant: comparisons carry no derivative
        return np.sum(np.where(mask, x, 0.0)) + np.logical_and.reduce(x > 0)

    onp.testing.assert_array_equal(grad(f)(onp.array([1.0, 2.0, 3.0])), [2.0, 1.0, 0.0])


def test_methods_keep_numpy_errors():
    with pytest.raises(ValueError, match="reduce only supported for binary functions"):
        grad(lambda x: np.sin.reduce(x))(onp.ones(3))


def test_running_extremum_is_linear_in_memory_and_compiles():
    # The derivative is built in O(n) per slice: a million entries would need 8 TB as an
    # n x n prefix table.
    x = onp.random.default_rng(3).standard_normal(1_000_000)
    g = grad(lambda v: np.sum(np.maximum.accumulate(v)))(x)
    running = onp.maximum.accumulate(x)
    # each output's derivative goes to where its running maximum was set
    onp.testing.assert_array_equal(g, onp.bincount(_last_new_max(x, running), minlength=x.size))
    ties = onp.array([1.0, 3.0, 3.0, 2.0, 5.0, 5.0, 5.0, 0.0])
    f = lambda v: np.sum(np.maximum.accumulate(v) * onp.arange(1.0, 9.0))
    compiled = jit(grad(f))
    for v in (ties, ties[::-1].copy(), -ties):
        onp.testing.assert_allclose(compiled(v), grad(f)(v), rtol=1e-15)
    assert compiled.trace_count == 1
    onp.testing.assert_array_equal(
        np.maximum.accumulate(onp.array([-onp.inf, 1.0, onp.nan, 2.0])),
        onp.maximum.accumulate(onp.array([-onp.inf, 1.0, onp.nan, 2.0])),
    )


def _last_new_max(x, running):
    # index of the entry that set each running maximum (no ties in a continuous draw)
    new = onp.r_[True, running[1:] != running[:-1]]
    return onp.maximum.accumulate(onp.where(new, onp.arange(x.size), 0))


def test_ufuncs_under_a_second_numpy_name_keep_the_methods():
    # radians and degrees are NumPy ufuncs of their own beside deg2rad and rad2deg
    for name in ("radians", "degrees", "deg2rad", "rad2deg"):
        f = getattr(np, name)
        assert all(hasattr(f, m) for m in ("reduce", "accumulate", "outer", "nin")), name
        assert f.nin == getattr(onp, name).nin == 1
    with pytest.raises(ValueError, match="binary"):  # as NumPy's own unary ufunc says
        np.radians.outer(onp.ones(2), onp.ones(2))
