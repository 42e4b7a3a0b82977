"""The traced array: operators, attributes and methods behave as on an ndarray, and their
derivatives are right (one spec table, both modes to order 2); concrete values; errors."""

from __future__ import annotations

import operator as op

import numpy as onp
import pytest
from test_numpy_shape import A, S, Z, run_spec, spec_id

import matdiff.numpy as np
from matdiff import grad, jvp, stop_gradient
from matdiff.numpy._wrap import all_wrapped
from matdiff.tracer import isbox

ONES3 = onp.ones(3)


def needs(*names):
    """Skip a row whose method calls a matdiff.numpy function that is not wrapped yet."""
    missing = [n for n in names if n not in all_wrapped]
    return pytest.mark.skipif(
        bool(missing),
        reason=f"matdiff.numpy has no wrapper for {missing} yet (ufuncs.py and reductions.py add it)",
    )


def P(spec, *names):
    return pytest.param(spec, marks=needs(*names), id=spec_id(spec)) if names else spec


BOX_SPECS = [
    S(op.add, A(2, 3), A(3)),
    S(op.add, A(2, 1), A(1, 3)),
    S(op.add, ONES3, A(2, 3), id="radd-ndarray"),
    S(op.add, 2.0, A(), id="radd-float"),
    S(op.sub, A(2, 3), A(2, 1)),
    S(op.sub, 1.5, A(3), id="rsub-float"),
    S(op.sub, ONES3, A(3), id="rsub-ndarray"),
    S(op.mul, A(), A(2, 3)),
    S(op.mul, A(3), 4.0, id="mul-float"),
    S(op.mul, ONES3 * 2, A(3), id="rmul-ndarray"),
    S(lambda x, y: x / (y * y + 1.0), A(2, 3), A(3), id="truediv"),
    S(lambda y: 3.0 / (y * y + 1.0), A(3), id="rtruediv-float"),
    S(lambda y: ONES3 / (y * y + 1.0), A(3), id="rtruediv-ndarray"),
    S(lambda x: (x * x + 1.0) ** 3, A(3), id="pow-int"),
    S(lambda x, y: (x * x + 1.0) ** y, A(3), A(3), id="pow-array"),
    S(lambda y: 2.0**y, A(3), id="rpow-float"),
    S(op.matmul, A(2, 3), A(3, 2)),
    S(op.matmul, ONES3, A(3, 2), id="rmatmul-ndarray"),
    S(op.matmul, A(4, 2, 3), A(3)),
    S(op.neg, A(2, 3)),
    S(op.pos, A(2, 3)),
    S(op.abs, A(2, 3)),
    S(abs, Z(3), id="abs-complex"),
    S(lambda x: x.T, A(2, 3), id="T"),
    S(lambda x: x.T, A(2, 3, 4), id="T-3d"),
    S(lambda x: x.mT, A(2, 3, 4), id="mT"),
    S(lambda x: x.real, Z(2, 3), id="real"),
    S(lambda x: x.imag, Z(2, 3), id="imag"),
    S(lambda x: x[1:, 0], A(3, 2), id="getitem"),
    S(lambda x: [r for r in x], A(3, 2), id="iter"),
    S(lambda x: x.sum(), A(2, 3), id="sum"),
    S(lambda x: x.sum(axis=-1, keepdims=True), A(2, 3), id="sum-axis-keepdims"),
    S(lambda x: x.mean(axis=0), A(2, 3), id="mean"),
    S(lambda x: x.reshape(3, 2), A(2, 3), id="reshape-varargs"),
    S(lambda x: x.reshape((-1,)), A(2, 3), id="reshape-tuple"),
    S(lambda x: x.transpose(), A(2, 3), id="transpose"),
    S(lambda x: x.transpose(2, 0, 1), A(2, 3, 4), id="transpose-varargs"),
    S(lambda x: x.transpose((1, 0)), A(2, 3), id="transpose-tuple"),
    S(lambda x, y: x.dot(y), A(2, 3), A(3), id="dot"),
    S(lambda x: x.ravel(), A(2, 3), id="ravel"),
    S(lambda x: x.flatten(order="F"), A(2, 3), id="flatten"),
    S(lambda x: x.squeeze(), A(1, 3, 1), id="squeeze"),
    S(lambda x: x.squeeze(axis=0), A(1, 3, 1), id="squeeze-axis"),
    S(lambda x: x.swapaxes(0, -1), A(2, 3, 4), id="swapaxes"),
    S(lambda x: x.astype(onp.complex128), A(2), id="astype"),
    S(lambda x: x.diagonal(1), A(3, 4), id="diagonal"),
    S(lambda x: x.trace(), A(3, 3), id="trace"),
    S(lambda x: x.take([2, 2], axis=1), A(3, 4), id="take"),
    S(lambda x: x.repeat(2, axis=0), A(2, 3), id="repeat"),
    S(lambda x: x.conj(), Z(2, 3), id="conj"),
    S(lambda x: x.conjugate(), Z(2, 3), id="conjugate"),
    P(S(lambda x: x.prod(axis=0), A(2, 3), id="prod"), "prod"),
    P(S(lambda x: x.max(axis=1), A(2, 3), id="max"), "max"),
    P(S(lambda x: x.min(), A(2, 3), id="min"), "min"),
    P(S(lambda x: x.var(axis=0, ddof=1), A(3, 2), id="var"), "var"),
    P(S(lambda x: x.std(keepdims=True), A(3, 2), id="std"), "std"),
    P(S(lambda x: x.cumsum(axis=-1), A(2, 3), id="cumsum"), "cumsum"),
    P(S(lambda x: x.clip(-0.5, 0.5), A(2, 3), id="clip"), "clip"),
    P(S(lambda x: (x + 5.0) % 2.0, A(3), id="mod"), "mod"),
    S(lambda x: x.copy(), A(2, 3), id="copy"),
    S(lambda x: x.compress([True, False, True], axis=1), A(2, 3), id="compress"),
    S(lambda x: x.cumprod(axis=0), A(2, 3), id="cumprod"),
    S(lambda x: x * x.round(1), A(2, 3), id="round"),
]


@pytest.mark.parametrize("spec", BOX_SPECS, ids=spec_id)
def test_box_operator_or_method(spec):
    run_spec(spec)


def test_floor_divide_and_comparisons_carry_no_derivative():
    def f(x):
        for r in (x // 2.0, 7.0 // x, x > 0, x <= 1.0, x == x, x != 0, 0.0 < x, x >= x):
            assert not isbox(r)
        return np.sum(x * (x > 0))

    onp.testing.assert_array_equal(grad(f)(onp.array([-1.0, 2.0])), [0.0, 1.0])


def test_attributes_are_the_values():
    def f(x):
        assert x.shape == (2, 3) and x.ndim == 2 and x.size == 6 and len(x) == 2
        assert x.dtype == onp.float32
        assert x.argmax() == 5 and x.argmin() == 0
        onp.testing.assert_array_equal(x.argsort(axis=0), [[0, 0, 0], [1, 1, 1]])
        assert x.item(5) == 5.0 and x.tolist()[1] == [3.0, 4.0, 5.0]
        assert (x >= 0).all() and (x > 4).any() and not (x > 5).any()
        return np.sum(x)

    grad(f)(onp.arange(6, dtype=onp.float32).reshape(2, 3))


def test_attributes_of_nested_boxes():
    # Inside grad-of-grad the value of a box is another box; attributes read through both.
    def inner(x):
        assert x.dtype == onp.float64 and x.shape == (2,)
        return np.sum(x**3)

    onp.testing.assert_allclose(grad(lambda x: np.sum(grad(inner)(x)))(onp.ones(2)), [6.0, 6.0])


def test_python_control_flow_uses_the_concrete_value():
    f = lambda x: x**2 if x > 0 else -x
    assert float(grad(f)(3.0)) == 6.0
    assert float(grad(f)(-3.0)) == -1.0
    assert float(jvp(f, (3.0,), (1.0,))[1]) == 6.0


def test_float_and_int_of_an_untraced_value_drop_the_derivative():
    # float(x) of a traced x is refused (tests/test_numpy_store_into_array.py); of its
    # untraced value it is a constant: d/dx [x * float(x)] = float(x), not 2x.
    assert float(grad(lambda x: x * float(stop_gradient(x)))(3.0)) == 3.0
    assert float(grad(lambda x: x * int(stop_gradient(x)))(3.5)) == 3.0
    assert float(grad(lambda x: x * complex(stop_gradient(x)).real)(2.0)) == 2.0
    assert float(grad(lambda x: onp.arange(5.0)[x.astype(int)] * x)(3.0)) == 3.0


def test_setitem_explains_why_and_shows_alternatives():
    def f(x):
        x[0] = 1.0
        return np.sum(x)

    with pytest.raises(TypeError) as err:
        grad(f)(onp.ones(3))
    msg = str(err.value)
    assert "assignment into a traced array" in msg and "derivative" in msg
    assert "np.where" in msg and "np.concatenate" in msg and "np.stack" in msg


def test_iterating_a_0d_value_is_an_error():
    with pytest.raises(TypeError, match="len"):
        grad(lambda x: sum(r for r in x))(2.0)


def test_boxes_hash_by_identity():
    def f(x):
        seen = {x: 1}
        assert seen[x] == 1
        return x * 2.0

    assert float(grad(f)(1.0)) == 2.0


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda x: x.sort(), r"x\.sort\(\) changes a traced array in place.*np\.sort\(x, axis\)"),
        (lambda x: x.partition(1), r"x\.partition\(k\) changes.*np\.partition"),
        (lambda x: x.fill(0.0), r"x\.fill\(v\) changes.*np\.full_like\(x, v\)"),
        (lambda x: x.put([0], 1.0), r"x\.put\(ind, v\) changes.*np\.where"),
        (lambda x: x.resize((4,)), r"x\.resize\(shape\) changes.*np\.resize"),
    ],
)
def test_in_place_methods_name_their_pure_counterpart(call, match):
    with pytest.raises(TypeError, match=match):
        grad(lambda x: np.sum(call(x)))(onp.ones((2, 2)))


def test_value_methods_and_byte_sizes():
    x = onp.array([[3.0, 1.0, 2.0]])

    def f(v):
        assert v.itemsize == 8 and v.nbytes == 24
        assert list(v.argpartition(1, axis=1)[0][:1]) == [1]
        assert list(v.nonzero()[1]) == [0, 1, 2]
        assert v[0, 1:].searchsorted(1.5) == 1
        return np.sum(v)

    grad(f)(x)
