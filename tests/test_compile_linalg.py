"""jit through linear algebra, including functions that return NumPy's result namedtuples."""

import numpy as onp
import pytest

import matdiff.numpy as np
from matdiff import grad, jit

rng = onp.random.default_rng(0)
M = rng.standard_normal((4, 4))
SPD = M @ M.T + 4 * onp.eye(4)

CASES = {
    "slogdet": lambda X: np.linalg.slogdet(X)[1],
    "slogdet_fields": lambda X: np.linalg.slogdet(X).logabsdet * np.linalg.slogdet(X).sign,
    "det": lambda X: np.linalg.det(X),
    "inv": lambda X: np.sum(np.linalg.inv(X) ** 2),
    "solve": lambda X: np.sum(np.linalg.solve(X, np.ones(4))),
    "cholesky": lambda X: np.sum(np.linalg.cholesky(X)),
    "eigh": lambda X: np.sum(np.linalg.eigh(X).eigenvalues ** 2),
    "eigvalsh": lambda X: np.sum(np.linalg.eigvalsh(X) ** 3),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_jit_and_jit_grad_agree_with_eager(name):
    f = CASES[name]
    assert onp.allclose(jit(f)(SPD), f(SPD), rtol=1e-12)
    assert onp.allclose(jit(grad(f))(SPD), grad(f)(SPD), rtol=1e-10)
    X2 = SPD + 0.5 * onp.eye(4)
    assert onp.allclose(jit(grad(f))(X2), grad(f)(X2), rtol=1e-10)
