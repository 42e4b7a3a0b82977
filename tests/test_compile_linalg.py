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
    # the vector norms' rule builds its zero masks from the (staged) value
    "norm_2": lambda X: np.linalg.norm(X[0] - X[1]),
    "norm_1": lambda X: np.linalg.norm(X[0], 1),
    "norm_3_axis": lambda X: np.sum(np.linalg.norm(X, 3, axis=-1)),
    # a constant seed times a rule's staged mask reaches getitem's scatter as a staged value
    "abs_of_row": lambda X: np.sum(np.abs(X[0] - 2.0)),
    "max_of_row": lambda X: np.max(X[1]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_jit_and_jit_grad_agree_with_eager(name):
    f = CASES[name]
    assert onp.allclose(jit(f)(SPD), f(SPD), rtol=1e-12)
    assert onp.allclose(jit(grad(f))(SPD), grad(f)(SPD), rtol=1e-10)
    X2 = SPD + 0.5 * onp.eye(4)
    assert onp.allclose(jit(grad(f))(X2), grad(f)(X2), rtol=1e-10)
