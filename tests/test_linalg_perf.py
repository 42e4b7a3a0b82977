"""Cost of the log-determinant gradient: about one inverse (the benchmark target is
within 1.1x of computing ``inv(X).T`` directly for a 300x300 SPD matrix).

The forward pass keeps its LU factors and the backward pass turns them into the inverse
with LAPACK's getri, so value and gradient together cost getrf + getri = one inverse.
``inv`` itself is getrf + getri (about 0.7 of NumPy's time, which solves against the
identity); its values are NumPy's within the error bound of a computed inverse.

Run ``OPENBLAS_NUM_THREADS=1 PYTHONPATH=src python tests/test_linalg_perf.py`` for the
numbers.
"""

from __future__ import annotations

import timeit

import numpy as onp
import pytest

import matdiff.numpy as np
from matdiff import grad

la = np.linalg


def spd(n: int, seed: int = 0) -> onp.ndarray:
    a = onp.random.default_rng(seed).standard_normal((n, n))
    return a @ a.T / n + onp.eye(n)  # eigenvalues in about [1, 5]: det does not overflow


def best_time(fun, number: int = 10, repeat: int = 7) -> float:
    return min(timeit.repeat(fun, number=number, repeat=repeat)) / number


def ratios(n: int = 300, number: int = 10, repeat: int = 7) -> dict[str, float]:
    X = spd(n)
    base = best_time(lambda: onp.linalg.inv(X).T, number, repeat)
    slog = best_time(lambda: grad(lambda x: la.slogdet(x)[1])(X), number, repeat)
    logdet = best_time(lambda: grad(lambda x: np.log(la.det(x)))(X), number, repeat)
    return {
        "inv(X).T [s]": base,
        "grad slogdet / inv": slog / base,
        "grad log det / inv": logdet / base,
    }


def test_logdet_gradient_reuses_the_forward_factorization(monkeypatch):
    """The backward pass inverts the forward pass's LU factors: it never calls ``inv``
    (which would factor X again), and it gives the inverse NumPy computes."""
    import matdiff.numpy.linalg as nla

    def refactorizing_inv(a):
        raise AssertionError("the log-det gradient factored X a second time")

    monkeypatch.setattr(nla, "inv", refactorizing_inv)
    X = spd(50)
    onp.testing.assert_allclose(
        grad(lambda x: la.slogdet(x)[1])(X), onp.linalg.inv(X).T, rtol=1e-10
    )
    onp.testing.assert_allclose(
        grad(lambda x: np.log(la.det(x)))(X), onp.linalg.inv(X).T, rtol=1e-10
    )


def _inverse_error_bound(X: onp.ndarray) -> float:
    """Twice the forward error bound of a computed inverse, c n eps cond(X) |X^-1|
    (Higham, Accuracy and Stability of Numerical Algorithms, 14.3), with c = 4."""
    eps = onp.finfo(X.dtype).eps
    inv = onp.linalg.inv(X.astype(onp.complex128 if onp.iscomplexobj(X) else float))
    return 2 * 4 * X.shape[0] * eps * onp.linalg.cond(X) * onp.abs(inv).max()


def _cases():
    rng = onp.random.default_rng(7)
    hilbert = 1.0 / (onp.arange(1, 8)[:, None] + onp.arange(7))  # cond(X) ~ 5e8
    return {
        "spd": spd(60),
        "nonsymmetric": rng.standard_normal((40, 40)) + 3 * onp.eye(40),
        "float32": spd(30).astype(onp.float32),
        "complex": rng.standard_normal((20, 20)) + 1j * rng.standard_normal((20, 20)),
        "ill-conditioned": hilbert,
        "1x1": onp.array([[4.0]]),
        "column-major": onp.asfortranarray(spd(25, 3)),
        "strided view": spd(50, 4)[::2, ::2],
    }


def test_inv_from_lapack_lu_factors_matches_numpy_within_the_error_bound():
    for name, X in _cases().items():
        got = la.inv(X)
        want = onp.linalg.inv(X)
        assert got.dtype == want.dtype and got.shape == want.shape, name
        assert onp.abs(got - want).max() <= _inverse_error_bound(X), name


def test_inv_keeps_numpys_errors_and_stacks():
    for singular in (onp.zeros((3, 3)), onp.ones((4, 4))):
        with pytest.raises(onp.linalg.LinAlgError, match="Singular matrix"):
            la.inv(singular)
    stack = onp.stack([spd(4, s) for s in range(3)])
    onp.testing.assert_array_equal(la.inv(stack), onp.linalg.inv(stack))
    ints = onp.array([[2, 1], [1, 3]])
    onp.testing.assert_array_equal(la.inv(ints), onp.linalg.inv(ints))
    diagonal = onp.diag([2.0, 4.0])  # zeros come out +0.0, as NumPy's
    assert not onp.signbit(la.inv(diagonal)).any()
    empty = onp.zeros((0, 0))
    assert la.inv(empty).shape == (0, 0)


def test_inv_derivatives_through_the_lapack_path():
    from matdiff.test_util import check_grads

    X = _cases()["nonsymmetric"][:6, :6]
    check_grads(lambda x: np.sum(la.inv(x) ** 2), modes=("fwd", "rev"), order=2)(X)


if __name__ == "__main__":
    for k, v in ratios().items():
        print(f"{k:>22}: {v:.4g}")
