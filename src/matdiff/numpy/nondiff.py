"""Functions whose results carry no derivative, declared so.

Rounding, comparisons, logical and index-valued functions are piecewise constant (or
not real-valued), so their derivative is zero wherever it exists. They accept traced
values, read them as plain values, and return ordinary constants: a gradient that flows
through them is exactly zero, never an error and never a silent approximation.
"""

from __future__ import annotations

from typing import Any

import numpy as _np

from ..tracer import getval, isbox
from . import _batch
from . import ufuncs as _ufuncs
from ._wrap import export, wrap

_NAMES = (
    # rounding
    "floor ceil round around rint trunc fix floor_divide "
    # indices and counts
    "argmax argmin argsort nonzero flatnonzero searchsorted count_nonzero "
    # comparisons and logic
    "equal not_equal greater greater_equal less less_equal "
    "logical_and logical_or logical_not logical_xor any all "
    # predicates
    "isnan isfinite isinf isposinf isneginf iscomplex isreal isclose allclose array_equal "
    "array_equiv signbit "
    # more indices: positions, bins, orderings and index grids shaped like the argument
    "argwhere argpartition nanargmax nanargmin digitize lexsort spacing "
    "tril_indices_from triu_indices_from diag_indices_from "
    # new arrays shaped like their argument (full_like, below, is not: its fill value
    # may be traced)
    "zeros_like ones_like empty_like"
).split()

# Under vmap: the non-ufuncs among them that act entry by entry, or along ``axis``, or on
# their first argument alone (ufuncs are batched entry by entry without being named).
# The rest (whole-array answers such as nonzero's, whose length differs between
# examples) are called once per example.
_BATCH = {
    **dict.fromkeys(
        "round around fix isposinf isneginf iscomplex isreal isclose "
        "zeros_like ones_like empty_like".split(),
        _batch.elementwise,
    ),
    **dict.fromkeys("count_nonzero any all".split(), _batch.reduction),
    # Their axis=None indexes each example flattened.
    **dict.fromkeys(
        "argmax argmin nanargmax nanargmin argsort argpartition".split(), _batch.cumulative
    ),
    "digitize": _batch.trailing,
}

for _name in _NAMES:
    globals()[_name] = wrap(getattr(_np, _name), _name, nondiff=True, batch=_BATCH.get(_name))
del _name


@export
def full_like(a: Any, fill_value: Any, dtype=None, order="K", subok=True, shape=None) -> Any:
    """``numpy.full_like``: only the shape and dtype of ``a`` are read (no derivative),
    but a traced ``fill_value`` keeps its derivative, broadcast to every entry.

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> float(grad(lambda v: np.sum(np.full_like(np.zeros(3), v)))(2.0))
    3.0
    """
    out = _np.full_like(
        getval(a), getval(fill_value), dtype=dtype, order=order, subok=subok, shape=shape
    )
    if not isbox(fill_value) or out.dtype.kind not in "fc":
        return out
    # 0 + v is v exactly; the sum carries v's derivative to every entry.
    return _ufuncs.add(_np.zeros_like(out), fill_value)
