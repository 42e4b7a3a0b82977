"""``matdiff.numpy.fft``."""

import numpy as _np


def __getattr__(name):
    return getattr(_np.fft, name)
