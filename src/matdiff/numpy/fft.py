"""``matdiff.numpy.fft``: NumPy's discrete Fourier transforms, differentiable in both modes.

Four primitives carry the rules: ``fftn``, ``ifftn``, ``rfftn`` and ``irfftn`` over
explicit sizes ``s`` and axes; ``fft``, ``fft2``, ``rfft``, ``hfft``... are Python
functions over them, so they share the rules. Every transform is linear, so its JVP is
the transform of the tangent. The VJPs are transposes under the pairing
``Re sum(a * b)`` (no conjugation, as in autograd and JAX):

* the DFT matrix is symmetric, so the transpose of ``fftn`` is ``fftn`` with the same
  ``norm``, and of ``ifftn`` ``ifftn``; padding (``n`` larger than the axis) transposes to
  truncation and truncation to zero-padding;
* ``rfftn`` keeps the first ``n // 2 + 1`` bins of a real input's transform: its
  transpose pads the cotangent with zeros to ``n`` bins, transforms and keeps the real
  part;
* ``irfftn`` reads a half spectrum as the Hermitian full one (each bin ``k`` with a
  mirror ``n - k`` counts twice; the zero bin and, for even ``n``, the Nyquist bin once,
  real part only): its transpose is ``w * conj(rfftn(u))`` with those weights ``w`` and
  the opposite normalization (``"backward"`` and ``"forward"`` swap).

Axes are stored counted from the end, so that the same call applies to tangents with
leading batch axes.

>>> import matdiff.numpy as np
>>> from matdiff import grad
>>> grad(lambda x: np.sum(np.abs(np.fft.fft(x)) ** 2))(np.array([1.0, 2.0]))  # 2 n x
array([4., 8.])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as _np

from ..core import defjvp, defvjp
from ..tracer import getval
from . import _batch
from . import manipulation as _shape
from . import ufuncs as _uf
from ._broadcast import match_realness
from ._wrap import export, is_complex, shape_of, wrap

__all__ = [
    "fft",
    "ifft",
    "fft2",
    "ifft2",
    "fftn",
    "ifftn",
    "rfft",
    "irfft",
    "rfft2",
    "irfft2",
    "rfftn",
    "irfftn",
    "hfft",
    "ihfft",
    "fftshift",
    "ifftshift",
    "fftfreq",
    "rfftfreq",
]

# "backward" scales the inverse by 1/n, "forward" the forward transform, "ortho" both by
# 1/sqrt(n): transposing a forward transform into an inverse one swaps the first two.
_DUAL_NORM = {None: "forward", "backward": "forward", "ortho": "ortho", "forward": "backward"}


def _check_norm(fname: str, norm: str | None) -> None:
    if norm not in _DUAL_NORM:
        raise ValueError(
            f"{fname}: norm={norm!r} is not a normalization; pass 'backward' (the default), "
            "'ortho' or 'forward'"
        )


# ---------------------------------------------------------------- the four primitives


def _fftn_raw(a, s, axes, norm):
    return _np.fft.fftn(a, s=s, axes=axes, norm=norm)


def _ifftn_raw(a, s, axes, norm):
    return _np.fft.ifftn(a, s=s, axes=axes, norm=norm)


def _rfftn_raw(a, s, axes, norm):
    return _np.fft.rfftn(a, s=s, axes=axes, norm=norm)


def _irfftn_raw(a, s, axes, norm):
    return _np.fft.irfftn(a, s=s, axes=axes, norm=norm)


_HERE = "matdiff.numpy.fft"
_fftn = wrap(_fftn_raw, "fftn", module=_HERE, batch=_batch.trailing)
_ifftn = wrap(_ifftn_raw, "ifftn", module=_HERE, batch=_batch.trailing)
_rfftn = wrap(_rfftn_raw, "rfftn", module=_HERE, batch=_batch.trailing)
_irfftn = wrap(_irfftn_raw, "irfftn", module=_HERE, batch=_batch.trailing)


def _fit(g, axes: tuple, like) -> Any:
    """``g`` cut or zero-padded along ``axes`` to the lengths ``like`` has there."""
    gshape, target = shape_of(g), shape_of(like)
    cut = [slice(None)] * len(gshape)
    widths = [(0, 0)] * len(gshape)
    for ax in axes:
        have, want = gshape[ax], target[ax]
        if have > want:
            cut[ax] = slice(0, want)
        elif have < want:
            widths[ax] = (0, want - have)
    if any(c != slice(None) for c in cut):
        g = g[tuple(cut)]
    if any(w != (0, 0) for w in widths):
        g = _shape.pad(g, widths)
    return g


def _fftn_vjp(ans, a, s, axes, norm):
    return lambda g: match_realness(a, _fit(_fftn(g, s, axes, norm), axes, a))


def _ifftn_vjp(ans, a, s, axes, norm):
    return lambda g: match_realness(a, _fit(_ifftn(g, s, axes, norm), axes, a))


def _rfftn_vjp(ans, a, s, axes, norm):
    # The kept bins padded back to all n bins, then the (symmetric) full transform.
    return lambda g: _fit(_uf.real(_fftn(g, s, axes, norm)), axes, a)


def _hermitian_weights(n: int, ndim_after: int, dtype) -> _np.ndarray:
    """Per bin of a half spectrum of ``n`` points: 2 for a bin with a mirror, else 1."""
    w = _np.full(n // 2 + 1, 2.0, dtype=dtype)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    return w.reshape((-1,) + (1,) * ndim_after)


def _irfftn_vjp(ans, a, s, axes, norm):
    last = axes[-1]
    w = _hermitian_weights(s[-1], -last - 1, _np.result_type(getval(ans), _np.float32))

    def vjp(g):
        half = _uf.conj(_rfftn(g, s, axes, _DUAL_NORM[norm])) * w
        return match_realness(a, _fit(half, axes, a))

    return vjp


def _linear_jvp(prim):
    return lambda g, ans, a, s, axes, norm: prim(g, s, axes, norm)


for _p, _vjp in ((_fftn, _fftn_vjp), (_ifftn, _ifftn_vjp), (_rfftn, _rfftn_vjp)):
    defvjp(_p, _vjp)
    defjvp(_p, _linear_jvp(_p))
defvjp(_irfftn, _irfftn_vjp)
defjvp(_irfftn, _linear_jvp(_irfftn))

# Linear in ``a`` over axes counted from the end: their batching rule applies each to a
# leading batch axis in one call (benchmarks/fft_batched.py measures it against a loop).
TRAILING_AXES_LINEAR = (_fftn, _ifftn, _rfftn, _irfftn)


# ---------------------------------------------------------------- sizes and axes


def _axes_from_end(fname: str, axes: Sequence[int], ndim: int) -> tuple[int, ...]:
    out = []
    for ax in axes:
        ax = int(ax)
        if not -ndim <= ax < ndim:
            raise ValueError(
                f"{fname}: axis {ax} is out of bounds for an array of dimension {ndim}; "
                f"pass axes from {-ndim} to {ndim - 1}"
            )
        out.append(ax - ndim if ax >= 0 else ax)
    if len(set(out)) != len(out):
        raise ValueError(
            f"{fname}: axes={tuple(axes)} name an axis twice; pass each axis once (apply "
            "the transform again to transform an axis twice)"
        )
    return tuple(out)


def _plan(fname, a, s, axes, default_axes=None, inverse_real=False):
    """Explicit ``(s, axes)`` as NumPy reads ``s=None`` or ``axes=None``."""
    shape = shape_of(a)
    ndim = len(shape)
    if axes is None:
        if s is not None:
            axes = range(-len(s), 0)
        elif default_axes is not None:
            axes = default_axes
        else:
            axes = range(-ndim, 0)
    axes = _axes_from_end(fname, tuple(axes), ndim)
    if s is None:
        s = [shape[ax] for ax in axes]
        if inverse_real and axes:
            s[-1] = 2 * (s[-1] - 1)
    else:
        s = list(s)
        if len(s) != len(axes):
            raise ValueError(
                f"{fname}: s={tuple(s)} gives {len(s)} sizes for {len(axes)} axes; pass one "
                "size per transformed axis"
            )
        for i, ax in enumerate(axes):
            if s[i] == -1:  # NumPy 2: keep the axis's length
                s[i] = (
                    shape[ax] if not (inverse_real and i == len(axes) - 1) else 2 * (shape[ax] - 1)
                )
    s = tuple(int(n) for n in s)
    for n in s:
        if n < 1:
            raise ValueError(f"{fname}: invalid number of points {n}; each size must be >= 1")
    return s, axes


def _real_input(fname: str, a) -> None:
    if is_complex(a):
        raise TypeError(
            f"{fname}: the input is complex, and {fname} transforms real input only. Use "
            f"{fname.replace('rfft', 'fft')} for complex input, or pass np.real(a)."
        )


# ---------------------------------------------------------------- complex transforms


def fftn(
    a: Any,
    s: Sequence[int] | None = None,
    axes: Sequence[int] | None = None,
    norm: str | None = None,
) -> Any:
    """``numpy.fft.fftn``: the n-dimensional DFT over ``axes`` (all by default).

    >>> import matdiff.numpy as np
    >>> np.fft.fftn(np.ones((2, 2)))
    array([[4.+0.j, 0.+0.j],
           [0.+0.j, 0.+0.j]])
    """
    _check_norm("fftn", norm)
    s, axes = _plan("fftn", a, s, axes)
    return _fftn(a, s, axes, norm)


def ifftn(
    a: Any,
    s: Sequence[int] | None = None,
    axes: Sequence[int] | None = None,
    norm: str | None = None,
) -> Any:
    """``numpy.fft.ifftn``: the n-dimensional inverse DFT over ``axes`` (all by default).

    >>> import matdiff.numpy as np
    >>> np.fft.ifftn(np.array([[4.0, 0.0], [0.0, 0.0]])).real
    array([[1., 1.],
           [1., 1.]])
    """
    _check_norm("ifftn", norm)
    s, axes = _plan("ifftn", a, s, axes)
    return _ifftn(a, s, axes, norm)


def fft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Any:
    """``numpy.fft.fft``: the DFT along ``axis``, the input cut or zero-padded to ``n``.

    >>> import matdiff.numpy as np
    >>> np.fft.fft(np.array([1.0, 0.0, 0.0]))
    array([1.+0.j, 1.+0.j, 1.+0.j])
    """
    _check_norm("fft", norm)
    s, axes = _plan("fft", a, None if n is None else (n,), (axis,))
    return _fftn(a, s, axes, norm)


def ifft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Any:
    """``numpy.fft.ifft``: the inverse DFT along ``axis``, the input cut or padded to ``n``.

    >>> import matdiff.numpy as np
    >>> np.fft.ifft(np.array([3.0, 0.0, 0.0])).real
    array([1., 1., 1.])
    """
    _check_norm("ifft", norm)
    s, axes = _plan("ifft", a, None if n is None else (n,), (axis,))
    return _ifftn(a, s, axes, norm)


def fft2(
    a: Any, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1), norm: str | None = None
) -> Any:
    """``numpy.fft.fft2``: the DFT over the last two axes.

    >>> import matdiff.numpy as np
    >>> np.fft.fft2(np.ones((2, 2)))[0, 0]
    np.complex128(4+0j)
    """
    _check_norm("fft2", norm)
    s, axes = _plan("fft2", a, s, axes)
    return _fftn(a, s, axes, norm)


def ifft2(
    a: Any, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1), norm: str | None = None
) -> Any:
    """``numpy.fft.ifft2``: the inverse DFT over the last two axes.

    >>> import matdiff.numpy as np
    >>> np.fft.ifft2(np.array([[4.0, 0.0], [0.0, 0.0]]))[1, 1]
    np.complex128(1+0j)
    """
    _check_norm("ifft2", norm)
    s, axes = _plan("ifft2", a, s, axes)
    return _ifftn(a, s, axes, norm)


# ---------------------------------------------------------------- real transforms


def rfftn(
    a: Any,
    s: Sequence[int] | None = None,
    axes: Sequence[int] | None = None,
    norm: str | None = None,
) -> Any:
    """``numpy.fft.rfftn``: the DFT of real input, the last axis halved to ``n // 2 + 1``.

    >>> import matdiff.numpy as np
    >>> np.fft.rfftn(np.ones((2, 4))).shape
    (2, 3)
    """
    _check_norm("rfftn", norm)
    _real_input("rfftn", a)
    s, axes = _plan("rfftn", a, s, axes)
    return _rfftn(a, s, axes, norm)


def irfftn(
    a: Any,
    s: Sequence[int] | None = None,
    axes: Sequence[int] | None = None,
    norm: str | None = None,
) -> Any:
    """``numpy.fft.irfftn``: the inverse of :func:`rfftn`; the last axis has
    ``2 * (m - 1)`` points unless ``s`` says otherwise.

    >>> import matdiff.numpy as np
    >>> np.fft.irfftn(np.fft.rfftn(np.ones((2, 4))))
    array([[1., 1., 1., 1.],
           [1., 1., 1., 1.]])
    """
    _check_norm("irfftn", norm)
    s, axes = _plan("irfftn", a, s, axes, inverse_real=True)
    return _irfftn(a, s, axes, norm)


def rfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Any:
    """``numpy.fft.rfft``: the ``n // 2 + 1`` non-negative frequency bins of a real input.

    >>> import matdiff.numpy as np
    >>> np.fft.rfft(np.array([1.0, 1.0, 1.0, 1.0]))
    array([4.+0.j, 0.+0.j, 0.+0.j])
    """
    _check_norm("rfft", norm)
    _real_input("rfft", a)
    s, axes = _plan("rfft", a, None if n is None else (n,), (axis,))
    return _rfftn(a, s, axes, norm)


def irfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Any:
    """``numpy.fft.irfft``: the real signal of ``n`` points (``2 * (m - 1)`` by default)
    whose half spectrum is ``a``.

    >>> import matdiff.numpy as np
    >>> np.fft.irfft(np.array([4.0, 0.0, 0.0]))
    array([1., 1., 1., 1.])
    """
    _check_norm("irfft", norm)
    s, axes = _plan("irfft", a, None if n is None else (n,), (axis,), inverse_real=True)
    return _irfftn(a, s, axes, norm)


def rfft2(
    a: Any, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1), norm: str | None = None
) -> Any:
    """``numpy.fft.rfft2``: :func:`rfftn` over the last two axes.

    >>> import matdiff.numpy as np
    >>> np.fft.rfft2(np.ones((4, 4))).shape
    (4, 3)
    """
    _check_norm("rfft2", norm)
    _real_input("rfft2", a)
    s, axes = _plan("rfft2", a, s, axes)
    return _rfftn(a, s, axes, norm)


def irfft2(
    a: Any, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1), norm: str | None = None
) -> Any:
    """``numpy.fft.irfft2``: :func:`irfftn` over the last two axes.

    >>> import matdiff.numpy as np
    >>> np.fft.irfft2(np.fft.rfft2(np.ones((2, 4)))).shape
    (2, 4)
    """
    _check_norm("irfft2", norm)
    s, axes = _plan("irfft2", a, s, axes, inverse_real=True)
    return _irfftn(a, s, axes, norm)


def hfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Any:
    """``numpy.fft.hfft``: the real spectrum of a signal with Hermitian symmetry, given
    by its first half (``irfft`` of the conjugate with the opposite normalization).

    >>> import matdiff.numpy as np
    >>> np.fft.hfft(np.array([1.0, 0.0, 0.0]))
    array([1., 1., 1., 1.])
    """
    _check_norm("hfft", norm)
    s, axes = _plan("hfft", a, None if n is None else (n,), (axis,), inverse_real=True)
    return _irfftn(_uf.conj(a), s, axes, _DUAL_NORM[norm])


def ihfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None) -> Any:
    """``numpy.fft.ihfft``: the inverse of :func:`hfft` for a real input.

    >>> import matdiff.numpy as np
    >>> np.fft.ihfft(np.array([1.0, 1.0, 1.0, 1.0]))
    array([1.-0.j, 0.-0.j, 0.-0.j])
    """
    _check_norm("ihfft", norm)
    _real_input("ihfft", a)
    s, axes = _plan("ihfft", a, None if n is None else (n,), (axis,))
    return _uf.conj(_rfftn(a, s, axes, _DUAL_NORM[norm]))


# ---------------------------------------------------------------- shifts and frequencies


def _shift(fname: str, x: Any, axes, sign: int) -> Any:
    ndim = len(shape_of(x))
    if axes is None:
        axes = tuple(range(ndim))
    elif isinstance(axes, (int, _np.integer)):
        axes = (axes,)
    axes = _axes_from_end(fname, tuple(axes), ndim)
    shape = shape_of(x)
    shifts = [sign * (shape[ax] // 2) for ax in axes]
    return _shape.roll(x, shifts, axes) if axes else x


def fftshift(x: Any, axes: int | Sequence[int] | None = None) -> Any:
    """``numpy.fft.fftshift``: the zero-frequency bin moved to the middle (a roll).

    >>> import matdiff.numpy as np
    >>> np.fft.fftshift(np.array([0.0, 1.0, 2.0, -2.0, -1.0]))
    array([-2., -1.,  0.,  1.,  2.])
    """
    return _shift("fftshift", x, axes, 1)


def ifftshift(x: Any, axes: int | Sequence[int] | None = None) -> Any:
    """``numpy.fft.ifftshift``: the inverse of :func:`fftshift`.

    >>> import matdiff.numpy as np
    >>> np.fft.ifftshift(np.array([-2.0, -1.0, 0.0, 1.0, 2.0]))
    array([ 0.,  1.,  2., -2., -1.])
    """
    return _shift("ifftshift", x, axes, -1)


def fftfreq(n: int, d: Any = 1.0) -> Any:
    """``numpy.fft.fftfreq``: the bin frequencies; differentiable in the spacing ``d``.

    >>> import matdiff.numpy as np
    >>> np.fft.fftfreq(4, d=0.5)
    array([ 0. ,  0.5, -1. , -0.5])
    """
    return _np.fft.fftfreq(n, 1.0) / d


def rfftfreq(n: int, d: Any = 1.0) -> Any:
    """``numpy.fft.rfftfreq``: the frequencies of :func:`rfft`'s bins; differentiable in ``d``.

    >>> import matdiff.numpy as np
    >>> np.fft.rfftfreq(4, d=0.5)
    array([0. , 0.5, 1. ])
    """
    return _np.fft.rfftfreq(n, 1.0) / d


# A raw ``numpy.fft.fft(box)`` reaches these functions through __array_function__.
for _name in __all__:
    export(globals()[_name], module=_HERE, routes=(getattr(_np.fft, _name),))


def __getattr__(name):
    return getattr(_np.fft, name)
