"""``matdiff.scipy.signal``: n-dimensional ``convolve`` and ``correlate``, differentiable.

Convolution is bilinear, so one primitive carries everything: its JVP in each argument
is the convolution with the tangent in that place, and its VJP is the transpose. Every
mode is a window of the full convolution, whose transpose in ``in1`` is the valid-mode
convolution of the cotangent with ``in2`` flipped along every axis (and likewise in
``in2``). The cotangent is first placed into a zero array of the full shape at the
mode's window. Both rules are convolutions again, so they differentiate to any order.
Complex inputs follow the package's convention: transposes, no conjugation.

>>> import matdiff.numpy as np
>>> from matdiff import grad
>>> grad(lambda a: np.sum(convolve(a, np.array([1.0, 2.0]))))(np.array([1.0, 1.0, 1.0]))
array([3., 3., 3.])
"""

from __future__ import annotations

from typing import Any

import numpy as _np
import scipy.signal as _sig

from .. import numpy as _mnp
from ..core import def_linear, defvjp
from ..numpy._wrap import shape_of, wrap
from ..tracer import getval

__all__ = ["convolve", "correlate"]

_MODES = ("full", "valid", "same")


def _embed_raw(g, shape, index):
    out = _np.zeros(shape, dtype=_np.result_type(g, float))
    out[index] = g
    return out


_embed = wrap(_embed_raw, "_embed", module="matdiff.scipy.signal")
"""``g`` placed into zeros of ``shape`` at ``index`` (slices): the transpose of a window."""
defvjp(_embed, lambda ans, g, shape, index: lambda h: _mnp.getitem(h, index))
def_linear(_embed)


def _window(n1: tuple, n2: tuple, mode: str) -> tuple:
    """The slices of the full convolution that ``mode`` keeps (SciPy's centring)."""
    index = []
    for a, b in zip(n1, n2):
        full = a + b - 1
        if mode == "same":
            start, length = (full - a) // 2, a
        else:
            start, length = min(a, b) - 1, abs(a - b) + 1
        index.append(slice(start, start + length))
    return tuple(index)


def _flip(x):
    return _mnp.getitem(x, (slice(None, None, -1),) * len(shape_of(x)))


def _convolve_raw(in1, in2, mode, method):
    return _sig.convolve(in1, in2, mode=mode, method=method)


_convolve = wrap(_convolve_raw, "convolve", module="matdiff.scipy.signal")


def _transpose_maker(argnum):
    def maker(ans, in1, in2, mode, method):
        other = in2 if argnum == 0 else in1

        def vjp(g):
            if mode != "full":
                full = tuple(a + b - 1 for a, b in zip(shape_of(in1), shape_of(in2)))
                g = _embed(g, full, _window(shape_of(in1), shape_of(in2), mode))
            return _convolve(g, _flip(other), "valid", method)

        return vjp

    return maker


defvjp(_convolve, _transpose_maker(0), _transpose_maker(1))
def_linear(_convolve)


def _check_mode(fname: str, mode: str) -> None:
    if mode not in _MODES:
        raise ValueError(
            f"{fname}: mode must be 'full', 'valid' or 'same', got {mode!r} (as in scipy.signal)"
        )


def convolve(in1: Any, in2: Any, mode: str = "full", method: str = "auto") -> Any:
    """``scipy.signal.convolve``: n-dimensional convolution, differentiable in both inputs.

    ``mode`` is 'full', 'valid' or 'same' and ``method`` 'auto', 'direct' or 'fft', with
    SciPy's meanings; inputs must have the same number of dimensions.

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> k = np.array([1.0, -1.0])
    >>> grad(lambda a: np.sum(convolve(a, k, mode="valid") ** 2))(np.array([0.0, 1.0, 3.0]))
    array([-2., -2.,  4.])
    """
    _check_mode("convolve", mode)
    return _convolve(in1, in2, mode, method)


def correlate(in1: Any, in2: Any, mode: str = "full", method: str = "auto") -> Any:
    """``scipy.signal.correlate``: the convolution of ``in1`` with ``in2`` conjugated and flipped.

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> x = np.array([1.0, 2.0, 3.0])
    >>> grad(lambda k: correlate(x, k, mode="valid")[0])(np.array([1.0, 1.0]))
    array([1., 2.])
    """
    _check_mode("correlate", mode)
    if _np.iscomplexobj(getval(in2)):
        in2 = _mnp.conj(in2)
    return _convolve(in1, _flip(in2), mode, method)
