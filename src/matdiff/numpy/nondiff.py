"""Functions whose results carry no derivative, declared so.

Rounding, comparisons, logical and index-valued functions are piecewise constant (or
not real-valued), so their derivative is zero wherever it exists. They accept traced
values, read them as plain values, and return ordinary constants: a gradient that flows
through them is exactly zero, never an error and never a silent approximation.
"""

from __future__ import annotations

import numpy as _np

from ._wrap import wrap_nondiff

_NAMES = (
    # rounding
    "floor ceil round around rint trunc fix floor_divide "
    # indices and counts
    "argmax argmin argsort nonzero flatnonzero searchsorted count_nonzero "
    # comparisons and logic
    "equal not_equal greater greater_equal less less_equal "
    "logical_and logical_or logical_not logical_xor any all "
    # predicates
    "isnan isfinite isinf isclose allclose array_equal signbit "
    # new arrays shaped like their argument
    "zeros_like ones_like full_like empty_like"
).split()

for _name in _NAMES:
    globals()[_name] = wrap_nondiff(getattr(_np, _name), _name)
del _name
