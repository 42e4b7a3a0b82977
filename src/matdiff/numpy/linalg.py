"""``matdiff.numpy.linalg``: differentiable linear algebra, in both modes, to any order.

Every function takes stacks of matrices (leading batch axes) wherever NumPy does. The
rules are written with traced functions (``matmul``, ``solve``, ``eigh``...) so that their
derivatives differentiate again: ``hessian`` of ``log det`` runs forward-over-reverse.

Conventions, shared with autograd and JAX:

* cotangents pair with tangents by ``Re sum(a * b)`` (no conjugation), so the VJP of a
  holomorphic function is the plain transpose of its JVP;
* ``cholesky``, ``eigh`` and ``eigvalsh`` read one triangle of their input, as LAPACK does,
  and their derivatives are those of the function computed: the unread triangle's is 0,
  and each read off-diagonal entry collects both mirrored halves (on symmetric input
  this is the derivative along symmetric matrices, as before);
* functions with several results (``eigh``, ``svd``, ``qr``, ``eig``) are one primitive
  whose answer is the results packed side by side; the public function unpacks them,
  so a cotangent that reaches only some results costs nothing extra to route.

Degenerate points are handled on purpose (``docs/coverage_linalg.md`` lists each case):
quantities that are differentiable at repeated eigen- or singular values (sums of the
values, projectors onto whole eigenspaces, ``norm(X, 2)`` at a simple top singular
value) get exact derivatives, with the couplings ``1 / (w_j - w_i)`` between equal values
set to zero; a loss that depends on the arbitrary sign/phase/rotation of the vectors or
on individual repeated values has no derivative, and the rules raise instead of
returning a number that depends on LAPACK's choices. Norms at zero take the subgradient
0.

>>> import matdiff.numpy as np
>>> from matdiff import grad
>>> X = np.array([[2.0, 1.0], [1.0, 3.0]])
>>> grad(lambda X: np.linalg.slogdet(X)[1])(X)  # X^-T (Matrix Cookbook eq. 57)
array([[ 0.6, -0.2],
       [-0.2,  0.4]])
"""

from __future__ import annotations

import functools
from collections import namedtuple
from collections.abc import Sequence
from typing import Any

import numpy as _np
import scipy.linalg.lapack as _lapack
from numpy.linalg import LinAlgError

from ..core import defjvp, defvjp
from ..tracer import branch, getval
from . import _batch
from . import manipulation as _shape
from . import products as _prod
from . import reductions as _red
from . import ufuncs as _uf
from ._broadcast import expand_to, match_realness, unbroadcast
from ._linalg_common import concat_cols as _concat_cols
from ._linalg_common import concat_last as _concat_last
from ._linalg_common import concat_rows as _concat_rows
from ._linalg_common import iscomplexobj as _is_cplx
from ._linalg_common import mH as _H
from ._linalg_common import mT as _T
from ._linalg_common import slice_last as _slice_last
from ._linalg_common import solve_triangular as _solve_tri
from ._linalg_common import take_cols as _take_cols
from ._linalg_common import take_rows as _take_rows
from ._linalg_common import traced as _traced
from ._linalg_common import tri_mask as _tri_mask
from ._linalg_common import tril as _tril
from ._wrap import export, lift_list, shape_of, wrap

__all__ = [
    "LinAlgError",
    "det",
    "slogdet",
    "inv",
    "pinv",
    "solve",
    "lstsq",
    "cholesky",
    "qr",
    "eigh",
    "eigvalsh",
    "eig",
    "eigvals",
    "svd",
    "svdvals",
    "norm",
    "vector_norm",
    "matrix_norm",
    "matrix_power",
    "multi_dot",
    "cond",
    "tensorsolve",
    "tensorinv",
    "matrix_rank",
    "matrix_transpose",
    "matmul",
    "outer",
    "trace",
    "diagonal",
    "tensordot",
    "cross",
    "vecdot",
]

_la = _np.linalg

SlogdetResult = namedtuple("SlogdetResult", ["sign", "logabsdet"])
EighResult = namedtuple("EighResult", ["eigenvalues", "eigenvectors"])
EigResult = namedtuple("EigResult", ["eigenvalues", "eigenvectors"])
SVDResult = namedtuple("SVDResult", ["U", "S", "Vh"])
QRResult = namedtuple("QRResult", ["Q", "R"])


# Primitives and composites here are documented as matdiff.numpy.linalg's and are not
# exported from matdiff.numpy itself.
_HERE = "matdiff.numpy.linalg"


# ---------------------------------------------------------------- small traced helpers


def _conj(x):
    return _uf.conj(x) if _is_cplx(x) else x


ArrayLike = Any  # an array, a number, a nested list, or a traced value

_mm = _prod.matmul


@functools.lru_cache(maxsize=64)
def _eye(n: int) -> _np.ndarray:
    e = _np.eye(n)
    e.flags.writeable = False
    return e


@functools.lru_cache(maxsize=64)
def _tri(n: int, k: int) -> _np.ndarray:
    return _tri_mask(n, n, k, True)


def _diag(x):
    """The diagonals of a stack of square matrices, shape ``(..., n)``."""
    n = shape_of(x)[-1]
    return _red.sum(_uf.multiply(x, _eye(n)), axis=-1)


def _diag_embed(v):
    """Square matrices with ``v`` (shape ``(..., n)``) on their diagonals."""
    s = shape_of(v)
    return _uf.multiply(_shape.reshape(v, s[:-1] + (1, s[-1])), _eye(s[-1]))


def _row(v):
    s = shape_of(v)
    return _shape.reshape(v, s[:-1] + (1, s[-1]))


def _col(v):
    s = shape_of(v)
    return _shape.reshape(v, s + (1,))


def _trace(x):
    return _red.sum(_diag(x), axis=-1)


def _expand2(g):
    """A stack of scalars reshaped to broadcast against a stack of matrices."""
    return _shape.reshape(g, shape_of(g) + (1, 1))


def _herm(x):
    """The Hermitian (symmetric) part, the projection used for symmetric-input functions."""
    return _uf.multiply(0.5, _uf.add(x, _H(x)))


def _same_pairs(w) -> _np.ndarray | None:
    """``same[..., i, j]``: w_i and w_j (i != j) are numerically equal; None if none are.

    Values closer than ``64 n eps max|w|`` are taken as one repeated value: LAPACK returns
    a repeated eigenvalue as values that differ by a few ulps.
    """
    wv = getval(w)
    n = _np.shape(wv)[-1]
    if n < 2:
        return None
    aw = _np.abs(wv)
    scale = _np.max(aw, axis=-1, keepdims=True)[..., None]
    tol = 64 * n * _np.finfo(_np.result_type(wv, float)).eps * _np.maximum(scale, 1e-300)
    same = _np.abs(wv[..., None, :] - wv[..., :, None]) <= tol
    same &= ~_np.eye(n, dtype=bool)
    return same if branch(same.any()) else None


def _inv_gaps(w, squared=False, same=None):
    """``F[i, j] = 1 / (w_j - w_i)`` (or ``1 / (w_j**2 - w_i**2)``) for distinct values.

    Pairs of equal values (``same``) and the diagonal get 0: the callers check that the
    cotangent or tangent gives those couplings no weight (see :func:`_check_clusters`).
    """
    n = shape_of(w)[-1]
    if squared:
        w = _uf.multiply(w, w)
    d = _uf.subtract(_row(w), _col(w))
    keep = ~_np.eye(n, dtype=bool)
    if same is not None:
        keep = keep & ~same
    safe = _uf.where(keep, d, 1.0)
    return _uf.where(keep, _uf.divide(1.0, safe), 0.0)


def _cluster_mean(x, same):
    """Average ``x`` (shape ``(..., n)``) over each cluster of repeated values."""
    if same is None:
        return x
    n = shape_of(x)[-1]
    member = same | _np.eye(n, dtype=bool)
    avg = member / _np.sum(member, axis=-1, keepdims=True)
    return _shape.reshape(_mm(avg, _col(x)), shape_of(x))


def _too_big(v, scale) -> bool:
    return bool(_np.any(_np.abs(v) > 1e-6 * scale + 1e-12))


def _check_clusters(fname, what, same, gvals=None, m=None, c=None, check_phase=False):
    """Refuse derivatives that depend on the arbitrary basis of repeated values.

    At a repeated eigen/singular value the vectors of its cluster are defined only up to
    a rotation (and every complex vector only up to a phase); the values in a cluster
    are not separately differentiable. A derivative exists only if the loss does not see
    that freedom. Reverse mode checks the cotangents: ``gvals`` (of the values) must be
    constant on each cluster and ``m = Vᵀ V̄`` Hermitian on each cluster (with
    ``check_phase``, on the diagonal too: the phase of each complex vector). Forward mode
    checks the tangent ``c = Vᴴ dA V``: it must not split a cluster (a multiple of the
    identity on it).
    """
    if same is None and not check_phase:
        return
    if same is not None and gvals is not None:
        gv = getval(gvals)
        scale = float(_np.max(_np.abs(gv))) if _np.size(gv) else 0.0
        if _too_big(_np.where(same, gv[..., None, :] - gv[..., :, None], 0), scale):
            raise ValueError(
                f"{fname}: the loss depends on individual {what[0]} of a repeated value, "
                "which are not differentiable there (only their sum and other symmetric "
                "functions are). Use a symmetric function of the repeated values, perturb "
                "the input to separate them, or use reverse mode on a smooth reformulation."
            )
    if m is not None:
        mv = getval(m)
        n = _np.shape(mv)[-1]
        mask = _np.eye(n, dtype=bool) if check_phase else _np.zeros((n, n), dtype=bool)
        if same is not None:
            mask = mask | same
        skew = mv - _np.conj(_np.swapaxes(mv, -1, -2))
        scale = float(_np.max(_np.abs(mv))) if mv.size else 0.0
        bad = _np.where(mask, skew, 0)
        if _too_big(bad, scale):
            diag_only = not _too_big(_np.where(mask & ~_np.eye(n, dtype=bool), skew, 0), scale)
            if diag_only:
                raise ValueError(
                    f"{fname}: the loss depends on the arbitrary phase of the complex "
                    f"{what[1]}: each is defined only up to a factor exp(i*theta), so "
                    "this derivative does not exist. Make the loss phase-invariant (e.g. "
                    "abs(v)**2, the projector v @ v.conj().T, or U @ diag(s) @ Vh)."
                )
            raise ValueError(
                f"{fname}: the loss depends on the particular {what[1]} chosen for a "
                "repeated value; only the space they span is determined, so this "
                "derivative does not exist. Use the projector onto that space (V @ V.T "
                "over the repeated columns) or perturb the input to separate the values."
            )
    if c is not None and same is not None:
        cv = getval(c)
        n = _np.shape(cv)[-1]
        d = _np.diagonal(cv, axis1=-2, axis2=-1)
        spread = _np.where(same, _np.abs(cv) + _np.abs(d[..., None, :] - d[..., :, None]), 0)
        scale = float(_np.max(_np.abs(cv))) if cv.size else 0.0
        if _too_big(spread, scale):
            raise ValueError(
                f"{fname}: forward-mode derivative at a repeated value along a direction "
                f"that splits it: the individual {what[0]} and their {what[1]} are not "
                "differentiable there (this includes second derivatives, e.g. hessian, of "
                "functions of them). Use reverse mode (grad/vjp), which is exact for "
                f"symmetric functions and projectors, or use {what[2]} for the values."
            )


# ---------------------------------------------------------------- packing several results


def _pack(*parts):
    """Lay ``(array, batch_ndim)`` parts side by side, each flattened after its batch axes."""
    flat = [_shape.reshape(p, shape_of(p)[:batch] + (-1,)) for p, batch in parts]
    return _concat_last(*flat)


def _unpack(packed, specs):
    """Inverse of :func:`_pack`: ``specs`` is a list of trailing shapes."""
    batch = shape_of(packed)[:-1]
    out = []
    start = 0
    for trailing in specs:
        size = int(_np.prod(trailing)) if trailing else 1
        piece = _slice_last(packed, start, start + size)
        out.append(_shape.reshape(piece, batch + tuple(trailing)))
        start += size
    return out


def _pack_raw(batch_nd, *arrays):
    return _np.concatenate([a.reshape(a.shape[:batch_nd] + (-1,)) for a in arrays], axis=-1)


def _check_square(fname: str, a) -> None:
    s = shape_of(a)
    if len(s) < 2:
        raise LinAlgError(
            f"{len(s)}-dimensional array given. Array must be at least two-dimensional"
        )
    if s[-1] != s[-2]:
        raise LinAlgError("Last 2 dimensions of the array must be square")


# ---------------------------------------------------------------- inv


def _inv_raw(a):
    # LAPACK's inverse from the LU factors (getrf, then getri with its optimal workspace)
    # takes about 0.7 of the time of NumPy's, which solves against the identity (one
    # core, n = 300: 1.44 against 2.05 ms). Stacks, other libraries' arrays and singular
    # matrices go to NumPy, whose errors and values they keep.
    f = _getrf(a) if type(a) is _np.ndarray else None
    if f is not None:
        lu, piv, info, getri = f
        if info == 0:
            inv_a, info = getri(lu, piv)
            if info == 0:
                inv_a += 0  # getri leaves -0.0 where NumPy's solve gives 0.0
                return inv_a
    return _la.inv(a)


inv = wrap(
    _inv_raw,
    "inv",
    module=_HERE,
    routes=(_la.inv,),
    vjp=lambda ans, a: lambda g: _uf.negative(_mm(_T(ans), _mm(g, _T(ans)))),
    jvp=lambda g, ans, a: _uf.negative(_mm(ans, _mm(g, ans))),
    batch=_batch.elementwise,
)
inv.__doc__ = """The inverse of each matrix in a stack: ``numpy.linalg.inv``.

d(X⁻¹) = −X⁻¹ dX X⁻¹; the gradient of a scalar ``f(X⁻¹)`` is −X⁻ᵀ Ḡ X⁻ᵀ.

>>> import matdiff.numpy as np
>>> np.linalg.inv(np.array([[2.0, 0.0], [0.0, 4.0]]))
array([[0.5 , 0.  ],
       [0.  , 0.25]])
"""


# ---------------------------------------------------------------- solve


def _solve_raw(a, b):
    return _la.solve(a, b)


_solve_mat = wrap(_solve_raw, "solve", module=_HERE, batch=_batch.elementwise)
"""Solve ``a x = b`` for stacks of matrices ``b`` (never the vector case)."""


def _solve_vjp_b(ans, a, b):
    return lambda g: unbroadcast(b, _solve_mat(_T(a), g))


def _solve_vjp_a(ans, a, b):
    def vjp(g):
        gb = _solve_mat(_T(a), g)
        return unbroadcast(a, _uf.negative(_mm(gb, _T(ans))))

    return vjp


defvjp(_solve_mat, _solve_vjp_a, _solve_vjp_b)
defjvp(
    _solve_mat,
    lambda g, ans, a, b: _uf.negative(_solve_mat(a, _mm(g, ans))),
    lambda g, ans, a, b: _solve_mat(a, g),
)


@export(module=_HERE, routes=(_la.solve,))
def solve(a: ArrayLike, b: ArrayLike) -> Any:
    """Solve ``a @ x = b`` for ``x``; ``b`` is a vector when it is 1-D (NumPy 2 rules).

    >>> import matdiff.numpy as np
    >>> np.linalg.solve(np.array([[2.0, 0.0], [0.0, 4.0]]), np.array([2.0, 2.0]))
    array([1. , 0.5])
    """
    if len(shape_of(b)) == 1 and _traced(a, b):
        x = _solve_mat(a, _col(b))
        return _shape.reshape(x, shape_of(x)[:-1])
    return _solve_mat(a, b)


# ---------------------------------------------------------------- det and slogdet

# The gradient of log|det X| is X^-T. Computing it with a fresh inverse would redo the LU
# factorization the forward pass already made (a third more work at n = 300); for a
# plain 2-D matrix the forward pass keeps its LU factors in a one-slot cache and the
# backward pass turns them into the inverse with LAPACK's getri, so value and gradient
# together cost one inverse. Nested derivatives (a traced input) take the traced path.
_lu_slot: list = [None]


def _getrf(a):
    a = _np.asarray(a)
    if a.ndim != 2 or a.dtype.char not in "fdFD" or a.shape[0] != a.shape[1] or a.size == 0:
        return None
    getrf, getri, lwork = _lapack_lu(a.dtype.char, a.shape[0])
    lu, piv, info = getrf(a)
    if info < 0:  # pragma: no cover - invalid argument, cannot happen for a square array
        return None
    return lu, piv, info, functools.partial(getri, lwork=lwork)


@functools.lru_cache(maxsize=32)
def _lapack_lu(char: str, n: int):
    """getrf, getri and getri's optimal workspace (the default one makes getri 5x slower)."""
    probe = _np.empty((1, 1), dtype=char)
    getrf, getri, query = _lapack.get_lapack_funcs(("getrf", "getri", "getri_lwork"), (probe,))
    lwork, info = query(n)
    return getrf, getri, max(int(_np.real(lwork)), 1)


def _lu_logdet(lu, piv):
    d = _np.diagonal(lu)
    swaps = _np.count_nonzero(piv != _np.arange(piv.shape[0]))
    sign = (-1.0) ** swaps
    if _np.iscomplexobj(d):
        absd = _np.abs(d)
        sign = sign * _np.prod(d / _np.where(absd == 0, 1, absd))
    else:
        sign = sign * _np.prod(_np.sign(d))
    with _np.errstate(divide="ignore"):
        logabs = _np.sum(_np.log(_np.abs(d)))
    if branch(_np.any(d == 0)):
        return d.dtype.type(0), -_np.inf
    return sign, logabs


def _cached_inv_T(ans, a):
    """``inv(a).T`` from the forward pass's LU factors, or None if they are not cached."""
    slot = _lu_slot[0]
    if slot is None or slot[0] is not ans or slot[1] is not a:
        return None
    _, _, lu, piv, info, getri, _ = slot
    _lu_slot[0] = None
    if info > 0:
        raise LinAlgError("Singular matrix")
    inv_a, info = getri(lu, piv)
    if info > 0:  # pragma: no cover - getrf already reported singularity
        raise LinAlgError("Singular matrix")
    return inv_a.T


def _logabsdet_raw(a):
    f = _getrf(a)
    if f is None:
        return _la.slogdet(a)[1]
    lu, piv, info, getri = f
    sign, logabs = _lu_logdet(lu, piv)
    ans = _np.asarray(logabs, dtype=_np.finfo(lu.dtype).dtype)[()]
    _lu_slot[0] = (ans, a, lu, piv, info, getri, sign)
    return ans


_logabsdet = wrap(_logabsdet_raw, "slogdet", module=_HERE, batch=_batch.elementwise)


def _inv_T(ans, a):
    fast = None if _traced(a) else _cached_inv_T(ans, a)
    return _T(inv(a)) if fast is None else fast


def _logabsdet_vjp(ans, a):
    def vjp(g):
        return match_realness(a, _uf.multiply(_expand2(g), _inv_T(ans, a)))

    return vjp


def _logabsdet_jvp(g, ans, a):
    _release_lu(ans)
    return _uf.real(_trace(_solve_mat(a, g)))


def _release_lu(ans):
    # Forward mode has no use for the cached factors: free them now.
    slot = _lu_slot[0]
    if slot is not None and slot[0] is ans:
        _lu_slot[0] = None


defvjp(_logabsdet, _logabsdet_vjp)
defjvp(_logabsdet, _logabsdet_jvp)


@export(module=_HERE, routes=(_la.slogdet,))
def slogdet(a: ArrayLike) -> Any:
    """``(sign, log|det a|)`` of each matrix in a stack, as ``numpy.linalg.slogdet``.

    ``logabsdet`` is differentiable (gradient X⁻ᵀ, Matrix Cookbook eq. 57); ``sign`` is
    locally constant for real input, and ``det / |det|`` for complex input.

    >>> import matdiff.numpy as np
    >>> np.linalg.slogdet(np.array([[2.0, 0.0], [0.0, -3.0]]))
    SlogdetResult(sign=np.float64(-1.0), logabsdet=np.float64(1.791759469228055))
    """
    if not _traced(a):
        return SlogdetResult(*_la.slogdet(a))
    _check_square("slogdet", a)
    logabs = _logabsdet(a)
    if _is_cplx(a):
        d = det(a)
        sign = _uf.divide(d, _uf.absolute(d))
    else:
        slot = _lu_slot[0]
        if slot is not None and slot[1] is getval(a):
            sign = slot[6]  # from the LU just made: no second factorization
        else:
            sign = _la.slogdet(getval(a))[0]
    return SlogdetResult(sign, logabs)


def _det_raw(a):
    f = _getrf(a)
    if f is None:
        return _la.det(a)
    lu, piv, info, getri = f
    # As LAPACK-based det does: the product of U's diagonal, signed by the pivots.
    swaps = _np.count_nonzero(piv != _np.arange(piv.shape[0]))
    ans = ((-1) ** swaps * _np.prod(_np.diagonal(lu))).astype(lu.dtype)[()]
    _lu_slot[0] = (ans, a, lu, piv, info, getri, None)
    return ans


_det = wrap(_det_raw, "det", module=_HERE, batch=_batch.elementwise)


@export(module=_HERE, routes=(_la.det,))
def det(a: ArrayLike) -> Any:
    """The determinant of each matrix in a stack: ``numpy.linalg.det``.

    d det X = det(X) ⟨X⁻ᵀ, dX⟩ (Matrix Cookbook eq. 49). At a singular matrix the gradient
    (the adjugate) is not computed: the backward pass raises ``LinAlgError``.

    >>> import matdiff.numpy as np
    >>> float(np.linalg.det(np.array([[2.0, 1.0], [1.0, 3.0]])))
    5.000000000000001
    """
    if not _traced(a):
        return _la.det(a)
    return _det(a)


def _det_vjp(ans, a):
    def vjp(g):
        return _uf.multiply(_expand2(_uf.multiply(g, ans)), _inv_T(ans, a))

    return vjp


defvjp(_det, _det_vjp)


def _det_jvp(g, ans, a):
    _release_lu(ans)
    return _uf.multiply(ans, _trace(_solve_mat(a, g)))


defjvp(_det, _det_jvp)


# ---------------------------------------------------------------- cholesky


def _cholesky_raw(a, upper=False):
    return _la.cholesky(a, upper=upper)


_cholesky = wrap(_cholesky_raw, "cholesky", module=_HERE, batch=_batch.elementwise)


def _phi(x):
    """Lower triangle with the diagonal halved: the map with d(L Lᴴ) = L(Φ + Φᴴ)Lᴴ."""
    n = shape_of(x)[-1]
    return _uf.multiply(x, _tri(n, -1) + 0.5 * _eye(n))


def _lower_of(ans, upper):
    return _H(ans) if upper else ans


def _cholesky_jvp(g, ans, a, upper=False):
    low = _lower_of(ans, upper)
    s = _read_triangle(g, "U" if upper else "L")
    x = _solve_tri(low, _H(_solve_tri(low, s, lower=True)), lower=True)  # L⁻¹ S L⁻ᴴ
    dl = _mm(low, _phi(x))
    return _H(dl) if upper else dl


def _cholesky_vjp(ans, a, upper=False):
    def vjp(g):
        low = _lower_of(ans, upper)
        gl = _H(g) if upper else g
        p = _phi(_mm(_T(low), gl))
        # Sbar = L^-T P conj(L)^-1, then the adjoint of the Hermitian projection.
        y = _solve_tri(_T(low), p, lower=False)
        sbar = _T(_solve_tri(_T(_conj(low)), _T(y), lower=False))
        ga = _uf.multiply(0.5, _uf.add(sbar, _H(sbar)))
        return match_realness(a, _read_triangle_adjoint(ga, "U" if upper else "L"))

    return vjp


defvjp(_cholesky, _cholesky_vjp)
defjvp(_cholesky, _cholesky_jvp)


@export(module=_HERE, routes=(_la.cholesky,))
def cholesky(a: ArrayLike, /, *, upper: bool = False) -> Any:
    """The Cholesky factor ``L`` (``a = L Lᴴ``), or ``Lᴴ`` with ``upper=True``.

    Reads the lower (upper) triangle, as NumPy does, and so does its derivative: the
    other triangle's is 0. A matrix that is not positive definite raises ``LinAlgError``.

    >>> import matdiff.numpy as np
    >>> np.linalg.cholesky(np.array([[4.0, 2.0], [2.0, 5.0]]))
    array([[2., 0.],
           [1., 2.]])
    """
    return _cholesky(a, upper=upper)


# ---------------------------------------------------------------- triangular solve


# ---------------------------------------------------------------- eigh and eigvalsh


def _eigh_packed_raw(a, UPLO="L"):
    w, v = _la.eigh(a, UPLO=UPLO)
    return _pack_raw(a.ndim - 2, w.astype(v.dtype), v)


_eigh_packed = wrap(_eigh_packed_raw, "eigh", module=_HERE, batch=_batch.elementwise)
_EIGH_WORDS = ("eigenvalues", "eigenvectors", "eigvalsh")


def _eigh_parts(packed, n):
    w, v = _unpack(packed, [(n,), (n, n)])
    return _uf.real(w) if _is_cplx(w) else w, v


def _triangle_mask(n: int, UPLO: str) -> _np.ndarray:
    lower = UPLO.upper() == "L"
    return _tri_mask(n, n, -1 if lower else 1, lower)


def _read_triangle(g, UPLO):
    """The Hermitian matrix that ``eigh(a, UPLO)`` decomposes, as a function of ``a``.

    LAPACK reads the strict lower (upper) triangle and the real part of the diagonal, and
    mirrors the triangle: so the function computed is ``eigh`` of this matrix, whatever
    the other triangle holds, and its derivative is taken through it (linear in ``g``).
    """
    n = shape_of(g)[-1]
    strict = _uf.multiply(g, _triangle_mask(n, UPLO))
    d = _diag_embed(_uf.real(_diag(g)) if _is_cplx(g) else _diag(g))
    return _uf.add(_uf.add(strict, _H(strict)), d)


def _read_triangle_adjoint(ga, UPLO):
    """The transpose of :func:`_read_triangle`: the read off-diagonal entries collect both
    mirrored halves, the unread triangle gets 0, the diagonal its real part."""
    n = shape_of(ga)[-1]
    mask = _triangle_mask(n, UPLO)
    off = _uf.add(_uf.multiply(ga, mask), _uf.multiply(_H(ga), mask))
    return _uf.add(off, _diag_embed(_uf.real(_diag(ga)) if _is_cplx(ga) else _diag(ga)))


def _eigh_jvp(g, ans, a, UPLO="L"):
    n = shape_of(a)[-1]
    w, v = _eigh_parts(ans, n)
    same = _same_pairs(w)
    c = _mm(_H(v), _mm(_read_triangle(g, UPLO), v))
    _check_clusters("eigh", _EIGH_WORDS, same, c=c)
    dw = _diag(c)
    dv = _mm(v, _uf.multiply(_inv_gaps(w, same=same), c))
    return _pack((dw, len(shape_of(dw)) - 1), (dv, len(shape_of(dv)) - 2))


def _eigh_vjp(ans, a, UPLO="L"):
    def vjp(g):
        n = shape_of(a)[-1]
        w, v = _eigh_parts(ans, n)
        gw, gv = _unpack(g, [(n,), (n, n)])
        vtg = _mm(_T(v), gv)
        same = _same_pairs(w)
        _check_clusters("eigh", _EIGH_WORDS, same, gvals=gw, m=vtg, check_phase=_is_cplx(v))
        cbar = _uf.add(_diag_embed(gw), _uf.multiply(_inv_gaps(w, same=same), vtg))
        ga = _mm(_conj(v), _mm(cbar, _T(v)))
        return match_realness(a, _read_triangle_adjoint(ga, UPLO))

    return vjp


defvjp(_eigh_packed, _eigh_vjp)
defjvp(_eigh_packed, _eigh_jvp)


@export(module=_HERE, routes=(_la.eigh,))
def eigh(a: ArrayLike, UPLO: str = "L") -> Any:
    """Eigenvalues (ascending) and orthonormal eigenvectors of symmetric/Hermitian matrices.

    Reads the ``UPLO`` triangle, and the derivative is that of the function of that
    triangle (the other one's is 0). The eigenvectors are defined up to
    sign (phase, for complex input): use them through gauge-invariant quantities such as
    ``v @ v.T`` or ``abs(v)**2``; a loss that depends on the phase raises. At repeated
    eigenvalues the eigenvalues' sum and eigenspace projectors stay differentiable.

    >>> import matdiff.numpy as np
    >>> np.linalg.eigh(np.array([[2.0, 0.0], [0.0, 1.0]])).eigenvalues
    array([1., 2.])
    """
    if not _traced(a):
        return EighResult(*_la.eigh(a, UPLO=UPLO))
    _check_square("eigh", a)
    n = shape_of(a)[-1]
    return EighResult(*_eigh_parts(_eigh_packed(a, UPLO=UPLO), n))


def _eigvalsh_raw(a, UPLO="L"):
    return _la.eigvalsh(a, UPLO=UPLO)


eigvalsh = wrap(
    _eigvalsh_raw, "eigvalsh", module=_HERE, routes=(_la.eigvalsh,), batch=_batch.elementwise
)
eigvalsh.__doc__ = """The eigenvalues (ascending) of symmetric/Hermitian matrices.

dλᵢ = vᵢᴴ dA vᵢ. At a repeated eigenvalue the individual values have one-sided
derivatives only; symmetric functions of them (their sum, ``trace``) are exact.

>>> import matdiff.numpy as np
>>> np.linalg.eigvalsh(np.array([[2.0, 1.0], [1.0, 2.0]]))
array([1., 3.])
"""


def _eigvalsh_vjp(ans, a, UPLO="L"):
    def vjp(g):
        _check_clusters("eigvalsh", _EIGH_WORDS, _same_pairs(ans), gvals=g)
        v = eigh(a, UPLO).eigenvectors
        ga = _mm(_conj(v), _mm(_diag_embed(g), _T(v)))
        return match_realness(a, _read_triangle_adjoint(ga, UPLO))

    return vjp


def _eigvalsh_jvp(g, ans, a, UPLO="L"):
    v = eigh(a, UPLO).eigenvectors
    dw = _uf.real(_diag(_mm(_H(v), _mm(_read_triangle(g, UPLO), v))))
    # At a repeated eigenvalue only the cluster's mean moves linearly: its derivative is
    # the one returned for each member (exact for sums, the minimum-norm choice).
    return _cluster_mean(dw, _same_pairs(ans))


defvjp(eigvalsh, _eigvalsh_vjp)
defjvp(eigvalsh, _eigvalsh_jvp)


# ---------------------------------------------------------------- eig and eigvals


def _eig_packed_raw(a):
    w, v = _la.eig(a)
    dt = _np.result_type(w, v, _np.complex64)
    return _pack_raw(a.ndim - 2, w.astype(dt), v.astype(dt))


_eig_packed = wrap(_eig_packed_raw, "eig", module=_HERE, batch=_batch.elementwise)
_EIG_WORDS = ("eigenvalues", "eigenvectors", "eigvals")


def _refuse_repeated_eig(w):
    if _same_pairs(w) is not None:
        raise ValueError(
            "eig: the matrix has a repeated eigenvalue; eigenvalues and eigenvectors of a "
            "general matrix are not differentiable there (a defective matrix perturbs like "
            "a square root). For a symmetric or Hermitian matrix use eigh/eigvalsh."
        )


def _eig_jvp(g, ans, a):
    n = shape_of(a)[-1]
    w, v = _unpack(ans, [(n,), (n, n)])
    _refuse_repeated_eig(w)
    c = _solve_mat(v, _mm(g, v))  # V⁻¹ dA V
    dw = _diag(c)
    dv = _mm(v, _uf.multiply(_inv_gaps(w), c))
    # numpy's eigenvectors have unit norm: remove the component that would change it.
    norm_fix = _uf.real(_red.sum(_uf.multiply(_uf.conj(v), dv), axis=-2))
    dv = _uf.subtract(dv, _uf.multiply(v, _row(norm_fix)))
    return _pack((dw, len(shape_of(dw)) - 1), (dv, len(shape_of(dv)) - 2))


def _eig_vjp(ans, a):
    def vjp(g):
        n = shape_of(a)[-1]
        w, v = _unpack(ans, [(n,), (n, n)])
        gw, gv = _unpack(g, [(n,), (n, n)])
        _refuse_repeated_eig(w)
        vtg = _red.sum(_uf.multiply(v, gv), axis=-2)  # diag(Vᵀ Ḡ)
        _check_clusters("eig", _EIG_WORDS, None, m=_diag_embed(vtg), check_phase=True)
        gv = _uf.subtract(gv, _uf.multiply(_uf.conj(v), _row(_uf.real(vtg))))
        cbar = _uf.add(_diag_embed(gw), _uf.multiply(_inv_gaps(w), _mm(_T(v), gv)))
        ga = _solve_mat(_T(v), _mm(cbar, _T(v)))  # V⁻ᵀ C̄ Vᵀ
        return match_realness(a, ga)

    return vjp


defvjp(_eig_packed, _eig_vjp)
defjvp(_eig_packed, _eig_jvp)


@export(module=_HERE, routes=(_la.eig,))
def eig(a: ArrayLike) -> Any:
    """Eigenvalues and unit-norm right eigenvectors of general square matrices.

    Traced results are complex (a real matrix may have complex eigenvalues, and their
    derivatives are complex). Each eigenvector is defined up to a complex phase: use
    phase-invariant losses (``abs(v)**2``, projectors); a phase-dependent loss raises.
    Eigenvalues must be distinct for the eigenvector derivatives.

    >>> import matdiff.numpy as np
    >>> np.linalg.eig(np.array([[2.0, 0.0], [0.0, 1.0]])).eigenvalues
    array([2., 1.])
    """
    if not _traced(a):
        return EigResult(*_la.eig(a))
    _check_square("eig", a)
    n = shape_of(a)[-1]
    return EigResult(*_unpack(_eig_packed(a), [(n,), (n, n)]))


def _eigvals_raw(a):
    w = _la.eigvals(a)
    return w.astype(_np.result_type(w, _np.complex64))


eigvals = wrap(
    _eigvals_raw, "eigvals", module=_HERE, routes=(_la.eigvals,), batch=_batch.elementwise
)
eigvals.__doc__ = """The eigenvalues of general square matrices (complex when traced).

dλᵢ = (V⁻¹ dA V)ᵢᵢ for distinct eigenvalues.

>>> import matdiff.numpy as np
>>> np.linalg.eigvals(np.array([[0.0, 1.0], [-1.0, 0.0]]))
array([0.+1.j, 0.-1.j])
"""


def _eigvals_vjp(ans, a):
    def vjp(g):
        _refuse_repeated_eig(ans)
        v = eig(a).eigenvectors
        ga = _solve_mat(_T(v), _mm(_diag_embed(g), _T(v)))
        return match_realness(a, ga)

    return vjp


defvjp(eigvals, _eigvals_vjp)
defjvp(eigvals, lambda g, ans, a: _eigvals_jvp(g, ans, a))


def _eigvals_jvp(g, ans, a):
    _refuse_repeated_eig(ans)
    v = eig(a).eigenvectors
    return _diag(_solve_mat(v, _mm(g, v)))


# ---------------------------------------------------------------- svd and svdvals


def _svd_packed_raw(a, full_matrices=True, hermitian=False):
    u, s, vh = _la.svd(a, full_matrices=full_matrices, hermitian=hermitian)
    return _pack_raw(a.ndim - 2, u, s.astype(u.dtype), vh)


_svd_packed = wrap(_svd_packed_raw, "svd", module=_HERE, batch=_batch.elementwise)
_SVD_WORDS = ("singular values", "singular vectors", "svdvals")


def _refuse_rank_deficient(s, m, n):
    sv = getval(s)
    if (
        m != n
        and sv.size
        and _np.any(
            sv[..., -1] <= 64 * max(m, n) * _np.finfo(_np.result_type(sv, float)).eps * sv[..., 0]
        )
    ):
        raise ValueError(
            "svd: the matrix is not of full rank, so the singular vectors of its zero "
            "singular values are not determined and have no derivative. Use svdvals (or "
            "compute_uv=False) for the values, or a full-rank input."
        )


def _svd_specs(a, full_matrices):
    m, n = shape_of(a)[-2:]
    k = min(m, n)
    um, vn = (m, n) if full_matrices else (k, k)
    return [(m, um), (k,), (vn, n)], m, n, k


def _svd_parts(packed, a, full_matrices):
    specs, *_ = _svd_specs(a, full_matrices)
    u, s, vh = _unpack(packed, specs)
    return u, (_uf.real(s) if _is_cplx(s) else s), vh


def _svd_jvp(g, ans, a, full_matrices=True, hermitian=False):
    u, s, vh = _svd_parts(ans, a, full_matrices)
    m, n = shape_of(a)[-2:]
    k = min(m, n)
    u1 = _take_cols(u, 0, k)
    v1 = _take_cols(_H(vh), 0, k)
    dp = _mm(_H(u1), _mm(g, v1))
    same = _same_pairs(s)
    _refuse_rank_deficient(s, m, n)
    _check_clusters("svd", _SVD_WORDS, same, c=dp)
    ds = _uf.real(_diag(dp)) if _is_cplx(dp) else _diag(dp)
    f = _inv_gaps(s, squared=True, same=same)
    s_row = _row(s)
    s_col = _col(s)
    inv_s = _safe_recip(s)
    dps = _uf.multiply(dp, s_row)  # dP S
    sdp = _uf.multiply(s_col, dp)  # S dP
    du = _mm(u1, _uf.multiply(f, _uf.add(dps, _H(dps))))
    dv = _mm(v1, _uf.multiply(f, _uf.add(sdp, _H(sdp))))
    if _is_cplx(dp):
        dd = _diag(dp)
        phase = _uf.multiply(_uf.multiply(1j, _uf.imag(dd)), inv_s)
        du = _uf.add(du, _mm(u1, _diag_embed(phase)))
    if m > k:
        dav = _mm(g, v1)
        du = _uf.add(du, _uf.multiply(_uf.subtract(dav, _mm(u1, _mm(_H(u1), dav))), _row(inv_s)))
    if n > k:
        dahu = _mm(_H(g), u1)
        dv = _uf.add(dv, _uf.multiply(_uf.subtract(dahu, _mm(v1, _mm(_H(v1), dahu))), _row(inv_s)))
    if full_matrices and m > k:
        u2 = _take_cols(u, k, m)
        du = _concat_cols(du, _uf.negative(_mm(u1, _mm(_H(du), u2))))
    if full_matrices and n > k:
        v2 = _take_cols(_H(vh), k, n)
        dv = _concat_cols(dv, _uf.negative(_mm(v1, _mm(_H(dv), v2))))
    return _pack(
        (du, len(shape_of(du)) - 2), (ds, len(shape_of(ds)) - 1), (_H(dv), len(shape_of(dv)) - 2)
    )


def _safe_recip(s):
    """1/s where s > 0; 0 where s == 0 (those directions carry no derivative)."""
    nz = getval(s) != 0
    return _uf.where(nz, _uf.divide(1.0, _uf.where(nz, s, 1.0)), 0.0)


def _check_complement(fname, basis, gbasis):
    """A loss may see the completed (gauge) columns only through their span."""
    m = _mm(_T(basis), gbasis)
    skew = _uf.subtract(m, _H(m))
    mv = _np.abs(getval(skew))
    scale = _np.maximum(_np.max(_np.abs(getval(m))), 1e-30) if mv.size else 0.0
    if mv.size and branch(_np.max(mv) > 1e-6 * scale + 1e-12):
        raise ValueError(
            f"{fname}: the loss depends on the particular basis NumPy chose for the "
            "complement columns of a full_matrices/complete factorization; only their "
            "span is determined, so this derivative does not exist. Use the reduced "
            "factorization, or a loss that sees those columns only through Q2 @ Q2.T."
        )


def _svd_vjp(ans, a, full_matrices=True, hermitian=False):
    def vjp(g):
        u, s, vh = _svd_parts(ans, a, full_matrices)
        gu, gs, gvh = _svd_parts(g, a, full_matrices)
        m, n = shape_of(a)[-2:]
        k = min(m, n)
        v = _H(vh)
        gv = _H(gvh)
        u1, v1 = _take_cols(u, 0, k), _take_cols(v, 0, k)
        gu1, gv1 = _take_cols(gu, 0, k), _take_cols(gv, 0, k)
        if full_matrices and m > k:
            u2, gu2 = _take_cols(u, k, m), _take_cols(gu, k, m)
            _check_complement("svd", u2, gu2)
            gu1 = _uf.subtract(gu1, _mm(_conj(u2), _mm(_H(gu2), _conj(u1))))
        if full_matrices and n > k:
            v2, gv2 = _take_cols(v, k, n), _take_cols(gv, k, n)
            _check_complement("svd", v2, gv2)
            gv1 = _uf.subtract(gv1, _mm(_conj(v2), _mm(_H(gv2), _conj(v1))))
        j = _mm(_T(u1), gu1)
        kk = _mm(_T(v1), gv1)
        same = _same_pairs(s)
        # Only a loss that reads the singular vectors needs them determined: the common
        # np.sum(svd(x)[1]) gets the values' subgradient, as svdvals does.
        if branch(_np.any(getval(gu1) != 0)) or branch(_np.any(getval(gv1) != 0)):
            _refuse_rank_deficient(s, m, n)
        _check_clusters(
            "svd", _SVD_WORDS, same, gvals=gs, m=_uf.add(j, kk), check_phase=_is_cplx(u)
        )
        f = _inv_gaps(s, squared=True, same=same)
        inv_s = _safe_recip(s)
        pbar = _diag_embed(gs)
        pbar = _uf.add(pbar, _uf.multiply(_uf.multiply(f, _uf.subtract(j, _H(j))), _row(s)))
        pbar = _uf.add(pbar, _uf.multiply(_col(s), _uf.multiply(f, _uf.subtract(kk, _H(kk)))))
        if _is_cplx(u):
            pbar = _uf.add(
                pbar, _diag_embed(_uf.multiply(1j, _uf.multiply(_uf.imag(_diag(j)), inv_s)))
            )
        ga = _mm(_conj(u1), _mm(pbar, _T(v1)))
        if m > k:
            proj = _uf.subtract(gu1, _mm(_conj(u1), j))
            ga = _uf.add(ga, _mm(_uf.multiply(proj, _row(inv_s)), _T(v1)))
        if n > k:
            gvh1 = _H(gv1)
            proj = _uf.subtract(gvh1, _mm(_mm(gvh1, _conj(v1)), _T(v1)))
            ga = _uf.add(ga, _mm(_conj(u1), _uf.multiply(_col(inv_s), proj)))
        return match_realness(a, ga)

    return vjp


defvjp(_svd_packed, _svd_vjp)
defjvp(_svd_packed, _svd_jvp)


@export(module=_HERE, routes=(_la.svd,))
def svd(
    a: ArrayLike, full_matrices: bool = True, compute_uv: bool = True, hermitian: bool = False
) -> Any:
    """Singular value decomposition ``a = U @ diag(S) @ Vh`` of each matrix in a stack.

    Singular vectors are defined up to sign (phase) and, with ``full_matrices=True``, the
    columns beyond ``min(m, n)`` only up to a rotation of their span: use gauge-invariant
    losses (``U @ diag(S) @ Vh``, projectors); gauge-dependent losses raise. Derivatives
    of ``U``/``Vh`` need distinct, nonzero singular values; ``S`` alone (``compute_uv=False``
    or :func:`svdvals`) needs neither.

    >>> import matdiff.numpy as np
    >>> np.linalg.svd(np.array([[3.0, 0.0], [0.0, -4.0]]), compute_uv=False)
    array([4., 3.])
    """
    if not compute_uv:
        if hermitian and not _traced(a):
            return _la.svd(a, compute_uv=False, hermitian=True)
        return svdvals(a)
    if not _traced(a):
        return SVDResult(*_la.svd(a, full_matrices=full_matrices, hermitian=hermitian))
    packed = _svd_packed(a, full_matrices=full_matrices, hermitian=hermitian)
    return SVDResult(*_svd_parts(packed, a, full_matrices))


def _svdvals_raw(x):
    return _la.svd(x, compute_uv=False)


svdvals = wrap(
    _svdvals_raw,
    "svdvals",
    module=_HERE,
    routes=(getattr(_la, "svdvals", None),),
    batch=_batch.elementwise,
)
svdvals.__doc__ = """The singular values (descending) of each matrix in a stack.

dσᵢ = Re(uᵢᴴ dA vᵢ): no coupling between values, so repeated singular values give no
NaN (the individual values then have one-sided derivatives).

>>> import matdiff.numpy as np
>>> np.linalg.svdvals(np.array([[3.0, 0.0], [0.0, -4.0]]))
array([4., 3.])
"""


def _svdvals_vjp(ans, x):
    def vjp(g):
        _check_clusters("svdvals", _SVD_WORDS, _same_pairs(ans), gvals=g)
        u, _, vh = svd(x, full_matrices=False)
        ga = _mm(_conj(u), _mm(_diag_embed(g), _conj(vh)))
        return match_realness(x, ga)

    return vjp


def _svdvals_jvp(g, ans, x):
    u, _, vh = svd(x, full_matrices=False)
    dp = _diag(_mm(_H(u), _mm(g, _H(vh))))
    dp = _uf.real(dp) if _is_cplx(dp) else dp
    return _cluster_mean(dp, _same_pairs(ans))


defvjp(svdvals, _svdvals_vjp)
defjvp(svdvals, _svdvals_jvp)


# ---------------------------------------------------------------- qr


def _qr_packed_raw(a, complete=False):
    q, r = _la.qr(a, mode="complete" if complete else "reduced")
    return _pack_raw(a.ndim - 2, q, r)


_qr_packed = wrap(_qr_packed_raw, "qr", module=_HERE, batch=_batch.elementwise)


def _qr_specs(a, complete):
    m, n = shape_of(a)[-2:]
    k = min(m, n)
    qn = m if complete else k
    return [(m, qn), (qn, n)]


def _qr_square_jvp(dA, q, r):
    """dQ, dR of the reduced QR with m >= n (r square, invertible)."""
    x = _rsolve_upper(_mm(_H(q), dA), r)  # Qᴴ dA R⁻¹
    low = _tril(x, -1)
    omega = _uf.subtract(low, _H(low))
    mdiff = _uf.subtract(x, omega)
    if _is_cplx(x):
        # The diagonal of Qᴴ dQ is imaginary for complex Q; LAPACK's R has a real diagonal.
        im = _uf.multiply(1j, _uf.imag(_diag(x)))
        omega = _uf.add(omega, _diag_embed(im))
        mdiff = _uf.subtract(mdiff, _diag_embed(im))
    dr = _mm(mdiff, r)
    dq = _uf.subtract(_rsolve_upper(dA, r), _mm(q, mdiff))
    return dq, dr


def _rsolve_upper(b, r):
    """b R⁻¹ with R upper triangular."""
    return _T(_solve_tri(_T(r), _T(b), lower=True))


def _qr_jvp(g, ans, a, complete=False):
    m, n = shape_of(a)[-2:]
    q, r = _unpack(ans, _qr_specs(a, complete))
    if m < n:
        q1, r1 = q, _take_cols(r, 0, m)
        g1, g2 = _take_cols(g, 0, m), _take_cols(g, m, n)
        dq, dr1 = _qr_square_jvp(g1, q1, r1)
        a2 = _take_cols(a, m, n)
        dr2 = _uf.add(_mm(_H(dq), a2), _mm(_H(q1), g2))
        dr = _concat_last(dr1, dr2)
    else:
        q1 = _take_cols(q, 0, n)
        r1 = _take_rows(r, 0, n)
        dq, dr1 = _qr_square_jvp(g, q1, r1)
        dr = dr1
        if complete and m > n:
            q2 = _take_cols(q, n, m)
            dq = _concat_cols(dq, _uf.negative(_mm(q1, _mm(_H(dq), q2))))
            zeros = _np.zeros(shape_of(dr1)[:-2] + (m - n, n), dtype=getval(dr1).dtype)
            dr = _concat_rows(dr1, zeros)
    return _pack((dq, len(shape_of(dq)) - 2), (dr, len(shape_of(dr)) - 2))


def _qr_square_vjp(gq, gr, q, r):
    """Ā for the reduced QR with m >= n, from Q̄ and R̄."""
    b = _uf.subtract(_mm(gr, _T(r)), _mm(_T(q), gq))
    if _is_cplx(q):
        b = _uf.subtract(b, _diag_embed(_uf.multiply(1j, _uf.imag(_diag(b)))))
    low = _tril(_uf.subtract(b, _H(b)), -1)
    c = _uf.subtract(b, low)
    return _rsolve_upper_T(_uf.add(gq, _mm(_conj(q), c)), r)


def _rsolve_upper_T(b, r):
    """b R⁻ᵀ with R upper triangular (so Rᵀ is lower)."""
    return _T(_solve_tri(r, _T(b), lower=False))


def _qr_vjp(ans, a, complete=False):
    def vjp(g):
        m, n = shape_of(a)[-2:]
        q, r = _unpack(ans, _qr_specs(a, complete))
        gq, gr = _unpack(g, _qr_specs(a, complete))
        if m < n:
            r1 = _take_cols(r, 0, m)
            a2 = _take_cols(a, m, n)
            gr1, gr2 = _take_cols(gr, 0, m), _take_cols(gr, m, n)
            # R2 = Qᴴ A2: its cotangent feeds Q̄ and Ā2.
            gq = _uf.add(gq, _mm(_conj(a2), _T(gr2)))
            ga2 = _mm(_conj(q), gr2)
            ga1 = _qr_square_vjp(gq, gr1, q, r1)
            return match_realness(a, _concat_cols(ga1, ga2))
        if complete and m > n:
            q1, q2 = _take_cols(q, 0, n), _take_cols(q, n, m)
            gq1, gq2 = _take_cols(gq, 0, n), _take_cols(gq, n, m)
            _check_complement("qr", q2, gq2)
            gq1 = _uf.subtract(gq1, _mm(_conj(q2), _mm(_H(gq2), _conj(q1))))
            r1 = _take_rows(r, 0, n)
            gr1 = _take_rows(gr, 0, n)
            return match_realness(a, _qr_square_vjp(gq1, gr1, q1, r1))
        return match_realness(a, _qr_square_vjp(gq, gr, q, r))

    return vjp


defvjp(_qr_packed, _qr_vjp)
defjvp(_qr_packed, _qr_jvp)


@export(module=_HERE, routes=(_la.qr,))
def qr(a: ArrayLike, mode: str = "reduced") -> Any:
    """QR factorization of each matrix in a stack; ``mode`` is reduced, complete or r.

    Differentiable where the leading ``min(m, n)`` columns are linearly independent. With
    ``mode="complete"`` and m > n the extra columns of ``Q`` are determined only up to a
    rotation of their span; a loss that depends on more than their span raises.

    >>> import matdiff.numpy as np
    >>> q, r = np.linalg.qr(np.array([[3.0, 1.0], [4.0, 2.0]]))
    >>> r.round(6)
    array([[-5. , -2.2],
           [ 0. ,  0.4]])
    """
    if not _traced(a):
        return _la.qr(a, mode=mode)
    if mode not in ("reduced", "complete", "r"):
        if mode in ("raw", "economic", "full", "f", "e"):
            raise ValueError(
                f"qr: mode {mode!r} has no derivative; use 'reduced', 'complete' or 'r'"
            )
        return _la.qr(getval(a), mode=mode)  # NumPy's own error for an unknown mode
    packed = _qr_packed(a, complete=(mode == "complete"))
    q, r = _unpack(packed, _qr_specs(a, mode == "complete"))
    return r if mode == "r" else QRResult(q, r)


# ---------------------------------------------------------------- pinv and lstsq


def _pinv_raw(a, rcond=None, hermitian=False, *, rtol=None):
    kwargs = {"hermitian": hermitian}
    if rtol is not None:
        kwargs["rtol"] = rtol
    if rcond is not None:
        kwargs["rcond"] = rcond
    return _la.pinv(a, **kwargs)


_pinv = wrap(_pinv_raw, "pinv", module=_HERE, batch=_batch.elementwise)


def _pinv_terms(x, a):
    m, n = shape_of(a)[-2:]
    i_ax = _uf.subtract(_eye(m), _mm(a, x))  # I - A A⁺
    i_xa = _uf.subtract(_eye(n), _mm(x, a))  # I - A⁺ A
    return i_ax, i_xa


def _pinv_jvp(g, ans, a, rcond=None, hermitian=False, *, rtol=None):
    x = ans
    i_ax, i_xa = _pinv_terms(x, a)
    gh = _H(g)
    t1 = _uf.negative(_mm(x, _mm(g, x)))
    t2 = _mm(_mm(x, _H(x)), _mm(gh, i_ax))
    t3 = _mm(i_xa, _mm(gh, _mm(_H(x), x)))
    return _uf.add(t1, _uf.add(t2, t3))


def _pinv_vjp(ans, a, rcond=None, hermitian=False, *, rtol=None):
    def vjp(g):
        x = ans
        i_ax, i_xa = _pinv_terms(x, a)
        gh = _H(g)
        t1 = _uf.negative(_mm(_T(x), _mm(g, _T(x))))
        t2 = _mm(_conj(i_ax), _mm(gh, _conj(_mm(x, _H(x)))))
        t3 = _mm(_conj(_mm(_H(x), x)), _mm(gh, _conj(i_xa)))
        return match_realness(a, _uf.add(t1, _uf.add(t2, t3)))

    return vjp


defvjp(_pinv, _pinv_vjp)
defjvp(_pinv, _pinv_jvp)


@export(module=_HERE, routes=(_la.pinv,))
def pinv(a: ArrayLike, rcond=None, hermitian: bool = False, *, rtol=None) -> Any:
    """The Moore–Penrose pseudo-inverse of each matrix in a stack.

    Differentiable where the rank is locally constant (the derivative of Golub and
    Pereyra); singular values below the cutoff are treated as exact zeros.

    >>> import matdiff.numpy as np
    >>> np.linalg.pinv(np.array([[2.0, 0.0], [0.0, 0.0]]))
    array([[0.5, 0. ],
           [0. , 0. ]])
    """
    return _pinv(a, rcond, hermitian, rtol=rtol)


@export(module=_HERE, routes=(_la.lstsq,))
def lstsq(a: ArrayLike, b: ArrayLike, rcond=None) -> Any:
    """Least-squares solution ``x`` minimizing ``|b - a x|``: ``(x, residuals, rank, s)``.

    As ``numpy.linalg.lstsq`` (2-D ``a``; ``b`` 1-D or 2-D). ``x`` is the minimum-norm
    solution ``pinv(a) @ b``, differentiable in ``a`` and ``b`` at constant rank;
    ``residuals`` (squared 2-norms of the columns of ``b - a x``, empty unless ``a`` has
    full column rank and more rows than columns) and ``s`` are differentiable too.

    >>> import matdiff.numpy as np
    >>> x, res, rank, s = np.linalg.lstsq(np.array([[1.0], [1.0]]), np.array([1.0, 3.0]))
    >>> x
    array([2.])
    """
    if not _traced(a, b):
        return _la.lstsq(a, b, rcond=rcond)
    av, bv = getval(a), getval(b)
    _, _, rank, _ = _la.lstsq(av, bv, rcond=rcond)  # NumPy's checks and rank decision
    m, n = av.shape
    cutoff = (_np.finfo(_np.result_type(av, float)).eps * max(m, n)) if rcond is None else rcond
    x = _mm(pinv(a, rtol=cutoff), b)
    if branch(rank == n) and m > n:
        r = _uf.subtract(b, _mm(a, x))
        rr = _uf.real(_uf.multiply(_uf.conj(r), r)) if _is_cplx(r) else _uf.multiply(r, r)
        residuals = _red.sum(rr, axis=0)
        if len(shape_of(b)) == 1:
            residuals = _shape.reshape(residuals, (1,))
    else:
        residuals = _np.empty((0,), dtype=_np.finfo(_np.result_type(av, bv, float)).dtype)
    return x, residuals, rank, svdvals(a)


# ---------------------------------------------------------------- norms


def _normalize_axes(axis, nd):
    if axis is None:
        return tuple(range(nd))
    if isinstance(axis, int):
        axis = (axis,)
    return tuple(ax % nd for ax in axis)


def _expand_reduced(r, x_shape, axis, keepdims):
    """Broadcast a reduction's result back over the reduced axes."""
    return expand_to(r, x_shape, axis, keepdims)


def _pnorm_raw(x, p, axis=None, keepdims=False):
    absx = _np.abs(x)
    if p == 2:
        return _np.sqrt(_np.sum(_np.real(absx * absx), axis=axis, keepdims=keepdims))
    with _np.errstate(divide="ignore"):
        return _np.sum(absx**p, axis=axis, keepdims=keepdims) ** (1.0 / p)


_pnorm = wrap(_pnorm_raw, "vector_norm", module=_HERE)


def _pnorm_grad(x, ans, p, axis, keepdims):
    """∂‖x‖_p / ∂x (conjugated for complex x), with the subgradient 0 where x == 0."""
    xv = getval(x)
    shape = shape_of(x)
    full = _expand_reduced(ans, shape, axis, keepdims)
    # Raw ufuncs, not np.asarray: under jit the values are staged and the masks are recorded.
    nz = _np.not_equal(xv, 0)
    nzn = _np.logical_and(_np.not_equal(getval(full), 0), nz)
    absx = _uf.absolute(x)
    safe_abs = _uf.where(nz, absx, 1.0)
    safe_n = _uf.where(nzn, full, 1.0)
    unit = _uf.divide(_uf.conj(x), safe_abs) if _is_cplx(x) else _np.sign(xv)
    if p == 2:
        mag = _uf.divide(safe_abs, safe_n)
    elif p == 1:
        mag = _np.ones(shape)
    else:
        mag = _uf.power(_uf.divide(safe_abs, safe_n), p - 1.0)
    return _uf.where(nzn, _uf.multiply(mag, unit), 0.0)


def _pnorm_vjp(ans, x, p, axis=None, keepdims=False):
    def vjp(g):
        d = _pnorm_grad(x, ans, p, axis, keepdims)
        return match_realness(x, _uf.multiply(_expand_reduced(g, shape_of(x), axis, keepdims), d))

    return vjp


def _pnorm_jvp(g, ans, x, p, axis=None, keepdims=False):
    prod = _uf.multiply(_pnorm_grad(x, ans, p, axis, keepdims), g)
    if _is_cplx(prod):
        prod = _uf.real(prod)
    return _red.sum(prod, axis=axis, keepdims=keepdims)


defvjp(_pnorm, _pnorm_vjp)
defjvp(_pnorm, _pnorm_jvp)


def _amax_raw(x, axis=None, keepdims=False, smallest=False):
    f = _np.min if smallest else _np.max
    return f(x, axis=axis, keepdims=keepdims)


_amax = wrap(_amax_raw, "amax", module=_HERE)


def _amax_weights(x, ans, axis, keepdims):
    """Ties share the cotangent equally: the minimum-norm element of the subdifferential."""
    xv = getval(x)
    full = _np.broadcast_to(
        getval(ans) if keepdims else _np.expand_dims(getval(ans), _normalize_axes(axis, xv.ndim)),
        xv.shape,
    )
    hit = (xv == full).astype(_np.result_type(xv, float))
    count = _np.sum(hit, axis=axis, keepdims=True)
    return hit / count


def _amax_vjp(ans, x, axis=None, keepdims=False, smallest=False):
    def vjp(g):
        w = _amax_weights(x, ans, axis, keepdims)
        return _uf.multiply(_expand_reduced(g, shape_of(x), axis, keepdims), w)

    return vjp


def _amax_jvp(g, ans, x, axis=None, keepdims=False, smallest=False):
    w = _amax_weights(x, ans, axis, keepdims)
    return _red.sum(_uf.multiply(g, w), axis=axis, keepdims=keepdims)


defvjp(_amax, _amax_vjp)
defjvp(_amax, _amax_jvp)


def _vector_norm_impl(x, ord, axis, keepdims):
    inf = _np.inf
    if ord == inf or ord == -inf:
        return _amax(_uf.absolute(x), axis=axis, keepdims=keepdims, smallest=ord < 0)
    if ord == 0:
        nz = _np.asarray(getval(x) != 0).astype(_np.finfo(_np.result_type(getval(x), float)).dtype)
        return _np.sum(nz, axis=axis, keepdims=keepdims)
    if ord == 1:
        return _red.sum(_uf.absolute(x), axis=axis, keepdims=keepdims)
    return _pnorm(x, float(ord), axis=axis, keepdims=keepdims)


@export(module=_HERE, routes=(getattr(_la, "vector_norm", None),))
def vector_norm(x: ArrayLike, /, *, axis=None, keepdims: bool = False, ord=2) -> Any:
    """``numpy.linalg.vector_norm``: the ``ord``-norm over ``axis`` (all axes by default).

    At ``x = 0`` the gradient is the subgradient 0, not NaN; ``ord=inf`` splits the
    cotangent evenly between tied entries.

    >>> import matdiff.numpy as np
    >>> float(np.linalg.vector_norm(np.array([3.0, -4.0])))
    5.0
    """
    x = lift_list(x)
    if not _traced(x):
        return _la.vector_norm(x, axis=axis, keepdims=keepdims, ord=ord)
    if isinstance(ord, str):
        _la.vector_norm(getval(x), axis=axis, keepdims=keepdims, ord=ord)  # NumPy's error
    return _vector_norm_impl(x, ord, axis, keepdims)


def _move_to_end(x, row_axis, col_axis):
    nd = len(shape_of(x))
    rest = [i for i in range(nd) if i not in (row_axis, col_axis)]
    return _shape.transpose(x, tuple(rest + [row_axis, col_axis]))


def _matrix_norm_last(x, ord):
    """The matrix norm over the last two axes (no keepdims)."""
    inf = _np.inf
    if ord in ("fro", "f", None):
        return _pnorm(x, 2.0, axis=(-2, -1))
    if ord == "nuc":
        return _red.sum(svdvals(x), axis=-1)
    if ord == 2 or ord == -2:
        s = svdvals(x)
        k = shape_of(s)[-1]
        return _slice_last(s, 0, 1)[..., 0] if ord == 2 else _slice_last(s, k - 1, k)[..., 0]
    if ord in (1, -1):
        return _amax(_red.sum(_uf.absolute(x), axis=-2), axis=-1, smallest=ord < 0)
    if ord in (inf, -inf):
        return _amax(_red.sum(_uf.absolute(x), axis=-1), axis=-1, smallest=ord < 0)
    raise ValueError("Invalid norm order for matrices.")


_MATRIX_ORDS = (None, "fro", "f", "nuc", 1, -1, 2, -2, _np.inf, -_np.inf)


def _matrix_norm_axes(x, ord, axes, keepdims):
    nd = len(shape_of(x))
    row, col = (ax % nd for ax in axes)
    if row == col:
        raise ValueError("Duplicate axes given.")
    if isinstance(ord, bool) or ord not in _MATRIX_ORDS:
        raise ValueError("Invalid norm order for matrices.")  # NumPy's message
    moved = x if (row, col) == (nd - 2, nd - 1) else _move_to_end(x, row, col)
    r = _matrix_norm_last(moved, ord)
    if keepdims:
        shape = list(shape_of(x))
        shape[row] = 1
        shape[col] = 1
        r = _shape.reshape(r, tuple(shape))
    return r


@export(module=_HERE, routes=(getattr(_la, "matrix_norm", None),))
def matrix_norm(x: ArrayLike, /, *, keepdims: bool = False, ord="fro") -> Any:
    """``numpy.linalg.matrix_norm``: the norm of each matrix (last two axes) in a stack.

    ``ord`` is ``'fro'``, ``'nuc'``, 1, -1, 2, -2, inf or -inf. ``ord=2`` is the largest
    singular value, differentiable where it is simple (gradient u₁v₁ᵀ).

    >>> import matdiff.numpy as np
    >>> float(np.linalg.matrix_norm(np.array([[3.0, 0.0], [0.0, 4.0]]), ord=2))
    4.0
    """
    x = lift_list(x)
    if not _traced(x):
        return _la.matrix_norm(x, keepdims=keepdims, ord=ord)
    if len(shape_of(x)) < 2:
        _la.matrix_norm(getval(x), keepdims=keepdims, ord=ord)  # NumPy's error
    return _matrix_norm_axes(x, ord, (-2, -1), keepdims)


@export(module=_HERE, routes=(_la.norm,))
def norm(x: ArrayLike, ord=None, axis=None, keepdims: bool = False) -> Any:
    """``numpy.linalg.norm``: vector norms over one axis, matrix norms over two.

    Vector ``ord``: None/2, 1, inf, -inf, 0, any p. Matrix ``ord``: None/'fro', 'nuc',
    1, -1, 2, -2, inf, -inf. Invalid orders raise NumPy's own ``ValueError``. At zero the
    gradient is the subgradient 0.

    >>> import matdiff.numpy as np
    >>> float(np.linalg.norm(np.array([[1.0, 2.0], [2.0, 4.0]])))
    5.0
    """
    x = lift_list(x)
    if not _traced(x):
        return _la.norm(x, ord=ord, axis=axis, keepdims=keepdims)
    nd = len(shape_of(x))
    if axis is None:
        if ord is None or (ord in ("f", "fro") and nd == 2) or (ord == 2 and nd == 1):
            r = _pnorm(x, 2.0, axis=None, keepdims=keepdims)
            return r
        axis = tuple(range(nd))
    elif not isinstance(axis, tuple):
        axis = (int(axis),)
    if len(axis) == 1:
        if isinstance(ord, str):
            raise ValueError(f"Invalid norm order '{ord}' for vectors")
        return _vector_norm_impl(x, 2 if ord is None else ord, axis, keepdims)
    if len(axis) == 2:
        return _matrix_norm_axes(x, ord, axis, keepdims)
    raise ValueError("Improper number of dimensions to norm.")


# ---------------------------------------------------------------- composites


@export(module=_HERE, routes=(_la.matrix_power,))
def matrix_power(a: ArrayLike, n: int) -> Any:
    """``a`` raised to the integer power ``n`` (negative: of the inverse), by squaring.

    >>> import matdiff.numpy as np
    >>> np.linalg.matrix_power(np.array([[1.0, 1.0], [0.0, 1.0]]), 3)
    array([[1., 3.],
           [0., 1.]])
    """
    if not _traced(a):
        return _la.matrix_power(a, n)
    try:
        n = _np.asarray(n).item().__index__()
    except (TypeError, ValueError, AttributeError):
        raise TypeError("exponent must be an integer") from None
    _check_square("matrix_power", a)
    if n == 0:
        m = shape_of(a)[-1]
        return _np.broadcast_to(_np.eye(m, dtype=getval(a).dtype), shape_of(a)).copy()
    if n < 0:
        a = inv(a)
        n = -n
    result = None
    base = a
    while n:
        if n & 1:
            result = base if result is None else _mm(result, base)
        n >>= 1
        if n:
            base = _mm(base, base)
    return result


def _chain_order(dims):
    """Optimal parenthesization of a matrix chain: s[i][j] is the split of A_i..A_j."""
    k = len(dims) - 1
    cost = [[0] * k for _ in range(k)]
    split = [[0] * k for _ in range(k)]
    for length in range(1, k):
        for i in range(k - length):
            j = i + length
            cost[i][j] = None
            for s in range(i, j):
                c = cost[i][s] + cost[s + 1][j] + dims[i] * dims[s + 1] * dims[j + 1]
                if cost[i][j] is None or c < cost[i][j]:
                    cost[i][j] = c
                    split[i][j] = s
    return split


@export(module=_HERE, routes=(_la.multi_dot,))
def multi_dot(arrays: Sequence, *, out=None) -> Any:
    """The product of a chain of matrices, multiplied in the cheapest order.

    The first array may be 1-D (a row vector), the last 1-D (a column vector).

    >>> import matdiff.numpy as np
    >>> np.linalg.multi_dot([np.ones(2), np.eye(2), np.ones(2)])
    np.float64(2.0)
    """
    if out is not None or not _traced(*arrays):
        return (
            _la.multi_dot([getval(x) for x in arrays], out=out)
            if out is not None
            else (_la.multi_dot(arrays))
        )
    if len(arrays) < 2:
        raise ValueError("Expecting at least two arrays.")
    arrays = list(arrays)
    first_1d = len(shape_of(arrays[0])) == 1
    last_1d = len(shape_of(arrays[-1])) == 1
    if first_1d:
        arrays[0] = _row(arrays[0])
    if last_1d:
        arrays[-1] = _col(arrays[-1])
    for x in arrays:
        if len(shape_of(x)) != 2:
            raise ValueError(
                f"{len(shape_of(x))}-dimensional array given. Array must be two-dimensional"
            )
    dims = [shape_of(arrays[0])[0]] + [shape_of(x)[1] for x in arrays]
    split = _chain_order(dims)

    def product(i, j):
        if i == j:
            return arrays[i]
        s = split[i][j]
        return _mm(product(i, s), product(s + 1, j))

    res = product(0, len(arrays) - 1)
    shape = shape_of(res)
    if first_1d and last_1d:
        return _shape.reshape(res, ())
    if first_1d:
        return _shape.reshape(res, shape[1:])
    if last_1d:
        return _shape.reshape(res, shape[:1])
    return res


@export(module=_HERE, routes=(_la.cond,))
def cond(x: ArrayLike, p=None) -> Any:
    """The condition number of each matrix in a stack, in the norm ``p``.

    ``p`` None/2/-2 uses singular values; others use ``norm(x, p) * norm(inv(x), p)``.

    >>> import matdiff.numpy as np
    >>> float(np.linalg.cond(np.array([[4.0, 0.0], [0.0, 2.0]])))
    2.0
    """
    if not _traced(x):
        return _la.cond(x, p)
    if p is None or p == 2 or p == -2:
        s = svdvals(x)
        k = shape_of(s)[-1]
        top, bottom = _slice_last(s, 0, 1)[..., 0], _slice_last(s, k - 1, k)[..., 0]
        return _uf.divide(bottom, top) if p == -2 else _uf.divide(top, bottom)
    _check_square("cond", x)
    return _uf.multiply(norm(x, p, axis=(-2, -1)), norm(inv(x), p, axis=(-2, -1)))


@export(module=_HERE, routes=(_la.tensorinv,))
def tensorinv(a: ArrayLike, ind: int = 2) -> Any:
    """The inverse of ``a`` as a linear map from its last axes to its first ``ind`` axes.

    >>> import matdiff.numpy as np
    >>> np.linalg.tensorinv(np.eye(4).reshape(4, 2, 2), ind=1).shape
    (2, 2, 4)
    """
    if not _traced(a):
        return _la.tensorinv(a, ind)
    shape = shape_of(a)
    if ind <= 0:
        raise ValueError("Invalid ind argument.")
    out_shape = shape[ind:] + shape[:ind]
    rows = int(_np.prod(shape[:ind]))
    cols = int(_np.prod(shape[ind:]))
    if rows != cols:
        _la.tensorinv(getval(a), ind)  # NumPy's error for a non-square map
    ia = inv(_shape.reshape(a, (rows, cols)))
    return _shape.reshape(ia, out_shape)


@export(module=_HERE, routes=(_la.tensorsolve,))
def tensorsolve(a: ArrayLike, b: ArrayLike, axes=None) -> Any:
    """Solve ``tensordot(a, x, axes=x.ndim) = b`` for ``x``.

    >>> import matdiff.numpy as np
    >>> np.linalg.tensorsolve(np.eye(4).reshape(2, 2, 4), np.ones((2, 2))).shape
    (4,)
    """
    if not _traced(a, b):
        return _la.tensorsolve(a, b, axes)
    nd = len(shape_of(a))
    if axes is not None:
        allaxes = list(range(nd))
        for k in axes:
            allaxes.remove(k)
            allaxes.insert(nd, k)
        a = _shape.transpose(a, tuple(allaxes))
    bshape = shape_of(b)
    ashape = shape_of(a)
    x_shape = ashape[-(nd - len(bshape)) :] if nd > len(bshape) else ()
    rows = int(_np.prod(bshape))
    cols = int(_np.prod(x_shape))
    if rows != cols:
        _la.tensorsolve(getval(a), getval(b))  # NumPy's error for a non-square map
    x = solve(_shape.reshape(a, (rows, cols)), _shape.reshape(b, (rows,)))
    return _shape.reshape(x, x_shape)


matrix_rank = wrap(
    _la.matrix_rank, "matrix_rank", nondiff=True, module=_HERE, routes=(_la.matrix_rank,)
)
matrix_rank.__doc__ = """The rank of each matrix in a stack (``numpy.linalg.matrix_rank``).

An integer: it has no derivative, and traced input is read as its value.

>>> import matdiff.numpy as np
>>> int(np.linalg.matrix_rank(np.array([[1.0, 2.0], [2.0, 4.0]])))
1
"""


@export(module=_HERE, routes=(getattr(_la, "matrix_transpose", None),))
def matrix_transpose(x: ArrayLike, /) -> Any:
    """Swap the last two axes of a stack of matrices.

    >>> import matdiff.numpy as np
    >>> np.linalg.matrix_transpose(np.ones((3, 1, 2))).shape
    (3, 2, 1)
    """
    return _T(x)


matmul = export(_prod.matmul, routes=(_la.matmul,), public=False)


# numpy.linalg's array-API spellings of functions matdiff.numpy already differentiates:
# they act on the last axes.


@export(module=_HERE, routes=(_la.outer,))
def outer(x1: ArrayLike, x2: ArrayLike, /) -> Any:
    """The outer product of two vectors (``numpy.linalg.outer``).

    >>> import matdiff.numpy as np
    >>> np.linalg.outer(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    array([[3., 4.],
           [6., 8.]])
    """
    return _prod.outer(x1, x2)


@export(module=_HERE, routes=(_la.trace,))
def trace(x: ArrayLike, /, *, offset: int = 0, dtype=None) -> Any:
    """The trace of each matrix in a stack (``numpy.linalg.trace``: the last two axes).

    >>> import matdiff.numpy as np
    >>> float(np.linalg.trace(np.array([[1.0, 2.0], [3.0, 4.0]])))
    5.0
    """
    return _shape.trace(x, offset=offset, axis1=-2, axis2=-1, dtype=dtype)


@export(module=_HERE, routes=(_la.diagonal,))
def diagonal(x: ArrayLike, /, *, offset: int = 0) -> Any:
    """The diagonals of a stack of matrices (``numpy.linalg.diagonal``: the last two axes).

    >>> import matdiff.numpy as np
    >>> np.linalg.diagonal(np.array([[1.0, 2.0], [3.0, 4.0]]))
    array([1., 4.])
    """
    return _shape.diagonal(x, offset=offset, axis1=-2, axis2=-1)


@export(module=_HERE, routes=(_la.tensordot,))
def tensordot(x1: ArrayLike, x2: ArrayLike, /, *, axes=2) -> Any:
    """``numpy.linalg.tensordot``.

    >>> import matdiff.numpy as np
    >>> float(np.linalg.tensordot(np.eye(2), np.eye(2)))
    2.0
    """
    return _prod.tensordot(x1, x2, axes=axes)


@export(module=_HERE, routes=(_la.cross,))
def cross(x1: ArrayLike, x2: ArrayLike, /, *, axis: int = -1) -> Any:
    """The cross product of 3-vectors (``numpy.linalg.cross``).

    >>> import matdiff.numpy as np
    >>> np.linalg.cross(np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]))
    array([0., 0., 1.])
    """
    return _prod.cross(x1, x2, axis=axis)


@export(module=_HERE, routes=(_la.vecdot,))
def vecdot(x1: ArrayLike, x2: ArrayLike, /, *, axis: int = -1) -> Any:
    """``sum(conj(x1) * x2, axis)``, broadcasting (``numpy.linalg.vecdot``).

    >>> import matdiff.numpy as np
    >>> float(np.linalg.vecdot(np.array([1.0, 2.0]), np.array([3.0, 4.0])))
    11.0
    """
    if not _traced(x1, x2):
        return _la.vecdot(x1, x2, axis=axis)
    return _red.sum(_uf.multiply(_conj(x1), x2), axis=axis)


def __getattr__(name: str) -> Any:
    # Everything not wrapped here (LinAlgError, outer, ...) is NumPy's own.
    return getattr(_la, name)
