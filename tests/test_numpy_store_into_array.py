"""Storing a traced value into a plain NumPy array is refused, not silently differentiated as 0."""

import numpy as onp
import pytest

import matdiff.numpy as np
from matdiff import grad, jvp


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


def test_explicit_float_still_gives_the_concrete_value():
    assert grad(lambda x: x * float(x))(3.0) == 3.0
    log = {}

    def f(x):
        log["value"] = float(x[0])
        return np.sum(x**2)

    assert onp.allclose(grad(f)(onp.array([2.0, 1.0])), [4.0, 2.0])
    assert log["value"] == 2.0


def test_the_functional_alternative_keeps_the_derivative():
    def f(x):
        y = np.where(onp.arange(3) == 0, x[0], onp.zeros(3))
        return np.sum(y) + np.sum(x)

    assert onp.allclose(grad(f)(onp.ones(3)), [2.0, 1.0, 1.0])
