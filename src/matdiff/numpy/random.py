"""``matdiff.numpy.random``: NumPy's random module, importable as a module.

``import matdiff.numpy.random as npr`` works as ``import autograd.numpy.random as npr``
does. Sampling is not differentiated: every name is NumPy's own, drawing from the same
global state as ``numpy.random`` (``npr.seed`` seeds both).

>>> import matdiff.numpy.random as npr
>>> import numpy
>>> npr.seed(0); a = npr.randn(2); numpy.random.seed(0)
>>> bool((a == numpy.random.randn(2)).all())
True
"""

import numpy.random as _random
from numpy.random import *  # noqa: F403


def __getattr__(name):
    return getattr(_random, name)


def __dir__():
    return dir(_random)
