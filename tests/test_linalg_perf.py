"""Cost of the log-determinant gradient: about one inverse (the benchmark target is
within 1.1x of computing ``inv(X).T`` directly for a 300x300 SPD matrix).

The forward pass keeps its LU factors and the backward pass turns them into the inverse
with LAPACK's getri, so value and gradient together cost getrf + getri = one inverse.

Run ``OPENBLAS_NUM_THREADS=1 PYTHONPATH=src python tests/test_linalg_perf.py`` for the
numbers.
"""

from __future__ import annotations

import timeit

import numpy as onp

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


if __name__ == "__main__":
    for k, v in ratios().items():
        print(f"{k:>22}: {v:.4g}")
