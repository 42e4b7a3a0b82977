"""``unflatten_optimizer`` (autograd's ``misc.optimizers``): an optimiser written for flat
vectors runs on pytrees, with the same result as under autograd's decorator."""

import autograd.misc.optimizers as aopt
import numpy

from matdiff.misc.optimizers import adam, unflatten_optimizer


def nesterov(grad, x, callback=None, num_iters=40, step_size=0.1, mass=0.8):
    velocity = numpy.zeros_like(x)
    for i in range(num_iters):
        g = grad(x + mass * velocity, i)
        if callback:
            callback(x, i, g)
        velocity = mass * velocity - step_size * g
        x = x + velocity
    return x


def quadratic_grad(p, i):
    return {"w": 2.0 * (p["w"] - numpy.arange(3.0)), "b": [3.0 * (p["b"][0] + 1.0)]}


X0 = {"w": numpy.zeros(3), "b": [0.5]}


def test_matches_autograds_decorator():
    seen, their_seen = [], []
    ours = unflatten_optimizer(nesterov)(
        quadratic_grad, X0, callback=lambda x, i, g: seen.append((x, g))
    )
    theirs = aopt.unflatten_optimizer(nesterov)(
        quadratic_grad, X0, callback=lambda x, i, g: their_seen.append((x, g))
    )
    numpy.testing.assert_array_equal(ours["w"], theirs["w"])
    assert float(ours["b"][0]) == float(theirs["b"][0])
    assert len(seen) == len(their_seen) == 40
    x, g = seen[3]
    tx, tg = their_seen[3]
    numpy.testing.assert_array_equal(x["w"], tx["w"])
    numpy.testing.assert_array_equal(g["w"], tg["w"])


def test_is_the_decorator_of_the_shipped_optimizers():
    # A decaying step, so that the distance Adam may hover at (one step) is small.
    step = lambda i: 0.05 / (1 + i / 100)
    out = adam(quadratic_grad, X0, num_iters=3000, step_size=step)
    numpy.testing.assert_allclose(out["w"], numpy.arange(3.0), atol=step(2999))
    assert adam.__wrapped__.__name__ == "adam"
