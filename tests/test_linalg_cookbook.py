"""Matrix Cookbook identities (Petersen & Pedersen, version of Nov. 15, 2012) as tests.

Each gradient is computed twice, by reverse mode (``grad``) and by forward mode
(``jacfwd``), and compared with the closed form the Cookbook prints.
"""

from __future__ import annotations

import numpy as onp
import pytest
import scipy.linalg as osla

import matdiff.numpy as np
import matdiff.scipy.linalg as sla
from matdiff import grad, hessian, jacfwd, jvp, vjp

la = np.linalg
RTOL = 1e-8


def both_modes(f, x):
    """The gradient of scalar ``f`` at ``x`` by reverse mode and by forward mode."""
    return grad(f)(x), jacfwd(f)(x)


@pytest.fixture
def X():
    r = onp.random.default_rng(7)
    return r.standard_normal((4, 4)) + 3.0 * onp.eye(4)


@pytest.fixture
def A():
    return onp.random.default_rng(8).standard_normal((4, 4))


def assert_both(f, x, expected):
    rev, fwd = both_modes(f, x)
    onp.testing.assert_allclose(rev, expected, rtol=RTOL, atol=1e-12)
    onp.testing.assert_allclose(fwd, expected, rtol=RTOL, atol=1e-12)


def test_eq57_logdet(X):
    """Eq. (57): ∂ ln|det X| / ∂X = X⁻ᵀ, through slogdet and through log(det)."""
    Xi_T = onp.linalg.inv(X).T
    assert_both(lambda x: la.slogdet(x)[1], X, Xi_T)
    assert_both(lambda x: np.log(la.det(x)), X, Xi_T)


def test_eq57_logdet_negative_determinant(X):
    """Eq. (57) holds for det X < 0 too, since it is ln|det X|."""
    Xn = X.copy()
    Xn[0] *= -1.0
    assert onp.linalg.det(Xn) < 0
    assert_both(lambda x: la.slogdet(x)[1], Xn, onp.linalg.inv(Xn).T)


def test_eq49_det(X):
    """Eq. (49): ∂ det X / ∂X = det(X) X⁻ᵀ."""
    assert_both(la.det, X, onp.linalg.det(X) * onp.linalg.inv(X).T)


def test_eq63_trace_inverse(X, A):
    """Eq. (63) with B = I: ∂ tr(X⁻¹A) / ∂X = −X⁻ᵀ Aᵀ X⁻ᵀ."""
    Xi = onp.linalg.inv(X)
    assert_both(lambda x: np.sum(la.inv(x) * A.T), X, -Xi.T @ A.T @ Xi.T)


def test_eq61_bilinear_inverse(X):
    """Eq. (61): ∂ aᵀX⁻¹b / ∂X = −X⁻ᵀ a bᵀ X⁻ᵀ, through solve."""
    r = onp.random.default_rng(3)
    a, b = r.standard_normal(4), r.standard_normal(4)
    Xi = onp.linalg.inv(X)
    assert_both(lambda x: np.sum(a * la.solve(x, b)), X, -Xi.T @ onp.outer(a, b) @ Xi.T)


def test_eq59_inverse_entries(X):
    """Eq. (59): ∂(X⁻¹)_kl / ∂X_ij = −(X⁻¹)_ki (X⁻¹)_jl, the full Jacobian both ways."""
    Xi = onp.linalg.inv(X)
    expected = -onp.einsum("ki,jl->klij", Xi, Xi)
    from matdiff import jacobian

    onp.testing.assert_allclose(jacobian(la.inv)(X), expected, rtol=RTOL, atol=1e-12)
    onp.testing.assert_allclose(jacfwd(la.inv)(X), expected, rtol=RTOL, atol=1e-12)


def test_logdet_hessian_is_minus_kron(X):
    """Sec. 2.1.1 differentiated again: ∂² ln|det X| / ∂X_ij ∂X_kl = −(X⁻¹)_li (X⁻¹)_jk.

    Over vec(X) (columns stacked) this is −K (X⁻ᵀ ⊗ X⁻¹), K the commutation matrix
    (d² ln det X = −tr(X⁻¹ dX X⁻¹ dX)); checked entry by entry, forward-over-reverse.
    """
    Xi = onp.linalg.inv(X)
    H = hessian(lambda x: la.slogdet(x)[1])(X)
    expected = -onp.einsum("li,jk->ijkl", Xi, Xi)
    onp.testing.assert_allclose(H, expected, rtol=RTOL, atol=1e-12)
    n = X.shape[0]
    H_vec = H.transpose(1, 0, 3, 2).reshape(n * n, n * n)  # rows j*n+i, columns l*n+k
    K = onp.eye(n * n).reshape(n, n, n, n).transpose(1, 0, 2, 3).reshape(n * n, n * n)
    onp.testing.assert_allclose(H_vec, -K @ onp.kron(Xi.T, Xi), rtol=RTOL, atol=1e-12)


def test_trace_of_power(X):
    """Sec. 2.5.2 (higher-order traces): ∂ tr(X³) / ∂X = 3 (X²)ᵀ."""
    assert_both(lambda x: np.sum(la.eigvals(la.matrix_power(x, 3)).real), X, 3.0 * (X @ X).T)


def test_frobenius_norm_squared(X):
    """Sec. 2.6 (matrix norms): ∂ ‖X‖²_F / ∂X = 2X."""
    assert_both(lambda x: la.norm(x) ** 2, X, 2.0 * X)


def test_symmetric_eigenvalue_derivative():
    """Sec. 2.3 (eigenvalues): ∂λᵢ / ∂A = vᵢ vᵢᵀ for symmetric A with a simple λᵢ.

    That is the derivative along symmetric matrices, reached through ``sym(A)``; eigh
    itself reads the lower triangle, so its own gradient is vᵢ vᵢᵀ folded onto it.
    """
    r = onp.random.default_rng(4)
    q, _ = onp.linalg.qr(r.standard_normal((4, 4)))
    S = (q * onp.array([1.0, 2.0, 4.0, 7.0])) @ q.T
    w, v = onp.linalg.eigh(S)
    for i in range(4):
        expected = onp.outer(v[:, i], v[:, i])
        folded = 2.0 * onp.tril(expected, -1) + onp.diag(onp.diag(expected))
        assert_both(lambda a, i=i: la.eigvalsh((a + a.T) / 2)[i], S, expected)
        assert_both(lambda a, i=i: la.eigh((a + a.T) / 2)[0][i], S, expected)
        assert_both(lambda a, i=i: la.eigvalsh(a)[i], S, folded)
        assert_both(lambda a, i=i: la.eigh(a)[0][i], S, folded)


def test_spectral_norm_derivative():
    """‖X‖₂ = σ₁ with a simple top singular value: ∂σ₁ / ∂X = u₁ v₁ᵀ."""
    X = onp.random.default_rng(5).standard_normal((5, 3))
    u, s, vh = onp.linalg.svd(X)
    assert_both(lambda x: la.norm(x, 2), X, onp.outer(u[:, 0], vh[0]))


def test_nuclear_norm_derivative():
    """‖X‖_* = Σσᵢ for full rank X: ∂‖X‖_* / ∂X = U Vᵀ (reduced factors)."""
    X = onp.random.default_rng(6).standard_normal((5, 3))
    u, s, vh = onp.linalg.svd(X, full_matrices=False)
    assert_both(lambda x: la.norm(x, "nuc"), X, u @ vh)


def test_expm_against_scipy_frechet(X):
    """The derivative of expm is its Fréchet derivative (scipy.linalg.expm_frechet).

    Forward mode gives L(A, E) directly; reverse mode satisfies ⟨G, L(A, E)⟩ =
    ⟨L(Aᵀ, G), E⟩.
    """
    r = onp.random.default_rng(9)
    A = 0.3 * r.standard_normal((4, 4))
    E = r.standard_normal((4, 4))
    G = r.standard_normal((4, 4))
    expected = osla.expm_frechet(A, E, compute_expm=False)
    _, tangent = jvp(sla.expm, (A,), (E,))
    onp.testing.assert_allclose(tangent, expected, rtol=1e-10, atol=1e-12)
    _, back = vjp(sla.expm, A)
    (cot,) = back(G)
    onp.testing.assert_allclose(cot, osla.expm_frechet(A.T, G, compute_expm=False), rtol=1e-10)
    onp.testing.assert_allclose(onp.sum(G * tangent), onp.sum(cot * E), rtol=1e-10)


def test_expm_of_commuting_direction():
    """Sec. 10 (functions of matrices): for E commuting with A, L(A, E) = E exp(A)."""
    A = onp.diag([0.1, -0.4, 0.7])
    E = onp.diag([1.0, 2.0, -1.0])
    _, tangent = jvp(sla.expm, (A,), (E,))
    onp.testing.assert_allclose(tangent, E @ osla.expm(A), rtol=1e-12)


def test_hessian_through_several_factorizations():
    """``hessian`` (forward-over-reverse) of a scalar built from many rules, against
    central differences of its gradient."""
    r = onp.random.default_rng(10)
    B = r.standard_normal((3, 3))
    S = B @ B.T + 3.0 * onp.eye(3)

    def f(x):
        s = 0.5 * (x + la.matrix_transpose(x))
        L = la.cholesky(s)
        q, rr = la.qr(x)
        return (
            2.0 * np.sum(np.log(la.svdvals(L)))
            + np.sum(la.eigvalsh(s) ** 2)
            + np.sum(sla.expm(0.1 * x) * rr)
            + la.norm(la.solve(x, q), "fro")
        )

    H = hessian(f)(S)
    g = grad(f)
    eps = 1e-5
    num = onp.zeros((3, 3, 3, 3))
    for k in range(3):
        for ell in range(3):
            d = onp.zeros((3, 3))
            d[k, ell] = eps
            num[:, :, k, ell] = (g(S + d) - g(S - d)) / (2 * eps)
    onp.testing.assert_allclose(H, num, rtol=1e-5, atol=1e-6)


def test_eq51_det_of_product(X, A):
    """Eq. (51): ∂ det(AXB) / ∂X = det(AXB) X⁻ᵀ, for square invertible A and B."""
    Am = A + 4.0 * onp.eye(4)
    Bm = Am.T @ Am
    expected = onp.linalg.det(Am @ X @ Bm) * onp.linalg.inv(X).T
    rev, fwd = both_modes(lambda x: la.det(Am @ x @ Bm), X)
    onp.testing.assert_allclose(rev, expected, rtol=1e-7)
    onp.testing.assert_allclose(fwd, expected, rtol=1e-7)


def test_eq55_logdet_gram(X):
    """Eq. (55): ∂ ln det(XᵀX) / ∂X = 2 (X⁺)ᵀ, for a tall full-rank X."""
    tall = onp.vstack([X, onp.random.default_rng(12).standard_normal((2, 4))])
    expected = 2.0 * onp.linalg.pinv(tall).T
    assert_both(lambda x: la.slogdet(la.matrix_transpose(x) @ x)[1], tall, expected)


def test_sum_and_product_of_eigenvalues_of_a_general_matrix(X):
    """Sec. 1.1 (Σλᵢ = tr A, Πλᵢ = det A) through eig's rule: ∂ Re Σλᵢ = I and
    ∂ Re Πλᵢ = det(X) X⁻ᵀ (Sec. 2.1.1 eq. 49)."""
    assert_both(lambda x: np.real(np.sum(la.eigvals(x))), X, onp.eye(4))
    assert_both(
        lambda x: np.real(np.prod(la.eig(x)[0])), X, onp.linalg.det(X) * onp.linalg.inv(X).T
    )


def test_logm_inverts_expm():
    """Sec. 10 (functions of matrices): logm(expm(A)) = A near 0, so its derivative is
    the identity map, in both modes (a check of both Fréchet derivatives together)."""
    A0 = 0.2 * onp.random.default_rng(13).standard_normal((3, 3))
    E = onp.random.default_rng(14).standard_normal((3, 3))
    _, t = jvp(lambda a: sla.logm(sla.expm(a)), (A0,), (E,))
    onp.testing.assert_allclose(t, E, rtol=1e-8, atol=1e-10)
    _, back = vjp(lambda a: sla.logm(sla.expm(a)), A0)
    onp.testing.assert_allclose(back(E)[0], E, rtol=1e-8, atol=1e-10)
