"""Storing a traced value into a plain NumPy array is refused, not silently differentiated as 0."""

import math
import operator

import numpy as onp
import pytest

import matdiff.numpy as np
from matdiff import grad, hessian, jvp, stop_gradient
from matdiff.tracer import getval


def _store(x):
    y = onp.zeros(3)
    y[0] = x[0]
    return np.sum(y) + np.sum(x)


def _store_augmented(x):
    y = onp.zeros(3)
    y[1] += x[1]
    return np.sum(y * x)


@pytest.mark.parametrize("f", [_store, _store_augmented])
def test_store_into_a_plain_array_is_refused_in_both_modes(f):
    x = onp.ones(3)
    for run in (lambda: grad(f)(x), lambda: jvp(f, (x,), (x,))):
        with pytest.raises(ValueError) as info:
            run()
        chain = f"{info.value} {info.value.__cause__}"
        assert "stored into a plain NumPy array" in chain
        assert "np.where(mask, x, y)" in chain


# Every route from a traced value into a plain array or a Python number, each refused.
STORE_ROUTES = {
    "y[i] = x": lambda y, x: operator.setitem(y, 0, x[0]),
    "y.__setitem__": lambda y, x: y.__setitem__(0, x[0]),
    "map(y.__setitem__)": lambda y, x: list(map(y.__setitem__, [0, 1], [x[0], x[1]])),
    "y[:2] = x[:2]": lambda y, x: operator.setitem(y, slice(0, 2), x[:2]),
    "y.fill": lambda y, x: y.fill(x[0]),
    "y.put": lambda y, x: y.put(0, x[0]),
    "numpy.put": lambda y, x: onp.put(y, 0, x[0]),
    "numpy.copyto": lambda y, x: onp.copyto(y, x),
    "numpy.putmask": lambda y, x: onp.putmask(y, y > -1, x),
    "numpy.place": lambda y, x: onp.place(y, y > -1, x),
    "float": lambda y, x: float(x[0]),
    "int": lambda y, x: int(x[0]),
    "complex": lambda y, x: complex(x[0]),
    "math.exp": lambda y, x: math.exp(x[0]),
}


@pytest.mark.parametrize("route", STORE_ROUTES.values(), ids=STORE_ROUTES.keys())
@pytest.mark.parametrize("mode", ["grad", "jvp", "hessian"])
def test_every_route_to_a_plain_value_is_refused(route, mode):
    def f(x):
        y = onp.zeros(3)
        route(y, x)
        return np.sum(x * y) + np.sum(x**2)

    x = onp.ones(3)
    run = {
        "grad": lambda: grad(f)(x),
        "jvp": lambda: jvp(f, (x,), (x,)),
        "hessian": lambda: hessian(f)(x),
    }[mode]
    with pytest.raises((TypeError, ValueError)) as info:
        run()
    chain = f"{info.value} {info.value.__cause__}"
    assert "plain NumPy array" in chain and "derivative" in chain


def test_a_store_through_flat_is_refused_though_numpy_replaces_the_message():
    # NumPy's flat iterator raises its own "Error setting single item of array" in place
    # of the refusal (it keeps no cause): still an error, never a dropped derivative.
    def f(x):
        y = onp.zeros(3)
        y.flat[0] = x[0]
        return np.sum(x * y)

    with pytest.raises(ValueError):
        grad(f)(onp.ones(3))


def test_the_refusal_names_the_call_and_the_ways_out():
    with pytest.raises(ValueError, match=r"float\(\) of a traced value") as info:
        grad(lambda x: math.exp(x) + x)(2.0)
    msg = str(info.value)
    assert "np.exp(x)" in msg and "float(matdiff.stop_gradient(x))" in msg


def test_an_untraced_value_converts_as_before():
    # Dropping the derivative on purpose: d/dx [x * float(x)] = float(x), not 2x.
    assert grad(lambda x: x * float(stop_gradient(x)))(3.0) == 3.0
    assert grad(lambda x: x * int(getval(x)))(3.5) == 3.0
    assert grad(lambda x: x * math.exp(stop_gradient(x)))(0.0) == 1.0
    log = {}

    def f(x):
        y = onp.zeros(2)
        y[:] = getval(x)
        log["value"] = float(y[0])
        return np.sum(x**2)

    assert onp.allclose(grad(f)(onp.array([2.0, 1.0])), [4.0, 2.0])
    assert log["value"] == 2.0
    # Plain values outside any trace are untouched.
    assert float(np.exp(np.array(0.0))) == 1.0


def test_the_functional_alternative_keeps_the_derivative():
    def f(x):
        y = np.where(onp.arange(3) == 0, x[0], onp.zeros(3))
        return np.sum(y) + np.sum(x)

    assert onp.allclose(grad(f)(onp.ones(3)), [2.0, 1.0, 1.0])
