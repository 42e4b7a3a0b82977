"""Degenerate points on purpose: repeated eigen/singular values, zero norms, branch cuts,
and the gauge (sign, phase, rotation) of eigen- and singular vectors.

The rule throughout: a quantity that is differentiable at the point gets its exact
derivative, with no NaN; a quantity that is not gets the documented value (norms at 0,
ties of ``max``) or a ``ValueError`` that says why, never a silent number.
"""

from __future__ import annotations

import numpy as onp
import pytest

import matdiff.numpy as np
import matdiff.scipy.linalg as sla
from matdiff import grad, hessian, jacfwd, jacobian, jvp
from matdiff.test_util import check_grads

la = np.linalg
T = la.matrix_transpose


def sym(a):
    return 0.5 * (a + T(a))


def rotated(values, seed=0):
    """A symmetric matrix with the given eigenvalues, in a random orthonormal basis."""
    q, _ = onp.linalg.qr(onp.random.default_rng(seed).standard_normal((len(values),) * 2))
    return (q * onp.asarray(values, float)) @ q.T, q


S, Q = rotated([1.0, 1.0, 1.0, 3.0])  # a triple eigenvalue below a simple one
DIR = onp.random.default_rng(1).standard_normal((4, 4))


# ---------------------------------------------------------------- repeated eigenvalues


def test_sum_of_repeated_eigenvalues_is_exact_in_both_modes():
    eye = onp.eye(4)
    assert_close = onp.testing.assert_allclose
    assert_close(grad(lambda a: np.sum(la.eigvalsh(sym(a))))(S), eye, atol=1e-12)
    assert_close(grad(lambda a: np.sum(la.eigh(sym(a))[0]))(S), eye, atol=1e-12)
    assert_close(jacfwd(lambda a: np.sum(la.eigvalsh(sym(a))))(S), eye, atol=1e-12)


def test_spectral_sums_have_exact_gradients():
    """Σ h(λᵢ) is differentiable at repeated λ: its gradient is V h'(Λ) Vᵀ."""
    expected = 2.0 * S  # d Σλ² = d ‖S‖²_F
    onp.testing.assert_allclose(grad(lambda a: np.sum(la.eigvalsh(sym(a)) ** 2))(S), expected)
    onp.testing.assert_allclose(jacfwd(lambda a: np.sum(la.eigvalsh(sym(a)) ** 2))(S), expected)
    onp.testing.assert_allclose(grad(lambda a: np.sum(la.eigh(sym(a))[0] ** 2))(S), expected)


def test_projector_onto_repeated_eigenspace_in_reverse_mode():
    """The projector onto the triple eigenspace is smooth; reverse mode is exact, and
    equals minus the derivative of the simple eigenvalue's projector v₄v₄ᵀ."""

    def proj(a):
        v = la.eigh(sym(a))[1][:, :3]
        return v @ T(v)

    def proj4(a):
        v = la.eigh(sym(a))[1][:, 3:]
        return v @ T(v)

    check_grads(proj, modes=("rev",), order=1)(S)
    g = grad(lambda a: np.sum(proj(a) * DIR))(S)
    g4 = grad(lambda a: np.sum(proj4(a) * DIR))(S)
    assert onp.all(onp.isfinite(g))
    onp.testing.assert_allclose(g, -g4, atol=1e-10)
    assert onp.max(onp.abs(g)) > 1e-3


def test_forward_mode_refuses_to_split_a_repeated_eigenvalue():
    with pytest.raises(ValueError, match="eigh: forward-mode derivative at a repeated value"):
        jvp(lambda a: la.eigh(sym(a))[1], (S,), (DIR,))


def test_second_derivatives_through_repeated_eigenvalues_raise_not_lie():
    """hessian of Σλ² at a repeated eigenvalue would need the in-cluster couplings."""
    f = lambda a: np.sum(la.eigvalsh(sym(a)) ** 2)  # noqa: E731
    with pytest.raises(ValueError, match="repeated value"):
        hessian(f)(S)  # forward-over-reverse
    with pytest.raises(ValueError, match="individual eigenvalues of a repeated value"):
        jacobian(grad(f))(S)  # reverse-over-reverse


def test_individual_repeated_eigenvalue():
    """λ_min at a triple eigenvalue is not differentiable: reverse mode raises; forward mode
    returns the documented derivative of the cluster's mean, ⟨P/3, dA⟩."""
    with pytest.raises(ValueError, match="individual eigenvalues of a repeated value"):
        grad(lambda a: la.eigvalsh(sym(a))[0])(S)
    p = Q[:, :3] @ Q[:, :3].T
    _, t = jvp(lambda a: la.eigvalsh(sym(a))[0], (S,), (DIR,))
    onp.testing.assert_allclose(t, onp.sum(p * sym(DIR)) / 3.0, rtol=1e-10)


def test_basis_dependent_loss_at_repeated_eigenvalue_raises():
    with pytest.raises(ValueError, match="particular eigenvectors chosen for a repeated value"):
        grad(lambda a: np.sum(la.eigh(sym(a))[1][:, 0] * DIR[:, 0]))(S)


def test_complex_phase_dependent_losses_raise():
    r = onp.random.default_rng(2)
    c = r.standard_normal((3, 3)) + 1j * r.standard_normal((3, 3))
    herm = lambda a: 0.5 * (a + np.conj(T(a)))  # noqa: E731
    w = r.standard_normal((3, 3)) + 1j * r.standard_normal((3, 3))
    with pytest.raises(ValueError, match="eigh: the loss depends on the arbitrary phase"):
        grad(lambda a: np.real(np.sum(la.eigh(herm(a))[1] * w)))(c)
    with pytest.raises(ValueError, match="eig: the loss depends on the arbitrary phase"):
        grad(lambda a: np.real(np.sum(la.eig(a)[1] * w)))(c)
    with pytest.raises(ValueError, match="svd: the loss depends on the arbitrary phase"):
        grad(lambda a: np.real(np.sum(la.svd(a)[0] * w)))(c)
    # The phase-invariant versions of the same quantities are fine.
    g = grad(lambda a: np.abs(la.eig(a)[1][0, 0]) ** 2)(c)
    assert onp.all(onp.isfinite(g))


def test_eig_refuses_repeated_eigenvalues():
    a = onp.array([[2.0, 1.0], [0.0, 2.0]])  # a Jordan block: λ moves like √ε
    with pytest.raises(ValueError, match="eig: the matrix has a repeated eigenvalue"):
        grad(lambda x: np.real(np.sum(la.eigvals(x))))(a)


# ---------------------------------------------------------------- repeated singular values


U5, _ = onp.linalg.qr(onp.random.default_rng(3).standard_normal((5, 5)))
V3, _ = onp.linalg.qr(onp.random.default_rng(4).standard_normal((3, 3)))


def with_singular_values(s):
    return U5[:, :3] @ onp.diag(s) @ V3.T


def test_spectral_norm_at_simple_top_singular_value_with_repeated_rest():
    X = with_singular_values([3.0, 1.0, 1.0])
    expected = onp.outer(U5[:, 0], V3[:, 0])
    onp.testing.assert_allclose(grad(lambda x: la.norm(x, 2))(X), expected, atol=1e-12)
    onp.testing.assert_allclose(jacfwd(lambda x: la.norm(x, 2))(X), expected, atol=1e-12)


def test_spectral_norm_at_repeated_top_singular_value_raises():
    X = with_singular_values([2.0, 2.0, 1.0])
    with pytest.raises(ValueError, match="individual singular values of a repeated value"):
        grad(lambda x: la.norm(x, 2))(X)


def test_nuclear_norm_at_repeated_singular_values_is_exact():
    X = with_singular_values([2.0, 2.0, 2.0])
    expected = U5[:, :3] @ V3.T
    onp.testing.assert_allclose(grad(lambda x: la.norm(x, "nuc"))(X), expected, atol=1e-12)
    onp.testing.assert_allclose(jacfwd(lambda x: la.norm(x, "nuc"))(X), expected, atol=1e-12)


W53 = onp.random.default_rng(6).standard_normal((5, 3))


def test_svd_vectors_of_rank_deficient_rectangular_matrix_raise():
    X = with_singular_values([2.0, 1.0, 0.0])
    with pytest.raises(ValueError, match="svd: the matrix is not of full rank"):
        grad(lambda x: np.sum(la.svd(x, full_matrices=False)[0] ** 2 * W53))(X)
    # The values alone are fine (the zero one has the subgradient u vᵀ).
    values_grad = grad(lambda x: np.sum(la.svdvals(x)))(X)
    assert onp.all(onp.isfinite(values_grad))
    # So are the values taken from the full factorization, when the loss ignores the vectors.
    for full in (False, True):
        got = grad(lambda x, full=full: np.sum(la.svd(x, full_matrices=full)[1]))(X)
        onp.testing.assert_allclose(got, values_grad, atol=1e-12)


def test_complement_basis_dependence_raises():
    a = onp.random.default_rng(5).standard_normal((4, 2))
    with pytest.raises(ValueError, match="svd: the loss depends on the particular basis"):
        grad(lambda x: np.sum(la.svd(x)[0][:, 2:] * DIR[:, :2]))(a)
    with pytest.raises(ValueError, match="qr: the loss depends on the particular basis"):
        grad(lambda x: np.sum(la.qr(x, mode="complete")[0][:, 2:] * DIR[:, :2]))(a)


# ---------------------------------------------------------------- norms at zero and ties


@pytest.mark.parametrize("ord", [None, 1, 2, 3, 0.5, onp.inf, -onp.inf])
def test_vector_norm_at_zero_has_subgradient_zero(ord):
    z = onp.zeros(3)
    f = lambda x: la.norm(x, ord)  # noqa: E731
    onp.testing.assert_array_equal(grad(f)(z), onp.zeros(3))
    assert jvp(f, (z,), (onp.ones(3),))[1] == 0.0


@pytest.mark.parametrize("ord", [None, "fro", 1, onp.inf])
def test_matrix_norm_at_zero_has_subgradient_zero(ord):
    z = onp.zeros((2, 3))
    onp.testing.assert_array_equal(grad(lambda x: la.norm(x, ord))(z), onp.zeros((2, 3)))


def test_norm_hessian_at_zero_is_finite():
    assert onp.all(onp.isfinite(hessian(lambda x: la.norm(x))(onp.zeros(3))))


def test_norm_with_one_zero_row_and_complex_zero():
    x = onp.array([[0.0, 0.0], [3.0, 4.0]])
    g = grad(lambda x: np.sum(la.norm(x, axis=1)))(x)
    onp.testing.assert_allclose(g, [[0.0, 0.0], [0.6, 0.8]])
    gc = grad(lambda x: la.norm(x))(onp.zeros(2, complex))
    onp.testing.assert_array_equal(gc, onp.zeros(2))


def test_max_norm_splits_ties_evenly():
    g = grad(lambda x: la.norm(x, onp.inf))(onp.array([1.0, -3.0, 3.0]))
    onp.testing.assert_allclose(g, [0.0, -0.5, 0.5])


# ---------------------------------------------------------------- matrix function domains


# The values there are SciPy's, with SciPy's own warnings (singular matrix, log of 0).
@pytest.mark.filterwarnings(
    "ignore::scipy.linalg.LinAlgWarning", "ignore::RuntimeWarning", "ignore:The logm input"
)
@pytest.mark.parametrize("fun", [sla.sqrtm, sla.logm], ids=["sqrtm", "logm"])
def test_matrix_function_derivative_off_its_domain_raises(fun):
    singular = onp.diag([1.0, 0.0])
    negative = onp.diag([2.0, -1.0])
    name = fun.__name__
    for a in (singular, negative):
        with pytest.raises(ValueError, match=f"{name}: no derivative at this matrix"):
            grad(lambda x: np.sum(np.real(fun(x))))(a)
        with pytest.raises(ValueError, match=f"{name}: no derivative at this matrix"):
            jvp(fun, (a,), (onp.eye(2),))


def test_matrix_function_inside_its_domain_with_repeated_eigenvalues():
    """The block Fréchet derivative needs no distinct eigenvalues: at A = 4I,
    d sqrtm = dA / 4 and d logm = dA / 4."""
    a = 4.0 * onp.eye(3)
    _, t = jvp(sla.sqrtm, (a,), (DIR[:3, :3],))
    onp.testing.assert_allclose(t, DIR[:3, :3] / 4.0, atol=1e-10)
    _, t = jvp(sla.logm, (a,), (DIR[:3, :3],))
    onp.testing.assert_allclose(t, DIR[:3, :3] / 4.0, atol=1e-10)


def test_det_gradient_at_singular_matrix_raises():
    with pytest.raises(la.LinAlgError, match="Singular matrix"):
        grad(la.det)(onp.array([[1.0, 2.0], [2.0, 4.0]]))
