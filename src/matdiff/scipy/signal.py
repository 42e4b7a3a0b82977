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


def convolve(
    in1: Any,
    in2: Any,
    mode: Any = "full",
    method: Any = "auto",
    axes: Any = None,
    dot_axes: Any = None,
) -> Any:
    """``scipy.signal.convolve``: n-dimensional convolution, differentiable in both inputs.

    ``mode`` is 'full', 'valid' or 'same' and ``method`` 'auto', 'direct' or 'fft', with
    SciPy's meanings; inputs must have the same number of dimensions.

    autograd's extension is accepted too: ``axes=(axes1, axes2)`` pairs the axes of
    ``in1`` and ``in2`` that are convolved, ``dot_axes=(dots1, dots2)`` pairs axes that
    are summed over (a tensor dot), and every other axis is an outer product. The result
    has the free axes of ``in1``, then those of ``in2``, then the convolved ones.
    autograd's positional order ``convolve(A, B, axes, dot_axes, mode)`` works as well.

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> k = np.array([1.0, -1.0])
    >>> grad(lambda a: np.sum(convolve(a, k, mode="valid") ** 2))(np.array([0.0, 1.0, 3.0]))
    array([-2., -2.,  4.])
    >>> images, kernels = np.ones((5, 3, 8, 8)), np.ones((3, 4, 2, 2))  # batch, channels
    >>> convolve(images, kernels, axes=([2, 3], [2, 3]), dot_axes=([1], [0]), mode="valid").shape
    (5, 4, 7, 7)
    """
    if not isinstance(mode, str):
        # autograd's order: convolve(A, B, axes, dot_axes, mode).
        mode, method, axes, dot_axes = (
            axes if axes is not None else "full",
            "auto",
            mode,
            None if method == "auto" else method,
        )
    _check_mode("convolve", mode)
    if axes is None and dot_axes is None:
        return _convolve(in1, in2, mode, method)
    return _convolve_axes(in1, in2, axes, dot_axes, mode, method)


def _axes_pair(what: str, pair: Any, n1: int, n2: int) -> tuple[list, list]:
    try:
        a1, a2 = ([int(i) for i in side] for side in pair)
    except (TypeError, ValueError):
        raise TypeError(
            f"convolve: {what} must be a pair of axis lists (axes of in1, axes of in2), "
            f"got {pair!r}"
        ) from None
    if len(a1) != len(a2):
        raise ValueError(f"convolve: {what} pairs {a1} of in1 with {a2} of in2: unequal lengths")
    for axs, n, name in ((a1, n1, "in1"), (a2, n2, "in2")):
        if any(not -n <= i < n for i in axs):
            raise ValueError(f"convolve: {what} {axs} out of range for {name} with {n} dimensions")
    return [i % n1 for i in a1], [i % n2 for i in a2]


def _convolve_axes(in1, in2, axes, dot_axes, mode, method):
    """autograd's convolve with ``axes``/``dot_axes``, as one n-dimensional convolution.

    Both inputs are laid out as (free of in1, free of in2, dot, convolved), each with
    size 1 on the other's free axes, and ``in2`` flipped along the dot axes. Their full
    convolution is then an outer product along the free axes, holds the tensor dot at
    the middle index of each dot axis, and the full convolution along the convolved
    ones, of which ``mode`` keeps SciPy's window. Every step is differentiable, so the
    derivatives (any order, both modes) are those of the pieces.
    """
    s1, s2 = shape_of(in1), shape_of(in2)
    n1, n2 = len(s1), len(s2)
    if axes is None:
        if n1 != n2:
            raise ValueError(
                f"convolve: without axes, in1 and in2 need the same number of dimensions "
                f"(got {n1} and {n2})"
            )
        axes = (range(n1), range(n2))
    c1, c2 = _axes_pair("axes", axes, n1, n2)
    d1, d2 = _axes_pair("dot_axes", dot_axes if dot_axes is not None else ((), ()), n1, n2)
    if len(set(c1 + d1)) != len(c1 + d1) or len(set(c2 + d2)) != len(c2 + d2):
        raise ValueError("convolve: an axis is listed twice in axes and dot_axes")
    for i, j in zip(d1, d2):
        if s1[i] != s2[j]:
            raise ValueError(
                f"convolve: dot axis {i} of in1 (length {s1[i]}) and {j} of in2 (length "
                f"{s2[j]}) must have the same length"
            )
    sizes1, sizes2 = [s1[i] for i in c1], [s2[j] for j in c2]
    if mode == "valid" and not (
        all(a >= b for a, b in zip(sizes1, sizes2)) or all(a <= b for a, b in zip(sizes1, sizes2))
    ):
        raise ValueError(
            "convolve: for 'valid' mode, one input must be at least as large as the other "
            "along every convolved axis (as in scipy.signal)"
        )
    f1 = [i for i in range(n1) if i not in c1 and i not in d1]
    f2 = [j for j in range(n2) if j not in c2 and j not in d2]
    a = _mnp.transpose(in1, f1 + d1 + c1)
    a = _mnp.reshape(a, [s1[i] for i in f1] + [1] * len(f2) + [s1[i] for i in d1] + sizes1)
    b = _mnp.transpose(in2, f2 + d2 + c2)
    nd = len(d2)
    b = _mnp.getitem(b, (slice(None),) * len(f2) + (slice(None, None, -1),) * nd)
    b = _mnp.reshape(b, [1] * len(f1) + [s2[j] for j in f2 + d2] + sizes2)
    full = _convolve(a, b, "full", method)
    index = (slice(None),) * (len(f1) + len(f2))
    index += tuple(s2[j] - 1 for j in d2)
    index += _window(tuple(sizes1), tuple(sizes2), mode) if mode != "full" else ()
    return _mnp.getitem(full, index)


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
