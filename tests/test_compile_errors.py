"""What staging cannot record is refused with a message naming the problem and the fix:
one test per error path."""

from __future__ import annotations

import re

import numpy as onp
import pytest

import matdiff.numpy as np
from matdiff import grad, stop_gradient
from matdiff.compile import StagingError, jit, make_program
from matdiff.extend import defvjp, primitive

X = onp.array([0.5, -1.0, 2.0])


def test_traced_size_suggests_static_argnums():
    def f(x, n):
        for _ in range(n):
            x = np.sin(x)
        return x

    with pytest.raises(StagingError, match="integer value.*static_argnums"):
        jit(f)(X, 2)
    onp.testing.assert_allclose(jit(f, static_argnums=1)(X, 2), onp.sin(onp.sin(X)))


@pytest.mark.parametrize(
    "fn, what",
    [
        (lambda x: x * np.sum(x).tolist(), ".tolist()"),
        (lambda x: x * complex(np.sum(x)), "complex()"),
        (lambda x: x * bool(stop_gradient(x)[0]), "truth value"),
        (lambda x: x * float(stop_gradient(x)[0]), "float()"),
        (lambda x: x * int(stop_gradient(x)[0]), "int()"),
        (lambda x: x[: stop_gradient(x).argmax()], "integer value"),
        (lambda x: x * stop_gradient(x).item(0), ".item()"),
        (lambda x: x * stop_gradient(x).tolist()[0], ".tolist()"),
    ],
)
def test_concrete_values_of_recorded_values(fn, what):
    with pytest.raises(StagingError, match=re.escape(what)):
        jit(fn)(X)


def test_traced_value_inside_an_index_tuple():
    with pytest.raises(StagingError, match="conversion to a NumPy array.*x\\[i, 0\\]"):
        jit(lambda x, i: x[i, 0])(onp.ones((3, 2)), 1)


def test_traced_value_inside_a_container_argument():
    first = primitive(lambda x, pair: x * pair[1])
    defvjp(first, lambda ans, x, pair: lambda g: g * pair[1])
    with pytest.raises(StagingError, match="got a traced value inside a tuple"):
        jit(lambda x: first(x, (x, 2.0)))(X)


def test_traced_value_inside_a_raw_numpy_list():
    # One level of sequence is recorded (each element an operand); nested lists are not.
    f = lambda x: x * onp.block([[stop_gradient(x), onp.zeros(1)]])[0, :3]
    with pytest.raises(StagingError, match="numpy.block got a traced value inside a list"):
        jit(f)(X)
    g = lambda x: x * onp.concatenate([stop_gradient(x), onp.zeros(1)])[:3]
    onp.testing.assert_allclose(jit(g)(X), g(X))


def test_traced_keyword_of_a_raw_numpy_call():
    f = lambda x: x * onp.sum(stop_gradient(x), where=stop_gradient(x) > 0)
    with pytest.raises(StagingError, match="keyword argument where must not be traced"):
        jit(f)(X)


def test_data_dependent_shapes_of_raw_calls():
    f = lambda x: np.sum(x) * onp.nonzero(stop_gradient(x) > 0)[0]
    with pytest.raises(StagingError, match="shapes depend on the traced values"):
        jit(f)(X)
    g = lambda x: np.sum(stop_gradient(x)[stop_gradient(x) > 0]) * x
    with pytest.raises(StagingError, match="boolean mask.*np.where"):
        jit(g)(X)


def test_raw_call_returning_a_python_object():
    f = lambda x: x * len(onp.array_repr(stop_gradient(x)))
    with pytest.raises(StagingError, match="numpy.array_repr on a traced value returned str"):
        jit(f)(X)


def test_raw_call_returning_a_python_bool_is_recorded():
    f = jit(lambda x: x * onp.array_equal(stop_gradient(x), X))
    onp.testing.assert_allclose(f(X), X)
    onp.testing.assert_allclose(f(X + 1.0), 0.0 * X)


def test_out_argument_on_recorded_values():
    def f(x):
        buf = onp.empty(3)
        onp.sin(stop_gradient(x), out=buf)
        return x * buf

    with pytest.raises(StagingError, match="numpy.sin writes into an array"):
        jit(f)(X)


def test_output_that_is_not_an_array():
    with pytest.raises(StagingError, match="output 1 is a str"):
        jit(lambda x: (x, "label"))(X)


def test_output_traced_by_an_enclosing_transformation():
    def outer(y):
        make_program(lambda x: y)(X)
        return y

    with pytest.raises(StagingError, match="output 0 got a value traced by an enclosing"):
        grad(outer)(2.0)


def test_primitive_returning_a_non_array():
    pair = primitive(lambda x: [x, x])
    defvjp(pair, lambda ans, x: lambda g: g[0])
    with pytest.raises(StagingError, match="returned a list, which cannot be recorded"):
        jit(lambda x: pair(x))(X)


def test_traced_keyword_argument_of_a_primitive():
    scaled = primitive(lambda x, scale=1.0: x * scale)
    defvjp(scaled, lambda ans, x, scale=1.0: lambda g: g * scale)
    with pytest.raises(StagingError, match="keyword argument scale is traced"):
        jit(lambda x: scaled(x, scale=x))(X)
    onp.testing.assert_allclose(jit(lambda x: scaled(x, scale=2.0))(X), 2.0 * X)


def test_methods_of_recorded_values():
    f = jit(lambda x: x * stop_gradient(x).copy().clip(-1.0, 1.0).real.squeeze())
    for point in (X, X * 3.0):
        onp.testing.assert_allclose(f(point), point * onp.clip(point, -1.0, 1.0))
    with pytest.raises(StagingError, match=r"\.byteswap of a derivative-free.*np.byteswap"):
        jit(lambda x: x * stop_gradient(x).byteswap())(X)
    # Probes with a default still work.
    jit(lambda x: x * (getattr(stop_gradient(x), "flags", None) is None))(X)
