"""Every linear-algebra rule against finite differences: both modes, to order 2.

One table drives the tests (as JAX's ``LAX_GRAD_OPS``): each row names a function, the
kind of input it needs (SPD for ``cholesky``, distinct eigenvalues for ``eigh``
eigenvectors, full rank for ``lstsq``...) and the shapes, single and stacked. Eigen- and
singular vectors are read through gauge-invariant quantities only (|v|², projectors,
``U diag(s) Vh``), since a loss that depends on their sign or phase has no derivative.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as onp
import pytest

import matdiff.numpy as np
import matdiff.scipy.linalg as sla
from matdiff.test_util import check_grads

la = np.linalg
T = la.matrix_transpose


# ---------------------------------------------------------------- inputs of each kind


def _rng(seed: int) -> onp.random.Generator:
    return onp.random.default_rng(seed)


def gen(*shape, seed=0):
    """Plain Gaussian entries."""
    return _rng(seed).standard_normal(shape)


def cgen(*shape, seed=0):
    r = _rng(seed)
    return r.standard_normal(shape) + 1j * r.standard_normal(shape)


def wc(*shape, seed=0):
    """Well-conditioned square matrices: Gaussian plus a dominant multiple of I."""
    n = shape[-1]
    return 0.5 * gen(*shape, seed=seed) + 2.0 * onp.eye(n)


def cwc(*shape, seed=0):
    return 0.5 * cgen(*shape, seed=seed) + 2.0 * onp.eye(shape[-1])


def spd(*shape, seed=0):
    """Symmetric positive definite, eigenvalues in about [1, 3]."""
    a = gen(*shape, seed=seed) / onp.sqrt(shape[-1])
    return a @ onp.swapaxes(a, -1, -2) + onp.eye(shape[-1])


def hpd(*shape, seed=0):
    a = cgen(*shape, seed=seed) / onp.sqrt(2 * shape[-1])
    return a @ onp.conj(onp.swapaxes(a, -1, -2)) + onp.eye(shape[-1])


def distinct_sym(*shape, seed=0):
    """Symmetric with well-separated eigenvalues 1, 2, ..., n."""
    n = shape[-1]
    q, _ = onp.linalg.qr(gen(*shape, seed=seed))
    return (q * onp.arange(1.0, n + 1)[..., None, :]) @ onp.swapaxes(q, -1, -2)


def near_identity(*shape, seed=0):
    """Eigenvalues near 1, away from the branch cut of logm and sqrtm."""
    return onp.eye(shape[-1]) + 0.3 * gen(*shape, seed=seed) / onp.sqrt(shape[-1])


# ---------------------------------------------------------------- gauge-invariant views


def sym(a):
    return 0.5 * (a + T(a))


def herm(a):
    return 0.5 * (a + np.conj(T(a)))


def weights(n):
    return onp.linspace(1.0, 2.0, n)


def eigh_view(a):
    """Eigenvalues and the weighted projector Σ cᵢ vᵢ vᵢᵀ: no sign dependence."""
    w, v = la.eigh(sym(a))
    n = a.shape[-1]
    return w, (v * weights(n)) @ T(v)


def eigh_cview(a):
    w, v = la.eigh(herm(a))
    return w, np.abs(v) ** 2


def svd_view(a, full_matrices=False):
    u, s, vh = la.svd(a, full_matrices=full_matrices)
    k = s.shape[-1]
    rec = (u[..., :, :k] * s[..., None, :]) @ vh[..., :k, :]
    m, n = a.shape[-2:]
    # Distinct weights on the first k columns, one common weight on the completed ones
    # (whose basis is determined only up to a rotation).
    cu = onp.concatenate([weights(k), onp.full(u.shape[-1] - k, 3.0)])
    cv = onp.concatenate([weights(k), onp.full(vh.shape[-2] - k, 3.0)])
    pu = (u * cu) @ np.conj(T(u))
    pv = np.conj(T(vh)) @ (vh * cv[:, None])
    return rec, s, pu, pv


def eig_view(a):
    w, v = la.eig(a)
    return w, np.abs(v) ** 2


def qr_complete_view(a):
    q, r = la.qr(a, mode="complete")
    m, n = a.shape[-2:]
    c = onp.concatenate([weights(n), onp.full(m - n, 3.0)])
    return (q * c) @ T(q), r


# ---------------------------------------------------------------- the table


class Spec(NamedTuple):
    name: str
    fun: Callable
    args: tuple
    modes: tuple = ("fwd", "rev")


# fmt: off
SPECS = [
    # inverses, determinants, solves
    Spec("inv", la.inv, (wc(3, 3),)),
    Spec("inv_stack", la.inv, (wc(2, 3, 3),)),
    Spec("inv_complex", la.inv, (cwc(3, 3),)),
    Spec("det", la.det, (wc(3, 3),)),
    Spec("det_stack", la.det, (wc(2, 2, 3, 3),)),
    Spec("det_complex", la.det, (cwc(3, 3),)),
    Spec("det_1x1", la.det, (wc(1, 1),)),
    Spec("slogdet", lambda a: la.slogdet(a)[1], (wc(3, 3),)),
    Spec("slogdet_stack", lambda a: la.slogdet(a)[1], (wc(2, 3, 3),)),
    Spec("slogdet_negdet", lambda a: la.slogdet(a)[1], (onp.diag([1.0, -2.0, 3.0]) + 0.1 * gen(3, 3),)),
    Spec("slogdet_complex", lambda a: la.slogdet(a), (cwc(3, 3),)),
    Spec("solve_vec", la.solve, (wc(3, 3), gen(3))),
    Spec("solve_stack_vec", la.solve, (wc(2, 3, 3), gen(3))),
    Spec("solve_mat", la.solve, (wc(3, 3), gen(3, 2))),
    Spec("solve_bcast_a", la.solve, (wc(3, 3), gen(2, 3, 2))),
    Spec("solve_bcast_b", la.solve, (wc(2, 3, 3), gen(3, 1))),
    Spec("solve_complex", la.solve, (cwc(3, 3), cgen(3, 2))),
    Spec("solve_real_a_complex_b", la.solve, (wc(3, 3), cgen(3))),
    Spec("pinv_tall", la.pinv, (gen(4, 3),)),
    Spec("pinv_wide_stack", la.pinv, (gen(2, 2, 3),)),
    Spec("pinv_complex", la.pinv, (cgen(3, 2),)),
    Spec("lstsq_vec", lambda a, b: la.lstsq(a, b)[:2], (gen(4, 3), gen(4))),
    Spec("lstsq_mat", lambda a, b: la.lstsq(a, b)[:2], (gen(5, 2), gen(5, 3))),
    Spec("lstsq_s", lambda a, b: la.lstsq(a, b)[3], (gen(4, 3), gen(4))),
    Spec("lstsq_underdetermined", lambda a, b: la.lstsq(a, b)[0], (gen(2, 3), gen(2))),
    Spec("matrix_power_3", lambda a: la.matrix_power(a, 3), (gen(2, 3, 3),)),
    Spec("matrix_power_neg2", lambda a: la.matrix_power(a, -2), (wc(3, 3),)),
    Spec("matrix_power_1", lambda a: la.matrix_power(a, 1), (gen(3, 3),)),
    Spec("multi_dot_vecs", lambda a, b, c: la.multi_dot([a, b, c]), (gen(3), gen(3, 4), gen(4))),
    Spec("multi_dot_4", lambda a, b, c, d: la.multi_dot([a, b, c, d]), (gen(5, 2), gen(2, 6), gen(6, 1), gen(1, 3))),
    Spec("tensorinv", lambda a: la.tensorinv(a, ind=1), (wc(4, 4).reshape(4, 2, 2),)),
    Spec("tensorsolve", la.tensorsolve, (wc(4, 4).reshape(2, 2, 4), gen(2, 2))),
    Spec("tensorsolve_axes", lambda a, b: la.tensorsolve(a, b, axes=(0,)), (wc(4, 4).reshape(4, 2, 2), gen(2, 2))),
    # factorizations
    Spec("cholesky", lambda a: la.cholesky(sym(a)), (spd(3, 3),)),
    Spec("cholesky_stack", lambda a: la.cholesky(sym(a)), (spd(2, 3, 3),)),
    Spec("cholesky_upper", lambda a: la.cholesky(sym(a), upper=True), (spd(3, 3),)),
    Spec("cholesky_complex", lambda a: la.cholesky(herm(a)), (hpd(3, 3),)),
    Spec("qr_tall", la.qr, (gen(4, 3),)),
    Spec("qr_square_stack", la.qr, (gen(2, 3, 3),)),
    Spec("qr_wide", la.qr, (gen(2, 4),)),
    Spec("qr_r", lambda a: la.qr(a, mode="r"), (gen(4, 3),)),
    Spec("qr_complete", qr_complete_view, (gen(4, 2),)),
    Spec("qr_complex", la.qr, (cgen(3, 2),)),
    Spec("qr_complex_wide_q", lambda a: la.qr(a)[0], (cgen(2, 3),)),
    Spec("qr_complex_r", lambda a: la.qr(a, mode="r"), (cgen(2, 3, 3),)),
    Spec("eigh", eigh_view, (distinct_sym(3, 3),)),
    Spec("eigh_stack", eigh_view, (distinct_sym(2, 3, 3),)),
    Spec("eigh_upper", lambda a: la.eigh(sym(a), UPLO="U")[0], (distinct_sym(3, 3),)),
    Spec("eigh_complex", eigh_cview, (cgen(3, 3),)),
    Spec("eigvalsh", lambda a: la.eigvalsh(sym(a)), (gen(2, 3, 3),)),
    Spec("eigvalsh_complex", lambda a: la.eigvalsh(herm(a)), (cgen(3, 3),)),
    Spec("eig", eig_view, (gen(3, 3),)),
    Spec("eig_stack", eig_view, (gen(2, 3, 3, seed=3),)),
    Spec("eig_complex", eig_view, (cgen(3, 3),)),
    Spec("eigvals", la.eigvals, (gen(2, 3, 3),)),
    Spec("svd_tall", svd_view, (gen(4, 3),)),
    Spec("svd_wide_stack", svd_view, (gen(2, 2, 4),)),
    Spec("svd_full_tall", lambda a: svd_view(a, True), (gen(5, 3),)),
    Spec("svd_full_wide", lambda a: svd_view(a, True), (gen(2, 4),)),
    Spec("svd_complex", svd_view, (cgen(3, 2),)),
    Spec("svd_hermitian", lambda a: (lambda r: ((r[0] * r[1][..., None, :]) @ r[2], r[1]))(la.svd(sym(a), hermitian=True)), (distinct_sym(3, 3),)),
    Spec("qr_wide_stack", la.qr, (gen(2, 2, 3),)),
    Spec("svd_compute_uv_false", lambda a: la.svd(a, compute_uv=False), (gen(2, 3, 4),)),
    Spec("svdvals", la.svdvals, (gen(4, 3),)),
    Spec("svdvals_complex", la.svdvals, (cgen(3, 3),)),
    # norms: vector ords, matrix ords, axes, keepdims
    Spec("norm_default", la.norm, (gen(3, 4),)),
    Spec("norm_vec_2", lambda x: la.norm(x, 2), (gen(5),)),
    Spec("norm_vec_1_axis", lambda x: la.norm(x, 1, axis=-1), (gen(3, 4),)),
    Spec("norm_vec_inf", lambda x: la.norm(x, onp.inf, axis=0, keepdims=True), (gen(3, 4),)),
    Spec("norm_vec_neginf", lambda x: la.norm(x, -onp.inf), (gen(5),)),
    Spec("norm_vec_p3", lambda x: la.norm(x, 3, axis=1), (gen(2, 4, 3),)),
    Spec("norm_vec_p_half", lambda x: la.norm(x, 0.5), (gen(4) + 3.0,)),
    Spec("norm_vec_complex", lambda x: la.norm(x, axis=-1), (cgen(2, 3),)),
    Spec("norm_fro", lambda x: la.norm(x, "fro", axis=(-1, -2), keepdims=True), (gen(2, 3, 4),)),
    Spec("norm_nuc", lambda x: la.norm(x, "nuc"), (gen(3, 4),)),
    Spec("norm_mat_2", lambda x: la.norm(x, 2, axis=(0, 2)), (gen(4, 2, 3),)),
    Spec("norm_mat_neg2", lambda x: la.norm(x, -2), (gen(3, 3),)),
    Spec("norm_mat_1", lambda x: la.norm(x, 1), (gen(3, 4),)),
    Spec("norm_mat_neg1", lambda x: la.norm(x, -1), (gen(3, 4),)),
    Spec("norm_mat_inf", lambda x: la.norm(x, onp.inf), (gen(3, 4),)),
    Spec("norm_mat_neginf", lambda x: la.norm(x, -onp.inf, axis=(1, 0)), (gen(3, 4),)),
    Spec("vector_norm", lambda x: la.vector_norm(x, axis=(0, 2), ord=3), (gen(2, 3, 2),)),
    Spec("matrix_norm_stack", lambda x: la.matrix_norm(x, ord="nuc", keepdims=True), (gen(2, 3, 3),) ),
    Spec("cond", la.cond, (wc(2, 3, 3),)),
    Spec("cond_neg2", lambda x: la.cond(x, -2), (gen(4, 3),)),
    Spec("cond_fro", lambda x: la.cond(x, "fro"), (wc(3, 3),)),
    Spec("cond_inf", lambda x: la.cond(x, onp.inf), (wc(3, 3),)),
    # scipy.linalg
    Spec("expm", sla.expm, (gen(3, 3) * 0.5,)),
    Spec("expm_stack", sla.expm, (gen(2, 3, 3) * 0.5,)),
    Spec("expm_complex", sla.expm, (cgen(2, 2) * 0.5,)),
    Spec("logm", sla.logm, (near_identity(3, 3),)),
    Spec("sqrtm", sla.sqrtm, (near_identity(3, 3),)),
    Spec("sqrtm_spd", sla.sqrtm, (spd(3, 3),)),
    Spec("solve_triangular_lower", lambda a, b: sla.solve_triangular(a, b, lower=True), (wc(3, 3), gen(3))),
    Spec("solve_triangular_T_unit", lambda a, b: sla.solve_triangular(a, b, trans="T", unit_diagonal=True), (wc(2, 3, 3), gen(2, 3, 2))),
    Spec("solve_triangular_C", lambda a, b: sla.solve_triangular(a, b, trans=2, lower=True), (cwc(3, 3), cgen(3, 2))),
    Spec("cho_solve_upper", lambda a, b: sla.cho_solve(sla.cho_factor(sym(a)), b), (spd(3, 3), gen(3, 2))),
    Spec("cho_solve_lower", lambda a, b: sla.cho_solve(sla.cho_factor(sym(a), lower=True), b), (spd(3, 3), gen(3))),
    Spec("lu_factor", lambda a: sla.lu_factor(a)[0], (gen(2, 3, 3),)),
    Spec("cho_factor_upper", lambda a: np.triu(sla.cho_factor(sym(a))[0]), (spd(3, 3),)),
    Spec("cho_factor_lower", lambda a: np.tril(sla.cho_factor(sym(a), lower=True)[0]), (spd(3, 3),)),
    Spec("lu_solve", lambda a, b: sla.lu_solve(sla.lu_factor(a), b), (gen(3, 3), gen(3))),
    Spec("lu_solve_T", lambda a, b: sla.lu_solve(sla.lu_factor(a), b, trans=1), (gen(3, 3), gen(3, 2))),
    Spec("solve_sylvester", sla.solve_sylvester, (wc(3, 3), wc(2, 2), gen(3, 2))),
    Spec("solve_continuous_lyapunov", sla.solve_continuous_lyapunov, (wc(3, 3) - 4.0 * onp.eye(3), gen(3, 3))),
    Spec("solve_banded", lambda ab, b: sla.solve_banded((1, 1), ab, b), (gen(3, 4) + onp.array([[0.0], [4.0], [0.0]]), gen(4, 2))),
    Spec("scipy_cholesky", lambda a: sla.cholesky(sym(a)), (spd(3, 3),)),
    Spec("scipy_qr_full", lambda a: sla.qr(a)[1], (gen(3, 3),)),
    Spec("scipy_eigh_vals", lambda a: sla.eigh(sym(a), eigvals_only=True), (gen(3, 3),)),
    Spec("scipy_solve_transposed", lambda a, b: sla.solve(a, b, transposed=True), (wc(3, 3), gen(3)) ),
    Spec("scipy_pinv", sla.pinv, (gen(3, 2),)),
    Spec("scipy_lstsq", lambda a, b: sla.lstsq(a, b)[0], (gen(4, 2), gen(4))),
    Spec("scipy_eig", lambda a: (lambda w, v: (w, np.abs(v) ** 2))(*sla.eig(a)), (gen(3, 3),)),
    Spec("scipy_eig_values_only", lambda a: sla.eig(a, right=False), (gen(3, 3, seed=3),)),
    Spec("scipy_eigvals", sla.eigvals, (gen(3, 3),)),
    Spec("scipy_eigvalsh_upper", lambda a: sla.eigvalsh(sym(a), lower=False), (gen(3, 3),)),
    Spec("scipy_svd", lambda a: (lambda u, s, vh: (u * s) @ vh)(*sla.svd(a, full_matrices=False)), (gen(4, 3),)),
    Spec("scipy_svd_values", lambda a: sla.svd(a, compute_uv=False), (gen(3, 4),)),
    Spec("scipy_norm_axis", lambda x: sla.norm(x, axis=1, keepdims=True), (gen(3, 4),)),
    Spec("scipy_norm_nuc", lambda x: sla.norm(x, "nuc"), (gen(3, 4),)),
    # numpy.linalg's array-API spellings (last axes)
    Spec("linalg_trace", la.trace, (gen(2, 3, 3),)),
    Spec("linalg_matrix_transpose", la.matrix_transpose, (gen(2, 3, 4),)),
    Spec("linalg_diagonal_offset", lambda x: la.diagonal(x, offset=1), (gen(2, 3, 4),)),
    Spec("linalg_outer", la.outer, (gen(3), gen(2))),
    Spec("linalg_vecdot", la.vecdot, (gen(2, 3), gen(3))),
    Spec("linalg_vecdot_complex", lambda x, y: la.vecdot(x, y, axis=0), (cgen(3, 2), cgen(3, 1))),
    Spec("linalg_tensordot", lambda x, y: la.tensordot(x, y, axes=1), (gen(2, 3), gen(3, 2))),
    Spec("linalg_cross", la.cross, (gen(2, 3), gen(3))),
    # scipy.linalg on stacks
    Spec("logm_stack", sla.logm, (near_identity(2, 2, 2),)),
    Spec("sqrtm_stack", sla.sqrtm, (near_identity(2, 3, 3),)),
    Spec("lu_solve_stack", lambda a, b: sla.lu_solve(sla.lu_factor(a), b), (gen(2, 3, 3), gen(2, 3, 2))),
    Spec("cho_solve_stack", lambda a, b: sla.cho_solve(sla.cho_factor(sym(a)), b), (spd(2, 3, 3), gen(2, 3, 1))),
    Spec("solve_sylvester_stack", sla.solve_sylvester, (wc(2, 3, 3), wc(2, 2, 2), gen(2, 3, 2))),
    Spec("lyapunov_stack", sla.solve_continuous_lyapunov, (wc(2, 2, 2) - 4.0 * onp.eye(2), gen(2, 2, 2))),
]
# fmt: on


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_rule_matches_finite_differences(spec):
    check_grads(spec.fun, modes=spec.modes, order=2)(*spec.args)


# Public names that need no row of their own, with the reason.
NO_ROW = {
    "LinAlgError": "an exception",
    "matrix_rank": "an integer, not differentiable",
    "matmul": "matdiff.numpy.matmul itself, in the products table",
}


def _has_row(prefix: str) -> bool:
    return any(s.name == prefix or s.name.startswith(prefix + "_") for s in SPECS)


def test_table_covers_every_public_function():
    """Every public function of both linalg modules has a row named after it.

    A scipy.linalg function that is numpy.linalg's own object shares its rows; one with
    its own code (other arguments, another return) has rows named ``scipy_<name>``.
    """
    missing = [f for f in la.__all__ if f not in NO_ROW and not _has_row(f)]
    missing = [f for f in missing if not _has_row("linalg_" + f)]
    for f in sla.__all__:
        if getattr(sla, f) is getattr(la, f, None):
            continue
        if not (_has_row("scipy_" + f) or (f not in la.__all__ and _has_row(f))):
            missing.append("scipy.linalg." + f)
    assert not missing, f"functions without a gradient check: {missing}"
