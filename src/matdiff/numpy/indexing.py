"""Indexing: ``x[idx]`` and its scatter-add VJP."""

from __future__ import annotations

import numpy as _np

from ..core import def_linear, defvjp
from ..tracer import getval
from ._wrap import shape_of, wrap


def _getitem_raw(x, idx):
    return x[idx]


getitem = wrap(_getitem_raw, "getitem")


def _scatter_add_raw(g, shape, idx, dtype):
    out = _np.zeros(shape, dtype=_np.result_type(dtype, g))
    _np.add.at(out, idx, g)
    return out


scatter_add = wrap(_scatter_add_raw, "scatter_add")
"""``zeros(shape)`` with ``g`` added at ``idx`` (repeated indices accumulate)."""

defvjp(
    getitem,
    lambda ans, x, idx: lambda g: scatter_add(g, shape_of(x), idx, _np.result_type(getval(x))),
)
def_linear(getitem)
defvjp(scatter_add, lambda ans, g, shape, idx, dtype: lambda h: getitem(h, idx))
def_linear(scatter_add)
