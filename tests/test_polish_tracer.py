"""The primitive wrapper's single scan: boxed arguments of several traces, in either
order, unbox the highest trace first (nested derivatives stay exact)."""

import numpy as onp
import pytest

import matdiff.numpy as np
from matdiff import grad, jvp


def _d_dx_d_dy(f):
    """d/dx d/dy f(x, y), with the inner derivative's trace higher than the outer's."""
    return grad(lambda x: grad(lambda y: f(x, y))(0.5))


@pytest.mark.parametrize(
    "f",
    [
        lambda x, y: np.multiply(x, y) * np.sin(y),  # outer box first, inner box second
        lambda x, y: np.multiply(y, x) * np.sin(y),  # inner box first, outer box second
        lambda x, y: np.sin(np.add(np.multiply(y, y), x) * x),  # mixed, repeated
    ],
    ids=["lower-first", "higher-first", "mixed"],
)
def test_mixed_levels_either_order(f):
    x, y, eps = 0.3, 0.5, 1e-5

    def fy(x):
        return (f(x, y + eps) - f(x, y - eps)) / (2 * eps)

    want = (fy(x + eps) - fy(x - eps)) / (2 * eps)
    onp.testing.assert_allclose(_d_dx_d_dy(f)(x), want, rtol=1e-5)


def test_three_levels_in_one_call():
    # d/dx d/dy d/dz of x*y*z*w with each argument at its own trace, middle one first.
    def third(x):
        return grad(
            lambda y: jvp(lambda z: np.multiply(y, z) * np.multiply(x, z), (2.0,), (1.0,))[1]
        )(0.7)

    # d/dz (y z * x z) = 2 x y z; d/dy -> 2 x z = 4 x; d/dx -> 4.
    onp.testing.assert_allclose(grad(third)(0.3), 4.0)
