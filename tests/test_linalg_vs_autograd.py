"""A second oracle: gradients that autograd also computes (reverse mode only, its own
rules) agree with matdiff's, on the same losses. Finite differences check every rule in
``test_linalg_grads.py``; this guards the conventions (symmetrized inputs, complex
cotangents) against a library users switch from."""

from __future__ import annotations

import numpy as onp
import pytest

autograd = pytest.importorskip("autograd", reason="autograd (the comparison oracle) is missing")
import autograd.numpy as anp  # noqa: E402
import autograd.scipy.linalg as asla  # noqa: E402

import matdiff.numpy as np  # noqa: E402
import matdiff.scipy.linalg as sla  # noqa: E402
from matdiff import grad  # noqa: E402

r = onp.random.default_rng(11)
A = r.standard_normal((4, 4)) + 3.0 * onp.eye(4)
B = r.standard_normal((4, 2))
W = r.standard_normal((4, 4))
S = A @ A.T
Wide = r.standard_normal((3, 5))
C53 = r.standard_normal((5, 3))


def sym_np(x, mod):
    return (
        0.5 * (x + mod.swapaxes(x, -1, -2))
        if mod is anp
        else 0.5 * (x + np.linalg.matrix_transpose(x))
    )


# (name, loss(numpy namespace, its linalg, its scipy.linalg, x), input)
CASES = [
    ("det", lambda m, la, sl, x: la.det(x), A),
    ("slogdet", lambda m, la, sl, x: la.slogdet(x)[1], A),
    ("inv", lambda m, la, sl, x: m.sum(la.inv(x) * W), A),
    ("solve", lambda m, la, sl, x: m.sum(la.solve(x, B) ** 2), A),
    ("pinv", lambda m, la, sl, x: m.sum(la.pinv(x) * C53), Wide),
    ("cholesky", lambda m, la, sl, x: m.sum(la.cholesky(sym_np(x, m)) * W), S),
    ("eigh", lambda m, la, sl, x: m.sum(la.eigh(sym_np(x, m))[0] ** 3), A),
    ("eigh_vectors", lambda m, la, sl, x: m.sum(la.eigh(sym_np(x, m))[1] ** 2 * W), A),
    ("svd_values", lambda m, la, sl, x: m.sum(la.svd(x, full_matrices=False)[1] ** 2), Wide),
    ("norm_fro", lambda m, la, sl, x: la.norm(x), A),
    ("norm_nuc", lambda m, la, sl, x: la.norm(x, "nuc"), A),
    ("solve_triangular", lambda m, la, sl, x: m.sum(sl.solve_triangular(x, B, lower=True)), A),
    ("sqrtm", lambda m, la, sl, x: m.sum(sl.sqrtm(x) * W), S),
    ("solve_sylvester", lambda m, la, sl, x: m.sum(sl.solve_sylvester(x, A.T, W)), A),
]


@pytest.mark.parametrize("name,loss,x", CASES, ids=[c[0] for c in CASES])
def test_gradient_matches_autograd(name, loss, x):
    ours = grad(lambda v: loss(np, np.linalg, sla, v))(x)
    theirs = autograd.grad(lambda v: loss(anp, anp.linalg, asla, v))(x)
    onp.testing.assert_allclose(ours, theirs, rtol=1e-8, atol=1e-10)
