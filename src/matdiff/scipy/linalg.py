"""``matdiff.scipy.linalg``: differentiable counterparts of ``scipy.linalg``.

Matrix functions (``expm``, ``logm``, ``sqrtm``) are differentiated through their Fréchet
derivative, computed with the block-triangular identity

    f([[A, E], [0, A]]) = [[f(A), L_f(A, E)], [0, f(A)]],

by the traced ``f`` itself, so the derivative differentiates again (any order, both
modes). Solvers and factorizations (``solve_triangular``, ``cho_factor``/``cho_solve``,
``lu_factor``/``lu_solve``, ``solve_sylvester``, ``solve_continuous_lyapunov``,
``solve_banded``) have rules
written with traced solves. The common functions of ``numpy.linalg`` are offered under
SciPy's names and signatures (``cholesky`` returns the upper factor by default, ``qr``
defaults to the full factorization, ...). Names not wrapped here fall through to SciPy.

>>> import matdiff.numpy as np
>>> from matdiff import grad
>>> from matdiff.scipy.linalg import expm
>>> float(grad(lambda t: np.sum(expm(t * np.array([[0.0, 1.0], [-1.0, 0.0]]))))(0.0))
0.0
"""

from __future__ import annotations

from typing import Any

import numpy as _np
import scipy.linalg as _sl

from .. import numpy as _mnp
from ..core import defjvp, defvjp
from ..numpy import linalg as _nla
from ..numpy import manipulation as _shape
from ..numpy import products as _prod
from ..numpy import ufuncs as _uf
from ..numpy._linalg_common import concat_last as _concat_last
from ..numpy._linalg_common import concat_rows as _concat_rows
from ..numpy._linalg_common import iscomplexobj as _is_cplx
from ..numpy._linalg_common import mH as _H
from ..numpy._linalg_common import mT as _T
from ..numpy._linalg_common import solve_triangular as _solve_tri
from ..numpy._linalg_common import take_cols as _take_cols
from ..numpy._linalg_common import take_rows as _take_rows
from ..numpy._linalg_common import traced as _traced
from ..numpy._linalg_common import tril as _tril
from ..numpy._linalg_common import triu as _triu
from ..numpy._wrap import export, shape_of, wrap
from ..tracer import branch, getval

__all__ = [
    "expm",
    "logm",
    "sqrtm",
    "solve_triangular",
    "cho_factor",
    "cho_solve",
    "lu_factor",
    "lu_solve",
    "solve_sylvester",
    "solve_continuous_lyapunov",
    "det",
    "inv",
    "solve",
    "cholesky",
    "qr",
    "eigh",
    "eigvalsh",
    "eig",
    "eigvals",
    "svd",
    "svdvals",
    "norm",
    "pinv",
    "lstsq",
    "solve_banded",
]

ArrayLike = Any  # an array, a number, a nested list, or a traced value

_mm = _prod.matmul


_HERE = "matdiff.scipy.linalg"


# ---------------------------------------------------------------- matrix functions


def _block_upper(a, e):
    """``[[a, e], [0, a]]`` for stacks of square matrices (traced)."""
    zeros = _np.zeros(shape_of(a), dtype=_np.result_type(getval(a), getval(e)))
    return _concat_rows(_concat_last(a, e), _concat_last(zeros, a))


def _frechet(f, a, e):
    """The Fréchet derivative L_f(a, e) of a primary matrix function f."""
    n = shape_of(a)[-1]
    big = f(_block_upper(a, e))
    return _take_rows(_take_cols(big, n, 2 * n), 0, n)


def _def_matrix_function(f, domain_check=None):
    """JVP L_f(A, E); VJP L_f(Aᵀ, G), since f(Aᵀ) = f(A)ᵀ for a primary function."""

    def jvp(g, ans, a):
        if domain_check is not None:
            domain_check(a)
        return _frechet(f, a, g)

    def vjp(ans, a):
        def back(g):
            if domain_check is not None:
                domain_check(a)
            ga = _frechet(f, _T(a), g)
            return _uf.real(ga) if _is_cplx(ga) and not _is_cplx(a) else ga

        return back

    defvjp(f, vjp)
    defjvp(f, jvp)


def _expm_raw(a):
    return _sl.expm(a)


expm = wrap(_expm_raw, "expm", module=_HERE)
expm.__doc__ = """The matrix exponential of each matrix in a stack (``scipy.linalg.expm``).

Its derivative is the Fréchet derivative L(A, E) = ∫₀¹ e^{sA} E e^{(1-s)A} ds, computed
as the top-right block of ``expm([[A, E], [0, A]])``, and differentiable again.

>>> import matdiff.numpy as np
>>> expm(np.zeros((2, 2)))
array([[1., 0.],
       [0., 1.]])
"""
_def_matrix_function(expm)


def _principal_domain(fname):
    """Principal log and square root: eigenvalues off the closed negative real axis."""

    def check(a):
        w = _np.linalg.eigvals(getval(a))
        scale = _np.maximum(_np.max(_np.abs(w)), 1e-300) if w.size else 1.0
        tol = 1e3 * _np.finfo(float).eps * scale
        bad = (_np.abs(w.imag) <= tol) & (w.real <= tol)
        if branch(_np.any(bad)):
            raise ValueError(
                f"{fname}: no derivative at this matrix: it has an eigenvalue on the closed "
                "negative real axis (or zero), where the principal branch is singular or "
                "discontinuous. Shift or rescale the input so its eigenvalues avoid "
                "(-inf, 0]."
            )

    return check


def _logm_raw(a):
    return _sl.logm(a)


logm = wrap(_logm_raw, "logm", module=_HERE)
logm.__doc__ = """The principal matrix logarithm (``scipy.linalg.logm``).

Differentiable where no eigenvalue lies on the closed negative real axis; elsewhere the
derivative raises ``ValueError`` (the branch cut), while the value is SciPy's.

>>> import matdiff.numpy as np
>>> logm(np.eye(2))
array([[0., 0.],
       [0., 0.]])
"""
_def_matrix_function(logm, _principal_domain("logm"))


def _sqrtm_raw(a):
    return _sl.sqrtm(a)


sqrtm = wrap(_sqrtm_raw, "sqrtm", module=_HERE)
sqrtm.__doc__ = """The principal matrix square root (``scipy.linalg.sqrtm``).

Differentiable where no eigenvalue lies on the closed negative real axis (in particular
not at singular matrices); there the derivative raises ``ValueError``.

>>> import matdiff.numpy as np
>>> sqrtm(np.array([[4.0, 0.0], [0.0, 9.0]]))
array([[2., 0.],
       [0., 3.]])
"""
_def_matrix_function(sqrtm, _principal_domain("sqrtm"))


# ---------------------------------------------------------------- triangular solves


def _effective_triangle(a, lower, unit_diagonal):
    t = _tril(a) if lower else _triu(a)
    if unit_diagonal:
        n = shape_of(a)[-1]
        t = _uf.add(_tril(t, -1) if lower else _triu(t, 1), _np.eye(n))
    return t


@export(module=_HERE)
def solve_triangular(
    a: ArrayLike,
    b: ArrayLike,
    trans=0,
    lower: bool = False,
    unit_diagonal: bool = False,
    overwrite_b: bool = False,
    check_finite: bool = True,
) -> Any:
    """Solve ``op(a) x = b`` with ``a`` triangular; ``op`` is set by ``trans`` (0, 1, 2).

    Only the ``lower`` (or upper) triangle of ``a`` is read, so the gradient in ``a`` is
    zero outside it (and on the diagonal when ``unit_diagonal``).

    >>> import matdiff.numpy as np
    >>> solve_triangular(np.array([[2.0, 0.0], [1.0, 1.0]]), np.array([2.0, 3.0]), lower=True)
    array([1., 2.])
    """
    if not _traced(a, b):
        return _sl.solve_triangular(
            a, b, trans=trans, lower=lower, unit_diagonal=unit_diagonal, check_finite=check_finite
        )
    if trans not in (0, 1, 2, "N", "T", "C"):
        raise ValueError(f"solve_triangular: trans must be 0, 1, 2, 'N', 'T' or 'C', got {trans!r}")
    if check_finite and not branch(_np.all(_np.isfinite(getval(a)))):
        raise ValueError("array must not contain infs or NaNs")
    t = _effective_triangle(a, lower, unit_diagonal)
    low = lower
    if trans in (1, "T"):
        t, low = _T(t), not lower
    elif trans in (2, "C"):
        t, low = _H(t), not lower
    vec = len(shape_of(b)) == 1
    bb = _shape.reshape(b, shape_of(b) + (1,)) if vec else b
    x = _solve_tri(t, bb, lower=low)
    return _shape.reshape(x, shape_of(x)[:-1]) if vec else x


# ---------------------------------------------------------------- Cholesky solves


@export(module=_HERE)
def cho_factor(
    a: ArrayLike, lower: bool = False, overwrite_a: bool = False, check_finite: bool = True
) -> Any:
    """``(c, lower)`` for :func:`cho_solve`: ``c`` is the Cholesky factor of ``a``.

    Unlike SciPy, the unused triangle of ``c`` holds zeros rather than leftover data.

    >>> import matdiff.numpy as np
    >>> c, low = cho_factor(np.array([[4.0, 2.0], [2.0, 5.0]]))
    >>> low, c[0]
    (False, array([2., 1.]))
    """
    if not _traced(a):
        return _sl.cho_factor(a, lower=lower, check_finite=check_finite)
    return _nla.cholesky(a, upper=not lower), lower


@export(module=_HERE)
def cho_solve(
    c_and_lower, b: ArrayLike, overwrite_b: bool = False, check_finite: bool = True
) -> Any:
    """Solve ``a x = b`` given ``cho_factor(a)``.

    >>> import matdiff.numpy as np
    >>> cho_solve(cho_factor(np.array([[4.0, 2.0], [2.0, 5.0]])), np.array([6.0, 7.0]))
    array([1., 1.])
    """
    c, lower = c_and_lower
    if not _traced(c, b):
        return _sl.cho_solve((c, lower), b, check_finite=check_finite)
    if lower:
        y = solve_triangular(c, b, lower=True, check_finite=check_finite)
        return solve_triangular(c, y, trans=2, lower=True, check_finite=check_finite)
    y = solve_triangular(c, b, trans=2, lower=False, check_finite=check_finite)
    return solve_triangular(c, y, lower=False, check_finite=check_finite)


# ---------------------------------------------------------------- LU


def _perm_matrices(piv):
    """Pᵀ as matrices, from LAPACK pivots: Pᵀ A = L U (stacks of pivots allowed)."""
    piv = _np.asarray(piv)
    n = piv.shape[-1]
    flat = piv.reshape(-1, n)
    out = _np.empty((flat.shape[0], n, n))
    for b, p in enumerate(flat):
        perm = _np.arange(n)
        for i, j in enumerate(p):
            perm[i], perm[j] = perm[j], perm[i]
        out[b] = _np.eye(n)[perm]
    return out.reshape(piv.shape[:-1] + (n, n))


def _lu_raw(a, lu=None, piv=None):
    # The factorization was made once by the public function; this returns its packed
    # factors so that their derivative can be attached to a.
    return lu


_lu = wrap(_lu_raw, "lu_factor", module=_HERE)


def _lu_factors(lu):
    n = shape_of(lu)[-1]
    low = _uf.add(_tril(lu, -1), _np.eye(n))
    up = _triu(lu)
    return low, up


def _lu_jvp(g, ans, a, lu=None, piv=None):
    low, up = _lu_factors(ans)
    pt = _perm_matrices(piv)
    y = _solve_tri(low, _mm(pt, g), lower=True)  # L⁻¹ Pᵀ dA
    x = _T(_solve_tri(_T(up), _T(y), lower=True))  # ... U⁻¹
    return _uf.add(_mm(low, _tril(x, -1)), _mm(_triu(x), up))


def _lu_vjp(ans, a, lu=None, piv=None):
    def vjp(g):
        low, up = _lu_factors(ans)
        pt = _perm_matrices(piv)
        xbar = _uf.add(_tril(_mm(_T(low), _tril(g, -1)), -1), _triu(_mm(_triu(g), _T(up))))
        y = _solve_tri(_T(low), xbar, lower=False)  # L⁻ᵀ X̄
        z = _T(_solve_tri(up, _T(y), lower=False))  # ... U⁻ᵀ
        ga = _mm(_T(pt), z)
        return _uf.real(ga) if _is_cplx(ga) and not _is_cplx(a) else ga

    return vjp


defvjp(_lu, _lu_vjp)
defjvp(_lu, _lu_jvp)


@export(module=_HERE)
def lu_factor(a: ArrayLike, overwrite_a: bool = False, check_finite: bool = True) -> Any:
    """``(lu, piv)``: the pivoted LU factorization of square ``a`` (``scipy.linalg.lu_factor``).

    ``lu`` holds the unit-lower ``L`` below the diagonal and ``U`` on and above it; it is
    differentiable in ``a`` (the pivots are locally constant).

    >>> import matdiff.numpy as np
    >>> lu, piv = lu_factor(np.array([[1.0, 2.0], [3.0, 4.0]]))
    >>> piv
    array([1, 1], dtype=int32)
    """
    if not _traced(a):
        return _sl.lu_factor(a, check_finite=check_finite)
    m, n = shape_of(a)[-2:]
    if m != n:
        raise ValueError(
            f"lu_factor: the derivative needs a square matrix, got shape {shape_of(a)}; "
            "use scipy.linalg.lu_factor on a square matrix or stop_gradient the input"
        )
    lu_val, piv = _sl.lu_factor(getval(a), check_finite=check_finite)
    return _lu(a, lu=lu_val, piv=piv), piv


@export(module=_HERE)
def lu_solve(
    lu_and_piv, b: ArrayLike, trans: int = 0, overwrite_b: bool = False, check_finite: bool = True
) -> Any:
    """Solve ``a x = b`` (``trans=1``: ``aᵀ x = b``; 2: ``aᴴ x = b``) given ``lu_factor(a)``.

    >>> import matdiff.numpy as np
    >>> lu_solve(lu_factor(np.array([[1.0, 2.0], [3.0, 4.0]])), np.array([3.0, 7.0]))
    array([1., 1.])
    """
    lu, piv = lu_and_piv
    if not _traced(lu, b):
        return _sl.lu_solve((lu, piv), b, trans=trans, check_finite=check_finite)
    if trans not in (0, 1, 2):
        raise ValueError(f"lu_solve: trans must be 0, 1 or 2, got {trans!r}")
    pt = _perm_matrices(piv)
    vec = len(shape_of(b)) == 1
    bb = _shape.reshape(b, shape_of(b) + (1,)) if vec else b
    if trans == 0:
        y = solve_triangular(lu, _mm(pt, bb), lower=True, unit_diagonal=True)
        x = solve_triangular(lu, y, lower=False)
    else:
        t = 1 if trans == 1 else 2
        y = solve_triangular(lu, bb, trans=t, lower=False)
        z = solve_triangular(lu, y, trans=t, lower=True, unit_diagonal=True)
        x = _mm(_np.swapaxes(pt, -1, -2), z)
    return _shape.reshape(x, shape_of(x)[:-1]) if vec else x


# ---------------------------------------------------------------- Sylvester and Lyapunov


def _solve_sylvester_raw(a, b, q):
    return _sl.solve_sylvester(a, b, q)


solve_sylvester = wrap(_solve_sylvester_raw, "solve_sylvester", module=_HERE)
solve_sylvester.__doc__ = """Solve ``a x + x b = q`` for ``x`` (``scipy.linalg.solve_sylvester``).

d x solves the same equation with right side dq − da x − x db; the adjoint ``y`` solves
``aᵀ y + y bᵀ = ḡ``, and then ā = −y xᵀ, b̄ = −xᵀ y, q̄ = y.

>>> import matdiff.numpy as np
>>> solve_sylvester(np.eye(2), np.eye(2), np.eye(2))
array([[0.5, 0. ],
       [0. , 0.5]])
"""


def _sylvester_adjoint(a, b, g):
    return solve_sylvester(_T(a), _T(b), g)


def _sylv_vjp(argnum):
    def maker(ans, a, b, q):
        def vjp(g):
            y = _sylvester_adjoint(a, b, g)
            if argnum == 0:
                r = _uf.negative(_mm(y, _T(ans)))
            elif argnum == 1:
                r = _uf.negative(_mm(_T(ans), y))
            else:
                r = y
            like = (a, b, q)[argnum]
            return _uf.real(r) if _is_cplx(r) and not _is_cplx(like) else r

        return vjp

    return maker


defvjp(solve_sylvester, _sylv_vjp(0), _sylv_vjp(1), _sylv_vjp(2))
defjvp(
    solve_sylvester,
    lambda g, ans, a, b, q: solve_sylvester(a, b, _uf.negative(_mm(g, ans))),
    lambda g, ans, a, b, q: solve_sylvester(a, b, _uf.negative(_mm(ans, g))),
    lambda g, ans, a, b, q: solve_sylvester(a, b, g),
)


@export(module=_HERE)
def solve_continuous_lyapunov(a: ArrayLike, q: ArrayLike) -> Any:
    """Solve ``a x + x aᴴ = q`` for ``x`` (``scipy.linalg.solve_continuous_lyapunov``).

    >>> import matdiff.numpy as np
    >>> solve_continuous_lyapunov(-np.eye(2), -2.0 * np.eye(2))
    array([[1., 0.],
           [0., 1.]])
    """
    if not _traced(a, q):
        return _sl.solve_continuous_lyapunov(a, q)
    return solve_sylvester(a, _H(a), q)


# ---------------------------------------------------------------- numpy.linalg under SciPy's names

det = _nla.det
inv = _nla.inv
svdvals = _nla.svdvals


@export(module=_HERE)
def solve(
    a: ArrayLike,
    b: ArrayLike,
    lower: bool = False,
    overwrite_a=False,
    overwrite_b=False,
    check_finite=True,
    assume_a=None,
    transposed: bool = False,
) -> Any:
    """``scipy.linalg.solve``: ``a x = b`` (``transposed``: ``aᵀ x = b``).

    ``assume_a`` only selects SciPy's solver; the derivative is the same for every kind.

    >>> import matdiff.numpy as np
    >>> solve(np.array([[2.0, 0.0], [0.0, 4.0]]), np.array([2.0, 2.0]))
    array([1. , 0.5])
    """
    if not _traced(a, b):
        return _sl.solve(a, b, lower=lower, assume_a=assume_a, transposed=transposed)
    return _nla.solve(_T(a) if transposed else a, b)


@export(module=_HERE)
def cholesky(
    a: ArrayLike, lower: bool = False, overwrite_a: bool = False, check_finite: bool = True
) -> Any:
    """``scipy.linalg.cholesky``: the upper factor ``U`` (``a = Uᴴ U``) unless ``lower``.

    >>> import matdiff.numpy as np
    >>> cholesky(np.array([[4.0, 2.0], [2.0, 5.0]]))
    array([[2., 1.],
           [0., 2.]])
    """
    if not _traced(a):
        return _sl.cholesky(a, lower=lower, check_finite=check_finite)
    return _nla.cholesky(a, upper=not lower)


@export(module=_HERE)
def qr(
    a: ArrayLike,
    overwrite_a=False,
    lwork=None,
    mode: str = "full",
    pivoting: bool = False,
    check_finite: bool = True,
) -> Any:
    """``scipy.linalg.qr``: ``(Q, R)`` for modes full/economic, ``(R,)`` for mode r.

    >>> import matdiff.numpy as np
    >>> qr(np.eye(2))[1]
    array([[1., 0.],
           [0., 1.]])
    """
    if not _traced(a):
        return _sl.qr(a, mode=mode, pivoting=pivoting, check_finite=check_finite)
    if pivoting:
        raise ValueError("qr: pivoting=True has no derivative here; use pivoting=False")
    np_mode = {"full": "complete", "economic": "reduced", "r": "r"}.get(mode)
    if np_mode is None:
        raise ValueError(f"qr: mode {mode!r} is not differentiable; use 'full', 'economic' or 'r'")
    res = _nla.qr(a, mode=np_mode)
    return (res,) if mode == "r" else tuple(res)


# Options that only pick SciPy's algorithm or input checks; the others (subsets, b, ...)
# change the problem and have no derivative here.
_ALGORITHM_ONLY = {
    "overwrite_a",
    "overwrite_b",
    "check_finite",
    "driver",
    "turbo",
    "homogeneous_eigvals",
}


def _changes_the_problem(kwargs: dict) -> bool:
    return any(k not in _ALGORITHM_ONLY for k in kwargs)


@export(module=_HERE)
def eigh(a: ArrayLike, b=None, *, lower: bool = True, eigvals_only: bool = False, **kwargs) -> Any:
    """``scipy.linalg.eigh`` for the standard problem: ``(w, v)`` or ``w``.

    >>> import matdiff.numpy as np
    >>> eigh(np.array([[2.0, 0.0], [0.0, 1.0]]), eigvals_only=True)
    array([1., 2.])
    """
    if not _traced(a) and b is None:
        return _sl.eigh(a, lower=lower, eigvals_only=eigvals_only, **kwargs)
    if b is not None or _changes_the_problem(kwargs):
        raise NotImplementedError(
            "eigh: only the standard problem (b=None, no subset options) is differentiable; "
            "for a generalized problem use cholesky and solve_triangular to reduce it"
        )
    uplo = "L" if lower else "U"
    if eigvals_only:
        return _nla.eigvalsh(a, UPLO=uplo)
    return tuple(_nla.eigh(a, UPLO=uplo))


@export(module=_HERE)
def eigvalsh(a: ArrayLike, b=None, *, lower: bool = True, **kwargs) -> Any:
    """``scipy.linalg.eigvalsh`` for the standard problem.

    >>> import matdiff.numpy as np
    >>> eigvalsh(np.array([[2.0, 0.0], [0.0, 1.0]]))
    array([1., 2.])
    """
    return eigh(a, b, lower=lower, eigvals_only=True, **kwargs)


@export(module=_HERE)
def eig(a: ArrayLike, b=None, left: bool = False, right: bool = True, **kwargs) -> Any:
    """``scipy.linalg.eig`` for the standard problem: ``(w, vr)`` or ``w``.

    >>> import matdiff.numpy as np
    >>> eig(np.array([[2.0, 0.0], [0.0, 1.0]]))[0]
    array([2.+0.j, 1.+0.j])
    """
    if not _traced(a) and b is None:
        return _sl.eig(a, left=left, right=right, **kwargs)
    if b is not None or left or _changes_the_problem(kwargs):
        raise NotImplementedError(
            "eig: only the standard problem with right eigenvectors is differentiable"
        )
    w, v = _nla.eig(a)
    return (w, v) if right else w


@export(module=_HERE)
def eigvals(a: ArrayLike, b=None, **kwargs) -> Any:
    """``scipy.linalg.eigvals`` for the standard problem.

    >>> import matdiff.numpy as np
    >>> eigvals(np.array([[2.0, 0.0], [0.0, 1.0]]))
    array([2.+0.j, 1.+0.j])
    """
    if not _traced(a) and b is None:
        return _sl.eigvals(a, **kwargs)
    if b is not None or _changes_the_problem(kwargs):
        raise NotImplementedError("eigvals: only the standard problem is differentiable")
    return _nla.eigvals(a)


@export(module=_HERE)
def svd(a: ArrayLike, full_matrices: bool = True, compute_uv: bool = True, **kwargs) -> Any:
    """``scipy.linalg.svd``: ``(U, s, Vh)``, or ``s`` with ``compute_uv=False``.

    >>> import matdiff.numpy as np
    >>> svd(np.array([[3.0, 0.0], [0.0, -4.0]]), compute_uv=False)
    array([4., 3.])
    """
    if not _traced(a):
        return _sl.svd(a, full_matrices=full_matrices, compute_uv=compute_uv, **kwargs)
    res = _nla.svd(a, full_matrices=full_matrices, compute_uv=compute_uv)
    return tuple(res) if compute_uv else res


@export(module=_HERE)
def norm(
    a: ArrayLike, ord=None, axis=None, keepdims: bool = False, check_finite: bool = True
) -> Any:
    """``scipy.linalg.norm``: as ``numpy.linalg.norm``.

    >>> import matdiff.numpy as np
    >>> float(norm(np.array([3.0, 4.0])))
    5.0
    """
    if not _traced(a):
        return _sl.norm(a, ord=ord, axis=axis, keepdims=keepdims, check_finite=check_finite)
    return _nla.norm(a, ord=ord, axis=axis, keepdims=keepdims)


@export(module=_HERE)
def pinv(
    a: ArrayLike, *, atol=None, rtol=None, return_rank: bool = False, check_finite: bool = True
) -> Any:
    """``scipy.linalg.pinv``: singular values below ``atol + rtol * max(s)`` count as zero.

    >>> import matdiff.numpy as np
    >>> pinv(np.array([[2.0, 0.0], [0.0, 0.0]]))
    array([[0.5, 0. ],
           [0. , 0. ]])
    """
    if not _traced(a):
        return _sl.pinv(a, atol=atol, rtol=rtol, return_rank=return_rank)
    s = _np.linalg.svd(getval(a), compute_uv=False)
    smax = _np.max(s, axis=-1) if s.size else 0.0
    m, n = shape_of(a)[-2:]
    eps_rtol = max(m, n) * _np.finfo(_np.result_type(getval(a), float)).eps
    if atol is None and rtol is None:
        rtol = eps_rtol
    cutoff = (0.0 if atol is None else atol) + (0.0 if rtol is None else rtol) * smax
    rel = _np.where(smax > 0, cutoff / _np.where(smax > 0, smax, 1.0), 0.0)
    x = _nla.pinv(a, rtol=rel)
    if return_rank:
        return x, _np.sum(s > cutoff, axis=-1)
    return x


@export(module=_HERE)
def lstsq(
    a: ArrayLike,
    b: ArrayLike,
    cond=None,
    overwrite_a=False,
    overwrite_b=False,
    check_finite=True,
    lapack_driver=None,
) -> Any:
    """``scipy.linalg.lstsq``: ``(x, residues, rank, s)``; ``x`` minimizes ``|b - a x|``.

    >>> import matdiff.numpy as np
    >>> lstsq(np.array([[1.0], [1.0]]), np.array([1.0, 3.0]))[0]
    array([2.])
    """
    if not _traced(a, b):
        return _sl.lstsq(a, b, cond=cond, lapack_driver=lapack_driver)
    return _nla.lstsq(a, b, rcond=cond)


# ---------------------------------------------------------------- banded solves
#
# A band matrix is stored as SciPy stores it: ab[u + i - j, j] = a[i, j] for the l
# sub- and u super-diagonals. The rules never form the dense matrix: the products they
# need are gathers over the band, written with traced indexing so they differentiate.


def _band_index(n: int, width: int, offset: int):
    """(rows, cols, valid) with cols[k, j] = j + offset - k for the gathers below."""
    k = _np.arange(width)[:, None]
    j = _np.arange(n)[None, :]
    cols = j + offset - k
    valid = (cols >= 0) & (cols < n)
    return _np.broadcast_to(k, cols.shape), _np.clip(cols, 0, n - 1), valid


def _banded_transpose(l_and_u, ab):
    """The band storage of a^T, whose bands are (u, l): abT[k, j] = ab[u + l - k, k + j - l]."""
    lo, up = l_and_u
    width, n = shape_of(ab)
    k = _np.arange(width)[:, None]
    j = _np.arange(n)[None, :]
    cols = k + j - lo
    valid = (cols >= 0) & (cols < n)
    rows = _np.broadcast_to(lo + up - k, cols.shape)
    gathered = _mnp.getitem(ab, (rows, _np.clip(cols, 0, n - 1)))
    return (up, lo), _mnp.where(valid, gathered, 0.0)


def _banded_matvec(l_and_u, ab, x):
    """a @ x from the band storage: (a x)[i] = sum_k ab[k, i + u - k] x[i + u - k]."""
    lo, up = l_and_u
    width, n = shape_of(ab)
    rows, cols, valid = _band_index(n, width, up)
    vec = len(shape_of(x)) == 1
    xx = x if vec else _mnp.transpose(x)  # (m, n): the columns of x as rows
    terms = _uf.multiply(_mnp.getitem(ab, (rows, cols)), _mnp.getitem(xx, (Ellipsis, cols)))
    terms = _mnp.where(valid, terms, 0.0)
    out = _mnp.sum(terms, axis=-2)
    return out if vec else _mnp.transpose(out)


def _banded_outer(l_and_u, width, lam, x):
    """The band of lam @ x^T in band storage: out[k, j] = sum_c lam[k + j - u, c] x[j, c]."""
    lo, up = l_and_u
    n = shape_of(lam)[0]
    k = _np.arange(width)[:, None]
    j = _np.arange(n)[None, :]
    rows = k + j - up
    valid = (rows >= 0) & (rows < n)
    lam_k = _mnp.getitem(lam, _np.clip(rows, 0, n - 1))  # (width, n) or (width, n, m)
    if len(shape_of(lam)) == 1:
        prod = _uf.multiply(lam_k, x)
    else:
        prod = _mnp.sum(_uf.multiply(lam_k, x), axis=-1)
    return _mnp.where(valid, prod, 0.0)


def _solve_banded_raw(l_and_u, ab, b):
    return _sl.solve_banded(l_and_u, ab, b)


_solve_banded = wrap(_solve_banded_raw, "solve_banded", module=_HERE, public=False)


def _solve_banded_vjp_ab(ans, l_and_u, ab, b):
    def vjp(g):
        t_lu, t_ab = _banded_transpose(l_and_u, ab)
        lam = _solve_banded(t_lu, t_ab, g)
        return _uf.negative(_banded_outer(l_and_u, shape_of(ab)[0], lam, ans))

    return vjp


def _solve_banded_vjp_b(ans, l_and_u, ab, b):
    def vjp(g):
        t_lu, t_ab = _banded_transpose(l_and_u, ab)
        return _solve_banded(t_lu, t_ab, g)

    return vjp


defvjp(_solve_banded, None, _solve_banded_vjp_ab, _solve_banded_vjp_b)
defjvp(
    _solve_banded,
    None,
    lambda g, ans, lu, ab, b: _uf.negative(_solve_banded(lu, ab, _banded_matvec(lu, g, ans))),
    lambda g, ans, lu, ab, b: _solve_banded(lu, ab, g),
)


@export(module=_HERE)
def solve_banded(
    l_and_u,
    ab: ArrayLike,
    b: ArrayLike,
    overwrite_ab: bool = False,
    overwrite_b: bool = False,
    check_finite: bool = True,
) -> Any:
    """Solve ``a x = b`` for a band matrix in SciPy's storage, differentiable in ``ab`` and ``b``.

    ``l_and_u = (l, u)`` counts the sub- and super-diagonals and ``ab[u + i - j, j] =
    a[i, j]``. The entries of ``ab`` outside the band (its unused corners) are not read,
    so their derivative is zero. ``b`` has shape (n,) or (n, k).

    >>> import matdiff.numpy as np
    >>> from matdiff import grad
    >>> ab = np.array([[0.0, 1.0, 1.0], [4.0, 4.0, 4.0], [1.0, 1.0, 0.0]])  # tridiagonal
    >>> solve_banded((1, 1), ab, np.array([5.0, 6.0, 5.0]))
    array([1., 1., 1.])
    >>> grad(lambda b: np.sum(solve_banded((1, 1), ab, b)))(np.ones(3)).round(6)
    array([0.214286, 0.142857, 0.214286])
    """
    if not _traced(ab, b):
        return _sl.solve_banded(l_and_u, ab, b, check_finite=check_finite)
    lo, up = (int(v) for v in l_and_u)
    width, n = shape_of(ab)
    if width != lo + up + 1:
        raise ValueError(
            f"invalid values for the number of lower and upper diagonals: l+u+1 ({lo + up + 1})"
            f" does not equal ab.shape[0] ({width})"
        )
    if len(shape_of(b)) not in (1, 2) or shape_of(b)[0] != n:
        raise ValueError(
            f"solve_banded: b must have shape ({n},) or ({n}, k) for ab of shape "
            f"{shape_of(ab)}, got {shape_of(b)}"
        )
    if check_finite and not branch(_np.all(_np.isfinite(getval(ab)))):
        raise ValueError("array must not contain infs or NaNs")
    return _solve_banded((lo, up), ab, b)


def __getattr__(name: str) -> Any:
    # Names not wrapped here are SciPy's own (LinAlgError, blas, lapack, ...).
    return getattr(_sl, name)
