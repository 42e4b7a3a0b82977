"""cholesky, eigh and eigvalsh read one triangle of their input, as LAPACK does: on a
non-symmetric input their derivative is that of the function of that triangle, in both
modes (docs/conventions.md).
"""

from __future__ import annotations

import numpy as onp
import pytest

import matdiff.numpy as np
from matdiff import grad
from matdiff.test_util import check_grads

# ---------------------------------------------------------------- one-triangle readers


def _nonsymmetric(rng, n=3, cplx=False):
    a = rng.standard_normal((n, n))
    if cplx:
        a = a + 1j * rng.standard_normal((n, n))
    return a


def _mirrored(a, UPLO):
    """The Hermitian matrix that LAPACK reads from ``a``'s UPLO triangle."""
    t = onp.tril(a, -1) if UPLO == "L" else onp.triu(a, 1)
    return t + t.conj().T + onp.diag(onp.diag(a).real)


@pytest.mark.parametrize("UPLO", ["L", "U"])
@pytest.mark.parametrize("cplx", [False, True], ids=["real", "complex"])
def test_eigh_of_nonsymmetric_input_differentiates_the_read_triangle(UPLO, cplx):
    a = _nonsymmetric(onp.random.default_rng(0), cplx=cplx)
    onp.testing.assert_allclose(
        np.linalg.eigvalsh(a, UPLO=UPLO), onp.linalg.eigvalsh(_mirrored(a, UPLO))
    )
    check_grads(lambda a: np.linalg.eigvalsh(a, UPLO=UPLO), modes=["fwd", "rev"], order=2)(a)
    check_grads(lambda a: np.linalg.eigh(a, UPLO=UPLO)[0], modes=["fwd", "rev"], order=2)(a)
    check_grads(
        lambda a: np.abs(np.linalg.eigh(a, UPLO=UPLO)[1]) ** 2, modes=["fwd", "rev"], order=2
    )(a)
    # The unread triangle has derivative 0; a read off-diagonal entry gets both halves.
    g = grad(lambda a: np.sum(np.linalg.eigvalsh(a, UPLO=UPLO) ** 3))(a)
    unread = onp.triu(onp.ones((3, 3)), 1) if UPLO == "L" else onp.tril(onp.ones((3, 3)), -1)
    assert onp.all(g[unread == 1] == 0)

    def through_the_mirror(a):
        t = np.tril(a, -1) if UPLO == "L" else np.triu(a, 1)
        m = t + np.conj(t).T + np.diag(np.real(np.diag(a)))
        return np.sum(np.linalg.eigvalsh(m) ** 3)

    onp.testing.assert_allclose(g, grad(through_the_mirror)(a), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("cplx", [False, True], ids=["real", "complex"])
def test_cholesky_of_nonsymmetric_input_differentiates_the_read_triangle(upper, cplx):
    rng = onp.random.default_rng(1)
    s = rng.standard_normal((3, 3))
    a = s @ s.T + 6.0 * onp.eye(3)
    a[0, 2] += 5.0
    a[2, 1] -= 1.0
    if cplx:
        a = a + 0.1j * rng.standard_normal((3, 3))
    check_grads(lambda a: np.linalg.cholesky(a, upper=upper), modes=["fwd", "rev"], order=2)(a)
    g = grad(lambda a: np.sum(np.abs(np.linalg.cholesky(a, upper=upper)) ** 2))(a)
    unread = onp.tril(onp.ones((3, 3)), -1) if upper else onp.triu(onp.ones((3, 3)), 1)
    assert onp.all(g[unread == 1] == 0)


@pytest.mark.parametrize("UPLO", ["L", "U"])
def test_eigh_gradient_on_nonsymmetric_input_matches_autograd(UPLO):
    agnp = pytest.importorskip("autograd.numpy")
    autograd = pytest.importorskip("autograd")
    a = _nonsymmetric(onp.random.default_rng(2), n=4)
    ours = grad(lambda a: np.sum(np.linalg.eigh(a, UPLO=UPLO)[0] ** 3))(a)
    theirs = autograd.grad(lambda a: agnp.sum(agnp.linalg.eigh(a, UPLO=UPLO)[0] ** 3))(a)
    onp.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("UPLO", ["L", "U"])
def test_stacks_and_raw_numpy_read_the_same_triangle(UPLO):
    a = onp.random.default_rng(3).standard_normal((2, 3, 3))
    check_grads(lambda a: np.linalg.eigvalsh(a, UPLO=UPLO), modes=["fwd", "rev"], order=2)(a)
    g = grad(lambda a: np.sum(np.linalg.eigvalsh(a, UPLO=UPLO) ** 2))(a)
    g_raw = grad(lambda a: np.sum(onp.linalg.eigvalsh(a, UPLO=UPLO) ** 2))(a)
    onp.testing.assert_array_equal(g, g_raw)
